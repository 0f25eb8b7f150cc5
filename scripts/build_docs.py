"""Regenerate every docs section that quotes a measured number, from ``docs/results/*.json``.

Numbers in the README and ``docs/*.md`` are never typed by hand: a benchmark writes a results
file, and a renderer turns it into markdown. Each renderer is a module ``scripts/render_*.py``
that defines ``SECTIONS: dict[str, Callable[[Path], str]]``; section ``NAME`` replaces the text
between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` in every markdown file that has those
markers (README.md and docs/**/*.md). A renderer may also define ``FILES: dict[str,
Callable[[Path], str]]`` for whole generated files (path relative to the repository root).

    python scripts/build_docs.py            # rewrite the sections in place
    python scripts/build_docs.py --check    # exit 1 if any section is stale (for tests/CI)
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
_MARKER = re.compile(
    r"(<!-- begin:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end:(?P=name) -->)", re.S
)


def _renderers() -> tuple[dict[str, Callable[[Path], str]], dict[str, Callable[[Path], str]]]:
    sections: dict[str, Callable[[Path], str]] = {}
    files: dict[str, Callable[[Path], str]] = {}
    for path in sorted(Path(__file__).parent.glob("render_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(module)
        for name, fn in getattr(module, "SECTIONS", {}).items():
            if name in sections:
                raise ValueError(f"Section {name!r} is rendered by two modules ({path.name}).")
            sections[name] = fn
        files.update(getattr(module, "FILES", {}))
    return sections, files


def build(check: bool = False) -> list[str]:
    """Rewrite (or, with ``check``, compare) every generated section; return the stale ones."""
    sections, files = _renderers()
    stale: list[str] = []
    rendered = {name: fn(RESULTS).rstrip("\n") + "\n" for name, fn in sections.items()}
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if str(md.relative_to(ROOT)) in files:
            continue
        text = md.read_text()

        def replace(match: re.Match[str], md: Path = md) -> str:
            name = match.group("name")
            if name not in rendered:
                raise ValueError(f"{md.name}: no renderer for section {name!r}.")
            return match.group(1) + rendered[name] + match.group(4)

        new = _MARKER.sub(replace, text)
        if new != text:
            stale.append(str(md.relative_to(ROOT)))
            if not check:
                md.write_text(new)
    for rel, fn in files.items():
        target = ROOT / rel
        new = fn(RESULTS)
        if not target.exists() or target.read_text() != new:
            stale.append(rel)
            if not check:
                target.write_text(new)
    return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale sections")
    args = parser.parse_args()
    stale = build(check=args.check)
    for name in stale:
        print(("stale: " if args.check else "rewrote: ") + name)
    if args.check and stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
