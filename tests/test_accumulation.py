"""Gradient accumulation: k micro-batches per optimizer step equal one k-times larger batch."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GAN, GradientPenalty, MLPDiscriminator, MLPGenerator, R1Penalty
from tests.helpers import flat_params, quiet_trainer

LATENT, MICRO = 4, 16


def _gan(accumulate: int, n_critic: int) -> GAN:
    torch.manual_seed(0)
    return GAN(
        MLPGenerator(latent_dim=LATENT, out_dim=2, hidden=16, depth=2),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2),
        n_critic=n_critic,
        lr_g=1e-2,
        lr_d=1e-2,
        accumulate=accumulate,
    )


def _fit(accumulate: int, k: int, n_critic: int, optimizer_steps: int, callbacks=()) -> GAN:
    gan = _gan(accumulate, n_critic)
    x = torch.randn(12 * k * MICRO, 2, generator=torch.Generator().manual_seed(1))
    loader = DataLoader(TensorDataset(x), batch_size=MICRO * k // accumulate)
    L.seed_everything(2, verbose=False)
    quiet_trainer(max_steps=optimizer_steps, callbacks=list(callbacks)).fit(gan, loader)
    return gan


@pytest.mark.parametrize(("k", "n_critic"), [(2, 1), (3, 2)])
def test_accumulated_steps_equal_one_larger_batch(k: int, n_critic: int) -> None:
    steps = 6 + 6 // n_critic
    micro = _fit(accumulate=k, k=k, n_critic=n_critic, optimizer_steps=steps)
    big = _fit(accumulate=1, k=k, n_critic=n_critic, optimizer_steps=steps)
    assert (micro.d_steps, micro.g_steps) == (big.d_steps, big.g_steps) == (6, 6 // n_critic)
    torch.testing.assert_close(flat_params(micro), flat_params(big), rtol=0, atol=1e-6)


def test_penalty_intervals_count_optimizer_steps_under_accumulation() -> None:
    micro = _fit(2, 2, 1, 12, callbacks=[R1Penalty(gamma=1.0, interval=3)])
    big = _fit(1, 2, 1, 12, callbacks=[R1Penalty(gamma=1.0, interval=3)])
    assert micro.d_steps == big.d_steps == 6
    torch.testing.assert_close(flat_params(micro), flat_params(big), rtol=0, atol=1e-6)


def test_random_penalty_inputs_still_train_under_accumulation() -> None:
    # WGAN-GP draws its interpolation weights per micro-batch: not bitwise a big batch, but the
    # step counts and a finite, changed model are what accumulation must keep.
    gan = _fit(2, 2, 1, 8, callbacks=[GradientPenalty(weight=1.0)])
    assert (gan.d_steps, gan.g_steps) == (4, 4)
    assert torch.isfinite(flat_params(gan)).all()


def test_bad_accumulate_is_refused_at_construction() -> None:
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="micro-batches per optimizer step"):
            GAN(MLPGenerator(), MLPDiscriminator(), accumulate=bad)
