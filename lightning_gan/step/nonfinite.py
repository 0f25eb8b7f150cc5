"""The non-finite policy of the GAN step: a NaN/inf update is never applied.

Split from the step (``module.py``) because it is the one part of an optimizer step that depends
on the precision plugin: in fp32/bf16 the gradients are checked directly; under fp16 AMP the
``GradScaler`` owns the decision and only a long run of skipped steps counts as divergence.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lightning_gan.step.records import NetworkRecord

NONFINITE_ACTIONS = ("stop", "skip", "raise", "off")
# Consecutive GradScaler-skipped steps of one network after which its gradients count as
# non-finite: each skip halves the loss scale, so 20 of them mean a scale 2**20 (~1e6) lower and
# an overflow that is no longer the scale's fault (fp16 start-up needs a handful at most).
SCALER_SKIP_LIMIT = 20
# Consecutive dropped updates of one network after which GAN(nonfinite="skip") stops the run:
# every update of a network skipped means it is frozen and the run only looks like it trains.
SKIP_STREAK_LIMIT = 100


class NonFiniteError(FloatingPointError):
    """A GAN step produced NaN/inf gradients, or a checkpoint would hold non-finite weights."""


class NonFinitePolicy:
    """The non-finite decision of each optimizer step of one fit (``GAN(nonfinite=...)``).

    Under fp16 AMP a network's ``GradScaler`` (:attr:`NetworkRecord.scaler`) owns the decision;
    otherwise the step checks the (already rank-averaged) gradients itself.
    """

    def __init__(self, action: str) -> None:
        self.action = action

    def step(self, gan: Any, net: NetworkRecord) -> bool:
        """Step ``net``'s optimizer if its gradients allow it; True if it stepped."""
        optimizer = net.optimizer
        if net.scaler is not None:
            return self._scaled_step(gan, net)
        # The optimizer's parameters are the ones the update would change (and need no walk of
        # the module tree).
        if self.action != "off" and not gradients_finite(
            p for group in optimizer.param_groups for p in group["params"]
        ):
            optimizer.zero_grad(set_to_none=True)
            self._on_nonfinite(gan, net)
            return False
        optimizer.step()
        net.skipped_updates = 0
        return True

    def _scaled_step(self, gan: Any, net: NetworkRecord) -> bool:
        """Step through the network's ``GradScaler``, which owns the decision under fp16 AMP.

        The gradients here are multiplied by the loss scale, so they overflow whenever the scale
        is too high, which the scaler expects: Lightning's ``optimizer.step()`` unscales, skips
        the update if anything is non-finite, and halves the scale. Checking them ourselves would
        treat those routine overflows as divergence (stopping at step 1, or skipping forever
        because the scaler never gets to lower its scale). A skipped step shows as a lower scale
        after the step; only a run of :data:`SCALER_SKIP_LIMIT` of them for one network (a
        scale 2**20 lower) means gradients that no scale makes finite, and gets the policy.
        """
        if self.action == "off":
            net.optimizer.step()
            return True
        if net.last_scale is None:  # first step of this fit (the scale may come from a resume)
            net.last_scale = net.scaler.get_scale()
        before = net.last_scale
        net.optimizer.step()
        net.last_scale = net.scaler.get_scale()  # one host sync, as the check it replaces
        if net.last_scale >= before:
            net.scaler_skips = 0
            net.skipped_updates = 0
            return True
        net.scaler_skips += 1
        if net.scaler_skips >= SCALER_SKIP_LIMIT:
            net.scaler_skips = 0
            self._on_nonfinite(gan, net)
        return False

    def _on_nonfinite(self, gan: Any, net: NetworkRecord) -> None:
        message = (
            f"Non-finite {net.name} gradients at d_step {gan.d_steps}, g_step {gan.g_steps}; the "
            "update was not applied. " + nonfinite_cause(gan._last_real[0])
        )
        if self.action == "raise":
            raise NonFiniteError(message + " Or use GAN(nonfinite='skip') to drop such updates.")
        gan.nonfinite_skips += 1
        net.skipped_updates += 1
        gan.log("nonfinite/skipped", float(gan.nonfinite_skips))
        if self.action == "stop":
            rank_zero_warn(
                message + " Or use GAN(nonfinite='skip') to drop such updates. Training stops "
                "here (GAN(nonfinite='stop'))."
            )
            gan.trainer.should_stop = True
        elif net.skipped_updates >= SKIP_STREAK_LIMIT:
            # 'skip' is for the odd bad batch; a network that never updates is a failed run
            # that would otherwise "succeed" with frozen weights.
            rank_zero_warn(
                f"{message} The last {net.skipped_updates} {net.name} updates in a row were all "
                f"skipped (GAN(nonfinite='skip')), so the {net.name} no longer trains: training "
                "stops here. Fix the cause above; 'skip' is meant for rare bad batches."
            )
            gan.trainer.should_stop = True


def nonfinite_cause(real: Any) -> str:
    """The likely cause, for the message: the data when this batch holds NaN/inf, else the
    optimisation (checked only here, after a failure, so it costs nothing per step)."""
    if isinstance(real, Tensor) and not bool(torch.isfinite(real).all()):
        return (
            "This batch of real data holds NaN/inf values: clean the dataset (e.g. "
            "`torch.nan_to_num`, or drop the bad samples) before training."
        )
    return "Lower the learning rates, add a penalty (GradientPenalty, R1Penalty) or SpectralNorm."


def gradients_finite(params: Iterable[Tensor]) -> bool:
    """Whether every gradient element of ``params`` is finite: one fused pass, one host sync.

    The check is the one ``GradScaler`` runs before each step (a fused foreach kernel per device
    and dtype, with a scale of exactly 1 so the gradients keep their values), ~5x cheaper on CPU
    than a total norm, and it flags only NaN/inf elements (a norm overflows to inf on large but
    finite gradients). Falls back to the total norm where the kernel is unavailable.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for grad in grads:
        groups.setdefault((grad.device, grad.dtype), []).append(grad)
    try:
        found = False
        for (device, _), group in groups.items():
            flag = torch.zeros(1, device=device)
            torch._amp_foreach_non_finite_check_and_unscale_(
                group, flag, torch.ones(1, device=device)
            )
            found = found or bool(flag.item())
        return not found
    except (AttributeError, NotImplementedError, RuntimeError):  # no kernel for this device/type
        return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))
