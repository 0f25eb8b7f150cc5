"""The mode-collapse study (benchmarks/mode_collapse.py) runs end to end at tiny sizes."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from lightning_gan.data.gaussian_mixture import GaussianMixture
from lightning_gan.metrics.mode_coverage import coverage_for

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mode_collapse.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("mode_collapse_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_tiny_study_writes_table_figure_and_valid_coverage(study, tmp_path: Path) -> None:
    argv = ["--datasets", "ring", "--arms", "vanilla", "combined", "--seeds", "0", "1"]
    argv += ["--steps", "3", "--eval-samples", "300", "--out", str(tmp_path)]
    records = study.main(argv)

    assert [(r["arm"], r["seed"]) for r in records] == [
        ("vanilla", 0),
        ("vanilla", 1),
        ("combined", 0),
        ("combined", 1),
    ]
    for r in records:
        assert r["n_modes"] == 8 and 0 <= r["modes"] <= 8
        assert 0.0 <= r["hq_fraction"] <= 1.0
        assert math.isnan(r["kl"]) or 0.0 <= r["kl"] <= math.log(8) + 1e-9
        assert r["g_steps"] == 3 and r["eval_samples"] == 300
    table = (tmp_path / "mode_collapse_tuned.md").read_text().splitlines()
    assert table[0] == "| " + " | ".join(study.COLUMNS) + " |"
    assert [row.split(" | ")[1] for row in table[2:]] == ["vanilla", "combined"]
    assert (tmp_path / "mode_collapse_tuned_ring.png").stat().st_size > 10_000
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert len(saved) == 4

    # --resume skips the runs already recorded
    assert study.main([*argv, "--resume"]) == []


def test_protocol_counts_every_mode_of_real_data() -> None:
    """The metric the study uses gives 8/8 and 25/25 modes, HQ = 1 - e^-4.5, on real samples."""
    for layout, n_modes in (("ring", 8), ("grid", 25)):
        data = GaussianMixture(layout)
        metric = coverage_for(data)
        metric.update(data.sample(2500, torch.Generator().manual_seed(0))[0])
        result = metric.compute()
        assert int(result["modes"]) == n_modes
        assert abs(float(result["hq_fraction"]) - (1 - math.exp(-4.5))) < 0.01
        assert float(result["kl"]) < 0.01


def test_table_reports_mean_and_sample_std_over_seeds(study) -> None:
    rows = [
        {"dataset": "ring", "arm": "ema", "seed": s, "modes": m, "n_modes": 8, "kl": k}
        | {"hq_fraction": hq, "train_wall_s": 10.0}
        for s, m, hq, k in ((0, 8, 0.9, 0.0), (1, 8, 0.7, 0.1), (2, 5, 0.5, 0.5))
    ]
    line = study.markdown_table(rows).splitlines()[2]
    assert (
        line == "| ring | ema | 7.0 ± 1.7 / 8 | 70.0 ± 20.0 | 0.200 ± 0.265 | — | 10 ± 0 | 8/8/5 |"
    )


def test_combined_arm_stacks_the_named_remedies(study) -> None:
    setting = study.SETTINGS["tuned"]["ring"]
    combined = [type(cb) for cb in study.ARMS["combined"](setting, 100)]
    parts = [type(cb) for arm in setting.combined for cb in study.ARMS[arm](setting, 100)]
    assert combined == parts and len(parts) >= 2


def test_ema_run_also_measures_the_plain_run(study, tmp_path: Path) -> None:
    """The EMA is passive, so the raw generator of an `ema` run is the `vanilla` run exactly."""
    common = ["--datasets", "ring", "--seeds", "0", "--steps", "3", "--eval-samples", "200"]
    alone = study.main([*common, "--arms", "vanilla", "--out", str(tmp_path / "a")])
    shared = study.main([*common, "--arms", "vanilla", "ema", "--out", str(tmp_path / "b")])

    assert [r["arm"] for r in shared] == ["ema", "vanilla"]
    assert shared[1]["trained_by"] == "ema" and "trained_by" not in alone[0]
    plain = torch.load(study._sample_path(tmp_path / "a", alone[0]))
    raw = torch.load(study._sample_path(tmp_path / "b", shared[1]))
    ema = torch.load(study._sample_path(tmp_path / "b", shared[0]))
    assert plain.shape == (200, 2) and torch.equal(plain, raw)
    assert not torch.allclose(ema, raw)  # the ema arm is sampled from the average
