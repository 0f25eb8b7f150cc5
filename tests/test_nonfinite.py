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
