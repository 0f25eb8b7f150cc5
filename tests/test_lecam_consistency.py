"""bCR and LeCam against hand computations on known scores, their gradients to D, packing,
the anchors' exact resume, and bad parameters refused."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lightning_gan.augment.diffaugment import diff_augment
from lightning_gan.callbacks.consistency import ConsistencyRegularization
from lightning_gan.callbacks.lecam import LeCamRegularization
from lightning_gan.callbacks.packing import pack, unpack
from lightning_gan.module import GAN
from tests.helpers import d_step, flat_params, quiet_trainer, ring_data, tiny_gan

no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log")


def _image_gan() -> GAN:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    return GAN(generator, discriminator, latent_dim=4)


# --------------------------------------------------------------------------------------- bCR
@no_trainer
def test_bcr_equals_the_formula_on_the_same_augmentations() -> None:
    gan = _image_gan()
    real, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    d = d_step(gan, real, fake)
    real_scores, fake_scores = d.real_scores, d.fake_scores
    bcr = ConsistencyRegularization(weight=10.0, fake_weight=5.0)
    torch.manual_seed(1)
    out = bcr.discriminator_penalty(gan, d)
    torch.manual_seed(1)  # the same draws: T(real) first, then T(fake)
    dnet = gan.discriminator
    policy = ("flip", "translation")  # shifts pad by reflection, as StudioGAN's bCR does
    t_real = dnet(diff_augment(real, policy, translation_padding="reflect")).view(-1)
    t_fake = dnet(diff_augment(fake, policy, translation_padding="reflect")).view(-1)
    expected = (
        10.0 * (t_real - real_scores).square().mean() + 5.0 * (t_fake - fake_scores).square().mean()
    )
    torch.testing.assert_close(out, expected)
    assert out.item() > 0
    # Both sides keep their gradient to D: the penalty's gradient is that of the formula.
    grad = torch.autograd.grad(out, dnet[1].weight, retain_graph=True)[0]
    torch.testing.assert_close(grad, torch.autograd.grad(expected, dnet[1].weight)[0])


@no_trainer
def test_bcr_is_zero_for_a_d_invariant_to_the_augmentation() -> None:
    gan = _image_gan()

    class Total(nn.Module):  # D(x) = sum(x): a horizontal flip does not change it
        def forward(self, x):
            return x.flatten(1).sum(1)

    gan.discriminator = Total()
    real, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    out = ConsistencyRegularization(weight=10.0, policy="flip").discriminator_penalty(
        gan, d_step(gan, real, fake)
    )
    assert out.abs().item() < 1e-8


def test_bcr_augments_each_member_of_a_pack() -> None:
    gan = _image_gan()
    gan.discriminator.pack = 2  # as a packed reference net says
    x = torch.randn(4, 2, 8, 8)  # 4 packs of 2 one-channel samples
    bcr = ConsistencyRegularization(policy="flip")
    torch.manual_seed(3)
    out = bcr.augment(gan, x)
    torch.manual_seed(3)
    assert torch.equal(out, pack(diff_augment(unpack(x, 2), ("flip",)), 2))
    flipped = [torch.equal(out[i // 2, i % 2], x[i // 2, i % 2].flip(-1)) for i in range(8)]
    assert 0 < sum(flipped) < 8  # members flip independently


# ------------------------------------------------------------------------------------- LeCam
@no_trainer
@pytest.mark.parametrize("one_sided", [False, True])
def test_lecam_equals_the_formula_with_ema_anchors(one_sided: bool) -> None:
    gan = tiny_gan(hidden=4)
    lecam = LeCamRegularization(weight=0.3, ema_decay=0.9, one_sided=one_sided)
    r1 = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f1 = torch.tensor([-1.0, 0.0, -2.0], requires_grad=True)
    out1 = lecam.discriminator_penalty(gan, d_step(gan, None, None, None, r1, f1))
    alpha_r, alpha_f = 2.0, -1.0  # first step: the anchors are the step's means
    if one_sided:
        expected1 = F.relu(r1 - alpha_f).square().mean() + F.relu(alpha_r - f1).square().mean()
    else:
        expected1 = (r1 - alpha_f).square().mean() + (f1 - alpha_r).square().mean()
    torch.testing.assert_close(out1, 0.3 * expected1)
    assert out1.item() == pytest.approx(0.3 * (((2**2 + 3**2 + 4**2) + (3**2 + 2**2 + 4**2)) / 3))
    r2, f2 = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 1.5])
    out2 = lecam.discriminator_penalty(gan, d_step(gan, None, None, None, r2, f2))
    # Zero-debiased EMA (the authors' TF code): (0.09 m1 + 0.1 m2) / (1 - 0.9^2).
    alpha_r, alpha_f = (0.09 * 2.0 + 0.1 * 0.5) / 0.19, (0.09 * -1.0 + 0.1 * 1.0) / 0.19
    torch.testing.assert_close(lecam.anchors, torch.tensor([alpha_r, alpha_f]))
    if one_sided:
        expected2 = F.relu(r2 - alpha_f).square().mean() + F.relu(alpha_r - f2).square().mean()
    else:
        expected2 = (r2 - alpha_f).square().mean() + (f2 - alpha_r).square().mean()
    torch.testing.assert_close(out2, 0.3 * expected2)
    # The anchors are constants: d/dr1 = 0.3 * 2 (r1 - alpha_F) / 3 (paper's form).
    if not one_sided:
        (grad,) = torch.autograd.grad(out1, r1)
        torch.testing.assert_close(grad, 0.3 * 2 * (r1.detach() + 1.0) / 3)


@no_trainer
def test_lecam_default_is_the_authors_relu_form() -> None:
    """Scores already on the far side of the other anchor add nothing by default (their code's
    ``relu``); the paper's two-sided form would pull them back."""
    gan = tiny_gan(hidden=4)
    real, fake = torch.tensor([-3.0, 5.0]), torch.tensor([4.0, -6.0])  # anchors: 1.0, -1.0
    default = LeCamRegularization(weight=1.0).discriminator_penalty(
        gan, d_step(gan, None, None, None, real, fake)
    )
    # relu(real - (-1))^2 = [0, 36]; relu(1 - fake)^2 = [0, 49]
    assert default.item() == pytest.approx((36 + 49) / 2)
    paper = LeCamRegularization(weight=1.0, one_sided=False).discriminator_penalty(
        gan, d_step(gan, None, None, None, real, fake)
    )
    assert paper.item() == pytest.approx((4 + 36) / 2 + (9 + 49) / 2)


@no_trainer
def test_lecam_warmup_follows_the_means_with_the_penalty_off() -> None:
    """warmup=N (the authors' BigGAN-CIFAR code): no penalty for N steps while the anchors
    follow the current means, then the EMA continues from the last warm-up means."""
    gan = tiny_gan(hidden=4)
    lecam = LeCamRegularization(weight=0.3, ema_decay=0.9, warmup=1)
    r1, f1 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, 0.0, -2.0])
    assert lecam.discriminator_penalty(gan, d_step(gan, None, None, None, r1, f1)) is None
    torch.testing.assert_close(lecam.anchors, torch.tensor([2.0, -1.0]))
    r2, f2 = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 1.5])
    out2 = lecam.discriminator_penalty(gan, d_step(gan, None, None, None, r2, f2))
    alpha_r, alpha_f = 0.9 * 2.0 + 0.1 * 0.5, 0.9 * -1.0 + 0.1 * 1.0
    torch.testing.assert_close(lecam.anchors, torch.tensor([alpha_r, alpha_f]))
    torch.testing.assert_close(
        out2, 0.3 * ((r2 - alpha_f).square().mean() + (f2 - alpha_r).square().mean())
    )


def test_reflect_translation_equals_torch_reflect_padding() -> None:
    from lightning_gan.augment.diffaugment import translate

    x = torch.randn(3, 2, 8, 8)
    dy, dx = torch.tensor([2, -3, 0]), torch.tensor([-1, 3, 1])
    out = translate(x, dy, dx, "reflect")
    padded = F.pad(x, [4, 4, 4, 4], mode="reflect")
    for b in range(3):
        top, left = 4 - int(dy[b]), 4 - int(dx[b])
        assert torch.equal(out[b], padded[b, :, top : top + 8, left : left + 8])


def _fit_lecam(max_steps: int, ckpt_path=None, save_to=None) -> tuple[GAN, LeCamRegularization]:
    L.seed_everything(0, verbose=False)
    lecam = LeCamRegularization(weight=1.0, ema_decay=0.9)
    gan = tiny_gan(hidden=8)
    trainer = quiet_trainer(max_steps=max_steps, callbacks=[lecam])
    trainer.fit(gan, ring_data(n_samples=160, batch_size=32), ckpt_path=ckpt_path)
    if save_to is not None:
        trainer.save_checkpoint(save_to)
    return gan, lecam


def test_lecam_anchors_and_weights_after_resume_equal_the_uninterrupted_run(tmp_path) -> None:
    full_gan, full = _fit_lecam(max_steps=20)
    _, half = _fit_lecam(max_steps=6, save_to=tmp_path / "half.ckpt")  # mid-epoch
    assert not torch.equal(half.anchors, full.anchors)
    state = torch.load(tmp_path / "half.ckpt", weights_only=True)["callbacks"]
    (saved,) = [v for k, v in state.items() if "LeCamRegularization" in k]
    assert torch.equal(saved["anchors"], half.anchors)
    resumed_gan, resumed = _fit_lecam(max_steps=20, ckpt_path=tmp_path / "half.ckpt")
    assert torch.equal(resumed.anchors, full.anchors)
    assert torch.equal(flat_params(resumed_gan), flat_params(full_gan))


def test_lecam_logs_its_penalty_and_anchors() -> None:
    gan, lecam = _fit_lecam(max_steps=4)
    metrics = gan.trainer.callback_metrics
    assert metrics["lecam/anchor_real"].item() == pytest.approx(lecam.anchors[0].item())
    assert metrics["lecam/anchor_fake"].item() == pytest.approx(lecam.anchors[1].item())
    assert metrics["penalty/lecam"].item() > 0


# ------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: ConsistencyRegularization(weight=-1.0), "weight must be a finite number >= 0"),
        (lambda: ConsistencyRegularization(fake_weight=-1), "fake_weight must be"),
        (lambda: ConsistencyRegularization(policy="rotate"), "flip"),
        (lambda: LeCamRegularization(weight=-0.3), "weight must be a finite number >= 0"),
        (lambda: LeCamRegularization(ema_decay=1.0), "ema_decay must lie in \\(0, 1\\)"),
        (lambda: LeCamRegularization(ema_decay=0.0), "ema_decay must lie in \\(0, 1\\)"),
    ],
)
def test_bad_parameters_are_refused(build, match) -> None:
    with pytest.raises(ValueError, match=match):
        build()
