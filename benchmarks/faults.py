"""The fault drills of ``docs/guide/reliability.md``, timed: what each fault costs a run.

Each drill runs ``tests/fault_run.py`` (the same runs ``tests/test_faults.py`` asserts on) in its
own process, on the tiny ring GAN, CPU, gloo for two processes:

* ``sigterm``: SIGTERM from another process mid-epoch; seconds from the signal to a clean exit,
  the checkpoint it wrote, and whether a fresh process resumed from it ends with the weights of
  an uninterrupted run (SHA-256 of the weights);
* ``ddp_sigterm``: SIGTERM to rank 1 only of two; both ranks' stop step and weight digest;
* ``disk_full``: a file-size limit (``RLIMIT_FSIZE``) makes the second checkpoint write fail;
  whether the error names the cause, partial files left, and whether the first still loads;
* ``truncated_newest``: the newest checkpoint cut to 5 kB; what ``--ckpt_path last`` picks;
* ``dead_rank_1`` / ``dead_rank_0``: one of two ranks exits at step 12; seconds from its last
  words to the end of the job, and the newest complete checkpoint left.

    python benchmarks/faults.py        # writes docs/results/faults.json
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lightning_gan.reliability.last_checkpoint import newest_complete_checkpoint  # noqa: E402

OUT = ROOT / "docs" / "results" / "faults.json"
RUN = str(ROOT / "tests" / "fault_run.py")
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}
FINISHED = re.compile(r"FINISHED rank=(\d+) global_step=(\d+) checksum=(\w{16})")
SETTINGS = {
    "model": "tests/helpers.tiny_gan (MLP 2-32-32-2, ring data, batch 64)",
    "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, gloo for 2 processes",
    "torch": torch.__version__,
}


def _digest(out: str) -> str:
    return out.split("checksum=")[1].split()[0]


def _checksum_run(folder: Path, steps: int, ckpt: Path | None = None) -> str:
    args = [sys.executable, RUN, "checksum", str(folder), str(steps)]
    run = subprocess.run(args + ([str(ckpt)] if ckpt else []), capture_output=True, text=True,
                         env=ENV, timeout=300)  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return _digest(run.stdout)


def _timed(args: list[str], until: str | None = None) -> tuple[int, str, float]:
    """Run ``args``; seconds from the first output line containing ``until`` (or the start)
    to the process's exit."""
    start = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=ENV)  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if until is not None and until in line:
            start, until = time.monotonic(), None
    process.wait(timeout=300)
    return process.returncode, "".join(lines), time.monotonic() - start


def sigterm(tmp: Path) -> dict[str, Any]:
    process = subprocess.Popen([sys.executable, RUN, "sigterm", str(tmp)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=ENV)  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "READY" in line:
            break
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=300)[0]
    seconds = time.monotonic() - sent
    saved = sorted((tmp / "checkpoints").glob("preempted-step=*.ckpt"))
    step = torch.load(saved[0], weights_only=False)["global_step"] if saved else None
    resumed = _checksum_run(tmp / "resumed", 60, saved[0]) if saved else None
    straight = _checksum_run(tmp / "straight", 60)
    return {
        "fault": "SIGTERM from another process, mid-epoch",
        "exit_code": process.returncode,
        "seconds_to_exit": round(seconds, 2),
        "checkpoint": saved[0].name if saved else None,
        "checkpoint_step": step,
        "lost": "nothing" if saved and "FINISHED" in rest else "the run since its last checkpoint",
        "resume_check": "bitwise equal to the uninterrupted run at step 60"
        if resumed == straight
        else f"differs ({resumed} vs {straight})",
    }


def ddp_sigterm(tmp: Path) -> dict[str, Any]:
    code, out, seconds = _timed([sys.executable, RUN, "ddp-sigterm", str(tmp), "1"])
    # Two processes share the pipe, so their lines may interleave: match, don't split lines.
    finished = FINISHED.findall(out)
    saved = sorted((tmp / "checkpoints").glob("preempted-step=*.ckpt"))
    same = len(finished) == 2 and len({(step, digest) for _, step, digest in finished}) == 1
    return {
        "fault": "SIGTERM to rank 1 of 2 (gan_ddp, gloo)",
        "exit_code": code,
        "seconds_whole_job": round(seconds, 1),
        "checkpoint": saved[0].name if saved else None,
        "lost": "nothing" if saved and same else "see output",
        "resume_check": "both ranks stopped at the same step with identical weights"
        if same
        else f"ranks disagree: {finished}",
    }


def disk_full(tmp: Path) -> dict[str, Any]:
    code, out, seconds = _timed([sys.executable, RUN, "fsize", str(tmp)])
    files = sorted(p.name for p in tmp.iterdir())
    loads = newest_complete_checkpoint([tmp])
    step = torch.load(loads, weights_only=False)["global_step"] if loads else None
    return {
        "fault": "checkpoint write fails part way (file-size limit, as a full disk)",
        "exit_code": code,
        "error_names_cause": "CheckpointWriteError" in out and "file-size limit" in out,
        "files_left": files,
        "lost": f"the steps after step {step} (the previous checkpoint loads)"
        if step is not None
        else "everything",
        "resume_check": f"{loads.name} loads (global_step {step})" if loads else "nothing loads",
    }


def truncated_newest(tmp: Path) -> dict[str, Any]:
    import warnings

    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lightning_gan.reliability.last_checkpoint import resolve_last
    from tests.helpers import quiet_trainer, ring_data, tiny_gan

    L.seed_everything(0, verbose=False)
    checkpoints = ModelCheckpoint(dirpath=tmp, every_n_train_steps=4, save_top_k=-1)
    trainer = quiet_trainer(
        max_steps=8, default_root_dir=tmp, callbacks=[checkpoints], enable_checkpointing=True
    )
    trainer.fit(tiny_gan(), ring_data())
    newest, older = tmp / "epoch=0-step=8.ckpt", tmp / "epoch=0-step=4.ckpt"
    newest.write_bytes(newest.read_bytes()[:5000])
    os.utime(older, (time.time() - 60, time.time() - 60))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picked = Path(resolve_last(quiet_trainer(max_steps=12, default_root_dir=tmp)))
    return {
        "fault": "newest checkpoint truncated (crash mid-write outside lightning_gan)",
        "picked_by_last": picked.name,
        "warned": any("Skipping checkpoint" in str(w.message) for w in caught),
        "lost": "the steps after the previous checkpoint",
        "resume_check": f"--ckpt_path last resumes from {picked.name}",
    }


def dead_rank(tmp: Path, rank: int) -> dict[str, Any]:
    code, out, seconds = _timed(
        [sys.executable, RUN, "dead-rank", str(tmp), str(rank)], until=f"rank {rank} dying"
    )
    complete = newest_complete_checkpoint([tmp])
    step = torch.load(complete, weights_only=False)["global_step"] if complete else None
    return {
        "fault": f"rank {rank} of 2 exits at step 12 (gan_ddp, gloo)",
        "exit_code": code,
        "seconds_death_to_job_end": round(seconds, 1),
        "survivor_names_rank": f"rank {rank} of this 2-process job stopped" in out,
        "lost": f"the steps after step {step}" if step is not None else "everything",
        "resume_check": f"{complete.name} loads" if complete else "nothing loads",
    }


def main() -> None:
    drills = {
        "sigterm": sigterm,
        "ddp_sigterm": ddp_sigterm,
        "disk_full": disk_full,
        "truncated_newest": truncated_newest,
        "dead_rank_1": lambda t: dead_rank(t, 1),
        "dead_rank_0": lambda t: dead_rank(t, 0),
    }
    records = []
    for name, drill in drills.items():
        with tempfile.TemporaryDirectory() as folder:
            record = {"drill": name, **drill(Path(folder))}
        print(json.dumps(record))
        records.append(record)
    OUT.write_text(json.dumps({"settings": SETTINGS, "drills": records}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
