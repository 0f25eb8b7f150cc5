"""``CheckpointEvaluation``: the metrics of a trained generator, in Lightning's validate/test loops.

What ``lightning-gan validate|test`` attaches (usable from Python too). It picks the metrics that
fit the data, with the same metric code as the training callbacks:

* mixtures and Stacked MNIST (known modes): ``modes``, ``hq_fraction``, ``kl`` (and the
  conditional label accuracy) from :class:`~lightning_gan.callbacks.ModeCoverageCallback`'s own
  ``evaluate``, with its defaults (seed 0, the protocol's sample count), so the numbers equal the
  ones that callback logged in training for the same generator;
* images: FID, KID, precision, recall, density and coverage in a feature space from
  :class:`~lightning_gan.metrics.evaluator.FeatureEvaluator`: the shipped digit features for
  Digits / MNIST5k / Stacked MNIST, Inception otherwise (or ``features=``). Real features come
  from the batches of the loop (the validation/test split, or the training set through
  :class:`~lightning_gan.evaluation_data.EvaluationData`); as many samples are generated as real
  ones were seen, unless ``n_samples`` says otherwise.

Values are logged as ``eval/<name>``, which Lightning prints in its results table at the end of
``validate``/``test`` and returns from ``trainer.validate()``/``trainer.test()``. The image
metrics are also printed as a small table with a **real vs real** row beside the model's (the
same metrics for one half of the real images against the other half, also logged as
``eval/real_vs_real/<name>``): what "good" is in this feature space. KID is printed on the
standardised scale (``kid_norm``, comparable across feature spaces; :mod:`~lightning_gan.metrics
.kid`).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from lightning_gan.evaluation_data import unwrap
from lightning_gan.metrics.sampling import (
    generated_batches,
    generation_labels,
    rank_share,
    seeded_rng,
)

FEATURE_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")


def default_features(datamodule: Any) -> str | None:
    """The feature space that fits a datamodule: ``None`` for 2-D mixtures (no images)."""
    from lightning_gan.data import Digits, GaussianMixture, MNIST5k, StackedMNIST

    # ImageFolder, TorchvisionData and users' image data: Inception (comparable with papers).
    if isinstance(datamodule, GaussianMixture):
        return None
    if isinstance(datamodule, StackedMNIST):
        return "stacked_mnist"
    if isinstance(datamodule, MNIST5k):
        return "mnist"
    if isinstance(datamodule, Digits):
        return "digits"
    return "inception"


class CheckpointEvaluation(Callback):
    """Evaluate ``gan.sample`` at the end of a validate/test epoch; log ``eval/<name>``.

    Args:
        features: feature space of the image metrics (``"inception"``, ``"digits"``,
            ``"mnist"``, ``"stacked_mnist"``, an ``nn.Module`` with ``num_features``), ``"none"``
            to skip them, or ``None`` to choose by datamodule (see :func:`default_features`).
        metrics: image metrics to compute (default: FID, KID, precision, recall, density,
            coverage).
        coverage: mode coverage on data with known modes; ``None``: when the data has them.
        n_samples: generated samples for the image metrics; default: as many as real ones.
        batch_size: samples per generator forward.
        seed: seed of the latents (every evaluation of a checkpoint gives the same numbers).
        data_range: the images' value range.
        inception_weights, download: where the Inception weights are (see ``FeatureMetrics``).
        per_class: also FID per class and their mean (``eval/intra_fid``); ``None``: for a
            conditional GAN with at most 100 classes.
        real_vs_real: also compute the metrics of real against real (halves of the real set)
            and print them beside the model's row.
    """

    def __init__(
        self,
        features: Any = None,
        metrics: tuple[str, ...] = FEATURE_METRICS,
        coverage: bool | None = None,
        n_samples: int | None = None,
        batch_size: int = 250,
        seed: int = 0,
        data_range: tuple[float, float] = (-1.0, 1.0),
        inception_weights: str | None = None,
        download: bool = False,
        per_class: bool | None = None,
        real_vs_real: bool = True,
    ) -> None:
        super().__init__()
        if n_samples is not None and (not isinstance(n_samples, int) or n_samples < 2):
            raise ValueError(f"n_samples must be an integer >= 2 or None, got {n_samples!r}.")
        self.features = features
        self.metrics = tuple(metrics)
        self.coverage = coverage
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.seed = seed
        self.data_range = data_range
        self.inception_weights = inception_weights
        self.download = download
        self.per_class = per_class
        self.real_vs_real = real_vs_real
        self.baseline: dict[str, float] = {}
        self.table = ""
        self._classes: int | None = None
        self.evaluator: Any = None
        self.mode_coverage: Any = None
        self.results: dict[str, float] = {}

    @staticmethod
    def cli_options(metrics: str | None, inception_weights: str | None) -> dict[str, Any]:
        """The keyword arguments of ``lightning-gan validate|test --metrics a,b
        --inception_weights PATH`` (``ValueError`` naming the flag for unknown metric names)."""
        from lightning_gan.metrics.evaluator import METRICS

        out: dict[str, Any] = {"inception_weights": inception_weights}
        if metrics is not None:
            names = tuple(m.strip() for m in metrics.split(",") if m.strip())
            bad = [m for m in names if m not in METRICS]
            if not names or bad:
                raise ValueError(
                    f"--metrics={metrics!r}: {', '.join(map(repr, bad)) or 'nothing'} is not a "
                    f"metric; use comma-separated names from {', '.join(METRICS)} (e.g. "
                    "--metrics fid,precision,recall), as in FeatureMetrics(metrics=...)."
                )
            out["metrics"] = names
        return out

    # ------------------------------------------------------------------------------ set-up
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage not in ("validate", "test"):
            return
        datamodule = unwrap(getattr(trainer, "datamodule", None))
        self._build_coverage(datamodule)
        features = self.features if self.features is not None else default_features(datamodule)
        if features == "none" or features is None:
            self.evaluator = None
        else:
            from lightning_gan.metrics.evaluator import FeatureEvaluator

            classes = getattr(pl_module, "num_classes", None)
            per_class = (
                self.per_class
                if self.per_class is not None
                else (classes is not None and classes <= 100)
            )
            self._classes = classes if per_class else None
            self.evaluator = FeatureEvaluator(
                features,
                self.metrics,
                num_classes=self._classes,
                data_range=self.data_range,
                inception_weights=self.inception_weights,
                download=self.download,
                seed=self.seed,
            )
        if self.evaluator is None and self.mode_coverage is None:
            raise ValueError(
                "CheckpointEvaluation has nothing to compute: this data has no known modes and "
                "features='none'. Pass features='inception' (or a domain feature network)."
            )

    def _build_coverage(self, datamodule: Any) -> None:
        from lightning_gan.callbacks.coverage import ModeCoverageCallback
        from lightning_gan.metrics.mode_coverage import coverage_for

        self.mode_coverage = None
        if self.coverage is False:
            return
        try:
            metric = coverage_for(datamodule)
        except ValueError:
            if self.coverage:
                raise
            return
        self.mode_coverage = ModeCoverageCallback(metric=metric, seed=self.seed)

    # --------------------------------------------------------------------------- the loops
    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start(pl_module)

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start(pl_module)

    def _start(self, pl_module: LightningModule) -> None:
        if self.evaluator is not None:
            self.evaluator.to(pl_module.device)
            self.evaluator.reset()
        if self.mode_coverage is not None:
            self.mode_coverage.prepare(pl_module)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
        self._update_real(pl_module, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
        self._update_real(pl_module, batch)

    def _update_real(self, pl_module: Any, batch: Any) -> None:
        if self.evaluator is not None:
            labels = pl_module.labels_from_batch(batch) if self._classes else None
            self.evaluator.update_real(pl_module.real_from_batch(batch), labels)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish(trainer, pl_module)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish(trainer, pl_module)

    @torch.no_grad()
    def _finish(self, trainer: Trainer, pl_module: Any) -> None:
        values: dict[str, float] = {}
        if self.mode_coverage is not None:
            values.update(self.mode_coverage.evaluate(trainer, pl_module))
        if self.evaluator is not None:
            values.update(self._image_metrics(trainer, pl_module))
        self.results = values
        for name, value in values.items():
            key = name if name.startswith(("eval/", "coverage/")) else f"eval/{name}"
            pl_module.log(key, value, on_step=False, on_epoch=True, sync_dist=False)

    def _image_metrics(self, trainer: Trainer, pl_module: Any) -> dict[str, float]:
        n_real = int(self.evaluator.sample_counts()["real"])
        if n_real < 2:
            raise ValueError(
                "CheckpointEvaluation saw fewer than 2 real images in this loop: the "
                "validation/test split is empty; pass a datamodule with data."
            )
        n = self.n_samples or n_real
        if n < 10_000:
            rank_zero_warn(
                f"CheckpointEvaluation: {n:,} generated and {n_real:,} real samples; published "
                "FID/precision/recall use 10,000 (FID often 50,000): compare only with runs "
                "evaluated with the same counts."
            )
        n_local = rank_share(n, trainer.world_size)
        with seeded_rng(self.seed + trainer.global_rank, pl_module.device):
            labels = generation_labels(pl_module, n_local)
            start = 0
            for fake in generated_batches(pl_module, n_local, self.batch_size, labels):
                batch_labels = labels[start : start + len(fake)] if self._classes else None
                self.evaluator.update_fake(fake, batch_labels)
                start += len(fake)
        values = self.evaluator.compute()
        out = {f"eval/{name}": float(value) for name, value in values.items()}
        self.baseline = {}
        if self.real_vs_real:
            try:
                self.baseline = self.evaluator.real_vs_real()
            except ValueError as err:  # too few real images to split (k-NN, KID subsets)
                rank_zero_warn(f"CheckpointEvaluation: no real-vs-real row: {err}")
        from lightning_gan.metrics.evaluator import format_table

        self.table = format_table(
            values, self.baseline or None, self.evaluator.features_name, n, n_real
        )
        if trainer.is_global_zero:  # beside Lightning's results table, which is printed too
            print(self.table, flush=True)
        out.update({f"eval/real_vs_real/{k}": v for k, v in self.baseline.items()})
        return out
