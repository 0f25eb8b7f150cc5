"""DiffAugment and ADA: the augmentation ops against hand computations, gradients to G, the
callbacks in a fit, ADA's p following the overfitting signal, and exact resume of p."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan.augment import ada
from lightning_gan.augment.diffaugment import (
    brightness,
    contrast,
    cutout,
    cutout_at,
    diff_augment,
    parse_policy,
    saturation,
    translate,
    translation,
)
from lightning_gan.callbacks.adaptive_augment import AdaptiveAugment
from lightning_gan.callbacks.diffaugment import DiffAugment
from lightning_gan.data import Digits
from lightning_gan.module import GAN
from lightning_gan.step.records import DStep
from tests.helpers import d_step, flat_params, quiet_trainer, ring_data, tiny_gan

no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log")


def _grid(b: int = 2, c: int = 1, h: int = 4, w: int = 4) -> Tensor:
    return torch.arange(b * c * h * w, dtype=torch.float32).view(b, c, h, w) + 1


# --------------------------------------------------------------------------- DiffAugment ops
def test_translate_matches_a_hand_shift_with_zero_fill() -> None:
    x = _grid()
    out = translate(x, torch.tensor([1, 0]), torch.tensor([0, -2]))
    expected0 = torch.zeros(4, 4)
    expected0[1:] = x[0, 0, :3]  # down by one row
    expected1 = torch.zeros(4, 4)
    expected1[:, :2] = x[1, 0, :, 2:]  # left by two columns
    assert torch.equal(out[0, 0], expected0) and torch.equal(out[1, 0], expected1)


def test_random_translation_is_an_integer_shift_within_one_eighth() -> None:
    torch.manual_seed(0)
    x = torch.rand(64, 2, 16, 16) + 1  # no zeros in the input
    out = translation(x, ratio=0.125)  # up to 2 pixels
    seen = set()
    for i in range(64):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(
                out[i : i + 1], translate(x[i : i + 1], torch.tensor([dy]), torch.tensor([dx]))
            )
        ]
        assert len(matches) == 1, i
        seen.add(matches[0])
    assert len(seen) > 15  # of 25 shifts, most drawn in 64 samples


def test_cutout_at_zeroes_the_clipped_square() -> None:
    x = _grid()
    out = cutout_at(x, torch.tensor([-1, 2]), torch.tensor([1, 3]), 2, 2)
    mask0 = torch.ones(4, 4)
    mask0[0, 1:3] = 0  # rows -1..0, columns 1..2
    mask1 = torch.ones(4, 4)
    mask1[2:4, 3] = 0  # rows 2..3, columns 3..4
    assert torch.equal(out[0, 0], x[0, 0] * mask0) and torch.equal(out[1, 0], x[1, 0] * mask1)


def test_random_cutout_zeroes_one_square_of_half_the_side() -> None:
    torch.manual_seed(0)
    out = cutout(torch.ones(200, 3, 8, 8), ratio=0.5)
    assert torch.equal(out[:, 0], out[:, 2])  # the same square on every channel
    zeros = out[:, 0] == 0
    counts = zeros.flatten(1).sum(1)
    assert counts.max() == 16 and counts.min() >= 4  # 4x4, clipped by the border to >= 2x2
    assert (counts == 16).float().mean() > 0.3
    for z in zeros:  # the zeros form one rectangle
        rows, cols = z.any(1).nonzero().flatten(), z.any(0).nonzero().flatten()
        assert z.sum() == len(rows) * len(cols)
        assert rows.max() - rows.min() + 1 == len(rows) and cols.max() - cols.min() + 1 == len(cols)


def test_color_ops_have_diffaugments_ranges() -> None:
    torch.manual_seed(0)
    x = torch.rand(500, 3, 4, 4) * 2 - 1
    shift = (brightness(x) - x).flatten(1)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)  # one value per sample
    assert shift.min() >= -0.5 and shift.max() <= 0.5 and shift.std() > 0.25  # U(-.5,.5): 0.29
    grey = torch.rand(3, 1, 4, 4)
    assert torch.allclose(saturation(grey), grey)  # a single channel has no saturation
    out = contrast(x)
    mean = x.mean(dim=(1, 2, 3))
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), mean)  # contrast keeps the mean
    factor = (out - mean.view(-1, 1, 1, 1)).flatten(1).norm(dim=1) / (
        x - mean.view(-1, 1, 1, 1)
    ).flatten(1).norm(dim=1)
    assert factor.min() >= 0.5 - 1e-5 and factor.max() <= 1.5 + 1e-5


@pytest.mark.parametrize(
    "policy, match",
    [("colour", "colour"), ("color,zoom", "zoom"), ("", "Unknown"), (3, "comma-separated")],
)
def test_unknown_policy_is_refused_with_the_valid_names(policy, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        DiffAugment(policy=policy)
    if isinstance(policy, str):
        assert "color, translation, cutout, flip" in str(info.value)


@pytest.mark.parametrize("kwargs", [dict(translation_ratio=0.0), dict(cutout_ratio=1.5)])
def test_bad_ratios_are_refused(kwargs) -> None:
    with pytest.raises(ValueError, match="fraction of the image side in \\(0, 1\\]"):
        DiffAugment(**kwargs)


def test_gradients_of_an_augmented_fake_reach_the_generator() -> None:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)), nn.Tanh())
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    for op in (
        lambda x: diff_augment(x, parse_policy("color,translation,cutout")),
        lambda x: ada.ada_augment(x, 1.0),
    ):
        generator.zero_grad()
        fake = generator(torch.randn(16, 4))
        discriminator(op(fake)).sum().backward()
        grads = [p.grad for p in generator.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads)


# ---------------------------------------------------------------------------------- ADA ops
def test_ada_blit_matrices_copy_pixels_exactly() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 3, 6, 6)
    one = torch.ones(1)
    flipped = ada.apply_geometry(x, ada.scale2d(-one, one))
    torch.testing.assert_close(flipped, x.flip(3), atol=1e-5, rtol=0)
    quarter = ada.apply_geometry(x, ada.rotate2d(torch.tensor([math.pi / 2])))
    torch.testing.assert_close(quarter, torch.rot90(x, 1, (2, 3)), atol=1e-5, rtol=0)
    shifted = ada.apply_geometry(x, ada.translate2d(-one, 0 * one))  # reads x one pixel left
    torch.testing.assert_close(shifted[..., 1:], x[..., :-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(shifted[..., 0], x[..., 0], atol=1e-5, rtol=0)  # reflected edge


def test_ada_color_matrices_on_rgb_and_grey() -> None:
    torch.manual_seed(0)
    rgb, grey = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    b = torch.tensor([0.3, -0.2])
    for x in (rgb, grey):
        torch.testing.assert_close(ada.apply_color(x, ada.translate3d(b)), x + b.view(2, 1, 1, 1))
        c = torch.tensor([2.0, 0.5])
        torch.testing.assert_close(ada.apply_color(x, ada.scale3d(c)), x * c.view(2, 1, 1, 1))
    v = ada.luma_axis(rgb)
    flip = torch.eye(4) - 2 * torch.outer(v, v)
    torch.testing.assert_close(ada.apply_color(grey, flip.expand(2, 4, 4)), -grey)
    hue = ada.rotate3d(v, torch.tensor([1.0, -2.0]))
    out = ada.apply_color(rgb, hue)
    torch.testing.assert_close(out.sum(1), rgb.sum(1), atol=1e-5, rtol=0)  # luma is kept
    grey_rgb = grey.expand(2, 3, 4, 4)
    torch.testing.assert_close(ada.apply_color(grey_rgb, hue), grey_rgb, atol=1e-5, rtol=0)
    torch.testing.assert_close(ada.apply_color(grey, hue), grey, atol=1e-5, rtol=0)


def test_ada_strength_zero_is_the_identity_and_one_changes_every_image() -> None:
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8) * 2 - 1
    assert ada.ada_augment(x, 0.0) is x
    out = ada.ada_augment(x, 1.0)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert ((out - x).flatten(1).abs().amax(1) > 1e-3).all()
    half = ada.ada_augment(x, 0.2, ("blit",))  # each blit op fires with 0.2
    untouched = ((half - x).flatten(1).abs().amax(1) < 1e-5).float().mean()
    assert 0.3 < untouched < 0.85  # P(no op changes the image) = 0.8^3 + flips/turns to self


def test_ada_refuses_colour_for_other_channel_counts() -> None:
    with pytest.raises(ValueError, match="policy='blit,geom'"):
        ada.apply_color(torch.zeros(1, 2, 4, 4), torch.eye(4).expand(1, 4, 4))


# -------------------------------------------------------------------- the callbacks in a fit
class _Recorder(nn.Module):
    """A flattening linear D that records what it sees and in which phase."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 16), nn.LeakyReLU(0.2))
        self.out = nn.Linear(16, 1)
        self.seen: list[tuple[bool, Tensor]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append((not self.out.weight.requires_grad, x.detach().clone()))
        return self.out(self.net(x)).view(-1)


def image_gan(shape=(1, 8, 8), lr_g=2e-4, lr_d=2e-4, **kwargs) -> GAN:
    generator = nn.Sequential(
        nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, math.prod(shape)), nn.Unflatten(1, shape)
    )
    return GAN(generator, _Recorder(shape), latent_dim=8, lr_g=lr_g, lr_d=lr_d, **kwargs)


def _constant_images(n: int = 32, value: float = 0.5) -> DataLoader:
    return DataLoader(TensorDataset(torch.full((n, 1, 8, 8), value)), batch_size=16)


class _ConstantImages(nn.Module):
    """G(z) = an image of one value c everywhere (c trainable), whatever z."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(-0.25))

    def forward(self, z: Tensor) -> Tensor:
        return self.c.expand(z.shape[0], 1, 8, 8) + 0 * z[:, :1, None, None]


@pytest.mark.parametrize(
    "callback", [DiffAugment(policy="color"), AdaptiveAugment(p=1.0, policy="color")]
)
def test_both_inputs_of_d_are_augmented_in_both_phases(callback) -> None:
    gan = GAN(_ConstantImages(), _Recorder((1, 8, 8)), latent_dim=8)
    quiet_trainer(max_steps=4, callbacks=[callback]).fit(gan, _constant_images())
    seen = gan.discriminator.seen
    # D phase: real, fake; G phase: fake; twice. Every input batch is constant images (0.5 or
    # c) before augmentation: the brightness draw makes their per-sample means differ.
    assert len(seen) == 6 and [frozen for frozen, _ in seen] == [False, False, True] * 2
    for _, x in seen:
        assert x.shape == (16, 1, 8, 8) and x.flatten(1).mean(1).std() > 0.05


@pytest.mark.parametrize("callback", [DiffAugment(), AdaptiveAugment()])
def test_vectors_are_refused_at_the_first_batch(callback) -> None:
    gan = tiny_gan(hidden=4)
    before = flat_params(gan).clone()
    with pytest.raises(ValueError, match="images \\[B, C, H, W\\].*InstanceNoise"):
        quiet_trainer(max_steps=4, callbacks=[callback]).fit(gan, ring_data(64, 32))
    assert torch.equal(flat_params(gan), before)


def test_ada_refuses_colour_on_two_channel_images_at_the_first_batch() -> None:
    gan = image_gan(shape=(2, 8, 8))
    data = DataLoader(TensorDataset(torch.zeros(32, 2, 8, 8)), batch_size=16)
    with pytest.raises(ValueError, match="policy='blit,geom'"):
        quiet_trainer(max_steps=2, callbacks=[AdaptiveAugment()]).fit(gan, data)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target=0.0), "target must lie in \\(0, 1\\)"),
        (dict(target=1.0), "target must lie in \\(0, 1\\)"),
        (dict(interval=0), "interval must be an integer >= 1"),
        (dict(speed_images=0), "speed_images must be a positive"),
        (dict(p=1.5), "p must lie in \\[0, 1\\]"),
        (dict(policy="blit,zoom"), "blit, geom, color"),
    ],
)
def test_ada_bad_parameters_are_refused(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        AdaptiveAugment(**kwargs)


@no_trainer
def test_ada_update_rule_by_hand() -> None:
    gan = image_gan()
    ada_cb = AdaptiveAugment(target=0.6, interval=2, speed_images=1000, p=0.5)
    fake = torch.zeros(8, 1, 8, 8)

    def step(scores: list[float]) -> None:
        gan.d_steps += 1
        d = d_step(gan, fake, fake, real_scores=torch.tensor(scores), fake_scores=torch.zeros(8))
        ada_cb.on_discriminator_step_end(gan, d)

    step([1.0] * 8)  # mid-interval: p unchanged
    assert ada_cb.p == 0.5 and float(ada_cb.stats.sign_sum) == 8
    step([1.0] * 6 + [-1.0, 0.0])  # r_t = (8 + 5) / 16 = 0.8125 > 0.6: up by 16 / 1000
    assert ada_cb.last_rt == 13 / 16 and ada_cb.p == pytest.approx(0.516)
    step([-1.0] * 8)
    step([1.0] * 4 + [-1.0] * 4)  # r_t = -0.5 < 0.6: down by 16 / 1000
    assert ada_cb.last_rt == -0.5 and ada_cb.p == pytest.approx(0.5)
    ada_cb.p = 0.001
    step([-1.0] * 8)
    step([-1.0] * 8)
    assert ada_cb.p == 0.0  # clamped at 0
    state = ada_cb.state_dict()
    assert state["p"] == 0.0 and state["count"] == 0.0


class _DataGenerator(nn.Module):
    """'Generates' the training images themselves: D cannot tell real from fake."""

    latent_dim = 4

    def __init__(self, data: Tensor) -> None:
        super().__init__()
        self.register_buffer("data", data)
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, z: Tensor) -> Tensor:
        index = (z[:, 0].abs() * 1e4).long() % self.data.shape[0]
        return self.data[index] + 0 * self.unused


def _small_set() -> Tensor:
    return torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _strong_d() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))


class _History(AdaptiveAugment):
    """Records ``(r_t, p)`` at every update of ``p``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[tuple[float, float]] = []

    def on_discriminator_step_end(self, gan: GAN, output: DStep) -> None:
        super().on_discriminator_step_end(gan, output)
        if gan.d_steps % self.interval == 0:
            self.history.append((self.last_rt, self.p))


def _fit_small_set(gan: GAN, p: float) -> tuple[_History, L.Trainer]:
    ada_cb = _History(interval=4, speed_images=2000, p=p)  # 128 images: p moves 0.064
    trainer = quiet_trainer(max_steps=2 * 200, callbacks=[ada_cb])
    trainer.fit(gan, DataLoader(TensorDataset(_small_set()), batch_size=32, shuffle=True))
    return ada_cb, trainer


def test_ada_p_rises_when_d_overfits_a_tiny_set_and_holds_rt_at_target() -> None:
    L.seed_everything(0, verbose=False)
    generator = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    gan = GAN(generator, _strong_d(), latent_dim=4, lr_g=1e-6, lr_d=1e-3)  # G stands still
    ada_cb, trainer = _fit_small_set(gan, p=0.0)
    rts = [rt for rt, _ in ada_cb.history]
    assert len(rts) == 50 and max(rts[:10]) > 0.6  # D separates 32 images from G's at once
    assert max(p for _, p in ada_cb.history) > 0.25 and ada_cb.p > 0.1
    late = sum(rts[25:]) / 25  # the controller holds the signal at the target
    assert abs(late - 0.6) < 0.1
    assert trainer.callback_metrics["ada/p"].item() == pytest.approx(ada_cb.p)
    assert trainer.callback_metrics["ada/rt"].item() == pytest.approx(ada_cb.last_rt)


def test_ada_p_falls_back_to_zero_when_d_cannot_overfit() -> None:
    L.seed_everything(0, verbose=False)
    gan = GAN(_DataGenerator(_small_set()), _strong_d(), latent_dim=4, lr_d=1e-3)
    ada_cb, _ = _fit_small_set(gan, p=0.5)
    ps = [p for _, p in ada_cb.history]
    assert ps[0] < 0.5 and ps[-1] == 0.0 and ps.index(0.0) < 20  # 8 steps down, clamped
    late = [rt for rt, _ in ada_cb.history[20:]]
    assert max(late) < 0.6 and abs(sum(late) / len(late)) < 0.2  # D(real) ~ D(fake) ~ 0


def _fit_ada(max_steps: int, ckpt_path=None, save_to=None) -> tuple[GAN, AdaptiveAugment]:
    L.seed_everything(0, verbose=False)
    ada_cb = AdaptiveAugment(interval=4, speed_images=3000, p=0.1)
    generator = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    gan = GAN(generator, _strong_d(), latent_dim=8, lr_d=1e-3)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=[ada_cb])
    trainer.fit(gan, Digits(batch_size=32), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return gan, ada_cb


def test_ada_p_and_weights_after_resume_equal_the_uninterrupted_run(tmp_path) -> None:
    full_gan, full = _fit_ada(max_steps=2 * 30)
    _, half = _fit_ada(max_steps=2 * 13, save_to=tmp_path / "half.ckpt")  # mid-interval
    assert 0 < half.stats.count < 4 * 32 and half.p != full.p
    resumed_gan, resumed = _fit_ada(max_steps=2 * 30, ckpt_path=tmp_path / "half.ckpt")
    assert full.p != 0.1 and resumed.p == full.p and resumed.last_rt == full.last_rt
    assert float(resumed.stats.count) == float(full.stats.count)
    assert torch.equal(flat_params(resumed_gan), flat_params(full_gan))
