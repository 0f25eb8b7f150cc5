"""The remedy interface: callbacks use only the GAN's public API and the phase records, and every
hook of the protocol is documented in the guide."""

from __future__ import annotations

import ast
from pathlib import Path

import lightning_gan
from lightning_gan.hooks import HOOK_NAMES, GANCallback

ROOT = Path(__file__).resolve().parents[1]
CALLBACKS = ROOT / "lightning_gan" / "callbacks"
# Names a callback's hooks give the GAN (Lightning passes it as `pl_module`).
GAN_NAMES = {"gan", "pl_module", "module", "model"}


def _private_reach(path: Path) -> list[str]:
    """``gan._x``-style attribute reads of the GAN in one file (dunders allowed)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in GAN_NAMES
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_callback_touches_a_private_attribute_of_the_gan() -> None:
    files = sorted(CALLBACKS.glob("*.py"))
    assert len(files) > 15  # the scan really covers the callbacks
    reach = [hit for path in files for hit in _private_reach(path)]
    assert reach == [], "callbacks must use the GAN's public API: " + "; ".join(reach)


def test_the_scan_catches_private_reach(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def hook(self, gan, d):\n    return gan._hooks, pl_module._trainer\n")
    assert len(_private_reach(bad)) == 2


def test_no_callback_imports_another_remedys_internals() -> None:
    """Shared helpers live in `remedy_checks` or outside `callbacks/`; a remedy does not import
    the private functions of another remedy's file."""
    for path in sorted(CALLBACKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "lightning_gan.callbacks."
            ):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


def test_every_hook_has_a_stated_purpose_in_the_guide() -> None:
    guide = (ROOT / "docs" / "guide" / "step-and-hooks.md").read_text()
    for name in HOOK_NAMES:
        assert f"`{name}`" in guide, f"docs/guide/step-and-hooks.md does not describe {name}"
        assert callable(getattr(GANCallback, name))


def test_phase_records_are_public_api() -> None:
    for name in ("DStep", "GStep", "NetworkRecord", "GANCallback", "HookDispatch"):
        assert name in lightning_gan.__all__ and hasattr(lightning_gan, name)
