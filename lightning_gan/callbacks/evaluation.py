"""``FeatureMetrics``: FID, KID, precision/recall, density/coverage and IS during training.

Every ``every_n_steps`` generator steps the callback draws ``n_samples`` generated images (and,
at the first evaluation, as many real ones) and hands them to a
:class:`~lightning_gan.metrics.evaluator.FeatureEvaluator`, which runs each image through the
feature network once and feeds every metric asked for; numbers are logged as ``eval/<name>``
(``eval/fid``, ``eval/kid_mean``, ``eval/kid_std``, ``eval/precision``, ``eval/recall``,
``eval/density``, ``eval/coverage``, ``eval/is_mean``, ``eval/is_std``; with ``per_class=True``
``eval/fid_class<k>``, ``eval/intra_fid`` and, with KID, ``eval/kid_mean_class<k>``,
``eval/intra_kid_mean``). Real features are extracted once and kept.

Mistakes are refused before training starts (``on_train_start``): real images outside
``data_range`` or of a shape the feature network would misread (e.g. 28x28 images given to the
8x8 ``"digits"`` network, 3-channel images to ``"mnist"``), missing labels for ``per_class``;
fewer samples than the published protocol's 10,000 warn once.

Distributed: every rank generates its share of the samples and its own shard of the real data,
and every rank calls ``compute()``, which torchmetrics syncs with collectives. Never move the
evaluation under ``rank_zero_only``: the other ranks would wait forever (torchmetrics #2684).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from lightning_gan.callbacks.periodic import PeriodicEvaluation
from lightning_gan.metrics.evaluator import (
    FeatureEvaluator,
    check_metric_names,
    format_table,
    protocol_warning,
)
from lightning_gan.metrics.feature_nets import resolve_features
from lightning_gan.metrics.sampling import (
    generated_batches,
    generation_labels,
    rank_share,
    real_batches_with_labels,
    seeded_rng,
)


class FeatureMetrics(PeriodicEvaluation):
    """Log feature-space metrics of the generator every ``every_n_steps`` G steps.

    Args:
        every_n_steps: evaluate when ``gan.g_steps`` is a multiple of this (generator steps, not
            ``trainer.global_step``, which also counts D steps).
        n_samples: generated and real samples per evaluation (summed over ranks); 10k (50k for
            FID) for numbers comparable with papers, fewer for a cheap trend (warns).
        features: ``"inception"`` (the standard 2015-12-05 FID network), ``"digits"``,
            ``"mnist"``, ``"stacked_mnist"`` (shipped digit-classifier features: fast, only
            comparable with themselves), or an ``nn.Module`` mapping images in ``data_range`` to
            ``[B, F]`` features and having an int ``num_features`` (and
            ``features_and_logits(x)`` for ``"is"``).
        metrics: any of ``"fid"``, ``"kid"``, ``"precision"``, ``"recall"``, ``"density"``,
            ``"coverage"``, ``"is"``.
        per_class: also FID (and KID) per class, and their mean ``eval/intra_fid``: real
            features grouped by the dataset's labels, generated ones by the labels they were
            conditioned on (``gan.sample_labels``); needs a conditional GAN
            (``gan.num_classes``).
        inception_weights: path of the Inception weights; otherwise
            ``$LIGHTNING_GAN_INCEPTION_WEIGHTS``, then the torch hub cache, then a download
            (if ``download``). Missing weights raise ``FileNotFoundError`` here, at construction.
        download: allow downloading the Inception weights when no local file is found.
        batch_size: images per generator/feature forward (bounds memory).
        data_range: the range of the images (generator output and real data).
        kid_subsets, kid_subset_size: KID's subsets (100 of 1000 in the KID paper); the subset
            size shrinks to the number of samples when fewer are available.
        precision_recall_k, density_coverage_k: k of the k-NN balls (3 and 5, as published).
        is_splits: Inception Score's splits.
        real: real data to compare with (a tensor of samples or a dataset); by default the
            dataset of the trainer's training dataloader.
        check_real_samples: real images (of the first evaluation's draw) checked for range and
            shape when training starts; the rest are checked as they are drawn.
        seed: seed of the latents and of the real-sample draw: every evaluation uses the same
            latents, and the training RNG is left untouched.
        real_vs_real: also log the same metrics for one half of the real draw against the other
            (``eval/real_vs_real/<name>``, computed once) and print both rows as a table at
            every evaluation: what "good" is in this feature space. KID is printed on the
            standardised scale (``kid_norm``), which reads the same across feature spaces.
    """

    _allowed_metrics: tuple[str, ...] | None = None  # None: every metric of the evaluator

    def __init__(
        self,
        every_n_steps: int = 1000,
        n_samples: int = 10_000,
        features: str | nn.Module = "inception",
        metrics: Sequence[str] = ("fid", "kid"),
        per_class: bool = False,
        inception_weights: str | None = None,
        download: bool = True,
        batch_size: int = 250,
        data_range: tuple[float, float] = (-1.0, 1.0),
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        precision_recall_k: int = 3,
        density_coverage_k: int = 5,
        is_splits: int = 10,
        real: Tensor | Dataset | None = None,
        check_real_samples: int = 1000,
        seed: int = 0,
        real_vs_real: bool = True,
    ) -> None:
        super().__init__(every_n_steps)
        if self._allowed_metrics is not None:
            metrics = tuple(metrics)
            if not metrics or any(m not in self._allowed_metrics for m in metrics):
                raise ValueError(
                    f"metrics must be a non-empty subset of {self._allowed_metrics}, "
                    f"got {metrics!r}."
                )
        self.metrics = check_metric_names(metrics)
        for name, value in (("n_samples", n_samples), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {value!r}.")
        if not isinstance(check_real_samples, int) or check_real_samples < 0:
            raise ValueError(
                f"check_real_samples must be an integer >= 0, got {check_real_samples!r}."
            )
        if not data_range[1] > data_range[0]:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}.")
        self.n_samples = n_samples
        self.per_class = bool(per_class)
        self.batch_size = batch_size
        self.data_range = (float(data_range[0]), float(data_range[1]))
        self.check_real_samples = check_real_samples
        self.seed = seed
        self.real = TensorDataset(real) if isinstance(real, Tensor) else real
        self._options = dict(
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            precision_recall_k=precision_recall_k,
            density_coverage_k=density_coverage_k,
            is_splits=is_splits,
        )
        # Everything that can fail cheaply fails now; the network is built at setup.
        self._source = resolve_features(
            features, self.data_range, inception_weights, download, "is" in self.metrics
        )
        self.features_name = self._source.name
        # Argument checks of the evaluator itself, without building a network.
        for name, value, low in (
            ("kid_subsets", kid_subsets, 1),
            ("kid_subset_size", kid_subset_size, 2),
            ("precision_recall_k", precision_recall_k, 1),
            ("density_coverage_k", density_coverage_k, 1),
            ("is_splits", is_splits, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        self.real_vs_real = real_vs_real
        self.baseline: dict[str, float] = {}
        self.evaluator: FeatureEvaluator | None = None
        self._real_cached = False
        self._n_real = 0

    @property
    def state_key(self) -> str:
        return self._generate_state_key(
            features=self.features_name, n_samples=self.n_samples, metrics=self.metrics
        )

    # ----------------------------------------------------------------------------- lifecycle
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        num_classes = None
        if self.per_class:
            num_classes = getattr(pl_module, "num_classes", None)
            if num_classes is None:
                raise ValueError(
                    f"{type(self).__name__}(per_class=True) needs a conditional GAN "
                    "(GAN(num_classes=K), so `gan.num_classes` is set): train one, or set "
                    "per_class=False."
                )
        if self.evaluator is None or self.evaluator.num_classes != num_classes:
            self.evaluator = FeatureEvaluator(
                self._source,
                self.metrics,
                num_classes=num_classes,
                data_range=self.data_range,
                seed=self.seed,
                **self._options,
            )
        message = protocol_warning(self.metrics, self.n_samples, type(self).__name__)
        if message:
            rank_zero_warn(message)
        self._real_cached = False
        self.baseline = {}

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Not in `setup`: Lightning moves the model to its device only after the setup hooks.
        self.evaluator.to(pl_module.device)
        self.evaluator.reset()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Refuse wrong ranges, shapes and labels now, not at the first evaluation hours later:
        the first ``check_real_samples`` images of the first evaluation's real draw (no
        feature-network pass, so this is cheap)."""
        n = min(self.check_real_samples, rank_share(self.n_samples, trainer.world_size))
        if n == 0:
            return
        for images, labels in self._real_draw(trainer, pl_module, n):
            self.evaluator.check_real(images, labels if self.per_class else None)

    # ---------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, trainer: Trainer, gan: LightningModule) -> dict[str, float]:
        """Compute the metrics now (on every rank: the compute is a collective)."""
        if self.evaluator is None:
            raise RuntimeError(f"{type(self).__name__}.evaluate needs setup(stage='fit') first.")
        evaluator = self.evaluator
        n_local = rank_share(self.n_samples, trainer.world_size)
        if not self._real_cached:
            self._cache_real(trainer, gan, n_local)
        with seeded_rng(self.seed + trainer.global_rank, gan.device):
            labels = generation_labels(gan, n_local)
            start = 0
            for fake in generated_batches(gan, n_local, self.batch_size, labels):
                stop = start + fake.shape[0]
                batch_labels = labels[start:stop] if labels is not None else None
                evaluator.update_fake(fake, batch_labels if self.per_class else None)
                start = stop
            values = evaluator.compute()
        evaluator.reset_fake()
        out = {f"eval/{name}": value for name, value in values.items()}
        if self._allowed_metrics is not None:
            # the deprecated FIDKIDCallback alias promises the keys it always logged
            return {k: v for k, v in out.items() if not k.startswith("eval/kid_norm")}
        if self.real_vs_real:
            if not self.baseline:
                try:
                    self.baseline = evaluator.real_vs_real()
                except ValueError as err:  # too few real samples to split in two
                    rank_zero_warn(f"{type(self).__name__}: no real-vs-real row: {err}")
                    self.baseline = {"n_real_vs_real": 0.0}
            out.update({f"eval/real_vs_real/{k}": v for k, v in self.baseline.items()})
            table = format_table(
                values, self.baseline, self.features_name, self.n_samples, self._n_real
            )
            rank_zero_info(f"{type(self).__name__} at G step {gan.g_steps}:\n{table}")
        return out

    def _real_dataset(self, trainer: Trainer) -> Dataset:
        if self.real is not None:
            return self.real
        loader = trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if dataset is None or not hasattr(dataset, "__len__"):
            raise ValueError(
                f"{type(self).__name__} could not find a map-style dataset in the training "
                "dataloader: pass the real data as `real=` (a tensor of samples or a Dataset)."
            )
        return dataset

    def _real_draw(self, trainer: Trainer, gan: Any, n: int) -> Any:
        return real_batches_with_labels(
            self._real_dataset(trainer),
            n,
            self.batch_size,
            gan.real_from_batch,
            self.seed,
            trainer.global_rank,
            trainer.world_size,
        )

    def _cache_real(self, trainer: Trainer, gan: Any, n_local: int) -> None:
        for images, labels in self._real_draw(trainer, gan, n_local):
            self.evaluator.update_real(images, labels if self.per_class else None)
        self._n_real = int(self.evaluator.sample_counts()["real"])  # summed over ranks
        if self._n_real < self.n_samples:
            rank_zero_warn(
                f"{type(self).__name__}: only {self._n_real} real samples for "
                f"n_samples={self.n_samples}: FID is biased upwards with few samples; compare "
                "only runs with equal counts."
            )
        if self._n_real < 2:
            raise ValueError("FID/KID need at least 2 real samples: pass more data as `real=`.")
        self._real_cached = True
