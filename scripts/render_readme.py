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
    return json.dumps(data)[:200] + "\n"


SECTIONS = {
    "own-images-budget": own_images_budget,
    "reliability-summary": reliability_summary,
}
