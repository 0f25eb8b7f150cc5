"""DiffAugment: the same differentiable augmentations on every image the discriminator sees.

With little data the discriminator memorises the training images and its feedback to the
generator degrades. Augmenting only the real images would teach the generator to produce
augmented images; augmenting real and generated images alike, in D's step *and* G's step,
with transforms differentiable w.r.t. the image, lets D see many more distinct images while the
generator still matches the un-augmented distribution (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from lightning_gan.augment.diffaugment import (
    check_images,
    check_ratio,
    diff_augment,
    parse_policy,
)
from lightning_gan.hooks import GANCallback

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class DiffAugment(GANCallback):
    """Augment real and generated inputs of D with fresh random transforms, in both phases.

    Args:
        policy: comma-separated op groups applied in order: ``color`` (brightness, saturation,
            contrast), ``translation``, ``cutout`` (DiffAugment's three, its default for
            unconditional and conditional GANs alike) and ``flip``.
        translation_ratio: the largest shift, as a fraction of the image side (1/8).
        cutout_ratio: the side of the zeroed square, as a fraction of the image side (1/2).

    Each batch, real or generated, gets its own independent draw of transforms from the same
    distribution. The transform runs through ``transform_discriminator_input``, so penalties
    (``GradientPenalty``, ``R1Penalty``) are evaluated on the augmented inputs, as in the
    paper's code, and gradients of G's loss flow through the augmentation to G. Labels pass
    through unchanged. Images only (``[B, C, H, W]``, for ``[-1, 1]`` data); other data is
    refused at the first batch, before any step. Stateless: random draws come from torch's
    generator, which the GAN checkpoints, so resumed runs continue exactly.
    """

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.policy = parse_policy(policy)
        self.translation_ratio = check_ratio("translation_ratio", translation_ratio)
        self.cutout_ratio = check_ratio("cutout_ratio", cutout_ratio)
        self._checked = False

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._checked = False

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if not self._checked:  # the first batch of the fit, before its step runs
            check_images(pl_module.real_from_batch(batch), type(self).__name__)
            self._checked = True

    def transform_discriminator_input(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        return diff_augment(x, self.policy, self.translation_ratio, self.cutout_ratio), labels
