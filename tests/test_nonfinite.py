"""An injected NaN never reaches the weights or a checkpoint, whatever `nonfinite` says."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.module import NonFiniteError
from tests.helpers import flat_params, quiet_trainer, tiny_gan

BATCH, POISONED = 16, 3  # the 4th batch holds a NaN


def _poisoned_loader() -> DataLoader:
    data = torch.randn(8 * BATCH, 2, generator=torch.Generator().manual_seed(0))
    data[POISONED * BATCH + 5, 1] = float("nan")
    return DataLoader(TensorDataset(data), batch_size=BATCH)


class WeightsAt(ModelCheckpoint):
    """Saves every step and remembers the D weights after each batch."""

    def __init__(self, dirpath) -> None:
        super().__init__(dirpath=dirpath, every_n_train_steps=1, save_top_k=-1)
        self.history: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self.history.append(flat_params(pl_module.discriminator))
        super().on_train_batch_end(trainer, pl_module, *args)


def _fit(nonfinite: str, tmp_path, max_steps: int = 16):
    gan = tiny_gan(nonfinite=nonfinite)
    recorder = WeightsAt(tmp_path)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=[recorder], enable_checkpointing=True)
    return gan, recorder, trainer


def _all_checkpoints_finite(tmp_path) -> int:
    paths = list(tmp_path.glob("*.ckpt"))
    for path in paths:
        state = torch.load(path, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values()), path
    return len(paths)


def test_stop_skips_the_bad_update_and_ends_cleanly(tmp_path) -> None:
    gan, recorder, trainer = _fit("stop", tmp_path)
    with pytest.warns(UserWarning, match="Non-finite discriminator gradients"):
        trainer.fit(gan, _poisoned_loader())
    assert gan.d_steps == POISONED + 1 and gan.nonfinite_skips == 1
    assert torch.equal(recorder.history[-1], recorder.history[-2])  # D unchanged by bad batch
    assert torch.isfinite(flat_params(gan)).all()
    assert _all_checkpoints_finite(tmp_path) >= POISONED


def test_skip_drops_only_the_bad_update(tmp_path) -> None:
    gan, recorder, trainer = _fit("skip", tmp_path)
    trainer.fit(gan, _poisoned_loader())
    # A dropped update is not an optimizer step, so max_steps=16 takes one batch more.
    assert gan.d_steps == 9 and gan.nonfinite_skips == 1
    assert torch.equal(recorder.history[POISONED], recorder.history[POISONED - 1])
    assert not torch.equal(recorder.history[POISONED + 1], recorder.history[POISONED])
    assert trainer.callback_metrics["nonfinite/skipped"] == 1.0
    assert _all_checkpoints_finite(tmp_path) > 0


def test_raise_names_the_fix_and_keeps_the_last_good_checkpoint(tmp_path) -> None:
    gan, _, trainer = _fit("raise", tmp_path)
    with pytest.raises(NonFiniteError, match="real data holds NaN.*clean the dataset"):
        trainer.fit(gan, _poisoned_loader())
    assert _all_checkpoints_finite(tmp_path) == POISONED  # one per batch before the fault


def test_off_lets_nan_in_but_no_checkpoint_is_written_with_it(tmp_path) -> None:
    gan, _, trainer = _fit("off", tmp_path)
    with pytest.raises(NonFiniteError, match="Refusing to write a checkpoint"):
        trainer.fit(gan, _poisoned_loader())
    assert not torch.isfinite(flat_params(gan.discriminator)).all()
    assert _all_checkpoints_finite(tmp_path) > 0


def test_unknown_action_is_rejected() -> None:
    with pytest.raises(ValueError, match="use one of stop, skip, raise, off"):
        tiny_gan(nonfinite="ignore")


def test_skip_stops_a_run_whose_every_update_is_skipped(monkeypatch) -> None:
    """`skip` is for rare bad batches: data that is NaN throughout would otherwise "train" a
    frozen D to the end. The run stops after SKIP_STREAK_LIMIT skipped updates in a row, and
    the warning names the data as the cause."""
    import lightning_gan.step.nonfinite as nonfinite

    monkeypatch.setattr(nonfinite, "SKIP_STREAK_LIMIT", 5)
    data = torch.full((40 * BATCH, 2), float("nan"))
    data[:BATCH] = 0.0  # a finite first batch: the input checks pass, then every batch is NaN
    gan = tiny_gan(nonfinite="skip")
    before = flat_params(gan.discriminator)
    with pytest.warns(UserWarning, match=r"NaN/inf.*last 5 discriminator updates in a row"):
        quiet_trainer(max_steps=200).fit(gan, DataLoader(TensorDataset(data), batch_size=BATCH))
    assert gan.d_steps == 1 + 5  # one good step, then five skipped ones, then the stop
    assert not torch.equal(before, flat_params(gan.discriminator))  # the good step applied
    assert torch.isfinite(flat_params(gan)).all()


def test_skip_forgives_isolated_bad_batches(monkeypatch) -> None:
    import lightning_gan.step.nonfinite as nonfinite

    monkeypatch.setattr(nonfinite, "SKIP_STREAK_LIMIT", 2)
    data = torch.randn(20 * BATCH, 2, generator=torch.Generator().manual_seed(0))
    data[[3 * BATCH, 6 * BATCH, 9 * BATCH], 0] = float(
        "nan"
    )  # bad batches 3, 6, 9: never 2 in a row
    gan = tiny_gan(nonfinite="skip")
    trainer = quiet_trainer(max_steps=40)
    trainer.fit(gan, DataLoader(TensorDataset(data), batch_size=BATCH))
    assert trainer.global_step >= 40 and gan.nonfinite_skips >= 3  # ran to the end
