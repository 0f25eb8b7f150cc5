"""PacGAN packing under 2 gloo processes (run by tests/test_packing.py in a subprocess).

Each rank records the shapes D sees and saves them with a digest of its final weights.

usage: python tests/packing_ddp_run.py OUT_DIR
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan import GAN, MLPDiscriminator, MLPGenerator, Packing  # noqa: E402
from tests.helpers import ring_data  # noqa: E402

warnings.filterwarnings("ignore")


def main() -> None:
    out = Path(sys.argv[1])
    L.seed_everything(0, verbose=False)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=16, depth=2),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2, pack=2),
    )
    shapes: list[tuple[int, ...]] = []
    forward = gan.discriminator.forward
    gan.discriminator.forward = lambda x, labels=None: (shapes.append(tuple(x.shape)), forward(x))[
        1
    ]
    trainer = L.Trainer(
        callbacks=[Packing(2)], accelerator="cpu", devices=2, strategy="gan_ddp", max_steps=6,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(gan, ring_data(n_samples=512, batch_size=16))
    weights = torch.cat([p.detach().reshape(-1) for p in gan.parameters()])
    torch.save({"shapes": shapes, "weights": weights}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main()
    # Tear gloo down before the interpreter does: its threads dying at exit abort the
    # process now and then ("terminate called without an active exception").
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
