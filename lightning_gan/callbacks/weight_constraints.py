"""Constraints on the discriminator's weights: an L2 penalty and WGAN weight clipping.

Both bound how sharp D can become through its parameters rather than through its input
gradients: large weights let D's output change arbitrarily fast, which gives the generator
exploding or uninformative gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class WeightPenalty(GANCallback):
    """``weight * sum(p^2)`` over D's weights, added to D's loss: keeps D from growing sharp.

    Biases are left out by default: they shift D's output but do not scale how fast it changes
    with the input (its Lipschitz constant), so penalising them only biases the scores (the
    usual no-decay-on-bias convention). Normalisation gains are kept, since they do scale.
    Unlike an optimizer's ``weight_decay``, this term goes through Adam's preconditioning.
    Logs the unweighted sum as ``penalty/weight``.

    Args:
        weight: the coefficient (>= 0).
        include_biases: also penalise parameters whose name ends in ``bias``.
    """

    def __init__(self, weight: float = 1e-4, include_biases: bool = False) -> None:
        super().__init__()
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0 (0 disables the penalty), got {weight!r}.")
        self.weight = float(weight)
        self.include_biases = bool(include_biases)

    def value(self, discriminator: torch.nn.Module) -> Tensor:
        """The unweighted sum of squared (penalised) parameters."""
        squares = [
            p.square().sum()
            for name, p in discriminator.named_parameters()
            if self.include_biases or not name.endswith("bias")
        ]
        if not squares:
            raise ValueError("The discriminator has no parameters to penalise.")
        return torch.stack(squares).sum()

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        value = self.value(gan.discriminator)
        if gan.log_due("penalty/weight"):  # self.log every batch would cost ~0.5 ms
            gan.log("penalty/weight", value.detach())
        return self.weight * value


class WeightClipping(GANCallback):
    """WGAN weight clipping (Arjovsky et al. 2017): clamp every D parameter to ``[-clip, clip]``.

    Applied at fit start and after each D optimizer step, so D is always evaluated clipped (the
    reference code clamps before each critic step instead, so its G sees unclipped weights).
    A crude way to keep the critic K-Lipschitz: it pushes weights to the bounds and under-uses
    capacity; prefer :class:`GradientPenalty` or
    :class:`SpectralNorm` unless reproducing WGAN (RMSprop 5e-5, ``n_critic=5``, ``clip=0.01``).

    Args:
        clip: the bound c > 0.
    """

    def __init__(self, clip: float = 0.01) -> None:
        super().__init__()
        if not clip > 0:
            raise ValueError(f"clip must be > 0 (WGAN uses 0.01), got {clip!r}.")
        self.clip = float(clip)

    @torch.no_grad()
    def clamp(self, discriminator: torch.nn.Module) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip, self.clip)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.clamp(pl_module.discriminator)

    def on_discriminator_step_end(self, gan: GAN, d: DStep) -> None:
        self.clamp(gan.discriminator)
