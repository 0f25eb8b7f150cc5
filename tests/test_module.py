"""The alternating step: equal to a hand-written loop, counters, logging, hooks, checkpoints."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GAN, GANCallback
from lightning_gan.losses import get_loss
from tests.helpers import flat_params, quiet_trainer, ring_data, tiny_gan

BATCH, LATENT = 32, 4


def _loader(n: int = 256) -> DataLoader:
    data = torch.randn(n, 2, generator=torch.Generator().manual_seed(5))
    return DataLoader(TensorDataset(data), batch_size=BATCH, shuffle=False)


def _plain_loop(gan: GAN, loader: DataLoader, loss: str, n_critic: int, batches: int) -> None:
    """The loop a researcher writes by hand (Goodfellow et al. Algorithm 1 with n_critic)."""
    G, D, objective = gan.generator, gan.discriminator, get_loss(loss)
    opt_g = torch.optim.Adam(G.parameters(), lr=gan.lr_g, betas=gan.betas_g)
    opt_d = torch.optim.Adam(D.parameters(), lr=gan.lr_d, betas=gan.betas_d)
    for step, (real,) in enumerate(loader, start=1):
        if step > batches:
            break
        with torch.no_grad():
            fake = G(torch.randn(BATCH, LATENT))
        loss_d = objective.d(D(real).reshape(-1), D(fake).reshape(-1))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if step % n_critic == 0:
            loss_g = objective.g(D(G(torch.randn(BATCH, LATENT))).reshape(-1))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()


@pytest.mark.parametrize(("loss", "n_critic"), [("non_saturating", 1), ("wasserstein", 3)])
def test_step_equals_hand_written_loop(loss: str, n_critic: int) -> None:
    torch.manual_seed(0)
    gan = tiny_gan(latent_dim=LATENT, loss=loss, n_critic=n_critic, lr_g=1e-2, lr_d=1e-2)
    reference = copy.deepcopy(gan)
    before = flat_params(gan)
    batches = 6
    L.seed_everything(1, verbose=False)
    quiet_trainer(max_steps=batches + batches // n_critic).fit(gan, _loader())
    torch.manual_seed(1)
    _plain_loop(reference, _loader(), loss, n_critic, batches)
    assert (gan.d_steps, gan.g_steps) == (batches, batches // n_critic)
    assert not torch.allclose(flat_params(gan), before)
    torch.testing.assert_close(flat_params(gan), flat_params(reference), rtol=0, atol=1e-6)


def test_step_counters_and_global_step() -> None:
    gan = tiny_gan(n_critic=3)
    trainer = quiet_trainer(max_steps=12)  # 9 batches: 9 D steps + 3 G steps
    trainer.fit(gan, ring_data())
    assert (gan.d_steps, gan.g_steps, trainer.global_step) == (9, 3, 12)


def test_d_only_batches_leave_the_generator_untouched() -> None:
    gan = tiny_gan(n_critic=2)
    g_before, d_before = flat_params(gan.generator), flat_params(gan.discriminator)
    quiet_trainer(max_steps=1).fit(gan, ring_data())
    assert gan.d_steps == 1 and gan.g_steps == 0
    assert torch.equal(flat_params(gan.generator), g_before)
    assert not torch.equal(flat_params(gan.discriminator), d_before)


def test_logs_losses_and_scores() -> None:
    gan = tiny_gan()
    trainer = quiet_trainer(max_steps=10)
    trainer.fit(gan, ring_data())
    metrics = trainer.callback_metrics
    for key in ("loss/d", "loss/g", "d/real_score", "d/fake_score"):
        assert key in metrics and torch.isfinite(metrics[key])


class Recorder(GANCallback):
    """Records every hook call and perturbs the step in checkable ways."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.outputs: list = []

    def transform_discriminator_input(self, gan, x, labels, real):
        self.calls.append(f"transform:{'real' if real else 'fake'}")
        return x + 100.0, labels  # shifts what D sees, visible in D's scores

    def discriminator_penalty(self, gan, d):
        self.calls.append("penalty")
        assert d.d_real.min() > 50 and d.d_fake.min() > 50  # what D saw: transformed
        assert d.real.max() < 50 and d.fake.max() < 50  # the batch itself: untransformed
        assert d.real_scores.requires_grad  # attached to D's graph for score penalties
        return torch.tensor(7.0)

    def generator_critic(self, gan, g):
        self.calls.append("critic")
        assert g.d_fake.min() > 50 and g.fake.requires_grad
        return lambda x: torch.zeros(x.shape[0]) + x.sum() * 0  # constant critic

    def generator_scores(self, gan, g):
        self.calls.append("scores")
        return g.fake_scores

    def generator_penalty(self, gan, g):
        self.calls.append("g_penalty")
        return None

    def on_discriminator_step_end(self, gan, d):
        self.calls.append("d_end")
        self.outputs.append(d)

    def on_generator_step_end(self, gan, g):
        self.calls.append("g_end")
        self.outputs.append(g)


def test_hooks_are_called_in_step_order_and_change_the_step() -> None:
    recorder = Recorder()
    gan = tiny_gan(loss="wasserstein")
    quiet_trainer(max_steps=2, callbacks=[recorder]).fit(gan, ring_data())
    assert recorder.calls == [
        "transform:real",
        "transform:fake",
        "penalty",
        "d_end",
        "transform:fake",
        "critic",
        "scores",
        "g_penalty",
        "g_end",
    ]
    d_out, g_out = recorder.outputs
    assert d_out.g_step_follows and not d_out.real_scores.requires_grad  # detached after step
    assert g_out.real.shape == d_out.real.shape and g_out.critic is not gan.discriminator
    # The penalty is not part of the logged loss; the constant critic gives a G loss of exactly 0.
    assert d_out.loss.item() == pytest.approx(
        (d_out.fake_scores.mean() - d_out.real_scores.mean()).item(), rel=1e-5
    )
    assert g_out.loss.item() == 0.0


def test_unused_hooks_are_not_dispatched() -> None:
    class OnlyPenalty(GANCallback):
        def discriminator_penalty(self, gan, d):
            return None

    from lightning_gan.hooks import HookDispatch

    dispatch = HookDispatch([OnlyPenalty(), L.Callback()])
    counts = {name: len(v) for name, v in dispatch.by_hook.items()}
    assert counts == {name: int(name == "discriminator_penalty") for name in counts}
    assert len(counts) == 8


def test_two_critics_are_rejected_with_the_fix() -> None:
    with pytest.raises(ValueError, match="only one may"):
        quiet_trainer(max_steps=1, callbacks=[Recorder(), Recorder()]).fit(tiny_gan(), ring_data())


def test_sample_uses_the_sampling_generator_hook() -> None:
    class Frozen(GANCallback):
        def __init__(self, generator):
            self.generator = generator

        def sampling_generator(self, gan):
            return self.generator

    gan = tiny_gan()
    assert gan.sample(5).shape == (5, 2)
    other = copy.deepcopy(gan.generator)
    torch.nn.init.zeros_(other.net[-1].weight)
    torch.nn.init.constant_(other.net[-1].bias, 3.0)
    trainer = quiet_trainer(max_steps=2, callbacks=[Frozen(other)])
    trainer.fit(gan, ring_data())
    assert torch.equal(gan.sample(4), torch.full((4, 2), 3.0))


def test_checkpoint_keeps_step_counters_and_resumes(tmp_path) -> None:
    gan = tiny_gan(n_critic=2)
    trainer = quiet_trainer(max_steps=6)
    trainer.fit(gan, ring_data())
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["gan_steps"] == {"d_steps": 4, "g_steps": 2}
    resumed = tiny_gan(n_critic=2)
    quiet_trainer(max_steps=12).fit(resumed, ring_data(), ckpt_path=path)
    assert (resumed.d_steps, resumed.g_steps) == (8, 4)


def test_hparams_exclude_networks_so_checkpoints_load_weights_only(tmp_path) -> None:
    gan = tiny_gan(loss="hinge", n_critic=2)
    assert "generator" not in gan.hparams and gan.hparams.loss == "hinge"
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(gan, ring_data())
    trainer.save_checkpoint(tmp_path / "g.ckpt")
    loaded = GAN.load_from_checkpoint(
        tmp_path / "g.ckpt",
        generator=copy.deepcopy(gan.generator),
        discriminator=copy.deepcopy(gan.discriminator),
        weights_only=True,
    )
    assert loaded.n_critic == 2
    assert torch.equal(flat_params(loaded), flat_params(gan))
