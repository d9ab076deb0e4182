"""One style for every figure a person reads: percentages, money, counts, p-values, yes/no, dashes for gaps.

Tables handed to the report are turned into text here (:func:`styled`), with human column headers, so
no Python literal (``True``, ``None``, ``nan``, ``-0``) ever reaches the page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from matplotlib.ticker import FuncFormatter

from sop_eval.contract import Contract

DASH = "—"
SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}

#: column names → headers a reader understands
HEADERS: dict[str, str] = {
    "label": "estimate", "n_treated": "people served", "n_comparison": "comparison group", "n_pool": "comparison pool",
    "treated_mean": "treated mean", "comparison_mean": "comparison mean", "difference": "difference",
    "se": "standard error", "ci_low": "interval from", "ci_high": "interval to", "p_value": "p-value",
    "relative": "relative change", "relative_ci_low": "relative change from", "relative_ci_high": "relative change to",
    "se_method": "standard error method", "se_clusters_on": "clustered on", "controls_used": "comparison people used",
    "smd_before": "SMD before", "smd_after": "SMD after", "var_ratio_before": "variance ratio before",
    "var_ratio_after": "variance ratio after", "ecdf_mean_after": "eCDF mean after", "ecdf_max_after": "eCDF max after",
    "flag": "flag", "term": "characteristic", "gate_met": "gate met", "capped_by": "capped by", "due": "due",
    "kind": "kind", "version": "contract version", "reference": "for", "units": "units", "gross": "before caps",
    "amount": "amount", "status": "status", "line": "line", "threshold": "threshold", "value": "value",
    "prob": "probability", "expected_total": "expected total",
}
MONEY = {"amount", "gross", "payment", "price", "cap", "expected_total", "total", "paid", "due amount"}
MONEY_PREFIXES = ("paid_by_", "paid by ")
PERCENT = {"relative", "relative_ci_low", "relative_ci_high", "reduction", "reduction from", "reduction to", "gate",
           "share", "cohort gate", "pooled gate", "minimum detectable reduction",
           "minimum detectable reduction (matched, 80% power)"}


def symbol(currency: str) -> str:
    """The symbol of a currency code (``£`` for GBP); the code and a space where there is none."""
    return SYMBOLS.get(currency, currency + " ")


def money(amount: Any, currency: str) -> str:
    """``£1,234.50``: symbol, thousands separators, pence; a dash for nothing."""
    if _missing(amount):
        return DASH
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    if value == 0:
        value = Decimal("0.00")
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol(currency)}{abs(value):,.2f}"


def money_tick(amount: float, currency: str) -> str:
    """A money axis tick: symbol and thousands separators, whole units (``£100,000``, ``-£2,500``).

    Without a currency (``""``) the tick has no symbol.
    """
    value = round(float(amount))
    return f"{'-' if value < 0 else ''}{symbol(currency) if currency else ''}{abs(value):,}"


def money_axis(currency: str) -> FuncFormatter:
    """The tick formatter of every money axis (:func:`money_tick`).

    Use: ``ax.xaxis.set_major_formatter(money_axis("GBP"))``.
    """
    return FuncFormatter(lambda value, _position: money_tick(value, currency))


def pct(x: Any, digits: int = 1) -> str:
    """A proportion as a percentage (0.084 → ``8.4%``), never ``-0.0%``; a dash for nothing."""
    if _missing(x):
        return DASH
    return f"{_nozero(round(100 * float(x), digits)):.{digits}f}%"


def num(x: Any, digits: int = 2) -> str:
    """A number with thousands separators and ``digits`` decimals (integers without), never ``-0``."""
    if _missing(x):
        return DASH
    if isinstance(x, bool):
        return yes_no(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 1000):
        return f"{int(x):,}"
    value = _nozero(round(float(x), digits))
    return f"{value:,.{digits}f}"


def p_value(p: Any) -> str:
    """Four decimals, or ``<0.0001`` (never a rounded zero)."""
    if _missing(p):
        return DASH
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def yes_no(x: Any) -> str:
    """``yes``/``no``; a dash for unknown."""
    if _missing(x):
        return DASH
    return "yes" if bool(x) else "no"


def header(name: str) -> str:
    """A human column header for ``name``."""
    if name in HEADERS:
        return HEADERS[name]
    if name.startswith("paid_by_"):
        return "paid by " + name[len("paid_by_"):]
    return name.replace("_", " ")


_PREPOSITIONS = ("in", "of", "for", "at", "per", "on", "with")


def plural(unit: str) -> str:
    """``unit`` made plural: its head noun, the last word before any preposition (in, of, for, at, per, on, with).

    ``"care admission"`` → ``"care admissions"``, ``"child-year in care"`` → ``"child-years in care"``,
    ``"night of accommodation"`` → ``"nights of accommodation"``. A head noun ending in "s" is taken as
    plural already (``"reconviction events"`` is kept); one ending in a consonant and "y" takes "ies", one
    ending in "x", "z", "ch" or "sh" takes "es", any other takes "s".
    """
    words = unit.split(" ")
    cut = next((i for i, w in enumerate(words) if i > 0 and w.lower() in _PREPOSITIONS), len(words))
    head = words[cut - 1]
    if not head or head.endswith("s"):
        return unit
    if head.endswith("y") and len(head) > 1 and head[-2].lower() not in "aeiou":
        head = head[:-1] + "ies"
    elif head.endswith(("x", "z", "ch", "sh")):
        head += "es"
    else:
        head += "s"
    return " ".join([*words[:cut - 1], head, *words[cut:]])


def outcome_label(contract: Contract | None, name: str) -> str:
    """What an outcome counts, in words, from the contract: its unit made plural (:func:`plural`), else its name
    in words."""
    terms = None if contract is None else next((o for o in contract.outcomes if o.name == name), None)
    if terms is not None and terms.unit:
        return plural(terms.unit)
    return name.replace("_", " ")


def outcome_metric(contract: Contract | None, name: str) -> str:
    """The contract's metric text for an outcome (its definition), else its label."""
    terms = None if contract is None else next((o for o in contract.outcomes if o.name == name), None)
    return terms.metric if terms is not None and terms.metric else outcome_label(contract, name)


def cell(value: Any, column: str, currency: str) -> str:
    """One table cell as text, by the column's meaning (text is kept, cleaned of Python literals)."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return yes_no(value)
    if _missing(value):
        return DASH
    if column in MONEY or column.startswith(MONEY_PREFIXES):
        return money(value, currency) if _numeric(value) else str(value)
    if column in PERCENT and _numeric(value):
        return pct(value)
    if column in ("p_value", "p-value"):
        return p_value(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) or _numeric(value):
        return num(_plain(value), 3 if abs(float(value)) < 10 else 2)
    return _clean(str(value))


def styled(frame: pd.DataFrame, currency: str, rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``frame`` as text cells in the one style, with human headers (``rename`` overrides them)."""
    if frame.empty and not len(frame.columns):
        return frame
    headers = [(rename or {}).get(str(c), header(str(c))) for c in frame.columns]
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:  # one header for two columns would drop one and shift the rest
        raise ValueError(f"table headers {twice} name more than one column of {[str(c) for c in frame.columns]}; "
                         "give each column its own header.")
    return pd.DataFrame({h: [cell(v, str(c), currency) for v in frame[c].tolist()]
                         for h, c in zip(headers, frame.columns, strict=True)})


def sentence(text: str) -> str:
    """Clean any Python literal out of a sentence built elsewhere (``True``/``False``/``None``/``nan``/``-0``)."""
    return _clean(text)


_LITERALS = [(re.compile(r"\bTrue\b"), "yes"), (re.compile(r"\bFalse\b"), "no"), (re.compile(r"\bNone\b"), DASH),
             (re.compile(r"\bnan\b"), DASH), (re.compile(r"(?<![\w.])-0(\.0+)?(?![\d.])"), r"0\1")]


def _clean(text: str) -> str:
    for pattern, repl in _LITERALS:
        text = pattern.sub(repl, text)
    return text


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _numeric(x: Any) -> bool:
    return isinstance(x, (int, float, Decimal)) or type(x).__module__ == "numpy" and hasattr(x, "dtype") and (
        x.dtype.kind in "iuf")


def _plain(x: Any) -> Any:
    if isinstance(x, Decimal):
        return float(x)
    if hasattr(x, "item"):
        return x.item()
    return x


def _nozero(x: float) -> float:
    return 0.0 if x == 0 or (isinstance(x, float) and math.isclose(x, 0.0, abs_tol=0.0)) else x
