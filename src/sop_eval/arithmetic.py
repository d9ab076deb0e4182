"""Two number systems behind one interface: exact decimals and float arrays of Monte Carlo draws.

The contractual rules (gate decisions, caps) are written once over :class:`Ops` and run either exactly
(:data:`EXACT`, :class:`decimal.Decimal`, for the payment calculator) or on many draws at once
(:data:`ARRAY`, numpy float arrays, for payment risk). Comparisons in :data:`ARRAY` treat values within
a few units in the last place of the threshold as equal to it, so a float computed as
``0.3 / 3.0 = 0.09999999999999999`` meets a threshold of 0.1 as its exact decimal value does.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

DECIMAL_CONTEXT = decimal.Context(prec=40)
_ULPS = 64  # relative tolerance of float comparisons, in units of machine epsilon


@dataclass(frozen=True)
class Ops:
    """Arithmetic for one number system: exact decimals or float arrays of Monte Carlo draws."""

    const: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    round: Callable[[Any], Any]
    split: Callable[[Any, Sequence[Decimal]], list[Any]]
    divide: Callable[[Any, Any], Any]
    at_least: Callable[[Any, Any], Any]
    both: Callable[[Any, Any], Any]


def _float_at_least(value: Any, threshold: Any) -> Any:
    value = np.asarray(value, dtype=float)
    slack = _ULPS * np.finfo(float).eps * np.maximum(np.abs(value), np.abs(threshold))
    return value >= threshold - slack


EXACT = Ops(
    const=lambda x: Decimal(x),
    where=lambda c, a, b: a if c else b,
    minimum=min,
    maximum=max,
    round=lambda x: x,
    split=lambda amount, shares: [amount * Decimal(s) for s in shares],
    divide=DECIMAL_CONTEXT.divide,
    at_least=lambda a, b: bool(a >= b),
    both=lambda a, b: bool(a and b),
)
ARRAY = Ops(
    const=float,
    where=np.where,
    minimum=np.minimum,
    maximum=np.maximum,
    round=lambda x: x,
    split=lambda amount, shares: [amount * float(s) for s in shares],
    divide=np.divide,
    at_least=_float_at_least,
    both=np.logical_and,
)

__all__ = ["Ops", "EXACT", "ARRAY", "DECIMAL_CONTEXT"]
