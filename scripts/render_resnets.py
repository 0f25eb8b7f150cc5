"""Markdown for the ResNet section of docs/guide/data-and-networks.md (see build_docs.py).

Section ``resnet_cpu_ratio``: ``lightning_gan.GAN`` against a plain PyTorch loop on the SNGAN
at 32 px on CPU, from ``docs/results/resnet_cpu_ratio.json``
(``python benchmarks/resnet_throughput.py --cpu-ratio --json docs/results/resnet_cpu_ratio.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

_FILE = "resnet_cpu_ratio.json"


def resnet_cpu_ratio(results_dir: Path) -> str:
    path = results_dir / _FILE
    if not path.is_file():
        command = f"python benchmarks/resnet_throughput.py --cpu-ratio --json docs/results/{_FILE}"
        return f"_No results yet: run `{command}`._\n"
    r = json.loads(path.read_text())
    ratios = r["ratios"]
    labels = {"machine": "machine", "torch": "torch", "load_average": "load average"}
    where = ", ".join(f"{label} {r[key]}" for key, label in labels.items() if key in r)
    return (
        f"`GAN` trains at **{r['ratio_median']:.3f}** of the plain loop's speed (median of "
        f"{len(ratios)} interleaved rounds, range {min(ratios):.3f}–{max(ratios):.3f}): "
        f"{r['plain_it_per_s']:.2f} against {r['gan_it_per_s']:.2f} iterations/s "
        f"(one D and one G step each) of `{r['workload']}` (SNGAN G and D at 32 px, width "
        f"{r['workload'].rsplit('w', 1)[-1]}), batch {r['batch']}, {r['threads']} torch thread, "
        f"{r['steps']} timed iterations per round, process CPU time"
        + (f"; {where}" if where else "")
        + ".\n"
    )


SECTIONS = {"resnet_cpu_ratio": resnet_cpu_ratio}
