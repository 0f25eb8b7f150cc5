"""Top-k generator training (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN
Performance by Throwing Away Bad Samples").

The generator's gradient from samples that D already rejects with confidence points to where
the nearest mode is rather than towards realism, and can pull samples between modes. Updating
G only on the ``k`` generated samples that D scores highest in each batch removes that
contribution; ``k`` starts at the whole batch and shrinks towards ``nu * B`` as training
progresses, since early on every sample is bad and all gradients help.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lightning_gan.callbacks.remedy_checks import check_count, check_unit_interval
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import GStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


class TopK(GANCallback):
    """G's loss on the ``k`` highest-scored generated samples, ``k = max(gamma^t B, nu B)``.

    Args:
        gamma: decay of ``k`` per schedule unit (the paper: 0.99).
        nu: the smallest share of the batch kept (the paper: 0.5).
        decay_every_g_steps: ``None`` (default) is the paper's schedule, ``t`` = the training
            epoch (``trainer.current_epoch``); an integer ``N`` counts ``t`` in generator steps
            instead, ``t = GAN.g_steps // N``, for step-based training (few, long epochs).

    ``k = max(floor(gamma^t * B), floor(nu * B), 1)``, with ``B`` the number of scores (the batch;
    the number of packs under :class:`~lightning_gan.callbacks.packing.Packing`). Epoch and
    ``g_steps`` are both checkpointed, so the schedule resumes exactly and this callback has no
    state. Applied in the ``generator_scores`` hook (the scores G's loss averages), so D's step
    is unchanged. Logs ``topk/k``.
    """

    def __init__(
        self, gamma: float = 0.99, nu: float = 0.5, decay_every_g_steps: int | None = None
    ) -> None:
        super().__init__()
        self.gamma = check_unit_interval("gamma", gamma, "0.99, the paper's")
        self.nu = check_unit_interval("nu", nu, "0.5, the paper's")
        if decay_every_g_steps is not None:
            check_count("decay_every_g_steps", decay_every_g_steps, "generator steps per decay")
        self.decay_every_g_steps = decay_every_g_steps

    def schedule_position(self, gan: GAN) -> int:
        """``t``: the epoch, or ``g_steps // decay_every_g_steps``."""
        if self.decay_every_g_steps is None:
            return int(gan.current_epoch)  # 0 without a Trainer
        return gan.g_steps // self.decay_every_g_steps

    def k_at(self, t: int, batch: int) -> int:
        """How many scores out of ``batch`` are kept at schedule position ``t``."""
        return max(math.floor(self.gamma**t * batch), math.floor(self.nu * batch), 1)

    def generator_scores(self, gan: GAN, g: GStep) -> Tensor:
        scores = g.fake_scores
        k = self.k_at(self.schedule_position(gan), scores.shape[0])
        if gan.log_due("topk/k", gan.n_critic * gan.accumulate):
            gan.log("topk/k", float(k))
        if k >= scores.shape[0]:
            return scores
        return torch.topk(scores, k, sorted=False).values
