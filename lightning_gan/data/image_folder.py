"""Your own images: a folder of image files (one subfolder per class, or flat) as a datamodule.

Everything that can be wrong with a folder (nothing in it, no images, an unreadable file, a batch
size the training set cannot fill) is found in ``setup``, before the first step, with the fix in
the message: a corrupt file found at step 40,000 costs a run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from lightning_gan.data.images import (
    IMAGE_EXTENSIONS,
    check_image,
    gan_transform,
    is_image_file,
    open_image,
)
from lightning_gan.data.loader import eval_loader, fitting, shuffled_loader
from lightning_gan.data.splits import stratified_split

_CHECKS = ("full", "header")
_MAX_LISTED = 5


class ImageFiles(Dataset[tuple[Tensor, int]]):
    """``(transform(image), label)`` for a list of files; decoding errors name the file."""

    def __init__(self, files: list[str], labels: list[int], transform) -> None:
        self.files = files
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.transform(open_image(self.files[index])), int(self.labels[index])


def _visible(entries: list[os.DirEntry]) -> list[os.DirEntry]:
    return [e for e in entries if not e.name.startswith(".")]


def _images_under(folder: Path) -> list[str]:
    """Image files below ``folder`` (recursive, symlinks followed, hidden entries skipped), sorted.

    Hand-written rather than torchvision's ``make_dataset``: that one needs class folders (no flat
    layout) and counts hidden folders such as ``.ipynb_checkpoints`` as classes.
    """
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(parent, f) for f in files if not f.startswith(".")]
    return sorted(f for f in found if is_image_file(f))


def scan_folder(root: Path) -> tuple[list[str], list[str], list[int]]:
    """``(classes, files, labels)``: one class per subfolder (sorted by name), or a flat folder.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the fix for every layout that would give
    no images or ambiguous labels.
    """
    exts = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    if not root.is_dir():
        raise FileNotFoundError(
            f"ImageFolder root {str(root)!r} is not a folder: pass root= the folder that holds "
            "your images (directly, or in one subfolder per class)."
        )
    with os.scandir(root) as it:
        entries = sorted(_visible(list(it)), key=lambda e: e.name)
    top = [os.path.join(root, e.name) for e in entries if e.is_file() and is_image_file(e.name)]
    subdirs = [Path(root, e.name) for e in entries if e.is_dir()]
    per_class = {d.name: _images_under(d) for d in subdirs}
    filled = {name: files for name, files in per_class.items() if files}
    if top and filled:
        raise ValueError(
            f"{root} has {len(top)} images at its top level (e.g. {Path(top[0]).name}) and class "
            f"subfolders ({', '.join(sorted(filled))}): move the top-level images into a class "
            "subfolder, or the subfolders' images up, so that every image has one label."
        )
    if top:
        return [root.name], sorted(top), [0] * len(top)
    if filled:
        empty = [name for name, files in per_class.items() if not files]
        if empty:
            raise ValueError(
                f"class folder(s) {', '.join(empty)} in {root} hold no images ({exts}): add images "
                "to them or remove them (each subfolder of root is one class)."
            )
        classes = sorted(filled)
        files = [f for name in classes for f in filled[name]]
        labels = [i for i, name in enumerate(classes) for _ in filled[name]]
        return classes, files, labels
    others = [e.name for e in entries if e.is_file()]
    others += [os.path.relpath(f, root) for d in subdirs for f in _all_files(d)]
    if not others:
        raise ValueError(
            f"ImageFolder root {str(root)!r} is empty: put image files ({exts}) in it, or one "
            "subfolder of images per class."
        )
    raise ValueError(
        f"ImageFolder root {str(root)!r} has no image files: found {len(others)} other file(s) "
        f"(e.g. {', '.join(others[:3])}); supported extensions are {exts}. Convert the images to "
        "one of these, or pass root= the folder that holds them."
    )


def _all_files(folder: Path) -> list[str]:
    return [
        os.path.join(parent, f)
        for parent, _, files in os.walk(folder, followlinks=True)
        for f in files
        if not f.startswith(".")
    ]


def check_files(files: list[str], full: bool = True) -> None:
    """Raise ``ValueError`` listing every unreadable file (see :func:`check_image` for ``full``)."""
    bad = [(f, why) for f in files if (why := check_image(f, full)) is not None]
    if bad:
        listed = "; ".join(f"{f}: {why}" for f, why in bad[:_MAX_LISTED])
        more = f" (and {len(bad) - _MAX_LISTED} more)" if len(bad) > _MAX_LISTED else ""
        raise ValueError(
            f"{len(bad)} of {len(files)} image files cannot be decoded: {listed}{more}. Delete or "
            "re-save these files."
        )


class ImageFolder(LightningDataModule):
    """Every image file under ``root`` as ``(image [channels, image_size, image_size], label)``.

    Images of any size and colour mode are resized (shorter side) and centre-cropped to
    ``image_size``, converted to ``channels`` (1 or 3; transparency composited on black) and
    scaled to [-1, 1]. One subfolder per class gives labels ``0..K-1`` in the sorted order of the
    folder names (``classes``); a flat folder is one class, label 0. Hidden files and folders are
    skipped, other files ignored.

    ``val_fraction`` holds out a stratified split, drawn from ``seed``, for evaluation:
    ``val_dataloader()`` and ``test_dataloader()`` iterate it in order, every image once (with
    ``val_fraction=0`` they iterate the training images so, as for the offline benchmarks,
    metrics compare with the training distribution). ``check="full"`` decodes every file in
    ``setup`` (a truncated file is named there, not at the step that draws it); ``"header"``
    reads headers only, about half the cost (see docs/data.md for both measured).
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int,
        channels: int = 3,
        batch_size: int = 64,
        val_fraction: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
        check: str = "full",
    ) -> None:
        super().__init__()
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size={image_size!r} must be a positive integer: pass e.g. 64.")
        if channels not in (1, 3):
            raise ValueError(f"channels={channels!r}: pass channels=1 (grey) or channels=3 (RGB).")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(
                f"val_fraction={val_fraction} is outside [0, 1): pass e.g. val_fraction=0.1 to "
                "hold out 10% for evaluation, or 0 for none."
            )
        if num_workers < 0:
            raise ValueError(f"num_workers={num_workers} must be >= 0.")
        if check not in _CHECKS:
            raise ValueError(f"check={check!r} is unknown: use check='full' or check='header'.")
        root = str(root)  # a Path in the hyperparameters breaks weights_only checkpoint loads
        self.save_hyperparameters()
        self.root = Path(root).expanduser()
        self.image_size = image_size
        self.channels = channels
        self.batch_size = batch_size
        self.val_fraction = float(val_fraction)
        self.num_workers = num_workers
        self.seed = seed
        self.check = check
        self.shape: tuple[int, int, int] = (channels, image_size, image_size)
        self._scan: tuple[list[str], list[str], list[int]] | None = None
        self._train: Subset | None = None
        self._val: Subset | None = None

    def _scanned(self) -> tuple[list[str], list[str], list[int]]:
        if self._scan is None:
            self._scan = scan_folder(self.root)
        return self._scan

    @property
    def classes(self) -> list[str]:
        """Class names in label order (subfolder names; the root's own name for a flat folder)."""
        return self._scanned()[0]

    @property
    def num_classes(self) -> int:
        """``len(classes)``: what ``GAN(num_classes=...)`` takes for a conditional model."""
        return len(self.classes)

    def setup(self, stage: str | None = None) -> None:
        """Scan, check every file, and split; raises here (never at a batch) on bad input."""
        if self._train is not None:
            return
        classes, files, labels = self._scanned()
        check_files(files, full=self.check == "full")
        dataset = ImageFiles(files, labels, gan_transform(self.channels, self.image_size))
        kept, held_out = stratified_split(dataset.labels, self.val_fraction, self.seed)
        if self.val_fraction > 0 and len(held_out) == 0:
            raise ValueError(
                f"val_fraction={self.val_fraction} of {len(files)} images holds out none: raise "
                "val_fraction or add images."
            )
        if len(kept) < self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the {len(kept)} training images in "
                f"{self.root} (drop_last would leave no batch): pass batch_size <= {len(kept)}."
            )
        self._train = Subset(dataset, kept.tolist())
        self._val = Subset(dataset, held_out.tolist()) if len(held_out) else None

    @property
    def train_dataset(self) -> Subset:
        """The training images (``setup`` on first use, so no Trainer is needed)."""
        self.setup()
        assert self._train is not None
        return self._train

    @property
    def val_dataset(self) -> Subset | None:
        """The held-out images, ``None`` when ``val_fraction=0``."""
        self.setup()
        return self._val

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.train_dataset, self.batch_size, self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        """The held-out split in order, every image once (the training images without one).

        Without a held-out split, ``fit`` gets no validation loader: validating on the
        training images every epoch would double the cost of an epoch for no information.
        """
        if self.val_dataset is None and fitting(self):
            return []
        dataset = self.val_dataset if self.val_dataset is not None else self.train_dataset
        return eval_loader(dataset, self.batch_size, self.num_workers)

    def test_dataloader(self) -> DataLoader:
        """The same split as ``val_dataloader`` (a folder has no published test split)."""
        return self.val_dataloader()
