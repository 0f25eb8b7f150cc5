"""The one loop body every optimizer step of the GAN runs, for either network.

StyleGAN2-ADA's loop does, per phase: zero the phase's gradients, backward, average across
ranks, sanitise, step. Here :func:`optimize` does the same for a
:class:`~lightning_gan.step.records.NetworkRecord`, with gradient accumulation folded in:
Lightning's ``accumulate_grad_batches`` works only under automatic optimisation, so the step
accumulates itself: each network's gradients sum ``loss / k`` over ``k`` micro-batches and its
optimizer steps once, which equals one step on a ``k`` times larger batch for networks without
batch statistics (tested to 1e-6); DDP's own gradient sync is blocked on non-final micro-batches.

Under fp16 AMP each network has its own ``GradScaler`` (:func:`bind_scalers`): Lightning's
precision plugin holds one scaler for the module, so a D step that overflows would otherwise
halve G's loss scale too. The plugin's scaler is pointed at the stepped network's scaler for
its backward and step, and back at G's afterwards (the one Lightning checkpoints; D's is saved
by the GAN's own checkpoint state).
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from typing import Any

from torch import Tensor

from lightning_gan.step.records import NetworkRecord

Batch = tuple[Tensor, Tensor | None]


def optimize(
    gan: Any, net: NetworkRecord, loss: Tensor, reported: Tensor, batch: Batch
) -> list[Batch] | None:
    """Backpropagate ``loss`` into ``net`` and step its optimizer once ``accumulate`` allows.

    Zeroing here, for the network being stepped, is what keeps gradients left on the other
    network by the previous phase from leaking into this update. The finiteness check runs on
    the rank-averaged gradients, so every rank takes the same decision. Returns the step's
    micro-batches (``[batch]`` without accumulation) when the optimizer stepped, else ``None``;
    ``net.micro_loss`` then holds the step's mean of ``reported`` (the loss without penalties,
    detached), the value logged as the network's loss.
    """
    k = gan.accumulate
    if net.scaler is not None:
        gan.trainer.precision_plugin.scaler = net.scaler
    if k == 1:
        net.optimizer.zero_grad(set_to_none=True)
        gan.manual_backward(loss)
        net.micro_loss = reported.detach()
        _finish(gan, net)
        return [batch]
    if net.micro_count == 0:
        net.optimizer.zero_grad(set_to_none=True)
        net.micro_batches = []
        net.micro_loss = reported.detach() / k
    else:
        net.micro_loss = net.micro_loss + reported.detach() / k
    net.micro_batches.append(batch)
    net.micro_count += 1
    if net.micro_count < k:
        with _no_sync(gan.trainer.strategy):
            gan.manual_backward(loss / k)
        return None
    gan.manual_backward(loss / k)
    net.micro_count = 0
    _finish(gan, net)
    batches, net.micro_batches = net.micro_batches, []
    return batches


def _finish(gan: Any, net: NetworkRecord) -> None:
    """Average the gradients across ranks (under ``gan_ddp``), then the guarded step."""
    sync = gan._grad_sync
    if sync is not None:
        sync(net.module)
    gan._nonfinite_policy.step(gan, net)
    net.steps += 1
    if net.scaler is not None:
        gan.trainer.precision_plugin.scaler = gan.g_record.scaler


def bind_scalers(trainer: Any, g: NetworkRecord, d: NetworkRecord, saved: Any) -> None:
    """Give each network its own ``GradScaler`` under fp16 AMP (else none), once per fit.

    G keeps the plugin's scaler (Lightning checkpoints and restores it); D gets a twin with the
    same settings, restored from ``saved`` (a checkpoint's ``gan_scalers``) on resume.
    """
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    g.scaler = scaler
    d.scaler = None if scaler is None else copy.deepcopy(scaler)
    if d.scaler is not None and saved and saved.get(d.name) is not None:
        d.scaler.load_state_dict(saved[d.name])


def _no_sync(strategy: Any) -> Any:
    """DDP's gradient sync off for a non-final micro-batch (nothing to block without DDP)."""
    block = getattr(strategy, "block_backward_sync", None)
    return block() if block is not None else nullcontext()
