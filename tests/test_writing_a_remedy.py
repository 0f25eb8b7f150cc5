"""The guide's worked example (docs/guide/writing-a-remedy.md) runs and does what it says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.helpers import d_step, quiet_trainer, ring_data, tiny_gan

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "drift_penalty.py"


def _drift_penalty() -> type:
    spec = importlib.util.spec_from_file_location("drift_penalty", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DriftPenalty


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_drift_penalty_is_the_formula_and_trains_d() -> None:
    gan = tiny_gan()
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    d = d_step(gan, real, fake)
    out = _drift_penalty()(epsilon=0.5).discriminator_penalty(gan, d)
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


def test_drift_penalty_keeps_the_critic_near_zero_in_a_fit() -> None:
    # A Wasserstein critic without a constraint drifts; the penalty holds its scores near 0.
    free, held = _mean_real_score(), _mean_real_score(_drift_penalty()(epsilon=1.0))
    assert held < 0.5 * free


def test_bad_epsilon_is_refused_with_the_papers_value() -> None:
    with pytest.raises(ValueError, match="0.001"):
        _drift_penalty()(epsilon=-1.0)
