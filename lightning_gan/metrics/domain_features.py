"""FID/KID feature networks for the embedded image sets: digit-classifier features per channel.

Inception features of an upsampled 8x8 or 28x28 grey digit measure ImageNet texture statistics
and take ~0.1-0.3 s per image on CPU. A digit classifier's hidden layer measures what matters for
digits (shape, class) at a few hundred microseconds per image, so FID can be tracked during CPU
training. Numbers in this space are comparable only with each other, never with published
(Inception) FID.

Stacked MNIST images carry an independent digit in each channel, so its features are the MNIST
features of each channel, concatenated (3 x 128 = 384-d).

The same pass also gives the digit classifier's logits, for an Inception-Score-like number in the
digit space (a 10-class score for ``"digits"``/``"mnist"``, at most 10; for ``"stacked_mnist"``
the joint class of the three digits, 1000 classes, at most 1000).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gan.metrics.digit_classifier import DigitNet, load_digit_net

# name -> (digit net, channels)
DOMAINS: dict[str, tuple[str, int]] = {
    "digits": ("digits", 1),
    "mnist": ("mnist", 1),
    "stacked_mnist": ("mnist", 3),
}
# image sides each digit net accepts: its own, and MNIST padded to 32x32 (cropped back)
_ACCEPTED_SIDES = {8: (8,), 28: (28, 32)}


def suggest_features(shape: tuple[int, ...]) -> str:
    """The ``features=`` value that fits images of ``shape`` ``[B, C, H, W]`` (for messages)."""
    channels, side = (shape[1], shape[2]) if len(shape) == 4 else (None, None)
    if len(shape) == 4 and shape[2] == shape[3]:
        if channels == 1 and side == 8:
            return "features='digits'"
        if channels == 1 and side in (28, 32):
            return "features='mnist'"
        if channels == 3 and side in (28, 32):
            return "features='stacked_mnist'"
    return "features='inception' (any size, 1 or 3 channels) or your own nn.Module"


class DomainFeatures(nn.Module):
    """Per-channel :class:`DigitNet` features of ``[B, channels, H, W]`` images in ``data_range``.

    Images must have the net's size; MNIST padded to 32x32 is centre-cropped back to 28x28. Any
    other size raises (:meth:`check_images`) instead of silently reading a crop. The
    ``num_features`` attribute is what torchmetrics' FID reads for a custom feature network.
    """

    def __init__(
        self, net: DigitNet, channels: int = 1, data_range: tuple[float, float] = (-1.0, 1.0)
    ) -> None:
        super().__init__()
        lo, hi = data_range
        if not hi > lo:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}.")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}.")
        self.net = net.eval().requires_grad_(False)
        self.channels = channels
        self.data_range = (float(lo), float(hi))
        self.num_features = channels * net.feature_dim
        # class logits: 10 digits, or the 10**channels digit tuples of a stacked image
        self.num_logits = 10**channels

    def train(self, mode: bool = True) -> DomainFeatures:
        """Always in eval mode (dropout off), like torchmetrics' ``NoTrainInceptionV3``."""
        return super().train(False)

    @property
    def name(self) -> str:
        """The ``features=`` name of this network (for messages)."""
        if self.net.image_size == 8:
            return "digits" if self.channels == 1 else f"digits x{self.channels}"
        return {1: "mnist", 3: "stacked_mnist"}.get(self.channels, f"mnist x{self.channels}")

    def check_images(self, shape: tuple[int, ...] | torch.Size) -> None:
        """Refuse images this network would misread, naming the ``features`` that fits them.

        The digit nets read one size (8x8 digits; 28x28 MNIST, or 32x32 padded MNIST cropped
        back): any other size would be silently cropped to a fragment of the image.
        """
        size = self.net.image_size
        sides = _ACCEPTED_SIDES[size]
        shape = tuple(shape)
        ok = (
            len(shape) == 4
            and shape[1] == self.channels
            and shape[2] == shape[3]
            and shape[2] in sides
        )
        if not ok:
            want = " or ".join(f"{s}x{s}" for s in sides)
            raise ValueError(
                f"features={self.name!r} reads [B, {self.channels}, H, W] images with H x W = "
                f"{want}, got {shape}: use {suggest_features(shape)}."
            )

    def prepare(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` in ``data_range`` -> ``[B * C, 1, S, S]`` in [-1, 1] for the net."""
        self.check_images(x.shape)
        size = self.net.image_size
        top, left = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2
        x = x[:, :, top : top + size, left : left + size]
        lo, hi = self.data_range
        x = (x.float() - lo) * (2.0 / (hi - lo)) - 1.0
        return x.reshape(-1, 1, size, size)

    def forward(self, x: Tensor) -> Tensor:
        feats = self.net.features(self.prepare(x))
        return feats.reshape(x.shape[0], self.num_features)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``[B, num_features]`` and class logits ``[B, num_logits]`` from one pass.

        With several channels the logits are those of the joint class (digit tuple):
        ``log p(d0, d1, d2 | x) = sum_c log p(d_c | x_c)`` (the channels are independent), so
        their softmax is the product of the per-channel class probabilities.
        """
        hidden = self.net.features(self.prepare(x))
        logits = self.net.digit_logits(hidden)  # the 10 digits (dropout is off in eval)
        feats = hidden.reshape(x.shape[0], self.num_features)
        if self.channels == 1:
            return feats, logits
        log_p = logits.log_softmax(dim=1).reshape(x.shape[0], self.channels, 10)
        joint = log_p[:, 0]
        for c in range(1, self.channels):
            joint = (joint[:, :, None] + log_p[:, c, None, :]).reshape(x.shape[0], -1)
        return feats, joint


def domain_features(name: str, data_range: tuple[float, float] = (-1.0, 1.0)) -> DomainFeatures:
    """The shipped feature network for ``"digits"`` (8x8), ``"mnist"`` or ``"stacked_mnist"``."""
    if name not in DOMAINS:
        raise ValueError(f"Unknown domain {name!r}: use one of {sorted(DOMAINS)}.")
    net_name, channels = DOMAINS[name]
    return DomainFeatures(load_digit_net(net_name), channels=channels, data_range=data_range)
