"""The hook protocol through which callbacks change the alternating GAN step.

Remedies (instance noise, penalties, unrolling, EMA, ...) are Lightning callbacks that subclass
:class:`GANCallback` and override only the hooks they need. Each hook receives the record of
its phase (:class:`~lightning_gan.step.records.DStep` or
:class:`~lightning_gan.step.records.GStep`), which holds every tensor of that phase: the data,
the labels, what D sees after its input transforms, D's scores. The step
(:meth:`GAN.training_step <lightning_gan.GAN.training_step>`) reads like this diagram; ``y`` is
the batch's labels (``None`` when unconditional)::

    discriminator phase (every batch)                                   d: DStep
        fake = G(z, y)                                   (no gradient to G)
        (d_real, yr), (d_fake, yf) = transform_discriminator_input((real, y)), ((fake, y))
        scores = D(d_real, yr), D(d_fake, yf)
        loss_d = loss.d(scores) + sum(discriminator_penalty(d))
        step D;  on_discriminator_step_end(d)
    generator phase (every n_critic-th batch)                           g: GStep
        fake = G(z, y)
        (d_fake, yf) = transform_discriminator_input((fake, y))
        critic = generator_critic(g) or D                (D's parameters are frozen here)
        scores = generator_scores(g)                     (default: critic(d_fake, yf))
        loss_g = loss.g(scores) + sum(generator_penalty(g))
        step G;  on_generator_step_end(g)
    sampling_generator()                                 (what GAN.sample and evaluation use)

:class:`HookDispatch` resolves once per fit which callbacks override which hook and calls only
those, so an unused hook costs one empty loop per step and the step never asks who implements
what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lightning.pytorch import Callback
from torch import Tensor, nn

from lightning_gan.step.records import DStep, GStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN

#: ``critic(x)`` or, for a conditional GAN, ``critic(x, labels)``: D's output for ``x``.
Critic = Callable[..., Tensor]


class GANCallback(Callback):
    """Base class for callbacks that act inside the GAN step. Every hook defaults to a no-op."""

    def transform_discriminator_input(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Return what D sees, data and labels, instead of ``(x, labels)``; both phases.

        Instance noise and augmentations change the data; packing changes both. Transforms run
        in ``Trainer(callbacks=[...])`` order; ``real`` tells real from generated inputs.
        """
        return x, labels

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        """Return a scalar added to D's loss (already weighted), or ``None`` to skip this step.

        Read D's inputs and labels from ``d.d_real``/``d.d_real_labels`` (and the fake side),
        its scores from ``d.real_scores``/``d.fake_scores`` (attached to D's graph).
        """
        return None

    def generator_critic(self, gan: GAN, g: GStep) -> Critic | None:
        """Return the function that scores ``g.d_fake`` in G's loss, or ``None`` for D.

        ``g.fake`` carries the gradient to G, so a critic built from it (an unrolled D) can pass
        gradients through its own construction. At most one callback may supply a critic.
        """
        return None

    def generator_scores(self, gan: GAN, g: GStep) -> Tensor:
        """Return the scores G's loss averages, from ``g.fake_scores`` (top-k keeps the best)."""
        return g.fake_scores

    def generator_penalty(self, gan: GAN, g: GStep) -> Tensor | None:
        """Return a scalar added to G's loss (already weighted), or ``None`` (ACGAN's term)."""
        return None

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        """Return the generator to sample from for evaluation, or ``None`` for ``gan.generator``."""
        return None

    def on_discriminator_step_end(self, gan: GAN, d: DStep) -> None:
        """Called right after D's optimizer step; D's gradients are still in ``.grad``."""

    def on_generator_step_end(self, gan: GAN, g: GStep) -> None:
        """Called right after G's optimizer step; G's gradients are still in ``.grad``."""


#: Every hook of the protocol, in the order the step calls them.
HOOK_NAMES = (
    "transform_discriminator_input",
    "discriminator_penalty",
    "on_discriminator_step_end",
    "generator_critic",
    "generator_scores",
    "generator_penalty",
    "on_generator_step_end",
    "sampling_generator",
)
_SINGLE_OWNER = ("generator_critic", "sampling_generator")


class HookDispatch:
    """The overriding callbacks of each hook, in ``Trainer(callbacks=...)`` order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        gan_callbacks = [cb for cb in callbacks if isinstance(cb, GANCallback)]
        self.by_hook: dict[str, list[GANCallback]] = {
            name: [cb for cb in gan_callbacks if _overrides(cb, name)] for name in HOOK_NAMES
        }
        for name in _SINGLE_OWNER:
            owners = self.by_hook[name]
            if len(owners) > 1:
                names = ", ".join(type(cb).__name__ for cb in owners)
                raise ValueError(
                    f"Callbacks {names} all implement `{name}`, but only one may: "
                    "remove all but one of them from `Trainer(callbacks=...)`."
                )
        self._transforms = self.by_hook["transform_discriminator_input"]
        self._penalties = self.by_hook["discriminator_penalty"]
        self._d_end = self.by_hook["on_discriminator_step_end"]
        self._critic = self.by_hook["generator_critic"]
        self._scores = self.by_hook["generator_scores"]
        self._g_penalties = self.by_hook["generator_penalty"]
        self._g_end = self.by_hook["on_generator_step_end"]
        self._sampler = self.by_hook["sampling_generator"]

    def transform(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        for cb in self._transforms:
            x, labels = cb.transform_discriminator_input(gan, x, labels, real)
        return x, labels

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        return _sum(cb.discriminator_penalty(gan, d) for cb in self._penalties)

    def discriminator_step_end(self, gan: GAN, d: DStep) -> None:
        for cb in self._d_end:
            cb.on_discriminator_step_end(gan, d)

    def critic(self, gan: GAN, g: GStep) -> Critic | None:
        for cb in self._critic:
            return cb.generator_critic(gan, g)
        return None

    def generator_scores(self, gan: GAN, g: GStep) -> Tensor:
        for cb in self._scores:
            g.fake_scores = cb.generator_scores(gan, g)
        return g.fake_scores

    def generator_penalty(self, gan: GAN, g: GStep) -> Tensor | None:
        return _sum(cb.generator_penalty(gan, g) for cb in self._g_penalties)

    def generator_step_end(self, gan: GAN, g: GStep) -> None:
        for cb in self._g_end:
            cb.on_generator_step_end(gan, g)

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        for cb in self._sampler:
            return cb.sampling_generator(gan)
        return None


def _sum(terms: object) -> Tensor | None:
    total: Tensor | None = None
    for term in terms:  # type: ignore[attr-defined]
        if term is not None:
            total = term if total is None else total + term
    return total


def _overrides(callback: GANCallback, name: str) -> bool:
    return getattr(type(callback), name) is not getattr(GANCallback, name)
