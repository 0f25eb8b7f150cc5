"""Renders ``docs/results/remedies_evidence.json`` (benchmarks/remedies_evidence.py)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

NAMES = {
    "none": "no augmentation",
    "diffaugment": "`DiffAugment`",
    "diffaugment_translation": "`DiffAugment`",
    "ada": "`AdaptiveAugment`",
    "bcr": "`ConsistencyRegularization`",
    "lecam": "`LeCamRegularization`",
}


def _settings(record: dict) -> str:
    """The arm's own settings as recorded with the run (the budget and nets are in the title)."""
    settings = {k: v for k, v in record.get("settings", {}).items() if k not in ("budget", "nets")}
    return ", ".join(f"{k} {v}" for k, v in settings.items()) or "-"


def _ms(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def evidence(results: Path) -> str:
    path = results / "remedies_evidence.json"
    if not path.exists():
        return "_No results yet: run `python benchmarks/remedies_evidence.py`._\n"
    records = json.loads(path.read_text())
    out = []
    for study, title in (
        (
            "limited",
            "MNIST5k cut to N images (FID / precision / recall against all 5000 real "
            "digits, shipped MNIST features, 5000 samples)",
        ),
        (
            "limited_long",
            "MNIST5k cut to 500 images, a longer budget (same protocol)",
        ),
        ("digits", "scikit-learn digits, 1797 images (shipped digits features, 5000 samples)"),
    ):
        rows = [r for r in records if r["study"] == study]
        if not rows:
            continue
        out += [
            f"**{title}**, {rows[0]['batches']} batches of 64, hinge DCGAN, mean ± std over "
            f"seeds:\n",
            "| N | arm | settings | FID ↓ | precision ↑ | recall ↑ | FID per seed | seeds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n in sorted({r["n_images"] for r in rows}):
            for arm in NAMES:
                group = sorted(
                    (r for r in rows if r["arm"] == arm and r["n_images"] == n),
                    key=lambda r: r["seed"],
                )
                if not group:
                    continue
                cells = [
                    _ms([r["fid"] for r in group], 1),
                    _ms([r["precision"] for r in group], 3),
                    _ms([r["recall"] for r in group], 3),
                    " / ".join(f"{r['fid']:.0f}" for r in group),
                    str(len(group)),
                ]
                row = f"| {n} | {NAMES[arm]} | {_settings(group[0])} | "
                out.append(row + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


SECTIONS = {"remedies-evidence": evidence}
