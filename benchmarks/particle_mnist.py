"""Durr et al.'s high-dimensional experiment: particles in 784 dimensions against 100 MNIST images.

    python benchmarks/particle_mnist.py               # defaults: ~2-3 CPU-minutes
    python benchmarks/particle_mnist.py --full        # 2 seeds, 3000 steps, finer grids
    python benchmarks/particle_mnist.py --plot-only   # redraw the figure from the JSON

``N = 100`` particles start as small noise around the origin (``0.05 z``, a freshly initialised
generator whose outputs barely differ) and move as the coarse-grained kernel couples them
(``kappa`` off the diagonal, rows normalised) against 100 real MNIST5k images (10 per digit,
pixels in [-1, 1]) and a trained one-hidden-layer ReLU discriminator (logistic loss, Adam with
betas (0.5, 0.999)). Swept: the discriminator's learning rate x ``kappa``, as one batch.

Diversity: the mean over particles of the cosine distance to the nearest real image (quality:
small is close to a digit) and the entropy of the nearest-image assignments (diversity:
``log 100 = 4.61`` nats if every particle picks a different image, 0 if all pick one). The same
two numbers for 100 other real images give the reference of a perfect generator. Outcomes are
classified with :func:`~lightning_gan.dynamics.outcomes.classify_outcomes` (the 100 images as
modes, cosine distance, high quality within the real images' own median nearest-image distance;
converged = covering at least as many images as the 100 other real images do).

Writes the ``mnist`` records of ``docs/results/particle_model.json`` and
``particle_mnist.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lightning_gan.data.mnist5k import load_mnist5k  # noqa: E402
from lightning_gan.dynamics.critics import ReLUCritic  # noqa: E402
from lightning_gan.dynamics.outcomes import classify_outcomes, nearest_modes  # noqa: E402
from lightning_gan.dynamics.particle_model import coarse_kernel, simulate_particles_nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "particle_model.json"
LR_D = (1e-4, 1e-3, 1e-2)
KAPPAS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)


def mnist_subset(per_class: int, offset: int = 0) -> torch.Tensor:
    """``10 * per_class`` MNIST5k images, ``per_class`` of each digit, flattened ``[M, 784]``."""
    images, labels = load_mnist5k()
    idx = torch.cat([torch.nonzero(labels == c)[offset : offset + per_class, 0] for c in range(10)])
    return images[idx].reshape(len(idx), -1)


def entropy(index: torch.Tensor, n_modes: int) -> torch.Tensor:
    """Entropy (nats) of the nearest-image histogram per row of ``index`` ``[..., N]``."""
    counts = torch.nn.functional.one_hot(index, n_modes).sum(dim=-2).double()
    p = counts / counts.sum(dim=-1, keepdim=True)
    return (-(p * p.clamp(min=1e-300).log()).sum(dim=-1)).clamp(min=0.0)


def sweep(args: argparse.Namespace) -> tuple[list[dict], dict, torch.Tensor]:
    real = mnist_subset(10)
    reference = mnist_subset(10, offset=10)
    ref_dist, ref_index = nearest_modes(reference, real, "cosine")
    self_dist = (
        1.0
        - torch.nn.functional.normalize(real, dim=-1)
        @ torch.nn.functional.normalize(real, dim=-1).T
    )
    hq_radius = float(self_dist.fill_diagonal_(math.inf).min(dim=-1).values.median())
    ref_good = ref_dist <= hq_radius
    ref = {
        "covered": int(ref_index[ref_good].unique().numel()),
        "mean_min_cosine": float(ref_dist.mean()),
        "entropy": float(entropy(ref_index, len(real))),
        "distinct": int(ref_index.unique().numel()),
        "hq_radius": hq_radius,
    }
    configs = [(lr, k, s) for s in range(args.seeds) for lr in args.lr_d for k in args.kappas]
    batch = len(configs)
    kernel = torch.cat(
        [coarse_kernel(args.particles, k, dtype=torch.float32) for _, k, _ in configs]
    )
    x0 = torch.cat(
        [
            args.init
            * torch.randn(1, args.particles, 784, generator=torch.Generator().manual_seed(s))
            for _, _, s in configs
        ]
    )
    critic = ReLUCritic.init(batch, 784, args.hidden, torch.Generator().manual_seed(args.seed))
    start = time.perf_counter()
    run = simulate_particles_nn(
        x0,
        real,
        kernel,
        critic,
        steps=args.steps,
        lr_g=args.lr_g,
        lr_d=torch.tensor([lr for lr, _, _ in configs]),
        penalty=args.penalty,
        optimizer="adam",
        record_every=max(1, args.steps // 50),
    )
    seconds = time.perf_counter() - start
    window = max(2, run.x.shape[0] // 5)
    dist, index = nearest_modes(run.x[-window:], real, "cosine")
    out = classify_outcomes(dist, index, len(real), hq_radius, 0.5, required=ref["covered"])
    ent = entropy(index[-1], len(real))
    records = []
    for b, (lr, kappa, seed) in enumerate(configs):
        records.append(
            {
                "experiment": "mnist",
                "n_particles": args.particles,
                "dim": 784,
                "n_images": len(real),
                "kernel": "coarse",
                "coupling": kappa,
                "critic": "relu",
                "hidden": args.hidden,
                "optimizer": "adam",
                "lr_d": lr,
                "lr_g": args.lr_g,
                "penalty": args.penalty,
                "steps": args.steps,
                "seed": seed,
                "outcome": out.labels[b],
                "modes_covered": int(out.covered[b]),
                "n_modes": len(real),
                "high_quality": round(float(out.high_quality[b]), 4),
                "mean_min_cosine": round(float(dist[-1, b].mean()), 4),
                "entropy": round(float(ent[b]), 4),
                "distinct_nearest": int(index[-1, b].unique().numel()),
                "mean_norm": round(float(run.x[-1, b].norm(dim=-1).mean()), 3),
            }
        )
    print(f"  {batch} configs x {args.steps} steps: {seconds:.1f}s", flush=True)
    return records, ref, run.x[-1]


def plot(records: list[dict], reference: dict, samples: torch.Tensor | None, path: Path) -> None:
    """Heatmaps of entropy and mean min cosine distance over lr_D x kappa; sample particles."""
    recs = [r for r in records if r["experiment"] == "mnist"]
    lrs = sorted({r["lr_d"] for r in recs})
    kappas = sorted({r["coupling"] for r in recs})
    fig = plt.figure(figsize=(12, 7.0 if samples is not None else 4.4))
    ratios = [1.4, 0.6] if samples is not None else [1.0]
    grid_spec = fig.add_gridspec(len(ratios), 2, height_ratios=ratios)
    axes = [fig.add_subplot(grid_spec[0, 0]), fig.add_subplot(grid_spec[0, 1])]
    if samples is not None:
        axes.append(fig.add_subplot(grid_spec[1, :]))
    for ax, key, title, vmax in (
        (
            axes[0],
            "entropy",
            f"nearest-image entropy (nats; real: {reference['entropy']:.2f})",
            math.log(100),
        ),
        (
            axes[1],
            "mean_min_cosine",
            f"mean min cosine distance (real: {reference['mean_min_cosine']:.3f})",
            None,
        ),
    ):
        grid = torch.full((len(lrs), len(kappas)), math.nan)
        for i, lr in enumerate(lrs):
            for j, k in enumerate(kappas):
                vals = [r[key] for r in recs if r["lr_d"] == lr and r["coupling"] == k]
                grid[i, j] = sum(vals) / len(vals)
        im = ax.imshow(grid.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
        for i in range(len(lrs)):
            for j in range(len(kappas)):
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="w" if grid[i, j] < 0.6 * float(grid.nan_to_num(0).max()) else "k",
                )
        ax.set_xticks(range(len(kappas)), [f"{k:g}" for k in kappas])
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_xlabel("kernel coupling kappa")
        ax.set_ylabel("discriminator learning rate (Adam)")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if samples is not None:
        rows = []
        picks = [(max(lrs), k) for k in (kappas[0], 0.1, kappas[-1]) if k in kappas]
        for lr, k in picks:
            b = next(i for i, r in enumerate(recs) if r["lr_d"] == lr and r["coupling"] == k)
            imgs = samples[b, :20].reshape(20, 28, 28).clamp(-1, 1)
            rows.append(torch.cat(list(imgs), dim=1))
        axes[2].imshow(torch.cat(rows, dim=0).numpy(), cmap="gray", vmin=-1, vmax=1)
        axes[2].set_yticks(
            [14 + 28 * i for i in range(len(picks))], [f"kappa={k:g}" for _, k in picks]
        )
        axes[2].set_xticks([])
        axes[2].set_title(f"20 of the 100 particles at the end, lr_D={max(lrs):g}", fontsize=9)
    fig.suptitle("100 particles in 784-d against 100 MNIST images (coarse kernel, ReLU critic)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--samples", type=Path, default=Path("/tmp/particle_mnist_samples.pt"))
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr-d", type=float, nargs="+", default=list(LR_D))
    parser.add_argument("--kappas", type=float, nargs="+", default=list(KAPPAS))
    parser.add_argument("--lr-g", type=float, default=1.0)
    parser.add_argument("--penalty", type=float, default=0.0, help="R1 strength")
    parser.add_argument("--init", type=float, default=0.05, help="initial particle noise std")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="2 seeds, 3000 steps")
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.plot_only:
        data = json.loads(args.out.read_text())
        samples = torch.load(args.samples) if args.samples.exists() else None
        plot(
            data["records"],
            data["meta"]["mnist_reference"],
            samples,
            args.figures / "particle_mnist.png",
        )
        return
    if args.full:
        args.seeds, args.steps = 2, 3000
    start, cpu = time.perf_counter(), time.process_time()
    records, reference, final = sweep(args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    torch.save(final, args.samples)
    old = json.loads(args.out.read_text()) if args.out.exists() else {"meta": {}, "records": []}
    old["meta"].update(
        {
            "script_mnist": "benchmarks/particle_mnist.py" + (" --full" if args.full else ""),
            "seconds_mnist": round(seconds, 1),
            "cpu_seconds_mnist": round(cpu, 1),
            "mnist_reference": reference,
        }
    )
    kept = [r for r in old["records"] if r["experiment"] != "mnist"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"meta": old["meta"], "records": kept + records}, indent=1) + "\n"
    )
    args.figures.mkdir(parents=True, exist_ok=True)
    plot(records, reference, final, args.figures / "particle_mnist.png")
    print(f"wrote {args.out} and {args.figures / 'particle_mnist.png'}; total {seconds:.1f}s")


if __name__ == "__main__":
    main()
