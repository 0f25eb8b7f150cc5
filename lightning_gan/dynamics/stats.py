"""Binomial confidence intervals for "k of n runs converged" (the sweeps report fractions)."""

from __future__ import annotations

from scipy.stats import binomtest


def binomial_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes / trials`` (scipy's ``binomtest``).

    Wilson rather than the normal approximation: it stays inside ``[0, 1]`` and keeps its
    coverage at 0 % and 100 %, where many sweep cells sit.
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(
            f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}: "
            "pass counts of runs."
        )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence} must lie in (0, 1): e.g. 0.95.")
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)
