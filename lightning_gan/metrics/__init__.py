"""torchmetrics Metrics and feature networks that measure GANs.

FID/KID inputs, precision/recall and density/coverage on any feature space, mode coverage on
data with known modes, the conditional label accuracy, and :class:`FeatureEvaluator`, which
feeds all of the feature metrics from one pass of the feature network.
"""

from lightning_gan.metrics.density_coverage import DensityCoverage
from lightning_gan.metrics.evaluator import METRICS, FeatureEvaluator
from lightning_gan.metrics.knn_manifold import PRDC, manifold_metrics
from lightning_gan.metrics.label_accuracy import ConditionalModeAccuracy
from lightning_gan.metrics.mode_coverage import (
    MixtureCoverage,
    ModeCoverage,
    StackedMNISTCoverage,
)
from lightning_gan.metrics.precision_recall import PrecisionRecall

__all__ = [
    "METRICS",
    "PRDC",
    "ConditionalModeAccuracy",
    "DensityCoverage",
    "FeatureEvaluator",
    "MixtureCoverage",
    "ModeCoverage",
    "PrecisionRecall",
    "StackedMNISTCoverage",
    "manifold_metrics",
]
