"""Quick 8-mode ring comparison: plain non-saturating GAN vs UnrolledDiscriminator vs InstanceNoise.

Same seeds, nets, optimizers and step budget for every arm; only the callback differs. Coverage
follows VEEGAN/PacGAN: 2500 samples, a sample is high quality (HQ) within 3 std of its nearest
mode, a mode is covered if it is the nearest mode of at least one HQ sample.

    python benchmarks/remedies_quick.py --batches 500 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import lightning as L
import torch

from lightning_gan import GAN, GaussianMixture, MLPDiscriminator, MLPGenerator
from lightning_gan.callbacks.noise import InstanceNoise
from lightning_gan.callbacks.unrolled import UnrolledDiscriminator


def coverage(samples: torch.Tensor, data: GaussianMixture) -> tuple[int, float, float]:
    """(modes covered, HQ fraction, median distance to the nearest centre) of ``samples``."""
    dist = torch.cdist(samples.double(), data.modes.double())
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist < 3 * data.std
    return int(nearest[hq].unique().numel()), float(hq.float().mean()), float(nearest_dist.median())


def run(arm: str, seed: int, batches: int, batch_size: int) -> tuple[int, float, float, float]:
    L.seed_everything(seed, verbose=False)
    data = GaussianMixture("ring", n_samples=batch_size * 200, batch_size=batch_size, seed=seed)
    gan = GAN(
        MLPGenerator(latent_dim=16, hidden=128, depth=2),
        MLPDiscriminator(hidden=128, depth=2),
        loss="non_saturating",
        lr_g=1e-3,  # Metz et al. 2016 settings, for every arm
        lr_d=1e-4,
    )
    callbacks = {
        "plain": [],
        "unrolled5": [UnrolledDiscriminator(steps=5)],
        "noise0.1": [InstanceNoise(std=0.1, schedule="linear", anneal_steps=batches)],
    }[arm]
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2 * batches,  # global_step counts the D and the G step of each batch
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    trainer.fit(gan, data)
    seconds = time.perf_counter() - start
    torch.manual_seed(10_000 + seed)
    return (*coverage(gan.sample(2500), data), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["plain", "unrolled5", "noise0.1"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print("arm        seed  modes/8  HQ%    median-dist  seconds")
    for arm in args.arms:
        for seed in args.seeds:
            modes, hq, median, seconds = run(arm, seed, args.batches, args.batch_size)
            print(
                f"{arm:<10} {seed:>4}  {modes:>7}  {100 * hq:5.1f}  {median:11.3f}  {seconds:7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
