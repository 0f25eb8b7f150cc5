"""DiffAugment's differentiable image augmentations (Zhao et al. 2020), in plain torch ops.

Every op takes images ``[B, C, H, W]`` and draws one random transform per sample; each is a
composition of additions, multiplications and index gathers, so gradients flow to the input
(and through it to the generator). The ops follow the authors' ``DiffAugment_pytorch.py``:

* ``color``: brightness ``x + U(-0.5, 0.5)``, saturation ``(x - mean_C) * U(0, 2) + mean_C``,
  contrast ``(x - mean_CHW) * U(0.5, 1.5) + mean_CHW`` (for ``[-1, 1]`` images);
* ``translation``: an integer shift of up to ``ratio`` (1/8) of each side, zero-filled;
* ``cutout``: one zeroed square of ``ratio`` (1/2) of each side, its centre anywhere in the image;
* ``flip`` (not in DiffAugment; the horizontal flip of CR-GAN / bCR): mirror with probability 1/2.

Why not kornia: ``benchmarks/augment_ops.py`` measured these ops and kornia's closest
equivalents (docs/remedies_sota.md); kornia's colour ops assume ``[0, 1]`` RGB images and its
translation is bilinear, not DiffAugment's integer shift, and it was slower per batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Op = Callable[[Tensor], Tensor]


def check_images(x: Tensor, who: str) -> None:
    """Refuse anything but an image batch ``[B, C, H, W]``, naming the fix."""
    if x.dim() != 4:
        raise ValueError(
            f"{who} augments images [B, C, H, W], but D's inputs have shape {list(x.shape)}: "
            "use it with image data only; for vectors such as the 2-D mixtures use "
            "InstanceNoise, the input-space smoothing that makes sense there."
        )


def _uniform(x: Tensor) -> Tensor:
    """One ``U(0, 1)`` draw per sample, broadcastable over ``[B, C, H, W]``."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: Tensor) -> Tensor:
    """Add ``U(-0.5, 0.5)`` to every pixel of a sample."""
    return x + (_uniform(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's deviation from its channel mean by ``U(0, 2)`` (identity for C = 1)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale each sample's deviation from its mean by ``U(0.5, 1.5)``."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translate(x: Tensor, dy: Tensor, dx: Tensor, padding: str = "zeros") -> Tensor:
    """``out[b, :, i, j] = x[b, :, i - dy[b], j - dx[b]]``; where that falls outside, zero
    (``padding="zeros"``, DiffAugment's) or the mirror image across the border
    (``"reflect"``, as ``F.pad(mode="reflect")``: CR-GAN's and StudioGAN's bCR).

    ``dy``, ``dx``: integer shifts ``[B]`` (content moves down / right for positive values),
    smaller than the side for ``"reflect"``. A gather, so the gradient w.r.t. ``x`` is the
    shift's transpose.
    """
    b, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(b, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(b, 1, 1)
    if padding == "reflect":
        # Mirror without repeating the edge pixel: -1 -> 1, h -> h - 2.
        rows = (h - 1) - ((h - 1) - rows.abs()).abs()
        cols = (w - 1) - ((w - 1) - cols.abs()).abs()
        inside = None
    else:
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # [B, H, W]
    source = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)
    index = source.view(b, 1, h * w).expand(b, c, h * w)
    out = x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)
    return out if inside is None else out * inside.unsqueeze(1).to(x.dtype)


def translation(x: Tensor, ratio: float = 0.125, padding: str = "zeros") -> Tensor:
    """Shift each sample by integers uniform in ``[-round(ratio H), round(ratio H)]`` (and W),
    filling with ``padding`` (see :func:`translate`)."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b,), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b,), device=x.device)
    return translate(x, dy, dx, padding)


def cutout_at(x: Tensor, top: Tensor, left: Tensor, height: int, width: int) -> Tensor:
    """Zero rows ``[top, top + height)`` x columns ``[left, left + width)`` of each sample
    (``top``, ``left``: ``[B]``, may be negative or run past the border: the square is clipped)."""
    b, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = top.view(b, 1, 1), left.view(b, 1, 1)
    inside = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one ``round(ratio H) x round(ratio W)`` square per sample, centred uniformly.

    As in DiffAugment, the centre lies in ``[0, H + (1 - size % 2))``, so the square may be
    clipped by the border.
    """
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b,), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b,), device=x.device)
    return cutout_at(x, cy - ch // 2, cx - cw // 2, ch, cw)


def flip(x: Tensor) -> Tensor:
    """Mirror each sample horizontally with probability 1/2."""
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(mask, x.flip(3), x)


#: Policy names and the ops each applies, in order (DiffAugment's three, plus ``flip``).
POLICIES: dict[str, tuple[str, ...]] = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
    "flip": ("flip",),
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``, unknown names refused."""
    if not isinstance(policy, str):
        raise ValueError(f"policy must be a comma-separated string, got {policy!r}.")
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown or not names:
        raise ValueError(
            f"Unknown augmentation policy {policy!r}: use a comma-separated subset of "
            f"{', '.join(POLICIES)} (e.g. 'color,translation,cutout', DiffAugment's default)."
        )
    return names


def check_ratio(name: str, value: float) -> float:
    """A fraction of the image side in ``(0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(
            f"{name} must be a fraction of the image side in (0, 1], got {value!r} "
            "(DiffAugment: translation 0.125, cutout 0.5)."
        )
    return float(value)


def diff_augment(
    x: Tensor,
    policy: tuple[str, ...] = ("color", "translation", "cutout"),
    translation_ratio: float = 0.125,
    cutout_ratio: float = 0.5,
    translation_padding: str = "zeros",
) -> Tensor:
    """Apply the ops of ``policy`` (names from :data:`POLICIES`) to images ``x``, in order."""
    for name in policy:
        if name == "color":
            x = contrast(saturation(brightness(x)))
        elif name == "translation":
            x = translation(x, translation_ratio, translation_padding)
        elif name == "cutout":
            x = cutout(x, cutout_ratio)
        elif name == "flip":
            x = flip(x)
    return x
