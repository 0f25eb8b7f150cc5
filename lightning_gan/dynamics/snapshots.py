"""Snapshots of a simulated trajectory, shared by the dynamics simulators."""

from __future__ import annotations

import torch
from torch import Tensor


class Snapshots:
    """Copies of the state every ``every`` steps and at step ``last``, stacked at the end.

    Recording only every few steps keeps long batched simulations within memory; the last step
    is always kept so the final state is in every run.
    """

    def __init__(self, every: int, last: int) -> None:
        self.every, self.last = every, last
        self.steps: list[int] = []
        self.states: list[tuple[Tensor, ...]] = []

    def record(self, t: int, *state: Tensor) -> None:
        if t % self.every == 0 or t == self.last:
            self.steps.append(t)
            self.states.append(tuple(s.clone() for s in state))

    def stacked(self) -> tuple[Tensor, ...]:
        """One tensor per state component with the snapshots first, then the step numbers."""
        return (
            *(torch.stack(parts) for parts in zip(*self.states, strict=True)),
            torch.tensor(self.steps),
        )
