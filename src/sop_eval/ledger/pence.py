"""Money in the ledger: integer pence in entries and the database, :class:`~decimal.Decimal` in the API."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from sop_eval.payments.money import PENNY

_HUNDRED = Decimal(100)


def to_pence(amount: Decimal | int | str) -> int:
    """Whole pence of an amount in currency units, rounded half away from zero (as the calculator rounds)."""
    return int((Decimal(amount) * _HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_money(pence: int) -> Decimal:
    """An amount of pence as a Decimal in currency units (two places)."""
    return (Decimal(int(pence)) / _HUNDRED).quantize(PENNY)


def share_numerators(shares: list[Decimal]) -> tuple[list[int], int]:
    """Shares as integer numerators over one power-of-ten denominator (exact for decimal shares)."""
    exponents = [s.as_tuple().exponent for s in shares]
    places = max((-e for e in exponents if isinstance(e, int)), default=0)
    den = 10 ** max(places, 0)
    return [int(s * den) for s in shares], den


def split_pence(amounts: np.ndarray, numerators: list[int], den: int) -> np.ndarray:
    """Split each amount by the shares (largest remainder, ties to the earlier payer), like
    :func:`sop_eval.payments.money.split` in pence: rows add up exactly to ``amounts``."""
    a = np.asarray(amounts, dtype=np.int64)
    n = np.asarray(numerators, dtype=np.int64)
    raw = a[:, None] * n[None, :]
    parts = raw // den
    rem = raw - parts * den
    left = a - parts.sum(axis=1)
    order = np.argsort(-rem, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(len(n))[None, :].repeat(len(a), axis=0), axis=1)
    return parts + (rank < left[:, None])


def split_one(amount: int, numerators: list[int], den: int) -> list[int]:
    """:func:`split_pence` for one amount (plain integers)."""
    raw = [amount * k for k in numerators]
    parts = [r // den for r in raw]
    left = amount - sum(parts)
    if left:
        order = sorted(range(len(parts)), key=lambda i: (-(raw[i] - parts[i] * den), i))
        for i in order[:left]:
            parts[i] += 1
    return parts
