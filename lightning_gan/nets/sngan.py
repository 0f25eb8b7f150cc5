"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018) for 32, 48, 64 and 128 px.

The architecture the SNGAN and projection-discriminator papers, mimicry and StudioGAN report
CIFAR-10, STL-10, CelebA and ImageNet numbers with; the layouts, widths and initialisation are
mimicry's ``sngan_{32,48,64,128}.py`` (and, class-conditional, ``cgan_pd_{32,128}.py``), so the
parameter counts are theirs (tested). ``width`` defaults to mimicry's ``ngf`` / ``ndf`` for
the size: G 256 / 512 / 1024 / 1024, D 128 / 1024 / 1024 / 1024.

Conditioning follows the package's label flow: ``num_classes=K`` turns G's block norms into
:class:`~lightning_gan.nets.layers.ConditionalBatchNorm2d` and gives D a projection (or ACGAN)
head; ``num_classes=None`` is the unconditional net.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gan.nets.labels import check_num_classes, check_positive_int, generator_labels
from lightning_gan.nets.layers import ConditionalBatchNorm2d
from lightning_gan.nets.resblocks import (
    UPSAMPLINGS,
    DBlock,
    DBlockOptimized,
    GBlock,
    check_choice,
    check_image_size,
    check_width,
    init_layer,
)
from lightning_gan.nets.resnet_discriminator import ResNetDiscriminator

SIZES = (32, 48, 64, 128)
# image_size -> (bottom side, channels of the linear layer's output and after each G block as
# divisors of width): mimicry's SNGANGenerator{32,48,64,128}.
_G_LAYOUTS: dict[int, tuple[int, tuple[int, ...]]] = {
    32: (4, (1, 1, 1, 1)),
    48: (6, (1, 2, 4, 8)),
    64: (4, (1, 2, 4, 8, 16)),
    128: (4, (1, 1, 2, 4, 8, 16)),
}
_G_WIDTHS = {32: 256, 48: 512, 64: 1024, 128: 1024}
# image_size -> (each D block's output channels as divisors of width, whether it halves the
# side); the first block is the optimised one. mimicry's SNGANDiscriminator{32,48,64,128}.
_D_LAYOUTS: dict[int, tuple[tuple[int, ...], tuple[bool, ...]]] = {
    32: ((1, 1, 1, 1), (True, True, False, False)),
    48: ((16, 8, 4, 2, 1), (True, True, True, True, False)),
    64: ((16, 8, 4, 2, 1), (True, True, True, True, True)),
    128: ((16, 8, 4, 2, 1, 1), (True, True, True, True, True, False)),
}
_D_WIDTHS = {32: 128, 48: 1024, 64: 1024, 128: 1024}
_SN_EPS = 1e-12  # torch's default, which mimicry uses


class SNGANGenerator(nn.Module):
    """z ``[B, latent_dim]`` (and labels ``[B]``) -> images ``[B, channels, S, S]`` in [-1, 1].

    A linear layer maps z to a ``bottom x bottom`` map, residual up-sampling blocks (BN - ReLU -
    up - conv3x3 - BN - ReLU - conv3x3, 1x1-conv shortcut) double the side to ``image_size``,
    then BN - ReLU - conv3x3 - tanh. Xavier initialisation as mimicry (gain sqrt(2) for the
    blocks' 3x3 convs). No spectral norm in G (SNGAN normalises D only).

    Args:
        latent_dim: size of z (128 in the paper).
        channels: image channels.
        image_size: 32, 48, 64 or 128.
        width: mimicry's ``ngf``; None for the reference width of the size.
        num_classes: K for class-conditional batch norm in the blocks; None: unconditional.
        upsample: "bilinear" (mimicry, whose FIDs the recipes cite) or "nearest" (the authors'
            Chainer code).
    """

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        width: int | None = None,
        *,
        num_classes: int | None = None,
        upsample: str = "bilinear",
    ) -> None:
        super().__init__()
        size = check_image_size(type(self).__name__, image_size, SIZES)
        self.bottom, divisors = _G_LAYOUTS[size]
        self.latent_dim = check_positive_int(
            "latent_dim", latent_dim, 1, "pass the size of z, an integer >= 1"
        )
        self.channels = channels
        self.image_size = size
        self.width = check_width(type(self).__name__, width, _G_WIDTHS[size], max(divisors))
        self.num_classes = check_num_classes(num_classes)
        check_choice("upsample", upsample, UPSAMPLINGS)
        chs = [self.width // d for d in divisors]
        self.linear = init_layer(nn.Linear(latent_dim, chs[0] * self.bottom**2), "xavier")
        self.blocks = nn.ModuleList(
            GBlock(c_in, c_out, self._norm, upsample=upsample, init="xavier", sn=False, sn_eps=0)
            for c_in, c_out in zip(chs[:-1], chs[1:], strict=True)
        )
        self.bn = nn.BatchNorm2d(chs[-1])
        self.out = init_layer(nn.Conv2d(chs[-1], channels, 3, 1, 1), "xavier")

    def _norm(self, channels: int) -> nn.Module:
        if self.num_classes is None:
            return nn.BatchNorm2d(channels)
        return ConditionalBatchNorm2d(channels, self.num_classes)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = generator_labels(self, z, labels)
        h = self.linear(z.view(z.shape[0], -1)).view(z.shape[0], -1, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.out(torch.relu(self.bn(h))))


class SNGANDiscriminator(ResNetDiscriminator):
    """images ``[B, channels, S, S]`` (and labels) -> raw scores ``[B]`` (no sigmoid).

    An optimised first block, pre-activation residual blocks (ReLU - conv3x3 - ReLU - conv3x3,
    average-pool where the side halves), ReLU, a sum over pixels and a linear unit; every layer
    spectrally normalised (eps 1e-12, one power iteration). Options as the other reference
    discriminators: ``num_classes`` / ``conditioning`` (projection, Miyato & Koyama 2018, with a
    spectrally normalised embedding, or ACGAN), ``pack`` (inputs ``[B/m, m * channels, S, S]``)
    and ``minibatch_std`` (one feature appended to the pooled vector, before the linear unit).

    Args:
        channels: image channels.
        image_size: 32, 48, 64 or 128.
        width: mimicry's ``ndf``; None for the reference width of the size.
    """

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        width: int | None = None,
        *,
        num_classes: int | None = None,
        conditioning: str = "projection",
        pack: int = 1,
        minibatch_std: bool = False,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__(num_classes, conditioning, pack, minibatch_std, mbstd_group_size)
        size = check_image_size(type(self).__name__, image_size, SIZES)
        divisors, downs = _D_LAYOUTS[size]
        self.channels = channels
        self.image_size = size
        self.width = check_width(type(self).__name__, width, _D_WIDTHS[size], max(divisors))
        chs = [self.width // d for d in divisors]
        options = dict(init="xavier", sn=True, sn_eps=_SN_EPS)
        trunk: list[nn.Module] = [DBlockOptimized(channels * self.pack, chs[0], **options)]
        for c_in, c_out, down in zip(chs[:-1], chs[1:], downs[1:], strict=True):
            trunk.append(DBlock(c_in, c_out, c_in, downsample=down, **options))
        self._finish(trunk, chs[-1], "xavier", _SN_EPS)
