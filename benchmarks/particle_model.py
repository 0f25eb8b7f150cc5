"""Durr, Mroueh, Tu, Wang (arXiv 2212.04580): the effective particle model in 1-D, swept.

    python benchmarks/particle_model.py               # defaults: ~3-4 CPU-minutes
    python benchmarks/particle_model.py --full        # 8 seeds, every horizon
    python benchmarks/particle_model.py --plot-only   # redraw the figures from the JSON

(a) Coupling: ``N`` particles (12, 48, 192) start as a narrow cloud on the middle mode of a 1-D
mixture of 5 Gaussians (centres -4..4, std 0.2), coupled by the coarse-grained kernel
(1 on the diagonal, ``kappa`` off it, rows normalised), against a trained one-hidden-layer ReLU
critic (logistic loss, R1 penalty, SGD). Each run is classified converged / collapsed onto
``k < 5`` modes / oscillating / escaped (:mod:`lightning_gan.dynamics.outcomes`); the coupling
threshold is where half the seeds stop converging, reported against ``N`` and in the scaled
variable ``u = lr_g T (1 - kappa) / (1 + kappa (N - 1))`` (the distance a particle's own mode
of the kernel lets it travel in ``T`` steps); a longer horizon at ``N = 48`` tests the scaling.

(b) Critical penalty: 48 particles start offset from ``N(0, 0.5^2)``; a linear critic on
Gaussian features (bandwidth ``h``, centres on [-8, 8], wider than anywhere the particles go)
with an R1 penalty ``gamma``; the time until W1 stays below ``--tol`` is measured for each
``gamma`` and *predicted* from the linearised dynamics (:mod:`lightning_gan.dynamics.linearised`,
no fitted constant), for several bandwidths. (c) The Dirac-GAN against its eigenvalues.

Writes the ``1d`` records of ``docs/results/particle_model.json`` (the MNIST records of
``benchmarks/particle_mnist.py`` are kept) and ``particle_*.png`` to ``--figures``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lightning_gan.dynamics.critics import ReLUCritic  # noqa: E402
from lightning_gan.dynamics.dirac_gan import (  # noqa: E402
    F_PRIME_0,
    predicted_convergence_time,
    simulate_dirac_gan,
)
from lightning_gan.dynamics.linearised import (  # noqa: E402
    linearised_map,
    predicted_time,
    translation_mode_critical_penalty,
)
from lightning_gan.dynamics.outcomes import classify_outcomes, nearest_modes  # noqa: E402
from lightning_gan.dynamics.particle_model import (  # noqa: E402
    RBFCritic,
    coarse_kernel,
    rbf_kernel,
    scaled_coupling,
    simulate_particles,
    simulate_particles_nn,
    time_to_converge,
    wasserstein_1d,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "particle_model.json"
MODES = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])[:, None]
MODE_STD = 0.2
KAPPAS = (0.0, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
EXPERIMENTS_1D = ("coupling", "critic", "damping", "critical_penalty", "dirac")


def coupling_sweep(args: argparse.Namespace, n: int, steps: int, kappas, seeds: int) -> list[dict]:
    """All ``kappas x seeds`` configurations for ``n`` particles as one batch."""
    gen = torch.Generator().manual_seed(args.seed)
    idx = torch.randint(0, len(MODES), (args.real,), generator=gen)
    real = MODES[idx] + MODE_STD * torch.randn(args.real, 1, generator=gen)
    z = torch.randn(seeds, n, 1, generator=torch.Generator().manual_seed(args.seed + n))
    kernel = coarse_kernel(n, torch.tensor(kappas), dtype=torch.float32).repeat(seeds, 1, 1)
    x0 = (0.2 * z).repeat_interleave(len(kappas), dim=0)
    batch = seeds * len(kappas)
    critic = ReLUCritic.init(batch, 1, args.hidden, torch.Generator().manual_seed(args.seed + 1))
    start = time.perf_counter()
    run = simulate_particles_nn(
        x0,
        real,
        kernel,
        critic,
        steps=steps,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        penalty=args.penalty,
        record_every=10,
    )
    seconds = time.perf_counter() - start
    window = max(2, run.x.shape[0] // 5)
    dist, index = nearest_modes(run.x[-window:], MODES)
    out = classify_outcomes(dist, index, len(MODES), 3 * MODE_STD, 2.0)
    records = []
    for b in range(batch):
        seed, kappa = divmod(b, len(kappas))
        kappa = kappas[kappa]
        records.append(
            {
                "experiment": "coupling",
                "n_particles": n,
                "dim": 1,
                "kernel": "coarse",
                "coupling": kappa,
                "scaled_coupling": round(scaled_coupling(kappa, n, args.lr_g, steps), 4),
                "critic": "relu",
                "hidden": args.hidden,
                "penalty": args.penalty,
                "lr_d": args.lr_d,
                "lr_g": args.lr_g,
                "steps": steps,
                "seed": seed,
                "outcome": out.labels[b],
                "modes_covered": int(out.covered[b]),
                "n_modes": len(MODES),
                "high_quality": round(float(out.high_quality[b]), 4),
                "escaped_share": round(float(out.escaped_share[b]), 4),
                "oscillating_share": round(float(out.oscillating_share[b]), 4),
            }
        )
    print(f"  coupling N={n}, {steps} steps, {batch} configs: {seconds:.1f}s", flush=True)
    if n == 48 and steps == args.steps:
        torch.save({"x": run.x[:, :, :, 0], "steps": run.steps, "kappas": kappas}, args.traj)
    return records


def critic_sweep(args: argparse.Namespace) -> list[dict]:
    """N = 48: coupling x critic learning rate x R1 penalty, one seed, one batch."""
    gen = torch.Generator().manual_seed(args.seed)
    idx = torch.randint(0, len(MODES), (args.real,), generator=gen)
    real = MODES[idx] + MODE_STD * torch.randn(args.real, 1, generator=gen)
    n, kappas = 48, (0.0, 0.1, 0.3, 1.0)
    configs = [(lr, g, k) for lr in args.critic_lrs for g in (0.0, args.penalty) for k in kappas]
    z = torch.randn(1, n, 1, generator=torch.Generator().manual_seed(args.seed + n))
    kernel = torch.cat([coarse_kernel(n, k, dtype=torch.float32) for _, _, k in configs])
    critic = ReLUCritic.init(
        len(configs), 1, args.hidden, torch.Generator().manual_seed(args.seed + 1)
    )
    start = time.perf_counter()
    run = simulate_particles_nn(
        0.2 * z,
        real,
        kernel,
        critic,
        steps=args.steps,
        lr_g=args.lr_g,
        lr_d=torch.tensor([lr for lr, _, _ in configs]),
        penalty=torch.tensor([g for _, g, _ in configs]),
        record_every=10,
    )
    window = max(2, run.x.shape[0] // 5)
    dist, index = nearest_modes(run.x[-window:], MODES)
    out = classify_outcomes(dist, index, len(MODES), 3 * MODE_STD, 2.0)
    finite = torch.isfinite(run.x[-1]).all(dim=-1).all(dim=-1)
    records = []
    for b, (lr, g, kappa) in enumerate(configs):
        records.append(
            {
                "experiment": "critic",
                "n_particles": n,
                "dim": 1,
                "kernel": "coarse",
                "coupling": kappa,
                "critic": "relu",
                "hidden": args.hidden,
                "penalty": g,
                "lr_d": lr,
                "lr_g": args.lr_g,
                "steps": args.steps,
                "seed": 0,
                "outcome": out.labels[b],
                "diverged": not bool(finite[b]),
                "modes_covered": int(out.covered[b]),
                "n_modes": len(MODES),
                "high_quality": round(float(out.high_quality[b]), 4),
                "oscillating_share": round(float(out.oscillating_share[b]), 4),
            }
        )
    print(f"  critic sweep, {len(configs)} configs: {time.perf_counter() - start:.1f}s", flush=True)
    return records


def damping_sweep(args: argparse.Namespace) -> list[dict]:
    """Measured and predicted time to W1 <= tol against gamma, per critic bandwidth."""
    gen = torch.Generator().manual_seed(args.seed + 2)
    real = 0.5 * torch.randn(1000, 1, generator=gen, dtype=torch.float64)
    n = 48
    z = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n) + 0.5) / n).double()[:, None]
    x0 = 0.2 * z + args.offset
    levels = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    x_eq = torch.quantile(real[:, 0], levels)[:, None]  # the W1-optimal N-point arrangement
    gammas = torch.logspace(-1.5, 1.5, args.gammas, dtype=torch.float64)
    kernel = rbf_kernel(z, 0.05)
    lr = args.damping_lr
    records = []
    for h in args.bandwidths:
        critic = RBFCritic.grid(-8.0, 8.0, 65, h)
        start = time.perf_counter()
        run = simulate_particles(
            x0,
            real,
            kernel,
            critic,
            steps=args.damping_steps,
            lr_g=lr,
            lr_d=lr,
            penalty=gammas,
            record_every=1,
        )
        w1 = wasserstein_1d(run.x[..., 0], real[:, 0])
        measured = time_to_converge(w1, run.steps, args.tol)
        predicted = [
            predicted_time(
                linearised_map(x_eq, real, kernel[0], critic, lr, lr, float(g)),
                x_eq,
                x0,
                real,
                args.tol,
                args.damping_steps,
            )
            for g in gammas
        ]
        gamma_mode, m_norm, curvature = translation_mode_critical_penalty(
            x_eq, real, critic, lr, lr
        )
        for g, t_m, t_p in zip(gammas.tolist(), measured.tolist(), predicted, strict=True):
            records.append(
                {
                    "experiment": "damping",
                    "n_particles": n,
                    "dim": 1,
                    "kernel": "rbf_latent",
                    "kernel_width": 0.05,
                    "critic": "rbf_linear",
                    "bandwidth": h,
                    "penalty": g,
                    "lr": lr,
                    "tol": args.tol,
                    "steps": args.damping_steps,
                    "outcome": "converged" if math.isfinite(t_m) else "not_converged",
                    "time_measured": _num(t_m * lr),
                    "time_predicted": _num(t_p * lr),
                }
            )
        i_m = int(torch.argmin(measured))
        i_p = int(torch.argmin(torch.tensor(predicted)))
        records.append(
            {
                "experiment": "critical_penalty",
                "n_particles": n,
                "dim": 1,
                "kernel": "rbf_latent",
                "kernel_width": 0.05,
                "critic": "rbf_linear",
                "bandwidth": h,
                "penalty": float(gammas[i_m]),
                "outcome": "converged" if math.isfinite(float(measured[i_m])) else "not_converged",
                "penalty_predicted_linear": float(gammas[i_p]),
                "penalty_predicted_mode": round(gamma_mode, 4),
                "mode_stiffness": round(m_norm, 4),
                "mode_curvature": round(curvature, 4),
                "time_measured": _num(float(measured[i_m]) * lr),
                "time_predicted": _num(predicted[i_p] * lr),
                "near_best_measured": _near_best(gammas, measured),
            }
        )
        print(f"  damping h={h}: {time.perf_counter() - start:.1f}s", flush=True)
    return records


def _num(value: float) -> float | None:
    """JSON has no infinity: ``None`` stands for 'not within the horizon'."""
    return round(value, 3) if math.isfinite(value) else None


def _near_best(gammas: torch.Tensor, times: torch.Tensor, slack: float = 1.25) -> list[float]:
    """The range of gamma whose measured time is within ``slack`` of the best one."""
    ok = times <= slack * times.min()
    return [float(gammas[ok].min()), float(gammas[ok].max())]


def dirac_records(args: argparse.Namespace) -> list[dict]:
    """Dirac-GAN (standard loss, f'(0) = 1/2), RK4, against ``log(100) / rate``."""
    f0 = F_PRIME_0["standard"]
    gammas = torch.logspace(-1, 1, 11, dtype=torch.float64)
    dt, tol = 0.05, 1e-2
    traj = simulate_dirac_gan(gammas, "standard", dt=dt, steps=args.dirac_steps)
    times = time_to_converge(traj.norm(dim=-1), torch.arange(traj.shape[0]), tol) * dt
    predicted = predicted_convergence_time(gammas, f0, tol)
    return [
        {
            "experiment": "dirac",
            "n_particles": 1,
            "dim": 1,
            "coupling": None,
            "critic": "linear",
            "penalty": g,
            "outcome": "converged" if math.isfinite(t) else "not_converged",
            "time_measured": _num(t),
            "time_predicted": _num(p),
        }
        for g, t, p in zip(gammas.tolist(), times.tolist(), predicted.tolist(), strict=True)
    ]


# ----------------------------------------------------------------------------------- figures


def plot_coupling(records: list[dict], path: Path) -> None:
    """Converged fraction against kappa and against the scaled coupling u, per N and horizon."""
    recs = [r for r in records if r["experiment"] == "coupling"]
    groups = sorted({(r["n_particles"], r["steps"]) for r in recs})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = {12: "tab:blue", 48: "tab:orange", 192: "tab:green"}
    for n, steps in groups:
        cells = sorted(
            {r["coupling"] for r in recs if (r["n_particles"], r["steps"]) == (n, steps)}
        )
        frac, us, cov = [], [], []
        for k in cells:
            runs = [
                r for r in recs if (r["n_particles"], r["steps"], r["coupling"]) == (n, steps, k)
            ]
            frac.append(sum(r["outcome"] == "converged" for r in runs) / len(runs))
            us.append(runs[0]["scaled_coupling"])
            cov.append(sum(r["modes_covered"] for r in runs) / len(runs))
        style = "-o" if steps == min(s for _, s in groups) else "--s"
        label = f"N={n}, {steps} steps"
        x = [max(k, 1e-3) for k in cells]
        axes[0].plot(x, frac, style, color=colours.get(n, "k"), label=label)
        axes[1].plot([max(u, 0.3) for u in us], frac, style, color=colours.get(n, "k"), label=label)
        axes[2].plot(x, cov, style, color=colours.get(n, "k"), label=label)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("off-diagonal coupling kappa (0 drawn at 1e-3)")
    axes[0].set_ylabel("fraction of seeds converged (all 5 modes)")
    axes[0].set_title("converged fraction against the coupling")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("u = lr_G T (1-kappa)/(1+kappa(N-1))  (kappa = 1, u = 0, drawn at 0.3)")
    axes[1].set_title("against the scaled coupling u")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("off-diagonal coupling kappa (0 drawn at 1e-3)")
    axes[2].set_ylabel("modes covered at the end (mean over seeds)")
    axes[2].set_title("coverage")
    axes[2].set_ylim(0, 5.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_trajectories(traj_path: Path, records: list[dict], path: Path) -> None:
    """Particle positions over time at N = 48 for a weak, a threshold and the rigid coupling."""
    data = torch.load(traj_path)
    x, steps, kappas = data["x"], data["steps"], data["kappas"]
    labels = {
        r["coupling"]: r["outcome"]
        for r in records
        if r["experiment"] == "coupling"
        and r["n_particles"] == 48
        and r["seed"] == 0
        and r["steps"] == int(steps[-1])
    }
    picks = [k for k in (0.01, 0.3, 0.7, 1.0) if k in kappas]
    fig, axes = plt.subplots(1, len(picks), figsize=(4 * len(picks), 4), sharey=True)
    for ax, kappa in zip(axes, picks, strict=True):
        j = kappas.index(kappa)
        for m in MODES[:, 0].tolist():
            ax.axhspan(m - 3 * MODE_STD, m + 3 * MODE_STD, color="tab:green", alpha=0.15, lw=0)
        ax.plot(steps.numpy(), x[:, j].numpy(), color="tab:blue", lw=0.5, alpha=0.6)
        ax.set_title(f"kappa={kappa:g}: {labels.get(kappa, '?')}", fontsize=10)
        ax.set_xlabel("particle step")
    axes[0].set_ylabel("position (green: modes ±3 std)")
    fig.suptitle("48 particles, coarse-grained kernel, trained ReLU critic (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_damping(records: list[dict], path: Path) -> None:
    """Measured vs predicted time against gamma per bandwidth; critical gamma against h."""
    damp = [r for r in records if r["experiment"] == "damping"]
    crit = sorted(
        (r for r in records if r["experiment"] == "critical_penalty"), key=lambda r: r["bandwidth"]
    )
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    cmap = plt.get_cmap("viridis")
    hs = sorted({r["bandwidth"] for r in damp})
    for i, h in enumerate(hs):
        colour = cmap(i / max(1, len(hs) - 1))
        rows = [r for r in damp if r["bandwidth"] == h]
        g = [r["penalty"] for r in rows]
        tm = [r["time_measured"] if r["time_measured"] is not None else math.nan for r in rows]
        tp = [r["time_predicted"] if r["time_predicted"] is not None else math.nan for r in rows]
        axes[0].plot(g, tm, "o", color=colour, ms=4, label=f"h={h:g} measured")
        axes[0].plot(g, tp, "-", color=colour, lw=1.2, label=f"h={h:g} linearised")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("R1 penalty gamma")
    axes[0].set_ylabel("time until W1 stays below tol (lr x steps)")
    axes[0].set_title("dots: nonlinear simulation; lines: linearised prediction (no fit)")
    axes[0].legend(fontsize=7, ncol=2)
    h = [r["bandwidth"] for r in crit]
    best = [r["penalty"] for r in crit]
    lo = [b - r["near_best_measured"][0] for b, r in zip(best, crit, strict=True)]
    hi = [r["near_best_measured"][1] - b for b, r in zip(best, crit, strict=True)]
    axes[1].errorbar(
        h,
        best,
        yerr=[lo, hi],
        fmt="o",
        ms=11,
        mfc="none",
        mec="k",
        ecolor="k",
        capsize=3,
        label="measured best gamma (bar: within 25% of the best time)",
    )
    axes[1].plot(
        h,
        [r["penalty_predicted_linear"] for r in crit],
        "s-",
        color="tab:red",
        ms=5,
        label="predicted: linearised map, best gamma",
    )
    axes[1].plot(
        h,
        [r["penalty_predicted_mode"] for r in crit],
        "^-",
        color="tab:blue",
        label="predicted: translation mode, 2 sqrt(lr_G/lr_D) |m| / c",
    )
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    for axis in (axes[1].xaxis, axes[1].yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].set_xticks(h)
    axes[1].set_xlabel("critic bandwidth h")
    axes[1].set_ylabel("critical penalty gamma*")
    axes[1].set_title("critical penalty against the critic's bandwidth")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(records: list[dict], figures: Path, traj: Path) -> None:
    figures.mkdir(parents=True, exist_ok=True)
    plot_coupling(records, figures / "particle_mode_collapse.png")
    if traj.exists():
        plot_trajectories(traj, records, figures / "particle_trajectories.png")
    plot_damping(records, figures / "particle_damping.png")


def merge(path: Path, records: list[dict], experiments: tuple[str, ...], meta: dict) -> None:
    """Replace this script's experiments in the results file, keep the others'."""
    old = json.loads(path.read_text()) if path.exists() else {"meta": {}, "records": []}
    kept = [r for r in old["records"] if r["experiment"] not in experiments]
    old["meta"].update(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": old["meta"], "records": kept + records}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--traj", type=Path, default=Path("/tmp/particle_trajectories.pt"))
    parser.add_argument("--particles", type=int, nargs="+", default=[12, 48, 192])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--long-steps", type=int, default=12000, help="horizon check, N = 48")
    parser.add_argument("--hidden", type=int, default=64, help="critic width")
    parser.add_argument("--real", type=int, default=256, help="real sample size")
    parser.add_argument("--lr-g", type=float, default=0.1)
    parser.add_argument("--lr-d", type=float, default=0.1)
    parser.add_argument("--penalty", type=float, default=1.0, help="R1 strength in (a)")
    parser.add_argument(
        "--critic-lrs", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0], help="critic sweep"
    )
    parser.add_argument("--bandwidths", type=float, nargs="+", default=list(BANDWIDTHS))
    parser.add_argument("--gammas", type=int, default=33, help="penalty grid size in (b)")
    parser.add_argument("--offset", type=float, default=-0.5, help="initial shift in (b)")
    parser.add_argument("--tol", type=float, default=0.05, help="W1 tolerance in (b)")
    parser.add_argument("--damping-lr", type=float, default=0.1)
    parser.add_argument("--damping-steps", type=int, default=2000)
    parser.add_argument("--dirac-steps", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="8 seeds, horizon check at every N")
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # small tensors: threads only add overhead on a shared CPU
    if args.plot_only:
        plot_all(json.loads(args.out.read_text())["records"], args.figures, args.traj)
        return
    if args.full:
        args.seeds, args.gammas = 8, 41
    start, cpu = time.perf_counter(), time.process_time()
    records: list[dict] = []
    for n in args.particles:
        records += coupling_sweep(args, n, args.steps, KAPPAS, args.seeds)
    long_ns = args.particles if args.full else [48]
    for n in long_ns:
        near = (0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0) if n == 48 else KAPPAS
        records += coupling_sweep(args, n, args.long_steps, near, 2 if not args.full else 4)
    records += critic_sweep(args)
    records += damping_sweep(args)
    records += dirac_records(args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    meta = {
        "paper": "Durr, Mroueh, Tu, Wang, arXiv 2212.04580",
        "script_1d": "benchmarks/particle_model.py" + (" --full" if args.full else ""),
        "seconds_1d": round(seconds, 1),
        "cpu_seconds_1d": round(cpu, 1),
        "modes": MODES[:, 0].tolist(),
        "mode_std": MODE_STD,
        "damping_offset": args.offset,
        "threads": 1,
    }
    merge(args.out, records, EXPERIMENTS_1D, meta)
    plot_all(json.loads(args.out.read_text())["records"], args.figures, args.traj)
    print(f"wrote {args.out} and figures to {args.figures}; total {seconds:.1f}s")


if __name__ == "__main__":
    main()
