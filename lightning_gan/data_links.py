"""The data decides the shapes: LightningCLI links from the datamodule to the GAN and its nets.

A config used to state ``channels``, ``image_size`` and ``num_classes`` up to three times (data,
generator, discriminator, and the GAN for the classes), and a folder of greyscale digits trained
as RGB because the config said 3. :class:`DataLinks` registers LightningCLI links
(``parser.link_arguments(..., apply_on="instantiate")``, listed under "Linked arguments" in
``--help``) from the instantiated datamodule to

* ``model.init_args.{generator,discriminator}.init_args.{channels,image_size}``: the data's
  ``shape`` (``(C, H, W)``, square images) or its ``channels`` / ``image_size`` attributes;
* ``model.init_args.num_classes`` and both nets' ``num_classes``: the data's ``num_classes``
  when the model is conditional, i.e. when the datamodule says ``conditional=True`` (the
  conditional config then needs only the folder) or a ``num_classes`` was given for the model.

A link whose target the network does not have (an MLP has no ``channels``) or whose source the
datamodule does not have is skipped, keeping the config's value. A value given explicitly for a
linked target (in a config file or on the command line) that differs from the data's is an
error naming both values and the side to change; a matching one is accepted, so older configs
that spell the shapes out still run. "Explicit" is read from a second parse of the same
arguments without defaults (jsonargparse's ``defaults=False``, about 20 ms).

Also here: Lightning's DDP strategy names map to the GAN's own (:func:`map_ddp_strategy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.utilities import rank_zero_info

#: Targets under ``model.init_args`` -> the datamodule attribute they follow.
LINKS: dict[str, str] = {
    "num_classes": "num_classes",
    "generator.init_args.channels": "channels",
    "generator.init_args.image_size": "image_size",
    "generator.init_args.num_classes": "num_classes",
    "discriminator.init_args.channels": "channels",
    "discriminator.init_args.image_size": "image_size",
    "discriminator.init_args.num_classes": "num_classes",
}

#: Lightning's whole-module DDP names -> the GAN's strategy with the same process launch.
DDP_NAMES: dict[str, str] = {
    "ddp": "gan_ddp",
    "ddp_find_unused_parameters_true": "gan_ddp",
    "ddp_find_unused_parameters_false": "gan_ddp",
    "ddp_spawn": "gan_ddp_spawn",
    "ddp_spawn_find_unused_parameters_true": "gan_ddp_spawn",
    "ddp_spawn_find_unused_parameters_false": "gan_ddp_spawn",
}

_MISSING = object()


class DataShapeConflict(ValueError):
    """An explicit model-side setting that contradicts the data it is linked to."""


def data_value(data: Any, attribute: str) -> int | None:
    """What ``data`` says about ``attribute`` (``None``: it does not say).

    ``channels`` and ``image_size`` come from a 3-D ``shape`` (``image_size`` only for square
    images) or the attribute of that name; ``num_classes`` from the attribute.
    """
    if attribute != "num_classes":
        shape = getattr(data, "shape", None)
        if isinstance(shape, tuple | list) and len(shape) == 3:
            if attribute == "channels":
                return int(shape[0])
            return int(shape[1]) if shape[1] == shape[2] else None
    value = getattr(data, attribute, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DataLinks:
    """Links data -> model for a LightningCLI; ``cli`` supplies ``config`` and ``subcommand``."""

    def __init__(self, cli: Any) -> None:
        self.cli = cli
        self.explicit: Any = None

    def add(self, parser: Any) -> None:
        """Register one instantiation link per entry of :data:`LINKS`."""
        for target, attribute in LINKS.items():
            parser.link_arguments(
                "data",
                f"model.init_args.{target}",
                compute_fn=self._compute_fn(target, attribute),
                apply_on="instantiate",
            )

    def record_explicit(self, parser: Any, args: Any) -> None:
        """Parse ``args`` again without defaults: what the user actually set."""
        try:
            if isinstance(args, dict | Namespace):
                self.explicit = parser.parse_object(args, defaults=False)
            else:
                self.explicit = parser.parse_args(args, defaults=False)
        except Exception:  # noqa: BLE001  (no explicit values known: links then only fill in)
            self.explicit = None

    def _key(self, target: str) -> str:
        subcommand = getattr(self.cli, "subcommand", None)
        prefix = f"{subcommand}." if subcommand else ""
        return f"{prefix}model.init_args.{target}"

    def _given(self, target: str) -> Any:
        if self.explicit is None:
            return _MISSING
        value = self.explicit.get(self._key(target), _MISSING)
        return _MISSING if value is None else value

    def _configured(self, target: str) -> Any:
        return self.cli.config.get(self._key(target))

    def _compute_fn(self, target: str, attribute: str) -> Callable[[Any], Any]:
        def compute(data: Any) -> Any:
            return self.value(target, attribute, data)

        compute.__name__ = f"data_{attribute}"
        return compute

    def conditional(self, data: Any) -> bool:
        """Whether the model takes class labels: the data asks, or a ``num_classes`` was set."""
        if getattr(data, "conditional", False):
            return True
        targets = [t for t, a in LINKS.items() if a == "num_classes"]
        return any(self._given(t) is not _MISSING for t in targets)

    def value(self, target: str, attribute: str, data: Any) -> Any:
        """The linked value of ``model.init_args.<target>``; raises :class:`DataShapeConflict`."""
        configured = self._configured(target)
        if attribute == "num_classes" and not self.conditional(data):
            return configured
        value = data_value(data, attribute)
        if value is None:
            return configured
        given = self._given(target)
        if given is not _MISSING and given != value:
            raise DataShapeConflict(_conflict(target, attribute, given, value, data))
        return value


def prune_unused_targets(model: Any) -> None:
    """Drop linked values the model's networks do not take from its saved hyperparameters.

    Lightning's CLI writes every applied link into the model's hparams, also where the target
    does not exist (an MLP generator has no ``channels``); the checkpoint could then not rebuild
    its networks (``Option 'image_size' is not accepted``). Keys the network class's signature
    lacks are removed from ``hparams`` and from ``hparams_initial``.
    """
    import importlib
    import inspect

    for store in (getattr(model, "_hparams", None), getattr(model, "_hparams_initial", None)):
        if store is None:
            continue
        for target in LINKS:
            if ".init_args." not in target:
                continue
            net, leaf = target.split(".init_args.")
            config = store.get(net)
            if not isinstance(config, dict) or leaf not in config.get("init_args", {}):
                continue
            module, _, name = str(config.get("class_path", "")).rpartition(".")
            try:
                parameters = inspect.signature(getattr(importlib.import_module(module), name))
            except (ImportError, AttributeError, ValueError, TypeError):
                continue
            takes = parameters.parameters
            if leaf not in takes and not any(p.kind is p.VAR_KEYWORD for p in takes.values()):
                del config["init_args"][leaf]


def _conflict(target: str, attribute: str, given: Any, value: int, data: Any) -> str:
    name = type(data).__name__
    key = f"model.init_args.{target}"
    if attribute == "num_classes":
        classes = getattr(data, "classes", None)
        listed = f" ({', '.join(map(str, classes[:10]))})" if isinstance(classes, list) else ""
        return (
            f"{key}={given} contradicts the data: {name} has {value} classes{listed}. The data "
            f"side decides: remove {key} (the CLI links num_classes from the data; with an "
            "image folder set data.init_args.conditional=true for a conditional model), or give "
            f"the data {given} classes (one subfolder per class)."
        )
    if _takes(data, attribute):
        verb = "convert" if attribute == "channels" else "resize"
        fix = f"data.init_args.{attribute}={given} to {verb} the images"
    else:  # e.g. MNIST5k: its size is set by other arguments (pad_to_32)
        fix = f"data whose {attribute} is {given} ({name} takes no {attribute} argument)"
    return (
        f"{key}={given} contradicts the data: {name} gives {attribute}={value}. Remove {key} "
        f"(the CLI links it from the data), or change the data side: {fix}."
    )


def _takes(data: Any, argument: str) -> bool:
    import inspect

    try:
        return argument in inspect.signature(type(data).__init__).parameters
    except (TypeError, ValueError):
        return False


def map_ddp_strategy(trainer_config: Any) -> None:
    """Replace a Lightning DDP strategy name in ``trainer_config`` by the GAN's own.

    Lightning's ``ddp`` wraps G and D in one ``DistributedDataParallel``, which each GAN phase
    breaks (one network has no gradients); ``gan_ddp`` keeps Lightning's launch, samplers and
    checkpointing and averages gradients itself (:mod:`lightning_gan.distributed`). One info line
    on rank 0 says so.
    """
    strategy = trainer_config.get("strategy") if trainer_config is not None else None
    if not isinstance(strategy, str) or strategy not in DDP_NAMES:
        return
    mapped = DDP_NAMES[strategy]
    trainer_config["strategy"] = mapped
    rank_zero_info(
        f"strategy={strategy!r} runs as {mapped!r}: Lightning's DDP wrapper cannot train the "
        "GAN's alternating G/D steps, so gradients are averaged per network instead (same "
        "processes, samplers and checkpoints; see docs/guide/multi-gpu.md)."
    )
