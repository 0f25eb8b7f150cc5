"""Known-answer sets for a feature space: can its metrics tell garbage from digits?

A feature-space metric is only as good as the feature network: if images that are not digits land
inside the real digits' k-NN balls, precision and density call noise perfect. This module builds
image sets whose answer is known, against a real reference set of the space's own data, and
checks the expectations every shipped feature space must meet (CI runs it on the small spaces;
``benchmarks/metric_sanity.py`` records all of them in ``docs/results/metric_sanity.json``):

=========================  ==========================================  ============================
set                        what it is                                  expected
=========================  ==========================================  ============================
``real``                   other real images (disjoint from the ref.)  precision, recall >= 0.85
``uniform_noise``          U(-1, 1) pixels                             precision, density <= 0.05
``gaussian_noise``         N(0, 0.5^2) pixels, clamped to [-1, 1]      precision, density <= 0.05
``constant``               one grey level per image, U(-1, 1)          precision, density <= 0.05
``blank``                  every pixel -1 (the background)             precision, density <= 0.05
``blobs``                  smoothed noise, rescaled to [-1, 1]         precision, density <= 0.05
``shuffled``               real images with their pixels permuted      (recorded)
``repeated``               one real image, repeated                    recall, coverage <= 0.05
``half_classes``           real images of the first half of the        (recorded)
                           classes only
``noise_1`` .. ``noise_5``  real + Gaussian noise of growing std        FID, KID up; precision,
``blur_1`` .. ``blur_5``    real, Gaussian blur of growing sigma        density down (monotone)
=========================  ==========================================  ============================

Everything is seeded: the same call gives the same images. Images are in [-1, 1] (the range the
shipped data and tanh generators use); Stacked MNIST sets are three independent draws, one per
channel, like the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

#: Spaces whose data ship with the package (Inception is evaluated on MNIST5k digits, grey).
SPACES = ("digits", "mnist", "stacked_mnist", "inception")
GARBAGE = ("uniform_noise", "gaussian_noise", "constant", "blank", "blobs")
LEVELS = 5
#: std of the additive noise, per level (images in [-1, 1])
NOISE_STD = (0.1, 0.2, 0.35, 0.5, 0.8)
#: Gaussian blur sigma in pixels, per level, by image side (8x8 pixels are 4x coarser)
BLUR_SIGMA = {8: (0.4, 0.6, 0.8, 1.0, 1.3), 28: (0.6, 1.0, 1.5, 2.0, 3.0)}
LABELS = {
    "real": "real images (a disjoint set)",
    "uniform_noise": "uniform noise in [-1, 1]",
    "gaussian_noise": "Gaussian noise (std 0.5), clamped",
    "constant": "constant images, levels U(-1, 1)",
    "blank": "blank images (all -1)",
    "blobs": "blurred noise blobs",
    "shuffled": "real images, pixels shuffled",
    "repeated": "one real image, repeated",
    "half_classes": "real images of half the classes",
    **{f"noise_{i + 1}": f"real + noise, std {s}" for i, s in enumerate(NOISE_STD)},
}

METRIC_KEYS = ("precision", "recall", "density", "coverage", "fid", "kid_mean", "kid_norm_mean")


def _blur_label(level: int, side: int) -> str:
    return f"real, blur sigma {BLUR_SIGMA[side][level - 1]} px"


def label(name: str, side: int = 28) -> str:
    """The readable name of a set (for tables)."""
    if name.startswith("blur_"):
        return _blur_label(int(name.split("_")[1]), side)
    return LABELS[name]


@dataclass
class SanityData:
    """A space's real reference set and the named test sets (all ``[N, C, S, S]`` in [-1, 1])."""

    space: str
    reference: Tensor
    sets: dict[str, Tensor]
    side: int


def _pool(space: str) -> tuple[Tensor, Tensor, int]:
    """All images and labels of the space's data, and the channels per sample."""
    if space == "digits":
        from lightning_gan.data.digits import load_digits_tensors

        images, labels = load_digits_tensors()
        return images, labels, 1
    from lightning_gan.data.mnist5k import load_mnist5k

    images, labels = load_mnist5k()
    return images, labels, 3 if space == "stacked_mnist" else 1


def _stack(images: Tensor, labels: Tensor, idx: Tensor, channels: int, g: torch.Generator,
           n: int) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``n`` samples from the pool ``idx``: single images, or ``channels`` independent draws
    stacked as channels (the label is then the first channel's digit)."""
    if channels == 1:
        pick = idx[torch.randperm(len(idx), generator=g)[:n]]
        return images[pick], labels[pick]
    pick = idx[torch.randint(len(idx), (n, channels), generator=g)]
    return images[pick].squeeze(2), labels[pick[:, 0]]


def _blur(x: Tensor, sigma: float) -> Tensor:
    radius = max(1, int(3 * sigma + 0.5))
    return TF.gaussian_blur(x, [2 * radius + 1] * 2, [sigma, sigma])


def sanity_data(space: str, n: int = 1000, seed: int = 0) -> SanityData:
    """The reference set and every test set of :data:`SPACES` entry ``space``, ``n`` each.

    The reference and the real-derived sets come from disjoint halves of the data (a seeded
    shuffle), so "real vs real" compares two samples of the same distribution, never an image
    with itself. Fewer than ``n`` images are used where a half is smaller (scikit-learn's 1797
    digits: at most 898 per half; half the classes: what that half holds).
    """
    if space not in SPACES:
        raise ValueError(f"Unknown space {space!r}: use one of {SPACES}.")
    images, labels, channels = _pool(space)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=g)
    half = len(images) // 2
    ref_idx, other_idx = order[:half], order[half:]
    if channels == 1:
        n = min(n, half)
    reference, _ = _stack(images, labels, ref_idx, channels, g, n)
    real, _ = _stack(images, labels, other_idx, channels, g, n)
    shape = reference.shape[1:]
    side = shape[-1]
    half_classes = other_idx[labels[other_idx] < int(labels.max()) // 2 + 1]
    half_set, _ = _stack(images, labels, half_classes, channels, g, n)
    blobs = _blur(torch.randn(n, *shape, generator=g), 0.12 * side)
    lo = blobs.flatten(1).min(dim=1).values.view(-1, 1, 1, 1)
    hi = blobs.flatten(1).max(dim=1).values.view(-1, 1, 1, 1)
    perm = torch.argsort(torch.rand(n, shape.numel(), generator=g), dim=1)
    sets = {
        "real": real,
        "uniform_noise": torch.rand(n, *shape, generator=g) * 2 - 1,
        "gaussian_noise": (0.5 * torch.randn(n, *shape, generator=g)).clamp(-1, 1),
        "constant": (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1).expand(n, *shape).clone(),
        "blank": torch.full((n, *shape), -1.0),
        "blobs": (blobs - lo) / (hi - lo) * 2 - 1,
        "shuffled": real.flatten(1).gather(1, perm).view(n, *shape),
        "repeated": real[:1].expand(n, *shape).clone(),
        "half_classes": half_set,
    }
    for i, std in enumerate(NOISE_STD):
        noisy = real + std * torch.randn(real.shape, generator=g)
        sets[f"noise_{i + 1}"] = noisy.clamp(-1, 1)
    for i, sigma in enumerate(BLUR_SIGMA[side]):
        sets[f"blur_{i + 1}"] = _blur(real, sigma)
    return SanityData(space, reference, sets, side)


# ------------------------------------------------------------------------------ evaluation
def evaluate_sets(
    data: SanityData,
    features: Any,
    batch_size: int = 250,
    kid_subsets: int = 100,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Every metric of every set against the reference, through :class:`FeatureEvaluator`
    (the code training and ``lightning-gan validate|test`` run): the real features are
    extracted once, each set's once.

    Args:
        features: what ``FeatureEvaluator(features=...)`` accepts (a name, a module, a
            resolved ``FeatureSource``).
        only: evaluate these sets only (default: all of them).
    """
    from lightning_gan.metrics.evaluator import FeatureEvaluator

    n = len(data.reference)
    ev = FeatureEvaluator(
        features,
        ("fid", "kid", "precision", "recall", "density", "coverage"),
        kid_subsets=kid_subsets,
        kid_subset_size=min(1000, n),
        seed=seed,
    )
    for start in range(0, n, batch_size):
        ev.update_real(data.reference[start : start + batch_size])
    out: dict[str, dict[str, float]] = {}
    for name, images in data.sets.items():
        if only is not None and name not in only:
            continue
        ev.reset_fake()
        for start in range(0, len(images), batch_size):
            ev.update_fake(images[start : start + batch_size])
        values = ev.compute()
        feats = torch.cat(ev.prdc.fake_features) if ev.prdc is not None else None
        row = {k: float(values[k]) for k in METRIC_KEYS if k in values}
        if feats is not None:
            row["feature_norm"] = float(feats.norm(dim=1).mean())
        row["n"] = len(images)
        out[name] = row
        if progress is not None:
            progress(name)
    ref_feats = torch.cat(ev.prdc.real_features)
    out["_reference"] = {"n": n, "feature_norm": float(ref_feats.norm(dim=1).mean())}
    return out


# ---------------------------------------------------------------------------- expectations
@dataclass(frozen=True)
class Expectation:
    """One checked claim: ``sets``' ``metric`` compared with ``bound``, or a monotone series."""

    description: str
    check: Callable[[dict[str, dict[str, float]]], list[str]]


def _bound(sets: Sequence[str], metric: str, op: str, bound: float) -> Expectation:
    def check(results: dict[str, dict[str, float]]) -> list[str]:
        bad = []
        for s in sets:
            value = results[s][metric]
            ok = value <= bound if op == "<=" else value >= bound
            if not ok:
                bad.append(f"{s}: {metric} = {value:.3f}, expected {op} {bound}")
        return bad

    return Expectation(f"{', '.join(sets)}: {metric} {op} {bound}", check)


#: slack on the bounded k-NN metrics between levels (their sampling noise at n ~ 1000 is ~0.01)
MONOTONE_TOLERANCE = 0.01


def _monotone(series: str, metric: str, increasing: bool) -> Expectation:
    names = ["real", *[f"{series}_{i + 1}" for i in range(LEVELS)]]
    tol = 0.0 if metric in ("fid", "kid_mean", "kid_norm_mean") else MONOTONE_TOLERANCE

    def check(results: dict[str, dict[str, float]]) -> list[str]:
        values = [results[s][metric] for s in names]
        bad = []
        for a, b, va, vb in zip(names, names[1:], values, values[1:], strict=False):
            if (vb < va - tol) if increasing else (vb > va + tol):
                way = "up" if increasing else "down"
                bad.append(f"{metric}: {a} {va:.4g} -> {b} {vb:.4g} is not {way}")
        return bad

    way = "rises" if increasing else "falls"
    return Expectation(f"{series} levels 0-{LEVELS}: {metric} {way}", check)


EXPECTATIONS: tuple[Expectation, ...] = (
    _bound(GARBAGE, "precision", "<=", 0.05),
    _bound(GARBAGE, "density", "<=", 0.05),
    _bound(("real",), "precision", ">=", 0.85),
    _bound(("real",), "recall", ">=", 0.85),
    _bound(("repeated",), "recall", "<=", 0.05),
    _bound(("repeated",), "coverage", "<=", 0.05),
    *(
        _monotone(series, metric, increasing)
        for series in ("noise", "blur")
        for metric, increasing in (
            ("fid", True),
            ("kid_mean", True),
            ("kid_norm_mean", True),
            ("precision", False),
            ("density", False),
        )
    ),
)


#: the sets :data:`EXPECTATIONS` read (``shuffled`` and ``half_classes`` are recorded only)
CHECKED_SETS = (
    "real",
    *GARBAGE,
    "repeated",
    *(f"{s}_{i + 1}" for s in ("noise", "blur") for i in range(LEVELS)),
)


def failures(results: dict[str, dict[str, float]]) -> list[str]:
    """Every broken expectation of :data:`EXPECTATIONS`, as readable lines (empty: all pass)."""
    out = []
    for expectation in EXPECTATIONS:
        out += expectation.check(results)
    return out
