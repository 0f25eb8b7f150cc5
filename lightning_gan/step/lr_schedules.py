"""Learning-rate schedules for the two optimizers of a GAN, stepped as Lightning would.

Lightning steps schedulers itself only under automatic optimisation (its
``_update_learning_rates`` returns early for manual optimisation, which a GAN needs), so
:class:`~lightning_gan.GAN` steps them here, honouring Lightning's scheduler configuration
(``interval``, ``frequency``) from ``configure_optimizers``. Lightning drops the ``monitor``
key of scheduler dicts under manual optimisation, so a ``ReduceLROnPlateau`` monitors its
``monitor`` attribute if set, else its network's loss (``loss/g`` or ``loss/d``). Lightning
still owns everything else: parsing the return value of ``configure_optimizers``, saving and
restoring scheduler states in checkpoints, and ``LearningRateMonitor``.

``interval="step"`` counts optimizer steps of the scheduler's own network (``g_steps`` for the
generator's, ``d_steps`` for the discriminator's), the GAN analogue of Lightning's per-step
schedules: with ``n_critic=5`` D's schedule advances five times per G step, as D's optimizer
does. ``interval="epoch"`` advances at the end of every ``frequency``-th training epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from lightning_gan.step.records import NetworkRecord

#: What ``GAN(lr_scheduler_g=...)`` takes: an optimizer -> scheduler factory (as LightningCLI's
#: ``LRSchedulerCallable``; from YAML a ``class_path`` with ``init_args`` but no optimizer).
SchedulerFactory = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]


def bind_schedules(trainer: Any, g: NetworkRecord, d: NetworkRecord) -> None:
    """Sort the trainer's scheduler configs onto the two network records, once per fit."""
    g.schedulers, d.schedulers = [], []
    optimizers = [getattr(o, "optimizer", o) for o in trainer.optimizers]
    for config in trainer.lr_scheduler_configs:
        optimizer = config.scheduler.optimizer
        if optimizer is optimizers[0]:
            g.schedulers.append(config)
        elif len(optimizers) > 1 and optimizer is optimizers[1]:
            d.schedulers.append(config)
        else:
            raise ValueError(
                f"The scheduler {type(config.scheduler).__name__} is attached to an "
                "optimizer that configure_optimizers did not return: build it on opt_g or "
                "opt_d."
            )
        if config.interval not in ("step", "epoch"):
            raise ValueError(
                f"Scheduler interval {config.interval!r} is unknown: use 'step' (optimizer "
                "steps of its network) or 'epoch'."
            )


def step_schedules(gan: Any, net: NetworkRecord, interval: str, count: int) -> None:
    """Step ``net``'s schedules of ``interval`` when ``count`` is due."""
    for config in net.schedulers:
        if config.interval != interval or count % config.frequency != 0:
            continue
        value = None
        if isinstance(config.scheduler, ReduceLROnPlateau):
            # Lightning drops `monitor` from scheduler dicts under manual optimisation, so
            # the monitored value is an attribute of the scheduler, else its network's loss.
            monitor = getattr(config.scheduler, "monitor", None) or net.loss_key
            value = gan.trainer.callback_metrics.get(monitor)
            if value is None:
                available = sorted(gan.trainer.callback_metrics)
                raise MisconfigurationException(
                    f"ReduceLROnPlateau monitors {monitor!r}, which is not logged; logged "
                    f"metrics: {available}. Set `scheduler.monitor` to one of them (the "
                    "default is the network's loss, 'loss/g' or 'loss/d')."
                )
        gan.lr_scheduler_step(config.scheduler, value)
