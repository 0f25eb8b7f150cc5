"""Small builders shared by tests: a tiny ring GAN and a quiet Trainer."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import TensorDataset

from lightning_gan import (
    GAN,
    DStep,
    GaussianMixture,
    GStep,
    MLPDiscriminator,
    MLPGenerator,
    NetworkRecord,
    ResumableDataLoader,
)


def ring_data(n_samples: int = 2048, batch_size: int = 64, **kwargs: Any) -> GaussianMixture:
    return GaussianMixture("ring", n_samples=n_samples, batch_size=batch_size, **kwargs)


def resumable_noise_loader(n_batches: int = 10, batch_size: int = 16) -> ResumableDataLoader:
    """Seeded 2-D Gaussian batches from a loader whose position survives a checkpoint."""
    x = torch.randn(n_batches * batch_size, 2, generator=torch.Generator().manual_seed(0))
    return ResumableDataLoader(TensorDataset(x), batch_size=batch_size)


def tiny_gan(hidden: int = 32, latent_dim: int = 4, **kwargs: Any) -> GAN:
    """An MLP GAN on 2-D data, small enough that a few hundred steps take about a second."""
    return GAN(
        MLPGenerator(latent_dim=latent_dim, out_dim=2, hidden=hidden, depth=2),
        MLPDiscriminator(in_dim=2, hidden=hidden, depth=2),
        **kwargs,
    )


def quiet_trainer(max_steps: int = 50, **kwargs: Any) -> L.Trainer:
    """A CPU Trainer with no logger, checkpoint, progress bar or summary unless asked for."""
    options: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    options.update(kwargs)
    return L.Trainer(**options)


def flat_params(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def d_step(
    gan: GAN,
    real: Any,
    fake: Any,
    labels: Any = None,
    real_scores: Any = None,
    fake_scores: Any = None,
) -> DStep:
    """A discriminator-phase record as the step builds it (no transforms), to call hooks
    directly; scores default to D's scores of ``real`` and ``fake``."""
    scorable = hasattr(gan, "discriminate")
    if real_scores is None and real is not None and scorable:
        real_scores = gan.discriminate(real, labels)
    if fake_scores is None and fake is not None and scorable:
        fake_scores = gan.discriminate(fake, labels)
    record = getattr(gan, "d_record", None) or NetworkRecord("discriminator")
    return DStep(record, real, labels, fake, real, labels, fake, labels, real_scores, fake_scores)


def g_step(gan: GAN, real: Any, fake: Any, labels: Any = None, scores: Any = None) -> GStep:
    """A generator-phase record as the step builds it (no transforms), to call hooks directly."""
    return GStep(gan.g_record, real, labels, fake, fake, labels, fake_scores=scores)
