"""Checkpoints that are either complete or not written: temporary file, fsync, rename.

Lightning's ``TorchCheckpointIO`` already writes through an fsspec transaction (a temporary
file moved into place), so a failed write does not replace the previous file; what it lacks is
durability (no fsync: after a power loss the renamed file can be empty) and a message: a full
disk surfaces as a bare ``OSError: [Errno 28]`` from deep inside fsspec. This plugin writes local
checkpoints itself so both are handled, and leaves remote paths to Lightning.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lightning_gan.step.checkpoint_state import check_checkpoint_file

_CAUSES = {
    errno.ENOSPC: "the disk is full: free space",
    errno.EFBIG: "the file exceeds the file-size limit (ulimit -f): raise the limit",
    errno.EDQUOT: "the disk quota is exceeded: free space or raise the quota",
    errno.EACCES: "the folder is not writable: fix its permissions",
    errno.EROFS: "the file system is read-only: write checkpoints elsewhere",
}


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; no earlier checkpoint was replaced or removed."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local writes are atomic and durable, with clear errors.

    ``GAN`` installs it on the trainer's strategy at ``setup`` when the strategy uses Lightning's
    default ``TorchCheckpointIO``, so every GAN run gets it; pass it yourself with
    ``Trainer(plugins=[AtomicCheckpointIO()])`` for other modules.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            # Serialised in memory first: torch's zip writer turns a failed write() into a
            # RuntimeError without its errno, so ENOSPC/EFBIG would lose their cause.
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            with open(temporary, "wb") as file:
                file.write(buffer.getbuffer())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            _fsync_folder(path.parent)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            cause = _CAUSES.get(error.errno, "see the error above")
            raise CheckpointWriteError(
                error.errno,
                f"Could not write the checkpoint {str(path)!r}: {error.strerror or error} "
                f"({cause}). Nothing was replaced: the previous file at that path, if any, and "
                "the run's other checkpoints are intact; fix the cause and resume with "
                "`--ckpt_path last` (or `trainer.fit(..., ckpt_path='last')`).",
            ) from error

    def load_checkpoint(self, path: _PATH, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if _local(path):
            check_checkpoint_file(path)  # a damaged file is named, with the newest complete one
        return super().load_checkpoint(path, *args, **kwargs)


def _local(path: _PATH) -> bool:
    protocol = get_filesystem(path).protocol
    return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory); a no-op where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
