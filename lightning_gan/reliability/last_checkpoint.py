"""``--ckpt_path last``: the newest *complete* checkpoint of a run.

Lightning resolves ``ckpt_path="last"`` through its ``ModelCheckpoint`` callbacks' current
folder, which under a logger is the new run's ``version_N`` folder (empty on a resume), and it
takes the newest file whether or not it is complete. Here "last" searches the run's root folder
(``default_root_dir``, or a checkpoint callback's ``dirpath``) for ``*.ckpt`` files, newest
first, and skips any that a crash or a full disk cut short, naming each one skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_warn

from lightning_gan.step.checkpoint_state import checkpoint_problem


def newest_complete_checkpoint(
    folders: Iterable[str | Path], exclude: Path | None = None, warn: bool = False
) -> Path | None:
    """The most recently written complete ``*.ckpt`` below ``folders`` (``None`` if none).

    With ``warn``, every newer but damaged file passed over is named in a warning.
    """
    found: dict[Path, float] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            for path in folder.rglob("*.ckpt"):
                if path.is_file() and (exclude is None or path.resolve() != exclude.resolve()):
                    found[path] = path.stat().st_mtime
    for path in sorted(found, key=lambda p: (found[p], p.name), reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        if warn:
            rank_zero_warn(f"Skipping checkpoint {str(path)!r}: it {problem}.")
    return None


def resolve_last(trainer: Any) -> str:
    """``ckpt_path="last"`` for ``trainer``: the newest complete checkpoint below its
    ``default_root_dir`` and its checkpoint callbacks' folders, or an error naming where it
    looked."""
    folders = [Path(trainer.default_root_dir)]
    folders += [
        Path(cb.dirpath) for cb in trainer.checkpoint_callbacks if getattr(cb, "dirpath", None)
    ]
    path = newest_complete_checkpoint(folders, warn=True)
    if path is None:
        where = ", ".join(sorted({str(f) for f in folders}))
        raise FileNotFoundError(
            f"ckpt_path='last': no complete checkpoint (*.ckpt) below {where}: start without "
            "--ckpt_path, or set --trainer.default_root_dir to the run's folder."
        )
    return str(path)
