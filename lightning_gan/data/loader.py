"""Training loaders that resume mid-epoch exactly where a checkpoint left them.

Lightning checkpoints the state of any training dataloader that has ``state_dict`` /
``load_state_dict`` (its ``_Stateful`` protocol) and otherwise warns that a mid-epoch resume is
"unreliable". Two loaders here have that state:

- :func:`shuffled_loader` (every datamodule of this package uses it): torchdata's
  ``StatefulDataLoader`` over a :class:`ResumableRandomSampler`. Resuming skips the consumed
  *indices*, so nothing already trained on is read or decoded again (benchmarks/resume_loaders.py
  measures it against replay), and it stays exact with worker processes.
- :class:`ResumableDataLoader`: a plain ``DataLoader`` that resumes by *replaying* the epoch and
  discarding the consumed batches. Slower (it re-reads them), but it accepts anything a
  ``DataLoader`` accepts: your own sampler or batch sampler, an ``IterableDataset``, no shuffling.

Both keep the shuffle order off the global RNG: the order comes from a private ``torch.Generator``
seeded from the global RNG once, at construction (so ``seed_everything`` governs it), and epoch
starts or worker seeding never draw from the global stream the GAN samples its latents from.
:func:`eval_loader` (validation/test batches) has a generator of its own for the same reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler


def private_generators() -> tuple[torch.Generator, torch.Generator]:
    """Two private generators (order, worker seeds) from one draw of the global RNG.

    One draw, as when loaders had a single generator, so the global stream after a loader is
    built (the latents) is as it was; ``seed_everything`` makes both reproducible.
    """
    seed = int(torch.randint(0, 2**62, ()).item())
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)


class ResumableRandomSampler(DistributedSampler):
    """A fresh permutation each epoch whose position survives a checkpoint, without replay.

    Each epoch draws ``randperm(len(data_source))`` from the sampler's private generator and
    yields its first ``len(data_source) // batch_size * batch_size`` indices: exactly the whole
    batches ``drop_last=True`` keeps, so "all indices yielded" means "epoch finished". The state
    is the generator at the start of the epoch in progress plus the number of indices yielded;
    resuming redraws that permutation and starts after them, which leaves the generator where the
    uninterrupted run has it at the next epoch too. torchdata's own ``RandomSampler`` restores the
    epoch in progress but, with ``num_workers=0``, not the next epoch's order (it shares the
    loader's generator with the worker base seed; measured in benchmarks/resume_loaders.py).

    Under ``torch.distributed`` each of the W ranks takes every W-th index of the same
    permutation (equal whole batches per rank). It subclasses ``DistributedSampler`` so that
    Lightning keeps it instead of swapping in its own, whose order it sets per epoch only after
    torchdata has built the resumed epoch's iterator (a mid-epoch resume under DDP then replays
    the rest of that epoch in epoch 0's order). Ranks agree on the order when they agree on the
    global RNG at construction: call ``seed_everything``, as for any reproducible run.
    """

    def __init__(
        self, data_source: Any, batch_size: int = 1, generator: torch.Generator | None = None
    ) -> None:
        # DistributedSampler.__init__ is not called: ranks are looked up when iterating (the
        # process group may start after the loader is built); only the type matters to Lightning.
        self.data_source = data_source
        self.batch_size = batch_size
        self.generator = private_generators()[0] if generator is None else generator
        self.epoch = 0
        self._epoch_start: torch.Tensor | None = None
        self._yielded = 0
        self._resume: tuple[torch.Tensor, int] | None = None
        self._per_rank()  # fail now on a batch the data cannot fill

    @staticmethod
    def _world() -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_world_size(), torch.distributed.get_rank()
        return 1, 0

    def _per_rank(self) -> int:
        """Indices each rank yields per epoch: its whole batches."""
        n, (world, _) = len(self.data_source), self._world()
        per_rank = n // (world * self.batch_size) * self.batch_size
        if self.batch_size < 1 or per_rank == 0:
            ranks = f" x {world} ranks" if world > 1 else ""
            raise ValueError(
                f"batch_size={self.batch_size}{ranks} does not fit the {n} training samples "
                f"(drop_last would leave no batch): pass 1 <= batch_size <= {n // world}."
            )
        return per_rank

    def __len__(self) -> int:
        return self._per_rank()

    def set_epoch(self, epoch: int) -> None:
        """Recorded only: the order follows the generator, whose state the checkpoint carries."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        # A generator function: nothing is drawn until the first index is requested, so the
        # iterators torchdata creates and discards while restoring cost nothing.
        resume, self._resume = self._resume, None
        skip = 0
        if resume is not None:
            self.generator.set_state(resume[0])
            skip = resume[1]
        self._epoch_start = self.generator.get_state()
        order = torch.randperm(len(self.data_source), generator=self.generator)
        (world, rank), per_rank = self._world(), self._per_rank()
        mine = order[: per_rank * world][rank::world]
        self._yielded = skip
        for index in mine[skip:].tolist():
            self._yielded += 1
            yield index

    def state_dict(self) -> dict[str, Any]:
        if self._epoch_start is None or self._yielded >= self._per_rank():
            # Before the first epoch or after the last index of one: the next epoch starts from
            # the generator as it is now (Lightning then counts epochs like the uninterrupted run).
            return {"generator": self.generator.get_state(), "yielded": 0}
        return {"generator": self._epoch_start, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = (state["generator"], int(state["yielded"]))


def shuffled_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Shuffled, fixed-size batches that resume mid-epoch exactly, without re-reading anything.

    ``drop_last`` because the GAN step assumes equal batch sizes. Workers are persistent (one
    start per fit instead of one per epoch). The loader's own generator only seeds the workers
    (their base seed, which torchdata checkpoints); the order comes from the sampler's. Under
    DDP every rank trains on its own share of each epoch (see :class:`ResumableRandomSampler`).
    """
    from torchdata.stateful_dataloader import StatefulDataLoader

    order, workers = private_generators()
    sampler = ResumableRandomSampler(dataset, batch_size, generator=order)
    with warnings.catch_warnings():
        # torchdata 0.11 calls the deprecated torch.set_vital in its constructor.
        warnings.filterwarnings("ignore", message=".*set_vital.*")
        return StatefulDataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            generator=workers,
        )


def fitting(datamodule: Any) -> bool:
    """Whether the datamodule's trainer is running ``fit`` (not validate/test/predict)."""
    trainer = getattr(datamodule, "trainer", None)
    return trainer is not None and getattr(trainer.state, "fn", None) == "fit"


def eval_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Evaluation batches: every sample once, in order (unshuffled, ``drop_last=False``).

    It has a generator of its own although it does not shuffle: a DataLoader without one draws
    its workers' base seed from the global RNG whenever it builds an iterator, and with
    persistent workers only the first time, so a validation run would shift the latents' random
    stream at a different step in a resumed run than in the uninterrupted one.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        drop_last=False,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(0),
    )


class ResumableDataLoader(DataLoader):
    """``DataLoader`` whose shuffle order and position within the epoch are checkpointed.

    Resuming replays the epoch's order and discards the consumed batches, so they are read (and
    decoded) again: cheap for tensors in memory, up to an epoch of decoding for image files (use
    :func:`shuffled_loader` for those). Use this one when you need a ``DataLoader`` option that
    :func:`shuffled_loader` does not take (your own sampler or batch sampler, an
    ``IterableDataset``, no shuffling).

    With ``shuffle=True`` the order comes from a ``RandomSampler`` with its own private generator,
    separate from the loader's (which seeds the workers): with persistent workers the loader draws
    the worker seed only when it first starts them, so one shared generator would shift the
    order of an epoch resumed after the first. Random transforms run inside workers are not part
    of the state (neither loader restores a worker's RNG mid-epoch).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        shuffle_here = bool(kwargs.get("shuffle")) and kwargs.get("sampler") is None
        user = kwargs.get("generator")
        if user is None:
            order, workers = private_generators()
        else:  # the caller's generator keeps driving the order; workers get a derived one
            order, workers = user, torch.Generator().manual_seed(user.initial_seed() + 1)
        kwargs["generator"] = workers if shuffle_here or user is None else user
        if shuffle_here and kwargs.get("batch_sampler") is None:
            dataset = args[0] if args else kwargs["dataset"]
            kwargs["sampler"] = RandomSampler(dataset, generator=order)
            kwargs["shuffle"] = None
        super().__init__(*args, **kwargs)
        self._epoch_start: torch.Tensor | None = None
        self._consumed = 0
        self._skip = 0

    @property
    def _order_generator(self) -> torch.Generator | None:
        """The generator the batch order is drawn from."""
        sampler_generator = getattr(self.sampler, "generator", None)
        if isinstance(sampler_generator, torch.Generator):
            return sampler_generator
        return self.generator

    def __iter__(self) -> Iterator[Any]:
        generator = self._order_generator
        if generator is not None:
            self._epoch_start = generator.get_state()
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
        generator = self._order_generator
        if generator is None:
            generator_state = None
        elif finished or self._epoch_start is None:
            generator_state = generator.get_state()  # the next epoch starts from here
        else:
            generator_state = self._epoch_start
        return {"generator": generator_state, "consumed": 0 if finished else self._consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        generator = self._order_generator
        if state.get("generator") is not None and generator is not None:
            generator.set_state(state["generator"])
        self._skip = int(state.get("consumed", 0))


__all__ = [
    "ResumableDataLoader",
    "ResumableRandomSampler",
    "eval_loader",
    "private_generators",
    "shuffled_loader",
]
