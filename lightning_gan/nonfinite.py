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
from torch import Tensor, nn

NONFINITE_ACTIONS = ("stop", "skip", "raise", "off")
# Consecutive GradScaler-skipped steps of one network after which its gradients count as
# non-finite: each skip halves the loss scale, so 20 of them mean a scale 2**20 (~1e6) lower and
# an overflow that is no longer the scale's fault (fp16 start-up needs a handful at most).
SCALER_SKIP_LIMIT = 20


class NonFiniteError(FloatingPointError):
    """A GAN step produced NaN/inf gradients, or a checkpoint would hold non-finite weights."""


class NonFiniteGuard:
    """Mixin of :class:`~lightning_gan.GAN`: step an optimizer unless its gradients are NaN/inf.

    Expects ``nonfinite``, ``generator``, ``d_steps``, ``g_steps``, ``trainer`` and ``log`` on
    the class it is mixed into.
    """

    nonfinite: str
    nonfinite_skips: int
    generator: nn.Module

    def _reset_guard(self, trainer: Any) -> None:
        """Per fit: fp16 AMP's GradScaler (fixed for the fit; its scale is read afresh)."""
        self._scaler = getattr(trainer.precision_plugin, "scaler", None)
        self._scale: float | None = None
        self._scaler_skips = {"generator": 0, "discriminator": 0}

    def _guarded_step(self, optimizer: Any, network: nn.Module) -> bool:
        """Step ``optimizer`` if its (already rank-averaged) gradients allow it; True if stepped."""
        scaler = self._scaler
        if scaler is not None:
            return self._scaled_step(optimizer, network, scaler)
        # The optimizer's parameters are the ones the update would change (and need no walk of
        # the module tree).
        if self.nonfinite != "off" and not gradients_finite(
            p for group in optimizer.param_groups for p in group["params"]
        ):
            optimizer.zero_grad(set_to_none=True)
            self._on_nonfinite(network)
            return False
        optimizer.step()
        return True

    def _scaled_step(self, optimizer: Any, network: nn.Module, scaler: Any) -> bool:
        """Step through a ``GradScaler``, which owns the non-finite decision under fp16 AMP.

        The gradients here are multiplied by the loss scale, so they overflow whenever the scale
        is too high, which the scaler expects: Lightning's ``optimizer.step()`` unscales, skips
        the update if anything is non-finite, and halves the scale. Checking them ourselves would
        treat those routine overflows as divergence (stopping at step 1, or skipping forever
        because the scaler never gets to lower its scale). A skipped step shows as a lower scale
        after the step; only a run of :data:`SCALER_SKIP_LIMIT` of them for one network (a
        scale 2**20 lower) means gradients that no scale makes finite, and gets the policy.
        """
        if self.nonfinite == "off":
            optimizer.step()
            return True
        if self._scale is None:  # first step of this process (the scale may come from a resume)
            self._scale = scaler.get_scale()
        before = self._scale
        optimizer.step()
        name = "generator" if network is self.generator else "discriminator"
        self._scale = scaler.get_scale()  # one host sync, as the check it replaces
        if self._scale >= before:
            self._scaler_skips[name] = 0
            return True
        self._scaler_skips[name] += 1
        if self._scaler_skips[name] >= SCALER_SKIP_LIMIT:
            self._scaler_skips[name] = 0
            self._on_nonfinite(network)
        return False

    def _on_nonfinite(self, network: nn.Module) -> None:
        name = "generator" if network is self.generator else "discriminator"
        message = (
            f"Non-finite {name} gradients at d_step {self.d_steps}, g_step {self.g_steps}; the "
            "update was not applied. "
            + self._nonfinite_cause()
            + " Or use GAN(nonfinite='skip') to drop such updates."
        )
        if self.nonfinite == "raise":
            raise NonFiniteError(message)
        self.nonfinite_skips += 1
        self.log("nonfinite/skipped", float(self.nonfinite_skips))
        if self.nonfinite == "stop":
            rank_zero_warn(message + " Training stops here (GAN(nonfinite='stop')).")
            self.trainer.should_stop = True

    def _nonfinite_cause(self) -> str:
        """The likely cause, for the message: the data when this batch holds NaN/inf, else the
        optimisation (checked only here, after a failure, so it costs nothing per step)."""
        real = getattr(self, "_last_real", [None])[0]
        if isinstance(real, Tensor) and not bool(torch.isfinite(real).all()):
            return (
                "This batch of real data holds NaN/inf values: clean the dataset (e.g. "
                "`torch.nan_to_num`, or drop the bad samples) before training."
            )
        return (
            "Lower the learning rates, add a penalty (GradientPenalty, R1Penalty) or SpectralNorm."
        )


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
