"""Roth et al. 2017, "Stabilizing Training of Generative Adversarial Networks through
Regularization" (NeurIPS 2017): the JS-regulariser, with its annealed weight.

Training a GAN with noise added to both distributions (instance noise) smooths the densities
and keeps D's gradients informative when real and generated supports do not overlap. Roth et
al. show that, for small noise, the noise-convolved f-GAN objective equals the plain one plus a
gradient penalty on D's *logits* ``psi``, weighted by how confident D is. For the standard
(Jensen-Shannon) GAN, with ``D = sigmoid(psi)``, D's loss gains ``gamma / 2 * Omega``::

    Omega = E_real[(1 - D(x))^2 ||grad_x psi(x)||^2] + E_fake[D(x)^2 ||grad_x psi(x)||^2]

The weights ``(1 - D)^2`` and ``D^2`` make the penalty act where D is *wrong* about a sample's
side and fade where it is confidently right, and it penalises both sides at once (R1 and R2
each penalise one side, unweighted). ``gamma`` is the noise variance the penalty stands in for;
the authors anneal it exponentially towards ``decay_factor * gamma`` over the run.

What was matched in the authors' code (github.com/rothk/Stabilizing_GANs, commit 023b84d):

* The penalty: ``Discriminator_Regularizer`` in ``README.md``, ``igul222_GANs/gan_64x64.py``,
  ``carpedm20_DCGAN/model.py`` and ``3DGAN/3DGAN.py`` (all four agree): ``D = sigmoid(logits)``;
  the gradient of the logits with respect to D's input, flattened per sample; its squared
  Euclidean norm times ``(1 - D_real)^2`` on the real batch and ``D_fake^2`` on the generated
  batch; the batch mean of their sum. The sigmoid factors are not stop-gradiented there, so
  here too D is trained through them. It joins D's loss as ``+ (gamma / 2) * disc_reg`` (the
  ``disc_loss += (gamma/2.0)*disc_reg`` line), with the sigmoid cross-entropy (non-saturating)
  GAN losses.
* The schedule: the ``# ANNEALING (EXPONENTIAL DECAY ...)`` block of each training loop,
  ``gamma_t = gamma * decay_factor ** (t / T)``: in ``gan_64x64.py`` ``t`` is the 0-based
  iteration and ``T = ITERS - 1``; in ``carpedm20_DCGAN/model.py`` ``t`` is the 0-based batch
  index over all epochs and ``T`` the number of batches minus one; in ``3DGAN.py`` ``t`` runs
  1..``max_steps`` and ``T = max_steps``. So ``gamma`` is reached at the first step and
  ``decay_factor * gamma`` at the last. Here ``t = gan.d_steps`` (0 at the first D step) and
  ``T = anneal``: ``anneal = (total D steps) - 1`` reproduces ``gan_64x64.py``; after ``T``
  the weight stays at ``decay_factor * gamma`` (the authors never train past ``T``).
* Defaults: flags ``gamma`` (0.1 in every script), ``--annealing`` (off), ``decay_factor`` (0.01,
  ``DECAY_FACTOR``/``"decay_factor"`` flags); the README's recommended image runs use
  ``--gamma=2.0 --annealing`` (DCGAN on CelebA, ResNet on LSUN), the 3-D mixture
  ``--gamma=0.1`` without annealing. This callback defaults to ``gamma=2.0``, annealing off
  (``anneal=None``) and ``decay_factor=0.01``; for the authors' image runs pass ``anneal``.
  Their networks take one D step per G step (``disc_update_steps`` 1); with ``n_critic=k``
  here, ``t`` counts D steps, so the horizon is in D steps too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gan.callbacks.gradient_penalty import (
    per_sample_sq_norm,
    scores_and_input_gradients,
    warn_batch_norm,
)
from lightning_gan.callbacks.remedy_checks import check_count, check_unit_interval, check_weight
from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN

#: The losses whose D outputs are the logits of ``D = sigmoid(psi)``, as the regulariser assumes.
LOGISTIC_LOSSES = ("minimax", "non_saturating")


class RothPenalty(GANCallback):
    """Roth et al.'s JS-regulariser, ``gamma_t / 2 * Omega`` added to D's loss (see module doc).

    ``Omega = E_real[(1 - sigmoid(psi))^2 ||grad psi||^2] + E_fake[sigmoid(psi)^2 ||grad psi||^2]``
    with ``psi`` D's score (logit) of what it sees (after input transforms, with its labels when
    conditional). Use it with ``GAN(loss="non_saturating")`` (the default) or ``"minimax"``:
    the weights read D's scores as the logits of a probability, which Wasserstein, hinge and
    least-squares scores are not (the callback warns at fit start).

    Args:
        gamma: the initial weight (the noise variance the penalty replaces), >= 0. The authors'
            image GANs use 2.0 annealed; their 3-D mixture 0.1.
        anneal: the horizon ``T`` in D steps of the authors' exponential annealing
            ``gamma_t = gamma * decay_factor ** (min(t, T) / T)``, ``t = gan.d_steps``; ``None``
            (default) keeps ``gamma`` constant, as the authors' scripts do without
            ``--annealing``. ``T = total D steps - 1`` ends exactly at ``decay_factor * gamma``.
        decay_factor: the ratio ``gamma_T / gamma`` reached at the horizon, in (0, 1] (the
            authors': 0.01). Unused without ``anneal``.
        interval: lazy regularisation: compute only every ``interval`` D steps and multiply by
            ``interval`` (as :class:`~lightning_gan.callbacks.gradient_penalty.R1Penalty`);
            1 (default, the authors') computes it every step.

    The schedule and the lazy phase read only ``gan.d_steps``, which every checkpoint saves, so
    the callback is stateless and a resumed run continues both exactly. Logs the unweighted
    ``Omega`` as ``penalty/roth`` and, when annealing, the current weight as
    ``penalty/roth_gamma``. The extra D pass runs in training mode and needs per-sample
    gradients: a D with batch norm gets a warning (use layer/group norm or none).
    """

    name = "roth"

    def __init__(
        self,
        gamma: float = 2.0,
        anneal: int | None = None,
        decay_factor: float = 0.01,
        interval: int = 1,
    ) -> None:
        super().__init__()
        self.gamma = check_weight(
            "gamma", gamma, "2.0, the authors' image GANs (annealed); 0.1 for 2-D/3-D mixtures"
        )
        if anneal is not None:
            anneal = check_count(
                "anneal",
                anneal,
                "the annealing horizon in D steps, e.g. total D steps - 1; None keeps gamma "
                "constant",
            )
        self.anneal = anneal
        self.decay_factor = check_unit_interval(
            "decay_factor", decay_factor, "0.01, the authors'; 1 disables the decay"
        )
        self.interval = check_count(
            "interval", interval, "1 = every D step, the authors'; e.g. 4 or 16 for lazy"
        )

    def gamma_at(self, step: int) -> float:
        """The weight at D step ``step``: ``gamma * decay_factor ** (min(step, T) / T)``.

        A pure function of the step so that the weight after a resume is the weight the
        uninterrupted run had; held at ``decay_factor * gamma`` past the horizon.
        """
        if self.anneal is None:
            return self.gamma
        return self.gamma * self.decay_factor ** (min(step, self.anneal) / self.anneal)

    def value(
        self,
        discriminator: nn.Module,
        real: Tensor,
        fake: Tensor,
        real_labels: Tensor | None = None,
        fake_labels: Tensor | None = None,
    ) -> Tensor:
        """The unweighted ``Omega`` for one batch (labels: each side's, when conditional).

        The two expectations are averaged over their own batches, which is the authors'
        ``reduce_mean(reg_D1 + reg_D2)`` when the batches have the same size (as in the step).
        """
        real_logits, real_grad = scores_and_input_gradients(discriminator, real, real_labels)
        fake_logits, fake_grad = scores_and_input_gradients(discriminator, fake, fake_labels)
        on_real = (1 - torch.sigmoid(real_logits)).square() * per_sample_sq_norm(real_grad)
        on_fake = torch.sigmoid(fake_logits).square() * per_sample_sq_norm(fake_grad)
        return on_real.mean() + on_fake.mean()

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        # `d_steps` counts completed D steps and is checkpointed: the lazy phase and the
        # annealed weight both resume exactly, with no state of our own.
        step = gan.d_steps
        if step % self.interval != 0:
            return None
        value = self.value(gan.discriminator, d.d_real, d.d_fake, d.d_real_labels, d.d_fake_labels)
        gamma = self.gamma_at(step)
        # Produced every `interval` batches: log it if a logger write falls before the next one.
        if gan.log_due(f"penalty/{self.name}", self.interval):
            gan.log(f"penalty/{self.name}", value.detach())
            if self.anneal is not None:
                gan.log(f"penalty/{self.name}_gamma", gamma)
        # Under DDP no collective is needed: each rank's penalty on its own batch is part of its
        # D loss, whose gradients the step already averages across ranks, and the weight is a
        # function of `d_steps`, which is the same on every rank.
        # Lazy regularisation: every `interval` steps, scaled by `interval`, so the average
        # strength per step is unchanged.
        return (gamma / 2 * self.interval) * value

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        warn_batch_norm(pl_module.discriminator, type(self).__name__)
        loss_name = getattr(getattr(pl_module, "loss_fn", None), "name", None)
        if loss_name is not None and loss_name not in LOGISTIC_LOSSES:
            rank_zero_warn(
                f"RothPenalty weights its gradient penalty by sigmoid(D), reading D's scores as "
                f"logits, as the GAN losses of Roth et al. do; GAN(loss={loss_name!r}) scores are "
                f"not logits, so the weights mean nothing there. Use GAN(loss='non_saturating') "
                f"or 'minimax' with it, or R1Penalty/GradientPenalty with {loss_name!r}."
            )
