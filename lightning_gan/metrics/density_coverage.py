"""Density and coverage (Naeem et al. 2020) as a torchmetrics ``Metric``.

Both use k-NN balls around the *real* features only, which makes them robust to generated
outliers (precision/recall's generated balls grow around outliers): density counts how many
real balls contain each generated sample (/k; about 1 when the distributions match, above 1 when
samples crowd dense real regions), coverage is the share of real balls that hold at least one
generated sample (mode dropping lowers it). See :mod:`lightning_gan.metrics.knn_manifold`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_gan.metrics.knn_manifold import DEFAULT_BLOCK, NearestNeighbourMetric


class DensityCoverage(NearestNeighbourMetric):
    """``update(features, real=True|False)``; ``compute()`` -> ``{"density", "coverage"}``.

    Args:
        k: neighbourhood size (5 in the paper).
        reset_real_features, block_size, dtype: see
            :class:`~lightning_gan.metrics.knn_manifold.NearestNeighbourMetric`.
    """

    def __init__(
        self,
        k: int = 5,
        reset_real_features: bool = True,
        block_size: int = DEFAULT_BLOCK,
        dtype: torch.dtype = torch.float64,
        **kwargs: Any,
    ) -> None:
        super().__init__(None, k, reset_real_features, block_size, dtype, **kwargs)

    @property
    def k(self) -> int:
        return int(self.density_k)  # type: ignore[arg-type]

    def compute(self) -> dict[str, Tensor]:
        return super().compute()
