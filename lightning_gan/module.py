"""``GAN``: the alternating generator/discriminator step as one LightningModule.

Optimisation is manual because a GAN step is two optimisations with opposite objectives. The
module keeps only the step; remedies change it through :mod:`lightning_gan.hooks`, and the
distributed gradient average is delegated to the strategy (see :mod:`lightning_gan.distributed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gan.hooks import HookDispatch, StepOutput
from lightning_gan.losses import GANLoss, get_loss

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


NONFINITE_ACTIONS = ("stop", "skip", "raise", "off")
# Consecutive GradScaler-skipped steps of one network after which its gradients count as
# non-finite: each skip halves the loss scale, so 20 of them mean a scale 2**20 (~1e6) lower and
# an overflow that is no longer the scale's fault (fp16 start-up needs a handful at most).
SCALER_SKIP_LIMIT = 20


class NonFiniteError(FloatingPointError):
    """A GAN step produced NaN/inf gradients, or a checkpoint would hold non-finite weights."""


class GAN(LightningModule):
    """A GAN trained by alternating discriminator and generator steps.

    Args:
        generator: maps latents ``[B, latent_dim]`` to data. May be omitted by a subclass that
            assigns ``self.generator`` itself before ``super().__init__`` returns control.
        discriminator: maps data to one score per sample (``[B]`` or ``[B, 1]``).
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
            ``GradScaler`` (``precision="16-mixed"`` on a GPU) overflowed steps are routine: the
            scaler skips them and lowers its scale, and the policy applies only after
            :data:`SCALER_SKIP_LIMIT` consecutive skipped steps of one network.

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
    ) -> None:
        super().__init__()
        # Networks are never pickled into hparams (checkpoints stay `weights_only`-loadable);
        # from the CLI their `class_path` config is saved instead, so the CLI can rebuild them.
        given = _given_hyperparameters.get() if _given_hyperparameters is not None else None
        self.save_hyperparameters(ignore=[] if given else ["generator", "discriminator"])
        self.automatic_optimization = False
        if generator is not None:
            self.generator = generator
        if discriminator is not None:
            self.discriminator = discriminator
        self.loss_fn: GANLoss = get_loss(loss)
        if not isinstance(n_critic, int) or n_critic < 1:
            raise ValueError(
                f"n_critic must be an integer >= 1 (discriminator steps per generator step), "
                f"got {n_critic!r}."
            )
        for name, lr in (("lr_g", lr_g), ("lr_d", lr_d)):
            if not lr > 0:
                raise ValueError(f"{name} must be a positive learning rate, got {lr!r}.")
        for name, betas in (("betas_g", betas_g), ("betas_d", betas_d)):
            if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
                raise ValueError(f"{name} must be two Adam betas in [0, 1), got {betas!r}.")
        if nonfinite not in NONFINITE_ACTIONS:
            raise ValueError(
                f"nonfinite={nonfinite!r} is unknown: use one of {', '.join(NONFINITE_ACTIONS)}."
            )
        self.nonfinite = nonfinite
        self.nonfinite_skips = 0
        self.n_critic = n_critic
        self.lr_g, self.lr_d = lr_g, lr_d
        self.betas_g, self.betas_d = tuple(betas_g), tuple(betas_d)
        self._latent_dim = latent_dim
        self.d_steps = 0
        self.g_steps = 0
        self._hooks: HookDispatch | None = None
        self._inputs_checked = False
        self._grad_sync = None
        self._rng_to_restore: dict[str, list[Tensor]] | None = None
        self._logged_keys: set[str] = set()
        self._scaler_skips = {"generator": 0, "discriminator": 0}
        self._scaler: Any = None
        self._scale: float | None = None

    # ----------------------------------------------------------------------------- properties
    @property
    def latent_dim(self) -> int:
        if self._latent_dim is None:
            self._latent_dim = getattr(self.generator, "latent_dim", None)
        if self._latent_dim is None:
            raise ValueError(
                "Cannot tell the latent size: pass `latent_dim=` to GAN or give the generator "
                "a `latent_dim` attribute."
            )
        return self._latent_dim

    # ------------------------------------------------------------------------- public methods
    def sample_latent(self, n: int) -> Tensor:
        """Draw ``n`` latent vectors; override for other priors (uniform, conditional, ...)."""
        return torch.randn(n, self.latent_dim, device=self.device)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Generate ``n`` samples with the evaluation generator (the EMA one when present)."""
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        try:
            return generator(self.sample_latent(n))
        finally:
            generator.train(was_training)

    def sampling_generator(self) -> nn.Module:
        """The generator evaluation should use: a callback's (e.g. EMA) or ``self.generator``."""
        generator = self._dispatch().sampling_generator(self)
        return self.generator if generator is None else generator

    def real_from_batch(self, batch: Any) -> Tensor:
        """Extract real data from a batch; ``(data, labels)`` pairs give ``data``."""
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def configure_optimizers(self) -> Sequence[torch.optim.Optimizer]:
        """Adam for G and D, in that order (an override must keep the order G, D)."""
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr_g, betas=self.betas_g)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=self.betas_d)
        return [opt_g, opt_d]

    # ---------------------------------------------------------------------------- the step
    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.real_from_batch(batch)
        opt_g, opt_d = self.optimizers()
        hooks = self._dispatch()

        with torch.no_grad():
            fake = self.generator(self.sample_latent(real.shape[0]))
        if not self._inputs_checked:
            self._check_inputs(real, fake)
        d_real = hooks.transform(self, real, True)
        d_fake = hooks.transform(self, fake, False)
        real_scores = self.discriminator(d_real)
        if not self._inputs_checked:
            self._check_scores(real_scores, real.shape[0])
        real_scores = real_scores.reshape(-1)
        fake_scores = self._score(self.discriminator, d_fake)
        loss_d = self.loss_fn.d(real_scores, fake_scores)
        penalty = hooks.penalty(self, d_real, d_fake)
        self._optimize(opt_d, self.discriminator, loss_d if penalty is None else loss_d + penalty)
        self.d_steps += 1
        if self.log_due("loss/d"):
            self.log_dict(
                {
                    "loss/d": loss_d.detach(),
                    "d/real_score": real_scores.detach().mean(),
                    "d/fake_score": fake_scores.detach().mean(),
                },
                prog_bar=True,
            )
        if hooks.by_hook["on_discriminator_step_end"]:
            hooks.discriminator_step_end(
                self, StepOutput(loss_d.detach(), fake_scores.detach(), real_scores.detach(), fake)
            )

        if self.d_steps % self.n_critic == 0:
            self._generator_step(opt_g, hooks, real)

    def _generator_step(self, opt_g: Any, hooks: HookDispatch, real: Tensor) -> None:
        fake = self.generator(self.sample_latent(real.shape[0]))
        with _frozen(self.discriminator):
            critic = hooks.critic(self, real, fake) or self.discriminator
            fake_scores = self._score(critic, hooks.transform(self, fake, False))
            loss_g = self.loss_fn.g(fake_scores)
            self._optimize(opt_g, self.generator, loss_g)
        self.g_steps += 1
        # The next G step is n_critic batches away: log now if the logger writes before then.
        if self.log_due("loss/g", self.n_critic):
            self.log("loss/g", loss_g.detach(), prog_bar=True)
        if hooks.by_hook["on_generator_step_end"]:
            hooks.generator_step_end(
                self, StepOutput(loss_g.detach(), fake_scores.detach(), None, fake.detach())
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
        if self._scaler is not None:
            self._scaled_step(optimizer, network, self._scaler)
            return
        # The optimizer's parameters are the ones the update would change (and need no walk of
        # the module tree).
        if self.nonfinite != "off" and not _gradients_finite(
            p for group in optimizer.param_groups for p in group["params"]
        ):
            optimizer.zero_grad(set_to_none=True)
            self._on_nonfinite(network)
            return
        optimizer.step()

    def _scaled_step(self, optimizer: Any, network: nn.Module, scaler: Any) -> None:
        """Step through a ``GradScaler``, which owns the non-finite decision under fp16 AMP.

        The gradients here are multiplied by the loss scale, so they overflow whenever the scale
        is too high, which the scaler expects: Lightning's ``optimizer.step()`` unscales, skips
        the update if anything is non-finite, and halves the scale. Checking them ourselves would
        treat those routine overflows as divergence (stopping at step 1, or skipping forever
        because the scaler never gets to lower its scale). A skipped step shows as a lower scale
        after the step; only a run of :data:`SCALER_SKIP_LIMIT` of them for one network (a
        scale 2**20 lower) means gradients that no scale makes finite, and gets the policy.
        """
        if self.nonfinite == "off":
            optimizer.step()
            return
        if self._scale is None:  # first step of this process (the scale may come from a resume)
            self._scale = scaler.get_scale()
        before = self._scale
        optimizer.step()
        name = "generator" if network is self.generator else "discriminator"
        self._scale = scaler.get_scale()  # one host sync, as the check it replaces
        if self._scale >= before:
            self._scaler_skips[name] = 0
            return
        self._scaler_skips[name] += 1
        if self._scaler_skips[name] >= SCALER_SKIP_LIMIT:
            self._scaler_skips[name] = 0
            self._on_nonfinite(network)

    def _on_nonfinite(self, network: nn.Module) -> None:
        name = "generator" if network is self.generator else "discriminator"
        message = (
            f"Non-finite {name} gradients at d_step {self.d_steps}, g_step {self.g_steps}; the "
            "update was not applied. Lower the learning rates, add a penalty (GradientPenalty, "
            "R1Penalty) or SpectralNorm, or use GAN(nonfinite='skip') to drop such updates."
        )
        if self.nonfinite == "raise":
            raise NonFiniteError(message)
        self.nonfinite_skips += 1
        self.log("nonfinite/skipped", float(self.nonfinite_skips))
        if self.nonfinite == "stop":
            rank_zero_warn(message + " Training stops here (GAN(nonfinite='stop')).")
            self.trainer.should_stop = True

    @staticmethod
    def _score(critic: Any, x: Tensor) -> Tensor:
        return critic(x).reshape(-1)

    def log_due(self, key: str, window: int = 1) -> bool:
        """Whether ``self.log`` of ``key`` now would reach a logger: log only when it is True.

        ``self.log`` costs 0.1-0.5 ms per value on CPU (Lightning re-walks its result object on
        every call), more than a whole step of a small GAN. Lightning hands logged values to the
        logger only every ``log_every_n_steps`` batches (1-based batch count) and when training
        stops, so logging in exactly those batches gives the logger the same numbers at the same
        steps. A value produced every ``window`` batches (the G loss: every ``n_critic``-th;
        a lazy penalty: every ``interval``-th) is due when a logger write falls within its next
        ``window`` batches, because that write takes its latest value. Each ``key`` is also due
        at its first call of a fit, so the progress bar and ``trainer.callback_metrics`` hold
        it from the start, and in the fit's last batch, so they hold the final value after
        ``fit``; between writes they hold the last logged value. With
        ``log_every_n_steps=0`` or outside a fit loop every call is due (as before). Callbacks
        that log from inside the step use it the same way::

            if gan.log_due("penalty/gp"):
                gan.log("penalty/gp", value.detach())
        """
        trainer = self._trainer
        every = getattr(trainer, "log_every_n_steps", 0) if trainer is not None else 0
        done = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
        done = getattr(done, "_batches_that_stepped", None)
        if not every or done is None or trainer.should_stop or key not in self._logged_keys:
            self._logged_keys.add(key)
            return True
        this = done + 1  # the batch being run, counted from 1
        return (this + window - 1) // every > (this - 1) // every or _final_batch(trainer)

    # ------------------------------------------------------------------------- plumbing
    def _dispatch(self) -> HookDispatch:
        if self._hooks is None:
            trainer = self._trainer
            self._hooks = HookDispatch(list(trainer.callbacks) if trainer is not None else [])
        return self._hooks

    def on_fit_start(self) -> None:
        _check_strategy(self.trainer.strategy)
        self._hooks = HookDispatch(list(self.trainer.callbacks))
        self._inputs_checked = False
        # fp16 AMP's GradScaler, fixed for the fit; its scale is read afresh (it may be resumed).
        self._scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        self._scale = None
        self._scaler_skips = {"generator": 0, "discriminator": 0}
        self._grad_sync = getattr(self.trainer.strategy, "all_reduce_gradients", None)
        self._logged_keys = set()

    def on_fit_end(self) -> None:
        self._hooks = None
        self._grad_sync = None

    def _check_inputs(self, real: Tensor, fake: Tensor) -> None:
        """Fail on the first batch, before any weight changes, with the fix in the message."""
        if not isinstance(real, Tensor) or not real.is_floating_point():
            got = real.dtype if isinstance(real, Tensor) else type(real).__name__
            raise TypeError(
                f"Real data must be a floating-point tensor, got {got}: convert it in the "
                "dataset (e.g. `x.float()`, images scaled to [-1, 1])."
            )
        if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
            raise ValueError(
                f"The generator makes samples of shape {tuple(fake.shape[1:])} but the data has "
                f"shape {tuple(real.shape[1:])}: set the generator's output size to match the "
                "data (e.g. `out_dim` of MLPGenerator, `channels`/`image_size` of DCGANGenerator)."
            )

    def _check_scores(self, scores: Tensor, batch_size: int) -> None:
        if scores.numel() != batch_size or scores.dim() > 2:
            raise ValueError(
                f"The discriminator must return one score per sample ([B] or [B, 1]); for a "
                f"batch of {batch_size} it returned shape {tuple(scores.shape)}: make its last "
                "layer output a single unit."
            )
        self._inputs_checked = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if not all(torch.isfinite(p).all() for p in self.parameters()):
            raise NonFiniteError(
                "Refusing to write a checkpoint with non-finite weights; earlier checkpoints are "
                "untouched. Keep GAN(nonfinite=...) at 'stop', 'skip' or 'raise' so non-finite "
                "updates are never applied."
            )
        checkpoint["gan_steps"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        checkpoint["gan_rng"] = self._rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.strict_loading and "state_dict" in checkpoint:
            _check_same_architecture(self.state_dict(), checkpoint["state_dict"])
        steps = checkpoint.get("gan_steps", {})
        self.d_steps = int(steps.get("d_steps", 0))
        self.g_steps = int(steps.get("g_steps", 0))
        self._rng_to_restore = checkpoint.get("gan_rng")

    def on_train_start(self) -> None:
        # Restored here, after dataloaders are built, so the latents after a resume are the
        # ones the uninterrupted run would have drawn.
        states, self._rng_to_restore = self._rng_to_restore, None
        if states is None:
            return
        rank, world = self.global_rank, self.trainer.world_size
        if len(states["torch"]) != world:
            rank_zero_warn(
                f"The checkpoint holds random states of {len(states['torch'])} processes but "
                f"{world} are running: latents will not continue the original sequence."
            )
            return
        torch.set_rng_state(states["torch"][rank])
        if states.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state(states["cuda"][rank], self.device)

    def _rng_states(self) -> dict[str, list[Tensor]]:
        """Every rank's torch (and CUDA) generator state; collective, so call on all ranks."""
        states = {"torch": [torch.get_rng_state()]}
        if self.device.type == "cuda":
            states["cuda"] = [torch.cuda.get_rng_state(self.device)]
        if self._trainer is not None and self.trainer.world_size > 1:
            for key, (local,) in states.items():
                gathered = self.all_gather(local.to(self.device)).cpu()
                states[key] = list(gathered)
        return states


def _final_batch(trainer: Any) -> bool:
    """Whether the batch being run may be the fit's last (by ``max_steps`` or ``max_epochs``).

    Values logged there are what ``trainer.callback_metrics`` holds after ``fit``, which users
    and checkpoint monitors read; a batch has one or two optimizer steps, hence the ``+ 2``.
    """
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step + 2 >= max_steps:
        return True
    max_epochs = trainer.max_epochs
    return (
        max_epochs is not None
        and max_epochs >= 0
        and trainer.current_epoch + 1 >= max_epochs
        and bool(trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)
    )


def _gradients_finite(params: Iterable[Tensor]) -> bool:
    """Whether every gradient element of ``params`` is finite: one fused pass, one host sync.

    The check is the one ``GradScaler`` runs before each step (a fused foreach kernel per device
    and dtype, with a scale of exactly 1 so the gradients keep their values), ~5x cheaper on CPU
    than a total norm, and it flags only NaN/inf elements (a norm overflows to inf on large but
    finite gradients). Falls back to the total norm where the kernel is unavailable.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for grad in grads:
        groups.setdefault((grad.device, grad.dtype), []).append(grad)
    try:
        found = False
        for (device, _), group in groups.items():
            flag = torch.zeros(1, device=device)
            torch._amp_foreach_non_finite_check_and_unscale_(
                group, flag, torch.ones(1, device=device)
            )
            found = found or bool(flag.item())
        return not found
    except (AttributeError, NotImplementedError, RuntimeError):  # no kernel for this device/type
        return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def _check_same_architecture(own: dict[str, Tensor], saved: dict[str, Any]) -> None:
    """Name what differs between a checkpoint and this model, instead of torch's size errors."""
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    resized = [
        f"{key}: checkpoint {tuple(saved[key].shape)} vs model {tuple(own[key].shape)}"
        for key in sorted(set(own) & set(saved))
        if hasattr(saved[key], "shape") and saved[key].shape != own[key].shape
    ]
    if not (missing or unexpected or resized):
        return
    details = "; ".join(
        f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
        for label, items in (
            ("missing in checkpoint", missing),
            ("not in model", unexpected),
            ("shape differs", resized),
        )
        if items
    )
    raise ValueError(
        f"This checkpoint was written by a different model ({details}). Build the GAN with the "
        "generator/discriminator (and SpectralNorm callback, if used) of the run that wrote it; "
        "a checkpoint from the CLI rebuilds its own networks with GAN.load_from_checkpoint(path)."
    )


def _check_strategy(strategy: Any) -> None:
    """Refuse a whole-module DDP wrapper that would fail at the first backward, naming the fix."""
    model = getattr(strategy, "model", None)
    if isinstance(model, nn.parallel.DistributedDataParallel) and not model.find_unused_parameters:
        raise ValueError(
            "GAN steps leave one network without gradients in each phase, which plain DDP "
            'rejects. Use `strategy="gan_ddp"` (recommended: one gradient all-reduce per step) '
            'or `strategy="ddp_find_unused_parameters_true"`.'
        )
