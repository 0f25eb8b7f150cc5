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


def own_images_budget(results: Path, figures: str = "docs/figures") -> str:
    data = _load(results, "config_budgets.json")
    if data is None:
        return "_Not measured yet: run `python benchmarks/config_budgets.py`._\n"
    assert isinstance(data, dict)
    minutes = "" if data["wall_s"] is None else f", {data['wall_s'] / 60:.0f} minutes in all"
    return (
        f"On {data['data']}, the first command trains {data['max_steps']} optimizer steps "
        f"({data['batches']} batches of 64) at {data['steps_per_s']} steps/s "
        f"({data['batches_per_s']} batches/s){minutes}, on {data['hardware']} "
        f"({data['threads']} torch threads). The samples at the end, looked at: "
        f"{data.get('looked_at') or 'not yet looked at'}\n\n"
        f"![samples after {data['max_steps']} steps]({figures}/{Path(data['figure']).name})\n\n"
        f"_Measured by `benchmarks/config_budgets.py`"
        + (f" ({data['note']})" if data.get("note") else "")
        + f". The loader's report: {data['skipped_report']}_\n"
    )


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


def configs_steps(results: Path) -> str:
    """Every shipped config's training length beside what its header says it gives.

    Read from ``examples/configs/*.yaml`` themselves (``max_steps`` or ``max_epochs``, and the
    header comment up to its first command line), so the table cannot drift from the configs.
    """
    import re

    lines = [
        "| config | trains for | what its header says it gives (and costs) |",
        "|---|---|---|",
    ]
    for config in sorted((results.parents[1] / "examples" / "configs").glob("*.yaml")):
        text = config.read_text()
        header = []
        for line in text.splitlines():
            if not line.startswith("#") or line.startswith("#  "):
                break
            header.append(line.lstrip("# ").strip())
        steps = re.search(r"^\s*max_steps:\s*(\d+)", text, re.M)
        epochs = re.search(r"^\s*max_epochs:\s*(\d+)", text, re.M)
        if steps:
            n = int(steps.group(1))
            length = f"{n:,} optimizer steps ({n // 2:,} batches)"
        else:
            length = f"{epochs.group(1)} epochs" if epochs else "Lightning's default"
        summary = " ".join(header).replace("|", "/")
        lines.append(f"| `{config.name}` | {length} | {summary} |")
    return "\n".join(lines) + "\n"


def own_folder_budget(results: Path) -> str:
    """The same paragraph for ``docs/guide/configs.md`` (figure path relative to it)."""
    return own_images_budget(results, figures="../figures")


SECTIONS = {
    "own-images-budget": own_images_budget,
    "own-folder-budget": own_folder_budget,
    "configs-steps": configs_steps,
    "reliability-summary": reliability_summary,
}
