"""The examples run as shipped (with fewer steps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_subclass_example_trains_and_reports_coverage() -> None:
    example = _load("subclass_gan")
    result = example.main(batches=30)
    assert 0 <= result["modes"] <= 8 and 0.0 <= result["high_quality"] <= 1.0
    gan = example.UniformPriorRingGAN()
    z = gan.sample_latent(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.mean().abs() < 0.1
