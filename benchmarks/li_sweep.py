"""Li, Madry, Peebles, Schmidt (arXiv 1706.09884): optimal-D vs first-order dynamics, swept.

    python benchmarks/li_sweep.py                # defaults: ~2-3 CPU-minutes
    python benchmarks/li_sweep.py --full         # 1000 starts per cell, 4000 steps
    python benchmarks/li_sweep.py --plot-only    # redraw the figures from the JSON

Real data ``1/2 N(-s/2, 1) + 1/2 N(s/2, 1)`` for each separation ``s``; the same random starts
(generator means uniform in ``[-R, R]^2``, four sorted uniform interval endpoints in
``[-R, R]``) in every cell. Optimal-D dynamics once per separation; first-order dynamics for
every separation x D steps per G step x D step size, under each modelling variant
(union or sum of interval indicators, alternating or simultaneous updates). A run has converged
when both generator means are within ``--tol`` of the true ones; a failure is discriminator
collapse when its final D captures under 10 % of the total variation between real and fake
(:func:`~lightning_gan.dynamics.interval_gmm.discriminator_collapsed`); ``failure_kinds`` says
what shape the final D took (:func:`~lightning_gan.dynamics.interval_gmm.collapse_kind`).

Writes ``docs/results/li_sweep.json`` (one record per cell: counts, 95 % Wilson intervals,
failure kinds, convergence counts against the step) and the figures ``li_sweep_heatmaps.png``,
``li_convergence_vs_steps.png``, ``li_variants.png``, ``li_outcomes.png`` to ``--figures``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lightning_gan.dynamics.interval_gmm import (  # noqa: E402
    FAILURE_KINDS,
    IntervalGMMRun,
    collapse_kind,
    discriminator_collapsed,
    random_intervals,
    simulate_first_order,
    simulate_optimal_discriminator,
)
from lightning_gan.dynamics.stats import binomial_interval  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEPARATIONS = (1.0, 2.0, 3.0, 4.0, 6.0)
D_STEPS = (1, 5, 20)
LR_D = (0.1, 0.3, 1.0, 3.0)
VARIANTS = (
    ("union", "alternating"),
    ("sum", "alternating"),
    ("union", "simultaneous"),
    ("sum", "simultaneous"),
)
REFERENCE = ("union", "alternating")


def _record(
    run: IntervalGMMRun, rows: slice, base: dict[str, object], tol: float, every: int
) -> dict[str, object]:
    """One cell's record from the runs ``rows`` of a batched simulation."""
    part = IntervalGMMRun(run.mu_star[rows], run.mu[:, rows], run.intervals[:, rows], run.steps)
    n = part.mu.shape[1]
    kinds = Counter(collapse_kind(part, tol))
    converged = kinds["converged"]
    optimal = base["dynamics"] == "optimal"
    # The optimal D is exact by construction: its failures are slow generators, never D collapse.
    disc = base["discriminator"]
    d_collapse = 0 if optimal else int(discriminator_collapsed(part, disc, tol).sum())
    by_step = part.converged_by_step(tol)
    keep = [i for i, t in enumerate(part.steps.tolist()) if t % every == 0]
    low, high = binomial_interval(converged, n)
    return {
        **base,
        "runs": n,
        "converged": converged,
        "converged_ci": [round(low, 4), round(high, 4)],
        "d_collapse": d_collapse,
        "failure_kinds": {k: kinds[k] for k in FAILURE_KINDS[1:]} if not optimal else None,
        "converged_by_step": {
            "steps": [int(part.steps[i]) for i in keep],
            "counts": [int(by_step[i]) for i in keep],
        },
    }


def sweep(args: argparse.Namespace) -> list[dict[str, object]]:
    """Every cell; first-order cells are batched over separations x D step sizes."""
    gen = torch.Generator().manual_seed(args.seed)
    runs, radius = args.runs, args.radius
    mu0 = (torch.rand(runs, 2, generator=gen, dtype=torch.float64) * 2 - 1) * radius
    iv0 = random_intervals(runs, radius, gen)
    common = {"lr_g": args.lr_g, "steps": args.steps, "tol": args.tol, "radius": radius}
    record_every = args.record_every
    records: list[dict[str, object]] = []

    seps = torch.tensor(args.separations, dtype=torch.float64)
    star = torch.stack([-seps / 2, seps / 2], dim=-1)  # [S, 2]
    n_sep = len(seps)
    start = time.perf_counter()
    run = simulate_optimal_discriminator(
        mu0.repeat(n_sep, 1),
        star.repeat_interleave(runs, dim=0),
        steps=args.steps,
        lr_g=args.lr_g,
        record_every=record_every,
    )
    for i, s in enumerate(args.separations):
        base = {"separation": s, "true_means": [-s / 2, s / 2], "dynamics": "optimal"}
        base |= {"d_steps": None, "lr_d": None, "discriminator": None, "updates": None}
        rows = slice(i * runs, (i + 1) * runs)
        records.append(_record(run, rows, base | common, args.tol, args.every))
    print(f"  optimal D, {n_sep} separations: {time.perf_counter() - start:.1f}s", flush=True)

    cells = [(s, lr) for s in range(n_sep) for lr in args.lr_d]
    mu0_all = mu0.repeat(len(cells), 1)
    iv0_all = iv0.repeat(len(cells), 1, 1)
    star_all = torch.cat([star[s].expand(runs, 2) for s, _ in cells])
    lr_all = torch.cat([torch.full((runs,), lr, dtype=torch.float64) for _, lr in cells])
    for discriminator, updates in VARIANTS if args.variants else (REFERENCE,):
        d_steps_list = (
            args.d_steps if (discriminator, updates) == REFERENCE else args.variant_d_steps
        )
        for d_steps in d_steps_list:
            start = time.perf_counter()
            run = simulate_first_order(
                mu0_all,
                star_all,
                iv0_all,
                steps=args.steps,
                lr_g=args.lr_g,
                lr_d=lr_all,
                d_steps=d_steps,
                record_every=record_every,
                discriminator=discriminator,
                updates=updates,
            )
            for c, (s, lr) in enumerate(cells):
                sep = args.separations[s]
                base = {"separation": sep, "true_means": [-sep / 2, sep / 2]}
                base |= {"dynamics": "first_order", "d_steps": d_steps, "lr_d": lr}
                base |= {"discriminator": discriminator, "updates": updates}
                rows = slice(c * runs, (c + 1) * runs)
                records.append(_record(run, rows, base | common, args.tol, args.every))
            print(
                f"  first-order {discriminator}/{updates}, {d_steps} D steps: "
                f"{time.perf_counter() - start:.1f}s",
                flush=True,
            )
    return records


# ----------------------------------------------------------------------------------- figures


def _fraction(rec: dict[str, object]) -> float:
    return rec["converged"] / rec["runs"]


def _select(records: list[dict], **match: object) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def plot_heatmaps(records: list[dict], path: Path) -> None:
    """Per separation: converged fraction (top) and D-collapse share of failures (bottom)."""
    ref = _select(records, dynamics="first_order", discriminator="union", updates="alternating")
    seps = sorted({r["separation"] for r in ref})
    d_steps = sorted({r["d_steps"] for r in ref})
    lrs = sorted({r["lr_d"] for r in ref})
    fig, axes = plt.subplots(2, len(seps), figsize=(3.1 * len(seps), 6.4), squeeze=False)
    for j, s in enumerate(seps):
        opt = _select(records, dynamics="optimal", separation=s)[0]
        conv = torch.zeros(len(d_steps), len(lrs))
        share = torch.full((len(d_steps), len(lrs)), float("nan"))
        labels, labels2 = {}, {}
        for r in _select(ref, separation=s):
            a, b = d_steps.index(r["d_steps"]), lrs.index(r["lr_d"])
            conv[a, b] = _fraction(r)
            lo, hi = r["converged_ci"]
            labels[a, b] = f"{100 * conv[a, b]:.0f}%\n[{100 * lo:.0f},{100 * hi:.0f}]"
            failed = r["runs"] - r["converged"]
            if failed:
                share[a, b] = r["d_collapse"] / failed
                labels2[a, b] = f"{100 * share[a, b]:.0f}%"
        for row, values, text, cmap in ((0, conv, labels, "viridis"), (1, share, labels2, "magma")):
            ax = axes[row, j]
            ax.imshow(values.numpy(), vmin=0, vmax=1, cmap=cmap, aspect="auto")
            for (a, b), t in text.items():
                dark = values[a, b] < 0.55
                ax.text(b, a, t, ha="center", va="center", fontsize=7.5, color="w" if dark else "k")
            ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
            ax.set_yticks(range(len(d_steps)), [str(v) for v in d_steps])
            ax.set_xlabel("D step size lr_D")
            if j == 0:
                ax.set_ylabel("D steps per G step")
        axes[0, j].set_title(
            f"true means ±{s / 2:g}\nfirst-order converged\n"
            f"(optimal D: {100 * _fraction(opt):.0f}%)",
            fontsize=9,
        )
        axes[1, j].set_title("D collapse, share of failures", fontsize=9)
    steps = ref[0]["steps"]
    fig.suptitle(
        f"Li et al. model: first-order dynamics, {ref[0]['runs']} random starts per cell, "
        f"{steps} G steps (95% Wilson intervals in brackets)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_convergence_vs_steps(records: list[dict], path: Path) -> None:
    """Fraction converged against the G step: optimal D and every first-order D-step count."""
    seps = sorted({r["separation"] for r in records})
    fig, axes = plt.subplots(1, len(seps), figsize=(3.2 * len(seps), 3.6), sharey=True)
    colours = {1: "tab:blue", 5: "tab:orange", 20: "tab:red"}
    for ax, s in zip(axes, seps, strict=True):
        opt = _select(records, dynamics="optimal", separation=s)[0]
        curve = opt["converged_by_step"]
        ax.plot(
            curve["steps"],
            [c / opt["runs"] for c in curve["counts"]],
            "k-",
            lw=2,
            label="optimal D",
        )
        for r in _select(
            records, dynamics="first_order", separation=s, lr_d=0.3, discriminator="union"
        ):
            if r["updates"] != "alternating":
                continue
            curve = r["converged_by_step"]
            ax.plot(
                curve["steps"],
                [c / r["runs"] for c in curve["counts"]],
                color=colours.get(r["d_steps"], "tab:gray"),
                label=f"first-order, {r['d_steps']} D step(s), lr_D 0.3",
            )
        ax.set_title(f"true means ±{s / 2:g}", fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("fraction of runs within tol of the true means")
    axes[0].legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_variants(records: list[dict], path: Path) -> None:
    """Best and worst first-order cell per separation under each modelling variant, with CIs."""
    seps = sorted({r["separation"] for r in records})
    variants = [v for v in VARIANTS if _select(records, discriminator=v[0], updates=v[1])]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    width = 0.8 / (len(variants) + 1)
    colours = ["tab:blue", "tab:green", "tab:orange", "tab:purple"]
    for j, s in enumerate(seps):
        opt = _select(records, dynamics="optimal", separation=s)[0]
        lo, hi = opt["converged_ci"]
        p = _fraction(opt)
        ax.bar(
            j - 0.4 + width / 2,
            p,
            width,
            color="0.6",
            label="optimal D" if j == 0 else None,
        )
        ax.errorbar(j - 0.4 + width / 2, p, yerr=[[p - lo], [hi - p]], color="gray", capsize=2)
        for v, (disc, upd) in enumerate(variants):
            cells = _select(
                records, dynamics="first_order", separation=s, discriminator=disc, updates=upd
            )
            best = max(cells, key=_fraction)
            worst = min(cells, key=_fraction)
            x = j - 0.4 + width * (v + 1.5)
            p, (lo, hi) = _fraction(best), best["converged_ci"]
            label = f"first-order, {disc}, {upd}" if j == 0 else None
            ax.bar(x, p, width, color=colours[v], label=label)
            ax.errorbar(x, p, yerr=[[p - lo], [hi - p]], color="gray", capsize=2)
            ax.plot([x - width / 2, x + width / 2], [_fraction(worst)] * 2, "k-", lw=1)
    ax.set_xticks(range(len(seps)), [f"±{s / 2:g}" for s in seps])
    ax.set_xlabel("true means")
    ax.set_ylabel("fraction converged")
    ax.set_ylim(0, 1.05)
    ax.set_title(
        "Best first-order cell (bar, 95% CI) and worst (black line) over D steps x lr_D,"
        " per modelling variant"
    )
    ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_outcomes(records: list[dict], path: Path) -> None:
    """Where the first-order runs end, pooled over D steps and step sizes, per separation."""
    ref = _select(records, dynamics="first_order", discriminator="union", updates="alternating")
    seps = sorted({r["separation"] for r in ref})
    colours = {
        "converged": "#2ca02c",
        "collapsed": "#d62728",
        "one_interval": "#ff7f0e",
        "vanished": "#9467bd",
        "stuck": "#7f7f7f",
    }
    fig, ax = plt.subplots(figsize=(9, 3.8))
    left = torch.zeros(len(seps))
    for kind in FAILURE_KINDS:
        values = []
        for s in seps:
            cells = _select(ref, separation=s)
            total = sum(r["runs"] for r in cells)
            if kind == "converged":
                count = sum(r["converged"] for r in cells)
            else:
                count = sum(r["failure_kinds"][kind] for r in cells)
            values.append(count / total)
        v = torch.tensor(values)
        ax.barh([f"±{s / 2:g}" for s in seps], v, left=left, color=colours[kind], label=kind)
        left += v
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of first-order runs (all D steps and lr_D pooled; union, alternating)")
    ax.set_ylabel("true means")
    ax.legend(ncol=5, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(records: list[dict], figures: Path) -> None:
    figures.mkdir(parents=True, exist_ok=True)
    plot_heatmaps(records, figures / "li_sweep_heatmaps.png")
    plot_convergence_vs_steps(records, figures / "li_convergence_vs_steps.png")
    plot_variants(records, figures / "li_variants.png")
    plot_outcomes(records, figures / "li_outcomes.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "li_sweep.json")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--runs", type=int, default=200, help="random starts per cell")
    parser.add_argument("--steps", type=int, default=1000, help="generator steps")
    parser.add_argument("--lr-g", type=float, default=0.3)
    parser.add_argument("--lr-d", type=float, nargs="+", default=list(LR_D))
    parser.add_argument("--d-steps", type=int, nargs="+", default=list(D_STEPS))
    parser.add_argument(
        "--variant-d-steps",
        type=int,
        nargs="+",
        default=list(D_STEPS),
        help="D steps for non-reference variants",
    )
    parser.add_argument("--separations", type=float, nargs="+", default=list(SEPARATIONS))
    parser.add_argument("--radius", type=float, default=4.0, help="initialisation box [-R, R]")
    parser.add_argument("--tol", type=float, default=0.1, help="convergence tolerance on the means")
    parser.add_argument("--record-every", type=int, default=10)
    parser.add_argument("--every", type=int, default=50, help="step spacing of the stored curves")
    parser.add_argument("--no-variants", dest="variants", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="1000 starts per cell, 4000 steps")
    parser.add_argument("--plot-only", action="store_true", help="redraw figures from --out")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    if args.plot_only:
        plot_all(json.loads(args.out.read_text())["records"], args.figures)
        return
    if args.full:
        args.runs, args.steps, args.every = 1000, 4000, 100
        args.variant_d_steps = list(args.d_steps)
    start, cpu = time.perf_counter(), time.process_time()
    records = sweep(args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    meta = {
        "paper": "Li, Madry, Peebles, Schmidt, arXiv 1706.09884",
        "script": "benchmarks/li_sweep.py" + (" --full" if args.full else ""),
        "runs_per_cell": args.runs,
        "steps": args.steps,
        "lr_g": args.lr_g,
        "radius": args.radius,
        "tol": args.tol,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "threads": 1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "records": records}, indent=1) + "\n")
    plot_all(records, args.figures)
    print(f"wrote {args.out} ({len(records)} records) and figures to {args.figures}")
    print(f"total {seconds:.1f}s")


if __name__ == "__main__":
    main()
