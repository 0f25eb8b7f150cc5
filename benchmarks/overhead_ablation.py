"""Before/after of each per-step overhead removed from ``GAN``, raced like the main arms.

Each variant puts back one piece of the step as it was before the change, so the difference to
``gan`` is that change's saving:

* ``gan-log-every-step``: ``self.log`` of the four step values in every batch (now: only in the
  batches whose values reach the logger, every ``log_every_n_steps``, plus the first);
* ``gan-norm-check``: the non-finite check as a total gradient norm (``get_total_norm``) per
  step (now: the fused ``GradScaler`` non-finite kernel);
* ``gan-before``: both, i.e. ``GAN`` as it was;
* ``gan-nonfinite-off``: ``GAN(nonfinite="off")``, what the remaining check costs;
* ``gan-no-bar-values``: ``GAN`` with its step values logged but kept off the progress bar,
  what showing them there costs (Lightning converts and formats them every batch);

and, to show where Lightning's own per-batch cost lies (not changed by ``GAN``):

* ``gan-bar-20``: ``TQDMProgressBar(refresh_rate=20)`` instead of the default refresh every batch;
* ``gan-no-bar``: ``enable_progress_bar=False``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import Tensor

import lightning_gan.step.nonfinite as gan_module
from lightning_gan import GAN


class LogEveryStepGAN(GAN):
    """``GAN`` logging its step values through ``self.log`` in every batch, as before."""

    def log_due(self, key: str, window: int = 1) -> bool:
        return True


class NoBarValuesGAN(GAN):
    """``GAN`` whose logged values stay off the progress bar (``prog_bar=False``)."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        super().log(*args, **{**kwargs, "prog_bar": False})

    def log_dict(self, *args: Any, **kwargs: Any) -> None:
        super().log_dict(*args, **{**kwargs, "prog_bar": False})


def _norm_check(params: Iterable[Tensor]) -> bool:
    """The non-finite check as it was: one total gradient norm per step."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


@contextlib.contextmanager
def norm_check() -> Iterator[None]:
    original = gan_module.gradients_finite
    gan_module.gradients_finite = _norm_check
    try:
        yield
    finally:
        gan_module.gradients_finite = original


VARIANTS: dict[str, dict[str, Any]] = {
    "gan-before": {"arm": "gan", "gan_cls": LogEveryStepGAN, "patch": norm_check},
    "gan-log-every-step": {"arm": "gan", "gan_cls": LogEveryStepGAN},
    "gan-norm-check": {"arm": "gan", "patch": norm_check},
    "gan-nonfinite-off": {"arm": "gan", "gan_kwargs": {"nonfinite": "off"}},
    "gan-no-bar-values": {"arm": "gan", "gan_cls": NoBarValuesGAN},
    # Fresh Trainer options per run ("make"), so no callback instance is shared between runs.
    "gan-bar-20": {"arm": "gan", "make": lambda: {"callbacks": [TQDMProgressBar(refresh_rate=20)]}},
    "gan-no-bar": {"arm": "gan", "enable_progress_bar": False},
}
ABLATION_ARMS = (
    "plain",
    "bare",
    "gan-before",
    "gan-log-every-step",
    "gan-norm-check",
    "gan",
    "gan-nonfinite-off",
    "gan-no-bar-values",
    "gan-bar-20",
    "gan-no-bar",
)
NAMES = {
    "gan-before": "GAN before (both)",
    "gan-log-every-step": "GAN, self.log every step",
    "gan-norm-check": "GAN, total-norm check",
    "gan-nonfinite-off": "GAN(nonfinite='off')",
    "gan-no-bar-values": "GAN, values off the bar",
    "gan-bar-20": "GAN, progress bar every 20",
    "gan-no-bar": "GAN, no progress bar",
}
