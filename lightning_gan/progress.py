"""A run-level progress bar for GANs: optimizer steps out of ``max_steps``, across epochs.

Lightning's bar counts the batches of one epoch ("Epoch 3: 74/78") and restarts each epoch; for
a step-limited run it also assumes one optimizer step per batch, while a GAN batch makes a D step
and, every ``n_critic``-th batch, a G step. After a resume it read ``Training: 74/?``.
:class:`GANProgressBar` shows the run instead: ``trainer.global_step`` (D and G steps, the count
``max_steps``, checkpoint names and the loggers' step axis use) out of ``max_steps``, with the
rate and the time left measured over this session's steps, so both are right after a resume.
Epoch-limited runs (no ``max_steps``) keep Lightning's per-epoch bar, with its batch total.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar


def steps_per_batch(gan: Any) -> float:
    """Optimizer steps (D and G, as ``global_step`` counts) per training batch, on average."""
    n_critic = getattr(gan, "n_critic", 1)
    accumulate = getattr(gan, "accumulate", 1)
    return (1.0 + 1.0 / n_critic) / accumulate


def _step_limited(trainer: Any) -> bool:
    return trainer.max_steps is not None and trainer.max_steps > 0


class GANProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` over the whole run: ``global_step`` of ``max_steps``, one bar."""

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        if trainer.max_epochs == -1 and _step_limited(trainer):
            remaining = trainer.max_steps - trainer.global_step
            batches = math.ceil(remaining / steps_per_batch(trainer.lightning_module))
            return min(trainer.num_training_batches, batches)
        return trainer.num_training_batches

    def on_train_start(self, trainer: Any, *args: Any) -> None:
        super().on_train_start(trainer, *args)
        if _step_limited(trainer):
            bar = self.train_progress_bar
            bar.reset(total=trainer.max_steps)
            # Rate and time left from this session's steps only: right after a resume too.
            bar.initial = bar.n = trainer.global_step
            bar.unit = "step"
            bar.set_description("Training (optimizer steps, D + G)")
            bar.refresh()

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        if not _step_limited(trainer):
            super().on_train_epoch_start(trainer, *args)
            return
        # One bar for the whole run: not reset (nor replaced) at each epoch.
        self.train_progress_bar.set_postfix_str(f"epoch {trainer.current_epoch}", refresh=False)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if not _step_limited(trainer):
            super().on_train_batch_end(trainer, pl_module, *args)
            return
        bar = self.train_progress_bar
        step = trainer.global_step
        if bar is None or bar.disable:
            return
        if step - bar.n >= self.refresh_rate or step >= bar.total:
            bar.update(step - bar.n)  # update(), not n=: tqdm's rate counts updates
            metrics = self.get_metrics(trainer, pl_module)
            bar.set_postfix({"epoch": trainer.current_epoch, **metrics})

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not _step_limited(trainer):
            super().on_train_epoch_end(trainer, pl_module)
        elif not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))


def use_optimizer_step_axis(trainer: Any) -> None:
    """Log Lightning's metrics against ``trainer.global_step`` (optimizer steps, D and G).

    Lightning logs metrics against the number of batches, while ``max_steps``, checkpoint
    names (``step=1200``) and resuming count optimizer steps, twice as many for a GAN with
    ``n_critic=1``: W&B read 600 where the checkpoint said 1200. Lightning takes a ``step``
    entry of the metrics as the step (``LoggerConnector.log_metrics``); this fills it in with
    ``global_step`` for every write that names no step, keeping Lightning's ``epoch`` column.
    It wraps the trainer's logger connector once, so it costs nothing per batch. Logging a
    ``step`` metric with ``self.log`` instead would cost a ``self.log`` call per batch and, as
    ``ModelCheckpoint`` reads a logged ``step`` for its file names, would have to be exact at
    every batch. :class:`~lightning_gan.SampleLogger` and ``GANHealth`` log at the same step.
    """
    connector = getattr(trainer, "_logger_connector", None)
    if connector is None or getattr(connector, "_optimizer_step_axis", False):
        return
    log_metrics = connector.log_metrics

    def on_optimizer_steps(metrics: dict, step: int | None = None) -> None:
        # An empty write is a no-op for Lightning: keep it one (no epoch-only rows).
        if metrics and step is None and "step" not in metrics:
            metrics = {**metrics, "step": trainer.global_step}
            metrics.setdefault("epoch", trainer.current_epoch)
        log_metrics(metrics, step)

    connector.log_metrics = on_optimizer_steps
    connector._optimizer_step_axis = True


def use_gan_progress_bar(trainer: Any) -> None:
    """Make the trainer's default progress bar a :class:`GANProgressBar`, and put the loggers'
    step axis on optimizer steps (:func:`use_optimizer_step_axis`).

    The class of the existing bar object is swapped (the subclass adds no state), instead of
    returning a new bar from ``configure_callbacks``, which would make Lightning announce an
    override at every fit. A user's own or Rich progress bar is left alone.
    """
    use_optimizer_step_axis(trainer)
    bar = getattr(trainer, "progress_bar_callback", None)
    if type(bar) is TQDMProgressBar:
        bar.__class__ = GANProgressBar


class _NoPromotionalTips(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing litlogger/litmodels" lines, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


def silence_promotional_tips() -> None:
    """Silence the product tips Lightning logs at every fit (the CLI calls this once).

    Only messages starting with Lightning's "💡 Tip:" marker are dropped, on the two loggers
    ``rank_zero_info`` writes to; warnings and every other info line stay.
    """
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoPromotionalTips) for f in logger.filters):
            logger.addFilter(_NoPromotionalTips())
