"""Each loss against values computed by hand for fixed scores."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_gan.losses import LOSSES, get_loss

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([1.0, -3.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_minimax_discriminator_is_binary_cross_entropy() -> None:
    expected = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(1.0) + softplus(-3.0)) / 2
    assert LOSSES["minimax"].d(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(1.0909624, abs=1e-6)
    sig = torch.sigmoid
    bce = -(torch.log(sig(REAL)).mean() + torch.log(1 - sig(FAKE)).mean())
    assert LOSSES["minimax"].d(REAL, FAKE).item() == pytest.approx(bce.item(), rel=1e-6)


def test_minimax_generator_saturates_and_non_saturating_does_not() -> None:
    assert LOSSES["minimax"].g(FAKE).item() == pytest.approx(-0.6809245, abs=1e-6)
    assert LOSSES["non_saturating"].g(FAKE).item() == pytest.approx(1.6809245, abs=1e-6)
    # With D confidently rejecting fakes (score -10) the saturating gradient nearly vanishes.
    confident = torch.tensor([-10.0], requires_grad=True)
    LOSSES["minimax"].g(confident).backward()
    saturating = confident.grad.abs().item()
    confident.grad = None
    LOSSES["non_saturating"].g(confident).backward()
    assert saturating < 1e-4 < confident.grad.abs().item()


def test_wasserstein() -> None:
    assert LOSSES["wasserstein"].d(REAL, FAKE).item() == pytest.approx(-2.0)
    assert LOSSES["wasserstein"].g(FAKE).item() == pytest.approx(1.0)


def test_hinge() -> None:
    # relu(1-0)=1, relu(1-2)=0 -> 0.5;  relu(1+1)=2, relu(1-3)=0 -> 1.0
    assert LOSSES["hinge"].d(REAL, FAKE).item() == pytest.approx(1.5)
    assert LOSSES["hinge"].g(FAKE).item() == pytest.approx(1.0)


def test_least_squares() -> None:
    # 0.5*mean((0-1)^2, (2-1)^2) + 0.5*mean(1, 9) = 0.5 + 2.5
    assert LOSSES["least_squares"].d(REAL, FAKE).item() == pytest.approx(3.0)
    # 0.5*mean((1-1)^2, (-3-1)^2) = 4
    assert LOSSES["least_squares"].g(FAKE).item() == pytest.approx(4.0)


def test_probabilistic_losses_are_stable_for_extreme_logits() -> None:
    extreme = torch.tensor([1e4, -1e4])
    for name in ("minimax", "non_saturating"):
        assert torch.isfinite(LOSSES[name].d(extreme, extreme))
        assert torch.isfinite(LOSSES[name].g(extreme))


def test_unknown_loss_names_the_choices() -> None:
    with pytest.raises(ValueError, match="Choose one of: hinge, least_squares, minimax"):
        get_loss("wgan")
