"""Exact money arithmetic: decimals, rounding to the penny at stated points, payer splits.

Convention: all amounts are :class:`decimal.Decimal`. Contract figures are read exactly as written
(TOML floats are parsed as decimals); estimates enter through their shortest decimal form. Units and
prices are multiplied without rounding; an amount is rounded to the penny (0.01, ROUND_HALF_UP) once,
when a payment line's gross amount is formed, and each cap then cuts a rounded amount to a rounded
limit, so no further rounding arises. Payer splits use the largest-remainder method so that the payer
amounts are whole pennies and add up exactly to the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")


def to_pennies(amount: Decimal) -> Decimal:
    """Round ``amount`` to the penny, halves away from zero."""
    return Decimal(amount).quantize(PENNY, rounding=ROUND_HALF_UP)


def split(amount: Decimal, shares: Sequence[Decimal]) -> list[Decimal]:
    """Split a penny amount by ``shares`` (summing to 1) into pennies that add up exactly to ``amount``.

    Each part is first rounded down to the penny; the pennies left over go, one each, to the parts
    with the largest remainders (ties to the earlier payer).
    """
    raw = [amount * s for s in shares]
    parts = [r.quantize(PENNY, rounding=ROUND_DOWN) for r in raw]
    left = int((amount - sum(parts, ZERO)) / PENNY)
    order = sorted(range(len(parts)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += PENNY
    return parts


def fmt_money(amount: Decimal, currency: str = "GBP") -> str:
    """``£1,234.50``-style text for a currency code (symbol for GBP, USD, EUR; code otherwise)."""
    symbol = {"GBP": "£", "USD": "$", "EUR": "€"}.get(currency, currency + " ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"
