"""A progress bar whose epoch total counts batches when ``max_steps`` counts optimizer steps.

Lightning sizes the bar of a step-limited run (``max_epochs=-1``, ``max_steps=N``) as N batches,
assuming one optimizer step per batch. A GAN batch makes a D step and, every ``n_critic``-th
batch, a G step (each ``accumulate``-th batch under accumulation), so the bar of ``ring.yaml``
stopped at 100/200. :class:`GANProgressBar` converts the remaining optimizer steps into batches.
"""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar


def steps_per_batch(gan: Any) -> float:
    """Optimizer steps (D and G, as ``global_step`` counts) per training batch, on average."""
    n_critic = getattr(gan, "n_critic", 1)
    accumulate = getattr(gan, "accumulate", 1)
    return (1.0 + 1.0 / n_critic) / accumulate


class GANProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` with the batch total of a step-limited GAN run right."""

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        if trainer.max_epochs == -1 and trainer.max_steps is not None and trainer.max_steps > 0:
            remaining = trainer.max_steps - trainer.global_step
            batches = math.ceil(remaining / steps_per_batch(trainer.lightning_module))
            return min(trainer.num_training_batches, batches)
        return trainer.num_training_batches


def use_gan_progress_bar(trainer: Any) -> None:
    """Make the trainer's default progress bar a :class:`GANProgressBar`.

    The class of the existing bar object is swapped (the subclass adds no state), instead of
    returning a new bar from ``configure_callbacks``, which would make Lightning announce an
    override at every fit. A user's own or Rich progress bar is left alone.
    """
    bar = getattr(trainer, "progress_bar_callback", None)
    if type(bar) is TQDMProgressBar:
        bar.__class__ = GANProgressBar
