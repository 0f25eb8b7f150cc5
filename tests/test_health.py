"""GANHealth: each flag fires on a run that truly fails that way, and none on a healthy run.

Also: a NaN stops or raises before any checkpoint of non-finite weights is written, and the
callback's history survives a checkpoint.
"""

from __future__ import annotations

import csv
import math
from contextlib import nullcontext
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.callbacks.evaluation import FeatureMetrics
from lightning_gan.callbacks.health import FLAGS, GANHealth, GANTrainingFailure
from lightning_gan.data import Digits
from lightning_gan.hooks import GANCallback
from lightning_gan.metrics.health_signals import (
    oscillation_score,
    sample_distances,
    total_norm,
)
from lightning_gan.module import GAN
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from lightning_gan.step.records import DStep
from tests.helpers import quiet_trainer, ring_data, tiny_gan

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using ModelCheckpoint with manual optimization"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
    pytest.mark.filterwarnings("ignore:FeatureMetrics. n_samples=.* is below"),
]


def _fit(gan: GAN, batches: int, health: GANHealth, data=None, callbacks: tuple = ()) -> L.Trainer:
    """Fit for ``batches`` training batches (each batch is a D and a G optimizer step)."""
    checkpointing = any(isinstance(cb, ModelCheckpoint) for cb in callbacks)
    trainer = quiet_trainer(
        max_steps=2 * batches, callbacks=[health, *callbacks], enable_checkpointing=checkpointing
    )
    trainer.fit(gan, data if data is not None else ring_data(n_samples=1024))
    return trainer


def _fired(health: GANHealth) -> set[str]:
    return {flag for flag, step in health.fired_at.items() if step is not None}


# ----------------------------------------------------------------------------- signals
def test_signals_separate_periodic_swings_from_noise_and_trends() -> None:
    gen = torch.Generator().manual_seed(0)
    sine = [math.sin(2 * math.pi * t / 40) for t in range(200)]
    assert oscillation_score(sine) > 0.9
    noise = [oscillation_score(torch.randn(200, generator=gen).tolist()) for _ in range(50)]
    assert max(noise) < 0.35
    assert oscillation_score([math.exp(-t / 30) for t in range(200)]) == 0.0
    assert oscillation_score([(t - 100) ** 2 for t in range(200)]) == 0.0
    assert oscillation_score([float(t > 100) for t in range(200)]) == 0.0  # a level shift


def test_sample_distances_and_total_norm() -> None:
    real = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    ff, rr, fr = sample_distances(real.clone(), real).tolist()
    assert ff == pytest.approx(rr) and ff == pytest.approx(2 * math.sqrt(math.pi) / 2, rel=0.15)
    ff_const, _, _ = sample_distances(torch.ones(64, 2), real).tolist()
    assert ff_const == 0.0
    assert total_norm([torch.tensor([3.0]), torch.tensor([4.0])]).item() == pytest.approx(5.0)
    assert not torch.isfinite(total_norm([torch.tensor([1.0, float("nan")])]))


def test_bad_parameters_raise_with_the_fix() -> None:
    with pytest.raises(ValueError, match="on_failure must be one of"):
        GANHealth(on_failure="ignore")
    with pytest.raises(ValueError, match="every_n_steps must be an integer >= 1"):
        GANHealth(every_n_steps=0)
    with pytest.raises(ValueError, match="collapse_ratio must be a positive"):
        GANHealth(collapse_ratio=0)
    with pytest.raises(ValueError, match=r"d_confidence must be in \(0.5, 1\)"):
        GANHealth(d_confidence=1.5)
    with pytest.raises(ValueError, match="collapse_signal must be one of"):
        GANHealth(collapse_signal="fid")
    with pytest.raises(ValueError, match=r"collapse_drop must be in \(0, 1\)"):
        GANHealth(collapse_signal="recall", collapse_drop=1.0)


# ----------------------------------------------------------------------------- runs
def test_healthy_run_fires_no_flag_and_logs_signals(tmp_path: Path) -> None:
    L.seed_everything(0, verbose=False)
    health = GANHealth(every_n_steps=10, warmup_steps=50, window=100)
    trainer = quiet_trainer(
        max_steps=2 * 120, callbacks=[health], logger=CSVLogger(tmp_path, name="run")
    )
    trainer.fit(tiny_gan(), ring_data(n_samples=1024))
    assert _fired(health) == set()
    last = health.signals[-1]
    assert last["diversity_ratio"] > 0.3
    assert 1e-3 < last["grad_norm_g"] < 100 and 1e-3 < last["grad_norm_d"] < 100
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for name in (*FLAGS, "grad_norm_g", "grad_norm_d", "diversity_ratio", "oscillation_score"):
        assert f"health/{name}" in rows[0]
    logged = [int(r["step"]) for r in rows if r["health/grad_norm_g"]]
    assert logged == list(range(20, 241, 20))  # every measurement, at the optimizer-step axis


def test_mode_collapse_fires_for_a_constant_generator() -> None:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan()
    first = gan.generator.net[0]
    with torch.no_grad():  # h1 = relu(0) = 0 for every z, and relu'(0) = 0 keeps it there
        first.weight.zero_()
        first.bias.zero_()
    health = GANHealth(every_n_steps=10, warmup_steps=0, patience=2)
    with pytest.warns(UserWarning, match="mode_collapse at generator step 20"):
        _fit(gan, 40, health)
    assert "mode_collapse" in _fired(health)
    assert health.signals[-1]["diversity_ratio"] == 0.0
    assert health.fired_at["mode_collapse"] == 20  # second measurement (patience 2)


def _pretrained_discriminator_gan(loss: str) -> GAN:
    """A ring GAN whose D already separates real from generated data with high confidence."""
    torch.manual_seed(0)
    gan = tiny_gan(loss=loss, lr_g=1e-5, lr_d=1e-2)
    real = ring_data(n_samples=256).dataset.tensors[0]
    opt = torch.optim.Adam(gan.discriminator.parameters(), lr=5e-2)
    for _ in range(100):
        with torch.no_grad():
            fake = gan.generator(torch.randn(256, gan.latent_dim))
        opt.zero_grad()
        gan.loss_fn.d(gan.discriminator(real), gan.discriminator(fake)).backward()
        opt.step()
    return gan


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_vanishing_generator_gradient_under_the_saturating_loss(loss: str) -> None:
    gan = _pretrained_discriminator_gan(loss)
    health = GANHealth(every_n_steps=10, warmup_steps=0, patience=3)
    saturating = loss == "minimax"
    with pytest.warns(UserWarning, match="vanishing_g_grad") if saturating else nullcontext():
        _fit(gan, 40, health)
    grad_g = [s["grad_norm_g"] for s in health.signals]
    assert all(s["d_prob_real"] > 0.99 and s["d_prob_fake"] < 0.01 for s in health.signals)
    if loss == "minimax":  # E[log(1 - D(G(z)))] saturates when D wins
        assert max(grad_g[1:]) < 1e-3 and min(grad_g) < 1e-6  # G's gradient has vanished
        assert "vanishing_g_grad" in _fired(health)
    else:  # the non-saturating loss keeps strong gradients in the same situation
        assert min(grad_g) > 1.0
        assert "vanishing_g_grad" not in _fired(health)


class _NaNPenalty(GANCallback):
    """Adds a NaN to D's loss at one step: its gradient (not the reported loss) turns D's weights
    into NaN, the case a loss-only check would miss."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor | None:
        if gan.d_steps + 1 == self.at_step:
            return gan.discriminator(d.d_real).sum() * float("nan")
        return None


def _checkpoints_are_finite(directory: Path) -> list[Path]:
    files = sorted(directory.glob("*.ckpt"))
    assert files
    for f in files:
        state = torch.load(f, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values()), f.name
    return files


def _max_step(files: list[Path]) -> int:
    return max(int(f.stem.split("step=")[1]) for f in files)


def test_nan_with_the_module_guard_is_flagged_and_raised(tmp_path: Path) -> None:
    """GAN(nonfinite="stop") (the default) never applies a NaN update; GANHealth reads its skip
    counter (no extra sync) and raises with on_failure="raise"."""
    L.seed_everything(0, verbose=False)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    gan = tiny_gan()
    with (
        pytest.warns(UserWarning, match="Non-finite discriminator gradients"),  # the module's
        pytest.raises(GANTrainingFailure, match=r"step 7 \(batch 8\).*update not applied"),
    ):
        _fit(gan, 20, GANHealth(on_failure="raise"), callbacks=[_NaNPenalty(8), ckpt])
    assert gan.nonfinite_skips == 1
    assert all(torch.isfinite(p).all() for p in gan.parameters())
    assert _max_step(_checkpoints_are_finite(tmp_path)) == 14  # 7 good batches, 2 steps each


def test_nan_skipped_by_the_module_is_flagged_and_training_goes_on() -> None:
    L.seed_everything(0, verbose=False)
    health = GANHealth(every_n_steps=5)
    gan = tiny_gan(nonfinite="skip")
    with pytest.warns(UserWarning, match=r"divergence at generator step 7 \(batch 8\)"):
        _fit(gan, 20, health, callbacks=[_NaNPenalty(8)])
    assert gan.nonfinite_skips == 1
    assert gan.d_steps == 21  # the skipped update is no optimizer step: one more batch to 40
    assert health.fired_at["divergence"] == 7
    assert not health.flags["divergence"]  # cleared by the next measurement: finite again


def test_nan_without_the_module_guard_raises_before_a_bad_checkpoint(tmp_path: Path) -> None:
    L.seed_everything(0, verbose=False)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    health = GANHealth(on_failure="raise")
    gan = tiny_gan(nonfinite="off")
    with pytest.raises(GANTrainingFailure, match=r"step 7 \(batch 8\): non-finite") as info:
        _fit(gan, 20, health, callbacks=[_NaNPenalty(at_step=8), ckpt])
    assert info.value.flags == ["divergence"] and info.value.step == 7  # G steps done
    assert not torch.isfinite(next(gan.discriminator.parameters())).all()  # truly NaN in memory
    files = _checkpoints_are_finite(tmp_path)
    assert _max_step(files) == 14
    restored = tiny_gan()
    restored.load_state_dict(torch.load(files[-1], weights_only=True)["state_dict"])
    assert torch.isfinite(restored.sample(16)).all()


@pytest.mark.parametrize("on_failure", ["stop", "warn"])
def test_nan_without_the_module_guard_restores_and_stops(tmp_path: Path, on_failure: str) -> None:
    L.seed_everything(0, verbose=False)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    health = GANHealth(every_n_steps=5, on_failure=on_failure)
    gan = tiny_gan(nonfinite="off")
    with pytest.warns(UserWarning, match=r"step 12 \(batch 13\).*Restored the last finite"):
        trainer = _fit(gan, 40, health, callbacks=[_NaNPenalty(at_step=13), ckpt])
    assert trainer.should_stop and gan.d_steps == 13  # stopped after the failing batch
    assert health.fired_at["divergence"] == 12
    files = _checkpoints_are_finite(tmp_path)  # includes the one written after the NaN step
    assert _max_step(files) == 26
    assert all(torch.isfinite(p).all() for p in gan.parameters())
    for opt in trainer.optimizers:
        assert all(torch.isfinite(v).all() for s in opt.state.values() for v in s.values())


def test_exploding_learning_rate_fires_divergence_and_stops() -> None:
    L.seed_everything(0, verbose=False)
    health = GANHealth(every_n_steps=10, on_failure="stop")
    gan = tiny_gan(lr_g=1.0, lr_d=1.0)
    with pytest.warns(UserWarning, match="divergence at generator step 10.*Stopping"):
        trainer = _fit(gan, 100, health)
    assert trainer.should_stop and gan.d_steps == 10
    assert max(abs(v) for v in health.history["loss_g"]) > health.max_abs_loss


class _DiracGenerator(nn.Module):
    """Mescheder et al.'s Dirac-GAN: G is a single point theta (the data is a point mass at 0)."""

    latent_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.ones(1))

    def forward(self, z: Tensor) -> Tensor:
        return self.theta.expand(z.shape[0], 1)


class _LinearCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.psi = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        return (x * self.psi).sum(-1)


class _R1(GANCallback):
    """R1 for the linear critic: gamma/2 * |grad_x D|^2 = gamma/2 * psi^2 (damps the rotation)."""

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma

    def discriminator_penalty(self, gan: GAN, d: DStep) -> Tensor:
        return 0.5 * self.gamma * gan.discriminator.psi.square().sum()


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_oscillation_fires_for_dirac_gan_and_not_once_damped(gamma: float) -> None:
    """Unregularised, (theta, psi) circles the equilibrium forever and the D loss swings; R1 with
    gamma >= 2 f'(0) damps the rotation and the run converges."""
    torch.manual_seed(0)
    gan = GAN(_DiracGenerator(), _LinearCritic(), lr_g=0.1, lr_d=0.1)
    data = DataLoader(TensorDataset(torch.zeros(1600, 1)), batch_size=8)
    health = GANHealth(every_n_steps=10, warmup_steps=0, window=100)
    callbacks = [_R1(gamma)] if gamma else []
    with pytest.warns(UserWarning, match="oscillation at") if not gamma else nullcontext():
        _fit(gan, 100, health, data=data, callbacks=callbacks)
    score = max(s["oscillation_score"] for s in health.signals)
    if gamma == 0.0:
        assert score > 0.9 and _fired(health) == {"oscillation"}
        assert abs(gan.generator.theta.item()) > 0.5  # still circling, radius ~1
    else:
        assert score < 0.3 and _fired(health) == set()
        assert abs(gan.generator.theta.item()) < 0.05


def test_discriminator_collapse_fires_for_a_constant_discriminator() -> None:
    L.seed_everything(0, verbose=False)
    gan = tiny_gan()
    with torch.no_grad():  # D(x) = 0 for all x; every gradient of the minimax D loss is 0
        for p in gan.discriminator.parameters():
            p.zero_()
    health = GANHealth(every_n_steps=10, warmup_steps=0, patience=2)
    with pytest.warns(UserWarning, match="d_collapse at generator step 20"):
        _fit(gan, 30, health)
    assert _fired(health) == {"d_collapse"}
    last = health.signals[-1]
    assert last["d_score_std"] == 0.0 and last["grad_norm_d"] == 0.0
    assert last["energy_distance"] > 0.1  # G is far from the data


def test_measurements_wait_for_the_generator_step_with_n_critic() -> None:
    """With n_critic=3, G steps on batches 3, 6, 9, ...: measurements happen every 5 G steps
    (batches 15, 30, 45), each from the D and G steps of one batch."""
    L.seed_everything(0, verbose=False)
    health = GANHealth(every_n_steps=5, warmup_steps=0)
    _fit(tiny_gan(n_critic=3), 30, health)  # 60 optimizer steps = 45 batches of D + 15 of G
    assert [int(s["step"]) for s in health.signals] == [5, 10, 15]
    assert len(health.history["loss_d"]) == 45 and len(health.history["loss_g"]) == 15
    assert all(s["grad_norm_g"] > 0 for s in health.signals)


# ----------------------------------------------------------------------------- state
def test_history_is_checkpointed_and_resumed(tmp_path: Path) -> None:
    L.seed_everything(0, verbose=False)
    health = GANHealth(every_n_steps=5, warmup_steps=0, window=50)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=32)  # one epoch: 16 batches
    _fit(tiny_gan(), 16, health, callbacks=[ckpt])
    saved = health.state_dict()
    assert len(saved["history"]["loss_d"]) == 16 and len(saved["signals"]) == 3

    resumed = GANHealth(every_n_steps=5, warmup_steps=0, window=50)
    seen_at_start = {}

    class _Peek(L.Callback):
        def on_train_start(self, trainer, pl_module):
            seen_at_start.update(resumed.state_dict())

    trainer = quiet_trainer(max_steps=52, callbacks=[resumed, _Peek()])
    trainer.fit(tiny_gan(), ring_data(n_samples=1024), ckpt_path=ckpt.best_model_path)
    assert seen_at_start == saved
    assert len(resumed.history["loss_d"]) == 26
    assert list(resumed.history["loss_d"])[:16] == saved["history"]["loss_d"]
    assert [s["step"] for s in resumed.signals] == [5, 10, 15, 20, 25]


# ------------------------------------------------------- mode collapse from the evaluation metrics
class _CollapsingGenerator(nn.Module):
    """A DCGAN generator that, from G step ``at`` on, maps every latent to one of 4 fixed ones
    (by the signs of its first two entries): a partial collapse to 4 images. The 4 images are as
    far apart as real digits, so the batch diversity ratio barely moves; recall cannot miss it."""

    def __init__(self, at: int | None) -> None:
        super().__init__()
        self.inner = DCGANGenerator(latent_dim=16, channels=1, image_size=8, width=16)
        self.latent_dim, self.at, self.steps = 16, at, lambda: 0
        self.register_buffer(
            "fixed", torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
        )

    def forward(self, z: Tensor) -> Tensor:
        if self.at is not None and self.steps() >= self.at:
            z = self.fixed[(z[:, 0] > 0).long() + 2 * (z[:, 1] > 0).long()]
        return self.inner(z)


def _digits_run(collapse_at: int | None, **health_kwargs) -> tuple[GANHealth, FeatureMetrics]:
    """250 G steps of a small DCGAN on 8x8 digits, recall/coverage every 25 steps (~4 s)."""
    L.seed_everything(0, verbose=False)
    generator = _CollapsingGenerator(collapse_at)
    gan = GAN(
        generator, DCGANDiscriminator(channels=1, image_size=8, width=16), lr_g=1e-3, lr_d=1e-3
    )
    generator.steps = lambda: gan.g_steps
    metrics = FeatureMetrics(
        every_n_steps=25, n_samples=500, features="digits", metrics=["recall", "coverage"]
    )
    health = GANHealth(every_n_steps=25, warmup_steps=50, patience=2, **health_kwargs)
    trainer = quiet_trainer(max_steps=2 * 250, callbacks=[metrics, health])
    trainer.fit(gan, datamodule=Digits(batch_size=64))
    return health, metrics


def test_recall_signal_stays_quiet_on_a_healthy_run() -> None:
    health, metrics = _digits_run(None, collapse_signal="recall")
    recall = [h["eval/recall"] for h in metrics.history]
    assert recall[0] < 0.05 and max(recall) > 0.4  # a young G starts near 0, then learns
    assert _fired(health) == set()
    assert health.signals[-1]["collapse_signal"] == recall[-1]


def test_recall_signal_fires_on_a_partial_collapse_the_diversity_ratio_misses() -> None:
    # The digits feature space that scores noise as noise (issue 21) gives this young generator
    # a recall near 0.1 before the collapse (about 0.25 in the earlier space): count falls from
    # a best of 0.05.
    with pytest.warns(UserWarning, match=r"mode_collapse at generator step 200 .*recall 0 \(best"):
        health, metrics = _digits_run(175, collapse_signal="recall", collapse_min_best=0.05)
    recall = {h["step"]: h["eval/recall"] for h in metrics.history}
    assert recall[150] > 0.05 and recall[175] < 0.01 and recall[200] < 0.01
    assert health.fired_at["mode_collapse"] == 200  # the second collapsed evaluation
    # the default signal would not have fired: 4 distinct digits look diverse pixel-wise
    assert min(s["diversity_ratio"] for s in health.signals) > 0.5 > health.collapse_ratio


def test_metric_signal_without_the_evaluation_callback_names_the_fix() -> None:
    health = GANHealth(collapse_signal="coverage")
    with pytest.raises(ValueError, match=r"FeatureMetrics\(metrics=\['coverage', \.\.\.\]\)"):
        _fit(tiny_gan(), 4, health)
