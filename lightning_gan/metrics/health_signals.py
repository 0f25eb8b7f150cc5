"""Cheap training-health signals of a GAN, as pure functions (used by ``GANHealth``).

Each function works on what a training step already holds (a batch of samples, a list of
gradients, a short loss history) so that a diagnostics callback can call it every few steps at a
negligible cost. Tensor functions return tensors on the input's device, so a caller can gather
several signals and pay for a single device-to-host copy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor


def total_norm(tensors: Iterable[Tensor]) -> Tensor:
    """The 2-norm of all ``tensors`` concatenated (0 for none), without a host sync.

    A non-finite entry anywhere gives a non-finite norm, so the same number both measures
    gradient/weight size and detects NaN/inf.
    """
    tensors = [t.detach() for t in tensors]
    if not tensors:
        return torch.zeros(())
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6: fused over tensors
        return torch.nn.utils.get_total_norm(tensors, norm_type=2.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


def _flat(x: Tensor, max_samples: int) -> Tensor:
    """The first ``max_samples`` samples flattened to rows (first, not random: no RNG used)."""
    return x.detach()[:max_samples].reshape(min(x.shape[0], max_samples), -1).float()


def _mean_offdiag(d: Tensor) -> Tensor:
    """Mean of a square distance matrix without its zero diagonal (the unbiased U-statistic)."""
    n = d.shape[0]
    return d.sum() / max(n * (n - 1), 1)


def sample_distances(fake: Tensor, real: Tensor, max_samples: int = 64) -> Tensor:
    """``[E|F-F'|, E|R-R'|, E|F-R|]``: mean pairwise Euclidean distances within and across sets.

    These three numbers give both the diversity ratio (mode collapse) and the energy distance
    (how far the generated batch is from the real one). Samples are flattened, so images are
    compared pixel-wise; cost is ``O(max_samples^2 * dim)``.
    """
    f, r = _flat(fake, max_samples), _flat(real, max_samples)
    d = torch.cdist(torch.cat([f, r]), torch.cat([f, r]))  # one kernel for the three blocks
    k = f.shape[0]
    return torch.stack([_mean_offdiag(d[:k, :k]), _mean_offdiag(d[k:, k:]), d[:k, k:].mean()])


def diversity_ratio(ff: float, rr: float) -> float:
    """Fake diversity over real diversity: about 1 for a faithful G, near 0 when collapsed."""
    return ff / rr if rr > 0 else float("nan")


def energy_distance(ff: float, rr: float, fr: float) -> float:
    """``(2 E|F-R| - E|F-F'| - E|R-R'|) / E|R-R'|``: zero iff the two distributions match.

    Normalised by the real diversity so one threshold fits data of any scale (Szekely & Rizzo's
    energy distance; a batch estimate, so it is noisy around 0 for a converged generator).
    """
    return (2 * fr - ff - rr) / rr if rr > 0 else float("nan")


def autocorrelation(series: Sequence[float], max_lag: int) -> list[float]:
    """Autocorrelation at lags ``0..max_lag`` of a linearly detrended series, in about [-1, 1].

    Detrending keeps a steadily falling loss from looking periodic. Each lag is normalised by its
    number of pairs (the unbiased form), so a pure sinusoid reads -1 at half its period. Host
    data, so numpy: a few microseconds where torch's per-op overhead costs a millisecond.
    """
    x = np.asarray(series, dtype=np.float64)
    n = x.size
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    x = x - x.mean()
    x = x - t * (t @ x) / max(t @ t, 1e-300)
    var = x @ x
    if n < 2 or var <= 0:
        return [1.0] + [0.0] * max_lag
    spectrum = np.fft.rfft(x, 2 * n)  # all lagged products at once (Wiener-Khinchin)
    raw = np.fft.irfft(np.abs(spectrum) ** 2, 2 * n)[: max_lag + 1]
    pairs = n - np.arange(max_lag + 1)
    return (raw * n / (pairs * var)).tolist()


def oscillation_score(series: Sequence[float]) -> float:
    """How strongly ``series`` swings periodically, in [0, 1]; 0 for noise or a monotone trend.

    A periodic swing of period ``P`` gives a strongly negative autocorrelation at lag ``P/2``
    and a positive one again at lag ``P``; noise gives neither and a one-off hump gives no
    return. The score is ``min(-ac[k], ac[2k])`` at the most negative lag ``k``, which must be an
    interior minimum with ``2k`` within half the window (so at least two periods are seen); a
    level shift puts the minimum on the boundary and scores 0.
    """
    n = len(series)
    max_lag = n // 2
    if n < 8 or not all(math.isfinite(v) for v in series):
        return 0.0
    ac = autocorrelation(series, max_lag)
    k = min(range(1, max_lag // 2 + 1), key=lambda lag: ac[lag])
    if k == max_lag // 2:  # no interior minimum: a level shift or trend change, not a swing
        return 0.0
    return min(max(0.0, min(-ac[k], ac[2 * k])), 1.0)


def sigmoid_mean(scores: Tensor) -> Tensor:
    """Mean probability ``D`` assigns to "real", reading scores as logits.

    Exact for the minimax and non-saturating losses; for the others (raw critic values) it is a
    monotone proxy, so "confidently winning" then means scores far apart on the logit scale.
    """
    return torch.sigmoid(scores.detach().float()).mean()
