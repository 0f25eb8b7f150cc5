"""Small builders shared by tests: a tiny ring GAN and a quiet Trainer."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import TensorDataset

from lightning_gan import GAN, GaussianMixture, MLPDiscriminator, MLPGenerator, ResumableDataLoader


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
