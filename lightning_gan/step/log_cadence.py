"""When a value logged from inside the GAN step would reach a logger (``GAN.log_due``).

Split from the step because it is about Lightning's logging schedule, not about GANs: ``self.log``
costs 0.1-0.5 ms per value on CPU, more than a whole step of a small GAN, so the step logs only in
the batches whose values a logger will actually write.
"""

from __future__ import annotations

from typing import Any


class LogCadence:
    """Mixin of :class:`~lightning_gan.GAN` providing :meth:`log_due`."""

    _trainer: Any
    _logged_keys: set[str]

    def reset_log_cadence(self) -> None:
        """Forget which keys were logged: each is due again at its first call of a fit."""
        self._logged_keys = set()

    def log_due(self, key: str, window: int = 1) -> bool:
        """Whether ``self.log`` of ``key`` now would reach a logger: log only when it is True.

        Lightning hands logged values to the logger only every ``log_every_n_steps`` batches
        (1-based batch count) and when training stops, so logging in exactly those batches gives
        the logger the same numbers at the same steps. A value produced every ``window`` batches
        (the G loss: every ``n_critic``-th; a lazy penalty: every ``interval``-th) is due when a
        logger write falls within its next ``window`` batches, because that write takes its
        latest value. Each ``key`` is also due at its first call of a fit, so the progress bar
        and ``trainer.callback_metrics`` hold it from the start, and in the fit's last batch, so
        they hold the final value after ``fit``; between writes they hold the last logged value.
        With ``log_every_n_steps=0`` or outside a fit loop every call is due. Callbacks that log
        from inside the step use it the same way::

            if gan.log_due("penalty/gp"):
                gan.log("penalty/gp", value.detach())
        """
        trainer = self._trainer
        every = getattr(trainer, "log_every_n_steps", 0) if trainer is not None else 0
        done = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
        done = getattr(done, "_batches_that_stepped", None)
        if not every or done is None or trainer.should_stop or key not in self._logged_keys:
            self._logged_keys.add(key)
            return True
        this = done + 1  # the batch being run, counted from 1
        return (this + window - 1) // every > (this - 1) // every or final_batch(trainer)


def final_batch(trainer: Any) -> bool:
    """Whether the batch being run may be the fit's last (by ``max_steps`` or ``max_epochs``).

    Values logged there are what ``trainer.callback_metrics`` holds after ``fit``, which users
    and checkpoint monitors read; a batch has one or two optimizer steps, hence the ``+ 2``.
    """
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step + 2 >= max_steps:
        return True
    max_epochs = trainer.max_epochs
    return (
        max_epochs is not None
        and max_epochs >= 0
        and trainer.current_epoch + 1 >= max_epochs
        and bool(trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)
    )
