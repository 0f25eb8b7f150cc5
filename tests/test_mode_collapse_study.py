"""The mode-collapse study (benchmarks/mode_collapse.py) runs end to end at tiny sizes."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mode_collapse.py"
FIELDS = {
    "dataset",
    "arm",
    "seed",
    "modes",
    "hq_fraction",
    "kl",
    "n_samples",
    "fid",
    "batches",
    "train_seconds",
}


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("mode_collapse_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        *extra,
        "--results",
        str(tmp_path / "r.json"),
        "--figures",
        str(tmp_path),
        "--samples",
        str(tmp_path / "samples"),
    ]


def test_tiny_study_writes_records_curves_and_figures(study, tmp_path: Path) -> None:
    argv = _args(
        tmp_path,
        "--datasets",
        "ring",
        "--arms",
        "plain",
        "pack2",
        "recipe",
        "--seeds",
        "0",
        "1",
        "--batches",
        "4",
    )
    records = study.main(argv)
    assert [(r["arm"], r["seed"]) for r in records] == [
        ("plain", 0),
        ("plain", 1),
        ("pack2", 0),
        ("pack2", 1),
        ("recipe", 0),
        ("recipe", 1),
    ]
    for r in records:
        assert set(r) >= FIELDS and r["n_samples"] == 2500 and r["batches"] == 4
        assert 0 <= r["modes"] <= 8 and 0.0 <= r["hq_fraction"] <= 1.0
        assert math.isnan(r["kl"]) or 0.0 <= r["kl"] <= math.log(8) + 1e-9
    assert records[-1]["batch_size"] == 512  # the recipe's batch
    saved = json.loads((tmp_path / "r.json").read_text())
    assert len(saved) == 6
    assert (tmp_path / "mode_collapse_ring.png").stat().st_size > 10_000
    # --resume skips what is there; --plot-only redraws from the file
    assert study.main([*argv, "--resume"]) == []
    (tmp_path / "mode_collapse_ring.png").unlink()
    study.main(_args(tmp_path, "--datasets", "ring", "--plot-only"))
    assert (tmp_path / "mode_collapse_ring.png").exists()


def test_curves_are_recorded_during_training(study, tmp_path: Path, monkeypatch) -> None:
    spec = study.DATASETS["ring"]
    monkeypatch.setitem(
        study.DATASETS, "ring", study.Dataset(**{**spec.__dict__, "curve_every": 2})
    )
    (record,) = study.main(
        _args(tmp_path, "--datasets", "ring", "--arms", "ema", "--seeds", "0", "--batches", "6")
    )
    assert [p["g_steps"] for p in record["curve"]] == [2, 4, 6]
    assert (tmp_path / "mode_collapse_ring_curves.png").exists()


def test_mnist5k_records_fid_precision_and_recall(study, tmp_path: Path, monkeypatch) -> None:
    spec = study.DATASETS["mnist5k"]
    monkeypatch.setitem(
        study.DATASETS, "mnist5k", study.Dataset(**{**spec.__dict__, "eval_samples": 300})
    )
    (record,) = study.main(
        _args(
            tmp_path, "--datasets", "mnist5k", "--arms", "plain", "--seeds", "0", "--batches", "2"
        )
    )
    assert record["hq_fraction"] is None and record["n_modes"] == 10
    assert record["fid"] > 0 and 0 <= record["precision"] <= 1 and 0 <= record["recall"] <= 1
