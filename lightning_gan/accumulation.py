"""Gradient accumulation for the two networks of a GAN (``GAN(accumulate=k)``).

Lightning's ``accumulate_grad_batches`` works only under automatic optimisation, and manual
optimisation leaves it to the module (DESIGN.md: "skip gradient sync on non-final
micro-batches"), so the step accumulates here: each network's gradients sum ``loss / k`` over
``k`` micro-batches and its optimizer steps once, which equals one step on a ``k`` times larger
batch for networks without batch statistics (tested to 1e-6).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from torch import Tensor, nn


def _no_sync(strategy: Any) -> Any:
    """DDP's gradient sync off for a non-final micro-batch (nothing to block without DDP)."""
    block = getattr(strategy, "block_backward_sync", None)
    return block() if block is not None else nullcontext()


class Accumulation:
    """Mixin of :class:`~lightning_gan.GAN`: one micro-batch of an accumulated optimizer step."""

    accumulate: int
    generator: nn.Module
    _micro_counts: dict[str, int]
    _micro_batches: dict[str, list[tuple[Tensor, Tensor | None]]]
    _micro_losses: dict[str, Tensor]

    def _accumulate(
        self,
        optimizer: Any,
        network: nn.Module,
        loss: Tensor,
        batch: tuple[Tensor, Tensor | None] | None,
    ) -> list[tuple[Tensor, Tensor | None]] | None:
        """Add one micro-batch's ``loss / k`` to ``network``'s gradients; on the k-th, step.

        Gradients are zeroed at the first micro-batch of each step, rank-averaged once (at the
        last; DDP's own sync is blocked before it), and the step is guarded as without
        accumulation. Returns the step's micro-batches when it stepped, else ``None``.
        """
        name = "generator" if network is self.generator else "discriminator"
        count = self._micro_counts[name]
        if count == 0:
            optimizer.zero_grad(set_to_none=True)
            self._micro_batches[name] = []
            self._micro_losses[name] = loss.detach() / self.accumulate
        else:
            self._micro_losses[name] = self._micro_losses[name] + loss.detach() / self.accumulate
        if batch is not None:
            self._micro_batches[name].append(batch)
        last = count + 1 == self.accumulate
        if last:
            self.manual_backward(loss / self.accumulate)
        else:
            with _no_sync(self.trainer.strategy):
                self.manual_backward(loss / self.accumulate)
        self._micro_counts[name] = 0 if last else count + 1
        if not last:
            return None
        if self._grad_sync is not None:
            self._grad_sync(network)
        self._guarded_step(optimizer, network)
        return self._micro_batches.pop(name)
