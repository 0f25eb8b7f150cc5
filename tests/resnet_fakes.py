"""A stand-in datamodule for smoke tests of recipes whose datasets are not on this machine."""

from __future__ import annotations

import torch
from lightning import LightningDataModule
from torch.utils.data import TensorDataset

from lightning_gan import ResumableDataLoader


class FakeImageData(LightningDataModule):
    """``n`` seeded random images in [-1, 1] (with labels in ``[0, num_classes)`` when
    ``num_classes`` is given), shaped like the recipe's dataset, so a config trains a few steps
    with the data block swapped (``--data=tests.resnet_fakes.FakeImageData``). ``conditional``
    mirrors ``TorchvisionData``'s, which the CLI carries over from the recipe."""

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        num_classes: int | None = None,
        batch_size: int = 4,
        n: int = 32,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(n, channels, image_size, image_size, generator=gen) * 2 - 1
        tensors = [x] if num_classes is None else [x, torch.randint(0, num_classes, (n,))]
        self.dataset = TensorDataset(*tensors)
        self.batch_size = batch_size
        self.num_classes = num_classes
        self.conditional = conditional

    def train_dataloader(self) -> ResumableDataLoader:
        return ResumableDataLoader(
            self.dataset, batch_size=self.batch_size, shuffle=True, drop_last=True
        )
