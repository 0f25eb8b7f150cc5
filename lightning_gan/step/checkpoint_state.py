"""What a GAN checkpoint holds beyond the weights, and the checks made when one is loaded.

Split from the step: exact resume needs the D/G step counters and every rank's RNG state (the
latents after a resume are then the ones the uninterrupted run would have drawn), and a
checkpoint of a run trained with ``GeneratorEMA`` must sample with the EMA weights after
``GAN.load_from_checkpoint(path)``, with no Trainer and no callback (``sampling_generator``).
"""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gan.step.nonfinite import NonFiniteError

NOT_A_CHECKPOINT = (
    "This file is not a Lightning checkpoint (no 'state_dict' / version entry): resume from a "
    "file written by ModelCheckpoint or trainer.save_checkpoint; to load bare weights use "
    "`gan.load_state_dict(torch.load(path))` (or `gan.generator.load_state_dict(...)`)."
)


class CheckpointState:
    """Mixin of :class:`~lightning_gan.GAN`: counters, RNG states and the averaged generator."""

    d_steps: int
    g_steps: int
    generator: nn.Module
    # Set by `on_load_checkpoint`; class-level defaults so `GAN.__init__` need not set them.
    _rng_to_restore: dict[str, list[Tensor]] | None = None
    _ema_state: dict[str, Tensor] | None = None
    _loaded_ema: tuple[nn.Module, ...] = ()
    _scaler_state: dict[str, Any] | None = None  # D's fp16 GradScaler (G's is Lightning's)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if not all(torch.isfinite(p).all() for p in self.parameters()):
            raise NonFiniteError(
                "Refusing to write a checkpoint with non-finite weights; earlier checkpoints are "
                "untouched. Keep GAN(nonfinite=...) at 'stop', 'skip' or 'raise' so non-finite "
                "updates are never applied."
            )
        checkpoint["gan_steps"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None:
            checkpoint["datamodule_class"] = type(
                getattr(datamodule, "source", datamodule)
            ).__name__
        checkpoint["gan_rng"] = self._rng_states()
        d_scaler = self.d_record.scaler
        if d_scaler is not None:
            checkpoint["gan_scalers"] = {self.d_record.name: d_scaler.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
            raise ValueError(NOT_A_CHECKPOINT)
        if self.strict_loading:
            check_same_architecture(self.state_dict(), checkpoint["state_dict"])
        trainer = self._trainer
        if trainer is not None and trainer.state.fn == "fit":  # a resume, not an evaluation
            warn_changed_settings(self, checkpoint)
        steps = checkpoint.get("gan_steps", {})
        self.d_steps = int(steps.get("d_steps", 0))
        self.g_steps = int(steps.get("g_steps", 0))
        self._rng_to_restore = checkpoint.get("gan_rng")
        self._scaler_state = checkpoint.get("gan_scalers")
        self._ema_state = averaged_generator_state(checkpoint)
        self._loaded_ema = ()

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, *args: Any, **kwargs: Any) -> Any:
        """Lightning's ``load_from_checkpoint``, with the file checked first (truncated, empty,
        foreign files fail with the fix instead of a low-level read error)."""
        if isinstance(checkpoint_path, (str, os.PathLike)):
            check_checkpoint_file(checkpoint_path)
        try:
            return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)
        except KeyError as error:  # Lightning reads its version key before any hook runs
            if error.args and error.args[0] in ("pytorch-lightning_version", "state_dict"):
                raise ValueError(NOT_A_CHECKPOINT) from error
            raise

    def loaded_ema_generator(self) -> nn.Module | None:
        """The averaged generator saved in the loaded checkpoint (built on first use), or None.

        Used by ``sampling_generator`` only when no callback supplies a generator, so a resumed
        fit (where ``GeneratorEMA`` restores its own average) never builds this copy.
        """
        if self._ema_state is None:
            return None
        if not self._loaded_ema:
            ema = copy.deepcopy(self.generator)
            ema.load_state_dict(self._ema_state)
            ema.to(self.device).eval().requires_grad_(False)
            self._loaded_ema = (ema,)  # a tuple, so it is not registered as a submodule
        ema = self._loaded_ema[0]
        param = next(ema.parameters(), None)
        if param is not None and param.device != self.device:
            ema.to(self.device)
        return ema

    def on_train_start(self) -> None:
        # Restored here, after dataloaders are built, so the latents after a resume are the
        # ones the uninterrupted run would have drawn.
        states, self._rng_to_restore = self._rng_to_restore, None
        if states is None:
            return
        rank, world = self.global_rank, self.trainer.world_size
        if len(states["torch"]) != world:
            rank_zero_warn(
                f"The checkpoint holds random states of {len(states['torch'])} processes but "
                f"{world} are running: latents will not continue the original sequence."
            )
            return
        torch.set_rng_state(states["torch"][rank])
        if states.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state(states["cuda"][rank], self.device)

    def _rng_states(self) -> dict[str, list[Tensor]]:
        """Every rank's torch (and CUDA) generator state; collective, so call on all ranks."""
        states = {"torch": [torch.get_rng_state()]}
        if self.device.type == "cuda":
            states["cuda"] = [torch.cuda.get_rng_state(self.device)]
        if self._trainer is not None and self.trainer.world_size > 1:
            for key, (local,) in states.items():
                gathered = self.all_gather(local.to(self.device)).cpu()
                states[key] = list(gathered)
        return states


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """Refuse a missing, truncated or foreign checkpoint file with the fix, before torch reads it.

    ``torch.save`` writes a zip archive whose directory is at the end, so a file cut short by a
    crash or a full disk has no readable directory; checking that costs one small read, where
    ``torch.load`` would fail with a low-level miniz, EOF or OS error.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"ckpt_path={str(path)!r} is a folder: pass a checkpoint file inside it (e.g. "
            f"{str(path / 'last.ckpt')!r})."
        )
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={str(path)!r}: no such checkpoint file.")
    problem = checkpoint_problem(path)
    if problem:
        from lightning_gan.reliability.last_checkpoint import newest_complete_checkpoint

        earlier = newest_complete_checkpoint([path.parent], exclude=path)
        offer = (
            f"The newest complete checkpoint in that folder is {str(earlier)!r}: resume with "
            f"--ckpt_path {str(earlier)!r} (or ckpt_path='last', which skips damaged files)."
            if earlier is not None
            else "No complete checkpoint is left in that folder: start without ckpt_path."
        )
        raise ValueError(
            f"Checkpoint {str(path)!r} {problem}: it was probably cut short by a crash or a full "
            f"disk. {offer}"
        )


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint file (``None``: a complete zip archive), in one read."""
    if path.stat().st_size == 0:
        return "is empty"
    if not zipfile.is_zipfile(path):
        return "is truncated or not a PyTorch checkpoint (no zip directory at its end)"
    try:
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        return f"cannot be read ({error})"
    return None


#: Settings whose change on resume is worth a word: they change what is being trained.
_WATCHED = ("loss", "n_critic", "num_classes", "latent_dim", "accumulate")


def warn_changed_settings(gan: Any, checkpoint: dict[str, Any]) -> None:
    """Warn when a run resumes with other settings or data than the checkpoint was written with.

    A warning, not an error: changing a setting on resume can be intended (fine-tuning with
    another loss); resuming a ring run with the grid's config rarely is.
    """
    from lightning.pytorch.utilities import rank_zero_warn

    changes = []
    saved = checkpoint.get("hyper_parameters") or {}
    for key in _WATCHED:
        if key in saved and key in gan.hparams and saved[key] != gan.hparams[key]:
            changes.append(f"model {key}: {saved[key]!r} -> {gan.hparams[key]!r}")
    datamodule = getattr(gan.trainer, "datamodule", None)
    saved_data = checkpoint.get("datamodule_hyper_parameters")
    if datamodule is not None and isinstance(saved_data, dict):
        data = dict(getattr(datamodule, "hparams", {}))
        if type(datamodule).__name__ != checkpoint.get(
            "datamodule_class", type(datamodule).__name__
        ):
            changes.append(
                f"datamodule: {checkpoint['datamodule_class']} -> {type(datamodule).__name__}"
            )
        for key in sorted(set(saved_data) & set(data)):
            if key not in ("batch_size", "num_workers") and saved_data[key] != data[key]:
                changes.append(f"data {key}: {saved_data[key]!r} -> {data[key]!r}")
    if changes:
        rank_zero_warn(
            "Resuming with settings that differ from the checkpoint's: "
            + "; ".join(changes)
            + ". If that is not intended, resume with the run's own config (the CLI saves it as "
            "config.yaml in the run folder)."
        )


def averaged_generator_state(checkpoint: dict[str, Any]) -> dict[str, Tensor] | None:
    """The generator state dict inside a ``GeneratorEMA`` callback state of ``checkpoint``.

    ``GeneratorEMA`` saves a ``torch.optim.swa_utils.AveragedModel`` state (``module.<key>``
    entries and ``n_averaged``) under its callback state key; nothing else saves ``"ema"``.
    """
    for state in (checkpoint.get("callbacks") or {}).values():
        ema = state.get("ema") if isinstance(state, dict) else None
        if isinstance(ema, dict):
            return {k[len("module.") :]: v for k, v in ema.items() if k.startswith("module.")}
    return None


def check_same_architecture(own: dict[str, Tensor], saved: dict[str, Any]) -> None:
    """Name what differs between a checkpoint and this model, instead of torch's size errors."""
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    resized = [
        f"{key}: checkpoint {tuple(saved[key].shape)} vs model {tuple(own[key].shape)}"
        for key in sorted(set(own) & set(saved))
        if hasattr(saved[key], "shape") and saved[key].shape != own[key].shape
    ]
    if not (missing or unexpected or resized):
        return
    details = "; ".join(
        f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
        for label, items in (
            ("missing in checkpoint", missing),
            ("not in model", unexpected),
            ("shape differs", resized),
        )
        if items
    )
    raise ValueError(
        f"This checkpoint was written by a different model ({details}). Build the GAN with the "
        "generator/discriminator (and SpectralNorm callback, if used) of the run that wrote it; "
        "a checkpoint from the CLI rebuilds its own networks with GAN.load_from_checkpoint(path)."
    )
