"""The own-images quick start, measured: the shipped config on a folder a user could have.

Writes the 5000 MNIST5k digits as 28x28 greyscale PNGs in ten class subfolders (plus one text
file, which the loader must report and skip), runs the README's single command once::

    lightning-gan fit --config examples/configs/image_folder.yaml --data.init_args.root=DIR

(with a CSV logger, so the sample grids land as PNG files), and records its speed and its last
sample grid. The speed is the optimizer steps between the first and the last sample picture
over the seconds between their files, so the start-up (imports, the folder check, the first
epoch's worker start) is not in it; the wall time of the whole command is recorded too.

    python benchmarks/config_budgets.py                 # trains (minutes on a CPU)
    python benchmarks/config_budgets.py --run-dir DIR   # only measures a finished run of it

writes ``docs/results/config_budgets.json`` and ``docs/figures/own_folder_samples.png``;
``scripts/render_readme.py`` puts the numbers in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "examples/configs/image_folder.yaml"
OUT = ROOT / "docs" / "results" / "config_budgets.json"
FIGURE = ROOT / "docs" / "figures" / "own_folder_samples.png"


def write_digit_folder(root: Path) -> int:
    """MNIST5k as ``root/<digit>/<index>.png`` (greyscale 28x28) and one ``notes.txt``."""
    from PIL import Image

    from lightning_gan.data.mnist5k import _read_mnist5k

    pixels, labels = _read_mnist5k()
    for i, (image, label) in enumerate(zip(pixels, labels, strict=True)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.reshape(28, 28)).save(folder / f"{i:05d}.png")
    (root / "3" / "notes.txt").write_text("not an image: the loader reports and skips it")
    return len(labels)


def train(folder: Path, run_dir: Path) -> float:
    """The README's command (plus a CSV logger for the PNGs); returns its wall seconds."""
    command = [
        shutil.which("lightning-gan") or "lightning-gan",
        "fit",
        f"--config={ROOT / CONFIG}",
        f"--data.init_args.root={folder}",
        f"--trainer.default_root_dir={run_dir}",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.save_dir={run_dir}",
    ]
    start = time.perf_counter()
    with open(run_dir / "out.txt", "w") as out, open(run_dir / "err.txt", "w") as err:
        subprocess.run(command, stdout=out, stderr=err, check=True)
    return time.perf_counter() - start


def measure(
    run_dir: Path, wall_s: float | None, note: str | None = None, looked_at: str | None = None
) -> dict:
    """Speed from the sample PNGs' times, the grid copied to ``FIGURE``, and the settings."""
    pictures = sorted(run_dir.rglob("samples/samples_step*.png"))
    if len(pictures) < 2:
        raise SystemExit(f"{run_dir} holds {len(pictures)} sample pictures: need 2 or more.")
    step = [int(re.search(r"step(\d+)", p.name).group(1)) for p in pictures]
    seconds = pictures[-1].stat().st_mtime - pictures[0].stat().st_mtime
    # PNG names count generator steps in runs made before the shared step axis, optimizer
    # steps after it; the checkpoint's name is always optimizer steps.
    (checkpoint,) = run_dir.rglob("*.ckpt")
    total = int(re.search(r"step=(\d+)", checkpoint.name).group(1))
    per_name = 2 if step[-1] * 2 == total else 1
    steps = (step[-1] - step[0]) * per_name
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pictures[-1], FIGURE)
    err = (run_dir / "err.txt").read_text() if (run_dir / "err.txt").exists() else ""
    skipped = re.search(r"Skipped \d+ files? [^\n]*", err)
    return {
        "config": CONFIG,
        "command": f"lightning-gan fit --config {CONFIG} --data.init_args.root=DIR",
        "data": "MNIST5k as 5000 greyscale 28x28 PNGs in 10 class folders, plus one .txt file",
        "max_steps": total,
        "batches": total // 2,
        "steps_per_s": round(steps / seconds, 2),
        "batches_per_s": round(steps / 2 / seconds, 2),
        "measured_over_steps": [step[0] * per_name, step[-1] * per_name],
        "wall_s": None if wall_s is None else round(wall_s, 1),
        "figure": str(FIGURE.relative_to(ROOT)),
        "skipped_report": skipped.group(0) if skipped else None,
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores shared with other jobs",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "note": note,
        "looked_at": looked_at,
    }


def _time_v_wall(err: Path) -> float | None:
    """The wall seconds ``/usr/bin/time -v`` printed for a run started by hand, if it did."""
    text = err.read_text() if err.exists() else ""
    found = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", text)
    if found is None:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", type=Path, help="measure this finished run; do not train")
    parser.add_argument("--note", help="what else loaded the machine during the run")
    parser.add_argument("--looked-at", help="what a person sees in the final sample grid")
    args = parser.parse_args()
    if args.run_dir is not None:
        result = measure(
            args.run_dir, _time_v_wall(args.run_dir / "err.txt"), args.note, args.looked_at
        )
    else:
        work = Path(tempfile.mkdtemp(prefix="config_budgets_"))
        n = write_digit_folder(work / "digits")
        print(f"{n} images in {work / 'digits'}; training ...", file=sys.stderr)
        run_dir = work / "run"
        run_dir.mkdir()
        result = measure(run_dir, train(work / "digits", run_dir), args.note, args.looked_at)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
