"""Real against real: how precision/recall and density/coverage depend on k, per feature space.

The sanity suite asks real-vs-real precision and recall >= 0.85 at the papers' k (3 for
precision/recall, Kynkäänniemi et al. 2019; 5 for density/coverage, Naeem et al. 2020). Naeem
et al. showed that k-NN precision and recall stay below 1 for two samples of *one*
distribution, the more so the higher the data's intrinsic dimension, and designed density
(expected 1) and coverage (expected ``1 - 2**-k``) for that reason. This benchmark measures it:
the sanity suite's disjoint real sets in every feature space at k = 1, 2, 3, 5, 10, beside
two samples of one standard Gaussian in 16, 64 and 256 dimensions (no network involved).

    python benchmarks/precision_k.py          # ~4 CPU-min with Inception (600 images per set)
    python scripts/build_docs.py

Writes ``docs/results/precision_k.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.knn_manifold import manifold_metrics
from lightning_gan.metrics.sanity import sanity_data

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "precision_k.json"
KS = (1, 2, 3, 5, 10)


def _row(real: torch.Tensor, fake: torch.Tensor) -> dict[int, dict[str, float]]:
    out = {}
    for k in KS:
        values = manifold_metrics(real, fake, precision_k=k, density_k=k)
        out[k] = {m: round(float(values[m]), 4) for m in ("precision", "recall", "density",
                                                            "coverage")}  # fmt: skip
    return out


def _space_features(space: str, n: int) -> tuple[torch.Tensor, torch.Tensor] | str:
    features: Any = space
    if space == "inception":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from metric_sanity import _inception_weights

        weights = _inception_weights()
        if isinstance(weights, str):
            return weights
        from lightning_gan.metrics.feature_nets import resolve_features

        features = resolve_features("inception", inception_weights=weights)
    data = sanity_data(space, n=n)
    ev = FeatureEvaluator(features, ("precision",))
    for start in range(0, len(data.reference), 250):
        ev.update_real(data.reference[start : start + 250])
    real_set = data.sets["real"]
    for start in range(0, len(real_set), 250):
        ev.update_fake(real_set[start : start + 250])
    return torch.cat(ev.prdc.real_features), torch.cat(ev.prdc.fake_features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="images per set (digit spaces)")
    parser.add_argument("--inception_n", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: dict[str, Any] = {}
    for space in ("digits", "mnist", "stacked_mnist", "inception"):
        start = time.perf_counter()
        feats = _space_features(space, args.inception_n if space == "inception" else args.n)
        if isinstance(feats, str):
            rows[space] = {"skipped": feats}
            continue
        real, fake = feats
        rows[space] = {"n": len(real), "dim": real.shape[1], "by_k": _row(real, fake),
                       "wall_s": round(time.perf_counter() - start, 1)}  # fmt: skip
        print(space, rows[space]["by_k"][3], flush=True)
    g = torch.Generator().manual_seed(0)
    for dim in (16, 64, 256):
        real, fake = torch.randn(1000, dim, generator=g), torch.randn(1000, dim, generator=g)
        rows[f"gaussian_{dim}"] = {"n": 1000, "dim": dim, "by_k": _row(real, fake)}
        print(f"gaussian_{dim}", rows[f"gaussian_{dim}"]["by_k"][3], flush=True)
    out = {"ks": list(KS), "inclusive": False, "torch": torch.__version__, "rows": rows}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
