"""Construction-time checks shared by the augmentation, packing and regulariser callbacks.

Each refuses a bad value with the valid range and a typical value in the message, so a wrong
YAML entry fails when the callback is built, before any data is loaded.
"""

from __future__ import annotations

import math
from typing import Any


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_weight(name: str, value: Any, typical: str) -> float:
    """A finite penalty weight ``>= 0`` (0 disables the term)."""
    if not _is_number(value) or value < 0:
        raise ValueError(
            f"{name} must be a finite number >= 0 (0 disables the term; typical: {typical}), "
            f"got {value!r}."
        )
    return float(value)


def check_unit_interval(name: str, value: Any, typical: str, closed_low: bool = False) -> float:
    """A number in ``(0, 1]`` (``[0, 1]`` with ``closed_low``)."""
    low_ok = (value >= 0) if closed_low else (value > 0)
    if not _is_number(value) or not (low_ok and value <= 1):
        interval = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval} (typical: {typical}), got {value!r}.")
    return float(value)


def check_open_unit_interval(name: str, value: Any, typical: str) -> float:
    """A number strictly inside ``(0, 1)``."""
    if not _is_number(value) or not 0 < value < 1:
        raise ValueError(f"{name} must lie in (0, 1) (typical: {typical}), got {value!r}.")
    return float(value)


def check_count(name: str, value: Any, meaning: str) -> int:
    """An integer ``>= 1`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 ({meaning}), got {value!r}.")
    return value
