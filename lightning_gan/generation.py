"""Sampling from a GAN and calling its networks: the public API around the step.

A mixin of :class:`~lightning_gan.GAN`, kept apart so ``module.py`` holds the step alone. Every
method is overridable in a subclass (other latent priors, other label distributions, batches
with another structure).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lightning_gan.step.conditioning import (
    balanced_labels,
    batch_data,
    call,
    check_labels,
    conditioning_labels,
    split_scores,
)


class Generation:
    """Latents, labels, samples, and the networks called with or without labels."""

    generator: nn.Module
    discriminator: nn.Module
    num_classes: int | None
    _latent_dim: int | None

    # ----------------------------------------------------------------------------- properties
    @property
    def latent_dim(self) -> int:
        if self._latent_dim is None:
            self._latent_dim = getattr(self.generator, "latent_dim", None)
        if self._latent_dim is None:
            raise ValueError(
                "Cannot tell the latent size: pass `latent_dim=` to GAN or give the generator "
                "a `latent_dim` attribute."
            )
        return self._latent_dim

    # ------------------------------------------------------------------------- public methods
    def sample_latent(self, n: int) -> Tensor:
        """Draw ``n`` latent vectors; override for other priors (uniform, truncated, ...)."""
        return torch.randn(n, self.latent_dim, device=self.device)

    def sample_labels(self, n: int) -> Tensor | None:
        """Labels for ``sample(n)``: every class equally often; ``None`` when unconditional."""
        if self.num_classes is None:
            return None
        return balanced_labels(n, self.num_classes, self.device)

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None) -> Tensor:
        """Generate ``n`` samples with the evaluation generator (the EMA one when present).

        A conditional GAN draws ``sample_labels(n)`` (balanced) unless ``labels`` are given.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"GAN.sample: n must be an integer >= 0 (samples), got {n!r}.")
        if labels is None:
            labels = self.sample_labels(n)
        else:
            labels = check_labels(labels, n, self.num_classes, "GAN.sample").to(self.device)
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        try:
            return call(generator, self.sample_latent(n), labels)
        finally:
            generator.train(was_training)

    def sampling_generator(self) -> nn.Module:
        """The generator evaluation uses: a callback's (e.g. EMA), the averaged generator of a
        loaded checkpoint, or ``self.generator``."""
        generator = self.hooks.sampling_generator(self)
        if generator is None:
            generator = self.loaded_ema_generator()
        return self.generator if generator is None else generator

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``G(z)``, or ``G(z, labels)`` for a conditional GAN (training generator, with grad)."""
        return call(self.generator, z, labels)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's scores ``[B]`` of ``x`` (conditioned on ``labels``); ACGAN logits are dropped."""
        return split_scores(call(self.discriminator, x, labels))[0]

    def real_from_batch(self, batch: Any) -> Tensor:
        """Extract real data from a batch; ``(data, labels)`` pairs give ``data``."""
        return batch_data(batch)

    def labels_from_batch(self, batch: Any) -> Tensor | None:
        """The batch's class labels for a conditional GAN (``None`` when unconditional)."""
        return conditioning_labels(batch, self.num_classes)
