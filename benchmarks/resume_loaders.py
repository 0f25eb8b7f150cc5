"""Mid-epoch resume over an image folder: replaying the consumed batches vs skipping indices.

A checkpoint taken 90 % into an epoch must resume with the batch the uninterrupted run would
have drawn next. Three training loaders over the same 5000-image folder (32x32 PNGs written
here, 2 workers, batch 64):

- ``ResumableDataLoader``: a plain DataLoader that replays the epoch's order and discards the
  consumed batches, so its workers decode them again;
- torchdata's ``StatefulDataLoader`` with its own shuffle sampler (``shuffle=True``);
- ``shuffled_loader``: ``StatefulDataLoader`` over ``ResumableRandomSampler`` (what every
  datamodule of lightning_gan uses).

For each: the wall time from "resume requested" (state in hand, no loader) to the first batch,
against a fresh loader's first batch (worker start-up alone); and exactness, bitwise, of the
rest of the interrupted epoch and of the whole next epoch against an uninterrupted run. The
interruption is in the *second* epoch, where worker seeding and sampler state have moved on.
Also measured: what checking every file in ``ImageFolder.setup`` costs (headers only vs a full
decode) on the same folder and on CelebA-sized JPEGs.

    python benchmarks/resume_loaders.py            # writes docs/results/resume_loaders.json
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchdata
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from lightning_gan.data import ImageFolder, ResumableDataLoader, shuffled_loader
from lightning_gan.data.image_folder import check_files
from lightning_gan.data.loader import private_generators

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "resume_loaders.json"
BATCH, RESUME_AT = 64, 0.9
warnings.filterwarnings("ignore", message=".*set_vital.*")


def write_pngs(folder: Path, n: int, size: int = 32) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")


def write_jpegs(folder: Path, n: int) -> None:
    """CelebA-sized (178x218) smooth JPEGs at quality 90: photo-like decode cost."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:218, 0:178]
    for i in range(n):
        base = np.stack([xx * 1.4 + i, yy * 1.1, (xx + yy) * 0.7 + 3 * i], axis=-1) % 256
        Image.fromarray(base.astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


# ------------------------------------------------------------------------------ the three arms
def replay(dataset: Dataset, workers: int) -> DataLoader:
    return ResumableDataLoader(
        dataset,
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def torchdata_sampler(dataset: Dataset, workers: int) -> DataLoader:
    from torchdata.stateful_dataloader import StatefulDataLoader

    generator, _ = private_generators()  # as a user would pass one: sampler and worker seeds
    return StatefulDataLoader(
        dataset,
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=generator,
    )


def ours(dataset: Dataset, workers: int) -> DataLoader:
    return shuffled_loader(dataset, BATCH, workers)


ARMS: dict[str, tuple[str, Callable[[Dataset, int], DataLoader]]] = {
    "replay": ("ResumableDataLoader (replays the consumed batches)", replay),
    "torchdata": ("StatefulDataLoader, torchdata's shuffle sampler", torchdata_sampler),
    "shuffled_loader": ("shuffled_loader: StatefulDataLoader + ResumableRandomSampler", ours),
}


def fingerprint(batch: Any) -> str:
    """Bitwise identity of a batch (x and y), without keeping 60 MB of epochs in memory."""
    x, y = batch
    digest = hashlib.sha1(x.numpy().tobytes())
    digest.update(y.numpy().tobytes())
    return digest.hexdigest()


def shutdown(loader: DataLoader) -> None:
    """Stop the loader's workers now, so they do not compete with the next measurement."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()
    gc.collect()


def build(make: Callable[[Dataset, int], DataLoader], dataset: Dataset, workers: int):
    torch.manual_seed(0)  # loaders seed their private generators from the global RNG
    return make(dataset, workers)


def prints(batches: Iterable[Any]) -> list[str]:
    return [fingerprint(b) for b in batches]


def measure_arm(
    make: Callable[[Dataset, int], DataLoader], dataset: Dataset, workers: int, repeats: int
) -> dict[str, Any]:
    epoch_s: list[float] = []

    def timed_epoch(loader: DataLoader) -> list[str]:
        start = time.perf_counter()
        out = prints(loader)
        epoch_s.append(time.perf_counter() - start)
        return out

    reference = build(make, dataset, workers)
    prints(reference)  # epoch 1 (includes the workers' start)
    epoch2, epoch3 = timed_epoch(reference), timed_epoch(reference)
    shutdown(reference)
    n_batches = len(epoch2)
    consumed = int(RESUME_AT * n_batches)

    resume_s, fresh_s, exact_rest, exact_next = [], [], True, True
    for _ in range(repeats):
        interrupted = build(make, dataset, workers)
        prints(interrupted)  # epoch 1
        batches = iter(interrupted)
        head = prints(next(batches) for _ in range(consumed))
        state = interrupted.state_dict()
        del batches
        shutdown(interrupted)
        del interrupted

        start = time.perf_counter()  # resume requested
        resumed = build(make, dataset, workers)
        resumed.load_state_dict(state)
        batches = iter(resumed)
        first = next(batches)
        resume_s.append(time.perf_counter() - start)
        rest = [fingerprint(first), *prints(batches)]
        following = timed_epoch(resumed)
        shutdown(resumed)
        exact_rest &= head + rest == epoch2
        exact_next &= following == epoch3

        start = time.perf_counter()
        fresh = build(make, dataset, workers)
        next(iter(fresh))
        fresh_s.append(time.perf_counter() - start)
        shutdown(fresh)
    return {
        "num_workers": workers,
        "batches_per_epoch": n_batches,
        "consumed_batches": consumed,
        "resume_to_first_batch_s": statistics.median(resume_s),
        "resume_runs_s": resume_s,
        "fresh_first_batch_s": statistics.median(fresh_s),
        "epoch_s": statistics.median(epoch_s),
        "epoch_runs_s": epoch_s,
        "exact_rest_of_epoch": exact_rest,
        "exact_next_epoch": exact_next,
    }


def measure_checks(files: list[str], repeats: int) -> dict[str, Any]:
    """``check_files`` (what ``ImageFolder.setup`` runs) in both modes."""
    out: dict[str, Any] = {"images": len(files)}
    for mode in ("header", "full"):
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            check_files(files, full=mode == "full")
            runs.append(time.perf_counter() - start)
        total = statistics.median(runs)
        out[mode] = {"total_s": total, "us_per_image": total / len(files) * 1e6}
    return out


_TORCHVISION_DECODE = """
import sys, warnings
warnings.simplefilter("ignore")
from torchvision.io import ImageReadMode, decode_image, read_file
decode_image(read_file(sys.argv[1]), mode=ImageReadMode.RGB)
"""


def damaged_files(folder: Path) -> dict[str, Path]:
    """A 64x64 random-pixel PNG and JPEG, cut at 60 % and with 50 bytes zeroed mid-file."""
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        path = folder / f"ok.{ext}"
        image.save(path, format=fmt)
        data = bytearray(path.read_bytes())
        files[f"{fmt} cut at 60 %"] = folder / f"truncated.{ext}"
        files[f"{fmt} cut at 60 %"].write_bytes(bytes(data[: len(data) * 6 // 10]))
        middle = len(data) // 2
        data[middle : middle + 50] = bytes(50)
        files[f"{fmt}, 50 bytes zeroed mid-file"] = folder / f"corrupted.{ext}"
        files[f"{fmt}, 50 bytes zeroed mid-file"].write_bytes(bytes(data))
    return files


def decoder_robustness(folder: Path) -> dict[str, dict[str, str]]:
    """What PIL (ImageFolder's decoder) and torchvision.io do with damaged files.

    torchvision runs in a subprocess per file: a crash there must not end the benchmark.
    """
    from lightning_gan.data.images import UnreadableImageError, open_image

    out = {}
    for name, path in damaged_files(folder).items():
        try:
            open_image(path)
            pil = "decodes (damaged pixels, no error)"
        except UnreadableImageError:
            pil = "raises UnreadableImageError naming the file"
        done = subprocess.run(
            [sys.executable, "-c", _TORCHVISION_DECODE, str(path)], capture_output=True
        )
        if done.returncode == 0:
            tv = "decodes (damaged pixels, no error)"
        elif done.returncode < 0:
            tv = f"process killed by {signal.Signals(-done.returncode).name}"
        else:
            tv = "raises RuntimeError"
        out[name] = {"pil": pil, "torchvision_io": tv}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--jpegs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        pngs, jpegs = Path(tmp, "png"), Path(tmp, "jpg")
        write_pngs(pngs, args.images)
        write_jpegs(jpegs, args.jpegs)
        folder = ImageFolder(pngs, image_size=32, batch_size=BATCH, check="header")
        dataset = folder.train_dataset
        loaders = []
        for workers in (2, 0):
            for key, (label, make) in ARMS.items():
                measured = measure_arm(make, dataset, workers, args.repeats)
                row = {"arm": key, "label": label, **measured}
                print(json.dumps(row))
                loaders.append(row)
        png_files = folder.train_dataset.dataset.files
        jpeg_files = sorted(str(p) for p in jpegs.iterdir())
        checks = {
            f"{args.images} PNG 32x32 (random pixels)": measure_checks(png_files, args.repeats),
            f"{args.jpegs} JPEG 178x218 (CelebA size, quality 90)": measure_checks(
                jpeg_files, args.repeats
            ),
        }
        print(json.dumps(checks))
        decoders = decoder_robustness(Path(tmp, "damaged"))
        print(json.dumps(decoders))
    result = {
        "benchmark": "benchmarks/resume_loaders.py",
        "images": args.images,
        "image_size": 32,
        "batch_size": BATCH,
        "resume_at": RESUME_AT,
        "repeats": args.repeats,
        "clock": "wall time (workers are separate processes), median of repeats",
        "torch": torch.__version__,
        "torchdata": torchdata.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "load_average_1min": os.getloadavg()[0],
        "loaders": loaders,
        "image_check": checks,
        "decoders": decoders,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
