"""Faults a long run meets: pre-emption, a full disk, a damaged checkpoint, a dead rank.

Each test asserts the guarantee of ``docs/guide/reliability.md``: the work is saved (or the
previous checkpoint is intact), the message names the cause and the fix, and a resume continues
exactly. Faults that would hit pytest itself (a file-size limit, a dying rank) run in
``tests/fault_run.py`` subprocesses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gan.reliability import CheckpointWriteError, PreemptionCheckpoint
from lightning_gan.reliability.atomic_io import AtomicCheckpointIO
from lightning_gan.reliability.last_checkpoint import newest_complete_checkpoint
from lightning_gan.step.checkpoint_state import check_checkpoint_file
from tests import fault_run
from tests.helpers import quiet_trainer, ring_data, tiny_gan

FAULT_RUN = str(Path(fault_run.__file__))
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}


class SignalAt(L.Callback):
    """Send this process ``signum`` during batch ``at`` (as a scheduler's SIGTERM would)."""

    def __init__(self, at: int, signum: int = signal.SIGTERM) -> None:
        self.at, self.signum = at, signum

    def on_train_batch_start(self, trainer, pl_module, batch, idx) -> None:
        if trainer.global_step // 2 == self.at:  # two optimizer steps (D and G) per batch
            os.kill(os.getpid(), self.signum)


def _weights(gan: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in gan.parameters()])


def _fit(
    root: Path,
    max_steps: int,
    callbacks: list,
    ckpt_path: str | None = None,
    gan_kwargs: dict | None = None,
):
    L.seed_everything(0, verbose=False)
    gan = tiny_gan(**(gan_kwargs if gan_kwargs is not None else {"lr_g": 2e-3, "lr_d": 2e-3}))
    trainer = quiet_trainer(
        max_steps=max_steps, default_root_dir=root, callbacks=callbacks, enable_checkpointing=False
    )
    trainer.fit(gan, ring_data(), ckpt_path=ckpt_path)
    return gan, trainer


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_at_the_batch_boundary_and_resume_is_exact(
    tmp_path: Path, signum: int
) -> None:
    """SIGTERM / a first Ctrl-C mid-epoch: a checkpoint at the next boundary, a clean stop, and
    a resume from it that equals the uninterrupted run bit for bit."""
    preemption = PreemptionCheckpoint()
    _, stopped = _fit(tmp_path / "run", 120, [preemption, SignalAt(23, signum)])
    assert stopped.global_step == 48  # batch 23 finished (2 steps each), then it stopped
    saved = tmp_path / "run" / "checkpoints" / "preempted-step=48.ckpt"
    assert preemption.saved_path == saved and saved.is_file()
    assert signal.getsignal(signum) is not preemption._handler  # handlers restored

    resumed, trainer = _fit(tmp_path / "resumed", 120, [], ckpt_path=str(saved))
    straight, _ = _fit(tmp_path / "straight", 120, [])
    assert trainer.global_step == 120
    assert torch.equal(_weights(resumed), _weights(straight))


def test_gan_adds_the_preemption_callback_once(tmp_path: Path) -> None:
    _, trainer = _fit(tmp_path, 4, [])
    assert sum(isinstance(cb, PreemptionCheckpoint) for cb in trainer.callbacks) == 1
    mine = PreemptionCheckpoint(dirpath=str(tmp_path / "mine"))
    _, trainer = _fit(tmp_path, 4, [mine])
    found = [cb for cb in trainer.callbacks if isinstance(cb, PreemptionCheckpoint)]
    assert found == [mine]
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_full_disk_names_the_cause_and_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    """A file-size limit makes the second checkpoint's write fail part way (EFBIG, as ENOSPC
    would): the error names the cause, the path and the fix, no partial file is left, and the
    first checkpoint still loads."""
    run = subprocess.run(
        [sys.executable, FAULT_RUN, "fsize", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "CheckpointWriteError" in out and "file-size limit" in out, out[-3000:]
    assert "Nothing was replaced" in out and "--ckpt_path last" in out
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["epoch=0-step=4.ckpt"], files  # no temporary or half-written file
    state = torch.load(tmp_path / files[0], weights_only=False)
    assert state["global_step"] == 4


def test_a_full_disk_mid_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    """ENOSPC after part of the file is written: the old checkpoint at that path survives, no
    temporary file is left, and the error says the disk is full."""
    import errno

    from lightning_gan.reliability import atomic_io

    target = tmp_path / "last.ckpt"
    target.write_bytes(b"previous")

    class FullDisk:
        def __init__(self, path, mode):
            self.file = open(path, mode)  # noqa: SIM115 - closed in __exit__

        def write(self, data):
            self.file.write(bytes(data)[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(atomic_io, "open", FullDisk, raising=False)
    with pytest.raises(CheckpointWriteError, match="disk is full: free space") as raised:
        AtomicCheckpointIO().save_checkpoint({"a": torch.zeros(100)}, target)
    assert raised.value.errno == errno.ENOSPC and str(target) in str(raised.value)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_damaged_checkpoint_is_named_and_last_skips_it(tmp_path: Path) -> None:
    checkpoints = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=4, save_top_k=-1)
    L.seed_everything(0, verbose=False)
    trainer = quiet_trainer(
        max_steps=8, default_root_dir=tmp_path, callbacks=[checkpoints], enable_checkpointing=True
    )
    trainer.fit(tiny_gan(), ring_data())
    older, newest = tmp_path / "epoch=0-step=4.ckpt", tmp_path / "epoch=0-step=8.ckpt"
    newest.write_bytes(newest.read_bytes()[:5000])  # cut short, as a crash mid-write would
    os.utime(older, (time.time() - 60, time.time() - 60))

    with pytest.raises(ValueError, match="cut short") as raised:
        check_checkpoint_file(newest)
    message = str(raised.value)
    assert str(newest) in message and str(older) in message  # names the newest complete one
    with pytest.warns(UserWarning, match="Skipping checkpoint.*step=8"):
        assert newest_complete_checkpoint([tmp_path], warn=True) == older

    L.seed_everything(0, verbose=False)
    resumed = quiet_trainer(max_steps=12, default_root_dir=tmp_path, enable_checkpointing=False)
    with pytest.warns(UserWarning, match="Skipping checkpoint"):
        resumed.fit(tiny_gan(), ring_data(), ckpt_path=str(_resolved_last(resumed)))
    assert resumed.global_step == 12


def _resolved_last(trainer: L.Trainer) -> Path:
    from lightning_gan.reliability.last_checkpoint import resolve_last

    return Path(resolve_last(trainer))


def test_last_with_no_checkpoint_says_where_it_looked(tmp_path: Path) -> None:
    from lightning_gan.reliability.last_checkpoint import resolve_last

    trainer = quiet_trainer(max_steps=1, default_root_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=f"no complete checkpoint.*{tmp_path}"):
        resolve_last(trainer)


@pytest.mark.parametrize("dead", [1, 0])
def test_a_dead_rank_stops_the_others_promptly(tmp_path: Path, dead: int) -> None:
    """Rank ``dead`` of a 2-process gloo job exits at step 12: the job ends within a minute
    (no hang until a 30-minute collective timeout), the survivor names the dead rank, and the
    checkpoints written before the death load."""
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, FAULT_RUN, "dead-rank", str(tmp_path), str(dead)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "FINISHED" not in out, out[-3000:]
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert f"rank {dead} dying" in out
    if dead == 1:  # rank 0 survives the death long enough to say who stopped
        assert "rank 1 of this 2-process job stopped" in out, out[-3000:]
    complete = newest_complete_checkpoint([tmp_path])
    assert complete is not None
    assert torch.load(complete, weights_only=False)["global_step"] >= 8


@pytest.mark.parametrize("signalled", [1])
def test_sigterm_on_one_rank_stops_every_rank_at_the_same_boundary(
    tmp_path: Path, signalled: int
) -> None:
    """Only rank ``signalled`` of a 2-process gloo job gets SIGTERM (during batch 6): both
    ranks save the same checkpoint after that batch, stop there with identical weights, and
    exit 0 (no rank is left waiting in a collective)."""
    run = subprocess.run(
        [sys.executable, FAULT_RUN, "ddp-sigterm", str(tmp_path), str(signalled)],
        capture_output=True, text=True, timeout=180, env=ENV,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    # Both ranks print to one pipe, so lines may interleave: match, don't split lines.
    finished = re.findall(r"FINISHED rank=(\d) global_step=(\d+) checksum=(\w{16})", out)
    assert sorted(rank for rank, _, _ in finished) == ["0", "1"], out[-3000:]
    assert {(step, digest) for _, step, digest in finished} == {("14", finished[0][2])}
    saved = list((tmp_path / "checkpoints").glob("preempted-step=*.ckpt"))
    assert [p.name for p in saved] == ["preempted-step=14.ckpt"]
    assert torch.load(saved[0], weights_only=False)["global_step"] == 14


def test_resume_from_a_preemption_checkpoint_in_a_new_process_is_exact(tmp_path: Path) -> None:
    """The pre-empted file, resumed by a fresh process, ends with the uninterrupted run's
    weights bit for bit (checksums of two separate processes)."""
    callbacks = [PreemptionCheckpoint(), SignalAt(9)]
    _, stopped = _fit(tmp_path / "run", 200, callbacks, gan_kwargs={})  # fault_run's GAN
    saved = tmp_path / "run" / "checkpoints" / "preempted-step=20.ckpt"
    assert stopped.global_step == 20 and saved.is_file()
    digests = []
    for extra in ([str(saved)], []):
        run = subprocess.run(
            [sys.executable, FAULT_RUN, "checksum", str(tmp_path / "c"), "60", *extra],
            capture_output=True, text=True, timeout=180, env=ENV,
        )  # fmt: skip
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        digests.append(run.stdout.split("checksum=")[1].split()[0])
    assert digests[0] == digests[1]


@pytest.mark.slow
def test_sigterm_from_outside_saves_and_exits_cleanly(tmp_path: Path) -> None:
    """The real thing: another process sends SIGTERM while a fit runs."""
    process = subprocess.Popen(
        [sys.executable, FAULT_RUN, "sigterm", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "READY" in line:
            break
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 0, rest[-3000:]
    saved = list((tmp_path / "checkpoints").glob("preempted-step=*.ckpt"))
    assert len(saved) == 1 and "FINISHED rank=0 global_step=12" in rest
    assert torch.load(saved[0], weights_only=False)["global_step"] == 12
