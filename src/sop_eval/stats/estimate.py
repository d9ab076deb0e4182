"""One vocabulary for an estimate with its uncertainty, whatever design produced it.

Every result object that carries an estimate and a standard error (a matched-cohort effect, a DiD
coefficient, an aggregated ATT, a hazard ratio fit, a simulated power) speaks it: ``estimate``,
``se``, ``level`` (the confidence level its intervals use by default, e.g. 0.95), ``conf_int(level=None)``
(two-sided interval, at the result's own ``level`` unless another is given), ``summary()`` (a tidy
DataFrame) and ``to_dict()`` (JSON-safe). Confidence is always stated as a ``level``; a significance
level ``alpha`` is ``1 - level``, converted exactly in decimal arithmetic so 0.95 gives 0.05, not
0.050000000000000044.
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from sop_eval.errors import SopEvalError

DEFAULT_LEVEL = 0.95


@runtime_checkable
class Estimate(Protocol):
    """An estimate with its uncertainty (floats, or arrays with one entry per cell for grids of estimates)."""

    @property
    def estimate(self) -> Any: ...

    @property
    def se(self) -> Any: ...

    @property
    def level(self) -> float: ...

    def conf_int(self, level: float | None = None) -> Any: ...

    def summary(self) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


def check_level(level: Any, name: str = "level") -> float:
    """``level`` as a float strictly between 0 and 1, or :class:`SopEvalError` naming it."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise SopEvalError(f"{name}={level!r} is not a number; give a confidence level such as 0.95.") from None
    if not 0.0 < value < 1.0:
        raise SopEvalError(f"{name}={level!r} must lie strictly between 0 and 1, e.g. 0.95.")
    return value


def alpha_of(level: float) -> float:
    """The significance level ``1 - level``, computed in decimal (0.95 → 0.05 exactly as written)."""
    return float(Decimal(1) - Decimal(repr(float(level))))


def level_of(alpha: float) -> float:
    """The confidence level ``1 - alpha``, computed in decimal (0.05 → 0.95)."""
    return float(Decimal(1) - Decimal(repr(float(alpha))))


def resolve_level(
    level: float | None, alpha: float | None, where: str, default: float | None = DEFAULT_LEVEL, stacklevel: int = 3
) -> Any:
    """The level a caller asked for: ``level``, else the deprecated ``alpha`` converted, else ``default``.

    Passing ``alpha=`` warns with :class:`DeprecationWarning`; passing both is an error.
    """
    if alpha is not None:
        if level is not None:
            raise SopEvalError(f"{where}: give level= only (alpha={alpha!r} is the deprecated spelling of 1 - level).")
        warnings.warn(f"{where}: alpha= is deprecated; pass level={level_of(check_level(alpha, 'alpha')):g} instead.",
                      DeprecationWarning, stacklevel=stacklevel)
        return level_of(alpha)
    if level is None:
        return default
    return check_level(level)


def percent(level: float) -> str:
    """The level as a percentage for labels: 0.95 → ``"95%"``, 0.9 → ``"90%"``, 0.975 → ``"97.5%"``."""
    return f"{100 * float(level):.10g}%"


def interval_label(level: float) -> str:
    """The column label of an interval at ``level``: ``"95% CI"``."""
    return f"{percent(level)} CI"


__all__ = ["Estimate", "DEFAULT_LEVEL", "check_level", "alpha_of", "level_of", "resolve_level", "percent",
           "interval_label"]
