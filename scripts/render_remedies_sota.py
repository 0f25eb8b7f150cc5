"""Markdown for docs/remedies_sota.md (and a README table) from ``docs/results`` (build_docs.py).

Sections:

* ``remedies_sota_augment_ops``: kornia vs the torch ops, ms per batch of 64, forward + backward
  (``docs/results/augment_ops.json``, written by ``benchmarks/augment_ops.py``);
* ``remedies_sota_costs``: each callback's cost per iteration and per D phase on the DCGAN
  (``docs/results/remedies_sota_costs.json``, written by ``benchmarks/remedies_sota.py``);
* ``remedies_sota_readme``: one README table row per remedy, with its measured cost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_OPS = "augment_ops.json"
_COSTS = "remedies_sota_costs.json"
_PIPELINES = {"diffaugment": "DiffAugment (color, translation, cutout)", "ada": "ADA bgc, p = 0.5"}

#: README rows: (name, cost row in the results, parameters, why).
_README = (
    (
        "`DiffAugment`",
        "DiffAugment",
        '`policy="color,translation,cutout"`, `translation_ratio=0.125`, `cutout_ratio=0.5`',
        "D sees differentiably augmented real *and* fake images in both phases, so it stops "
        "memorising a small set while G still learns the clean distribution (Zhao et al. 2020)",
    ),
    (
        "`AdaptiveAugment`",
        "AdaptiveAugment(p=0.5)",
        '`target=0.6`, `interval=4`, `speed_images=500_000`, `p=0.0`, `policy="blit,geom,color"`',
        "ADA: the augmentation strength p follows the overfitting signal E[sign(D(real))]; "
        "p is checkpointed (Karras et al. 2020; StyleGAN2-ADA loses it on resume, #81)",
    ),
    (
        "`Packing`",
        "Packing(2)",
        "`num_packed=2` (with a D built with `pack=2`), `split_batch=False`",
        "PacGAN: D judges m samples at once, which exposes a generator that lacks variety "
        "(Lin et al. 2018); as published, D sees `batch_size` packs per step (m x batch_size "
        "samples); the cost column is the cheaper `split_batch=True` variant",
    ),
    (
        "`ConsistencyRegularization`",
        "ConsistencyRegularization",
        '`weight=10.0`, `fake_weight=None` (= weight), `policy="flip,translation"`, '
        '`padding="reflect"`',
        "bCR: D's score must not change under an augmentation, on real and fake images "
        "(Zhao et al. 2021)",
    ),
    (
        "`LeCamRegularization`",
        "LeCamRegularization",
        "`weight=0.3`, `ema_decay=0.99`, `one_sided=True`, `warmup=0`",
        "pulls D's real/fake scores towards EMA anchors of the other side's, bounding D's "
        "drift with little data; the anchors' EMA is zero-debiased as in the authors' code, "
        "rank-averaged and checkpointed (Tseng et al. 2021)",
    ),
    (
        "`TopK`",
        "TopK",
        "`gamma=0.99`, `nu=0.5`, `decay_every_g_steps=None` (per epoch)",
        "G learns only from the k samples D scores highest, k = max(gamma^epoch B, nu B) "
        "(Sinha et al. 2020)",
    ),
)


def _load(results_dir: Path, name: str) -> dict[str, Any]:
    path = results_dir / name
    return json.loads(path.read_text()) if path.is_file() else {}


def augment_ops(results_dir: Path) -> str:
    data = _load(results_dir, _OPS)
    if not data:
        return "_Run `python benchmarks/augment_ops.py` to measure._\n"
    lines = [
        "| Pipeline | Images | torch ops (ms) | kornia (ms) | kornia / torch |",
        "|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| {_PIPELINES[row['pipeline']]} | {row['shape']} | {row['torch_ms']:.2f} | "
            f"{row['kornia_ms']:.2f} | {row['kornia_over_torch']:.1f}x |"
        )
    grads = all(r["torch_grad_ok"] and r["kornia_grad_ok"] for r in data["rows"])
    lines += [
        "",
        f"Batch of {data['batch']}, forward + backward to the input, median of "
        f"{data['repeats']} calls, {data['clock']}, {data['threads']} thread, torch "
        f"{data['torch']}, kornia {data['kornia']}, {data['machine']}. Every pipeline passed a "
        f"non-zero gradient to its input: {'yes' if grads else 'NO'}. kornia pipelines: "
        f"DiffAugment: {data['kornia_pipelines']['diffaugment']}. ADA: "
        f"{data['kornia_pipelines']['ada']}.",
    ]
    return "\n".join(lines) + "\n"


def costs(results_dir: Path) -> str:
    data = _load(results_dir, _COSTS)
    if not data:
        return "_Run `python benchmarks/remedies_sota.py` to measure._\n"
    lines = [
        "| Callback | ms / iteration | x plain iteration | ms / D phase | x plain D phase |",
        "|---|---|---|---|---|",
    ]
    for name, row in data["rows"].items():
        label = "none (plain GAN step)" if name == "none" else f"`{name}`"
        lines.append(
            f"| {label} | {row['ms_iteration']:.1f} | {row['x_iteration']:.2f} | "
            f"{row['ms_d_phase']:.1f} | {row['x_d_phase']:.2f} |"
        )
    lines += [
        "",
        f"{data['workload']}; median over {data['repeats']} interleaved rounds of "
        f"{data['timed_batches']} timed batches each, "
        f"{'process CPU time' if data['clock'] == 'cpu' else 'wall clock'}, each run normalised "
        f"by a plain PyTorch loop run in lockstep; torch {data['torch']}, {data['machine']}, "
        f"load average {data['load_average'][0]}.",
    ]
    return "\n".join(lines) + "\n"


def readme(results_dir: Path) -> str:
    rows = _load(results_dir, _COSTS).get("rows", {})
    lines = [
        "| Remedy | Parameters (defaults) | Why | Cost per step (DCGAN 32x32) |",
        "|---|---|---|---|",
    ]
    for name, key, params, why in _README:
        cost = f"{rows[key]['x_iteration']:.2f}x" if key in rows else "not measured"
        lines.append(f"| {name} | {params} | {why} | {cost} |")
    return "\n".join(lines) + "\n"


SECTIONS = {
    "remedies_sota_augment_ops": augment_ops,
    "remedies_sota_costs": costs,
    "remedies_sota_readme": readme,
}
