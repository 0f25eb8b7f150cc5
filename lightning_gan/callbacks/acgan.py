"""ACGAN (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs").

The discriminator also classifies its inputs; its cross-entropy on the labels joins D's loss for
real and generated samples, and G's loss for generated ones, so the generator is pushed to make
samples whose class is recognisable. A callback like every other remedy: the step knows nothing
of auxiliary classifiers beyond splitting ``(scores, logits)`` outputs into the phase records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch.nn.functional as F
from torch import Tensor

from lightning_gan.callbacks.remedy_checks import check_weight
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep, GStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


def class_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy; packed logits ``[B/m, m, K]`` and labels ``[B/m, m]`` flatten."""
    return F.cross_entropy(logits.flatten(0, -2), labels.flatten())


class AuxiliaryClassifier(GANCallback):
    """``weight * CE(D's class logits, labels)`` added to D's loss (real and generated) and G's.

    Args:
        weight: the classification loss weight (ACGAN: 1).

    Needs a conditional GAN (``GAN(num_classes=K)``) whose discriminator returns ``(scores,
    class_logits [B, K])`` (``MLPDiscriminator``/``DCGANDiscriminator(conditioning="acgan")``);
    both are checked at fit start and at the first D step, with the fix named. Logs
    ``penalty/acgan`` (D's unweighted class loss). Stateless.
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = check_weight("weight", weight, "1, ACGAN's")
        self._checked = False

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if pl_module.num_classes is None:
            raise ValueError(
                "AuxiliaryClassifier trains D to classify the labels: build the GAN with "
                "num_classes=K and a discriminator built with conditioning='acgan'."
            )
        self._checked = False

    def _check(self, gan: GAN, logits: Tensor | None, batch: int) -> None:
        k = gan.num_classes
        # [B, K]; a packed ACGAN discriminator gives [B/m, m, K], one row per packed sample.
        if (
            not isinstance(logits, Tensor)
            or logits.shape[0] != batch
            or logits.shape[-1] != k
            or logits.dim() not in (2, 3)
        ):
            raise ValueError(
                "AuxiliaryClassifier needs class logits: the discriminator must return "
                f"(scores [B], class_logits [B, {k}]); build it with conditioning='acgan' "
                "(MLPDiscriminator/DCGANDiscriminator)."
            )
        self._checked = True

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        if not self._checked:
            self._check(gan, d.real_logits, d.d_real.shape[0])
        value = class_loss(d.real_logits, d.d_real_labels) + class_loss(
            d.fake_logits, d.d_fake_labels
        )
        if gan.log_due("penalty/acgan"):
            gan.log("penalty/acgan", value.detach())
        return self.weight * value

    def generator_penalty(self, gan: GAN, g: GStep) -> Tensor | None:
        return self.weight * class_loss(g.fake_logits, g.d_fake_labels)
