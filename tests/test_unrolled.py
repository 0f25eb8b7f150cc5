"""UnrolledDiscriminator: exact gradients through the unrolling, and the real D left untouched."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gan.callbacks.unrolled import UnrolledDiscriminator
from lightning_gan.hooks import GANCallback
from lightning_gan.module import GAN
from lightning_gan.nets import MLPDiscriminator
from tests.helpers import g_step, quiet_trainer, ring_data, tiny_gan

LR = 0.3  # large, so the unrolled D moves far enough for k=1 and k=2 to differ clearly


def _tiny_float64_gan() -> GAN:
    """Linear G (2-D latent to 2-D) and a 1-hidden-layer D (2 -> 4 -> 1, LeakyReLU 0.2)."""
    torch.manual_seed(0)
    gan = GAN(nn.Linear(2, 2), MLPDiscriminator(in_dim=2, hidden=4, depth=1), latent_dim=2)
    return gan.double()


def _batch() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(16, 2, generator=gen, dtype=torch.float64) + 1.0
    z = torch.randn(16, 2, generator=gen, dtype=torch.float64)
    return real, z


def _freeze(module: nn.Module) -> None:
    """What GAN does to D during the generator phase."""
    for p in module.parameters():
        p.requires_grad_(False)


def _hook_grads(gan: GAN, callback: UnrolledDiscriminator, real: Tensor, z: Tensor) -> list[Tensor]:
    """G's gradient of the generator loss under the callback's critic (as the module computes)."""
    fake = gan.generator(z)
    critic = callback.generator_critic(gan, g_step(gan, real, fake)) or gan.discriminator
    loss = gan.loss_fn.g(critic(fake).reshape(-1))
    return list(torch.autograd.grad(loss, list(gan.generator.parameters())))


def _d_by_hand(theta: list[Tensor], x: Tensor) -> Tensor:
    w1, b1, w2, b2 = theta
    return (F.leaky_relu(x @ w1.T + b1, 0.2) @ w2.T + b2).squeeze(-1)


def _reference_grads(gan: GAN, real: Tensor, z: Tensor, k: int, lr: float) -> list[Tensor]:
    """Metz et al. unrolling written out on explicit tensors with SGD and create_graph=True."""
    theta = [p.detach().clone().requires_grad_() for p in gan.discriminator.parameters()]
    fake = gan.generator(z)
    for _ in range(k):
        loss_d = (
            F.softplus(-_d_by_hand(theta, real)).mean() + F.softplus(_d_by_hand(theta, fake)).mean()
        )
        grads = torch.autograd.grad(loss_d, theta, create_graph=True)
        theta = [t - lr * g for t, g in zip(theta, grads, strict=True)]
    loss_g = F.softplus(-_d_by_hand(theta, fake)).mean()
    return list(torch.autograd.grad(loss_g, list(gan.generator.parameters())))


@pytest.mark.parametrize(
    "kwargs", [dict(steps=-1), dict(steps=1.5), dict(steps=True), dict(lr=0.0), dict(lr=-1e-3)]
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError, match="steps|lr"):
        UnrolledDiscriminator(**kwargs)


def test_zero_steps_is_exactly_the_plain_generator_gradient():
    class GradRecorder(GANCallback):
        def __init__(self) -> None:
            self.grads: list[Tensor] = []

        def on_generator_step_end(self, gan, output) -> None:
            self.grads = [p.grad.clone() for p in gan.generator.parameters()]

    def g_grads(*extra: GANCallback) -> list[Tensor]:
        L.seed_everything(3, verbose=False)
        recorder = GradRecorder()
        trainer = quiet_trainer(max_steps=2, callbacks=[recorder, *extra])  # 1 D + 1 G step
        trainer.fit(tiny_gan(hidden=8), ring_data(n_samples=64, batch_size=32))
        return recorder.grads

    plain, zero, one = (
        g_grads(),
        g_grads(UnrolledDiscriminator(0)),
        g_grads(UnrolledDiscriminator(1, lr=0.5)),
    )
    assert len(plain) == 6 and all(torch.equal(a, b) for a, b in zip(plain, zero, strict=True))
    assert any(g.abs().sum() > 0 for g in plain)
    assert not all(torch.allclose(a, b) for a, b in zip(plain, one, strict=True))


@pytest.mark.parametrize("k", [1, 2])
def test_generator_gradient_matches_hand_written_unrolling(k):
    gan = _tiny_float64_gan()
    real, z = _batch()
    _freeze(gan.discriminator)
    got = _hook_grads(gan, UnrolledDiscriminator(k, lr=LR), real, z)
    want = _reference_grads(gan, real, z, k, LR)
    plain = _reference_grads(gan, real, z, 0, LR)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    # the unrolling matters: the k-step gradient is far from the plain one
    diff = sum((g - p).abs().sum() for g, p in zip(got, plain, strict=True))
    assert diff > 1e-3


def test_generator_gradient_matches_finite_differences():
    """The total derivative, second-order term included, against central differences."""
    gan = _tiny_float64_gan()
    real, z = _batch()
    _freeze(gan.discriminator)
    callback = UnrolledDiscriminator(2, lr=LR)
    got = torch.cat([g.reshape(-1) for g in _hook_grads(gan, callback, real, z)])

    def loss_at(flat: Tensor) -> float:
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(flat, gan.generator.parameters())
        fake = gan.generator(z)
        critic = callback.generator_critic(gan, g_step(gan, real, fake))
        return float(gan.loss_fn.g(critic(fake).reshape(-1)).detach())

    theta = torch.nn.utils.parameters_to_vector(gan.generator.parameters()).detach()
    eps = 1e-6
    numeric = torch.stack(
        [
            torch.tensor((loss_at(theta + eps * e) - loss_at(theta - eps * e)) / (2 * eps))
            for e in torch.eye(theta.numel(), dtype=torch.float64)
        ]
    ).double()
    loss_at(theta)  # restore
    torch.testing.assert_close(got, numeric, rtol=1e-6, atol=1e-8)


def test_first_order_skips_the_second_order_term():
    gan = _tiny_float64_gan()
    real, z = _batch()
    _freeze(gan.discriminator)
    full = UnrolledDiscriminator(2, lr=LR, higher_order=True)
    first = UnrolledDiscriminator(2, lr=LR, higher_order=False)
    got_full = _hook_grads(gan, full, real, z)
    got_first = _hook_grads(gan, first, real, z)

    # reference: the generator loss under the unrolled D, its parameters treated as constants
    params, buffers = full.unroll(gan, g_step(gan, real, gan.generator(z)))
    detached = {n: p.detach() for n, p in params.items()}
    fake = gan.generator(z)
    scores = torch.func.functional_call(gan.discriminator, (detached, buffers), (fake,))
    want = torch.autograd.grad(gan.loss_fn.g(scores), list(gan.generator.parameters()))
    for g, w in zip(got_first, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    diff = sum((a - b).abs().sum() for a, b in zip(got_full, got_first, strict=True))
    assert diff > 1e-4
    first_params, _ = first.unroll(gan, g_step(gan, real, gan.generator(z)))
    assert all(not p.requires_grad for p in first_params.values())


def _bn_gan() -> GAN:
    """A GAN whose D has batch norm (buffers) and whose optimizer state exists after a short fit."""
    torch.manual_seed(0)
    disc = nn.Sequential(
        nn.Linear(2, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Flatten(0)
    )
    gan = tiny_gan(hidden=8)
    gan.discriminator = disc
    quiet_trainer(max_steps=6).fit(gan, ring_data(n_samples=96, batch_size=32))
    return gan


def test_real_discriminator_and_optimizer_state_are_unchanged():
    gan = _bn_gan()
    opt_d = gan.optimizers()[1].optimizer
    d_before = copy.deepcopy(gan.discriminator.state_dict())
    opt_before = copy.deepcopy(opt_d.state_dict())
    grads_before = [p.grad.clone() for p in gan.discriminator.parameters()]
    real, _ = ring_data(n_samples=32).sample(32, torch.Generator().manual_seed(0))
    _freeze(gan.discriminator)
    grads = _hook_grads(gan, UnrolledDiscriminator(3), real, torch.randn(32, 4))
    assert all(torch.isfinite(g).all() for g in grads)

    d_after, opt_after = gan.discriminator.state_dict(), opt_d.state_dict()
    assert d_after.keys() == d_before.keys()
    assert all(torch.equal(d_after[k], d_before[k]) for k in d_before)  # params and BN buffers
    assert opt_after["param_groups"] == opt_before["param_groups"]
    for idx, state in opt_before["state"].items():
        assert all(torch.equal(opt_after["state"][idx][k], v) for k, v in state.items())
    grads_after = [p.grad for p in gan.discriminator.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(grads_after, grads_before, strict=True))


def test_unrolling_follows_ds_adam_optimizer():
    """k differentiable Adam steps equal k real torch.optim.Adam steps from the same state."""
    gan = _bn_gan()
    opt_d = gan.optimizers()[1].optimizer
    assert float(opt_d.state[next(gan.discriminator.parameters())]["step"]) == gan.d_steps == 3
    real, _ = ring_data(n_samples=32).sample(32, torch.Generator().manual_seed(0))
    fake = gan.generator(torch.randn(32, 4)).detach()
    params, buffers = UnrolledDiscriminator(3).unroll(gan, g_step(gan, real, fake))

    disc, opt = copy.deepcopy((gan.discriminator, opt_d))
    for _ in range(3):
        opt.zero_grad()
        gan.loss_fn.d(disc(real).reshape(-1), disc(fake).reshape(-1)).backward()
        opt.step()
    for name, p in disc.named_parameters():
        torch.testing.assert_close(params[name], p, rtol=1e-5, atol=1e-6)
    for name, b in disc.named_buffers():
        torch.testing.assert_close(buffers[name], b)
    # and not the SGD rule with the same learning rate
    bare = GAN(gan.generator, gan.discriminator, latent_dim=4, lr_d=gan.lr_d)
    sgd_params, _ = UnrolledDiscriminator(3, lr=None).unroll(bare, g_step(bare, real, fake))
    assert any(not torch.allclose(params[n], sgd_params[n]) for n in params)


def test_trains_inside_a_trainer_without_stepping_d_extra():
    gan = tiny_gan(hidden=8)
    L.seed_everything(0, verbose=False)
    quiet_trainer(max_steps=8, callbacks=[UnrolledDiscriminator(2)]).fit(
        gan, ring_data(n_samples=128, batch_size=32)
    )
    opt_d = gan.optimizers()[1].optimizer
    steps = {float(s["step"]) for s in opt_d.state.values()}
    assert gan.d_steps == gan.g_steps == 4 and steps == {4.0}
    assert all(torch.isfinite(p).all() for p in gan.parameters())
