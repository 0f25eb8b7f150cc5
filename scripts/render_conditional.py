"""Renders ``docs/results/conditional.json`` (benchmarks/conditional.py) for the README."""

from __future__ import annotations

import json
from pathlib import Path

WHAT = {
    "ring": ("`ring_conditional.yaml`", "samples within 3 std of their label's mode"),
    "digits": (
        "`digits_conditional.yaml`",
        "samples the shipped classifier reads as the asked digit",
    ),
    "mnist5k": (
        "`mnist5k_conditional.yaml`",
        "samples the shipped classifier reads as the asked digit",
    ),
}


def readme_conditional(results: Path) -> str:
    records = json.loads((results / "conditional.json").read_text())
    lines = [
        "| config | measured | batches | per seed: mean (worst label) | CPU-s per run |",
        "|---|---|---|---|---|",
    ]
    for name, (config, measured) in WHAT.items():
        rows = sorted((r for r in records if r["dataset"] == name), key=lambda r: r["seed"])
        if not rows:
            continue
        seeds = ", ".join(
            f"s{r['seed']}: {100 * r['accuracy_mean']:.1f} % ({100 * r['accuracy_min']:.1f} %)"
            for r in rows
        )
        cpu = sum(r["train_cpu_seconds"] for r in rows) / len(rows)
        lines.append(f"| {config} | {measured} | {rows[0]['batches']} | {seeds} | {cpu:.0f} |")
    return "\n".join(lines) + "\n"


SECTIONS = {"readme-conditional": readme_conditional}
