"""The guide's worked example (docs/guide/writing-a-remedy.md) runs and does what it says."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.helpers import d_step, quiet_trainer, ring_data, tiny_gan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from drift_penalty import DriftPenalty  # noqa: E402  (the guide's example file, as a user has it)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_drift_penalty_is_the_formula_and_trains_d() -> None:
    gan = tiny_gan()
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    d = d_step(gan, real, fake)
    out = DriftPenalty(epsilon=0.5).discriminator_penalty(gan, d)
    torch.testing.assert_close(out, 0.5 * gan.discriminate(real).square().mean())
    out.backward()  # it reaches D's weights through the step's own scores
    assert all(p.grad is not None for p in gan.discriminator.parameters())


def _mean_real_score(*callbacks) -> float:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan(loss="wasserstein", lr_d=1e-3, lr_g=1e-3)
    quiet_trainer(max_steps=200, callbacks=list(callbacks)).fit(gan, ring_data())
    real = ring_data().sample(512, torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        return gan.discriminate(real).abs().mean().item()


# A Wasserstein critic without a constraint drifts; the penalty holds its scores near 0.
def test_drift_penalty_keeps_the_critic_near_zero_in_a_fit() -> None:
    free, held = _mean_real_score(), _mean_real_score(DriftPenalty(epsilon=1.0))
    assert held < 0.5 * free


def test_bad_epsilon_is_refused_with_the_papers_value() -> None:
    with pytest.raises(ValueError, match="0.001"):
        DriftPenalty(epsilon=-1.0)
