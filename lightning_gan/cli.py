"""``lightning-gan``: the Lightning CLI for GAN training, evaluation and sampling.

Everything is configured by ``class_path``: the module (``GAN`` or a subclass), its generator and
discriminator, the datamodule, and the remedy/instrument callbacks under ``trainer.callbacks``.
Optimizers are the module's own (two of them), so the CLI's single-optimizer arguments are off.

Beyond ``fit``, the subcommands run Lightning's own loops on a checkpoint:

* ``validate|test --config C --ckpt_path P``: :class:`~lightning_gan.callbacks.CheckpointEvaluation`
  evaluates the checkpoint's sampling generator (EMA when trained with it) with the metrics that
  fit the data, over the datamodule's validation/test split or its training set when it has none
  (:class:`~lightning_gan.evaluation_data.EvaluationData`); Lightning prints the table.
* ``predict --config C --ckpt_path P --n N``: N samples through the predict loop
  (:class:`~lightning_gan.evaluation_data.SampleRequests`), written by
  :class:`~lightning_gan.callbacks.SampleWriter` as ``samples.png`` and ``samples.pt``.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

import lightning_gan  # noqa: F401  (registers the "gan_ddp" strategy names)
from lightning_gan.data_links import (
    DataLinks,
    DataShapeConflict,
    map_ddp_strategy,
    prune_unused_targets,
)
from lightning_gan.module import GAN
from lightning_gan.progress import silence_promotional_tips


class GANCLI(LightningCLI):
    """LightningCLI with the evaluation and sampling arguments of ``validate|test|predict``."""

    # --- the data decides the shapes; Lightning's DDP names run as gan_ddp (data_links.py) ---
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        self._data_links().add(parser)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        self._data_links().record_explicit(parser, args)

    def _data_links(self) -> DataLinks:
        if not hasattr(self, "_links"):
            self._links = DataLinks(self)
        return self._links

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        map_ddp_strategy(config.get("trainer"))

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as error:  # jsonargparse wraps a link's error in its own message
            cause = error.__cause__
            while cause is not None and not isinstance(cause, DataShapeConflict):
                cause = cause.__cause__
            if cause is None:
                raise
            raise DataShapeConflict(str(cause)) from None
        prune_unused_targets(self.model)

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        # LightningCLI builds one parser per subcommand here and offers no public hook that
        # knows the subcommand; the extra arguments are not passed on to the Trainer method.
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":
            parser.add_argument("--n", type=int, default=64, help="samples to generate")
            parser.add_argument("--seed", type=int, default=0, help="seed of the latents")
            parser.add_argument("--out_dir", type=str | None, default=None, help="output folder")
        elif subcommand in ("validate", "test"):
            parser.add_argument(
                "--n", type=int | None, default=None, help="generated samples per metric"
            )
            parser.add_argument(
                "--features",
                type=str | None,
                default=None,
                help="feature space: inception, digits, mnist, stacked_mnist (default: by data)",
            )
            parser.add_argument(
                "--metrics",
                type=str | None,
                default=None,
                help="comma-separated image metrics, e.g. fid,precision,recall (names as in "
                "FeatureMetrics; default: fid,kid,precision,recall,density,coverage)",
            )
            parser.add_argument(
                "--inception_weights",
                type=str | None,
                default=None,
                help="path of the FID Inception weights (else $LIGHTNING_GAN_INCEPTION_WEIGHTS, "
                "then the torch hub cache)",
            )
            parser.add_argument("--seed", type=int, default=0, help="seed of the latents")
        return parser

    def _evaluation_setup(self, subcommand: str) -> None:
        from lightning_gan.callbacks.checkpoint_evaluation import CheckpointEvaluation
        from lightning_gan.evaluation_data import EvaluationData

        config = self.config[subcommand]
        self.datamodule = EvaluationData(self.datamodule)
        self.trainer.callbacks.append(
            CheckpointEvaluation(
                features=config.features,
                n_samples=config.n,
                seed=config.seed,
                **CheckpointEvaluation.cli_options(config.metrics, config.inception_weights),
            )
        )

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads the checkpoint's hyperparameters with a bare torch.load while
        # parsing, before any Trainer exists: a damaged file would fail there with miniz's
        # "central directory" error. Check it first so the message names the file and the
        # newest complete checkpoint beside it.
        from pathlib import Path

        from lightning_gan.step.checkpoint_state import check_checkpoint_file

        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        named = ckpt_path in (None, "last", "best", "hpc", "registry")
        if not named and (Path(ckpt_path).is_file() or Path(ckpt_path).is_dir()):
            check_checkpoint_file(ckpt_path)
        super()._parse_ckpt_path()

    def before_fit(self) -> None:
        # Lightning's "last" looks only in this invocation's (new, empty) version folder and
        # takes the newest file even when a crash cut it short: resolve it over the whole run.
        from lightning_gan.reliability.last_checkpoint import resolve_last

        config = self.config_init["fit"]
        if config.get("ckpt_path") == "last":
            config["ckpt_path"] = resolve_last(self.trainer)

    def before_validate(self) -> None:
        self._evaluation_setup("validate")

    def before_test(self) -> None:
        self._evaluation_setup("test")

    def before_predict(self) -> None:
        from lightning_gan.callbacks.sample_writer import SampleWriter
        from lightning_gan.evaluation_data import SampleRequests

        config = self.config["predict"]
        self.datamodule = SampleRequests(
            config.n, getattr(self.model, "num_classes", None), source=self.datamodule
        )
        self.trainer.callbacks.append(SampleWriter(out_dir=config.out_dir, seed=config.seed))


def build_cli(args: list[str] | None = None, run: bool = True) -> LightningCLI:
    """Parse ``args`` (default: ``sys.argv``) and, with ``run``, execute the subcommand."""
    silence_promotional_tips()
    return GANCLI(
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
