"""Image decoding and the one transform every image datamodule uses: to ``[C, H, W]`` in [-1, 1].

Decoding is PIL's, the decoder torchvision's own ``datasets.ImageFolder`` uses (its
``default_loader``), not ``torchvision.io.decode_image``: the latter is deprecated since
torchvision 0.29 (a DeprecationWarning per call, superseded by TorchCodec), it cannot read BMP,
and it crashed the process (SIGSEGV inside libpng) on a PNG with a corrupted data chunk where PIL
raises an exception (checked on torchvision 0.29.1).

Colour handling, decided once here:

- transparency (RGBA, LA, palette or colour-key transparency) is composited on black, so a
  transparent pixel is the GAN's background value -1 whatever colour the encoder stored under
  it (dropping alpha would expose those arbitrary colours);
- 16-bit greyscale is rescaled to 8 bits (PIL's own conversion would clip it at 255);
- one channel is ITU-R 601-2 luma (PIL's ``convert("L")``, exact for grey pixels; torchvision's
  ``Grayscale`` on uint8 truncates, turning white 255 into 254), three is RGB (grey repeated);
- resizing (shorter side to ``image_size``, antialiased) and the centre crop run on uint8, then
  ``ToDtype(scale=True)`` and ``Normalize(0.5, 0.5)`` map 0 and 255 to exactly -1 and 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".webp")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class UnreadableImageError(ValueError):
    """An image file that PIL cannot decode; the message names the file."""


def is_image_file(path: str | Path) -> bool:
    """Whether the name ends with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def open_image(path: str | Path) -> Image.Image:
    """Decode ``path`` completely (``load``), so truncated files fail here and not later."""
    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(
            f"cannot decode image {path}: {error}. Delete or re-save the file."
        ) from error
    return image


def check_image(path: str | Path, full: bool = True) -> str | None:
    """Why ``path`` cannot be used (``None`` when it can).

    ``full`` decodes every pixel (catches truncated files of every format); otherwise only the
    header is read (catches empty, non-image and mislabelled files, at about half the cost).
    """
    try:
        if full:
            open_image(path)
        else:
            with Image.open(path) as image:
                _ = image.size
    except UnreadableImageError as error:
        return str(error.__cause__)
    except (OSError, SyntaxError, ValueError) as error:
        return str(error)
    return None


class ToChannels:
    """PIL image of any mode -> ``"L"`` (channels=1) or ``"RGB"`` (channels=3), alpha on black."""

    def __init__(self, channels: int) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels={channels} is not supported: pass channels=1 or 3.")
        self.channels = channels

    def __call__(self, image: Image.Image) -> Image.Image:
        if image.mode in _SIXTEEN_BIT:
            wide = np.asarray(image, dtype=np.float64)
            image = Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8))
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            image = Image.alpha_composite(black, rgba)
        return image.convert("L" if self.channels == 1 else "RGB")

    def __repr__(self) -> str:
        return f"ToChannels(channels={self.channels})"


def gan_transform(channels: int, image_size: int | Sequence[int] | None = None) -> v2.Compose:
    """PIL image -> float32 ``[channels, H, W]`` in [-1, 1], resized and centre-cropped if asked."""
    steps: list = [ToChannels(channels), v2.PILToTensor()]
    if image_size is not None:
        steps += [v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
    steps += [
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.5] * channels, [0.5] * channels),
    ]
    return v2.Compose(steps)
