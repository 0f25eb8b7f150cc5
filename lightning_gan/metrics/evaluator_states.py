"""The evaluator's own accumulated states: the real features (for the real-vs-real row) and the
sample counts per class, as torchmetrics ``Metric``s so that they sync across ranks like the
metrics themselves."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat


class _RealFeatures(Metric):
    """The real features, gathered over ranks (``cat``): what :meth:`FeatureEvaluator.real_vs_real`
    splits in two."""

    full_state_update = False
    features: list[Tensor]

    def __init__(self) -> None:
        super().__init__()
        self.add_state("features", [], dist_reduce_fx="cat")

    def update(self, features: Tensor) -> None:
        self.features.append(features.detach())

    def compute(self) -> Tensor:
        return dim_zero_cat(self.features)


class _Counts(Metric):
    """Samples seen (real, generated, and per class): summed over ranks."""

    full_state_update = False

    def __init__(self, num_classes: int | None) -> None:
        super().__init__()
        k = num_classes or 0
        self.add_state("real", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("fake", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("real_per_class", torch.zeros(k, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("fake_per_class", torch.zeros(k, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, n: int, real: bool, labels: Tensor | None = None) -> None:
        if real:
            self.real += n
        else:
            self.fake += n
        if labels is not None:
            counts = torch.bincount(labels, minlength=self.real_per_class.numel())
            if real:
                self.real_per_class += counts
            else:
                self.fake_per_class += counts

    def compute(self) -> dict[str, Tensor]:
        return {
            "real": self.real,
            "fake": self.fake,
            "real_per_class": self.real_per_class,
            "fake_per_class": self.fake_per_class,
        }

    def reset_fake(self) -> None:
        real, per_class = self.real.clone(), self.real_per_class.clone()
        self.reset()
        self.real, self.real_per_class = real, per_class
