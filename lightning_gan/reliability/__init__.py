"""What keeps a long run's work safe when the machine misbehaves.

* :mod:`~lightning_gan.reliability.atomic_io`: checkpoints written whole or not at all, with
  errors that say what failed and where;
* :mod:`~lightning_gan.reliability.preemption`: SIGTERM (and one SIGINT) saves a checkpoint at
  the next batch boundary, agreed by every rank, and ends the run cleanly;
* :mod:`~lightning_gan.reliability.last_checkpoint`: ``--ckpt_path last`` resolves to the newest
  complete checkpoint of the run, skipping damaged ones by name.
"""

from lightning_gan.reliability.atomic_io import AtomicCheckpointIO, CheckpointWriteError
from lightning_gan.reliability.last_checkpoint import newest_complete_checkpoint
from lightning_gan.reliability.preemption import PreemptionCheckpoint

__all__ = [
    "AtomicCheckpointIO",
    "CheckpointWriteError",
    "PreemptionCheckpoint",
    "newest_complete_checkpoint",
]
