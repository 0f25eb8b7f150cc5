"""Reference networks: shapes, output range, argument checks, and gradient flow."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def _assert_all_grads_nonzero(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_mlp_shapes_attributes_and_gradients() -> None:
    g = MLPGenerator(latent_dim=3, out_dim=2, hidden=16, depth=2)
    d = MLPDiscriminator(in_dim=2, hidden=16, depth=2)
    assert (g.latent_dim, g.out_dim, d.in_dim) == (3, 2, 2)
    x = g(torch.randn(10, 3))
    assert x.shape == (10, 2)
    scores = d(x)
    assert scores.shape == (10,)
    scores.square().mean().backward()
    _assert_all_grads_nonzero(g)
    _assert_all_grads_nonzero(d)
    with pytest.raises(ValueError, match="depth >= 1"):
        MLPGenerator(depth=0)


@pytest.mark.parametrize("image_size", [8, 28, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_dcgan_shapes_range_and_gradients(image_size: int, channels: int, norm: str) -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=8, channels=channels, image_size=image_size, width=8)
    d = DCGANDiscriminator(channels=channels, image_size=image_size, width=8, norm=norm)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, channels, image_size, image_size)
    assert x.min() >= -1 and x.max() <= 1
    scores = d(x)
    assert scores.shape == (4,)
    (scores * torch.randn(4)).sum().backward()
    _assert_all_grads_nonzero(g)
    _assert_all_grads_nonzero(d)


def test_dcgan_norm_choice_is_per_sample_for_penalties() -> None:
    norms = {type(m) for m in DCGANDiscriminator(width=8, norm="layer").modules()}
    assert nn.GroupNorm in norms and nn.BatchNorm2d not in norms
    norms = {type(m) for m in DCGANDiscriminator(width=8, norm="none").modules()}
    assert not norms & {nn.GroupNorm, nn.BatchNorm2d}


@pytest.mark.parametrize("cls", [DCGANGenerator, DCGANDiscriminator])
def test_dcgan_rejects_unsupported_image_size(cls: type) -> None:
    with pytest.raises(ValueError, match="use one of 8, 28, 32"):
        cls(image_size=64)


def test_dcgan_rejects_unknown_norm() -> None:
    with pytest.raises(ValueError, match="batch, layer, none"):
        DCGANDiscriminator(norm="instance")
