"""Balanced consistency regularisation (bCR, Zhao et al. 2021, "Improved Consistency
Regularization for GANs").

A discriminator should score an image and a semantics-preserving augmentation of it alike.
bCR penalises the change of D's score under an augmentation ``T`` on both sides:
``lambda_real * E||D(T(x)) - D(x)||^2 + lambda_fake * E||D(T(G(z))) - D(G(z))||^2``.
Unlike DiffAugment, D never trains its main loss on augmented images; the augmentation enters
only through this penalty, in D's step (the generator's loss is unchanged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from lightning_gan.augment.diffaugment import check_images, diff_augment, parse_policy
from lightning_gan.callbacks.packing import pack, unpack
from lightning_gan.callbacks.remedy_checks import check_weight
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class ConsistencyRegularization(GANCallback):
    """bCR: ``weight * E||D(T(x)) - D(x)||^2 + fake_weight * E||D(T(G(z))) - D(G(z))||^2``.

    Args:
        weight: lambda_real (bCR: 10).
        fake_weight: lambda_fake; ``None`` (default) uses ``weight`` (bCR: 10 and 10).
        policy: the augmentation ``T``, DiffAugment op groups (``flip``, ``translation``,
            ``color``, ``cutout``); default ``"flip,translation"``, the horizontal flip and
            shift by up to 1/8 of the side (4 pixels at 32x32) of CR-GAN and bCR.
        padding: what a shift uncovers: ``"reflect"`` (default, the reference: StudioGAN's
            ``cr_diff_aug.random_translation`` pads with ``mode="reflect"``, as CR-GAN's
            augmentation does) or ``"zeros"`` (DiffAugment's translation). At 28x28 the shift
            is up to round(28/8) = 4 pixels here, int(28/8) = 3 in StudioGAN; equal at 32.

    ``D(x)`` and ``D(G(z))`` are the scores of the D step itself (``d.real_scores``): only
    ``D(T(.))`` costs extra forwards. Both sides keep their gradient to D, as in the reference
    implementation. ``x`` and ``G(z)`` are D's inputs after the other input transforms; under
    :class:`~lightning_gan.callbacks.packing.Packing` each packed input is unpacked, its samples
    augmented independently, and packed again. Labels: ``D(T(x), y)`` with the labels of ``x``.
    Logs the unweighted terms as ``penalty/bcr_real`` and ``penalty/bcr_fake``. Images only.
    """

    name = "bcr"

    def __init__(
        self,
        weight: float = 10.0,
        fake_weight: float | None = None,
        policy: str = "flip,translation",
        padding: str = "reflect",
    ) -> None:
        super().__init__()
        if padding not in ("reflect", "zeros"):
            raise ValueError(
                f"padding={padding!r} is unknown: use 'reflect' (bCR's reference) or 'zeros'."
            )
        self.padding = padding
        self.weight = check_weight("weight", weight, "10, bCR's lambda_real")
        self.fake_weight = (
            self.weight
            if fake_weight is None
            else check_weight("fake_weight", fake_weight, "10, bCR's lambda_fake")
        )
        self.policy = parse_policy(policy)

    def augment(self, gan: GAN, x: Tensor) -> Tensor:
        """``T(x)`` per sample, through a pack if D takes packs."""
        check_images(x, type(self).__name__)  # shape metadata only: no cost
        m = getattr(gan.discriminator, "pack", 1) or 1
        if m == 1:
            return diff_augment(x, self.policy, translation_padding=self.padding)
        return pack(diff_augment(unpack(x, m), self.policy, translation_padding=self.padding), m)

    def values(self, gan: GAN, d: DStep) -> tuple[Tensor, Tensor]:
        """The unweighted terms ``(E||D(T(x)) - D(x)||^2, E||D(T(G(z))) - D(G(z))||^2)``."""
        t_real = gan.discriminate(self.augment(gan, d.d_real.detach()), d.d_real_labels)
        t_fake = gan.discriminate(self.augment(gan, d.d_fake.detach()), d.d_fake_labels)
        return (
            (t_real - d.real_scores).square().mean(),
            (t_fake - d.fake_scores).square().mean(),
        )

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        if self.weight == 0 and self.fake_weight == 0:
            return None
        value_real, value_fake = self.values(gan, d)
        if gan.log_due("penalty/bcr_real"):
            gan.log("penalty/bcr_real", value_real.detach())
            gan.log("penalty/bcr_fake", value_fake.detach())
        return self.weight * value_real + self.fake_weight * value_fake
