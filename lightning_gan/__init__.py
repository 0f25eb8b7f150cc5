"""lightning_gan: stable, observable, scalable GAN training on PyTorch Lightning."""

from lightning_gan.callbacks import (
    FeatureMetrics,
    FIDKIDCallback,
    GANHealth,
    GANTrainingFailure,
    GeneratorEMA,
    GradientPenalty,
    InstanceNoise,
    ModeCoverageCallback,
    R1Penalty,
    R2Penalty,
    SampleLogger,
    SpectralNorm,
    UnrolledDiscriminator,
    WeightClipping,
    WeightPenalty,
)
from lightning_gan.callbacks.checkpoint_evaluation import CheckpointEvaluation
from lightning_gan.callbacks.sample_writer import SampleWriter
from lightning_gan.conditioning import StepContext
from lightning_gan.data import Digits, GaussianMixture, MNIST5k, ResumableDataLoader, StackedMNIST
from lightning_gan.distributed import GANDDPStrategy
from lightning_gan.evaluation_data import EvaluationData, SampleRequests
from lightning_gan.hooks import GANCallback, StepOutput
from lightning_gan.losses import LOSSES, GANLoss, get_loss
from lightning_gan.metrics import (
    PRDC,
    ConditionalModeAccuracy,
    DensityCoverage,
    FeatureEvaluator,
    PrecisionRecall,
)
from lightning_gan.module import GAN, NonFiniteError
from lightning_gan.nets import (
    ConditionalBatchNorm2d,
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStd,
    MLPDiscriminator,
    MLPGenerator,
    ProjectionHead,
)

__all__ = [
    "GAN",
    "NonFiniteError",
    "FeatureMetrics",
    "FIDKIDCallback",
    "FeatureEvaluator",
    "PrecisionRecall",
    "DensityCoverage",
    "PRDC",
    "ConditionalModeAccuracy",
    "GANHealth",
    "GANTrainingFailure",
    "GeneratorEMA",
    "GradientPenalty",
    "InstanceNoise",
    "ModeCoverageCallback",
    "R1Penalty",
    "R2Penalty",
    "SampleLogger",
    "SpectralNorm",
    "UnrolledDiscriminator",
    "WeightClipping",
    "WeightPenalty",
    "CheckpointEvaluation",
    "SampleWriter",
    "EvaluationData",
    "SampleRequests",
    "StepContext",
    "GANCallback",
    "GANDDPStrategy",
    "GANLoss",
    "LOSSES",
    "StepOutput",
    "get_loss",
    "GaussianMixture",
    "Digits",
    "MNIST5k",
    "StackedMNIST",
    "ResumableDataLoader",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "ConditionalBatchNorm2d",
    "MinibatchStd",
    "ProjectionHead",
]
__version__ = "0.1.0"
