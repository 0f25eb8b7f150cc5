"""DCGAN-style convolutional generator and discriminator for 8x8, 28x28 and 32x32 images.

Each size has a start resolution (2x2 for 8, 7x7 for 28, 4x4 for 32) reached by stride-2
(de)convolutions that exactly double/halve the side, so no cropping or resizing is needed. The
discriminator's normalisation is selectable because gradient penalties (WGAN-GP, R1) are defined
per sample and are wrong with BatchNorm, which mixes samples in a batch.

Class-conditional options: the generator replaces its BatchNorms by
:class:`~lightning_gan.nets.layers.ConditionalBatchNorm2d`; the discriminator's options (projection
or ACGAN head, packing, minibatch std) are those of
:class:`~lightning_gan.nets.discriminator.ReferenceDiscriminator`.
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_gan.nets.discriminator import ReferenceDiscriminator
from lightning_gan.nets.labels import (
    check_num_classes,
    generator_labels,
)
from lightning_gan.nets.layers import ConditionalBatchNorm2d

# image_size -> (start side, number of stride-2 up/down-samplings); start * 2**n == image_size.
_LAYOUTS: dict[int, tuple[int, int]] = {8: (2, 2), 28: (7, 2), 32: (4, 3)}
_NORMS = ("batch", "layer", "none")


def _layout(image_size: int) -> tuple[int, int]:
    if image_size not in _LAYOUTS:
        allowed = ", ".join(str(s) for s in sorted(_LAYOUTS))
        raise ValueError(f"image_size={image_size} is not supported: use one of {allowed}.")
    return _LAYOUTS[image_size]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # LayerNorm over (C, H, W): per-sample, penalty-safe
    return nn.Identity()


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] -> images [B, channels, image_size, image_size] in [-1, 1] (tanh).

    A transposed convolution projects z to the start resolution with ``width * 2**(n-1)``
    channels; each stride-2 block doubles the side and halves the channels (BatchNorm + ReLU).
    With ``num_classes=K`` it is class-conditional, ``G(z, labels)``: every BatchNorm becomes a
    conditional batch norm (per-class gain and bias, starting at 1 and 0).
    """

    def __init__(
        self,
        latent_dim: int = 64,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        *,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        start, n_up = _layout(image_size)
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = check_num_classes(num_classes)
        ch = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, start, 1, 0, bias=False),
            self._batch_norm(ch),
            nn.ReLU(),
        ]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                self._batch_norm(ch // 2),
                nn.ReLU(),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def _batch_norm(self, channels: int) -> nn.Module:
        if self.num_classes is None:
            return nn.BatchNorm2d(channels)
        return ConditionalBatchNorm2d(channels, self.num_classes)  # draws no random numbers

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        x = z.view(z.shape[0], self.latent_dim, 1, 1)
        labels = generator_labels(self, z, labels)
        if labels is None:
            return self.net(x)
        for layer in self.net:
            x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class DCGANDiscriminator(ReferenceDiscriminator):
    """images [B, channels, image_size, image_size] -> raw scores [B] (no sigmoid).

    Mirrors the generator: stride-2 convolutions with LeakyReLU(0.2) down to the start resolution,
    then one convolution covering it. ``norm`` is "batch", "layer" (GroupNorm(1, C)) or "none";
    use "layer" or "none" with gradient penalties. phi is everything before that last
    convolution (plus the minibatch-std map), psi the convolution. Options: ``num_classes`` /
    ``conditioning`` (projection or ACGAN head on the flattened phi), ``pack`` (inputs
    ``[B/m, m * channels, image_size, image_size]``), ``minibatch_std`` / ``mbstd_group_size``
    (one feature map appended before the last convolution).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        norm: str = "batch",
        *,
        num_classes: int | None = None,
        conditioning: str = "projection",
        pack: int = 1,
        minibatch_std: bool = False,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__(num_classes, conditioning, pack, minibatch_std, mbstd_group_size)
        start, n_down = _layout(image_size)
        if norm not in _NORMS:
            raise ValueError(f"norm={norm!r} is unknown: use one of {', '.join(_NORMS)}.")
        self.channels = channels
        self.image_size = image_size
        in_channels = channels * self.pack
        # No norm on the first layer (DCGAN); conv bias only where no norm follows to absorb it.
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"),
                _norm(norm, ch * 2),
                nn.LeakyReLU(0.2),
            ]
            ch *= 2
        ch += self.minibatch_std
        layers += [*self._minibatch_std_layers(), nn.Conv2d(ch, 1, start, 1, 0)]
        self.net = nn.Sequential(*layers)
        self._add_head((in_channels, image_size, image_size), ch * start * start)
