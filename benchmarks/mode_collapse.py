"""Mode-collapse study: vanilla GAN vs each remedy vs combined remedies, over several seeds.

Every arm of a dataset trains the same networks with the same optimiser, seeds and number of
batches; only the remedy callbacks differ. Evaluation follows the published protocols:

* ring of 8 / grid of 25 Gaussians (VEEGAN, PacGAN): 2500 generated samples; a sample is high
  quality (HQ) within 3 std of its nearest mode; a mode is captured if it is the nearest mode of
  at least one HQ sample; reverse KL of the HQ samples' mode histogram to uniform.
* Stacked MNIST (1000 modes): 26,000 samples (``--eval-samples`` for fewer on CPU), each channel
  read by the shipped MNIST classifier; reverse KL of the mode histogram; FID in the shipped
  digit-classifier feature space (``features="stacked_mnist"``: comparable only with itself).

``--regime tuned`` is our best recipe per dataset; ``--regime collapse`` a plain non-saturating
GAN configured to collapse (ring: batch 64, 16-d latent, 2-layer nets), where remedies show.
Results go to ``OUT/results.jsonl`` (one line per run, so an interrupted study keeps its runs and
``--resume`` skips them), ``OUT/mode_collapse_<regime>.md`` (rewritten after every run) and
``FIGURES/mode_collapse_<regime>_<dataset>.png``.

    python benchmarks/mode_collapse.py --datasets ring grid --seeds 0 1 2 --out results
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch import Callback, LightningDataModule
from torch import Tensor, nn

from lightning_gan.callbacks.ema import GeneratorEMA
from lightning_gan.callbacks.gradient_penalty import GradientPenalty, R1Penalty
from lightning_gan.callbacks.noise import InstanceNoise
from lightning_gan.callbacks.spectral_norm import SpectralNorm
from lightning_gan.callbacks.unrolled import UnrolledDiscriminator
from lightning_gan.data.gaussian_mixture import GaussianMixture
from lightning_gan.data.stacked_mnist import StackedMNIST
from lightning_gan.metrics.mode_coverage import coverage_for
from lightning_gan.metrics.sampling import generated_batches, real_batches, seeded_rng
from lightning_gan.module import GAN
from lightning_gan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gan.nets.mlp import MLPDiscriminator, MLPGenerator

COLUMNS = ("dataset", "arm", "modes", "HQ %", "reverse KL", "FID", "train s", "modes per seed")
EVAL_SEED = 10_000  # generated samples are drawn with seed EVAL_SEED + run seed


@dataclass(frozen=True)
class Setting:
    """One dataset's recipe: data, networks and optimiser shared by every arm, and the strength
    of each remedy (remedies are scaled to the data: narrow 2-D modes need a sharp D)."""

    data: Callable[[int], LightningDataModule]
    nets: Callable[[], tuple[nn.Module, nn.Module]]
    batches: int
    eval_samples: int
    gan: dict[str, Any] = field(default_factory=dict)
    noise_std: float = 0.1
    gp_weight: float = 0.1
    r1_gamma: float = 0.1
    ema_decay: float = 0.999
    unrolled_steps: int = 5
    combined: tuple[str, ...] = ("r1", "ema")


def _mlp(latent: int, hidden: int, depth: int = 3) -> Callable[[], tuple[nn.Module, nn.Module]]:
    return lambda: (
        MLPGenerator(latent_dim=latent, out_dim=2, hidden=hidden, depth=depth),
        MLPDiscriminator(in_dim=2, hidden=hidden, depth=depth),
    )


def _mixture(layout: str, batch_size: int) -> Callable[[int], LightningDataModule]:
    return lambda seed: GaussianMixture(layout, n_samples=100_000, batch_size=batch_size, seed=seed)


def _stacked_nets(width: int) -> tuple[nn.Module, nn.Module]:
    # Layer norm in D: per-sample, so the gradient-penalty arms are valid with the same nets.
    return (
        DCGANGenerator(latent_dim=64, channels=3, image_size=28, width=width),
        DCGANDiscriminator(channels=3, image_size=28, width=width, norm="layer"),
    )


# Tuned (docs/mode_collapse.md): Adam 1e-3 for both nets, a 2-d latent, batch 256. EMA with a
# short horizon (0.99 per G step): at this learning rate 0.999 averages weights that are too far
# apart and blurs the modes. R1's gamma scales with std^2 (D's slope grows as 1/std): 0.1 for
# the grid (std 0.05), 0.004 for the ring (std 0.01).
_FAST = {"lr_g": 1e-3, "lr_d": 1e-3}
SETTINGS: dict[str, dict[str, Setting]] = {
    "tuned": {
        "ring": Setting(
            _mixture("ring", 256),
            _mlp(2, 128),
            3000,
            2500,
            _FAST,
            gp_weight=0.01,
            r1_gamma=0.004,
            ema_decay=0.99,
        ),
        "grid": Setting(
            _mixture("grid", 256),
            _mlp(2, 128),
            5000,
            2500,
            _FAST,
            noise_std=0.3,
            gp_weight=0.1,
            r1_gamma=0.1,
            ema_decay=0.99,
        ),
        "stacked_mnist": Setting(
            lambda seed: StackedMNIST(n_samples=50_000, batch_size=64, seed=seed),
            lambda: _stacked_nets(16),
            1500,
            26_000,
            {"lr_g": 2e-4, "lr_d": 2e-4},
            gp_weight=1.0,
            r1_gamma=1.0,
            ema_decay=0.99,
        ),
    },
    # Collapse-prone: the ring with batch 64, a 16-d latent and 2 hidden layers; the plain GAN
    # ends on one mode (measured on seeds 0 and 1) while every remedy spreads out.
    "collapse": {
        "ring": Setting(
            _mixture("ring", 64),
            _mlp(16, 128, 2),
            2000,
            2500,
            _FAST,
            gp_weight=0.1,
            r1_gamma=0.004,
            ema_decay=0.99,
            combined=("noise", "r1", "ema"),
        ),
        "grid": Setting(_mixture("grid", 64), _mlp(16, 128, 2), 3000, 2500, _FAST, noise_std=0.3),
    },
}

Arm = Callable[[Setting, int], list[Callback]]
ARMS: dict[str, Arm] = {
    "vanilla": lambda s, n: [],
    "unrolled": lambda s, n: [UnrolledDiscriminator(steps=s.unrolled_steps)],
    # Annealed to zero over the first half, so the second half fits the modes noise-free.
    "noise": lambda s, n: [InstanceNoise(std=s.noise_std, anneal_steps=max(n // 2, 1))],
    "gp": lambda s, n: [GradientPenalty(weight=s.gp_weight)],
    "r1": lambda s, n: [R1Penalty(gamma=s.r1_gamma)],
    "ema": lambda s, n: [GeneratorEMA(decay=s.ema_decay)],
    "sn": lambda s, n: [SpectralNorm()],
}
ARMS["combined"] = lambda s, n: [cb for arm in s.combined for cb in ARMS[arm](s, n)]


# ------------------------------------------------------------------------------- evaluation
_REAL_FID: dict[int, Any] = {}  # eval_samples -> FID metric holding the real statistics


def _stacked_fid(gan: Any, n: int, seed: int) -> float:
    """FID in the shipped Stacked MNIST feature space; real statistics computed once per ``n``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from lightning_gan.metrics.domain_features import domain_features

    if n not in _REAL_FID:
        fid = FrechetInceptionDistance(
            feature=domain_features("stacked_mnist"), reset_real_features=False
        )
        reference = StackedMNIST(n_samples=max(n, 2), seed=12_345)  # triples unlike training's
        for batch in real_batches(reference.dataset, n, 1000, gan.real_from_batch):
            fid.update(batch, real=True)
        _REAL_FID[n] = fid
    fid = _REAL_FID[n]
    with seeded_rng(EVAL_SEED + seed, gan.device):
        for fake in generated_batches(gan, n, 1000):
            fid.update(fake, real=False)
    value = float(fid.compute())
    fid.reset()
    return value


class _RawGenerator:
    """``gan`` sampled from its trained generator, not from the EMA one ``gan.sample`` uses."""

    def __init__(self, gan: GAN) -> None:
        self.gan, self.device, self.real_from_batch = gan, gan.device, gan.real_from_batch

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        generator = self.gan.generator
        was_training = generator.training
        generator.eval()
        try:
            return generator(self.gan.sample_latent(n))
        finally:
            generator.train(was_training)


def evaluate(gan: Any, data: LightningDataModule, n: int, seed: int) -> tuple[dict, Tensor]:
    """The protocol's numbers for ``n`` samples of ``gan.sample()``, and the samples to plot
    (all of them in 2-D, 16 images)."""
    metric = coverage_for(data)
    kept: list[Tensor] = []
    with seeded_rng(EVAL_SEED + seed, gan.device):
        for fake in generated_batches(gan, n, 1000):
            metric.update(fake)
            kept.append(fake if fake.dim() == 2 else fake[:16])
    result = metric.compute()
    values = {
        "modes": int(result["modes"]),
        "n_modes": metric.n_modes,
        "hq_fraction": float(result["hq_fraction"]),
        "kl": float(result["kl"]),
    }
    if isinstance(data, StackedMNIST):
        values["fid"] = _stacked_fid(gan, n, seed)
    return values, torch.cat(kept)[: n if kept[0].dim() == 2 else 16]


def without_ema(setting: Setting, arm: str) -> str | None:
    """The arm that trains exactly like ``arm`` and differs only by sampling from the raw
    generator: the EMA is passive (it never touches training or its random stream), so one run
    measures both. ``None`` if there is no such arm."""
    if arm == "ema":
        return "vanilla"
    rest = [a for a in setting.combined if a != "ema"]
    return rest[0] if arm == "combined" and "ema" in setting.combined and len(rest) == 1 else None


def run_one(
    setting: Setting,
    arm: str,
    seed: int,
    batches: int,
    eval_samples: int,
    also_raw: bool = False,
) -> list[dict]:
    """Train one arm on one seed and evaluate it; with ``also_raw``, also evaluate the raw
    generator of an EMA arm as the arm :func:`without_ema` names. Returns one record per arm
    (with its samples under ``"samples"``)."""
    L.seed_everything(seed, verbose=False)
    data = setting.data(seed)
    generator, discriminator = setting.nets()
    gan = GAN(generator, discriminator, loss="non_saturating", **setting.gan)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=2 * batches,  # global_step counts the D and the G step of every batch
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=ARMS[arm](setting, batches),
    )
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.fit(gan, datamodule=data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    common = {"seed": seed, "batches": batches, "eval_samples": eval_samples}
    common |= {"train_wall_s": wall, "train_cpu_s": cpu, "g_steps": gan.g_steps}
    arms = [(arm, gan)]
    raw_arm = without_ema(setting, arm) if also_raw else None
    if raw_arm is not None:
        arms.append((raw_arm, _RawGenerator(gan)))
    records = []
    for name, sampler in arms:
        values, samples = evaluate(sampler, data, eval_samples, seed)
        shared = {} if name == arm else {"trained_by": arm}
        records.append({"arm": name} | common | values | shared | {"samples": samples})
    return records


# ---------------------------------------------------------------------------------- report
def _mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values if not math.isnan(v)]
    if not values:
        return "—"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def markdown_table(records: Sequence[dict]) -> str:
    """Mean ± sample std over seeds per (dataset, arm), in ARMS order."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    for dataset in datasets:
        for arm in ARMS:
            rows = sorted(
                (r for r in records if r["dataset"] == dataset and r["arm"] == arm),
                key=lambda r: r["seed"],
            )
            if not rows:
                continue
            stacked = "fid" in rows[0]
            cells = [
                dataset,
                arm,
                _mean_std([r["modes"] for r in rows]) + f" / {rows[0]['n_modes']}",
                "—" if stacked else _mean_std([r["hq_fraction"] for r in rows], 100),
                _mean_std([r["kl"] for r in rows], digits=3),
                _mean_std([r["fid"] for r in rows], digits=2) if stacked else "—",
                _mean_std([r["train_wall_s"] for r in rows], digits=0),
                "/".join(str(r["modes"]) for r in rows),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_samples(records: Sequence[dict], samples: dict[tuple, Tensor], path: Path) -> None:
    """2-D: one panel per (seed, arm) with the modes marked; images: a 4x4 grid per arm."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arms = [a for a in ARMS if any(r["arm"] == a for r in records)]
    seeds = sorted({r["seed"] for r in records})
    images = next(iter(samples.values())).dim() == 4
    rows = 1 if images else len(seeds)
    fig = Figure(figsize=(2.3 * len(arms), 2.4 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, len(arms), squeeze=False)
    by_key = {(r["arm"], r["seed"]): r for r in records}
    for j, arm in enumerate(arms):
        for i in range(rows):
            ax, seed = axes[i][j], seeds[i]
            ax.set_xticks([])
            ax.set_yticks([])
            key = (arm, seed)
            if key not in samples:
                continue
            record, x = by_key[key], samples[key]
            if images:
                grid = (x[:16].clamp(-1, 1) + 1) / 2  # [16, 3, H, W]
                h = grid.shape[-1]
                grid = grid.view(4, 4, 3, h, h).permute(0, 3, 1, 4, 2).reshape(4 * h, 4 * h, 3)
                ax.imshow(grid.numpy())
                ax.set_title(f"{arm}\n{record['modes']} modes", fontsize=8)
                continue
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.3, color="tab:blue", rasterized=True)
            modes = record["mode_centres"]
            ax.scatter(*zip(*modes, strict=True), s=12, marker="x", color="tab:red")
            lim = 1.25 * max(abs(v) for m in modes for v in m) + 0.25
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            hq = 100 * record["hq_fraction"]
            ax.set_title(f"{arm} s{seed}: {record['modes']} modes, {hq:.0f}% HQ", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


# ------------------------------------------------------------------------------------ main
KEY = ("regime", "dataset", "arm", "seed", "batches", "eval_samples")


def _sample_path(out: Path, record: dict) -> Path:
    return out / "samples" / ("_".join(str(record[k]) for k in KEY) + ".pt")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", choices=sorted(SETTINGS), default="tuned")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid", "stacked_mnist"])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="batches (= G steps) per run; default per data")
    parser.add_argument("--eval-samples", type=int, help="default: the protocol's 2500 / 26,000")
    parser.add_argument("--out", type=Path, default=Path("mode_collapse_results"))
    parser.add_argument("--figures", type=Path, help="where the PNGs go (default: --out)")
    parser.add_argument("--resume", action="store_true", help="skip runs already in results")
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets if d not in SETTINGS[args.regime]]
    if unknown:
        parser.error(f"--regime {args.regime} has no {unknown}: use {list(SETTINGS[args.regime])}")
    if (args.steps or 1) < 1 or (args.eval_samples or 1) < 1:
        parser.error("--steps and --eval-samples must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Run the requested (dataset, arm, seed) grid; returns the new records."""
    args = _parse(argv)
    torch.set_num_threads(1)  # comparable timings on a shared machine
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    done = [json.loads(line) for line in results.open()] if results.exists() else []
    new: list[dict] = []
    for dataset in args.datasets:
        setting = SETTINGS[args.regime][dataset]
        base = {"regime": args.regime, "dataset": dataset}
        base |= {"batches": args.steps or setting.batches}
        base |= {"eval_samples": args.eval_samples or setting.eval_samples}
        # Arms measured by the run of an EMA arm (same training, raw generator) are not rerun.
        shared = {
            raw: arm
            for arm in args.arms
            if (raw := without_ema(setting, arm)) in args.arms and raw != arm
        }
        for arm in args.arms:
            if arm in shared:
                continue
            for seed in args.seeds:
                wanted = [base | {"arm": a, "seed": seed} for a in (arm, *_raw_of(shared, arm))]
                if args.resume and all(_find(done, w) for w in wanted):
                    continue
                runs = run_one(
                    setting,
                    arm,
                    seed,
                    base["batches"],
                    base["eval_samples"],
                    also_raw=len(wanted) > 1,
                )
                for record in runs:
                    samples = record.pop("samples")
                    record = base | record
                    if samples.dim() == 2:
                        record["mode_centres"] = setting.data(seed).modes.tolist()
                    _sample_path(args.out, record).parent.mkdir(exist_ok=True)
                    torch.save(samples, _sample_path(args.out, record))
                    done = [r for r in done if not _same(r, record)] + [record]
                    new.append(record)
                    _report(record)
                with results.open("w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in done)
                mine = [r for r in done if r["regime"] == args.regime]
                (args.out / f"mode_collapse_{args.regime}.md").write_text(markdown_table(mine))
        runs = [
            r
            for r in done
            if _same(r, base, ("regime", "dataset", "batches", "eval_samples"))
            and r["arm"] in args.arms
            and r["seed"] in args.seeds
        ]
        found = {
            (r["arm"], r["seed"]): torch.load(_sample_path(args.out, r))
            for r in runs
            if _sample_path(args.out, r).exists()
        }
        if found:
            figure = (args.figures or args.out) / f"mode_collapse_{args.regime}_{dataset}.png"
            plot_samples(runs, found, figure)
    return new


def _raw_of(shared: dict[str, str], arm: str) -> list[str]:
    return [raw for raw, trained_by in shared.items() if trained_by == arm]


def _same(a: dict, b: dict, keys: Sequence[str] = KEY) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


def _find(records: Sequence[dict], key: dict) -> bool:
    return any(_same(r, key) for r in records)


def _report(r: dict) -> None:
    print(
        f"{r['regime']} {r['dataset']} {r['arm']} seed {r['seed']}: {r['modes']}/{r['n_modes']} "
        f"modes, HQ {100 * r['hq_fraction']:.1f}%, KL {r['kl']:.3f}, "
        f"FID {r.get('fid', math.nan):.2f}, {r['train_wall_s']:.0f} s wall / "
        f"{r['train_cpu_s']:.0f} s CPU"
        + (f" (trained by {r['trained_by']})" if "trained_by" in r else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
