"""Train a tiny GAN on fixed batches, on 1 process or 2 (gloo), and save each rank's weights.

Run by tests/test_ddp.py in a subprocess (Lightning's popen launcher re-executes this script for
rank 1). Latents come from a fixed table indexed by the sample ids in the batch, so a 2-process
run and a 1-process run over the same global batches see the same latents and data.

usage: python tests/ddp_run.py OUT_DIR STRATEGY DEVICES BATCH [callbacks|conditional]
(BATCH is per rank; global for 1 device.) With `callbacks`, every stateful remedy and
instrument is attached and the run saves what each rank ends with; with `conditional` the GAN
and its networks are class-conditional (2 classes: sample id modulo 2).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_gan import GAN, MLPDiscriminator, MLPGenerator  # noqa: E402

warnings.filterwarnings("ignore")
N_SAMPLES, LATENT, BATCHES = 256, 4, 8


class IndexedLatentGAN(GAN):
    """Latents looked up by sample id: identical whether a batch is split over ranks or not."""

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__(
            MLPGenerator(latent_dim=LATENT, out_dim=2, hidden=16, depth=2, num_classes=num_classes),
            MLPDiscriminator(in_dim=2, hidden=16, depth=2, num_classes=num_classes),
            lr_g=1e-2,
            lr_d=1e-2,
            num_classes=num_classes,
        )
        table = torch.randn(2, N_SAMPLES, LATENT, generator=torch.Generator().manual_seed(1))
        self.register_buffer("z_table", table, persistent=False)
        self.first_random_latent: torch.Tensor | None = None

    def training_step(self, batch, batch_idx):
        self._ids, self._phase = batch[1], 0
        if self.first_random_latent is None:
            self.first_random_latent = torch.randn(LATENT)  # shows per-rank latent seeding
        return super().training_step(batch, batch_idx)

    def labels_from_batch(self, batch):
        return None if self.num_classes is None else batch[1] % self.num_classes

    def sample_latent(self, n: int) -> torch.Tensor:
        if self._phase >= 2:  # evaluation callbacks sampling outside the two step phases
            return super().sample_latent(n)
        z = self.z_table[self._phase][self._ids]
        self._phase += 1
        return z


def _global_batches(per_rank: int) -> list[list[int]]:
    """The union over 2 ranks of each step's batch under DistributedSampler(seed=0, epoch 0)."""
    order = torch.randperm(N_SAMPLES, generator=torch.Generator().manual_seed(0)).tolist()
    ranks = [order[0::2], order[1::2]]
    return [
        ranks[0][k * per_rank : (k + 1) * per_rank] + ranks[1][k * per_rank : (k + 1) * per_rank]
        for k in range(N_SAMPLES // (2 * per_rank))
    ]


def main() -> None:
    out, strategy, devices, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    L.seed_everything(0, verbose=False)
    data = torch.randn(N_SAMPLES, 2, generator=torch.Generator().manual_seed(2))
    dataset = TensorDataset(data, torch.arange(N_SAMPLES))
    if devices == 1:
        loader = DataLoader(dataset, batch_sampler=_global_batches(batch // 2))
    else:  # Lightning injects its DistributedSampler (shuffled, seed 0)
        loader = DataLoader(dataset, batch_size=batch)
    with_callbacks = sys.argv[5:] == ["callbacks"]
    conditional = sys.argv[5:] == ["conditional"]
    gan = IndexedLatentGAN(num_classes=2 if conditional else None)
    callbacks = _all_callbacks() if with_callbacks else []
    trainer = L.Trainer(
        callbacks=callbacks,
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        max_steps=2 * BATCHES,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(gan, loader)
    rank = trainer.global_rank
    weights = torch.cat([p.detach().reshape(-1) for p in gan.parameters()])
    result = {
        "weights": weights,
        "latent": gan.first_random_latent,
        "steps": [gan.d_steps, gan.g_steps],
    }
    if with_callbacks:
        result["ema"] = torch.cat([p.reshape(-1) for p in gan.sampling_generator().parameters()])
        result["metrics"] = {k: v.item() for k, v in trainer.callback_metrics.items()}
    suffix = "-callbacks" if with_callbacks else "-conditional" if conditional else ""
    torch.save(result, Path(out) / f"{strategy}-{devices}{suffix}-rank{rank}.pt")


def _all_callbacks() -> list[L.Callback]:
    from lightning_gan.callbacks import (
        GANHealth,
        GeneratorEMA,
        GradientPenalty,
        InstanceNoise,
        ModeCoverageCallback,
        R1Penalty,
        SpectralNorm,
        UnrolledDiscriminator,
    )
    from lightning_gan.metrics.mode_coverage import MixtureCoverage

    modes = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
    return [
        InstanceNoise(std=0.1, anneal_steps=50),
        GradientPenalty(weight=1.0),
        R1Penalty(gamma=1.0, interval=2),
        SpectralNorm(),
        GeneratorEMA(decay=0.9),
        UnrolledDiscriminator(steps=1),
        GANHealth(every_n_steps=2, warmup_steps=0),
        ModeCoverageCallback(
            every_n_steps=4, metric=MixtureCoverage(modes, std=0.5), n_samples=64, batch_size=32
        ),
    ]


if __name__ == "__main__":
    main()
    # Tear gloo down before the interpreter does: its threads dying at exit abort the
    # process now and then ("terminate called without an active exception").
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
