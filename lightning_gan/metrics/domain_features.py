"""FID/KID feature networks for the embedded image sets: digit-classifier features per channel.

Inception features of an upsampled 8x8 or 28x28 grey digit measure ImageNet texture statistics
and take ~0.1-0.3 s per image on CPU. A digit classifier's hidden layer measures what matters for
digits (shape, class) at a few hundred microseconds per image, so FID can be tracked during CPU
training. Numbers in this space are comparable only with each other, never with published
(Inception) FID.

Stacked MNIST images carry an independent digit in each channel, so its features are the MNIST
features of each channel, concatenated (3 x 128 = 384-d).
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_gan.metrics.digit_classifier import DigitNet, load_digit_net

# name -> (digit net, channels)
DOMAINS: dict[str, tuple[str, int]] = {
    "digits": ("digits", 1),
    "mnist": ("mnist", 1),
    "stacked_mnist": ("mnist", 3),
}


class DomainFeatures(nn.Module):
    """Per-channel :class:`DigitNet` features of ``[B, channels, H, W]`` images in ``data_range``.

    Images larger than the net's input (MNIST padded to 32x32) are centre-cropped to it. The
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

    def train(self, mode: bool = True) -> DomainFeatures:
        """Always in eval mode (dropout off), like torchmetrics' ``NoTrainInceptionV3``."""
        return super().train(False)

    def prepare(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` in ``data_range`` -> ``[B * C, 1, S, S]`` in [-1, 1] for the net."""
        size = self.net.image_size
        if x.dim() != 4 or x.shape[1] != self.channels or min(x.shape[2:]) < size:
            raise ValueError(
                f"Expected images [B, {self.channels}, >={size}, >={size}], got {tuple(x.shape)}."
            )
        top, left = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2
        x = x[:, :, top : top + size, left : left + size]
        lo, hi = self.data_range
        x = (x.float() - lo) * (2.0 / (hi - lo)) - 1.0
        return x.reshape(-1, 1, size, size)

    def forward(self, x: Tensor) -> Tensor:
        feats = self.net.features(self.prepare(x))
        return feats.reshape(x.shape[0], self.num_features)


def domain_features(name: str, data_range: tuple[float, float] = (-1.0, 1.0)) -> DomainFeatures:
    """The shipped feature network for ``"digits"`` (8x8), ``"mnist"`` or ``"stacked_mnist"``."""
    if name not in DOMAINS:
        raise ValueError(f"Unknown domain {name!r}: use one of {sorted(DOMAINS)}.")
    net_name, channels = DOMAINS[name]
    return DomainFeatures(load_digit_net(net_name), channels=channels, data_range=data_range)
