"""Li, Madry, Peebles, Schmidt (arXiv 1706.09884) at one setting: what the runs look like.

    python examples/li_dynamics.py --out docs/figures

A walk-through of :mod:`lightning_gan.dynamics.interval_gmm` at one setting (true means
``--true-means``, one D step of ``--lr`` per G step). ``--runs`` generators with means drawn
uniformly in ``[-R, R]^2`` and discriminators (two intervals) with four uniform endpoints in
``[-R, R]``, sorted. The same initialisations run under

* optimal-discriminator dynamics (D reset to ``{p_real >= p_fake}`` before every G step);
* first-order dynamics (alternating gradient steps; D ascends on its endpoints) with a few
  discriminator learning rates, more D steps per G step, and a longer run.

Prints a markdown table (fraction converged, and how the others failed) and writes
``li_trajectories.png`` (typical runs) to ``--out``. This is one point of the sweep: the
results the docs quote, over separations, D steps and D step sizes with confidence intervals,
come from ``benchmarks/li_sweep.py``. Plain torch float64 on CPU; about half a minute.
"""

from __future__ import annotations

import argparse
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
    random_intervals,
    simulate_first_order,
    simulate_optimal_discriminator,
)


def run_all(args: argparse.Namespace) -> list[tuple[str, IntervalGMMRun, float]]:
    """Every dynamics from the same seeded initialisations; returns (label, run, seconds)."""
    gen = torch.Generator().manual_seed(args.seed)
    n, radius = args.runs, args.radius
    mu_star = torch.tensor(args.true_means, dtype=torch.float64).expand(n, 2).clone()
    mu0 = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1) * radius
    intervals0 = random_intervals(n, radius, gen)
    out = []

    def timed(label: str, fn, *fargs, **kwargs) -> None:
        start = time.perf_counter()
        run = fn(*fargs, **kwargs)
        out.append((label, run, time.perf_counter() - start))
        print(f"  {label}: {time.perf_counter() - start:.1f}s", flush=True)

    lr, steps = args.lr, args.steps
    timed("optimal D", simulate_optimal_discriminator, mu0, mu_star, steps=steps, lr_g=lr)
    for lr_d, d_steps, n_steps in [
        (lr, 1, steps),
        (1.0, 1, steps),
        (3.0, 1, steps),
        (lr, 5, steps),
        (lr, 1, 5 * steps),
    ]:
        label = f"first-order, lr_D={lr_d:g}, {d_steps} D step{'s' if d_steps > 1 else ''}"
        if n_steps != steps:
            label += f", {n_steps} steps"
        record = 1 if (lr_d, d_steps, n_steps) == (lr, 1, steps) else n_steps
        timed(
            label,
            simulate_first_order,
            mu0,
            mu_star,
            intervals0,
            steps=n_steps,
            lr_g=lr,
            lr_d=lr_d,
            d_steps=d_steps,
            record_every=record,
        )
    return out


def table(results: list[tuple[str, IntervalGMMRun, float]], tol: float) -> str:
    """Markdown: per dynamics, the fraction converged and the failure kinds (percent of runs)."""
    head = "| dynamics | G steps | " + " | ".join(FAILURE_KINDS) + " |"
    lines = [head, "|" + "---|" * (2 + len(FAILURE_KINDS))]
    for label, run, _ in results:
        counts = Counter(collapse_kind(run, tol))
        n = run.mu.shape[1]
        cells = [f"{100 * counts[k] / n:.1f}%" for k in FAILURE_KINDS]
        cells[0] = f"**{cells[0]}**"
        lines.append(f"| {label} | {int(run.steps[-1])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _draw(ax: plt.Axes, run: IntervalGMMRun, i: int, title: str, last: int | None = None) -> None:
    steps = run.steps.numpy()
    for k, colour in ((0, "tab:blue"), (1, "tab:cyan")):
        left = run.intervals[:, i, k, 0].clamp(-8, 8).numpy()
        right = run.intervals[:, i, k, 1].clamp(-8, 8).numpy()
        ax.fill_between(steps, left, right, where=right > left, color=colour, alpha=0.25, lw=0)
        ax.plot(steps, left, color=colour, lw=0.6)
        ax.plot(steps, right, color=colour, lw=0.6)
    for m in run.mu_star[i]:
        ax.axhline(float(m), color="k", ls="--", lw=1)
    ax.plot(steps, run.mu[:, i, 0].numpy(), color="tab:red", lw=2)
    ax.plot(steps, run.mu[:, i, 1].numpy(), color="tab:orange", lw=2)
    ax.set_ylim(-6.5, 6.5)
    if last is not None:
        ax.set_xlim(0, last)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("generator step")


def plot_trajectories(
    optimal: IntervalGMMRun, first_order: IntervalGMMRun, tol: float, path: Path
) -> None:
    """Typical first-order runs (converged, D collapsed, D reduced to one interval) and the
    optimal-D run from the same start as the collapsed one."""
    kinds = collapse_kind(first_order, tol)
    pick = {k: kinds.index(k) for k in ("converged", "collapsed", "one_interval") if k in kinds}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharey=True)
    panels = [
        ("converged", "first-order: converged"),
        ("collapsed", "first-order: D collapses (both intervals empty)"),
        ("one_interval", "first-order: D left with one interval"),
    ]
    for ax, (kind, title) in zip(axes.flat, panels, strict=False):
        if kind in pick:
            _draw(ax, first_order, pick[kind], f"{title} (run {pick[kind]})")
    ref = pick.get("collapsed", 0)
    # After convergence G oscillates by ~lr around the optimum and the optimal D flips side
    # every step, which would paint the panel solid: show the first steps only.
    _draw(axes.flat[3], optimal, ref, f"optimal D from the same start (run {ref})", last=120)
    axes[0, 0].set_ylabel("position")
    axes[1, 0].set_ylabel("position")
    handles = [
        plt.Line2D([], [], color="tab:red", lw=2, label="generator mean 1"),
        plt.Line2D([], [], color="tab:orange", lw=2, label="generator mean 2"),
        plt.Line2D([], [], color="k", ls="--", label="true means"),
        plt.Rectangle((0, 0), 1, 1, color="tab:blue", alpha=0.3, label="D interval 1"),
        plt.Rectangle((0, 0), 1, 1, color="tab:cyan", alpha=0.3, label="D interval 2"),
    ]
    fig.legend(handles=handles, ncol=5, loc="lower center", frameon=False)
    fig.suptitle("Discriminator collapse under first-order dynamics (Li et al. model)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--runs", type=int, default=1000, help="initialisations")
    parser.add_argument("--steps", type=int, default=400, help="generator steps")
    parser.add_argument("--lr", type=float, default=0.3, help="generator (and default D) step")
    parser.add_argument("--radius", type=float, default=4.0, help="init range [-R, R]")
    parser.add_argument("--true-means", type=float, nargs=2, default=(-2.0, 2.0))
    parser.add_argument("--tol", type=float, default=0.1, help="convergence tolerance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = run_all(args)
    md = table(results, args.tol)
    print(md)
    if args.table is not None:
        args.table.write_text(md + "\n")
    plot_trajectories(results[0][1], results[1][1], args.tol, args.out / "li_trajectories.png")
    print(f"wrote {args.out / 'li_trajectories.png'}")
    print(f"total {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
