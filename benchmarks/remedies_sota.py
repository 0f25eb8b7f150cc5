"""Cost per step of DiffAugment, ADA, Packing, bCR, LeCam and TopK; saved for the docs.

Runs :func:`remedy_costs.sota_costs` (the rows ``throughput.py --remedies`` prints too) on
the benchmark DCGAN (1x32x32 images, batch 64, GroupNorm in D so that bCR's extra forwards see
per-sample statistics) and writes ``docs/results/remedies_sota_costs.json``, which
``scripts/render_remedies_sota.py`` turns into the tables of docs/remedies_sota.md.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/remedies_sota.py [--remedy-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remedy_costs import sota_costs  # noqa: E402
from throughput import dcgan_workload  # noqa: E402
from throughput_arms import load_average  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "remedies_sota_costs.json"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dcgan-steps", type=int, default=15, help="batches per run")
    p.add_argument("--dcgan-warmup", type=int, default=3, help="untimed first batches")
    p.add_argument("--dcgan-batch", type=int, default=64)
    p.add_argument("--dcgan-width", type=int, default=32)
    p.add_argument("--remedy-repeats", type=int, default=3, help="rounds (medians reported)")
    p.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    load_before = load_average()
    workload = dcgan_workload(args.dcgan_batch, args.dcgan_width, args.dcgan_steps, "layer")
    rows = sota_costs(workload, args)
    result = {
        "benchmark": "benchmarks/remedies_sota.py",
        "workload": (
            f"DCGAN 1x32x32, batch {args.dcgan_batch}, width {args.dcgan_width}, "
            "GroupNorm(1, C) in D, non-saturating loss, Adam"
        ),
        "timed_batches": args.dcgan_steps - args.dcgan_warmup,
        "repeats": args.remedy_repeats,
        "clock": args.clock,
        "threads": 1,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "load_average": [load_before, load_average()],
        "rows": {name: {k: round(v, 3) for k, v in row.items()} for name, row in rows.items()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
