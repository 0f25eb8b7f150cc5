"""Packing (PacGAN): layout of packs and packed labels, a closed-form loss, penalties and
n_critic, the reference packed nets, conditional packing, and the errors that name the fix."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.callbacks.acgan import AuxiliaryClassifier
from lightning_gan.callbacks.diffaugment import DiffAugment
from lightning_gan.callbacks.gradient_penalty import GradientPenalty, R1Penalty
from lightning_gan.callbacks.noise import InstanceNoise
from lightning_gan.callbacks.packing import Packing, pack, unpack
from lightning_gan.module import GAN
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from tests.helpers import flat_params, quiet_trainer, ring_data


def test_pack_joins_consecutive_samples_along_channels() -> None:
    x = torch.arange(4 * 2 * 3 * 3.0).view(4, 2, 3, 3)
    packed = pack(x, 2)
    assert packed.shape == (2, 4, 3, 3)
    assert torch.equal(packed[0, :2], x[0]) and torch.equal(packed[0, 2:], x[1])
    assert torch.equal(packed[1, :2], x[2]) and torch.equal(packed[1, 2:], x[3])
    assert torch.equal(unpack(packed, 2), x)
    vectors = torch.arange(6 * 2.0).view(6, 2)
    assert torch.equal(pack(vectors, 3), torch.tensor([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11.0]]))


def test_transform_packs_data_and_labels() -> None:
    packing = Packing(num_packed=3)
    x, labels = torch.randn(6, 1, 4, 4), torch.tensor([0, 1, 2, 3, 4, 5])
    out, out_labels = packing.transform_discriminator_input(None, x, labels, True)
    assert out.shape == (2, 3, 4, 4) and torch.equal(out[1, 2], x[5, 0])
    assert torch.equal(out_labels, torch.tensor([[0, 1, 2], [3, 4, 5]]))
    out, none = packing.transform_discriminator_input(None, x, None, False)
    assert none is None and out.shape == (2, 3, 4, 4)


class _SumD(nn.Module):
    """A linear packed D: the score of a pack is the sum of all its entries."""

    pack = 2

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * x.flatten(1).sum(1)


class _ConstantG(nn.Module):
    """G(z) = c for every z (a bias only), so the fake batch is known exactly."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor([0.25, -0.5]))

    def forward(self, z: Tensor) -> Tensor:
        return self.c.expand(z.shape[0], 2) + 0 * z[:, :1]


def test_packed_loss_equals_the_hand_computation() -> None:
    real = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-1.0, 2.0], [0.0, -0.5]])
    gan = GAN(_ConstantG(), _SumD())
    trainer = quiet_trainer(max_steps=2, callbacks=[Packing(2, split_batch=True)])
    trainer.fit(gan, DataLoader(TensorDataset(real), batch_size=4))
    real_scores = torch.tensor([1.0 + 0.5 + 0.5, -1.0 + 2.0 - 0.5])  # sums over packs of 2
    fake_scores = torch.full((2,), 2 * (0.25 - 0.5))
    expected = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    metrics = trainer.callback_metrics
    torch.testing.assert_close(metrics["loss/d"], expected)
    torch.testing.assert_close(metrics["d/real_score"], real_scores.mean())


def _packed_mlp_gan(m: int, **kwargs) -> GAN:
    torch.manual_seed(0)
    return GAN(
        MLPGenerator(latent_dim=4, out_dim=2, hidden=16, depth=2),
        MLPDiscriminator(in_dim=2, hidden=16, depth=2, pack=m),
        **kwargs,
    )


@pytest.mark.parametrize("penalty", [GradientPenalty(weight=1.0), R1Penalty(gamma=1.0)])
def test_packing_trains_with_penalties_and_n_critic(penalty) -> None:
    gan = _packed_mlp_gan(4, n_critic=2, loss="wasserstein")
    before = flat_params(gan).clone()
    trainer = quiet_trainer(max_steps=6, callbacks=[Packing(4), penalty])
    trainer.fit(gan, ring_data(n_samples=128, batch_size=32))
    assert gan.d_steps == 4 and gan.g_steps == 2
    assert torch.isfinite(trainer.callback_metrics[f"penalty/{penalty.name}"])
    assert torch.isfinite(flat_params(gan)).all() and not torch.equal(flat_params(gan), before)


def test_packed_conditional_dcgan_trains_with_packed_labels() -> None:
    torch.manual_seed(0)
    gan = GAN(
        DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8, num_classes=3),
        DCGANDiscriminator(channels=1, image_size=8, width=8, norm="layer", num_classes=3, pack=2),
        num_classes=3,
    )
    seen: list[Tensor] = []
    original = gan.discriminator.forward
    gan.discriminator.forward = lambda x, labels=None: (seen.append(labels), original(x, labels))[1]
    x, y = torch.rand(16, 1, 8, 8) * 2 - 1, torch.arange(16) % 3
    quiet_trainer(max_steps=4, callbacks=[Packing(2, split_batch=True)]).fit(
        gan, DataLoader(TensorDataset(x, y), batch_size=8)
    )
    assert gan.d_steps == 2 and gan.g_steps == 2
    assert all(labels.shape == (4, 2) for labels in seen)
    assert torch.equal(seen[0], (torch.arange(8) % 3).view(4, 2))  # first real batch, in order


def test_discriminator_without_packs_fails_at_fit_start_naming_the_fix() -> None:
    gan = _packed_mlp_gan(1)
    before = flat_params(gan).clone()
    with pytest.raises(ValueError, match="has pack=1: build it with pack=2"):
        quiet_trainer(max_steps=2, callbacks=[Packing(2)]).fit(gan, ring_data(64, 32))
    assert torch.equal(flat_params(gan), before)
    gan.discriminator = nn.Linear(4, 1)
    with pytest.raises(ValueError, match="no `pack` attribute.*set its attribute `pack = 2`"):
        quiet_trainer(max_steps=2, callbacks=[Packing(2)]).fit(gan, ring_data(64, 32))


def test_batch_not_divisible_by_m_fails_at_the_first_batch_naming_the_fix() -> None:
    gan = _packed_mlp_gan(3)
    before = flat_params(gan).clone()
    with pytest.raises(ValueError, match="batch size divisible by 3.*drop_last=True"):
        quiet_trainer(max_steps=2, callbacks=[Packing(3, split_batch=True)]).fit(
            gan, ring_data(64, 32)
        )
    assert torch.equal(flat_params(gan), before)


def test_packing_must_be_the_last_input_transform() -> None:
    gan = _packed_mlp_gan(2)
    with pytest.raises(ValueError, match="InstanceNoise comes after it.*move Packing to the end"):
        quiet_trainer(max_steps=2, callbacks=[Packing(2), InstanceNoise()]).fit(
            gan, ring_data(64, 32)
        )


def test_augmentation_before_packing_acts_on_single_samples() -> None:
    torch.manual_seed(0)
    gan = GAN(
        DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8),
        DCGANDiscriminator(channels=1, image_size=8, width=8, norm="layer", pack=2),
    )
    trainer = quiet_trainer(max_steps=4, callbacks=[DiffAugment(), Packing(2, split_batch=True)])
    trainer.fit(gan, DataLoader(TensorDataset(torch.rand(32, 1, 8, 8) * 2 - 1), batch_size=16))
    assert gan.d_steps == 2 and torch.isfinite(trainer.callback_metrics["loss/d"])


@pytest.mark.parametrize("m", [0, -1, 1.5, True])
def test_bad_pack_size_is_refused(m) -> None:
    with pytest.raises(ValueError, match="num_packed must be an integer >= 1.*PacGAN"):
        Packing(num_packed=m)


def test_packing_with_an_acgan_discriminator_trains() -> None:
    from lightning_gan import GAN, DCGANDiscriminator, DCGANGenerator, Digits
    from lightning_gan.callbacks.packing import Packing
    from tests.helpers import quiet_trainer

    gan = GAN(
        DCGANGenerator(latent_dim=8, channels=1, image_size=8, width=8, num_classes=10),
        DCGANDiscriminator(
            channels=1,
            image_size=8,
            width=8,
            norm="none",
            num_classes=10,
            conditioning="acgan",
            pack=2,
        ),
        num_classes=10,
    )
    quiet_trainer(max_steps=4, callbacks=[AuxiliaryClassifier(), Packing(num_packed=2)]).fit(
        gan, Digits(batch_size=16)
    )
    assert gan.d_steps == 2 and gan.g_steps == 2


@pytest.mark.parametrize(("split_batch", "packs"), [(False, 16), (True, 8)])
def test_d_sees_batch_size_packs_per_step_as_pacgan_does(split_batch: bool, packs: int) -> None:
    """PacGAN as published: with batch_size 16, every D input (real and generated, both
    phases) is 16 packs of 2, i.e. 32 samples per side per step; the split variant gives 8.
    The datamodule's batch size is back to 16 after the fit."""
    gan = _packed_mlp_gan(2)
    shapes: list[tuple[int, ...]] = []
    original = gan.discriminator.forward
    gan.discriminator.forward = lambda x, labels=None: (shapes.append(tuple(x.shape)), original(x))[
        1
    ]
    data = ring_data(n_samples=256, batch_size=16)
    trainer = quiet_trainer(max_steps=6, callbacks=[Packing(2, split_batch=split_batch)])
    trainer.fit(gan, data)
    assert gan.d_steps == 3 and gan.g_steps == 3
    assert len(shapes) == 3 * 3  # per batch: D's real and fake, then G's fake
    assert set(shapes) == {(packs, 4)}
    assert data.batch_size == 16


def test_pacgan_packing_resumes_exactly(tmp_path) -> None:
    """The scaled batch is derived at every fit: 3 + 3 batches from a checkpoint equal 6."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    def fit(max_steps: int, ckpt: str | None = None, callbacks: list | None = None) -> GAN:
        gan = _packed_mlp_gan(2)
        trainer = quiet_trainer(
            max_steps=max_steps, callbacks=[Packing(2), *(callbacks or [])],
            enable_checkpointing=bool(callbacks), default_root_dir=tmp_path,
        )  # fmt: skip
        trainer.fit(gan, ring_data(n_samples=256, batch_size=16, seed=1), ckpt_path=ckpt)
        return gan

    fit(6, callbacks=[ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=6)])
    resumed = fit(12, ckpt=str(next(tmp_path.glob("*.ckpt"))))
    straight = fit(12)
    assert torch.equal(flat_params(resumed), flat_params(straight))


def test_packing_without_a_datamodule_batch_size_names_the_fix() -> None:
    gan = _packed_mlp_gan(2)
    loader = DataLoader(TensorDataset(torch.randn(64, 2)), batch_size=16)
    with pytest.raises(ValueError, match="bare DataLoader.*split_batch=True"):
        quiet_trainer(max_steps=2, callbacks=[Packing(2)]).fit(gan, loader)


def test_pacgan_packing_under_two_gloo_ranks(tmp_path) -> None:
    """Under gan_ddp each rank's D sees batch_size packs per step, and the ranks end equal."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "NODE_RANK"))}
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "GROUP_RANK"):
        env.pop(key, None)
    script = Path(__file__).with_name("packing_ddp_run.py")
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for rank in ranks:
        assert set(rank["shapes"]) == {(16, 4)} and len(rank["shapes"]) == 9
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])
