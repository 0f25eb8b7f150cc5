"""The shared skeleton of instruments that evaluate the generator every N generator steps."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from lightning_gan.metrics.sampling import EvaluationSchedule, generator_steps


class PeriodicEvaluation(Callback):
    """Run :meth:`evaluate` every ``every_n_steps`` G steps, log its numbers, keep a history.

    The schedule and history are the callback's checkpointed state, so a resumed run neither
    repeats nor skips an evaluation. ``evaluate`` runs on every rank: metric computes are
    collectives (never call them under ``rank_zero_only``: torchmetrics #2684 hangs).
    """

    def __init__(self, every_n_steps: int) -> None:
        super().__init__()
        self.schedule = EvaluationSchedule(every_n_steps)
        self.history: list[dict[str, float]] = []

    def evaluate(self, trainer: Trainer, gan: LightningModule) -> dict[str, float]:
        raise NotImplementedError

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = generator_steps(pl_module)
        if not self.schedule.due(step):
            return
        values = self.evaluate(trainer, pl_module)
        self.schedule.last_step = step
        self.history.append({"step": step, **values})
        for name, value in values.items():
            pl_module.log(name, value, on_step=True, on_epoch=False)

    def state_dict(self) -> dict[str, Any]:
        return {**self.schedule.state_dict(), "history": [dict(h) for h in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state_dict)
        self.history = [dict(h) for h in state_dict.get("history", [])]
