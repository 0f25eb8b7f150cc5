"""What the remedies cost per iteration, measured like the main race (``--remedies``).

* ``UnrolledDiscriminator(steps=k)``, k = 1, 5, 10, against k = 0, and against the ideal of k
  extra discriminator steps: ``(t0 + k * t_D) / t0``, with ``t_D`` the measured D phase of a
  plain ``GAN`` step (D forward on real and fake, backward, Adam step).
* ``GradientPenalty`` and ``R1Penalty`` against a plain D phase (same loss, no penalty).
* ``FIDKIDCallback`` with the shipped MNIST feature network at its default cadence and sample
  count, as a fraction of training time.

All rows use the same ``GAN`` settings and data as the main benchmark and the CPU clock unless
``--clock wall``. Callbacks that are not in ``lightning_gan/callbacks/`` are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
from throughput_arms import LockstepPlain, Stamps, Workload, fit_lightning, load_average, make_gan
from torch import Tensor

from lightning_gan.hooks import GANCallback, StepOutput


class DPhaseTimer(GANCallback):
    """Duration of each discriminator phase: from D's first input transform to its step's end.

    That is D's forward on real and generated data, the loss and any penalty, the backward,
    the finite check and the optimizer step (not the no-grad generation of the fake batch).
    """

    def __init__(self, clock: str = "cpu") -> None:
        super().__init__()
        self.clock = time.process_time if clock == "cpu" else time.perf_counter
        self.durations: list[float] = []
        self._start = 0.0

    def transform_discriminator_input(self, gan: Any, x: Tensor, real: bool) -> Tensor:
        if real:  # only the D phase transforms real data, and it does so first
            self._start = self.clock()
        return x

    def on_discriminator_step_end(self, gan: Any, output: StepOutput) -> None:
        self.durations.append(self.clock() - self._start)

    def mean(self, warmup: int) -> float:
        return statistics.fmean(self.durations[warmup:])


def _callback(module: str, name: str) -> type | None:
    """A callback class from ``lightning_gan.callbacks.<module>``, or None if not written yet."""
    try:
        return getattr(importlib.import_module(f"lightning_gan.callbacks.{module}"), name)
    except (ImportError, AttributeError):
        return None


def _fit(
    workload: Workload,
    steps: int,
    callbacks: list[L.Callback],
    lockstep: bool = True,
) -> tuple[Stamps, L.Trainer, Any]:
    """``GAN`` on ``workload`` with ``callbacks``; with ``lockstep`` a plain-loop batch runs
    inside every batch (:class:`throughput_arms.LockstepPlain`) as the run's own yardstick."""
    stamps = Stamps()
    gan = make_gan(workload)
    if lockstep:
        callbacks = [LockstepPlain(workload, stamps), *callbacks]
    trainer = fit_lightning(gan, workload, steps, stamps, callbacks=callbacks)
    return stamps, trainer, gan


def _race(
    workload: Workload,
    arms: dict[str, Callable[[], list[L.Callback]]],
    steps: int,
    warmup: int,
    repeats: int,
    clock: str,
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per iteration and per D phase of each arm, rounds interleaved.

    Each run's times are first divided by the time of the plain-loop batches run in lockstep
    with it (so load from other jobs cancels), then scaled back by the median plain time.
    """
    per_iter: dict[str, list[float]] = {a: [] for a in arms}
    per_d: dict[str, list[float]] = {a: [] for a in arms}
    plain: list[float] = []
    names = list(arms)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            timer = DPhaseTimer(clock)
            stamps, _, _ = _fit(workload, steps, [timer, *arms[name]()])
            t_plain = 1.0 / stamps.inner_rate(warmup, clock)
            plain.append(t_plain)
            per_iter[name].append(1.0 / stamps.rate(warmup, clock) / t_plain)
            per_d[name].append(timer.mean(warmup) / t_plain)
        print(
            f"  [{workload.name} remedies round {r + 1}/{repeats}, load {load_average()}] "
            + "  ".join(f"{a}={per_iter[a][-1]:.2f}" for a in names)
            + " (x plain-loop iteration)",
            flush=True,
        )
    t_plain = statistics.median(plain)
    return (
        {a: t_plain * statistics.median(v) for a, v in per_iter.items()},
        {a: t_plain * statistics.median(v) for a, v in per_d.items()},
    )


def unrolled_costs(workload: Workload, args: argparse.Namespace) -> None:
    unrolled = _callback("unrolled", "UnrolledDiscriminator")
    if unrolled is None:
        print("\nUnrolledDiscriminator: lightning_gan/callbacks/unrolled.py not found, skipped.")
        return
    ks = (0, 1, 5, 10)
    arms = {f"k={k}": (lambda k=k: [unrolled(steps=k)]) for k in ks}
    arms["k=5 first-order"] = lambda: [unrolled(steps=5, higher_order=False)]
    it, d = _race(
        workload, arms, args.remedy_steps, args.remedy_warmup, args.remedy_repeats, args.clock
    )
    t0, t_d = it["k=0"], d["k=0"]
    print(
        f"\nUnrolledDiscriminator on the MLP GAN (batch {workload.batch_size}); one plain D phase "
        f"t_D = {1e3 * t_d:.2f} ms of t0 = {1e3 * t0:.2f} ms per iteration"
    )
    print("| unrolling       | ms / iteration | x k=0 | ideal x (t0 + k t_D)/t0 | actual / ideal |")
    print("|-----------------|----------------|-------|-------------------------|----------------|")
    for name in arms:
        k = int(name.split()[0][2:])
        t = it[name]
        ideal = (t0 + k * t_d) / t0
        ratio = t / t0
        print(
            f"| {name:<15} | {1e3 * t:>14.2f} | {ratio:>5.2f} | {ideal:>23.2f} "
            f"| {ratio / ideal:>14.2f} |"
        )


def penalty_costs(workload: Workload, args: argparse.Namespace, label: str) -> None:
    gp = _callback("gradient_penalty", "GradientPenalty")
    r1 = _callback("gradient_penalty", "R1Penalty")
    arms: dict[str, Callable[[], list[L.Callback]]] = {"none": list}
    if gp is None and r1 is None:
        print("\nGradientPenalty/R1Penalty: gradient_penalty.py not found, skipped.")
        return
    if gp is not None:
        arms["GradientPenalty"] = lambda: [gp(weight=10.0)]
    if r1 is not None:
        arms["R1Penalty"] = lambda: [r1(gamma=10.0)]
        arms["R1Penalty(interval=16)"] = lambda: [r1(gamma=10.0, interval=16)]
    steps = args.remedy_steps if workload.name == "mlp" else args.dcgan_steps
    warmup = args.remedy_warmup if workload.name == "mlp" else args.dcgan_warmup
    it, d = _race(workload, arms, steps, warmup, args.remedy_repeats, args.clock)
    print(f"\nGradient penalties, {label}")
    print(
        "| penalty                | ms / D phase | x plain D phase | ms / iteration | x iteration |"
    )
    print(
        "|------------------------|--------------|-----------------|----------------|-------------|"
    )
    for name in arms:
        print(
            f"| {name:<22} | {1e3 * d[name]:>12.2f} | {d[name] / d['none']:>15.2f} "
            f"| {1e3 * it[name]:>14.2f} | {it[name] / it['none']:>11.2f} |"
        )


def fid_cost(workload: Workload, args: argparse.Namespace, t_iter: float | None) -> None:
    fid_cls = _callback("fid", "FIDKIDCallback")
    if fid_cls is None:
        print("\nFIDKIDCallback: lightning_gan/callbacks/fid.py not found, skipped.")
        return
    from lightning_gan.data.mnist5k import load_mnist5k, pad_to_32

    real = pad_to_32(load_mnist5k()[0])
    callback = fid_cls(features="mnist", real=real)  # default cadence and sample count
    with warnings.catch_warnings():  # "only 5000 real samples": expected with MNIST-5k
        warnings.simplefilter("ignore")
        stamps, trainer, gan = _fit(workload, args.dcgan_steps, [callback])
    if t_iter is None:
        t_iter = 1.0 / stamps.rate(args.dcgan_warmup, args.clock)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    times = []
    for _ in range(2):  # the first one also extracts the real features (once per fit)
        start = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callback.evaluate(trainer, gan)
        times.append(clock() - start)
    every, n = callback.schedule.every_n_steps, callback.n_samples
    train = every * t_iter  # n_critic = 1: one G step per iteration
    print(
        f"\nFIDKIDCallback(features='mnist'), defaults every_n_steps={every}, n_samples={n}, "
        f"on the DCGAN (t = {1e3 * t_iter:.1f} ms / iteration)"
    )
    print("| evaluation                   | seconds | fraction of training at default cadence |")
    print("|------------------------------|---------|-----------------------------------------|")
    for label, seconds in (
        ("first (+ real features once)", times[0]),
        ("each later one", times[1]),
    ):
        print(f"| {label:<28} | {seconds:>7.2f} | {seconds / (train + seconds):>39.1%} |")


def report_remedy_costs(
    args: argparse.Namespace,
    mlp: Workload,
    dcgan: Workload,
    dcgan_layer_norm: Workload,
    t_dcgan: float | None = None,
) -> None:
    """Print the remedy-cost tables; ``t_dcgan`` is the DCGAN's measured s/iteration, if any."""
    unrolled_costs(mlp, args)
    penalty_costs(mlp, args, "MLP GAN")
    if "dcgan" in args.cases:
        penalty_costs(dcgan_layer_norm, args, "DCGAN with GroupNorm(1, C) in D (penalty-safe)")
        fid_cost(dcgan, args, t_dcgan)
