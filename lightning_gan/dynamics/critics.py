"""A trained neural-network critic for the particle model, batched over independent configurations.

Durr et al. train a neural-network discriminator alongside the particles. :class:`ReLUCritic` is
the smallest such network, ``D(x) = a . relu(W^T x + b) + c``, held as ``B`` independent copies
(one per configuration of a sweep) in stacked tensors. Unlike fixed Gaussian features, a ReLU
network is piecewise linear: its input gradient does not vanish away from the data, so particles
that overshoot are pulled back instead of stalling where the features end.

Why the gradients are written out instead of using autograd: the R1 penalty needs the gradient
of an input gradient (double backward), and for ``B`` tiny networks autograd's graph bookkeeping
costs several times the arithmetic; with one hidden layer both the input gradient
``W (a * 1[u > 0])`` and every parameter gradient have short closed forms (the ReLU mask has zero
derivative almost everywhere). ``tests/test_dynamics.py`` checks them against autograd.
Why a hand-written optimiser: each configuration may have its own step size, and
``torch.optim`` takes one learning rate per parameter group, not one per slice of a tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

LOSSES = ("logistic", "wasserstein")
OPTIMIZERS = ("sgd", "adam")


@dataclass
class ReLUCritic:
    """``B`` one-hidden-layer ReLU critics: ``W`` ``[B, d, H]``, ``b`` ``[B, H]``, ``a`` ``[B, H]``,
    ``c`` ``[B]``."""

    W: Tensor
    b: Tensor
    a: Tensor
    c: Tensor
    _moments: list[tuple[Tensor, Tensor]] | None = field(default=None, repr=False)
    _t: int = field(default=0, repr=False)

    @classmethod
    def init(
        cls,
        batch: int,
        dim: int,
        hidden: int,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float32,
    ) -> ReLUCritic:
        """``torch.nn.Linear``'s default initialisation (uniform, ``1/sqrt(fan_in)``)."""
        if batch < 1 or dim < 1 or hidden < 1:
            raise ValueError(f"need batch, dim, hidden >= 1, got {batch}, {dim}, {hidden}.")

        def uniform(*shape: int, fan_in: int) -> Tensor:
            bound = 1.0 / math.sqrt(fan_in)
            return (torch.rand(*shape, generator=generator, dtype=dtype) * 2 - 1) * bound

        return cls(
            uniform(batch, dim, hidden, fan_in=dim),
            uniform(batch, hidden, fan_in=dim),
            uniform(batch, hidden, fan_in=hidden),
            uniform(batch, fan_in=hidden),
        )

    @property
    def params(self) -> list[Tensor]:
        return [self.W, self.b, self.a, self.c]

    def _hidden(self, x: Tensor) -> tuple[Tensor, Tensor]:
        u = torch.baddbmm(self.b[:, None, :], x.expand(self.W.shape[0], -1, -1), self.W)
        return u.clamp(min=0), (u > 0).to(x.dtype)

    def __call__(self, x: Tensor) -> Tensor:
        """``D(x)`` ``[B, M]`` for ``x`` ``[B, M, d]`` (or ``[1, M, d]``, shared)."""
        h, _ = self._hidden(x)
        return torch.einsum("bmh,bh->bm", h, self.a) + self.c[:, None]

    def value_and_input_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``D(x)`` ``[B, M]`` and ``grad_x D(x)`` ``[B, M, d]``."""
        h, mask = self._hidden(x)
        value = torch.einsum("bmh,bh->bm", h, self.a) + self.c[:, None]
        return value, torch.einsum("bdh,bmh->bmd", self.W, mask * self.a[:, None, :])

    def loss_and_grads(
        self, real: Tensor, fake: Tensor, penalty: Tensor, loss: str = "logistic"
    ) -> tuple[Tensor, list[Tensor]]:
        """The critic's loss per configuration ``[B]`` (it *minimises* it) and its gradients.

        ``logistic``: ``E_real softplus(-D) + E_fake softplus(D)`` (the standard GAN
        discriminator); ``wasserstein``: ``E_fake D - E_real D``. Both add the R1 penalty
        ``penalty/2 E_real |grad_x D|^2`` (``penalty`` ``[B]``, Mescheder et al. 2018).
        """
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is unknown: pass one of {', '.join(LOSSES)}.")
        x = torch.cat([real.expand(fake.shape[0], -1, -1), fake], dim=1)
        m = real.shape[1]
        h, mask = self._hidden(x)
        value = torch.einsum("bmh,bh->bm", h, self.a) + self.c[:, None]
        d_real, d_fake = value[:, :m], value[:, m:]
        if loss == "logistic":
            total = F.softplus(-d_real).mean(1) + F.softplus(d_fake).mean(1)
            e_real = -torch.sigmoid(-d_real) / m
            e_fake = torch.sigmoid(d_fake) / fake.shape[1]
        else:
            total = d_fake.mean(1) - d_real.mean(1)
            e_real = torch.full_like(d_real, -1.0 / m)
            e_fake = torch.full_like(d_fake, 1.0 / fake.shape[1])
        e = torch.cat([e_real, e_fake], dim=1)  # dLoss/dD per point [B, M + N]
        ea = e[..., None] * mask * self.a[:, None, :]  # dLoss/du [B, M + N, H]
        g_W = torch.einsum("bmd,bmh->bdh", x.expand(e.shape[0], -1, -1), ea)
        g_b = ea.sum(1)
        g_a = torch.einsum("bm,bmh->bh", e, h)
        g_c = e.sum(1)
        # R1 on the real points: g_r = W (a * s_r); d/dW = gamma/M sum_r g_r (a * s_r)^T,
        # d/da = gamma/M sum_r s_r * (W^T g_r); the mask's derivative is 0 almost everywhere.
        s_real = mask[:, :m]
        grad_real = torch.einsum("bdh,bmh->bmd", self.W, s_real * self.a[:, None, :])
        scale = (penalty / m)[:, None, None]
        total = total + penalty / 2 * grad_real.pow(2).sum(-1).mean(1)
        g_W = g_W + torch.einsum("bmd,bmh->bdh", scale * grad_real, s_real * self.a[:, None, :])
        w_g = torch.einsum("bdh,bmd->bmh", self.W, grad_real)
        g_a = g_a + (scale * s_real * w_g).sum(1)
        return total, [g_W, g_b, g_a, g_c]

    def step(self, grads: list[Tensor], lr: Tensor, optimizer: str = "sgd") -> None:
        """One descent step with a step size per configuration ``lr`` ``[B]``.

        ``adam`` uses the GAN betas ``(0.5, 0.999)`` (Radford et al.), bias-corrected.
        """
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r} is unknown: pass one of {OPTIMIZERS}.")
        self._t += 1
        if optimizer == "adam" and self._moments is None:
            self._moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        new = []
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            rate = lr.reshape(-1, *([1] * (p.dim() - 1)))
            if optimizer == "adam":
                m, v = self._moments[i]
                m.mul_(0.5).add_(g, alpha=0.5)
                v.mul_(0.999).addcmul_(g, g, value=0.001)
                m_hat = m / (1 - 0.5**self._t)
                v_hat = v / (1 - 0.999**self._t)
                g = m_hat / (v_hat.sqrt() + 1e-8)
            new.append(p - rate * g)
        self.W, self.b, self.a, self.c = new
