"""TopK: exactly the k highest generated scores reach G's loss, and k follows the schedule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lightning_gan.callbacks.topk import TopK
from lightning_gan.hooks import GANCallback
from tests.helpers import g_step, quiet_trainer, ring_data, tiny_gan

no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log")


def test_k_follows_the_papers_schedule() -> None:
    topk = TopK()  # gamma 0.99, nu 0.5
    by_hand = {0: 64, 1: 63, 10: 57, 68: 32, 69: 32, 1000: 32}  # floor(0.99^t * 64), >= 32
    assert {t: topk.k_at(t, 64) for t in by_hand} == by_hand
    assert math.floor(0.99**68 * 64) == 32 and math.floor(0.99**69 * 64) == 31
    assert TopK(gamma=0.5, nu=0.01).k_at(10, 8) == 1  # never fewer than one sample


@no_trainer
def test_generator_scores_are_exactly_the_top_k() -> None:
    gan = tiny_gan(hidden=4)
    topk = TopK(gamma=0.9, nu=0.25, decay_every_g_steps=2)
    scores = torch.tensor([0.3, -1.0, 2.0, 0.1, -0.5, 1.5, 0.0, 0.7])
    gan.g_steps = 1  # t = 0: the whole batch
    assert torch.equal(topk.generator_scores(gan, g_step(gan, None, None, scores=scores)), scores)
    gan.g_steps = 6  # t = 3: k = floor(0.729 * 8) = 5
    kept = topk.generator_scores(gan, g_step(gan, None, None, scores=scores))
    assert torch.equal(kept.sort().values, scores[[3, 0, 7, 5, 2]])  # 0.1, 0.3, 0.7, 1.5, 2
    gan.g_steps = 40  # t = 20: floor(0.12 * 8) = 0 < nu * B = 2
    assert torch.equal(
        topk.generator_scores(gan, g_step(gan, None, None, scores=scores)).sort().values,
        scores[[5, 2]],
    )


class _KeptScores(GANCallback):
    """Runs after TopK in the hook chain and records what G's loss averages."""

    def __init__(self) -> None:
        self.kept: list[tuple[int, torch.Tensor]] = []

    def generator_scores(self, gan, g):
        self.kept.append((gan.trainer.current_epoch, g.fake_scores.detach().clone()))
        return g.fake_scores


def test_per_epoch_schedule_in_a_fit_and_the_loss_on_the_kept_scores() -> None:
    recorder = _KeptScores()
    gan = tiny_gan(hidden=8)
    trainer = quiet_trainer(max_steps=12, callbacks=[TopK(gamma=0.5, nu=0.25), recorder])
    trainer.fit(gan, ring_data(n_samples=64, batch_size=32))  # 2 batches per epoch, 3 epochs
    assert [(epoch, s.numel()) for epoch, s in recorder.kept] == [
        (0, 32),
        (0, 32),
        (1, 16),
        (1, 16),
        (2, 8),
        (2, 8),
    ]
    last = recorder.kept[-1][1]  # non-saturating G loss: mean softplus(-D(G(z))) of those kept
    torch.testing.assert_close(trainer.callback_metrics["loss/g"], F.softplus(-last).mean())
    assert trainer.callback_metrics["topk/k"].item() == 8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gamma=0.0), "gamma must lie in \\(0, 1\\]"),
        (dict(gamma=1.2), "gamma must lie in \\(0, 1\\]"),
        (dict(nu=0.0), "nu must lie in \\(0, 1\\]"),
        (dict(decay_every_g_steps=0), "decay_every_g_steps must be an integer >= 1"),
    ],
)
def test_bad_parameters_are_refused(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        TopK(**kwargs)
