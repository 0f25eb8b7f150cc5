"""Checks of the GAN's settings, networks and first batch, each failing with the fix named.

They run at construction, at fit start or on the first batch only, never in every step (the
step's cost must not grow), and always before any weight changes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_gan.step.conditioning import check_batch_labels
from lightning_gan.step.nonfinite import NONFINITE_ACTIONS


def check_settings(
    n_critic: Any,
    lrs: dict[str, Any],
    betas: dict[str, Any],
    nonfinite: Any,
    num_classes: Any,
) -> None:
    """Construction-time validation of :class:`~lightning_gan.GAN`'s scalar arguments."""
    if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
        raise ValueError(
            f"n_critic must be an integer >= 1 (discriminator steps per generator step), "
            f"got {n_critic!r}."
        )
    for name, lr in lrs.items():
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
            raise ValueError(
                f"{name} must be a positive learning rate, finite (e.g. 2e-4), got {lr!r}."
            )
    for name, pair in betas.items():
        if (
            not isinstance(pair, Sequence)
            or isinstance(pair, str)
            or len(pair) != 2
            or not all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in pair)
        ):
            raise ValueError(
                f"{name} must be two Adam betas in [0, 1) such as (0.5, 0.999), got {pair!r}."
            )
    if nonfinite not in NONFINITE_ACTIONS:
        raise ValueError(
            f"nonfinite={nonfinite!r} is unknown: use one of {', '.join(NONFINITE_ACTIONS)}."
        )
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(
            f"num_classes must be an integer >= 1 (or None for an unconditional GAN), "
            f"got {num_classes!r}."
        )


def check_accumulation(accumulate: Any) -> None:
    if isinstance(accumulate, bool) or not isinstance(accumulate, int) or accumulate < 1:
        raise ValueError(
            f"accumulate must be an integer >= 1 (micro-batches per optimizer step; 1 = off), "
            f"got {accumulate!r}."
        )


def check_schedule_settings(
    scheduler_g: Any, scheduler_d: Any, interval: Any, frequency: Any
) -> None:
    for name, factory in (("lr_scheduler_g", scheduler_g), ("lr_scheduler_d", scheduler_d)):
        if factory is not None and not callable(factory):
            raise ValueError(
                f"{name} must be a function optimizer -> scheduler (e.g. "
                f"`lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1000)`), got {factory!r}."
            )
    if interval not in ("step", "epoch"):
        raise ValueError(
            f"lr_scheduler_interval={interval!r} is unknown: use 'step' (optimizer steps of the "
            "scheduler's network) or 'epoch'."
        )
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"lr_scheduler_frequency must be an integer >= 1, got {frequency!r}.")


def check_networks(generator: nn.Module | None, latent_dim: int | None, num_classes: Any) -> None:
    """What can be checked of the networks without running them."""
    if latent_dim is not None and (
        isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1
    ):
        raise ValueError(f"latent_dim must be an integer >= 1 (or None), got {latent_dim!r}.")
    own = getattr(generator, "latent_dim", None)
    if latent_dim is not None and isinstance(own, int) and own != latent_dim:
        raise ValueError(
            f"GAN(latent_dim={latent_dim}) but the generator was built for latent_dim={own}: "
            "pass the same size to both (or omit GAN's latent_dim to use the generator's)."
        )
    check_classes("generator", generator, num_classes)


def check_classes(name: str, net: Any, num_classes: Any) -> None:
    """A network's own ``num_classes`` (the reference nets have one) must be the GAN's."""
    classes = getattr(net, "num_classes", None)
    if isinstance(classes, int) and num_classes is not None and classes != num_classes:
        raise ValueError(
            f"GAN(num_classes={num_classes}) but the {name} was built for "
            f"num_classes={classes}: build both networks and the GAN with the same K."
        )
    if isinstance(classes, int) and num_classes is None:
        raise ValueError(
            f"The {name} is conditional (num_classes={classes}) but the GAN is not: pass "
            f"GAN(num_classes={classes}) so labels reach the networks."
        )


def check_modules(generator: Any, discriminator: Any) -> None:
    """Both networks are distinct ``nn.Module`` s with something to train."""
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if net is None:
            continue
        if not isinstance(net, nn.Module):
            raise TypeError(
                f"The {name} must be a torch.nn.Module, got {type(net).__name__}: wrap a "
                "function in an nn.Module (its parameters are what the optimizer trains)."
            )
        if not any(p.requires_grad for p in net.parameters()):
            raise ValueError(
                f"The {name} has no trainable parameters (none, or all with requires_grad="
                f"False): unfreeze it (`{name}.requires_grad_(True)`) or give it layers."
            )
    if generator is not None and generator is discriminator:
        raise ValueError(
            "generator and discriminator are the same module: pass two separate networks."
        )


def check_batch_count(trainer: Any) -> None:
    """Refuse a fit that would run zero batches (Lightning only warns, and exits 0)."""
    batches = trainer.num_training_batches
    if batches == 0:
        loader = trainer.train_dataloader
        size = batch = "?"
        with contextlib.suppress(AttributeError, TypeError):
            size, batch = len(loader.dataset), loader.batch_size
        raise ValueError(
            f"The training dataloader yields no batches (dataset of {size} samples, batch_size="
            f"{batch}, and GAN datamodules drop the last incomplete batch): lower batch_size "
            "below the number of samples, or check that the dataset is not empty."
        )


def check_optimizers(
    optimizers: Sequence[Any], generator: nn.Module, discriminator: nn.Module
) -> None:
    """``configure_optimizers`` must give G's optimizer first and D's second."""
    if len(optimizers) != 2:
        raise ValueError(
            f"configure_optimizers must return two optimizers, [generator's, discriminator's]; "
            f"it returned {len(optimizers)}."
        )
    for position, (opt, net, other) in enumerate(
        ((optimizers[0], generator, discriminator), (optimizers[1], discriminator, generator))
    ):
        name, other_name = ("generator", "discriminator")[:: 1 - 2 * position]
        inner = getattr(opt, "optimizer", opt)
        held = {id(p) for group in inner.param_groups for p in group["params"]}
        mine = {id(p) for p in net.parameters() if p.requires_grad}
        if held & {id(p) for p in other.parameters()}:
            raise ValueError(
                f"Optimizer {position} of configure_optimizers holds the {other_name}'s "
                "parameters: return [opt_g, opt_d], the generator's optimizer first."
            )
        if mine and not mine <= held:
            raise ValueError(
                f"The {name}'s optimizer (position {position} of configure_optimizers) does not "
                f"hold all of the {name}'s trainable parameters: build it from "
                f"`self.{name}.parameters()`."
            )


def check_real_batch(real: Any, labels: Any, num_classes: int | None) -> None:
    """The first batch's data and labels, before the generator runs on them."""
    if isinstance(real, dict):
        raise TypeError(
            f"The batch is a dict (keys {sorted(real)}): GAN takes a tensor or an (x, y) pair; "
            "override `GAN.real_from_batch` (and `labels_from_batch`) to pick the entries."
        )
    if not isinstance(real, Tensor) or not real.is_floating_point():
        got = real.dtype if isinstance(real, Tensor) else type(real).__name__
        raise TypeError(
            f"Real data must be a floating-point tensor, got {got}: convert it in the "
            "dataset (e.g. `x.float()`, images scaled to [-1, 1])."
        )
    check_batch_labels(labels, real.shape[0], num_classes)


def check_generated(fake: Any, real: Tensor, generator: nn.Module) -> None:
    """The generator's first output: a finite tensor shaped, typed and scaled like the data."""
    if not isinstance(fake, Tensor):
        raise TypeError(
            f"The generator returned a {type(fake).__name__}, not a tensor: make its forward "
            "return the samples alone (e.g. `return x`, not `return x, features`)."
        )
    if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
        raise ValueError(
            f"The generator makes samples of shape {tuple(fake.shape[1:])} but the data has "
            f"shape {tuple(real.shape[1:])}: set the generator's output size to match the "
            "data (e.g. `out_dim` of MLPGenerator, `channels`/`image_size` of DCGANGenerator)."
        )
    if fake.dtype != real.dtype and not _autocasting(fake.device.type):
        raise TypeError(
            f"The generator makes {fake.dtype} samples but the data is {real.dtype}: use one "
            "precision for both (e.g. `x.float()` in the dataset, or `generator.to(dtype)`)."
        )
    if not bool(torch.isfinite(fake).all()):
        raise ValueError(
            "The generator's first samples contain NaN/inf before any training: check its "
            "initialisation and forward (e.g. a division or log of zero)."
        )
    last = [m for m in generator.modules() if not list(m.children())]
    if last and isinstance(last[-1], nn.Tanh):
        low, high = float(real.min()), float(real.max())
        if low < -1.05 or high > 1.05:
            raise ValueError(
                f"The generator ends in tanh (outputs in [-1, 1]) but the data spans "
                f"[{low:.3g}, {high:.3g}]: scale the data to [-1, 1] (images: x / 127.5 - 1 "
                "for 0..255, x * 2 - 1 for 0..1)."
            )


def _autocasting(device_type: str) -> bool:
    """Under AMP autocast G's outputs are in the low precision by design."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # older torch: no device argument
        return torch.is_autocast_enabled()


def check_batch_norm(real: Tensor, *networks: nn.Module) -> None:
    """BatchNorm needs more than one sample per batch (torch fails deep inside otherwise)."""
    if real.shape[0] > 1:
        return
    for net in networks:
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            raise ValueError(
                f"A batch of {real.shape[0]} sample cannot train a network with BatchNorm: use "
                "batch_size >= 2 (GAN batches are usually 32-256)."
            )


def check_scores(output: Any, batch_size: int) -> None:
    """D's first output: one score per sample (``[B]`` or ``[B, 1]``, or ``(scores, logits)``)."""
    scores = output[0] if isinstance(output, tuple) else output
    if not isinstance(scores, Tensor) or scores.numel() != batch_size or scores.dim() > 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(
            f"The discriminator must return one score per sample ([B] or [B, 1]); for a "
            f"batch of {batch_size} it returned {shape}: make its last layer output a single unit."
        )


def check_strategy(strategy: Any) -> None:
    """Refuse a whole-module DDP wrapper that would fail at the first backward, naming the fix."""
    model = getattr(strategy, "model", None)
    if isinstance(model, nn.parallel.DistributedDataParallel) and not model.find_unused_parameters:
        raise ValueError(
            "GAN steps leave one network without gradients in each phase, which plain DDP "
            'rejects. Use `strategy="gan_ddp"` (recommended: one gradient all-reduce per step) '
            'or `strategy="ddp_find_unused_parameters_true"`.'
        )


def generator_error(error: RuntimeError, latent_dim: int, num_classes: int | None) -> Exception:
    """A clearer error for a generator that fails on its first call (usually a size mismatch)."""
    return ValueError(
        f"The generator failed on its first call with latents of shape [B, {latent_dim}]"
        + (f" and labels [B] in [0, {num_classes})" if num_classes else "")
        + f": {error}. Check that GAN(latent_dim=...) matches the generator's input size"
        + (" and that the generator takes (z, labels)" if num_classes else "")
        + "."
    )
