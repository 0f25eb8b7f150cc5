"""Your own images: a folder of image files (one subfolder per class, or flat) as a datamodule.

Everything that can be wrong with a folder (nothing in it, no images, an unreadable file, a batch
size the training set cannot fill) is found in ``setup``, before the first step, with the fix in
the message: a corrupt file found at step 40,000 costs a run.

The folder also decides the shapes: ``channels`` and ``image_size`` default to what the images
are (:mod:`.image_shapes`), so the networks the CLI links to them are
built for the data instead of for a guess in a config file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from lightning import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from lightning_gan.data.image_shapes import NET_SIZES as NET_SIZES  # re-exported
from lightning_gan.data.image_shapes import infer_channels, infer_image_size
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


def _images_under(folder: Path, skipped: list[str] | None = None) -> list[str]:
    """Image files below ``folder`` (recursive, symlinks followed, hidden entries skipped), sorted.

    Other visible files are appended to ``skipped`` (so that they can be reported, not silently
    dropped). Hand-written rather than torchvision's ``make_dataset``: that one needs class
    folders (no flat layout) and counts hidden folders such as ``.ipynb_checkpoints`` as classes.
    """
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(parent, f) for f in files if not f.startswith(".")]
    if skipped is not None:
        skipped += sorted(f for f in found if not is_image_file(f))
    return sorted(f for f in found if is_image_file(f))


def scan_folder(
    root: Path, skipped: list[str] | None = None
) -> tuple[list[str], list[str], list[int]]:
    """``(classes, files, labels)``: one class per subfolder (sorted by name), or a flat folder.

    Visible files that are not images (by extension) are appended to ``skipped``. Raises
    ``FileNotFoundError`` / ``ValueError`` naming the fix for every layout that would give no
    images or ambiguous labels.
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
    if skipped is not None:
        skipped += [
            os.path.join(root, e.name) for e in entries if e.is_file() and not is_image_file(e.name)
        ]
    subdirs = [Path(root, e.name) for e in entries if e.is_dir()]
    per_class = {d.name: _images_under(d, skipped) for d in subdirs}
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
    skipped; other files are skipped too and named once in ``setup`` (on rank 0).

    The data decides the shapes. ``channels=None`` is 1 when every image is greyscale, else 3
    (:func:`infer_channels`); ``image_size=None`` is the shorter side of the most common image
    size, rounded down to a side the reference nets support (:func:`infer_image_size`). The CLI
    links ``channels``, ``image_size`` and (with ``conditional=True``) ``num_classes`` to the GAN
    and its networks, so a config needs only ``root``.

    ``val_fraction`` and ``test_fraction`` hold out two disjoint stratified splits, drawn from
    ``seed`` (the test split first, then the validation split from the rest; each is its
    fraction of all images). ``val_dataloader()`` iterates the validation split and
    ``test_dataloader()`` the test split, in order, every image once; a missing split falls back
    to the other held-out one, and without either to the training images (so, as for the offline
    benchmarks, metrics compare with the training distribution; :meth:`evaluation_split` says
    which). ``check="full"`` decodes every file in ``setup`` (a truncated file is named there,
    not at the step that draws it); ``"header"`` reads headers only, about half the cost (see
    docs/data.md for both measured).
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int | None = None,
        channels: int | None = None,
        batch_size: int = 64,
        val_fraction: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
        check: str = "full",
        test_fraction: float = 0.0,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        if image_size is not None and (
            isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1
        ):
            raise ValueError(
                f"image_size={image_size!r} must be a positive integer: pass e.g. 64, or None to "
                "infer it from the images."
            )
        if channels not in (None, 1, 3):
            raise ValueError(
                f"channels={channels!r}: pass channels=1 (grey) or channels=3 (RGB), or None to "
                "infer it from the images."
            )
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 <= fraction < 1.0:
                raise ValueError(
                    f"{name}={fraction} is outside [0, 1): pass e.g. {name}=0.1 to hold out 10% "
                    "for evaluation, or 0 for none."
                )
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction={val_fraction} and test_fraction={test_fraction} hold out every "
                "image: keep their sum below 1 (e.g. 0.05 each)."
            )
        if num_workers < 0:
            raise ValueError(f"num_workers={num_workers} must be >= 0.")
        if check not in _CHECKS:
            raise ValueError(f"check={check!r} is unknown: use check='full' or check='header'.")
        root = str(root)  # a Path in the hyperparameters breaks weights_only checkpoint loads
        self.save_hyperparameters()
        self.root = Path(root).expanduser()
        self._image_size = image_size
        self._channels = channels
        self.batch_size = batch_size
        self.val_fraction = float(val_fraction)
        self.test_fraction = float(test_fraction)
        self.num_workers = num_workers
        self.seed = seed
        self.check = check
        self.conditional = bool(conditional)
        self._size_rule = "given"
        self._scan: tuple[list[str], list[str], list[int]] | None = None
        self._skipped: list[str] = []
        self._train: Subset | None = None
        self._val: Subset | None = None
        self._test: Subset | None = None
        self._reported = False

    def _scanned(self) -> tuple[list[str], list[str], list[int]]:
        if self._scan is None:
            skipped: list[str] = []
            self._scan = scan_folder(self.root, skipped)
            self._skipped = skipped
        return self._scan

    @property
    def classes(self) -> list[str]:
        """Class names in label order (subfolder names; the root's own name for a flat folder)."""
        return self._scanned()[0]

    @property
    def num_classes(self) -> int:
        """``len(classes)``: what ``GAN(num_classes=...)`` takes for a conditional model."""
        return len(self.classes)

    @property
    def channels(self) -> int:
        """1 or 3: as given, or inferred from the images (:func:`infer_channels`)."""
        if self._channels is None:
            self._channels = infer_channels(self._scanned()[1])
        return self._channels

    @property
    def image_size(self) -> int:
        """The side images are resized and cropped to: as given, or :func:`infer_image_size`."""
        if self._image_size is None:
            self._image_size, self._size_rule = infer_image_size(self._scanned()[1])
        return self._image_size

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(channels, image_size, image_size)`` of every sample."""
        return (self.channels, self.image_size, self.image_size)

    @property
    def skipped_files(self) -> list[str]:
        """Files under ``root`` that are not images (by extension), skipped by the scan."""
        self._scanned()
        return list(self._skipped)

    def setup(self, stage: str | None = None) -> None:
        """Scan, check every file, and split; raises here (never at a batch) on bad input."""
        if self._train is not None:
            return
        classes, files, labels = self._scanned()
        check_files(files, full=self.check == "full")
        dataset = ImageFiles(files, labels, gan_transform(self.channels, self.image_size))
        rest, test = stratified_split(dataset.labels, self.test_fraction, self.seed)
        # The validation share is of all images: rescaled to what the test split left.
        share = self.val_fraction / (1.0 - self.test_fraction)
        kept, val = stratified_split(dataset.labels[rest], share, self.seed)
        kept, val = rest[kept], rest[val]
        for name, fraction, held in (
            ("val_fraction", self.val_fraction, val),
            ("test_fraction", self.test_fraction, test),
        ):
            if fraction > 0 and len(held) == 0:
                raise ValueError(
                    f"{name}={fraction} of {len(files)} images holds out none: raise {name} or "
                    "add images."
                )
        if len(kept) < self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the {len(kept)} training images in "
                f"{self.root} (drop_last would leave no batch): pass batch_size <= {len(kept)}."
            )
        self._train = Subset(dataset, kept.tolist())
        self._val = Subset(dataset, val.tolist()) if len(val) else None
        self._test = Subset(dataset, test.tolist()) if len(test) else None
        self._report()

    def _report(self) -> None:
        """One line on rank 0: what was found, the shapes and why, and every skipped file."""
        if self._reported:
            return
        self._reported = True
        files = self._scanned()[1]
        colour = "greyscale" if self.channels == 1 else "RGB"
        line = (
            f"ImageFolder {self.root}: {len(files)} images in {self.num_classes} class(es), "
            f"trained as {colour} {self.image_size}x{self.image_size} (image_size: "
            f"{self._size_rule})."
        )
        skipped = [os.path.relpath(f, self.root) for f in self._skipped]
        if skipped:
            listed = ", ".join(skipped[:_MAX_LISTED])
            more = f" (and {len(skipped) - _MAX_LISTED} more)" if len(skipped) > _MAX_LISTED else ""
            what = "file that is not an image" if len(skipped) == 1 else "files that are not images"
            line += f" Skipped {len(skipped)} {what}: {listed}{more}."
        rank_zero_info(line)

    @property
    def train_dataset(self) -> Subset:
        """The training images (``setup`` on first use, so no Trainer is needed)."""
        self.setup()
        assert self._train is not None
        return self._train

    @property
    def val_dataset(self) -> Subset | None:
        """The validation images, ``None`` when ``val_fraction=0``."""
        self.setup()
        return self._val

    @property
    def test_dataset(self) -> Subset | None:
        """The test images, ``None`` when ``test_fraction=0``."""
        self.setup()
        return self._test

    def evaluation_split(self, stage: str) -> str:
        """Which images ``val_dataloader`` (``stage="validate"``) or ``test_dataloader``
        (``"test"``) iterate: ``"validation"``, ``"test"`` or ``"training"`` (no held-out split),
        for evaluation tables to say what they were measured on."""
        own, other = (self.val_dataset, self.test_dataset)
        names = ("validation", "test")
        if stage == "test":
            own, other, names = other, own, names[::-1]
        if own is not None:
            return names[0]
        return names[1] if other is not None else "training"

    def _evaluation_set(self, stage: str) -> Subset:
        return {"validation": self.val_dataset, "test": self.test_dataset}.get(
            self.evaluation_split(stage), self.train_dataset
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.train_dataset, self.batch_size, self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        """The validation split in order, every image once (see :meth:`evaluation_split`).

        Without a validation split, ``fit`` gets no validation loader: validating on the
        training images (or the test split) every epoch would cost time for no information.
        """
        if self.val_dataset is None and fitting(self):
            return []
        return eval_loader(self._evaluation_set("validate"), self.batch_size, self.num_workers)

    def test_dataloader(self) -> DataLoader:
        """The test split in order, every image once (see :meth:`evaluation_split`)."""
        return eval_loader(self._evaluation_set("test"), self.batch_size, self.num_workers)
