"""Conditional mode accuracy: does a conditional generator put label k's samples on mode k?

On data whose labels are its modes (a Gaussian mixture's component, a Stacked MNIST digit
triple), a class-conditional generator can cover every mode and still ignore its labels; mode
coverage cannot see that. This metric counts, per label, the share of samples generated with
that label that land on that label's mode (a high-quality sample whose nearest mode is the
label, as :class:`~lightning_gan.metrics.mode_coverage.ModeCoverage` assigns them). Counts are
sums, so DDP ranks and ``merge_state`` combine exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


class ConditionalModeAccuracy(Metric):
    """``update(modes, hq, labels)``; ``compute()`` -> ``{"mean", "min", "per_label"}``.

    ``modes``/``hq`` are what a ``ModeCoverage.assign`` returns for samples generated with
    ``labels``. ``mean`` and ``min`` are over the labels that were generated at least once
    (NaN when none was).
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True
    hits: Tensor
    totals: Tensor

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}.")
        self.num_classes = num_classes
        self.add_state("hits", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("totals", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, modes: Tensor, hq: Tensor, labels: Tensor) -> None:
        labels = labels.to(self.hits.device)
        if labels.shape != modes.shape or (
            labels.numel() and int(labels.max()) >= self.num_classes
        ):
            raise ValueError(
                f"labels must be [N] class indices below {self.num_classes}, matching the "
                f"{tuple(modes.shape)} modes; got {tuple(labels.shape)}."
            )
        on_mode = hq.to(labels.device) & (modes.to(labels.device) == labels)
        self.hits += torch.bincount(labels[on_mode], minlength=self.num_classes)
        self.totals += torch.bincount(labels, minlength=self.num_classes)

    def compute(self) -> dict[str, Tensor]:
        seen = self.totals > 0
        per_label = self.hits.double() / self.totals.clamp(min=1).double()
        if not bool(seen.any()):
            nan = torch.tensor(math.nan, dtype=torch.float64)
            return {"mean": nan, "min": nan, "per_label": per_label}
        return {
            "mean": per_label[seen].mean(),
            "min": per_label[seen].min(),
            "per_label": per_label,
        }
