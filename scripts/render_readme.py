"""README sections generated from results files written by other benchmarks.

``own-images-budget``: the own-images quick start's measured budget, speed and sample grid
(``docs/results/config_budgets.json``, written by ``benchmarks/config_budgets.py``);
``reliability-summary``: the fault guarantees and their measured time bounds
(``docs/results/faults.json``, written by ``benchmarks/faults.py``).
"""

from __future__ import annotations

import json
from pathlib import Path


def _load(results: Path, name: str) -> object | None:
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def own_images_budget(results: Path) -> str:
    data = _load(results, "config_budgets.json")
    if data is None:
        return "_Not measured yet: run `python benchmarks/config_budgets.py`._\n"
    return json.dumps(data)[:200] + "\n"


def reliability_summary(results: Path) -> str:
    data = _load(results, "faults.json")
    if data is None:
        return "_Not measured yet: run `python benchmarks/faults.py`._\n"
    assert isinstance(data, dict)
    lines = [
        "| fault | work lost | time to stop | resume check |",
        "|---|---|---|---|",
    ]
    for drill in data["drills"]:
        seconds = next(
            (drill[k] for k in ("seconds_to_exit", "seconds_death_to_job_end") if k in drill),
            None,
        )
        if seconds is not None:
            stop = f"{seconds:.1f} s"
        elif "seconds_whole_job" in drill:
            stop = f"whole 2-process job {drill['seconds_whole_job']:.0f} s"
        else:
            stop = "at once (error at the write)" if "exit_code" in drill else "n/a (on resume)"
        lines.append(f"| {drill['fault']} | {drill['lost']} | {stop} | {drill['resume_check']} |")
    settings = data["settings"]
    lines += [
        "",
        f"_Measured by `benchmarks/faults.py` on {settings['hardware']}, torch "
        f"{settings['torch']}, model {settings['model']}._",
    ]
    return "\n".join(lines) + "\n"


SECTIONS = {
    "own-images-budget": own_images_budget,
    "reliability-summary": reliability_summary,
}
