"""``GAN``: the alternating generator/discriminator step as one LightningModule.

Optimisation is manual because a GAN step is two optimisations with opposite objectives. This
file keeps only the step; remedies change it through :mod:`lightning_gan.hooks`, labels flow as
:mod:`lightning_gan.conditioning` says, and the parts that are not the step live beside it: the
non-finite policy (:mod:`~lightning_gan.nonfinite`), the logging cadence
(:mod:`~lightning_gan.log_cadence`), checkpoint contents (:mod:`~lightning_gan.checkpointing`),
input checks (:mod:`~lightning_gan.input_checks`) and the distributed gradient average
(:mod:`~lightning_gan.distributed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from lightning_gan import input_checks as checks
from lightning_gan.accumulation import Accumulation
from lightning_gan.checkpointing import CheckpointState
from lightning_gan.conditioning import (
    UNCONDITIONAL,
    StepContext,
    call,
    split_scores,
)
from lightning_gan.eval_steps import EvaluationSteps
from lightning_gan.generation import Generation
from lightning_gan.hooks import HookDispatch, StepOutput
from lightning_gan.log_cadence import LogCadence
from lightning_gan.losses import GANLoss, get_loss
from lightning_gan.lr_schedules import SchedulerFactory, ScheduleStepping
from lightning_gan.nonfinite import (  # noqa: F401  (re-exported: public names of this module)
    NONFINITE_ACTIONS,
    SCALER_SKIP_LIMIT,
    NonFiniteError,
    NonFiniteGuard,
    gradients_finite,
)
from lightning_gan.progress import use_gan_progress_bar

try:  # LightningCLI passes the config of injected networks through this context
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
except ImportError:  # pragma: no cover - older/newer Lightning without it
    _given_hyperparameters = None


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Stop weight gradients of ``module`` while gradients still flow through it to its input."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _class_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """ACGAN's cross-entropy; packed logits ``[B/m, m, K]`` and labels ``[B/m, m]`` flatten."""
    return F.cross_entropy(logits.flatten(0, -2), labels.flatten())


class GAN(
    Generation,
    EvaluationSteps,
    NonFiniteGuard,
    LogCadence,
    CheckpointState,
    ScheduleStepping,
    Accumulation,
    LightningModule,
):
    """A GAN trained by alternating discriminator and generator steps.

    Args:
        generator: maps latents ``[B, latent_dim]`` (and labels ``[B]`` when conditional) to
            data. May be omitted by a subclass that assigns ``self.generator`` itself.
        discriminator: maps data (and labels) to one score per sample (``[B]`` or ``[B, 1]``).
        latent_dim: size of the latent vector; read from ``generator.latent_dim`` if omitted.
        loss: one of ``minimax``, ``non_saturating``, ``wasserstein``, ``hinge``,
            ``least_squares`` (see :mod:`lightning_gan.losses`).
        n_critic: discriminator steps per generator step (5 for WGAN-GP).
        lr_g, lr_d: learning rates; different values give the two time-scale update rule.
        betas_g, betas_d: Adam betas of each optimizer.
        nonfinite: what to do when the (rank-averaged) gradients of a step are NaN/inf; the
            update is never applied, so weights and checkpoints stay finite. ``"stop"`` ends
            training cleanly, ``"skip"`` drops the update and goes on (counted in
            ``nonfinite/skipped``), ``"raise"`` raises :class:`NonFiniteError`, ``"off"`` skips
            the check (and its one host synchronisation per step). Under fp16 AMP with a
            ``GradScaler`` overflowed steps are routine: the scaler skips them and lowers its
            scale, and the policy applies only after :data:`SCALER_SKIP_LIMIT` consecutive
            skipped steps of one network.
        num_classes: ``K`` for a class-conditional GAN: batches are ``(x, y)`` with ``y`` in
            ``[0, K)``, the networks are called ``G(z, y)`` and ``D(x, y)``, and generated
            batches are conditioned on the batch's labels. ``None`` (default): unconditional.
        ac_weight: weight of the ACGAN auxiliary-classifier loss (Odena et al. 2017): with a
            discriminator returning ``(scores, class_logits)``, ``ac_weight * cross_entropy``
            of the labels is added to D's loss (real and generated) and to G's. 0 disables it.
        accumulate: gradient accumulation: each network's optimizer steps once per ``k``
            consecutive batches (micro-batches), on the mean of their losses, which equals one
            step on a ``k`` times larger batch (for networks without batch statistics). D steps
            on every ``k``-th batch; a G step then runs ``k`` micro-batches of generated samples
            in that batch. ``n_critic``, ``max_steps``, penalty intervals, noise schedules and
            EMA count optimizer steps. Under ``gan_ddp`` gradients are averaged once per step.
        lr_scheduler_g, lr_scheduler_d: ``optimizer -> scheduler`` factories (a class path with
            init args from the CLI, e.g. ``torch.optim.lr_scheduler.StepLR``), for either net.
        lr_scheduler_interval, lr_scheduler_frequency: when they step: ``"step"`` counts
            optimizer steps of the scheduler's network, ``"epoch"`` training epochs; every
            ``frequency``-th. ``ReduceLROnPlateau`` monitors ``loss/g`` / ``loss/d``.

    ``global_step`` counts optimizer steps of both networks (Lightning counts every
    ``optimizer.step()``), so ``Trainer(max_steps=N)`` stops after N D+G steps in total. The exact
    counts are :attr:`d_steps` and :attr:`g_steps`, saved in checkpoints.
    """

    def __init__(
        self,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        latent_dim: int | None = None,
        loss: str = "non_saturating",
        n_critic: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.5, 0.999),
        nonfinite: str = "stop",
        num_classes: int | None = None,
        ac_weight: float = 0.0,
        accumulate: int = 1,
        lr_scheduler_g: SchedulerFactory | None = None,
        lr_scheduler_d: SchedulerFactory | None = None,
        lr_scheduler_interval: str = "step",
        lr_scheduler_frequency: int = 1,
    ) -> None:
        super().__init__()
        # Networks are never pickled into hparams (checkpoints stay `weights_only`-loadable);
        # from the CLI their `class_path` config is saved instead, so the CLI can rebuild them.
        given = _given_hyperparameters.get() if _given_hyperparameters is not None else None
        self.save_hyperparameters(
            ignore=[]
            if given
            else ["generator", "discriminator", "lr_scheduler_g", "lr_scheduler_d"]
        )
        self.automatic_optimization = False
        checks.check_settings(
            n_critic,
            {"lr_g": lr_g, "lr_d": lr_d},
            {"betas_g": betas_g, "betas_d": betas_d},
            nonfinite,
            num_classes,
            ac_weight,
        )
        checks.check_accumulation(accumulate)
        checks.check_schedule_settings(
            lr_scheduler_g, lr_scheduler_d, lr_scheduler_interval, lr_scheduler_frequency
        )
        checks.check_modules(generator, discriminator)
        checks.check_networks(generator, latent_dim, num_classes)
        checks.check_classes("discriminator", discriminator, num_classes)
        if generator is not None:
            self.generator = generator
        if discriminator is not None:
            self.discriminator = discriminator
        self.loss_fn: GANLoss = get_loss(loss)
        self.nonfinite = nonfinite
        self.nonfinite_skips = 0
        self.n_critic = n_critic
        self.lr_g, self.lr_d = lr_g, lr_d
        self.betas_g, self.betas_d = tuple(betas_g), tuple(betas_d)
        self.num_classes = num_classes
        self.ac_weight = float(ac_weight)
        self.accumulate = accumulate
        self.lr_scheduler_g, self.lr_scheduler_d = lr_scheduler_g, lr_scheduler_d
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_frequency = lr_scheduler_frequency
        self._schedules: dict[str, list[Any]] = {"generator": [], "discriminator": []}
        self._micro_counts = {"generator": 0, "discriminator": 0}
        self._micro_batches: dict[str, list[tuple[Tensor, Tensor | None]]] = {}
        self._micro_losses: dict[str, Tensor] = {}
        self._latent_dim = latent_dim
        self.d_steps = 0
        self.g_steps = 0
        self.step_context: StepContext = UNCONDITIONAL
        self._hooks: HookDispatch | None = None
        self._inputs_checked = False
        self._grad_sync = None
        self._rng_to_restore: dict[str, list[Tensor]] | None = None
        self._ema_state: dict[str, Tensor] | None = None
        self._loaded_ema: list[nn.Module] = []
        self._logged_keys: set[str] = set()
        self._last_real: list[Tensor | None] = [None]  # read by the non-finite message
        self._scaler: Any = None
        self._scale: float | None = None
        self._scaler_skips = {"generator": 0, "discriminator": 0}

    def configure_optimizers(self) -> Any:
        """Adam for G and D, in that order (an override must keep the order G, D), with the
        schedulers of ``lr_scheduler_g`` / ``lr_scheduler_d`` when given.

        An override may return ``[opt_g, opt_d]``, ``([opt_g, opt_d], [sched_g, sched_d])`` or
        Lightning's dict forms; schedulers are stepped as :mod:`lightning_gan.lr_schedules` says.
        """
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr_g, betas=self.betas_g)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=self.betas_d)
        schedulers = [
            {
                "scheduler": factory(optimizer),
                "interval": self.lr_scheduler_interval,
                "frequency": self.lr_scheduler_frequency,
                "name": f"lr/{name}",
            }
            for factory, optimizer, name in (
                (self.lr_scheduler_g, opt_g, "generator"),
                (self.lr_scheduler_d, opt_d, "discriminator"),
            )
            if factory is not None
        ]
        return [opt_g, opt_d] if not schedulers else ([opt_g, opt_d], schedulers)

    # ---------------------------------------------------------------------------- the step
    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.real_from_batch(batch)
        self._last_real[0] = real  # a list item: no nn.Module.__setattr__ per step (~1 us)
        labels = self.labels_from_batch(batch) if self.num_classes is not None else None
        opt_g, opt_d = self.optimizers()
        hooks = self._dispatch()
        discriminator = self.discriminator

        with torch.no_grad():
            if self._inputs_checked:
                fake = call(self.generator, self.sample_latent(real.shape[0]), labels)
            else:
                fake = self._checked_first_fake(real, labels)
        if hooks.by_hook["transform_discriminator_batch"]:
            d_real, real_labels = hooks.transform(self, real, labels, True)
            d_fake, fake_labels = hooks.transform(self, fake, labels, False)
        else:
            d_real, real_labels, d_fake, fake_labels = real, labels, fake, labels
        out = call(discriminator, d_real, real_labels)
        if not self._inputs_checked:
            checks.check_scores(out, d_real.shape[0], self.ac_weight, self.num_classes)
            self._inputs_checked = True
        real_scores, real_logits = split_scores(out)
        fake_scores, fake_logits = split_scores(call(discriminator, d_fake, fake_labels))
        loss_d = self.loss_fn.d(real_scores, fake_scores)
        if self.ac_weight:
            loss_d = loss_d + self.ac_weight * (
                _class_loss(real_logits, real_labels) + _class_loss(fake_logits, fake_labels)
            )
        if labels is not None or hooks.needs_context:
            self.step_context = StepContext(real_labels, fake_labels, real_scores, fake_scores)
        penalty = hooks.penalty(self, d_real, d_fake)
        total = loss_d if penalty is None else loss_d + penalty
        if self.accumulate == 1:
            self._optimize(opt_d, discriminator, total)
            batches = None
        else:  # one micro-batch of k; D steps on the k-th (see `accumulate`)
            batches = self._accumulate(opt_d, discriminator, total, (real, labels))
            if batches is None:
                return
            loss_d = self._micro_losses.pop("discriminator")
        self.d_steps += 1
        if self.log_due("loss/d", self.accumulate):
            self.log_dict(
                {
                    "loss/d": loss_d.detach(),
                    "d/real_score": real_scores.detach().mean(),
                    "d/fake_score": fake_scores.detach().mean(),
                },
                prog_bar=True,
            )
        if self._schedules["discriminator"]:  # after logging: a plateau schedule reads it
            self._step_schedules("discriminator", "step", self.d_steps)
        if hooks.by_hook["on_discriminator_step_end"]:
            hooks.discriminator_step_end(
                self,
                StepOutput(
                    loss_d.detach(), fake_scores.detach(), real_scores.detach(), fake, labels
                ),
            )

        if self.d_steps % self.n_critic == 0:
            self._generator_step(opt_g, hooks, batches or [(real, labels)])

    def _generator_step(
        self, opt_g: Any, hooks: HookDispatch, batches: list[tuple[Tensor, Tensor | None]]
    ) -> None:
        """One G step over ``batches`` (the D step's micro-batches; one batch without
        accumulation), each generating as many samples as its real batch holds."""
        for real, labels in batches:
            fake = call(self.generator, self.sample_latent(real.shape[0]), labels)
            if labels is not None or hooks.needs_context:
                self.step_context = StepContext(labels, labels)
            with _frozen(self.discriminator):
                critic = hooks.critic(self, real, fake) or self.discriminator
                d_fake, fake_labels = fake, labels
                if hooks.by_hook["transform_discriminator_batch"]:
                    d_fake, fake_labels = hooks.transform(self, fake, labels, False)
                fake_scores, fake_logits = split_scores(call(critic, d_fake, fake_labels))
                if hooks.by_hook["generator_scores"]:
                    fake_scores = hooks.generator_scores(self, fake_scores)
                loss_g = self.loss_fn.g(fake_scores)
                if self.ac_weight:
                    loss_g = loss_g + self.ac_weight * _class_loss(fake_logits, fake_labels)
                if self.accumulate == 1:
                    self._optimize(opt_g, self.generator, loss_g)
                else:
                    self._accumulate(opt_g, self.generator, loss_g, None)
        if self.accumulate != 1:
            loss_g = self._micro_losses.pop("generator")
        self.g_steps += 1
        # The next G step is n_critic D steps away: log now if the logger writes before then.
        if self.log_due("loss/g", self.n_critic * self.accumulate):
            self.log("loss/g", loss_g.detach(), prog_bar=True)
        if self._schedules["generator"]:
            self._step_schedules("generator", "step", self.g_steps)
        if hooks.by_hook["on_generator_step_end"]:
            hooks.generator_step_end(
                self, StepOutput(loss_g.detach(), fake_scores.detach(), None, fake.detach(), labels)
            )

    def _optimize(self, optimizer: Any, network: nn.Module, loss: Tensor) -> None:
        """Zero the stepped network's gradients, backpropagate, average across ranks, step.

        Zeroing here, for the network being stepped, is what keeps gradients left on the other
        network by the previous phase from leaking into this update. The finiteness check runs
        on the averaged gradients, so every rank takes the same decision.
        """
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self._grad_sync is not None:
            self._grad_sync(network)
        self._guarded_step(optimizer, network)

    # ------------------------------------------------------------------------- plumbing
    def _dispatch(self) -> HookDispatch:
        if self._hooks is None:
            trainer = self._trainer
            self._hooks = HookDispatch(list(trainer.callbacks) if trainer is not None else [])
        return self._hooks

    def _checked_first_fake(self, real: Any, labels: Tensor | None) -> Tensor:
        """The first batch's generated samples, made exactly as every later batch makes them,
        with the data, labels and samples checked before any weight changes."""
        checks.check_real_batch(real, labels, self.num_classes)
        checks.check_batch_norm(real, self.generator, self.discriminator)
        try:
            fake = call(self.generator, self.sample_latent(real.shape[0]), labels)
        except RuntimeError as error:  # e.g. "mat1 and mat2 shapes cannot be multiplied"
            raise checks.generator_error(error, self.latent_dim, self.num_classes) from error
        checks.check_generated(fake, real, self.generator)
        return fake

    def setup(self, stage: str) -> None:
        # Every rank must draw its own latents and noise; `gan_ddp` offsets the seed itself,
        # other multi-process strategies (DDP with unused-parameter search) would not.
        trainer = self._trainer
        if (
            stage == "fit"
            and trainer is not None
            and trainer.world_size > 1
            and not getattr(trainer.strategy, "offsets_seed_by_rank", False)
        ):
            torch.manual_seed(torch.initial_seed() + trainer.global_rank)

    def on_fit_start(self) -> None:
        checks.check_strategy(self.trainer.strategy)
        checks.check_optimizers(self.trainer.optimizers, self.generator, self.discriminator)
        self._setup_schedules(self.trainer)
        self._micro_counts = {"generator": 0, "discriminator": 0}
        use_gan_progress_bar(self.trainer)
        self._hooks = HookDispatch(list(self.trainer.callbacks))
        self._inputs_checked = False
        self._reset_guard(self.trainer)
        self._grad_sync = getattr(self.trainer.strategy, "all_reduce_gradients", None)
        self._logged_keys = set()

    def on_fit_end(self) -> None:
        # Lightning skips a loader without batches with an info line and exits 0: say why.
        checks.check_batch_count(self.trainer)
        self._hooks = None
        self._grad_sync = None
        self._last_real[0] = None
        self.step_context = UNCONDITIONAL


# Kept for code that imported these private names from here.
_gradients_finite = gradients_finite
_check_strategy = checks.check_strategy
