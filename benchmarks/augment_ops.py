"""kornia vs the torch ops of ``lightning_gan.augment``: time per batch, forward + backward.

For DiffAugment's policy (color, translation, cutout) and ADA's ``bgc`` pipeline at p = 0.5,
on batches of 64 images at 1x28x28 (MNIST-like) and 3x32x32 (CIFAR-like), each op set runs on
an input that requires grad and the sum of its output is backpropagated (what a GAN step does
to every discriminator input). kornia's pipelines are the closest ``kornia.augmentation``
equivalents (see ``KORNIA_NOTES``); kornia's hue and saturation need RGB, so the greyscale
kornia ADA pipeline has brightness and contrast only. Every timed op is also checked to pass
a non-zero gradient to its input. Times are process CPU time (one torch thread), which on a
machine shared with other jobs leaves out the time spent waiting for a core. Writes
``docs/results/augment_ops.json``.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/augment_ops.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan.augment.ada import ada_augment  # noqa: E402
from lightning_gan.augment.diffaugment import diff_augment  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "augment_ops.json"
SHAPES = {"28x28 grey": (1, 28, 28), "32x32 RGB": (3, 32, 32)}
ADA_P = 0.5

KORNIA_NOTES = {
    "diffaugment": (
        "RandomBrightness((0.5, 1.5)) (additive, as DiffAugment), RandomSaturation((0, 2)) "
        "(HSV, RGB only), RandomContrast((0.5, 1.5)) (scales about 0, not the image mean), "
        "RandomAffine(translate=1/8) (bilinear, not an integer shift), RandomErasing(scale "
        "1/4, ratio 1, value 0); p = 1, clip_output=False"
    ),
    "ada": (
        "RandomHorizontalFlip, RandomRotation90, RandomAffine(180 deg, translate 1/8, scale "
        "0.76-1.32, reflection), RandomBrightness, RandomContrast, RandomHue, RandomSaturation "
        "(hue/saturation RGB only); each with p = 0.5; one resampling per geometric op"
    ),
}


def kornia_pipelines(channels: int) -> dict[str, torch.nn.Module]:
    import kornia.augmentation as K

    rgb = channels == 3
    diff = [K.RandomBrightness((0.5, 1.5), clip_output=False, p=1.0)]
    if rgb:
        diff.append(K.RandomSaturation((0.0, 2.0), p=1.0))
    diff += [
        K.RandomContrast((0.5, 1.5), clip_output=False, p=1.0),
        K.RandomAffine(degrees=0.0, translate=(0.125, 0.125), p=1.0),
        K.RandomErasing(scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.0, p=1.0),
    ]
    p = ADA_P
    ada = [
        K.RandomHorizontalFlip(p=p),
        K.RandomRotation90(times=(0, 3), p=p),
        K.RandomAffine(
            degrees=180.0,
            translate=(0.125, 0.125),
            scale=(2**-0.4, 2**0.4),
            padding_mode="reflection",
            p=p,
        ),
        K.RandomBrightness((0.8, 1.2), clip_output=False, p=p),
        K.RandomContrast((0.7, 1.4), clip_output=False, p=p),
    ]
    if rgb:
        ada += [K.RandomHue((-0.5, 0.5), p=p), K.RandomSaturation((0.5, 2.0), p=p)]
    return {"diffaugment": K.AugmentationSequential(*diff), "ada": K.AugmentationSequential(*ada)}


def torch_pipelines() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    return {
        "diffaugment": lambda x: diff_augment(x, ("color", "translation", "cutout")),
        "ada": lambda x: ada_augment(x, ADA_P),
    }


def time_op(op: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...], repeats: int):
    """Median ms per forward + backward of ``op`` on a fresh batch, and whether grads flow."""
    batch = torch.rand(64, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    grad_ok = True
    times = []
    for i in range(repeats + 3):  # 3 untimed warm-up calls
        x = batch.clone().requires_grad_(True)
        start = time.process_time()
        y = op(x)
        y.sum().backward()
        elapsed = time.process_time() - start
        grad_ok = grad_ok and x.grad is not None and bool(x.grad.abs().sum() > 0)
        if i >= 3:
            times.append(elapsed)
    return 1e3 * statistics.median(times), grad_ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    import kornia

    rows = []
    for shape_name, shape in SHAPES.items():
        kornia_ops = kornia_pipelines(shape[0])
        for pipeline, torch_op in torch_pipelines().items():
            t_torch, ok_torch = time_op(torch_op, shape, args.repeats)
            t_kornia, ok_kornia = time_op(kornia_ops[pipeline], shape, args.repeats)
            rows.append(
                {
                    "pipeline": pipeline,
                    "shape": shape_name,
                    "torch_ms": round(t_torch, 3),
                    "kornia_ms": round(t_kornia, 3),
                    "kornia_over_torch": round(t_kornia / t_torch, 2),
                    "torch_grad_ok": ok_torch,
                    "kornia_grad_ok": ok_kornia,
                }
            )
            print(
                f"{pipeline:<12} {shape_name:<11} torch {t_torch:7.2f} ms  kornia "
                f"{t_kornia:7.2f} ms  (x{t_kornia / t_torch:.1f})  grads torch={ok_torch} "
                f"kornia={ok_kornia}",
                flush=True,
            )
    result = {
        "benchmark": "benchmarks/augment_ops.py",
        "batch": 64,
        "ada_p": ADA_P,
        "repeats": args.repeats,
        "threads": 1,
        "clock": "process CPU time",
        "torch": torch.__version__,
        "kornia": kornia.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "kornia_pipelines": KORNIA_NOTES,
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
