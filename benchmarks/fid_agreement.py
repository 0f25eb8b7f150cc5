"""Does FID in the retrained ``mnist`` space rank real generators as the earlier space did?

Issue 21 retrained the digit feature nets so that noise no longer scores as perfect. The
earlier evidence tables were measured with the earlier net, so the change must not reorder
what those tables compare: generators. The sanity suite checks the order of synthetic
degradations (``benchmarks/metric_sanity.py``); this benchmark checks the order of *trained
generators*: every generator snapshot cached by ``benchmarks/limited_data.py`` (hinge DCGANs
on 100 MNIST5k digits, six remedies, three seeds, a snapshot every 500 batches: early blobs to
memorised digits) is scored in both spaces with the same samples, and the Spearman rank
correlation of the two FIDs is recorded, over all snapshots and over the runs' final
snapshots (what the tables report).

    git show 953e5de:lightning_gan/weights/digit_net_mnist.pt > /tmp/old/digit_net_mnist.pt
    python benchmarks/fid_agreement.py --before_weights /tmp/old     # ~5 CPU-min
    python scripts/build_docs.py

Writes ``docs/results/fid_agreement.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

from lightning_gan import GAN, DCGANDiscriminator, DCGANGenerator
from lightning_gan.data.mnist5k import load_mnist5k
from lightning_gan.metrics.digit_classifier import digit_net_from_checkpoint, weights_checkpoint
from lightning_gan.metrics.domain_features import DomainFeatures
from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.sampling import generated_batches, seeded_rng

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache" / "limited_data"
OUT = ROOT / "docs" / "results" / "fid_agreement.json"


def _evaluator(checkpoint: dict, real: torch.Tensor) -> FeatureEvaluator:
    features = DomainFeatures(digit_net_from_checkpoint(checkpoint), channels=1)
    evaluator = FeatureEvaluator(features, ("fid",))
    evaluator.update_real(real)
    return evaluator


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before_weights", type=Path, required=True,
                        help="folder with the earlier digit_net_mnist.pt")  # fmt: skip
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    real = load_mnist5k()[0]
    old_path = args.before_weights / "digit_net_mnist.pt"
    spaces = {
        "before": _evaluator(torch.load(old_path, map_location="cpu", weights_only=True), real),
        "after": _evaluator(weights_checkpoint("mnist"), real),
    }
    gan = GAN(
        DCGANGenerator(latent_dim=64, channels=1, image_size=28, width=32),
        DCGANDiscriminator(channels=1, image_size=28, width=32, norm="none"),
    )
    records = []
    for folder in sorted(CACHE.glob("*")):
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        snapshots = sorted(folder.glob("g_*.pt"))
        for i, path in enumerate(snapshots):
            gan.generator.load_state_dict(torch.load(path))
            gan.eval()
            with seeded_rng(20_000 + meta["seed"], gan.device):
                fake = torch.cat(list(generated_batches(gan, args.samples, 1000)))
            fids = {}
            for name, evaluator in spaces.items():
                evaluator.reset_fake()
                evaluator.update_fake(fake)
                fids[name] = round(float(evaluator.compute()["fid"]), 3)
            records.append({
                "arm": meta["arm"], "seed": meta["seed"], "batch": int(path.stem.split("_")[1]),
                "final": i == len(snapshots) - 1, **fids,
            })  # fmt: skip
        print(f"{folder.name}: {len(snapshots)} snapshots", flush=True)

    def rho(rows: list[dict]) -> float:
        return round(float(spearmanr([r["before"] for r in rows],
                                     [r["after"] for r in rows]).statistic), 4)  # fmt: skip

    finals = [r for r in records if r["final"]]
    out = {
        "generators": "benchmarks/limited_data.py: hinge DCGANs on 100 MNIST5k digits",
        "samples": args.samples,
        "reference": "all 5000 MNIST5k digits",
        "weights_sha256": {"before": _sha(old_path),
                           "after": _sha(ROOT / "lightning_gan/weights/digit_net_mnist.pt")},
        "spearman_all": rho(records),
        "spearman_final": rho(finals),
        "n_all": len(records),
        "n_final": len(finals),
        "wall_s": round(time.perf_counter() - start, 1),
        "records": records,
    }  # fmt: skip
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"Spearman all {out['spearman_all']} (n={len(records)}), finals "
          f"{out['spearman_final']} (n={len(finals)}); wrote {OUT.relative_to(ROOT)}")  # fmt: skip


if __name__ == "__main__":
    main()
