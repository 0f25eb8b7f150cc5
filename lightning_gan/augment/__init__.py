"""Differentiable image augmentations for the discriminator's inputs (torch ops only).

:mod:`~lightning_gan.augment.diffaugment` holds DiffAugment's ops (Zhao et al. 2020) and
:mod:`~lightning_gan.augment.ada` ADA's pipeline (Karras et al. 2020); the callbacks
``DiffAugment``, ``AdaptiveAugment`` and ``ConsistencyRegularization`` apply them.
"""

from lightning_gan.augment.ada import ADA_GROUPS, ada_augment, apply_color, apply_geometry
from lightning_gan.augment.diffaugment import (
    POLICIES,
    check_images,
    cutout,
    cutout_at,
    diff_augment,
    flip,
    translate,
    translation,
)

__all__ = [
    "ADA_GROUPS",
    "POLICIES",
    "ada_augment",
    "apply_color",
    "apply_geometry",
    "check_images",
    "cutout",
    "cutout_at",
    "diff_augment",
    "flip",
    "translate",
    "translation",
]
