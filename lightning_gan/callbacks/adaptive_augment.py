"""Adaptive discriminator augmentation (ADA, Karras et al. 2020): augment as much as D overfits.

A discriminator that overfits a small training set grows confident on the training images:
``E[sign(D(real))]`` approaches 1. ADA augments every image D sees (real and generated, both
phases) with a strength ``p`` that follows this signal: every ``interval`` D steps it computes
``r_t = E[sign(D(real))]`` over those steps (over all ranks) and moves ``p`` by
``sign(r_t - target) * images / speed_images``, so ``p`` can go from 0 to 1 in
``speed_images`` real images. Because each op fires with probability ``p < 1``, un-augmented
images keep their share of D's inputs, so the augmentations do not leak into the generator.

StyleGAN2-ADA resets ``p`` (and its image counter) on resume, NVlabs/stylegan2-ada-pytorch #81;
here ``p`` and the partial statistics of the current interval are this callback's checkpointed
state, so a resumed run continues exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torchmetrics import Metric

from lightning_gan.augment.ada import ada_augment, parse_groups
from lightning_gan.augment.diffaugment import check_images
from lightning_gan.callbacks.remedy_checks import (
    check_count,
    check_open_unit_interval,
    check_unit_interval,
)
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class SignStatistics(Metric):
    """Sums of ``sign(D(real))``, of scores and of real images, summed over ranks on ``compute``.

    A torchmetrics ``Metric`` so that the cross-rank reduction (and its no-op on one process)
    is torchmetrics' tested code; ``compute`` is called on every rank at the same D step. The
    states are float32 (every accelerator has it; MPS has no float64): they hold integers, exact
    up to 2^24 per interval (``interval * batch * world_size``), and ``r_t`` is divided on the
    host in float64, so ``r_t == target`` gives ADA's ``sign(0) = 0`` without rounding.
    """

    full_state_update = False
    sign_sum: Tensor
    count: Tensor
    images: Tensor

    def __init__(self) -> None:
        super().__init__(sync_on_compute=True)
        for name in ("sign_sum", "count", "images"):
            self.add_state(name, torch.zeros(()), dist_reduce_fx="sum")

    def update(self, real_scores: Tensor, images: int) -> None:  # type: ignore[override]
        scores = real_scores.detach().reshape(-1)
        self.sign_sum += scores.sign().sum().to(self.sign_sum.dtype)
        self.count += scores.numel()
        self.images += images

    def compute(self) -> Tensor:
        """``[sum of signs, number of scores, number of real images]`` over all ranks."""
        return torch.stack([self.sign_sum, self.count, self.images])


class AdaptiveAugment(GANCallback):
    """ADA: augmentation strength ``p`` driven by the overfitting signal ``E[sign(D(real))]``.

    Args:
        target: the value of ``r_t`` that ``p`` steers towards, in (0, 1) (ADA: 0.6).
        interval: D steps between updates of ``p`` (ADA: 4 minibatches).
        speed_images: real images (all ranks together) over which ``p`` can move from 0 to 1
            (ADA: 500k, its ``ada_kimg=500``); smaller reacts faster.
        p: the initial strength in [0, 1] (ADA starts at 0).
        policy: comma-separated ADA groups: ``blit`` (x-flip, quarter turns, integer
            translation), ``geom`` (scaling, rotation, anisotropy, fractional translation),
            ``color`` (brightness, contrast, luma flip, hue, saturation) - ADA's ``bgc``
            default (see :mod:`lightning_gan.augment.ada`).

    Every D step adds the signs of D's scores of the (augmented) real batch to
    :class:`SignStatistics`; every ``interval``-th D step (``GAN.d_steps``, checkpointed) the
    statistics are summed over ranks, so every rank computes the same ``p``, and reset. With
    ``GAN(accumulate=k)`` a D step holds ``k`` micro-batches and the scores of the last one
    stand for the step. Logs ``ada/p`` and ``ada/rt``. Images ``[B, C, H, W]`` only (1 or 3
    channels with ``color``); other data is refused at the first batch, before any step.
    """

    def __init__(
        self,
        target: float = 0.6,
        interval: int = 4,
        speed_images: int = 500_000,
        p: float = 0.0,
        policy: str = "blit,geom,color",
    ) -> None:
        super().__init__()
        self.target = check_open_unit_interval(
            "target", target, "0.6, ADA's value; r_t = E[sign(D(real))] lies in [-1, 1]"
        )
        self.interval = check_count("interval", interval, "D steps between updates of p; ADA: 4")
        if not (isinstance(speed_images, (int, float)) and not isinstance(speed_images, bool)) or (
            not 0 < speed_images < math.inf
        ):
            raise ValueError(
                f"speed_images must be a positive number of images (ADA: 500_000), got "
                f"{speed_images!r}."
            )
        self.speed_images = float(speed_images)
        self.p = check_unit_interval("p", p, "0, ADA's initial strength", closed_low=True)
        self.groups = parse_groups(policy)
        self.stats = SignStatistics()
        self.last_rt: float | None = None
        self._rank = 0
        self._checked = False

    # ----------------------------------------------------------------------------- lifecycle
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        # Before a checkpoint is restored (Lightning restores callbacks after `setup`).
        self._rank = trainer.global_rank
        self.stats.to(pl_module.device)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._checked = False
        self.stats.to(pl_module.device)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if self._checked:
            return
        x = pl_module.real_from_batch(batch)  # the first batch of the fit, before its step
        check_images(x, type(self).__name__)
        if "color" in self.groups and x.shape[1] not in (1, 3):
            raise ValueError(
                f"AdaptiveAugment's colour ops need 1 (grey) or 3 (RGB) channels, the data has "
                f"{x.shape[1]}: pass policy='blit,geom' to leave colour out."
            )
        self._checked = True

    # ------------------------------------------------------------------------------ the step
    def transform_discriminator_input(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        return ada_augment(x, self.p, self.groups), labels

    def on_discriminator_step_end(self, gan: GAN, d: DStep) -> None:
        self.stats.update(d.real_scores, d.real.shape[0] * gan.accumulate)
        if gan.d_steps % self.interval == 0:
            signs, count, images = self.stats.compute().tolist()  # collective: all ranks
            self.stats.reset()
            rt = signs / max(count, 1.0)
            self.last_rt = rt
            step = math.copysign(1.0, rt - self.target) if rt != self.target else 0.0
            self.p = min(1.0, max(0.0, self.p + step * images / self.speed_images))
            if gan.log_due("ada/rt", self.interval):
                gan.log("ada/rt", rt)
        if gan.log_due("ada/p"):
            gan.log("ada/p", self.p)

    # ------------------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict[str, Any]:
        """``p`` and the current interval's statistics summed over ranks.

        Called on every rank when a checkpoint is written (Lightning dumps the state on all
        ranks and rank 0 writes it), which the cross-rank sum needs.
        """
        with self.stats.sync_context(should_unsync=True):
            partial = {
                name: float(getattr(self.stats, name)) for name in ("sign_sum", "count", "images")
            }
        return {"p": self.p, "last_rt": self.last_rt, **partial}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``p``; the saved all-rank sums go to rank 0 and zeros to the others, so the
        next cross-rank sum is the one the uninterrupted run would have computed."""
        self.p = float(state_dict["p"])
        self.last_rt = state_dict.get("last_rt")
        self.stats.reset()
        if self._rank == 0:
            for name in ("sign_sum", "count", "images"):
                getattr(self.stats, name).fill_(float(state_dict.get(name, 0.0)))
