"""Residual blocks shared by the SNGAN and BigGAN networks, and their spectral-norm helper.

Both architectures are built from the same three blocks (Miyato et al. 2018's ResNet GAN, which
BigGAN reuses): an up-sampling generator block (BN - ReLU - up - conv - BN - ReLU - conv, with a
1x1-conv shortcut), a pre-activation discriminator block (ReLU - conv - ReLU - conv - avg-pool,
with a 1x1-conv shortcut where the shape changes), and the "optimised" first discriminator block
that has no activation before its first convolution (the image is not a feature map). What
differs between the two architectures is passed in: the normalisation, the up-sampling mode, the
hidden width, the initialisation and whether convolutions are spectrally normalised.

Unlike mimicry's and StudioGAN's blocks, the pre-activation ReLU is not in place: there it also
rectifies the tensor the shortcut reads, which the authors' Chainer code and BigGAN-PyTorch do
not do. Parameter counts are unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

INITS = ("xavier", "ortho")
UPSAMPLINGS = ("nearest", "bilinear")


def init_layer(layer: nn.Module, init: str, gain: float = 1.0) -> nn.Module:
    """Initialise a conv / linear / embedding layer's weight in place (before spectral norm).

    ``"xavier"``: Glorot-uniform with ``gain``, bias left at torch's default (mimicry's SNGAN).
    ``"ortho"``: orthogonal weight, zero bias (BigGAN; StudioGAN's and BigGAN-PyTorch's ``ortho``).
    """
    weight = layer.weight
    if init == "ortho":
        nn.init.orthogonal_(weight)
        bias = getattr(layer, "bias", None)
        if bias is not None:
            nn.init.zeros_(bias)
    else:
        nn.init.xavier_uniform_(weight, gain)
    return layer


def maybe_sn(layer: nn.Module, enabled: bool, eps: float) -> nn.Module:
    """``layer`` with torch's spectral-norm parametrization (one power iteration) if enabled.

    The parametrization is the one the :class:`~lightning_gan.SpectralNorm` callback uses, so that
    callback skips these layers instead of normalising them twice.
    """
    return spectral_norm(layer, eps=eps) if enabled else layer


def upsample2x(x: Tensor, mode: str) -> Tensor:
    """Double the side: nearest (BigGAN, SNGAN's Chainer code) or bilinear (mimicry's SNGAN)."""
    if mode == "bilinear":
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _normalise(norm: nn.Module, x: Tensor, cond: Tensor | None) -> Tensor:
    """A plain norm takes ``x``; a conditional one also takes labels or an affine input."""
    return norm(x) if cond is None else norm(x, cond)


class GBlock(nn.Module):
    """Up-sampling residual generator block: ``[B, in, H, W] -> [B, out, 2H, 2W]``.

    ``norm(channels)`` builds each of the two normalisations; a conditional norm is called as
    ``norm(x, cond)`` with the ``cond`` given to :meth:`forward` (labels for SNGAN's class
    batch norm, the affine input for BigGAN's), a plain one as ``norm(x)`` when ``cond`` is None.
    The shortcut is ``conv1x1(up(x))``, as every block changes the side.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: Callable[[int], nn.Module],
        *,
        upsample: str,
        init: str,
        sn: bool,
        sn_eps: float,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.b1 = norm(in_channels)
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.b2 = norm(out_channels)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.c_sc = nn.Conv2d(in_channels, out_channels, 1, 1, 0)
        gain = math.sqrt(2.0)  # mimicry: ReLU-followed 3x3 convs get gain sqrt(2), shortcut 1
        for name, g in (("c1", gain), ("c2", gain), ("c_sc", 1.0)):
            setattr(self, name, maybe_sn(init_layer(getattr(self, name), init, g), sn, sn_eps))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = F.relu(_normalise(self.b1, x, cond))
        h = self.c1(upsample2x(h, self.upsample))
        h = self.c2(F.relu(_normalise(self.b2, h, cond)))
        return h + self.c_sc(upsample2x(x, self.upsample))


class DBlock(nn.Module):
    """Pre-activation residual discriminator block, optionally halving the side.

    ``hidden`` is the first convolution's output width: the input width in SNGAN (mimicry,
    Chainer), the output width in BigGAN. The shortcut is a 1x1 conv (then avg-pool) when the
    width or the side changes, else the identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden: int,
        *,
        downsample: bool,
        init: str,
        sn: bool,
        sn_eps: float,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        gain = math.sqrt(2.0)
        self.c1 = maybe_sn(
            init_layer(nn.Conv2d(in_channels, hidden, 3, 1, 1), init, gain), sn, sn_eps
        )
        self.c2 = maybe_sn(
            init_layer(nn.Conv2d(hidden, out_channels, 3, 1, 1), init, gain), sn, sn_eps
        )
        self.c_sc: nn.Module | None = None
        if downsample or in_channels != out_channels:
            conv = init_layer(nn.Conv2d(in_channels, out_channels, 1, 1, 0), init)
            self.c_sc = maybe_sn(conv, sn, sn_eps)

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(F.relu(x))))
        shortcut = x if self.c_sc is None else self.c_sc(x)
        if self.downsample:
            h, shortcut = F.avg_pool2d(h, 2), F.avg_pool2d(shortcut, 2)
        return h + shortcut


class DBlockOptimized(nn.Module):
    """First discriminator block: conv - ReLU - conv - avg-pool, shortcut ``conv1x1(pool(x))``.

    No activation before the first convolution: its input is the image, not a feature map.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, init: str, sn: bool, sn_eps: float
    ) -> None:
        super().__init__()
        gain = math.sqrt(2.0)
        self.c1 = maybe_sn(
            init_layer(nn.Conv2d(in_channels, out_channels, 3, 1, 1), init, gain), sn, sn_eps
        )
        self.c2 = maybe_sn(
            init_layer(nn.Conv2d(out_channels, out_channels, 3, 1, 1), init, gain), sn, sn_eps
        )
        self.c_sc = maybe_sn(
            init_layer(nn.Conv2d(in_channels, out_channels, 1, 1, 0), init), sn, sn_eps
        )

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class GlobalSumPool(nn.Module):
    """``[B, C, H, W] -> [B, C]`` by summing over pixels (SNGAN's and BigGAN's D head)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is unknown: use one of {', '.join(choices)}.")
    return value


def check_image_size(net: str, image_size: object, sizes: tuple[int, ...]) -> int:
    """``image_size`` if the architecture has a layout for it, else a ValueError naming them."""
    if image_size not in sizes:
        allowed = ", ".join(str(s) for s in sizes)
        raise ValueError(
            f"{net} has no layout for image_size={image_size!r}: use one of {allowed} (resize "
            "the data with the datamodule's image_size to one of them)."
        )
    return int(image_size)  # type: ignore[arg-type]


def check_width(net: str, width: object, default: int, divisor: int) -> int:
    """``width`` (or ``default`` for None) if it is a positive multiple of ``divisor``."""
    if width is None:
        return default
    if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % divisor:
        raise ValueError(
            f"width={width!r} is invalid: {net} at this image size needs a positive multiple "
            f"of {divisor} (its narrowest layer has width/{divisor} channels), or None for the "
            f"reference width {default}."
        )
    return width
