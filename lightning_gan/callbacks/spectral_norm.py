"""Spectral normalisation of the discriminator's layers (Miyato et al. 2018, SN-GAN).

Dividing each weight by its largest singular value (estimated by power iteration) bounds every
layer's Lipschitz constant by 1, so D cannot become arbitrarily sharp, at the cost of one
matrix-vector product per layer per forward pass. Recommended with ``GAN(loss="hinge",
n_critic=5, lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9))``.
"""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    # The class embedding of a projection discriminator (Miyato & Koyama 2018 normalise it too).
    nn.Embedding,
)


class SpectralNorm(Callback):
    """Wrap every Linear/Conv layer and class embedding of ``gan.discriminator`` in
    torch's ``spectral_norm``.

    Applied at ``setup``, which Lightning runs before it restores a checkpoint and before
    ``configure_optimizers``: the state dict then has the parametrized keys
    (``...parametrizations.weight.original``, ``..._u``, ``..._v``) when a checkpoint is loaded,
    and D's optimizer holds the ``original`` parameters. Layers already parametrized are skipped,
    so repeated ``fit`` calls wrap once. To load such a checkpoint outside a Trainer, call
    :meth:`apply` on the discriminator first. For convolutions the normalised matrix is the
    kernel reshaped to ``[out, in * k * k]`` (as in SN-GAN), not the convolution operator.

    Args:
        n_power_iterations: power iterations per forward pass in training mode (>= 1).
    """

    def __init__(self, n_power_iterations: int = 1) -> None:
        super().__init__()
        if (
            isinstance(n_power_iterations, bool)
            or not isinstance(n_power_iterations, int)
            or n_power_iterations < 1
        ):
            raise ValueError(
                f"n_power_iterations must be an integer >= 1 (SN-GAN uses 1), "
                f"got {n_power_iterations!r}."
            )
        self.n_power_iterations = n_power_iterations

    @staticmethod
    def apply(module: nn.Module, n_power_iterations: int = 1) -> list[nn.Module]:
        """Spectral-normalise the Linear/Conv layers of ``module`` in place; return those newly
        wrapped (layers that already have a parametrized weight are left alone)."""
        wrapped = []
        for layer in module.modules():
            if isinstance(layer, _LAYERS) and not parametrize.is_parametrized(layer, "weight"):
                spectral_norm(layer, n_power_iterations=n_power_iterations)
                wrapped.append(layer)
        return wrapped

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not self.apply(pl_module.discriminator, self.n_power_iterations) and not any(
            isinstance(m, _LAYERS) for m in pl_module.discriminator.modules()
        ):
            raise ValueError(
                "SpectralNorm found no Linear or Conv layer in the discriminator to normalise."
            )
