"""A remedy written from scratch against the public hook protocol: ProGAN's drift penalty.

Karras et al. 2018 ("Progressive Growing of GANs", section A.1) add ``eps * E[D(x)^2]`` on real
samples to the WGAN-GP critic's loss, so its scores cannot drift far from zero while the loss
only sees their differences. The walk-through is ``docs/guide/writing-a-remedy.md``; the test
``tests/test_writing_a_remedy.py`` runs this file.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_gan import DStep, GANCallback


class DriftPenalty(GANCallback):
    """``epsilon * E[D(x_real)^2]`` added to D's loss (ProGAN: epsilon = 0.001).

    Args:
        epsilon: the penalty weight (>= 0; 0 disables it).
    """

    def __init__(self, epsilon: float = 1e-3) -> None:
        super().__init__()
        if not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0 (ProGAN uses 0.001), got {epsilon!r}.")
        self.epsilon = float(epsilon)

    def discriminator_penalty(self, gan: Any, d: DStep) -> Tensor | None:
        # D's scores of the real batch, attached to D's graph: the penalty's gradient trains D
        # in the same optimizer step, and costs no extra forward pass.
        value = d.real_scores.square().mean()
        if gan.log_due("penalty/drift"):  # log only when a logger will write it
            gan.log("penalty/drift", value.detach())
        return self.epsilon * value


if __name__ == "__main__":
    from lightning import Trainer

    from lightning_gan import GAN, GaussianMixture, MLPDiscriminator, MLPGenerator

    torch.manual_seed(0)
    gan = GAN(
        MLPGenerator(latent_dim=2, out_dim=2),
        MLPDiscriminator(in_dim=2),
        loss="wasserstein",
        n_critic=5,
    )
    trainer = Trainer(max_steps=600, callbacks=[DriftPenalty(1e-3)], logger=False)
    trainer.fit(gan, GaussianMixture("ring"))
    print({k: round(float(v), 4) for k, v in trainer.callback_metrics.items()})
