"""ADA's augmentation pipeline (Karras et al. 2020), ``bgc``, as batched torch ops.

Each op fires per sample with probability ``p`` (the strength that
:class:`~lightning_gan.callbacks.adaptive_augment.AdaptiveAugment` adapts). As in
NVlabs/stylegan2-ada-pytorch ``training/augment.py``, the geometric ops compose one inverse
homogeneous matrix per sample (output pixel -> input pixel) that is executed by a single
resampling, and the colour ops compose one 4x4 colour matrix per sample that is applied once:

* ``blit``: x-flip (``i ~ {0, 1}``), 90-degree rotations (``k ~ {0..3}``), integer translation
  (``U(-1/8, 1/8)`` of each side, rounded to pixels);
* ``geom``: isotropic scaling ``2^N(0, 0.2)``, rotation ``U(-pi, pi)`` before and after an
  anisotropic scaling ``2^N(0, 0.2)`` (each rotation with ``1 - sqrt(1 - p)``, so that one of
  them fires with ``p``), fractional translation ``N(0, 1/8)`` of each side;
* ``color``: brightness ``+N(0, 0.2)``, contrast ``*2^N(0, 0.5)``, luma flip, hue rotation
  ``U(-pi, pi)`` about the luma axis and saturation ``*2^N(0, 1)`` (the last two only for RGB;
  for one channel the colour matrix is averaged over RGB, as ADA does).

Simplification, said plainly: ADA resamples at twice the resolution through a ``sym6``
wavelet filter (anti-aliasing) with reflect padding; here the resampling is one bilinear
``grid_sample`` at the native resolution with reflection padding. Blit-only transforms (flips,
quarter turns, integer shifts) land on pixel centres, so they copy pixels exactly either way.
The ops are differentiable w.r.t. the images (``grid_sample`` and a matrix product).
Hand-written rather than kornia for the speed measured in ``benchmarks/augment_ops.py`` (see
docs/remedies_sota.md) and because one composed resampling is what ADA specifies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: The ADA groups and their ops (ADA's ``bgc`` configuration).
ADA_GROUPS: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
}

XINT_MAX, SCALE_STD, ANISO_STD, XFRAC_STD = 0.125, 0.2, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0


def parse_groups(policy: str) -> tuple[str, ...]:
    """``"blit,geom,color"`` -> its names, unknown names refused with the valid ones."""
    if not isinstance(policy, str):
        raise ValueError(f"policy must be a comma-separated string, got {policy!r}.")
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in ADA_GROUPS]
    if unknown or not names:
        raise ValueError(
            f"Unknown ADA policy {policy!r}: use a comma-separated subset of "
            f"{', '.join(ADA_GROUPS)} ('blit,geom,color' is ADA's default 'bgc')."
        )
    return names


# ----------------------------------------------------------------- homogeneous matrices [B, n, n]
def _matrix(rows: list[list[Tensor | float]], like: Tensor) -> Tensor:
    """Stack scalar-or-``[B]`` entries into ``[B, n, n]`` matrices."""
    b = like.shape[0]
    entries = [
        torch.as_tensor(e, dtype=like.dtype, device=like.device).expand(b)
        for row in rows
        for e in row
    ]
    n = len(rows)
    return torch.stack(entries, dim=1).view(b, n, n)


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def translate3d(t: Tensor) -> Tensor:
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t)


def scale3d(s: Tensor) -> Tensor:
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s)


def luma_axis(like: Tensor) -> Tensor:
    """``[1, 1, 1, 0] / sqrt(3)``: the grey axis of RGB, homogeneous."""
    return torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=like.dtype, device=like.device) / math.sqrt(3)


def rotate3d(v: Tensor, theta: Tensor) -> Tensor:
    """Rotation by ``theta`` ``[B]`` about the unit axis ``v`` ``[4]`` (Rodrigues)."""
    vx, vy, vz = v[0], v[1], v[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        theta,
    )


# ------------------------------------------------------------------------ executing the matrices
def apply_geometry(x: Tensor, g_inv: Tensor) -> Tensor:
    """Resample ``x`` with per-sample inverse transforms ``g_inv`` ``[B, 3, 3]``.

    ``g_inv`` maps an output pixel position to the input position it reads, in pixel units
    centred on the image centre (x right, y down), as ADA's ``G_inv``. Bilinear, reflection
    padding, ``align_corners=False`` (pixel centres at half-integers of the normalised grid).
    """
    b, c, h, w = x.shape
    to_norm = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], dtype=x.dtype, device=x.device))
    from_norm = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], dtype=x.dtype, device=x.device))
    theta = (to_norm @ g_inv @ from_norm)[:, :2, :]
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def apply_color(x: Tensor, color: Tensor) -> Tensor:
    """Apply per-sample homogeneous colour matrices ``[B, 4, 4]`` to RGB or greyscale images.

    Greyscale: ADA's reduction, the matrix averaged over its RGB rows and summed over its RGB
    columns (a grey pixel is ``(v, v, v)``; the output is the mean of the three channels).
    """
    b, c, h, w = x.shape
    if c == 3:
        flat = x.reshape(b, 3, h * w)
        return (color[:, :3, :3] @ flat + color[:, :3, 3:]).view(b, 3, h, w)
    if c == 1:
        grey = color[:, :3, :].mean(dim=1, keepdim=True)  # [B, 1, 4]
        gain = grey[:, :, :3].sum(dim=2).view(b, 1, 1, 1)
        return x * gain + grey[:, :, 3].view(b, 1, 1, 1)
    raise ValueError(
        f"ADA's colour ops need 1 (grey) or 3 (RGB) channels, got {c}: drop 'color' from the "
        "AdaptiveAugment policy (e.g. policy='blit,geom')."
    )


# ------------------------------------------------------------------------------- the pipeline
def _fires(p: float, shape: tuple[int, ...], like: Tensor) -> Tensor:
    return torch.rand(shape, dtype=like.dtype, device=like.device) < p


def geometry_matrix(x: Tensor, p: float, groups: tuple[str, ...]) -> Tensor | None:
    """The random inverse transforms ``[B, 3, 3]`` of the blit/geom groups, None if disabled."""
    if "blit" not in groups and "geom" not in groups:
        return None
    b, _, h, w = x.shape
    like = x.new_empty(b)
    zero, one = torch.zeros_like(like), torch.ones_like(like)
    g = torch.eye(3, dtype=x.dtype, device=x.device).expand(b, 3, 3)
    if "blit" in groups:
        i = torch.floor(torch.rand_like(like) * 2)
        i = torch.where(_fires(p, (b,), like), i, zero)
        g = g @ scale2d(1 / (1 - 2 * i), one)
        k = torch.floor(torch.rand_like(like) * 4)
        k = torch.where(_fires(p, (b,), like), k, zero)
        g = g @ rotate2d(math.pi / 2 * k)  # inverse of a rotation by -k quarter turns
        t = (torch.rand(b, 2, dtype=x.dtype, device=x.device) * 2 - 1) * XINT_MAX
        t = torch.where(_fires(p, (b, 1), like), t, torch.zeros_like(t))
        g = g @ translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))
    if "geom" in groups:
        s = torch.exp2(torch.randn_like(like) * SCALE_STD)
        s = torch.where(_fires(p, (b,), like), s, one)
        g = g @ scale2d(1 / s, 1 / s)
        p_rot = 1 - math.sqrt(max(0.0, 1 - p))  # P(pre or post rotation) = p
        theta = (torch.rand_like(like) * 2 - 1) * math.pi
        theta = torch.where(_fires(p_rot, (b,), like), theta, zero)
        g = g @ rotate2d(theta)  # inverse of a rotation by -theta
        s = torch.exp2(torch.randn_like(like) * ANISO_STD)
        s = torch.where(_fires(p, (b,), like), s, one)
        g = g @ scale2d(1 / s, s)
        theta = (torch.rand_like(like) * 2 - 1) * math.pi
        theta = torch.where(_fires(p_rot, (b,), like), theta, zero)
        g = g @ rotate2d(theta)
        t = torch.randn(b, 2, dtype=x.dtype, device=x.device) * XFRAC_STD
        t = torch.where(_fires(p, (b, 1), like), t, torch.zeros_like(t))
        g = g @ translate2d(-t[:, 0] * w, -t[:, 1] * h)
    return g


def color_matrix(x: Tensor, p: float) -> Tensor:
    """The random colour transforms ``[B, 4, 4]`` of the colour group."""
    b, c = x.shape[:2]
    like = x.new_empty(b)
    zero, one = torch.zeros_like(like), torch.ones_like(like)
    eye = torch.eye(4, dtype=x.dtype, device=x.device)
    color = eye.expand(b, 4, 4)
    bright = torch.randn_like(like) * BRIGHTNESS_STD
    color = translate3d(torch.where(_fires(p, (b,), like), bright, zero)) @ color
    contr = torch.exp2(torch.randn_like(like) * CONTRAST_STD)
    color = scale3d(torch.where(_fires(p, (b,), like), contr, one)) @ color
    v = luma_axis(x)
    vv = torch.outer(v, v)
    i = torch.floor(torch.rand(b, 1, 1, dtype=x.dtype, device=x.device) * 2)
    i = torch.where(_fires(p, (b, 1, 1), like), i, torch.zeros_like(i))
    color = (eye - 2 * vv * i) @ color  # Householder reflection of the luma axis
    if c > 1:
        theta = (torch.rand_like(like) * 2 - 1) * math.pi
        color = rotate3d(v, torch.where(_fires(p, (b,), like), theta, zero)) @ color
        sat = torch.exp2(torch.randn_like(like) * SATURATION_STD)
        sat = torch.where(_fires(p, (b,), like), sat, one).view(b, 1, 1)
        color = (vv + (eye - vv) * sat) @ color
    return color


def ada_augment(x: Tensor, p: float, groups: tuple[str, ...] = ("blit", "geom", "color")) -> Tensor:
    """ADA's pipeline at strength ``p`` on images ``[B, C, H, W]``; ``p = 0`` returns ``x``."""
    if p <= 0:
        return x
    g = geometry_matrix(x, p, groups)
    if g is not None:
        x = apply_geometry(x, g)
    if "color" in groups:
        x = apply_color(x, color_matrix(x, p))
    return x
