"""Which columns look like person identifiers, so that no message ever prints their values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from sop_eval.errors import examples

_ID_NAME = re.compile(
    r"(?:^|[_\s.-])(?:id|ids|identifier|uuid|guid|key|ref|reference|nhs|nino|pnc|crn|urn|upn|number|no)(?:$|[_\s.-])"
    r"|id$|ID$|Id$",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}")
_MIN_ROWS = 20
_DISTINCT_SHARE = 0.9
WITHHELD = "values withheld: the column looks like an identifier"


def looks_like_identifier(col: pd.Series, *, id_column: str | None = None) -> bool:
    """Whether column ``col`` is (or looks like) a person identifier: it is the declared ``id_column``, its
    name reads like one (``person_id``, ``nhs_number``, ``ref``), or it holds text or whole numbers almost
    all distinct (90% of at least 20 values) that are not dates."""
    name = str(col.name)
    if id_column is not None and name == id_column:
        return True
    if _ID_NAME.search(name):
        return True
    present = col.dropna()
    if len(present) < _MIN_ROWS or pd.api.types.is_float_dtype(present) or pd.api.types.is_bool_dtype(present):
        return False
    if present.nunique() < _DISTINCT_SHARE * len(present):
        return False
    sample = present.astype(str).head(50)
    return not bool(sample.str.match(_DATE_LIKE).mean() > 0.5)


def shown_values(values: Iterable[Any], col: pd.Series, *, id_column: str | None = None, limit: int = 5) -> str:
    """``examples(values)`` for a message, or a note that they are withheld when ``col`` looks like an identifier."""
    if looks_like_identifier(col, id_column=id_column):
        return WITHHELD
    return examples(values, limit)
