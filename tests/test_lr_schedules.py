"""LR schedules of both networks: stepped per network step or epoch, resumed, monitored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch.optim.lr_scheduler import ExponentialLR, ReduceLROnPlateau, StepLR

from lightning_gan import GAN
from lightning_gan.cli import build_cli
from tests.helpers import quiet_trainer, ring_data, tiny_gan

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def _lrs(gan: GAN) -> tuple[float, float]:
    opt_g, opt_d = gan.optimizers()
    return opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]


def test_step_schedules_count_each_networks_own_steps() -> None:
    gan = tiny_gan(
        n_critic=2,
        lr_g=1e-2,
        lr_d=1e-2,
        lr_scheduler_g=lambda opt: StepLR(opt, step_size=2, gamma=0.5),
        lr_scheduler_d=lambda opt: ExponentialLR(opt, gamma=0.9),
    )
    trainer = quiet_trainer(max_steps=12)  # 8 batches: 8 D steps, 4 G steps
    trainer.fit(gan, ring_data())
    assert (gan.d_steps, gan.g_steps) == (8, 4)
    lr_g, lr_d = _lrs(gan)
    assert lr_g == pytest.approx(1e-2 * 0.5**2)
    assert lr_d == pytest.approx(1e-2 * 0.9**8)


class TupleForm(GAN):
    """``configure_optimizers`` returning Lightning's dict form with epoch intervals."""

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=1e-2)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=1e-2)
        return (
            {
                "optimizer": opt_g,
                "lr_scheduler": {
                    "scheduler": StepLR(opt_g, 1, 0.5),
                    "interval": "epoch",
                    "frequency": 2,
                },
            },
            {"optimizer": opt_d, "lr_scheduler": StepLR(opt_d, 1, 0.1)},
        )


def test_dict_form_and_epoch_interval_with_frequency() -> None:
    torch.manual_seed(0)
    reference = tiny_gan()
    gan = TupleForm(reference.generator, reference.discriminator)
    data = ring_data(n_samples=256, batch_size=64)  # 4 batches per epoch
    quiet_trainer(max_steps=-1, max_epochs=4).fit(gan, data)
    lr_g, lr_d = _lrs(gan)
    assert lr_g == pytest.approx(1e-2 * 0.5**2)  # epochs 2 and 4
    assert lr_d == pytest.approx(1e-2 * 0.1**4)  # Lightning's default interval: "epoch"


def test_learning_rate_monitor_sees_both_schedules(tmp_path) -> None:
    gan = tiny_gan(lr_scheduler_g=lambda opt: StepLR(opt, 1, 0.5))
    logger = CSVLogger(tmp_path)
    quiet_trainer(
        max_steps=6, logger=logger, log_every_n_steps=1, callbacks=[LearningRateMonitor()]
    ).fit(gan, ring_data())
    metrics = (Path(logger.log_dir) / "metrics.csv").read_text()
    assert "lr/generator" in metrics.splitlines()[0]


def test_schedules_resume_exactly(tmp_path) -> None:
    def make() -> GAN:
        torch.manual_seed(0)
        return tiny_gan(lr_scheduler_g=lambda opt: StepLR(opt, 1, 0.5))

    first = make()
    trainer = quiet_trainer(max_steps=6)
    trainer.fit(first, ring_data())
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    resumed = make()
    quiet_trainer(max_steps=12).fit(resumed, ring_data(), ckpt_path=tmp_path / "mid.ckpt")
    assert _lrs(resumed)[0] == pytest.approx(2e-4 * 0.5**6)


class Plateau(GAN):
    monitor: str | None = None

    def configure_optimizers(self):
        opt_g, opt_d = super().configure_optimizers()
        scheduler = ReduceLROnPlateau(opt_g, patience=0, factor=0.5, threshold=10.0)
        scheduler.monitor = self.monitor
        return [opt_g, opt_d], [{"scheduler": scheduler, "interval": "step"}]


def test_plateau_schedule_monitors_the_generator_loss_by_default() -> None:
    reference = tiny_gan()
    gan = Plateau(reference.generator, reference.discriminator)
    quiet_trainer(max_steps=8, log_every_n_steps=1).fit(gan, ring_data())
    # threshold=10 makes every value "no improvement": halved after each of the 4 G steps
    assert gan.g_steps == 4 and _lrs(gan)[0] == pytest.approx(2e-4 * 0.5**4)


def test_plateau_schedule_on_an_unlogged_metric_names_the_fix() -> None:
    reference = tiny_gan()
    gan = Plateau(reference.generator, reference.discriminator)
    gan.monitor = "no/such"
    with pytest.raises(MisconfigurationException, match="Set `scheduler.monitor`"):
        quiet_trainer(max_steps=4).fit(gan, ring_data())


def test_bad_schedule_settings_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="'step'.*or 'epoch'"):
        tiny_gan(lr_scheduler_interval="batch")
    with pytest.raises(ValueError, match="optimizer -> scheduler"):
        tiny_gan(lr_scheduler_g=0.5)


def test_schedules_from_the_cli(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])
    cli = build_cli(
        [
            "fit",
            f"--config={CONFIGS / 'ring.yaml'}",
            "--trainer.max_steps=8",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.logger=false",
            "--model.init_args.lr_scheduler_g=torch.optim.lr_scheduler.StepLR",
            "--model.init_args.lr_scheduler_g.step_size=1",
            "--model.init_args.lr_scheduler_g.gamma=0.5",
        ]
    )
    lr_g, _ = _lrs(cli.model)
    assert lr_g == pytest.approx(cli.model.lr_g * 0.5**4)
