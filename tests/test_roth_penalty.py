"""RothPenalty (Roth et al. 2017): the formula by hand, the authors' annealing, lazy steps,
conditional D, a fit and its exact resume, and argument checks."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import Tensor, nn

from lightning_gan.callbacks.gradient_penalty import input_gradients
from lightning_gan.callbacks.roth_penalty import RothPenalty, scores_and_input_gradients
from lightning_gan.module import GAN
from lightning_gan.nets import MLPDiscriminator, MLPGenerator
from lightning_gan.step.records import DStep
from tests.helpers import d_step, flat_params, quiet_trainer, ring_data, tiny_gan

# Calling hooks on a GAN outside a Trainer makes `gan.log` warn; that is expected here.
no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log")


def _hand_omega(d: nn.Module, real: Tensor, fake: Tensor, yr=None, yf=None) -> Tensor:
    """The authors' regulariser one sample at a time, each gradient its own autograd call:
    mean_i (1 - s(psi(r_i)))^2 ||grad psi(r_i)||^2 + mean_j s(psi(f_j))^2 ||grad psi(f_j)||^2."""

    def side(x: Tensor, labels: Tensor | None, real_side: bool) -> Tensor:
        terms = []
        for i in range(x.shape[0]):
            xi = x[i : i + 1].detach().clone().requires_grad_(True)
            out = d(xi) if labels is None else d(xi, labels[i : i + 1])
            logit = out.reshape(())
            (grad,) = torch.autograd.grad(logit, xi, create_graph=True)
            weight = (1 - torch.sigmoid(logit)) if real_side else torch.sigmoid(logit)
            terms.append(weight.square() * grad.square().sum())
        return torch.stack(terms).mean()

    return side(real, yr, True) + side(fake, yf, False)


def _mlp_d(**kwargs) -> MLPDiscriminator:
    torch.manual_seed(0)
    return MLPDiscriminator(in_dim=2, hidden=8, depth=2, **kwargs)


def _gan(d: nn.Module, num_classes: int | None = None) -> GAN:
    g = MLPGenerator(latent_dim=2, out_dim=2, hidden=8, depth=1, num_classes=num_classes)
    return GAN(g, d, latent_dim=2, num_classes=num_classes)


# ------------------------------------------------------------------------- (a) the formula
@no_trainer
def test_value_and_its_gradient_are_the_formula_by_hand() -> None:
    gan = _gan(_mlp_d())
    real, fake = torch.randn(6, 2), 2 + torch.randn(6, 2)
    penalty = RothPenalty(gamma=2.0)
    value = penalty.value(gan.discriminator, real, fake)
    expected = _hand_omega(gan.discriminator, real, fake)
    torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
    out = penalty.discriminator_penalty(gan, d_step(gan, real, fake))
    torch.testing.assert_close(out, 1.0 * expected, rtol=0, atol=1e-6)  # gamma / 2 = 1
    # D trains through the gradient norms *and* the sigmoid weights (not stop-gradiented in
    # the authors' code): the parameter gradients match the hand formula's.
    params = list(gan.discriminator.parameters())
    got = torch.autograd.grad(value, params)
    want = torch.autograd.grad(_hand_omega(gan.discriminator, real, fake), params)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_linear_discriminator_closed_form() -> None:
    # psi(x) = w.x + b: grad psi = w, so Omega = ||w||^2 (E(1 - s(psi_r))^2 + E s(psi_f)^2).
    torch.manual_seed(0)
    d = nn.Linear(3, 1)
    w, b = d.weight.detach().reshape(-1), d.bias.detach()
    real, fake = torch.randn(5, 3), torch.randn(7, 3)  # unequal sizes: each side its own mean
    expected = w.square().sum() * (
        (1 - torch.sigmoid(real @ w + b)).square().mean()
        + torch.sigmoid(fake @ w + b).square().mean()
    )
    torch.testing.assert_close(RothPenalty().value(d, real, fake), expected)


def test_scores_and_gradients_come_from_one_float32_pass() -> None:
    d = _mlp_d()
    x = torch.randn(4, 2)
    scores, grad = scores_and_input_gradients(d, x)
    torch.testing.assert_close(scores, d(x))
    torch.testing.assert_close(grad, input_gradients(d, x))
    scores, grad = scores_and_input_gradients(d, x.bfloat16())  # as under bf16 autocast
    assert scores.dtype == grad.dtype == torch.float32


# ----------------------------------------------------------------------- (b) the annealing
def test_annealed_gamma_is_the_authors_schedule() -> None:
    # igul222_GANs/gan_64x64.py: gamma = FLAGS.gamma*FLAGS.decay_factor**(iteration/(ITERS-1)),
    # iteration = 0 .. ITERS-1; here t = gan.d_steps and anneal = ITERS - 1.
    iters, gamma, decay = 100, 2.0, 0.01
    penalty = RothPenalty(gamma=gamma, anneal=iters - 1, decay_factor=decay)
    for iteration in range(iters):
        assert penalty.gamma_at(iteration) == pytest.approx(
            gamma * decay ** (iteration / (iters - 1)), rel=1e-12
        )
    assert penalty.gamma_at(0) == gamma
    assert penalty.gamma_at(iters - 1) == pytest.approx(gamma * decay)
    assert penalty.gamma_at(10 * iters) == pytest.approx(gamma * decay)  # held past the horizon
    assert RothPenalty(gamma=0.1).gamma_at(10**6) == 0.1  # no annealing: constant
    assert RothPenalty(gamma=2.0, anneal=10, decay_factor=1.0).gamma_at(5) == 2.0


@no_trainer
def test_the_penalty_uses_the_weight_of_the_current_d_step() -> None:
    gan = _gan(_mlp_d())
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    penalty = RothPenalty(gamma=3.0, anneal=8, decay_factor=0.1)
    value = penalty.value(gan.discriminator, real, fake).detach()
    for step in (0, 4, 8, 20):
        gan.d_steps = step
        out = penalty.discriminator_penalty(gan, d_step(gan, real, fake))
        expected = 3.0 * 0.1 ** (min(step, 8) / 8) / 2 * value
        torch.testing.assert_close(out.detach(), expected)


# ------------------------------------------------------------------------ (c) lazy interval
@no_trainer
def test_lazy_penalty_runs_every_interval_steps_scaled_by_interval() -> None:
    gan = _gan(_mlp_d())
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    penalty = RothPenalty(gamma=2.0, anneal=10, interval=3)
    value = penalty.value(gan.discriminator, real, fake).detach()
    outs = []
    for step in range(7):
        gan.d_steps = step
        outs.append(penalty.discriminator_penalty(gan, d_step(gan, real, fake)))
    assert [o is not None for o in outs] == [True, False, False, True, False, False, True]
    torch.testing.assert_close(outs[3].detach(), 3 * penalty.gamma_at(3) / 2 * value)
    torch.testing.assert_close(outs[6].detach(), 3 * penalty.gamma_at(6) / 2 * value)


# ----------------------------------------------------------------------- (d) conditional D
@no_trainer
def test_conditional_d_is_scored_with_each_sides_labels() -> None:
    d = _mlp_d(num_classes=3)
    gan = _gan(d, num_classes=3)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    yr, yf = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 2, 1, 1, 0, 0])
    record = DStep(gan.d_record, real, yr, fake, real, yr, fake, yf, d(real, yr), d(fake, yf))
    out = RothPenalty(gamma=2.0).discriminator_penalty(gan, record)
    torch.testing.assert_close(out, _hand_omega(d, real, fake, yr, yf), rtol=0, atol=1e-6)
    # The labels matter: the same data scored with the real side's labels on both sides differs.
    same = RothPenalty(gamma=2.0).value(d, real, fake, yr, yr)
    assert not torch.allclose(out, same)


def test_conditional_gan_fits_with_the_penalty() -> None:
    L.seed_everything(0, verbose=False)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=16, depth=2, num_classes=8),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2, num_classes=8),
        num_classes=8,
    )
    trainer = quiet_trainer(max_steps=10, callbacks=[RothPenalty(anneal=4)])
    trainer.fit(gan, ring_data(n_samples=160, batch_size=32))
    metrics = trainer.callback_metrics
    assert gan.d_steps == 5 and torch.isfinite(metrics["penalty/roth"])
    # The last D step (t = 4 = anneal) logged the end of the schedule, 2.0 * 0.01.
    assert metrics["penalty/roth_gamma"].item() == pytest.approx(2.0 * 0.01)
    assert torch.isfinite(flat_params(gan)).all()


# ------------------------------------------------------------------ (e) a fit and its resume
def _fit(max_steps: int, ckpt_path: Path | None = None, save_to: Path | None = None) -> GAN:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan(hidden=16)
    penalty = RothPenalty(gamma=2.0, anneal=20, decay_factor=0.01, interval=2)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=[penalty])
    trainer.fit(gan, ring_data(n_samples=160, batch_size=32), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return gan


def test_fit_is_finite_and_resume_continues_exactly(tmp_path: Path) -> None:
    full = _fit(max_steps=60)  # 30 D steps: past the horizon of 20
    assert full.d_steps == 30
    metrics = full.trainer.callback_metrics
    assert torch.isfinite(metrics["penalty/roth"]) and metrics["penalty/roth"] >= 0
    assert 2.0 * 0.01 <= metrics["penalty/roth_gamma"].item() <= 2.0
    assert torch.isfinite(flat_params(full)).all()
    _fit(max_steps=26, save_to=tmp_path / "half.ckpt")  # 13 D steps: mid-epoch, odd phase
    resumed = _fit(max_steps=60, ckpt_path=tmp_path / "half.ckpt")
    assert resumed.d_steps == 30
    assert torch.equal(flat_params(resumed), flat_params(full))


def test_the_penalty_changes_training() -> None:
    # A formula test does not show the term reaches D's update: the same fit without it differs.
    L.seed_everything(0, verbose=False)
    free = tiny_gan(hidden=16)
    quiet_trainer(max_steps=6).fit(free, ring_data(n_samples=160, batch_size=32))
    held = _fit(max_steps=6)
    assert not torch.equal(flat_params(free.discriminator), flat_params(held.discriminator))


def test_warns_for_losses_whose_scores_are_not_logits() -> None:
    with pytest.warns(UserWarning, match="loss='non_saturating'"):
        RothPenalty().on_fit_start(None, tiny_gan(loss="hinge"))


# --------------------------------------------------------------------------- (f) arguments
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gamma": -1.0}, "gamma must be a finite number >= 0"),
        ({"gamma": float("nan")}, "gamma must be a finite number >= 0"),
        ({"anneal": 0}, "anneal must be an integer >= 1.*None keeps gamma constant"),
        ({"anneal": 2.5}, "anneal must be an integer >= 1"),
        ({"anneal": True}, "anneal must be an integer >= 1"),
        ({"decay_factor": 0.0}, r"decay_factor must lie in \(0, 1\].*0.01"),
        ({"decay_factor": 1.5}, r"decay_factor must lie in \(0, 1\]"),
        ({"interval": 0}, "interval must be an integer >= 1"),
        ({"interval": 1.5}, "interval must be an integer >= 1"),
    ],
)
def test_bad_arguments_raise_with_the_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RothPenalty(**kwargs)
