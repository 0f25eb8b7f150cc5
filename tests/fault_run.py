"""Runs for tests/test_faults.py, each in its own process (faults that must not hit pytest).

usage: python tests/fault_run.py MODE OUT_DIR [ARG]

* ``dead-rank OUT_DIR RANK``: 2 gloo processes under ``gan_ddp``, checkpointing every 2 steps;
  process RANK dies (``os._exit(3)``) at step 12, the others must stop on their own.
* ``fsize OUT_DIR``: one process; after the first checkpoint is written, a file-size limit
  smaller than a checkpoint makes the next write fail part way.
* ``sigterm OUT_DIR``: one process that waits to be sent SIGTERM from outside at batch 6
  (it prints READY and spins), then must save at the next boundary and exit 0.
* ``ddp-sigterm OUT_DIR RANK``: 2 gloo processes under ``gan_ddp``; only process RANK gets
  SIGTERM (it signals itself during batch 6): both ranks must save the same checkpoint at the
  same boundary and exit 0 (each prints its step and a weight checksum).
* ``checksum OUT_DIR MAX_STEPS [CKPT]``: one process trains to MAX_STEPS (from CKPT when
  given) and prints the final weights' checksum, to compare a resumed run with a straight one.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
import warnings
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import ring_data, tiny_gan  # noqa: E402

warnings.filterwarnings("ignore")


class DieAt(L.Callback):
    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if trainer.global_rank == self.rank and trainer.global_step >= self.step:
            print(f"rank {self.rank} dying at step {trainer.global_step}", flush=True)
            os._exit(3)


class LimitAfterFirst(L.Callback):
    """Once the first checkpoint exists, allow files of at most 2 kB."""

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if list(Path(trainer.default_root_dir).glob("*.ckpt")):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))


class WaitForSignal(L.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, idx) -> None:
        if idx == 5:
            print("READY", flush=True)
            deadline = time.time() + 30
            while pl_module.trainer.should_stop is False and time.time() < deadline:
                time.sleep(0.05)  # the handler only sets a flag; the boundary is this batch's end
                if any(getattr(cb, "signalled", None) for cb in trainer.callbacks):
                    return


class SignalSelfAt(L.Callback):
    """SIGTERM to this process during batch ``idx`` on ``rank`` only (as a scheduler that
    pre-empts one node would)."""

    def __init__(self, rank: int, idx: int) -> None:
        self.rank, self.idx = rank, idx

    def on_train_batch_start(self, trainer, pl_module, batch, idx) -> None:
        if trainer.global_rank == self.rank and idx == self.idx:
            os.kill(os.getpid(), signal.SIGTERM)


def checksum(module) -> str:
    """A bitwise digest of the weights: equal digests mean equal runs."""
    import hashlib

    digest = hashlib.sha256()
    for p in module.parameters():
        digest.update(p.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    L.seed_everything(0, verbose=False)
    common = dict(
        default_root_dir=out, logger=False, enable_progress_bar=False, accelerator="cpu",
        enable_model_summary=False,
    )  # fmt: skip
    if mode == "dead-rank":
        checkpoints = ModelCheckpoint(dirpath=out, every_n_train_steps=2, save_top_k=-1)
        trainer = L.Trainer(
            max_steps=400, strategy="gan_ddp", devices=2,
            callbacks=[checkpoints, DieAt(int(sys.argv[3]), 12)], **common,
        )  # fmt: skip
    elif mode == "fsize":
        checkpoints = ModelCheckpoint(dirpath=out, every_n_train_steps=4, save_top_k=-1)
        trainer = L.Trainer(max_steps=40, callbacks=[checkpoints, LimitAfterFirst()], **common)
    elif mode == "sigterm":
        trainer = L.Trainer(max_steps=400, callbacks=[WaitForSignal()], **common)
    elif mode == "ddp-sigterm":
        trainer = L.Trainer(
            max_steps=400, strategy="gan_ddp", devices=2,
            callbacks=[SignalSelfAt(int(sys.argv[3]), 6)], **common,
        )  # fmt: skip
    elif mode == "checksum":
        trainer = L.Trainer(max_steps=int(sys.argv[3]), **common)
    else:
        raise SystemExit(f"unknown mode {mode}")
    gan = tiny_gan()
    ckpt = sys.argv[4] if mode == "checksum" and len(sys.argv) > 4 else None
    trainer.fit(gan, ring_data(), ckpt_path=ckpt)
    print(
        f"FINISHED rank={trainer.global_rank} global_step={trainer.global_step} "
        f"checksum={checksum(gan)}",
        flush=True,
    )


if __name__ == "__main__":
    main()
