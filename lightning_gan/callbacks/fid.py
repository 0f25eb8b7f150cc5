"""``FIDKIDCallback``: the former name of ``FeatureMetrics`` (lightning_gan.callbacks.evaluation).

Deprecated: it warns once and behaves as before (``metrics`` limited to ``"fid"``/``"kid"``,
the same logged keys ``eval/fid``, ``eval/kid_mean``, ``eval/kid_std``, the same checkpoint
key). Use ``FeatureMetrics(metrics=("fid", "kid"), ...)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from torch import Tensor, nn
from torch.utils.data import Dataset

from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.metrics.feature_nets import PrecomputedFeatures

__all__ = ["FIDKIDCallback", "PrecomputedFeatures"]

_METRICS = ("fid", "kid")
_warned = False


class FIDKIDCallback(FeatureMetrics):
    """Deprecated alias of :class:`FeatureMetrics` restricted to FID and KID (warns once)."""

    _allowed_metrics = _METRICS

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
        global _warned
        if not _warned:
            _warned = True
            warnings.warn(
                "FIDKIDCallback is deprecated: use lightning_gan.callbacks.FeatureMetrics("
                "metrics=('fid', 'kid'), ...), which also computes precision, recall, density, "
                "coverage and IS from the same feature pass.",
                FutureWarning,
                stacklevel=2,
            )
        super().__init__(
            every_n_steps=every_n_steps,
            n_samples=n_samples,
            features=features,
            metrics=metrics,
            inception_weights=inception_weights,
            download=download,
            batch_size=batch_size,
            data_range=data_range,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            real=real,
            seed=seed,
        )

    @property
    def state_key(self) -> str:
        """As before the rename, so older checkpoints restore this callback's state."""
        return self._generate_state_key(features=self.features_name, n_samples=self.n_samples)
