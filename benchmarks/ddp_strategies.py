"""Per-batch time of ``GAN`` under the two DDP strategies that can train it, on 2 processes.

* ``gan_ddp`` (this package): no DDP wrapper; after each backward, one flattened all-reduce of
  the gradients of the network being stepped.
* ``ddp_find_unused_parameters_true`` (Lightning's DDP with ``find_unused_parameters=True``):
  the whole module in one ``DistributedDataParallel``; every backward searches the autograd
  graph for unused parameters, and the G step also all-reduces D's (zero) gradient buckets.
  (Plain ``ddp`` cannot train an alternating GAN at all: ``GAN`` refuses it with a message.)

Each strategy runs as its own ``python benchmarks/ddp_strategies.py --worker ...`` process pair
(Lightning's popen launcher re-executes the command for rank 1); the driver alternates the
strategies over ``--repeats`` rounds so both see the same load, and prints per-batch times on
rank 0 and their ratio. On CPU the processes use the gloo backend; on a machine with GPUs pass
``--accelerator gpu`` (NCCL).

    python benchmarks/ddp_strategies.py                       # ~2 min on 2 CPU cores
    python benchmarks/ddp_strategies.py --hidden 512 --steps 300 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

STRATEGIES = ("gan_ddp", "ddp_find_unused_parameters_true")


def worker(args: argparse.Namespace) -> None:
    """One rank of one run: train, stamp each batch start on rank 0, write the stamps."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lightning_gan import GAN, MLPDiscriminator, MLPGenerator

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    class Stamps(L.Callback):
        def __init__(self) -> None:
            self.wall: list[float] = []

        def on_train_batch_start(self, trainer: Any, *_: Any) -> None:
            if args.accelerator == "gpu":
                torch.cuda.synchronize()
            self.wall.append(time.perf_counter())

    L.seed_everything(0, verbose=False)
    data = torch.randn(args.steps * args.batch * 2, 2, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(data), batch_size=args.batch, drop_last=True)
    gan = GAN(
        MLPGenerator(latent_dim=8, out_dim=2, hidden=args.hidden, depth=3),
        MLPDiscriminator(in_dim=2, hidden=args.hidden, depth=3),
    )
    stamps = Stamps()
    trainer = L.Trainer(
        accelerator=args.accelerator,
        devices=2,
        strategy=args.worker,
        max_steps=2 * args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[stamps],
    )
    trainer.fit(gan, loader)
    if trainer.global_rank == 0:
        Path(args.out).write_text(json.dumps(stamps.wall))


def run_once(strategy: str, args: argparse.Namespace) -> float:
    """Milliseconds per batch on rank 0 after the warm-up batches, for one 2-process run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stamps.json")
        command = [sys.executable, os.path.abspath(__file__), "--worker", strategy, "--out", out]
        for name in ("steps", "batch", "hidden", "accelerator"):
            command += [f"--{name}", str(getattr(args, name))]
        subprocess.run(command, check=True, capture_output=True, timeout=args.timeout)
        wall = json.loads(Path(out).read_text())
    timed = wall[args.warmup :]
    return 1e3 * (timed[-1] - timed[0]) / (len(timed) - 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=150, help="batches per run")
    p.add_argument("--warmup", type=int, default=20, help="untimed first batches")
    p.add_argument("--batch", type=int, default=256, help="batch per rank")
    p.add_argument("--hidden", type=int, default=128, help="MLP width of G and D (depth 3)")
    p.add_argument("--repeats", type=int, default=3, help="rounds, each running both strategies")
    p.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--timeout", type=int, default=600, help="seconds per run")
    p.add_argument("--worker", choices=STRATEGIES, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return
    if args.steps < args.warmup + 2:
        p.error("--steps must exceed --warmup by at least 2")
    print(
        f"2 processes, {args.accelerator}, MLP hidden {args.hidden}, batch {args.batch} per rank, "
        f"{args.steps - args.warmup} timed batches, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    times: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    for r in range(args.repeats):
        order = STRATEGIES if r % 2 == 0 else STRATEGIES[::-1]
        for strategy in order:
            times[strategy].append(run_once(strategy, args))
        print(
            f"  round {r + 1}/{args.repeats}: "
            + "  ".join(f"{s}={times[s][-1]:.2f} ms" for s in STRATEGIES),
            flush=True,
        )
    ratios = [u / g for g, u in zip(times["gan_ddp"], times[STRATEGIES[1]], strict=True)]
    print("\n| strategy | ms / batch (median) | time relative to gan_ddp |")
    print("|---|---|---|")
    for s in STRATEGIES:
        rel = "1.00" if s == "gan_ddp" else f"{statistics.median(ratios):.2f}"
        print(f"| `{s}` | {statistics.median(times[s]):.2f} | {rel} |")


if __name__ == "__main__":
    main()
