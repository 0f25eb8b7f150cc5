"""Argument and label checks shared by the reference nets (the conditioning contract's errors).

One place, so that the four nets refuse the same mistakes in the same words and name the fix.

Cost policy for labels (these checks run in every forward, on the training hot path):

- dtype, shape and device are tensor metadata: checked on every call, for well under a
  microsecond.
- The value range ``[0, num_classes)`` needs the values. On CPU tensors it is checked on every
  call (one ``aminmax`` over ``B`` integers, a couple of microseconds, no synchronisation). On
  accelerator tensors it is *not* checked: reading the result back would force a host sync
  every step. There an out-of-range label still fails loudly, in the embedding lookup's own
  device-side bounds assert, but as a CUDA error rather than this module's ValueError; check
  dataset labels once at the data door instead. The check is also skipped while
  ``torch.compile`` traces, where a data-dependent branch would break the graph.
"""

from __future__ import annotations

import torch
from torch import Tensor

_LABEL_DTYPES = (torch.int64, torch.int32)


def check_positive_int(name: str, value: object, minimum: int, fix: str) -> int:
    """``value`` as an int ``>= minimum`` (bools refused), or ValueError naming ``fix``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: {fix}.")
    return value


def check_num_classes(num_classes: object) -> int | None:
    """None (unconditional) or a class count >= 1."""
    if num_classes is None:
        return None
    return check_positive_int(
        "num_classes",
        num_classes,
        1,
        "pass the number of classes K >= 1 (labels are ints in [0, K)), or None for an "
        "unconditional net",
    )


def refuse_labels(net: str) -> ValueError:
    """The error for labels given to a net built unconditional."""
    return ValueError(
        f"{net} was built unconditional (num_classes=None) but was called with labels: build it "
        "with num_classes=K to condition on class labels, or call it without labels."
    )


def check_labels(
    labels: Tensor | None,
    *,
    net: str,
    num_classes: int,
    shape: tuple[int, ...],
    device: torch.device,
) -> Tensor:
    """Return ``labels`` if they are int class indices of ``shape`` in ``[0, num_classes)``.

    ``shape`` is what the net expects: ``(B,)``, or ``(B, pack)`` for a packed discriminator.
    See the module docstring for which checks run where.
    """
    if labels is None:
        raise ValueError(
            f"{net} was built with num_classes={num_classes} and needs labels: call it with "
            f"int64 class indices of shape {list(shape)} in [0, {num_classes}), e.g. "
            "net(inputs, labels)."
        )
    if not isinstance(labels, Tensor) or labels.dtype not in _LABEL_DTYPES:
        got = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(
            f"{net} needs int64 class-index labels, got {got}: pass a LongTensor "
            "(e.g. labels.long(); one-hot labels: labels.argmax(1))."
        )
    if tuple(labels.shape) != shape:
        if len(shape) == 2:  # a packed discriminator: m labels per packed input
            layout = f"[B/{shape[1]}, {shape[1]}]: the labels of each packed sample's members"
            fix = "pass the labels packed like the inputs (the Packing callback does this)"
        else:
            layout = "[B]: one label per sample"
            fix = "pass one label per sample of the same batch"
        raise ValueError(
            f"{net} expects labels of shape {list(shape)} ({layout}), got "
            f"{list(labels.shape)}: {fix}."
        )
    if labels.device != device:
        raise ValueError(
            f"{net} got labels on {labels.device} and inputs on {device}: move the labels "
            "with labels.to(inputs.device)."
        )
    if labels.device.type == "cpu" and labels.numel() and not torch.compiler.is_compiling():
        low, high = (value.item() for value in torch.aminmax(labels))
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{net} was built with num_classes={num_classes} but got labels in "
                f"[{low}, {high}]: labels must lie in [0, {num_classes}); build the net with "
                "num_classes at least max(label) + 1 (and no negative labels)."
            )
    return labels


def generator_labels(net: torch.nn.Module, z: Tensor, labels: Tensor | None) -> Tensor | None:
    """The labels a reference generator conditions on: refused when it is unconditional,
    checked (present, int, ``[B]``, on ``z``'s device, in range) when it is conditional."""
    name = type(net).__name__
    if net.num_classes is None:
        if labels is not None:
            raise refuse_labels(name)
        return None
    return check_labels(
        labels, net=name, num_classes=net.num_classes, shape=(z.shape[0],), device=z.device
    )
