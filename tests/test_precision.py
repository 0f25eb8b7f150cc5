"""Mixed precision with the manual GAN step on CPU: bf16 autocast trains, fp16 is redirected."""

from __future__ import annotations

import pytest
import torch

from lightning_gan.hooks import GANCallback
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
