"""Checks of the simulators' numeric arguments."""

from __future__ import annotations

import math
from typing import Any

from sop_eval.errors import SopEvalError


def whole_number(value: Any, name: str, where: str, low: int = 1) -> int:
    """``value`` as an int of at least ``low``, or a :class:`SopEvalError` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < low:
        raise SopEvalError(f"{where}: {name}={value!r} must be a whole number of at least {low}.")
    return int(value)


def real_number(value: Any, name: str, where: str) -> float:
    """``value`` as a finite float, or a :class:`SopEvalError` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SopEvalError(f"{where}: {name}={value!r} must be a finite number.")
    return float(value)
