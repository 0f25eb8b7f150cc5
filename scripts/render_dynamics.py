"""Markdown for docs/dynamics.md and the README, from li_sweep.json and particle_model.json.

Sections (``<!-- begin:NAME -->`` markers, applied by ``scripts/build_docs.py``): ``dynamics-li``,
``dynamics-particle-coupling``, ``dynamics-particle-critic``, ``dynamics-particle-damping``,
``dynamics-particle-mnist``, ``dynamics-dirac`` and ``readme-dynamics`` (the README's
"Reproducing the dynamics papers" body). Every number here is read from the results files.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

LI = "li_sweep.json"
PARTICLE = "particle_model.json"
VARIANTS = (
    ("union", "alternating"),
    ("sum", "alternating"),
    ("union", "simultaneous"),
    ("sum", "simultaneous"),
)
REFERENCE = VARIANTS[0]


def _load(results: Path, name: str) -> dict:
    path = results / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the benchmark that writes it first.")
    return json.loads(path.read_text())


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _cell(r: dict) -> str:
    lo, hi = r["converged_ci"]
    return f"{_pct(r['converged'] / r['runs'])} [{100 * lo:.0f}–{100 * hi:.0f}]"


def _half(s: float) -> str:
    return f"±{s / 2:g}"


# ------------------------------------------------------------------------------------- Li


class _Li:
    """Derived views of the Li et al. sweep."""

    def __init__(self, results: Path) -> None:
        data = _load(results, LI)
        self.meta, self.records = data["meta"], data["records"]
        self.seps = sorted({r["separation"] for r in self.records})
        self.optimal = {r["separation"]: r for r in self.records if r["dynamics"] == "optimal"}
        self.variants = [v for v in VARIANTS if any(self._match(r, v) for r in self.records)]

    @staticmethod
    def _match(r: dict, variant: tuple[str, str]) -> bool:
        return r["dynamics"] == "first_order" and (r["discriminator"], r["updates"]) == variant

    def cells(self, variant: tuple[str, str] = REFERENCE, sep: float | None = None) -> list[dict]:
        return [
            r
            for r in self.records
            if self._match(r, variant) and (sep is None or r["separation"] == sep)
        ]

    def separated(self, variant: tuple[str, str]) -> tuple[int, int]:
        """First-order cells whose 95 % interval lies wholly below the optimal one's."""
        cells = self.cells(variant)
        below = sum(
            r["converged_ci"][1] < self.optimal[r["separation"]]["converged_ci"][0] for r in cells
        )
        return below, len(cells)

    def collapse_share(self, variant: tuple[str, str], sep: float | None = None) -> float:
        cells = self.cells(variant, sep)
        failed = sum(r["runs"] - r["converged"] for r in cells)
        return sum(r["d_collapse"] for r in cells) / failed if failed else math.nan


def li_section(results: Path) -> str:
    li = _Li(results)
    m = li.meta
    ref = li.cells()
    d_steps = sorted({r["d_steps"] for r in ref})
    lrs = sorted({r["lr_d"] for r in ref})
    out = [
        f"Sweep (`{m['script']}`, {m.get('cpu_seconds', m['seconds']) / 60:.1f} CPU-minutes): "
        f"{m['runs_per_cell']} "
        f"random starts per cell, the same starts in every cell; {m['steps']} generator steps of "
        f"`lr_G = {m['lr_g']:g}`; initial G means and D endpoints uniform in "
        f"`[−{m['radius']:g}, {m['radius']:g}]`; converged = both means within {m['tol']:g} of the "
        "true ones; D collapse = a failed run whose final D captures under 10 % of the total "
        "variation between real and fake. Brackets: 95 % Wilson intervals.",
        "",
        "**Optimal D against first-order D, per separation** (first-order: union of indicators, "
        "alternating updates; best, median and worst of the "
        f"{len(d_steps)} × {len(lrs)} cells of D steps × `lr_D`):",
        "",
        "| true means | optimal D | first-order best cell | median cell | worst cell "
        "| failures that are D collapse |",
        "|---|---|---|---|---|---|",
    ]
    for s in li.seps:
        cells = sorted(li.cells(sep=s), key=lambda r: r["converged"])
        best, worst, median = cells[-1], cells[0], cells[len(cells) // 2]
        out.append(
            f"| {_half(s)} | {_cell(li.optimal[s])} | {_cell(best)} ({best['d_steps']} D "
            f"step{'s' if best['d_steps'] > 1 else ''}, lr_D {best['lr_d']:g}) | {_cell(median)} "
            f"| {_cell(worst)} | {_pct(li.collapse_share(REFERENCE, s))} |"
        )
    out += [
        "",
        "**First-order dynamics, every cell** (union, alternating; converged [95 % CI]):",
        "",
        "| true means | D steps per G step | " + " | ".join(f"lr_D = {lr:g}" for lr in lrs) + " |",
        "|---|---|" + "---|" * len(lrs),
    ]
    for s in li.seps:
        for k in d_steps:
            row = {r["lr_d"]: r for r in li.cells(sep=s) if r["d_steps"] == k}
            out.append(f"| {_half(s)} | {k} | " + " | ".join(_cell(row[lr]) for lr in lrs) + " |")
    pooled = []
    for k in d_steps:
        cells = [r for r in ref if r["d_steps"] == k]
        share = sum(r["converged"] for r in cells) / sum(r["runs"] for r in cells)
        pooled.append(f"{k} D step{'s' if k > 1 else ''}: {_pct(share)}")
    out += [
        "",
        "First-order runs converged, pooled over separations and `lr_D`, by D steps per G "
        "step: " + "; ".join(pooled) + ".",
    ]
    # convergence against the step
    checkpoints = [t for t in (50, 100, 200, 400) if t < m["steps"]] + [m["steps"]]
    out += [
        "",
        "**Fraction converged against the number of generator steps** (first-order: 1 D step, "
        "`lr_D = 0.3`):",
        "",
        "| true means | dynamics | " + " | ".join(f"step {t}" for t in checkpoints) + " |",
        "|---|---|" + "---|" * len(checkpoints),
    ]
    for s in li.seps:
        fo = [r for r in li.cells(sep=s) if r["d_steps"] == 1 and r["lr_d"] == 0.3]
        for label, r in (("optimal D", li.optimal[s]), ("first-order", fo[0] if fo else None)):
            if r is None:
                continue
            curve = dict(
                zip(r["converged_by_step"]["steps"], r["converged_by_step"]["counts"], strict=True)
            )
            cells = [_pct(curve[t] / r["runs"]) if t in curve else "–" for t in checkpoints]
            out.append(f"| {_half(s)} | {label} | " + " | ".join(cells) + " |")
    # variants
    out += [
        "",
        "**Does the conclusion survive our modelling choices?** Each variant reruns the "
        "first-order grid from the same starts:",
        "",
        "| variant | cells | best first-order cell | cells wholly below optimal (95 % CIs) "
        "| failures that are D collapse |",
        "|---|---|---|---|---|",
    ]
    for v in li.variants:
        cells = li.cells(v)
        best = max(cells, key=lambda r: r["converged"] / r["runs"])
        below, total = li.separated(v)
        d_set = sorted({r["d_steps"] for r in cells})
        out.append(
            f"| {v[0]} of indicators, {v[1]} | {total} (D steps {', '.join(map(str, d_set))}) "
            f"| {_cell(best)} at {_half(best['separation'])}, {best['d_steps']} D step(s), "
            f"lr_D {best['lr_d']:g} | {below} of {total} | {_pct(li.collapse_share(v))} |"
        )
    # shapes of the final D
    kinds = ("collapsed", "one_interval", "vanished", "stuck")
    out += [
        "",
        "**What the failed first-order runs' final D looks like** (union, alternating, all "
        "cells pooled; `collapse_kind`):",
        "",
        "| true means | failed runs | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for s in li.seps:
        cells = li.cells(sep=s)
        counts = Counter()
        for r in cells:
            counts.update(r["failure_kinds"])
        failed = sum(r["runs"] - r["converged"] for r in cells)
        out.append(
            f"| {_half(s)} | {failed} | "
            + " | ".join(_pct(counts[k] / failed) if failed else "–" for k in kinds)
            + " |"
        )
    return "\n".join(out)


# ------------------------------------------------------------------------------- particles


def _particles(results: Path) -> tuple[dict, list[dict]]:
    data = _load(results, PARTICLE)
    return data["meta"], data["records"]


def _crossing(values: list[float], fractions: list[float]) -> dict[str, float]:
    # Same rule as lightning_gan.dynamics.outcomes.crossing (kept import-free for build_docs).
    above = [i for i, f in enumerate(fractions) if f >= 0.5]
    if not above or above[-1] == len(values) - 1:
        return {}
    i = above[-1]
    lo, hi = values[i], values[i + 1]
    if lo <= 0:
        return {"low": lo, "high": hi, "value": hi}
    w = (fractions[i] - 0.5) / (fractions[i] - fractions[i + 1])
    return {"low": lo, "high": hi, "value": math.exp(math.log(lo) + w * math.log(hi / lo))}


def _thresholds(records: list[dict]) -> list[dict]:
    recs = [r for r in records if r["experiment"] == "coupling"]
    out = []
    for n, steps in sorted({(r["n_particles"], r["steps"]) for r in recs}):
        group = [r for r in recs if (r["n_particles"], r["steps"]) == (n, steps)]
        kappas = sorted({r["coupling"] for r in group})
        frac = []
        for k in kappas:
            runs = [r for r in group if r["coupling"] == k]
            frac.append(sum(r["outcome"] == "converged" for r in runs) / len(runs))
        cross = _crossing(kappas, frac)
        lr_g = group[0]["lr_g"]
        row = {"n": n, "steps": steps, "seeds": len({r["seed"] for r in group}), **cross}
        if cross:
            k = cross["value"]
            row["kN"] = k * (n - 1)
            row["u"] = lr_g * steps * (1 - k) / (1 + k * (n - 1))
        out.append(row)
    return out


def _outcome_cell(runs: list[dict]) -> str:
    counts = Counter(r["outcome"] for r in runs)
    parts = []
    for label in ("converged", "collapsed", "oscillating", "escaped"):
        if counts[label]:
            if label == "collapsed":
                ks = sorted({r["modes_covered"] for r in runs if r["outcome"] == label})
                k = f"{ks[0]}" if len(ks) == 1 else f"{ks[0]}–{ks[-1]}"
                parts.append(f"{counts[label]} collapsed (k={k})")
            else:
                parts.append(f"{counts[label]} {label}")
    return ", ".join(parts)


def coupling_section(results: Path) -> str:
    meta, records = _particles(results)
    recs = [r for r in records if r["experiment"] == "coupling"]
    r0 = recs[0]
    base = [r for r in recs if r["steps"] == min(x["steps"] for x in recs)]
    ns = sorted({r["n_particles"] for r in base})
    kappas = sorted({r["coupling"] for r in base})
    out = [
        f"Settings (`{meta['script_1d']}`): modes {meta['modes']} (std {meta['mode_std']:g}); "
        f"ReLU critic, {r0['hidden']} hidden units, logistic loss, R1 γ = {r0['penalty']:g}, SGD "
        f"`lr_D = {r0['lr_d']:g}`; `lr_G = {r0['lr_g']:g}`; outcome from the last fifth of the "
        "run. Each cell: outcomes over seeds.",
        "",
        "| κ | " + " | ".join(f"N = {n}" for n in ns) + " |",
        "|---|" + "---|" * len(ns),
    ]
    for k in kappas:
        cells = [
            _outcome_cell([r for r in base if (r["n_particles"], r["coupling"]) == (n, k)])
            for n in ns
        ]
        out.append(f"| {k:g} | " + " | ".join(cells) + " |")
    out += [
        "",
        "**Coupling threshold** (the κ above which under half the seeds converge; "
        "log-interpolated between the bracketing grid points), against N and the training "
        "horizon T, with the scaled variables `κ (N − 1)` and "
        "`u = lr_G T (1 − κ)/(1 + κ (N − 1))`:",
        "",
        "| N | T (steps) | seeds | κ bracket | κ_c | κ_c (N − 1) | u_c |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in _thresholds(records):
        if "value" in t:
            out.append(
                f"| {t['n']} | {t['steps']} | {t['seeds']} | {t['low']:g} – {t['high']:g} "
                f"| {t['value']:.3g} | {t['kN']:.3g} | {t['u']:.3g} |"
            )
        else:
            out.append(f"| {t['n']} | {t['steps']} | {t['seeds']} | no crossing | – | – | – |")
    return "\n".join(out)


def critic_section(results: Path) -> str:
    _, records = _particles(results)
    recs = [r for r in records if r["experiment"] == "critic"]
    if not recs:
        return "_No critic sweep in the results file._"
    kappas = sorted({r["coupling"] for r in recs})
    rows = sorted({(r["lr_d"], r["penalty"]) for r in recs})
    out = [
        f"N = {recs[0]['n_particles']}, {recs[0]['steps']} steps, one seed; cells: outcome "
        "(k = modes covered at the end; 'diverged' = the critic's weights overflowed):",
        "",
        "| critic lr_D | R1 γ | " + " | ".join(f"κ = {k:g}" for k in kappas) + " |",
        "|---|---|" + "---|" * len(kappas),
    ]
    for lr, g in rows:
        cells = []
        for k in kappas:
            r = next(x for x in recs if (x["lr_d"], x["penalty"], x["coupling"]) == (lr, g, k))
            label = "escaped (diverged)" if r["diverged"] else r["outcome"]
            if r["outcome"] in ("collapsed", "oscillating"):
                label += f" (k={r['modes_covered']})"
            cells.append(label)
        out.append(f"| {lr:g} | {g:g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def damping_section(results: Path) -> str:
    meta, records = _particles(results)
    crit = sorted(
        (r for r in records if r["experiment"] == "critical_penalty"), key=lambda r: r["bandwidth"]
    )
    damp = [r for r in records if r["experiment"] == "damping"]
    d0 = damp[0]
    grid = sorted({r["penalty"] for r in damp})
    out = [
        f"48 particles start at `0.2 z + ({meta['damping_offset']:g})` against `N(0, 0.5²)`; "
        f"linear critic on 65 Gaussian features on [−8, 8]; `lr_G = lr_D = {d0['lr']:g}`; "
        f"{d0['steps']} steps; time until W1 stays ≤ {d0['tol']:g} (in `lr × steps`); "
        f"{len(grid)} values of γ from {grid[0]:.3g} to {grid[-1]:.3g} (ratio "
        f"{grid[1] / grid[0]:.2f} between neighbours). Predictions use no measured number.",
        "",
        "| bandwidth h | measured best γ (within 25 % of the best time) | linearised map: best γ "
        "| translation mode `2 sqrt(lr_G/lr_D) ‖m‖ / c` | best time, measured / predicted |",
        "|---|---|---|---|---|",
    ]
    for r in crit:
        lo, hi = r["near_best_measured"]
        spread = f"{lo:.3g}–{hi:.3g}" if hi > lo else "only the best"
        tm = "—" if r["time_measured"] is None else f"{r['time_measured']:.1f}"
        tp = "—" if r["time_predicted"] is None else f"{r['time_predicted']:.1f}"
        out.append(
            f"| {r['bandwidth']:g} | **{r['penalty']:.3g}** ({spread}) "
            f"| {r['penalty_predicted_linear']:.3g} | {r['penalty_predicted_mode']:.3g} "
            f"(‖m‖ = {r['mode_stiffness']:.3g}, c = {r['mode_curvature']:.3g}) | {tm} / {tp} |"
        )
    return "\n".join(out)


def mnist_section(results: Path) -> str:
    meta, records = _particles(results)
    recs = [r for r in records if r["experiment"] == "mnist"]
    if not recs:
        return "_No MNIST records: run `python benchmarks/particle_mnist.py`._"
    ref = meta["mnist_reference"]
    r0 = recs[0]
    kappas = sorted({r["coupling"] for r in recs})
    lrs = sorted({r["lr_d"] for r in recs})
    out = [
        f"`{meta['script_mnist']}` "
        f"({meta.get('cpu_seconds_mnist', meta['seconds_mnist']) / 60:.1f} CPU-minutes): "
        f"{r0['n_particles']} particles "
        f"in {r0['dim']} dimensions, {r0['n_images']} real images, ReLU critic with "
        f"{r0['hidden']} hidden units (Adam), `lr_G = {r0['lr_g']:g}`, R1 γ = {r0['penalty']:g}, "
        f"{r0['steps']} steps. Cells: nearest-image entropy (nats, max {math.log(100):.2f}) / "
        "mean minimum cosine distance / distinct nearest images; outcome with k = images "
        f"covered (a particle within cosine distance {ref['hq_radius']:.3f} of an image, the "
        "real images' median nearest-neighbour distance); converged = covering at least as "
        f"many images as 100 other real MNIST images do (k = {ref.get('covered', '?')}); "
        f"those score {ref['entropy']:.2f} / {ref['mean_min_cosine']:.3f} / {ref['distinct']}.",
        "",
        "| lr_D | " + " | ".join(f"κ = {k:g}" for k in kappas) + " |",
        "|---|" + "---|" * len(kappas),
    ]
    for lr in lrs:
        cells = []
        for k in kappas:
            runs = [r for r in recs if r["lr_d"] == lr and r["coupling"] == k]
            ent = sum(r["entropy"] for r in runs) / len(runs)
            cos = sum(r["mean_min_cosine"] for r in runs) / len(runs)
            distinct = sum(r["distinct_nearest"] for r in runs) / len(runs)
            cells.append(f"{abs(ent):.2f} / {cos:.3f} / {distinct:.0f}; {_outcome_cell(runs)}")
        out.append(f"| {lr:g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def dirac_section(results: Path) -> str:
    _, records = _particles(results)
    recs = [r for r in records if r["experiment"] == "dirac"]
    out = [
        "| γ (critical at 2 f′(0) = 1) | simulated time to ‖(θ, ψ)‖ ≤ 0.01 | log(100) / rate |",
        "|---|---|---|",
    ]
    for r in recs:
        t = "not within horizon" if r["time_measured"] is None else f"{r['time_measured']:.1f}"
        p = "—" if r["time_predicted"] is None else f"{r['time_predicted']:.1f}"
        out.append(f"| {r['penalty']:.3g} | {t} | {p} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- README


def runtime_section(results: Path) -> str:
    li = _load(results, LI)["meta"]
    meta, _ = _particles(results)
    rows = [
        (li["script"], li.get("cpu_seconds"), li["seconds"]),
        (meta["script_1d"], meta.get("cpu_seconds_1d"), meta["seconds_1d"]),
    ]
    if "script_mnist" in meta:
        rows.append((meta["script_mnist"], meta.get("cpu_seconds_mnist"), meta["seconds_mnist"]))
    out = [
        "| script (defaults) | CPU time | wall time (shared 2-core machine, one thread) |",
        "|---|---|---|",
    ]
    for script, cpu, wall in rows:
        cpu_s = "—" if cpu is None else f"{cpu / 60:.1f} min"
        out.append(f"| `python {script}` | {cpu_s} | {wall / 60:.1f} min |")
    return "\n".join(out)


def readme_section(results: Path) -> str:
    li = _Li(results)
    meta, records = _particles(results)
    s_ref = 4.0 if 4.0 in li.seps else li.seps[len(li.seps) // 2]
    opt_min = min(li.optimal.values(), key=lambda r: r["converged"])
    fo_best = max(li.cells(), key=lambda r: r["converged"] / r["runs"])
    below = [li.separated(v) for v in li.variants]
    thresholds = [t for t in _thresholds(records) if "value" in t]
    base_steps = min(t["steps"] for t in thresholds) if thresholds else None
    thr = ", ".join(
        f"κ {t['low']:g}–{t['high']:g} at N = {t['n']}"
        for t in thresholds
        if t["steps"] == base_steps
    )
    us = [t["u"] for t in thresholds]
    longer = [t for t in thresholds if t["steps"] != base_steps]
    horizon = "; ".join(
        f"κ {t['low']:g}–{t['high']:g} at N = {t['n']} after {t['steps']} steps" for t in longer
    )
    crit = sorted(
        (r for r in records if r["experiment"] == "critical_penalty"), key=lambda r: r["bandwidth"]
    )
    match = sum(abs(math.log(r["penalty_predicted_linear"] / r["penalty"])) < 0.3 for r in crit)
    mnist = [r for r in records if r["experiment"] == "mnist"]
    lines = [
        "Plain-torch simulations in `lightning_gan.dynamics`, CPU, each sweep a few minutes at its "
        "defaults (larger sweeps behind `--full`); full tables, the papers' claims against our "
        "modelling choices, and API in [`docs/dynamics.md`](docs/dynamics.md); property tests in "
        "`tests/test_dynamics.py`.",
        "",
        f"- `python benchmarks/li_sweep.py`: Li, Madry, Peebles, Schmidt 2017 (two unit Gaussians "
        f"with learnable means against a two-interval discriminator), {li.meta['runs_per_cell']} "
        f"random starts per cell, {li.meta['steps']} steps. Optimal-discriminator dynamics "
        f"converge in {_cell(opt_min)} of runs or more at every separation (lowest at "
        f"{_half(opt_min['separation'])}); first-order dynamics at best {_cell(fo_best)} (at "
        f"{_half(fo_best['separation'])}), over {len(li.seps)} separations × D steps per G step × "
        f"D step size; at {_half(s_ref)} {_pct(li.collapse_share(REFERENCE, s_ref))} of the "
        "first-order failures are discriminator collapse. Under each of the "
        f"{len(below)} modelling variants (union or sum of interval indicators, alternating or "
        "simultaneous updates), "
        + (
            f"all {below[0][1]} first-order cells lie"
            if all(b == t == below[0][1] for b, t in below)
            else ", ".join(f"{b} of {t}" for b, t in below) + " first-order cells lie"
        )
        + " wholly below the optimal dynamics (95 % intervals).",
        f"- `python benchmarks/particle_model.py`: the effective particle model of Durr, Mroueh, "
        f"Tu, Wang with a trained ReLU critic. The coupling threshold moves with the particle "
        f"count ({thr}; {base_steps} steps) and with the horizon ({horizon}); in the scaled "
        "coupling "
        f"`u = lr_G T (1 − κ)/(1 + κ (N − 1))` every threshold lies at u = "
        f"{min(us):.0f}–{max(us):.0f}. The critical R1 penalty predicted from the linearised "
        f"particle–critic dynamics matches the measured best one within one grid step for "
        f"{match} of {len(crit)} critic bandwidths (γ* from "
        f"{crit[0]['penalty']:.3g} at h = {crit[0]['bandwidth']:g} to {crit[-1]['penalty']:.3g} "
        f"at h = {crit[-1]['bandwidth']:g}).",
    ]
    if mnist:
        best = max(mnist, key=lambda r: r["entropy"])
        rigid = [r for r in mnist if r["coupling"] == max(x["coupling"] for x in mnist)]
        slow = [r for r in mnist if r["lr_d"] == min(x["lr_d"] for x in mnist)]
        lines.append(
            f"- `python benchmarks/particle_mnist.py`: {best['n_particles']} particles in 784-d "
            f"against {best['n_images']} MNIST images: nearest-image entropy up to "
            f"{best['entropy']:.2f} nats (κ = {best['coupling']:g}, lr_D = {best['lr_d']:g}; 100 "
            f"real images: {meta['mnist_reference']['entropy']:.2f}), "
            f"{abs(max(r['entropy'] for r in rigid)):.2f} at most with the rigid kernel (κ = "
            f"{rigid[0]['coupling']:g}"
            + (
                ": every particle nearest to one image"
                if max(r["distinct_nearest"] for r in rigid) == 1
                else ""
            )
            + "), at most "
            f"{max(r['entropy'] for r in slow):.2f} with the slowest discriminator (lr_D = "
            f"{slow[0]['lr_d']:g})."
        )
    lines += ["", "![Li et al. sweep](docs/figures/li_sweep_heatmaps.png)"]
    return "\n".join(lines)


SECTIONS = {
    "dynamics-li": li_section,
    "dynamics-particle-coupling": coupling_section,
    "dynamics-particle-critic": critic_section,
    "dynamics-particle-damping": damping_section,
    "dynamics-particle-mnist": mnist_section,
    "dynamics-dirac": dirac_section,
    "dynamics-runtime": runtime_section,
    "readme-dynamics": readme_section,
}
