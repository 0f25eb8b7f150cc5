"""GAN remedies and instruments as Lightning callbacks, one file each."""

from lightning_gan.callbacks.acgan import AuxiliaryClassifier
from lightning_gan.callbacks.adaptive_augment import AdaptiveAugment
from lightning_gan.callbacks.checkpoint_evaluation import CheckpointEvaluation
from lightning_gan.callbacks.consistency import ConsistencyRegularization
from lightning_gan.callbacks.coverage import ModeCoverageCallback
from lightning_gan.callbacks.diffaugment import DiffAugment
from lightning_gan.callbacks.ema import GeneratorEMA
from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.callbacks.fid import FIDKIDCallback
from lightning_gan.callbacks.gradient_penalty import GradientPenalty, R1Penalty, R2Penalty
from lightning_gan.callbacks.health import GANHealth, GANTrainingFailure
from lightning_gan.callbacks.lecam import LeCamRegularization
from lightning_gan.callbacks.noise import InstanceNoise
from lightning_gan.callbacks.packing import Packing
from lightning_gan.callbacks.roth_penalty import RothPenalty
from lightning_gan.callbacks.sample_writer import SampleWriter
from lightning_gan.callbacks.samples import SampleLogger
from lightning_gan.callbacks.spectral_norm import SpectralNorm
from lightning_gan.callbacks.topk import TopK
from lightning_gan.callbacks.unrolled import UnrolledDiscriminator
from lightning_gan.callbacks.weight_constraints import WeightClipping, WeightPenalty

__all__ = [
    "AdaptiveAugment",
    "AuxiliaryClassifier",
    "ConsistencyRegularization",
    "DiffAugment",
    "LeCamRegularization",
    "Packing",
    "TopK",
    "CheckpointEvaluation",
    "SampleWriter",
    "FIDKIDCallback",
    "FeatureMetrics",
    "GANHealth",
    "GANTrainingFailure",
    "GeneratorEMA",
    "GradientPenalty",
    "InstanceNoise",
    "ModeCoverageCallback",
    "R1Penalty",
    "R2Penalty",
    "RothPenalty",
    "SampleLogger",
    "SpectralNorm",
    "UnrolledDiscriminator",
    "WeightClipping",
    "WeightPenalty",
]
