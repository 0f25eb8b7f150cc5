"""Reference networks: shapes, output range, argument checks, and gradient flow."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

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


# --- The unconditional nets are exactly the original ones -------------------------------------
# A frozen copy of how the reference nets were built before the conditional / packing /
# minibatch-std options existed. With the defaults, the nets must draw the same random numbers
# in the same order (same weights under a seed, same RNG state afterwards), have the same
# state-dict keys in the same order, and compute the same function.


def _original_mlp_blocks(
    in_dim: int, hidden: int, depth: int, act: Callable[[], nn.Module]
) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_dim if i == 0 else hidden, hidden), act()]
    return layers


def _original_mlp_generator(latent_dim: int, out_dim: int, hidden: int, depth: int) -> nn.Module:
    return nn.Sequential(
        *_original_mlp_blocks(latent_dim, hidden, depth, nn.ReLU), nn.Linear(hidden, out_dim)
    )


def _original_mlp_discriminator(in_dim: int, hidden: int, depth: int) -> nn.Module:
    blocks = _original_mlp_blocks(in_dim, hidden, depth, partial(nn.LeakyReLU, 0.2))
    return nn.Sequential(*blocks, nn.Linear(hidden, 1))


_START = {8: (2, 2), 28: (7, 2), 32: (4, 3)}


def _original_dcgan_generator(latent_dim: int, channels: int, image_size: int, width: int):
    start, n_up = _START[image_size]
    ch = width * 2 ** (n_up - 1)
    layers = [nn.ConvTranspose2d(latent_dim, ch, start, 1, 0, bias=False), nn.BatchNorm2d(ch)]
    layers.append(nn.ReLU())
    for _ in range(n_up - 1):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2)]
        layers.append(nn.ReLU())
        ch //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh())


def _original_dcgan_discriminator(channels: int, image_size: int, width: int, norm: str):
    start, n_down = _START[image_size]
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    ch = width
    for _ in range(n_down - 1):
        layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(ch * 2))
        elif norm == "layer":
            layers.append(nn.GroupNorm(1, ch * 2))
        else:
            layers.append(nn.Identity())
        layers.append(nn.LeakyReLU(0.2))
        ch *= 2
    return nn.Sequential(*layers, nn.Conv2d(ch, 1, start, 1, 0))


_ORIGINALS = [
    (
        MLPGenerator,
        _original_mlp_generator,
        dict(latent_dim=3, out_dim=2, hidden=16, depth=3),
        (5, 3),
    ),
    (MLPDiscriminator, _original_mlp_discriminator, dict(in_dim=2, hidden=16, depth=2), (5, 2)),
    *[
        (
            DCGANGenerator,
            _original_dcgan_generator,
            dict(latent_dim=8, channels=c, image_size=s, width=8),
            (3, 8),
        )
        for s in (8, 28, 32)
        for c in (1, 3)
    ],
    *[
        (
            DCGANDiscriminator,
            _original_dcgan_discriminator,
            dict(channels=c, image_size=s, width=8, norm=n),
            (3, c, s, s),
        )
        for s in (8, 28, 32)
        for c in (1, 3)
        for n in ("batch", "layer", "none")
    ],
]


@pytest.mark.parametrize(("cls", "original", "kwargs", "input_shape"), _ORIGINALS)
def test_unconditional_nets_are_the_original_construction(
    cls, original, kwargs, input_shape
) -> None:
    torch.manual_seed(0)
    old = original(**kwargs)
    rng_after_old = torch.get_rng_state()
    torch.manual_seed(0)
    new = cls(**kwargs)
    assert torch.equal(torch.get_rng_state(), rng_after_old)  # same random draws, same order
    old_state = {f"net.{k}": v for k, v in old.state_dict().items()}
    new_state = new.state_dict()
    assert list(new_state) == list(old_state)
    for key, value in old_state.items():
        assert torch.equal(new_state[key], value), key
    assert repr(new.net) == repr(old)  # the same layers with the same settings
    assert new.num_classes is None
    x = torch.randn(*input_shape)
    expected = old(x.view(-1, kwargs["latent_dim"], 1, 1) if cls is DCGANGenerator else x)
    if cls in (MLPDiscriminator, DCGANDiscriminator):
        expected = expected.view(input_shape[0])
    assert torch.equal(new(x), expected)


@pytest.mark.parametrize(
    ("net", "inputs"),
    [
        (MLPGenerator(latent_dim=2, hidden=8, depth=1), torch.randn(4, 2)),
        (MLPDiscriminator(hidden=8, depth=1), torch.randn(4, 2)),
        (DCGANGenerator(latent_dim=4, image_size=8, width=8), torch.randn(4, 4)),
        (DCGANDiscriminator(image_size=8, width=8), torch.randn(4, 1, 8, 8)),
    ],
)
def test_unconditional_nets_refuse_labels_naming_num_classes(net: nn.Module, inputs) -> None:
    with pytest.raises(ValueError, match=r"num_classes=None.*build it with num_classes=K"):
        net(inputs, torch.zeros(4, dtype=torch.long))
    assert net(inputs, None).shape[0] == 4  # labels=None is the unconditional call
