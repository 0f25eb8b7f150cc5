"""How a particle run ended: converged, collapsed onto k < K modes, oscillating, or escaped.

Mode collapse in Durr et al.'s sense is the generator settling on a subset of the modes, or
moving between them; particles that leave the data altogether (where a critic has no gradient
left) are a different failure and get their own label. :func:`classify_outcomes` decides from
the last snapshots of a trajectory, with the VEEGAN/PacGAN rule for "on a mode" (a particle
within ``hq_radius`` of its nearest mode is high quality; a mode is covered when it is the
nearest mode of some high-quality particle):

* ``escaped``: at the end, at least ``escape_share`` of the particles are further than
  ``escape_radius`` from every mode;
* ``oscillating``: in the window, at least ``oscillation_share`` of the particles change the
  mode they sit on at least twice (``A -> B -> A`` or ``A -> B -> C``; passing through no mode
  on the way does not count as a change, so a particle that moves once from A to B does not
  oscillate);
* ``converged``: every mode is covered at the end (or ``required`` of them);
* ``collapsed``: otherwise; it then covers ``k < K`` modes at the end.

A particle that is not finite (the run diverged) counts as escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

OUTCOMES = ("converged", "collapsed", "oscillating", "escaped")
METRICS = ("euclidean", "cosine")


def nearest_modes(x: Tensor, modes: Tensor, metric: str = "euclidean") -> tuple[Tensor, Tensor]:
    """Distance to and index of each particle's nearest mode: ``x`` ``[..., N, d]``,
    ``modes`` ``[K, d]``; returns two ``[..., N]`` tensors.

    ``cosine``: the distance is ``1 - cos(x, mode)`` (for images: shape, not brightness).
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is unknown: pass one of {', '.join(METRICS)}.")
    flat = x.reshape(-1, x.shape[-1]).to(modes.dtype)
    if metric == "euclidean":
        dist = torch.cdist(flat, modes)
    else:
        dist = 1.0 - F.normalize(flat, dim=-1) @ F.normalize(modes, dim=-1).T
    best = dist.min(dim=-1)
    shape = x.shape[:-1]
    return best.values.reshape(shape), best.indices.reshape(shape)


@dataclass
class Outcomes:
    """Per configuration ``[B]``: the label, modes covered at the end, high-quality share."""

    labels: list[str]
    covered: Tensor
    high_quality: Tensor
    escaped_share: Tensor
    oscillating_share: Tensor


def classify_outcomes(
    dist: Tensor,
    index: Tensor,
    n_modes: int,
    hq_radius: float,
    escape_radius: float,
    escape_share: float = 0.25,
    oscillation_share: float = 0.2,
    required: int | None = None,
) -> Outcomes:
    """Classify ``B`` runs from their last ``T`` snapshots (module docstring).

    ``dist``/``index`` ``[T, B, N]`` come from :func:`nearest_modes` on the snapshots of the
    window to judge (e.g. the last fifth of the run); ``T >= 2``. ``required``: modes a run
    must cover to count as converged (default all ``n_modes``; with as many modes as particles,
    e.g. images, pass what a fresh real sample covers).
    """
    required = n_modes if required is None else required
    if not 1 <= required <= n_modes:
        raise ValueError(f"required={required} must lie in [1, n_modes={n_modes}].")
    if dist.dim() != 3 or dist.shape != index.shape or dist.shape[0] < 2:
        raise ValueError(
            "dist and index must both be [T, B, N] with T >= 2 snapshots: pass the last "
            "snapshots of the run (nearest_modes on run.x[-T:])."
        )
    if not 0 < hq_radius <= escape_radius:
        raise ValueError(f"need 0 < hq_radius <= escape_radius, got {hq_radius}, {escape_radius}.")
    dist = dist.nan_to_num(nan=float("inf"))  # a diverged particle is as far as it gets
    good = dist <= hq_radius
    counts = torch.zeros(*dist.shape[:2], n_modes, dtype=torch.long)
    counts.scatter_add_(2, torch.where(good, index, 0), good.long())
    covered = (counts > 0).sum(dim=-1)  # [T, B]
    # Last mode each particle sat on (-1 before the first), forward-filled through gaps.
    current = torch.full(dist.shape[1:], -1, dtype=torch.long)
    changes = torch.zeros(dist.shape[1:], dtype=torch.long)
    for t in range(dist.shape[0]):
        here = torch.where(good[t], index[t], current)
        changes += ((here != current) & (current >= 0)).long()
        current = here
    oscillating_share = (changes >= 2).double().mean(dim=-1)
    escaped_share = (dist[-1] > escape_radius).double().mean(dim=-1)
    labels = []
    for b in range(dist.shape[1]):
        if escaped_share[b] >= escape_share:
            labels.append("escaped")
        elif oscillating_share[b] >= oscillation_share:
            labels.append("oscillating")
        elif int(covered[-1, b]) >= required:
            labels.append("converged")
        else:
            labels.append("collapsed")
    return Outcomes(
        labels, covered[-1], good[-1].double().mean(dim=-1), escaped_share, oscillating_share
    )


def crossing(values: list[float], fractions: list[float], level: float = 0.5) -> dict[str, float]:
    """Where ``fractions`` (measured at increasing ``values``) drops below ``level`` for good.

    Returns ``{"low", "high", "value"}``: the last value at or above the level (every later one
    is below it), the next value, and the crossing interpolated linearly in ``log(value)``
    (``value = high`` when ``low`` is 0). Scanning from the top makes a noisy dip at small
    values irrelevant. Empty when no value reaches the level or the last one still does.
    """
    if len(values) != len(fractions) or any(
        b <= a for a, b in zip(values[:-1], values[1:], strict=True)
    ):
        raise ValueError("values must increase and match fractions one to one.")
    above = [i for i, f in enumerate(fractions) if f >= level]
    if not above or above[-1] == len(values) - 1:
        return {}
    i = above[-1]
    lo, hi = values[i], values[i + 1]
    if lo <= 0:
        return {"low": lo, "high": hi, "value": hi}
    w = (fractions[i] - level) / (fractions[i] - fractions[i + 1])
    return {"low": lo, "high": hi, "value": math.exp(math.log(lo) + w * math.log(hi / lo))}
