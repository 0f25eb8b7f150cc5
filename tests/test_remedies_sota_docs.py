"""docs/remedies_sota.md quotes measured numbers only through scripts/render_remedies_sota.py,
and the measurements it rests on say what the doc concludes from them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


def _renderer():
    spec = importlib.util.spec_from_file_location(
        "render_remedies_sota", ROOT / "scripts" / "render_remedies_sota.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doc_sections_are_rendered_from_the_results_files() -> None:
    doc = (ROOT / "docs" / "remedies_sota.md").read_text()
    for name, fn in _renderer().SECTIONS.items():
        body = fn(RESULTS).rstrip("\n") + "\n"
        assert f"<!-- begin:{name} -->\n{body}<!-- end:{name} -->" in doc, name


def test_the_measurements_support_the_decisions_in_the_doc() -> None:
    ops = json.loads((RESULTS / "augment_ops.json").read_text())
    assert {(r["pipeline"], r["shape"]) for r in ops["rows"]} == {
        (p, s) for p in ("diffaugment", "ada") for s in ("28x28 grey", "32x32 RGB")
    }
    for row in ops["rows"]:  # "torch ops, faster in every case, both pass gradients"
        assert row["torch_ms"] < row["kornia_ms"] and row["torch_grad_ok"] and row["kornia_grad_ok"]
    costs = json.loads((RESULTS / "remedies_sota_costs.json").read_text())["rows"]
    assert set(costs) == {
        "none",
        "DiffAugment",
        "AdaptiveAugment(p=0.5)",
        "ConsistencyRegularization",
        "LeCamRegularization",
        "TopK",
        "Packing(2)",
    }
    assert costs["none"]["x_iteration"] == 1.0
    assert costs["Packing(2)"]["x_iteration"] < 1.0  # "cheaper than the plain step"
    assert costs["ConsistencyRegularization"]["x_d_phase"] > 1.5  # "two extra D forwards"
