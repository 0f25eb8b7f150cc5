"""Where a Trainer batch's time goes: the module's ``training_step`` against Lightning's work
around it, next to the plain loop's iteration run in lockstep in the same batch.

This is the profile behind the MLP ratio (``throughput.py --split``). A batch of any
LightningModule costs its ``training_step`` (the GAN arithmetic plus the ``manual_backward`` and
``LightningOptimizer.step`` wrappers) plus Lightning's per-batch work outside it: data-fetcher
wrappers, ``batch_to_device``, the callback hooks (progress bar, checkpoint checks), the logger
connector. The second part does not depend on the module, so it caps the ratio to the plain
loop that *any* LightningModule can reach on a given step size. The Trainer is run as users run
it, then with the progress bar, logger and checkpointing switched off one after another, to show
how much of that cap each accounts for.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import throughput_arms as arms
from throughput_arms import Workload, load_average, run_arm

from lightning_gan import GAN

SETTINGS: dict[str, dict[str, Any]] = {
    "as users run it": {},
    "no progress bar": {"enable_progress_bar": False},
    "no bar, no logger": {"enable_progress_bar": False, "logger": False},
    "no bar, logger, checkpointing": {
        "enable_progress_bar": False,
        "logger": False,
        "enable_checkpointing": False,
    },
}
MODULES: dict[str, type] = {"bare": arms.BareGAN, "gan": GAN}


@contextlib.contextmanager
def timed_training_step(cls: type, clock: Callable[[], float], out: list[float]) -> Iterator[None]:
    """Record the duration of every ``cls.training_step`` call in ``out`` (class patched)."""
    original = cls.training_step

    def training_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = clock()
        result = original(self, *args, **kwargs)
        out.append(clock() - start)
        return result

    cls.training_step = training_step
    try:
        yield
    finally:
        cls.training_step = original


def split_once(
    arm: str, workload: Workload, steps: int, warmup: int, clock_name: str, **trainer: Any
) -> tuple[float, float, float]:
    """Per-batch milliseconds of (plain loop, training_step, Lightning outside the step)."""
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    step_times: list[float] = []
    stamps = run_arm(
        arm,
        workload,
        steps,
        lockstep=True,
        patch=lambda: timed_training_step(MODULES[arm], clock, step_times),
        **trainer,
    )
    times = stamps.cpu if clock_name == "cpu" else stamps.wall
    inner = stamps.inner_cpu if clock_name == "cpu" else stamps.inner_wall
    n = len(times) - 1 - warmup
    batch = (times[-1] - times[warmup]) / n
    plain = sum(inner[warmup : warmup + n]) / n
    step = sum(step_times[warmup : warmup + n]) / n
    return 1e3 * plain, 1e3 * step, 1e3 * (batch - plain - step)


def report_step_split(
    workload: Workload, steps: int, warmup: int, repeats: int, clock: str
) -> None:
    """Print, per module and Trainer setting, the median split and the implied ratio."""
    print(
        f"\nWhere a batch goes ({workload.name}, ms per batch, {clock} clock, median of "
        f"{repeats} runs of {steps - warmup} timed batches; load {load_average()})"
    )
    print(
        "| module | Trainer | plain loop | training_step | Lightning outside the step "
        "| ratio to plain |"
    )
    print("|---|---|---|---|---|---|")
    for arm in MODULES:
        for setting, trainer in SETTINGS.items():
            runs = [
                split_once(arm, workload, steps, warmup, clock, **trainer) for _ in range(repeats)
            ]
            plain, step, outside = (statistics.median(r[i] for r in runs) for i in range(3))
            ratios = [p / (s + o) for p, s, o in runs]
            print(
                f"| {arm} | {setting} | {plain:.2f} | {step:.2f} ({step / plain - 1:+.0%}) "
                f"| {outside:.2f} ({outside / plain:.0%}) | {statistics.median(ratios):.3f} |",
                flush=True,
            )
