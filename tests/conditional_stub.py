"""A LightningModule with the conditioning contract's sampling members, for instrument tests.

``num_classes``, ``sample_labels(n)`` (balanced ``arange(n) % K``), ``sample(n, labels=None)``
and ``g_steps``, as ``GAN(num_classes=K)`` provides them (/work/notes/conditioning_contract.md),
over a fixed sampler ``labels -> samples``: an evaluation callback can be tested on a generator
whose per-label behaviour is known exactly. It trains nothing; each batch counts one G step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn


class ConditionalStub(L.LightningModule):
    def __init__(self, sampler: Callable[[Tensor], Tensor], num_classes: int | None) -> None:
        super().__init__()
        self.sampler = sampler
        self.num_classes = num_classes
        self.g_steps = 0
        self.automatic_optimization = False  # nothing to optimise
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the module a device

    def sample_labels(self, n: int) -> Tensor | None:
        if self.num_classes is None:
            return None
        return torch.arange(n, device=self.device) % self.num_classes

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            labels = self.sample_labels(n)
        return self.sampler(labels if labels is not None else torch.zeros(n, dtype=torch.long))

    def real_from_batch(self, batch: Any) -> Tensor:
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.g_steps += 1

    def configure_optimizers(self) -> None:
        return None


def fit_stub(stub: ConditionalStub, data: Any, callbacks: list, batches: int) -> L.Trainer:
    """Run ``batches`` batches (= G steps) of the stub with ``callbacks``."""
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        limit_train_batches=batches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    trainer.fit(stub, data)
    return trainer
