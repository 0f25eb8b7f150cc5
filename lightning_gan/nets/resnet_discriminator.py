"""The head that SNGAN's and BigGAN's discriminators share, on the reference discriminator base.

Both end the same way: ReLU, a sum over pixels, and one spectrally normalised linear unit (psi);
a projection D adds ``<embed(y), phi(x)>`` with a spectrally normalised embedding (Miyato &
Koyama 2018; StudioGAN's ``PD``). Built on
:class:`~lightning_gan.nets.discriminator.ReferenceDiscriminator`, so packing, minibatch std,
projection / ACGAN conditioning and their errors are those of the DCGAN and MLP discriminators.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from lightning_gan.nets.discriminator import ReferenceDiscriminator
from lightning_gan.nets.resblocks import GlobalSumPool, init_layer, maybe_sn


class ResNetDiscriminator(ReferenceDiscriminator):
    """Base of :class:`SNGANDiscriminator` and :class:`BigGANDiscriminator`.

    A subclass builds its residual trunk and calls :meth:`_finish`. phi is the trunk, ReLU and
    the pixel sum (plus the minibatch-std feature, appended to the pooled vector); psi the linear
    unit. Every layer, the class embedding and the ACGAN classifier included, is spectrally
    normalised.
    """

    channels: int
    image_size: int

    def _finish(self, trunk: list[nn.Module], features: int, init: str, sn_eps: float) -> None:
        features += self.minibatch_std
        psi = maybe_sn(init_layer(nn.Linear(features, 1), init), True, sn_eps)
        self.net = nn.Sequential(
            *trunk, nn.ReLU(), GlobalSumPool(), *self._minibatch_std_layers(), psi
        )
        side = self.image_size
        self._add_head((self.channels * self.pack, side, side), features)
        if self.conditioning == "projection":
            spectral_norm(init_layer(self.projection.embed, init), eps=sn_eps)
        elif self.conditioning == "acgan":
            spectral_norm(init_layer(self.classifier, init), eps=sn_eps)
