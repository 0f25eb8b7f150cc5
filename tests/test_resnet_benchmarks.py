"""The ResNet throughput benchmark runs end to end at tiny sizes on CPU (its GPU table has not
run here: no GPU); its numbers are measurements, not test targets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "resnet_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("resnet_throughput_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_cpu_table_has_both_arms_and_a_ratio(bench, tmp_path: Path, capsys) -> None:
    bench.main(
        [
            *("--device", "cpu", "--archs", "sngan", "--sizes", "32"),
            *("--precisions", "fp32", "bf16", "--width", "8", "--batch", "2"),
            *("--steps", "2", "--warmup", "1", "--json", str(tmp_path / "rows.json")),
        ]
    )
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [(r["precision"], r["arm"]) for r in rows] == [
        ("fp32", "plain"), ("fp32", "gan"), ("bf16", "plain"), ("bf16", "gan"),
    ]  # fmt: skip
    assert all(r["images_per_s"] > 0 and r["peak_mib"] is None for r in rows)
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| sngan")]
    assert len(table) == 4 and all(float(line.split("|")[7]) > 0 for line in table)
    assert table[1].split("|")[9].strip() != "-"  # gan / plain ratio


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_a_gpu_says_so(bench) -> None:
    with pytest.raises(SystemExit, match="no GPU is visible"):
        bench.main(["--device", "cuda"])


@pytest.mark.slow  # ~15 s on the shared 2-core machine: two Trainer fits and two evaluations
def test_architectures_comparison_runs_both_arms_and_renders(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "architectures_bench", SCRIPT.parent / "architectures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "architectures.json"
    module.main(
        [
            "--budget",
            "0.2",
            "--seeds",
            "0",
            "--samples",
            "64",
            "--reals",
            "256",
            "--out",
            str(out),
            "--no-figures",
        ]
    )
    data = json.loads(out.read_text())
    assert [r["arm"] for r in data["rows"]] == ["dcgan", "sngan"]
    for row in data["rows"]:
        assert row["g_steps"] >= 1 and row["fid"] > 0 and 0 <= row["coverage"] <= 1
    render = SCRIPT.parents[1] / "scripts" / "render_resnets.py"
    spec = importlib.util.spec_from_file_location("render_resnets_test", render)
    renderer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(renderer)
    table = renderer.architectures(tmp_path)
    assert "| DCGAN (width 32) |" in table and "| SNGAN ResNet (width 32) |" in table
