"""Mode coverage of generated samples: the mode-collapse measures of VEEGAN and PacGAN.

Protocols (Srivastava et al. 2017, "VEEGAN", sec. 5.1; Lin et al. 2018, "PacGAN", sec. 5):

* **2-D Gaussian mixtures** (ring of 8, std 0.01; grid of 25, std 0.05): draw **2500**
  generated samples. A sample is *high quality* (HQ) if it lies within **3 standard deviations**
  of its nearest mode centre. A mode is *captured* if it is the nearest mode of at least one HQ
  sample. Reported: modes captured, the HQ fraction, and (PacGAN) the **reverse KL** of the mode
  histogram.
* **Stacked MNIST** (1000 modes): classify each of the 3 channels of **26,000** samples with an
  MNIST classifier; the mode is ``100*d0 + 10*d1 + d2``. Reported: modes captured (out of 1000)
  and the KL of the mode histogram to uniform.

The KL, for both: ``KL(P_gen || P_true) = sum_k p_k log(p_k / q_k)``, where ``p`` is the
normalised histogram of the HQ samples' modes (every sample is HQ on Stacked MNIST unless
``min_confidence`` is set) and ``q`` the true mode weights (uniform). It is the *reverse* KL: the
model distribution comes first, the order opposite to maximum likelihood, as in PacGAN. Empty
bins need no smoothing: they contribute ``0 log 0 = 0``, and ``q_k > 0`` always. Samples from a
single mode give exactly ``log K``; a perfect histogram gives 0. With no HQ sample at all the KL
is undefined and returned as NaN.

The histogram is a sum, so the metric's states (``counts``, ``total``) are summed across DDP
ranks by torchmetrics and two instances merge exactly with ``merge_state``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchmetrics import Metric

VEEGAN_SAMPLES = 2500
STACKED_MNIST_SAMPLES = 26_000


def reverse_kl(counts: Tensor, weights: Tensor) -> Tensor:
    """``KL(p || q)`` with ``p = counts / counts.sum()``, ``q = weights / weights.sum()``.

    ``0 log 0 = 0`` for empty bins; NaN when ``counts`` is all zero (no distribution).
    """
    counts = counts.double()
    total = counts.sum()
    if total == 0:
        return torch.tensor(math.nan, dtype=torch.float64, device=counts.device)
    p = counts / total
    q = weights.double() / weights.double().sum()
    terms = torch.where(p > 0, p * (p / q).log(), torch.zeros_like(p))
    return terms.sum()


class ModeCoverage(Metric):
    """Histogram of samples over known modes; computes modes captured, HQ fraction and reverse KL.

    Subclasses say how a sample is assigned to a mode (:meth:`assign`). ``compute()`` returns
    ``{"modes": int tensor, "hq_fraction": float tensor, "kl": float tensor}``.

    Args:
        n_modes: number of modes K.
        mode_weights: the true mode probabilities (uniform if omitted).
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    #: samples per evaluation in the published protocol
    protocol_samples: int = VEEGAN_SAMPLES

    counts: Tensor
    total: Tensor
    mode_weights: Tensor

    def __init__(self, n_modes: int, mode_weights: Tensor | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(n_modes, int) or n_modes < 1:
            raise ValueError(f"n_modes must be an integer >= 1, got {n_modes!r}.")
        weights = torch.ones(n_modes) if mode_weights is None else torch.as_tensor(mode_weights)
        if weights.shape != (n_modes,) or not bool((weights > 0).all()):
            raise ValueError(f"mode_weights must be {n_modes} positive numbers, got {weights}.")
        self.n_modes = n_modes
        self.register_buffer("mode_weights", weights.double() / weights.double().sum())
        self.add_state("counts", torch.zeros(n_modes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mode id [N] int64, high quality [N] bool)`` for a batch of samples."""
        raise NotImplementedError

    def update(self, x: Tensor) -> None:
        modes, hq = self.assign(x)
        self.counts += torch.bincount(modes[hq], minlength=self.n_modes)
        self.total += modes.numel()

    def compute(self) -> dict[str, Tensor]:
        total = self.total.clamp(min=1).double()
        return {
            "modes": (self.counts > 0).sum(),
            "hq_fraction": self.counts.sum().double() / total,
            "kl": reverse_kl(self.counts, self.mode_weights),
        }


class MixtureCoverage(ModeCoverage):
    """Coverage of a mixture of isotropic Gaussians with known centres (VEEGAN / PacGAN 2-D).

    Args:
        modes: centres ``[K, D]``.
        std: the components' standard deviation.
        hq_stds: the HQ radius in standard deviations (3 in both papers).
    """

    protocol_samples = VEEGAN_SAMPLES

    def __init__(
        self,
        modes: Tensor,
        std: float,
        hq_stds: float = 3.0,
        mode_weights: Tensor | None = None,
        **kwargs,
    ) -> None:
        modes = torch.as_tensor(modes, dtype=torch.float32)
        if modes.dim() != 2:
            raise ValueError(f"modes must be a [K, D] tensor of centres, got {tuple(modes.shape)}.")
        if not std > 0 or not hq_stds > 0:
            raise ValueError(f"std and hq_stds must be positive, got {std!r} and {hq_stds!r}.")
        super().__init__(modes.shape[0], mode_weights, **kwargs)
        self.register_buffer("modes", modes)
        self.std = float(std)
        self.hq_stds = float(hq_stds)

    @classmethod
    def from_datamodule(cls, datamodule, **kwargs) -> MixtureCoverage:
        """From a :class:`~lightning_gan.data.GaussianMixture` (its ``modes`` and ``std``)."""
        return cls(datamodule.modes, datamodule.std, **kwargs)

    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.reshape(x.shape[0], -1).to(self.modes)
        distance, nearest = torch.cdist(x, self.modes).min(dim=1)
        return nearest, distance < self.hq_stds * self.std


class StackedMNISTCoverage(ModeCoverage):
    """Coverage of Stacked MNIST's 1000 modes, each channel read by an MNIST classifier.

    Args:
        classifier: maps ``[N, 1, 28, 28]`` in [-1, 1] to 10 logits; the shipped
            :func:`~lightning_gan.metrics.digit_classifier.load_digit_net` ("mnist") if omitted.
        min_confidence: a sample is HQ if every channel's top softmax probability reaches this;
            0 (the protocol) counts every sample.
        data_range: the range of the images (mapped to [-1, 1] for the classifier).
    """

    protocol_samples = STACKED_MNIST_SAMPLES

    def __init__(
        self,
        classifier: nn.Module | None = None,
        min_confidence: float = 0.0,
        data_range: tuple[float, float] = (-1.0, 1.0),
        **kwargs,
    ) -> None:
        super().__init__(1000, **kwargs)
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in [0, 1), got {min_confidence!r}.")
        if classifier is None:
            from lightning_gan.metrics.digit_classifier import load_digit_net

            classifier = load_digit_net("mnist")
        self.classifier = classifier.eval().requires_grad_(False)
        self.min_confidence = float(min_confidence)
        self.data_range = (float(data_range[0]), float(data_range[1]))

    @classmethod
    def from_datamodule(cls, datamodule, **kwargs) -> StackedMNISTCoverage:
        return cls(**kwargs)

    @torch.no_grad()
    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 28:
            raise ValueError(f"Expected Stacked MNIST images [N, 3, >=28, >=28], got {x.shape}.")
        top, left = (x.shape[2] - 28) // 2, (x.shape[3] - 28) // 2
        x = x[:, :, top : top + 28, left : left + 28]  # undo pad_to_32
        lo, hi = self.data_range
        x = (x.float() - lo) * (2.0 / (hi - lo)) - 1.0
        self.classifier.eval()
        probs = self.classifier(x.reshape(-1, 1, 28, 28)).softmax(dim=1)
        confidence, digits = probs.max(dim=1)
        digits = digits.view(-1, 3)
        modes = 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]
        hq = (confidence.view(-1, 3) >= self.min_confidence).all(dim=1)
        return modes, hq


def coverage_for(datamodule, **kwargs) -> ModeCoverage:
    """The coverage metric of a benchmark datamodule (GaussianMixture or StackedMNIST)."""
    from lightning_gan.data import GaussianMixture, StackedMNIST

    if isinstance(datamodule, GaussianMixture):
        return MixtureCoverage.from_datamodule(datamodule, **kwargs)
    if isinstance(datamodule, StackedMNIST):
        return StackedMNISTCoverage.from_datamodule(datamodule, **kwargs)
    raise ValueError(
        f"No mode-coverage protocol for {type(datamodule).__name__}: pass `metric=` "
        "(a MixtureCoverage or StackedMNISTCoverage) to ModeCoverageCallback."
    )
