"""The effective particle model of Durr, Mroueh, Tu, Wang (arXiv 2212.04580) in thirty lines.

    python examples/particle_model.py

A walk-through of :mod:`lightning_gan.dynamics`: 48 particles (the generator's outputs) start as
a narrow cloud on the middle mode of a 1-D mixture of 5 Gaussians; they are coupled by the
coarse-grained kernel (1 on the diagonal, ``kappa`` off it) and chase the input gradient of a
trained one-hidden-layer ReLU critic; each run is then classified converged / collapsed onto
``k < 5`` modes / oscillating / escaped. Independent particles (``kappa = 0``) split over the
modes; a rigid cloud (``kappa = 1``) cannot. The sweeps the docs quote (coupling against the
particle count, the critical penalty against the critic's bandwidth, 784-d MNIST particles)
are ``benchmarks/particle_model.py`` and ``benchmarks/particle_mnist.py``. About ten seconds.
"""

from __future__ import annotations

import argparse

import torch

from lightning_gan.dynamics.critics import ReLUCritic
from lightning_gan.dynamics.outcomes import classify_outcomes, nearest_modes
from lightning_gan.dynamics.particle_model import coarse_kernel, simulate_particles_nn

MODES = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kappas", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0])
    parser.add_argument("--particles", type=int, default=48)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    real = MODES[torch.randint(0, 5, (256,), generator=gen)] + 0.2 * torch.randn(
        256, 1, generator=gen
    )
    x0 = 0.2 * torch.randn(args.particles, 1, generator=gen)
    kernel = coarse_kernel(args.particles, torch.tensor(args.kappas), dtype=torch.float32)
    critic = ReLUCritic.init(len(args.kappas), 1, 64, gen)  # one critic per coupling
    run = simulate_particles_nn(
        x0, real, kernel, critic, steps=args.steps, lr_g=0.1, lr_d=0.1, penalty=1.0
    )
    window = run.x.shape[0] // 5
    dist, index = nearest_modes(run.x[-window:], MODES)
    out = classify_outcomes(dist, index, n_modes=5, hq_radius=0.6, escape_radius=2.0)
    print("| kappa | outcome | modes covered | high-quality particles |")
    print("|---|---|---|---|")
    for b, kappa in enumerate(args.kappas):
        print(
            f"| {kappa:g} | {out.labels[b]} | {int(out.covered[b])} of 5 "
            f"| {100 * float(out.high_quality[b]):.0f}% |"
        )


if __name__ == "__main__":
    main()
