"""Mixed precision with the SNGAN ResNet (spectral norm, batch norm, residual sums): bf16 follows
the float32 run, R1 stays float32 and finite, EMA stays float32, fp16 trains with two scalers."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins import MixedPrecision
from torch.utils.data import TensorDataset

from lightning_gan import (
    GAN,
    GeneratorEMA,
    R1Penalty,
    ResumableDataLoader,
    SNGANDiscriminator,
    SNGANGenerator,
)
from tests.helpers import flat_params, quiet_trainer


class R1Probe(R1Penalty):
    """R1 that records the dtype and value of each penalty it computes."""

    def __init__(self) -> None:
        super().__init__(gamma=1.0)
        self.values: list[torch.Tensor] = []

    def discriminator_penalty(self, gan, d):
        out = super().discriminator_penalty(gan, d)
        self.values.append(out.detach())
        return out


def _loader() -> ResumableDataLoader:
    x = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return ResumableDataLoader(TensorDataset(x), batch_size=4, shuffle=True)


def _gan() -> GAN:
    L.seed_everything(0, verbose=False)
    g, d = SNGANGenerator(latent_dim=16, width=8), SNGANDiscriminator(width=8)
    return GAN(g, d, loss="hinge", betas_g=(0.0, 0.9), betas_d=(0.0, 0.9))


def _fit(steps: int, callbacks: list, **trainer_kwargs) -> tuple[GAN, dict]:
    gan = _gan()
    trainer = quiet_trainer(max_steps=steps, callbacks=callbacks, **trainer_kwargs)
    trainer.fit(gan, _loader())
    return gan, dict(trainer.callback_metrics)


def test_bf16_follows_the_float32_run_with_r1_and_ema_in_float32() -> None:
    init = flat_params(_gan())
    probe, ema = R1Probe(), GeneratorEMA(decay=0.9)
    bf16, metrics = _fit(8, [probe, ema], precision="bf16-mixed")
    fp32, _ = _fit(8, [R1Penalty(gamma=1.0)], precision="32-true")
    assert all(torch.isfinite(metrics[k]) for k in ("loss/d", "loss/g", "penalty/r1"))
    w16, w32 = flat_params(bf16), flat_params(fp32)
    assert w16.dtype == torch.float32 and torch.isfinite(w16).all()
    # Tolerance: after 4 D and 4 G Adam steps, the bf16 weights lie within 15% of the distance
    # the float32 run travelled from the initialisation (mean over weights; measured ~5%). bf16's
    # 8-bit mantissa perturbs each step's direction, it does not change the trajectory.
    drift, travelled = (w16 - w32).abs().mean(), (w32 - init).abs().mean()
    assert 0 < drift < 0.15 * travelled, (drift.item(), travelled.item())
    assert {v.dtype for v in probe.values} == {torch.float32}
    assert probe.values and all(torch.isfinite(v) for v in probe.values)
    assert {p.dtype for p in ema.ema_generator.parameters()} == {torch.float32}


def test_fp16_trains_the_resnet_with_one_scaler_per_network() -> None:
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=10_000)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    gan, metrics = _fit(4, [], plugins=[plugin])
    assert gan.g_record.scaler is not gan.d_record.scaler
    assert torch.isfinite(metrics["loss/d"]) and torch.isfinite(metrics["loss/g"])
    assert torch.isfinite(flat_params(gan)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_a_gpu_trains_the_resnets(precision: str) -> None:
    gan = _gan()
    trainer = L.Trainer(
        max_steps=20, precision=precision, accelerator="gpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, callbacks=[R1Penalty(gamma=1.0)],
    )  # fmt: skip
    trainer.fit(gan, _loader())
    if precision == "16-mixed":
        assert gan.g_record.scaler is not gan.d_record.scaler
    assert torch.isfinite(flat_params(gan)).all()
    assert torch.isfinite(trainer.callback_metrics["penalty/r1"])
