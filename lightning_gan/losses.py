"""GAN objectives as pure functions of discriminator scores.

Every loss takes raw discriminator outputs (logits for the probabilistic losses, critic values
for the Wasserstein and hinge losses) so that numerically stable forms (``softplus``) can be used
and so that penalties, noise and unrolling can be added around them without touching them.
Each objective is a pair: ``d(real_scores, fake_scores)`` minimised by the discriminator and
``g(fake_scores)`` minimised by the generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class GANLoss:
    """A named pair of discriminator and generator objectives."""

    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]


def minimax_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(score) (Goodfellow et al. 2014)."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def minimax_g(fake_scores: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))]: the saturating objective; its gradient vanishes when D wins."""
    return -F.softplus(fake_scores).mean()


def non_saturating_g(fake_scores: Tensor) -> Tensor:
    """-E[log D(G(z))]: same fixed point as minimax, strong gradients early in training."""
    return F.softplus(-fake_scores).mean()


def wasserstein_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[f(G(z))] - E[f(x)]: the critic's side of the Kantorovich-Rubinstein dual (WGAN)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g(fake_scores: Tensor) -> Tensor:
    """-E[f(G(z))]; also the generator side of the hinge loss (Miyato et al. 2018)."""
    return -fake_scores.mean()


def hinge_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[relu(1 - f(x))] + E[relu(1 + f(G(z)))]: the SN-GAN/BigGAN discriminator loss."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def least_squares_d(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """LSGAN with targets a=0, b=1: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] (Mao et al. 2017)."""
    return 0.5 * (real_scores - 1.0).pow(2).mean() + 0.5 * fake_scores.pow(2).mean()


def least_squares_g(fake_scores: Tensor) -> Tensor:
    """LSGAN generator with target c=1: 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * (fake_scores - 1.0).pow(2).mean()


LOSSES: dict[str, GANLoss] = {
    loss.name: loss
    for loss in (
        GANLoss("minimax", minimax_d, minimax_g),
        GANLoss("non_saturating", minimax_d, non_saturating_g),
        GANLoss("wasserstein", wasserstein_d, wasserstein_g),
        GANLoss("hinge", hinge_d, wasserstein_g),
        GANLoss("least_squares", least_squares_d, least_squares_g),
    )
}


def get_loss(name: str) -> GANLoss:
    """Look a loss up by name, failing with the list of valid names."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown GAN loss {name!r}. Choose one of: {', '.join(sorted(LOSSES))}."
        ) from None
