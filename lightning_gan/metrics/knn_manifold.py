"""k-nearest-neighbour manifold estimates: precision, recall, density and coverage, in blocks.

Definitions (the ``prdc`` package, Naeem et al. 2020, is the reference implementation):

* **radius** of a sample: the distance to its k-th nearest *other* sample of the same set (the
  (k+1)-th smallest distance, counting the sample itself).
* **precision** (Kynkäänniemi et al. 2019, k = 3): the share of generated samples inside the
  union of the real samples' balls; **recall**: the share of real samples inside the union of the
  generated samples' balls.
* **density** (Naeem et al. 2020, k = 5): the mean number of real balls containing a generated
  sample, divided by k; **coverage**: the share of real balls that contain at least one
  generated sample (its nearest generated sample is closer than its radius).

"Inside" is strict (``distance < radius``) by default, as in ``prdc`` (Naeem et al.'s reference
code, the reference for all four numbers here); ``inclusive=True`` counts ``distance <= radius``
as Kynkäänniemi et al.'s original precision/recall code does. The two differ only on exact ties
(identical samples, e.g. a repeated image). Why not torch-fidelity's
``metric_prc``: it has precision/recall only, so density/coverage would need the real radii and
the real-fake distances a second time; its "save RAM" mode still holds ``batch x N`` blocks and
copies every distance block to the CPU; and it counts ``distance <= radius``. Here one pass over
``block x block`` tiles of the real-fake distances feeds all four numbers, the real radii can be
reused between evaluations (the real set does not change), and memory is bounded by the block
size whatever N is (10k x 10k never exists at once).

Distances are computed in float64 by default: the numbers are counts of ``distance < radius``
decisions, and float32's ``|a|^2 + |b|^2 - 2ab`` error (about 1e-6 relative) flips a decision
now and then, which moves a 1000-sample precision by 1e-3. ``dtype=torch.float32`` halves the
cost (more on GPUs with slow float64).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

DEFAULT_BLOCK = 2048


def _blocks(n: int, size: int) -> Iterable[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def pairwise_distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances ``[len(a), len(b)]`` (``torch.cdist``'s matrix-product form)."""
    return torch.cdist(a, b)


def knn_radii(
    x: Tensor, ks: Iterable[int], block_size: int = DEFAULT_BLOCK, dtype: torch.dtype | None = None
) -> dict[int, Tensor]:
    """Distance of every row of ``x`` to its k-th nearest other row, for each ``k`` in ``ks``.

    Streams ``block x block`` tiles and keeps a running top-(k+1) per row, so memory is
    ``O(block^2 + N k)`` rather than ``O(N^2)``.
    """
    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        raise ValueError(f"k must be an integer >= 1, got {ks}.")
    kmax = ks[-1]
    n = x.shape[0]
    if n <= kmax:
        raise ValueError(
            f"k={kmax} nearest neighbours need more than {kmax} samples, got {n}: "
            "evaluate more samples (n_samples) or lower k."
        )
    x = x.to(dtype or torch.float64)
    running = []
    for rows in _blocks(n, block_size):
        best: Tensor | None = None
        for cols in _blocks(n, block_size):
            d = pairwise_distances(x[rows], x[cols])
            if rows == cols:  # a sample's distance to itself is exactly 0 (as in sklearn)
                d.fill_diagonal_(0.0)
            if best is not None:
                d = torch.cat([best, d], dim=1)
            best = d.topk(min(kmax + 1, d.shape[1]), dim=1, largest=False).values
        running.append(best)
    nearest = torch.cat(running)  # [N, kmax + 1], ascending
    return {k: nearest[:, k] for k in ks}


def manifold_metrics(
    real: Tensor,
    fake: Tensor,
    precision_k: int | None = 3,
    density_k: int | None = 5,
    block_size: int = DEFAULT_BLOCK,
    dtype: torch.dtype | None = None,
    real_radii: dict[int, Tensor] | None = None,
    inclusive: bool = False,
) -> dict[str, Tensor]:
    """Precision/recall (``precision_k``) and density/coverage (``density_k``) of ``fake`` against
    ``real`` (features ``[N, F]`` and ``[M, F]``); ``None`` skips a pair.

    Args:
        real_radii: the real radii from an earlier call (``knn_radii(real, ks)``) to reuse.
        inclusive: count ``distance <= radius`` as inside (Kynkäänniemi et al.'s code) instead
            of ``<`` (``prdc``, the default).

    Returns:
        ``{"precision", "recall"}`` and/or ``{"density", "coverage"}`` as float64 scalars, and
        ``"real_radii"`` (the dict used, for reuse).
    """
    if precision_k is None and density_k is None:
        raise ValueError("Nothing to compute: give precision_k and/or density_k.")
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"Expected features [N, F] and [M, F] of the same F, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}."
        )
    dtype = dtype or torch.float64
    real_ks = [k for k in (precision_k, density_k) if k is not None]
    if real_radii is None or any(k not in real_radii for k in real_ks):
        real_radii = knn_radii(real, real_ks, block_size, dtype)
    real, fake = real.to(dtype), fake.to(dtype)
    n, m = real.shape[0], fake.shape[0]
    if precision_k is not None:
        fake_radius = knn_radii(fake, [precision_k], block_size, dtype)[precision_k]
        r_pr = real_radii[precision_k]
        fake_in_real = torch.zeros(m, dtype=torch.bool, device=fake.device)
        real_in_fake = torch.zeros(n, dtype=torch.bool, device=real.device)
    if density_k is not None:
        r_dc = real_radii[density_k]
        balls_per_fake = torch.zeros(m, dtype=torch.long, device=fake.device)
        nearest_fake = torch.full((n,), float("inf"), dtype=dtype, device=real.device)
    inside = torch.le if inclusive else torch.lt
    for rows in _blocks(n, block_size):
        for cols in _blocks(m, block_size):
            d = pairwise_distances(real[rows], fake[cols])  # [real block, fake block]
            if precision_k is not None:
                fake_in_real[cols] |= inside(d, r_pr[rows, None]).any(dim=0)
                real_in_fake[rows] |= inside(d, fake_radius[None, cols]).any(dim=1)
            if density_k is not None:
                balls_per_fake[cols] += inside(d, r_dc[rows, None]).sum(dim=0)
                nearest_fake[rows] = torch.minimum(nearest_fake[rows], d.min(dim=1).values)
    out: dict[str, Tensor] = {}
    if precision_k is not None:
        out["precision"] = fake_in_real.double().mean()
        out["recall"] = real_in_fake.double().mean()
    if density_k is not None:
        out["density"] = balls_per_fake.double().mean() / density_k
        out["coverage"] = inside(nearest_fake, r_dc).double().mean()
    out["real_radii"] = real_radii  # type: ignore[assignment]
    return out


class NearestNeighbourMetric(Metric):
    """Base of the k-NN manifold metrics: real and generated features kept as ``cat`` lists.

    ``update(features, real=True|False)`` appends ``[B, F]`` features (any feature space:
    Inception, the shipped digit features, a user's network). Under DDP every rank's features
    are gathered at ``compute()`` (torchmetrics' ``cat`` reduction), so all ranks return the same
    numbers; two instances merge exactly with ``merge_state``.

    Args:
        precision_k, density_k: neighbourhood sizes (``None`` skips that pair).
        reset_real_features: ``False`` keeps the real features (and their radii, which are then
            computed once) across ``reset()``, as torchmetrics' FID does.
        block_size: side of the distance tiles (memory ``~ 3 * block^2 * 8`` bytes).
        dtype: distance precision (float64: decisions agree with ``prdc``).
        inclusive: ``distance <= radius`` counts as inside (Kynkäänniemi et al.'s code);
            default ``False``: ``<``, as ``prdc``.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True
    real_features: list[Tensor]
    fake_features: list[Tensor]

    def __init__(
        self,
        precision_k: int | None = 3,
        density_k: int | None = 5,
        reset_real_features: bool = True,
        block_size: int = DEFAULT_BLOCK,
        dtype: torch.dtype = torch.float64,
        inclusive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inclusive = bool(inclusive)
        for name, k in (("precision_k", precision_k), ("density_k", density_k)):
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {k!r}.")
        if precision_k is None and density_k is None:
            raise ValueError("Give precision_k and/or density_k.")
        if not isinstance(block_size, int) or block_size < 16:
            raise ValueError(f"block_size must be an integer >= 16, got {block_size!r}.")
        self.precision_k = precision_k
        self.density_k = density_k
        self.reset_real_features = reset_real_features
        self.block_size = block_size
        self.distance_dtype = dtype
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")
        self._radii: dict[int, Tensor] | None = None
        self._radii_n = -1

    def update(self, features: Tensor, real: bool) -> None:
        if features.dim() != 2:
            raise ValueError(f"Expected features [B, F], got {tuple(features.shape)}.")
        (self.real_features if real else self.fake_features).append(features.detach())
        if real:
            self._radii = None

    def _compute_all(self) -> dict[str, Tensor]:
        real, fake = dim_zero_cat(self.real_features), dim_zero_cat(self.fake_features)
        radii = self._radii
        if radii is not None and (
            self._radii_n != real.shape[0] or next(iter(radii.values())).device != real.device
        ):
            radii = None
        out = manifold_metrics(
            real,
            fake,
            self.precision_k,
            self.density_k,
            self.block_size,
            self.distance_dtype,
            radii,
            self.inclusive,
        )
        self._radii, self._radii_n = out.pop("real_radii"), real.shape[0]  # type: ignore[assignment]
        return out

    def compute(self) -> dict[str, Tensor]:
        # lists locally; single tensors once torchmetrics has gathered them across ranks
        if len(self.real_features) == 0 or len(self.fake_features) == 0:
            raise RuntimeError(
                f"{type(self).__name__}.compute() needs real and generated features: call "
                "update(features, real=True) and update(features, real=False) first."
            )
        return self._compute_all()

    def merge_state(self, incoming_state: Any) -> None:
        super().merge_state(incoming_state)
        self._radii = None

    def reset(self) -> None:
        if self.reset_real_features:
            super().reset()
            self._radii = None
            return
        real, radii, n = list(self.real_features), self._radii, self._radii_n  # reset clears lists
        super().reset()
        self.real_features, self._radii, self._radii_n = real, radii, n


class PRDC(NearestNeighbourMetric):
    """Precision, recall, density and coverage from one pass (what the evaluator uses).

    ``compute()`` -> ``{"precision", "recall", "density", "coverage"}`` (pairs whose k is
    ``None`` are left out).
    """
