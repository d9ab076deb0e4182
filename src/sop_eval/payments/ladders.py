"""Ladders (step payments by effect size) and sliding scales (linear between a floor and a ceiling).

Both work on one exact value (decimals, for the calculator) or on an array of drawn values (floats,
for the Monte Carlo view) through the same formulas; ``ops`` supplies ``where``/``minimum``/``maximum``
and converts the contract's constants (see :mod:`sop_eval.payments.caps`).

Boundaries are inclusive: a ladder pays the amount of the highest rung whose ``at_least`` the value
reaches (``value >= at_least``); a scale pays ``amount_at_floor`` exactly at the floor, ``amount`` at and
above the ceiling, nothing below the floor, and linearly in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sop_eval.contract import Step


def ladder_amount(value: Any, steps: Sequence[Step], ops: Any) -> Any:
    """The amount of the highest rung reached by ``value`` (0 below the first rung)."""
    amount = ops.const(0)
    for step in steps:
        amount = ops.where(value >= ops.const(step.at_least), ops.const(step.amount), amount)
    return amount


def scale_amount(value: Any, floor: Any, ceiling: Any, amount: Any, amount_at_floor: Any, ops: Any) -> Any:
    """Sliding-scale amount: 0 below ``floor``, linear from ``amount_at_floor`` to ``amount`` at ``ceiling``."""
    lo, hi, full, base = (ops.const(x) for x in (floor, ceiling, amount, amount_at_floor))
    fraction = ops.minimum(ops.maximum((value - lo) / (hi - lo), ops.const(0)), ops.const(1))
    return ops.where(value >= lo, base + (full - base) * fraction, ops.const(0))
