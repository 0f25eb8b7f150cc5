"""Renders ``docs/results/limited_data.json`` (``benchmarks/limited_data.py``) for the docs.

Section ``limited-data``: one row per arm and subset size (mean over seeds, per-seed values
where they decide a reading), with the settings each arm ran with, and whether the baseline's
FID curve rose after its minimum on every seed (the regime the remedies exist for).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

ORDER = ("none", "diffaugment", "ada", "ada_fast", "bcr", "lecam", "bcr_translation", "none_sn",
         "bcr_sn", "lecam_sn")  # fmt: skip
SHARED = ("nets", "loss", "lr", "betas", "batch_size", "features", "features_sha256",
          "eval_samples")  # fmt: skip


def _mean(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _samples(counts: dict | None) -> str:
    if not counts:
        return "generated samples: not recorded"
    return f"{counts['curve']} generated samples per curve point, {counts['final']} at the end"


def _settings(record: dict) -> str:
    own = {k: v for k, v in record["settings"].items() if k not in SHARED}
    return ", ".join(f"{k} {v}" for k, v in own.items()) or "-"


def _versus_none(records: list[dict], group: list[dict]) -> str:
    """On how many seeds the final and the best FID beat the unaugmented run on those images."""
    arm = group[0]["arm"]
    if arm == "none":
        return "-"
    base = group[0]["baseline"]  # written by benchmarks/limited_data.py
    n = group[0]["n_images"]
    none = {r["seed"]: r for r in records if r["arm"] == base and r["n_images"] == n}
    paired = [r for r in group if r["seed"] in none]
    if not paired:
        return "no baseline"
    final = sum(r["final_fid"] < none[r["seed"]]["final_fid"] for r in paired)
    best = sum(r["best_fid"] < none[r["seed"]]["best_fid"] for r in paired)
    return f"{final}/{len(paired)} ({best}/{len(paired)})"


def limited_data(results: Path) -> str:
    path = results / "limited_data.json"
    if not path.exists():
        return "_Not measured yet: run `python benchmarks/limited_data.py`._\n"
    records = json.loads(path.read_text())
    first = records[0]
    shared = {k: first["settings"].get(k) for k in SHARED if k in first["settings"]}
    lines = [
        f"{first['batches']} batches of {shared.get('batch_size')}; {shared.get('nets')}, "
        f"{shared.get('loss')} loss, lr {shared.get('lr')}, betas {shared.get('betas')}; FID / "
        f"precision / recall / density / coverage in the {shared.get('features')} space "
        f"(weights sha256 {shared.get('features_sha256')}), against all 5000 MNIST5k digits; "
        f"{_samples(shared.get('eval_samples'))}. `min<final` counts the seeds whose FID curve "
        "rose after its minimum. `vs none` counts the seeds whose final (best) FID is below "
        "the unaugmented run's on the same seed, which trains on the same images (`*_sn` arms: "
        "below `none_sn`'s, the same spectrally normalised D without the remedy).\n",
        "| N | arm | settings | seed | best FID (batch) | final FID | min<final | vs none: "
        "final (best) lower | precision | recall | density | coverage | r_t final | p final |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r["n_images"] for r in records}):
        for arm in ORDER:
            group = sorted(
                (r for r in records if r["arm"] == arm and r["n_images"] == n),
                key=lambda r: r["seed"],
            )
            if not group:
                continue
            best = " / ".join(f"{r['best_fid']:.0f} ({r['best_at']})" for r in group)
            final = " / ".join(f"{r['final_fid']:.0f}" for r in group)
            rose = sum(r["best_fid"] < r["final_fid"] for r in group)
            versus = _versus_none(records, group)
            p = [r["p_final"] for r in group if r.get("p_final") is not None]
            cells = [
                str(n), f"`{arm}`", _settings(group[0]),
                ", ".join(str(r["seed"]) for r in group), best, final,
                f"{rose}/{len(group)}", versus,
                *(_mean([r[k] for r in group], 3) for k in ("precision", "recall", "density",
                                                            "coverage")),
                _mean([r["rt_final"] for r in group], 2),
                _mean(p, 3) if p else "-",
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


SECTIONS = {"limited-data": limited_data}
