"""``SampleLogger``: pictures of what the generator makes, in whichever logger the run uses.

GAN losses say little about sample quality, so the dashboard should show the samples: an image
grid for image data, and for 2-D data a scatter of samples over the true modes (read from
``trainer.datamodule.modes`` when the datamodule has them), where mode collapse is visible at a
glance. Pictures are rendered once as ``uint8`` RGB arrays (wandb 0.31 saves float images in
[0, 1] black) and sent to W&B, TensorBoard or PNG files next to a CSV log.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor


def image_grid(
    samples: Tensor,
    nrow: int = 8,
    value_range: tuple[float, float] = (-1.0, 1.0),
    min_size: int = 256,
) -> np.ndarray:
    """``[N, C, H, W]`` images (C = 1 or 3) to one ``uint8`` ``[H, W, 3]`` grid.

    Pixel values are mapped from ``value_range`` to 0..255 and clipped; a grid whose shorter
    side is under ``min_size`` pixels is enlarged by the smallest integer nearest-neighbour
    factor that reaches it (8 x 8 of 28-px digits: 242 px -> 484), so small images stay visible
    in a dashboard and the pixels stay sharp.
    """
    from torchvision.utils import make_grid

    grid = make_grid(
        samples.detach().float().cpu(), nrow=nrow, normalize=True, value_range=value_range
    )
    array = (grid * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    factor = max(1, -(-min_size // min(array.shape[:2])))  # ceil: never below min_size
    return np.ascontiguousarray(array.repeat(factor, axis=0).repeat(factor, axis=1))


def scatter_plot(
    samples: Tensor,
    modes: Tensor | None = None,
    title: str = "",
    size_inches: float = 4.0,
    labels: Tensor | None = None,
) -> np.ndarray:
    """2-D samples (blue, or coloured by ``labels``) over the true modes (red crosses) as a
    ``uint8`` ``[H, W, 3]`` array.

    Uses a bare matplotlib ``Figure`` on the Agg canvas, never pyplot, so no global figure is
    opened (nothing to leak) and no interactive backend is touched. Axis limits come from the
    modes when known, so frames of one run are comparable and far-off samples are clipped.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = samples.detach().float().cpu().numpy()
    fig = Figure(figsize=(size_inches, size_inches), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if modes is not None:  # under the samples, so tight modes do not hide them
        m = modes.detach().float().cpu().numpy()
        ax.scatter(
            m[:, 0],
            m[:, 1],
            s=120,
            marker="o",
            facecolors="none",
            color="tab:red",
            linewidths=0.8,
            zorder=1,
        )
        if labels is not None and len(m) <= 32:
            for k, (x, y) in enumerate(m):
                ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(6, 6), fontsize=7)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, color="tab:blue", zorder=2)
    else:  # a conditional generator: one colour per label, so label -> mode is visible
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=3,
            alpha=0.6,
            c=labels.cpu().numpy(),
            cmap="tab10",
            zorder=2,
        )
    if modes is not None:
        span = np.abs(m).max() * 1.5 + 0.5
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


class SampleLogger(Callback):
    """Log generated samples every ``every_n_steps`` generator steps (and at the end of fit).

    Samples come from ``gan.sample(n)``, which uses the EMA generator when an EMA callback is
    present. The latents are drawn from a fixed ``seed`` inside a forked RNG, so successive
    pictures show the same latents (progress is visible) and training randomness is untouched.
    A conditional GAN (``gan.num_classes``) gets one row of ``nrow`` images per class (the first
    ``max_classes`` classes), or for 2-D data points coloured by their label.

    Args:
        every_n_steps: generator steps (``gan.g_steps``) between pictures.
        n_samples: samples per picture; default 64 for images, 1000 for 2-D points.
        nrow: images per grid row.
        value_range: the generator's output range, mapped to black..white.
        key: name of the image in the logger (``samples`` -> W&B/TensorBoard panel ``samples``).
        seed: seed of the fixed latents.
        save_dir: also save every picture as PNG here (PNGs always go next to a CSV log).
        log_on_train_end: log a final picture when fit ends between two scheduled ones.
        max_classes: rows of a conditional image grid (one class per row).
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        n_samples: int | None = None,
        nrow: int = 8,
        value_range: tuple[float, float] = (-1.0, 1.0),
        key: str = "samples",
        seed: int = 0,
        save_dir: str | os.PathLike | None = None,
        log_on_train_end: bool = True,
        max_classes: int = 16,
    ) -> None:
        super().__init__()
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an integer >= 1, got {every_n_steps!r}.")
        if n_samples is not None and n_samples < 1:
            raise ValueError(f"n_samples must be >= 1 (or None for the default), got {n_samples}.")
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}.")
        self.every_n_steps = every_n_steps
        self.n_samples = n_samples
        self.nrow = nrow
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.key = key
        self.seed = seed
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        self.log_on_train_end = log_on_train_end
        if not isinstance(max_classes, int) or max_classes < 1:
            raise ValueError(f"max_classes must be an integer >= 1, got {max_classes!r}.")
        self.max_classes = max_classes
        self.last_logged_step: int | None = None
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ Lightning hooks
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = _generator_step(trainer, pl_module)
        if step % self.every_n_steps == 0 and step != self.last_logged_step:
            self.log_samples(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.log_on_train_end and self.last_logged_step != _generator_step(trainer, pl_module):
            self.log_samples(trainer, pl_module)

    # ------------------------------------------------------------------ public
    def render(self, trainer: Trainer, pl_module: LightningModule, step: int) -> np.ndarray | None:
        """The picture for the current generator as ``uint8`` ``[H, W, 3]``, or ``None``."""
        samples, labels = self._sample(pl_module)
        if samples.dim() == 4 and samples.shape[1] in (1, 3):
            return image_grid(samples, self.nrow, self.value_range)
        if samples.dim() == 2 and samples.shape[1] == 2:
            modes = getattr(getattr(trainer, "datamodule", None), "modes", None)
            modes = modes if isinstance(modes, Tensor) else None
            title = f"step {trainer.global_step} (generator step {step})"
            return scatter_plot(samples, modes, title=title, labels=labels)
        self._warn_once(
            "shape",
            f"SampleLogger: cannot picture samples of shape {tuple(samples.shape[1:])}; it draws "
            "images [C in (1, 3), H, W] and 2-D points. Nothing is logged.",
        )
        return None

    def log_samples(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Render and send the picture to every logger (on global rank zero only).

        Pictures are logged, and PNG files named, at ``trainer.global_step`` (optimizer steps,
        D and G): the step of the metrics beside them (:func:`~lightning_gan.progress.
        use_optimizer_step_axis`), of checkpoint names and of ``max_steps``. The caption also gives
        the generator step that ``every_n_steps`` counts.
        """
        g_step = _generator_step(trainer, pl_module)
        self.last_logged_step = g_step
        if not trainer.is_global_zero:
            return
        step = int(trainer.global_step)
        picture = self.render(trainer, pl_module, g_step)
        if picture is None:
            return
        for logger in trainer.loggers:
            try:
                self._send(logger, picture, step, g_step)
            except Exception as error:  # a dashboard must never end a training run
                self._warn_once(
                    type(logger).__name__,
                    f"SampleLogger: {type(logger).__name__} failed to log samples "
                    f"({type(error).__name__}: {error}); training continues without them.",
                )
        if self.save_dir is not None:
            _save_png(picture, self.save_dir, self.key, step)

    # ------------------------------------------------------------------ internals
    def _sample(self, pl_module: Any) -> tuple[Tensor, Tensor | None]:
        """Samples from fixed latents (and their labels when conditional); without
        ``n_samples``: 64 images (``nrow`` per class when conditional), or 1000 2-D points."""
        classes = getattr(pl_module, "num_classes", None)
        n = self.n_samples or 64
        labels = None
        if classes:
            labels = self._grid_labels(classes, n, pl_module.device)
        samples = self._sample_seeded(pl_module, len(labels) if labels is not None else n, labels)
        if self.n_samples is None and samples.dim() == 2 and samples.shape[1] == 2:
            # points are cheap; modes need many
            labels = None if not classes else torch.arange(1000, device=pl_module.device) % classes
            samples = self._sample_seeded(pl_module, 1000, labels)
        return samples, labels

    def _grid_labels(self, classes: int, n: int, device: torch.device) -> Tensor:
        """One row of ``nrow`` samples per class (``n_samples``, if given, caps the total)."""
        rows = min(classes, self.max_classes)
        if self.n_samples is not None:
            rows = max(1, min(rows, self.n_samples // self.nrow))
        return torch.arange(rows, device=device).repeat_interleave(self.nrow)

    def _sample_seeded(self, pl_module: Any, n: int, labels: Tensor | None = None) -> Tensor:
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            if labels is None:
                return pl_module.sample(n)
            return pl_module.sample(n, labels=labels)

    def _send(self, logger: Logger, picture: np.ndarray, step: int, g_step: int) -> None:
        caption = f"step {step} (generator step {g_step})"
        if isinstance(logger, WandbLogger):
            logger.log_image(key=self.key, images=[picture], step=step, caption=[caption])
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(self.key, picture, step, dataformats="HWC")
        elif isinstance(logger, CSVLogger):
            _save_png(picture, os.path.join(logger.log_dir, "samples"), self.key, step)
        else:
            self._warn_once(
                type(logger).__name__,
                f"SampleLogger: no image support for {type(logger).__name__}; pass "
                "`save_dir=` to keep the pictures as PNG files.",
                info=True,
            )

    def _warn_once(self, topic: str, message: str, info: bool = False) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            (rank_zero_info if info else rank_zero_warn)(message)


def _generator_step(trainer: Trainer, pl_module: Any) -> int:
    """Generator steps done (``global_step`` counts D and G steps, so it depends on n_critic)."""
    return int(getattr(pl_module, "g_steps", trainer.global_step))


def _save_png(picture: np.ndarray, directory: str, key: str, step: int) -> str:
    from PIL import Image

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{key.replace('/', '_')}_step{step:07d}.png")
    Image.fromarray(picture).save(path)
    return path
