"""Renders ``docs/results/throughput.json`` (benchmarks/throughput.py --json): the ratio of each
arm to the plain PyTorch loop, before and after this round's changes, measured side by side."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

CASES = {"mlp": "MLP GAN, 2-D ring, batch 256", "dcgan": "DCGAN 32x32, batch 64"}


def _records(results: Path) -> list[dict]:
    path = results / "throughput.json"
    return json.loads(path.read_text()) if path.exists() else []


def readme_throughput(results: Path) -> str:
    records = _records(results)
    full = [r for r in records if r["label"] in ("before", "after")]
    if not full:
        return "_No measurement yet: run `python benchmarks/throughput.py --json ...`._\n"
    lines = [
        "| ratio to the plain loop (median of 5 paired rounds, min-max) | "
        + " | ".join(f"{CASES[c]}: before / after" for c in CASES)
        + " |",
        "|---|" + "---|" * len(CASES),
    ]
    arms = list(dict.fromkeys(r["arm"] for r in full))
    for arm in arms:
        cells = []
        for case in CASES:
            pair = []
            for label in ("before", "after"):
                r = next(
                    (x for x in full if (x["label"], x["case"], x["arm"]) == (label, case, arm)),
                    None,
                )
                pair.append(
                    "—"
                    if r is None
                    else f"{r['ratio']:.3f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f})"
                )
            cells.append(" / ".join(pair))
        name = next(r["arm_name"] for r in full if r["arm"] == arm)
        name = f"**{name}**" if arm == "gan" else name
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    plain = {
        r["case"]: r["it_per_s"] for r in full if r["arm"] == "plain" and r["label"] == "after"
    }
    pairs = {
        label: [
            r["ratio"]
            for r in records
            if r["label"].startswith(f"{label}-pair") and r["arm"] == "gan" and r["case"] == "mlp"
        ]
        for label in ("before", "after")
    }
    text = "\n".join(lines) + "\n"
    bare = {r["label"]: r["ratio"] for r in full if r["arm"] == "bare" and r["case"] == "mlp"}
    if len(bare) == 2:
        text += (
            f"\nThe bare LightningModule, which does not use the package, moved from "
            f"{bare['before']:.3f} to {bare['after']:.3f} between the two runs: the size of the "
            "run-to-run noise.\n"
        )
    if all(pairs.values()):
        text += (
            f"\nRepeated MLP races, alternating the two packages: `GAN` before "
            f"{', '.join(f'{v:.3f}' for v in pairs['before'])} (median "
            f"{statistics.median(pairs['before']):.3f}), after "
            f"{', '.join(f'{v:.3f}' for v in pairs['after'])} (median "
            f"{statistics.median(pairs['after']):.3f}): the unconditional step costs what it did.\n"
        )
    meta = next(r for r in full if r["label"] == "after")
    text += (
        f"\nMeasured {meta['date']}, torch {meta['torch']}, {meta['cpus']} CPUs (1 torch thread), "
        f"plain loop {plain.get('mlp', 0):.0f} / {plain.get('dcgan', 0):.1f} it/s; *before* is the "
        "package as it was before this round's changes (commit 76e118a, checked out beside this "
        "one), run by the same benchmark script; the study runs were paused meanwhile.\n"
    )
    return text


SECTIONS = {"readme-throughput": readme_throughput}
