"""Instance noise: Gaussian noise on everything the discriminator sees, annealed to zero.

Real and generated distributions of low intrinsic dimension rarely overlap, so an optimal
discriminator separates them perfectly and its gradient carries no information to the generator
(Arjovsky & Bottou 2017). Convolving both with the same Gaussian makes their supports overlap;
annealing the noise removes the bias it adds to the fixed point (Sønderby et al. 2017).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from lightning_gan.hooks import GANCallback

if TYPE_CHECKING:
    from lightning_gan.module import GAN

SCHEDULES = ("constant", "linear", "exponential")

#: With ``final_std=0`` an exponential decay never reaches zero: it decays to
#: ``EXPONENTIAL_TAIL * std`` at ``anneal_steps`` and is exactly ``final_std`` (0) afterwards.
EXPONENTIAL_TAIL = 1e-3


class InstanceNoise(GANCallback):
    """Add ``N(0, std_t^2)`` noise to real and generated inputs of D, in both phases.

    Args:
        std: noise standard deviation at the start of training (data units).
        schedule: ``"constant"`` (always ``std``), ``"linear"`` (straight line from ``std`` to
            ``final_std`` over ``anneal_steps``) or ``"exponential"`` (``std * decay**t`` with
            ``decay`` chosen so that it reaches ``final_std`` at ``anneal_steps``; see
            :data:`EXPONENTIAL_TAIL` for ``final_std=0``). Annealed schedules stay at ``final_std``
            after ``anneal_steps``.
        anneal_steps: length of the annealing, in discriminator steps.
        final_std: the std the annealed schedules end at (ignored by ``"constant"``).

    The schedule position ``t`` is :attr:`GAN.d_steps`: one per batch whatever ``n_critic`` is,
    and counted by the network that actually learns from the noisy inputs (``global_step``
    counts two optimizer steps per batch). Because ``t`` is the module's own checkpointed counter,
    the std after a resume is exactly the uninterrupted one and this callback has no state of its
    own to save. The D step number ``k`` (0-based) sees ``std_k``; the G step that follows it sees
    ``std_{k+1}``. The std of each batch's D step is logged as ``noise/std``.
    """

    def __init__(
        self,
        std: float = 0.1,
        schedule: str = "linear",
        anneal_steps: int = 10_000,
        final_std: float = 0.0,
    ) -> None:
        super().__init__()
        if not (math.isfinite(std) and std >= 0):
            raise ValueError(f"std must be a finite number >= 0, got {std!r}: pass e.g. std=0.1.")
        if schedule not in SCHEDULES:
            raise ValueError(
                f"Unknown noise schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}."
            )
        if isinstance(anneal_steps, bool) or not isinstance(anneal_steps, int) or anneal_steps < 1:
            raise ValueError(
                f"anneal_steps must be an integer >= 1 (discriminator steps), got {anneal_steps!r}."
            )
        if not (math.isfinite(final_std) and final_std >= 0):
            raise ValueError(f"final_std must be a finite number >= 0, got {final_std!r}.")
        if schedule != "constant" and final_std > std:
            raise ValueError(
                f"final_std={final_std} is larger than std={std}: annealing only decreases the "
                "noise; pass final_std <= std (or schedule='constant')."
            )
        self.std = float(std)
        self.schedule = schedule
        self.anneal_steps = anneal_steps
        self.final_std = float(final_std)

    def std_at(self, step: int) -> float:
        """The noise std after ``step`` discriminator steps."""
        if self.schedule == "constant":
            return self.std
        if step >= self.anneal_steps:
            return self.final_std
        progress = max(step, 0) / self.anneal_steps
        if self.schedule == "linear":
            return self.std + (self.final_std - self.std) * progress
        if self.std == 0.0:
            return 0.0
        target = self.final_std if self.final_std > 0 else EXPONENTIAL_TAIL * self.std
        return self.std * (target / self.std) ** progress

    def current_std(self, gan: GAN) -> float:
        """The std used now: a pure function of ``gan.d_steps`` (restored from checkpoints)."""
        return self.std_at(gan.d_steps)

    def transform_discriminator_input(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        std = self.current_std(gan)
        if std == 0.0:
            return x, labels
        return x + std * torch.randn_like(x), labels

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if pl_module.log_due("noise/std"):  # self.log every batch would cost ~0.5 ms
            pl_module.log("noise/std", self.current_std(pl_module))
