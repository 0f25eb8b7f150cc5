"""``GANHealth``: per-step diagnostics that name the way a GAN run is failing, and can stop it.

GAN losses do not fall when training goes well, so a loss curve alone cannot tell a healthy run
from a collapsed one. This callback watches cheap signals the step already has (D's scores, the
gradients just used, the generated and real batches) and raises five flags:

``mode_collapse``     generated batch far less diverse than the real batch (or, with
                      ``collapse_signal="recall"|"coverage"``, that metric of the evaluation
                      callback falling over its last evaluations: for data without known modes)
``vanishing_g_grad``  generator gradient near zero while D confidently wins (saturated loss)
``divergence``        NaN/inf in a loss or in the weights, or exploding losses/gradients
``oscillation``       the D loss swings periodically over the window (rotation, no convergence)
``d_collapse``        D outputs a constant with a vanishing gradient while G is still off

Cost model: per step, a few detached scalars are appended to a device buffer (no host sync);
every ``every_n_steps`` generator steps the gradient norms and batch distances are computed on the
device and everything is brought to the host in a single copy. NaN/inf is caught right after each
optimizer step, before any checkpoint: by reading ``GAN.nonfinite_skips`` (free) when the module
guards its updates (its default), else by this callback's own check (one host sync per step).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.callbacks.health_guard import DivergenceGuard, GANTrainingFailure
from lightning_gan.hooks import GANCallback
from lightning_gan.metrics.health_signals import (
    diversity_ratio,
    energy_distance,
    oscillation_score,
    sample_distances,
    sigmoid_mean,
    total_norm,
)
from lightning_gan.step.records import DStep, GStep

FLAGS = ("mode_collapse", "vanishing_g_grad", "divergence", "oscillation", "d_collapse")
_ON_FAILURE = ("warn", "stop", "raise")
_COLLAPSE_SIGNALS = ("diversity", "recall", "coverage")
# Per-step series kept for the window (D phase: loss and mean scores; G phase: loss).
_D_SERIES = ("loss_d", "d_score_real", "d_score_fake")
# Values measured every `every_n_steps` batches, in the order they are stacked on the device.
_D_PROBE = (
    "grad_norm_d",
    "d_score_std",
    "d_prob_real",
    "d_prob_fake",
    "diversity_fake",
    "diversity_real",
    "cross_distance",
)
# Kept in `signals` for inspection but not logged (the module already logs its losses).
_NOT_LOGGED = ("step", "loss_d", "loss_g", "collapse_best", "collapse_streak")


class GANHealth(DivergenceGuard, GANCallback):
    """Detect mode collapse, vanishing gradients, divergence, oscillation and D collapse.

    Logs ``health/<signal>`` values and ``health/<flag>`` (0/1) every ``every_n_steps``
    generator steps (``gan.g_steps``, as the evaluation callbacks count; with ``n_critic=1`` one
    step is one training batch), straight to ``trainer.loggers``.

    Args:
        every_n_steps: generator steps between measurements (gradient norms, diversity, flags).
        window: number of recent D-step losses kept for the oscillation test (and checkpointed).
        warmup_steps: generator steps during which only divergence can fire (early GANs look
            sick: a fresh generator has little diversity).
        patience: consecutive measurements a condition must hold before its flag fires
            (divergence fires at once).
        collapse_ratio: ``mode_collapse`` when fake diversity / real diversity is below this.
        vanishing_grad_norm: gradient 2-norm under which a network's gradient counts as vanished.
        d_confidence: D "confidently wins" when mean ``sigmoid(D(real)) > d_confidence`` and mean
            ``sigmoid(D(fake)) < 1 - d_confidence``.
        max_abs_loss: ``divergence`` when any recent loss exceeds this in absolute value.
        max_grad_norm: ``divergence`` when a gradient norm exceeds this.
        oscillation_threshold: ``oscillation`` when the periodicity score of the D loss over the
            window exceeds this (0: noise or trend, 1: a pure sinusoid).
        d_constant_std: D counts as constant when the std of its scores over real and fake
            samples is below this.
        converged_energy: G counts as converged when the normalised energy distance between the
            fake and real batches is below this (``d_collapse`` needs G not converged).
        diversity_samples: samples per batch used for pairwise distances (cost is quadratic).
        collapse_signal: what ``mode_collapse`` reads. ``"diversity"`` (default): the batch
            diversity ratio, every measurement. ``"recall"`` or ``"coverage"``: that metric of
            the :class:`~lightning_gan.callbacks.evaluation.FeatureMetrics` callback in
            ``trainer.callbacks`` (which must compute it): an evaluation is "collapsed" when the
            value has fallen below ``(1 - collapse_drop)`` times the best value of the run so
            far, once that best reached ``collapse_min_best``; the flag fires when the last
            ``patience`` evaluations after the warm-up all are. For data without known modes,
            where the batch diversity ratio (pixel distances) is a weak signal. A young
            generator starts near 0 on both metrics, so only a *fall* counts: a generator that
            never got going is not flagged by this signal.
        collapse_drop: with a metric signal, the relative fall from the best value that counts.
        collapse_min_best: with a metric signal, falls count once the best value reached this.
        on_failure: ``"warn"`` (warn once per flag onset), ``"stop"`` (``trainer.should_stop``)
            or ``"raise"`` (:class:`GANTrainingFailure`), for every flag. NaN/inf: with the
            module's guard (``GAN(nonfinite="stop"|"skip"|"raise")``) the bad update was never
            applied, so this only flags, stops or raises. With ``GAN(nonfinite="off")`` this
            callback guards: ``"raise"`` raises before the step's checkpoint callbacks run;
            ``"warn"`` and ``"stop"`` restore the last verified weights and optimizer states
            (a copy taken at each measurement, one extra copy in memory) and stop, so no
            checkpoint holds non-finite weights.
    """

    def __init__(
        self,
        every_n_steps: int = 10,
        window: int = 200,
        warmup_steps: int = 100,
        patience: int = 3,
        collapse_ratio: float = 0.1,
        vanishing_grad_norm: float = 1e-3,
        d_confidence: float = 0.9,
        max_abs_loss: float = 1e4,
        max_grad_norm: float = 1e4,
        oscillation_threshold: float = 0.5,
        d_constant_std: float = 1e-3,
        converged_energy: float = 0.05,
        diversity_samples: int = 64,
        on_failure: str = "warn",
        collapse_signal: str = "diversity",
        collapse_drop: float = 0.5,
        collapse_min_best: float = 0.1,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("every_n_steps", every_n_steps, 1),
            ("window", window, 8),
            ("warmup_steps", warmup_steps, 0),
            ("patience", patience, 1),
            ("diversity_samples", diversity_samples, 2),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        for name, value in (
            ("collapse_ratio", collapse_ratio),
            ("vanishing_grad_norm", vanishing_grad_norm),
            ("max_abs_loss", max_abs_loss),
            ("max_grad_norm", max_grad_norm),
            ("d_constant_std", d_constant_std),
            ("converged_energy", converged_energy),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be a positive threshold, got {value!r}.")
        if not 0.5 < d_confidence < 1:
            raise ValueError(f"d_confidence must be in (0.5, 1), got {d_confidence!r}.")
        if not 0 < oscillation_threshold <= 1:
            raise ValueError(
                f"oscillation_threshold must be in (0, 1], got {oscillation_threshold!r}."
            )
        if on_failure not in _ON_FAILURE:
            raise ValueError(f"on_failure must be one of {_ON_FAILURE}, got {on_failure!r}.")
        if collapse_signal not in _COLLAPSE_SIGNALS:
            raise ValueError(
                f"collapse_signal must be one of {_COLLAPSE_SIGNALS}, got {collapse_signal!r}."
            )
        if not 0 < collapse_drop < 1:
            raise ValueError(f"collapse_drop must be in (0, 1), got {collapse_drop!r}.")
        if not 0 <= collapse_min_best <= 1:
            raise ValueError(f"collapse_min_best must be in [0, 1], got {collapse_min_best!r}.")
        self.collapse_signal = collapse_signal
        self.collapse_drop = collapse_drop
        self.collapse_min_best = collapse_min_best
        self._evaluation: FeatureMetrics | None = None
        self.every_n_steps = every_n_steps
        self.window = window
        self.warmup_steps = warmup_steps
        self.patience = patience
        self.collapse_ratio = collapse_ratio
        self.vanishing_grad_norm = vanishing_grad_norm
        self.d_confidence = d_confidence
        self.max_abs_loss = max_abs_loss
        self.max_grad_norm = max_grad_norm
        self.oscillation_threshold = oscillation_threshold
        self.d_constant_std = d_constant_std
        self.converged_energy = converged_energy
        self.diversity_samples = diversity_samples
        self.on_failure = on_failure
        # Checkpointed state.
        self.history: dict[str, deque[float]] = {
            k: deque(maxlen=window) for k in (*_D_SERIES, "loss_g")
        }
        self.signals: deque[dict[str, float]] = deque(maxlen=max(window // every_n_steps, 1))
        self.streak: dict[str, int] = dict.fromkeys(FLAGS, 0)
        self.flags: dict[str, bool] = dict.fromkeys(FLAGS, False)
        self.fired_at: dict[str, int | None] = dict.fromkeys(FLAGS)
        # Transient per-batch state (device tensors, never synced until a measurement).
        self._buf_d: list[Tensor] = []
        self._buf_g: list[Tensor] = []
        self._probe_d: Tensor | None = None
        self._probe_g: Tensor | None = None
        self._snapshot: tuple[dict[str, Tensor], list[dict[str, Any]]] | None = None
        self._halted = False
        self._n_critic = 1
        self._module_guards = False
        self._skips_seen = 0
        self._diverged_now = False

    # ------------------------------------------------------------------ Lightning hooks
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._buf_d, self._buf_g = [], []
        self._probe_d = self._probe_g = None
        self._halted = False
        self._n_critic = int(getattr(pl_module, "n_critic", 1))
        self._module_guards = getattr(pl_module, "nonfinite", "off") != "off"
        self._skips_seen = int(getattr(pl_module, "nonfinite_skips", 0))
        self._snapshot = None
        if self._needs_snapshot:
            self._take_snapshot(trainer, pl_module)
        self._evaluation = None
        if self.collapse_signal != "diversity":
            found = [
                cb
                for cb in trainer.callbacks
                if isinstance(cb, FeatureMetrics) and self.collapse_signal in cb.metrics
            ]
            if not found:
                raise ValueError(
                    f"GANHealth(collapse_signal={self.collapse_signal!r}) reads "
                    f"eval/{self.collapse_signal} from the evaluation callback, and none computes "
                    f"it: add FeatureMetrics(metrics=[{self.collapse_signal!r}, ...]) to the "
                    "Trainer's callbacks, or use collapse_signal='diversity'."
                )
            self._evaluation = found[0]

    def on_discriminator_step_end(self, gan: Any, d: DStep) -> None:
        if self._halted:
            return
        self._check_finite(gan, d.loss, gan.discriminator, "discriminator")
        real = d.real_scores
        self._buf_d.append(torch.stack([d.loss, real.mean(), d.fake_scores.mean()]))
        if d.g_step_follows and (gan.g_steps + 1) % self.every_n_steps == 0:
            grads = [p.grad for p in gan.discriminator.parameters() if p.grad is not None]
            scores = torch.cat([real, d.fake_scores]).float()
            self._probe_d = torch.cat(
                [
                    torch.stack(
                        [
                            total_norm(grads).to(scores.device),
                            scores.std(),
                            sigmoid_mean(real),
                            sigmoid_mean(d.fake_scores),
                        ]
                    ),
                    sample_distances(d.fake, d.real, self.diversity_samples).to(scores.device),
                ]
            )
            self._probe_g = None

    def on_generator_step_end(self, gan: Any, g: GStep) -> None:
        if self._halted:
            return
        self._check_finite(gan, g.loss, gan.generator, "generator")
        self._buf_g.append(g.loss.reshape(1))
        if self._probe_d is not None and self._probe_g is None:
            grads = [p.grad for p in gan.generator.parameters() if p.grad is not None]
            self._probe_g = total_norm(grads).reshape(1).to(g.loss.device)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._halted or self._probe_d is None or self._probe_g is None:
            if self._diverged_now:
                self._log(trainer, {"health/divergence": 1.0})
            self._diverged_now = False
            return
        signals = self._measure(getattr(pl_module, "g_steps", trainer.global_step))
        onset = self._update_flags(signals)
        self._diverged_now = False
        self._log(trainer, {f"health/{k}": v for k, v in signals.items() if k not in _NOT_LOGGED})
        self._act(trainer, onset, signals)
        if self._needs_snapshot and not self._halted:
            self._take_snapshot(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._flush()  # so ``history`` is complete for whoever inspects it after ``fit``

    # ------------------------------------------------------------------ checkpointed state
    def state_dict(self) -> dict[str, Any]:
        self._flush()
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "signals": list(self.signals),
            "streak": dict(self.streak),
            "flags": dict(self.flags),
            "fired_at": dict(self.fired_at),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for k, values in state_dict["history"].items():
            self.history[k] = deque(values, maxlen=self.window)
        self.signals = deque(state_dict["signals"], maxlen=self.signals.maxlen)
        self.streak.update(state_dict["streak"])
        self.flags.update(state_dict["flags"])
        self.fired_at.update(state_dict["fired_at"])

    # ------------------------------------------------------------------ internals
    def _flush(self) -> None:
        """Move the per-step device buffers into the host history (one copy)."""
        if not self._buf_d and not self._buf_g:
            return
        d = torch.stack(self._buf_d).tolist() if self._buf_d else []
        g = torch.cat(self._buf_g).tolist() if self._buf_g else []
        self._buf_d, self._buf_g = [], []
        for row in d:
            for key, value in zip(_D_SERIES, row, strict=True):
                self.history[key].append(value)
        self.history["loss_g"].extend(g)

    def _measure(self, step: int) -> dict[str, float]:
        probe = torch.cat([self._probe_d, self._probe_g.to(self._probe_d.device)]).tolist()
        self._probe_d = self._probe_g = None
        self._flush()
        s = dict(zip((*_D_PROBE, "grad_norm_g"), probe, strict=True))
        ff, rr, fr = s["diversity_fake"], s["diversity_real"], s["cross_distance"]
        s["diversity_ratio"] = diversity_ratio(ff, rr)
        s["energy_distance"] = energy_distance(ff, rr, fr)
        loss_d = list(self.history["loss_d"])
        enough = len(loss_d) >= self.window // 2
        s["oscillation_score"] = oscillation_score(loss_d) if enough else 0.0
        s["loss_d"] = loss_d[-1] if loss_d else float("nan")
        s["loss_g"] = self.history["loss_g"][-1] if self.history["loss_g"] else float("nan")
        s["step"] = float(step)
        if self._evaluation is not None:
            s["collapse_signal"], s["collapse_best"], s["collapse_streak"] = self._metric_collapse()
        return s

    def _metric_collapse(self) -> tuple[float, float, float]:
        """(latest value, best value so far, collapsed evaluations in a row after warm-up) of the
        evaluation callback's ``collapse_signal`` (its checkpointed history: resume-safe)."""
        key = f"eval/{self.collapse_signal}"
        history = [h for h in self._evaluation.history if key in h]
        best, streak = -math.inf, 0
        for h in history:
            value = h[key]
            best = max(best, value)
            low = best >= self.collapse_min_best and value < (1 - self.collapse_drop) * best
            streak = streak + 1 if low and h["step"] > self.warmup_steps else 0
        if not history:
            return math.nan, math.nan, 0.0
        return history[-1][key], best, float(streak)

    def _conditions(self, s: dict[str, float]) -> dict[str, bool]:
        recent = list(self.history["loss_d"])[-self.every_n_steps * self._n_critic :]
        recent += list(self.history["loss_g"])[-self.every_n_steps :]
        values = [*recent, s["grad_norm_d"], s["grad_norm_g"]]
        d_wins = s["d_prob_real"] > self.d_confidence and s["d_prob_fake"] < 1 - self.d_confidence
        if self._evaluation is not None:  # the evaluations already carry the patience
            collapsed = s["collapse_streak"] >= self.patience
        else:
            collapsed = s["diversity_ratio"] < self.collapse_ratio
        return {
            "mode_collapse": collapsed,
            "vanishing_g_grad": s["grad_norm_g"] < self.vanishing_grad_norm and d_wins,
            "divergence": self._diverged_now
            or not all(math.isfinite(v) for v in values)
            or any(abs(v) > self.max_abs_loss for v in recent)
            or max(s["grad_norm_d"], s["grad_norm_g"]) > self.max_grad_norm,
            "oscillation": s["oscillation_score"] > self.oscillation_threshold,
            "d_collapse": s["d_score_std"] < self.d_constant_std
            and s["grad_norm_d"] < self.vanishing_grad_norm
            and s["energy_distance"] > self.converged_energy,  # NaN (degenerate data): no
        }

    def _update_flags(self, s: dict[str, float]) -> list[str]:
        """Advance the streaks; return the flags that turned on now. Adds flags to ``s``."""
        step = int(s["step"])
        onset = []
        for flag, holds in self._conditions(s).items():
            armed = flag == "divergence" or step > self.warmup_steps
            self.streak[flag] = self.streak[flag] + 1 if holds and armed else 0
            immediate = flag == "divergence" or (
                flag == "mode_collapse" and self._evaluation is not None
            )
            needed = 1 if immediate else self.patience
            on = self.streak[flag] >= needed
            if on and not self.flags[flag]:
                onset.append(flag)
                if self.fired_at[flag] is None:
                    self.fired_at[flag] = step
            self.flags[flag] = on
            s[flag] = float(on)
        self.signals.append(dict(s))
        return onset

    def _act(self, trainer: Trainer, onset: list[str], s: dict[str, float]) -> None:
        if self.on_failure != "warn":  # every rank must take the same decision
            if not trainer.strategy.reduce_boolean_decision(bool(onset), all=False):
                return
        elif not onset:
            return
        names = ", ".join(onset) or "a flag on another rank"
        message = (
            f"GANHealth: {names} at generator step {int(s['step'])} (diversity ratio "
            f"{s['diversity_ratio']:.3g}, grad norm G {s['grad_norm_g']:.3g} / D "
            f"{s['grad_norm_d']:.3g}, D(real) {s['d_prob_real']:.3g}, D(fake) "
            f"{s['d_prob_fake']:.3g}, oscillation score {s['oscillation_score']:.3g}"
            + (
                f", {self.collapse_signal} {s['collapse_signal']:.3g} (best "
                f"{s['collapse_best']:.3g})"
                if self._evaluation is not None
                else ""
            )
            + ")."
        )
        if self.on_failure == "raise":
            raise GANTrainingFailure(message, onset, int(s["step"]))
        if self.on_failure == "stop":
            trainer.should_stop = True
            message += " Stopping training."
        rank_zero_warn(message)

    @staticmethod
    def _log(trainer: Trainer, metrics: dict[str, float]) -> None:
        """Straight to the loggers, as Lightning's ``LearningRateMonitor`` does.

        ``LightningModule.log`` costs about a millisecond per key (it re-walks all logged results
        on every call), which would make ~20 signals the most expensive part of a small step;
        direct logging also reaches the logger at every measurement, whatever
        ``log_every_n_steps`` is. The step is ``trainer.global_step`` (optimizer steps), the
        axis of ``loss/d`` and ``loss/g`` (:func:`~lightning_gan.progress.use_optimizer_step_axis`),
        of sample pictures and of checkpoint names.
        """
        step = trainer.global_step
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
