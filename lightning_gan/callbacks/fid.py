"""FID and KID of the generator during training, on torchmetrics, every N generator steps.

One callback computes both because the cost is the feature network, not the statistics: each
image (generated or real) goes through it once and its features feed torchmetrics'
``FrechetInceptionDistance`` and ``KernelInceptionDistance`` (given an identity "feature
network"). Real features are extracted once, at the first evaluation, and kept
(``reset_real_features=False``); FID keeps running sums (no feature buffer, torchmetrics #468),
KID keeps the features it needs for its subsets.

Distributed: every rank generates its share of the samples and its own shard of the real data,
and every rank calls ``compute()``, which torchmetrics syncs with collectives. Never move the
evaluation under ``rank_zero_only``: the other ranks would wait forever (torchmetrics #2684).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from lightning_gan.callbacks.periodic import PeriodicEvaluation
from lightning_gan.metrics.domain_features import DOMAINS, domain_features
from lightning_gan.metrics.inception import InceptionFeatures, resolve_inception_weights
from lightning_gan.metrics.sampling import (
    generated_batches,
    rank_share,
    real_batches,
    seeded_rng,
)

_METRICS = ("fid", "kid")


class PrecomputedFeatures(nn.Module):
    """Identity "feature network": the metrics receive features extracted once by the callback."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class FIDKIDCallback(PeriodicEvaluation):
    """Log ``eval/fid``, ``eval/kid_mean`` and ``eval/kid_std`` every ``every_n_steps`` G steps.

    Args:
        every_n_steps: evaluate when ``gan.g_steps`` is a multiple of this (generator steps, not
            ``trainer.global_step``, which also counts D steps).
        n_samples: generated and real samples per evaluation (summed over ranks); 10k or 50k for
            numbers comparable with papers, fewer for a cheap trend.
        features: ``"inception"`` (the standard 2015-12-05 FID network), ``"digits"``,
            ``"mnist"``, ``"stacked_mnist"`` (shipped digit-classifier features: fast, only
            comparable with themselves), or an ``nn.Module`` mapping images in ``data_range`` to
            ``[B, F]`` features and having an int ``num_features``.
        metrics: which of ``"fid"``, ``"kid"`` to compute.
        inception_weights: path of the Inception weights; otherwise
            ``$LIGHTNING_GAN_INCEPTION_WEIGHTS``, then the torch hub cache, then a download
            (if ``download``). Missing weights raise ``FileNotFoundError`` here, at construction.
        download: allow downloading the Inception weights when no local file is found.
        batch_size: images per generator/feature forward (bounds memory).
        data_range: the range of the images (generator output and real data).
        kid_subsets, kid_subset_size: KID's subsets (100 of 1000 in the KID paper); the subset
            size shrinks to the number of samples when fewer are available.
        real: real data to compare with (a tensor of samples or a dataset); by default the
            dataset of the trainer's training dataloader.
        seed: seed of the latents and of the real-sample draw: every evaluation uses the same
            latents, and the training RNG is left untouched.
    """

    def __init__(
        self,
        every_n_steps: int = 1000,
        n_samples: int = 10_000,
        features: str | nn.Module = "inception",
        metrics: Sequence[str] = _METRICS,
        inception_weights: str | None = None,
        download: bool = True,
        batch_size: int = 250,
        data_range: tuple[float, float] = (-1.0, 1.0),
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        real: Tensor | Dataset | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_steps)
        metrics = tuple(metrics)
        if not metrics or any(m not in _METRICS for m in metrics):
            raise ValueError(f"metrics must be a non-empty subset of {_METRICS}, got {metrics!r}.")
        for name, value in (("n_samples", n_samples), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {value!r}.")
        if not isinstance(kid_subsets, int) or kid_subsets < 1:
            raise ValueError(f"kid_subsets must be an integer >= 1, got {kid_subsets!r}.")
        if not isinstance(kid_subset_size, int) or kid_subset_size < 2:
            raise ValueError(f"kid_subset_size must be an integer >= 2, got {kid_subset_size!r}.")
        if not data_range[1] > data_range[0]:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}.")
        self.n_samples = n_samples
        self.metrics = metrics
        self.batch_size = batch_size
        self.data_range = (float(data_range[0]), float(data_range[1]))
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.seed = seed
        self.real = TensorDataset(real) if isinstance(real, Tensor) else real

        self._inception_weights = None
        self.extractor: nn.Module | None = None
        if isinstance(features, nn.Module):
            if not isinstance(getattr(features, "num_features", None), int):
                raise ValueError(
                    "A custom feature network needs an int attribute `num_features` "
                    "(the length of its output vectors)."
                )
            self.features_name = type(features).__name__
            self.extractor = features
        elif features == "inception":
            self.features_name = "inception"
            self._inception_weights = resolve_inception_weights(inception_weights, download)
        elif features in DOMAINS:
            self.features_name = features
            self.extractor = domain_features(features, self.data_range)
        else:
            raise ValueError(
                f"features={features!r} is unknown: use 'inception', "
                f"{', '.join(repr(d) for d in DOMAINS)} or an nn.Module with `num_features`."
            )
        self.fid: FrechetInceptionDistance | None = None
        self.kid: KernelInceptionDistance | None = None
        self._real_cached = False
        self._n_real = 0

    @property
    def state_key(self) -> str:
        return self._generate_state_key(features=self.features_name, n_samples=self.n_samples)

    # ----------------------------------------------------------------------------- lifecycle
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if self.extractor is None:  # Inception: ~100 MB, built only when training starts
            self.extractor = InceptionFeatures(self._inception_weights, self.data_range)
        self.extractor.eval().requires_grad_(False)
        identity = PrecomputedFeatures(int(self.extractor.num_features))
        if "fid" in self.metrics:
            self.fid = FrechetInceptionDistance(feature=identity, reset_real_features=False)
        if "kid" in self.metrics:
            with warnings.catch_warnings():  # "saves all features": n_samples bounds them
                warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
                self.kid = KernelInceptionDistance(
                    feature=identity,
                    subsets=self.kid_subsets,
                    subset_size=self.kid_subset_size,
                    reset_real_features=False,
                )
        self._real_cached = False

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Not in `setup`: Lightning moves the model to its device only after the setup hooks.
        for module in (self.extractor, self.fid, self.kid):
            if module is not None:
                module.to(pl_module.device)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check the real images' range now, not at the first evaluation hours later."""
        item = self._real_dataset(trainer)[0]
        image = item[0] if isinstance(item, (tuple, list)) else item
        low, high = self.data_range
        tolerance = 1e-3 * (high - low)
        if image.min() < low - tolerance or image.max() > high + tolerance:
            raise ValueError(
                f"Real images span [{float(image.min()):.3g}, {float(image.max()):.3g}] but "
                f"FIDKIDCallback(data_range={tuple(self.data_range)}): set `data_range` to the "
                "range of your images (e.g. (0, 1) or (0, 255)), so features see them correctly."
            )

    # ---------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, trainer: Trainer, gan: LightningModule) -> dict[str, float]:
        """Compute the metrics now (on every rank: the compute is a collective)."""
        if self.extractor is None or (self.fid is None and self.kid is None):
            raise RuntimeError("FIDKIDCallback.evaluate needs setup(stage='fit') first.")
        rank, world = trainer.global_rank, trainer.world_size
        n_local = rank_share(self.n_samples, world)
        with seeded_rng(self.seed + rank, gan.device):
            if not self._real_cached:
                self._cache_real(trainer, gan, n_local, rank, world)
            for fake in generated_batches(gan, n_local, self.batch_size):
                self._update(fake, real=False)
            values: dict[str, float] = {}
            if self.fid is not None:
                values["eval/fid"] = float(self.fid.compute())
                self.fid.reset()
            if self.kid is not None:
                self.kid.subset_size = min(self.kid_subset_size, self._n_real, n_local * world)
                torch.manual_seed(self.seed)  # the same KID subsets on every rank
                kid_mean, kid_std = self.kid.compute()
                values["eval/kid_mean"], values["eval/kid_std"] = float(kid_mean), float(kid_std)
                self.kid.reset()
        return values

    def _update(self, images: Tensor, real: bool) -> None:
        feats = self.extractor(images.to(self._device))
        for metric in (self.fid, self.kid):
            if metric is not None:
                metric.update(feats, real=real)

    @property
    def _device(self) -> torch.device:
        metric = self.fid if self.fid is not None else self.kid
        return metric.device

    def _real_dataset(self, trainer: Trainer) -> Dataset:
        if self.real is not None:
            return self.real
        loader = trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if dataset is None or not hasattr(dataset, "__len__"):
            raise ValueError(
                "FIDKIDCallback could not find a map-style dataset in the training dataloader: "
                "pass the real data as `real=` (a tensor of samples or a Dataset)."
            )
        return dataset

    def _cache_real(self, trainer: Trainer, gan: Any, n_local: int, rank: int, world: int) -> None:
        dataset = self._real_dataset(trainer)
        n_real = 0
        for batch in real_batches(
            dataset, n_local, self.batch_size, gan.real_from_batch, self.seed, rank, world
        ):
            self._update(batch, real=True)
            n_real += batch.shape[0]
        total = trainer.strategy.reduce(
            torch.tensor(float(n_real), device=self._device), reduce_op="sum"
        )
        self._n_real = int(total)
        if self._n_real < self.n_samples:
            rank_zero_warn(
                f"FIDKIDCallback: only {self._n_real} real samples for n_samples={self.n_samples}:"
                " FID is biased upwards with few samples; compare only runs with equal counts."
            )
        if self._n_real < 2:
            raise ValueError("FID/KID need at least 2 real samples: pass more data as `real=`.")
        self._real_cached = True

    # --------------------------------------------------------------------------- checkpoint
