"""SNGAN against DCGAN on MNIST5k at 32 px, at equal CPU time: what the ResNet buys on a CPU.

The published SNGAN gains are measured at GPU budgets (100k G steps). On a CPU the question a
user faces is different: given the same minutes, is the ResNet (more FLOPs per step, fewer
steps) better than the DCGAN? Each arm trains for the same process-CPU budget on one thread,
one run at a time, with the same loss and optimizer (hinge, n_critic 1, Adam 2e-4, betas
(0, 0.9)), on MNIST5k padded to 32x32; only the networks differ:

* ``dcgan``: ``DCGANGenerator(latent 64, width 32)`` / ``DCGANDiscriminator(width 32,
  norm="none")``, the nets of ``examples/configs/mnist5k_best.yaml`` at 32 px;
* ``sngan``: ``SNGANGenerator(latent 128, width 32)`` / ``SNGANDiscriminator(width 32)``, the
  SNGAN ResNet narrowed from 256/128 to 32 so that it gets a few hundred steps.

Evaluation: 5000 samples (centre 28x28 crop, where MNIST5k's digits are) against the 5000 real
digits in the ``"mnist"`` feature space (the one the metric sanity suite checks): FID,
precision, recall, density, coverage. Sample grids of seed 0 go to ``docs/figures/``.

    python benchmarks/architectures.py        # 2 arms x 3 seeds x 120 s CPU, ~14 min of CPU
    python benchmarks/architectures.py --budget 5 --seeds 0 --samples 500 --out /tmp/a.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch import Callback
from torchvision.utils import save_image

from lightning_gan import (
    GAN,
    DCGANDiscriminator,
    DCGANGenerator,
    MNIST5k,
    SNGANDiscriminator,
    SNGANGenerator,
)
from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.sampling import generated_batches, seeded_rng

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("fid", "precision", "recall", "density", "coverage")
EVAL_SEED = 1000
FEATURE_NET = ROOT / "lightning_gan" / "weights" / "digit_net_mnist.pt"  # the "mnist" space


def build(arm: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    if arm == "dcgan":
        return (
            DCGANGenerator(latent_dim=64, channels=1, image_size=32, width=32),
            DCGANDiscriminator(channels=1, image_size=32, width=32, norm="none"),
        )
    return (
        SNGANGenerator(latent_dim=128, channels=1, image_size=32, width=32),
        SNGANDiscriminator(channels=1, image_size=32, width=32),
    )


class CPUBudget(Callback):
    """Stop training once this process has spent ``seconds`` of CPU time in ``fit``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start_cpu = self.start_wall = 0.0
        self.cpu = self.wall = 0.0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.start_cpu, self.start_wall = time.process_time(), time.perf_counter()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self.cpu = time.process_time() - self.start_cpu
        self.wall = time.perf_counter() - self.start_wall
        if self.cpu >= self.seconds:
            trainer.should_stop = True


def crop28(images: torch.Tensor) -> torch.Tensor:
    """The centre 28x28 of padded 32x32 digits: MNIST5k's own frame, the feature net's size."""
    return images[..., 2:30, 2:30]


@torch.no_grad()
def evaluate(gan: GAN, real: torch.Tensor, n: int, seed: int) -> dict[str, float]:
    evaluator = FeatureEvaluator("mnist", METRICS)
    for i in range(0, len(real), 1000):
        evaluator.update_real(real[i : i + 1000])
    with seeded_rng(EVAL_SEED + seed, gan.device):
        for fake in generated_batches(gan, n, 500):
            evaluator.update_fake(crop28(fake))
    return {k: float(v) for k, v in evaluator.compute().items() if k in METRICS}


def run(arm: str, seed: int, args: argparse.Namespace, real: torch.Tensor) -> dict[str, Any]:
    L.seed_everything(seed, verbose=False)
    g, d = build(arm)
    gan = GAN(g, d, loss="hinge", lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9))
    budget = CPUBudget(args.budget)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=10**7,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[budget],
    )
    trainer.fit(gan, MNIST5k(batch_size=64, pad_to_32=True))
    eval_start = time.process_time()
    metrics = evaluate(gan.eval(), real, args.samples, seed)
    if seed == args.seeds[0] and args.figures:
        with seeded_rng(EVAL_SEED, gan.device), torch.no_grad():
            grid = next(generated_batches(gan, 64, 64))
        save_image(grid * 0.5 + 0.5, ROOT / "docs" / "figures" / f"architectures_{arm}.png", nrow=8)
    return {
        "arm": arm,
        "seed": seed,
        "g_params": sum(p.numel() for p in g.parameters()),
        "d_params": sum(p.numel() for p in d.parameters()),
        "d_steps": gan.d_steps,
        "g_steps": gan.g_steps,
        "train_cpu_s": round(budget.cpu, 1),
        "train_wall_s": round(budget.wall, 1),
        "eval_cpu_s": round(time.process_time() - eval_start, 1),
        **metrics,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arms", nargs="+", default=["dcgan", "sngan"], choices=["dcgan", "sngan"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budget", type=float, default=120.0, help="CPU seconds of training per run")
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--reals", type=int, default=5000, help="real digits in the reference set")
    p.add_argument("--out", default=str(ROOT / "docs" / "results" / "architectures.json"))
    p.add_argument("--no-figures", dest="figures", action="store_false")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    real = MNIST5k(batch_size=64).dataset.tensors[0][: args.reals]  # real 28x28 digits
    rows = []
    for seed in args.seeds:  # one training at a time
        for arm in args.arms:
            rows.append(run(arm, seed, args, real))
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "budget_cpu_s": args.budget,
        "threads": 1,
        "samples": args.samples,
        "reals": len(real),
        "feature_space": "mnist",
        "feature_net_sha256": hashlib.sha256(FEATURE_NET.read_bytes()).hexdigest()[:16],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
