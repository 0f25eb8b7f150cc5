"""An image-folder run killed by SIGKILL mid-epoch and resumed is the uninterrupted run, bitwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

from tests import image_resume_run as script


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script.write_folder(data)
    killed = subprocess.run(
        [sys.executable, str(Path(script.__file__)), str(data), str(tmp_path), "kill"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)  # loader state is plain data
    assert last["global_step"] == 24  # batch 12: two batches into epoch 2
    loader_state = last["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert len(loader_state) == 1  # Lightning checkpointed the training loader's position

    resumed = script.run(data, tmp_path, "resume")
    uninterrupted = script.run(data, tmp_path / "full", "full")
    assert resumed["steps"] == uninterrupted["steps"]
    assert uninterrupted["steps"] == [28, 28, 56, 3]  # stopping mid-epoch 2 counts it done
    assert torch.equal(resumed["weights"], uninterrupted["weights"])
    # the batches after the checkpoint, through the epoch-3 boundary, are the same batches
    assert len(resumed["seen"]) == 28 - 12
    assert resumed["seen"] == uninterrupted["seen"][12:]
