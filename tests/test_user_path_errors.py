"""Wrong inputs on the user's path: each fails early with a message that names the fix.

One parametrised case per mistake (issue 16's list and ours). Every case asserts the error type
and that the message says what to do; cases that reach a Trainer also assert that no weight
changed, so no work is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GAN, GradientPenalty, MLPDiscriminator, MLPGenerator, NonFiniteError
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan


def _loader(x: Tensor, *extra: Tensor, batch: int = 16, drop_last: bool = False) -> DataLoader:
    return DataLoader(TensorDataset(x, *extra), batch_size=batch, drop_last=drop_last)


def _points(n: int = 64) -> Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0))


def _fit(gan: GAN, data: Any, max_steps: int = 4, callbacks: list | None = None) -> None:
    before = flat_params(gan)
    try:
        quiet_trainer(max_steps=max_steps, callbacks=callbacks or []).fit(gan, data)
    finally:
        assert torch.equal(flat_params(gan), before), "weights changed before the error"


class TupleGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net, self.latent_dim = nn.Linear(4, 2), 4

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(z), z


class ConstantGenerator(nn.Module):
    """Outputs ``value`` (NaN, or float64) plus a trainable zero."""

    def __init__(self, value: float, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.w, self.latent_dim, self.value, self.dtype = (
            nn.Parameter(torch.zeros(())),
            4,
            value,
            dtype,
        )

    def forward(self, z: Tensor) -> Tensor:
        return (torch.full((z.shape[0], 2), self.value) + self.w).to(self.dtype)


class TanhGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net, self.latent_dim = nn.Sequential(nn.Linear(4, 2), nn.Tanh()), 4

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class SwappedOptimizers(GAN):
    def configure_optimizers(self):
        opt_g, opt_d = super().configure_optimizers()
        return [opt_d, opt_g]


class OneOptimizer(GAN):
    def configure_optimizers(self):
        return [torch.optim.Adam(self.parameters())]


class PartialOptimizer(GAN):
    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.net[0].parameters())
        return [opt_g, torch.optim.Adam(self.discriminator.parameters())]


def _nets(**g: Any) -> tuple[nn.Module, nn.Module]:
    return MLPGenerator(latent_dim=4, out_dim=2, hidden=8, depth=1, **g), MLPDiscriminator(
        in_dim=2, hidden=8, depth=1, num_classes=g.get("num_classes")
    )


def _bn_gan() -> GAN:
    d = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    return GAN(MLPGenerator(latent_dim=4, out_dim=2, hidden=8, depth=1), d)


def _truncated_checkpoint(tmp_path) -> str:
    gan = tiny_gan()
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(gan, ring_data())
    trainer.save_checkpoint(tmp_path / "full.ckpt")
    data = (tmp_path / "full.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    return str(tmp_path / "cut.ckpt")


def _resume_truncated(tmp_path) -> None:
    path = _truncated_checkpoint(tmp_path)
    GAN.load_from_checkpoint(
        path, generator=tiny_gan().generator, discriminator=tiny_gan().discriminator
    )


def _load_folder(tmp_path) -> None:
    GAN.load_from_checkpoint(tmp_path, generator=MLPGenerator(), discriminator=MLPDiscriminator())


def _load_empty(tmp_path) -> None:
    (tmp_path / "empty.ckpt").write_bytes(b"")
    GAN.load_from_checkpoint(tmp_path / "empty.ckpt")


def _load_state_dict_file(tmp_path) -> None:
    gan = tiny_gan()
    torch.save(gan.state_dict(), tmp_path / "weights.pt")
    GAN.load_from_checkpoint(
        tmp_path / "weights.pt", generator=gan.generator, discriminator=gan.discriminator
    )


def _nan_data() -> None:
    x = _points(640)
    x[::100, 0] = float("nan")  # 1 % of the samples
    quiet_trainer(max_steps=200).fit(tiny_gan(nonfinite="raise"), _loader(x, batch=64))


def _plateau_on_unlogged_metric() -> None:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    class Plateau(GAN):
        def configure_optimizers(self):
            opt_g, opt_d = super().configure_optimizers()
            scheduler = ReduceLROnPlateau(opt_g)
            scheduler.monitor = "eval/fid"
            return [opt_g, opt_d], [{"scheduler": scheduler, "interval": "step"}]

    # Raised when the schedule first steps (after one G step): what is logged is known only then.
    quiet_trainer(max_steps=4).fit(Plateau(*_nets()), _loader(_points()))


@dataclass
class Case:
    name: str
    run: Callable[..., Any]
    error: type[BaseException]
    fix: str  # a regex the message must match: what to do


CASES = [
    # --- issue 16's list -------------------------------------------------------------------
    Case(
        "generator returns a tuple",
        lambda: _fit(GAN(TupleGenerator(), MLPDiscriminator()), _loader(_points())),
        TypeError,
        r"return the samples alone",
    ),
    Case(
        "latent_dim differs from the generator's",
        lambda: GAN(*_nets(), latent_dim=8),
        ValueError,
        r"pass the same size to both",
    ),
    Case(
        "optimizers returned as [opt_d, opt_g]",
        lambda: _fit(SwappedOptimizers(*_nets()), _loader(_points())),
        ValueError,
        r"return \[opt_g, opt_d\], the generator's optimizer first",
    ),
    Case(
        "betas given as one float",
        lambda: tiny_gan(betas_g=0.5),
        ValueError,
        r"two Adam betas in \[0, 1\) such as \(0.5, 0.999\)",
    ),
    Case(
        "infinite learning rate",
        lambda: tiny_gan(lr_g=float("inf")),
        ValueError,
        r"positive learning rate, finite",
    ),
    Case("NaN in 1 % of the data", _nan_data, NonFiniteError, r"clean the dataset"),
    Case(
        "batch size larger than the dataset",
        lambda: _fit(tiny_gan(), _loader(_points(10), batch=64, drop_last=True)),
        ValueError,
        r"lower batch_size",
    ),
    Case(
        "empty dataset",
        lambda: _fit(tiny_gan(), _loader(torch.empty(0, 2))),
        ValueError,
        r"check that the dataset is not empty",
    ),
    Case("truncated checkpoint", _resume_truncated, ValueError, r"cut short.*complete checkpoint"),
    # --- networks --------------------------------------------------------------------------
    Case(
        "generator is a function",
        lambda: GAN(lambda z: z, MLPDiscriminator()),
        TypeError,
        r"wrap a function in an nn.Module",
    ),
    Case(
        "generator has no trainable parameters",
        lambda: GAN(MLPGenerator().requires_grad_(False), MLPDiscriminator()),
        ValueError,
        r"unfreeze it",
    ),
    Case(
        "one module as generator and discriminator",
        lambda: GAN(*(2 * [MLPDiscriminator()])),
        ValueError,
        r"pass two separate networks",
    ),
    Case(
        "latent_dim not an integer",
        lambda: GAN(MLPGenerator(), MLPDiscriminator(), latent_dim=2.5),
        ValueError,
        r"latent_dim must be an integer >= 1",
    ),
    Case(
        "generator makes NaN before training",
        lambda: _fit(GAN(ConstantGenerator(float("nan")), MLPDiscriminator()), _loader(_points())),
        ValueError,
        r"check its initialisation",
    ),
    Case(
        "generator in float64, data in float32",
        lambda: _fit(
            GAN(ConstantGenerator(0.0, torch.float64), MLPDiscriminator()), _loader(_points())
        ),
        TypeError,
        r"use one precision for both",
    ),
    Case(
        "0..255 images for a tanh generator",
        lambda: _fit(GAN(TanhGenerator(), MLPDiscriminator()), _loader(_points() * 100 + 128)),
        ValueError,
        r"scale the data to \[-1, 1\]",
    ),
    Case(
        "batch of one sample with BatchNorm",
        lambda: _fit(_bn_gan(), _loader(_points(), batch=1)),
        ValueError,
        r"use batch_size >= 2",
    ),
    Case(
        "dict batches",
        lambda: _fit(tiny_gan(), DataLoader([{"image": torch.zeros(2)}] * 32, batch_size=16)),
        TypeError,
        r"override `GAN.real_from_batch`",
    ),
    # --- optimizers and schedules ----------------------------------------------------------
    Case(
        "one optimizer",
        lambda: _fit(OneOptimizer(*_nets()), _loader(_points())),
        ValueError,
        r"must return two optimizers",
    ),
    Case(
        "optimizer missing generator parameters",
        lambda: _fit(PartialOptimizer(*_nets()), _loader(_points())),
        ValueError,
        r"build it from `self.generator.parameters\(\)`",
    ),
    Case("accumulate=0", lambda: tiny_gan(accumulate=0), ValueError, r"1 = off"),
    Case(
        "scheduler interval 'batch'",
        lambda: tiny_gan(lr_scheduler_interval="batch"),
        ValueError,
        r"use 'step' .* or 'epoch'",
    ),
    Case(
        "scheduler that is not a factory",
        lambda: tiny_gan(lr_scheduler_d=0.1),
        ValueError,
        r"function optimizer -> scheduler",
    ),
    Case(
        "plateau schedule on an unlogged metric",
        _plateau_on_unlogged_metric,
        Exception,
        r"Set `scheduler.monitor`",
    ),
    # --- labels ----------------------------------------------------------------------------
    Case(
        "conditional GAN, batches without labels",
        lambda: _fit(GAN(*_nets(num_classes=2), num_classes=2), _loader(_points())),
        ValueError,
        r"use a datamodule that yields labels",
    ),
    Case(
        "labels outside num_classes",
        lambda: _fit(
            GAN(*_nets(num_classes=2), num_classes=2), _loader(_points(), torch.full((64,), 7))
        ),
        ValueError,
        r"set num_classes",
    ),
    Case(
        "float labels",
        lambda: _fit(
            GAN(*_nets(num_classes=2), num_classes=2), _loader(_points(), torch.zeros(64))
        ),
        ValueError,
        r"int64 tensor \[B\] of class",
    ),
    Case(
        "conditional generator, unconditional GAN",
        lambda: GAN(*_nets(num_classes=3)),
        ValueError,
        r"pass GAN\(num_classes=3\)",
    ),
    Case(
        "GAN and networks disagree on classes",
        lambda: GAN(*_nets(num_classes=3), num_classes=4),
        ValueError,
        r"same K",
    ),
    Case(
        "labels for an unconditional sample",
        lambda: tiny_gan().sample(2, labels=[0, 1]),
        ValueError,
        r"build it with GAN\(num_classes=K\)",
    ),
    Case(
        "negative sample count",
        lambda: tiny_gan().sample(-1),
        ValueError,
        r"n must be an integer >= 0",
    ),
    # --- checkpoints -----------------------------------------------------------------------
    Case(
        "checkpoint path is a folder",
        _load_folder,
        IsADirectoryError,
        r"pass a checkpoint file inside it",
    ),
    Case("empty checkpoint file", _load_empty, ValueError, r"is empty.*complete checkpoint"),
    Case(
        "bare state_dict as checkpoint",
        _load_state_dict_file,
        ValueError,
        r"not a Lightning checkpoint.*load_state_dict",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wrong_input_fails_with_the_fix(case: Case, tmp_path) -> None:
    run = case.run
    args = (tmp_path,) if run.__code__.co_argcount == 1 else ()
    with pytest.raises(case.error, match=case.fix):
        run(*args)


def test_gradient_penalty_on_a_batch_norm_discriminator_warns() -> None:
    with pytest.warns(UserWarning, match=r"norm='layer'\) or norm='none'"):
        quiet_trainer(max_steps=2, callbacks=[GradientPenalty()]).fit(_bn_gan(), _loader(_points()))


def test_resuming_with_another_config_names_what_changed(tmp_path) -> None:
    gan = tiny_gan()
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(gan, ring_data())
    trainer.save_checkpoint(tmp_path / "ring.ckpt")
    other = tiny_gan(loss="hinge", n_critic=3)
    grid = ring_data(n_modes=4)
    with pytest.warns(
        UserWarning,
        match=r"loss: 'non_saturating' -> 'hinge'.*n_critic: 1 -> 3"
        r".*n_modes: 8 -> 4.*resume with the run's own config",
    ):
        quiet_trainer(max_steps=4).fit(other, grid, ckpt_path=tmp_path / "ring.ckpt")


def test_progress_bar_counts_to_its_total_when_max_steps_counts_both_networks() -> None:
    trainer = quiet_trainer(max_steps=40, enable_progress_bar=True)
    trainer.fit(tiny_gan(), ring_data(n_samples=4096, batch_size=64))
    bar = trainer.progress_bar_callback.train_progress_bar
    assert bar.n == bar.total == 40  # the run's optimizer steps: 20 batches of a D and a G step
