"""Class-conditional GANs: does G(z, k) make class k? Measured on the shipped data, per seed.

* ring of 8 (label = mode index): share of each label's samples within 3 std of that label's
  mode (2400 samples, balanced labels); the worst label is reported;
* scikit-learn digits (8x8) and MNIST5k (28x28): share of samples the shipped digit classifier
  reads as the asked digit (1000 samples, balanced labels).

The configs are the ones in ``examples/configs/*_conditional.yaml`` (same networks, optimiser and
budget). Writes ``docs/results/conditional.json`` and ``docs/figures/conditional_<data>.png``.

    python benchmarks/conditional.py                       # ring + digits, 3 seeds (~3 CPU-min)
    python benchmarks/conditional.py --datasets mnist5k --seeds 0    # ~10 CPU-min
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

from lightning_gan import (
    GAN,
    DCGANDiscriminator,
    DCGANGenerator,
    Digits,
    GaussianMixture,
    GeneratorEMA,
    MLPDiscriminator,
    MLPGenerator,
    MNIST5k,
)
from lightning_gan.callbacks.samples import image_grid, scatter_plot
from lightning_gan.metrics.digit_classifier import load_digit_net
from lightning_gan.metrics.mode_coverage import MixtureCoverage

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "conditional.json"


def _ring(seed: int):
    data = GaussianMixture("ring", n_samples=20000, batch_size=128, seed=seed)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=64, depth=2, num_classes=8),
        MLPDiscriminator(in_dim=2, hidden=64, depth=2, num_classes=8),
        num_classes=8,
        lr_g=1e-3,
        lr_d=1e-3,
        betas_g=(0.5, 0.99),
        betas_d=(0.5, 0.99),
    )
    return data, gan, [GeneratorEMA(decay=0.99)], 1500


def _digits(seed: int):
    gan = GAN(
        DCGANGenerator(latent_dim=32, channels=1, image_size=8, width=32, num_classes=10),
        DCGANDiscriminator(channels=1, image_size=8, width=32, norm="none", num_classes=10),
        num_classes=10,
    )
    return Digits(batch_size=64), gan, [], 1500


def _mnist5k(seed: int):
    gan = GAN(
        DCGANGenerator(latent_dim=64, channels=1, image_size=28, width=32, num_classes=10),
        DCGANDiscriminator(channels=1, image_size=28, width=32, norm="none", num_classes=10),
        num_classes=10,
        loss="hinge",
        lr_g=2e-4,
        lr_d=2e-4,
        betas_g=(0.0, 0.999),
        betas_d=(0.0, 0.999),
    )
    return MNIST5k(batch_size=64), gan, [], 4000


SETUPS = {"ring": _ring, "digits": _digits, "mnist5k": _mnist5k}


@torch.no_grad()
def per_label_accuracy(name: str, gan: GAN, data) -> tuple[list[float], torch.Tensor, torch.Tensor]:
    n = 2400 if name == "ring" else 1000
    k = gan.num_classes
    labels = torch.arange(n) % k
    torch.manual_seed(0)
    samples = gan.sample(n, labels=labels)
    if name == "ring":
        nearest, hq = MixtureCoverage(data.modes, data.std).assign(samples)
        hit = (nearest == labels) & hq
    else:
        hit = load_digit_net("digits" if name == "digits" else "mnist")(samples).argmax(1) == labels
    return [float(hit[labels == c].float().mean()) for c in range(k)], samples, labels


def run(name: str, seed: int, figures: Path) -> dict:
    L.seed_everything(seed, verbose=False)
    data, gan, callbacks, batches = SETUPS[name](seed)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2 * batches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    start = time.process_time()
    trainer.fit(gan, data)
    seconds = time.process_time() - start
    accuracy, samples, labels = per_label_accuracy(name, gan, data)
    if seed == 0:
        if name == "ring":
            picture = scatter_plot(samples, data.modes, "G(z, k), colour = k", labels=labels)
        else:
            order = torch.argsort(labels, stable=True)
            rows = torch.cat([order[labels[order] == c][:10] for c in range(10)])
            picture = image_grid(samples[rows], nrow=10)
        from PIL import Image

        Image.fromarray(picture).save(figures / f"conditional_{name}.png")
    return {
        "dataset": name,
        "seed": seed,
        "batches": batches,
        "accuracy_mean": sum(accuracy) / len(accuracy),
        "accuracy_min": min(accuracy),
        "per_label": accuracy,
        "train_cpu_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["ring", "digits"], choices=list(SETUPS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    records = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    for name in args.datasets:
        for seed in args.seeds:
            record = run(name, seed, args.figures)
            records = [r for r in records if (r["dataset"], r["seed"]) != (name, seed)]
            records.append(record)
            RESULTS.write_text(json.dumps(records, indent=1) + "\n")
            print(
                f"{name} seed {seed}: mean {record['accuracy_mean']:.3f}, "
                f"min {record['accuracy_min']:.3f}, {record['train_cpu_seconds']:.0f} CPU-s",
                flush=True,
            )


if __name__ == "__main__":
    main()
