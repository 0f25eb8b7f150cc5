"""The records the alternating step keeps: one per network, and one per phase for the hooks.

StyleGAN2-ADA's training loop keeps a list of phase records (name, module, optimizer, interval)
and runs one loop body for each; TF-GAN hands its losses and penalties one ``GANModel`` tuple
(real, generated, D outputs). Here a :class:`NetworkRecord` holds everything one network's
optimizer step needs, and the hooks of :mod:`lightning_gan.hooks` receive the phase record
(:class:`DStep` or :class:`GStep`) with every tensor of that phase, so a remedy reads what it
needs from one object instead of arguments plus a side channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn


@dataclass(eq=False)
class NetworkRecord:
    """One network of the GAN and the state of its optimizer steps.

    ``steps`` counts completed optimizer steps (``GAN.g_steps`` / ``GAN.d_steps``, saved in
    checkpoints). ``optimizer`` and ``schedulers`` are bound at the start of each fit (they are
    Lightning's); the ``micro_*`` fields hold a step that gradient accumulation has not finished;
    ``scaler`` is this network's own ``GradScaler`` under fp16 AMP (``None`` otherwise): one
    scale per network, so an overflow in D's step does not lower G's scale;
    ``scaler_skips`` counts consecutive steps it skipped and ``skipped_updates`` consecutive
    updates the non-finite policy dropped.
    """

    name: str
    module: nn.Module | None = None
    optimizer: Any = None
    schedulers: list[Any] = field(default_factory=list)
    steps: int = 0
    micro_count: int = 0
    micro_batches: list[tuple[Tensor, Tensor | None]] = field(default_factory=list)
    micro_loss: Tensor | None = None
    scaler: Any = None
    last_scale: float | None = None
    scaler_skips: int = 0
    skipped_updates: int = 0

    @property
    def loss_key(self) -> str:
        """The logged name of this network's loss (``loss/g`` or ``loss/d``)."""
        return "loss/g" if self.name == "generator" else "loss/d"

    def reset_fit_state(self) -> None:
        """Forget what belongs to one fit (not the checkpointed step count)."""
        self.micro_count = 0
        self.micro_batches = []
        self.micro_loss = None
        self.last_scale = None
        self.scaler_skips = 0
        self.skipped_updates = 0


@dataclass(eq=False)
class DStep:
    """The discriminator phase of one batch.

    ``real``/``fake``/``labels`` are the batch's data, its generated counterpart (``G(z,
    labels)``, no graph to G) and its class labels (``None`` when unconditional), before D's
    input transforms; ``d_real``/``d_fake`` and ``d_real_labels``/``d_fake_labels`` are what D
    sees after them (noise, augmentation, packing: labels ``[B/m, m]`` under packing).
    ``real_scores``/``fake_scores`` are D's scores ``[B]`` of them, attached to D's graph, so a
    penalty that is a function of the scores (LeCam, bCR) adds to this step's backward;
    ``real_logits``/``fake_logits`` are an auxiliary classifier's class logits (``None`` unless
    D returns ``(scores, logits)``). ``loss`` is D's adversarial loss (set before the penalties;
    detached after the step, when ``on_discriminator_step_end`` runs). ``g_step_follows`` says
    whether a generator step follows in this batch.
    """

    network: NetworkRecord
    real: Tensor
    labels: Tensor | None
    fake: Tensor
    d_real: Tensor
    d_real_labels: Tensor | None
    d_fake: Tensor
    d_fake_labels: Tensor | None
    real_scores: Tensor
    fake_scores: Tensor
    real_logits: Tensor | None = None
    fake_logits: Tensor | None = None
    loss: Tensor | None = None
    g_step_follows: bool = False


@dataclass(eq=False)
class GStep:
    """The generator phase of one batch (one micro-batch under gradient accumulation).

    ``fake`` is ``G(z, labels)`` with its graph to G; ``d_fake``/``d_fake_labels`` are what the
    critic scores after D's input transforms. ``real`` is the batch's real data (D does not score
    it in this phase; an unrolled critic trains on it). ``critic`` is what scored ``d_fake``: D
    itself, or a callback's (``generator_critic``). ``fake_scores`` are the scores G's loss
    averages (after ``generator_scores``), ``fake_logits`` an auxiliary classifier's logits.
    ``loss`` is G's loss (detached after the step, when ``on_generator_step_end`` runs).
    """

    network: NetworkRecord
    real: Tensor
    labels: Tensor | None
    fake: Tensor
    d_fake: Tensor | None = None
    d_fake_labels: Tensor | None = None
    critic: Any = None
    fake_scores: Tensor | None = None
    fake_logits: Tensor | None = None
    loss: Tensor | None = None
