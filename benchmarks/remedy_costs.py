"""What the remedies cost per iteration, measured like the main race (``--remedies``).

* ``UnrolledDiscriminator(steps=k)``, k = 1, 5, 10, against k = 0, and against the ideal of k
  extra discriminator steps: ``(t0 + k * t_D) / t0``, with ``t_D`` the measured D phase of a
  plain ``GAN`` step (D forward on real and fake, backward, Adam step).
* ``GradientPenalty`` and ``R1Penalty`` against a plain D phase (same loss, no penalty).
* ``FIDKIDCallback`` with the shipped MNIST feature network at its default cadence and sample
  count, as a fraction of training time.
* ``DiffAugment``, ``AdaptiveAugment`` (at a held p = 0.5), ``Packing(2)`` (D built with
  ``pack=2``), ``ConsistencyRegularization``, ``LeCamRegularization`` and ``TopK`` against a
  plain step on the DCGAN (:func:`sota_costs`; ``benchmarks/remedies_sota.py`` saves them).

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

from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import DStep


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

    def transform_discriminator_input(
        self, gan: Any, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        if real:  # only the D phase transforms real data, and it does so first
            self._start = self.clock()
        return x, labels

    def on_discriminator_step_end(self, gan: Any, output: DStep) -> None:
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
    gan_workload: Workload | None = None,
) -> tuple[Stamps, L.Trainer, Any]:
    """``GAN`` on ``workload`` with ``callbacks``; with ``lockstep`` a plain-loop batch runs
    inside every batch (:class:`throughput_arms.LockstepPlain`) as the run's own yardstick.
    ``gan_workload`` builds the GAN's networks instead (same data; a packed D, say), while the
    yardstick stays the plain loop of ``workload``."""
    stamps = Stamps()
    gan = make_gan(gan_workload or workload)
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
    gan_workloads: dict[str, Workload] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per iteration and per D phase of each arm, rounds interleaved.

    ``gan_workloads`` gives an arm its own networks (see :func:`_fit`).

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
            gan_workload = (gan_workloads or {}).get(name)
            stamps, _, _ = _fit(workload, steps, [timer, *arms[name]()], True, gan_workload)
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


def sota_costs(workload: Workload, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Per-iteration and D-phase cost of the data-efficiency and mode-collapse remedies.

    ``workload`` must be an image GAN (the augmentations need images); ``Packing(2)`` runs with
    the workload's D rebuilt with ``pack=2`` and the batch split (``split_batch=True``: half as
    many D inputs of twice the channels; PacGAN as published would feed twice the samples).
    Returns ``{arm: {"ms_iteration", "x_iteration", "ms_d_phase", "x_d_phase"}}``.
    """
    names = {
        "DiffAugment": ("diffaugment", "DiffAugment", {}),
        "AdaptiveAugment(p=0.5)": (
            "adaptive_augment",
            "AdaptiveAugment",
            {"p": 0.5, "speed_images": 1e15},  # held at 0.5: the cost of augmenting half
        ),
        "ConsistencyRegularization": ("consistency", "ConsistencyRegularization", {}),
        "LeCamRegularization": ("lecam", "LeCamRegularization", {}),
        "TopK": ("topk", "TopK", {}),
        # The batch split into B/2 packs (the cheaper variant): what the recorded costs measured.
        "Packing(2)": ("packing", "Packing", {"num_packed": 2, "split_batch": True}),
    }
    arms: dict[str, Callable[[], list[L.Callback]]] = {"none": list}
    for arm, (module, cls_name, kwargs) in names.items():
        cls = _callback(module, cls_name)
        if cls is None:
            print(f"\n{cls_name}: lightning_gan/callbacks/{module}.py not found, skipped.")
            continue
        arms[arm] = lambda cls=cls, kwargs=kwargs: [cls(**kwargs)]
    gan_workloads = {}
    if "Packing(2)" in arms:
        gan_workloads["Packing(2)"] = _packed(workload, 2)
    it, d = _race(
        workload,
        arms,
        args.dcgan_steps,
        args.dcgan_warmup,
        args.remedy_repeats,
        args.clock,
        gan_workloads,
    )
    print(f"\nData-efficiency and mode-collapse remedies, {workload.name}")
    print("| remedy                    | ms / D phase | x D phase | ms / iteration | x iteration |")
    print("|---------------------------|--------------|-----------|----------------|-------------|")
    rows = {}
    for name in arms:
        rows[name] = {
            "ms_iteration": 1e3 * it[name],
            "x_iteration": it[name] / it["none"],
            "ms_d_phase": 1e3 * d[name],
            "x_d_phase": d[name] / d["none"],
        }
        print(
            f"| {name:<25} | {1e3 * d[name]:>12.2f} | {d[name] / d['none']:>9.2f} "
            f"| {1e3 * it[name]:>14.2f} | {it[name] / it['none']:>11.2f} |"
        )
    return rows


def _packed(workload: Workload, m: int) -> Workload:
    """``workload`` with its discriminator rebuilt with ``pack=m`` (the same other settings)."""
    import dataclasses

    def make_nets() -> tuple[Any, Any]:
        generator, discriminator = workload.make_nets()
        cls = type(discriminator)
        kwargs = {
            "channels": discriminator.channels,
            "image_size": discriminator.image_size,
            "width": discriminator.net[0].out_channels,
            "norm": _norm_name(discriminator),
            "pack": m,
        }
        return generator, cls(**kwargs)

    return dataclasses.replace(workload, name=f"{workload.name}-pack{m}", make_nets=make_nets)


def _norm_name(discriminator: Any) -> str:
    from torch import nn

    if any(isinstance(layer, nn.BatchNorm2d) for layer in discriminator.net):
        return "batch"
    if any(isinstance(layer, nn.GroupNorm) for layer in discriminator.net):
        return "layer"
    return "none"


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
        sota_costs(dcgan_layer_norm, args)
        fid_cost(dcgan, args, t_dcgan)
