"""An exponential moving average of the generator's weights, used for sampling and evaluation.

GAN training oscillates around its equilibrium; averaging the generator's recent weights damps
the oscillation and gives visibly better samples and FID at no training cost (Karras et al.
2018, Yazici et al. 2019). Only the generator is averaged: Lightning's ``EMAWeightAveraging``
averages the whole module (D included) and counts ``global_step``, which is wrong for a GAN.

The average is a ``torch.optim.swa_utils.AveragedModel`` held by this callback, not by the GAN:
it is in no optimizer and not in the model's state dict; it is saved and restored through the
callback's ``state_dict`` (checkpoint key ``callbacks["GeneratorEMA"]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightning.pytorch import LightningModule, Trainer
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lightning_gan.hooks import GANCallback
from lightning_gan.step.records import GStep

if TYPE_CHECKING:
    from lightning_gan.module import GAN


DEFAULT_DECAY = 0.999


class GeneratorEMA(GANCallback):
    """EMA of G's parameters after every G step; G's buffers are copied, not averaged.

    ``ema <- decay * ema + (1 - decay) * G``, starting from a copy of G after its first step
    (torch's ``AveragedModel`` convention). For the first ``start_step`` G steps the EMA just
    follows G, so early, poor weights are not averaged in. ``gan.sample()`` and evaluation
    callbacks use the EMA generator through the ``sampling_generator`` hook.

    Args:
        decay: the per-G-step decay in (0, 1); 0.999 when neither it nor ``half_life_images``
            is given.
        half_life_images: StyleGAN2's parametrisation: the number of images (summed over all
            ranks) after which a weight's contribution halves; ``decay = 0.5 ** (batch_size *
            world_size / half_life_images)``, resolved at the first G step (StyleGAN2: 10k
            images, i.e. decay 0.9978 at batch 32).
        start_step: G steps during which the EMA equals G before averaging starts (>= 0).
    """

    def __init__(
        self,
        decay: float | None = None,
        half_life_images: float | None = None,
        start_step: int = 0,
    ) -> None:
        super().__init__()
        if decay is not None and half_life_images is not None:
            raise ValueError(
                "Give one of `decay` and `half_life_images`, not both: e.g. "
                "GeneratorEMA(decay=0.999) or GeneratorEMA(half_life_images=10_000)."
            )
        if decay is None and half_life_images is None:
            decay = DEFAULT_DECAY
        if decay is not None and not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1) (e.g. 0.999), got {decay!r}.")
        if half_life_images is not None and not half_life_images > 0:
            raise ValueError(
                f"half_life_images must be > 0 (StyleGAN2 uses 10_000), got {half_life_images!r}."
            )
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"start_step must be an integer >= 0, got {start_step!r}.")
        self.decay = decay
        self.half_life_images = half_life_images
        self.start_step = start_step
        self._resolved_decay: float | None = decay
        self._ema: AveragedModel | None = None
        self._pending: dict[str, Any] | None = None

    # -------------------------------------------------------------------------- public
    @property
    def ema_generator(self) -> nn.Module | None:
        """The averaged generator (in eval mode, no gradients), or ``None`` before ``setup``."""
        return None if self._ema is None else self._ema.module

    @property
    def resolved_decay(self) -> float | None:
        """The decay in use; with ``half_life_images`` it is known after the first G step."""
        return self._resolved_decay

    def sampling_generator(self, gan: GAN) -> nn.Module | None:
        if self._ema is None:
            return None  # nothing averaged yet: sample from G itself
        param = next(self._ema.parameters(), None)
        if param is not None and param.device != gan.device:  # e.g. validate/test, no fit
            self._ema.to(gan.device)
        return self._ema.module

    # ------------------------------------------------------------------------ lifecycle
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Build the average before Lightning restores a checkpoint, in every stage, so that
        ``validate``/``test`` with ``ckpt_path`` also sample from the restored EMA."""
        self._build(pl_module.generator)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Move the average to G's device (``strategy.setup`` has moved G by now)."""
        self._build(pl_module.generator).to(pl_module.device)

    def on_generator_step_end(self, gan: GAN, g: GStep) -> None:
        ema = self._build(gan.generator)
        if self._resolved_decay is None:
            images = g.fake.shape[0] * gan.trainer.world_size
            self._resolved_decay = 0.5 ** (images / self.half_life_images)
        if gan.g_steps <= self.start_step:
            ema.n_averaged.zero_()  # the next update copies G
        ema.update_parameters(gan.generator)

    def _build(self, generator: nn.Module) -> AveragedModel:
        if self._ema is None:
            ema = AveragedModel(generator, multi_avg_fn=self._average, use_buffers=False)
            self._ema = ema.eval().requires_grad_(False)
        if self._pending is not None:
            self._load(self._pending)
            self._pending = None
        return self._ema

    def _average(self, ema: list[Tensor], current: list[Tensor], n_averaged: Tensor) -> None:
        get_ema_multi_avg_fn(self._resolved_decay)(ema, current, n_averaged)

    # ------------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"decay": self._resolved_decay}
        if self._ema is not None:
            state["ema"] = self._ema.state_dict()
        elif self._pending is not None:
            state = dict(self._pending)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Normally `setup` has built the average; if not (a callback restored by hand), keep the
        # state until the average is built.
        if self._ema is None:
            self._pending = dict(state_dict)
        else:
            self._load(state_dict)

    def _load(self, state: dict[str, Any]) -> None:
        # A decay given explicitly wins (so it can be changed on resume); a half-life's decay
        # was resolved from the batch size of the saved run and is restored.
        if self.decay is None and state.get("decay") is not None:
            self._resolved_decay = float(state["decay"])
        if "ema" in state:
            self._ema.load_state_dict(state["ema"])
