"""``FeatureEvaluator``: every image through the feature network once, every metric from it.

The cost of FID-style evaluation is the feature network, not the statistics. The evaluator runs
each real and generated image through the network once and feeds the features (and, for
Inception Score, the class logits of the same pass) to every metric asked for:

=============  ===============================================  =================================
name           metric                                           returns (keys of ``compute()``)
=============  ===============================================  =================================
``fid``        torchmetrics ``FrechetInceptionDistance``        ``fid``
``kid``        torchmetrics ``KernelInceptionDistance``         ``kid_mean``, ``kid_std``,
               (+ the standardised KID, :mod:`.kid`)            ``kid_norm_mean``, ``kid_norm_std``
``precision``  :class:`~.knn_manifold.PRDC` (k = 3)             ``precision``
``recall``     (same pass as precision)                         ``recall``
``density``    :class:`~.knn_manifold.PRDC` (k = 5)             ``density``
``coverage``   (same pass as density)                           ``coverage``
``is``         torchmetrics ``InceptionScore`` on the logits    ``is_mean``, ``is_std``
=============  ===============================================  =================================

With ``num_classes=K`` it also computes FID (and KID, if asked) per class from the labels given
with the images (real: the dataset's labels; generated: the labels the generator was conditioned
on): ``fid_class<k>`` for each class and ``intra_fid`` their mean (``kid_mean_class<k>``,
``intra_kid_mean``). Every metric is a torchmetrics ``Metric``: under DDP each rank updates with
its own images and every rank calls ``compute()`` (a collective; never under
``rank_zero_only``, torchmetrics #2684). Real statistics are kept across ``reset_fake()``.

:meth:`FeatureEvaluator.real_vs_real` gives the same metrics for one half of the real images
against the other (the yardstick of "good" in the feature space) and :func:`format_table` prints
both rows, KID as the standardised ``kid_norm`` (comparable across feature spaces).

Used by the training callback :class:`~lightning_gan.callbacks.evaluation.FeatureMetrics` and
meant for ``lightning-gan validate|test``: the same code computes training's and the final
numbers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

# _compute_fid: torchmetrics' own FID formula, for two feature sets already gathered (a second
# FrechetInceptionDistance would sync them across ranks again in compute())
from torchmetrics.image.fid import FrechetInceptionDistance, _compute_fid
from torchmetrics.image.inception import InceptionScore

from lightning_gan.metrics.evaluator_states import _Counts, _RealFeatures
from lightning_gan.metrics.feature_nets import FeatureSource, PrecomputedFeatures, resolve_features
from lightning_gan.metrics.kid import KIDWithNorm, kid_with_norm
from lightning_gan.metrics.knn_manifold import PRDC, manifold_metrics
from lightning_gan.metrics.reporting import METRICS as METRICS  # re-exported names
from lightning_gan.metrics.reporting import PROTOCOL_SAMPLES as PROTOCOL_SAMPLES
from lightning_gan.metrics.reporting import TABLE_COLUMNS as TABLE_COLUMNS
from lightning_gan.metrics.reporting import check_metric_names
from lightning_gan.metrics.reporting import format_table as format_table
from lightning_gan.metrics.reporting import protocol_warning as protocol_warning


def _quiet(factory: Any, *args: Any, **kwargs: Any) -> Metric:
    """Build a torchmetrics metric without its "will save all extracted features" warning (the
    evaluator bounds the features by ``n_samples``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        return factory(*args, **kwargs)


class FeatureEvaluator(nn.Module):
    """Compute any of :data:`METRICS` from one feature-network pass over each image.

    Args:
        features: ``"inception"``, ``"digits"``, ``"mnist"``, ``"stacked_mnist"``, an
            ``nn.Module`` with an int ``num_features`` (and ``features_and_logits`` for IS), or
            a :class:`~lightning_gan.metrics.feature_nets.FeatureSource` resolved earlier.
        metrics: names from :data:`METRICS`.
        num_classes: compute FID (and KID) per class over this many labels too (intra-class
            FID); ``update_real``/``update_fake`` then need ``labels``.
        data_range: range of the images (real and generated); real images outside it raise.
        inception_weights, download: where the Inception weights come from (see
            :func:`~lightning_gan.metrics.inception.resolve_inception_weights`).
        kid_subsets, kid_subset_size: KID's subsets; the size shrinks to the samples available.
        precision_recall_k, density_coverage_k: the k-NN sizes (3 and 5 in the papers).
        is_splits: Inception Score splits (10 in the paper).
        seed: seed of KID's subsets and IS's shuffling (the same on every rank).

    ``update_real(images, labels=None)``, ``update_fake(images, labels=None)``, ``compute() ->
    dict[str, float]``, ``reset_fake()`` (keeps the real statistics), ``reset()``.
    """

    def __init__(
        self,
        features: str | nn.Module | FeatureSource = "inception",
        metrics: Sequence[str] = ("fid", "kid"),
        num_classes: int | None = None,
        data_range: tuple[float, float] = (-1.0, 1.0),
        inception_weights: str | os.PathLike | None = None,
        download: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        precision_recall_k: int = 3,
        density_coverage_k: int = 5,
        is_splits: int = 10,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.metrics = check_metric_names(metrics)
        if not data_range[1] > data_range[0]:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}.")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(f"num_classes must be an integer >= 1 or None, got {num_classes!r}.")
        for name, value, low in (
            ("kid_subsets", kid_subsets, 1),
            ("kid_subset_size", kid_subset_size, 2),
            ("is_splits", is_splits, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        self.data_range = (float(data_range[0]), float(data_range[1]))
        self.num_classes = num_classes
        self.kid_subset_size = kid_subset_size
        self.seed = seed
        self.wants_logits = "is" in self.metrics
        source = (
            features
            if isinstance(features, FeatureSource)
            else resolve_features(
                features, self.data_range, inception_weights, download, self.wants_logits
            )
        )
        self.features_name = source.name
        self.extractor = source.build(logits=self.wants_logits)
        dim = int(self.extractor.num_features)

        def fid() -> FrechetInceptionDistance:
            return FrechetInceptionDistance(
                feature=PrecomputedFeatures(dim), reset_real_features=False
            )

        def kid() -> KIDWithNorm:
            return _quiet(
                KIDWithNorm,
                feature=PrecomputedFeatures(dim),
                subsets=kid_subsets,
                subset_size=kid_subset_size,
                reset_real_features=False,
            )

        self.fid = fid() if "fid" in self.metrics else None
        self.kid = kid() if "kid" in self.metrics else None
        wants = set(self.metrics)
        pr = precision_recall_k if wants & {"precision", "recall"} else None
        dc = density_coverage_k if wants & {"density", "coverage"} else None
        self.prdc = PRDC(pr, dc, reset_real_features=False) if pr or dc else None
        self.inception_score = (
            _quiet(InceptionScore, feature=PrecomputedFeatures(0), splits=is_splits)
            if self.wants_logits
            else None
        )
        k = num_classes or 0
        per_class_bytes = k * 2 * (dim * dim + dim) * 8 if self.fid is not None else 0
        if per_class_bytes > 2**30:
            warnings.warn(
                f"Per-class FID over {k} classes of {dim}-d features keeps "
                f"{per_class_bytes / 2**30:.1f} GiB of float64 running sums (2 x F^2 per "
                "class): evaluate fewer classes or a smaller feature space if memory is short.",
                stacklevel=2,
            )
        self.fid_per_class = nn.ModuleList(fid() for _ in range(k) if self.fid is not None)
        self.kid_per_class = nn.ModuleList(kid() for _ in range(k) if self.kid is not None)
        self.counts = _Counts(num_classes)
        self.real_features = _RealFeatures()
        self.kid_subsets = kid_subsets
        self.precision_recall_k, self.density_coverage_k = pr, dc

    # ------------------------------------------------------------------------------ inputs
    @property
    def device(self) -> torch.device:
        return self.counts.device

    def check_images(self, images: Tensor, real: bool = True) -> None:
        """Shape (for the feature network) and, for real images, range: a clear error now."""
        check = getattr(self.extractor, "check_images", None)
        if check is not None:
            check(tuple(images.shape))
        if not real or images.numel() == 0:
            return
        low, high = self.data_range
        tolerance = 1e-3 * (high - low)
        lo, hi = float(images.min()), float(images.max())
        if lo < low - tolerance or hi > high + tolerance:
            raise ValueError(
                f"Real images span [{lo:.3g}, {hi:.3g}] but data_range={self.data_range}: set "
                "`data_range` to the range of your images (e.g. (0, 1) or (0, 255)), so the "
                "features see them correctly."
            )
        if low < 0 <= lo and hi > tolerance:
            # Inside the range, so no error; but real images with no pixel below 0 in a range
            # that reaches -1 are almost always [0, 1] images (ToTensor without Normalize).
            warnings.warn(
                f"Real images span [{lo:.3g}, {hi:.3g}]: none is below 0, but "
                f"data_range={self.data_range}. They look scaled to [0, 1]: if so, map them to "
                f"{self.data_range} (e.g. x * 2 - 1) or pass data_range=(0, 1) to the metric "
                "(FeatureMetrics / FIDKIDCallback / FeatureEvaluator), or the features see "
                "every image shifted.",
                stacklevel=3,
            )

    def check_real(self, images: Tensor, labels: Tensor | None = None) -> None:
        """Everything :meth:`update_real` would refuse, without running the network (cheap:
        run it over the first real batches before training starts)."""
        self.check_images(images, real=True)
        self._check_labels(labels, images.shape[0], "real")

    def _check_labels(self, labels: Tensor | None, n: int, what: str) -> Tensor | None:
        if self.num_classes is None:
            return None
        if labels is None:
            raise ValueError(
                f"Per-class metrics (num_classes={self.num_classes}) need the labels of the "
                f"{what} images: pass update_{what}(images, labels)."
            )
        labels = torch.as_tensor(labels, device=self.device)
        if labels.shape != (n,) or labels.dtype != torch.long:
            raise ValueError(
                f"labels must be int64 class indices [{n}], got {labels.dtype} "
                f"{tuple(labels.shape)}."
            )
        if n and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.num_classes}), got [{int(labels.min())}, "
                f"{int(labels.max())}]: set num_classes to the number of classes of the data."
            )
        return labels

    def _extract(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        images = images.to(self.device)
        with torch.no_grad():
            if self.wants_logits:
                return self.extractor.features_and_logits(images)
            return self.extractor(images), None

    @torch.no_grad()
    def update_real(self, images: Tensor, labels: Tensor | None = None) -> None:
        """Add real images ``[B, ...]`` in ``data_range`` (and their labels, for per-class)."""
        self._update(images, labels, real=True)

    @torch.no_grad()
    def update_fake(self, images: Tensor, labels: Tensor | None = None) -> None:
        """Add generated images (and the labels they were conditioned on, for per-class)."""
        self._update(images, labels, real=False)

    def _update(self, images: Tensor, labels: Tensor | None, real: bool) -> None:
        self.check_images(images, real=real)
        labels = self._check_labels(labels, images.shape[0], "real" if real else "fake")
        feats, logits = self._extract(images)
        for metric in (self.fid, self.kid):
            if metric is not None:
                metric.update(feats, real=real)
        if self.prdc is not None:
            self.prdc.update(feats, real=real)
        if self.inception_score is not None and not real:
            self.inception_score.update(logits)
        if labels is not None:
            for c in labels.unique().tolist():
                mine = feats[labels == c]
                for per_class in (self.fid_per_class, self.kid_per_class):
                    if len(per_class):
                        per_class[c].update(mine, real=real)
        self.counts.update(images.shape[0], real, labels)
        if real:
            self.real_features.update(feats)

    # ----------------------------------------------------------------------------- compute
    def sample_counts(self) -> dict[str, Tensor]:
        """Real/generated sample counts over all ranks (a collective: call it on every rank)."""
        counts = self.counts.compute()
        return {k: v.clone() for k, v in counts.items()}

    def compute(self) -> dict[str, float]:
        """Every metric asked for (a collective: call it on every rank; all get the same)."""
        counts = self.sample_counts()
        n_real, n_fake = int(counts["real"]), int(counts["fake"])
        if n_real < 2 or n_fake < 2:
            raise ValueError(
                f"Evaluation needs at least 2 real and 2 generated samples, got {n_real} and "
                f"{n_fake}: update_real/update_fake with more images."
            )
        out: dict[str, float] = {}
        if self.fid is not None:
            out["fid"] = float(self.fid.compute())
        if self.kid is not None:
            kid = self._kid(self.kid, n_real, n_fake)
            out["kid_mean"], out["kid_std"], out["kid_norm_mean"], out["kid_norm_std"] = kid
        if self.prdc is not None:
            values = self.prdc.compute()
            out.update({k: float(values[k]) for k in self.metrics if k in values})
        if self.inception_score is not None:
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*degrees of freedom")  # 1 split
                torch.manual_seed(self.seed)
                is_mean, is_std = self.inception_score.compute()
            out["is_mean"], out["is_std"] = float(is_mean), float(is_std)
        if self.num_classes is not None:
            out.update(self._per_class(counts))
        return out

    def real_vs_real(self) -> dict[str, float]:
        """The same metrics (not IS, not per class) for one half of the real images against the
        other half: the yardstick of "good" in this feature space (issue 21).

        A FID of 12 or a precision of 0.88 means little on its own: real images against other
        real images score that in one space and FID 0.9 / precision 0.75 in another. The halves
        come from a seeded split of the gathered real features (every rank gets the same), so
        each has half the real samples: FID's small-sample bias is larger than the model row's
        with the same count (compare KID, which is unbiased).
        """
        real = self.real_features.compute().double()
        if real.shape[0] < 4:
            raise ValueError(f"real_vs_real needs at least 4 real samples, got {real.shape[0]}.")
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(real.shape[0], generator=g).to(real.device)
        half = real.shape[0] // 2
        a, b = real[order[:half]], real[order[half : 2 * half]]
        out: dict[str, float] = {"n_real_vs_real": float(half)}
        if self.fid is not None:
            mu_a, mu_b = a.mean(0), b.mean(0)
            cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
            out["fid"] = float(_compute_fid(mu_a, cov_a, mu_b, cov_b))
        if self.kid is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                kid = kid_with_norm(
                    a.float(), b.float(), self.kid_subsets, min(self.kid_subset_size, half)
                )
            out["kid_mean"], out["kid_std"], out["kid_norm_mean"], out["kid_norm_std"] = (
                float(v) for v in kid
            )
        if self.prdc is not None:
            values = manifold_metrics(a, b, self.precision_recall_k, self.density_coverage_k)
            out.update({k: float(values[k]) for k in self.metrics if k in values})
        return out

    def _kid(self, kid: KIDWithNorm, n_real: int, n_fake: int) -> tuple[float, ...]:
        """``(kid_mean, kid_std, kid_norm_mean, kid_norm_std)`` (see :mod:`.kid`)."""
        kid.subset_size = min(self.kid_subset_size, n_real, n_fake)
        with torch.random.fork_rng(devices=[]):  # the same KID subsets on every rank
            torch.manual_seed(self.seed)
            values = kid.compute()
        return tuple(float(v) for v in values)

    def _per_class(self, counts: dict[str, Tensor]) -> dict[str, float]:
        real_c, fake_c = counts["real_per_class"].tolist(), counts["fake_per_class"].tolist()
        thin = [c for c in range(len(real_c)) if min(real_c[c], fake_c[c]) < 2]
        if thin:
            c = thin[0]
            raise ValueError(
                f"Per-class FID needs at least 2 real and 2 generated samples of every class; "
                f"class {c} has {real_c[c]} real and {fake_c[c]} generated: raise n_samples "
                "(each class gets about n_samples / num_classes)."
            )
        out: dict[str, float] = {}
        if len(self.fid_per_class):
            fids = [float(m.compute()) for m in self.fid_per_class]
            out.update({f"fid_class{c}": v for c, v in enumerate(fids)})
            out["intra_fid"] = sum(fids) / len(fids)
        if len(self.kid_per_class):
            kids = [self._kid(m, real_c[c], fake_c[c])[0] for c, m in enumerate(self.kid_per_class)]
            out.update({f"kid_mean_class{c}": v for c, v in enumerate(kids)})
            out["intra_kid_mean"] = sum(kids) / len(kids)
        return out

    # ------------------------------------------------------------------------------- reset
    def _metrics(self) -> list[Metric]:
        found = [self.fid, self.kid, self.prdc, self.inception_score, self.real_features]
        return [m for m in found if m is not None] + [*self.fid_per_class, *self.kid_per_class]

    def reset_fake(self) -> None:
        """Forget the generated samples, keep the real statistics (the next evaluation)."""
        for metric in self._metrics():
            if metric is not self.real_features:
                metric.reset()
        self.counts.reset_fake()

    def reset(self) -> None:
        """Forget everything, real statistics included."""
        for metric in self._metrics():
            keep = getattr(metric, "reset_real_features", True)
            metric.reset_real_features = True
            metric.reset()
            metric.reset_real_features = keep
        self.counts.reset()
