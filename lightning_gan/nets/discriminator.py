"""What both reference discriminators share: packing, minibatch std and class conditioning.

A subclass builds ``self.net``, an ``nn.Sequential`` whose last layer is psi (one output unit)
and whose other layers are the feature trunk phi, then calls :meth:`_add_head`. The options:

- ``num_classes=K`` with ``conditioning="projection"`` (Miyato & Koyama 2018):
  ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, ``phi(x)`` flattened. For a conv psi that
  covers its whole input this is the same as giving psi's kernel a per-class offset.
- ``conditioning="acgan"`` (Odena et al. 2017): no projection; a linear classifier on
  ``phi(x)``; ``forward`` returns ``(scores [B], class_logits [B, K])`` and ignores labels.
- ``pack=m`` (PacGAN, Lin et al. 2018): the input is m samples concatenated along dim 1; labels
  then arrive as ``[B/m, m]`` (projection: the mean of the m embeddings; ACGAN: logits
  ``[B/m, m, K]``, one class prediction per member).
- ``minibatch_std=True``: a :class:`MinibatchStd` layer just before psi.

Built with ``num_classes=None, pack=1, minibatch_std=False``, a discriminator has exactly the
layers, initialisation order, state-dict keys and forward of the original reference nets.
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_gan.nets.labels import (
    check_labels,
    check_num_classes,
    check_positive_int,
    refuse_labels,
)
from lightning_gan.nets.layers import MinibatchStd, ProjectionHead

CONDITIONINGS = ("projection", "acgan")


class ReferenceDiscriminator(nn.Module):
    """Base of the MLP, DCGAN, SNGAN and BigGAN discriminators; see the module doc.

    Args:
        num_classes: K for a class-conditional discriminator, None for an unconditional one.
        conditioning: "projection" or "acgan" (used only with ``num_classes``).
        pack: samples per discriminator input (PacGAN); 1 disables packing.
        minibatch_std: append the minibatch standard deviation feature before the last layer.
        mbstd_group_size: the group size of that feature (>= 2).
    """

    net: nn.Sequential

    def __init__(
        self,
        num_classes: int | None,
        conditioning: str,
        pack: int,
        minibatch_std: bool,
        mbstd_group_size: int,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        if conditioning not in CONDITIONINGS:
            raise ValueError(
                f"conditioning={conditioning!r} is unknown: use one of {', '.join(CONDITIONINGS)}."
            )
        if conditioning == "acgan" and self.num_classes is None:
            raise ValueError(
                "conditioning='acgan' needs classes to predict: pass num_classes=K as well."
            )
        # None on an unconditional net: there is nothing to condition, whatever was passed.
        self.conditioning = conditioning if self.num_classes is not None else None
        self.pack = check_positive_int(
            "pack",
            pack,
            1,
            "pass the number of samples per discriminator input, an integer >= 1 "
            "(PacGAN uses 2 to 4; 1 disables packing)",
        )
        self.minibatch_std = bool(minibatch_std)
        self.mbstd_group_size = check_positive_int(
            "mbstd_group_size",
            mbstd_group_size,
            2,
            "pass an integer >= 2 (ProGAN and StyleGAN2 use 4); a group of 1 has no spread",
        )
        self._input_shape: tuple[int, ...] = ()

    def _minibatch_std_layers(self) -> list[nn.Module]:
        """``[MinibatchStd]`` or ``[]``, for the subclass to put just before psi."""
        return [MinibatchStd(self.mbstd_group_size)] if self.minibatch_std else []

    def _add_head(self, input_shape: tuple[int, ...], feature_dim: int) -> None:
        """Record the packed input shape ``x.shape[1:]`` and add the conditioning head after
        ``self.net`` (so ``net``'s seeded initialisation does not depend on it)."""
        self._input_shape = input_shape
        if self.conditioning == "projection":
            self.projection = ProjectionHead(self.num_classes, feature_dim)
        elif self.conditioning == "acgan":
            self.classifier = nn.Linear(feature_dim, self.num_classes * self.pack)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """x ``[B, *input_shape]`` (and labels) -> scores ``[B]``; ACGAN: ``(scores, logits)``."""
        if self.pack > 1 and x.shape[1:] != self._input_shape:
            raise self._packed_input_error(x)
        if self.num_classes is None:
            if labels is not None:
                raise refuse_labels(type(self).__name__)
            return self.net(x).view(x.shape[0])
        *trunk, psi = self.net
        features = x
        for layer in trunk:
            features = layer(features)
        scores = psi(features).view(x.shape[0])
        features = features.flatten(1)
        if self.conditioning == "acgan":
            logits = self.classifier(features)
            if self.pack > 1:
                logits = logits.view(x.shape[0], self.pack, self.num_classes)
            return scores, logits
        shape = (x.shape[0],) if self.pack == 1 else (x.shape[0], self.pack)
        labels = check_labels(
            labels,
            net=type(self).__name__,
            num_classes=self.num_classes,
            shape=shape,
            device=x.device,
        )
        return scores + self.projection(features, labels)

    def _packed_input_error(self, x: Tensor) -> ValueError:
        m, packed = self.pack, self._input_shape
        expected = ", ".join(str(s) for s in packed)
        return ValueError(
            f"{type(self).__name__}(pack={m}) expects packed inputs of shape [B/{m}, {expected}] "
            f"({m} samples of {packed[0] // m} concatenated along dim 1), got {list(x.shape)}: "
            f"train it with the Packing callback with the same pack ({m}), or build the "
            "discriminator with pack=1."
        )
