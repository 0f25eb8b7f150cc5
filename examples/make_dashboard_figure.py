"""Train a GAN on the 8-Gaussian ring and draw what its dashboard shows, as one PNG.

The README figure ``docs/figures/dashboard.png`` is made by this script from a real run:

    python examples/make_dashboard_figure.py --batches 1500 --out docs/figures/dashboard.png

The run logs to a CSVLogger (and, with ``--wandb``, also to an offline W&B run); the figure is
drawn from the logged metrics and the ``SampleLogger`` pictures, one panel per dashboard chart,
each titled with the metric keys you would find in W&B or TensorBoard.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from pathlib import Path

import lightning as L
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from lightning_gan.callbacks.health import FLAGS, GANHealth
from lightning_gan.callbacks.samples import SampleLogger
from lightning_gan.data import GaussianMixture
from lightning_gan.module import GAN
from lightning_gan.nets import MLPDiscriminator, MLPGenerator


def train(batches: int, log_dir: Path, use_wandb: bool, seed: int) -> tuple[Path, Path]:
    """Fit a ring GAN with GANHealth and SampleLogger; return (metrics.csv, samples folder)."""
    L.seed_everything(seed, verbose=False)
    data = GaussianMixture("ring", n_samples=64_000, batch_size=256, seed=seed)
    generator = MLPGenerator(latent_dim=2, hidden=128, depth=3)
    gan = GAN(generator, MLPDiscriminator(hidden=128), lr_g=1e-3, lr_d=1e-3)
    every = 10
    loggers: list = [L.pytorch.loggers.CSVLogger(log_dir, name="ring")]
    if use_wandb:
        wandb_logger = L.pytorch.loggers.WandbLogger(
            project="lightning-gan", save_dir=log_dir, offline=True
        )
        loggers.append(wandb_logger)
    samples = SampleLogger(every_n_steps=max(batches // 60, 1))  # W&B shows them on a slider
    trainer = L.Trainer(
        max_steps=2 * batches,  # a batch is one D and one G optimizer step
        accelerator="cpu",
        logger=loggers,
        log_every_n_steps=every,  # dense loss curves (GANHealth logs on its own schedule)
        callbacks=[GANHealth(every_n_steps=every), samples],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(gan, data)
    if use_wandb:
        import wandb

        wandb.finish()
    csv_dir = Path(loggers[0].log_dir)
    return csv_dir / "metrics.csv", csv_dir / "samples"


def read_metrics(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each column of Lightning's metrics.csv as (batch, value) arrays, empty cells dropped."""
    series: dict[str, list[tuple[float, float]]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            # Lightning's `step` counts batches done before this one; with n_critic=1 a batch
            # is one generator step (the x axis of every GANHealth / SampleLogger value).
            batch = float(row["step"]) + 1
            for key, value in row.items():
                if key not in ("step", "epoch") and value not in ("", None):
                    series.setdefault(key, []).append((batch, float(value)))
    return {k: tuple(np.array(v).T) for k, v in series.items()}


def smooth(y: np.ndarray, k: int = 5) -> np.ndarray:
    """Centred moving average that stays unbiased at the ends (W&B-like smoothing)."""
    window = np.ones(k)
    return np.convolve(y, window, mode="same") / np.convolve(np.ones_like(y), window, mode="same")


def draw(metrics: dict, samples_dir: Path, out: Path) -> None:
    pictures = sorted(samples_dir.glob("samples_step*.png"))
    steps = np.array([int(p.stem[-7:]) for p in pictures])
    # early, two intermediate, last: where the run moves most is at the start
    picks = [pictures[int(np.abs(steps - f * steps[-1]).argmin())] for f in (0.02, 0.15, 0.4, 1)]
    fig = Figure(figsize=(16, 8.4), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 4, hspace=0.25, wspace=0.35)
    for i, path in enumerate(picks):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(np.asarray(Image.open(path)))
        ax.set_axis_off()
        ax.set_title(f"samples (generator step {int(path.stem[-7:])})", fontsize=10)

    def panel(col: int, title: str, keys: list[str], log: bool = False, ylabel: str = ""):
        ax = fig.add_subplot(grid[1, col])
        for key in keys:
            if key in metrics:
                x, y = metrics[key]
                ax.plot(x, smooth(y), lw=1.2, label=key)
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        return ax

    panel(0, "losses", ["loss/d", "loss/g"])
    ax = panel(1, "health: gradient norms", ["health/grad_norm_g", "health/grad_norm_d"], log=True)
    ax.axhline(1e-3, color="grey", ls="--", lw=0.8, label="vanishing_grad_norm")
    ax.legend(fontsize=8, loc="best")
    keys = ["health/diversity_ratio", "health/energy_distance", "health/oscillation_score"]
    ax = panel(2, "health: samples vs data, D-loss swing", keys)
    ax.axhline(0.1, color="grey", ls="--", lw=0.8, label="collapse_ratio")
    ax.legend(fontsize=8, loc="best")
    ax = fig.add_subplot(grid[1, 3])
    for i, flag in enumerate(FLAGS):
        key = f"health/{flag}"
        if key in metrics:
            x, y = metrics[key]
            ax.step(x, y * 0.8 + i, where="post", lw=1.5)
    ax.set_yticks(range(len(FLAGS)), FLAGS, fontsize=8)
    ax.set_ylim(-0.3, len(FLAGS))
    quiet = "; all stayed 0 in this run" if _quiet(metrics) else ""
    ax.set_title(f"health/<flag> (0/1{quiet})", fontsize=10)
    ax.set_xlabel("generator step")
    ax.grid(alpha=0.3)
    fig.suptitle("W&B / TensorBoard dashboard of a ring-of-8 GAN run (GANHealth + SampleLogger)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")


def _quiet(metrics: dict) -> bool:
    return all(
        not (f"health/{f}" in metrics and np.nanmax(metrics[f"health/{f}"][1]) > 0) for f in FLAGS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/dashboard.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wandb", action="store_true", help="also log to an offline W&B run")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the logs here")
    parser.add_argument("--threads", type=int, default=1, help="tiny MLPs run best on one")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = args.log_dir or Path(tmp)
        metrics_csv, samples_dir = train(args.batches, log_dir, args.wandb, args.seed)
        metrics = read_metrics(metrics_csv)
        draw(metrics, samples_dir, args.out)
    last = {k: v[1][-1] for k, v in metrics.items() if k.startswith("health/")}
    print(f"wrote {args.out}; last health values:")
    for key, value in sorted(last.items()):
        print(f"  {key:28s} {value:.4g}" if math.isfinite(value) else f"  {key:28s} {value}")


if __name__ == "__main__":
    main()
