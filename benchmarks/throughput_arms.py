"""The three ways of training the same GAN that ``throughput.py`` races, and their timer.

Every arm runs the same networks (copies of one seeded pair), the same Adam settings, the same
losses (:mod:`lightning_gan.losses`) and the same ``DataLoader``, and does the same arithmetic per
batch: one D step on ``(real, G(z).detach())``, then one G step through a D whose parameters are
frozen. Only the framework around the step differs, which is what the ratios measure.

Time is taken at the start of each batch, after the batch is fetched (Lightning's
``on_train_batch_start``), so a timed window of ``n`` batches holds ``n`` complete iterations
including everything Lightning does between batches (logging, progress bar, checkpoint checks)
and the data fetch, but not Trainer construction, setup or teardown.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from lightning_gan import GAN
from lightning_gan.losses import get_loss

LR, BETAS = 2e-4, (0.5, 0.999)
LOSS = "non_saturating"


@dataclass
class Workload:
    """One benchmark case: a seeded (G, D) pair, its data and batch size."""

    name: str
    make_nets: Callable[[], tuple[nn.Module, nn.Module]]
    data: Tensor
    batch_size: int
    latent_dim: int

    per_item_loader: bool = False

    def loader(self) -> DataLoader:
        """The loader every arm uses: shuffled, fixed-size batches, no workers.

        By default each batch is one indexing of the data tensor (a ``BatchSampler`` as the
        sampler), so loading costs ~0.05 ms and framework overhead is not hidden behind it. With
        ``per_item_loader`` it is the usual ``DataLoader(dataset, batch_size, shuffle=True)``,
        which indexes and collates item by item (~3 ms per batch of 256 on these CPUs, the
        same for every arm).
        """
        dataset = TensorDataset(self.data)
        generator = torch.Generator().manual_seed(0)
        if self.per_item_loader:
            return DataLoader(
                dataset, self.batch_size, shuffle=True, drop_last=True, generator=generator
            )
        batches = BatchSampler(RandomSampler(dataset, generator=generator), self.batch_size, True)
        return DataLoader(dataset, batch_size=None, sampler=batches)

    def nets(self) -> tuple[nn.Module, nn.Module]:
        torch.manual_seed(0)
        generator, discriminator = self.make_nets()
        return copy.deepcopy(generator), copy.deepcopy(discriminator)


class Stamps:
    """Wall-clock and process CPU time at the start of each batch, and of embedded work.

    The CPU clock (``time.process_time``: this process's user + system time) does not advance
    while the process waits for a core, so on a machine shared with other jobs it measures the
    work per iteration more stably than the wall clock; with one torch thread and no loader
    workers the two agree on an idle machine. ``inner_*`` hold the durations of plain-loop
    iterations run inside the batches (lockstep mode), which are subtracted from the batches.
    """

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.inner_wall: list[float] = []
        self.inner_cpu: list[float] = []

    def tick(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def _window(self, warmup: int, clock: str) -> tuple[list[float], list[float]]:
        times = self.cpu if clock == "cpu" else self.wall
        inner = self.inner_cpu if clock == "cpu" else self.inner_wall
        if len(times) - warmup < 2:
            raise ValueError("Not enough batches timed: raise --steps above --warmup + 1.")
        # Batch i's embedded iteration lies between stamps i and i + 1.
        return times[warmup:], inner[warmup : len(times) - 1]

    def rate(self, warmup: int, clock: str = "cpu") -> float:
        """Iterations per second after the first ``warmup`` batches, embedded work excluded."""
        times, inner = self._window(warmup, clock)
        return (len(times) - 1) / (times[-1] - times[0] - sum(inner))

    def inner_rate(self, warmup: int, clock: str = "cpu") -> float:
        """Iterations per second of the embedded plain loop over the same batches."""
        _, inner = self._window(warmup, clock)
        return len(inner) / sum(inner)


class StampCallback(L.Callback):
    """Records :class:`Stamps` in ``on_train_batch_start`` (after the batch has been fetched)."""

    def __init__(self, stamps: Stamps) -> None:
        self.stamps = stamps

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.stamps.tick()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------- the plain loop
class PlainLoop:
    """The hand-written alternating loop: the floor every framework arm is compared with.

    Written tightly (parameter lists built once, D frozen by ``requires_grad_`` in the G step
    so its weight gradients are not computed, as ``GAN`` does) and with the logging a researcher
    adds: the losses read to the host every 50 batches. :meth:`step` runs one batch.
    """

    def __init__(self, workload: Workload) -> None:
        self.generator, self.discriminator = workload.nets()
        self.latent_dim = workload.latent_dim
        self.objective = get_loss(LOSS)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=LR, betas=BETAS)
        self.d_params = list(self.discriminator.parameters())
        self.batches = iter(workload.loader())
        self.history: list[tuple[float, float]] = []
        self.count = 0

    def step(self, real: Tensor) -> None:
        generator, discriminator, objective = self.generator, self.discriminator, self.objective
        n = real.shape[0]
        with torch.no_grad():
            fake = generator(torch.randn(n, self.latent_dim))
        loss_d = objective.d(discriminator(real).reshape(-1), discriminator(fake).reshape(-1))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        for p in self.d_params:
            p.requires_grad_(False)
        fake = generator(torch.randn(n, self.latent_dim))
        loss_g = objective.g(discriminator(fake).reshape(-1))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for p in self.d_params:
            p.requires_grad_(True)
        if self.count % 50 == 0:
            self.history.append((loss_d.item(), loss_g.item()))
        self.count += 1


def plain_loop(workload: Workload, steps: int, stamps: Stamps) -> None:
    """``steps`` batches of :class:`PlainLoop`, stamped after each fetch like the Trainer arms."""
    loop = PlainLoop(workload)
    for _ in range(steps):
        (real,) = next(loop.batches)
        stamps.tick()
        loop.step(real)


class LockstepPlain(L.Callback):
    """Runs one plain-loop batch at the start of every Trainer batch, timed on its own.

    The two arms then alternate batch by batch, so both see the same load from other jobs and
    their ratio is paired at the scale of milliseconds rather than of whole runs.
    """

    def __init__(self, workload: Workload, stamps: Stamps) -> None:
        self.loop = PlainLoop(workload)
        self.stamps = stamps

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        (real,) = next(self.loop.batches)
        self.loop.step(real)
        self.stamps.inner_cpu.append(time.process_time() - cpu)
        self.stamps.inner_wall.append(time.perf_counter() - wall)


# ------------------------------------------- LightningModules: Lightning's GAN example, bare
class _ManualGANModule(L.LightningModule):
    """What the hand-written arms share: the networks, the loss, manual optimization, Adam."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.objective = get_loss(LOSS)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            torch.optim.Adam(self.generator.parameters(), lr=LR, betas=BETAS),
            torch.optim.Adam(self.discriminator.parameters(), lr=LR, betas=BETAS),
        ]


class ExampleGAN(_ManualGANModule):
    """A GAN written the way Lightning's ``basic_gan.py`` example is.

    ``toggle_optimizer``/``untoggle_optimizer`` around each phase, ``self.log(prog_bar=True)`` of
    each loss every step, ``manual_backward``, ``optimizer.step()`` then ``zero_grad()``. The
    phases are swapped to D then G so the arithmetic equals the other arms'.
    """

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        (real,) = batch
        optimizer_g, optimizer_d = self.optimizers()

        self.toggle_optimizer(optimizer_d)
        z = torch.randn(real.shape[0], self.latent_dim).type_as(real)
        fake = self(z).detach()
        d_loss = self.objective.d(
            self.discriminator(real).reshape(-1), self.discriminator(fake).reshape(-1)
        )
        self.log("d_loss", d_loss, prog_bar=True)
        self.manual_backward(d_loss)
        optimizer_d.step()
        optimizer_d.zero_grad()
        self.untoggle_optimizer(optimizer_d)

        self.toggle_optimizer(optimizer_g)
        z = torch.randn(real.shape[0], self.latent_dim).type_as(real)
        g_loss = self.objective.g(self.discriminator(self(z)).reshape(-1))
        self.log("g_loss", g_loss, prog_bar=True)
        self.manual_backward(g_loss)
        optimizer_g.step()
        optimizer_g.zero_grad()
        self.untoggle_optimizer(optimizer_g)


class BareGAN(_ManualGANModule):
    """The plain loop's step moved into a LightningModule, with nothing added: no ``self.log``,
    no checks, no hooks. Its distance to the plain loop is Lightning's own per-batch cost (loop,
    progress bar, logger connector, ``LightningOptimizer``/``manual_backward`` wrappers); the
    distance from it to ``GAN`` is what ``GAN`` adds.
    """

    def training_step(self, batch: Any, batch_idx: int) -> None:
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        n = real.shape[0]
        with torch.no_grad():
            fake = self.generator(torch.randn(n, self.latent_dim))
        loss_d = self.objective.d(
            self.discriminator(real).reshape(-1), self.discriminator(fake).reshape(-1)
        )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        d_params = list(self.discriminator.parameters())
        for p in d_params:
            p.requires_grad_(False)
        loss_g = self.objective.g(
            self.discriminator(self.generator(torch.randn(n, self.latent_dim))).reshape(-1)
        )
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)


# ------------------------------------------------------------------------- Trainer runs
@contextlib.contextmanager
def _quiet_output() -> Iterator[None]:
    """Send the progress bar and Lightning's banners to /dev/null; it still renders each batch."""
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def fit_lightning(
    module: L.LightningModule,
    workload: Workload,
    steps: int,
    stamps: Stamps,
    callbacks: list[L.Callback] | None = None,
    **trainer_kwargs: Any,
) -> L.Trainer:
    """``Trainer.fit`` as users run it: CSV logger, progress bar, default logging cadence.

    ``max_steps`` is ``2 * steps`` because Lightning counts each of the D and G optimizer steps.
    """
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as root, _quiet_output():
        options: dict[str, Any] = dict(
            accelerator="cpu",
            devices=1,
            max_steps=2 * steps,
            logger=CSVLogger(root),
            default_root_dir=root,
            enable_progress_bar=True,
            enable_model_summary=False,
            callbacks=[StampCallback(stamps), *(callbacks or [])],
        )
        options.update(trainer_kwargs)
        trainer = L.Trainer(**options)
        trainer.fit(module, workload.loader())
    return trainer


def make_gan(workload: Workload, gan_cls: type[GAN] = GAN, **gan_kwargs: Any) -> GAN:
    """``GAN`` on the workload's networks, with the optimizer settings of the other arms."""
    generator, discriminator = workload.nets()
    options: dict[str, Any] = dict(
        latent_dim=workload.latent_dim, loss=LOSS, lr_g=LR, lr_d=LR, betas_g=BETAS, betas_d=BETAS
    )
    options.update(gan_kwargs)
    return gan_cls(generator, discriminator, **options)


def run_arm(
    arm: str,
    workload: Workload,
    steps: int,
    gan_cls: type[GAN] = GAN,
    gan_kwargs: dict[str, Any] | None = None,
    patch: Callable[[], contextlib.AbstractContextManager] | None = None,
    lockstep: bool = False,
    **trainer_kwargs: Any,
) -> Stamps:
    """Train ``workload`` for ``steps`` batches with ``arm`` and return the batch stamps.

    ``gan_cls``/``gan_kwargs`` build the ``gan`` arm (subclasses and options for the ablation);
    ``patch`` is a context manager entered around the run; ``lockstep`` runs a plain-loop batch
    inside each Trainer batch (:class:`LockstepPlain`); other keywords go to the Trainer.
    """
    stamps = Stamps()
    if lockstep and arm != "plain":
        callbacks = [LockstepPlain(workload, stamps), *trainer_kwargs.pop("callbacks", [])]
        trainer_kwargs["callbacks"] = callbacks
    with patch() if patch is not None else contextlib.nullcontext():
        if arm == "plain":
            plain_loop(workload, steps, stamps)
            return stamps
        if arm == "gan":
            module: L.LightningModule = make_gan(workload, gan_cls, **(gan_kwargs or {}))
        elif arm == "example":
            module = ExampleGAN(*workload.nets(), workload.latent_dim)
        elif arm == "bare":
            module = BareGAN(*workload.nets(), workload.latent_dim)
        else:
            raise ValueError(f"Unknown arm {arm!r}: use plain, gan, example or bare.")
        fit_lightning(module, workload, steps, stamps, **trainer_kwargs)
    return stamps
