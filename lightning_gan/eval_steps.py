"""The GAN's validation, test and predict steps: what Lightning's own loops run outside ``fit``.

A GAN has no loss to validate, so these steps are small on purpose: validation and test score
held-out real data with D (``val/d_real_score``, ``test/d_real_score``: a score that drifts below
the training reals' means D is memorising its training set, the overfitting signal ADA adapts
to), and the evaluation callbacks (:class:`~lightning_gan.callbacks.CheckpointEvaluation`) read
the real batches these loops iterate. ``predict`` generates samples for sample requests
(:class:`~lightning_gan.evaluation_data.SampleRequests`), which
:class:`~lightning_gan.callbacks.SampleWriter` saves.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

# `validation_step` exists for datamodules with a validation split; on the many without one
# Lightning would warn at every fit that it skips the loop, which is the intended behaviour.
warnings.filterwarnings(
    "ignore", message=r"You defined a `validation_step` but have no `val_dataloader`"
)


class EvaluationSteps:
    """Mixin of :class:`~lightning_gan.GAN`: the validation, test and predict steps."""

    num_classes: int | None

    def _score_held_out(self, batch: Any, prefix: str) -> None:
        real = self.real_from_batch(batch)
        labels = self.labels_from_batch(batch)
        with torch.no_grad():
            scores = self.discriminate(real, labels)
        self.log(
            f"{prefix}/d_real_score",
            scores.mean(),
            on_step=False,
            on_epoch=True,
            batch_size=real.shape[0],
            sync_dist=True,
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._score_held_out(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._score_held_out(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """``batch`` is ``(index [B], labels [B] or -1)``: samples from the sampling generator
        (EMA when there is one), conditioned on the labels when the GAN is conditional."""
        index, labels = batch
        labels = labels.to(self.device) if self.num_classes is not None else None
        samples = self.sample(index.shape[0], labels=labels)
        out = {"index": index, "samples": samples}
        if labels is not None:
            out["labels"] = labels
        return out
