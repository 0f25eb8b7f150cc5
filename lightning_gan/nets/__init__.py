"""Reference generators and discriminators: small, plain, and fast on CPU.

They exist so that examples, tests and benchmarks share one definition of "the model"; a
remedy's effect should come from the callback under study, not from a different network.
"""

from lightning_gan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gan.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
