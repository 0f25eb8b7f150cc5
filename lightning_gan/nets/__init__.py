"""Reference generators and discriminators: small, plain, and fast on CPU.

They exist so that examples, tests and benchmarks share one definition of "the model"; a
remedy's effect should come from the callback under study, not from a different network. Each
has class-conditional (``num_classes``), and each discriminator packing (``pack``) and
minibatch-std (``minibatch_std``) options; with the defaults they are the plain networks.
The SNGAN and BigGAN ResNets are the architectures published image-quality tables use.
"""

from lightning_gan.nets.attention import SelfAttention
from lightning_gan.nets.biggan import BigGANDiscriminator, BigGANGenerator
from lightning_gan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gan.nets.layers import ConditionalBatchNorm2d, MinibatchStd, ProjectionHead
from lightning_gan.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gan.nets.sngan import SNGANDiscriminator, SNGANGenerator

__all__ = [
    "BigGANDiscriminator",
    "BigGANGenerator",
    "ConditionalBatchNorm2d",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MinibatchStd",
    "ProjectionHead",
    "SNGANDiscriminator",
    "SNGANGenerator",
    "SelfAttention",
]
