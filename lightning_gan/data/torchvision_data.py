"""The standard image benchmarks by name, through ``torchvision.datasets``, as one datamodule.

torchvision reads each dataset's own on-disk format and owns the download; this module adds what
a GAN needs on top: one image range ([-1, 1]), optional resize / centre crop / channel conversion
(the same transform as :class:`~lightning_gan.data.ImageFolder`), the published train/test
splits, a seeded stratified validation split, resumable training batches, and errors that say
where the files should be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from lightning_gan.data.images import gan_transform
from lightning_gan.data.loader import eval_loader, fitting, shuffled_loader
from lightning_gan.data.splits import stratified_split


@dataclass(frozen=True)
class _Spec:
    """What differs between the torchvision datasets."""

    cls: str  # class name in torchvision.datasets
    shape: tuple[int, int, int]  # native (C, H, W)
    num_classes: int
    split_arg: str  # "train" (a bool) or "split" (a name)
    train_split: str
    files: str  # what root must hold, for the not-found message


_SPECS: dict[str, _Spec] = {
    "mnist": _Spec(
        "MNIST", (1, 28, 28), 10, "train", "train",
        "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
    ),
    "fashionmnist": _Spec(
        "FashionMNIST", (1, 28, 28), 10, "train", "train",
        "FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
    ),
    "cifar10": _Spec(
        "CIFAR10", (3, 32, 32), 10, "train", "train",
        "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}",
    ),
    "cifar100": _Spec(
        "CIFAR100", (3, 32, 32), 100, "train", "train", "cifar-100-python/{train,test,meta}",
    ),
    "svhn": _Spec("SVHN", (3, 32, 32), 10, "split", "train", "{train,test}_32x32.mat"),
    "stl10": _Spec(
        "STL10", (3, 96, 96), 10, "split", "train",
        "stl10_binary/{train,test}_{X,y}.bin (the 5000 labelled training images)",
    ),
    "celeba": _Spec(
        "CelebA", (3, 218, 178), 10_177, "split", "train",
        "celeba/img_align_celeba/ and celeba/{list_eval_partition,identity_CelebA,"
        "list_attr_celeba,list_bbox_celeba,list_landmarks_align_celeba}.txt",
    ),
}  # fmt: skip

NAMES: tuple[str, ...] = tuple(spec.cls for spec in _SPECS.values())


def _key(name: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    if key not in _SPECS:
        raise ValueError(f"name={name!r} is unknown: use one of {', '.join(NAMES)} (any case).")
    return key


class _CelebAIdentity:
    """CelebA identities are 1-based: label = identity - 1 in [0, 10177)."""

    def __call__(self, target: Tensor) -> int:
        return int(target) - 1


class _CelebAAttribute:
    """One CelebA attribute as a binary label (1 = has it)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, target: Tensor) -> int:
        return int(target[self.index])


class TorchvisionData(LightningDataModule):
    """A torchvision benchmark (MNIST, FashionMNIST, CIFAR10, CIFAR100, SVHN, STL10, CelebA).

    Batches are ``(image [C, H, W] in [-1, 1], label int64)``. ``image_size`` (resize the shorter
    side, then centre-crop) and ``channels`` (1 or 3) default to the dataset's own. Splits are
    the published ones: ``train_dataloader`` the training split (SVHN without ``extra``; STL10
    the 5000 labelled ``train`` images, not the 100k unlabelled), ``test_dataloader`` the test
    split, ``val_dataloader`` a stratified ``val_fraction`` of train held out with ``seed`` (and
    then not trained on), or the test split when ``val_fraction=0``. CelebA's label is
    ``celeba_target``: ``"identity"`` (10,177 classes, 0-based) or an attribute name such as
    ``"Smiling"`` (binary). ``download=True`` downloads in ``prepare_data`` (needs network);
    without it, missing files raise ``FileNotFoundError`` saying where they should be.
    ``conditional=True`` asks the CLI to link ``num_classes`` to the GAN and its networks (as
    ``shape`` is linked to their ``channels`` and ``image_size``).
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        download: bool = False,
        image_size: int | None = None,
        channels: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        val_fraction: float = 0.0,
        celeba_target: str = "identity",
        conditional: bool = False,
    ) -> None:
        super().__init__()
        self._spec = _SPECS[_key(name)]
        if image_size is not None and (
            isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1
        ):
            raise ValueError(
                f"image_size={image_size!r} must be a positive integer (or None for the "
                "dataset's own size): pass e.g. 64."
            )
        if channels not in (None, 1, 3):
            raise ValueError(
                f"channels={channels!r}: pass channels=1 (grey), 3 (RGB) or None (the dataset's)."
            )
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(
                f"val_fraction={val_fraction} is outside [0, 1): pass e.g. val_fraction=0.1, or 0 "
                "to validate on the test split."
            )
        root = str(root)  # a Path in the hyperparameters breaks weights_only checkpoint loads
        self.save_hyperparameters()
        self.name = self._spec.cls
        self.root = Path(root).expanduser()
        self.download = download
        self.image_size = image_size
        native_c, native_h, native_w = self._spec.shape
        self.channels = native_c if channels is None else channels
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.val_fraction = float(val_fraction)
        self.celeba_target = celeba_target
        self.conditional = bool(conditional)
        size = (native_h, native_w) if image_size is None else (image_size, image_size)
        self.shape: tuple[int, int, int] = (self.channels, *size)
        self._train: Dataset | None = None
        self._val: Dataset | None = None
        self._test: Dataset | None = None
        self.classes: list[str] | None = None

    @property
    def num_classes(self) -> int:
        """The dataset's classes (CelebA: 10,177 identities, or 2 for an attribute)."""
        if self.name == "CelebA" and self.celeba_target != "identity":
            return 2
        return self._spec.num_classes

    # ------------------------------------------------------------------------------ loading
    def _split_kwargs(self, train: bool) -> dict[str, Any]:
        if self._spec.split_arg == "train":
            return {"train": train}
        kwargs: dict[str, Any] = {"split": self._spec.train_split if train else "test"}
        if self.name == "CelebA":
            kwargs["target_type"] = "identity" if self.celeba_target == "identity" else "attr"
        return kwargs

    def _build(self, train: bool, download: bool, transform=None) -> Dataset:
        import torchvision.datasets

        cls = getattr(torchvision.datasets, self._spec.cls)
        try:
            kwargs = self._split_kwargs(train)
            return cls(str(self.root), download=download, transform=transform, **kwargs)
        except RuntimeError as error:
            if "download=True" not in str(error):
                raise
            hint = (
                " Offline, lightning_gan.data.fashion_mnist_from_debian(root) installs it from "
                "Debian's dataset-fashion-mnist package."
                if self.name == "FashionMNIST"
                else ""
            )
            raise FileNotFoundError(
                f"{self.name} files are missing (or fail their checksum) under "
                f"root={str(self.root)!r}: expected {self.root}/{self._spec.files}. Pass "
                f"download=True to download it (needs network), or put the files there.{hint}"
            ) from error

    def prepare_data(self) -> None:
        """Download both splits if ``download=True`` (Lightning runs this on one process)."""
        if self.download:
            for train in (True, False):
                self._build(train, download=True)

    def setup(self, stage: str | None = None) -> None:
        """Open the published splits and hold out the validation split; raises on bad input."""
        if self._train is not None:
            return
        transform = gan_transform(self.channels, self.image_size)
        try:
            train = self._build(True, download=False, transform=transform)
        except FileNotFoundError:
            if not self.download:
                raise
            self.prepare_data()
            train = self._build(True, download=False, transform=transform)
        test = self._build(False, download=False, transform=transform)
        for dataset in (train, test):
            self._set_target_transform(dataset)
        labels = self._labels(train)
        kept, held_out = stratified_split(labels, self.val_fraction, self.seed)
        if self.val_fraction > 0 and len(held_out) == 0:
            raise ValueError(
                f"val_fraction={self.val_fraction} of {len(labels)} images holds out none: raise "
                "val_fraction."
            )
        if len(kept) < self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the {len(kept)} training images of "
                f"{self.name} (drop_last would leave no batch): pass batch_size <= {len(kept)}."
            )
        self.classes = self._classes(train)
        self._train = Subset(train, kept.tolist()) if len(held_out) else train
        self._val = Subset(train, held_out.tolist()) if len(held_out) else test
        self._test = test

    def _set_target_transform(self, dataset: Any) -> None:
        if self.name != "CelebA":
            return
        if self.celeba_target == "identity":
            dataset.target_transform = _CelebAIdentity()
            return
        if self.celeba_target not in dataset.attr_names:
            raise ValueError(
                f"celeba_target={self.celeba_target!r} is not a CelebA attribute: use 'identity' "
                f"or one of {', '.join(n for n in dataset.attr_names if n)}."
            )
        dataset.target_transform = _CelebAAttribute(dataset.attr_names.index(self.celeba_target))

    def _labels(self, dataset: Any) -> Tensor:
        """All training labels at once (for the stratified split), without decoding images."""
        if self.name == "CelebA":
            if self.celeba_target == "identity":
                return dataset.identity[:, 0].long() - 1
            return dataset.attr[:, dataset.attr_names.index(self.celeba_target)].long()
        targets = dataset.labels if self.name in ("SVHN", "STL10") else dataset.targets
        return torch.as_tensor(np.asarray(targets), dtype=torch.int64)

    def _classes(self, dataset: Any) -> list[str]:
        if self.name == "CelebA":
            if self.celeba_target == "identity":
                return [str(i) for i in range(1, self.num_classes + 1)]
            return [f"not {self.celeba_target}", self.celeba_target]
        return list(getattr(dataset, "classes", [str(i) for i in range(self.num_classes)]))

    # ------------------------------------------------------------------------------ loaders
    @property
    def train_dataset(self) -> Dataset:
        """The training images (``setup`` on first use, so no Trainer is needed)."""
        self.setup()
        assert self._train is not None
        return self._train

    @property
    def val_dataset(self) -> Dataset:
        """The held-out part of train, or the test split when ``val_fraction=0``."""
        self.setup()
        assert self._val is not None
        return self._val

    @property
    def test_dataset(self) -> Dataset:
        """The published test split."""
        self.setup()
        assert self._test is not None
        return self._test

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.train_dataset, self.batch_size, self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        """The validation images in order, every one once.

        With ``val_fraction=0`` ``fit`` gets no validation loader (validating on the whole test
        split every epoch is a cost the user did not ask for); ``validate`` uses the test split.
        """
        if self.val_fraction == 0 and fitting(self):
            return []
        return eval_loader(self.val_dataset, self.batch_size, self.num_workers)

    def evaluation_split(self, stage: str) -> str:
        """Which images ``validate`` (``stage="validate"``) or ``test`` evaluate: the published
        ``"test"`` split, or the ``"validation"`` split held out of train by ``val_fraction``."""
        return "validation" if stage == "validate" and self.val_fraction > 0 else "test"

    def test_dataloader(self) -> DataLoader:
        """The published test split in order, every image once."""
        return eval_loader(self.test_dataset, self.batch_size, self.num_workers)
