"""Which feature network an evaluation uses: resolved from a spec, checked early, built late.

A spec is ``"inception"`` (the 2015-12-05 FID network, numbers comparable with papers),
``"digits"``/``"mnist"``/``"stacked_mnist"`` (the shipped digit-classifier features, fast and
comparable only with themselves) or a user's ``nn.Module`` mapping images to ``[B, F]`` features
with an int ``num_features``. :func:`resolve_features` does everything that can fail cheaply (the
name, the Inception weights file, whether Inception Score is possible) at construction time;
the ~100 MB Inception network itself is built only by :meth:`FeatureSource.build`.

A feature network may also provide ``features_and_logits(x) -> (features, logits)`` (one pass
for both: FID's features and Inception Score's class logits) and ``check_images(shape)``
(raises on images it would misread). The shipped networks do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from lightning_gan.metrics.domain_features import DOMAINS, domain_features
from lightning_gan.metrics.inception import (
    NO_CLASSIFIER_FIX,
    InceptionFeatures,
    inception_has_classifier,
    resolve_inception_weights,
)

FEATURE_NAMES = ("inception", *DOMAINS)


class PrecomputedFeatures(nn.Module):
    """Identity "feature network": torchmetrics metrics receive features extracted once."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


@dataclass
class FeatureSource:
    """A resolved spec: a ready module, or the Inception weights to build one from."""

    name: str
    module: nn.Module | None = None
    inception_weights: Path | None = None
    data_range: tuple[float, float] = (-1.0, 1.0)

    def build(self, logits: bool = False) -> nn.Module:
        """The feature network, frozen and in eval mode (Inception is built here, ~1 s)."""
        net = self.module
        if net is None:
            net = InceptionFeatures(self.inception_weights, self.data_range, logits=logits)
        return net.eval().requires_grad_(False)


def resolve_features(
    features: str | nn.Module,
    data_range: tuple[float, float] = (-1.0, 1.0),
    inception_weights: str | os.PathLike | None = None,
    download: bool = True,
    need_logits: bool = False,
) -> FeatureSource:
    """Check a features spec now and say how to fix it (``ValueError``/``FileNotFoundError``).

    Args:
        need_logits: Inception Score was asked for: the network must give class logits (the
            Inception weights must have a classifier; a custom module needs
            ``features_and_logits``).
    """
    if isinstance(features, nn.Module):
        if not isinstance(getattr(features, "num_features", None), int):
            raise ValueError(
                "A custom feature network needs an int attribute `num_features` "
                "(the length of its output vectors)."
            )
        if need_logits and not callable(getattr(features, "features_and_logits", None)):
            raise ValueError(
                f"Inception Score needs class logits, and {type(features).__name__} has no "
                "`features_and_logits(x) -> (features [B, F], logits [B, K])` method: add one, "
                "or drop 'is' from metrics."
            )
        return FeatureSource(type(features).__name__, module=features, data_range=data_range)
    if features == "inception":
        weights = resolve_inception_weights(inception_weights, download)
        if need_logits and not inception_has_classifier(weights):
            raise ValueError(f"{weights}: {NO_CLASSIFIER_FIX}")
        return FeatureSource("inception", inception_weights=weights, data_range=data_range)
    if features in DOMAINS:
        return FeatureSource(
            features, module=domain_features(features, data_range), data_range=data_range
        )
    raise ValueError(
        f"features={features!r} is unknown: use 'inception', "
        f"{', '.join(repr(d) for d in DOMAINS)} or an nn.Module with `num_features`."
    )
