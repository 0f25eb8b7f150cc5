"""Training throughput of ``lightning_gan.GAN`` against a hand-written loop, and remedy costs.

Races, interleaved and repeated, on the same networks, optimizers, losses and data:

* ``plain``: a hand-written PyTorch alternating loop (the floor),
* ``gan``: :class:`lightning_gan.GAN` under ``lightning.Trainer``,
* ``example``: a LightningModule written like Lightning's own GAN example
  (``toggle_optimizer``, ``self.log`` every step, ``manual_backward``),
* ``bare`` (opt-in): the plain step inside a LightningModule with nothing added, which
  separates Lightning's own per-batch cost from what ``GAN`` adds,

on (a) an MLP GAN on the 2-D ring, batch 256 (overhead-dominated) and (b) a DCGAN on 32x32
images, batch 64, with a CSV logger, the default ``log_every_n_steps`` and the progress bar on
(rendered into /dev/null). Each round runs every arm once, in a rotated order; the table gives
the median iterations/s and the median of the per-round ratios to the plain loop (each ratio
pairs runs made seconds apart, under the same load from other jobs).

    python benchmarks/throughput.py                  # ~2-3 min on 2 CPU cores
    python benchmarks/throughput.py --ablation       # before/after of each overhead removed
    python benchmarks/throughput.py --remedies       # + unrolling, penalties, FID/KID costs
    python benchmarks/throughput.py --split          # profile: training_step vs Lightning's work
    python benchmarks/throughput.py --repeats 9 --mlp-steps 400 --dcgan-width 64

Times are process CPU time by default (``--clock cpu``): on a machine shared with other jobs
it excludes the time spent waiting for a core, which the wall clock (``--clock wall``) does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from throughput_arms import Workload, load_average, run_arm  # noqa: E402

from lightning_gan import (  # noqa: E402
    DCGANDiscriminator,
    DCGANGenerator,
    GaussianMixture,
    MLPDiscriminator,
    MLPGenerator,
)

ARMS = ("plain", "gan", "example")
ARM_NAMES = {
    "plain": "plain PyTorch loop",
    "gan": "lightning_gan.GAN",
    "example": "Lightning-example module",
    "bare": "bare LightningModule",
}


def _package_commit(folder: str) -> str:
    """Which lightning_gan was measured, without the machine's paths: its git commit."""
    import subprocess

    run = subprocess.run(
        ["git", "-C", folder, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return f"lightning_gan at commit {run.stdout.strip()}" if run.returncode == 0 else "unknown"


def mlp_workload(batch_size: int, hidden: int, steps: int) -> Workload:
    """MLP G and D (depth 3) on the 8-Gaussian ring: small matmuls, framework cost shows."""
    n = batch_size * (steps + 2)  # one epoch: no epoch-end work inside the timed window
    data = GaussianMixture("ring", n_samples=n, batch_size=batch_size).dataset.tensors[0]
    return Workload(
        "mlp",
        lambda: (
            MLPGenerator(latent_dim=16, out_dim=2, hidden=hidden, depth=3),
            MLPDiscriminator(in_dim=2, hidden=hidden, depth=3),
        ),
        data,
        batch_size,
        16,
    )


def dcgan_workload(batch_size: int, width: int, steps: int, norm: str = "batch") -> Workload:
    """DCGAN G and D on 1x32x32 images: convolutions dominate, framework cost is a small share."""
    n = batch_size * (steps + 2)
    data = torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return Workload(
        "dcgan" if norm == "batch" else f"dcgan-{norm}",
        lambda: (
            DCGANGenerator(latent_dim=64, channels=1, image_size=32, width=width),
            DCGANDiscriminator(channels=1, image_size=32, width=width, norm=norm),
        ),
        data,
        batch_size,
        64,
    )


def skip_gpu_probe() -> None:
    """Make ``optimizer.step()`` skip its check for CUDA-graph capture, for every arm alike.

    The check calls ``torch.accelerator.is_available()``; with a CUDA build of torch and no GPU
    that probes NVML (a failing ``dlopen``) on every call, 0.1-0.3 ms per optimizer step on
    these CPUs. A CPU-only build or a machine with a GPU does not pay it.
    """
    torch.optim.Optimizer._accelerator_graph_capture_health_check = lambda self: None


class Race:
    """Iterations/s of each arm and its per-round ratios to the plain loop."""

    def __init__(self, arms: tuple[str, ...]) -> None:
        self.rates: dict[str, list[float]] = {arm: [] for arm in arms}
        self.ratios: dict[str, list[float]] = {arm: [] for arm in arms}


def race(
    workload: Workload,
    steps: int,
    warmup: int,
    repeats: int,
    arms: tuple[str, ...],
    clock: str = "cpu",
    variants: dict[str, dict] | None = None,
    lockstep: bool = True,
) -> Race:
    """Race the arms: ``repeats`` rounds, each running every arm once, in a rotated order.

    With ``lockstep`` the plain loop runs one batch inside each Trainer batch of every other
    arm (:class:`throughput_arms.LockstepPlain`) and each ratio pairs the two within one run;
    otherwise the plain loop is its own run and each ratio pairs runs of the same round. A short
    untimed run of every arm comes first, so one-time costs (kernel selection, lazy imports,
    allocator growth) land on no arm. ``variants`` maps extra arm names to :func:`run_arm`
    keyword arguments (the overhead ablation uses it).
    """
    variants = variants or {}
    runs = tuple(a for a in arms if not (lockstep and a == "plain"))
    result = Race(arms)

    def run(arm: str, n: int) -> tuple[float, float | None]:
        spec = dict(variants.get(arm, {"arm": arm}))
        spec.update(spec.pop("make", dict)())
        stamps = run_arm(spec.pop("arm"), workload, n, lockstep=lockstep, **spec)
        inner = stamps.inner_rate(warmup, clock) if stamps.inner_cpu else None
        return stamps.rate(warmup, clock), inner

    for arm in runs:
        run(arm, warmup + 3)
    for r in range(repeats):
        rates: dict[str, float] = {}
        for arm in runs[r % len(runs) :] + runs[: r % len(runs)]:
            rates[arm], inner = run(arm, steps)
            if inner is not None:
                result.rates["plain"].append(inner)
                result.ratios[arm].append(rates[arm] / inner)
        if not lockstep:
            for arm in runs:
                result.ratios[arm].append(rates[arm] / rates["plain"])
        for arm in runs:
            result.rates[arm].append(rates[arm])
        print(
            f"  [{workload.name} round {r + 1}/{repeats}, load {load_average()}] "
            + "  ".join(f"{a}={rates[a]:.1f} ({result.ratios[a][-1]:.3f})" for a in runs),
            flush=True,
        )
    if lockstep:
        result.ratios["plain"] = [1.0]
    return result


def print_table(title: str, result: Race, names: dict[str, str]) -> None:
    """Median it/s and the median (min-max) of the per-round ratios to the plain loop."""
    print(f"\n{title}")
    print(
        f"| {'arm':<28} | {'it/s (median)':>13} | {'ratio to plain':>14} | {'min-max ratio':>13} |"
    )
    print(f"|{'-' * 30}|{'-' * 15}|{'-' * 16}|{'-' * 15}|")
    for arm, values in result.rates.items():
        ratios = result.ratios[arm]
        med = statistics.median(values)
        ratio, spread = f"{statistics.median(ratios):.3f}", f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"| {names.get(arm, arm):<28} | {med:>13.1f} | {ratio:>14} | {spread:>13} |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cases", nargs="+", default=["mlp", "dcgan"], choices=["mlp", "dcgan"])
    p.add_argument(
        "--arms",
        nargs="+",
        default=list(ARMS),
        choices=list(ARM_NAMES),
        help="'bare': the plain step in a LightningModule, nothing added (Lightning's own cost)",
    )
    p.add_argument("--repeats", type=int, default=3, help="rounds per case (medians reported)")
    p.add_argument(
        "--separate",
        action="store_true",
        help="run the plain loop as its own arm instead of in lockstep inside each Trainer run",
    )
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument(
        "--no-gpu-probe",
        action="store_true",
        help="skip torch's per-step accelerator probe in optimizer.step(), as a CPU-only torch\n"
        "build does (a CUDA build on a machine without a GPU re-probes NVML every step)",
    )
    p.add_argument(
        "--clock",
        default="cpu",
        choices=["cpu", "wall"],
        help="cpu: process CPU time (robust to other jobs on the machine); wall: elapsed time",
    )
    p.add_argument("--mlp-steps", type=int, default=200, help="batches per MLP run")
    p.add_argument("--mlp-warmup", type=int, default=30, help="untimed first batches (MLP)")
    p.add_argument("--mlp-batch", type=int, default=256)
    p.add_argument("--mlp-hidden", type=int, default=128)
    p.add_argument("--dcgan-steps", type=int, default=15, help="batches per DCGAN run")
    p.add_argument("--dcgan-warmup", type=int, default=3, help="untimed first batches (DCGAN)")
    p.add_argument("--dcgan-batch", type=int, default=64)
    p.add_argument("--dcgan-width", type=int, default=32, help="64 is the DCGAN paper's width")
    p.add_argument(
        "--ablation", action="store_true", help="race GAN with each removed overhead put back"
    )
    p.add_argument(
        "--split",
        action="store_true",
        help="profile: split each MLP batch into training_step and Lightning's work around it",
    )
    p.add_argument("--remedies", action="store_true", help="also measure remedy costs")
    p.add_argument("--remedies-only", action="store_true", help="only measure remedy costs")
    p.add_argument("--remedy-steps", type=int, default=120, help="batches per MLP remedy run")
    p.add_argument("--remedy-warmup", type=int, default=20)
    p.add_argument("--remedy-repeats", type=int, default=3)
    p.add_argument(
        "--json",
        type=str,
        default=None,
        help="append the ratio tables to this results file (docs/results/throughput.json)",
    )
    p.add_argument("--label", default="current", help="name of this measurement in --json")
    args = p.parse_args(argv)
    args.remedies = args.remedies or args.remedies_only
    for name in ("mlp", "dcgan"):
        if getattr(args, f"{name}_steps") < getattr(args, f"{name}_warmup") + 2:
            p.error(f"--{name}-steps must exceed --{name}-warmup by at least 2")
    return args


def save_json(path: str, label: str, case: str, result: Race, names: dict, meta: dict) -> None:
    """Append one case's medians (and per-round ratios) to a JSON list, replacing the same
    (label, case): the README's performance table is generated from this file."""
    import json
    from pathlib import Path

    target = Path(path)
    records = json.loads(target.read_text()) if target.exists() else []
    records = [r for r in records if (r["label"], r["case"]) != (label, case)]
    for arm, values in result.rates.items():
        ratios = result.ratios[arm]
        records.append(
            {
                "label": label,
                "case": case,
                "arm": arm,
                "arm_name": names.get(arm, arm),
                "it_per_s": round(statistics.median(values), 2),
                "ratio": round(statistics.median(ratios), 4),
                "ratio_min": round(min(ratios), 4),
                "ratio_max": round(max(ratios), 4),
                **meta,
            }
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(records, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.no_gpu_probe:
        skip_gpu_probe()
    start = time.perf_counter()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.threads} torch thread(s), "
        f"clock={args.clock}, gpu probe {'skipped' if args.no_gpu_probe else 'on'}, "
        f"load average {load_average()}",
        flush=True,
    )
    names = dict(ARM_NAMES)
    arms = tuple(args.arms) if "plain" in args.arms else ("plain", *args.arms)
    variants: dict[str, dict] = {}
    lockstep = not args.separate
    if args.ablation:
        from overhead_ablation import ABLATION_ARMS, NAMES, VARIANTS

        arms, variants = ABLATION_ARMS, VARIANTS
        names.update(NAMES)
    import datetime

    import lightning_gan

    meta = {
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "package": _package_commit(os.path.dirname(lightning_gan.__file__)),
        "command": " ".join(sys.argv[1:]),
    }
    mlp = mlp_workload(args.mlp_batch, args.mlp_hidden, max(args.mlp_steps, args.remedy_steps))
    dcgan = dcgan_workload(args.dcgan_batch, args.dcgan_width, args.dcgan_steps)
    t_dcgan = None
    if not (args.remedies_only or args.split):
        if "mlp" in args.cases:
            rates = race(
                mlp, args.mlp_steps, args.mlp_warmup, args.repeats, arms, args.clock, variants
            )
            print_table(
                f"MLP GAN, 2-D ring, batch {args.mlp_batch}, hidden {args.mlp_hidden}, "
                f"{args.mlp_steps - args.mlp_warmup} timed batches x {args.repeats} rounds",
                rates,
                names,
            )
            if args.json:
                save_json(args.json, args.label, "mlp", rates, names, meta)
        if "dcgan" in args.cases:
            rates = race(
                dcgan,
                args.dcgan_steps,
                args.dcgan_warmup,
                args.repeats,
                arms,
                args.clock,
                variants,
                lockstep,
            )
            print_table(
                f"DCGAN 32x32, batch {args.dcgan_batch}, width {args.dcgan_width}, "
                f"{args.dcgan_steps - args.dcgan_warmup} timed batches x {args.repeats} rounds",
                rates,
                names,
            )
            if args.json:
                save_json(args.json, args.label, "dcgan", rates, names, meta)
            if "gan" in rates.rates:
                t_dcgan = 1.0 / statistics.median(rates.rates["gan"])
    if args.split:
        from step_split import report_step_split

        report_step_split(mlp, args.mlp_steps, args.mlp_warmup, args.repeats, args.clock)
    if args.remedies:
        from remedy_costs import report_remedy_costs

        layer_norm = dcgan_workload(args.dcgan_batch, args.dcgan_width, args.dcgan_steps, "layer")
        report_remedy_costs(args, mlp, dcgan, layer_norm, t_dcgan)
    print(
        f"\ntotal {time.perf_counter() - start:.0f} s, load average now {load_average()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
