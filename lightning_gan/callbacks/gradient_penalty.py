"""Gradient penalties on the discriminator: WGAN-GP, R1 and R2.

Each penalty constrains how fast D's output changes with its input, which is what keeps the
discriminator from becoming so sharp that the generator's gradients explode or vanish:

* :class:`GradientPenalty` (Gulrajani et al. 2017, WGAN-GP):
  ``weight * E[(||grad_x D(x_hat)|| - target)^2]`` on random interpolates ``x_hat`` between real
  and generated samples, a soft 1-Lipschitz constraint for the Wasserstein critic.
* :class:`R1Penalty` / :class:`R2Penalty` (Mescheder et al. 2018):
  ``gamma / 2 * E[||grad_x D(x)||^2]`` on real (R1) or generated (R2) data, the zero-centred
  penalties that make GAN training locally convergent (see the Dirac-GAN analysis).

They are :class:`~lightning_gan.hooks.GANCallback` s using the ``discriminator_penalty`` hook, so
the penalty joins D's loss in the same optimizer step. Each logs its unweighted value as
``penalty/<name>``. The extra D forward pass runs in training mode: a D with batch norm updates
its running statistics on the penalty inputs too, and batch norm couples samples, which breaks
the per-sample gradient norm (use layer/group norm or no norm with these penalties).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gan.hooks import GANCallback
from lightning_gan.step.conditioning import scores as score
from lightning_gan.step.records import DStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


def scores_and_input_gradients(
    discriminator: nn.Module, x: Tensor, labels: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """D's scores ``[B]`` of ``x`` (with ``labels`` when conditional) and ``grad_x`` of them per
    sample, from one float32 pass, both keeping their graph so a penalty on them trains D.

    Summing the scores is exact for the per-sample gradients because sample ``i``'s score
    depends only on sample ``i`` (true for D without batch norm or minibatch-std).
    """
    # In float32 under mixed precision, as StyleGAN2-ADA runs its regularisation passes: a
    # squared gradient norm overflows fp16 and loses most of its bits in bf16. D's weights are
    # float32 under AMP, so turning autocast off is all it takes.
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    x = x.detach().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = score(discriminator, x, labels)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return scores, grad


def input_gradients(discriminator: nn.Module, x: Tensor, labels: Tensor | None = None) -> Tensor:
    """``grad_x D(x)`` per sample (see :func:`scores_and_input_gradients`)."""
    return scores_and_input_gradients(discriminator, x, labels)[1]


def per_sample_sq_norm(grad: Tensor) -> Tensor:
    """``||grad_i||^2`` per sample: a sum of squares, finite in gradient where D is flat."""
    return grad.reshape(grad.shape[0], -1).square().sum(dim=1)


def warn_batch_norm(discriminator: nn.Module, penalty: str) -> None:
    """Per-sample input gradients are wrong through BatchNorm, which mixes a batch's samples."""
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
        rank_zero_warn(
            f"{penalty}: the discriminator has BatchNorm, which couples the samples of a batch, "
            "so the per-sample gradient penalty is not what the paper computes; use a "
            "discriminator without it (DCGANDiscriminator(norm='layer') or norm='none')."
        )


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0 (0 disables the penalty), got {value!r}.")


class GradientPenalty(GANCallback):
    """WGAN-GP: ``weight * E[(||grad D(x_hat)|| - target)^2]``, ``x_hat = e*real + (1-e)*fake``.

    ``e ~ U(0, 1)`` is drawn per sample and broadcast over the data dimensions, so interpolates
    lie on the segments between paired real and generated samples, where the optimal critic has
    unit gradient norm. Recommended with ``GAN(loss="wasserstein", n_critic=5, lr_g=1e-4,
    lr_d=1e-4, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9))`` and ``weight=10``.

    Args:
        weight: the penalty coefficient lambda (>= 0).
        target: the gradient norm the penalty pulls towards (1 for WGAN-GP; 0 gives the
            zero-centred variant of Thanh-Tung et al. 2019).
    """

    name = "gp"

    def __init__(self, weight: float = 10.0, target: float = 1.0) -> None:
        super().__init__()
        _check_non_negative("weight", weight)
        _check_non_negative("target", target)
        self.weight = float(weight)
        self.target = float(target)

    def value(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None
    ) -> Tensor:
        """The unweighted penalty for one batch.

        Conditional: the interpolates are scored with the real samples' ``labels``; the step
        conditions each generated sample on its batch's labels, so both ends of a segment carry
        the same label.
        """
        n = min(real.shape[0], fake.shape[0])
        real, fake = real[:n].detach(), fake[:n].detach()
        eps = torch.rand((n,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        x_hat = torch.lerp(fake, real, eps)  # eps * real + (1 - eps) * fake
        grad = input_gradients(discriminator, x_hat, None if labels is None else labels[:n])
        # vector_norm's backward is 0 at a zero gradient, where sqrt(sum of squares) gives NaN.
        norm = torch.linalg.vector_norm(grad.reshape(n, -1), dim=1)
        return (norm - self.target).square().mean()

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        warn_batch_norm(pl_module.discriminator, type(self).__name__)

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        value = self.value(gan.discriminator, d.d_real, d.d_fake, d.d_real_labels)
        if gan.log_due(f"penalty/{self.name}"):  # self.log every batch would cost ~0.5 ms
            gan.log(f"penalty/{self.name}", value.detach())
        return self.weight * value


class _ZeroCentredPenalty(GANCallback):
    """``gamma / 2 * E[||grad D(x)||^2]`` on real or generated data, optionally lazy."""

    name = ""
    on_real = True

    def __init__(
        self, gamma: float = 10.0, interval: int = 1, adam_correction: bool = False
    ) -> None:
        super().__init__()
        _check_non_negative("gamma", gamma)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f"interval must be an integer >= 1 (1 = every D step; StyleGAN2 uses 16), "
                f"got {interval!r}."
            )
        self.gamma = float(gamma)
        self.interval = interval
        self.adam_correction = bool(adam_correction)

    def value(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None
    ) -> Tensor:
        """The unweighted penalty ``E[||grad D(x)||^2]`` for one batch (``labels``: those of
        the penalised side, real for R1 and generated for R2, when conditional)."""
        x = real if self.on_real else fake
        return per_sample_sq_norm(input_gradients(discriminator, x, labels)).mean()

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        # `d_steps` counts completed D steps and is checkpointed, so the lazy schedule resumes.
        if gan.d_steps % self.interval != 0:
            return None
        labels = d.d_real_labels if self.on_real else d.d_fake_labels
        value = self.value(gan.discriminator, d.d_real, d.d_fake, labels)
        # Produced every `interval` batches: log it if a logger write falls before the next one.
        if gan.log_due(f"penalty/{self.name}", self.interval):
            gan.log(f"penalty/{self.name}", value.detach())
        # Lazy regularisation (StyleGAN2): every `interval` steps, scaled by `interval`, so the
        # penalty's average strength per step is unchanged.
        return (self.gamma / 2 * self.interval) * value

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Opt-in StyleGAN2 Adam correction for lazy intervals: ``lr *= r``, ``beta **= r``.

        ``r = interval / (interval + 1)``. StyleGAN2 needs it because its penalty is a separate
        optimizer step (k+1 D steps per k batches); here the penalty joins the main D step, so
        the step count is unchanged and the correction is off by default. Turn it on only to
        reproduce StyleGAN2 hyperparameters, which are quoted before correction. Applied to the
        freshly configured optimizer; on resume the saved (already corrected) values replace it.
        """
        warn_batch_norm(pl_module.discriminator, type(self).__name__)
        if not self.adam_correction or self.interval == 1:
            return
        ratio = self.interval / (self.interval + 1)
        for group in _optimizer_of(trainer, pl_module.discriminator).param_groups:
            group["lr"] *= ratio
            if "betas" in group:
                group["betas"] = tuple(beta**ratio for beta in group["betas"])


def _optimizer_of(trainer: Trainer, network: nn.Module) -> Any:
    """The trainer optimizer that holds ``network``'s parameters."""
    ids = {id(p) for p in network.parameters()}
    for optimizer in trainer.optimizers:
        if any(id(p) in ids for group in optimizer.param_groups for p in group["params"]):
            return optimizer
    raise ValueError(
        "No optimizer holds the discriminator's parameters: `configure_optimizers` must return "
        "an optimizer over `discriminator.parameters()`."
    )


class R1Penalty(_ZeroCentredPenalty):
    """R1: ``gamma / 2 * E_real[||grad D(x)||^2]``: no gradient on the data at equilibrium.

    Recommended ``gamma=10`` (data-dependent: smaller for low-resolution data) with Adam betas
    ``(0, 0.99)`` for both networks.

    Args:
        gamma: the penalty coefficient (>= 0).
        interval: lazy regularisation: compute only every ``interval`` D steps and multiply by
            ``interval`` (StyleGAN2 uses 16); 1 computes it every step.
        adam_correction: apply StyleGAN2's ``lr *= k/(k+1)``, ``beta **= k/(k+1)`` to D's
            optimizer at fit start (default off: see :meth:`on_fit_start`).
    """

    name = "r1"
    on_real = True


class R2Penalty(_ZeroCentredPenalty):
    """R2: ``gamma / 2 * E_fake[||grad D(x)||^2]``, the same penalty on generated samples.

    Arguments as :class:`R1Penalty`.
    """

    name = "r2"
    on_real = False
