"""Real Fashion-MNIST offline, from Debian's ``dataset-fashion-mnist`` package.

No network is needed: ``apt-get install -y dataset-fashion-mnist`` puts the four IDX files,
gzipped, in ``/usr/share/datasets/fashion-mnist/``; torchvision reads them uncompressed from
``root/FashionMNIST/raw/``. A convenience for machines without network, not a dependency.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def fashion_mnist_from_debian(root: str | Path, source: str | Path = DEBIAN_FASHION_MNIST) -> Path:
    """Gunzip the Debian package's files into ``root/FashionMNIST/raw/``; returns that folder.

    Then ``TorchvisionData("FashionMNIST", root)`` loads the real 60,000 / 10,000 split. Files
    already there are kept.
    """
    source = Path(source)
    missing = [f for f in _FILES if not (source / f"{f}.gz").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{source} lacks {', '.join(f + '.gz' for f in missing)}: install Debian's package "
            "with `apt-get install -y dataset-fashion-mnist` (or pass source= its folder)."
        )
    raw = Path(root) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        target = raw / name
        if not target.exists():
            with gzip.open(source / f"{name}.gz", "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return raw
