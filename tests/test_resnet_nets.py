"""SNGAN and BigGAN ResNets: reference parameter counts, shapes at every size, label flow,
packing, minibatch std, spectral norm, orthogonal init, argument errors, fit and exact resume."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.utils.data import TensorDataset

from lightning_gan import (
    GAN,
    BigGANDiscriminator,
    BigGANGenerator,
    MinibatchStd,
    ResumableDataLoader,
    SNGANDiscriminator,
    SNGANGenerator,
    SpectralNorm,
)
from tests.helpers import flat_params, quiet_trainer

K = 5
# Reference parameter counts, counted by instantiating the reference modules (torch
# nn.Parameter elements; spectral norm's u/v are buffers and add none).
# mimicry (kwotsin/mimicry): torch_mimicry/nets/sngan/sngan_{32,48,64,128}.py with their
# defaults (G nz=128, ngf 256/512/1024/1024; D ndf 128/1024/1024/1024), and the class-conditional
# torch_mimicry/nets/cgan_pd/cgan_pd_32.py (num_classes=10) and cgan_pd_128.py (num_classes=1000,
# G ngf=1024, D ndf=128).
# StudioGAN (POSTECH-CVLab/PyTorch-StudioGAN): src/models/big_resnet.py built with
# configs/CIFAR10/BigGAN.yaml (32 px: z 80, shared 128, conv_dim 96, attn G loc 2, D loc 1),
# configs/Baby_ImageNet/BigGAN.yaml (64 px: z 100, shared 128, conv_dim 80, attn G 3, D 1) and
# configs/ImageNet/BigGAN-256.yaml (128 px: z 120, shared 128, conv_dim 96, attn G 4, D 1), with
# g_cond_mtd/d_cond_mtd "cBN"/"PD" (conditional) or "W/O" (BigGAN-Uncond.yaml). The 128 px
# conditional counts (70,433,988 / 87,982,370) are also BigGAN-PyTorch's at G_ch = D_ch = 96.
REFERENCE_COUNTS = [
    (SNGANGenerator, dict(image_size=32), 4_276_739),
    (SNGANDiscriminator, dict(image_size=32), 1_053_825),
    (SNGANGenerator, dict(image_size=48), 4_878_083),
    (SNGANDiscriminator, dict(image_size=48), 10_141_441),
    (SNGANGenerator, dict(image_size=64), 12_220_675),
    (SNGANDiscriminator, dict(image_size=64), 10_141_441),
    (SNGANGenerator, dict(image_size=128), 32_150_787),
    (SNGANDiscriminator, dict(image_size=128), 29_017_857),
    (SNGANGenerator, dict(image_size=32, num_classes=10), 4_304_387),
    (SNGANDiscriminator, dict(image_size=32, num_classes=10), 1_055_105),
    (SNGANGenerator, dict(image_size=128, num_classes=1000), 41_996_931),
    (SNGANDiscriminator, dict(image_size=128, width=128, num_classes=1000), 582_497),
    (BigGANGenerator, dict(image_size=32, num_classes=10), 9_416_196),
    (BigGANDiscriminator, dict(image_size=32, num_classes=10), 2_415_170),
    (BigGANGenerator, dict(image_size=32), 8_825_092),
    (BigGANDiscriminator, dict(image_size=32), 2_413_250),
    (BigGANGenerator, dict(image_size=64, num_classes=100), 17_322_404),
    (BigGANDiscriminator, dict(image_size=64, num_classes=100), 30_668_722),
    (BigGANGenerator, dict(image_size=64), 16_388_004),
    (BigGANDiscriminator, dict(image_size=64), 30_540_722),
    (BigGANGenerator, dict(image_size=128, num_classes=1000), 70_433_988),
    (BigGANDiscriminator, dict(image_size=128, num_classes=1000), 87_982_370),
    (BigGANGenerator, dict(image_size=128), 68_413_636),
    (BigGANDiscriminator, dict(image_size=128), 86_446_370),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "expected"),
    REFERENCE_COUNTS,
    ids=[f"{c.__name__}-{kw}" for c, kw, _ in REFERENCE_COUNTS],
)
def test_parameter_counts_equal_the_references(cls: type, kwargs: dict, expected: int) -> None:
    with torch.device("meta"):  # shapes only: no memory, no orthogonal init of 88M weights
        net = cls(**kwargs)
    assert sum(p.numel() for p in net.parameters()) == expected


# Small widths for forward tests: SNGAN's narrowest layer is width/16 at 48-128 px; BigGAN's
# attention layers need channels divisible by 8.
SNGAN_SIZES = [32, 48, 64, 128]
BIGGAN_SIZES = [32, 64, 128]


def _nets(arch: str, size: int, **d_kwargs) -> tuple[nn.Module, nn.Module]:
    classes = d_kwargs.pop("num_classes", None)
    if arch == "sngan":
        g = SNGANGenerator(latent_dim=8, image_size=size, width=16, num_classes=classes)
        d = SNGANDiscriminator(image_size=size, width=16, num_classes=classes, **d_kwargs)
    else:
        g = BigGANGenerator(latent_dim=None, image_size=size, width=8, num_classes=classes)
        d = BigGANDiscriminator(image_size=size, width=8, num_classes=classes, **d_kwargs)
    return g, d


CASES = [("sngan", s) for s in SNGAN_SIZES] + [("biggan", s) for s in BIGGAN_SIZES]


@pytest.mark.parametrize(("arch", "size"), CASES)
@pytest.mark.parametrize("num_classes", [None, K])
def test_shapes_range_and_gradients(arch: str, size: int, num_classes: int | None) -> None:
    torch.manual_seed(0)
    g, d = _nets(arch, size, num_classes=num_classes)
    with torch.no_grad():  # attention starts switched off (sigma = 0): switch it on
        for name, p in [*g.named_parameters(), *d.named_parameters()]:
            if name.endswith("sigma"):
                p.fill_(0.5)
    labels = None if num_classes is None else torch.tensor([0, 4, 2, 1])
    x = g(torch.randn(4, g.latent_dim), labels)
    assert x.shape == (4, 3, size, size) and x.abs().max() <= 1
    scores = d(x, labels)
    assert scores.shape == (4,)
    (scores * torch.randn(4)).sum().backward()
    for net in (g, d):
        grads = dict(net.named_parameters())
        assert all(p.grad is not None for p in grads.values())
        # At these toy widths a few 1-2 channel layers can be dead under ReLU; nearly all learn.
        zero = [name for name, p in grads.items() if not p.grad.abs().sum() > 0]
        assert len(zero) <= len(grads) // 10, zero


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_labels_flow_through_g_and_d_and_are_refused_when_unconditional(arch: str) -> None:
    torch.manual_seed(0)
    g, d = _nets(arch, 32, num_classes=K)
    g, d = g.eval(), d.eval()
    z = torch.randn(1, g.latent_dim).expand(K, -1)  # one z, every class
    if arch == "biggan":  # the shared embedding differs per class from the start
        images = g(z, torch.arange(K))
        assert (images[1:] - images[0]).abs().amax(dim=(1, 2, 3)).min() > 0
    with torch.no_grad():  # SNGAN's class gains start equal (1, 0): give them a spread
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
    images = g(z, torch.arange(K))
    assert (images[1:] - images[0]).abs().amax(dim=(1, 2, 3)).min() > 1e-3
    one = images[:1].expand(K, -1, -1, -1)
    scores = d(one, torch.arange(K))
    assert scores.unique().numel() == K  # projection: the score depends on the label
    with pytest.raises(ValueError, match="needs labels"):
        g(z)
    with pytest.raises(ValueError, match="needs labels"):
        d(one)
    g0, d0 = _nets(arch, 32)
    with pytest.raises(ValueError, match="built unconditional"):
        g0(z, torch.arange(K))
    with pytest.raises(ValueError, match="built unconditional"):
        d0(one, torch.arange(K))


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_acgan_head_returns_scores_and_logits(arch: str) -> None:
    _, d = _nets(arch, 32, num_classes=K, conditioning="acgan")
    scores, logits = d(torch.randn(4, 3, 32, 32))
    assert scores.shape == (4,) and logits.shape == (4, K)


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_packed_discriminator_takes_m_samples_and_refuses_unpacked_input(arch: str) -> None:
    _, d = _nets(arch, 32, num_classes=K, pack=2)
    assert d.pack == 2
    assert d(torch.randn(3, 6, 32, 32), torch.randint(0, K, (3, 2))).shape == (3,)
    with pytest.raises(ValueError, match="Packing callback"):
        d(torch.randn(6, 3, 32, 32), torch.randint(0, K, (6,)))


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_minibatch_std_makes_a_score_depend_on_its_group(arch: str) -> None:
    torch.manual_seed(0)
    _, d = _nets(arch, 32, minibatch_std=True, mbstd_group_size=2)
    assert any(isinstance(m, MinibatchStd) for m in d.modules())
    d.eval()
    x = torch.randn(4, 3, 32, 32)
    changed = x.clone()
    changed[2] = torch.randn(3, 32, 32)  # sample 2 shares a group with sample 0 (i % 2 groups)
    a, b = d(x), d(changed)
    assert a[0] != b[0] and a[1] == b[1]


def _weight_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_every_discriminator_layer_is_spectrally_normalised(arch: str) -> None:
    g, d = _nets(arch, 32, num_classes=K)
    layers = _weight_layers(d)
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert SpectralNorm.apply(d) == []  # the callback would not normalise them twice
    g_sn = [parametrize.is_parametrized(m, "weight") for m in _weight_layers(g)]
    if arch == "sngan":  # SNGAN normalises D only
        assert not any(g_sn)
    else:  # BigGAN: all of G but the shared class embedding (StudioGAN, BigGAN-PyTorch)
        assert sum(not sn for sn in g_sn) == 1 and not parametrize.is_parametrized(g.shared)


def test_biggan_weights_start_orthogonal() -> None:
    torch.manual_seed(0)
    g = BigGANGenerator(image_size=32, width=8, num_classes=K)
    w = g.blocks[0].c1.parametrizations.weight.original.flatten(1)  # [32, 32*9]: rows orthonormal
    torch.testing.assert_close(w @ w.T, torch.eye(w.shape[0]), atol=1e-5, rtol=0)
    assert g.attention_after == 1 and g.attention.sigma.item() == 0.0  # 16 px, as the reference


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: SNGANGenerator(image_size=96), "use one of 32, 48, 64, 128"),
        (lambda: SNGANDiscriminator(image_size=28), "use one of 32, 48, 64, 128"),
        (lambda: BigGANGenerator(image_size=48), "use one of 32, 64, 128"),
        (lambda: BigGANDiscriminator(image_size=256), "use one of 32, 64, 128"),
        (lambda: SNGANGenerator(image_size=64, width=40), "multiple of 16"),
        (lambda: BigGANGenerator(image_size=32, latent_dim=81), "pass a multiple of 4"),
        (lambda: BigGANGenerator(image_size=32, attention=12), "use one of 8, 16, 32"),
        (lambda: BigGANDiscriminator(image_size=32, attention=32), "use one of 8, 16"),
        (lambda: SNGANGenerator(upsample="cubic"), "nearest, bilinear"),
        (lambda: BigGANDiscriminator(width=3), "channels divisible by 8"),
    ],
)
def test_bad_arguments_are_refused_naming_the_fix(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_attention_can_be_moved_or_dropped() -> None:
    g = BigGANGenerator(image_size=32, width=8, attention=0)
    d = BigGANDiscriminator(image_size=32, width=8, attention=8)
    assert g.attention_after == -1 and not hasattr(g, "attention")
    assert d.attention_after == 1


# --- A short GAN fit, and a resumed fit equal to the uninterrupted one --------------------------


def _loader() -> ResumableDataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 32, 32, generator=gen) * 2 - 1
    y = torch.randint(0, K, (64,), generator=gen)
    return ResumableDataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)


def _gan(arch: str) -> GAN:
    L.seed_everything(0, verbose=False)
    if arch == "sngan":
        g = SNGANGenerator(latent_dim=8, image_size=32, width=8, num_classes=K)
        d = SNGANDiscriminator(image_size=32, width=8, num_classes=K)
    else:
        g = BigGANGenerator(latent_dim=8, image_size=32, width=2, num_classes=K, shared_dim=4)
        d = BigGANDiscriminator(image_size=32, width=4, num_classes=K)
    return GAN(g, d, loss="hinge", n_critic=2, num_classes=K, betas_g=(0.0, 0.9))


@pytest.mark.parametrize("arch", ["sngan", "biggan"])
def test_fit_then_resume_equals_the_uninterrupted_run(arch: str, tmp_path: Path) -> None:
    full = _gan(arch)
    quiet_trainer(max_steps=12).fit(full, _loader())
    assert torch.isfinite(flat_params(full)).all()

    first = _gan(arch)
    trainer = quiet_trainer(max_steps=6)
    trainer.fit(first, _loader())
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    resumed = _gan(arch)
    quiet_trainer(max_steps=12).fit(resumed, _loader(), ckpt_path=tmp_path / "half.ckpt")
    assert resumed.d_steps == full.d_steps and resumed.g_steps == full.g_steps
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # weights, BN statistics and spectral-norm u, v
