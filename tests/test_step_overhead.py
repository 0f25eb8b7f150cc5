"""The per-step overhead cuts in ``GAN`` change no number: logged values and the finite check."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from lightning.pytorch.loggers.logger import Logger

from lightning_gan import GAN, GradientPenalty, InstanceNoise, R1Penalty, WeightPenalty
from lightning_gan.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gan.step.nonfinite import gradients_finite as _gradients_finite
from tests.helpers import quiet_trainer, ring_data


class MemoryLogger(Logger):
    """Keeps every ``log_metrics`` call as (step, {name: float})."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int | None, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "memory"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append((step, {k: float(v) for k, v in metrics.items()}))


class EveryStepGAN(GAN):
    """``GAN`` as it was: ``self.log`` of the step values in every batch."""

    log_calls = 0

    def log_due(self, key: str, window: int = 1) -> bool:
        return True

    def log(self, *args: Any, **kwargs: Any) -> None:
        type(self).log_calls += 1
        super().log(*args, **kwargs)


class CountingGAN(GAN):
    log_calls = 0

    def log(self, *args: Any, **kwargs: Any) -> None:
        type(self).log_calls += 1
        super().log(*args, **kwargs)


def _fit(
    cls: type[GAN], batches: int, every: int, n_critic: int, callbacks: Any = ()
) -> tuple[MemoryLogger, Any]:
    torch.manual_seed(0)
    gan = cls(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=16, depth=1),
        MLPDiscriminator(in_dim=2, hidden=16, depth=1),
        n_critic=n_critic,
    )
    logger = MemoryLogger()
    steps = batches + batches // n_critic  # D steps + G steps
    trainer = quiet_trainer(
        max_steps=steps, logger=logger, log_every_n_steps=every, callbacks=list(callbacks)
    )
    trainer.fit(gan, ring_data(n_samples=4096, batch_size=32))
    return logger, trainer


@pytest.mark.parametrize("n_critic", [1, 3])
def test_logger_receives_the_same_values_as_logging_every_step(n_critic: int) -> None:
    EveryStepGAN.log_calls = CountingGAN.log_calls = 0
    reference, _ = _fit(EveryStepGAN, batches=24, every=5, n_critic=n_critic)
    cadenced, trainer = _fit(CountingGAN, batches=24, every=5, n_critic=n_critic)
    # Batches 5, 10, 15, 20, logged at the optimizer step count (D + G steps) the checkpoint
    # names use: 2 per batch at n_critic=1; b + b // 3 at n_critic=3.
    expected = {1: [10, 20, 30, 40], 3: [6, 13, 20, 26]}[n_critic]
    assert [step for step, _ in cadenced.rows] == expected
    assert cadenced.rows == reference.rows  # same steps, same keys, same values
    assert all("loss/g" in row and "loss/d" in row for _, row in cadenced.rows)
    # 3 D values per batch and 1 G value per G step before; now D logs in batches 1, 5, 10, 15,
    # 20 and G at its first step and at the G steps whose next n_critic batches hold a write
    # (n_critic=1: 1, 5, 10, 15, 20; n_critic=3: 3, 9, 15, 18, 24 -- batch 25 would write),
    # plus every value logged within 2 optimizer steps of max_steps, so that callback_metrics
    # end on the final values (n_critic=1: G at batch 23, all 4 at 24; n_critic=3: D at 23, 24).
    assert EveryStepGAN.log_calls == 24 * 3 + 24 // n_critic
    assert CountingGAN.log_calls == 3 * 5 + 5 + (1 + 4 if n_critic == 1 else 3 + 3)
    assert set(trainer.callback_metrics) >= {"loss/d", "loss/g", "d/real_score", "d/fake_score"}


def test_callback_metrics_end_on_the_final_step_values() -> None:
    # Batch 24 is not a logger write (every=5), yet after fit the metrics users and checkpoint
    # monitors read are the last batch's, as if every step had been logged.
    _, reference = _fit(EveryStepGAN, batches=24, every=5, n_critic=1)
    _, cadenced = _fit(CountingGAN, batches=24, every=5, n_critic=1)
    for key in ("loss/d", "loss/g", "d/real_score", "d/fake_score"):
        assert cadenced.callback_metrics[key].item() == reference.callback_metrics[key].item()


def _logging_callbacks() -> list[Any]:
    return [
        InstanceNoise(std=0.2, anneal_steps=30),
        GradientPenalty(weight=1.0),
        R1Penalty(gamma=1.0, interval=4),  # a value produced every 4th batch only
        WeightPenalty(weight=1e-3),
    ]


def test_callbacks_log_the_same_values_as_logging_every_step() -> None:
    EveryStepGAN.log_calls = CountingGAN.log_calls = 0
    reference, _ = _fit(EveryStepGAN, 24, 5, 1, _logging_callbacks())
    cadenced, _ = _fit(CountingGAN, 24, 5, 1, _logging_callbacks())
    keys = {"noise/std", "penalty/gp", "penalty/r1", "penalty/weight"}
    assert all(keys <= set(row) for _, row in cadenced.rows)
    assert cadenced.rows == reference.rows  # incl. R1's latest value at each write
    # Before: noise, GP and weight penalty every batch, R1 every 4th (24 * 3 + 6 calls on top
    # of GAN's 4 per batch); now each logs at its first batch and at the 4 writes, and noise,
    # GP and weight penalty in the last batch (GAN itself: 5 more, as in the test above).
    assert EveryStepGAN.log_calls == 24 * 4 + 24 * 3 + 6
    assert CountingGAN.log_calls == 4 * 5 + 4 * 5 + 3 + 5


def test_log_every_n_steps_1_logs_every_batch() -> None:
    logger, _ = _fit(CountingGAN, batches=6, every=1, n_critic=1)
    assert [step for step, _ in logger.rows] == list(range(2, 13, 2))  # D + G steps so far
    assert len({row["loss/d"] for _, row in logger.rows}) == 6  # a fresh value each batch


def _old_check(grads: list[torch.Tensor]) -> bool:
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


@pytest.mark.parametrize(
    ("bad", "finite"), [(None, True), (float("nan"), False), (float("inf"), False)]
)
def test_finite_check_agrees_with_the_total_norm_and_keeps_gradients(bad, finite) -> None:
    net = MLPDiscriminator(in_dim=2, hidden=8, depth=2)
    net(torch.randn(16, 2)).sum().backward()
    if bad is not None:
        next(net.parameters()).grad[0, 0] = bad
    grads = [p.grad.clone() for p in net.parameters()]
    assert _gradients_finite(net.parameters()) is finite
    assert _old_check([p.grad for p in net.parameters()]) is finite
    for p, g in zip(net.parameters(), grads, strict=True):  # values untouched, bit for bit
        assert torch.equal(p.grad, g) or (torch.isnan(g).any() and not finite)


def test_finite_check_does_not_flag_large_finite_gradients() -> None:
    # A norm overflows at ~1e19 in float32 and used to count this as non-finite.
    net = MLPDiscriminator(in_dim=2, hidden=8, depth=1)
    net(torch.randn(4, 2)).sum().backward()
    next(net.parameters()).grad.fill_(1e20)
    assert not _old_check([p.grad for p in net.parameters()])
    assert _gradients_finite(net.parameters())
