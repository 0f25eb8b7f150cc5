"""``GAN``: the alternating generator/discriminator step as one LightningModule.

Optimisation is manual because a GAN step is two optimisations with opposite objectives. This
file keeps only the step, which reads like the diagram in :mod:`lightning_gan.hooks`: remedies
change it through hooks that receive the phase records, and what the step is made of lives in
:mod:`lightning_gan.step` (network and phase records, the optimizer loop body, labels, the
non-finite policy, log cadence, checkpoint contents, input checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import Tensor, nn

from lightning_gan.eval_steps import EvaluationSteps
from lightning_gan.generation import Generation
from lightning_gan.hooks import HookDispatch
from lightning_gan.losses import GANLoss, get_loss
from lightning_gan.progress import use_gan_progress_bar
from lightning_gan.reliability import AtomicCheckpointIO, PreemptionCheckpoint
from lightning_gan.step import input_checks as checks
from lightning_gan.step.checkpoint_state import CheckpointState
from lightning_gan.step.conditioning import call, split_scores
from lightning_gan.step.log_cadence import LogCadence
from lightning_gan.step.lr_schedules import SchedulerFactory, bind_schedules, step_schedules
from lightning_gan.step.nonfinite import (  # noqa: F401  (re-exported: public names of this module)
    NONFINITE_ACTIONS,
    SCALER_SKIP_LIMIT,
    NonFiniteError,
    NonFinitePolicy,
    gradients_finite,
)
from lightning_gan.step.optimizing import bind_scalers, optimize
from lightning_gan.step.records import DStep, GStep, NetworkRecord

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


class GAN(Generation, EvaluationSteps, LogCadence, CheckpointState, LightningModule):
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

    An auxiliary-classifier (ACGAN) loss is the callback
    :class:`~lightning_gan.callbacks.AuxiliaryClassifier`; every other remedy is a callback too
    (:mod:`lightning_gan.hooks`).

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
        self.accumulate = accumulate
        self.lr_scheduler_g, self.lr_scheduler_d = lr_scheduler_g, lr_scheduler_d
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_frequency = lr_scheduler_frequency
        self._latent_dim = latent_dim
        #: One record per network: module, optimizer, schedulers, counters (see step.records).
        self.g_record = NetworkRecord("generator")
        self.d_record = NetworkRecord("discriminator")
        # Per-fit state, bound in `on_fit_start`.
        self._hooks: HookDispatch | None = None
        self._nonfinite_policy: NonFinitePolicy | None = None
        self._grad_sync: Any = None
        self._inputs_checked = False
        self._last_real: list[Tensor | None] = [None]  # read by the non-finite message
        self.reset_log_cadence()

    # ----------------------------------------------------------------------- step counters
    @property
    def d_steps(self) -> int:
        """Discriminator optimizer steps taken (one per batch, or per ``accumulate`` batches)."""
        return self.d_record.steps

    @d_steps.setter
    def d_steps(self, value: int) -> None:
        self.d_record.steps = int(value)

    @property
    def g_steps(self) -> int:
        """Generator optimizer steps taken (one per ``n_critic`` D steps)."""
        return self.g_record.steps

    @g_steps.setter
    def g_steps(self, value: int) -> None:
        self.g_record.steps = int(value)

    @property
    def hooks(self) -> HookDispatch:
        """The GAN callbacks of the attached Trainer, by hook (resolved once per fit)."""
        if self._hooks is None:
            trainer = self._trainer
            self._hooks = HookDispatch(list(trainer.callbacks) if trainer is not None else [])
        return self._hooks

    def discriminator_input(
        self, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        """``(x, labels)`` as D sees them: every ``transform_discriminator_input`` applied."""
        return self.hooks.transform(self, x, labels, real)

    def configure_optimizers(self) -> Any:
        """Adam for G and D, in that order (an override must keep the order G, D), with the
        schedulers of ``lr_scheduler_g`` / ``lr_scheduler_d`` when given.

        An override may return ``[opt_g, opt_d]``, ``([opt_g, opt_d], [sched_g, sched_d])`` or
        Lightning's dict forms; schedulers are stepped as :mod:`lightning_gan.step.lr_schedules`
        says.
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
        real, labels = self.real_from_batch(batch), self.labels_from_batch(batch)
        self._last_real[0] = real  # a list item: no nn.Module.__setattr__ per step (~1 us)
        hooks, net, discriminator = self.hooks, self.d_record, self.discriminator

        with torch.no_grad():
            if self._inputs_checked:
                fake = call(self.generator, self.sample_latent(real.shape[0]), labels)
            else:
                fake = self._checked_first_fake(real, labels)
        d_real, d_real_labels = hooks.transform(self, real, labels, True)
        d_fake, d_fake_labels = hooks.transform(self, fake, labels, False)
        out = call(discriminator, d_real, d_real_labels)
        if not self._inputs_checked:
            checks.check_scores(out, d_real.shape[0])
            self._inputs_checked = True
        real_scores, real_logits = split_scores(out)
        fake_scores, fake_logits = split_scores(call(discriminator, d_fake, d_fake_labels))
        d = DStep(
            net, real, labels, fake, d_real, d_real_labels, d_fake, d_fake_labels,
            real_scores, fake_scores, real_logits, fake_logits,
        )  # fmt: skip
        d.loss = self.loss_fn.d(real_scores, fake_scores)
        penalty = hooks.discriminator_penalty(self, d)
        total = d.loss if penalty is None else d.loss + penalty
        batches = optimize(self, net, total, d.loss, (real, labels))
        if batches is None:  # a micro-batch of an accumulated step (see `accumulate`)
            return
        # The penalties have run: keep the record off D's (freed) graph from here on.
        d.real_scores, d.fake_scores = real_scores.detach(), fake_scores.detach()
        d.loss = net.micro_loss
        if self.log_due("loss/d", self.accumulate):
            self.log_dict(
                {
                    "loss/d": d.loss,
                    "d/real_score": d.real_scores.mean(),
                    "d/fake_score": d.fake_scores.mean(),
                },
                prog_bar=True,
            )
        if net.schedulers:  # after logging: a plateau schedule reads it
            step_schedules(self, net, "step", net.steps)
        d.g_step_follows = net.steps % self.n_critic == 0
        hooks.discriminator_step_end(self, d)
        if d.g_step_follows:
            self._generator_step(batches)

    def _generator_step(self, batches: list[tuple[Tensor, Tensor | None]]) -> None:
        """One G step over ``batches`` (the D step's micro-batches; one batch without
        accumulation), each generating as many samples as its real batch holds."""
        hooks, net = self.hooks, self.g_record
        for real, labels in batches:
            g = GStep(
                net, real, labels, call(self.generator, self.sample_latent(real.shape[0]), labels)
            )
            with _frozen(self.discriminator):
                g.d_fake, g.d_fake_labels = hooks.transform(self, g.fake, labels, False)
                g.critic = hooks.critic(self, g) or self.discriminator
                g.fake_scores, g.fake_logits = split_scores(
                    call(g.critic, g.d_fake, g.d_fake_labels)
                )
                scores = hooks.generator_scores(self, g)
                g.loss = self.loss_fn.g(scores)
                penalty = hooks.generator_penalty(self, g)
                total = g.loss if penalty is None else g.loss + penalty
                optimize(self, net, total, g.loss, (real, labels))
        g.loss = net.micro_loss
        # The next G step is n_critic D steps away: log now if the logger writes before then.
        if self.log_due("loss/g", self.n_critic * self.accumulate):
            self.log("loss/g", g.loss, prog_bar=True)
        if net.schedulers:
            step_schedules(self, net, "step", net.steps)
        g.fake = g.fake.detach()
        hooks.generator_step_end(self, g)

    # ------------------------------------------------------------------------- plumbing
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

    def configure_callbacks(self) -> list[Callback]:
        """A :class:`~lightning_gan.reliability.PreemptionCheckpoint` unless the Trainer has one:
        a pre-empted GAN run saves a checkpoint instead of losing the work since the last."""
        trainer = self._trainer
        have = trainer is not None and any(
            isinstance(cb, PreemptionCheckpoint) for cb in trainer.callbacks
        )
        return [] if have else [PreemptionCheckpoint()]

    def setup(self, stage: str) -> None:
        trainer = self._trainer
        # Checkpoints written whole or not at all, with errors that name the cause and the file.
        strategy = getattr(trainer, "strategy", None)
        if strategy is not None and type(strategy.checkpoint_io) is TorchCheckpointIO:
            strategy.checkpoint_io = AtomicCheckpointIO()
        # Every rank must draw its own latents and noise; `gan_ddp` offsets the seed itself,
        # other multi-process strategies (DDP with unused-parameter search) would not.
        if (
            stage == "fit"
            and trainer is not None
            and trainer.world_size > 1
            and not getattr(trainer.strategy, "offsets_seed_by_rank", False)
        ):
            torch.manual_seed(torch.initial_seed() + trainer.global_rank)

    def on_fit_start(self) -> None:
        trainer = self.trainer
        checks.check_strategy(trainer.strategy)
        checks.check_optimizers(trainer.optimizers, self.generator, self.discriminator)
        opt_g, opt_d = self.optimizers()
        for net, module, optimizer in (
            (self.g_record, self.generator, opt_g),
            (self.d_record, self.discriminator, opt_d),
        ):
            net.module, net.optimizer = module, optimizer
            net.reset_fit_state()
        bind_schedules(trainer, self.g_record, self.d_record)
        use_gan_progress_bar(trainer)
        self._hooks = HookDispatch(list(trainer.callbacks))
        self._inputs_checked = False
        self._nonfinite_policy = NonFinitePolicy(self.nonfinite)
        bind_scalers(trainer, self.g_record, self.d_record, self._scaler_state)
        self._grad_sync = getattr(trainer.strategy, "all_reduce_gradients", None)
        self.reset_log_cadence()

    def on_train_epoch_end(self) -> None:
        epoch = self.trainer.current_epoch + 1
        for net in (self.g_record, self.d_record):
            step_schedules(self, net, "epoch", epoch)

    def on_fit_end(self) -> None:
        # Lightning skips a loader without batches with an info line and exits 0: say why.
        checks.check_batch_count(self.trainer)
        self._hooks = None
        self._grad_sync = None
        self._last_real[0] = None
        for net in (self.g_record, self.d_record):
            net.optimizer = None
            net.schedulers = []
