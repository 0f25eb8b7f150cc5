"""The Dirac-GAN (Mescheder, Geiger, Nowozin 2018): the smallest GAN that shows damping.

Real data is a point mass at 0, the generator a point mass at ``theta``, the discriminator
``D(x) = psi x``. With ``L = f(psi theta) + f(0) - gamma/2 psi^2`` (``gamma``: the R1 gradient
penalty ``gamma/2 |grad_x D|^2`` on real data), the generator descends and the discriminator
ascends ``L``:

    d theta / dt = -psi f'(psi theta),     d psi / dt = theta f'(psi theta) - gamma psi.

At the equilibrium ``(0, 0)`` the Jacobian ``[[0, -f'(0)], [f'(0), -gamma]]`` has eigenvalues
``-gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)``: undamped rotation at ``gamma = 0``, under-damped
spirals below ``gamma = 2 f'(0)``, over-damped (one slow eigenvalue ``~ -f'(0)^2/gamma``) above.
The decay rate ``-max Re(lambda)`` peaks at critical damping ``gamma = 2 f'(0)``. This is the
reference curve for the particle model's penalty sweep (``particle_model.py``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

F_PRIME_0 = {"standard": 0.5, "wasserstein": 1.0}
"""``f'(0)`` per loss: ``f(t) = -log(1 + exp(-t))`` (standard GAN) or ``f(t) = t`` (WGAN)."""


def dirac_eigenvalues(gamma: Tensor | float, f_prime0: float = 0.5) -> Tensor:
    """Both eigenvalues ``-gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)``, complex, shape ``[..., 2]``."""
    gamma = torch.as_tensor(gamma, dtype=torch.float64).to(torch.complex128)
    root = torch.sqrt(gamma**2 / 4 - f_prime0**2)
    return torch.stack([-gamma / 2 + root, -gamma / 2 - root], dim=-1)


def dirac_convergence_rate(gamma: Tensor | float, f_prime0: float = 0.5) -> Tensor:
    """``-max Re(lambda)``: the asymptotic exponential decay rate of ``|(theta, psi)|``."""
    return -dirac_eigenvalues(gamma, f_prime0).real.amax(dim=-1)


def critical_penalty(f_prime0: float = 0.5) -> float:
    """``gamma = 2 f'(0)``: the two eigenvalues coincide and the decay rate is largest."""
    return 2.0 * f_prime0


def _f_prime(t: Tensor, loss: str) -> Tensor:
    return torch.sigmoid(-t) if loss == "standard" else torch.ones_like(t)


def simulate_dirac_gan(
    gamma: Tensor,
    loss: str = "standard",
    theta0: float = 1.0,
    psi0: float = 0.0,
    dt: float = 0.01,
    steps: int = 5000,
) -> Tensor:
    """Integrate the (nonlinear) Dirac-GAN flow with RK4 for each ``gamma`` ``[G]``.

    Returns ``[steps + 1, G, 2]`` states ``(theta, psi)`` at times ``k dt``. RK4 with a small
    ``dt`` follows the continuous-time flow whose linearisation the eigenvalues describe.
    """
    if loss not in F_PRIME_0:
        raise ValueError(f"loss={loss!r} is unknown: use one of {sorted(F_PRIME_0)}.")
    if dt <= 0 or steps < 1:
        raise ValueError(f"need dt > 0 and steps >= 1, got dt={dt}, steps={steps}.")
    gamma = torch.as_tensor(gamma, dtype=torch.float64).reshape(-1)

    def field(state: Tensor) -> Tensor:
        theta, psi = state[:, 0], state[:, 1]
        slope = _f_prime(psi * theta, loss)
        return torch.stack([-psi * slope, theta * slope - gamma * psi], dim=-1)

    state = torch.tensor([theta0, psi0], dtype=torch.float64).expand(len(gamma), 2).clone()
    out = [state]
    for _ in range(steps):
        k1 = field(state)
        k2 = field(state + 0.5 * dt * k1)
        k3 = field(state + 0.5 * dt * k2)
        k4 = field(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(state)
    return torch.stack(out)


def predicted_convergence_time(
    gamma: Tensor | float, f_prime0: float = 0.5, tol: float = 1e-2, start: float = 1.0
) -> Tensor:
    """``log(start / tol) / rate(gamma)``: time for the slowest mode to shrink by ``start/tol``."""
    return math.log(start / tol) / dirac_convergence_rate(gamma, f_prime0)
