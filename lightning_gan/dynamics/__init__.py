"""Small, exact simulations of GAN training dynamics from the literature (plain torch, CPU).

* :mod:`~lightning_gan.dynamics.interval_gmm`: Li, Madry, Peebles, Schmidt (2017): a two-Gaussian
  generator against a two-interval discriminator; optimal-discriminator vs first-order dynamics,
  and discriminator collapse.
* :mod:`~lightning_gan.dynamics.particle_model`: Durr, Mroueh, Tu, Wang (2022): generator outputs
  as kernel-coupled particles against a trained critic (:mod:`~lightning_gan.dynamics.critics`);
  outcomes classified by :mod:`~lightning_gan.dynamics.outcomes`; the critical penalty predicted
  by :mod:`~lightning_gan.dynamics.linearised`.
* :mod:`~lightning_gan.dynamics.dirac_gan`: Mescheder et al. (2018): the Dirac-GAN eigenvalues;
  a gradient penalty damps the dynamics, fastest at critical damping ``gamma = 2 f'(0)``.
* :mod:`~lightning_gan.dynamics.stats`: binomial confidence intervals for success counts.

None of this needs Lightning: these are vectorised simulations over many initialisations, used by
``benchmarks/li_sweep.py``, ``benchmarks/particle_model.py``, ``benchmarks/particle_mnist.py``
and the two examples, and documented in ``docs/dynamics.md``.
"""

from lightning_gan.dynamics.critics import ReLUCritic
from lightning_gan.dynamics.dirac_gan import (
    F_PRIME_0,
    critical_penalty,
    dirac_convergence_rate,
    dirac_eigenvalues,
    predicted_convergence_time,
    simulate_dirac_gan,
)
from lightning_gan.dynamics.interval_gmm import (
    DISCRIMINATORS,
    FAILURE_KINDS,
    UPDATES,
    IntervalGMMRun,
    collapse_kind,
    discriminator_advantage,
    discriminator_collapsed,
    discriminator_mass,
    endpoint_grad,
    generator_grad,
    objective,
    optimal_intervals,
    random_intervals,
    simulate_first_order,
    simulate_optimal_discriminator,
    union_mass,
)
from lightning_gan.dynamics.linearised import (
    linearised_map,
    predicted_time,
    translation_mode_critical_penalty,
)
from lightning_gan.dynamics.outcomes import (
    OUTCOMES,
    Outcomes,
    classify_outcomes,
    crossing,
    nearest_modes,
)
from lightning_gan.dynamics.particle_model import (
    ParticleRun,
    RBFCritic,
    coarse_kernel,
    modes_covered,
    rbf_kernel,
    scaled_coupling,
    simulate_particles,
    simulate_particles_nn,
    time_to_converge,
    wasserstein_1d,
)
from lightning_gan.dynamics.stats import binomial_interval

__all__ = [
    "DISCRIMINATORS",
    "FAILURE_KINDS",
    "F_PRIME_0",
    "OUTCOMES",
    "UPDATES",
    "IntervalGMMRun",
    "Outcomes",
    "ParticleRun",
    "RBFCritic",
    "ReLUCritic",
    "binomial_interval",
    "classify_outcomes",
    "coarse_kernel",
    "collapse_kind",
    "critical_penalty",
    "crossing",
    "dirac_convergence_rate",
    "dirac_eigenvalues",
    "discriminator_advantage",
    "discriminator_collapsed",
    "discriminator_mass",
    "endpoint_grad",
    "generator_grad",
    "linearised_map",
    "modes_covered",
    "nearest_modes",
    "objective",
    "optimal_intervals",
    "predicted_convergence_time",
    "predicted_time",
    "random_intervals",
    "rbf_kernel",
    "scaled_coupling",
    "simulate_dirac_gan",
    "simulate_first_order",
    "simulate_optimal_discriminator",
    "simulate_particles",
    "simulate_particles_nn",
    "time_to_converge",
    "translation_mode_critical_penalty",
    "union_mass",
    "wasserstein_1d",
]
