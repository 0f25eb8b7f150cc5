"""Class labels, owned here: from the batch to ``G(z, y)``, ``D(x, y)`` and back.

StyleGAN2-ADA's design: every network takes the conditioning (``G(z, c)``, ``D(x, c)``) and an
unconditional model is one without it; the loop and the losses never branch on it. The step
decides the label flow once: a conditional GAN takes ``(x, y)`` batches, conditions the
generated batch on the batch's labels (so the fake label distribution is the data's), and
calls ``G(z, y)`` / ``D(x, y)``; an unconditional GAN has ``labels=None`` everywhere and calls
``G(z)`` / ``D(x)``. The phase records (:mod:`lightning_gan.step.records`) carry the labels of
what D sees to every hook, so no callback needs an ``if conditional:``. Everything that reads
labels from a batch, validates labels or calls a network with them uses this module.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def batch_labels(batch: Any) -> Tensor | None:
    """The labels of an ``(x, y, ...)`` batch, or ``None`` for a batch without them."""
    if isinstance(batch, (tuple, list)) and len(batch) > 1 and isinstance(batch[1], Tensor):
        return batch[1]
    return None


def batch_data(batch: Any) -> Any:
    """The data of a batch: ``x`` of an ``(x, y, ...)`` pair, else the batch itself."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def conditioning_labels(batch: Any, num_classes: int | None) -> Tensor | None:
    """The labels a GAN with ``num_classes`` conditions on: ``None`` when unconditional,
    the batch's labels when conditional (refused, with the fix, when the batch has none)."""
    if num_classes is None:
        return None
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            f"GAN(num_classes={num_classes}) needs (x, y) batches with class labels, "
            "but the batch has no labels: use a datamodule that yields labels, or "
            "num_classes=None for an unconditional GAN."
        )
    return batch[1]


def call(network: Any, x: Tensor, labels: Tensor | None) -> Any:
    """``network(x)`` without labels, ``network(x, labels)`` with them."""
    return network(x) if labels is None else network(x, labels)


def split_scores(output: Any) -> tuple[Tensor, Tensor | None]:
    """D's raw output as ``(scores [B], class logits or None)``.

    An auxiliary-classifier discriminator (ACGAN) returns ``(scores, logits)``; every other
    discriminator returns the scores alone (``[B]`` or ``[B, 1]``).
    """
    if isinstance(output, tuple):
        return output[0].reshape(-1), output[1]
    return output.reshape(-1), None


def scores(network: Any, x: Tensor, labels: Tensor | None = None) -> Tensor:
    """D's scores ``[B]`` of ``x`` (conditioned on ``labels`` when given), logits dropped."""
    return split_scores(call(network, x, labels))[0]


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> Tensor:
    """``0, 1, ..., K-1, 0, 1, ...``: every class equally often (within one) in ``n`` labels."""
    return torch.arange(n, device=device) % num_classes


def check_labels(labels: Any, n: int | None, num_classes: int | None, what: str) -> Tensor | None:
    """Validate labels given by a user (``sample(labels=...)``) with the fix in the message."""
    if num_classes is None:
        if labels is not None:
            raise ValueError(
                f"{what}: this GAN is unconditional (num_classes=None), so it takes no labels; "
                "build it with GAN(num_classes=K) and conditional networks to use labels."
            )
        return None
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.dim() != 1:
        raise ValueError(
            f"{what}: labels must be a 1-D integer tensor of class indices, got dtype "
            f"{labels.dtype} and shape {tuple(labels.shape)}."
        )
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"{what}: got {labels.shape[0]} labels for {n} samples; give one each.")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{what}: labels must lie in [0, {num_classes}) for num_classes={num_classes}, got "
            f"values in [{int(labels.min())}, {int(labels.max())}]."
        )
    return labels.long()


def check_batch_labels(labels: Any, n: int, num_classes: int | None) -> None:
    """The first training batch's labels: one integer class index per sample, in range."""
    if num_classes is None:
        return
    if (
        not isinstance(labels, Tensor)
        or labels.dtype.is_floating_point
        or labels.dtype == torch.bool
        or labels.dim() != 1
        or labels.shape[0] != n
    ):
        got = (
            f"dtype {labels.dtype} and shape {tuple(labels.shape)}"
            if isinstance(labels, Tensor)
            else type(labels).__name__
        )
        raise ValueError(
            f"A conditional GAN needs one integer class label per sample; the batch's labels "
            f"have {got}: yield (x, y) with y an int64 tensor [B] of class indices."
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"Batch labels span [{int(labels.min())}, {int(labels.max())}] but "
            f"num_classes={num_classes}: labels must lie in [0, num_classes); set num_classes "
            "to the number of classes of the data (e.g. `datamodule.num_classes`)."
        )
