"""Evidence for the state-of-the-art remedies, same budget per arm, mean ± std over seeds.

* limited data: MNIST5k cut to 500 and 1000 images; no augmentation vs ``DiffAugment`` vs
  ``AdaptiveAugment`` (ADA); FID, precision and recall in the shipped MNIST feature space,
  5000 generated samples against all 5000 real digits (the held-out ones included, so a
  generator that memorises its few training images is penalised); ADA's ``p`` over training;
* the same on 500 images for ``LONG`` times the batches (``limited_long``): augmentation is a
  remedy for a discriminator that has memorised its data, which takes longer than the short
  budget to happen;
* consistency and LeCam regularisation on scikit-learn digits (8x8): FID / precision / recall in
  the shipped digits feature space.

(Packing and minibatch-std are measured on the grid and Stacked MNIST by
``benchmarks/mode_collapse.py``.) Writes ``docs/results/remedies_evidence.json`` and
``docs/figures/ada_p.png``.

    python benchmarks/remedies_evidence.py                 # every study, 3 seeds
    python benchmarks/remedies_evidence.py --studies digits --seeds 0
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning import LightningDataModule
from torch.utils.data import TensorDataset

from lightning_gan import (
    GAN,
    AdaptiveAugment,
    ConsistencyRegularization,
    DCGANDiscriminator,
    DCGANGenerator,
    DiffAugment,
    LeCamRegularization,
    shuffled_loader,
)
from lightning_gan.data.digits import load_digits_tensors
from lightning_gan.data.mnist5k import load_mnist5k
from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.sampling import generated_batches, seeded_rng

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "remedies_evidence.json"
LONG = 3  # the limited_long study trains this many times the batches of the others


class Subset(LightningDataModule):
    """The first ``n`` images of a shuffled (seeded) tensor set, stratified by nothing."""

    def __init__(self, images: torch.Tensor, n: int, seed: int, batch_size: int) -> None:
        super().__init__()
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        self.images = images[order[:n]]
        self.batch_size = min(batch_size, n)

    def train_dataloader(self):
        return shuffled_loader(TensorDataset(self.images), self.batch_size)


class RecordP(L.Callback):
    def __init__(self, ada: AdaptiveAugment) -> None:
        self.ada, self.curve = ada, []

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if pl_module.d_steps % 50 == 0:
            self.curve.append((pl_module.d_steps, float(self.ada.p)))


def _arm_callbacks(arm: str, speed: int) -> list:
    return {
        "none": [],
        "diffaugment": [DiffAugment()],
        "diffaugment_translation": [DiffAugment(policy="translation")],
        "ada": [AdaptiveAugment(target=0.6, speed_images=speed)],
        "bcr": [ConsistencyRegularization(weight=10.0)],
        "lecam": [LeCamRegularization(weight=0.3)],
    }[arm]


def _settings(arm: str, batches: int, speed: int) -> dict:
    """What the arm ran with, stored in its record so every table row can state it."""
    base = {"budget": f"{batches} batches of 64", "nets": "DCGAN, hinge, lr 2e-4, betas (0, 0.999)"}
    return base | {
        "none": {},
        "diffaugment": {"policy": "color,translation,cutout"},
        "diffaugment_translation": {"policy": "translation"},
        "ada": {"target": 0.6, "interval": 4, "speed_images": speed,
                "speed_vs_ada": f"{500_000 / speed:.1f}x ADA's 500k", "policy": "blit,geom,color"},
        "bcr": {"weight_real": 10.0, "weight_fake": 10.0, "policy": "flip,translation",
                "padding": "reflect"},
        "lecam": {"weight": 0.3, "ema_decay": 0.99, "anchors": "zero-debiased EMA",
                  "form": "two-sided"},
    }[arm]  # fmt: skip


def run(study: str, arm: str, n_images: int, seed: int, batches: int) -> dict:
    L.seed_everything(seed, verbose=False)
    if study in ("limited", "limited_long"):
        real = load_mnist5k()[0]
        data = Subset(real, n_images, seed, 64)
        size, width, features = 28, 32, "mnist"
    else:
        real = load_digits_tensors()[0]
        data = Subset(real, len(real), seed, 64)
        size, width, features = 8, 32, "digits"
    gan = GAN(
        DCGANGenerator(latent_dim=64, channels=1, image_size=size, width=width),
        DCGANDiscriminator(channels=1, image_size=size, width=width, norm="none"),
        loss="hinge",
        lr_g=2e-4,
        lr_d=2e-4,
        betas_g=(0.0, 0.999),
        betas_d=(0.0, 0.999),
    )
    # ADA's default speed (500k images to move p from 0 to 1) is for 100k-image runs; these are
    # 100k-image runs in total, so p may move from 0 to 1 in a fifth of the run.
    callbacks = _arm_callbacks(arm, speed=batches * 64 // 5)
    recorder = RecordP(callbacks[0]) if arm == "ada" else None
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2 * batches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks + ([recorder] if recorder else []),
    )
    start = time.process_time()
    trainer.fit(gan, data)
    seconds = time.process_time() - start
    evaluator = FeatureEvaluator(features, ("fid", "precision", "recall"))
    for i in range(0, len(real), 1000):
        evaluator.update_real(real[i : i + 1000])
    with seeded_rng(10_000 + seed, gan.device):
        for fake in generated_batches(gan, 5000, 1000):
            evaluator.update_fake(fake)
    record = {"study": study, "arm": arm, "n_images": n_images, "seed": seed, "batches": batches}
    record |= {k: float(v) for k, v in evaluator.compute().items()}
    record["train_cpu_seconds"] = round(seconds, 1)
    record["settings"] = _settings(arm, batches, batches * 64 // 5)
    if recorder is not None:
        record["ada_p"] = recorder.curve
    return record


def plot_p(records: list[dict], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in records if r.get("ada_p")]
    if not rows:
        return
    fig = Figure(figsize=(5, 3))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for r in rows:
        steps, p = zip(*r["ada_p"], strict=True)
        ax.plot(
            steps,
            p,
            color={"limited_long": "C2"}.get(r["study"], "C0" if r["n_images"] == 500 else "C1"),
            lw=1,
            label=f"{r['n_images']} images, {r['batches']} batches" if r["seed"] == 0 else None,
        )
    ax.set_xlabel("D steps")
    ax.set_ylabel("ADA p")
    ax.set_title("ADA's augmentation probability (every seed)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--studies",
        nargs="+",
        default=["limited", "digits", "limited_long"],
        choices=["limited", "digits", "limited_long"],
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=1500)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--arms", nargs="+", help="only these arms (default: all of each study)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    records = json.loads(args.results.read_text()) if args.results.exists() else []
    plan = []
    if "limited" in args.studies:
        plan += [
            ("limited", a, n)
            for n in (500, 1000)
            for a in ("none", "diffaugment", "diffaugment_translation", "ada")
        ]
    if "digits" in args.studies:
        plan += [("digits", a, 1797) for a in ("none", "bcr", "lecam")]
    if "limited_long" in args.studies:
        plan += [("limited_long", a, 500) for a in ("none", "diffaugment", "ada")]
    plan = [p for p in plan if not args.arms or p[1] in args.arms]
    for study, arm, n in plan:
        for seed in args.seeds:
            batches = args.batches * (LONG if study == "limited_long" else 1)
            record = run(study, arm, n, seed, batches)
            key = (study, arm, n, seed)
            records = [
                r for r in records if (r["study"], r["arm"], r["n_images"], r["seed"]) != key
            ]
            records.append(record)
            args.results.write_text(json.dumps(records, indent=1) + "\n")
            print(
                f"{study} {arm} n={n} seed {seed}: FID {record['fid']:.1f}, precision "
                f"{record['precision']:.3f}, recall {record['recall']:.3f}, "
                f"{record['train_cpu_seconds']:.0f} CPU-s",
                flush=True,
            )
    plot_p(records, ROOT / "docs" / "figures" / "ada_p.png")


if __name__ == "__main__":
    main()
