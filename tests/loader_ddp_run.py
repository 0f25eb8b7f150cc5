"""Record the batches each DDP rank trains on; optionally stop mid-epoch, or resume.

usage: python tests/loader_ddp_run.py OUT_DIR full|head|tail
2 CPU processes (gloo). `head` checkpoints at global step STOP (mid-epoch 2) and stops, `tail`
resumes from it; every rank writes OUT_DIR/<mode>_<rank>.json. tests/test_data.py compares
head + tail with full.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan.data import shuffled_loader  # noqa: E402

warnings.filterwarnings("ignore")
N, BATCH, MAX_STEPS, STOP = 40, 4, 20, 7  # 5 batches per rank per epoch: stops in epoch 2


class RecordBatches(L.LightningModule):
    def __init__(self, out: Path, mode: str) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.out, self.mode = out, mode
        self.seen: list = []

    def training_step(self, batch, batch_idx):
        self.seen.append([self.current_epoch, batch[0].tolist()])
        return self.w.sum() * 0.0

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return shuffled_loader(TensorDataset(torch.arange(N)), BATCH)

    def on_train_end(self) -> None:
        path = self.out / f"{self.mode}_{self.global_rank}.json"
        path.write_text(json.dumps(self.seen))


class StopAt(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == STOP:
            trainer.save_checkpoint(self.out / "stop.ckpt")
            trainer.should_stop = True


def main(out: Path, mode: str) -> None:
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=MAX_STEPS,
        callbacks=[StopAt(out)] if mode == "head" else [],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    ckpt = out / "stop.ckpt" if mode == "tail" else None
    trainer.fit(RecordBatches(out, mode), ckpt_path=ckpt)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
    # Tear gloo down before the interpreter does: its threads dying at exit abort the
    # process now and then ("terminate called without an active exception").
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
