"""Class-conditional GANs: labels reach every network call, and one class is the unconditional run.

The label flow is decided once in the step (``G(z, y)``, ``D(x, y)``, the phase records for
callbacks), so with a single class and networks that ignore their labels a conditional run must
give exactly the unconditional run's weights, whatever remedy is attached.
"""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import (
    GAN,
    AuxiliaryClassifier,
    GeneratorEMA,
    GradientPenalty,
    InstanceNoise,
    MLPDiscriminator,
    MLPGenerator,
    R1Penalty,
    R2Penalty,
    UnrolledDiscriminator,
    WeightClipping,
)
from tests.helpers import flat_params, quiet_trainer

BATCH, LATENT = 16, 4


class LabelsIgnored(nn.Module):
    """Wraps an unconditional net as a conditional one that checks, then ignores, its labels."""

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.latent_dim = getattr(net, "latent_dim", None)
        self.calls = 0

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        assert labels.dtype == torch.int64 and labels.shape == (x.shape[0],)
        assert int(labels.max()) < self.num_classes
        self.calls += 1
        return self.net(x)


def _nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return (
        MLPGenerator(latent_dim=LATENT, out_dim=2, hidden=16, depth=2),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2),
    )


def _loader(labels: bool) -> DataLoader:
    x = torch.randn(8 * BATCH, 2, generator=torch.Generator().manual_seed(1))
    tensors = (x, torch.zeros(len(x), dtype=torch.int64)) if labels else (x,)
    return DataLoader(TensorDataset(*tensors), batch_size=BATCH)


REMEDIES = {
    "none": lambda: [],
    "gp": lambda: [GradientPenalty(weight=1.0)],
    "r1": lambda: [R1Penalty(gamma=1.0, interval=2)],
    "r2": lambda: [R2Penalty(gamma=1.0)],
    "unrolled": lambda: [UnrolledDiscriminator(steps=2)],
    "ema": lambda: [GeneratorEMA(decay=0.9)],
    "noise": lambda: [InstanceNoise(std=0.2, anneal_steps=8)],
    "clip": lambda: [WeightClipping(clip=0.05)],
}


def _fit(conditional: bool, remedy: str) -> tuple[GAN, list]:
    g, d = _nets()
    if conditional:
        g, d = LabelsIgnored(g, 1), LabelsIgnored(d, 1)
    gan = GAN(
        g,
        d,
        latent_dim=LATENT,
        n_critic=2,
        lr_g=1e-2,
        lr_d=1e-2,
        num_classes=1 if conditional else None,
    )
    callbacks = REMEDIES[remedy]()
    L.seed_everything(3, verbose=False)
    quiet_trainer(max_steps=12, callbacks=callbacks).fit(gan, _loader(conditional))
    return gan, callbacks


@pytest.mark.parametrize("remedy", list(REMEDIES))
def test_one_class_conditional_run_equals_the_unconditional_run(remedy: str) -> None:
    conditional, callbacks = _fit(True, remedy)
    unconditional, _ = _fit(False, remedy)
    assert conditional.generator.calls > 0 and conditional.discriminator.calls > 0
    assert conditional.d_steps == unconditional.d_steps == 8
    torch.testing.assert_close(
        flat_params(conditional), flat_params(unconditional), rtol=0, atol=1e-6
    )
    if remedy == "ema":
        ema_c = flat_params(conditional.sampling_generator())
        ema_u = flat_params(unconditional.sampling_generator())
        torch.testing.assert_close(ema_c, ema_u, rtol=0, atol=1e-6)


class Recording(nn.Module):
    """A conditional net whose output depends on the label; records every label batch seen."""

    def __init__(self, net: nn.Module, num_classes: int, out: int) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.latent_dim = getattr(net, "latent_dim", None)
        self.embed = nn.Embedding(num_classes, out)
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        self.seen.append(labels.detach().clone())
        return self.net(x) + self.embed(labels).reshape(self.net(x).shape)


def test_every_network_call_gets_the_batch_labels() -> None:
    g, d = _nets()
    g, d = Recording(g, 4, 2), Recording(d, 4, 1)
    gan = GAN(g, d, latent_dim=LATENT, num_classes=4)
    x = torch.randn(4 * BATCH, 2)
    y = torch.arange(4 * BATCH) % 4
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH)
    callbacks = [R1Penalty(gamma=1.0), UnrolledDiscriminator(steps=1)]
    quiet_trainer(max_steps=2, callbacks=callbacks).fit(gan, loader)
    expected = y[:BATCH]
    # D: real, fake, R1 on real; unrolled: real + fake; G phase: critic on fake.
    assert len(d.seen) >= 5 and all(torch.equal(s, expected) for s in d.seen)
    assert len(g.seen) >= 2 and all(torch.equal(s, expected) for s in g.seen)


def test_sample_draws_balanced_labels_or_uses_the_given_ones() -> None:
    g, d = _nets()
    g, d = Recording(g, 3, 2), Recording(d, 3, 1)
    gan = GAN(g, d, latent_dim=LATENT, num_classes=3)
    assert gan.sample(7).shape == (7, 2)
    assert g.seen[-1].tolist() == [0, 1, 2, 0, 1, 2, 0]
    gan.sample(2, labels=torch.tensor([2, 2]))
    assert g.seen[-1].tolist() == [2, 2]
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        gan.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="one each"):
        gan.sample(3, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="1-D integer tensor"):
        gan.sample(2, labels=torch.tensor([0.0, 1.0]))
    plain = GAN(*_nets(), latent_dim=LATENT)
    assert plain.sample_labels(4) is None
    with pytest.raises(ValueError, match="unconditional.*num_classes=K"):
        plain.sample(2, labels=torch.tensor([0, 1]))


def test_conditional_gan_without_labels_in_the_batch_names_the_fix() -> None:
    g, d = _nets()
    gan = GAN(LabelsIgnored(g, 2), LabelsIgnored(d, 2), latent_dim=LATENT, num_classes=2)
    with pytest.raises(ValueError, match="needs \\(x, y\\) batches"):
        quiet_trainer(max_steps=1).fit(gan, _loader(labels=False))


def test_labels_outside_num_classes_fail_before_any_update() -> None:
    g, d = _nets()
    gan = GAN(LabelsIgnored(g, 2), LabelsIgnored(d, 2), latent_dim=LATENT, num_classes=2)
    before = flat_params(gan)
    x = torch.randn(BATCH, 2)
    loader = DataLoader(TensorDataset(x, torch.full((BATCH,), 5)), batch_size=BATCH)
    with pytest.raises(ValueError, match="set num_classes"):
        quiet_trainer(max_steps=1).fit(gan, loader)
    assert torch.equal(flat_params(gan), before)


class AuxD(nn.Module):
    """An ACGAN discriminator: (score, class logits) from one trunk."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2))
        self.score = nn.Linear(16, 1)
        self.classes = nn.Linear(16, num_classes)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.score(h).squeeze(-1), self.classes(h)


def test_acgan_step_equals_a_hand_written_one() -> None:
    torch.manual_seed(0)
    g = Recording(MLPGenerator(latent_dim=LATENT, out_dim=2, hidden=16, depth=2), 3, 2)
    gan = GAN(g, AuxD(3), latent_dim=LATENT, num_classes=3, lr_g=1e-2, lr_d=1e-2)
    reference = copy.deepcopy(gan)
    x, y = torch.randn(BATCH, 2), torch.arange(BATCH) % 3
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH)
    L.seed_everything(1, verbose=False)
    quiet_trainer(max_steps=2, callbacks=[AuxiliaryClassifier(0.5)]).fit(gan, loader)

    torch.manual_seed(1)
    x, y = next(iter(loader))  # a DataLoader iterator draws its base seed from the global RNG
    G, D = reference.generator, reference.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999))
    with torch.no_grad():
        fake = G(torch.randn(BATCH, LATENT), y)
    (sr, lr_), (sf, lf) = D(x, y), D(fake, y)
    loss_d = F.softplus(-sr).mean() + F.softplus(sf).mean()
    loss_d = loss_d + 0.5 * (F.cross_entropy(lr_, y) + F.cross_entropy(lf, y))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    sf, lf = D(G(torch.randn(BATCH, LATENT), y), y)
    loss_g = F.softplus(-sf).mean() + 0.5 * F.cross_entropy(lf, y)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    torch.testing.assert_close(flat_params(gan), flat_params(reference), rtol=0, atol=1e-6)


def test_acgan_needs_a_discriminator_that_returns_logits() -> None:
    g, d = _nets()
    gan = GAN(LabelsIgnored(g, 2), LabelsIgnored(d, 2), latent_dim=LATENT, num_classes=2)
    loader = DataLoader(
        TensorDataset(torch.randn(BATCH, 2), torch.zeros(BATCH, dtype=torch.long)), batch_size=BATCH
    )
    with pytest.raises(ValueError, match="conditioning='acgan'"):
        quiet_trainer(max_steps=1, callbacks=[AuxiliaryClassifier()]).fit(gan, loader)
    with pytest.raises(ValueError, match="num_classes=K"):  # an unconditional GAN
        quiet_trainer(max_steps=1, callbacks=[AuxiliaryClassifier()]).fit(GAN(g, d), loader)


def test_generator_and_gan_disagreeing_on_classes_fail_at_construction() -> None:
    g, d = _nets()
    with pytest.raises(ValueError, match="same K"):
        GAN(LabelsIgnored(g, 3), d, num_classes=2)
    with pytest.raises(ValueError, match=r"pass GAN\(num_classes=3\)"):
        GAN(LabelsIgnored(g, 3), d)


def _ring_label_accuracy(gan: GAN, data) -> list[float]:
    """Share of each label's samples that lie within 3 std of that label's own mode."""
    from lightning_gan.metrics.mode_coverage import MixtureCoverage

    labels = torch.arange(2400) % 8
    torch.manual_seed(0)
    nearest, hq = MixtureCoverage(data.modes, data.std).assign(gan.sample(2400, labels=labels))
    return [float(((nearest == k) & hq)[labels == k].float().mean()) for k in range(8)]


def test_conditional_ring_puts_every_label_on_its_mode() -> None:
    from lightning_gan import GaussianMixture

    L.seed_everything(0, verbose=False)
    data = GaussianMixture("ring", n_samples=20000, batch_size=128, seed=0)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=64, depth=2, num_classes=8),
        MLPDiscriminator(in_dim=2, hidden=64, depth=2, num_classes=8),
        num_classes=8,
        lr_g=1e-3,
        lr_d=1e-3,
        betas_g=(0.5, 0.99),
        betas_d=(0.5, 0.99),
    )
    quiet_trainer(max_steps=3000, callbacks=[GeneratorEMA(decay=0.99)]).fit(gan, data)
    accuracy = _ring_label_accuracy(gan, data)
    assert min(accuracy) >= 0.9, accuracy


@pytest.mark.slow
def test_conditional_dcgan_draws_the_asked_digit() -> None:
    from lightning_gan import DCGANDiscriminator, DCGANGenerator, Digits
    from lightning_gan.metrics.digit_classifier import load_digit_net

    L.seed_everything(0, verbose=False)
    gan = GAN(
        DCGANGenerator(latent_dim=32, channels=1, image_size=8, width=32, num_classes=10),
        DCGANDiscriminator(channels=1, image_size=8, width=32, norm="none", num_classes=10),
        num_classes=10,
    )
    quiet_trainer(max_steps=3000).fit(gan, Digits(batch_size=64))
    labels = torch.arange(1000) % 10
    torch.manual_seed(0)
    with torch.no_grad():
        read = load_digit_net("digits")(gan.sample(1000, labels=labels)).argmax(1)
    assert float((read == labels).float().mean()) >= 0.9  # 0.938 when written


def test_conditional_configs_train_from_the_cli(tmp_path, monkeypatch) -> None:
    import sys
    from pathlib import Path

    from lightning_gan.cli import build_cli

    monkeypatch.setattr(sys, "argv", ["lightning-gan"])
    configs = Path(__file__).resolve().parents[1] / "examples" / "configs"
    for name in ("ring_conditional", "digits_conditional", "mnist5k_conditional"):
        cli = build_cli(
            [
                "fit",
                f"--config={configs / f'{name}.yaml'}",
                "--trainer.max_steps=4",
                f"--trainer.default_root_dir={tmp_path / name}",
                "--trainer.enable_progress_bar=false",
                "--trainer.logger=false",
            ]
        )
        assert cli.model.num_classes is not None and cli.model.g_steps == 2, name
