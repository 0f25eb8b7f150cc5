"""PacGAN's own 2-D networks (Lin et al. 2018), for reproducing its mixture experiments.

Read from fjxmlzn/PacGAN, ``synthetic_data_experiments/2D{Grid,Ring}_GAN&PacGAN``
(``pacgan_task.create_model_brick`` and ``config.py``): a generator of four 400-unit layers, each
bias-free Linear -> batch norm -> ReLU, and a linear output with bias; a discriminator of three
200-unit maxout layers of 5 pieces on the ``m`` concatenated samples of a pack and a linear
score; every weight drawn from N(0, 0.02^2), biases 0. The package's ``MLPGenerator`` and
``MLPDiscriminator`` have neither batch norm nor maxout, so the benchmark defines these here, as
a user bringing their own networks would (the discriminator declares ``pack``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Maxout(nn.Module):
    """``max`` over ``pieces`` affine maps: blocks' ``LinearMaxout``."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int) -> None:
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(-1, self.out_dim, self.pieces).amax(dim=-1)


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class PacGANGenerator(nn.Module):
    """z [B, 2] -> x [B, 2]: 4 x (Linear without bias, BatchNorm, ReLU), Linear."""

    def __init__(self, latent_dim: int = 2, hidden: int = 400, out_dim: int = 2) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(4):
            layers += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, out_dim))
        _init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class PacGANDiscriminator(nn.Module):
    """Packs [B, 2m] -> scores [B]: 3 x Maxout(200, 5 pieces), Linear."""

    def __init__(self, pack: int = 1, in_dim: int = 2, hidden: int = 200, pieces: int = 5):
        super().__init__()
        self.pack = pack
        self.net = nn.Sequential(
            Maxout(in_dim * pack, hidden, pieces),
            Maxout(hidden, hidden, pieces),
            Maxout(hidden, hidden, pieces),
            nn.Linear(hidden, 1),
        )
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(-1)


def pacgan_nets(d_options: dict) -> tuple[nn.Module, nn.Module]:
    """The pair for ``benchmarks/mode_collapse.py`` (``d_options``: ``{"pack": m}``)."""
    return PacGANGenerator(), PacGANDiscriminator(pack=d_options.get("pack", 1))


if __name__ == "__main__":  # parameter counts, to set beside the paper's printout
    g, d = pacgan_nets({"pack": 4})
    print(sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters()))
    print(d(torch.randn(5, 8)).shape)
