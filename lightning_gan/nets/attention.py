"""Self-attention over feature-map positions (SAGAN, Zhang et al. 2019), as BigGAN uses it.

Convolutions model local structure; one attention layer at a middle resolution lets a pixel
depend on distant ones (legs that match, symmetric faces). BigGAN puts one in G and one in D.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_gan.nets.resblocks import init_layer, maybe_sn


class SelfAttention(nn.Module):
    """``x + sigma * attention(x)`` on ``[B, C, H, W]`` (C divisible by 8, H and W even).

    BigGAN-PyTorch's variant of SAGAN's layer (also StudioGAN's and mimicry's): 1x1 convs
    theta and phi to ``C/8`` channels and g to ``C/2``, phi and g max-pooled 2x2 (a quarter of
    the keys, a quarter of the cost), a softmax over keys, a 1x1 conv back to ``C``. ``sigma``
    starts at 0, so the layer starts as the identity and the net learns how much to attend.

    Args:
        channels: C.
        init: "ortho" or "xavier" (see :func:`~lightning_gan.nets.resblocks.init_layer`).
        sn: spectral-normalise the four convolutions.
        sn_eps: the spectral norm's epsilon.
    """

    def __init__(
        self, channels: int, *, init: str = "ortho", sn: bool = True, sn_eps: float = 1e-6
    ) -> None:
        super().__init__()
        if channels % 8:
            raise ValueError(
                f"SelfAttention needs channels divisible by 8, got {channels}: choose a width "
                "whose channel count at the attention resolution is a multiple of 8."
            )
        self.channels = channels

        def conv(c_in: int, c_out: int) -> nn.Module:
            return maybe_sn(init_layer(nn.Conv2d(c_in, c_out, 1, bias=False), init), sn, sn_eps)

        self.theta = conv(channels, channels // 8)
        self.phi = conv(channels, channels // 8)
        self.g = conv(channels, channels // 2)
        self.o = conv(channels // 2, channels)
        self.sigma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        theta = self.theta(x).view(b, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(b, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(b, c // 2, h * w // 4)
        attention = torch.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # [B, HW, HW/4]
        out = torch.bmm(g, attention.transpose(1, 2)).view(b, c // 2, h, w)
        return x + self.sigma * self.o(out)
