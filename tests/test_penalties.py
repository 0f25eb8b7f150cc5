"""Discriminator penalties and constraints against closed forms, in a fit, and across resume."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import Callback
from torch import nn

from lightning_gan.callbacks.gradient_penalty import GradientPenalty, R1Penalty, R2Penalty
from lightning_gan.callbacks.spectral_norm import SpectralNorm
from lightning_gan.callbacks.weight_constraints import WeightClipping, WeightPenalty
from lightning_gan.losses import get_loss
from lightning_gan.module import GAN
from tests.helpers import d_step, quiet_trainer, resumable_noise_loader, tiny_gan

# Calling hooks on a GAN outside a Trainer makes `gan.log` warn; that is expected here.
no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log")


class Quadratic(nn.Module):
    """D(x) = ||x||^2 / 2, so grad D(x) = x: the penalty depends on where it is evaluated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).square().sum(1)


def _linear_gan(in_dim: int = 3) -> GAN:
    torch.manual_seed(0)
    return GAN(nn.Linear(2, in_dim), nn.Linear(in_dim, 1), latent_dim=2)


# ----------------------------------------------------------------------------- closed forms
@no_trainer
def test_gradient_penalty_of_linear_discriminator_is_norm_of_w_minus_one_squared() -> None:
    gan = _linear_gan()
    w = gan.discriminator.weight.detach().reshape(-1)
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    out = GradientPenalty(weight=10.0).discriminator_penalty(gan, d_step(gan, real, fake))
    expected = (w.norm() - 1) ** 2
    torch.testing.assert_close(out, 10.0 * expected)
    # The penalty trains D: d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||.
    out.backward()
    torch.testing.assert_close(
        gan.discriminator.weight.grad.reshape(-1), 20 * (w.norm() - 1) * w / w.norm()
    )


def test_gradient_penalty_broadcasts_over_image_shaped_data() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 1))
    w = d[1].weight.detach()
    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    value = GradientPenalty().value(d, real, fake)
    torch.testing.assert_close(value, (w.norm() - 1) ** 2)
    # Same uniform draw per sample, over every data dimension.
    torch.manual_seed(1)
    value = GradientPenalty().value(Quadratic(), real, fake)
    torch.manual_seed(1)
    eps = torch.rand(5, 1, 1, 1)
    x_hat = eps * real + (1 - eps) * fake
    expected = (x_hat.flatten(1).norm(dim=1) - 1).square().mean()
    torch.testing.assert_close(value, expected)


def test_gradient_penalty_is_evaluated_on_uniform_interpolates() -> None:
    # real = 2 e1, fake = -2 e1 and grad D(x) = x: ||x_hat|| = |4 eps - 2| ~ U(0, 2), so
    # E[(||x_hat|| - 1)^2] = Var U(0, 2) = 1/3 (at real or fake points it would be 1).
    torch.manual_seed(0)
    n = 20_000
    e1 = torch.tensor([1.0, 0.0])
    value = GradientPenalty().value(Quadratic(), 2 * e1.expand(n, 2), -2 * e1.expand(n, 2))
    assert abs(value.item() - 1 / 3) < 0.01


def test_gradient_penalty_has_finite_gradient_where_d_is_flat() -> None:
    # A D that is locally constant (dead ReLU) has zero input gradient: the penalty is
    # target^2 and its gradient must be finite (sqrt of a sum of squares gives NaN there).
    d = nn.Sequential(nn.Linear(2, 1), nn.ReLU())
    with torch.no_grad():
        d[0].weight.fill_(1.0)
        d[0].bias.fill_(-100.0)
    value = GradientPenalty().value(d, torch.randn(4, 2), torch.randn(4, 2))
    value.backward()
    assert value.item() == 1.0 and torch.isfinite(d[0].weight.grad).all()


@no_trainer
@pytest.mark.parametrize("cls, on_real", [(R1Penalty, True), (R2Penalty, False)])
def test_r1_r2_closed_forms(cls: type, on_real: bool) -> None:
    gan = _linear_gan()
    w = gan.discriminator.weight.detach()
    real, fake = torch.randn(8, 3), 3 + torch.randn(8, 3)
    torch.testing.assert_close(
        cls(gamma=4.0).discriminator_penalty(gan, d_step(gan, real, fake)), 2.0 * w.square().sum()
    )
    # Quadratic D: grad D(x) = x, so the penalty is gamma/2 E||x||^2 on real (R1) or fake (R2).
    x = real if on_real else fake
    gan.discriminator = Quadratic()
    out = cls(gamma=4.0).discriminator_penalty(gan, d_step(gan, real, fake))
    torch.testing.assert_close(out, 2.0 * x.square().sum(1).mean())


@no_trainer
def test_r1_gradient_reaches_discriminator_weights() -> None:
    gan = _linear_gan()
    w = gan.discriminator.weight.detach().clone()
    R1Penalty(gamma=10.0).discriminator_penalty(
        gan, d_step(gan, torch.randn(4, 3), torch.randn(4, 3))
    ).backward()
    torch.testing.assert_close(gan.discriminator.weight.grad, 10.0 * w)  # d/dw 5 ||w||^2


@no_trainer
def test_lazy_r1_runs_every_interval_steps_scaled_by_interval() -> None:
    gan = _linear_gan()
    w = gan.discriminator.weight.detach()
    penalty = R1Penalty(gamma=2.0, interval=4)
    real = torch.randn(4, 3)
    outs = []
    for step in range(9):
        gan.d_steps = step
        outs.append(penalty.discriminator_penalty(gan, d_step(gan, real, real)))
    assert [o is not None for o in outs] == [True, False, False, False] * 2 + [True]
    torch.testing.assert_close(outs[4], 4 * w.square().sum())


def test_weight_penalty_counts_weights_and_optionally_biases() -> None:
    d = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    weights = sum(m.weight.square().sum() for m in (d[0], d[2]))
    biases = sum(m.bias.square().sum() for m in (d[0], d[2]))
    torch.testing.assert_close(WeightPenalty().value(d), weights)
    torch.testing.assert_close(WeightPenalty(include_biases=True).value(d), weights + biases)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GradientPenalty(weight=-1.0), "weight must be >= 0"),
        (lambda: GradientPenalty(target=-1.0), "target must be >= 0"),
        (lambda: R1Penalty(gamma=-0.1), "gamma must be >= 0"),
        (lambda: R2Penalty(interval=0), "interval must be an integer >= 1"),
        (lambda: R1Penalty(interval=1.5), "interval must be an integer >= 1"),
        (lambda: WeightPenalty(weight=-1e-4), "weight must be >= 0"),
        (lambda: WeightClipping(clip=0.0), "clip must be > 0"),
        (lambda: SpectralNorm(n_power_iterations=0), "n_power_iterations must be an integer"),
    ],
)
def test_bad_parameters_raise(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


# ------------------------------------------------------------------------------ in a fit
def test_penalties_are_logged_and_clipping_bounds_parameters() -> None:
    torch.manual_seed(0)
    gan = tiny_gan()
    callbacks = [GradientPenalty(), R1Penalty(interval=2), WeightPenalty(), WeightClipping(0.05)]
    trainer = quiet_trainer(max_steps=20, callbacks=callbacks)
    trainer.fit(gan, resumable_noise_loader())
    metrics = trainer.callback_metrics
    for name in ("penalty/gp", "penalty/r1", "penalty/weight"):
        assert torch.isfinite(metrics[name]) and metrics[name] >= 0, name
    params = torch.cat([p.detach().reshape(-1) for p in gan.discriminator.parameters()])
    assert params.abs().max() <= 0.05
    assert (params.abs() == 0.05).float().mean() > 0.1  # the clamp was active


def test_adam_correction_is_opt_in_and_applied_once_across_resume(tmp_path: Path) -> None:
    ckpt = tmp_path / "r1.ckpt"
    gan = _fit([R1Penalty(interval=4, adam_correction=True)], epochs=1, save_to=ckpt)
    opt_g, opt_d = gan.trainer.optimizers
    assert opt_d.param_groups[0]["lr"] == pytest.approx(gan.lr_d * 0.8)
    assert opt_d.param_groups[0]["betas"] == pytest.approx((0.5**0.8, 0.999**0.8))
    assert opt_g.param_groups[0]["lr"] == gan.lr_g
    resumed = _fit([R1Penalty(interval=4, adam_correction=True)], epochs=2, ckpt_path=ckpt)
    assert resumed.trainer.optimizers[1].param_groups[0]["lr"] == pytest.approx(gan.lr_d * 0.8)
    plain = _fit([R1Penalty(interval=4)], epochs=1)
    assert plain.trainer.optimizers[1].param_groups[0]["lr"] == plain.lr_d


# -------------------------------------------------------------------------- spectral norm
def test_spectral_norm_gives_unit_top_singular_value() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 8),
        nn.Linear(8, 1),
    )
    with torch.no_grad():
        for m in d.modules():
            if hasattr(m, "weight"):
                m.weight.mul_(5.0)  # far from 1 before normalisation
    wrapped = SpectralNorm.apply(d)
    assert len(wrapped) == 3 and SpectralNorm.apply(d) == []  # idempotent
    for _ in range(20):
        d(torch.randn(2, 1, 6, 6))  # one power iteration per training-mode forward
    for layer in wrapped:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=1e-3)


def test_spectral_norm_parameters_are_the_optimized_ones_and_resume_is_exact(
    tmp_path: Path,
) -> None:
    ckpt = tmp_path / "sn.ckpt"
    gan = _fit([SpectralNorm()], epochs=1, save_to=ckpt)
    d_params = {id(p) for p in gan.discriminator.parameters()}
    originals = {
        id(m.parametrizations.weight.original)
        for m in gan.discriminator.modules()
        if isinstance(m, nn.Linear)
    }
    opt_d_params = {id(p) for g in gan.trainer.optimizers[1].param_groups for p in g["params"]}
    assert len(originals) == 3 and originals <= opt_d_params and opt_d_params == d_params
    keys = torch.load(ckpt, weights_only=True)["state_dict"].keys()
    assert sum(k.endswith("parametrizations.weight.original") for k in keys) == 3
    assert sum(k.endswith("parametrizations.weight.0._u") for k in keys) == 3

    resumed = _fit([SpectralNorm()], epochs=2, ckpt_path=ckpt)
    uninterrupted = _fit([SpectralNorm()], epochs=2)
    assert resumed.d_steps == uninterrupted.d_steps == 20
    for (name, a), b in zip(
        resumed.state_dict().items(), uninterrupted.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


# ---------------------------------------------------------------------------- Dirac-GAN
def _dirac_convergence_rate(gamma: float, lr: float = 0.05, steps: int = 400) -> float:
    """Alternating SGD on the Dirac-GAN (Mescheder et al. 2018) with R1, as the GAN step does.

    Data at 0, G = a point mass at theta, D(x) = psi x, non-saturating loss. Returns the
    measured exponential rate of ||(theta, psi)|| per unit time (lr * steps) over the second
    half of the run, where the dynamics are linear.
    """
    loss = get_loss("non_saturating")
    theta = nn.Parameter(torch.full((1,), 0.1, dtype=torch.float64))
    d = nn.Linear(1, 1, bias=False).double()
    nn.init.constant_(d.weight, 0.1)
    opt_g, opt_d = torch.optim.SGD([theta], lr=lr), torch.optim.SGD(d.parameters(), lr=lr)
    gan = SimpleNamespace(
        discriminator=d,
        d_steps=0,
        log=lambda *args, **kwargs: None,
        log_due=lambda *a: False,
    )
    penalty, real = R1Penalty(gamma=gamma), torch.zeros(1, 1, dtype=torch.float64)
    distances = []
    for _ in range(steps):
        fake = theta.detach().expand(1, 1)
        loss_d = loss.d(d(real).reshape(-1), d(fake).reshape(-1))
        loss_d = loss_d + penalty.discriminator_penalty(gan, d_step(gan, real, fake))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = loss.g(d(theta.expand(1, 1)).reshape(-1))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        distances.append(math.hypot(theta.item(), d.weight.item()))
    half = steps // 2
    return math.log(distances[-1] / distances[half - 1]) / (lr * (steps - half))


@pytest.mark.parametrize("gamma", [0.5, 2.0, 4.0])
def test_dirac_gan_r1_convergence_rate_matches_eigenvalues(gamma: float) -> None:
    # Jacobian at equilibrium [[0, -f'(0)], [f'(0), -gamma]], f'(0) = 1/2 for the
    # non-saturating loss: eigenvalues -gamma/2 +- sqrt(gamma^2/4 - f'(0)^2), critical damping
    # at gamma = 2 f'(0) = 1; below it the rate is -gamma/2, above it the slow real root.
    root = complex(gamma**2 / 4 - 0.25) ** 0.5
    expected = (-gamma / 2 + root).real
    assert _dirac_convergence_rate(gamma) == pytest.approx(expected, rel=0.1)


# ------------------------------------------------------------------------------- helpers
def _fit(
    callbacks: list[Callback],
    epochs: int,
    ckpt_path: Path | None = None,
    save_to: Path | None = None,
) -> GAN:
    torch.manual_seed(0)
    gan = tiny_gan()
    trainer = quiet_trainer(max_steps=-1, max_epochs=epochs, callbacks=list(callbacks))
    trainer.fit(gan, resumable_noise_loader(), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return gan
