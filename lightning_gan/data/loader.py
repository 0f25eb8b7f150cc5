"""A DataLoader that resumes mid-epoch exactly where a checkpoint left it.

Lightning checkpoints the state of any training dataloader that has ``state_dict`` /
``load_state_dict`` (its ``_Stateful`` protocol) and otherwise warns that a mid-epoch resume is
"unreliable". Shuffling (and DataLoader's per-epoch worker seed) draws from the loader's own
``torch.Generator``, never the global RNG the GAN uses for latents, so the state is just that
generator at the start of the
epoch plus how many batches were consumed; resuming replays the epoch's permutation and skips the
consumed batches, which makes a resumed run see exactly the batches the uninterrupted run saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


class ResumableDataLoader(DataLoader):
    """``DataLoader`` whose shuffle order and position within the epoch are checkpointed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("generator") is None:
            # Private generator: DataLoader draws worker seeds (and the shuffle order) from it at
            # every epoch start instead of from the global RNG, which latents depend on.
            seed = int(torch.randint(0, 2**62, ()).item())  # follows seed_everything
            kwargs["generator"] = torch.Generator().manual_seed(seed)
        super().__init__(*args, **kwargs)
        self._epoch_start: torch.Tensor | None = None
        self._consumed = 0
        self._skip = 0

    def __iter__(self) -> Iterator[Any]:
        if self.generator is not None:
            self._epoch_start = self.generator.get_state()
        batches = super().__iter__()
        skip, self._skip = self._skip, 0
        for _ in range(skip):
            next(batches)
        self._consumed = skip
        for batch in batches:
            self._consumed += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        finished = self._consumed >= len(self)
        if self.generator is None:
            generator_state = None
        elif finished or self._epoch_start is None:
            generator_state = self.generator.get_state()  # the next epoch starts from here
        else:
            generator_state = self._epoch_start
        return {"generator": generator_state, "consumed": 0 if finished else self._consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        self._skip = int(state.get("consumed", 0))


def shuffled_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Shuffled, fixed-size batches (``drop_last``: the GAN step assumes equal batch sizes)."""
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
