"""ImageFolder and TorchvisionData: shapes, exact ranges, labels, splits, and errors in setup."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import CIFAR10, FakeData

from lightning_gan.data import ImageFolder, TorchvisionData, UnreadableImageError
from lightning_gan.data.debian import DEBIAN_FASHION_MNIST, fashion_mnist_from_debian
from lightning_gan.data.torchvision_data import NAMES

WHITE, BLACK = 255, 0


def _uniform(mode: str, size: tuple[int, int], value: int) -> Image.Image:
    """``size`` is (width, height), PIL's order."""
    colour = {"L": value, "RGB": (value,) * 3, "RGBA": (value,) * 3 + (255,)}[mode]
    return Image.new(mode, size, colour)


def _mixed_folder(root: Path) -> dict[str, tuple[int, float]]:
    """Two classes of every supported format and colour mode; file -> (label, expected value)."""
    a, b = root / "a", root / "b"
    a.mkdir(parents=True)
    b.mkdir()
    _uniform("L", (30, 20), WHITE).save(a / "grey.png")
    _uniform("RGB", (16, 16), BLACK).save(a / "rgb.png")
    clear = Image.new("RGBA", (12, 12), (255, 255, 255, 0))  # white, fully transparent
    clear.save(a / "rgba_clear.png")
    palette = _uniform("RGB", (9, 9), WHITE).quantize(4)
    palette.save(a / "palette.png")
    transparent = _uniform("RGB", (9, 9), WHITE).quantize(4)
    transparent.save(a / "palette_transparent.png", transparency=0)  # the only colour: clear
    _uniform("RGB", (24, 40), WHITE).save(b / "photo.jpg")
    _uniform("RGB", (17, 13), WHITE).save(b / "photo.JPEG")
    _uniform("RGBA", (10, 14), WHITE).save(b / "lossless.webp", lossless=True)
    _uniform("RGB", (10, 10), BLACK).save(b / "paint.bmp")
    (b / "notes.txt").write_text("ignored: not an image")
    (b / ".hidden.png").write_bytes(b"skipped: hidden")
    return {
        "grey.png": (0, 1.0),
        "rgb.png": (0, -1.0),
        "rgba_clear.png": (0, -1.0),  # composited on black
        "palette.png": (0, 1.0),
        "palette_transparent.png": (0, -1.0),
        "photo.jpg": (1, 1.0),
        "photo.JPEG": (1, 1.0),
        "lossless.webp": (1, 1.0),
        "paint.bmp": (1, -1.0),
    }


@pytest.mark.parametrize("channels", [3, 1])
def test_mixed_sizes_and_modes_load_with_exact_range_and_labels(
    tmp_path: Path, channels: int
) -> None:
    expected = _mixed_folder(tmp_path)
    dm = ImageFolder(tmp_path, image_size=8, channels=channels, batch_size=3)
    state = torch.get_rng_state()
    dm.setup()
    assert torch.equal(torch.get_rng_state(), state)
    assert dm.classes == ["a", "b"] and dm.num_classes == 2
    assert dm.shape == (channels, 8, 8)
    dataset = dm.train_dataset.dataset
    assert sorted(Path(f).name for f in dataset.files) == sorted(expected)
    for i in range(len(dataset)):
        x, y = dataset[i]
        label, value = expected[Path(dataset.files[i]).name]
        assert x.shape == (channels, 8, 8) and x.dtype == torch.float32
        assert y == label, dataset.files[i]
        assert torch.equal(x, torch.full_like(x, value)), (dataset.files[i], x.unique())
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (3, channels, 8, 8) and yb.dtype == torch.int64


def test_centre_crop_keeps_the_middle_and_alpha_composites_per_pixel(tmp_path: Path) -> None:
    wide = np.zeros((8, 24), dtype=np.uint8)
    wide[:, 8:16] = WHITE  # black | white | black: the centre crop is all white
    Image.fromarray(wide).save(tmp_path / "wide.png")
    rgba = np.full((8, 8, 4), 255, dtype=np.uint8)
    rgba[:, :4, 3] = 0  # left half transparent white, right half opaque white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "half.png")
    dm = ImageFolder(tmp_path, image_size=8, batch_size=1)
    dm.setup()
    dataset = dm.train_dataset.dataset
    images = {Path(f).name: dataset[i][0] for i, f in enumerate(dataset.files)}
    assert torch.equal(images["wide.png"], torch.ones(3, 8, 8))
    assert torch.equal(images["half.png"][:, :, :4], -torch.ones(3, 8, 4))
    assert torch.equal(images["half.png"][:, :, 4:], torch.ones(3, 8, 4))


def test_flat_folder_is_one_class_with_label_zero(tmp_path: Path) -> None:
    for i in range(5):
        _uniform("RGB", (6 + i, 6), WHITE).save(tmp_path / f"{i}.png")
    dm = ImageFolder(tmp_path, image_size=4, batch_size=2)
    dm.setup()
    assert dm.classes == [tmp_path.name] and dm.num_classes == 1
    assert torch.equal(dm.train_dataset.dataset.labels, torch.zeros(5, dtype=torch.int64))
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (2, 3, 4, 4) and torch.equal(y, torch.zeros(2, dtype=torch.int64))
    assert dm.val_dataset is None  # nothing held out: evaluation runs over the training images
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        assert [len(y) for _, y in loader] == [2, 2, 1]  # in order, every image once


def _two_class_folder(root: Path, n_a: int = 30, n_b: int = 10) -> None:
    for cls, n in (("a", n_a), ("b", n_b)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (4, 4), i).save(root / cls / f"{i:02d}.png")


def test_val_split_is_stratified_disjoint_seeded_and_iterated_in_order(tmp_path: Path) -> None:
    _two_class_folder(tmp_path)
    dm = ImageFolder(tmp_path, image_size=4, channels=1, batch_size=4, val_fraction=0.25, seed=1)
    train, val = dm.train_dataset, dm.val_dataset
    assert len(train) == 30 and len(val) == 10
    assert set(train.indices).isdisjoint(val.indices)
    assert sorted(train.indices + val.indices) == list(range(40))
    labels = train.dataset.labels
    # shares 7.5 and 2.5: floors 7 and 2, the one left over to the first class (ties by order)
    assert labels[val.indices].bincount().tolist() == [8, 2]
    again = ImageFolder(tmp_path, image_size=4, channels=1, batch_size=4, val_fraction=0.25, seed=1)
    other = ImageFolder(tmp_path, image_size=4, channels=1, batch_size=4, val_fraction=0.25, seed=2)
    assert again.val_dataset.indices == val.indices
    assert other.val_dataset.indices != val.indices
    batches = list(dm.val_dataloader())
    assert [len(y) for _, y in batches] == [4, 4, 2]  # unshuffled, drop_last=False
    seen = torch.cat([y for _, y in batches])
    assert torch.equal(seen, labels[val.indices])
    assert [len(y) for _, y in dm.test_dataloader()] == [4, 4, 2]


def test_iterating_the_loaders_never_draws_from_the_global_rng(tmp_path: Path) -> None:
    """A DataLoader draws its workers' base seed from the global RNG at every iterator unless it
    has a generator (with persistent workers only at the first: a resumed run would then shift
    the latents at another step). Drawn with or without workers, so no workers are needed here."""
    _two_class_folder(tmp_path, n_a=8, n_b=8)
    dm = ImageFolder(tmp_path, image_size=4, batch_size=4, val_fraction=0.25)
    dm.setup()
    loaders = [dm.train_dataloader(), dm.val_dataloader()]  # built: their seeds are drawn
    state = torch.get_rng_state()
    for loader in loaders:
        for _ in range(2):  # two epochs each
            assert len(list(loader)) > 0
    assert torch.equal(torch.get_rng_state(), state)


def _truncated(path: Path, image: Image.Image, fmt: str) -> None:
    image.save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])


def _noise(size: int = 32) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def _bad_folder(kind: str, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        return root
    if kind == "no images":
        (root / "readme.txt").write_text("hello")
        (root / "sub").mkdir()
        (root / "sub" / "table.csv").write_text("1,2")
        return root
    for i in range(3):
        _uniform("RGB", (8, 8), WHITE).save(root / f"ok{i}.png")
    if kind == "truncated png":
        _truncated(root / "broken.png", _noise(), "PNG")
    elif kind == "truncated jpeg":
        _truncated(root / "broken.jpg", _noise(), "JPEG")
    elif kind == "not an image":
        (root / "broken.png").write_text("this is text")
    elif kind == "mixed layout":
        (root / "cls").mkdir()
        _uniform("RGB", (8, 8), WHITE).save(root / "cls" / "x.png")
    elif kind == "empty class":
        for name in ("cat", "dog"):
            (root / name).mkdir()
        for i in range(3):
            (root / f"ok{i}.png").rename(root / "cat" / f"ok{i}.png")
    return root


@pytest.mark.parametrize(
    ("kind", "kwargs", "error", "match"),
    [
        ("empty", {}, ValueError, r"is empty: put image files \(bmp, jpeg, jpg, png, webp\)"),
        ("no images", {}, ValueError, r"no image files: found 2 other.*supported extensions"),
        ("truncated png", {}, ValueError, r"1 of 4 image files.*broken\.png.*Delete or re-save"),
        ("truncated jpeg", {}, ValueError, r"broken\.jpg.*truncated.*Delete or re-save"),
        ("not an image", {"check": "header"}, ValueError, r"broken\.png.*Delete or re-save"),
        ("mixed layout", {}, ValueError, r"top level.*move the top-level images"),
        ("empty class", {}, ValueError, r"class folder\(s\) dog .*add images to them or remove"),
        ("ok", {"batch_size": 4}, ValueError, r"batch_size=4 is larger than the 3.*<= 3"),
        ("ok", {"val_fraction": 0.1}, ValueError, r"holds out none: raise val_fraction"),
    ],
)
def test_bad_folders_fail_in_setup_naming_the_fix(
    tmp_path: Path, kind: str, kwargs: dict, error: type, match: str
) -> None:
    root = _bad_folder(kind, tmp_path / "data")
    dm = ImageFolder(root, image_size=8, **{"batch_size": 2, **kwargs})  # constructs fine
    with pytest.raises(error, match=match):
        dm.setup()


def test_missing_root_names_the_argument(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"is not a folder: pass root="):
        ImageFolder(tmp_path / "nowhere", image_size=8).setup()


def test_header_check_leaves_truncation_to_the_batch_which_names_the_file(tmp_path: Path) -> None:
    root = _bad_folder("truncated jpeg", tmp_path / "data")
    dm = ImageFolder(root, image_size=8, batch_size=4, check="header")
    dm.setup()  # the header is intact
    with pytest.raises(UnreadableImageError, match=r"cannot decode image .*broken\.jpg.*re-save"):
        list(dm.train_dataloader())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_size": 0}, r"image_size=0 must be a positive integer"),
        ({"image_size": -4}, r"image_size=-4 must be a positive integer"),
        ({"image_size": 2.5}, r"image_size=2.5 must be a positive integer"),
        ({"channels": 4}, r"channels=4: pass channels=1 \(grey\) or channels=3"),
        ({"channels": 2}, r"channels=2: pass channels=1"),
        ({"val_fraction": 1.0}, r"val_fraction=1.0 is outside \[0, 1\): pass e.g."),
        ({"val_fraction": -0.1}, r"val_fraction=-0.1 is outside \[0, 1\)"),
        ({"batch_size": 0}, r"batch_size >= 1"),
        ({"check": "fast"}, r"check='full' or check='header'"),
    ],
)
def test_bad_arguments_fail_at_construction(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ImageFolder(tmp_path, **{"image_size": 8, **kwargs})


# --------------------------------------------------------------------------- TorchvisionData
def _fake_images(n: int, shape: tuple[int, int, int], offset: int) -> tuple[np.ndarray, list[int]]:
    """FakeData's random images and labels as uint8 [N, H, W, C] (C squeezed when 1)."""
    fake = FakeData(size=n, image_size=shape, num_classes=10, random_offset=offset)
    images, labels = zip(*(fake[i] for i in range(n)), strict=True)
    return np.stack([np.asarray(im) for im in images]), [int(y) for y in labels]


def _write_mnist(root: Path, folder: str, n_train: int = 50, n_test: int = 20) -> dict:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    written = {}
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1000)):
        images, labels = _fake_images(n, (1, 28, 28), offset)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x0803, n, 28, 28) + images.astype(np.uint8).tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x0801, n) + bytes(labels)
        )
        written[prefix] = (images, labels)
    return written


def test_mnist_format_files_load_with_published_splits(tmp_path: Path) -> None:
    written = _write_mnist(tmp_path, "MNIST")
    dm = TorchvisionData("mnist", tmp_path, batch_size=8)
    assert dm.shape == (1, 28, 28) and dm.num_classes == 10
    dm.setup()
    assert len(dm.train_dataset) == 50 and len(dm.test_dataset) == 20
    assert dm.val_dataset is dm.test_dataset  # val_fraction=0: validate on the test split
    images, labels = written["train"]
    x, y = dm.train_dataset[3]
    want = torch.as_tensor(images[3], dtype=torch.float32).unsqueeze(0) / 127.5 - 1
    assert x.shape == (1, 28, 28) and torch.allclose(x, want, atol=1e-6) and y == labels[3]
    xb, yb = next(iter(dm.test_dataloader()))
    assert xb.min() >= -1 and xb.max() <= 1 and yb.tolist() == written["t10k"][1][:8]
    big = TorchvisionData("MNIST", tmp_path, image_size=32, channels=3, batch_size=8)
    assert big.shape == (3, 32, 32)
    xb, _ = next(iter(big.train_dataloader()))
    assert xb.shape == (8, 3, 32, 32) and torch.equal(xb[:, 0], xb[:, 2])


def test_held_out_validation_split_of_train(tmp_path: Path) -> None:
    _write_mnist(tmp_path, "FashionMNIST", n_train=60)
    dm = TorchvisionData("Fashion-MNIST", tmp_path, batch_size=8, val_fraction=0.2, seed=3)
    dm.setup()
    assert len(dm.train_dataset) == 48 and len(dm.val_dataset) == 12
    assert set(dm.train_dataset.indices).isdisjoint(dm.val_dataset.indices)
    assert [len(y) for _, y in dm.val_dataloader()] == [8, 4]
    assert len(dm.test_dataset) == 20


def _write_cifar10(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    all_labels: list[int] = []
    for i, name in enumerate([*names, "test_batch"]):
        images, labels = _fake_images(4, (3, 32, 32), offset=10 * i)
        entry = {"data": images.transpose(0, 3, 1, 2).reshape(4, -1), "labels": labels}
        (folder / name).write_bytes(pickle.dumps(entry))
        if name != "test_batch":
            all_labels += labels
    meta = {"label_names": [f"class{i}" for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))

    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    # torchvision checks each file's published md5; point it at the files written here
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5(n)] for n in names])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5("test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5("batches.meta")})
    return all_labels


def test_cifar10_format_files_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = _write_cifar10(tmp_path, monkeypatch)
    dm = TorchvisionData("CIFAR10", tmp_path, batch_size=4, channels=1, image_size=16)
    dm.setup()
    assert dm.classes == [f"class{i}" for i in range(10)] and dm.shape == (1, 16, 16)
    assert len(dm.train_dataset) == 20 and len(dm.test_dataset) == 4
    assert [int(dm.train_dataset[i][1]) for i in range(20)] == labels
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (4, 1, 16, 16) and xb.min() >= -1 and xb.max() <= 1
    assert yb.dtype == torch.int64


@pytest.mark.parametrize("name", NAMES)
def test_missing_files_say_where_and_download_true(tmp_path: Path, name: str) -> None:
    dm = TorchvisionData(name, tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"root='.*empty'.*Pass download=True"):
        dm.setup()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "imagenet"}, r"name='imagenet' is unknown: use one of MNIST, FashionMNIST"),
        ({"image_size": 0}, r"image_size=0 must be a positive integer"),
        ({"channels": 2}, r"channels=2: pass channels=1 \(grey\), 3 \(RGB\) or None"),
        ({"val_fraction": 1.5}, r"val_fraction=1.5 is outside \[0, 1\)"),
    ],
)
def test_torchvision_data_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TorchvisionData(**{"name": "mnist", "root": tmp_path, **kwargs})


def test_celeba_labels_and_num_classes_are_documented_choices(tmp_path: Path) -> None:
    assert TorchvisionData("celeba", tmp_path).num_classes == 10_177
    assert TorchvisionData("CelebA", tmp_path, celeba_target="Smiling").num_classes == 2
    assert TorchvisionData("stl10", tmp_path).shape == (3, 96, 96)


@pytest.mark.skipif(
    not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist_from_debian(tmp_path: Path) -> None:
    fashion_mnist_from_debian(tmp_path)
    dm = TorchvisionData("FashionMNIST", tmp_path, batch_size=64)
    dm.setup()
    assert len(dm.train_dataset) == 60_000 and len(dm.test_dataset) == 10_000
    assert torch.equal(dm.train_dataset.targets.bincount(), torch.full((10,), 6000))
    x, _ = dm.train_dataset[0]
    assert x.min() == -1 and x.max() == 1


def test_docs_data_sections_match_the_results_file() -> None:
    """docs/data.md quotes benchmarks/resume_loaders.py only through scripts/render_data.py."""
    import importlib.util
    import re

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("render_data", repo / "scripts/render_data.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    text = (repo / "docs/data.md").read_text()
    for name, fn in render.SECTIONS.items():
        body = re.search(rf"<!-- begin:{name} -->\n(.*?)<!-- end:{name} -->", text, re.S)
        assert body is not None, name
        assert body.group(1) == fn(repo / "docs/results").rstrip("\n") + "\n", name


def test_image_folder_config_trains_on_a_folder_the_test_writes(tmp_path, monkeypatch) -> None:
    import sys

    import numpy as np
    from PIL import Image

    from lightning_gan.cli import build_cli

    for label in ("cats", "dogs"):
        folder = tmp_path / "images" / label
        folder.mkdir(parents=True)
        for i in range(20):
            Image.fromarray((np.random.rand(40, 36, 3) * 255).astype("uint8")).save(
                folder / f"{i}.png"
            )
    monkeypatch.setattr(sys, "argv", ["lightning-gan"])
    config = Path(__file__).resolve().parents[1] / "examples" / "configs" / "image_folder.yaml"
    cli = build_cli(
        [
            "fit",
            f"--config={config}",
            f"--data.init_args.root={tmp_path / 'images'}",
            "--data.init_args.batch_size=8",
            "--data.init_args.num_workers=0",
            "--trainer.max_steps=4",
            "--trainer.accelerator=cpu",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.logger=false",
            "--model.init_args.generator.init_args.width=8",
            "--model.init_args.discriminator.init_args.width=8",
        ]
    )
    assert cli.model.g_steps == 2 and cli.datamodule.classes == ["cats", "dogs"]
