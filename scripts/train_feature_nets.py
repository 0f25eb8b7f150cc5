"""Train the digit networks shipped in ``lightning_gan/weights/`` (Stacked MNIST modes, FID).

    python scripts/train_feature_nets.py            # both nets, the shipped settings
    python scripts/train_feature_nets.py --nets mnist --epochs 5 --out /tmp/w

Each net is trained on the training part of a fixed stratified split of the embedded data
(MNIST5k: 4000 train / 1000 test; scikit-learn digits: 1437 / 360), with small random affine
augmentation (rotation, scale, shift) because 4000 images are few. The held-out accuracy is
measured on the untouched test part and saved in the checkpoint next to the weights.
Deterministic: seeded, single-threaded CPU.

The nets are FID/precision/density feature spaces as well as classifiers, so they also learn an
11th class, "not a digit" (issue 21: trained on digits alone, the MNIST net mapped noise next to
the origin, inside the real k-NN balls, and precision called noise 1.0). Every step adds

* half a batch of *non-digits* (target: class 10), drawn from randomised families: uniform and
  Gaussian noise of random range, constant images, smoothed noise ("blobs") of random scale,
  sparse salt noise, and real digits with their pixels shuffled;
* half a batch of *degraded digits*: additive Gaussian noise (std up to 1) or Gaussian blur
  (sigma up to a third of the side... see ``_BLUR_MAX``) with the soft target
  ``(1 - w) * digit + w * not-a-digit``, ``w`` the degradation's strength in [0, 1]: a mildly
  noisy "3" is still mostly a 3, a drowned one is not, and the features have to say how far
  along it is, so FID, precision and density move monotonically with the degradation.

The families and their parameters are drawn at random per image, from a generator seeded apart
from the sanity suite's (``lightning_gan.metrics.sanity``, seed 0): the suite's images are
never trained on, though they are of the same kinds.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from lightning_gan.metrics.digit_classifier import DIGIT_NETS, DigitNet, accuracy, held_out_split

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "lightning_gan" / "weights"
# name -> (epochs, max shift in pixels)
SETTINGS = {"mnist": (18, 2.0), "digits": (40, 1.0)}
NOT_A_DIGIT = 10
#: weight of :func:`separation_loss` next to the cross-entropy
SEPARATION_WEIGHT = 1.0
#: a digit degraded with strength w must move w * this (at most 1) times the clean features'
#: mean norm from every clean digit; 1 let a mild blur (sigma 0.6 px) raise Stacked MNIST's
#: precision and density, as a shrunken feature vector sits in more real k-NN balls
DEGRADED_MARGIN = 2.0
#: the clean features' mean norm that :func:`scale_loss` holds (about the CE-only nets')
FEATURE_NORM = 30.0
#: largest blur sigma (pixels) of the degraded digits, by image side; w = sigma / this
_BLUR_MAX = {28: 3.5, 8: 1.0}
#: noise std at which a digit counts as fully "not a digit" (images in [-1, 1])
_NOISE_MAX = 1.0
#: the training stream's seed offset: apart from the sanity suite's seed 0
_GARBAGE_SEED = 1234


def augment(x: Tensor, max_shift_px: float, generator: torch.Generator) -> Tensor:
    """Random rotation (+-10 deg), scale (0.9-1.1) and shift of [-1, 1] images (background -1)."""
    n, _, h, _ = x.shape
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 * max_shift_px / h)
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Sample in [0, 1] so that zero padding is background, then map back to [-1, 1].
    return F.grid_sample((x + 1) / 2, grid, align_corners=False) * 2 - 1


def _blur_groups(x: Tensor, sigma: Tensor, groups: int = 4) -> Tensor:
    """Gaussian blur with a per-image sigma, in ``groups`` sorted chunks of one sigma each
    (torchvision's blur takes one sigma per call; the chunk's mean sigma is used)."""
    order = sigma.argsort()
    out = torch.empty_like(x)
    for chunk in order.chunk(groups):
        s = float(sigma[chunk].mean())
        if s < 0.05:
            out[chunk] = x[chunk]
            continue
        sigma[chunk] = s
        radius = max(1, int(3 * s + 0.5))
        out[chunk] = TF.gaussian_blur(x[chunk], [2 * radius + 1] * 2, [s, s])
    return out


def _rescale(x: Tensor, generator: torch.Generator) -> Tensor:
    """Each image min-max mapped to a random sub-range ``[lo, hi]`` of [-1, 1]."""
    n = x.shape[0]
    flat = x.flatten(1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    unit = (x - lo) / (hi - lo).clamp_min(1e-6)
    a = torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1
    b = torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1
    return torch.minimum(a, b) + unit * (a - b).abs()


def not_digits(n: int, digits: Tensor, generator: torch.Generator) -> Tensor:
    """``n`` images ``[n, 1, S, S]`` in [-1, 1] that are not digits, from six families."""
    side = digits.shape[-1]
    shape = (1, side, side)
    family = torch.randint(6, (n,), generator=generator)
    out = torch.empty(n, *shape)
    for f in range(6):
        idx = (family == f).nonzero().flatten()
        m = len(idx)
        if m == 0:
            continue
        if f == 0:  # uniform noise over a random sub-range
            x = _rescale(torch.rand(m, *shape, generator=generator), generator)
        elif f == 1:  # Gaussian noise, random mean and std, clamped
            mean = torch.rand(m, 1, 1, 1, generator=generator) * 2 - 1
            std = 0.1 + torch.rand(m, 1, 1, 1, generator=generator)
            x = (mean + std * torch.randn(m, *shape, generator=generator)).clamp(-1, 1)
        elif f == 2:  # constant images
            x = (torch.rand(m, 1, 1, 1, generator=generator) * 2 - 1).expand(m, *shape)
        elif f == 3:  # blobs: smoothed noise of random scale
            sigma = 0.04 * side + torch.rand(m, generator=generator) * 0.2 * side
            x = _rescale(
                _blur_groups(torch.randn(m, *shape, generator=generator), sigma), generator
            )
        elif f == 4:  # sparse salt noise on the background
            p = 0.02 + 0.3 * torch.rand(m, 1, 1, 1, generator=generator)
            x = torch.where(torch.rand(m, *shape, generator=generator) < p, 1.0, -1.0)
        else:  # real digits with their pixels shuffled (a digit's histogram, no shape)
            pick = digits[torch.randint(len(digits), (m,), generator=generator)].flatten(1)
            perm = torch.argsort(torch.rand(m, side * side, generator=generator), dim=1)
            x = pick.gather(1, perm).view(m, *shape)
        out[idx] = x
    return out


def degrade(x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Digits with Gaussian noise or blur of random strength, and the strength ``w`` in [0, 1]."""
    n, side = x.shape[0], x.shape[-1]
    w = torch.rand(n, generator=generator)
    noisy = torch.rand(n, generator=generator) < 0.5
    out = x.clone()
    if noisy.any():
        std = (w[noisy] * _NOISE_MAX).view(-1, 1, 1, 1)
        out[noisy] = (x[noisy] + std * torch.randn(x[noisy].shape, generator=generator)).clamp(
            -1, 1
        )
    blurred = ~noisy
    if blurred.any():
        sigma = w[blurred] * _BLUR_MAX[side]
        out[blurred] = _blur_groups(x[blurred], sigma)
        w[blurred] = sigma / _BLUR_MAX[side]  # the sigma actually used (chunk means)
    return out, w


def soft_targets(labels: Tensor, w: Tensor) -> Tensor:
    """``(1 - w) * one_hot(label) + w * one_hot(not a digit)`` over 11 classes."""
    target = F.one_hot(labels, NOT_A_DIGIT + 1).float() * (1 - w)[:, None]
    target[:, NOT_A_DIGIT] += w
    return target


def separation_loss(clean: Tensor, other: Tensor, strength: Tensor, margin: float = 1.0) -> Tensor:
    """Hinge pushing each degraded or non-digit feature at least ``margin * strength * s`` away
    from every clean digit feature of the batch (``s``: the clean features' mean norm, detached).

    Why: the 11-way cross-entropy alone lets the net say "not a digit" by switching the digit
    units *off*, which puts non-digits near the origin, and the origin lies inside the k-NN balls
    of the real outliers (precision 1.0 for a blank image). Measured in the feature space itself,
    this term asks for what precision and density need: distance from the real samples, growing
    with the degradation's strength (a degraded digit's own clean version is in the batch).
    """
    scale = clean.norm(dim=1).mean().detach()
    nearest = torch.cdist(other, clean).min(dim=1).values
    return F.relu(margin * strength * scale - nearest).div(scale).mean()


def scale_loss(clean: Tensor, other: Tensor, target: float = FEATURE_NORM) -> Tensor:
    """Keep the clean features' mean norm at ``target`` and the others' between 1 and 2 times it.

    Why: the separation hinge is scale-free and the cross-entropy likes large features, so
    without the upper bounds the features grow into the thousands (FID and KID with them). The
    lower bound keeps degraded digits from drifting *inwards*: a shorter feature vector sits in
    more real k-NN balls in high dimensions (more so in Stacked MNIST's 3 x 128 concatenation),
    so a mildly blurred digit scored higher precision and density than a sharp one.
    """
    clean_norm = clean.norm(dim=1).mean() / target
    other_norm = other.norm(dim=1) / target
    floor = clean_norm.detach()  # no shorter than the clean digits' (at about 1)
    band = F.relu(other_norm - 2).pow(2) + F.relu(floor - other_norm).pow(2)
    return (clean_norm - 1).pow(2) + band.mean()


def not_digit_rate(net: DigitNet, images: Tensor) -> float:
    """Share of ``images`` the net calls "not a digit" (argmax over the 11 outputs)."""
    with torch.no_grad():
        return float((net.all_logits(images).argmax(1) == NOT_A_DIGIT).float().mean())


def train(name: str, epochs: int, max_shift_px: float, seed: int = 0, batch_size: int = 64) -> dict:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    extra = torch.Generator().manual_seed(seed + _GARBAGE_SEED)
    train_x, train_y, test_x, test_y = held_out_split(name)
    net = DigitNet(image_size=DIGIT_NETS[name][0], not_digit_class=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = epochs * math.ceil(len(train_x) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train_x), generator=generator)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            x = augment(train_x[idx], max_shift_px, generator)
            half = len(idx) // 2
            bad, w = degrade(x[:half], extra)
            junk = not_digits(half, train_x, extra)
            inputs = torch.cat([x, bad, junk])
            targets = torch.cat(
                [
                    soft_targets(train_y[idx], torch.zeros(len(idx))),
                    soft_targets(train_y[idx][:half], w),
                    soft_targets(torch.zeros(half, dtype=torch.long), torch.ones(half)),
                ]
            )
            feats = net.features(inputs)
            loss = F.cross_entropy(net.head(net.dropout(feats)), targets)
            loss = loss + SEPARATION_WEIGHT * separation_loss(
                feats[: len(idx)],
                feats[len(idx) :],
                torch.cat([(DEGRADED_MARGIN * w).clamp(max=1.0), torch.ones(half)]),
            )
            loss = loss + scale_loss(feats[: len(idx)], feats[len(idx) :])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
            print(
                f"{name} epoch {epoch + 1}/{epochs} loss {loss.item():.4f} "
                f"train acc {accuracy(net, train_x, train_y):.4f} "
                f"({time.perf_counter() - start:.0f}s)",
                flush=True,
            )
    net.eval()
    check = not_digits(1000, test_x, torch.Generator().manual_seed(seed + 2 * _GARBAGE_SEED))
    return {
        "not_digit_class": True,
        "test_not_digit_rate": not_digit_rate(net, check),
        "test_digits_called_not_digit": not_digit_rate(net, test_x),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "image_size": net.image_size,
        "feature_dim": net.feature_dim,
        "test_accuracy": accuracy(net, test_x, test_y),
        "train_accuracy": accuracy(net, train_x, train_y),
        "n_train": len(train_x),
        "n_test": len(test_x),
        "epochs": epochs,
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=sorted(DIGIT_NETS), choices=sorted(DIGIT_NETS))
    parser.add_argument("--epochs", type=int, default=None, help="override the shipped epochs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.nets:
        epochs, shift = SETTINGS[name]
        ckpt = train(name, args.epochs or epochs, shift)
        path = args.out / DIGIT_NETS[name][1]
        torch.save(ckpt, path)
        print(
            f"{name}: test accuracy {ckpt['test_accuracy']:.4f} on {ckpt['n_test']} held-out "
            f"images (trained on {ckpt['n_train']}); non-digits called not-a-digit "
            f"{ckpt['test_not_digit_rate']:.3f}, held-out digits called not-a-digit "
            f"{ckpt['test_digits_called_not_digit']:.3f}; wrote {path} "
            f"({path.stat().st_size / 1e3:.0f} kB)"
        )


if __name__ == "__main__":
    main()
