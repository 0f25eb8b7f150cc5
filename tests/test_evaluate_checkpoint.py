"""Evaluate and sample a trained GAN from its checkpoint: `lightning-gan validate|test|predict`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from lightning_gan import GAN, CheckpointEvaluation, GeneratorEMA
from lightning_gan.cli import build_cli
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.logger=false"]


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


def _fit(config: str, root: Path, steps: int, *extra: str):
    cli = build_cli(
        [
            "fit",
            f"--config={CONFIGS / config}",
            f"--trainer.max_steps={steps}",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_checkpointing=true",
            *QUIET,
            *extra,
        ]
    )
    (checkpoint,) = root.rglob("*.ckpt")
    return cli, checkpoint


def _run(subcommand: str, config: str, checkpoint: Path, root: Path, *extra: str):
    return build_cli(
        [
            subcommand,
            f"--config={CONFIGS / config}",
            f"--ckpt_path={checkpoint}",
            f"--trainer.default_root_dir={root}",
            *QUIET,
            *extra,
        ]
    )


def _evaluation(cli) -> CheckpointEvaluation:
    return next(cb for cb in cli.trainer.callbacks if isinstance(cb, CheckpointEvaluation))


def test_test_on_a_ring_checkpoint_gives_the_training_coverage_numbers(tmp_path, capsys) -> None:
    coverage = [
        "--trainer.callbacks+=lightning_gan.ModeCoverageCallback",
        "--trainer.callbacks.every_n_steps=30",
        "--trainer.callbacks+=lightning_gan.GeneratorEMA",
        "--trainer.callbacks.decay=0.9",
    ]
    fit, checkpoint = _fit("ring.yaml", tmp_path, 60, *coverage)  # 30 batches: g_steps 30
    trained = next(cb for cb in fit.trainer.callbacks if hasattr(cb, "history")).history[-1]
    assert trained["step"] == 30
    cli = _run("test", "ring.yaml", checkpoint, tmp_path)
    results = _evaluation(cli).results
    for key in ("coverage/modes", "coverage/hq_fraction", "coverage/kl"):
        assert results[key] == pytest.approx(trained[key], abs=1e-9), key
    printed = capsys.readouterr().out
    assert "coverage/modes" in printed and "coverage/hq_fraction" in printed  # Lightning's table


def test_validate_on_a_digits_checkpoint_reports_the_feature_metrics(tmp_path) -> None:
    _, checkpoint = _fit("digits.yaml", tmp_path, 20, "--data.init_args.batch_size=32")
    cli = _run("validate", "digits.yaml", checkpoint, tmp_path, "--n=400")
    results = _evaluation(cli).results
    for key in (
        "eval/fid",
        "eval/kid_mean",
        "eval/precision",
        "eval/recall",
        "eval/density",
        "eval/coverage",
    ):
        assert key in results and results[key] == results[key], key  # present and not NaN
    assert results["eval/fid"] > 0 and 0 <= results["eval/recall"] <= 1
    assert cli.trainer.callback_metrics["eval/fid"] == pytest.approx(results["eval/fid"])


def test_test_with_metrics_flag_prints_the_real_vs_real_row(tmp_path, capsys) -> None:
    """Issue 21: `--metrics` picks the metrics; a 20-step generator (noise-like samples) gets
    precision ~0 in the digit space, printed beside real vs real (which scores >= 0.8)."""
    _, checkpoint = _fit("digits.yaml", tmp_path, 20, "--data.init_args.batch_size=32")
    cli = _run(
        "test", "digits.yaml", checkpoint, tmp_path, "--n=400", "--metrics=fid,precision,recall"
    )
    evaluation = _evaluation(cli)
    image_keys = {k for k in evaluation.results if not k.startswith("eval/real_vs_real/")}
    assert image_keys == {"eval/fid", "eval/precision", "eval/recall"}
    assert evaluation.results["eval/precision"] <= 0.05
    assert evaluation.baseline["precision"] >= 0.8 and evaluation.baseline["recall"] >= 0.8
    printed = capsys.readouterr().out
    assert "real vs real" in printed and "features: digits" in printed
    assert "KID" not in evaluation.table  # only what --metrics asked for


def test_predict_writes_a_picture_and_the_samples(tmp_path) -> None:
    _, checkpoint = _fit("ring_conditional.yaml", tmp_path, 20)
    out = tmp_path / "samples"
    _run("predict", "ring_conditional.yaml", checkpoint, tmp_path, "--n=800", f"--out_dir={out}")
    saved = torch.load(out / "samples.pt")
    assert saved["samples"].shape == (800, 2)
    assert saved["labels"].tolist() == (torch.arange(800) % 8).tolist()
    assert (out / "samples.png").stat().st_size > 1000
    again = tmp_path / "again"
    _run("predict", "ring_conditional.yaml", checkpoint, tmp_path, "--n=800", f"--out_dir={again}")
    assert torch.equal(torch.load(again / "samples.pt")["samples"], saved["samples"])


def test_predict_on_images_writes_a_grid(tmp_path) -> None:
    _, checkpoint = _fit("digits.yaml", tmp_path, 4, "--data.init_args.batch_size=16")
    _run("predict", "digits.yaml", checkpoint, tmp_path, "--n=16", f"--out_dir={tmp_path}")
    assert torch.load(tmp_path / "samples.pt")["samples"].shape == (16, 1, 8, 8)
    assert (tmp_path / "samples.png").exists()


def test_loaded_checkpoint_samples_with_the_ema_generator(tmp_path) -> None:
    gan, ema = tiny_gan(), GeneratorEMA(decay=0.5)
    trainer = quiet_trainer(max_steps=20, callbacks=[ema])
    trainer.fit(gan, ring_data())
    trainer.save_checkpoint(tmp_path / "ema.ckpt")
    raw = tiny_gan()
    loaded = GAN.load_from_checkpoint(
        tmp_path / "ema.ckpt", generator=raw.generator, discriminator=raw.discriminator
    )
    assert torch.equal(flat_params(loaded.sampling_generator()), flat_params(ema.ema_generator))
    assert not torch.equal(flat_params(loaded.sampling_generator()), flat_params(loaded.generator))
    torch.manual_seed(0)
    expected = ema.ema_generator(torch.randn(5, 4))
    torch.manual_seed(0)
    assert torch.allclose(loaded.sample(5), expected)


def test_evaluation_without_anything_to_compute_names_the_fix() -> None:
    evaluation = CheckpointEvaluation(features="none", coverage=False)
    with pytest.raises(ValueError, match="features='inception'"):
        quiet_trainer(callbacks=[evaluation]).test(tiny_gan(), ring_data())
