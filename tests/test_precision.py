"""Mixed precision with the manual GAN step on CPU: bf16 autocast, and fp16 with a GradScaler."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from lightning.pytorch.plugins import MixedPrecision

from lightning_gan.hooks import GANCallback
from lightning_gan.module import SCALER_SKIP_LIMIT, NonFiniteError
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan


class StepProbe(GANCallback):
    """Records, inside the step, the losses, D's score dtype and whether autocast is on."""

    def __init__(self) -> None:
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []
        self.score_dtypes: set[torch.dtype] = set()
        self.autocast: set[bool] = set()
        self.grad_dtypes: set[torch.dtype] = set()

    def on_discriminator_step_end(self, gan, output) -> None:
        self.d_losses.append(output.loss.float().item())
        self.score_dtypes.add(output.fake_scores.dtype)
        self.autocast.add(torch.is_autocast_enabled("cpu"))
        self.grad_dtypes |= {p.grad.dtype for p in gan.discriminator.parameters()}

    def on_generator_step_end(self, gan, output) -> None:
        self.g_losses.append(output.loss.float().item())


def _fit(precision: str, steps: int = 8) -> tuple[StepProbe, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    gan = tiny_gan()
    before = flat_params(gan)
    probe = StepProbe()
    quiet_trainer(max_steps=steps, precision=precision, callbacks=[probe]).fit(gan, ring_data())
    return probe, before, flat_params(gan)


def test_bf16_mixed_trains_under_autocast_with_fp32_weights() -> None:
    probe, before, after = _fit("bf16-mixed")
    assert len(probe.d_losses) == len(probe.g_losses) == 4  # max_steps=8: 4 D + 4 G steps
    assert all(torch.isfinite(torch.tensor(probe.d_losses + probe.g_losses)))
    assert probe.autocast == {True}  # the step ran under CPU autocast ...
    assert probe.score_dtypes == {torch.bfloat16}  # ... so D's linear layers computed in bf16
    assert probe.grad_dtypes == {torch.float32}  # while weights and gradients stay fp32
    assert after.dtype == torch.float32
    assert (after - before).abs().max() > 1e-4  # both optimizers stepped


def test_bf16_mixed_first_losses_match_fp32_to_bf16_accuracy() -> None:
    bf16, _, _ = _fit("bf16-mixed", steps=2)
    fp32, _, _ = _fit("32-true", steps=2)
    assert fp32.autocast == {False} and fp32.score_dtypes == {torch.float32}
    # Same weights and batch: only the arithmetic precision differs (bf16 has 8 mantissa bits).
    assert bf16.d_losses[0] == pytest.approx(fp32.d_losses[0], rel=1e-2)
    assert bf16.g_losses[0] == pytest.approx(fp32.g_losses[0], rel=1e-2)


def test_fp16_mixed_on_cpu_is_replaced_by_bf16_with_a_warning() -> None:
    # Lightning decides: fp16 AMP needs a GPU, so on CPU it warns and uses bf16 autocast.
    with pytest.warns(UserWarning, match="not supported on CPU.*bf16-mixed"):
        trainer = quiet_trainer(max_steps=2, precision="16-mixed")
    assert trainer.precision == "bf16-mixed"


def _fp16_scaler_trainer(steps: int, init_scale: float) -> tuple[Any, torch.amp.GradScaler]:
    """fp16 AMP with a GradScaler, as ``precision="16-mixed"`` gives on a GPU, here on CPU."""
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    return quiet_trainer(max_steps=steps, plugins=[plugin]), scaler


def test_fp16_scaler_overflows_are_left_to_the_scaler() -> None:
    # A loss scale of 2**24 makes the first steps' fp16 gradients overflow, as fp16 start-up
    # does: the scaler must skip them and back off, not GAN stop training (it used to stop at
    # step 1 with nonfinite="stop").
    torch.manual_seed(0)
    gan = tiny_gan(nonfinite="stop")
    before = flat_params(gan)
    trainer, scaler = _fp16_scaler_trainer(steps=40, init_scale=2.0**24)
    trainer.fit(gan, ring_data())
    assert trainer.global_step == 40
    assert (gan.d_steps, gan.g_steps) == (20, 20)  # every batch ran both phases
    assert gan.nonfinite_skips == 0
    assert scaler.get_scale() <= 2.0**20  # the scaler skipped >= 4 overflowed steps ...
    after = flat_params(gan)
    assert torch.isfinite(after).all()
    assert (after - before).abs().max() > 1e-5  # ... and later steps were applied


def test_fp16_scaler_persistent_nan_gets_the_nonfinite_policy() -> None:
    torch.manual_seed(0)
    gan = tiny_gan(nonfinite="raise")
    with torch.no_grad():
        next(gan.discriminator.parameters())[0, 0] = float("nan")  # D can never recover
    trainer, scaler = _fp16_scaler_trainer(steps=200, init_scale=2.0**16)
    with pytest.raises(NonFiniteError, match="discriminator"):
        trainer.fit(gan, ring_data())
    # Raised on the SCALER_SKIP_LIMIT-th consecutive skipped D step, not on the first.
    assert gan.d_steps == SCALER_SKIP_LIMIT - 1
    # Every step before it was skipped by its network's own scaler: D's 20 steps halved D's
    # scale 20 times; the 19 G steps through the NaN D halved G's (the plugin's) 19 times.
    assert gan.d_record.scaler is not scaler and gan.g_record.scaler is scaler
    assert gan.d_record.scaler.get_scale() == 2.0**16 / 2**SCALER_SKIP_LIMIT
    assert scaler.get_scale() == 2.0**16 / 2 ** (SCALER_SKIP_LIMIT - 1)
