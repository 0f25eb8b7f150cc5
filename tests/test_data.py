"""Datamodules: mixtures match the VEEGAN/PacGAN protocol; image sets have the right content;
the training loaders resume mid-epoch exactly."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import TensorDataset

from lightning_gan.data import (
    Digits,
    GaussianMixture,
    MNIST5k,
    ResumableDataLoader,
    StackedMNIST,
    load_mnist5k,
    shuffled_loader,
)
from tests.helpers import quiet_trainer


def _pairwise_min(points: torch.Tensor) -> float:
    d = torch.cdist(points, points)
    d.fill_diagonal_(float("inf"))
    return d.min().item()


def test_ring_has_eight_distinct_centres_at_angles_2pi_k_over_8() -> None:
    dm = GaussianMixture("ring")
    assert dm.modes.shape == (8, 2) and dm.dim == 2 and dm.std == 0.01
    assert torch.allclose(dm.modes.norm(dim=1), torch.ones(8), atol=1e-6)
    assert _pairwise_min(dm.modes) > 0.7
    angles = torch.tensor([2 * math.pi * k / 8 for k in range(8)])
    expected = torch.stack([angles.cos(), angles.sin()], dim=1)
    assert torch.allclose(dm.modes, expected, atol=1e-6)


def test_grid_has_25_centres_on_the_pm4_lattice() -> None:
    dm = GaussianMixture("grid")
    assert dm.modes.shape == (25, 2) and dm.std == 0.05
    assert _pairwise_min(dm.modes) > 1.9
    got = {tuple(round(v) for v in row) for row in dm.modes.tolist()}
    lattice = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert got == lattice
    assert torch.allclose(dm.modes, dm.modes.round())


@pytest.mark.parametrize("layout", ["ring", "grid"])
def test_samples_have_configured_std_and_nearest_centre_ids(layout: str) -> None:
    dm = GaussianMixture(layout, n_samples=50_000)
    dm.setup()
    x, mode = dm.dataset.tensors
    assert x.dtype == torch.float32 and x.shape == (50_000, 2)
    assert mode.dtype == torch.int64
    assert torch.equal(torch.cdist(x, dm.modes).argmin(dim=1), mode)
    assert mode.bincount(minlength=dm.n_modes).min() > 0
    for k in range(dm.n_modes):
        std = (x[mode == k] - dm.modes[k]).std(dim=0)
        assert torch.all((std - dm.std).abs() < 0.1 * dm.std), (k, std)


def test_seed_determines_data_and_global_rng_is_untouched() -> None:
    state = torch.get_rng_state()
    a, b, c = (GaussianMixture(n_samples=1000, seed=s) for s in (0, 0, 1))
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.dataset.tensors[0], b.dataset.tensors[0])
    assert not torch.equal(a.dataset.tensors[0], c.dataset.tensors[0])


def test_sample_and_dataloader() -> None:
    dm = GaussianMixture("grid", n_samples=1000, batch_size=64)
    x, mode = dm.sample(500, torch.Generator().manual_seed(3))
    assert x.shape == (500, 2) and mode.shape == (500,)
    assert torch.equal(torch.cdist(x, dm.modes).argmin(dim=1), mode)
    x2, _ = dm.sample(500, torch.Generator().manual_seed(3))
    assert torch.equal(x, x2)
    batches = list(dm.train_dataloader())
    assert len(batches) == 1000 // 64 and all(b[0].shape == (64, 2) for b in batches)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layout": "spiral"}, "layout='ring' or layout='grid'"),
        ({"n_modes": 0}, "n_modes >= 1"),
        ({"layout": "grid", "n_modes": 24}, "perfect-square.*such as 9, 16 or 25"),
        ({"std": 0.0}, "std=0.0 must be a finite number > 0"),
        ({"std": float("nan")}, "std=nan must be a finite number > 0"),
        ({"radius": float("inf")}, "radius=inf must be a finite number > 0"),
        ({"batch_size": 0}, "batch_size >= 1"),
    ],
)
def test_gaussian_mixture_rejects_bad_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize("cls", [Digits, MNIST5k, StackedMNIST])
def test_image_datamodules_reject_bad_batch_size(cls: type) -> None:
    with pytest.raises(ValueError, match="batch_size >= 1"):
        cls(batch_size=0)


def test_digits() -> None:
    dm = Digits(batch_size=32)
    dm.setup()
    x, y = dm.dataset.tensors
    assert x.shape == (1797, *dm.shape) and x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(dm.n_classes))
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (32, 1, 8, 8) and yb.shape == (32,)


@pytest.mark.parametrize("pad", [False, True])
def test_mnist5k(pad: bool) -> None:
    dm = MNIST5k(pad_to_32=pad)
    dm.setup()
    x, y = dm.dataset.tensors
    size = 32 if pad else 28
    assert dm.shape == (1, size, size) and x.shape == (5000, 1, size, size)
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert y.dtype == torch.int64 and torch.equal(y.bincount(), torch.full((10,), 500))
    if pad:
        assert torch.all(x[..., :2, :] == -1) and torch.all(x[..., :, -2:] == -1)
    assert load_mnist5k() is load_mnist5k()  # cached: reused by stacked MNIST and the classifier


@pytest.mark.parametrize("pad", [False, True])
def test_stacked_mnist_labels_match_stacked_digits(pad: bool) -> None:
    images, labels = load_mnist5k()
    dm = StackedMNIST(n_samples=200, pad_to_32=pad, batch_size=16)
    dm.setup()
    size = 32 if pad else 28
    assert dm.shape == (3, size, size) and dm.n_modes == 1000
    ds = dm.dataset
    for i in range(len(ds)):
        x, label = ds[i]
        assert x.shape == dm.shape
        a, b, c = ds.index[i].tolist()
        assert label.item() == 100 * labels[a] + 10 * labels[b] + labels[c]
        core = x[:, 2:30, 2:30] if pad else x
        for ch, src in enumerate((a, b, c)):
            assert torch.equal(core[ch], images[src, 0])
    assert torch.equal(ds.labels, torch.stack([ds[i][1] for i in range(len(ds))]))
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (16, *dm.shape) and yb.dtype == torch.int64


def test_stacked_mnist_covers_the_1000_modes_and_is_seeded() -> None:
    state = torch.get_rng_state()
    dm = StackedMNIST()
    dm.setup()
    assert torch.equal(torch.get_rng_state(), state)
    modes = dm.dataset.labels
    assert len(modes) == 50_000 and modes.min() >= 0 and modes.max() < 1000
    assert modes.unique().numel() > 990
    again = StackedMNIST()
    assert torch.equal(again.dataset.index, dm.dataset.index)
    assert not torch.equal(StackedMNIST(seed=1).dataset.index, dm.dataset.index)


def test_every_datamodule_exposes_num_classes() -> None:
    assert GaussianMixture("ring").num_classes == 8 and GaussianMixture("grid").num_classes == 25
    assert Digits().num_classes == MNIST5k().num_classes == 10
    assert StackedMNIST(n_samples=10).num_classes == 1000


# ----------------------------------------------------------------------- resumable loaders
def _replay_loader(dataset: TensorDataset, num_workers: int) -> ResumableDataLoader:
    return ResumableDataLoader(
        dataset,
        batch_size=8,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def _stateful_loader(dataset: TensorDataset, num_workers: int):
    return shuffled_loader(dataset, 8, num_workers)


def _ids(batches) -> list[list[int]]:
    return [b[0].tolist() for b in batches]


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("make", [_stateful_loader, _replay_loader], ids=["shuffled", "replay"])
def test_loader_resumed_mid_epoch_two_continues_that_epoch_and_the_next_exactly(
    make, num_workers: int
) -> None:
    dataset = TensorDataset(torch.arange(50))

    def build():
        torch.manual_seed(0)  # the private order generator is seeded from the global RNG
        return make(dataset, num_workers)

    reference = build()
    state = torch.get_rng_state()
    full = [_ids(reference) for _ in range(3)]
    assert torch.equal(torch.get_rng_state(), state)  # epochs never draw from the global RNG
    assert len(full[0]) == 6 and full[0] != full[1]  # drop_last; a new order each epoch

    interrupted = build()
    _ids(interrupted)  # epoch 1
    batches = iter(interrupted)
    head = _ids(next(batches) for _ in range(4))  # 4 of epoch 2's 6 batches
    saved = interrupted.state_dict()
    del batches, interrupted

    resumed = build()
    resumed.load_state_dict(saved)
    assert head + _ids(resumed) == full[1]
    assert _ids(resumed) == full[2]


def test_shuffled_loader_rejects_a_batch_larger_than_the_data() -> None:
    with pytest.raises(ValueError, match=r"batch_size=9 does not fit the 8.*1 <= batch_size <= 8"):
        shuffled_loader(TensorDataset(torch.arange(8)), 9)


class _RecordBatches(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[tuple[int, list[int]]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, batch[0].tolist()))
        return self.w.sum() * 0.0

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return shuffled_loader(TensorDataset(torch.arange(20)), 4)  # 5 batches per epoch


class _Stop(Exception):
    pass


class _StopAt(L.Callback):
    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)
            raise _Stop


@pytest.mark.parametrize("stop", [5, 7], ids=["epoch-end", "mid-epoch"])
def test_lightning_resume_sees_the_same_batches_in_the_same_epochs(tmp_path: Path, stop) -> None:
    def fit(callbacks=(), ckpt=None) -> list:
        L.seed_everything(0, verbose=False)
        module = _RecordBatches()
        trainer = quiet_trainer(max_steps=12, callbacks=list(callbacks))
        with contextlib.suppress(_Stop):
            trainer.fit(module, ckpt_path=ckpt)
        return module.seen

    uninterrupted = fit()
    head = fit([_StopAt(stop, tmp_path / "stop.ckpt")])
    tail = fit(ckpt=tmp_path / "stop.ckpt")
    assert len(head) == stop and head + tail == uninterrupted


@pytest.mark.slow
def test_ddp_ranks_take_disjoint_shards_and_resume_mid_epoch_exactly(tmp_path: Path) -> None:
    script = Path(__file__).with_name("loader_ddp_run.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "MASTER_"))}
    env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    for mode in ("full", "head", "tail"):
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path), mode],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    runs = {
        (mode, rank): json.loads((tmp_path / f"{mode}_{rank}.json").read_text())
        for mode in ("full", "head", "tail")
        for rank in (0, 1)
    }
    for rank in (0, 1):
        assert len(runs["head", rank]) == 7
        assert runs["head", rank] + runs["tail", rank] == runs["full", rank]
    for epoch in range(4):
        shards = [
            {i for e, batch in runs["full", rank] if e == epoch for i in batch} for rank in (0, 1)
        ]
        assert shards[0].isdisjoint(shards[1]) and len(shards[0] | shards[1]) == 40
