"""``lightning-gan``: the Lightning CLI for GAN training.

Everything is configured by ``class_path``: the module (``GAN`` or a subclass), its generator and
discriminator, the datamodule, and the remedy/instrument callbacks under ``trainer.callbacks``.
Optimizers are the module's own (two of them), so the CLI's single-optimizer arguments are off.
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

import lightning_gan  # noqa: F401  (registers the "gan_ddp" strategy names)
from lightning_gan.module import GAN


def build_cli(args: list[str] | None = None, run: bool = True) -> LightningCLI:
    """Parse ``args`` (default: ``sys.argv``) and, with ``run``, execute the subcommand."""
    return LightningCLI(
        GAN,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main() -> None:
    """Entry point of the ``lightning-gan`` console script."""
    build_cli()


if __name__ == "__main__":  # pragma: no cover
    main()
