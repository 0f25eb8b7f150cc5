"""Bad input on the CLI's fault paths: checkpoints to resume from, non-finite values from YAML.

Each case is what a user types after a crash or in a hurried config; each must stop before any
weight changes with a message that names the fix, and leave the run's checkpoints intact.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lightning_gan.cli import build_cli

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


def _fit(root: Path, *extra: str, config: Path = CONFIGS / "ring.yaml"):
    return build_cli(
        [
            "fit",
            f"--config={config}",
            "--trainer.max_steps=4",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.logger=false",
            "--trainer.accelerator=cpu",
            "--data.init_args.batch_size=8",
            *extra,
        ]
    )


def _yaml(tmp_path: Path, body: str) -> Path:
    """A second config file: LightningCLI merges it over the ring config given first."""
    path = tmp_path / "override.yaml"
    path.write_text(body)
    return path


def _ckpt(root: Path) -> Path:
    """A complete 4-step checkpoint of the ring config under ``root``."""
    _fit(root)
    (path,) = root.rglob("*.ckpt")
    return path


def _with_yaml(tmp_path: Path, body: str):
    return _fit(tmp_path, f"--config={_yaml(tmp_path, body)}")


def _roth(gamma: str) -> str:
    return (
        "trainer:\n  callbacks:\n  - class_path: lightning_gan.callbacks.RothPenalty\n"
        f"    init_args:\n      gamma: {gamma}\n"
    )


def _not_a_checkpoint(tmp_path: Path):
    path = tmp_path / "notes.ckpt"
    path.write_text("hello")
    return _fit(tmp_path / "resume", f"--ckpt_path={path}")


def _truncated(tmp_path: Path) -> tuple[Path, Path]:
    good = _ckpt(tmp_path / "run")
    bad = good.with_name("newer.ckpt")
    bad.write_bytes(good.read_bytes()[:4000])
    return good, bad


CASES: list[tuple[str, Callable[[Path], object], type[BaseException], str]] = [
    (
        "ckpt_path last with no checkpoint",
        lambda t: _fit(t / "empty", "--ckpt_path=last"),
        FileNotFoundError,
        r"no complete checkpoint.*start without --ckpt_path",
    ),
    (
        "ckpt_path on a truncated file",
        lambda t: _fit(t / "resume", f"--ckpt_path={_truncated(t)[1]}"),
        ValueError,
        r"cut short.*newest complete checkpoint in that folder is .*step=4",
    ),
    (
        "ckpt_path on a folder",
        lambda t: _fit(t / "resume", f"--ckpt_path={t}"),
        IsADirectoryError,
        r"is a folder: pass a checkpoint file inside it",
    ),
    (
        "ckpt_path on a missing file",
        lambda t: _fit(t / "resume", f"--ckpt_path={t / 'nope.ckpt'}"),
        FileNotFoundError,
        r"no such checkpoint file",
    ),
    (
        "ckpt_path on a file that is not a checkpoint",
        _not_a_checkpoint,
        ValueError,
        r"not a PyTorch checkpoint",
    ),
    (
        "NaN std in the data config",
        lambda t: _with_yaml(t, "data:\n  init_args:\n    std: .nan\n"),
        ValueError,
        r"std=nan must be a finite number > 0 \(e\.g\. std=0\.01",
    ),
    (
        "infinite radius in the data config",
        lambda t: _with_yaml(t, "data:\n  init_args:\n    radius: .inf\n"),
        ValueError,
        r"radius=inf must be a finite number > 0",
    ),
    (
        "unknown non-finite policy",
        lambda t: _fit(t, "--model.init_args.nonfinite=maybe"),
        ValueError,
        r"nonfinite='maybe' is unknown: use one of stop, skip, raise, off",
    ),
    (
        "zero batch size",
        lambda t: _fit(t, "--data.init_args.batch_size=0"),
        ValueError,
        r"batch_size=0 must be at least 1",
    ),
    (
        "negative Roth weight from YAML",
        lambda t: _with_yaml(t, _roth("-1.0")),
        ValueError,
        r"gamma",
    ),
    (
        "NaN Roth weight from YAML",
        lambda t: _with_yaml(t, _roth(".nan")),
        ValueError,
        r"gamma",
    ),
]


@pytest.mark.parametrize(("name", "run", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_on_the_cli_stops_with_the_fix(
    tmp_path: Path, name: str, run, error: type[BaseException], match: str
) -> None:
    with pytest.raises(error, match=match):
        run(tmp_path)
    # Nothing was trained: no checkpoint written outside the helper runs of the case itself.
    written = [p for p in tmp_path.rglob("*.ckpt") if "resume" in p.parts or p.parent == tmp_path]
    written = [p for p in written if p.name != "notes.ckpt"]
    assert written == [], written


def test_ckpt_path_last_resumes_past_a_truncated_newest_file(tmp_path: Path) -> None:
    """``--ckpt_path last`` over a run whose newest file a crash cut short: it warns, names the
    file, and resumes from the newest complete one."""
    good, bad = _truncated(tmp_path)
    with pytest.warns(UserWarning, match="Skipping checkpoint.*newer.ckpt"):
        cli = _fit(tmp_path / "run", "--ckpt_path=last", "--trainer.max_steps=8")
    assert cli.trainer.global_step == 8
    assert torch.load(good, weights_only=False)["global_step"] == 4  # the good one is intact


def test_real_images_in_0_1_with_a_minus_1_1_range_warn_naming_the_setting() -> None:
    """Images that never go below 0 given to a metric told (-1, 1): a warning naming the fix
    (not an error: the values are inside the range)."""
    from lightning_gan.metrics.evaluator import FeatureEvaluator

    evaluator = FeatureEvaluator("digits", ("fid",))
    images = torch.rand(16, 1, 8, 8)  # ToTensor-style [0, 1] digits
    with pytest.warns(UserWarning, match=r"look scaled to \[0, 1\].*data_range=\(0, 1\)"):
        evaluator.check_images(images)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluator.check_images(images * 2 - 1)  # the right range: silent
