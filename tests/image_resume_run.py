"""Train a tiny image GAN on an ImageFolder (2 workers); optionally SIGKILL itself, or resume.

usage: python tests/image_resume_run.py DATA_DIR OUT_DIR full|kill|resume
`kill` dies by SIGKILL at global step KILL_AT, mid-epoch (a checkpoint is written every
CKPT_EVERY steps), `resume` continues from OUT_DIR/last.ckpt through the next epoch boundary.
tests/test_image_resume.py compares the outcome with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan import GAN, DCGANDiscriminator, DCGANGenerator  # noqa: E402
from lightning_gan.data import ImageFolder  # noqa: E402

warnings.filterwarnings("ignore")
N_IMAGES, BATCH = 40, 4  # 10 batches (20 steps) per epoch
MAX_STEPS, CKPT_EVERY, KILL_AT = 56, 8, 30  # dies in epoch 2 after the step-24 checkpoint


def write_folder(root: Path) -> None:
    """Two classes of small random RGB PNGs of mixed sizes."""
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        size = 8 + i % 3
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")


class KillAt(L.Callback):
    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)


class SeenBatches(L.Callback):
    """A fingerprint of every batch trained on: (sum of pixels, labels)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, list[int]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        x, y = batch
        self.seen.append((float(x.double().sum()), y.tolist()))


def run(data: Path, out: Path, mode: str) -> dict:
    torch.set_num_threads(1)
    L.seed_everything(5, verbose=False)
    gan = GAN(
        DCGANGenerator(latent_dim=8, channels=3, image_size=8, width=8),
        DCGANDiscriminator(channels=3, image_size=8, width=8),
        lr_g=2e-3,
        lr_d=2e-3,
    )
    seen = SeenBatches()
    checkpoint = ModelCheckpoint(
        dirpath=out, every_n_train_steps=CKPT_EVERY, save_top_k=-1, save_last=True
    )
    callbacks = [seen, checkpoint] + ([KillAt()] if mode == "kill" else [])
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=MAX_STEPS,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    images = ImageFolder(data, image_size=8, batch_size=BATCH, num_workers=2)
    trainer.fit(gan, images, ckpt_path=out / "last.ckpt" if mode == "resume" else None)
    return {
        "weights": torch.cat([p.detach().reshape(-1) for p in gan.parameters()]),
        "steps": [gan.d_steps, gan.g_steps, trainer.global_step, trainer.current_epoch],
        "seen": seen.seen,
    }


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
