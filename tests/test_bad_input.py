"""Wrong inputs fail before training with a message that names the fix."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GAN, MLPDiscriminator, MLPGenerator
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_critic": 0}, "n_critic must be an integer >= 1"),
        ({"n_critic": 2.5}, "n_critic must be an integer >= 1"),
        ({"loss": "wgan"}, "Unknown GAN loss 'wgan'. Choose one of"),
        ({"lr_g": 0.0}, "lr_g must be a positive learning rate"),
        ({"lr_d": -1e-4}, "lr_d must be a positive learning rate"),
        ({"betas_d": (0.5, 1.0)}, r"betas_d must be two Adam betas in \[0, 1\)"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_gan(**kwargs)


class WideDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _check_fails_before_any_update(gan: GAN, data, error: type[Exception], match: str) -> None:
    before = flat_params(gan)
    with pytest.raises(error, match=match):
        quiet_trainer(max_steps=4).fit(gan, data)
    assert gan.d_steps == 0 and torch.equal(flat_params(gan), before)


def test_discriminator_with_several_outputs() -> None:
    gan = GAN(MLPGenerator(latent_dim=2, out_dim=2, hidden=8), WideDiscriminator())
    _check_fails_before_any_update(
        gan, ring_data(), ValueError, "one score per sample.*single unit"
    )


def test_generator_output_that_does_not_match_the_data() -> None:
    gan = GAN(MLPGenerator(latent_dim=2, out_dim=3, hidden=8), MLPDiscriminator(in_dim=2))
    _check_fails_before_any_update(
        gan, ring_data(), ValueError, r"shape \(3,\) but the data has shape \(2,\).*out_dim"
    )


def test_integer_data() -> None:
    loader = DataLoader(TensorDataset(torch.randint(0, 9, (64, 2))), batch_size=16)
    _check_fails_before_any_update(tiny_gan(), loader, TypeError, "floating-point.*x.float")


def test_missing_latent_size() -> None:
    gan = GAN(nn.Linear(4, 2), MLPDiscriminator(in_dim=2))
    with pytest.raises(ValueError, match="pass `latent_dim=`"):
        gan.sample(2)


def test_plain_ddp_is_refused_with_the_strategy_to_use(monkeypatch) -> None:
    from lightning_gan.step.input_checks import check_strategy as _check_strategy

    class FakeDDP(nn.parallel.DistributedDataParallel):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self.find_unused_parameters = False

    class Strategy:
        model = FakeDDP()

    with pytest.raises(ValueError, match='strategy="gan_ddp"'):
        _check_strategy(Strategy())


BAD_CONSTRUCTIONS = [
    ("callbacks.InstanceNoise", {"std": -1.0}, "std must be a finite number >= 0"),
    ("callbacks.InstanceNoise", {"schedule": "cosine"}, "Unknown noise schedule 'cosine'"),
    ("callbacks.InstanceNoise", {"anneal_steps": 0}, "anneal_steps"),
    ("callbacks.UnrolledDiscriminator", {"steps": -1}, "steps must be an integer >= 0"),
    ("callbacks.UnrolledDiscriminator", {"lr": 0.0}, "lr must be a positive step size"),
    ("callbacks.GradientPenalty", {"weight": -10.0}, "must be >= 0"),
    ("callbacks.R1Penalty", {"gamma": -1.0}, "must be >= 0"),
    ("callbacks.R1Penalty", {"interval": 0}, "interval must be an integer >= 1"),
    ("callbacks.WeightClipping", {"clip": 0.0}, "clip must be > 0"),
    ("callbacks.WeightPenalty", {"weight": -1e-4}, "weight must be >= 0"),
    ("callbacks.GeneratorEMA", {"decay": 1.5}, r"decay must be in \(0, 1\)"),
    ("callbacks.GeneratorEMA", {"decay": 0.9, "half_life_images": 100}, "not both"),
    ("callbacks.GANHealth", {"on_failure": "explode"}, "on_failure must be one of"),
    ("callbacks.ModeCoverageCallback", {"n_samples": 0}, "n_samples must be an integer >= 1"),
    ("callbacks.FIDKIDCallback", {"features": "resnet"}, "features='resnet' is unknown"),
    ("data.GaussianMixture", {"layout": "spiral"}, "spiral"),
    ("data.GaussianMixture", {"layout": "grid", "n_modes": 24}, "square"),
    ("nets.DCGANGenerator", {"image_size": 64}, "8, 28, 32"),
]


@pytest.mark.parametrize(("target", "kwargs", "match"), BAD_CONSTRUCTIONS)
def test_bad_component_parameters_fail_at_construction(target: str, kwargs, match: str) -> None:
    package, name = target.split(".")
    cls = getattr(importlib.import_module(f"lightning_gan.{package}"), name)
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_missing_inception_weights_say_where_to_put_them(tmp_path, monkeypatch) -> None:
    from lightning_gan.callbacks import FIDKIDCallback

    monkeypatch.delenv("LIGHTNING_GAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LIGHTNING_GAN_INCEPTION_WEIGHTS"):
        FIDKIDCallback(features="inception", download=False)


def test_fid_on_images_outside_data_range_fails_before_training() -> None:
    from lightning_gan.callbacks import FIDKIDCallback
    from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator

    images = torch.rand(64, 1, 8, 8) * 255  # 0..255 images, callback told (-1, 1)
    loader = DataLoader(TensorDataset(images), batch_size=16)
    gan = GAN(
        DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8),
        DCGANDiscriminator(channels=1, image_size=8, width=8),
    )
    fid = FIDKIDCallback(features="digits", every_n_steps=1, n_samples=32, batch_size=16)
    before = flat_params(gan)
    with pytest.raises(ValueError, match=r"set `data_range` to the range of your images"):
        quiet_trainer(max_steps=2, callbacks=[fid]).fit(gan, loader)
    assert gan.d_steps == 0 and torch.equal(flat_params(gan), before)


def test_checkpoint_from_another_model_names_the_difference(tmp_path) -> None:
    small = tiny_gan(hidden=16)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(small, ring_data())
    trainer.save_checkpoint(tmp_path / "small.ckpt")
    bigger = tiny_gan(hidden=32)
    with pytest.raises(ValueError, match=r"different model \(shape differs: discriminator.net"):
        quiet_trainer(max_steps=4).fit(bigger, ring_data(), ckpt_path=tmp_path / "small.ckpt")
    assert torch.load(tmp_path / "small.ckpt", weights_only=True)["global_step"] == 2
