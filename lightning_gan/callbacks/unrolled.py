"""Unrolled discriminator (Metz et al. 2016, "Unrolled Generative Adversarial Networks").

The generator is trained against the discriminator it *would* face after ``k`` more D updates,
and the gradient is taken through those updates. A generator that collapses onto one mode is then
penalised for how D would react (it would push the collapsed mass away), which is the information
plain alternating updates miss. The real D and its optimizer are never modified: the unrolled
parameters are temporary tensors evaluated with :func:`torch.func.functional_call`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.func import functional_call

from lightning_gan.hooks import Critic, GANCallback
from lightning_gan.step.conditioning import call, split_scores
from lightning_gan.step.records import GStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class FunctionalCritic:
    """D evaluated with other parameters and buffers (``torch.func.functional_call``), called
    like D itself: ``critic(x)`` or ``critic(x, labels)``."""

    def __init__(
        self, module: torch.nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor]
    ) -> None:
        self.module, self.state = module, (params, buffers)

    def __call__(self, *args: Tensor) -> Tensor:
        return functional_call(self.module, self.state, args)


@dataclass
class _AdamSlot:
    """What a differentiable Adam step needs for one parameter: its group's settings and state."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    decoupled: bool
    amsgrad: bool
    maximize: bool
    step: float
    exp_avg: Tensor
    exp_avg_sq: Tensor
    max_exp_avg_sq: Tensor | None


class UnrolledDiscriminator(GANCallback):
    """Score the generator with a copy of D unrolled ``steps`` optimizer steps ahead.

    Args:
        steps: number of unrolled D updates (``k``). Metz et al. use 5 on the 2-D mixtures;
            ``0`` disables the callback (the generator sees the plain D).
        lr: step size of the unrolled updates (Adam or SGD). ``None`` uses the D optimizer's
            learning rate (``gan.lr_d`` when no optimizer is attached).
        higher_order: backpropagate through the unrolling (the second-order term of Metz et al.).
            ``False`` unrolls on detached samples and detaches the result, so G only sees the
            look-ahead D's gradient at its own samples: cheaper, and weaker against collapse.

    Update rule: as in the paper, the unrolling uses the discriminator's own optimizer. When D's
    optimizer (``gan.optimizers()[1]``) is Adam/AdamW and has state for every D parameter, each
    unrolled step is a differentiable Adam step continuing from that state (moments, step count,
    betas, eps, weight decay, AMSGrad); otherwise (another optimizer, before D's first step, or
    no Trainer attached) it is plain SGD with ``lr``. The unrolled D loss is ``gan.loss_fn.d``
    on the phase's ``real`` batch and on ``g.d_fake`` (the generator's samples after D's input
    transforms, the very inputs the unrolled critic then scores), with ``real`` passed through the
    same transforms (instance noise, augmentation, packing: drawn once per G step for all ``k``
    unrolled steps; no penalties), conditioned on the labels in the phase record.
    Buffers (batch-norm statistics) are cloned, so the running statistics of the real D do not
    change either. Under data parallelism each rank unrolls on its local batch.
    """

    def __init__(self, steps: int = 5, lr: float | None = None, higher_order: bool = True) -> None:
        super().__init__()
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(
                f"steps must be an integer >= 0 (unrolled D updates; 0 disables), got {steps!r}."
            )
        if lr is not None and not lr > 0:
            raise ValueError(
                f"lr must be a positive step size, or None to use D's learning rate; got {lr!r}."
            )
        self.steps = steps
        self.lr = lr
        self.higher_order = bool(higher_order)

    # ------------------------------------------------------------------------------ the hook
    def generator_critic(self, gan: GAN, g: GStep) -> Critic | None:
        if self.steps == 0:
            return None
        return FunctionalCritic(gan.discriminator, *self.unroll(gan, g))

    # ------------------------------------------------------------------------ the unrolling
    def unroll(self, gan: GAN, g: GStep) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """D's parameters and buffers after ``steps`` updates on ``loss_fn.d(D(real), D(fake))``.

        With ``higher_order`` the returned parameters are functions of ``g.d_fake`` (hence of G).
        D's own parameters, buffers, gradients and optimizer state are left untouched.
        """
        discriminator = gan.discriminator
        named = list(discriminator.named_parameters())
        names = [name for name, _ in named]
        # Fresh leaves: D is frozen (requires_grad=False) during the generator phase.
        values = [p.detach().requires_grad_() for _, p in named]
        buffers = {name: b.clone() for name, b in discriminator.named_buffers()}
        slots = self._adam_slots(gan, [p for _, p in named])
        lr = self.lr if self.lr is not None else self._default_lr(gan)
        fake, fake_labels = g.d_fake if self.higher_order else g.d_fake.detach(), g.d_fake_labels
        # D's input transforms (noise, augmentation, packing) apply to the unrolled loss too, so
        # the look-ahead D is trained on what the real D sees; drawn once for all k steps.
        real, real_labels = gan.discriminator_input(g.real, g.labels, True)

        moments = (
            [] if slots is None else [(s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq) for s in slots]
        )
        for k in range(1, self.steps + 1):
            critic = FunctionalCritic(discriminator, dict(zip(names, values, strict=True)), buffers)
            real_scores = split_scores(call(critic, real, real_labels))[0]
            fake_scores = split_scores(call(critic, fake, fake_labels))[0]
            loss = gan.loss_fn.d(real_scores, fake_scores)
            grads = torch.autograd.grad(
                loss, values, create_graph=self.higher_order, allow_unused=True
            )
            grads = [
                torch.zeros_like(p) if g is None else g for p, g in zip(values, grads, strict=True)
            ]
            if slots is None:
                values = [p - lr * g for p, g in zip(values, grads, strict=True)]
            else:
                steps = [
                    _adam_step(p, g, s, m, k, self.lr)
                    for p, g, s, m in zip(values, grads, slots, moments, strict=True)
                ]
                values = [p for p, _ in steps]
                moments = [m for _, m in steps]
        if not self.higher_order:
            values = [p.detach() for p in values]
        params = dict(zip(names, values, strict=True))
        return params, buffers

    # ----------------------------------------------------------------------------- plumbing
    @staticmethod
    def _d_optimizer(gan: GAN) -> torch.optim.Optimizer | None:
        """D's optimizer (second of ``configure_optimizers``), or ``None`` outside a Trainer."""
        try:
            optimizers = gan.optimizers()
        except (RuntimeError, AttributeError):
            return None
        if not isinstance(optimizers, (list, tuple)) or len(optimizers) < 2:
            return None
        return getattr(optimizers[1], "optimizer", optimizers[1])  # unwrap LightningOptimizer

    def _default_lr(self, gan: GAN) -> float:
        optimizer = self._d_optimizer(gan)
        if optimizer is not None:
            return float(optimizer.param_groups[0]["lr"])
        return float(gan.lr_d)

    def _adam_slots(self, gan: GAN, originals: list[Tensor]) -> list[_AdamSlot] | None:
        """Per-parameter Adam settings and state, or ``None`` when SGD must be used."""
        optimizer = self._d_optimizer(gan)
        if not isinstance(optimizer, torch.optim.Adam):  # AdamW subclasses Adam
            return None
        groups = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        decoupled_default = isinstance(optimizer, torch.optim.AdamW)
        slots = []
        for p in originals:
            group, state = groups.get(id(p)), optimizer.state.get(p, {})
            if group is None or "exp_avg" not in state or "step" not in state:
                return None
            beta1, beta2 = (float(b) for b in group["betas"])
            slots.append(
                _AdamSlot(
                    lr=float(group["lr"]),
                    beta1=beta1,
                    beta2=beta2,
                    eps=float(group["eps"]),
                    weight_decay=float(group.get("weight_decay", 0.0)),
                    decoupled=bool(group.get("decoupled_weight_decay", decoupled_default)),
                    amsgrad=bool(group.get("amsgrad", False)),
                    maximize=bool(group.get("maximize", False)),
                    step=float(state["step"]),
                    exp_avg=state["exp_avg"],
                    exp_avg_sq=state["exp_avg_sq"],
                    max_exp_avg_sq=state.get("max_exp_avg_sq"),
                )
            )
        return slots


def _adam_step(
    p: Tensor,
    g: Tensor,
    s: _AdamSlot,
    moments: tuple[Tensor, Tensor, Tensor | None],
    k: int,
    lr_override: float | None,
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor | None]]:
    """One out-of-place (hence differentiable) step of ``torch.optim.Adam``'s update rule.

    ``k`` is the unrolled step number (1-based), continuing D's step count. ``sqrt`` is taken of
    ``v`` clamped to the smallest normal number, so an exactly-zero second moment gives a zero
    instead of an infinite second derivative; the value differs from torch's by at most ~1e-19.
    """
    exp_avg, exp_avg_sq, max_sq = moments
    lr = s.lr if lr_override is None else lr_override
    if s.maximize:
        g = -g
    if s.weight_decay != 0.0:
        if s.decoupled:
            p = p * (1.0 - lr * s.weight_decay)
        else:
            g = g + s.weight_decay * p
    exp_avg = s.beta1 * exp_avg + (1.0 - s.beta1) * g
    exp_avg_sq = s.beta2 * exp_avg_sq + (1.0 - s.beta2) * g * g
    t = s.step + k
    bias1 = 1.0 - s.beta1**t
    bias2 = 1.0 - s.beta2**t
    second = exp_avg_sq
    if s.amsgrad:
        max_sq = exp_avg_sq if max_sq is None else torch.maximum(max_sq, exp_avg_sq)
        second = max_sq
    tiny = torch.finfo(second.dtype).tiny
    denom = second.clamp_min(tiny).sqrt() / bias2**0.5 + s.eps
    return p - (lr / bias1) * exp_avg / denom, (exp_avg, exp_avg_sq, max_sq)
