"""What a GAN checkpoint holds beyond the weights, and the checks made when one is loaded.

Split from the step: exact resume needs the D/G step counters and every rank's RNG state (the
latents after a resume are then the ones the uninterrupted run would have drawn), and a
checkpoint of a run trained with ``GeneratorEMA`` must sample with the EMA weights after
``GAN.load_from_checkpoint(path)``, with no Trainer and no callback (``sampling_generator``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from lightning_gan.nonfinite import NonFiniteError


class CheckpointState:
    """Mixin of :class:`~lightning_gan.GAN`: counters, RNG states and the averaged generator."""

    d_steps: int
    g_steps: int
    generator: nn.Module
    _rng_to_restore: dict[str, list[Tensor]] | None
    _ema_state: dict[str, Tensor] | None
    _loaded_ema: list[nn.Module]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if not all(torch.isfinite(p).all() for p in self.parameters()):
            raise NonFiniteError(
                "Refusing to write a checkpoint with non-finite weights; earlier checkpoints are "
                "untouched. Keep GAN(nonfinite=...) at 'stop', 'skip' or 'raise' so non-finite "
                "updates are never applied."
            )
        checkpoint["gan_steps"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        checkpoint["gan_rng"] = self._rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.strict_loading and "state_dict" in checkpoint:
            check_same_architecture(self.state_dict(), checkpoint["state_dict"])
        steps = checkpoint.get("gan_steps", {})
        self.d_steps = int(steps.get("d_steps", 0))
        self.g_steps = int(steps.get("g_steps", 0))
        self._rng_to_restore = checkpoint.get("gan_rng")
        self._ema_state = averaged_generator_state(checkpoint)
        self._loaded_ema = []

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
            self._loaded_ema.append(ema)  # a list, so it is not registered as a submodule
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
