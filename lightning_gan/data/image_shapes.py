"""What a folder of images says about the networks to build: channels and image size.

The rules, stated once (the CLI links their results to the model and the reference nets):
greyscale folders stay 1 channel, any colour image makes the folder RGB; the image size is the
shorter side of the most common size, rounded down to a side the nets support.
"""

from __future__ import annotations

from collections import Counter

from PIL import Image

from lightning_gan.nets.dcgan import _LAYOUTS

#: Image sides the reference DCGAN nets are built for: an inferred ``image_size`` is one of them.
NET_SIZES: tuple[int, ...] = tuple(sorted(_LAYOUTS))
#: Headers read to infer channels and size (evenly spaced over the files when there are more).
MAX_HEADERS = 10_000
#: PIL modes without colour: such a folder trains as 1 channel (``"LA"``: its alpha is dropped).
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _headers(files: list[str]) -> list[tuple[str, tuple[int, int]]]:
    """``(mode, (width, height))`` of up to :data:`MAX_HEADERS` files, evenly spaced.

    Header reads only (about 20 us a PNG); a file whose header cannot be read is left out here
    and named by ``setup``'s check.
    """
    step = max(1, -(-len(files) // MAX_HEADERS))
    found = []
    for path in files[::step]:
        try:
            with Image.open(path) as image:
                grey = image.mode in _GREY_MODES or (
                    image.mode == "P" and _grey_palette(image.getpalette())
                )
                found.append(("L" if grey else "RGB", image.size))
        except (OSError, SyntaxError, ValueError):
            continue
    return found


def _grey_palette(palette: list[int] | None) -> bool:
    rgb = palette or []
    return all(rgb[i] == rgb[i + 1] == rgb[i + 2] for i in range(0, len(rgb) - 2, 3))


def infer_channels(files: list[str]) -> int:
    """1 when every image read is greyscale (``L``, ``LA``, 16-bit, grey palettes), else 3.

    One colour image makes the folder RGB; RGBA and other transparency is composited on black
    (see :mod:`lightning_gan.data.images`), so it never adds a fourth channel.
    """
    headers = _headers(files)
    return 1 if headers and all(mode == "L" for mode, _ in headers) else 3


def infer_image_size(files: list[str], sizes: tuple[int, ...] = NET_SIZES) -> tuple[int, str]:
    """``(image_size, why)``: the shorter side of the most common image size, rounded down to
    one of ``sizes`` (the reference nets' sides: 8, 28, 32), or the smallest of them when the
    images are smaller still.

    Rounded down because resizing down keeps the content and costs less, while resizing up adds
    no detail; ``why`` states the rule with the numbers, for the log line.
    """
    headers = _headers(files)
    if not headers:
        return max(sizes), f"no image header could be read; using {max(sizes)}"
    (width, height), count = Counter(size for _, size in headers).most_common(1)[0]
    side = min(width, height)
    fitting_sizes = [s for s in sizes if s <= side]
    size = max(fitting_sizes) if fitting_sizes else min(sizes)
    share = f"{count} of {len(headers)} images read"
    why = f"most common size {width}x{height} ({share})"
    if size != side:
        why += f", shorter side {side} rounded to {size}, a size the nets support"
    return size, why
