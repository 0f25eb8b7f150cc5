"""What evaluation callbacks share: when to evaluate, and drawing samples without side effects.

Evaluation must not change training: samples are drawn under a forked RNG seeded afresh for each
evaluation, so a run with metrics follows the same trajectory as one without, and every
evaluation sees the same latents (successive numbers differ only because the generator did).
Drawing real samples never touches the global RNG either (the loader gets its own generator), so
the first evaluation, which also draws the real set, sees the same latents as the later ones.

Conditional generators (``gan.num_classes`` not None) are sampled on ``gan.sample_labels(n)``
(balanced labels), passed explicitly so that per-class metrics know each sample's label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset


class EvaluationSchedule:
    """Due every ``every_n_steps`` generator steps (``gan.g_steps``), at most once per step.

    Generator steps, not ``trainer.global_step`` (which counts D and G optimizer steps, so its
    meaning changes with ``n_critic``): the generator is what is being measured, and it only
    changes on G steps. With ``n_critic > 1`` several batches share a G step; the first one
    evaluates. ``last_step`` is checkpointed so a resumed run does not repeat an evaluation.
    """

    def __init__(self, every_n_steps: int) -> None:
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int):
            raise ValueError(f"every_n_steps must be an integer >= 1, got {every_n_steps!r}.")
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an integer >= 1, got {every_n_steps!r}.")
        self.every_n_steps = every_n_steps
        self.last_step = -1

    def due(self, step: int) -> bool:
        return step > 0 and step % self.every_n_steps == 0 and step != self.last_step

    def state_dict(self) -> dict[str, int]:
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = int(state.get("last_step", -1))


def generator_steps(pl_module: Any) -> int:
    """``gan.g_steps``; a clear error for a module that is not a :class:`~lightning_gan.GAN`."""
    if not hasattr(pl_module, "g_steps") or not hasattr(pl_module, "sample"):
        raise TypeError(
            f"{type(pl_module).__name__} has no `g_steps`/`sample`: evaluation callbacks "
            "need a lightning_gan.GAN (or a module with both)."
        )
    return int(pl_module.g_steps)


def rank_share(n: int, world_size: int) -> int:
    """Samples each rank draws so that the ranks together draw at least ``n``."""
    return math.ceil(n / max(world_size, 1))


@contextmanager
def seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with the global CPU (and this CUDA device's) RNG seeded to ``seed``, then
    restore the RNG state, so training's random stream is untouched."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def generation_labels(gan: Any, n: int) -> Tensor | None:
    """The labels to condition ``n`` evaluation samples on (``gan.sample_labels``), or ``None``
    for an unconditional GAN (``gan.num_classes`` None or absent)."""
    if getattr(gan, "num_classes", None) is None:
        return None
    return gan.sample_labels(n)


def generated_batches(
    gan: Any, n: int, batch_size: int, labels: Tensor | None = None
) -> Iterator[Tensor]:
    """``n`` samples of ``gan.sample`` (the EMA generator when present) in batches, conditioned
    on ``labels`` ``[n]`` when given (``gan.sample(m)`` exactly as before otherwise)."""
    if labels is not None and labels.shape[0] != n:
        raise ValueError(f"Expected {n} labels, got {labels.shape[0]}.")
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        if labels is None:
            yield gan.sample(m)
        else:
            yield gan.sample(m, labels=labels[start : start + m])


def labels_from_batch(batch: Any) -> Tensor | None:
    """The labels of an ``(x, y, ...)`` batch (every datamodule yields pairs), else ``None``."""
    if isinstance(batch, (tuple, list)) and len(batch) > 1 and isinstance(batch[1], Tensor):
        return batch[1]
    return None


def real_batches(
    dataset: Dataset,
    n: int,
    batch_size: int,
    extract: Callable[[Any], Tensor],
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Tensor]:
    """``n`` real samples from this rank's part of a seeded random order of ``dataset``.

    Every rank shuffles with the same seed and takes indices ``rank::world_size``, so ranks see
    disjoint samples. Fewer than ``n`` come out when the dataset is too small.
    """
    for batch in _real_draw(dataset, n, batch_size, seed, rank, world_size):
        yield extract(batch)


def real_batches_with_labels(
    dataset: Dataset,
    n: int,
    batch_size: int,
    extract: Callable[[Any], Tensor],
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """:func:`real_batches` with each batch's labels (``None`` for unlabelled data)."""
    for batch in _real_draw(dataset, n, batch_size, seed, rank, world_size):
        yield extract(batch), labels_from_batch(batch)


def _real_draw(
    dataset: Dataset, n: int, batch_size: int, seed: int, rank: int, world_size: int
) -> Iterator[Any]:
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=generator)[rank::world_size][:n]  # type: ignore[arg-type]
    # A loader without its own generator draws its base seed from the global RNG.
    loader = DataLoader(
        Subset(dataset, order.tolist()),
        batch_size=batch_size,
        shuffle=False,
        generator=torch.Generator().manual_seed(seed),
    )
    yield from loader
