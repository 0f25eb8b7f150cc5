"""Train a tiny image GAN with AdaptiveAugment and LeCamRegularization on 2 gloo processes.

Run by tests/test_sota_ddp.py in a subprocess (Lightning's popen launcher re-executes this
script for rank 1). Each rank saves its weights, ADA's p and its history, each interval's
*local* sign statistics (before the cross-rank sum) and LeCam's anchors, so the test can check
that ranks agree and that p is the one the all-rank statistics give.

usage: python tests/ddp_sota_run.py OUT_DIR
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan import GAN  # noqa: E402
from lightning_gan.callbacks.adaptive_augment import AdaptiveAugment  # noqa: E402
from lightning_gan.callbacks.lecam import LeCamRegularization  # noqa: E402

warnings.filterwarnings("ignore")
ADA = dict(target=0.6, interval=2, speed_images=400, p=0.2)


class RecordingADA(AdaptiveAugment):
    """Keeps each interval's local statistics (before the all-rank sum) and ``p`` after it."""

    def __init__(self) -> None:
        super().__init__(**ADA)
        self.local: list[list[float]] = []
        self.ps: list[float] = []

    def on_discriminator_step_end(self, gan, output) -> None:
        due = gan.d_steps % self.interval == 0
        if due:  # what this rank adds, this step included
            signs = output.real_scores.sign().sum().item()
            self.local.append(
                [
                    float(self.stats.sign_sum) + signs,
                    float(self.stats.count) + output.real_scores.numel(),
                    float(self.stats.images) + output.fake.shape[0],
                ]
            )
        super().on_discriminator_step_end(gan, output)
        if due:
            self.ps.append(self.p)


def main() -> None:
    out = Path(sys.argv[1])
    L.seed_everything(0, verbose=False)
    data = torch.rand(128, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    generator = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    discriminator = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)
    )
    gan = GAN(generator, discriminator, latent_dim=8, lr_d=1e-3)
    ada, lecam = RecordingADA(), LeCamRegularization(weight=0.3, ema_decay=0.9)
    trainer = L.Trainer(
        callbacks=[ada, lecam],
        accelerator="cpu",
        devices=2,
        strategy="gan_ddp",
        max_steps=2 * 16,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(gan, DataLoader(TensorDataset(data), batch_size=16))
    state = ada.state_dict()  # collective: both ranks call it, as when a checkpoint is written
    result = {
        "weights": torch.cat([p.detach().reshape(-1) for p in gan.parameters()]),
        "p": ada.p,
        "ps": ada.ps,
        "local": ada.local,
        "state": state,
        "anchors": lecam.anchors.clone(),
        "steps": [gan.d_steps, gan.g_steps],
    }
    torch.save(result, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main()
    # Tear gloo down before the interpreter does: its threads dying at exit abort the
    # process now and then ("terminate called without an active exception").
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
