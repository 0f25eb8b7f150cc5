"""InstanceNoise: schedules, noise on both inputs in both phases, exact std after resume."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import Tensor

from lightning_gan.callbacks.noise import EXPONENTIAL_TAIL, InstanceNoise
from lightning_gan.hooks import GANCallback
from lightning_gan.module import GAN
from lightning_gan.nets import MLPDiscriminator, MLPGenerator
from tests.helpers import quiet_trainer, ring_data, tiny_gan


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(std=-0.1),
        dict(std=float("nan")),
        dict(schedule="cosine"),
        dict(anneal_steps=0),
        dict(anneal_steps=2.5),
        dict(final_std=-1.0),
        dict(std=0.1, final_std=0.2),
    ],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError, match="std|schedule|anneal_steps"):
        InstanceNoise(**kwargs)


def test_constant_schedule():
    noise = InstanceNoise(std=0.3, schedule="constant", anneal_steps=10)
    assert [noise.std_at(t) for t in (0, 5, 10, 10_000)] == [0.3] * 4


def test_linear_schedule():
    noise = InstanceNoise(std=0.4, schedule="linear", anneal_steps=100, final_std=0.1)
    assert noise.std_at(0) == 0.4
    assert noise.std_at(50) == pytest.approx(0.25, abs=1e-15)
    assert noise.std_at(100) == noise.std_at(10**6) == 0.1


def test_exponential_schedule_reaches_final_std():
    noise = InstanceNoise(std=0.4, schedule="exponential", anneal_steps=100, final_std=0.1)
    decay = (0.1 / 0.4) ** (1 / 100)
    assert noise.std_at(0) == 0.4
    assert noise.std_at(37) == pytest.approx(0.4 * decay**37, rel=1e-12)
    assert noise.std_at(99) == pytest.approx(0.1 / decay, rel=1e-12)
    assert noise.std_at(100) == noise.std_at(500) == 0.1


def test_exponential_schedule_to_zero_has_a_small_tail_then_stops():
    noise = InstanceNoise(std=0.5, schedule="exponential", anneal_steps=1000, final_std=0.0)
    assert noise.std_at(500) == pytest.approx(0.5 * math.sqrt(EXPONENTIAL_TAIL), rel=1e-12)
    assert noise.std_at(999) == pytest.approx(0.5 * EXPONENTIAL_TAIL, rel=1e-2)
    assert noise.std_at(1000) == 0.0


@pytest.mark.parametrize("real", [True, False])
def test_noise_has_the_scheduled_std_and_passes_gradients(real):
    gan = tiny_gan(hidden=4)
    gan.d_steps = 50
    noise = InstanceNoise(std=1.0, schedule="linear", anneal_steps=100, final_std=0.0)
    torch.manual_seed(0)
    x = torch.full((20_000, 2), 3.0, requires_grad=True)
    y, labels = noise.transform_discriminator_input(gan, x, None, real)
    assert labels is None
    assert (y - 3.0).mean().abs() < 0.02
    assert (y - 3.0).std().item() == pytest.approx(0.5, rel=0.02)
    y.sum().backward()  # the generator phase backpropagates through the noisy input
    assert torch.equal(x.grad, torch.ones_like(x))


def test_zero_std_returns_the_input_itself():
    gan = tiny_gan(hidden=4)
    gan.d_steps = 10
    noise = InstanceNoise(std=0.2, schedule="linear", anneal_steps=10)
    x = torch.randn(4, 2)
    assert noise.transform_discriminator_input(gan, x, None, False)[0] is x


class _InputRecorder(MLPDiscriminator):
    """Records the spread of every input and whether D was frozen (generator phase)."""

    def __init__(self) -> None:
        super().__init__(in_dim=2, hidden=8, depth=1)
        self.seen: list[tuple[bool, float]] = []

    def forward(self, x: Tensor) -> Tensor:
        frozen = not self.net[0].weight.requires_grad
        self.seen.append((frozen, x.detach().std().item()))
        return super().forward(x)


def test_noise_reaches_d_in_both_phases_and_std_is_logged():
    disc = _InputRecorder()
    gan = GAN(MLPGenerator(latent_dim=4, hidden=8, depth=1), disc)
    noise = InstanceNoise(std=20.0, schedule="constant")
    quiet_trainer(max_steps=4, callbacks=[noise]).fit(gan, ring_data(n_samples=64, batch_size=32))
    phases = {frozen for frozen, _ in disc.seen}
    assert phases == {True, False}  # discriminator and generator phase
    assert len(disc.seen) == 6 and all(std > 10 for _, std in disc.seen)  # data spread is ~0.7
    assert gan.trainer.callback_metrics["noise/std"].item() == 20.0


class _StdRecorder(GANCallback):
    def __init__(self, noise: InstanceNoise) -> None:
        self.noise = noise
        self.stds: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.stds.append(self.noise.current_std(pl_module))


def _fit(max_steps: int, ckpt_path=None, save_to=None) -> tuple[list[float], float]:
    L.seed_everything(0, verbose=False)
    noise = InstanceNoise(std=0.5, schedule="exponential", anneal_steps=16, final_std=0.05)
    recorder = _StdRecorder(noise)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=[noise, recorder])
    gan = tiny_gan(hidden=8)
    trainer.fit(gan, ring_data(n_samples=160, batch_size=32), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return recorder.stds, trainer.callback_metrics["noise/std"].item()


def test_std_after_resume_is_exactly_the_uninterrupted_std(tmp_path):
    """The schedule reads GAN.d_steps, which the module checkpoints: nothing else to save."""
    full, full_logged = _fit(max_steps=20)  # 10 batches = 2 epochs (a D and a G step each)
    first, _ = _fit(max_steps=10, save_to=tmp_path / "half.ckpt")
    resumed, resumed_logged = _fit(max_steps=20, ckpt_path=tmp_path / "half.ckpt")
    assert len(full) == 10 and first == full[:5] and resumed == full[5:]
    assert full == sorted(full, reverse=True) and len(set(full)) == 10  # annealing is visible
    assert resumed_logged == full_logged == pytest.approx(full[-1], rel=1e-6)


def test_callback_has_no_state_of_its_own():
    assert InstanceNoise().state_dict() == {}
