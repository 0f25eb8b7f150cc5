"""The optimal discriminator of the Li et al. model: ``{x : p_real(x) >= p_fake(x)}``, exactly.

Split from :mod:`lightning_gan.dynamics.interval_gmm` (the dynamics) because it is a
root-finding problem of its own: the difference of two two-component Gaussian mixtures is a sum
of exponentials of lines after taking logs, whose sign changes are bracketed and refined by
Newton steps, batched over every simulated run.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class _ExpSum:
    """``F(x) = sum_k w_k exp(b_k x + d_k) = P(x) - Q(x)`` per run, terms stored ``[K, N, 1]``.

    ``P``/``Q`` collect the positive/negative terms. :meth:`log_ratio` returns
    ``h = log P - log Q`` (``sign(h) = sign(F)``) and ``dh/dx``. ``log P`` and ``log Q`` are
    log-sum-exps of lines (convex, asymptotically linear), so Newton on ``h`` converges in a few
    steps even from far away, and nothing overflows. The term axis comes first so that the
    reductions over it are contiguous adds (this runs hundreds of times per simulated step).
    """

    def __init__(self, weights: Tensor, slopes: Tensor, offsets: Tensor) -> None:
        self.slopes = slopes.T[..., None]
        self.offsets = (offsets + weights.abs().log()).T[..., None]
        self.sides = torch.stack([weights > 0, weights < 0]).transpose(1, 2)[..., None]

    def take(self, rows: Tensor) -> _ExpSum:
        """The same sums for a subset of runs (rows of ``N``)."""
        out = _ExpSum.__new__(_ExpSum)
        out.slopes, out.offsets = self.slopes[:, rows], self.offsets[:, rows]
        out.sides = self.sides[:, :, rows]
        return out

    def log_ratio(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``h(x)`` and ``h'(x)`` for ``x`` of shape ``[N, M]``."""
        expo = self.slopes * x + self.offsets  # [K, N, M]
        masked = torch.where(self.sides, expo, -math.inf)  # [2, K, N, M]
        top = masked.amax(dim=1)
        terms = (masked - top.nan_to_num(neginf=0.0)[:, None]).exp()
        total = terms.sum(dim=1)
        log_sum = top + total.log()
        slope = (terms * self.slopes).sum(dim=1) / total
        return log_sum[0] - log_sum[1], slope[0] - slope[1]


def _roots_in_brackets(
    fn: _ExpSum, edges: Tensor, iters: int, tol: float = 1e-9, guess: Tensor | None = None
) -> Tensor:
    """One root per bracket ``[edges_j, edges_j+1]`` where the sign changes, else ``+inf``.

    The caller guarantees the function is monotone in each bracket (see
    :func:`optimal_intervals`), so a sign change means exactly one root. Safeguarded Newton on
    :meth:`_ExpSum.log_ratio`: a Newton step when it lands inside the shrinking bracket, else
    bisection; it stops early once every step is below ``tol``. ``guess`` (one per bracket,
    e.g. the previous step's roots) replaces the midpoint start where it lies inside its bracket.
    """
    a, b = edges[:, :-1], edges[:, 1:]
    sign_a = fn.log_ratio(a)[0] >= 0
    has_root = sign_a != (fn.log_ratio(b)[0] >= 0)
    x = 0.5 * (a + b)
    if guess is not None:
        x = torch.where((guess > a) & (guess < b), guess, x)
    # Iterate on the runs still moving only: a few slow runs then cost little.
    rows = torch.arange(x.shape[0], device=x.device)
    xs, sign_s, root_s = x, sign_a, has_root
    for _ in range(iters):
        value, slope = fn.log_ratio(xs)
        on_a_side = (value >= 0) == sign_s
        a = torch.where(on_a_side, xs, a)
        b = torch.where(on_a_side, b, xs)
        newton = xs - value / slope
        inside = (newton >= a) & (newton <= b)
        step = torch.where(inside, newton, 0.5 * (a + b)) - xs
        xs = xs + step
        # |h| ~ 1e-15 is rounding: the root is then as exact as the data allows.
        active = ((step.abs() > tol) & (value.abs() > 1e-13) & root_s).any(dim=1)
        n_active = int(active.sum())
        if n_active == 0:
            break
        if n_active <= 3 * len(rows) // 4:
            x[rows] = xs
            keep = active.nonzero().squeeze(1)
            rows, fn = rows[keep], fn.take(keep)
            xs, a, b, sign_s, root_s = xs[keep], a[keep], b[keep], sign_s[keep], root_s[keep]
    x[rows] = xs
    return torch.where(has_root, x, torch.full_like(x, math.inf))


def optimal_intervals(
    mu: Tensor, mu_star: Tensor, margin: float = 10.0, newton_steps: int = 30
) -> Tensor:
    """The optimal discriminator ``{x : p_real(x) >= p_fake(x)}`` as two intervals ``[N, 2, 2]``.

    With unit variances ``p_real - p_fake`` has the sign of the exponential sum
    ``F(x) = sum_k s_k exp(a_k x - a_k^2 / 2)`` over the four means ``a`` (signs ``s = +,+,-,-``),
    which has at most three zeros, so the set is at most two intervals, possibly unbounded
    (endpoints ``+-inf``). The zeros are found exactly by Rolle's theorem for exponential sums:
    ``exp(a_0 x) d/dx[exp(-a_0 x) F]`` is a three-term sum whose zeros separate those of ``F``;
    repeating once more leaves a two-term sum with a closed-form zero. Each level's zeros bracket
    the next level's, where the function is monotone, and safeguarded Newton refines them
    (float64, at most ``newton_steps`` iterations, bisection whenever Newton leaves the bracket).
    Crossings further than ``margin`` std from every mean are ignored: the probability they
    could enclose is below ``1e-20``. Unused slots hold the empty interval ``[inf, inf]``;
    identical mixtures give ``(-inf, inf)``.
    """
    return optimal_intervals_with_roots(mu, mu_star, margin, newton_steps)[0]


def optimal_intervals_with_roots(
    mu: Tensor,
    mu_star: Tensor,
    margin: float,
    newton_steps: int,
    guess: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """:func:`optimal_intervals` plus both levels' roots in bracket order, which seed the
    Newton iterations of the next simulated step (``guess``): the means move little per step,
    so warm starts need a few iterations instead of a dozen."""
    if margin <= 0:
        raise ValueError(f"margin={margin} must be positive: pass margin > 0 (default 10).")
    guess3, guess4 = (None, None) if guess is None else guess
    means = torch.cat([mu_star, mu], dim=-1)
    signs = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=means.dtype, device=means.device)
    w4 = signs.expand_as(means)
    d4 = -0.5 * means.pow(2)
    lo = means.min(dim=-1, keepdim=True).values - margin
    hi = means.max(dim=-1, keepdim=True).values + margin
    # Level 3: kill term 0; level 2: kill term 1 (weights pick up slope differences).
    w3 = w4[:, 1:] * (means[:, 1:] - means[:, :1])
    w2 = w3[:, 1:] * (means[:, 2:] - means[:, 1:2])
    a2, a3 = means[:, 2], means[:, 3]
    ratio = -w2[:, 0] / w2[:, 1]
    root2 = (ratio.log() + d4[:, 2] - d4[:, 3]) / (a3 - a2)
    root2 = torch.where(torch.isfinite(root2), root2, torch.full_like(root2, math.inf))
    edges3 = torch.cat([lo, root2[:, None].clamp(lo, hi), hi], dim=-1)
    f3 = _ExpSum(w3, means[:, 1:], d4[:, 1:])
    roots3 = _roots_in_brackets(f3, edges3, newton_steps, guess=guess3)
    edges4 = torch.cat([lo, roots3.clamp(lo, hi).sort(dim=-1).values, hi], dim=-1)
    f4 = _ExpSum(w4, means, d4)
    roots4 = _roots_in_brackets(f4, edges4, newton_steps, guess=guess4)
    roots = roots4.sort(dim=-1).values
    start_inside = f4.log_ratio(lo)[0] >= 0
    neg_inf = torch.full_like(lo, -math.inf)
    pos_inf = torch.full_like(lo, math.inf)
    bounds = torch.where(
        start_inside, torch.cat([neg_inf, roots], -1), torch.cat([roots, pos_inf], -1)
    )
    # Equal mixtures: F vanishes identically, but rounding could give it either sign.
    same = (mu.sort(dim=-1).values == mu_star.sort(dim=-1).values).all(dim=-1, keepdim=True)
    everything = torch.cat([neg_inf, pos_inf, pos_inf, pos_inf], dim=-1)
    return torch.where(same, everything, bounds).reshape(-1, 2, 2), (roots3, roots4)
