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


_ARCH_FILE = "architectures.json"
_ARCH_NAMES = {"dcgan": "DCGAN (width 32)", "sngan": "SNGAN ResNet (width 32)"}
_ARCH_METRICS = (
    ("fid", "FID ↓", 1),
    ("precision", "precision ↑", 3),
    ("recall", "recall ↑", 3),
    ("density", "density ↑", 3),
    ("coverage", "coverage ↑", 3),
)


def _mean_std(values: list[float], digits: int) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def architectures(results_dir: Path) -> str:
    """SNGAN vs DCGAN on MNIST5k at equal CPU time: mean ± std over seeds, and the verdict."""
    path = results_dir / _ARCH_FILE
    if not path.is_file():
        return "_No results yet: run `python benchmarks/architectures.py`._\n"
    data = json.loads(path.read_text())
    rows = data["rows"]
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    head = ["arm", "G / D parameters", "G steps (mean)"] + [label for _, label, _ in _ARCH_METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    means: dict[str, float] = {}
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm]
        steps = sum(r["g_steps"] for r in mine) / len(mine)
        cells = [
            _ARCH_NAMES.get(arm, arm),
            f"{mine[0]['g_params']:,} / {mine[0]['d_params']:,}",
            f"{steps:,.0f}",
        ]
        cells += [_mean_std([r[key] for r in mine], digits) for key, _, digits in _ARCH_METRICS]
        means[arm] = sum(r["fid"] for r in mine) / len(mine)
        lines.append("| " + " | ".join(cells) + " |")
    best = min(means, key=means.get)
    wins = sum(
        1
        for s in seeds
        if min(arms, key=lambda a: next(r["fid"] for r in rows if r["arm"] == a and r["seed"] == s))
        == best
    )
    intro = (
        f"MNIST5k padded to 32×32, {data['budget_cpu_s']:.0f} s of process CPU time per run on "
        f"{data['threads']} thread, one run at a time, seeds {', '.join(map(str, seeds))}; "
        f"{data['samples']} samples (centre 28×28) against the {data.get('reals', 5000)} real "
        "digits in the "
        f'`"{data["feature_space"]}"` feature space (the sanity-checked digit net, weights sha256 '
        f"{data.get('feature_net_sha256', 'n/a')}…); hinge, n_critic 1, Adam 2e-4, betas "
        f"(0, 0.9); {data['machine']}, torch {data['torch']}. Mean ± std over seeds:\n\n"
    )
    verdict = (
        f"\nAt this budget the lower mean FID is {_ARCH_NAMES.get(best, best)}'s "
        f"({means[best]:.1f}), lower on {wins} of {len(seeds)} seeds.\n"
    )
    return intro + "\n".join(lines) + "\n" + verdict


SECTIONS["architectures"] = architectures
