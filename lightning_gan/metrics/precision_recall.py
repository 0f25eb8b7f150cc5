"""Improved precision and recall (Kynkäänniemi et al. 2019) as a torchmetrics ``Metric``.

Precision: how much of what the generator makes looks real (falls inside the real manifold,
estimated as the union of k-NN balls around real features). Recall: how much of the real data
the generator can make (real samples inside the union of balls around generated features). A
mode-dropping generator keeps precision and loses recall; a blurry one the reverse. See
:mod:`lightning_gan.metrics.knn_manifold` for the computation (blocked, float64, as ``prdc``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_gan.metrics.knn_manifold import DEFAULT_BLOCK, NearestNeighbourMetric


class PrecisionRecall(NearestNeighbourMetric):
    """``update(features, real=True|False)``; ``compute()`` -> ``{"precision", "recall"}``.

    Args:
        k: neighbourhood size (3 in the paper).
        reset_real_features, block_size, dtype: see
            :class:`~lightning_gan.metrics.knn_manifold.NearestNeighbourMetric`.
    """

    def __init__(
        self,
        k: int = 3,
        reset_real_features: bool = True,
        block_size: int = DEFAULT_BLOCK,
        dtype: torch.dtype = torch.float64,
        **kwargs: Any,
    ) -> None:
        super().__init__(k, None, reset_real_features, block_size, dtype, **kwargs)

    @property
    def k(self) -> int:
        return int(self.precision_k)  # type: ignore[arg-type]

    def compute(self) -> dict[str, Tensor]:
        return super().compute()
