"""The one rule for reading dates: ISO dates as such, any other format only when the caller names it.

Spreadsheet exports write ``13/02/2020`` (day first) in the UK and ``02/13/2020`` in the US; a parser
that guesses reads half of such a column one way and half the other. Nothing here guesses: a text
column in ISO 8601 form (``2020-02-13``, optionally with a time) is read as ISO; any other form needs
``date_format`` (a ``strptime`` pattern such as ``%d/%m/%Y``) or ``dayfirst`` (``True`` for
day/month/year, ``False`` for month/day/year), and every value of the column must follow the one
format chosen. Time zones are refused: outcome windows are counted in calendar dates.
"""

from __future__ import annotations

import re

import pandas as pd

from sop_eval.data.identifiers import shown_values
from sop_eval.errors import SopEvalError, examples

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_SEPARATORS = ("/", "-", ".", " ")
_SHOWN = 2


def _key_hint(name: str) -> str:
    return (
        f"say how '{name}' is written: in the contract add date_format = \"%d/%m/%Y\" (or dayfirst = true) "
        "under [data]; in Python pass validate(..., date_format='%d/%m/%Y') or dayfirst=True"
    )


def _candidates(dayfirst: bool) -> list[str]:
    order = ("%d", "%m") if dayfirst else ("%m", "%d")
    formats = []
    for sep in _SEPARATORS:
        for year in ("%Y", "%y"):
            base = f"{order[0]}{sep}{order[1]}{sep}{year}"
            formats += [base, f"{base} %H:%M", f"{base} %H:%M:%S"]
    return formats


def _strict(text: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(text, format=fmt, errors="coerce")


def parse_dates(
    col: pd.Series,
    name: str,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> pd.Series:
    """Parse date column ``name`` by the rule in the module docstring; returns ``datetime64[ns]``.

    Raises :class:`SopEvalError` naming the column, two example values and the key to add when the
    format is not ISO and not given, when values do not follow the format given, or when the column
    carries time zones. Missing values stay missing (validation reports them).
    """
    if date_format is not None and dayfirst is not None:
        raise SopEvalError(
            f"date column '{name}': give either date_format ({date_format!r}) or dayfirst ({dayfirst}), not both."
        )
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        raise SopEvalError(
            f"date column '{name}' carries a time zone ({col.dtype.tz}); outcome windows are counted in calendar "
            "dates. Store the column as plain dates (local calendar date, no time zone) and run again."
        )
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise SopEvalError(
            f"date column '{name}' holds numbers ({shown_values(pd.unique(col.dropna()), col, limit=_SHOWN)}), "
            "not dates. "
            "Write the dates as text such as 2011-03-31."
        )
    present = col.notna()
    text = col[present].astype("string").str.strip()
    zoned = text.str.contains(_ZONE) & ~text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    if zoned.any():
        raise SopEvalError(
            f"date column '{name}' has time-zone offsets ({shown_values(pd.unique(text[zoned]), col, limit=_SHOWN)}); "
            "outcome "
            "windows are counted in calendar dates. Write plain dates such as 2020-02-13 and run again."
        )

    if date_format is not None:
        parsed = _strict(text, date_format)
        how = f"the date_format {date_format!r}"
    elif dayfirst is not None:
        parsed = _best(text, _candidates(bool(dayfirst)))
        how = "day/month/year" if dayfirst else "month/day/year"
    else:
        iso = text.str.fullmatch(_ISO)
        if bool(iso.all()):
            parsed, how = pd.to_datetime(text, format="ISO8601", errors="coerce"), "ISO 8601"
        elif bool(iso.any()):
            parsed, how = pd.to_datetime(text.where(iso), format="ISO8601", errors="coerce"), "ISO 8601 (YYYY-MM-DD)"
        else:
            raise SopEvalError(
                f"date column '{name}' is not in ISO form (YYYY-MM-DD) and no format was given "
                f"(e.g. {shown_values(pd.unique(text), col, limit=_SHOWN)}); dates are never guessed: "
                f"{_key_hint(name)}."
            )
    bad = parsed.isna()
    if bad.any():
        raise SopEvalError(
            f"date column '{name}' has {int(bad.sum())} value(s) that do not parse as {how} "
            f"(e.g. {shown_values(pd.unique(text[bad]), col, limit=_SHOWN)}; "
            f"rows {examples(text.index[bad].tolist())}); one "
            f"column must use one format. Correct those values, or {_key_hint(name)}."
        )
    out = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns]")
    out[present] = parsed.to_numpy(dtype="datetime64[ns]")
    return out


def _best(text: pd.Series, formats: list[str]) -> pd.Series:
    """Parsed by the single format among ``formats`` that reads the most values (ties: the first listed)."""
    best = _strict(text, formats[0])
    for fmt in formats[1:]:
        if best.notna().all():
            break
        parsed = _strict(text, fmt)
        if parsed.notna().sum() > best.notna().sum():
            best = parsed
    return best
