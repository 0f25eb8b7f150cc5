"""A seeded, stratified hold-out split (the evaluation split of the image datamodules)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def stratified_split(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """``(kept, held_out)`` sorted int64 indices; each class holds out its share of ``fraction``.

    The total held out is ``round(fraction * n)``; per-class counts are the floors of each share
    plus one for the classes with the largest remainders (ties by class order), so every class is
    within one sample of its exact share. Drawn from a local generator seeded with ``seed``: the
    split does not depend on, or move, the global RNG. scikit-learn's ``train_test_split(...,
    stratify=)`` does the same but wants numpy and at least two samples per class.
    """
    n = int(labels.numel())
    if fraction <= 0 or n == 0:
        return torch.arange(n), torch.zeros(0, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, sorted=True, return_counts=True)
    share = fraction * counts.double()
    take = share.floor().long()
    extra = math.floor(fraction * n + 0.5) - int(take.sum())
    by_remainder = torch.argsort(take.double() - share, stable=True)  # largest remainder first
    take[by_remainder[:extra]] += 1
    held = []
    for cls, k in zip(classes.tolist(), take.tolist(), strict=True):
        members = (labels == cls).nonzero().squeeze(1)
        held.append(members[torch.randperm(len(members), generator=generator)[:k]])
    held_out = torch.cat(held).sort().values
    keep = torch.ones(n, dtype=torch.bool)
    keep[held_out] = False
    return keep.nonzero().squeeze(1), held_out
