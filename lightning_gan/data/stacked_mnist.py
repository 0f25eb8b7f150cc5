"""Stacked MNIST: three digits as the RGB channels, 1000 modes (PacGAN / VEEGAN / Unrolled GAN).

Only an index table ``[n_samples, 3]`` into the 5000 MNIST digits is stored; images are stacked on
the fly, so 50k samples cost 1.2 MB of indices instead of 470 MB of pixels.
"""

from __future__ import annotations

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_gan.data.loader import shuffled_loader
from lightning_gan.data.mnist5k import load_mnist5k, pad_to_32


class StackedDigits(Dataset[tuple[Tensor, Tensor]]):
    """Item ``i`` stacks ``images[index[i, c]]`` as channel ``c``; label ``100*R + 10*G + B``."""

    def __init__(self, images: Tensor, labels: Tensor, index: Tensor) -> None:
        self.images = images  # [N, 1, H, W]
        self.digit_labels = labels  # [N]
        self.index = index  # [n_samples, 3]

    @property
    def labels(self) -> Tensor:
        """All mode labels at once (vectorised), for histograms without iterating the dataset."""
        digits = self.digit_labels[self.index]
        return 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]

    def __len__(self) -> int:
        return self.index.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        ids = self.index[i]
        digits = self.digit_labels[ids]
        label = 100 * digits[0] + 10 * digits[1] + digits[2]
        return self.images[ids].squeeze(1), label


class StackedMNIST(LightningDataModule):
    """Batches of ``(image [3, 28, 28] in [-1, 1], mode label in [0, 1000) int64)``.

    The digit triples are drawn uniformly from ``seed`` with a local ``torch.Generator``, so the
    dataset is reproducible and the global RNG is untouched.
    """

    n_modes: int = 1000
    num_classes: int = 1000  # the label is the mode: 100 * R + 10 * G + B

    def __init__(
        self,
        n_samples: int = 50_000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
        pad_to_32: bool = False,
    ) -> None:
        super().__init__()
        if n_samples < 1:
            raise ValueError(f"n_samples={n_samples} must be at least 1: pass n_samples >= 1.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        self.save_hyperparameters()
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.pad_to_32 = pad_to_32
        size = 32 if pad_to_32 else 28
        self.shape: tuple[int, int, int] = (3, size, size)
        self._dataset: StackedDigits | None = None

    @property
    def dataset(self) -> StackedDigits:
        """Built on first use so the datamodule works without a Trainer calling ``setup``."""
        if self._dataset is None:
            images, labels = load_mnist5k()
            if self.pad_to_32:
                images = pad_to_32(images)
            generator = torch.Generator().manual_seed(self.seed)
            index = torch.randint(len(labels), (self.n_samples, 3), generator=generator)
            self._dataset = StackedDigits(images, labels, index)
        return self._dataset

    def setup(self, stage: str | None = None) -> None:
        """Draw the index table (deterministic in ``seed``)."""
        _ = self.dataset

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.dataset, self.batch_size, self.num_workers)
