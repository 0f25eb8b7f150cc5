"""Wrong inputs fail before training with a message that names the fix."""

from __future__ import annotations

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


def _fails_before_any_update(gan: GAN, data, error: type[Exception], match: str) -> None:
    before = flat_params(gan)
    with pytest.raises(error, match=match):
        quiet_trainer(max_steps=4).fit(gan, data)
    assert gan.d_steps == 0 and torch.equal(flat_params(gan), before)


def test_discriminator_with_several_outputs() -> None:
    gan = GAN(MLPGenerator(latent_dim=2, out_dim=2, hidden=8), WideDiscriminator())
    _fails_before_any_update(gan, ring_data(), ValueError, "one score per sample.*single unit")


def test_generator_output_that_does_not_match_the_data() -> None:
    gan = GAN(MLPGenerator(latent_dim=2, out_dim=3, hidden=8), MLPDiscriminator(in_dim=2))
    _fails_before_any_update(
        gan, ring_data(), ValueError, r"shape \(3,\) but the data has shape \(2,\).*out_dim"
    )


def test_integer_data() -> None:
    loader = DataLoader(TensorDataset(torch.randint(0, 9, (64, 2))), batch_size=16)
    _fails_before_any_update(tiny_gan(), loader, TypeError, "floating-point.*x.float")


def test_missing_latent_size() -> None:
    gan = GAN(nn.Linear(4, 2), MLPDiscriminator(in_dim=2))
    with pytest.raises(ValueError, match="pass `latent_dim=`"):
        gan.sample(2)


def test_plain_ddp_is_refused_with_the_strategy_to_use(monkeypatch) -> None:
    from lightning_gan.module import _check_strategy

    class FakeDDP(nn.parallel.DistributedDataParallel):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self.find_unused_parameters = False

    class Strategy:
        model = FakeDDP()

    with pytest.raises(ValueError, match='strategy="gan_ddp"'):
        _check_strategy(Strategy())
