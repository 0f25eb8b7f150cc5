"""Real 2-process DDP (CPU, gloo): ranks stay identical and match a 1-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_run.py")


def _run(out: Path, strategy: str, devices: int, batch: int, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "NODE_RANK"))}
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "GROUP_RANK"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), strategy, str(devices), str(batch), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    _run(out, "gan_ddp", 2, 16)
    _run(out, "auto", 1, 32)
    _run(out, "ddp_find_unused_parameters_true", 2, 16)
    return out


def test_ranks_end_with_identical_weights(runs: Path) -> None:
    rank0 = torch.load(runs / "gan_ddp-2-rank0.pt")
    rank1 = torch.load(runs / "gan_ddp-2-rank1.pt")
    assert torch.equal(rank0["weights"], rank1["weights"])
    assert rank0["steps"] == rank1["steps"] == [8, 8]


def test_two_ranks_match_one_process_on_the_same_global_batches(runs: Path) -> None:
    ddp = torch.load(runs / "gan_ddp-2-rank0.pt")["weights"]
    single = torch.load(runs / "auto-1-rank0.pt")
    assert single["steps"] == [8, 8]
    single = single["weights"]
    torch.testing.assert_close(ddp, single, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strategy", ["gan_ddp", "ddp_find_unused_parameters_true"])
def test_ranks_draw_different_latents(runs: Path, strategy: str) -> None:
    rank0 = torch.load(runs / f"{strategy}-2-rank0.pt")["latent"]
    rank1 = torch.load(runs / f"{strategy}-2-rank1.pt")["latent"]
    assert not torch.equal(rank0, rank1)


def test_conditional_gan_ranks_match_one_process(tmp_path: Path) -> None:
    _run(tmp_path, "gan_ddp", 2, 16, "conditional")
    _run(tmp_path, "auto", 1, 32, "conditional")
    rank0 = torch.load(tmp_path / "gan_ddp-2-conditional-rank0.pt")
    rank1 = torch.load(tmp_path / "gan_ddp-2-conditional-rank1.pt")
    single = torch.load(tmp_path / "auto-1-conditional-rank0.pt")
    assert torch.equal(rank0["weights"], rank1["weights"]) and rank0["steps"] == [8, 8]
    torch.testing.assert_close(rank0["weights"], single["weights"], rtol=1e-5, atol=1e-6)


def test_callbacks_keep_ranks_identical_and_metrics_agree(tmp_path: Path) -> None:
    env_out = tmp_path
    _run(env_out, "gan_ddp", 2, 16, "callbacks")
    rank0 = torch.load(env_out / "gan_ddp-2-callbacks-rank0.pt")
    rank1 = torch.load(env_out / "gan_ddp-2-callbacks-rank1.pt")
    assert torch.equal(rank0["weights"], rank1["weights"])
    assert torch.equal(rank0["ema"], rank1["ema"])
    assert not torch.equal(rank0["ema"], rank0["weights"][: rank0["ema"].numel()])
    for key in ("coverage/modes", "coverage/hq_fraction", "coverage/kl"):
        assert rank0["metrics"][key] == rank1["metrics"][key], key
    assert "penalty/gp" in rank0["metrics"] and "noise/std" in rank0["metrics"]
