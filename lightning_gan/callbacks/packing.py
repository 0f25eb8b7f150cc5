"""PacGAN (Lin et al. 2018): the discriminator judges ``m`` samples at once.

A collapsed generator puts many samples on few modes. One sample at a time, each of them can
look perfectly real; ``m`` samples together reveal the lack of variety, because a packed
discriminator sees the joint distribution of ``m`` independent samples, which penalises mode
collapse exponentially more in ``m`` (the paper's analysis). Real and generated batches are
packed alike, in both phases, so the losses, the penalties and ``n_critic`` need no change.

As published (fjxmlzn/PacGAN: ``pack_num`` real and generated samples per input, ``batch_size``
inputs per step), D sees as many packs per step as the unpacked GAN sees samples: the loader
yields ``m * batch_size`` real samples and G makes as many. Splitting a batch of ``B`` samples
into ``B/m`` packs instead gives D ``m`` times fewer inputs per step, which is a different,
cheaper remedy (``split_batch=True``), not PacGAN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from lightning_gan.callbacks.remedy_checks import check_count
from lightning_gan.hooks import GANCallback

if TYPE_CHECKING:
    from lightning_gan.module import GAN


def pack(x: Tensor, m: int) -> Tensor:
    """``[B, C, ...]`` -> ``[B/m, m*C, ...]``: ``m`` consecutive samples joined along dim 1.

    Channels of sample ``k`` of a pack occupy ``[k*C, (k+1)*C)``, the layout PacGAN's
    concatenation and the reference nets' ``pack=m`` expect.
    """
    b = x.shape[0]
    return x.reshape(b // m, m * x.shape[1], *x.shape[2:])


def unpack(x: Tensor, m: int) -> Tensor:
    """The inverse of :func:`pack`: ``[B/m, m*C, ...]`` -> ``[B, C, ...]``."""
    n = x.shape[0]
    return x.reshape(n * m, x.shape[1] // m, *x.shape[2:])


class Packing(GANCallback):
    """Pack ``num_packed`` consecutive samples (and their labels) into one input of D.

    Args:
        num_packed: samples per discriminator input, ``m >= 1`` (PacGAN uses 2 to 4; 1 is a
            no-op).
        split_batch: ``False`` (default, PacGAN as published): the datamodule's ``batch_size``
            counts D's packs per step; for the fit it is multiplied by ``m`` (and restored
            afterwards), so each D step takes ``m * batch_size`` real and as many generated
            samples. The datamodule must have an integer ``batch_size`` attribute that its
            ``train_dataloader`` reads (every datamodule of the package does). ``True``: the
            batch of ``B`` samples is split into ``B/m`` packs, so D sees ``m`` times fewer
            inputs per step than without packing (a cheaper variant; not PacGAN's setting).

    Data ``[B, C, ...]`` becomes ``[B/m, m*C, ...]`` and labels ``[B]`` become ``[B/m, m]``,
    for real and generated batches in both phases; D returns one score per pack. The
    discriminator must take such inputs: the reference nets built with ``pack=m``
    (``MLPDiscriminator(in_dim, pack=m)``, ``DCGANDiscriminator(..., pack=m)``); any other
    discriminator must say so with an attribute ``pack = m``. Checked at fit start, with the
    fix named. The batch size must be a multiple of ``m`` (checked at each batch; the reference
    datamodules drop the last partial batch). Packing must come after every other callback that
    transforms D's inputs in ``Trainer(callbacks=[...])``, so that augmentations and noise act
    on single samples. Stateless: the scaled batch size is derived from the datamodule's at
    every fit, so a resumed run draws exactly the batches the uninterrupted one did, and under
    DDP every rank scales its own batch alike.
    """

    def __init__(self, num_packed: int = 2, split_batch: bool = False) -> None:
        super().__init__()
        self.num_packed = check_count(
            "num_packed", num_packed, "samples per discriminator input; PacGAN uses 2 to 4"
        )
        if not isinstance(split_batch, bool):
            raise ValueError(f"split_batch={split_batch!r} must be True or False.")
        self.split_batch = split_batch
        self._scaled: tuple[Any, int] | None = None

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        m = self.num_packed
        if stage != "fit" or self.split_batch or m == 1 or self._scaled is not None:
            return
        datamodule = trainer.datamodule
        size = getattr(datamodule, "batch_size", None)
        if isinstance(size, bool) or not isinstance(size, int):
            where = (
                "the training data is a bare DataLoader"
                if datamodule is None
                else f"{type(datamodule).__name__} has no integer `batch_size` attribute"
            )
            raise ValueError(
                f"Packing(num_packed={m}) draws {m} x batch_size real samples per D step (PacGAN "
                f"as published), but {where}, so the batch cannot be scaled: pass a "
                "LightningDataModule whose train_dataloader() reads self.batch_size, or build "
                f"the loader with {m} x the packs you want per step and use "
                f"Packing(num_packed={m}, split_batch=True)."
            )
        self._scaled = (datamodule, size)
        datamodule.batch_size = size * m
        rank_zero_info(
            f"Packing(num_packed={m}): D sees {size} packs of {m} per step, as PacGAN does; the "
            f"loader yields {size * m} real samples per step and G makes as many."
        )

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self._scaled is not None:
            datamodule, size = self._scaled
            datamodule.batch_size = size
            self._scaled = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        m = self.num_packed
        discriminator = pl_module.discriminator
        accepted = getattr(discriminator, "pack", None)
        if accepted != m:
            name = type(discriminator).__name__
            found = "has no `pack` attribute" if accepted is None else f"has pack={accepted}"
            raise ValueError(
                f"Packing(num_packed={m}) feeds D inputs of {m} samples each, but the "
                f"discriminator {name} {found}: build it with pack={m} "
                f"(MLPDiscriminator(..., pack={m}) / DCGANDiscriminator(..., pack={m})), or, for "
                f"your own discriminator taking [B/{m}, {m}*C, ...] inputs, set its attribute "
                f"`pack = {m}`."
            )
        transforms = pl_module.hooks.by_hook["transform_discriminator_input"]
        if self in transforms and transforms[-1] is not self:
            later = ", ".join(type(cb).__name__ for cb in transforms[transforms.index(self) + 1 :])
            raise ValueError(
                f"Packing must be the last callback that transforms D's inputs, but {later} "
                "comes after it and would act on packs instead of samples: move Packing to the "
                "end of Trainer(callbacks=[...])."
            )

    def transform_discriminator_input(
        self, gan: GAN, x: Tensor, labels: Tensor | None, real: bool
    ) -> tuple[Tensor, Tensor | None]:
        m = self.num_packed
        if m == 1:
            return x, labels
        if x.shape[0] % m:
            raise ValueError(
                f"Packing(num_packed={m}) needs a batch size divisible by {m}, got a batch of "
                f"{x.shape[0]}: use a batch size that is a multiple of {m} and drop the last "
                "partial batch (DataLoader(..., drop_last=True))."
            )
        return pack(x, m), None if labels is None else labels.reshape(-1, m)
