"""Small, exact simulations of GAN training dynamics from the literature (plain torch, CPU).

* :mod:`~lightning_gan.dynamics.interval_gmm`: Li, Madry, Peebles, Schmidt (2017): a two-Gaussian
  generator against a two-interval discriminator; optimal-discriminator vs first-order dynamics,
  and discriminator collapse.
* :mod:`~lightning_gan.dynamics.particle_model`: Durr, Mroueh, Tu, Wang (2022): generator outputs
  as kernel-coupled particles; the kernel width decides mode collapse.
* :mod:`~lightning_gan.dynamics.dirac_gan`: Mescheder et al. (2018): the Dirac-GAN eigenvalues;
  a gradient penalty damps the dynamics, fastest at critical damping ``gamma = 2 f'(0)``.

None of this needs Lightning: these are vectorised simulations over many initialisations, used by
``examples/li_dynamics.py`` and ``examples/particle_model.py`` and documented in
``docs/dynamics.md``.
"""

from lightning_gan.dynamics.dirac_gan import (
    F_PRIME_0,
    critical_penalty,
    dirac_convergence_rate,
    dirac_eigenvalues,
    predicted_convergence_time,
    simulate_dirac_gan,
)
from lightning_gan.dynamics.interval_gmm import (
    FAILURE_KINDS,
    IntervalGMMRun,
    collapse_kind,
    endpoint_grad,
    generator_grad,
    objective,
    optimal_intervals,
    random_intervals,
    simulate_first_order,
    simulate_optimal_discriminator,
    union_mass,
)
from lightning_gan.dynamics.particle_model import (
    ParticleRun,
    RBFCritic,
    coarse_kernel,
    modes_covered,
    rbf_kernel,
    simulate_particles,
    time_to_converge,
    wasserstein_1d,
)

__all__ = [
    "F_PRIME_0",
    "FAILURE_KINDS",
    "IntervalGMMRun",
    "ParticleRun",
    "RBFCritic",
    "coarse_kernel",
    "collapse_kind",
    "critical_penalty",
    "dirac_convergence_rate",
    "dirac_eigenvalues",
    "endpoint_grad",
    "generator_grad",
    "modes_covered",
    "objective",
    "optimal_intervals",
    "predicted_convergence_time",
    "random_intervals",
    "rbf_kernel",
    "simulate_dirac_gan",
    "simulate_first_order",
    "simulate_optimal_discriminator",
    "simulate_particles",
    "time_to_converge",
    "union_mass",
    "wasserstein_1d",
]
