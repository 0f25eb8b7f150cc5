"""The Li-Madry-Peebles-Schmidt GAN model: two unit Gaussians against a two-interval discriminator.

Li et al., "On the Limitations of First-Order Approximation in GAN Dynamics" (arXiv 1706.09884,
first titled "Towards Understanding the Dynamics of Generative Adversarial Networks").

* real data ``1/2 N(mu1*, 1) + 1/2 N(mu2*, 1)``; generator ``1/2 N(mu1, 1) + 1/2 N(mu2, 1)``;
* discriminator ``D = 1[x in I1 u I2]`` with ``I_k = [l_k, r_k]`` (``discriminator="union"``,
  the default) or ``D = 1[x in I1] + 1[x in I2]`` (``"sum"``); the two agree while the
  intervals are disjoint, and differ once first-order steps make them overlap;
* objective ``L = E_real[D] + E_fake[1 - D] = 1 + P_real(D) - P_fake(D)``; the discriminator
  ascends it, the generator descends it.

Everything is in closed form with the normal CDF and density, so a whole population of ``N``
independent initialisations is simulated as one float64 batch, with no autograd. The union's mass
is ``P(I1) + P(I2) - P(I1 n I2)``; its exact gradients (:func:`generator_grad`,
:func:`endpoint_grad`) give an endpoint lying inside the other interval a zero gradient, as the
indicator of a union should (tests check them against autograd).

Two dynamics are provided:

* :func:`simulate_optimal_discriminator`: each step the intervals are the exact optimum
  ``{x : p_real(x) >= p_fake(x)}`` (:func:`optimal_intervals`), then the generator takes a
  gradient step. The generator then descends the total-variation distance.
* :func:`simulate_first_order`: the endpoints take gradient *ascent* steps (``d_steps`` per
  generator step) and the generator gradient *descent* steps, either alternating (G sees the
  updated D, the default) or simultaneous (G and D step from the same state). This is what GAN
  training does, and where the discriminator can collapse (:func:`collapse_kind`).

Union vs sum, alternating vs simultaneous, the reset of crossed endpoints, the initialisation box
and the convergence tolerance are modelling choices of this module, not statements of the paper;
``benchmarks/li_sweep.py`` runs every combination of the first two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lightning_gan.dynamics.interval_optimal import optimal_intervals, optimal_intervals_with_roots
from lightning_gan.dynamics.snapshots import Snapshots

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def normal_cdf(x: Tensor) -> Tensor:
    """Standard normal CDF; exact at +-inf, which encodes unbounded intervals."""
    return 0.5 * (1.0 + torch.erf(x / _SQRT2))


def mixture_cdf(x: Tensor, means: Tensor) -> Tensor:
    """CDF of ``1/2 N(m1,1) + 1/2 N(m2,1)``: ``x`` is ``[N, ...]``, ``means`` is ``[N, 2]``."""
    shape = (means.shape[0],) + (1,) * (x.dim() - 1) + (2,)
    return normal_cdf(x.unsqueeze(-1) - means.reshape(shape)).mean(dim=-1)


def mixture_pdf(x: Tensor, means: Tensor) -> Tensor:
    """Density of the equal mixture; ``x`` is ``[N, ...]``, ``means`` ``[N, 2]``; 0 at +-inf."""
    shape = (means.shape[0],) + (1,) * (x.dim() - 1) + (2,)
    z = x.unsqueeze(-1) - means.reshape(shape)
    return (-0.5 * z.pow(2) - _LOG_SQRT_2PI).exp().mean(dim=-1)


def _union_parts(intervals: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``I1``, ``I2`` and ``I1 n I2`` as ``(left [N, 3], right [N, 3], sign [3])``.

    ``P(I1 u I2) = sum_p sign_p (F(right_p) - F(left_p))`` (inclusion-exclusion); an interval
    with ``l > r`` is empty, and so is an empty intersection.
    """
    left, right = intervals[..., 0], intervals[..., 1]
    right = torch.maximum(right, left)
    lo = torch.maximum(left[:, 0], left[:, 1])
    hi = torch.maximum(torch.minimum(right[:, 0], right[:, 1]), lo)
    sign = torch.tensor([1.0, 1.0, -1.0], dtype=intervals.dtype, device=intervals.device)
    return torch.cat([left, lo[:, None]], 1), torch.cat([right, hi[:, None]], 1), sign


DISCRIMINATORS = ("union", "sum")
UPDATES = ("alternating", "simultaneous")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown: pass one of {', '.join(allowed)}.")


def _parts(intervals: Tensor, discriminator: str) -> tuple[Tensor, Tensor, Tensor]:
    """Signed intervals whose masses add up to ``E[D]``: inclusion-exclusion for the union,
    the two intervals themselves for the sum of indicators."""
    if discriminator == "union":
        return _union_parts(intervals)
    _check_choice("discriminator", discriminator, DISCRIMINATORS)
    left = intervals[..., 0]
    right = torch.maximum(intervals[..., 1], left)
    return left, right, torch.ones(2, dtype=intervals.dtype, device=intervals.device)


def discriminator_mass(intervals: Tensor, means: Tensor, discriminator: str = "union") -> Tensor:
    """``E[D]`` under the mixture with ``means``, ``[N]``: ``P(I1 u I2)`` or ``P(I1) + P(I2)``."""
    left, right, sign = _parts(intervals, discriminator)
    return ((mixture_cdf(right, means) - mixture_cdf(left, means)) * sign).sum(dim=-1)


def union_mass(intervals: Tensor, means: Tensor) -> Tensor:
    """Probability of ``I1 u I2`` under the mixture with ``means``; ``intervals`` is ``[N, 2, 2]``.

    Inclusion-exclusion keeps the result correct when the intervals overlap or nest, so
    first-order steps never need to keep them disjoint.
    """
    return discriminator_mass(intervals, means, "union")


def objective(
    mu: Tensor, mu_star: Tensor, intervals: Tensor, discriminator: str = "union"
) -> Tensor:
    """``E_real[D] + E_fake[1 - D]`` per run, shape ``[N]``: D maximises it, G minimises it."""
    real = discriminator_mass(intervals, mu_star, discriminator)
    return 1.0 + real - discriminator_mass(intervals, mu, discriminator)


def generator_grad(
    mu: Tensor, mu_star: Tensor, intervals: Tensor, discriminator: str = "union"
) -> Tensor:
    """``dL/dmu``, ``[N, 2]``: ``1/2 sum_parts sign (phi(r - mu_i) - phi(l - mu_i))``.

    Only the fake mass depends on ``mu``; the real means enter through the intervals alone.
    """
    left, right, sign = _parts(intervals, discriminator)

    def pdf(x: Tensor) -> Tensor:  # [N, 3] endpoints against [N, 2] means -> [N, 3, 2]
        return (-0.5 * (x[..., None] - mu[:, None, :]).pow(2) - _LOG_SQRT_2PI).exp()

    return 0.5 * ((pdf(right) - pdf(left)) * sign[:, None]).sum(dim=1)


def endpoint_grad(
    mu: Tensor, mu_star: Tensor, intervals: Tensor, discriminator: str = "union"
) -> Tensor:
    """``dL/d(l, r)``, ``[N, 2, 2]``: ``-gap(l)`` and ``+gap(r)`` with ``gap = p_real - p_fake``.

    For the union, an endpoint strictly inside the *other* (non-empty) interval does not bound
    the union, so its gradient is 0: two overlapping intervals act as one, and the inner
    endpoints stay frozen until an outer one passes them. For the sum of indicators every
    endpoint keeps its gradient. An empty interval ``l = r = m`` gets ``(-gap(m), +gap(m))``,
    so it regrows exactly when ``p_real(m) > p_fake(m)``.
    """
    _check_choice("discriminator", discriminator, DISCRIMINATORS)
    gap = mixture_pdf(intervals, mu_star) - mixture_pdf(intervals, mu)
    gap = gap * torch.tensor([-1.0, 1.0], dtype=gap.dtype, device=gap.device)
    if discriminator == "sum":
        return gap
    other = intervals.flip(1)  # [N, 2 (interval), 2 (l, r)] -> the other interval per row
    other_open = (other[..., 1] > other[..., 0])[..., None]
    inside = other_open & (intervals > other[..., :1]) & (intervals < other[..., 1:])
    return torch.where(inside, torch.zeros_like(gap), gap)


def random_intervals(n: int, radius: float, generator: torch.Generator) -> Tensor:
    """Four uniform points in ``[-radius, radius]``, sorted: disjoint ``l1 < r1 < l2 < r2``."""
    points = (torch.rand(n, 4, generator=generator, dtype=torch.float64) * 2 - 1) * radius
    return points.sort(dim=-1).values.reshape(n, 2, 2)


@dataclass
class IntervalGMMRun:
    """Trajectories of a batch of runs: ``mu`` ``[T+1, N, 2]``, ``intervals`` ``[T+1, N, 2, 2]``.

    ``intervals`` is the discriminator *used* at each recorded step (the optimum for the optimal
    dynamics). Trajectories are recorded every ``record_every`` steps to keep memory small.
    """

    mu_star: Tensor
    mu: Tensor
    intervals: Tensor
    steps: Tensor

    @property
    def final_mu(self) -> Tensor:
        return self.mu[-1]

    def distance_trajectory(self) -> Tensor:
        """Per snapshot and run, the max error of the sorted means vs the true ones, ``[T, N]``."""
        err = self.mu.sort(-1).values - self.mu_star.sort(-1).values
        return err.abs().max(dim=-1).values

    def distance(self) -> Tensor:
        """Per-run max error of the sorted generator means vs the sorted true means, ``[N]``."""
        return self.distance_trajectory()[-1]

    def converged(self, tol: float = 0.1) -> Tensor:
        """Boolean ``[N]``: both means within ``tol`` of the true means (as a set)."""
        return self.distance() <= tol

    def converged_by_step(self, tol: float = 0.1) -> Tensor:
        """Runs within ``tol`` at each recorded step, ``[T]`` counts (``self.steps`` gives t)."""
        return (self.distance_trajectory() <= tol).sum(dim=-1)


def _check(steps: int, lr: float, record_every: int) -> None:
    if steps < 1:
        raise ValueError(f"steps={steps} must be at least 1: pass steps >= 1.")
    if lr <= 0:
        raise ValueError(f"learning rate {lr} must be positive: pass a value > 0.")
    if record_every < 1:
        raise ValueError(f"record_every={record_every} must be at least 1: pass >= 1.")


def _as_rates(lr: Tensor | float, n: int, dtype: torch.dtype) -> Tensor:
    """A step size per run, ``[N, 1]`` (a float, or ``[N]`` to batch several step sizes)."""
    rates = torch.as_tensor(lr, dtype=dtype).reshape(-1)
    if rates.numel() not in (1, n):
        raise ValueError(f"got {rates.numel()} step sizes for {n} runs: pass a float or [N].")
    if bool((rates <= 0).any()):
        raise ValueError(f"learning rate {rates.min().item()} must be positive: pass a value > 0.")
    return rates.expand(n)[:, None]


def simulate_optimal_discriminator(
    mu0: Tensor,
    mu_star: Tensor,
    steps: int = 1000,
    lr_g: float = 0.1,
    record_every: int = 1,
) -> IntervalGMMRun:
    """Generator gradient descent against the exact optimal discriminator at every step.

    ``mu0`` and ``mu_star`` are ``[N, 2]`` (float64 recommended). By the envelope theorem the
    generator then descends ``1 + TV(real, fake)``; Li et al. prove convergence for this dynamics.
    (The optimal D is two disjoint intervals, so union and sum of indicators coincide here.)
    """
    _check(steps, lr_g, record_every)
    mu = mu0.clone()
    snapshots = Snapshots(record_every, steps)
    roots = None
    for t in range(steps + 1):
        intervals, roots = optimal_intervals_with_roots(mu, mu_star, 10.0, 30, guess=roots)
        snapshots.record(t, mu, intervals)
        if t == steps:
            break
        mu = mu - lr_g * generator_grad(mu, mu_star, intervals)
    return IntervalGMMRun(mu_star, *snapshots.stacked())


def _ascend(
    mu: Tensor, mu_star: Tensor, intervals: Tensor, lr_d: Tensor, discriminator: str
) -> Tensor:
    """One endpoint ascent step; an interval whose endpoints cross becomes ``[m, m]``."""
    intervals = intervals + lr_d[..., None] * endpoint_grad(mu, mu_star, intervals, discriminator)
    left, right = intervals[..., 0], intervals[..., 1]
    mid = 0.5 * (left + right)
    crossed = left > right
    return torch.stack([torch.where(crossed, mid, left), torch.where(crossed, mid, right)], dim=-1)


def simulate_first_order(
    mu0: Tensor,
    mu_star: Tensor,
    intervals0: Tensor,
    steps: int = 1000,
    lr_g: float = 0.1,
    lr_d: Tensor | float = 0.1,
    d_steps: int = 1,
    record_every: int = 1,
    discriminator: str = "union",
    updates: str = "alternating",
) -> IntervalGMMRun:
    """Gradient play: ``d_steps`` ascent steps on the endpoints, one G descent step.

    ``updates="alternating"``: G steps against the updated D (what GAN training loops do);
    ``"simultaneous"``: G and D both step from the same state. ``lr_d`` may be ``[N]`` (one D
    step size per run, to batch a sweep). An interval whose endpoints cross (``l > r``) is reset
    to the empty interval ``[m, m]`` at their midpoint ``m``: it can regrow only where
    ``p_real > p_fake`` at ``m``. That, and an interval drifting to where both densities vanish,
    is how the discriminator collapses: the endpoint gradients ``+-(p_real - p_fake)`` vanish and
    D stops tracking the generator.
    """
    _check(steps, lr_g, record_every)
    if d_steps < 1:
        raise ValueError(f"d_steps={d_steps} must be at least 1: pass d_steps >= 1.")
    _check_choice("discriminator", discriminator, DISCRIMINATORS)
    _check_choice("updates", updates, UPDATES)
    rates = _as_rates(lr_d, mu0.shape[0], mu0.dtype)
    mu, intervals = mu0.clone(), intervals0.clone()
    snapshots = Snapshots(record_every, steps)
    for t in range(steps + 1):
        snapshots.record(t, mu, intervals)
        if t == steps:
            break
        before = intervals
        for _ in range(d_steps):
            intervals = _ascend(mu, mu_star, intervals, rates, discriminator)
        seen = intervals if updates == "alternating" else before
        mu = mu - lr_g * generator_grad(mu, mu_star, seen, discriminator)
    return IntervalGMMRun(mu_star, *snapshots.stacked())


FAILURE_KINDS = ("converged", "collapsed", "one_interval", "vanished", "stuck")
"""Outcome labels of :func:`collapse_kind`, in the order they are tested."""


def collapse_kind(run: IntervalGMMRun, tol: float = 0.1, min_length: float = 1e-3) -> list[str]:
    """Why each run ended where it did (one of :data:`FAILURE_KINDS`), from its last D.

    * ``converged``: both generator means within ``tol`` of the true means;
    * ``collapsed``: both intervals have shrunk to (numerically) zero length, D is 0 everywhere
      and the generator gets no gradient at all;
    * ``one_interval``: D lost an interval, either emptied or overlapping the other (for the
      union the inner endpoints of overlapping intervals have zero gradient; for the sum the
      two indicators cover the same place): D no longer has two separate intervals, and one
      interval cannot separate two wrongly placed modes;
    * ``vanished``: the intervals carry under 1e-3 probability of either distribution (they
      drifted into the tails), so every gradient is tiny;
    * ``stuck``: D still has two separate intervals carrying mass, yet G rests at a wrong point.

    This describes what the final D looks like; whether it still discriminates is
    :func:`discriminator_collapsed`.
    """
    ok = run.converged(tol)
    iv = run.intervals[-1]
    open_ = (iv[..., 1] - iv[..., 0]) >= min_length
    overlap = open_.all(dim=-1) & (
        torch.maximum(iv[:, 0, 0], iv[:, 1, 0]) < torch.minimum(iv[:, 0, 1], iv[:, 1, 1])
    )
    mass = torch.maximum(union_mass(iv, run.mu_star), union_mass(iv, run.final_mu))
    kind = torch.full(ok.shape, 4)
    kind = torch.where(~open_.all(dim=-1) | overlap, 2, kind)
    kind = torch.where(mass < 1e-3, 3, kind)
    kind = torch.where(~open_.any(dim=-1), 1, kind)
    kind = torch.where(ok, 0, kind)
    return [FAILURE_KINDS[k] for k in kind.tolist()]


def discriminator_advantage(
    run: IntervalGMMRun, discriminator: str = "union"
) -> tuple[Tensor, Tensor]:
    """``(P_real(D) - P_fake(D), TV(real, fake))`` for the final state of each run, ``[N]`` each.

    The total variation is the advantage of the optimal D (:func:`optimal_intervals`), so the
    ratio says how much of the available signal the trained D still captures.
    """
    mu, iv = run.final_mu, run.intervals[-1]
    advantage = objective(mu, run.mu_star, iv, discriminator) - 1.0
    tv = objective(mu, run.mu_star, optimal_intervals(mu, run.mu_star)) - 1.0
    return advantage, tv


def discriminator_collapsed(
    run: IntervalGMMRun, discriminator: str = "union", tol: float = 0.1, share: float = 0.1
) -> Tensor:
    """Failed runs whose final D captures under ``share`` of the total variation, ``[N]`` bool.

    This is discriminator collapse as a behaviour, whatever shape D took (:func:`collapse_kind`):
    the generator is wrong (not within ``tol``), real and fake differ, yet D no longer tells them
    apart, so the generator's gradient vanishes and it stops.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share={share} must lie in (0, 1): e.g. 0.1.")
    advantage, tv = discriminator_advantage(run, discriminator)
    return ~run.converged(tol) & (advantage < share * tv)
