"""DiffAugment, ADA, Packing, bCR, LeCam and TopK from YAML through the CLI, unconditional
(all together) and conditional (each on its own), a few steps each."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from lightning_gan.cli import build_cli

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
CB = "lightning_gan.callbacks"

CALLBACKS = {
    "DiffAugment": f"{CB}.diffaugment.DiffAugment",
    "AdaptiveAugment": f"{CB}.adaptive_augment.AdaptiveAugment",
    "ConsistencyRegularization": f"{CB}.consistency.ConsistencyRegularization",
    "LeCamRegularization": f"{CB}.lecam.LeCamRegularization",
    "TopK": f"{CB}.topk.TopK",
    "Packing": f"{CB}.packing.Packing",  # last: it must follow every other input transform
}
INIT_ARGS = {
    "AdaptiveAugment": "{p: 0.2, speed_images: 1000}",
    "TopK": "{decay_every_g_steps: 1}",
    "Packing": "{num_packed: 2}",
}
SIGNALS = {  # what each callback logs
    "AdaptiveAugment": "ada/p",
    "ConsistencyRegularization": "penalty/bcr_real",
    "LeCamRegularization": "penalty/lecam",
    "TopK": "topk/k",
}


def _yaml(names: list[str]) -> str:
    lines = ["trainer:", "  callbacks:"]
    for name in names:
        lines.append(f"    - class_path: {CALLBACKS[name]}")
        if name in INIT_ARGS:
            lines.append(f"      init_args: {INIT_ARGS[name]}")
    return "\n".join(lines) + "\n"


def _fit(tmp_path: Path, names: list[str], steps: int, *extra: str):
    config = tmp_path / "sota.yaml"
    config.write_text(_yaml(names))
    pack = ["--model.init_args.discriminator.init_args.pack=2"] if "Packing" in names else []
    return build_cli(
        [
            "fit",
            f"--config={CONFIGS / 'digits.yaml'}",
            f"--config={config}",
            f"--trainer.max_steps={steps}",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--data.init_args.batch_size=16",
            *pack,
            *extra,
        ]
    )


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


def test_all_of_them_together_from_yaml(tmp_path: Path) -> None:
    cli = _fit(tmp_path, list(CALLBACKS), 4)
    assert cli.model.d_steps == 2 and cli.model.g_steps == 2
    assert cli.model.discriminator.pack == 2
    names = [type(cb).__name__ for cb in cli.trainer.callbacks]
    assert all(name in names for name in CALLBACKS)
    metrics = cli.trainer.callback_metrics
    for key in SIGNALS.values():
        assert key in metrics and torch.isfinite(metrics[key]), key
    # PacGAN as published: batch_size 16 = 16 packs of 2; k = max(floor(0.99 * 16), 8) at g step 1
    assert metrics["topk/k"] == 15


@pytest.mark.parametrize("name", list(CALLBACKS))
def test_a_conditional_gan_trains_with_each(name: str, tmp_path: Path) -> None:
    cli = _fit(
        tmp_path,
        [name],
        2,
        "--model.init_args.num_classes=10",
        "--model.init_args.generator.init_args.num_classes=10",
        "--model.init_args.discriminator.init_args.num_classes=10",
    )
    assert cli.model.num_classes == 10
    assert cli.model.d_steps == 1 and cli.model.g_steps == 1
    metrics = cli.trainer.callback_metrics
    assert torch.isfinite(metrics["loss/d"]) and torch.isfinite(metrics["loss/g"])
    if name in SIGNALS:
        assert torch.isfinite(metrics[SIGNALS[name]])


@pytest.mark.parametrize("name", ["digits_diffaugment", "digits_ada", "ring_pacgan"])
def test_example_configs_train(name: str, tmp_path: Path) -> None:
    cli = build_cli(
        [
            "fit",
            f"--config={CONFIGS / f'{name}.yaml'}",
            "--trainer.max_steps=4",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--data.init_args.batch_size=16",
        ]
    )
    assert cli.model.d_steps == 2 and cli.model.g_steps == 2
    expected = {"digits_diffaugment": "penalty/lecam", "digits_ada": "ada/p"}.get(name)
    if expected is not None:
        assert torch.isfinite(cli.trainer.callback_metrics[expected])
    else:
        assert cli.model.discriminator.pack == 2
