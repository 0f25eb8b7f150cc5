"""Train the digit networks shipped in ``lightning_gan/weights/`` (Stacked MNIST modes, FID).

    python scripts/train_feature_nets.py            # both nets, the shipped settings
    python scripts/train_feature_nets.py --nets mnist --epochs 5 --out /tmp/w

Each net is trained on the training part of a fixed stratified split of the embedded data
(MNIST5k: 4000 train / 1000 test; scikit-learn digits: 1437 / 360), with small random affine
augmentation (rotation, scale, shift) because 4000 images are few. The held-out accuracy is
measured on the untouched test part and saved in the checkpoint next to the weights.
Deterministic: seeded, single-threaded CPU.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gan.metrics.digit_classifier import DIGIT_NETS, DigitNet, accuracy, held_out_split

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "lightning_gan" / "weights"
# name -> (epochs, max shift in pixels)
SETTINGS = {"mnist": (30, 2.0), "digits": (60, 1.0)}


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


def train(name: str, epochs: int, max_shift_px: float, seed: int = 0, batch_size: int = 64) -> dict:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y, test_x, test_y = held_out_split(name)
    net = DigitNet(image_size=DIGIT_NETS[name][0])
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
            loss = F.cross_entropy(net(x), train_y[idx])
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
    return {
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
            f"images (trained on {ckpt['n_train']}); wrote {path} "
            f"({path.stat().st_size / 1e3:.0f} kB)"
        )


if __name__ == "__main__":
    main()
