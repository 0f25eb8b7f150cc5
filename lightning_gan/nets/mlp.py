"""Multilayer perceptrons for the 2-D mixture benchmarks (the VEEGAN / PacGAN setting)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


def _blocks(
    in_dim: int, hidden: int, depth: int, activation: Callable[[], nn.Module]
) -> list[nn.Module]:
    """``depth`` Linear+activation pairs; a fresh activation module per block."""
    if depth < 1:
        raise ValueError(f"depth={depth} must be at least 1: pass depth >= 1.")
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(in_dim if i == 0 else hidden, hidden))
        layers.append(activation())
    return layers


class MLPGenerator(nn.Module):
    """``depth`` Linear+ReLU blocks and a linear output: maps z [B, latent_dim] to [B, out_dim].

    The output is unbounded (no tanh) because mixture centres lie outside [-1, 1] (grid at +-4).
    """

    def __init__(
        self, latent_dim: int = 2, out_dim: int = 2, hidden: int = 128, depth: int = 3
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.out_dim = out_dim
        self.net = nn.Sequential(
            *_blocks(latent_dim, hidden, depth, nn.ReLU), nn.Linear(hidden, out_dim)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """``depth`` Linear+LeakyReLU(0.2) blocks and a linear head: x [B, in_dim] to scores [B].

    Raw logits/scores (no sigmoid), so any loss (BCE-with-logits, hinge, Wasserstein) applies.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.net = nn.Sequential(
            *_blocks(in_dim, hidden, depth, lambda: nn.LeakyReLU(0.2)), nn.Linear(hidden, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)
