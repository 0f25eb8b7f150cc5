"""Mode coverage: sanity checks against samples whose coverage is known (torch-fidelity #58)."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from scipy.stats import entropy

from lightning_gan.callbacks.coverage import ModeCoverageCallback
from lightning_gan.data import GaussianMixture, StackedMNIST
from lightning_gan.metrics.digit_classifier import (
    accuracy,
    held_out_split,
    load_digit_net,
    weights_checkpoint,
)
from lightning_gan.metrics.mode_coverage import (
    MixtureCoverage,
    StackedMNISTCoverage,
    reverse_kl,
)
from lightning_gan.metrics.sampling import seeded_rng
from tests.conditional_stub import ConditionalStub, fit_stub
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan

pytestmark = pytest.mark.filterwarnings("ignore:ModeCoverageCallback. n_samples=.* is below")

# P(|x - mu| < 3 std) for a 2-D isotropic Gaussian: chi-square with 2 dof.
HQ_2D = 1 - math.exp(-4.5)


def _mixture(layout: str) -> tuple[GaussianMixture, MixtureCoverage]:
    dm = GaussianMixture(layout)
    return dm, MixtureCoverage.from_datamodule(dm)


@pytest.mark.parametrize("layout,n_modes", [("ring", 8), ("grid", 25)])
def test_real_mixture_samples_cover_every_mode_with_hq_near_one(layout: str, n_modes: int) -> None:
    dm, metric = _mixture(layout)
    x, _ = dm.sample(2500, torch.Generator().manual_seed(0))
    metric.update(x)
    out = metric.compute()
    assert int(out["modes"]) == n_modes
    assert abs(float(out["hq_fraction"]) - HQ_2D) < 0.01  # 0.9889, binomial sd 0.002
    assert 0 <= float(out["kl"]) < 0.01
    # the KL is KL(histogram of HQ samples || uniform), checked against scipy
    d, nearest = torch.cdist(x, dm.modes).min(dim=1)
    counts = torch.bincount(nearest[d < 3 * dm.std], minlength=n_modes).double()
    assert float(out["kl"]) == pytest.approx(entropy(counts, torch.ones(n_modes)), abs=1e-12)


def test_single_mode_gives_one_mode_and_kl_log8() -> None:
    dm, metric = _mixture("ring")
    x = dm.modes[3] + dm.std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(1))
    metric.update(x)
    out = metric.compute()
    assert int(out["modes"]) == 1
    assert float(out["kl"]) == pytest.approx(math.log(8), abs=1e-12)


def test_half_the_modes_equally_gives_kl_log2() -> None:
    dm, metric = _mixture("ring")
    metric.update(dm.modes[[0, 2, 4, 6]].repeat(100, 1))
    out = metric.compute()
    assert int(out["modes"]) == 4 and float(out["hq_fraction"]) == 1.0
    assert float(out["kl"]) == pytest.approx(math.log(2), abs=1e-12)


def test_samples_far_from_every_mode_are_never_high_quality() -> None:
    dm, metric = _mixture("ring")
    metric.update(torch.zeros(2500, 2) + 0.001 * torch.randn(2500, 2))  # centre: 100 std away
    out = metric.compute()
    assert float(out["hq_fraction"]) == 0.0 and int(out["modes"]) == 0
    assert math.isnan(float(out["kl"]))


def test_hq_threshold_is_three_std_of_the_nearest_mode() -> None:
    dm, metric = _mixture("grid")
    just_in = dm.modes[0] + torch.tensor([2.99 * dm.std, 0.0])
    just_out = dm.modes[0] + torch.tensor([0.0, 3.01 * dm.std])
    metric.update(torch.stack([just_in, just_out]))
    out = metric.compute()
    assert float(out["hq_fraction"]) == 0.5 and int(out["modes"]) == 1


def test_reverse_kl_matches_scipy_and_ignores_empty_bins() -> None:
    counts = torch.tensor([5, 0, 3, 2])
    weights = torch.tensor([0.1, 0.2, 0.3, 0.4])
    assert float(reverse_kl(counts, weights)) == pytest.approx(entropy(counts, weights), abs=1e-12)


def test_ddp_style_merge_equals_one_instance_on_all_samples() -> None:
    dm, whole = _mixture("grid")
    x = dm.sample(2500, torch.Generator().manual_seed(2))[0][:1700]  # a partial, uneven cover
    whole.update(x)
    a, b = MixtureCoverage.from_datamodule(dm), MixtureCoverage.from_datamodule(dm)
    a.update(x[:900])
    b.update(x[900:])
    summed = a.counts + b.counts, a.total + b.total
    a.merge_state(b)
    assert torch.equal(a.counts, whole.counts) and torch.equal(summed[0], whole.counts)
    assert int(summed[1]) == int(whole.total) == 1700
    for key, value in whole.compute().items():
        assert float(a.compute()[key]) == pytest.approx(float(value), abs=1e-12), key


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="std"):
        MixtureCoverage(torch.zeros(3, 2), std=0.0)
    with pytest.raises(ValueError, match="every_n_steps"):
        ModeCoverageCallback(every_n_steps=0)
    with pytest.raises(ValueError, match="ModeCoverage"):
        ModeCoverageCallback(metric="ring")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- Stacked MNIST
def test_digit_classifier_held_out_accuracy_at_least_97_percent() -> None:
    _, _, test_x, test_y = held_out_split("mnist")
    assert len(test_x) == 1000 and weights_checkpoint("mnist")["n_train"] == 4000
    acc = accuracy(load_digit_net("mnist"), test_x, test_y)
    assert acc >= 0.97
    assert acc == pytest.approx(weights_checkpoint("mnist")["test_accuracy"], abs=1e-9)


def _stacked(images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return images[index].squeeze(2)  # [N, 3, 1, 28, 28] -> [N, 3, 28, 28]


def test_real_stacked_mnist_with_every_mode_twice_covers_at_least_990() -> None:
    """2000 real Stacked MNIST images, each of the 1000 digit triples twice, built from held-out
    digits the classifier never saw. (Random draws need ~6000 images to contain 990 modes; this
    is the same check at a third of the cost. The protocol's 26,000 draws: the slow test.)"""
    _, _, test_x, test_y = held_out_split("mnist")
    g = torch.Generator().manual_seed(3)
    by_class = [(test_y == c).nonzero().flatten() for c in range(10)]
    modes = torch.arange(1000).repeat(2)
    digits = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    index = torch.stack(
        [by_class[d][torch.randint(100, (), generator=g)] for d in digits.flatten().tolist()]
    ).view(-1, 3)
    metric = StackedMNISTCoverage()
    metric.update(_stacked(test_x, index))
    out = metric.compute()
    assert int(out["modes"]) >= 990
    assert float(out["hq_fraction"]) == 1.0
    assert 0 <= float(out["kl"]) < 0.03  # the labels' histogram is exactly uniform: KL 0


def test_one_stacked_image_repeated_is_one_mode_with_kl_log1000() -> None:
    image = StackedMNIST(n_samples=1, pad_to_32=True).dataset[0][0]  # padded: cropped back
    metric = StackedMNISTCoverage()
    metric.update(image.expand(50, -1, -1, -1))
    out = metric.compute()
    assert int(out["modes"]) == 1
    assert float(out["kl"]) == pytest.approx(math.log(1000), abs=1e-9)


def test_min_confidence_excludes_ambiguous_samples() -> None:
    data = StackedMNIST(n_samples=150, seed=4).dataset
    images = torch.stack([data[i][0] for i in range(len(data))])
    blurred = (images + images.roll(1, dims=0)) / 2  # two digits overlaid: often ambiguous
    fractions = []
    for x in (images, blurred):
        strict = StackedMNISTCoverage(min_confidence=0.99)
        strict.update(x)
        fractions.append(float(strict.compute()["hq_fraction"]))
    # Per set since issue 21: the retrained MNIST net (soft targets for degraded digits) is less
    # over-confident, so fewer clean triples clear 0.99 than before (0.59 of them); the claim is
    # that the overlaid, ambiguous ones are excluded far more often.
    clean, overlaid = fractions
    assert 0.4 < clean < 1.0 and overlaid < 0.1


@pytest.mark.slow
def test_protocol_26000_real_stacked_mnist_samples_cover_1000_modes() -> None:
    data = StackedMNIST(n_samples=26_000, seed=5).dataset
    metric = StackedMNISTCoverage()
    for start in range(0, 26_000, 2000):
        metric.update(torch.stack([data[i][0] for i in range(start, start + 2000)]))
    out = metric.compute()
    assert int(out["modes"]) >= 998 and float(out["kl"]) < 0.05


# ------------------------------------------------------------------------------ callback
def _fit(max_steps: int, callbacks: list, **kwargs) -> tuple:
    """A few steps of the tiny ring GAN; wide modes (std 0.3) so a young G has HQ samples."""
    torch.manual_seed(0)
    gan, dm = tiny_gan(), ring_data(std=0.3)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=callbacks, **kwargs)
    trainer.fit(gan, datamodule=dm)
    return gan, trainer


def test_callback_logs_coverage_every_n_g_steps_without_touching_training_rng() -> None:
    cb = ModeCoverageCallback(every_n_steps=10, n_samples=500)
    gan, trainer = _fit(60, [cb])  # 60 optimizer steps = 30 G steps
    assert [h["step"] for h in cb.history] == [10, 20, 30]
    last = cb.history[-1]
    assert {"coverage/modes", "coverage/hq_fraction", "coverage/kl"} <= set(
        trainer.callback_metrics
    )
    assert float(trainer.callback_metrics["coverage/modes"]) == last["coverage/modes"]
    assert 0 <= last["coverage/modes"] <= 8 and 0 <= last["coverage/hq_fraction"] <= 1
    # direct recomputation with the same seed gives the logged numbers
    again = cb.evaluate(trainer, gan)
    for key, value in again.items():  # NaN == NaN here: KL is NaN while no sample is HQ
        assert value == pytest.approx(last[key], nan_ok=True, abs=0), key
    # evaluation used a forked RNG: training is identical to a run without the callback
    plain, _ = _fit(60, [])
    assert torch.equal(flat_params(gan.generator), flat_params(plain.generator))


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_callback_state_survives_checkpoint_resume(tmp_path) -> None:
    full = ModeCoverageCallback(every_n_steps=5, n_samples=300)
    _fit(40, [full])
    first = ModeCoverageCallback(every_n_steps=5, n_samples=300)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    _fit(20, [first, ckpt], enable_checkpointing=True)
    assert first.history == full.history[:2]  # same run so far
    resumed = ModeCoverageCallback(every_n_steps=5, n_samples=300)
    torch.manual_seed(0)
    again_ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = quiet_trainer(
        max_steps=40, callbacks=[resumed, again_ckpt], enable_checkpointing=True
    )
    gan = tiny_gan()
    trainer.fit(gan, datamodule=ring_data(std=0.3), ckpt_path=tmp_path / "last.ckpt")
    # history restored from the checkpoint, then evaluated once per due step, none repeated
    assert [h["step"] for h in resumed.history] == [5, 10, 15, 20]
    assert resumed.history[:2] == first.history
    assert resumed.state_dict() == {"last_step": 20, "history": resumed.history}
    # (Lightning's mid-epoch resume reshuffles data, so G differs from the uninterrupted run;
    # the logged numbers are still exactly those of the resumed G.)
    again = resumed.evaluate(trainer, gan)
    assert again == {k: v for k, v in resumed.history[-1].items() if k != "step"}


# ------------------------------------------------------------------- conditional generators
def _ring_stub(target: torch.Tensor) -> ConditionalStub:
    """Label c gives samples at mode ``target[c]`` of the ring (spread 0.001: all high quality)."""
    modes = GaussianMixture("ring").modes

    def sampler(labels: torch.Tensor) -> torch.Tensor:
        return modes[target[labels]] + 0.001 * torch.randn(len(labels), 2)

    return ConditionalStub(sampler, num_classes=8)


@pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`")
def test_label_accuracy_counts_each_label_landing_on_its_own_mode() -> None:
    """Labels 0-6 land on their own mode, label 7 on mode 0: every mode but 7 is covered, and
    the label accuracy is 7/8 on average, 0 for the worst label."""
    target = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0])
    cb = ModeCoverageCallback(every_n_steps=1, n_samples=2500)
    fit_stub(_ring_stub(target), ring_data(), [cb], batches=1)
    out = cb.history[-1]
    assert out["coverage/modes"] == 7
    assert out["coverage/label_accuracy"] == 7 / 8
    assert out["coverage/label_accuracy_min"] == 0.0
    perfect = ModeCoverageCallback(every_n_steps=1, n_samples=2500)
    fit_stub(_ring_stub(torch.arange(8)), ring_data(), [perfect], batches=1)
    assert perfect.history[-1]["coverage/label_accuracy_min"] == 1.0


def test_prepare_makes_evaluate_usable_outside_fit_with_the_same_numbers() -> None:
    """What a validate/test runner does (CheckpointEvaluation): prepare, then evaluate."""
    from types import SimpleNamespace

    target = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0])
    runner = ModeCoverageCallback(n_samples=2500)
    runner.prepare(_ring_stub(target), datamodule=ring_data())
    values = runner.evaluate(SimpleNamespace(world_size=1, global_rank=0), _ring_stub(target))
    assert values["coverage/modes"] == 7 and values["coverage/label_accuracy"] == 7 / 8
    with pytest.raises(ValueError, match="needs `metric=`"):
        ModeCoverageCallback().prepare(_ring_stub(target))


@pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`")
def test_label_accuracy_is_skipped_with_a_warning_when_labels_are_not_modes() -> None:
    stub = ConditionalStub(lambda labels: torch.zeros(len(labels), 2), num_classes=3)
    cb = ModeCoverageCallback(every_n_steps=1)
    with pytest.warns(UserWarning, match=r"num_classes=3 but the data has 8 modes"):
        fit_stub(stub, ring_data(), [cb], batches=1)
    assert "coverage/label_accuracy" not in cb.history[-1]


def test_label_accuracy_with_the_conditional_gan_on_a_ring() -> None:
    from lightning_gan import GAN, MLPDiscriminator, MLPGenerator

    torch.manual_seed(0)
    gan = GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=32, depth=2, num_classes=8),
        MLPDiscriminator(in_dim=2, hidden=32, depth=2, num_classes=8),
        num_classes=8,
    )
    cb = ModeCoverageCallback(every_n_steps=5)
    trainer = quiet_trainer(max_steps=10, callbacks=[cb])
    trainer.fit(gan, datamodule=ring_data(std=0.3))
    last = cb.history[-1]
    assert 0 <= last["coverage/label_accuracy_min"] <= last["coverage/label_accuracy"] <= 1
    logged = float(trainer.callback_metrics["coverage/label_accuracy"])
    assert logged == pytest.approx(last["coverage/label_accuracy"])
    # recomputed by hand: the same latents and balanced labels, nearest mode within 3 std
    with seeded_rng(0, gan.device):
        labels = gan.sample_labels(2500)
        chunks = labels.split(1000)  # the callback's batches: 1000, 1000, 500
        x = torch.cat([gan.sample(len(chunk), labels=chunk) for chunk in chunks])
    modes = GaussianMixture("ring", std=0.3).modes
    d, nearest = torch.cdist(x, modes).min(dim=1)
    hit = (nearest == labels) & (d < 0.9)
    per_label = torch.stack([hit[labels == c].double().mean() for c in range(8)])
    assert last["coverage/label_accuracy"] == pytest.approx(float(per_label.mean()), abs=1e-12)


def test_fewer_samples_than_the_protocol_warn_with_its_count() -> None:
    cb = ModeCoverageCallback(every_n_steps=100, n_samples=500)
    with pytest.warns(UserWarning, match=r"n_samples=500 is below the protocol's 2,500 samples"):
        _fit(2, [cb])
