"""The docs quote only generated numbers: every marked section equals its renderer's output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_docs.py"


def test_generated_doc_sections_are_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("build_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = module.build(check=True)
    assert stale == [], f"run `python scripts/build_docs.py`: stale {stale}"
