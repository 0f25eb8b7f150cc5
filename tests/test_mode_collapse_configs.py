"""Each shipped ``examples/configs/*_best.yaml`` is its dataset's best arm of the mode-collapse
study, with that arm's settings and budget: the README's "one command per row" stays true when
the results or the benchmark change."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "mode_collapse.json"


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study():
    yield _module(ROOT / "benchmarks" / "mode_collapse.py", "mode_collapse_configs_study")
    del sys.modules["mode_collapse_configs_study"]


@pytest.fixture(scope="module")
def render():
    yield _module(ROOT / "scripts" / "render_mode_collapse.py", "mode_collapse_configs_render")
    del sys.modules["mode_collapse_configs_render"]


CONFIGS = ["ring_best.yaml", "grid_best.yaml", "stacked_mnist_best.yaml", "mnist5k_best.yaml"]
_CALLBACK_ATTRS = ("decay", "num_packed", "gamma")  # the arms' callbacks' settings


@pytest.mark.parametrize("config", CONFIGS)
def test_config_has_its_arms_settings_and_budget(study, render, config: str) -> None:
    assert set(render.CONFIGS) == set(CONFIGS)
    name, arm_name = render.CONFIGS[config]
    spec = study.DATASETS[name]
    cfg = yaml.safe_load((ROOT / "examples" / "configs" / config).read_text())
    arm = spec.arms[arm_name]
    assert cfg["seed_everything"] == 0
    batches = arm.batches or spec.batches
    assert cfg["trainer"]["max_steps"] == 2 * batches  # a D and a G step per batch
    assert cfg["data"]["init_args"]["batch_size"] == (arm.batch_size or spec.batch_size)

    model = cfg["model"]["init_args"]
    for key, value in (dict(spec.gan) | arm.gan).items():
        assert model.get(key) == (list(value) if isinstance(value, tuple) else value), key
    d_args = model["discriminator"]["init_args"]
    for key, value in arm.d_options.items():
        assert d_args.get(key) == value, key
    assert bool(d_args.get("minibatch_std")) == bool(arm.d_options.get("minibatch_std"))
    assert d_args.get("pack", 1) == arm.d_options.get("pack", 1)

    for net in ("g", "d"):
        scheduler = model.get(f"lr_scheduler_{net}")
        if arm.lr_drop_at is None:
            assert scheduler is None
        else:
            assert scheduler["class_path"] == "torch.optim.lr_scheduler.MultiStepLR"
            assert scheduler["init_args"]["milestones"] == [math.ceil(arm.lr_drop_at * batches)]
            assert scheduler["init_args"]["gamma"] == 0.1

    expected = [
        (type(cb).__name__, {a: getattr(cb, a) for a in _CALLBACK_ATTRS if hasattr(cb, a)})
        for cb in arm.callbacks(batches)
    ]
    names = {n for n, _ in expected} | {"GeneratorEMA", "Packing", "R1Penalty"}
    shipped = [
        (c["class_path"].rsplit(".", 1)[1], c.get("init_args", {}))
        for c in cfg["trainer"].get("callbacks", [])
        if c["class_path"].rsplit(".", 1)[1] in names
    ]
    assert [n for n, _ in shipped] == [n for n, _ in expected]
    for (_, args), (_, attrs) in zip(shipped, expected, strict=True):
        for attr, value in attrs.items():
            assert args.get(attr) == pytest.approx(value), attr


@pytest.mark.parametrize("config", CONFIGS)
def test_config_is_its_datasets_best_arm(render, config: str) -> None:
    name, arm_name = render.CONFIGS[config]
    rows = [r for r in json.loads(RESULTS.read_text()) if r["dataset"] == name]
    assert rows, f"no {name} records in {RESULTS}"
    assert render.best_arm(rows, name in render.TARGETS) == arm_name
