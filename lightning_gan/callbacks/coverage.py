"""Mode coverage during training: how many modes the generator captures, every N generator steps.

Logs ``coverage/modes``, ``coverage/hq_fraction`` and ``coverage/kl`` (reverse KL of the mode
histogram; see :mod:`lightning_gan.metrics.mode_coverage` for the VEEGAN/PacGAN definitions).
For a conditional GAN whose labels are the modes (``gan.num_classes`` equal to the number of
modes: a GaussianMixture's label is its mode index), samples are generated on balanced labels and
``coverage/label_accuracy`` (mean over labels of the share of a label's samples that land on that
label's mode) and ``coverage/label_accuracy_min`` (the worst label) are logged too.
Every rank generates its share of the samples and calls ``compute()``, which sums the histograms
across ranks (a collective: never run it under ``rank_zero_only``).
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from lightning_gan.callbacks.periodic import PeriodicEvaluation
from lightning_gan.metrics.label_accuracy import ConditionalModeAccuracy
from lightning_gan.metrics.mode_coverage import ModeCoverage, coverage_for
from lightning_gan.metrics.sampling import (
    generated_batches,
    generation_labels,
    rank_share,
    seeded_rng,
)


class ModeCoverageCallback(PeriodicEvaluation):
    """Evaluate a :class:`~lightning_gan.metrics.mode_coverage.ModeCoverage` metric periodically.

    Args:
        every_n_steps: evaluate when ``gan.g_steps`` is a multiple of this.
        metric: the coverage metric; built from ``trainer.datamodule`` (GaussianMixture ->
            ``MixtureCoverage``, StackedMNIST -> ``StackedMNISTCoverage``) if omitted.
        n_samples: generated samples per evaluation (summed over ranks); the protocol's count
            (2500 for mixtures, 26,000 for Stacked MNIST) if omitted.
        batch_size: samples per generator forward (bounds memory).
        seed: latent seed; every evaluation uses the same latents and training's RNG is untouched.
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        metric: ModeCoverage | None = None,
        n_samples: int | None = None,
        batch_size: int = 1000,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_steps)
        if metric is not None and not isinstance(metric, ModeCoverage):
            raise ValueError(
                f"metric must be a ModeCoverage (MixtureCoverage, StackedMNISTCoverage), "
                f"got {type(metric).__name__}."
            )
        if n_samples is not None and (not isinstance(n_samples, int) or n_samples < 1):
            raise ValueError(f"n_samples must be an integer >= 1 or None, got {n_samples!r}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
        self.metric = metric
        self._n_samples = n_samples
        self.batch_size = batch_size
        self.seed = seed
        self.label_accuracy: ConditionalModeAccuracy | None = None

    @property
    def n_samples(self) -> int | None:
        """Samples per evaluation: the given count, else the metric's protocol count."""
        if self._n_samples is not None:
            return self._n_samples
        return None if self.metric is None else self.metric.protocol_samples

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self._build_metric(getattr(trainer, "datamodule", None))
        protocol = self.metric.protocol_samples
        if self.n_samples < protocol:
            rank_zero_warn(
                f"ModeCoverageCallback: n_samples={self.n_samples:,} is below the protocol's "
                f"{protocol:,} samples ({type(self.metric).__name__}; VEEGAN/PacGAN count 2,500 "
                "for 2-D mixtures, 26,000 for Stacked MNIST): fewer modes are captured by chance "
                "and the KL is biased upwards, so numbers are not comparable with published ones."
            )
        self._build_label_accuracy(pl_module)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Not in `setup`: Lightning moves the model to its device only after the setup hooks.
        self._to(pl_module.device)

    def prepare(self, pl_module: LightningModule, datamodule: object | None = None) -> None:
        """Make :meth:`evaluate` usable outside ``fit`` (a validate/test runner such as
        ``CheckpointEvaluation``): the metric (from ``datamodule`` if none was given), the
        conditional label accuracy for ``pl_module``, both on its device."""
        self._build_metric(datamodule)
        self._build_label_accuracy(pl_module)
        self._to(pl_module.device)

    def _build_metric(self, datamodule: object | None) -> None:
        if self.metric is not None:
            return
        if datamodule is None:
            raise ValueError(
                "ModeCoverageCallback needs `metric=` when training without a datamodule "
                "(e.g. metric=MixtureCoverage(modes, std))."
            )
        self.metric = coverage_for(datamodule)

    def _build_label_accuracy(self, pl_module: LightningModule) -> None:
        self.label_accuracy = None
        num_classes = getattr(pl_module, "num_classes", None)
        if num_classes is None:
            return
        if num_classes == self.metric.n_modes:
            self.label_accuracy = ConditionalModeAccuracy(num_classes)
        else:
            rank_zero_warn(
                f"ModeCoverageCallback: the GAN has num_classes={num_classes} but the data "
                f"has {self.metric.n_modes} modes, so labels are not modes: "
                "coverage/label_accuracy is not computed."
            )

    def _to(self, device: torch.device) -> None:
        self.metric.to(device)
        if self.label_accuracy is not None:
            self.label_accuracy.to(device)

    @torch.no_grad()
    def evaluate(self, trainer: Trainer, gan: LightningModule) -> dict[str, float]:
        """Generate, histogram and compute now (on every rank: the compute is a collective)."""
        if self.metric is None:
            raise RuntimeError("ModeCoverageCallback.evaluate needs setup(stage='fit') first.")
        n_local = rank_share(self.n_samples, trainer.world_size)
        accuracy = self.label_accuracy
        with seeded_rng(self.seed + trainer.global_rank, gan.device):
            labels = generation_labels(gan, n_local)
            start = 0
            for fake in generated_batches(gan, n_local, self.batch_size, labels):
                self.metric.update(fake)
                if accuracy is not None and labels is not None:
                    # a second assign of the batch: negligible for mixtures (a 2-D cdist)
                    modes, hq = self.metric.assign(fake)
                    accuracy.update(modes, hq, labels[start : start + fake.shape[0]])
                start += fake.shape[0]
        result = self.metric.compute()
        self.metric.reset()
        values = {
            "coverage/modes": float(result["modes"]),
            "coverage/hq_fraction": float(result["hq_fraction"]),
            "coverage/kl": float(result["kl"]),
        }
        if accuracy is not None:
            label_result = accuracy.compute()
            accuracy.reset()
            values["coverage/label_accuracy"] = float(label_result["mean"])
            values["coverage/label_accuracy_min"] = float(label_result["min"])
        return values
