"""Generator EMA: the average against a hand-computed one, sampling, and checkpoint resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from torch import nn

from lightning_gan.callbacks.ema import GeneratorEMA
from lightning_gan.hooks import GANCallback
from lightning_gan.module import GAN
from lightning_gan.nets import MLPDiscriminator
from lightning_gan.step.records import GStep
from tests.helpers import flat_params, quiet_trainer, resumable_noise_loader


class _RecordGenerator(GANCallback):
    """Records G's parameters and buffers after every G step."""

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.buffers: list[torch.Tensor] = []

    def on_generator_step_end(self, gan: GAN, output: GStep) -> None:
        self.params.append(flat_params(gan.generator).clone())
        self.buffers.append(torch.cat([b.reshape(-1).float() for b in gan.generator.buffers()]))


def _gan(n_critic: int = 1) -> GAN:
    """A small GAN whose generator has batch norm, so it has buffers to copy."""
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    return GAN(generator, MLPDiscriminator(2, hidden=16, depth=1), latent_dim=4, n_critic=n_critic)


def _fit(
    callbacks: list[Callback],
    epochs: int,
    ckpt_path: Path | None = None,
    save_to: Path | None = None,
    n_critic: int = 1,
) -> GAN:
    gan = _gan(n_critic)
    trainer = quiet_trainer(max_steps=-1, max_epochs=epochs, callbacks=list(callbacks))
    trainer.fit(gan, resumable_noise_loader(), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return gan


@pytest.mark.parametrize("decay, start_step, n_critic", [(0.9, 0, 1), (0.7, 3, 2)])
def test_ema_equals_hand_computed_average_of_generator_trajectory(
    decay: float, start_step: int, n_critic: int
) -> None:
    record, ema = _RecordGenerator(), GeneratorEMA(decay=decay, start_step=start_step)
    gan = _fit([record, ema], epochs=1, n_critic=n_critic)
    assert len(record.params) == gan.g_steps == 10 // n_critic
    # ema_n = theta_n for n <= max(start_step, 1), then ema_n = decay ema_{n-1} + (1-decay) theta_n
    expected = record.params[0]
    for n, theta in enumerate(record.params, start=1):
        expected = theta if n <= start_step else decay * expected + (1 - decay) * theta
    torch.testing.assert_close(flat_params(ema.ema_generator), expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(flat_params(gan.generator), expected)
    # Buffers (batch-norm statistics) are copied from G, not averaged.
    ema_buffers = torch.cat([b.reshape(-1).float() for b in ema.ema_generator.buffers()])
    torch.testing.assert_close(ema_buffers, record.buffers[-1], rtol=0, atol=0)


def test_ema_is_outside_the_module_and_its_optimizers() -> None:
    ema = GeneratorEMA()
    gan = _fit([ema], epochs=1)
    ema_params = list(ema.ema_generator.parameters())
    assert not any(p.requires_grad for p in ema_params) and not ema.ema_generator.training
    optimized = {
        id(p) for opt in gan.trainer.optimizers for g in opt.param_groups for p in g["params"]
    }
    assert optimized.isdisjoint(id(p) for p in ema_params)
    assert not any("ema" in key or "module." in key for key in gan.state_dict())
    assert {p.device for p in ema_params} == {gan.device}


def test_sample_uses_the_ema_generator() -> None:
    ema = GeneratorEMA(decay=0.9)
    gan = _fit([ema], epochs=1)
    torch.manual_seed(1)
    samples = gan.sample(8)
    torch.manual_seed(1)
    z = gan.sample_latent(8)
    with torch.no_grad():
        torch.testing.assert_close(samples, ema.ema_generator(z))
        gan.generator.eval()
        assert (samples - gan.generator(z)).abs().max() > 1e-4


def test_half_life_in_images_sets_the_decay() -> None:
    ema = GeneratorEMA(half_life_images=100)
    assert ema.resolved_decay is None
    _fit([ema], epochs=1)
    assert ema.resolved_decay == pytest.approx(0.5 ** (16 / 100))


@pytest.mark.parametrize("kwargs", [dict(decay=0.9), dict(half_life_images=50, start_step=4)])
def test_resume_restores_the_ema_exactly(tmp_path: Path, kwargs: dict) -> None:
    ckpt = tmp_path / "ema.ckpt"
    _fit([GeneratorEMA(**kwargs)], epochs=1, save_to=ckpt)
    state = torch.load(ckpt, weights_only=True)["callbacks"]["GeneratorEMA"]
    # torch counts averaged steps since the last copy of G (step max(start_step, 1) of 10).
    averaged = 10 - max(kwargs.get("start_step", 0), 1) + 1
    assert int(state["ema"]["n_averaged"]) == averaged and "module.0.weight" in state["ema"]

    resumed, uninterrupted = GeneratorEMA(**kwargs), GeneratorEMA(**kwargs)
    _fit([resumed], epochs=2, ckpt_path=ckpt)
    _fit([uninterrupted], epochs=2)
    assert resumed.resolved_decay == uninterrupted.resolved_decay
    for a, b in zip(
        resumed.ema_generator.state_dict().values(),
        uninterrupted.ema_generator.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_restored_ema_is_used_for_sampling_without_fit(tmp_path: Path) -> None:
    # validate/test with ckpt_path: Lightning calls `setup`, then restores callback state.
    ckpt, ema = tmp_path / "ema.ckpt", GeneratorEMA(decay=0.9)
    _fit([ema], epochs=1, save_to=ckpt)
    fresh_gan, fresh = _gan(), GeneratorEMA(decay=0.9)
    fresh.setup(None, fresh_gan, "validate")
    fresh.load_state_dict(torch.load(ckpt, weights_only=True)["callbacks"]["GeneratorEMA"])
    sampler = fresh.sampling_generator(fresh_gan)
    torch.testing.assert_close(flat_params(sampler), flat_params(ema.ema_generator))
    assert not torch.allclose(flat_params(sampler), flat_params(fresh_gan.generator))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(decay=1.0), r"decay must be in \(0, 1\)"),
        (dict(decay=0.0), r"decay must be in \(0, 1\)"),
        (dict(decay=-0.5), r"decay must be in \(0, 1\)"),
        (dict(decay=0.99, half_life_images=1000), "not both"),
        (dict(decay=None, half_life_images=0), "half_life_images must be > 0"),
        (dict(start_step=-1), "start_step must be an integer >= 0"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GeneratorEMA(**kwargs)


def test_default_decay_is_0999_and_half_life_alone_is_enough() -> None:
    assert GeneratorEMA().resolved_decay == 0.999
    assert GeneratorEMA(half_life_images=10_000).half_life_images == 10_000
