"""Markdown for docs/data.md from ``docs/results/resume_loaders.json`` (see build_docs.py).

Sections: ``data_resume_loaders`` (time from a mid-epoch resume request to the first batch, and
bitwise exactness, per training loader) and ``data_image_check`` (what checking every file in
``ImageFolder.setup`` costs, headers only vs a full decode), ``data_decoders`` (PIL and
torchvision.io on damaged files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_FILE = "resume_loaders.json"
CELEBA_IMAGES = 202_599  # the size of CelebA's aligned set, for the extrapolation line


def _load(results_dir: Path) -> dict[str, Any]:
    path = results_dir / _FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _s(value: float) -> str:
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.1f} s"
    return f"{value:.2f} s"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def resume_loaders(results_dir: Path) -> str:
    data = _load(results_dir)
    if not data:
        return "_Run `python benchmarks/resume_loaders.py` to measure._\n"
    rows = data["loaders"]
    first = rows[0]
    lines = [
        f"{data['images']} PNGs of {data['image_size']}×{data['image_size']}, batch "
        f"{data['batch_size']} ({first['batches_per_epoch']} batches per epoch), resumed after "
        f"{first['consumed_batches']} batches ({data['resume_at']:.0%}) of the second epoch; "
        f"wall time, median of {data['repeats']}, {data['machine']}, 1-minute load average "
        f"{data['load_average_1min']:.1f} (other jobs shared the machine: compare within a "
        f"run), torch {data['torch']}, torchdata {data['torchdata']}.",
        "",
        "| Loader | Workers | Resume → first batch | Fresh loader → first batch "
        "| Rest of the epoch bitwise equal | Next epoch bitwise equal |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['num_workers']} | **{_s(row['resume_to_first_batch_s'])}** "
            f"| {_s(row['fresh_first_batch_s'])} "
            f"| {_yes(row['exact_rest_of_epoch'])} | {_yes(row['exact_next_epoch'])} |"
        )
    by = {(r["arm"], r["num_workers"]): r for r in rows}
    replay, ours = by.get(("replay", 2)), by.get(("shuffled_loader", 2))
    if replay and ours:
        lines += [
            "",
            f"With 2 workers, replaying costs {_s(replay['resume_to_first_batch_s'])} before "
            f"the first batch (decoding {replay['consumed_batches']} batches again) against "
            f"{_s(ours['resume_to_first_batch_s'])} for `shuffled_loader`, whose resume costs "
            "what starting its workers costs; replay grows with the position in the epoch and "
            "the size of the images.",
        ]
    return "\n".join(lines) + "\n"


def image_check(results_dir: Path) -> str:
    data = _load(results_dir)
    if not data:
        return "_Run `python benchmarks/resume_loaders.py` to measure._\n"
    lines = [
        '| Folder | Headers only (`check="header"`) | Full decode (`check="full"`, default) |',
        "|---|---|---|",
    ]
    jpeg_us = None
    for name, row in data["image_check"].items():
        cells = [
            f"{_s(row[key]['total_s'])} ({row[key]['us_per_image']:.0f} µs/image)"
            for key in ("header", "full")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if "JPEG" in name:
            jpeg_us = row["full"]["us_per_image"]
    if jpeg_us is not None:
        lines += [
            "",
            f"At that rate a full check of CelebA's {CELEBA_IMAGES:,} aligned JPEGs would take "
            f"about {_s(jpeg_us * CELEBA_IMAGES / 1e6)} (extrapolated, not "
            'measured): pass `check="header"` for folders that size once they are known good.',
        ]
    return "\n".join(lines) + "\n"


def decoders(results_dir: Path) -> str:
    data = _load(results_dir).get("decoders")
    if not data:
        return "_Run `python benchmarks/resume_loaders.py` to measure._\n"
    lines = [
        "| Damaged file (64×64) | PIL (`ImageFolder`) | `torchvision.io.decode_image` |",
        "|---|---|---|",
    ]
    for name, row in data.items():
        lines.append(f"| {name} | {row['pil']} | {row['torchvision_io']} |")
    return "\n".join(lines) + "\n"


SECTIONS = {
    "data_resume_loaders": resume_loaders,
    "data_image_check": image_check,
    "data_decoders": decoders,
}
