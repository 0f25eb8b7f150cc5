"""The docs' code cannot rot: every Python block in the README and the guide is executed (or,
where marked, compiled with its imports run, or checked to be a verbatim part of a tested
file), and the site builds with `mkdocs build --strict`."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
BLOCK = re.compile(
    r"(?:<!-- (?P<mark>no-exec|from: [^ ]+) -->\n)?```python\n(?P<code>.*?)```", re.S
)


def _blocks() -> list[tuple[str, str | None, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            code = match.group("code")
            if code.startswith("--8<--"):  # an included file, run by its own test
                continue
            found.append((f"{page.relative_to(ROOT)}:{line}", match.group("mark"), code))
    return found


BLOCKS = _blocks()


def _namespace() -> dict:
    """Names the guide's fragments take as given: small networks and a quiet Trainer."""
    import lightning as L
    import torch

    from lightning_gan import GAN, DCGANDiscriminator, MLPDiscriminator, MLPGenerator

    return {
        "L": L,
        "torch": torch,
        "Trainer": L.Trainer,
        "GAN": GAN,
        "DCGANDiscriminator": DCGANDiscriminator,
        "G": MLPGenerator(latent_dim=2, out_dim=2),
        "D": MLPDiscriminator(in_dim=2),
        "generator": MLPGenerator(latent_dim=2, out_dim=2),
        "discriminator": MLPDiscriminator(in_dim=2),
    }


def test_the_docs_have_python_blocks_to_check() -> None:
    assert len(BLOCKS) >= 10
    assert sum(mark is None for _, mark, _ in BLOCKS) >= 5  # most run for real


@pytest.mark.parametrize("where, mark, code", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_docs_block(where: str, mark: str | None, code: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    tree = ast.parse(code, filename=where)  # every block is valid Python
    if mark is None:
        exec(compile(tree, where, "exec"), _namespace())
    elif mark.startswith("from: "):
        source = (ROOT / mark[len("from: ") :]).read_text()
        assert code.strip() in source, f"{where} is not a verbatim part of {mark[6:]}"
    else:  # illustrative (a long run, a path of the reader's): its imports must still work
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(imports, type_ignores=[]), where, "exec"), {})


@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs is in the dev extra")
def test_the_site_builds_strictly(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").exists()
