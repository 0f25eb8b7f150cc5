"""Layers the reference nets' options are made of: conditional batch norm, minibatch standard
deviation, and the projection discriminator's class term.

torch and torchvision ship none of these (they are GAN-specific), so they are written here, each
following its paper's reference code; the docstrings say which.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gan.nets.labels import check_positive_int


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d whose affine gain and bias are chosen by the class label.

    Conditional batch norm (Dumoulin et al. 2017; de Vries et al. 2017; Miyato & Koyama 2018's
    categorical CBN): ``gain[y] * BN(x) + bias[y]``, with the statistics shared by all classes
    (``BatchNorm2d(affine=False)``) and one gain and bias vector per class (embeddings). Gains
    start at 1 and biases at 0, so at initialisation it is exactly an affine BatchNorm2d.
    Initialising them draws no random numbers.

    Args:
        num_features: channels C of the input ``[B, C, H, W]``.
        num_classes: K; labels are int64 ``[B]`` in ``[0, K)``.
        eps, momentum: as in :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(
        self, num_features: int, num_classes: int, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Embedding.from_pretrained(
            torch.ones(num_classes, num_features), freeze=False
        )
        self.bias = nn.Embedding.from_pretrained(
            torch.zeros(num_classes, num_features), freeze=False
        )

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return torch.addcmul(bias, self.bn(x), gain)


def _group_size(batch: int, group_size: int) -> int:
    """The largest divisor of ``batch`` that is at most ``group_size`` (1 if none larger)."""
    for size in range(min(group_size, batch), 1, -1):
        if batch % size == 0:
            return size
    return 1


class MinibatchStd(nn.Module):
    """Append one feature: the standard deviation of each feature over a group of samples.

    Karras et al. 2018 (ProGAN), as StyleGAN2's ``MinibatchStdLayer``: split the batch into
    groups of G samples, take each feature's standard deviation over its group (biased
    variance, ``sqrt(var + eps)``), average it over features (channels and pixels) to one number
    per group, and append it to every member as one constant feature map (images ``[B, C, H, W]``
    -> ``[B, C + 1, H, W]``) or one feature (vectors ``[B, F]`` -> ``[B, F + 1]``). A
    discriminator then sees how varied a batch is, so a collapsed generator is easy to spot.

    Grouping follows the reference code: with ``n = B / G`` groups, sample ``i`` is in group
    ``i % n`` (strided, not consecutive). ``G = min(group_size, B)``; when ``B`` is not a
    multiple of it, ``G`` is the largest divisor of ``B`` not above it (StyleGAN2 requires
    divisibility instead; a prime batch gives ``G = 1``, where the feature is the constant
    ``sqrt(eps)``). The layer mixes samples, so a per-sample gradient penalty on a
    discriminator with it also sees the other members of a group (as in StyleGAN2 with R1).

    Args:
        group_size: the largest group (>= 2; ProGAN and StyleGAN2 use 4).
        eps: added to the variance before the square root.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = check_positive_int(
            "group_size",
            group_size,
            2,
            "pass an integer >= 2 (ProGAN and StyleGAN2 use 4); a group of 1 has no spread",
        )
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[0]
        group = _group_size(batch, self.group_size)
        y = x.reshape(group, -1, *x.shape[1:])  # [G, n, ...]: sample i sits in column i % n
        y = (y - y.mean(0)).square().mean(0).add(self.eps).sqrt()  # std over each group
        y = y.flatten(1).mean(1).repeat(group)  # one value per group, back to [B]
        std = y.view(batch, 1, *([1] * (x.dim() - 2))).expand(batch, 1, *x.shape[2:])
        return torch.cat([x, std], 1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class ProjectionHead(nn.Module):
    """The class term ``<embed(y), phi(x)>`` of a projection discriminator (Miyato & Koyama 2018).

    Added to the unconditional score ``psi(phi(x))``; ``phi(x)`` is the flattened input of the
    discriminator's last layer. The embedding is Glorot-uniform initialised, as in the authors'
    SNGAN code. With packing (labels ``[B/m, m]``) the term uses the mean of the m members'
    embeddings: a packed sample's class is the average of its members' classes.

    Args:
        num_classes: K.
        feature_dim: the size of ``phi(x)`` (flattened).
    """

    def __init__(self, num_classes: int, feature_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """features ``[B, feature_dim]``, labels ``[B]`` or ``[B, m]`` -> ``[B]``."""
        embedded = self.embed(labels)
        if embedded.dim() == 3:
            embedded = embedded.mean(1)
        return (embedded * features).sum(1)
