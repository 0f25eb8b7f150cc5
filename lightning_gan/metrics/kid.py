"""KID twice from the same subsets: torchmetrics' raw number and a scale-free one.

torchmetrics' KID (Bińkowski et al. 2018) uses the kernel ``k(x, y) = (x . y / d + 1)^3`` on the
raw features. Inception's pool features are small (per-coordinate RMS well below 1), so the kernel
is near its linear regime and published KIDs are ~1e-3..1e-1. The digit networks' ReLU features
have norms of tens, ``x . y / d`` is ~10 and the cubic kernel turns a modest difference into KIDs
in the hundreds or thousands: numbers from different feature spaces cannot be read side by side.

``kid_norm`` is the same unbiased MMD^2, on the same subsets, after *standardising* every feature
with the real set's statistics: ``z = (x - mu_real) / s_real`` with ``s_real^2 = tr(Cov_real) / d``
(the mean per-coordinate variance). A real sample then has ``E ||z||^2 / d = 1`` in every space, so
the kernel works in the same regime everywhere; the number is invariant to shifting or scaling the
feature space (raw KID is neither), and it is 0 in expectation for matching distributions like
KID itself. It is *not* comparable with published Inception KIDs (use ``kid_mean`` for those).
Why not divide raw KID by a real-vs-real number: real-vs-real KID is unbiased, i.e. ~0 and of
either sign, so it is no scale. Tables print it x 1000 (``KID_norm x 10^3``).

The statistics are computed from the gathered real features inside ``compute()``, which
torchmetrics runs after syncing states across ranks, so every rank gets the same numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.image.kid import KernelInceptionDistance, maximum_mean_discrepancy, poly_mmd
from torchmetrics.utilities.data import dim_zero_cat


def standardise(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """``(real, fake)`` shifted by the real mean and divided by the real RMS per coordinate
    (statistics in float64, results in float32)."""
    real64 = real.double()
    mean = real64.mean(dim=0)
    scale = (real64 - mean).pow(2).mean().sqrt().clamp_min(1e-12)
    return ((real64 - mean) / scale).float(), ((fake.double() - mean) / scale).float()


def _poly_mmd_f64_sums(
    a: Tensor, b: Tensor, degree: int, gamma: float | None, coef: float
) -> Tensor:
    """torchmetrics' ``poly_mmd`` with float32 kernels summed in float64: the standardised
    kernel is O(1..10) per entry and KID is a ~1e-4 difference of 1e6-term sums, so the sums
    need float64; the matrix products do not (and cost 2-4x more in it on CPU)."""
    gamma = 1.0 / a.shape[1] if gamma is None else gamma

    def kernel(x: Tensor, y: Tensor) -> Tensor:
        return ((x @ y.T) * gamma + coef).double() ** degree

    return maximum_mean_discrepancy(kernel(a, a), kernel(a, b), kernel(b, b))


def kid_with_norm(
    real: Tensor,
    fake: Tensor,
    subsets: int,
    subset_size: int,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(kid_mean, kid_std, kid_norm_mean, kid_norm_std)`` of two feature sets, from the same
    ``subsets`` random subsets (one ``torch.randperm`` stream, as torchmetrics draws them: seed
    the global RNG first for reproducible numbers)."""
    n_real, n_fake = real.shape[0], fake.shape[0]
    if min(n_real, n_fake) < subset_size:
        raise ValueError(
            f"KID's subset_size={subset_size} exceeds the samples ({n_real} real, "
            f"{n_fake} generated): lower kid_subset_size or evaluate more samples."
        )
    real_z, fake_z = standardise(real, fake)
    raw, norm = [], []
    for _ in range(subsets):
        pick_real = torch.randperm(n_real)[:subset_size]
        pick_fake = torch.randperm(n_fake)[:subset_size]
        raw.append(poly_mmd(real[pick_real], fake[pick_fake], degree, gamma, coef))
        norm.append(_poly_mmd_f64_sums(real_z[pick_real], fake_z[pick_fake], degree, gamma, coef))
    raw_t, norm_t = torch.stack(raw), torch.stack(norm).float()
    return raw_t.mean(), raw_t.std(unbiased=False), norm_t.mean(), norm_t.std(unbiased=False)


class KIDWithNorm(KernelInceptionDistance):
    """torchmetrics' KID that also returns the standardised KID (module docstring).

    ``compute() -> (kid_mean, kid_std, kid_norm_mean, kid_norm_std)`` (:func:`kid_with_norm`
    on the gathered features).
    """

    def compute(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # type: ignore[override]
        real = dim_zero_cat(self.real_features)
        fake = dim_zero_cat(self.fake_features)
        return kid_with_norm(
            real, fake, self.subsets, self.subset_size, self.degree, self.gamma, self.coef
        )
