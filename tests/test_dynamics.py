"""The dynamics reproductions: Li et al.'s interval model, the particle model, the Dirac-GAN.

Unit checks against closed forms (crossing points, total variation, eigenvalues, kernel
spectra), gradients against autograd, outcome classes on constructed trajectories, and the
papers' qualitative claims as properties that could fail (an ordering, a monotone trend, a
separation of confidence intervals) on small populations; no measured number is copied back.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lightning_gan.dynamics.critics import ReLUCritic
from lightning_gan.dynamics.dirac_gan import (
    critical_penalty,
    dirac_convergence_rate,
    dirac_eigenvalues,
    predicted_convergence_time,
    simulate_dirac_gan,
)
from lightning_gan.dynamics.interval_gmm import (
    DISCRIMINATORS,
    IntervalGMMRun,
    collapse_kind,
    discriminator_collapsed,
    endpoint_grad,
    generator_grad,
    mixture_pdf,
    objective,
    optimal_intervals,
    random_intervals,
    simulate_first_order,
    simulate_optimal_discriminator,
)
from lightning_gan.dynamics.linearised import (
    linearised_map,
    predicted_time,
    translation_mode_critical_penalty,
)
from lightning_gan.dynamics.outcomes import classify_outcomes, crossing, nearest_modes
from lightning_gan.dynamics.particle_model import (
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

INF = math.inf


def _t(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _total_variation(mu: torch.Tensor, mu_star: torch.Tensor) -> torch.Tensor:
    """``int (p_real - p_fake)^+`` by a fine Riemann sum, per run."""
    x = torch.linspace(-15, 15, 15_001, dtype=torch.float64).expand(len(mu), -1)
    gap = mixture_pdf(x, mu_star) - mixture_pdf(x, mu)
    return gap.clamp(min=0).sum(-1) * 30 / 15_000


# ---------------------------------------------------------------- Li et al.: optimal intervals


def test_identical_mixtures_give_the_whole_line_and_objective_one():
    mu = _t([-1.0, 2.0], [2.0, -1.0], [0.5, 0.5])
    mu_star = _t([-1.0, 2.0], [-1.0, 2.0], [0.5, 0.5])
    intervals = optimal_intervals(mu, mu_star)
    assert torch.equal(intervals[:, 0], _t([-INF, INF], [-INF, INF], [-INF, INF]))
    assert torch.equal(intervals[:, 1], _t([INF, INF], [INF, INF], [INF, INF]))
    assert torch.allclose(objective(mu, mu_star, intervals), torch.ones(3, dtype=torch.float64))


def test_known_crossing_points():
    # Real N(1,1) vs fake N(-1,1): one crossing at 0, real wins to the right.
    # Real 1/2 N(-1,1) + 1/2 N(1,1) vs fake N(0,1): e^{-1/2} cosh x = 1 at x = +-acosh(sqrt e).
    a = math.acosh(math.exp(0.5))
    intervals = optimal_intervals(_t([-1.0, -1.0], [0.0, 0.0]), _t([1.0, 1.0], [-1.0, 1.0]))
    assert torch.allclose(intervals[0], _t([0.0, INF], [INF, INF]), atol=1e-12)
    assert torch.allclose(intervals[1], _t([-INF, -a], [a, INF]), atol=1e-12)


def test_optimal_intervals_attain_the_total_variation_and_beat_random_intervals():
    gen = torch.Generator().manual_seed(0)
    mu = (torch.rand(64, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    mu_star = (torch.rand(64, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    best = objective(mu, mu_star, optimal_intervals(mu, mu_star)) - 1
    assert torch.allclose(best, _total_variation(mu, mu_star), atol=1e-5)
    for _ in range(5):
        other = objective(mu, mu_star, random_intervals(64, 6.0, gen)) - 1
        assert (other <= best + 1e-12).all()


@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
def test_closed_form_gradients_match_autograd(discriminator: str):
    gen = torch.Generator().manual_seed(1)
    mu = (torch.rand(200, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    mu_star = (torch.rand(200, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    ends = (torch.rand(200, 2, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    intervals = ends.sort(dim=-1).values  # overlapping and nested pairs included
    m, iv = mu.clone().requires_grad_(True), intervals.clone().requires_grad_(True)
    value = objective(m, mu_star, iv, discriminator).sum()
    g_mu, g_iv = torch.autograd.grad(value, [m, iv])
    assert torch.allclose(generator_grad(mu, mu_star, intervals, discriminator), g_mu, atol=1e-14)
    assert torch.allclose(endpoint_grad(mu, mu_star, intervals, discriminator), g_iv, atol=1e-14)


def test_union_and_sum_agree_on_disjoint_intervals_and_differ_on_overlap():
    mu, star = _t([-1.0, 1.0]), _t([-2.0, 2.0])
    disjoint = torch.tensor([[[-3.0, -1.0], [1.0, 3.0]]], dtype=torch.float64)
    overlap = torch.tensor([[[-3.0, 1.0], [-1.0, 3.0]]], dtype=torch.float64)
    assert torch.allclose(objective(mu, star, disjoint), objective(mu, star, disjoint, "sum"))
    assert not torch.allclose(objective(mu, star, overlap), objective(mu, star, overlap, "sum"))
    with pytest.raises(ValueError, match="union, sum"):
        objective(mu, star, disjoint, "max")


# ------------------------------------------------------------------- Li et al.: the dynamics


@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_optimal_d_beats_first_order_beyond_the_confidence_intervals(discriminator, updates):
    """The paper's dichotomy under each of our modelling choices, from the same 100 starts:
    the 95 % intervals do not overlap, and most first-order failures are D collapse."""
    gen = torch.Generator().manual_seed(0)
    n = 100
    mu_star = _t([-2.0, 2.0]).expand(n, 2)
    mu0 = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 4
    intervals0 = random_intervals(n, 4.0, gen)
    optimal = simulate_optimal_discriminator(mu0, mu_star, steps=150, lr_g=0.5, record_every=150)
    first = simulate_first_order(
        mu0,
        mu_star,
        intervals0,
        steps=150,
        lr_g=0.5,
        lr_d=0.5,
        record_every=150,
        discriminator=discriminator,
        updates=updates,
    )
    k_opt, k_first = int(optimal.converged().sum()), int(first.converged().sum())
    assert binomial_interval(k_opt, n)[0] > binomial_interval(k_first, n)[1]
    collapsed = int(discriminator_collapsed(first, discriminator).sum())
    assert collapsed >= 0.5 * (n - k_first)


def test_discriminator_collapse_is_read_from_what_d_still_captures():
    mu_star = _t([-2.0, 2.0]).expand(3, 2)
    final_mu = _t([1.5, 2.5], [1.5, 2.5], [-2.0, 2.0])
    good_d = optimal_intervals(final_mu[:1], mu_star[:1])[0]
    intervals = torch.stack([_t([3.0, 3.0], [1.0, 1.0]), good_d, _t([0.0, 5.0], [-5.0, -1.0])])
    run = IntervalGMMRun(mu_star, final_mu[None], intervals[None], torch.tensor([0]))
    # empty D on a wrong G: collapse; optimal D on a wrong G: no collapse; converged: no failure
    assert discriminator_collapsed(run).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="share"):
        discriminator_collapsed(run, share=1.5)


def test_binomial_intervals_contain_the_estimate_and_shrink_like_one_over_root_n():
    widths = []
    for n in (100, 400, 1600):
        lo, hi = binomial_interval(n // 4, n)
        assert lo < 0.25 < hi
        widths.append(hi - lo)
    assert widths[0] / widths[1] == pytest.approx(2.0, rel=0.1)
    assert widths[1] / widths[2] == pytest.approx(2.0, rel=0.1)
    lo, hi = binomial_interval(0, 100)
    assert lo == 0.0 and 0.0 < hi < 0.05
    with pytest.raises(ValueError, match="counts of runs"):
        binomial_interval(5, 3)


def test_collapse_kinds_of_constructed_final_states():
    mu_star = _t([-2.0, 2.0]).expand(4, 2)
    final_mu = _t([-2.0, 2.0], [1.5, 2.5], [0.5, 0.6], [1.5, 2.5])
    intervals = torch.stack(
        [
            _t([0.0, 5.0], [-5.0, -1.0]),  # converged whatever D is
            _t([3.0, 3.0], [1.0, 1.0]),  # both intervals empty
            _t([-5.0, 1.0], [0.0, 5.0]),  # overlapping: one interval
            _t([20.0, 21.0], [30.0, 31.0]),  # far in the tails
        ]
    )
    run = IntervalGMMRun(mu_star, final_mu[None], intervals[None], torch.tensor([0]))
    assert collapse_kind(run) == ["converged", "collapsed", "one_interval", "vanished"]


def test_first_order_dynamics_are_deterministic_and_validate_arguments():
    gen = torch.Generator().manual_seed(2)
    mu0 = torch.randn(8, 2, generator=gen, dtype=torch.float64)
    iv0 = random_intervals(8, 4.0, gen)
    star = _t([-2.0, 2.0]).expand(8, 2)
    a = simulate_first_order(mu0, star, iv0, steps=20)
    b = simulate_first_order(mu0, star, iv0, steps=20)
    assert torch.equal(a.mu, b.mu) and torch.equal(a.intervals, b.intervals)
    assert a.mu.shape == (21, 8, 2) and a.intervals.shape == (21, 8, 2, 2)
    sim = simulate_first_order(mu0, star, iv0, steps=20, updates="simultaneous")
    assert not torch.equal(a.mu, sim.mu)  # G sees the old D: a different trajectory
    lr_batch = simulate_first_order(
        mu0, star, iv0, steps=20, lr_d=torch.full((8,), 0.1, dtype=torch.float64)
    )
    assert torch.equal(a.mu, lr_batch.mu)  # one lr_D per run is the same as a shared one
    with pytest.raises(ValueError, match="d_steps"):
        simulate_first_order(mu0, star, iv0, d_steps=0)
    with pytest.raises(ValueError, match="alternating, simultaneous"):
        simulate_first_order(mu0, star, iv0, updates="async")
    with pytest.raises(ValueError, match="learning rate"):
        simulate_optimal_discriminator(mu0, star, lr_g=0.0)


# ---------------------------------------------------------------------------- particle model


def test_kernels_interpolate_between_independent_and_rigid():
    z = torch.linspace(-2.0, 2.0, 16, dtype=torch.float64)[:, None]  # pairs 0.27 apart
    narrow, wide = rbf_kernel(z, torch.tensor([1e-3, 1e3]))
    assert torch.allclose(narrow, torch.eye(16, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(wide, torch.full((16, 16), 1 / 16, dtype=torch.float64), atol=1e-6)
    independent, rigid = coarse_kernel(16, torch.tensor([0.0, 1.0]))
    assert torch.equal(independent, torch.eye(16, dtype=torch.float64))
    assert torch.allclose(rigid.sum(-1), torch.ones(16, dtype=torch.float64))
    with pytest.raises(ValueError, match="off_diagonal"):
        coarse_kernel(4, 1.5)
    with pytest.raises(ValueError, match="width"):
        rbf_kernel(z, 0.0)


def test_metrics_on_known_samples():
    modes = _t([-2.0], [0.0], [2.0])
    x = _t([[-2.05], [-1.95], [0.1], [1.0]], [[5.0], [5.0], [5.0], [5.0]])
    assert modes_covered(x, modes, std=0.1).tolist() == [2, 0]
    real = torch.linspace(-1, 1, 1001, dtype=torch.float64)
    levels = (torch.arange(10, dtype=torch.float64) + 0.5) / 10
    quantiles = torch.quantile(real, levels)
    assert wasserstein_1d(quantiles[None], real).item() == pytest.approx(0.0, abs=1e-12)
    assert wasserstein_1d(quantiles[None] + 0.5, real).item() == pytest.approx(0.5)
    error = _t([1.0, 1.0], [0.05, 0.5], [0.2, 0.01], [0.05, float("nan")])
    assert time_to_converge(error, torch.tensor([0, 10, 20, 30]), 0.1).tolist() == [30.0, INF]


def _five_modes(n_real: int = 600) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    modes = _t([-4.0], [-2.0], [0.0], [2.0], [4.0])
    idx = torch.randint(0, 5, (n_real,), generator=gen)
    return modes, modes[idx] + 0.2 * torch.randn(n_real, 1, generator=gen, dtype=torch.float64)


def test_coarse_kernel_spectrum_matches_the_scaled_coupling():
    """Eigenvalue 1 on the common motion, (1 - k)/(1 + k (N - 1)) on the N - 1 relative ones."""
    for n, kappa in ((12, 0.3), (48, 0.05)):
        eig = torch.linalg.eigvals(coarse_kernel(n, kappa)[0]).real.sort().values
        relative = (1 - kappa) / (1 + kappa * (n - 1))
        assert torch.allclose(eig[:-1], torch.full((n - 1,), relative, dtype=torch.float64))
        assert eig[-1].item() == pytest.approx(1.0)
        assert scaled_coupling(kappa, n, 0.1, 1000) == pytest.approx(100 * relative)
    assert scaled_coupling(0.0, 48, 0.1, 1000) == pytest.approx(100.0)
    assert scaled_coupling(1.0, 48, 0.1, 1000) == 0.0
    # Same kappa, more particles: less time to move apart.
    assert scaled_coupling(0.1, 192, 0.1, 1000) < scaled_coupling(0.1, 12, 0.1, 1000)


@pytest.mark.parametrize("loss", ["logistic", "wasserstein"])
def test_relu_critic_gradients_match_autograd(loss: str):
    gen = torch.Generator().manual_seed(0)
    critic = ReLUCritic.init(3, 4, 16, gen, torch.float64)
    real = torch.randn(1, 20, 4, generator=gen, dtype=torch.float64)
    fake = torch.randn(3, 7, 4, generator=gen, dtype=torch.float64)
    penalty = torch.tensor([0.0, 1.0, 10.0], dtype=torch.float64)
    total, grads = critic.loss_and_grads(real, fake, penalty, loss)
    params = [p.clone().requires_grad_(True) for p in critic.params]
    twin = ReLUCritic(*params)
    r = real.expand(3, -1, -1).clone().requires_grad_(True)
    d_real, d_fake = twin(r), twin(fake)
    if loss == "logistic":
        value = F.softplus(-d_real).mean(1) + F.softplus(d_fake).mean(1)
    else:
        value = d_fake.mean(1) - d_real.mean(1)
    (g_real,) = torch.autograd.grad(d_real.sum(), r, create_graph=True)
    value = value + penalty / 2 * g_real.pow(2).sum(-1).mean(1)
    assert torch.allclose(value, total)
    for auto, closed in zip(torch.autograd.grad(value.sum(), params), grads, strict=True):
        assert torch.allclose(auto, closed)
    x = fake.clone().requires_grad_(True)
    (g_x,) = torch.autograd.grad(twin(x).sum(), x)
    assert torch.allclose(critic.value_and_input_grad(fake)[1], g_x)


def _trajectory(*frames: list[float]) -> torch.Tensor:
    """Snapshots ``[T, 1, N, 1]`` of one 1-D run from lists of positions."""
    return torch.tensor(frames, dtype=torch.float64)[:, None, :, None]


def test_outcome_classes_of_constructed_trajectories():
    modes = _t([-2.0], [0.0], [2.0])
    spread = [-2.0, -2.0, 0.0, 0.0, 2.0, 2.0]
    cases = {
        "converged": _trajectory(spread, spread, spread),
        "collapsed": _trajectory(*[[-2.0, -2.0, -2.0, 0.0, 0.0, 0.0]] * 3),
        "oscillating": _trajectory([0.0] * 6, [2.0] * 6, [0.0] * 6, [2.0] * 6),
        "escaped": _trajectory(spread, [9.0, 9.0, 0.0, 0.0, 2.0, 2.0], [9.0, 9.0, 0, 0, 2, 2]),
        "diverged": _trajectory(spread, [float("nan")] * 6),
    }
    labels = []
    for traj in cases.values():
        dist, index = nearest_modes(traj, modes)
        labels += classify_outcomes(dist, index, 3, hq_radius=0.3, escape_radius=1.5).labels
    assert labels == ["converged", "collapsed", "oscillating", "escaped", "escaped"]
    # One move from a mode to another is not an oscillation.
    dist, index = nearest_modes(_trajectory(spread, [0.0, -2.0, 0.0, 0.0, 2.0, 2.0]), modes)
    out = classify_outcomes(dist, index, 3, hq_radius=0.3, escape_radius=1.5)
    assert out.labels == ["converged"] and out.oscillating_share.item() == 0.0
    # With as many modes as particles, "converged" can mean "as many as a real sample covers".
    dist, index = nearest_modes(cases["collapsed"], modes)
    assert classify_outcomes(dist, index, 3, 0.3, 1.5, required=2).labels == ["converged"]
    with pytest.raises(ValueError, match="T >= 2"):
        classify_outcomes(dist[:1], index[:1], 3, 0.3, 1.5)


def test_cosine_nearest_modes_ignore_brightness():
    modes = _t([1.0, 0.0], [0.0, 1.0])
    dist, index = nearest_modes(_t([5.0, 0.1], [0.0, 0.2]), modes, "cosine")
    assert index.tolist() == [0, 1] and dist.max().item() < 1e-3


def test_threshold_crossing_is_bracketed_and_log_interpolated():
    kappas = [0.0, 0.01, 0.1, 1.0]
    cross = crossing(kappas, [1.0, 1.0, 0.0, 0.0])
    assert (cross["low"], cross["high"]) == (0.01, 0.1)
    assert cross["value"] == pytest.approx(math.sqrt(0.01 * 0.1))  # halfway in log
    assert crossing(kappas, [1.0, 0.25, 0.0, 0.0])["value"] == 0.01  # from 0: the bracket top
    # A dip at small coupling does not move the threshold: it is where the fraction stays low.
    assert crossing(kappas, [1.0, 0.0, 1.0, 0.0])["low"] == 0.1
    assert crossing(kappas, [1.0, 1.0, 1.0, 1.0]) == {}
    with pytest.raises(ValueError, match="increase"):
        crossing([0.1, 0.01], [1.0, 0.0])


def test_rigid_coupling_covers_fewer_modes_than_independent_particles():
    """Against a trained ReLU critic: kappa = 0 spreads over the modes, kappa = 1 cannot."""
    modes, real = _five_modes(256)
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(24, 1, generator=gen)
    critic = ReLUCritic.init(2, 1, 32, gen)
    run = simulate_particles_nn(
        0.2 * z,
        real.float(),
        coarse_kernel(24, torch.tensor([0.0, 1.0]), dtype=torch.float32),
        critic,
        steps=1500,
        lr_g=0.1,
        lr_d=0.1,
        penalty=1.0,
        record_every=50,
    )
    dist, index = nearest_modes(run.x[-6:], modes)
    out = classify_outcomes(dist, index, 5, hq_radius=0.6, escape_radius=2.0)
    free, rigid = out.covered.tolist()
    assert free >= 4 and rigid <= 2 and free > rigid
    assert out.labels[1] != "converged"


def test_linearised_map_follows_the_simulation_near_equilibrium():
    """With the data at the particles' own positions (an exact fixed point), a small
    displacement evolves as the linear map predicts."""
    n = 16
    x_eq = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)[:, None]
    critic = RBFCritic.grid(-4.0, 4.0, 25, 0.7)
    kernel = coarse_kernel(n, 0.1)
    dx = 1e-6 * torch.sin(3.0 * x_eq)
    step_map = linearised_map(x_eq, x_eq, kernel[0], critic, 0.1, 0.1, 1.0)
    run = simulate_particles(
        x_eq + dx,
        x_eq,
        kernel,
        critic,
        steps=100,
        lr_g=0.1,
        lr_d=0.1,
        penalty=1.0,
        record_every=100,
    )
    state = torch.cat([dx.reshape(-1), torch.zeros(25, dtype=torch.float64)])
    for _ in range(100):
        state = step_map @ state
    simulated = run.x[-1, 0] - x_eq
    assert torch.allclose(simulated.reshape(-1), state[:n], rtol=1e-3, atol=1e-11)
    assert (simulated - dx).abs().max() > 1e-8  # it did move: the check is not trivial


def test_translation_mode_is_critically_damped_at_its_predicted_penalty():
    real = torch.linspace(-1.0, 1.0, 33, dtype=torch.float64)[:, None]
    critic = RBFCritic.grid(-6.0, 6.0, 37, 1.0)
    gamma, m, c = translation_mode_critical_penalty(real, real, critic, 0.1, 0.4)
    # delta'' + lr_d gamma c delta' + lr_g lr_d m^2 delta = 0 has a double root here
    assert (0.4 * gamma * c) ** 2 == pytest.approx(4 * 0.1 * 0.4 * m**2)
    wide = translation_mode_critical_penalty(real, real, RBFCritic.grid(-6, 6, 37, 3.0), 0.1, 0.4)
    assert wide[0] != pytest.approx(gamma, rel=0.05)  # it moves with the bandwidth
    step_map = linearised_map(real, real, coarse_kernel(33, 0.0)[0], critic, 0.1, 0.1, gamma)
    assert predicted_time(step_map, real, real - 0.2, real, 0.05, 400) < 400
    with pytest.raises(ValueError, match="kernel"):
        linearised_map(real, real, torch.eye(3, dtype=torch.float64), critic, 0.1, 0.1, 1.0)


def test_intermediate_penalty_converges_faster_than_weak_and_strong():
    """The U shape in gamma that critical damping predicts (Dirac-GAN, Mescheder et al.)."""
    real = 0.5 * torch.randn(
        600, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    n = 32
    z = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n) + 0.5) / n).double()[:, None]
    gammas = torch.tensor([0.05, 1.0, 30.0], dtype=torch.float64)
    run = simulate_particles(
        0.2 * z - 1.0,
        real,
        rbf_kernel(z, 0.05),
        RBFCritic.grid(-8.0, 8.0, 41, 1.0),
        steps=600,
        lr_g=0.1,
        lr_d=0.1,
        penalty=gammas,
        record_every=2,
    )
    times = time_to_converge(wasserstein_1d(run.x[..., 0], real[:, 0]), run.steps, 0.1)
    weak, middle, strong = times.tolist()
    assert math.isfinite(middle)
    assert 3 * middle < weak and 3 * middle < strong


def test_particle_simulation_validates_arguments():
    critic = RBFCritic.grid(-1.0, 1.0, 5, 0.5)
    x0 = torch.zeros(4, 1, dtype=torch.float64)
    kernel = coarse_kernel(4, 0.0)
    with pytest.raises(ValueError, match="penalty"):
        simulate_particles(x0, x0, kernel, critic, steps=1, penalty=-1.0)
    with pytest.raises(ValueError, match="learning rates"):
        simulate_particles(x0, x0, kernel, critic, steps=1, lr_g=0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        RBFCritic.grid(-1.0, 1.0, 5, 0.0)


# ------------------------------------------------------------------------------- Dirac-GAN


def test_dirac_eigenvalues_coincide_at_critical_damping():
    for f0 in (0.5, 1.0):
        gamma = critical_penalty(f0)
        assert gamma == 2 * f0
        lam = dirac_eigenvalues(gamma, f0)
        assert torch.allclose(lam[0], lam[1]) and lam[0].real.item() == pytest.approx(-f0)
        assert lam.imag.abs().max().item() == 0.0
    # Undamped rotation at gamma = 0: eigenvalues +-i f'(0).
    assert torch.allclose(
        dirac_eigenvalues(0.0, 0.5), torch.tensor([0.5j, -0.5j]).to(torch.complex128)
    )
    grid = torch.logspace(-2, 2, 401, dtype=torch.float64)
    best = grid[dirac_convergence_rate(grid, 0.5).argmax()].item()
    assert best == pytest.approx(1.0, rel=0.03)


def test_simulated_dirac_gan_matches_its_eigenvalues_and_is_fastest_near_critical():
    gammas = torch.tensor([0.2, 1.0, 5.0], dtype=torch.float64)
    traj = simulate_dirac_gan(gammas, "standard", dt=0.05, steps=2000)
    times = time_to_converge(traj.norm(dim=-1), torch.arange(traj.shape[0]), 1e-2) * 0.05
    weak, critical, strong = times.tolist()
    assert critical < weak / 2 and critical < strong / 2
    predicted = predicted_convergence_time(gammas[[0, 2]], 0.5, 1e-2)
    assert torch.allclose(times[[0, 2]], predicted, rtol=0.1)
    with pytest.raises(ValueError, match="loss"):
        simulate_dirac_gan(gammas, "hinge")


# ---------------------------------------------------------------------------- docs renderer


def test_rendered_li_tables_have_one_row_per_cell_of_the_results_file():
    """scripts/render_dynamics.py turns every record into a row (skipped before the sweep)."""
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    results = root / "docs" / "results"
    if not (results / "li_sweep.json").exists() or not (results / "particle_model.json").exists():
        pytest.skip("run benchmarks/li_sweep.py and benchmarks/particle_model.py first")
    spec = importlib.util.spec_from_file_location("render", root / "scripts/render_dynamics.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    records = json.loads((results / "li_sweep.json").read_text())["records"]
    ref = [r for r in records if r["dynamics"] == "first_order" and r["discriminator"] == "union"]
    ref = [r for r in ref if r["updates"] == "alternating"]
    grid = {(r["separation"], r["d_steps"]) for r in ref}
    text = render.SECTIONS["dynamics-li"](results)
    rows = [line for line in text.splitlines() if line.startswith("| ±")]
    n_seps = len({r["separation"] for r in records})
    # per-separation summary + every cell + 2 curves per separation + D shapes per separation
    assert len(rows) == n_seps + len(grid) + 2 * n_seps + n_seps
    for name in render.SECTIONS:
        assert render.SECTIONS[name](results).strip()
