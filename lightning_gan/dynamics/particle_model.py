"""The effective (particle) model of GAN training (Durr, Mroueh, Tu, Wang 2022, arXiv 2212.04580).

A wide generator trained by gradient descent moves its outputs ``x_i = G(z_i)`` by
``dx_i = -eta sum_j Theta(z_i, z_j) dLoss/dx_j`` where ``Theta`` is its neural tangent kernel,
which stays (nearly) fixed for wide networks. The effective model keeps only that: ``N``
particles in output space, coupled by a fixed kernel, chasing the gradient of a discriminator
that is trained alongside them. The kernel alone then decides whether particles can split between
modes (weak coupling) or must move together (strong coupling: mode collapse).

Modelling choices (the simplest faithful version; the paper's own discriminators are networks):

* kernel: :func:`rbf_kernel` over fixed latent codes (width ``sigma``: ``sigma -> 0`` gives
  independent particles, ``sigma -> inf`` a rigid cloud) or :func:`coarse_kernel`, the paper's
  coarse-grained NTK (1 on the diagonal, ``kappa`` off it). Rows are normalised to sum to 1 so
  that a particle's step size is the same for every coupling and only the coupling changes;
* discriminator: a critic linear in fixed Gaussian RBF features, ``D(x) = w . phi(x)``
  (:class:`RBFCritic`), trained by gradient ascent on the Wasserstein-type objective
  ``E_real[D] - E_fake[D] - gamma/2 E_real |grad_x D|^2 - lambda/2 |w|^2`` (``gamma``: the R1
  gradient penalty of Mescheder et al. 2018, which is the damping in the Dirac-GAN analysis;
  the quadratic terms are stepped semi-implicitly so that strong penalties stay stable);
* updates alternate: one (or ``d_steps``) critic step, then one particle step
  ``x_i <- x_i + eta_g sum_j K_ij grad_x D(x_j)``.

Everything is batched over ``B`` independent configurations (e.g. kernel widths x seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lightning_gan.dynamics.critics import ReLUCritic
from lightning_gan.dynamics.snapshots import Snapshots


def rbf_kernel(z: Tensor, width: Tensor | float) -> Tensor:
    """Row-normalised ``exp(-|z_i - z_j|^2 / (2 width^2))``: ``z`` ``[N, k]``, ``width`` ``[B]``.

    Returns ``[B, N, N]`` (``[1, N, N]`` for a float width).
    """
    width = torch.as_tensor(width, dtype=z.dtype, device=z.device).reshape(-1)
    if bool((width <= 0).any()):
        raise ValueError("kernel widths must be positive: pass width > 0 (small = independent).")
    sq = torch.cdist(z, z).pow(2)
    kernel = torch.exp(-sq / (2.0 * width.reshape(-1, 1, 1) ** 2))
    return kernel / kernel.sum(dim=-1, keepdim=True)


def coarse_kernel(
    n: int, off_diagonal: Tensor | float, dtype: torch.dtype = torch.float64
) -> Tensor:
    """The coarse-grained NTK of Durr et al.: ``(1 - kappa) I + kappa 11^T``, ``[B, N, N]``.

    Rows are normalised like :func:`rbf_kernel`.

    ``kappa = 0``: independent particles; ``kappa = 1``: every particle takes the mean step.
    """
    kappa = torch.as_tensor(off_diagonal, dtype=dtype).reshape(-1, 1, 1)
    if bool(((kappa < 0) | (kappa > 1)).any()):
        raise ValueError("off_diagonal must lie in [0, 1]: pass 0 (independent) to 1 (rigid).")
    eye = torch.eye(n, dtype=dtype)
    kernel = (1.0 - kappa) * eye + kappa * torch.ones(n, n, dtype=dtype)
    return kernel / kernel.sum(dim=-1, keepdim=True)


def scaled_coupling(kappa: float, n: int, lr_g: float, steps: int) -> float:
    """``u = lr_g T (1 - kappa) / (1 + kappa (N - 1))`` for the row-normalised coarse kernel.

    :func:`coarse_kernel` has eigenvalue 1 on the common motion of all particles and
    ``(1 - kappa) / (1 + kappa (N - 1))`` on every relative motion, so ``u`` is the time the
    particles have had, in units of one free particle's step, to move *apart*; the coupling
    enters only through it, and ``kappa N`` rather than ``kappa`` sets it.
    """
    if not 0 <= kappa <= 1 or n < 1:
        raise ValueError(f"need 0 <= kappa <= 1 and n >= 1, got kappa={kappa}, n={n}.")
    return lr_g * steps * (1 - kappa) / (1 + kappa * (n - 1))


@dataclass(frozen=True)
class RBFCritic:
    """Fixed Gaussian features ``phi_f(x) = exp(-|x - c_f|^2 / (2 h^2))`` on ``centres`` ``[F, d]``.

    Linear in its weights, so the optimal critic and the penalty's curvature are explicit, yet
    it resolves structure down to the bandwidth ``h`` (it can tell modes apart).
    """

    centres: Tensor
    bandwidth: float

    def __post_init__(self) -> None:
        if self.bandwidth <= 0:
            raise ValueError(f"bandwidth={self.bandwidth} must be positive: pass h > 0.")

    @classmethod
    def grid(cls, low: float, high: float, n: int, bandwidth: float) -> RBFCritic:
        """``n`` centres evenly spaced on ``[low, high]`` (1-D output space)."""
        if n < 2 or high <= low:
            raise ValueError("need n >= 2 centres and high > low: e.g. grid(-6, 6, 49, 0.5).")
        return cls(torch.linspace(low, high, n, dtype=torch.float64)[:, None], bandwidth)

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``phi(x)`` ``[..., F]`` and ``d phi / dx`` ``[..., F, d]`` for ``x`` ``[..., d]``."""
        diff = x[..., None, :] - self.centres  # [..., F, d]
        inv = 1.0 / self.bandwidth**2
        phi = torch.exp((diff * diff).sum(-1) * (-0.5 * inv))
        return phi, phi[..., None] * diff * (-inv)

    def penalty_matrix(self, real: Tensor) -> Tensor:
        """``E_real[J J^T]`` ``[F, F]``: ``E_real |grad_x D|^2 = w^T (this) w``."""
        _, jac = self.features(real)
        return torch.einsum("mfd,mgd->fg", jac, jac) / real.shape[0]


@dataclass
class ParticleRun:
    """Recorded particles ``x`` ``[T, B, N, d]`` and critic weights ``w`` ``[T, B, F]``.

    ``w`` is ``None`` for a neural-network critic (:func:`simulate_particles_nn`).
    """

    x: Tensor
    w: Tensor | None
    steps: Tensor


def simulate_particles(
    x0: Tensor,
    real: Tensor,
    kernel: Tensor,
    critic: RBFCritic,
    steps: int = 1000,
    lr_g: float = 0.05,
    lr_d: float = 0.5,
    penalty: Tensor | float = 0.0,
    weight_decay: float = 0.0,
    d_steps: int = 1,
    record_every: int = 10,
) -> ParticleRun:
    """Alternating critic ascent and kernel-coupled particle steps, batched over ``B`` configs.

    ``x0`` ``[B, N, d]`` (or ``[N, d]``, shared), ``real`` ``[M, d]``, ``kernel`` ``[B, N, N]``
    (or ``[1, N, N]``), ``penalty`` a float or ``[B]`` (one gradient-penalty strength per config).
    The critic starts at ``w = 0``.
    """
    for name, value in (("steps", steps), ("d_steps", d_steps), ("record_every", record_every)):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1: pass {name} >= 1.")
    if lr_g <= 0 or lr_d <= 0:
        raise ValueError(f"learning rates must be positive, got lr_g={lr_g}, lr_d={lr_d}.")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay} must be >= 0.")
    batch = max(kernel.shape[0], x0.shape[0] if x0.dim() == 3 else 1)
    gamma = torch.as_tensor(penalty, dtype=real.dtype).reshape(-1)
    if bool((gamma < 0).any()):
        raise ValueError("penalty strengths must be >= 0 (0 = no gradient penalty).")
    batch = max(batch, gamma.numel())
    sizes = {"kernel": kernel.shape[0], "penalty": gamma.numel()}
    sizes["x0"] = x0.shape[0] if x0.dim() == 3 else 1
    for name, size in sizes.items():
        if size not in (1, batch):
            raise ValueError(
                f"{name} has batch size {size} but the batch is {batch}: give every batched "
                "argument (x0 [B, N, d], kernel [B, N, N], penalty [B]) the same B, or 1."
            )
    x = x0.expand(batch, *x0.shape[-2:]).clone()
    gamma = gamma.expand(batch)[:, None]
    kernel = kernel.expand(batch, -1, -1)
    real_phi, _ = critic.features(real)
    real_mean = real_phi.mean(dim=0)
    curvature = critic.penalty_matrix(real)
    n_feat = critic.centres.shape[0]
    eye = torch.eye(n_feat, dtype=real.dtype)
    # Semi-implicit (proximal) step for the quadratic terms: stable for any gamma * lr_d, and the
    # same ODE as lr_d -> 0. An explicit step would blow up once lr_d * gamma * |curvature| > 2.
    damping = gamma[:, :, None] * curvature + weight_decay * eye
    solve = torch.linalg.inv(eye + lr_d * damping)  # [B, F, F]
    w = torch.zeros(batch, n_feat, dtype=real.dtype)
    snapshots = Snapshots(record_every, steps)
    for t in range(steps + 1):
        snapshots.record(t, x, w)
        if t == steps:
            break
        fake_phi, jac = critic.features(x)  # x is fixed during the critic steps
        drive = real_mean - fake_phi.mean(dim=1)
        for _ in range(d_steps):
            w = torch.einsum("bfg,bg->bf", solve, w + lr_d * drive)
        grad_d = torch.einsum("bnfd,bf->bnd", jac, w)  # [B, N, d]
        x = x + lr_g * kernel @ grad_d
    return ParticleRun(*snapshots.stacked())


def _per_config(value: Tensor | float, batch: int, name: str, dtype: torch.dtype) -> Tensor:
    out = torch.as_tensor(value, dtype=dtype).reshape(-1)
    if out.numel() not in (1, batch):
        raise ValueError(f"{name} has {out.numel()} values for {batch} configs: pass 1 or {batch}.")
    return out.expand(batch).clone()


def simulate_particles_nn(
    x0: Tensor,
    real: Tensor,
    kernel: Tensor,
    critic: ReLUCritic,
    steps: int = 1000,
    lr_g: float = 0.1,
    lr_d: Tensor | float = 0.1,
    penalty: Tensor | float = 0.0,
    loss: str = "logistic",
    optimizer: str = "sgd",
    d_steps: int = 1,
    record_every: int = 10,
) -> ParticleRun:
    """Particles against a trained ReLU network critic (:class:`ReLUCritic`), batched over ``B``.

    Each step: ``d_steps`` critic descent steps on its loss (logistic: the standard GAN
    discriminator; or Wasserstein), each with the R1 penalty ``penalty/2 E_real |grad D|^2``;
    then one particle step ``x_i <- x_i + lr_g sum_j K_ij f(x_j)`` with the generator's force
    ``f = sigmoid(-D) grad D`` (non-saturating loss ``-log sigmoid(D)``) or ``f = grad D``.
    ``x0`` ``[B, N, d]`` (or ``[N, d]``), ``real`` ``[M, d]``, ``kernel`` ``[B or 1, N, N]``,
    ``lr_d`` and ``penalty`` a float or ``[B]``. The critic is updated in place.
    """
    for name, value in (("steps", steps), ("d_steps", d_steps), ("record_every", record_every)):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1: pass {name} >= 1.")
    batch = critic.W.shape[0]
    if lr_g <= 0:
        raise ValueError(f"lr_g={lr_g} must be positive: pass lr_g > 0.")
    rates = _per_config(lr_d, batch, "lr_d", real.dtype)
    gamma = _per_config(penalty, batch, "penalty", real.dtype)
    if bool((rates <= 0).any()) or bool((gamma < 0).any()):
        raise ValueError("need lr_d > 0 and penalty >= 0 for every config.")
    if critic.W.shape[1] != real.shape[-1]:
        raise ValueError(
            f"critic input dim {critic.W.shape[1]} != data dim {real.shape[-1]}: build the "
            "critic with ReLUCritic.init(batch, dim=real.shape[-1], ...)."
        )
    if kernel.shape[0] not in (1, batch) or (x0.dim() == 3 and x0.shape[0] not in (1, batch)):
        raise ValueError(
            f"kernel and x0 must have batch size 1 or the critic's {batch}: build the critic "
            "with ReLUCritic.init(batch=B, ...) for B configurations."
        )
    x = x0.expand(batch, *x0.shape[-2:]).clone()
    real_b = real[None]
    snapshots = Snapshots(record_every, steps)
    for t in range(steps + 1):
        snapshots.record(t, x)
        if t == steps:
            break
        for _ in range(d_steps):
            _, grads = critic.loss_and_grads(real_b, x, gamma, loss)
            critic.step(grads, rates, optimizer)
        value, grad = critic.value_and_input_grad(x)
        force = torch.sigmoid(-value)[..., None] * grad if loss == "logistic" else grad
        x = x + lr_g * kernel @ force
    (xs, recorded) = snapshots.stacked()
    return ParticleRun(xs, None, recorded)


def modes_covered(x: Tensor, modes: Tensor, std: float, n_std: float = 3.0) -> Tensor:
    """Modes captured per config ``[B]`` (VEEGAN/PacGAN rule): a particle within ``n_std`` std
    of its nearest mode is high quality; a mode is captured when some high-quality particle has
    it as nearest mode. ``x`` ``[B, N, d]``, ``modes`` ``[K, d]``.
    """
    dist = torch.cdist(x, modes.to(x.dtype).expand(x.shape[0], -1, -1))  # [B, N, K]
    nearest = dist.min(dim=-1)
    good = nearest.values <= n_std * std
    onehot = torch.nn.functional.one_hot(nearest.indices, modes.shape[0]).bool()
    return (onehot & good[..., None]).any(dim=1).sum(dim=-1)


def wasserstein_1d(x: Tensor, real: Tensor) -> Tensor:
    """W1 between ``N`` particles ``[..., N]`` and a 1-D sample ``[M]``.

    Sorted particles against the sample's quantiles at levels ``(i + 1/2) / N``: in 1-D the
    optimal coupling is monotone, so this is the W1 to the sample's ``N``-point quantisation.
    """
    n = x.shape[-1]
    levels = (torch.arange(n, dtype=real.dtype) + 0.5) / n
    target = torch.quantile(real, levels)
    return (x.sort(dim=-1).values - target).abs().mean(dim=-1)


def time_to_converge(error: Tensor, steps: Tensor, tol: float) -> Tensor:
    """First recorded step after which ``error`` ``[T, B]`` stays ``<= tol``; ``inf`` if never."""
    above = ~(error <= tol)  # NaN (diverged) counts as not converged
    # index of the last recorded step that is above tol, per config
    idx = torch.arange(error.shape[0]).expand_as(above.T).T
    last_above = torch.where(above, idx, -1).amax(dim=0)
    out = torch.full((error.shape[1],), math.inf, dtype=torch.float64)
    ok = last_above < error.shape[0] - 1
    first_ok = (last_above + 1).clamp(max=error.shape[0] - 1)
    out[ok] = steps[first_ok[ok]].to(torch.float64)
    return out
