"""Train a tiny GAN with stateful callbacks; optionally SIGKILL itself mid-run, or resume.

usage: python tests/resume_run.py OUT_DIR full|kill|resume
`kill` dies by SIGKILL at global step KILL_AT (a checkpoint is written every CKPT_EVERY
steps), `resume` continues from OUT_DIR/last.ckpt. tests/test_resume.py compares the outcome
with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan import GAN, GaussianMixture, MLPDiscriminator, MLPGenerator  # noqa: E402
from lightning_gan.callbacks.ema import GeneratorEMA  # noqa: E402
from lightning_gan.callbacks.health import GANHealth  # noqa: E402
from lightning_gan.callbacks.noise import InstanceNoise  # noqa: E402

warnings.filterwarnings("ignore")
MAX_STEPS, CKPT_EVERY, KILL_AT = 60, 8, 38  # 15 batches/epoch (2 steps each): dies in epoch 2


class KillAt(L.Callback):
    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)


def run(out: Path, mode: str) -> dict[str, torch.Tensor]:
    torch.set_num_threads(1)
    L.seed_everything(3, verbose=False)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=16, depth=2),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2),
        lr_g=5e-3,
        lr_d=5e-3,
    )
    ema = GeneratorEMA(decay=0.9)
    noise = InstanceNoise(std=0.2, schedule="linear", anneal_steps=40)
    health = GANHealth(every_n_steps=2, warmup_steps=0)
    checkpoint = ModelCheckpoint(
        dirpath=out, every_n_train_steps=CKPT_EVERY, save_top_k=-1, save_last=True
    )
    callbacks = [ema, noise, health, checkpoint] + ([KillAt()] if mode == "kill" else [])
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=MAX_STEPS,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    data = GaussianMixture("ring", n_samples=480, batch_size=32, seed=1)
    trainer.fit(gan, data, ckpt_path=out / "last.ckpt" if mode == "resume" else None)
    return {
        "weights": torch.cat([p.detach().reshape(-1) for p in gan.parameters()]),
        "ema": torch.cat([p.detach().reshape(-1) for p in gan.sampling_generator().parameters()]),
        "health": torch.tensor(health.state_dict()["history"]["loss_d"], dtype=torch.float64),
        "noise_std": torch.tensor(noise.current_std(gan)),
        "steps": torch.tensor([gan.d_steps, gan.g_steps, trainer.global_step]),
    }


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2])
