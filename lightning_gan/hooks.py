"""The hook protocol through which callbacks change the alternating GAN step.

Remedies (instance noise, penalties, unrolling, EMA) are Lightning callbacks that subclass
:class:`GANCallback` and override only the hooks they need. :class:`~lightning_gan.GAN` finds them
in ``trainer.callbacks`` and calls only the overridden hooks, so a remedy never requires a change
to the module and an unused hook costs nothing per step.

The step, with the hook points marked::

    discriminator phase (every batch)
        fake = G(z)                                  (no gradient to G)
        r, f = transform_discriminator_input(real), transform_discriminator_input(fake)
        loss_d = loss.d(D(r), D(f)) + sum(discriminator_penalty(r, f))
        step D;  on_discriminator_step_end
    generator phase (every n_critic-th batch)
        fake = G(z)
        critic = generator_critic(real, fake) or D   (D's parameters are frozen here)
        loss_g = loss.g(critic(transform_discriminator_input(fake)))
        step G;  on_generator_step_end

``sampling_generator`` lets a callback (the generator EMA) supply the network used by
:meth:`GAN.sample` and by evaluation callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lightning.pytorch import Callback
from torch import Tensor, nn

if TYPE_CHECKING:
    from lightning_gan.module import GAN

Critic = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class StepOutput:
    """What one D or G step produced, detached, for callbacks that observe or react to it.

    ``real_scores`` is ``None`` after a generator step (D does not see real data then).
    Gradients of the network just stepped are still in its ``.grad`` fields when the
    ``on_*_step_end`` hooks run.
    """

    loss: Tensor
    fake_scores: Tensor
    real_scores: Tensor | None
    fake: Tensor


class GANCallback(Callback):
    """Base class for callbacks that act inside the GAN step. Every hook defaults to a no-op."""

    def transform_discriminator_input(self, gan: GAN, x: Tensor, real: bool) -> Tensor:
        """Return what D sees instead of ``x`` (real or generated), in both phases."""
        return x

    def discriminator_penalty(self, gan: GAN, real: Tensor, fake: Tensor) -> Tensor | None:
        """Return a scalar added to D's loss (already weighted), or ``None`` to skip this step.

        ``real`` and ``fake`` are D's (transformed) inputs of this step, detached from G.
        """
        return None

    def generator_critic(self, gan: GAN, real: Tensor, fake: Tensor) -> Critic | None:
        """Return the function that scores ``fake`` in the generator loss, or ``None`` for D.

        ``fake`` carries the gradient to G, so a critic built from it (an unrolled D) can pass
        gradients through its own construction. At most one callback may supply a critic.
        """
        return None

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        """Return the generator to sample from for evaluation, or ``None`` for ``gan.generator``."""
        return None

    def on_discriminator_step_end(self, gan: GAN, output: StepOutput) -> None:
        """Called right after D's optimizer step."""

    def on_generator_step_end(self, gan: GAN, output: StepOutput) -> None:
        """Called right after G's optimizer step."""


_HOOK_NAMES = (
    "transform_discriminator_input",
    "discriminator_penalty",
    "generator_critic",
    "sampling_generator",
    "on_discriminator_step_end",
    "on_generator_step_end",
)


class HookDispatch:
    """The overriding callbacks of each hook, resolved once so the step loops over few objects."""

    def __init__(self, callbacks: list[Callback]) -> None:
        gan_callbacks = [cb for cb in callbacks if isinstance(cb, GANCallback)]
        self.by_hook: dict[str, list[GANCallback]] = {
            name: [
                cb
                for cb in gan_callbacks
                if getattr(type(cb), name) is not getattr(GANCallback, name)
            ]
            for name in _HOOK_NAMES
        }
        for name in ("generator_critic", "sampling_generator"):
            owners = self.by_hook[name]
            if len(owners) > 1:
                names = ", ".join(type(cb).__name__ for cb in owners)
                raise ValueError(
                    f"Callbacks {names} all implement `{name}`, but only one may: "
                    "remove all but one of them from `Trainer(callbacks=...)`."
                )

    def transform(self, gan: GAN, x: Tensor, real: bool) -> Tensor:
        for cb in self.by_hook["transform_discriminator_input"]:
            x = cb.transform_discriminator_input(gan, x, real)
        return x

    def penalty(self, gan: GAN, real: Tensor, fake: Tensor) -> Tensor | None:
        total: Tensor | None = None
        for cb in self.by_hook["discriminator_penalty"]:
            term = cb.discriminator_penalty(gan, real, fake)
            if term is not None:
                total = term if total is None else total + term
        return total

    def critic(self, gan: GAN, real: Tensor, fake: Tensor) -> Critic | None:
        for cb in self.by_hook["generator_critic"]:
            return cb.generator_critic(gan, real, fake)
        return None

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        for cb in self.by_hook["sampling_generator"]:
            return cb.sampling_generator(gan)
        return None

    def discriminator_step_end(self, gan: GAN, output: StepOutput) -> None:
        for cb in self.by_hook["on_discriminator_step_end"]:
            cb.on_discriminator_step_end(gan, output)

    def generator_step_end(self, gan: GAN, output: StepOutput) -> None:
        for cb in self.by_hook["on_generator_step_end"]:
            cb.on_generator_step_end(gan, output)
