"""A user's own image folder on the first command, and a CLI that behaves like Lightning's.

The data decides the shapes (channels, image_size, num_classes inferred by ``ImageFolder`` and
linked to the GAN and its nets by the CLI); an explicit setting that contradicts the data fails
naming both values; ``strategy=ddp`` runs as ``gan_ddp``; skipped files are reported once; the
progress bar, the loggers' axis and the sample grids follow the run's optimizer steps.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lightning_gan import GAN, SampleLogger
from lightning_gan.cli import build_cli
from lightning_gan.data import ImageFolder
from lightning_gan.data.image_folder import infer_channels, infer_image_size
from lightning_gan.data_links import DataShapeConflict
from tests.helpers import quiet_trainer, ring_data, tiny_gan

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])


def _digit_folder(root: Path, classes: int = 3, per_class: int = 30) -> Path:
    """Greyscale 28x28 PNGs in class subfolders, plus one text file that is not an image."""
    rng = np.random.default_rng(0)
    for k in range(classes):
        (root / str(k)).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(
                root / str(k) / f"{i}.png"
            )
    (root / "1" / "notes.txt").write_text("not an image")
    return root


def _fit(config: str, root: Path, out: Path, *extra: str):
    return build_cli(
        [
            "fit",
            f"--config={CONFIGS / config}",
            f"--data.init_args.root={root}",
            "--trainer.max_steps=4",
            f"--trainer.default_root_dir={out}",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("config", "classes"), [("image_folder.yaml", None), ("image_folder_conditional.yaml", 3)]
)
def test_shipped_configs_train_on_a_greyscale_folder_given_only_its_root(
    tmp_path: Path, caplog, config: str, classes: int | None
) -> None:
    root = _digit_folder(tmp_path / "digits")
    # Lightning's logger by name: a benchmark run earlier in the session may have set it to ERROR.
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        _fit(config, root, tmp_path / "run")
    log = caplog.text
    (checkpoint,) = (tmp_path / "run").rglob("*.ckpt")
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    labels = None if classes is None else torch.arange(2) % classes
    assert gan.sample(2, labels=labels).shape == (2, 1, 28, 28)
    assert gan.num_classes == classes
    assert gan.generator.num_classes == gan.discriminator.num_classes == classes
    assert log.count("Skipped 1 file that is not an image: 1/notes.txt") == 1
    assert "trained as greyscale 28x28" in log
    assert "GPU available" in log and "Tip:" not in log  # only the promotions are silenced


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            "--model.init_args.num_classes=5",
            r"model.init_args.num_classes=5 contradicts the data: ImageFolder has 3 classes "
            r"\(0, 1, 2\).*remove model.init_args.num_classes",
        ),
        (
            "--model.init_args.generator.init_args.channels=3",
            r"generator.init_args.channels=3 contradicts the data: ImageFolder gives channels=1"
            r".*data.init_args.channels=3 to convert the images",
        ),
        (
            "--model.init_args.discriminator.init_args.image_size=32",
            r"image_size=32 contradicts the data: ImageFolder gives image_size=28"
            r".*data.init_args.image_size=32",
        ),
    ],
)
def test_an_explicit_setting_that_contradicts_the_data_names_both_values(
    tmp_path: Path, override: str, match: str
) -> None:
    root = _digit_folder(tmp_path / "digits")
    args = [f"--config={CONFIGS / 'image_folder.yaml'}", f"--data.init_args.root={root}"]
    with pytest.raises(DataShapeConflict, match=match):
        build_cli([*args, override], run=False)
    # the same value as the data's is accepted: older configs that spell shapes out still run
    cli = build_cli([*args, "--model.init_args.generator.init_args.channels=1"], run=False)
    assert cli.model.generator.channels == 1 and cli.model.num_classes is None


def test_links_are_listed_in_help(capsys) -> None:
    with pytest.raises(SystemExit):
        build_cli(["fit", "--help"])
    out = capsys.readouterr().out
    for target in ("generator.init_args.channels", "discriminator.init_args.image_size"):
        assert f"--> model.init_args.{target}" in out
    assert "data_num_classes(data) --> model.init_args.num_classes" in out


def test_channels_and_size_rules(tmp_path: Path) -> None:
    grey = [tmp_path / f"g{i}.png" for i in range(3)]
    for i, path in enumerate(grey):
        Image.new("L", (64, 48) if i else (20, 20)).save(path)
    rgba = tmp_path / "c.png"
    Image.new("RGBA", (64, 48)).save(rgba)
    files = [str(p) for p in grey]
    assert infer_channels(files) == 1
    assert infer_channels([*files, str(rgba)]) == 3  # one colour image makes the folder RGB
    # most common size 64x48: shorter side 48, rounded down to the nets' 32
    size, why = infer_image_size([*files, str(rgba)])
    assert size == 32 and "most common size 64x48 (3 of 4" in why
    assert infer_image_size(files[:1])[0] == 8  # 20 px: the largest net size below it
    assert infer_image_size([str(p) for p in grey[:1]] * 2, sizes=(8, 20, 32))[0] == 20


def test_test_split_is_distinct_stratified_seeded_and_used_by_test(tmp_path: Path) -> None:
    root = _digit_folder(tmp_path / "digits", classes=2, per_class=20)

    def folder(seed: int) -> ImageFolder:
        dm = ImageFolder(root, batch_size=4, val_fraction=0.1, test_fraction=0.2, seed=seed)
        dm.setup()
        return dm

    dm = folder(0)
    train, val, test = (set(d.indices) for d in (dm.train_dataset, dm.val_dataset, dm.test_dataset))
    assert (len(train), len(val), len(test)) == (28, 4, 8)
    assert not train & val and not train & test and not val & test
    labels = dm.train_dataset.dataset.labels
    assert labels[sorted(test)].bincount().tolist() == [4, 4]  # stratified by class
    assert labels[sorted(val)].bincount().tolist() == [2, 2]
    assert set(folder(0).test_dataset.indices) == test  # fixed by the seed
    assert set(folder(1).test_dataset.indices) != test
    assert (dm.evaluation_split("validate"), dm.evaluation_split("test")) == ("validation", "test")
    assert torch.cat([y for _, y in dm.test_dataloader()]).tolist() == labels[sorted(test)].tolist()
    only_val = ImageFolder(root, batch_size=4, val_fraction=0.1)
    assert only_val.evaluation_split("test") == "validation"  # the table can say which split


def test_progress_bar_counts_the_runs_optimizer_steps_across_epochs_and_resume(
    tmp_path: Path,
) -> None:
    def trainer(max_steps: int):
        return quiet_trainer(
            max_steps=max_steps,
            enable_progress_bar=True,
            enable_checkpointing=True,
            default_root_dir=tmp_path,
            logger=False,
        )

    first = trainer(40)  # 256 samples / 64 = 4 batches an epoch: the run spans 5 epochs
    first.fit(tiny_gan(), ring_data(n_samples=256, batch_size=64))
    bar = first.progress_bar_callback.train_progress_bar
    assert (bar.n, bar.total, bar.unit) == (40, 40, "step")
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    resumed = trainer(60)
    resumed.fit(tiny_gan(), ring_data(n_samples=256, batch_size=64), ckpt_path=checkpoint)
    bar = resumed.progress_bar_callback.train_progress_bar
    # the rate and time left count this session's 20 steps, not the 40 restored
    assert (bar.initial, bar.n, bar.total) == (40, 60, 60)


def test_metrics_images_and_checkpoints_share_the_optimizer_step_axis(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path, name="run")
    trainer = quiet_trainer(
        max_steps=20,
        logger=logger,
        log_every_n_steps=5,
        enable_checkpointing=True,
        default_root_dir=tmp_path,
        callbacks=[SampleLogger(every_n_steps=5, n_samples=16)],
    )
    trainer.fit(tiny_gan(), ring_data(n_samples=512))
    with open(Path(logger.log_dir) / "metrics.csv") as f:
        steps = sorted({int(row["step"]) for row in csv.DictReader(f)})
    assert steps == [10, 20]  # batches 5 and 10, at 2 optimizer steps per batch
    pictures = sorted(p.name for p in (Path(logger.log_dir) / "samples").glob("*.png"))
    assert pictures == ["samples_step0000010.png", "samples_step0000020.png"]
    assert [p.name for p in tmp_path.rglob("*.ckpt")] == ["epoch=1-step=20.ckpt"]


def _ddp_fit(out: Path, strategy: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "NODE_RANK"))}
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "GROUP_RANK"):
        env.pop(key, None)
    script = shutil.which("lightning-gan")
    command = [sys.executable, script] if script else [sys.executable, "-m", "lightning_gan.cli"]
    return subprocess.run(
        [
            *command,
            "fit",
            f"--config={CONFIGS / 'ring.yaml'}",
            f"--trainer.strategy={strategy}",
            "--trainer.devices=2",
            "--trainer.accelerator=cpu",
            "--trainer.max_steps=8",
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={out}",
            "--data.init_args.batch_size=32",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_strategy_ddp_from_the_cli_runs_as_gan_ddp_with_the_same_weights(tmp_path: Path) -> None:
    ddp = _ddp_fit(tmp_path / "ddp", "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    reference = _ddp_fit(tmp_path / "gan_ddp", "gan_ddp")
    assert reference.returncode == 0, reference.stderr[-3000:]
    output = ddp.stdout + ddp.stderr
    assert output.count("strategy='ddp' runs as 'gan_ddp'") == 1  # rank 0 only
    assert "Traceback" not in output
    (a,) = (tmp_path / "ddp").rglob("*.ckpt")
    (b,) = (tmp_path / "gan_ddp").rglob("*.ckpt")
    weights_a = torch.load(a, map_location="cpu", weights_only=False)["state_dict"]
    weights_b = torch.load(b, map_location="cpu", weights_only=False)["state_dict"]
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key
