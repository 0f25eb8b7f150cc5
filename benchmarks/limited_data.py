"""Augmentation and regularisation where they exist to help: a discriminator that memorises.

DiffAugment, ADA, bCR and LeCam are remedies for small data sets: trained long enough, D
memorises the few real images, ADA's overfitting signal ``r_t = E[sign(D(real))]`` climbs past
0.6, and the unaugmented GAN's FID reaches a minimum and then *rises*. This study trains the
hinge DCGAN of ``benchmarks/remedies_evidence.py`` on a seeded subset of ``n_images`` MNIST5k
digits for ``batches`` batches of 64 and records, per arm and seed:

* ``r_t`` (every arm, measured the same way: D's scores of the real batches over each interval)
  and ADA's ``p`` over training;
* generator snapshots every ``eval_every`` batches, evaluated afterwards (``--evaluate``) with
  FID / precision / recall / density / coverage in the shipped ``mnist`` feature space
  (``eval_samples`` generated against all 5000 real digits, so a generator that reproduces its
  few training images is penalised on recall and coverage).

Arms, each at its authors' settings (``settings`` in every record):

* ``none``;
* ``diffaugment``: Zhao et al.'s policy ``color,translation,cutout`` on real and fake, both phases;
* ``ada``: Karras et al.'s controller, target 0.6, ``p`` updated every 4 D steps, speed 500k images
  (``p`` can move by at most ``batches * 64 / 500k`` in a run);
* ``ada_fast``: the same at speed 20k images, a separate, named arm (not ADA's setting);
* ``bcr``: Zhao et al.'s consistency regularisation, lambda 10 (real and fake), flip and
  translation with reflection padding (StudioGAN's);
* ``bcr_translation``: bCR with translation only, a diagnostic arm (not bCR's setting): a
  mirrored digit is not a digit, so the flip asks D for an invariance MNIST does not have;
* ``lecam``: Tseng et al.'s LeCam regulariser at their hinge-loss (BigGAN-CIFAR) code's
  settings: weight 0.3, the relu (one-sided) form, anchors an EMA of decay 0.9 that starts
  after 1000 D steps, the penalty off before;
* ``none_sn``, ``bcr_sn``, ``lecam_sn``: diagnostics with a spectrally normalised D (the
  discriminators of bCR's and LeCam's authors are SNGAN / BigGAN ones), each remedy compared
  with ``none_sn``.

Writes ``docs/results/limited_data.json``: a list of ``{"arm", "n_images", "seed", "batches",
"settings", "fid_curve": [[batch, fid], ...], "best_fid", "final_fid", "precision", "recall",
"density", "coverage", "rt_curve", "rt_final", "p_final", ...}``.

    python benchmarks/limited_data.py --arms none --seeds 0         # train (snapshots cached)
    python benchmarks/limited_data.py --evaluate                    # curves -> results file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch

from lightning_gan import (
    GAN,
    AdaptiveAugment,
    ConsistencyRegularization,
    DCGANDiscriminator,
    DCGANGenerator,
    DiffAugment,
    GANCallback,
    LeCamRegularization,
    SpectralNorm,
)
from lightning_gan.data.mnist5k import load_mnist5k

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "limited_data.json"
FIGURE = ROOT / "docs" / "figures" / "limited_data_curves.png"
CACHE = ROOT / "benchmarks" / ".cache" / "limited_data"
WEIGHTS = ROOT / "lightning_gan" / "weights"

ARMS: dict[str, tuple[dict[str, Any], Any]] = {
    "none": ({}, list),
    "diffaugment": (
        {"policy": "color,translation,cutout", "applied_to": "real and fake, D and G phases"},
        lambda: [DiffAugment(policy="color,translation,cutout")],
    ),
    "ada": (
        {"target": 0.6, "interval": 4, "speed_images": 500_000, "policy": "blit,geom,color"},
        lambda: [AdaptiveAugment(target=0.6, interval=4, speed_images=500_000)],
    ),
    "ada_fast": (
        {"target": 0.6, "interval": 4, "speed_images": 20_000, "policy": "blit,geom,color"},
        lambda: [AdaptiveAugment(target=0.6, interval=4, speed_images=20_000)],
    ),
    "bcr": (
        {
            "weight_real": 10.0,
            "weight_fake": 10.0,
            "policy": "flip,translation",
            "padding": "reflect",
        },
        lambda: [ConsistencyRegularization(weight=10.0)],
    ),
    # The authors' hinge-loss setting, their BigGAN-CIFAR code (lc-biggan-cifar10-0.1.sh,
    # losses.lecam_reg, utils.ema_losses): relu form, LC 0.3, EMA decay 0.9, off for 1000 steps.
    "bcr_translation": (
        {
            "weight_real": 10.0,
            "weight_fake": 10.0,
            "policy": "translation",
            "padding": "reflect",
            "role": "diagnostic: bCR without the flip",
        },
        lambda: [ConsistencyRegularization(weight=10.0, policy="translation")],
    ),
    "lecam": (
        {
            "weight": 0.3,
            "ema_decay": 0.9,
            "warmup": 1000,
            "form": "one-sided (relu), the authors' code",
        },
        lambda: [LeCamRegularization(weight=0.3, ema_decay=0.9, warmup=1000, one_sided=True)],
    ),
    # Diagnostics for bCR and LeCam: their authors' discriminators are spectrally normalised
    # (SNGAN / BigGAN), this study's is not. Each *_sn arm is compared with none_sn.
    "none_sn": (
        {"d_normalisation": "spectral norm (SpectralNorm callback)", "role": "diagnostic"},
        lambda: [SpectralNorm()],
    ),
    "bcr_sn": (
        {
            "weight_real": 10.0,
            "weight_fake": 10.0,
            "policy": "flip,translation",
            "padding": "reflect",
            "d_normalisation": "spectral norm",
            "role": "diagnostic",
        },
        lambda: [SpectralNorm(), ConsistencyRegularization(weight=10.0)],
    ),  # fmt: skip
    "lecam_sn": (
        {
            "weight": 0.3,
            "ema_decay": 0.9,
            "warmup": 1000,
            "form": "one-sided (relu)",
            "d_normalisation": "spectral norm",
            "role": "diagnostic",
        },
        lambda: [
            SpectralNorm(),
            LeCamRegularization(weight=0.3, ema_decay=0.9, warmup=1000, one_sided=True),
        ],
    ),  # fmt: skip
}
BASE = {
    "nets": "DCGAN 28x28, width 32, D without normalisation",
    "loss": "hinge",
    "lr": 2e-4,
    "betas": [0.0, 0.999],
    "batch_size": 64,
    "features": "mnist (shipped weights)",
}


class Recorder(GANCallback):
    """``r_t`` of every arm (D's real scores, as ADA measures it) and ADA's ``p``, per interval;
    generator snapshots every ``eval_every`` batches."""

    def __init__(self, folder: Path, eval_every: int, interval: int = 100) -> None:
        super().__init__()
        self.folder, self.eval_every, self.interval = folder, eval_every, interval
        self.signs, self.count = 0.0, 0
        self.rt_curve: list[list[float]] = []
        self.p_curve: list[list[float]] = []

    def on_discriminator_step_end(self, gan: GAN, d: Any) -> None:
        self.signs += float(d.real_scores.sign().sum())
        self.count += d.real_scores.numel()
        step = gan.d_steps
        if step % self.interval == 0:
            self.rt_curve.append([step, round(self.signs / max(self.count, 1), 4)])
            self.signs, self.count = 0.0, 0
            ada = next((c for c in gan.trainer.callbacks if isinstance(c, AdaptiveAugment)), None)
            if ada is not None:
                self.p_curve.append([step, round(float(ada.p), 5)])
        if step % self.eval_every == 0:
            torch.save(gan.generator.state_dict(), self.folder / f"g_{step:06d}.pt")


def _subset(n: int, seed: int) -> torch.Tensor:
    images = load_mnist5k()[0]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:n]]


def _nets() -> tuple[DCGANGenerator, DCGANDiscriminator]:
    return (
        DCGANGenerator(latent_dim=64, channels=1, image_size=28, width=32),
        DCGANDiscriminator(channels=1, image_size=28, width=32, norm="none"),
    )


def train(arm: str, n: int, seed: int, batches: int, eval_every: int) -> dict:
    from torch.utils.data import TensorDataset

    from lightning_gan import shuffled_loader

    folder = CACHE / f"{arm}_n{n}_s{seed}_b{batches}"
    folder.mkdir(parents=True, exist_ok=True)
    L.seed_everything(seed, verbose=False)
    settings, callbacks = ARMS[arm]
    recorder = Recorder(folder, eval_every)
    generator, discriminator = _nets()
    gan = GAN(generator, discriminator, loss="hinge", lr_g=2e-4, lr_d=2e-4,
              betas_g=(0.0, 0.999), betas_d=(0.0, 0.999))  # fmt: skip
    loader = shuffled_loader(TensorDataset(_subset(n, seed)), min(64, n))
    trainer = L.Trainer(
        accelerator="cpu", max_steps=2 * batches, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
        callbacks=[*callbacks(), recorder],
    )  # fmt: skip
    start = time.process_time()
    trainer.fit(gan, loader)
    if gan.d_steps < batches:  # pre-empted (SIGTERM): a partial run must not count as done
        raise SystemExit(f"{folder.name} stopped at D step {gan.d_steps} of {batches}.")
    meta = {
        "arm": arm, "n_images": n, "seed": seed, "batches": batches,
        "settings": BASE | settings, "train_cpu_seconds": round(time.process_time() - start, 1),
        "rt_curve": recorder.rt_curve, "p_curve": recorder.p_curve,
    }  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def _features_id() -> str:
    digest = hashlib.sha256((WEIGHTS / "digit_net_mnist.pt").read_bytes()).hexdigest()
    return digest[:12]


def evaluate(folder: Path, eval_samples: int, final_samples: int) -> dict:
    from lightning_gan.metrics.evaluator import FeatureEvaluator
    from lightning_gan.metrics.sampling import generated_batches, seeded_rng

    meta = json.loads((folder / "meta.json").read_text())
    real = load_mnist5k()[0]
    names = ("fid", "precision", "recall", "density", "coverage")
    evaluator = FeatureEvaluator("mnist", names)
    evaluator.update_real(real)
    generator, discriminator = _nets()
    gan = GAN(generator, discriminator)
    curve, final = [], {}
    snapshots = sorted(folder.glob("g_*.pt"))
    for i, path in enumerate(snapshots):
        gan.generator.load_state_dict(torch.load(path))
        gan.eval()
        last = i == len(snapshots) - 1
        evaluator.reset_fake()
        with seeded_rng(10_000 + meta["seed"], gan.device):
            for fake in generated_batches(gan, final_samples if last else eval_samples, 1000):
                evaluator.update_fake(fake)
        values = {k: float(v) for k, v in evaluator.compute().items()}
        curve.append([int(path.stem.split("_")[1]), round(values["fid"], 2)])
        if last:
            final = values
    fids = [f for _, f in curve]
    meta["settings"]["features_sha256"] = _features_id()
    meta["settings"]["eval_samples"] = {"curve": eval_samples, "final": final_samples}
    return meta | {
        "fid_curve": curve,
        "best_fid": min(fids),
        "best_at": curve[fids.index(min(fids))][0],
        "final_fid": fids[-1],
        **{k: round(final[k], 4) for k in names if k != "fid"},
        "rt_final": meta["rt_curve"][-1][1] if meta["rt_curve"] else None,
        "p_final": meta["p_curve"][-1][1] if meta["p_curve"] else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-images", type=int, nargs="+", default=[100])
    parser.add_argument("--batches", type=int, default=8000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--evaluate", action="store_true", help="evaluate cached snapshots")
    parser.add_argument("--eval-samples", type=int, default=2000)
    parser.add_argument("--final-samples", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if not args.evaluate:
        for n in args.n_images:
            for arm in args.arms:
                for seed in args.seeds:
                    done = CACHE / f"{arm}_n{n}_s{seed}_b{args.batches}" / "meta.json"
                    if done.exists():  # trained before: the cache continues a stopped study
                        continue
                    meta = train(arm, n, seed, args.batches, args.eval_every)
                    print(f"trained {arm} n={n} seed={seed}: {meta['train_cpu_seconds']} CPU s, "
                          f"r_t {meta['rt_curve'][-1:]}", flush=True)  # fmt: skip
        return
    # Records already evaluated with the same feature weights are kept, not recomputed.
    done = {
        (r["arm"], r["n_images"], r["seed"], r["batches"]): r
        for r in (json.loads(RESULTS.read_text()) if RESULTS.exists() else [])
        if r["settings"].get("features_sha256") == _features_id()
    }
    records = []
    for folder in sorted(CACHE.glob("*")):
        if (folder / "meta.json").exists():
            meta = json.loads((folder / "meta.json").read_text())
            key = (meta["arm"], meta["n_images"], meta["seed"], meta["batches"])
            if key in done:
                records.append(done[key] | {"baseline": baseline_of(meta["arm"])})
                continue
            record = evaluate(folder, args.eval_samples, args.final_samples)
            best, final = record["best_fid"], record["final_fid"]
            print(f"{folder.name}: best FID {best:.1f} at {record['best_at']}, final {final:.1f}, "
                  f"r_t {record['rt_final']}", flush=True)  # fmt: skip
            records.append(record | {"baseline": baseline_of(meta["arm"])})
    RESULTS.write_text(json.dumps(records, indent=1) + "\n")
    plot(records, FIGURE)
    print(f"wrote {RESULTS.relative_to(ROOT)} ({len(records)} records) and {FIGURE.name}")


#: one colour per arm, in ARMS order; grey is the baselines' in the FID panels, so no arm has it
PALETTE = ("0.5", "C1", "C2", "C3", "C4", "C5", "C6", "C0", "C8", "C9")


def baseline_of(arm: str) -> str:
    """The arm a remedy is compared with: the same discriminator without the remedy (recorded
    as ``baseline`` in every record, which the docs' renderer pairs seeds by)."""
    return "none_sn" if arm.endswith("_sn") and arm != "none_sn" else "none"


def plot(records: list[dict], path: Path) -> None:
    """One panel per remedy: its FID curves (one line per seed) over the unaugmented run's on
    the same seeds (grey), then every run's ``r_t``; seed s is line style s in every panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arms = [a for a in ARMS if a != "none" and any(r["arm"] == a for r in records)]
    cols = 4
    rows = -(-(len(arms) + 1) // cols)
    fig = Figure(figsize=(3.0 * cols, 2.6 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    styles = ("-", "--", ":")
    for ax, arm in zip(axes, arms, strict=False):
        colour = PALETTE[list(ARMS).index(arm) % len(PALETTE)]
        baseline = baseline_of(arm)
        for r in (r for r in records if r["arm"] == baseline):
            ax.plot(*zip(*r["fid_curve"], strict=True), color="0.6", lw=1,
                    ls=styles[r["seed"] % 3])  # fmt: skip
        for r in (r for r in records if r["arm"] == arm):
            ax.plot(*zip(*r["fid_curve"], strict=True), color=colour, lw=1.3,
                    ls=styles[r["seed"] % 3], label=f"seed {r['seed']}")  # fmt: skip
        ax.set(title=f"{arm} (grey: {baseline})", yscale="log", xlabel="batches")
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("FID (mnist features)")
    ax_rt = axes[len(arms)]
    for i, arm in enumerate(ARMS):
        for r in (r for r in records if r["arm"] == arm):
            if r["rt_curve"]:
                label = (
                    arm if r["seed"] == min(x["seed"] for x in records if x["arm"] == arm) else None
                )
                ax_rt.plot(*zip(*r["rt_curve"], strict=True), color=PALETTE[i % len(PALETTE)],
                           lw=0.7, label=label)  # fmt: skip
    ax_rt.axhline(0.6, color="k", ls=":", lw=0.8)
    ax_rt.set(title="r_t = E[sign D(real)] (dotted: 0.6)", xlabel="batches")
    ax_rt.title.set_fontsize(8)
    ax_rt.tick_params(labelsize=7)
    ax_rt.legend(fontsize=5, ncol=2)
    for ax in axes[len(arms) + 1 :]:
        ax.set_visible(False)
    n = ", ".join(str(x) for x in sorted({r["n_images"] for r in records}))
    fig.suptitle(f"MNIST5k subset of {n} images: FID over training per remedy, and ADA's "
                 "overfitting signal", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
