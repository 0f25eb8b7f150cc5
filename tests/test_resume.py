"""A run killed by SIGKILL and resumed from its last checkpoint is the uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

from tests import resume_run


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    killed = subprocess.run(
        [sys.executable, str(Path(resume_run.__file__)), str(tmp_path), "kill"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["global_step"] == 32  # last multiple of CKPT_EVERY before KILL_AT = 38
    resumed = resume_run.run(tmp_path, "resume")
    uninterrupted = resume_run.run(tmp_path / "full", "full")
    assert resumed["steps"].tolist() == uninterrupted["steps"].tolist() == [30, 30, 60]
    for key in ("weights", "ema", "health", "noise_std"):
        assert torch.equal(resumed[key], uninterrupted[key]), key
    assert len(resumed["health"]) > 0
