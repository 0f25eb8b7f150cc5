"""The hook protocol through which callbacks change the alternating GAN step.

Remedies (instance noise, penalties, unrolling, EMA) are Lightning callbacks that subclass
:class:`GANCallback` and override only the hooks they need. :class:`~lightning_gan.GAN` finds them
in ``trainer.callbacks`` and calls only the overridden hooks, so a remedy never requires a change
to the module and an unused hook costs nothing per step.

The step, with the hook points marked (``y``: the batch's labels, ``None`` when unconditional)::

    discriminator phase (every batch)
        fake = G(z, y)                               (no gradient to G)
        (r, yr), (f, yf) = transform_discriminator_batch(real, y), (fake, y)
        loss_d = loss.d(D(r, yr), D(f, yf)) + sum(discriminator_penalty(r, f))
        step D;  on_discriminator_step_end
    generator phase (every n_critic-th batch)
        fake = G(z, y)
        critic = generator_critic(real, fake) or D   (D's parameters are frozen here)
        scores = generator_scores(critic(transform_discriminator_batch(fake, y)))
        loss_g = loss.g(scores)
        step G;  on_generator_step_end

``transform_discriminator_batch`` defaults to ``transform_discriminator_input`` on the data with
the labels unchanged, so a transform that does not touch labels (noise, augmentation) overrides
only the latter. Callbacks that evaluate D again (penalties, an unrolled critic) find the labels
of D's inputs, and D's scores of the D step, in ``gan.step_context``
(:class:`~lightning_gan.conditioning.StepContext`). ``sampling_generator`` lets a callback (the
generator EMA) supply the network used by :meth:`GAN.sample` and by evaluation callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lightning.pytorch import Callback
from torch import Tensor, nn

if TYPE_CHECKING:
    from lightning_gan.module import GAN

#: ``critic(x)`` or, for a conditional GAN, ``critic(x, labels)``: scores ``[B]`` (or D's output).
Critic = Callable[..., Tensor]


@dataclass(frozen=True)
class StepOutput:
    """What one D or G step produced, detached, for callbacks that observe or react to it.

    ``real_scores`` is ``None`` after a generator step (D does not see real data then).
    ``labels`` are the batch's class labels, which conditioned ``fake`` (``None`` when
    unconditional).
    Gradients of the network just stepped are still in its ``.grad`` fields when the
    ``on_*_step_end`` hooks run.
    """

    loss: Tensor
    fake_scores: Tensor
    real_scores: Tensor | None
    fake: Tensor
    labels: Tensor | None = None


class GANCallback(Callback):
    """Base class for callbacks that act inside the GAN step. Every hook defaults to a no-op."""

    def transform_discriminator_input(self, gan: GAN, x: Tensor, real: bool) -> Tensor:
        """Return what D sees instead of ``x`` (real or generated), in both phases."""
        return x

    def transform_discriminator_batch(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Return what D sees, data and labels, instead of ``(x, labels)``, in both phases.

        Override this only to change the batch structure (packing changes both); the default
        applies :meth:`transform_discriminator_input` to the data.
        """
        return self.transform_discriminator_input(gan, x, real), labels

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

    def generator_scores(self, gan: GAN, scores: Tensor) -> Tensor:
        """Return the scores of generated samples that the generator loss averages (top-k)."""
        return scores

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        """Return the generator to sample from for evaluation, or ``None`` for ``gan.generator``."""
        return None

    def on_discriminator_step_end(self, gan: GAN, output: StepOutput) -> None:
        """Called right after D's optimizer step."""

    def on_generator_step_end(self, gan: GAN, output: StepOutput) -> None:
        """Called right after G's optimizer step."""


_HOOK_NAMES = (
    "transform_discriminator_batch",
    "discriminator_penalty",
    "generator_critic",
    "generator_scores",
    "sampling_generator",
    "on_discriminator_step_end",
    "on_generator_step_end",
)


class HookDispatch:
    """The overriding callbacks of each hook, resolved once so the step loops over few objects."""

    def __init__(self, callbacks: list[Callback]) -> None:
        gan_callbacks = [cb for cb in callbacks if isinstance(cb, GANCallback)]
        self.by_hook: dict[str, list[GANCallback]] = {
            name: [cb for cb in gan_callbacks if _overrides(cb, name)] for name in _HOOK_NAMES
        }
        # Overriding either transform hook makes a callback a batch transform.
        self.by_hook["transform_discriminator_batch"] = [
            cb
            for cb in gan_callbacks
            if _overrides(cb, "transform_discriminator_batch")
            or _overrides(cb, "transform_discriminator_input")
        ]
        # Callbacks that evaluate D again read labels and scores from `gan.step_context`.
        self.needs_context = bool(
            self.by_hook["discriminator_penalty"] or self.by_hook["generator_critic"]
        )
        for name in ("generator_critic", "sampling_generator"):
            owners = self.by_hook[name]
            if len(owners) > 1:
                names = ", ".join(type(cb).__name__ for cb in owners)
                raise ValueError(
                    f"Callbacks {names} all implement `{name}`, but only one may: "
                    "remove all but one of them from `Trainer(callbacks=...)`."
                )

    def transform(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        for cb in self.by_hook["transform_discriminator_batch"]:
            x, labels = cb.transform_discriminator_batch(gan, x, labels, real)
        return x, labels

    def transform_input(self, gan: GAN, x: Tensor, real: bool) -> Tensor:
        """The data part of :meth:`transform`, for unlabelled inputs (kept for old callers)."""
        return self.transform(gan, x, None, real)[0]

    def generator_scores(self, gan: GAN, scores: Tensor) -> Tensor:
        for cb in self.by_hook["generator_scores"]:
            scores = cb.generator_scores(gan, scores)
        return scores

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


def _overrides(callback: GANCallback, name: str) -> bool:
    return getattr(type(callback), name) is not getattr(GANCallback, name)
