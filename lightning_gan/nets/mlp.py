"""Multilayer perceptrons for the 2-D mixture benchmarks (the VEEGAN / PacGAN setting)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lightning_gan.nets.discriminator import ReferenceDiscriminator
from lightning_gan.nets.labels import (
    check_num_classes,
    check_positive_int,
    generator_labels,
)


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
    With ``num_classes=K`` it is class-conditional, ``G(z, labels)``: a label embedding
    (``nn.Embedding(K, embed_dim)``, ``embed_dim`` defaulting to ``latent_dim``) is concatenated
    with z at the input.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        out_dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        *,
        num_classes: int | None = None,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.out_dim = out_dim
        self.num_classes = check_num_classes(num_classes)
        if self.num_classes is None:
            if embed_dim is not None:
                raise ValueError(
                    f"embed_dim={embed_dim!r} applies only to a conditional generator: pass "
                    "num_classes=K as well, or leave embed_dim=None."
                )
            self.embed_dim = None
        else:
            fix = "pass the label embedding size, an integer >= 1 (None: latent_dim)"
            size = latent_dim if embed_dim is None else embed_dim
            self.embed_dim = check_positive_int("embed_dim", size, 1, fix)
        in_dim = latent_dim + (self.embed_dim or 0)
        self.net = nn.Sequential(
            *_blocks(in_dim, hidden, depth, nn.ReLU), nn.Linear(hidden, out_dim)
        )
        if self.num_classes is not None:  # after net: net's seeded init stays as unconditional
            self.embed = nn.Embedding(self.num_classes, self.embed_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = generator_labels(self, z, labels)
        if labels is None:
            return self.net(z)
        return self.net(torch.cat([z, self.embed(labels)], 1))


class MLPDiscriminator(ReferenceDiscriminator):
    """``depth`` Linear+LeakyReLU(0.2) blocks and a linear head: x [B, in_dim] to scores [B].

    Raw logits/scores (no sigmoid), so any loss (BCE-with-logits, hinge, Wasserstein) applies.
    phi is the blocks (plus the minibatch-std feature), psi the last Linear. Options (see
    :mod:`lightning_gan.nets.discriminator`): ``num_classes``/``conditioning`` (projection or
    ACGAN head), ``pack`` (inputs ``[B/m, m * in_dim]``), ``minibatch_std``/``mbstd_group_size``
    (one feature appended before the last Linear).
    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        *,
        num_classes: int | None = None,
        conditioning: str = "projection",
        pack: int = 1,
        minibatch_std: bool = False,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__(num_classes, conditioning, pack, minibatch_std, mbstd_group_size)
        self.in_dim = in_dim
        features = hidden + self.minibatch_std
        self.net = nn.Sequential(
            *_blocks(in_dim * self.pack, hidden, depth, lambda: nn.LeakyReLU(0.2)),
            *self._minibatch_std_layers(),
            nn.Linear(features, 1),
        )
        self._add_head((in_dim * self.pack,), features)
