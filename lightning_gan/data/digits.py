"""scikit-learn's 8x8 handwritten digits: a tiny image set that ships with scikit-learn.

Small enough (1797 images) to train an image GAN on CPU in a test, and available offline.
"""

from __future__ import annotations

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.data.loader import shuffled_loader


def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """Images scaled from 0..16 to [-1, 1] (the range of a tanh generator), shape [N, 1, 8, 8]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    return images, labels


class Digits(LightningDataModule):
    """The 1797 scikit-learn digits as ``(image [1, 8, 8] in [-1, 1], label int64)`` batches."""

    shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 10
    n_classes: int = 10  # older name of num_classes

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self._dataset: TensorDataset | None = None

    @property
    def dataset(self) -> TensorDataset:
        """Loaded on first use so the datamodule works without a Trainer calling ``setup``."""
        if self._dataset is None:
            self._dataset = TensorDataset(*load_digits_tensors())
        return self._dataset

    def setup(self, stage: str | None = None) -> None:
        """Load the images (local file read, no download)."""
        _ = self.dataset

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.dataset, self.batch_size, self.num_workers)
