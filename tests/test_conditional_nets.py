"""Reference nets' options: class conditioning (CBN, projection, ACGAN), packing, minibatch std.

Each numeric test compares a net against a hand computation of its paper's formula.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from lightning_gan.nets import (
    ConditionalBatchNorm2d,
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStd,
    MLPDiscriminator,
    MLPGenerator,
)

K = 5


def _labels(*shape: int) -> torch.Tensor:
    return torch.arange(torch.Size(shape).numel()).remainder(K).view(*shape)


def _mlp_d(**kwargs) -> MLPDiscriminator:
    return MLPDiscriminator(in_dim=2, hidden=8, depth=2, **kwargs)


def _dcgan_d(**kwargs) -> DCGANDiscriminator:
    return DCGANDiscriminator(channels=3, image_size=8, width=4, norm="none", **kwargs)


def _sample(kind: str, batch: int, pack: int = 1) -> torch.Tensor:
    return torch.randn(batch, 2 * pack) if kind == "mlp" else torch.randn(batch, 3 * pack, 8, 8)


def _build(kind: str, **kwargs) -> nn.Module:
    return _mlp_d(**kwargs) if kind == "mlp" else _dcgan_d(**kwargs)


def _trunk(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """phi(x): every layer of ``d.net`` but the last, flattened."""
    for layer in list(d.net)[:-1]:
        x = layer(x)
    return x.flatten(1)


# --- shapes and gradients -------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [8, 28, 32])
def test_conditional_generators_shapes_and_gradients(image_size: int) -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=4, channels=3, image_size=image_size, width=4, num_classes=K)
    x = g(torch.randn(6, 4), _labels(6))
    assert x.shape == (6, 3, image_size, image_size) and g.num_classes == K
    mlp = MLPGenerator(latent_dim=3, out_dim=2, hidden=8, depth=1, num_classes=K, embed_dim=2)
    assert mlp(torch.randn(6, 3), _labels(6)).shape == (6, 2) and mlp.embed_dim == 2
    assert mlp.net[0].in_features == 3 + 2
    assert MLPGenerator(latent_dim=3, num_classes=K).embed_dim == 3  # default: latent_dim
    (x.square().mean() + mlp(torch.randn(6, 3), _labels(6)).square().mean()).backward()
    for net in (g, mlp):
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
@pytest.mark.parametrize("conditioning", [None, "projection", "acgan"])
@pytest.mark.parametrize("pack", [1, 2])
@pytest.mark.parametrize("minibatch_std", [False, True])
def test_discriminator_option_shapes_and_gradients(
    kind: str, conditioning: str | None, pack: int, minibatch_std: bool
) -> None:
    torch.manual_seed(0)
    options = {} if conditioning is None else {"num_classes": K, "conditioning": conditioning}
    d = _build(kind, pack=pack, minibatch_std=minibatch_std, **options)
    assert (d.pack, d.minibatch_std, d.conditioning) == (pack, minibatch_std, conditioning)
    x = _sample(kind, 8, pack)
    labels = _labels(8) if pack == 1 else _labels(8, pack)
    out = d(x, labels) if conditioning == "projection" else d(x)
    scores = out[0] if conditioning == "acgan" else out
    assert scores.shape == (8,)
    loss = (scores * torch.randn(8)).sum()
    if conditioning == "acgan":
        logits = out[1]
        assert logits.shape == ((8, K) if pack == 1 else (8, pack, K))
        # One cross-entropy call serves packed and unpacked logits.
        loss = loss + F.cross_entropy(logits.flatten(0, -2), labels.flatten())
    loss.backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# --- outputs depend on labels ----------------------------------------------------------------


def test_generator_outputs_depend_on_labels() -> None:
    torch.manual_seed(0)
    z = torch.randn(1, 4).expand(K, 4)  # one z, every class
    mlp = MLPGenerator(latent_dim=4, hidden=8, depth=1, num_classes=K)
    out = mlp(z, torch.arange(K))
    assert torch.cdist(out, out).add(torch.eye(K)).min() > 1e-4  # K distinct outputs
    g = DCGANGenerator(latent_dim=4, image_size=8, width=4, num_classes=K).eval()
    # CBN starts as plain BN (gain 1, bias 0): labels matter only once the gains move.
    assert torch.equal(g(z, torch.arange(K))[0], g(z, torch.arange(K))[1])
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.gain.weight.normal_(1, 0.5)
                m.bias.weight.normal_(0, 0.5)
    images = g(z, torch.arange(K)).flatten(1)
    assert torch.cdist(images, images).add(torch.eye(K)).min() > 1e-3


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_projection_scores_depend_on_labels_acgan_ignores_them(kind: str) -> None:
    torch.manual_seed(0)
    one = _sample(kind, 1)
    x = one.expand(K, *one.shape[1:])  # one sample, every class
    scores = _build(kind, num_classes=K)(x, torch.arange(K))
    assert torch.unique(scores).numel() == K
    acgan = _build(kind, num_classes=K, conditioning="acgan")
    first, second = acgan(x, torch.arange(K)), acgan(x)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


# --- projection = psi(phi(x)) + <embed(y), phi(x)> ------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
@pytest.mark.parametrize("minibatch_std", [False, True])
def test_projection_equals_the_hand_computation(kind: str, minibatch_std: bool) -> None:
    torch.manual_seed(0)
    d = _build(kind, num_classes=K, minibatch_std=minibatch_std)
    x, y = _sample(kind, 8), torch.tensor([0, 1, 2, 3, 4, 4, 0, 2])
    phi = _trunk(d, x)
    psi = d.net[-1]
    # A conv psi covers the whole map: a dot product with its kernel.
    unconditional = psi(phi).squeeze(1) if kind == "mlp" else phi @ psi.weight.flatten() + psi.bias
    expected = unconditional + (d.projection.embed.weight[y] * phi).sum(1)
    torch.testing.assert_close(d(x, y), expected)
    if kind == "dcgan":  # the documented reading: psi's kernel offset by the class's embedding
        h = d.net[:-1](x)[:1]  # the whole batch: minibatch std looks at the other samples
        kernel = psi.weight + d.projection.embed.weight[y[0]].view_as(psi.weight)
        torch.testing.assert_close(d(x, y)[:1], F.conv2d(h, kernel, psi.bias).view(1))


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_packed_projection_uses_the_mean_of_the_members_embeddings(kind: str) -> None:
    torch.manual_seed(0)
    d = _build(kind, num_classes=K, pack=3)
    x, y = _sample(kind, 4, pack=3), _labels(4, 3)
    phi = _trunk(d, x)
    unconditional = d.net[-1](d.net[:-1](x)).view(4)
    expected = unconditional + (d.projection.embed.weight[y].mean(1) * phi).sum(1)
    torch.testing.assert_close(d(x, y), expected)


def test_acgan_logits_are_a_linear_classifier_on_phi() -> None:
    torch.manual_seed(0)
    d = _dcgan_d(num_classes=K, conditioning="acgan", minibatch_std=True)
    x = _sample("dcgan", 8)
    scores, logits = d(x)
    phi = _trunk(d, x)
    torch.testing.assert_close(logits, phi @ d.classifier.weight.T + d.classifier.bias)
    torch.testing.assert_close(scores, phi @ d.net[-1].weight.flatten() + d.net[-1].bias)
    assert not hasattr(d, "projection")


# --- conditional batch norm ------------------------------------------------------------------


def test_conditional_batch_norm_is_batch_norm_with_the_class_gain_and_bias() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(6, 3, 4, 4) * 2 + 1, torch.tensor([0, 2, 1, 2, 0, 1])
    rng = torch.get_rng_state()
    cbn = ConditionalBatchNorm2d(3, num_classes=3)
    assert torch.equal(torch.get_rng_state(), rng)  # gains 1, biases 0: no random draws
    bn = nn.BatchNorm2d(3)  # at initialisation CBN is exactly affine BatchNorm
    torch.testing.assert_close(cbn(x, y), bn(x))
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    gain, bias = cbn.gain.weight[y][:, :, None, None], cbn.bias.weight[y][:, :, None, None]
    mean = x.mean((0, 2, 3), keepdim=True)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    torch.testing.assert_close(cbn(x, y), (x - mean) / (var + 1e-5).sqrt() * gain + bias)
    cbn.eval()  # running statistics, updated by the two training-mode calls above
    running_mean = cbn.bn.running_mean[None, :, None, None]
    running_var = cbn.bn.running_var[None, :, None, None]
    expected = (x - running_mean) / (running_var + 1e-5).sqrt() * gain + bias
    torch.testing.assert_close(cbn(x, y), expected)


def test_conditional_generator_shares_the_unconditional_conv_weights_under_a_seed() -> None:
    torch.manual_seed(0)
    plain = DCGANGenerator(latent_dim=4, image_size=8, width=4).state_dict()
    torch.manual_seed(0)
    conditional = DCGANGenerator(latent_dim=4, image_size=8, width=4, num_classes=K).state_dict()
    convs = [k for k in plain if k.endswith(".weight") and plain[k].dim() == 4]
    assert len(convs) == 3 and all(torch.equal(plain[k], conditional[k]) for k in convs)
    assert {"net.1.gain.weight", "net.1.bias.weight", "net.1.bn.running_mean"} <= set(conditional)


def test_conditional_discriminator_trunk_matches_the_unconditional_one_under_a_seed() -> None:
    torch.manual_seed(0)
    plain = _dcgan_d().state_dict()
    torch.manual_seed(0)
    conditional = _dcgan_d(num_classes=K).state_dict()
    assert all(torch.equal(plain[k], conditional[k]) for k in plain)
    assert set(conditional) - set(plain) == {"projection.embed.weight"}


# --- packing ---------------------------------------------------------------------------------


def test_packed_discriminator_takes_m_times_the_channels_and_refuses_others() -> None:
    d = _dcgan_d(pack=2)
    assert d.net[0].in_channels == 6 and d.channels == 3 and d.pack == 2
    assert d(torch.randn(4, 6, 8, 8)).shape == (4,)
    with pytest.raises(ValueError, match=r"\[B/2, 6, 8, 8\].*got \[8, 3, 8, 8\].*Packing.*pack=1"):
        d(torch.randn(8, 3, 8, 8))
    mlp = _mlp_d(pack=4)
    assert mlp.net[0].in_features == 8 and mlp.in_dim == 2
    assert mlp(torch.randn(4, 8)).shape == (4,)
    with pytest.raises(ValueError, match=r"\[B/4, 8\].*4 samples of 2.*Packing callback"):
        mlp(torch.randn(16, 2))


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_packed_conditional_discriminator_needs_labels_per_member(kind: str) -> None:
    d = _build(kind, num_classes=K, pack=2)
    x = _sample(kind, 4, pack=2)
    with pytest.raises(ValueError, match=r"shape \[4, 2\] \(\[B/2, 2\].*packed like the inputs"):
        d(x, _labels(8))
    with pytest.raises(ValueError, match=r"shape \[4\] \(\[B\]: one label per sample"):
        _build(kind, num_classes=K)(_sample(kind, 4), _labels(4, 2))


# --- minibatch standard deviation ----------------------------------------------------------


def _hand_mbstd(x: torch.Tensor, group: int) -> torch.Tensor:
    """StyleGAN2's grouping: sample i belongs to group i % (B / group)."""
    n = x.shape[0] // group
    values = []
    for i in range(x.shape[0]):
        members = x[i % n :: n]
        assert members.shape[0] == group
        values.append(((members - members.mean(0)).square().mean(0) + 1e-8).sqrt().mean())
    return torch.stack(values)


@pytest.mark.parametrize(("batch", "group"), [(8, 4), (6, 3), (7, 1), (2, 2), (12, 4), (5, 1)])
def test_minibatch_std_equals_the_hand_computation(batch: int, group: int) -> None:
    torch.manual_seed(0)
    images = torch.randn(batch, 3, 4, 4) * torch.arange(1, batch + 1).view(batch, 1, 1, 1)
    out = MinibatchStd(group_size=4)(images)
    assert out.shape == (batch, 4, 4, 4) and torch.equal(out[:, :3], images)
    expected = _hand_mbstd(images, group)
    torch.testing.assert_close(out[:, 3], expected.view(batch, 1, 1).expand(batch, 4, 4))
    vectors = images.flatten(1)
    out = MinibatchStd(group_size=4)(vectors)
    assert out.shape == (batch, 49) and torch.equal(out[:, :48], vectors)
    torch.testing.assert_close(out[:, 48], _hand_mbstd(vectors, group))
    if group == 1:  # a prime batch above the group size: no spread, the constant sqrt(eps)
        torch.testing.assert_close(out[:, 48], torch.full((batch,), 1e-4))


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_minibatch_std_makes_a_score_depend_on_its_group(kind: str) -> None:
    torch.manual_seed(0)
    x = _sample(kind, 8)  # group 4 -> groups {0, 2, 4, 6} and {1, 3, 5, 7}
    same_group, other_group = x.clone(), x.clone()
    same_group[4] += 1.0
    other_group[5] += 1.0
    d = _build(kind, minibatch_std=True).eval()
    assert d.net[-1].weight.shape[1] == 8 + 1  # 8 hidden units / 8 maps, and the std
    assert not torch.isclose(d(same_group)[0], d(x)[0])
    assert torch.equal(d(other_group)[0], d(x)[0])
    plain = _build(kind).eval()  # without the layer, samples do not see each other
    assert torch.equal(plain(same_group)[0], plain(x)[0])


# --- used the way the training loop uses them --------------------------------------------


def test_conditional_nets_work_with_functional_call_and_deepcopy() -> None:
    torch.manual_seed(0)
    d, g = _dcgan_d(num_classes=K), MLPGenerator(latent_dim=2, hidden=8, depth=1, num_classes=K)
    x, y = _sample("dcgan", 4), _labels(4)
    params = {k: v.detach().clone() for k, v in d.named_parameters()}
    torch.testing.assert_close(functional_call(d, params, (x, y)), d(x, y))
    z = torch.randn(4, 2)
    torch.testing.assert_close(copy.deepcopy(g)(z, y), g(z, y))


# --- bad parameters and bad labels ---------------------------------------------------------

_ALL = [
    lambda **kw: MLPGenerator(**kw),
    lambda **kw: MLPDiscriminator(**kw),
    lambda **kw: DCGANGenerator(image_size=8, width=4, **kw),
    lambda **kw: DCGANDiscriminator(image_size=8, width=4, **kw),
]
_DISCRIMINATORS = [_ALL[1], _ALL[3]]


@pytest.mark.parametrize("build", _ALL)
@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_bad_num_classes_is_refused(build, bad) -> None:
    with pytest.raises(ValueError, match=r"num_classes=.*pass the number of classes K >= 1"):
        build(num_classes=bad)


@pytest.mark.parametrize("build", _DISCRIMINATORS)
def test_bad_discriminator_options_are_refused(build) -> None:
    with pytest.raises(ValueError, match=r"conditioning='cgan' is unknown.*projection, acgan"):
        build(num_classes=K, conditioning="cgan")
    with pytest.raises(ValueError, match="conditioning='acgan' needs.*pass num_classes=K"):
        build(conditioning="acgan")
    for pack in (0, -2, 1.5):
        with pytest.raises(ValueError, match=r"pack=.*integer >= 1 .*1 disables packing"):
            build(pack=pack)
    for size in (1, 0, 2.0):
        with pytest.raises(ValueError, match=r"mbstd_group_size=.*integer >= 2.*use 4"):
            build(minibatch_std=True, mbstd_group_size=size)
    with pytest.raises(ValueError, match=r"mbstd_group_size=1.*integer >= 2"):
        build(mbstd_group_size=1)  # refused even while minibatch_std is off
    with pytest.raises(ValueError, match=r"group_size=1 .*integer >= 2"):
        MinibatchStd(group_size=1)


def test_bad_embed_dim_is_refused() -> None:
    with pytest.raises(ValueError, match=r"embed_dim=4 applies only.*pass num_classes=K"):
        MLPGenerator(embed_dim=4)
    with pytest.raises(ValueError, match=r"embed_dim=0 is invalid.*integer >= 1"):
        MLPGenerator(num_classes=K, embed_dim=0)


_CONDITIONAL_CALLS = [
    (lambda: MLPGenerator(latent_dim=2, hidden=8, depth=1, num_classes=K), (4, 2)),
    (lambda: MLPDiscriminator(hidden=8, depth=1, num_classes=K), (4, 2)),
    (lambda: DCGANGenerator(latent_dim=4, image_size=8, width=4, num_classes=K), (4, 4)),
    (lambda: DCGANDiscriminator(image_size=8, width=4, num_classes=K), (4, 1, 8, 8)),
]


@pytest.mark.parametrize(("build", "shape"), _CONDITIONAL_CALLS)
def test_bad_labels_are_refused_with_the_fix(build, shape) -> None:
    net, x = build(), torch.randn(*shape)
    name = type(net).__name__
    with pytest.raises(ValueError, match=rf"{name} was built with num_classes=5 and needs labels"):
        net(x)
    for bad in (torch.tensor([0, 1, 2, 5]), torch.tensor([0, -1, 2, 3])):
        with pytest.raises(ValueError, match=r"must lie in \[0, 5\).*num_classes at least"):
            net(x, bad)
    with pytest.raises(ValueError, match=r"int64 .*got torch.float32.*labels.long\(\)"):
        net(x, torch.zeros(4))
    with pytest.raises(ValueError, match=r"\[B\]: one label per sample.*got \[3\]"):
        net(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels on meta and inputs on cpu.*labels.to"):
        net(x, torch.zeros(4, dtype=torch.long, device="meta"))
    assert net(x, torch.tensor([0, 1, 4, 4], dtype=torch.int32)).shape[0] == 4
