"""The performance benchmarks run end to end at tiny sizes and print consistent tables.

Their numbers are measurements, not test targets (a loaded CI machine would make any timing
assertion flaky); these tests check that every arm trains and that the tables add up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _rows(output: str, first_cell: str) -> list[list[str]]:
    """Cells of the markdown table rows whose first cell starts with ``first_cell``."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            rows.append(cells)
    return rows


def test_throughput_prints_a_ratio_for_every_arm() -> None:
    out = _run(
        "throughput.py",
        *("--cases", "mlp", "--arms", "plain", "bare", "gan", "example"),
        *("--repeats", "1", "--mlp-steps", "12", "--mlp-warmup", "4"),
    )
    names = ["plain PyTorch loop", "bare LightningModule", "lightning_gan.GAN"]
    rows = {name: _rows(out, name) for name in [*names, "Lightning-example module"]}
    assert all(len(r) == 1 for r in rows.values()), out
    assert float(rows["plain PyTorch loop"][0][2]) == 1.0
    for [row] in rows.values():
        assert float(row[1]) > 0  # it/s
        assert 0.2 < float(row[2]) < 2.0, row  # a ratio of a trained arm to the plain loop


def test_split_profile_rows_add_up() -> None:
    out = _run(
        "throughput.py", "--split", *("--repeats", "1", "--mlp-steps", "12", "--mlp-warmup", "4")
    )
    rows = _rows(out, "bare") + _rows(out, "gan")
    assert len(rows) == 8, out  # 2 modules x 4 Trainer settings
    for _, _, plain, step, outside, ratio in rows:
        plain_ms, step_ms, outside_ms = (float(c.split()[0]) for c in (plain, step, outside))
        assert plain_ms > 0 and step_ms > 0
        assert outside_ms > 0  # Lightning's work around the step, after both are subtracted
        assert float(ratio) == pytest.approx(plain_ms / (step_ms + outside_ms), abs=0.02)


@pytest.mark.slow
def test_ddp_strategies_benchmark_trains_both_strategies() -> None:
    out = _run("ddp_strategies.py", "--steps", "8", "--warmup", "2", "--repeats", "1")
    rows = _rows(out, "`gan_ddp`") + _rows(out, "`ddp_find_unused_parameters_true`")
    assert len(rows) == 2, out
    assert all(float(ms) > 0 for _, ms, _ in rows)
    assert rows[0][2] == "1.00"
