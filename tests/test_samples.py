"""SampleLogger: non-black uint8 pictures reach W&B, TensorBoard and CSV logs; nothing crashes."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger
from PIL import Image
from torch import nn

from lightning_gan.callbacks.samples import SampleLogger, image_grid, scatter_plot
from lightning_gan.data import Digits
from lightning_gan.module import GAN
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan

pytestmark = pytest.mark.filterwarnings("ignore:The number of training batches")


def _assert_picture(path: Path) -> np.ndarray:
    """A real picture: RGB uint8, not black (the float-image bug) and not blank."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and min(pixels.shape[:2]) >= 64
    assert pixels.max() >= 100 and pixels.std() > 10
    return pixels


def _digits_gan() -> GAN:
    """A tiny image GAN on the 8x8 digits (tanh output in [-1, 1])."""
    generator = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    generator.latent_dim = 8
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    return GAN(generator, discriminator)


def test_wandb_offline_gets_uint8_scatter_plots() -> None:
    import wandb

    wandb_dir = Path(os.environ["WANDB_DIR"])
    logger = WandbLogger(project="samples-test", save_dir=wandb_dir, offline=True)
    trainer = quiet_trainer(max_steps=20, logger=logger, callbacks=[SampleLogger(every_n_steps=5)])
    trainer.fit(tiny_gan(), ring_data(n_samples=512))
    wandb.finish()
    images = sorted(wandb_dir.glob("wandb/offline-run-*/files/media/images/samples_*.png"))
    assert len(images) == 2  # batches 5 and 10 (max_steps counts D and G steps)
    pixels = _assert_picture(images[-1])
    assert (np.abs(pixels.astype(int) - [214, 39, 40]).sum(-1) < 60).any()  # red mode crosses


def test_wandb_offline_gets_non_black_image_grids() -> None:
    import wandb

    wandb_dir = Path(os.environ["WANDB_DIR"])
    logger = WandbLogger(project="samples-test", save_dir=wandb_dir, offline=True)
    trainer = quiet_trainer(
        max_steps=6, logger=logger, callbacks=[SampleLogger(every_n_steps=3, n_samples=16, nrow=4)]
    )
    trainer.fit(_digits_gan(), Digits(batch_size=32))
    wandb.finish()
    images = sorted(wandb_dir.glob("wandb/offline-run-*/files/media/images/samples_*.png"))
    assert len(images) == 1
    pixels = _assert_picture(images[0])
    assert pixels.shape[:2] == (7 * 42, 7 * 42)  # 4x4 grid of 8x8 + 2 px padding, x7: >= 256
    tiles = pixels[12:60, 12:60]  # the first generated 8x8 tile: tanh outputs, mid-grey
    assert 30 < tiles.mean() < 225


def test_tensorboard_event_file_holds_the_image() -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = Path(os.environ["WANDB_DIR"]) / "tb"
    logger = TensorBoardLogger(log_dir, name="run")
    callback = SampleLogger(every_n_steps=5, key="gan/samples")
    quiet_trainer(max_steps=20, logger=logger, callbacks=[callback]).fit(
        tiny_gan(), ring_data(n_samples=512)
    )
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert "gan/samples" in events.Tags()["images"]
    logged = events.Images("gan/samples")
    assert [e.step for e in logged] == [10, 20]  # optimizer steps, as metrics and checkpoints
    assert logged[0].width == 400 and logged[0].height == 400


def test_csv_logger_gets_png_files_and_no_logger_gets_nothing(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    csv = CSVLogger(tmp_path, name="csv")
    quiet_trainer(max_steps=30, logger=csv, callbacks=[SampleLogger(every_n_steps=5)]).fit(
        tiny_gan(), ring_data(n_samples=512)
    )
    files = sorted((Path(csv.log_dir) / "samples").glob("*.png"))
    # generator steps 5, 10, 15 = optimizer steps 10, 20, 30; the end of fit was just logged
    assert [f.name for f in files] == [f"samples_step{s:07d}.png" for s in (10, 20, 30)]
    for f in files:
        _assert_picture(f)

    bare = tmp_path / "bare"
    bare.mkdir()
    cwd = os.getcwd()
    os.chdir(bare)
    try:
        quiet_trainer(max_steps=12, callbacks=[SampleLogger(every_n_steps=5)]).fit(
            tiny_gan(), ring_data(n_samples=512)
        )
    finally:
        os.chdir(cwd)
    assert list(bare.iterdir()) == []
    assert plt.get_fignums() == []  # no pyplot figure left open


def test_final_picture_and_save_dir(tmp_path: Path) -> None:
    callback = SampleLogger(every_n_steps=100, save_dir=tmp_path)
    quiet_trainer(max_steps=14, callbacks=[callback]).fit(tiny_gan(), ring_data(n_samples=512))
    assert [f.name for f in tmp_path.iterdir()] == ["samples_step0000014.png"]


class _PlainLogger(Logger):
    """A logger with no image support (stands in for MLflow, Neptune, ... here)."""

    name = "plain"
    version = 0

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params, *args, **kwargs):
        pass


class _BrokenWandb(WandbLogger):
    def log_image(self, *args, **kwargs):
        raise RuntimeError("upload failed")

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def test_failing_or_unknown_loggers_never_stop_training(tmp_path: Path) -> None:
    callback = SampleLogger(every_n_steps=2, save_dir=tmp_path)
    loggers = [_BrokenWandb(save_dir=tmp_path, offline=True), _PlainLogger()]
    trainer = quiet_trainer(max_steps=10, logger=loggers, callbacks=[callback])
    with pytest.warns(UserWarning, match="_BrokenWandb failed to log samples.*upload failed"):
        trainer.fit(tiny_gan(), ring_data(n_samples=512))
    assert trainer.global_step == 10
    steps = sorted(int(f.stem[-7:]) for f in tmp_path.glob("*.png"))
    assert steps == [4, 8, 10]  # every 2 batches (4 optimizer steps), and the end of fit


def test_logging_samples_does_not_change_training() -> None:
    """Sampling uses a forked, fixed-seed RNG: the run is identical with and without it."""
    weights = []
    for callbacks in ([], [SampleLogger(every_n_steps=3)]):
        L.seed_everything(0, verbose=False)
        gan = tiny_gan()
        quiet_trainer(max_steps=20, callbacks=callbacks).fit(gan, ring_data(n_samples=512))
        weights.append(flat_params(gan))
    assert torch.equal(weights[0], weights[1])


def test_renderers_and_bad_parameters() -> None:
    grid = image_grid(torch.linspace(-1, 1, 4 * 64).reshape(4, 1, 8, 8), nrow=2)
    assert grid.dtype == np.uint8 and grid[..., 0].min() == 0 and grid.max() == 255
    plot = scatter_plot(torch.randn(100, 2), ring_data().modes, title="t")
    assert plot.dtype == np.uint8 and plot.shape == (400, 400, 3)
    with pytest.raises(ValueError, match="every_n_steps must be an integer >= 1"):
        SampleLogger(every_n_steps=0)
    with pytest.raises(ValueError, match="low < high"):
        SampleLogger(value_range=(1.0, -1.0))
