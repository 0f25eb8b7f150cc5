"""2-D mixtures of Gaussians: the VEEGAN / PacGAN mode-collapse benchmark.

A ring of 8 (radius 1, std 0.01) or a grid of 25 (centres {-4,-2,0,2,4}^2, std 0.05) isotropic
Gaussians. The modes are known exactly, so coverage metrics can count captured modes without any
learned classifier.
"""

from __future__ import annotations

import math

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.data.loader import shuffled_loader

_DEFAULT_N_MODES = {"ring": 8, "grid": 25}
_DEFAULT_STD = {"ring": 0.01, "grid": 0.05}


def ring_modes(n_modes: int, radius: float = 1.0) -> Tensor:
    """Centres at angles 2*pi*k/n, k = 0..n-1.

    Not ``linspace(0, 2*pi, n)``: that includes both 0 and 2*pi, so two centres coincide and the
    "8-mode" ring silently has 7 modes (a bug in some public code).
    """
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_modes(n_modes: int, spacing: float = 2.0) -> Tensor:
    """A k x k grid centred on the origin: spacing * {-(k-1)/2, ..., (k-1)/2} per axis."""
    k = math.isqrt(n_modes)
    axis = spacing * (torch.arange(k, dtype=torch.float64) - (k - 1) / 2)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1).float()


class GaussianMixture(LightningDataModule):
    """Samples from an equal-weight mixture of isotropic 2-D Gaussians with known centres.

    The training set is drawn once from ``seed`` with a local ``torch.Generator`` so that runs are
    reproducible and the global RNG (which seeds model init and noise) is left untouched. Each
    item is ``(x [2] float32, mode id int64)``; the mode id lets tests and metrics check coverage.
    """

    dim: int = 2

    def __init__(
        self,
        layout: str = "ring",
        n_modes: int | None = None,
        radius: float = 1.0,
        spacing: float = 2.0,
        std: float | None = None,
        n_samples: int = 100_000,
        batch_size: int = 256,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if layout not in _DEFAULT_N_MODES:
            raise ValueError(f"layout={layout!r} is unknown: use layout='ring' or layout='grid'.")
        n_modes = _DEFAULT_N_MODES[layout] if n_modes is None else n_modes
        std = _DEFAULT_STD[layout] if std is None else std
        if n_modes < 1:
            raise ValueError(f"n_modes={n_modes} must be at least 1: pass n_modes >= 1.")
        if layout == "grid" and math.isqrt(n_modes) ** 2 != n_modes:
            raise ValueError(
                f"a grid needs a perfect-square n_modes, got {n_modes}: "
                "pass a square such as 9, 16 or 25."
            )
        # `not (x > 0)` and isfinite: NaN compares False with everything, so `x <= 0` lets it in.
        for name, value, typical in (
            ("std", std, "0.01 (ring) or 0.05 (grid)"),
            ("radius", radius, "1.0"),
            ("spacing", spacing, "2.0"),
        ):
            if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"{name}={value!r} must be a finite number > 0 (e.g. {name}={typical}): a "
                    "NaN or inf here would make every sample NaN or inf."
                )
        if n_samples < 1:
            raise ValueError(f"n_samples={n_samples} must be at least 1: pass n_samples >= 1.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1: pass batch_size >= 1.")
        self.save_hyperparameters()
        self.layout = layout
        self.n_modes = n_modes
        self.std = float(std)
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.modes: Tensor = (
            ring_modes(n_modes, radius) if layout == "ring" else grid_modes(n_modes, spacing)
        )
        self._dataset: TensorDataset | None = None

    @property
    def num_classes(self) -> int:
        """One class per mode; the label of a point is the index of its mode."""
        return self.n_modes

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw ``n`` fresh real points and their mode ids.

        Metrics use this as the reference distribution. Without a ``generator`` the global RNG is
        used, as any other torch sampling call would; pass one for reproducible draws.
        """
        mode_ids = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.modes[mode_ids] + self.std * noise, mode_ids

    @property
    def dataset(self) -> TensorDataset:
        """The seeded training set, built on first use so the datamodule works without a Trainer."""
        if self._dataset is None:
            generator = torch.Generator().manual_seed(self.seed)
            self._dataset = TensorDataset(*self.sample(self.n_samples, generator))
        return self._dataset

    def setup(self, stage: str | None = None) -> None:
        """Materialise the training set (deterministic in ``seed``)."""
        _ = self.dataset

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches; ``drop_last`` keeps every batch the same size for the GAN step."""
        return shuffled_loader(self.dataset, self.batch_size, self.num_workers)
