"""Reading payment inputs: effect estimates (JSON) and rate-card claims (CSV or a DataFrame).

**Estimates JSON** — either a list of records or ``{"outcome": …, "design": …, "estimates": [records]}``,
where top-level ``outcome``, ``design``, ``kind`` and ``level`` are defaults for every record. A record
is either an ``EffectEstimate.to_dict()`` record (recognised by its ``estimate`` and ``se`` keys; the
cohort is its ``label``) or the hand-written form::

    {"cohort": "cohort 1", "n_treated": 1000, "treated_events": 1420, "comparison_mean": 1.55,
     "se": 0.06, "n_comparison": 9000}

with ``treated_mean`` allowed instead of ``treated_events`` (events per person = events / n_treated) and
optional ``outcome``, ``design``, ``kind`` (default "count"), ``se``, ``n_comparison``,
``comparison_mean_se``. The estimate is ``treated_mean - comparison_mean`` computed in decimals. A record
without ``se`` carries ``details["se_given"] = False``: gates report no p-value for it and a gate that
requires significance refuses it.

**Claims CSV** — one row per claimed outcome with columns ``person`` (pseudonymised reference, never
printed), ``outcome`` (an outcome name of the contract), ``date`` (YYYY-MM-DD, when the outcome was
achieved) and ``validated`` (true/false, yes/no, 1/0); optional ``claim_id``. Rows are referred to by
their data row number (1 = first row after the header).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, examples, require_columns

_SIMPLE_KEYS = {
    "cohort", "label", "outcome", "design", "kind", "level", "n_treated", "treated_events", "treated_mean",
    "comparison_mean", "se", "n_comparison", "comparison_mean_se", "method",
}
_DEFAULT_KEYS = ("outcome", "design", "kind", "level")
CLAIM_COLUMNS = ("person", "outcome", "date", "validated")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f", ""}


def _existing(source: str | Path, what: str) -> tuple[Path, str]:
    path = Path(source)
    if not path.is_file():
        raise SopEvalError(f"{what} file {str(path)!r} does not exist; check the path.")
    return path, f"{what} file {path.name!r}"


def read_estimates(
    source: str | Path | EffectEstimate | Iterable[Any] | Mapping[str, Any],
) -> tuple[EffectEstimate, ...]:
    """Effect estimates from a JSON file path, parsed JSON, or a sequence of estimates/records."""
    where = "estimates"
    if isinstance(source, (str, Path)):
        path, where = _existing(source, "estimates")
        try:
            source = json.loads(path.read_text("utf-8"), parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise SopEvalError(f"{where} is not valid JSON ({exc}).") from None
    defaults: dict[str, Any] = {}
    if isinstance(source, EffectEstimate):
        source = [source]
    if isinstance(source, Mapping):
        unknown = set(source) - {"estimates", *_DEFAULT_KEYS, "description", "source"}
        if unknown or "estimates" not in source:
            raise SopEvalError(
                f"{where}: expected keys 'estimates' (a list) and optional {examples(_DEFAULT_KEYS)}, "
                f"'description', 'source'; got {examples(sorted(source))}."
            )
        defaults = {k: source[k] for k in _DEFAULT_KEYS if k in source}
        source = source["estimates"]
    out = []
    for i, item in enumerate(source):
        if isinstance(item, EffectEstimate):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(_record(item, defaults, f"{where}, record {i}"))
        else:
            raise SopEvalError(f"{where}, record {i}: expected an object, got {type(item).__name__}.")
    if not out:
        raise SopEvalError(f"{where} holds no estimates.")
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _record(item: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> EffectEstimate:
    if "estimate" in item and "se" in item:
        record = {**defaults, **_plain(dict(item))}
        try:
            return EffectEstimate.from_dict(record)
        except TypeError as exc:
            raise SopEvalError(f"{where}: not an effect estimate record ({exc}).") from None
    unknown = set(item) - _SIMPLE_KEYS
    if unknown:
        raise SopEvalError(f"{where}: unknown key(s) {examples(sorted(unknown))}; allowed: {examples(sorted(_SIMPLE_KEYS), 20)}.")
    rec = {**defaults, **item}

    def num(key: str) -> Decimal:
        value = rec.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise SopEvalError(f"{where}: '{key}' = {value!r}; expected a number.")
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)

    n = num("n_treated")
    if n <= 0 or n != n.to_integral_value():
        raise SopEvalError(f"{where}: n_treated = {n}; expected a whole number of people > 0.")
    if "treated_mean" in rec:
        treated = num("treated_mean")
    elif "treated_events" in rec:
        treated = num("treated_events") / n
    else:
        raise SopEvalError(f"{where}: give 'treated_events' (a total) or 'treated_mean' (per person).")
    comparison = num("comparison_mean")
    se_given = "se" in rec
    se = num("se") if se_given else Decimal(0)
    if se < 0:
        raise SopEvalError(f"{where}: se = {se}; expected a standard error >= 0.")
    label = rec.get("cohort", rec.get("label", ""))
    return EffectEstimate(
        estimate=float(treated - comparison),
        se=float(se),
        treated_mean=float(treated),
        comparison_mean=float(comparison),
        n_treated=int(n),
        n_comparison=int(num("n_comparison")) if "n_comparison" in rec else 0,
        outcome=str(rec.get("outcome", "")),
        kind=str(rec.get("kind", "count")),
        design=str(rec.get("design", "psm")),
        method=str(rec.get("method", "as stated")),
        label=str(label),
        level=float(rec.get("level", 0.95)),
        comparison_mean_se=float(num("comparison_mean_se")) if "comparison_mean_se" in rec else None,
        details={"se_given": se_given, "source_form": "hand-written"},
    )


def read_claims(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Validated claims as a new DataFrame (columns person, outcome, date, validated, row; input untouched).

    ``row`` is the claim's data row number (1-based) used in every message and payment line.
    """
    where = "claims"
    if isinstance(source, (str, Path)):
        path, where = _existing(source, "claims")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif isinstance(source, pd.DataFrame):
        frame = source.copy()
    else:
        raise SopEvalError(f"claims must be a CSV path or a DataFrame, got {type(source).__name__}.")
    require_columns(list(CLAIM_COLUMNS), frame.columns, where)
    out = pd.DataFrame({"row": range(1, len(frame) + 1)})
    for col in ("person", "outcome"):
        values = frame[col].astype(str).str.strip().to_numpy()
        blank = [i + 1 for i, v in enumerate(values) if v in ("", "nan", "None", "<NA>")]
        if blank:
            raise SopEvalError(f"{where}: column '{col}' is empty in row(s) {examples(blank)}; fill it in.")
        out[col] = values
    dates = pd.to_datetime(frame["date"].astype(str).str.strip(), errors="coerce", format="ISO8601")
    if dates.isna().any():
        bad = [i + 1 for i in range(len(frame)) if pd.isna(dates.iloc[i])]
        raise SopEvalError(f"{where}: column 'date' does not hold a YYYY-MM-DD date in row(s) {examples(bad)}.")
    out["date"] = [d.date() for d in dates]
    flags = []
    for i, v in enumerate(frame["validated"].tolist()):
        text = str(v).strip().lower()
        if text in _TRUE:
            flags.append(True)
        elif text in _FALSE:
            flags.append(False)
        else:
            raise SopEvalError(
                f"{where}: column 'validated' = {v!r} in row {i + 1}; expected true/false, yes/no or 1/0."
            )
    out["validated"] = flags
    if "claim_id" in frame.columns:
        out["claim_id"] = frame["claim_id"].astype(str).to_numpy()
    return out
