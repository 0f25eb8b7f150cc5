"""The divergence guard of :class:`~lightning_gan.callbacks.GANHealth`: NaN/inf ends the run
before any checkpoint holds it.

Split from ``health.py`` because it is a policy about weights and optimizer states (undo the
bad update, stop or raise), not a diagnostic signal.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lightning_gan.metrics.health_signals import total_norm


class GANTrainingFailure(RuntimeError):
    """Raised by :class:`GANHealth` with ``on_failure="raise"``; names the flags that fired."""

    def __init__(self, message: str, flags: list[str], step: int) -> None:
        super().__init__(message)
        self.flags = flags
        self.step = step


class DivergenceGuard:
    """Mixin of ``GANHealth``: the finite check after each step, and the weight snapshot."""

    on_failure: str
    flags: dict[str, bool]
    fired_at: dict[str, int | None]
    _module_guards: bool
    _skips_seen: int
    _snapshot: Any
    _halted: bool
    _diverged_now: bool

    def _check_finite(self, gan: Any, loss: Tensor, network: torch.nn.Module, name: str) -> None:
        """Right after an optimizer step: a NaN/inf must end the run before any checkpoint.

        When the module guards its own updates (``GAN(nonfinite=...)`` not ``"off"``), a
        non-finite gradient was never applied and ``gan.nonfinite_skips`` counts it: reading that
        integer costs nothing. Otherwise this callback is the guard: it checks the loss and the
        new weights (one host sync) and, unless raising, restores the last verified state.
        """
        skips = getattr(gan, "nonfinite_skips", None)
        if self._module_guards:
            if skips is not None and skips > self._skips_seen:
                self._skips_seen = skips
                self._divergence(gan, f"non-finite {name} gradients (update not applied)", False)
            return
        weight_norm = total_norm(network.parameters()).to(loss.device)
        if not bool(torch.isfinite(torch.stack([loss.float().reshape(()), weight_norm])).all()):
            what = (
                f"non-finite {name} loss ({float(loss):g}) or weights (norm {float(weight_norm):g})"
            )
            self._divergence(gan, what, True)

    def _divergence(self, gan: Any, what: str, weights_bad: bool) -> None:
        self.flags["divergence"] = True
        self._diverged_now = True
        step = int(getattr(gan, "g_steps", 0))
        if self.fired_at["divergence"] is None:
            self.fired_at["divergence"] = step
        message = (
            f"GANHealth: divergence at generator step {step} (batch {getattr(gan, 'd_steps', 0)})"
            f": {what} right after the optimizer step."
        )
        trainer = gan.trainer
        if self.on_failure == "raise" or (weights_bad and self._snapshot is None):
            self._halted = True
            raise GANTrainingFailure(
                message + " Training stopped before any checkpoint of these weights.",
                ["divergence"],
                step,
            )
        if weights_bad:  # the weights are lost: go back to the last verified ones and stop
            self._halted = True
            self._restore_snapshot(trainer, gan)
            trainer.should_stop = True
            message += (
                " Restored the last finite weights and optimizer states and stopped training; "
                "checkpoints written now hold the restored weights."
            )
        elif self.on_failure == "stop":
            self._halted = True
            trainer.should_stop = True
            message += " Stopping training."
        rank_zero_warn(message)

    @property
    def _needs_snapshot(self) -> bool:
        """Only this callback's own guard (module guard off) may need to undo a bad update."""
        return self.on_failure != "raise" and not self._module_guards

    def _take_snapshot(self, trainer: Trainer, pl_module: LightningModule) -> None:
        weights = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        optimizers = [copy.deepcopy(opt.state_dict()) for opt in trainer.optimizers]
        self._snapshot = (weights, optimizers)

    def _restore_snapshot(self, trainer: Trainer, pl_module: LightningModule) -> None:
        weights, optimizers = self._snapshot
        pl_module.load_state_dict(weights)
        for opt, state in zip(trainer.optimizers, optimizers, strict=True):
            opt.load_state_dict(copy.deepcopy(state))
