"""BigGAN's generator and discriminator (Brock et al. 2019) for 32, 64 and 128 px.

BigGAN = the SNGAN ResNet plus: a hierarchical latent (z is split into chunks; the first feeds
the linear layer, one chunk per block conditions that block's batch norms), a class embedding
shared by all blocks (concatenated to each chunk; its projection gives each block's per-class
gains and biases), self-attention at one resolution in G and D, spectral norm in G as well as
D, and orthogonal initialisation. Layout and parameter counts follow StudioGAN's
``src/models/big_resnet.py`` (which at 128 px equals BigGAN-PyTorch's ``BigGAN.py``); the
defaults for each size are those of a StudioGAN config:

=====  ===================================  ==========  =====  ==========  =====================
size   config                               latent_dim  width  shared_dim  attention (G, D)
=====  ===================================  ==========  =====  ==========  =====================
32     ``configs/CIFAR10/BigGAN.yaml``      80 (4x20)   96     128         16 px, 16 px
64     ``configs/Baby_ImageNet/BigGAN.yaml`` 100 (5x20) 80     128         32 px, 32 px
128    ``configs/ImageNet/BigGAN-256.yaml`` 120 (6x20)  96     128         64 px, 64 px
=====  ===================================  ==========  =====  ==========  =====================

Unconditional (``num_classes=None``, StudioGAN's ``W/O``): no shared embedding; each block's
batch norm is conditioned on its z chunk alone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gan.nets.attention import SelfAttention
from lightning_gan.nets.labels import check_num_classes, check_positive_int, generator_labels
from lightning_gan.nets.resblocks import (
    DBlock,
    DBlockOptimized,
    GBlock,
    check_image_size,
    check_width,
    init_layer,
    maybe_sn,
)
from lightning_gan.nets.resnet_discriminator import ResNetDiscriminator

SIZES = (32, 64, 128)
# image_size -> (input channels of each G block, output channels of each), multiples of width.
_G_LAYOUTS: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 8, 4, 2), (8, 4, 2, 1)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
}
# image_size -> (output channels of each D block as multiples of width, halves the side).
_D_LAYOUTS: dict[int, tuple[tuple[int, ...], tuple[bool, ...]]] = {
    32: ((2, 2, 2, 2), (True, True, False, False)),
    64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
}
_LATENT = {32: 80, 64: 100, 128: 120}
_WIDTH = {32: 96, 64: 80, 128: 96}
_BOTTOM = 4
_SN_EPS = 1e-6  # StudioGAN's and BigGAN-PyTorch's
_INIT = "ortho"


def _attention_index(net: str, attention: int | None, sides: list[int], default: int) -> int:
    """The block after which the attention layer sits (-1: none), from its resolution."""
    if attention is None:
        attention = default
    if attention == 0:
        return -1
    if attention not in sides:
        allowed = ", ".join(str(s) for s in sorted(set(sides)))
        raise ValueError(
            f"attention={attention!r} is not a resolution {net} has at this image size: use one "
            f"of {allowed}, 0 for no attention, or None for the reference ({default})."
        )
    return sides.index(attention)


class BigGANBatchNorm2d(nn.Module):
    """BigGAN's conditional batch norm: ``(1 + W_g a) * BN(x) + W_b a`` for an input vector a.

    a is the block's z chunk, concatenated after the shared class embedding when conditional.
    ``W_g`` and ``W_b`` are spectrally normalised linear maps without bias; the statistics are
    shared (``BatchNorm2d(affine=False, eps=1e-4)``), as in StudioGAN and BigGAN-PyTorch.
    """

    def __init__(self, num_features: int, cond_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=1e-4, momentum=0.1, affine=False)

        def linear() -> nn.Module:
            layer = init_layer(nn.Linear(cond_dim, num_features, bias=False), _INIT)
            return maybe_sn(layer, True, _SN_EPS)

        self.gain = linear()
        self.bias = linear()

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gain = (1 + self.gain(cond))[:, :, None, None]
        return torch.addcmul(self.bias(cond)[:, :, None, None], self.bn(x), gain)


class BigGANGenerator(nn.Module):
    """z ``[B, latent_dim]`` (and labels ``[B]``) -> images ``[B, channels, S, S]`` in [-1, 1].

    ``latent_dim`` must be a multiple of the number of blocks + 1 (3, 4, 5 blocks at 32, 64,
    128 px): z is split into that many equal chunks.

    Args:
        latent_dim: size of z; None for the reference (80, 100, 120).
        channels: image channels.
        image_size: 32, 64 or 128.
        width: StudioGAN's ``g_conv_dim`` (BigGAN-PyTorch's ``G_ch``); None for the reference.
        num_classes: K for a class-conditional G; None: unconditional.
        shared_dim: size of the shared class embedding (used only with ``num_classes``).
        attention: the side at which self-attention sits; None for the reference
            (``image_size // 2``); 0 for none.
    """

    def __init__(
        self,
        latent_dim: int | None = None,
        channels: int = 3,
        image_size: int = 32,
        width: int | None = None,
        *,
        num_classes: int | None = None,
        shared_dim: int = 128,
        attention: int | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        size = check_image_size(name, image_size, SIZES)
        ins, outs = _G_LAYOUTS[size]
        self.channels = channels
        self.image_size = size
        self.width = check_width(name, width, _WIDTH[size], 1)
        self.num_classes = check_num_classes(num_classes)
        n_chunks = len(ins) + 1
        latent_dim = _LATENT[size] if latent_dim is None else latent_dim
        self.latent_dim = check_positive_int(
            "latent_dim",
            latent_dim,
            n_chunks,
            f"{name} at {size} px splits z into {n_chunks} chunks: pass a multiple of "
            f"{n_chunks}, or None for the reference {_LATENT[size]}",
        )
        if self.latent_dim % n_chunks:
            raise ValueError(
                f"latent_dim={latent_dim} is invalid: {name} at {size} px splits z into "
                f"{n_chunks} equal chunks, so pass a multiple of {n_chunks} (the reference uses "
                f"{_LATENT[size]})."
            )
        self.chunk = self.latent_dim // n_chunks
        cond_dim = self.chunk
        if self.num_classes is not None:
            self.shared_dim = check_positive_int(
                "shared_dim", shared_dim, 1, "pass the class embedding size (BigGAN uses 128)"
            )
            self.shared = init_layer(nn.Embedding(self.num_classes, shared_dim), _INIT)
            cond_dim += shared_dim
        w = self.width
        self.linear = maybe_sn(
            init_layer(nn.Linear(self.chunk, ins[0] * w * _BOTTOM**2), _INIT), True, _SN_EPS
        )

        def norm(c: int) -> nn.Module:
            return BigGANBatchNorm2d(c, cond_dim)

        self.blocks = nn.ModuleList(
            GBlock(i * w, o * w, norm, upsample="nearest", init=_INIT, sn=True, sn_eps=_SN_EPS)
            for i, o in zip(ins, outs, strict=True)
        )
        sides = [_BOTTOM * 2 ** (k + 1) for k in range(len(ins))]
        self.attention_after = _attention_index(name, attention, sides, size // 2)
        if self.attention_after >= 0:
            self.attention = SelfAttention(outs[self.attention_after] * w, sn_eps=_SN_EPS)
        self.bn = nn.BatchNorm2d(outs[-1] * w, eps=1e-4)
        self.out = maybe_sn(
            init_layer(nn.Conv2d(outs[-1] * w, channels, 3, 1, 1), _INIT), True, _SN_EPS
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = generator_labels(self, z, labels)
        chunks = z.view(z.shape[0], -1).split(self.chunk, dim=1)
        if labels is None:
            conds = chunks[1:]
        else:
            shared = self.shared(labels)
            conds = tuple(torch.cat([shared, chunk], 1) for chunk in chunks[1:])
        h = self.linear(chunks[0]).view(z.shape[0], -1, _BOTTOM, _BOTTOM)
        for k, (block, cond) in enumerate(zip(self.blocks, conds, strict=True)):
            h = block(h, cond)
            if k == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.out(torch.relu(self.bn(h))))


class BigGANDiscriminator(ResNetDiscriminator):
    """images ``[B, channels, S, S]`` (and labels) -> raw scores ``[B]`` (no sigmoid).

    SNGAN's discriminator with BigGAN's widths (the first convolution of a block outputs the
    block's width), one self-attention layer, orthogonal initialisation and spectral-norm eps
    1e-6. Options as :class:`~lightning_gan.nets.sngan.SNGANDiscriminator`: ``num_classes`` /
    ``conditioning``, ``pack``, ``minibatch_std``.

    Args:
        channels: image channels.
        image_size: 32, 64 or 128.
        width: StudioGAN's ``d_conv_dim`` (BigGAN-PyTorch's ``D_ch``); None for the reference.
        attention: the side at which self-attention sits; None for the reference
            (``image_size // 2``, after the first block); 0 for none.
    """

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        width: int | None = None,
        *,
        attention: int | None = None,
        num_classes: int | None = None,
        conditioning: str = "projection",
        pack: int = 1,
        minibatch_std: bool = False,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__(num_classes, conditioning, pack, minibatch_std, mbstd_group_size)
        name = type(self).__name__
        size = check_image_size(name, image_size, SIZES)
        multiples, downs = _D_LAYOUTS[size]
        self.channels = channels
        self.image_size = size
        self.width = check_width(name, width, _WIDTH[size], 1)
        chs = [m * self.width for m in multiples]
        sides, side = [], size
        for down in downs:
            side //= 2 if down else 1
            sides.append(side)
        self.attention_after = _attention_index(name, attention, sides, size // 2)
        options = dict(init=_INIT, sn=True, sn_eps=_SN_EPS)
        trunk: list[nn.Module] = [DBlockOptimized(channels * self.pack, chs[0], **options)]
        for c_in, c_out, down in zip(chs[:-1], chs[1:], downs[1:], strict=True):
            trunk.append(DBlock(c_in, c_out, c_out, downsample=down, **options))
        if self.attention_after >= 0:
            at = self.attention_after + 1
            trunk.insert(at, SelfAttention(chs[self.attention_after], sn_eps=_SN_EPS))
        self._finish(trunk, chs[-1], _INIT, _SN_EPS)
