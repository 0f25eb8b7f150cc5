"""LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data").

With little data D's scores of real and generated images drift apart without bound. LeCam
pulls each side's scores towards an exponential moving average of the *other* side's mean
score: ``R = E||D(x) - alpha_F||^2 + E||D(G(z)) - alpha_R||^2``, with anchors ``alpha_R`` and
``alpha_F`` the EMAs of D's mean real and generated scores. The paper shows this bounds the
objective by a weighted LeCam divergence, which is more robust with few samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gan.callbacks.remedy_checks import check_open_unit_interval, check_weight
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class LeCamRegularization(GANCallback):
    """``weight * (E[relu(D(x) - alpha_F)^2] + E[relu(alpha_R - D(G(z)))^2])``, EMA anchors.

    Args:
        weight: lambda (the paper: 0.3 on CIFAR with BigGAN; 0.01-0.1 with StyleGAN2).
        ema_decay: decay of the anchors' EMA per D step (the paper: 0.99).
        warmup: D steps before the penalty starts. ``0`` (default) is the authors' TF
            StyleGAN2 code (``lecam_loss.py``): the penalty from the first step, on a
            *debiased* EMA (``assign_moving_average(..., decay=0.99, zero_debias=True)``), so
            each early step weighs as much as the steps before it instead of the first step's
            means dominating for hundreds of steps. ``N > 0`` is their PyTorch BigGAN-CIFAR
            code (``ema_losses(start_itr=1000)``, ``LC`` applied only after it): for ``N`` steps
            the anchors follow the current means and the penalty is off, then the EMA continues
            from there. (That code's EMA decays at 0.9; pass ``ema_decay=0.9`` to match it.)
        one_sided: ``True`` (default) is the authors' code, both their BigGAN
            (``losses.lecam_reg``) and StyleGAN2 (``lecam_loss.py``) implementations, which
            penalise only scores beyond the anchor:
            ``E[relu(D(x) - alpha_F)^2] + E[relu(alpha_R - D(G(z)))^2]``. ``False`` is the
            paper's formula above (eq. 3), which also pulls scores that are already inside.

    The scores are those of the D step itself (``d.real_scores``), so the penalty costs no
    extra forward. Each D step first moves the anchors towards this step's mean scores, averaged
    over ranks (one all-reduce of two numbers), so every rank holds the same anchors. The EMA is
    hand-written because torchmetrics has no exponential moving average; its cross-rank mean is
    the strategy's ``reduce``. The EMA and its step count are this callback's checkpointed
    state. Under ``GAN(accumulate=k)`` they move once per
    micro-batch. Logs ``penalty/lecam`` (unweighted), ``lecam/anchor_real`` and
    ``lecam/anchor_fake``. Works with any data and conditional GANs (labels are not involved).
    """

    name = "lecam"

    def __init__(
        self,
        weight: float = 0.3,
        ema_decay: float = 0.99,
        one_sided: bool = True,
        warmup: int = 0,
    ):
        super().__init__()
        self.weight = check_weight("weight", weight, "0.3 (BigGAN), 0.01-0.1 (StyleGAN2)")
        self.ema_decay = check_open_unit_interval("ema_decay", ema_decay, "0.99, the paper's")
        self.one_sided = bool(one_sided)
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(
                f"warmup={warmup!r} must be an integer >= 0: 0 (the authors' StyleGAN2 code) "
                "or e.g. 1000 (their BigGAN-CIFAR code)."
            )
        self.warmup = warmup
        self.anchors: Tensor | None = None  # [alpha_R, alpha_F]
        self.ema: Tensor | None = None  # biased EMA (no warm-up) or the running anchors
        self.updates = 0

    def update_anchors(self, gan: GAN, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Move the anchors towards this step's rank-averaged mean scores; return them."""
        means = torch.stack([real_scores.detach().mean(), fake_scores.detach().mean()])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            means = gan.trainer.strategy.reduce(means, reduce_op="mean")
        decay = self.ema_decay
        self.updates += 1
        if self.updates <= self.warmup:  # follow the current means (BigGAN-CIFAR's decay 0)
            self.ema = means.clone()
            self.anchors = self.ema
        elif self.warmup > 0:  # continue from the last warm-up means
            assert self.ema is not None
            self.ema = self.ema.to(means) * decay + means * (1 - decay)
            self.anchors = self.ema
        else:  # zero-debiased EMA from 0, as tf assign_moving_average(zero_debias=True)
            previous = torch.zeros_like(means) if self.ema is None else self.ema.to(means)
            self.ema = previous * decay + means * (1 - decay)
            self.anchors = self.ema / (1 - decay**self.updates)
        return self.anchors

    def value(self, real_scores: Tensor, fake_scores: Tensor, anchors: Tensor) -> Tensor:
        """The unweighted penalty for these scores and anchors ``[alpha_R, alpha_F]``."""
        alpha_r, alpha_f = anchors[0], anchors[1]
        if self.one_sided:
            return (
                F.relu(real_scores - alpha_f).square().mean()
                + F.relu(alpha_r - fake_scores).square().mean()
            )
        return (real_scores - alpha_f).square().mean() + (fake_scores - alpha_r).square().mean()

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        real_scores, fake_scores = d.real_scores, d.fake_scores
        anchors = self.update_anchors(gan, real_scores, fake_scores)
        if self.updates <= self.warmup:
            return None
        value = self.value(real_scores, fake_scores, anchors)
        if gan.log_due("penalty/lecam"):
            gan.log("penalty/lecam", value.detach())
            gan.log("lecam/anchor_real", anchors[0])
            gan.log("lecam/anchor_fake", anchors[1])
        return self.weight * value

    def state_dict(self) -> dict[str, Any]:
        def cpu(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.detach().cpu()

        return {"anchors": cpu(self.anchors), "ema": cpu(self.ema), "updates": self.updates}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        def tensor(value: Any) -> Tensor | None:
            return None if value is None else torch.as_tensor(value).clone()

        self.anchors = tensor(state_dict.get("anchors"))
        # Checkpoints from before the debiased EMA hold the anchors only: continue from them.
        self.ema = tensor(state_dict.get("ema", state_dict.get("anchors")))
        self.updates = int(state_dict.get("updates", 10**6 if self.anchors is not None else 0))
