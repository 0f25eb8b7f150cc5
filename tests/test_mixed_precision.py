"""Mixed precision with two networks: bf16 close to fp32, penalties in float32, EMA in float32,
and under fp16 one GradScaler per network that resumes exactly."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins import MixedPrecision

from lightning_gan import GAN, DStep, GANCallback, GeneratorEMA, R1Penalty
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan


class PenaltyProbe(R1Penalty):
    """R1 that records the dtype and value of what it computes."""

    def __init__(self) -> None:
        super().__init__(gamma=10.0)
        self.values: list[torch.Tensor] = []

    def discriminator_penalty(self, gan, d):
        out = super().discriminator_penalty(gan, d)
        self.values.append(out.detach())
        return out


def _fit(precision: str, steps: int, *callbacks) -> GAN:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan(hidden=32)
    quiet_trainer(max_steps=steps, precision=precision, callbacks=list(callbacks)).fit(
        gan, ring_data()
    )
    return gan


def test_bf16_weights_stay_within_tolerance_of_fp32_after_40_steps() -> None:
    bf16, fp32 = flat_params(_fit("bf16-mixed", 40)), flat_params(_fit("32-true", 40))
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
    # 20 Adam steps of lr 2e-4 move each weight by at most ~4e-3; bf16 arithmetic (8-bit
    # mantissa) changes the update direction a little, not its size: within 2e-3 of fp32.
    assert (bf16 - fp32).abs().max().item() < 2e-3
    assert (bf16 - fp32).abs().max().item() > 0  # the arithmetic did differ


def test_r1_under_bf16_is_computed_in_float32_and_finite() -> None:
    probe = PenaltyProbe()
    _fit("bf16-mixed", 8, probe)
    assert len(probe.values) == 4
    assert {v.dtype for v in probe.values} == {torch.float32}
    assert all(torch.isfinite(v) for v in probe.values)


def test_ema_stays_float32_under_bf16() -> None:
    ema = GeneratorEMA(decay=0.9)
    _fit("bf16-mixed", 8, ema)
    assert {p.dtype for p in ema.ema_generator.parameters()} == {torch.float32}


class Overflow(GANCallback):
    """Makes D's loss overflow in its first `n` steps (G's loss is untouched)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def discriminator_penalty(self, gan: GAN, d: DStep) -> torch.Tensor | None:
        if gan.d_steps < self.n:
            return 1e38 * d.real_scores.mean()  # x the loss scale: inf gradients
        return None


def _fp16_trainer(steps: int, tmp_path=None, **kwargs) -> L.Trainer:
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=10_000)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    return quiet_trainer(max_steps=steps, plugins=[plugin], default_root_dir=tmp_path, **kwargs)


def test_fp16_has_one_scaler_per_network_and_d_overflows_leave_g_alone(tmp_path) -> None:
    torch.manual_seed(0)
    gan = tiny_gan(nonfinite="skip")
    trainer = _fp16_trainer(20, callbacks=[Overflow(5)])
    trainer.fit(gan, ring_data())
    g_scaler, d_scaler = gan.g_record.scaler, gan.d_record.scaler
    assert g_scaler is not d_scaler
    assert d_scaler.get_scale() == 2.0**10 / 2**5  # D's five overflows halved D's scale only
    assert g_scaler.get_scale() == 2.0**10
    assert torch.isfinite(flat_params(gan)).all() and gan.nonfinite_skips == 0


def test_fp16_scalers_resume_exactly(tmp_path) -> None:
    torch.manual_seed(0)
    gan = tiny_gan(nonfinite="skip")
    trainer = _fp16_trainer(10, callbacks=[Overflow(3)])
    trainer.fit(gan, ring_data())
    path = tmp_path / "run.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=False)
    assert saved["gan_scalers"]["discriminator"]["scale"] == 2.0**10 / 2**3

    resumed = tiny_gan(nonfinite="skip")
    trainer = _fp16_trainer(12)
    trainer.fit(resumed, ring_data(), ckpt_path=path)
    assert resumed.d_record.scaler.get_scale() == 2.0**10 / 2**3
    assert resumed.g_record.scaler.get_scale() == 2.0**10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 AMP needs a GPU")
def test_fp16_mixed_on_a_gpu_trains_with_two_scalers() -> None:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan()
    trainer = L.Trainer(
        max_steps=20, precision="16-mixed", accelerator="gpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False,
    )  # fmt: skip
    trainer.fit(gan, ring_data())
    assert gan.g_record.scaler is not gan.d_record.scaler
    assert torch.isfinite(flat_params(gan)).all()
