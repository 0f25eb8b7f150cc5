"""The `lightning-gan` CLI: configs parse, train, save configs, and rebuild from checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_gan import GAN
from lightning_gan.cli import build_cli

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def _fit(config: Path, root: Path, *extra: str):
    args = [
        "fit",
        f"--config={config}",
        "--trainer.max_steps=4",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.logger=false",
        "--trainer.accelerator=cpu",
        *extra,
    ]
    return build_cli(args)


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


@pytest.mark.parametrize(
    "name",
    [
        "ring",
        "grid",
        "digits",
        "stacked_mnist",
        "ring_best",
        "grid_best",
        "stacked_mnist_best",
        "mnist5k_best",
        "digits_diffaugment",
        "digits_ada",
        "ring_pacgan",
    ],
)
def test_every_example_config_trains(name: str, tmp_path: Path) -> None:
    cli = _fit(CONFIGS / f"{name}.yaml", tmp_path, "--data.init_args.batch_size=8")
    assert cli.trainer.global_step == 4
    assert cli.model.d_steps == 2 and cli.model.g_steps == 2


def test_overrides_reach_the_module_and_networks(tmp_path: Path) -> None:
    cli = _fit(
        CONFIGS / "ring.yaml",
        tmp_path,
        "--model.init_args.loss=hinge",
        "--model.init_args.n_critic=3",
        "--model.init_args.generator.init_args.hidden=16",
    )
    assert cli.model.loss_fn.name == "hinge" and cli.model.n_critic == 3
    assert cli.model.generator.net[0].out_features == 16


def test_checkpoint_from_the_cli_rebuilds_its_networks(tmp_path: Path) -> None:
    cli = _fit(CONFIGS / "ring.yaml", tmp_path, "--trainer.enable_checkpointing=true")
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    loaded = GAN.load_from_checkpoint(checkpoint)  # no networks passed: rebuilt from config
    for a, b in zip(loaded.parameters(), cli.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_unknown_option_fails_with_the_valid_keys(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        _fit(CONFIGS / "ring.yaml", tmp_path, "--model.init_args.n_critics=3")
    assert "n_critics" in capsys.readouterr().err


def test_bad_value_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_critic must be an integer >= 1"):
        _fit(CONFIGS / "ring.yaml", tmp_path, "--model.init_args.n_critic=0")
    assert not list(tmp_path.rglob("*.ckpt"))


def test_console_script_prints_config() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_gan.cli",
            "fit",
            f"--config={CONFIGS / 'ring.yaml'}",
            "--print_config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "class_path: lightning_gan.MLPGenerator" in out.stdout
    assert "layout: ring" in out.stdout


CALLBACKS_YAML = """
trainer:
  callbacks:
    - class_path: lightning_gan.callbacks.InstanceNoise
      init_args: {std: 0.1, anneal_steps: 100}
    - class_path: lightning_gan.callbacks.GradientPenalty
      init_args: {weight: 1.0}
    - class_path: lightning_gan.callbacks.R1Penalty
      init_args: {gamma: 0.1, interval: 2}
    - class_path: lightning_gan.callbacks.WeightPenalty
      init_args: {weight: 0.0001}
    - class_path: lightning_gan.callbacks.SpectralNorm
    - class_path: lightning_gan.callbacks.GeneratorEMA
      init_args: {decay: 0.9}
    - class_path: lightning_gan.callbacks.UnrolledDiscriminator
      init_args: {steps: 1}
    - class_path: lightning_gan.callbacks.GANHealth
      init_args: {every_n_steps: 2, warmup_steps: 0}
    - class_path: lightning_gan.callbacks.ModeCoverageCallback
      init_args: {every_n_steps: 2, n_samples: 200}
"""


def test_every_remedy_and_instrument_works_from_yaml(tmp_path: Path) -> None:
    extra = tmp_path / "callbacks.yaml"
    extra.write_text(CALLBACKS_YAML)
    cli = _fit(CONFIGS / "ring.yaml", tmp_path, f"--config={extra}")
    metrics = cli.trainer.callback_metrics
    for key in ("noise/std", "penalty/gp", "penalty/r1", "penalty/weight", "coverage/modes"):
        assert key in metrics and torch.isfinite(metrics[key]), key
    assert metrics["noise/std"] < 0.1  # annealing has started
    first_layer = cli.model.discriminator.net[0]
    assert hasattr(first_layer, "parametrizations")  # spectral norm applied
    ema = cli.model.sampling_generator()
    assert ema is not cli.model.generator
    assert not torch.equal(next(ema.parameters()), next(cli.model.generator.parameters()))


def test_weight_clipping_from_yaml(tmp_path: Path) -> None:
    extra = tmp_path / "clip.yaml"
    extra.write_text(
        "trainer:\n  callbacks:\n    - class_path: lightning_gan.callbacks.WeightClipping\n"
        "      init_args: {clip: 0.01}\n"
    )
    cli = _fit(
        CONFIGS / "ring.yaml", tmp_path, f"--config={extra}", "--model.init_args.loss=wasserstein"
    )
    assert max(p.abs().max().item() for p in cli.model.discriminator.parameters()) <= 0.01


def test_checkpoints_load_weights_only_and_hold_no_secret(tmp_path: Path, monkeypatch) -> None:
    secret = "wandb-secret-key-0123456789abcdef0123456789"
    monkeypatch.setenv("WANDB_API_KEY", secret)
    extra = tmp_path / "callbacks.yaml"
    extra.write_text(CALLBACKS_YAML)
    args = [
        f"--config={extra}",
        "--trainer.enable_checkpointing=true",
        "--trainer.logger=lightning.pytorch.loggers.WandbLogger",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.logger.init_args.offline=true",
    ]
    cli = build_cli(
        [
            "fit",
            f"--config={CONFIGS / 'ring.yaml'}",
            "--trainer.max_steps=4",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            *args,
        ]
    )
    import wandb

    wandb.finish()
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    state = torch.load(checkpoint, weights_only=True)
    assert state["gan_steps"] == {"d_steps": 2, "g_steps": 2}
    assert any("GeneratorEMA" in key for key in state["callbacks"])
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in written) and len(written) > 5
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    assert cli.trainer.global_step == 4
