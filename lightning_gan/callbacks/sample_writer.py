"""``SampleWriter``: what ``lightning-gan predict`` leaves on disk, a picture and a tensor file.

A ``BasePredictionWriter`` (Lightning's hook for writing predictions), so the predict loop stays
Lightning's: it gathers the predict steps' samples at the end of the epoch and writes
``samples.pt`` (``{"samples", "labels"}``) and ``samples.png`` (an image grid, one row per class
for a conditional GAN; for 2-D data a scatter over the datamodule's modes, coloured by label)
into ``out_dir`` (default: the run's log folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from lightning_gan.callbacks.samples import image_grid, scatter_plot


class SampleWriter(BasePredictionWriter):
    """Write the predicted samples as ``samples.pt`` and ``samples.png``.

    Args:
        out_dir: folder for the files; ``None`` uses ``trainer.log_dir`` (the run's folder).
        seed: the latents' seed, set when the predict epoch starts, so a checkpoint gives the
            same samples every time.
        nrow: images per grid row (a conditional grid takes the class count, at most 16).
        value_range: the generator's output range, mapped to black..white.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike | None = None,
        seed: int = 0,
        nrow: int = 8,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__(write_interval="epoch")
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = seed
        self.nrow = nrow
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.written: list[Path] = []

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        torch.manual_seed(self.seed + trainer.global_rank)

    def write_on_epoch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        predictions: Any,
        batch_indices: Any,
    ) -> None:
        outputs = [p for p in predictions if isinstance(p, dict)]
        if not outputs:
            return
        samples = torch.cat([p["samples"].cpu() for p in outputs])
        labels = torch.cat([p["labels"].cpu() for p in outputs]) if "labels" in outputs[0] else None
        folder = self.out_dir or Path(trainer.log_dir or trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "" if trainer.world_size == 1 else f"_rank{trainer.global_rank}"
        tensor_path = folder / f"samples{suffix}.pt"
        torch.save({"samples": samples, "labels": labels}, tensor_path)
        self.written = [tensor_path]
        picture = self._picture(trainer, samples, labels)
        if picture is not None:
            from PIL import Image

            png = folder / f"samples{suffix}.png"
            Image.fromarray(picture).save(png)
            self.written.append(png)
        rank_zero_info(f"SampleWriter: wrote {len(samples)} samples to {folder}")

    def _picture(self, trainer: Trainer, samples: torch.Tensor, labels: torch.Tensor | None):
        if samples.dim() == 4 and samples.shape[1] in (1, 3):
            nrow = self.nrow
            if labels is not None:  # one row per class: sort by label, nrow = per-class count
                order = torch.argsort(labels, stable=True)
                samples, labels = samples[order], labels[order]
                counts = torch.bincount(labels)
                nrow = int(counts[counts > 0].min())
                keep = torch.cat(
                    [torch.nonzero(labels == k)[:nrow, 0] for k in labels.unique()[:16]]
                )
                samples = samples[keep]
            return image_grid(samples, nrow, self.value_range)
        if samples.dim() == 2 and samples.shape[1] == 2:
            modes = getattr(trainer.datamodule, "modes", None)
            modes = modes if isinstance(modes, torch.Tensor) else None
            return scatter_plot(samples, modes, title=f"{len(samples)} samples", labels=labels)
        return None
