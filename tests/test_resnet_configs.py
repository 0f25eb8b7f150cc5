"""The SNGAN / BigGAN GPU recipes build the reference nets, and train a few CPU steps through
the CLI with their data swapped for random images (CIFAR-10 and CelebA are not on this machine)
and their nets narrowed (full width costs ~20 s of CPU per recipe for the same check)."""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path

import pytest
import torch
import yaml

from lightning_gan.cli import build_cli

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
RECIPES = {  # name -> (image size, classes, G parameters, D parameters)
    "cifar10_sngan": (32, None, 4_276_739, 1_053_825),
    "celeba64_sngan": (64, None, 12_220_675, 10_141_441),
    "cifar10_biggan": (32, 10, 9_416_196, 2_415_170),
}


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_trains_a_few_steps_on_stand_in_data(name: str, tmp_path: Path) -> None:
    size, classes, g_params, d_params = RECIPES[name]
    data = [
        "--data=tests.resnet_fakes.FakeImageData",
        f"--data.init_args.image_size={size}",
        "--data.init_args.batch_size=4",
    ]
    if classes is not None:
        data.append(f"--data.init_args.num_classes={classes}")
    cli = build_cli(
        [
            "fit",
            f"--config={CONFIGS / f'{name}.yaml'}",
            *data,
            "--model.init_args.generator.init_args.width=16",
            "--model.init_args.discriminator.init_args.width=16",
            "--trainer.max_steps=6",  # n_critic 5: five D steps and one G step
            "--trainer.accelerator=cpu",
            "--trainer.precision=32-true",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
        ]
    )
    gan = cli.model
    assert gan.d_steps == 5 and gan.g_steps == 1
    assert gan.generator.image_size == size and gan.num_classes == classes
    assert torch.isfinite(cli.trainer.callback_metrics["loss/g"])


def _build(spec: dict):
    module, _, name = spec["class_path"].rpartition(".")
    return getattr(import_module(module), name)(**spec.get("init_args", {}))


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_nets_are_the_reference_nets(name: str) -> None:
    _, _, g_params, d_params = RECIPES[name]
    model = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())["model"]["init_args"]
    with torch.device("meta"):
        g, d = _build(model["generator"]), _build(model["discriminator"])
    assert sum(p.numel() for p in g.parameters()) == g_params
    assert sum(p.numel() for p in d.parameters()) == d_params


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_header_states_target_budget_and_command(name: str) -> None:
    text = (CONFIGS / f"{name}.yaml").read_text()
    header = text.split("\nseed_everything")[0]
    assert "Target: FID" in header and "GPU-hours" in header
    assert f"lightning-gan fit --config examples/configs/{name}.yaml" in header
    config = yaml.safe_load(text)
    assert config["data"]["class_path"] == "lightning_gan.TorchvisionData"
    assert config["model"]["init_args"]["loss"] == "hinge"
