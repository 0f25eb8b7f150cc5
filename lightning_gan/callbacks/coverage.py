"""Mode coverage during training: how many modes the generator captures, every N generator steps.

Logs ``coverage/modes``, ``coverage/hq_fraction`` and ``coverage/kl`` (reverse KL of the mode
histogram; see :mod:`lightning_gan.metrics.mode_coverage` for the VEEGAN/PacGAN definitions).
Every rank generates its share of the samples and calls ``compute()``, which sums the histograms
across ranks (a collective: never run it under ``rank_zero_only``).
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule, Trainer

from lightning_gan.callbacks.periodic import PeriodicEvaluation
from lightning_gan.metrics.mode_coverage import ModeCoverage, coverage_for
from lightning_gan.metrics.sampling import (
    generated_batches,
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

    @property
    def n_samples(self) -> int | None:
        """Samples per evaluation: the given count, else the metric's protocol count."""
        if self._n_samples is not None:
            return self._n_samples
        return None if self.metric is None else self.metric.protocol_samples

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if self.metric is None:
            datamodule = getattr(trainer, "datamodule", None)
            if datamodule is None:
                raise ValueError(
                    "ModeCoverageCallback needs `metric=` when training without a datamodule "
                    "(e.g. metric=MixtureCoverage(modes, std))."
                )
            self.metric = coverage_for(datamodule)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Not in `setup`: Lightning moves the model to its device only after the setup hooks.
        self.metric.to(pl_module.device)

    @torch.no_grad()
    def evaluate(self, trainer: Trainer, gan: LightningModule) -> dict[str, float]:
        """Generate, histogram and compute now (on every rank: the compute is a collective)."""
        if self.metric is None:
            raise RuntimeError("ModeCoverageCallback.evaluate needs setup(stage='fit') first.")
        n_local = rank_share(self.n_samples, trainer.world_size)
        with seeded_rng(self.seed + trainer.global_rank, gan.device):
            for fake in generated_batches(gan, n_local, self.batch_size):
                self.metric.update(fake)
        result = self.metric.compute()
        self.metric.reset()
        return {
            "coverage/modes": float(result["modes"]),
            "coverage/hq_fraction": float(result["hq_fraction"]),
            "coverage/kl": float(result["kl"]),
        }
