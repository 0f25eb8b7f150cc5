"""Pre-emption: on SIGTERM (or a first Ctrl-C) save a checkpoint at the next batch boundary.

Lightning's own SIGTERM handling (outside SLURM's requeue) ends the fit at the end of the
batch by raising ``SIGTERMException`` and writes no checkpoint, so a pre-empted job loses
everything since its last periodic checkpoint (measured: a SIGTERM to ``lightning-gan fit``
ended the run in 1.5 s with no file written). This callback takes the signal instead: the
handler only sets a flag, every rank reduces the flags at the end of each batch (one small
all-reduce under DDP, nothing on one process), and when any rank was signalled all ranks save
the same checkpoint at the same boundary and stop. The file continues the run exactly
(``fit(..., ckpt_path=...)`` on it equals the uninterrupted run, as every mid-epoch checkpoint
does). A second Ctrl-C interrupts at once, as Python's default does.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class PreemptionCheckpoint(Callback):
    """Save ``preempted-step=N.ckpt`` at the next batch boundary after SIGTERM or SIGINT.

    Args:
        dirpath: where to write it; default: the first ``ModelCheckpoint``'s folder, else
            ``<default_root_dir>/checkpoints``.
        signals: the signal names to catch (``SIGINT`` is caught once; a second one
            interrupts immediately).

    ``GAN`` adds one to every fit that has none (``GAN.configure_callbacks``). Handlers are
    installed at ``on_train_start`` on the main thread only and restored when training ends.
    """

    def __init__(
        self, dirpath: str | None = None, signals: tuple[str, ...] = ("SIGTERM", "SIGINT")
    ) -> None:
        super().__init__()
        self.dirpath = dirpath
        self.signals = tuple(signals)
        self.signalled: str | None = None
        self.saved_path: Path | None = None
        self._previous: dict[int, Any] = {}

    # ----------------------------------------------------------------------- signal handling
    def _handler(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if name == "SIGINT" and self.signalled is not None:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        self.signalled = name

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.signalled, self.saved_path = None, None
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set on the main thread
        for name in self.signals:
            number = getattr(signal, name)
            self._previous[number] = signal.signal(number, self._handler)

    def _restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: Any) -> None:
        self._restore()

    # ------------------------------------------------------------------------- the boundary
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        signalled = self.signalled is not None
        if trainer.world_size > 1:  # every rank takes the same decision at the same batch
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled or self.saved_path is not None:
            return
        path = self._folder(trainer) / f"preempted-step={trainer.global_step}.ckpt"
        trainer.save_checkpoint(path)  # every rank: the RNG states are gathered from all
        self.saved_path = path
        trainer.should_stop = True
        cause = self.signalled or "a signal on another rank"
        rank_zero_info(
            f"Received {cause}: saved {str(path)!r} at step {trainer.global_step} and stopped. "
            f"Continue exactly with `--ckpt_path {str(path)!r}` (or `--ckpt_path last`)."
        )

    def _folder(self, trainer: Trainer) -> Path:
        if self.dirpath is not None:
            return Path(self.dirpath)
        callback = trainer.checkpoint_callback
        folder = getattr(callback, "dirpath", None)
        return Path(folder) if folder else Path(trainer.default_root_dir) / "checkpoints"
