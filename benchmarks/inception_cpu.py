"""Inception on CPU: our feature pass against torch-fidelity's own, on the same 350 images.

Issue 21 reported 94.5 s for 350 images through ``lightning-gan test``. This times, on the same
350 MNIST5k digits (grey 28x28, mapped to uint8 RGB as both paths do) and the same weights file:

* ``load_s``: building the network (reading ~100 MB of weights);
* our :class:`~lightning_gan.metrics.inception.InceptionFeatures` fed batches of 250 (the
  evaluator's default), which it runs in chunks of 32 on CPU (the fix), and once (1 thread) as
  before the fix, 250 per forward; the TF1-compatible resize to 299x299 is timed apart too;
* torch-fidelity's ``FeatureExtractorInceptionV3`` at its default batch 64;
* both at 1 thread (``--threads`` adds more settings; on a shared machine more threads mostly
  measure the neighbours);

and writes ``docs/results/inception_cpu.json``. The features of the two paths must agree.

    python benchmarks/inception_cpu.py
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from lightning_gan.data.mnist5k import load_mnist5k
from lightning_gan.metrics.inception import (
    InceptionFeatures,
    convert_fid_helper_weights,
    resolve_inception_weights,
)

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "inception_cpu.json"
N = 350


def _weights() -> Path:
    try:
        return resolve_inception_weights(download=False)
    except FileNotFoundError:
        return convert_fid_helper_weights(Path(tempfile.mkdtemp()) / "fid_inception.pth")


def _time(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def ours(
    weights: Path, images: torch.Tensor, batch: int, cpu_batch: int | None = None
) -> dict[str, Any]:
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    load_s, net = _time(lambda: InceptionFeatures(weights).eval())
    if cpu_batch is not None:  # the network's chunk size on CPU (the fix: 32; before: none)
        net.cpu_batch = cpu_batch
    resize_s = 0.0
    feats = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = images[i : i + batch]
            t = time.perf_counter()
            interpolate_bilinear_2d_like_tensorflow1x(
                net.to_uint8_rgb(x).float(), size=(299, 299), align_corners=False
            )
            resize_s += time.perf_counter() - t
            feats.append(net(x))
    total = time.perf_counter() - start
    return {
        "load_s": load_s,
        "features_s": total - resize_s,  # the resize is done twice here: timed once, apart
        "resize_s": resize_s,
        "batch": batch,
        "cpu_batch": net.cpu_batch,
        "features": torch.cat(feats),
    }


def fidelity(weights: Path, images: torch.Tensor, batch: int) -> dict[str, Any]:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    load_s, net = _time(
        lambda: FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
        ).eval()
    )
    uint8 = ((images + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    feats = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(uint8), batch):
            feats.append(net(uint8[i : i + batch])[0])
    return {
        "load_s": load_s,
        "features_s": time.perf_counter() - start,
        "batch": batch,
        "features": torch.cat(feats),
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    images = load_mnist5k()[0][torch.randperm(5000, generator=torch.Generator().manual_seed(0))[:N]]
    weights = _weights()
    threads = torch.get_num_threads()
    out: dict[str, Any] = {
        "n_images": N,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "runs": {},
    }
    for n_threads in sorted(set(args.threads), reverse=True):
        torch.set_num_threads(n_threads)
        a = ours(weights, images, 250)
        b = fidelity(weights, images, 64)
        diff = float((a.pop("features") - b.pop("features")).abs().max())
        out["runs"][str(n_threads)] = {"ours": a, "torch_fidelity": b, "max_abs_diff": diff}
        if n_threads == 1:  # before the fix: the evaluator's whole batch of 250 per forward
            before = ours(weights, images, 250, cpu_batch=250)
            before.pop("features")
            out["runs"]["1"]["ours_before_fix"] = before
        print(n_threads, "threads:", {"ours": a, "torch_fidelity": b, "diff": diff}, flush=True)
    torch.set_num_threads(threads)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
