"""The particle model linearised at equilibrium: a critical penalty predicted, not fitted.

Near the equilibrium (particles ``x*`` on the data, critic ``w = 0``) the alternating updates of
:func:`~lightning_gan.dynamics.particle_model.simulate_particles` with the linear critic
``D(x) = w . phi(x)`` are, to first order in ``(dx, w)``,

    w'  = S (w - lr_d A dx),                  S = (I + lr_d (gamma C + lambda I))^-1,
    dx' = dx + lr_g (K x I_d) J^T w',         A = (1/N) [J_1 ... J_N],

with ``J_i = d phi / dx`` at ``x*_i`` and ``C = E_real[J J^T]`` the R1 curvature. That is one
matrix (:func:`linearised_map`); iterating it from the initial displacement predicts the whole
convergence curve, and its best ``gamma`` the critical penalty (:func:`predicted_time`).

Reduced to the one mode that carries a translation of all particles (``dx_i = delta``,
``w`` along ``m = E_fake[J]``), the continuous-time dynamics are a damped oscillator,
``delta'' + lr_d gamma c delta' + lr_g lr_d |m|^2 delta = 0`` with ``c = m^T C m / |m|^2``: the
Dirac-GAN of Mescheder et al. with ``f'(0)`` replaced by ``|m|``, critically damped at
``gamma = 2 sqrt(lr_g / lr_d) |m| / c`` (:func:`translation_mode_critical_penalty`). ``|m|``
and ``c`` depend on the critic's bandwidth, which is how the critical penalty moves with it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lightning_gan.dynamics.particle_model import RBFCritic, wasserstein_1d


def linearised_map(
    x_eq: Tensor,
    real: Tensor,
    kernel: Tensor,
    critic: RBFCritic,
    lr_g: float,
    lr_d: float,
    penalty: float,
    weight_decay: float = 0.0,
) -> Tensor:
    """The one-step map of ``(dx [N*d], w [F])`` at ``(x_eq [N, d], 0)``, ``[N*d+F, N*d+F]``.

    ``kernel`` is ``[N, N]``; one critic step per particle step (``d_steps = 1``), as in
    :func:`~lightning_gan.dynamics.particle_model.simulate_particles`.
    """
    n, d = x_eq.shape
    if kernel.shape[-2:] != (n, n):
        raise ValueError(f"kernel must be [N, N] = [{n}, {n}], got {tuple(kernel.shape)}.")
    if lr_g <= 0 or lr_d <= 0 or penalty < 0 or weight_decay < 0:
        raise ValueError("need lr_g, lr_d > 0 and penalty, weight_decay >= 0.")
    kernel = kernel.reshape(n, n).to(real.dtype)
    _, jac = critic.features(x_eq)  # [N, F, d]
    f = jac.shape[1]
    a = jac.permute(1, 0, 2).reshape(f, n * d) / n  # [F, N*d]
    jt = jac.permute(0, 2, 1).reshape(n * d, f)  # [N*d, F]
    kron = torch.kron(kernel, torch.eye(d, dtype=real.dtype))
    eye_f = torch.eye(f, dtype=real.dtype)
    damping = penalty * critic.penalty_matrix(real) + weight_decay * eye_f
    s = torch.linalg.inv(eye_f + lr_d * damping)
    top = torch.cat(
        [
            torch.eye(n * d, dtype=real.dtype) - lr_g * lr_d * kron @ jt @ s @ a,
            lr_g * kron @ jt @ s,
        ],
        dim=1,
    )
    bottom = torch.cat([-lr_d * s @ a, s], dim=1)
    return torch.cat([top, bottom], dim=0)


def predicted_time(
    step_map: Tensor, x_eq: Tensor, x0: Tensor, real: Tensor, tol: float, steps: int
) -> float:
    """Steps until the W1 of the *linearised* trajectory from ``x0`` stays ``<= tol``.

    1-D particles only (W1 as :func:`~lightning_gan.dynamics.particle_model.wasserstein_1d`);
    ``inf`` if not within ``steps``.
    """
    if x_eq.shape[-1] != 1:
        raise ValueError("predicted_time measures W1 of 1-D particles: pass x_eq of shape [N, 1].")
    n = x_eq.shape[0]
    state = torch.cat([(x0 - x_eq).reshape(-1), torch.zeros(step_map.shape[0] - n)])
    states = [state]
    for _ in range(steps):
        state = step_map @ state
        states.append(state)
    dx = torch.stack(states)[:, :n]
    w1 = wasserstein_1d(x_eq[:, 0] + dx, real[:, 0])
    above = (~(w1 <= tol)).nonzero()
    if len(above) == 0:
        return 0.0
    last = int(above[-1])
    return math.inf if last == steps else float(last + 1)


def translation_mode_critical_penalty(
    x_eq: Tensor, real: Tensor, critic: RBFCritic, lr_g: float, lr_d: float
) -> tuple[float, float, float]:
    """``(gamma_c, |m|, c)`` for the translation mode (module docstring): ``m = E_fake[J]``,
    ``c = m^T C m / |m|^2``, ``gamma_c = 2 sqrt(lr_g / lr_d) |m| / c``."""
    _, jac = critic.features(x_eq)  # [N, F, d]
    m = jac.mean(dim=0).reshape(-1)  # [F * d] for d = 1
    if x_eq.shape[-1] != 1:
        raise ValueError("the translation-mode reduction is written for 1-D particles ([N, 1]).")
    norm = float(m.norm())
    if norm == 0.0:
        raise ValueError("the critic's features are flat at the particles: widen the grid.")
    unit = m / norm
    c = float(unit @ critic.penalty_matrix(real) @ unit)
    return 2.0 * math.sqrt(lr_g / lr_d) * norm / c, norm, c
