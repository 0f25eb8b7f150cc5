"""Data for the runs that are not training: evaluation splits and sample requests.

``lightning-gan validate|test`` evaluate over the datamodule's validation/test split, and over
its training set when it has none (the offline benchmarks have no held-out split: their metrics
compare with the training distribution, as the papers do). :class:`EvaluationData` supplies that
fallback without changing the datamodule. ``lightning-gan predict`` runs Lightning's predict loop
over :class:`SampleRequests`: sample indices (and labels for a conditional GAN), so the number of
samples and their labels are data, and the generator is called in batches.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch.utils.data import DataLoader, TensorDataset


class EvaluationData(LightningDataModule):
    """``datamodule`` with ``val_dataloader``/``test_dataloader`` falling back to its training
    set (unshuffled, every sample once) where it defines none; other attributes pass through."""

    def __init__(self, datamodule: LightningDataModule, batch_size: int | None = None) -> None:
        super().__init__()
        self.source = datamodule
        self._batch_size = batch_size

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this wrapper lacks: `modes`, `num_classes`, `shape`, ...
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    def has_split(self, stage: str) -> bool:
        """Whether the wrapped datamodule has its own ``<stage>_dataloader``."""
        return is_overridden(f"{stage}_dataloader", self.source, LightningDataModule)

    def evaluation_split(self, stage: str) -> str:
        """The split ``validate``/``test`` (``stage``) evaluates, for the table to name:
        the datamodule's own answer, else ``"validation"``/``"test"`` where it has a loader for
        the stage, else ``"training"`` (this wrapper's fallback)."""
        own = getattr(self.source, "evaluation_split", None)
        if callable(own):
            return own(stage)
        loader = "val" if stage == "validate" else "test"
        if self.has_split(loader):
            return "validation" if loader == "val" else "test"
        return "validation" if stage == "test" and self.has_split("val") else "training"

    def prepare_data(self) -> None:
        self.source.prepare_data()

    def setup(self, stage: str) -> None:
        self.source.trainer = self.trainer
        self.source.setup(stage)

    def train_dataloader(self) -> Any:
        return self.source.train_dataloader()

    def val_dataloader(self) -> Any:
        return self.source.val_dataloader() if self.has_split("val") else self.training_set()

    def test_dataloader(self) -> Any:
        if self.has_split("test"):
            return self.source.test_dataloader()
        return self.val_dataloader()

    def training_set(self) -> DataLoader:
        """Every training sample once, in order, in batches of the training batch size."""
        self.source.setup("fit")
        loader = self.source.train_dataloader()
        batch_size = self._batch_size or getattr(loader, "batch_size", None) or 256
        # A generator of its own: a DataLoader without one draws its base seed from the global
        # RNG at every iteration, which would shift the latents of anything sampled after it.
        return DataLoader(
            loader.dataset,
            batch_size=batch_size,
            shuffle=False,
            drop_last=False,
            generator=torch.Generator().manual_seed(0),
        )

    def state_dict(self) -> dict[str, Any]:
        return self.source.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.source.load_state_dict(state_dict)


def unwrap(datamodule: Any) -> Any:
    """The user's datamodule behind an :class:`EvaluationData` (or ``datamodule`` itself)."""
    return datamodule.source if isinstance(datamodule, EvaluationData) else datamodule


class SampleRequests(LightningDataModule):
    """``n`` sample requests ``(index, label)`` for ``Trainer.predict`` on a GAN.

    Labels: ``labels`` if given, else balanced (``i % num_classes``) for a conditional GAN, else
    ``-1`` (unused). The latents come from the GAN's RNG: seed it (``SampleWriter(seed=...)``).
    Other attributes (a mixture's ``modes``, for the scatter picture) pass through to ``source``.
    """

    def __init__(
        self,
        n: int,
        num_classes: int | None = None,
        labels: torch.Tensor | None = None,
        batch_size: int = 500,
        source: LightningDataModule | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1 (samples to generate), got {n!r}.")
        if labels is None:
            labels = torch.arange(n) % num_classes if num_classes else torch.full((n,), -1)
        self.requests = TensorDataset(torch.arange(n), torch.as_tensor(labels).long())
        self.batch_size = batch_size
        self.source = source

    def __getattr__(self, name: str) -> Any:
        if name == "source":
            raise AttributeError(name)
        source = self.__dict__.get("source")
        if source is None:
            raise AttributeError(name)
        return getattr(source, name)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.requests, batch_size=self.batch_size, shuffle=False)
