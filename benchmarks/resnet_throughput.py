"""Throughput and peak memory of the SNGAN / BigGAN ResNets: ``GAN`` against a plain loop.

For each architecture, image size and precision (fp32, bf16, fp16), two arms train the same
seeded networks on the same synthetic batches with the same hinge loss and Adam settings:

* ``plain``: a hand-written PyTorch loop (``torch.autocast``; under fp16 one ``GradScaler`` per
  network, as ``GAN`` has),
* ``gan``: :class:`lightning_gan.GAN` under ``lightning.Trainer`` (``precision="bf16-mixed"``;
  fp16 through Lightning's ``MixedPrecision`` plugin, which ``GAN`` splits into two scalers).

An iteration is one D step and one G step on a batch; images/s counts real images consumed.
Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU ("-" on CPU, where torch keeps no
such counter). DDP scaling: ``--ddp-devices N`` runs the ``gan`` arm alone on N GPUs with the
``gan_ddp`` strategy (Lightning re-launches this script once per rank; run it once per N).

    python benchmarks/resnet_throughput.py --device cuda    # 2 archs x 3 sizes x 3 precisions
    python benchmarks/resnet_throughput.py --device cuda --ddp-devices 2 --sizes 64
    python benchmarks/resnet_throughput.py --cpu-ratio      # GAN / plain at 32 px on CPU
    python benchmarks/resnet_throughput.py --device cpu --sizes 32 --precisions fp32 bf16 \\
        --width 8 --batch 4 --steps 3 --warmup 1                      # a tiny CPU run (the test)

``--cpu-ratio`` races the two arms with ``throughput.py``'s method (interleaved, lockstep, process
CPU time, one torch thread) on an SNGAN at 32 px, so its number compares with that script's.
Widths default to the references' (SNGAN 256/128 at 32 px, BigGAN 96; see ``lightning_gan.nets``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins import MixedPrecision
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lightning_gan import (  # noqa: E402
    GAN,
    BigGANDiscriminator,
    BigGANGenerator,
    SNGANDiscriminator,
    SNGANGenerator,
)
from lightning_gan.losses import get_loss  # noqa: E402

LR, BETAS, LOSS = 2e-4, (0.0, 0.9), "hinge"
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
TRAINER_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


@dataclass
class Row:
    """One measured arm."""

    arch: str
    size: int
    precision: str
    arm: str
    devices: int
    batch: int
    images_per_s: float
    peak_mib: float | None


def build_nets(arch: str, size: int, width: int | None) -> tuple[nn.Module, nn.Module]:
    """A seeded, unconditional (G, D) pair at the reference width unless ``width`` is given."""
    torch.manual_seed(0)
    if arch == "sngan":
        return SNGANGenerator(image_size=size, width=width), SNGANDiscriminator(
            image_size=size, width=width
        )
    return BigGANGenerator(image_size=size, width=width), BigGANDiscriminator(
        image_size=size, width=width
    )


def loader(size: int, batch: int, iterations: int) -> DataLoader:
    """Shuffled synthetic images in [-1, 1], one indexing per batch (loading costs ~nothing)."""
    n = batch * (iterations + 2)
    data = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dataset = TensorDataset(data)
    sampler = BatchSampler(
        RandomSampler(dataset, generator=torch.Generator().manual_seed(0)), batch, True
    )
    return DataLoader(dataset, batch_size=None, sampler=sampler)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class PlainLoop:
    """The hand-written alternating loop with autocast and, under fp16, a scaler per network."""

    def __init__(self, g: nn.Module, d: nn.Module, device: str, precision: str) -> None:
        self.g, self.d, self.device = g.to(device), d.to(device), device
        self.dtype = DTYPES[precision]
        self.objective = get_loss(LOSS)
        self.opt_g = torch.optim.Adam(g.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=LR, betas=BETAS)
        fp16 = precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(device, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(device, enabled=fp16)
        self.d_params = list(d.parameters())

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=self.dtype)

    def step(self, real: Tensor) -> None:
        real = real.to(self.device, non_blocking=True)
        n, latent = real.shape[0], self.g.latent_dim
        with self._autocast():
            with torch.no_grad():
                fake = self.g(torch.randn(n, latent, device=self.device))
            loss_d = self.objective.d(self.d(real), self.d(fake))
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss_d).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        for p in self.d_params:
            p.requires_grad_(False)
        with self._autocast():
            loss_g = self.objective.g(self.d(self.g(torch.randn(n, latent, device=self.device))))
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss_g).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        for p in self.d_params:
            p.requires_grad_(True)


def _reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def run_plain(arch: str, size: int, precision: str, args: argparse.Namespace) -> Row:
    loop = PlainLoop(*build_nets(arch, size, args.width), args.device, precision)
    batches = iter(loader(size, args.batch, args.warmup + args.steps))
    _reset_peak(args.device)
    for _ in range(args.warmup):
        loop.step(next(batches)[0])
    _sync(args.device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loop.step(next(batches)[0])
    _sync(args.device)
    rate = args.batch * args.steps / (time.perf_counter() - start)
    return Row(arch, size, precision, "plain", 1, args.batch, rate, _peak(args.device))


class _Timer(L.Callback):
    """Wall time from the start of batch ``warmup`` to the end of the last batch (synchronised)."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if idx == self.warmup:
            _sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, out: Any, batch: Any, idx: int
    ) -> None:
        _sync(self.device)
        self.end = time.perf_counter()


def run_gan(
    arch: str, size: int, precision: str, args: argparse.Namespace, devices: int = 1
) -> Row:
    g, d = build_nets(arch, size, args.width)
    gan = GAN(g, d, loss=LOSS, lr_g=LR, lr_d=LR, betas_g=BETAS, betas_d=BETAS)
    timer = _Timer(args.warmup, args.device)
    options: dict[str, Any] = dict(
        accelerator="gpu" if args.device == "cuda" else "cpu",
        devices=devices,
        max_steps=2 * (args.warmup + args.steps),  # Lightning counts D and G steps
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    if precision == "fp16":
        scaler = torch.amp.GradScaler(args.device)
        options["plugins"] = [MixedPrecision("16-mixed", args.device, scaler=scaler)]
    else:
        options["precision"] = TRAINER_PRECISION[precision]
    if devices > 1:  # every rank reads the whole synthetic loader: its order does not matter here
        options.update(strategy="gan_ddp", use_distributed_sampler=False)
    _reset_peak(args.device)
    trainer = L.Trainer(**options)
    trainer.fit(gan, loader(size, args.batch, args.warmup + args.steps))
    rate = devices * args.batch * args.steps / (timer.end - timer.start)
    row = Row(arch, size, precision, "gan", devices, args.batch, rate, _peak(args.device))
    if not trainer.is_global_zero:
        sys.exit(0)
    return row


def print_table(rows: list[Row]) -> None:
    """Markdown table; the ratio column is ``gan`` / ``plain`` of the same configuration."""
    plain = {(r.arch, r.size, r.precision): r.images_per_s for r in rows if r.arm == "plain"}
    print("| arch | size | precision | arm | devices | batch | images/s | peak MiB | gan/plain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = plain.get((r.arch, r.size, r.precision))
        ratio = (
            f"{r.images_per_s / base:.3f}" if r.arm == "gan" and base and r.devices == 1 else "-"
        )
        peak = "-" if r.peak_mib is None else f"{r.peak_mib:.0f}"
        print(
            f"| {r.arch} | {r.size} | {r.precision} | {r.arm} | {r.devices} | {r.batch} | "
            f"{r.images_per_s:.1f} | {peak} | {ratio} |"
        )


def cpu_ratio(args: argparse.Namespace) -> None:
    """GAN / plain on CPU at 32 px with ``throughput.py``'s race (lockstep, CPU clock)."""
    import throughput_arms
    from throughput import print_table as print_race
    from throughput import race, skip_gpu_probe
    from throughput_arms import Workload, load_average

    torch.set_num_threads(args.threads)
    skip_gpu_probe()
    throughput_arms.LOSS, throughput_arms.BETAS = LOSS, BETAS
    width = args.width or 32
    steps = args.steps
    n = args.batch * (steps + 2)
    data = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    workload = Workload(
        f"sngan32-w{width}",
        lambda: (
            SNGANGenerator(latent_dim=128, image_size=32, width=width),
            SNGANDiscriminator(image_size=32, width=width),
        ),
        data,
        args.batch,
        128,
    )
    result = race(workload, steps, args.warmup, args.repeats, ("plain", "gan"))
    names = {"plain": "plain PyTorch loop", "gan": "lightning_gan.GAN"}
    print_race(
        f"SNGAN 32 px (G/D width {width}), batch {args.batch}, {args.threads} thread(s), CPU clock",
        result,
        names,
    )
    if args.json:
        summary = {
            "workload": workload.name,
            "batch": args.batch,
            "threads": args.threads,
            "steps": steps,
            "repeats": args.repeats,
            "plain_it_per_s": statistics.median(result.rates["plain"]),
            "gan_it_per_s": statistics.median(result.rates["gan"]),
            "ratio_median": statistics.median(result.ratios["gan"]),
            "ratios": result.ratios["gan"],
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "load_average": f"{load_average()} (1, 5 and 15-minute, at the end)",
        }
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--archs", nargs="+", default=["sngan", "biggan"], choices=["sngan", "biggan"])
    p.add_argument("--sizes", nargs="+", type=int, default=[32, 64, 128])
    p.add_argument("--precisions", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    p.add_argument("--arms", nargs="+", default=["plain", "gan"], choices=["plain", "gan"])
    p.add_argument("--width", type=int, default=None, help="G and D width (default: reference)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=50, help="timed iterations per arm")
    p.add_argument("--warmup", type=int, default=10, help="untimed iterations first")
    p.add_argument("--repeats", type=int, default=3, help="--cpu-ratio: race rounds")
    p.add_argument("--threads", type=int, default=1, help="--cpu-ratio: torch threads")
    p.add_argument("--ddp-devices", type=int, default=0, help="run the gan arm on N GPUs only")
    p.add_argument("--cpu-ratio", action="store_true", help="GAN / plain on CPU at 32 px")
    p.add_argument("--json", default=None, help="also write the rows (or ratio) to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu_ratio:
        cpu_ratio(args)
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no GPU is visible; use --device cpu for a CPU run.")
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    rows: list[Row] = []
    for arch in args.archs:
        for size in args.sizes:
            for precision in args.precisions:
                if args.ddp_devices > 1:
                    rows.append(run_gan(arch, size, precision, args, args.ddp_devices))
                    continue
                for arm in args.arms:
                    run = run_plain if arm == "plain" else run_gan
                    rows.append(run(arch, size, precision, args))
                    print(f"  {rows[-1]}", flush=True)
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=2)


if __name__ == "__main__":
    main()
