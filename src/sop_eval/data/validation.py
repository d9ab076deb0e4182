"""Checks on person-level evaluation data, each reported as a clear error or an explicit warning."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.contract import Cohort
from sop_eval.contract.timing import WindowTiming, assignment_order, window_closes
from sop_eval.data.dates import parse_dates
from sop_eval.data.identifiers import shown_values
from sop_eval.data.readers import read_table
from sop_eval.data.schema import ColumnRoles
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.outputs import ShortRepr

_MAX_SHOWN = 5
_MAX_CODES = 4


def _rows(mask: pd.Series | np.ndarray, index: pd.Index) -> str:
    """Row labels where ``mask`` holds, for messages (row labels only, never identifiers)."""
    labels = index[np.asarray(mask, dtype=bool)]
    return examples(labels.tolist(), _MAX_SHOWN)


@dataclass(frozen=True, repr=False)
class EvaluationData(ShortRepr):
    """Validated evaluation data: a checked copy of the frame with its column roles.

    ``frame`` is a copy of the input with the treatment as 0/1 integers and the index date parsed;
    the caller's DataFrame is never touched. ``warnings`` lists every non-fatal finding. ``cohorts``
    are the contract cohorts whose timing the outcome windows use (see :func:`outcome_windows`).
    """

    frame: pd.DataFrame
    roles: ColumnRoles
    warnings: tuple[str, ...] = ()
    extract_date: pd.Timestamp | None = None
    follow_up_months: int = 12
    court_lag_months: int = 0
    source: str | None = field(default=None)
    cohorts: tuple[Cohort, ...] = ()
    overlap: str | None = None

    @property
    def treated(self) -> pd.DataFrame:
        """Rows of people served."""
        return self.frame[self.frame[self.roles.treatment] == 1]

    @property
    def pool(self) -> pd.DataFrame:
        """Rows of the comparison pool."""
        return self.frame[self.frame[self.roles.treatment] == 0]

    def outcome_windows(self) -> pd.DataFrame:
        """Per cohort of treated people: last index date, when the outcome window closes, and whether it has.

        The window closes ``follow_up_months + court_lag_months`` after the cohort's last index date, with
        each contract cohort's own months (:func:`outcome_windows`).
        """
        return outcome_windows(
            self.frame, self.roles, self.extract_date, self.follow_up_months, self.court_lag_months, self.cohorts,
            self.overlap,
        )

    def summary(self) -> pd.DataFrame:
        """People and outcome means per cohort and group (aggregates only, no person-level rows)."""
        r = self.roles
        keys = [r.cohort] if r.cohort else []
        frame = self.frame.assign(_group=np.where(self.frame[r.treatment] == 1, "treated", "comparison pool"))
        numeric = [o for o in r.outcomes if pd.api.types.is_numeric_dtype(frame[o])]
        grouped = frame.groupby(keys + ["_group"], observed=True, sort=True)
        out = grouped.size().rename("people").to_frame()
        for outcome in numeric:
            out[f"mean_{outcome}"] = grouped[outcome].mean()
        return out.reset_index().rename(columns={"_group": "group"})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (roles, sizes, warnings), without any person-level values."""
        return {
            "roles": self.roles.to_dict(),
            "n_rows": int(len(self.frame)),
            "n_treated": int((self.frame[self.roles.treatment] == 1).sum()),
            "n_pool": int((self.frame[self.roles.treatment] == 0).sum()),
            "extract_date": None if self.extract_date is None else self.extract_date.date().isoformat(),
            "follow_up_months": self.follow_up_months,
            "court_lag_months": self.court_lag_months,
            "warnings": list(self.warnings),
            "source": self.source,
        }


def _contract_cohorts(
    treated: pd.DataFrame, roles: ColumnRoles, cohorts: Sequence[Cohort], overlap: str | None = None
) -> tuple[pd.Series, dict[Any, Cohort | None]]:
    """The group of each treated row, and the contract cohort (or None) of each group.

    With a cohort column, a group is a value ``v`` of it and belongs to the contract cohort named ``v`` or
    ``"cohort v"``, else to the one whose entry window holds every index date of the group. Without one,
    rows are grouped by the contract cohort whose entry window holds their index date (``"all"`` when
    the cohorts state no entry windows). A single contract cohort owns whatever is left.
    """
    dates = treated[roles.index_date] if roles.index_date is not None else None
    windows = [c for c in cohorts if c.entry_start and c.entry_end]
    if roles.cohort is not None:
        key = treated[roles.cohort]
    elif dates is not None and cohorts and len(windows) == len(cohorts):
        key = pd.Series("all", index=treated.index, dtype=object)
        for c in assignment_order(windows, overlap):
            key[(dates.dt.date >= c.entry_start) & (dates.dt.date <= c.entry_end)] = c.name
    else:
        key = pd.Series("all", index=treated.index)
    by_name = {c.name: c for c in cohorts}
    owners: dict[Any, Cohort | None] = {}
    for value in pd.unique(key):
        owner = by_name.get(str(value)) or by_name.get(f"cohort {value}")
        if owner is None and dates is not None:
            days = dates[key == value]
            first, last = days.min().date(), days.max().date()
            inside = [c for c in windows if c.entry_start <= first and last <= c.entry_end]  # type: ignore[operator]
            owner = inside[0] if len(inside) == 1 else None
        if owner is None and len(cohorts) == 1:
            owner = cohorts[0]
        owners[value] = owner
    return key, owners


def outcome_windows(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    extract_date: pd.Timestamp | None,
    follow_up_months: int,
    court_lag_months: int,
    cohorts: Sequence[Cohort] = (),
    overlap: str | None = None,
) -> pd.DataFrame:
    """When each treated cohort's outcome window closes: last index date + follow-up + court lag months.

    Each cohort uses the months of its own contract cohort (``cohorts``, matched as in
    :func:`validate`); a cohort with no contract cohort uses ``follow_up_months`` and
    ``court_lag_months``. The rule is :func:`sop_eval.contract.timing.window_closes`.
    """
    if roles.index_date is None:
        raise SopEvalError("outcome windows need an index date column; declare it with ColumnRoles(index_date=...).")
    treated = frame[frame[roles.treatment] == 1]
    key, owners = _contract_cohorts(treated, roles, tuple(cohorts), overlap)
    last = treated.groupby(key, observed=True)[roles.index_date].max()
    default = WindowTiming(int(follow_up_months), int(court_lag_months))
    timing = [owners.get(value) or default for value in last.index]
    out = pd.DataFrame({
        "last_index_date": last,
        "window_closes": [window_closes(day, t) for day, t in zip(last, timing, strict=True)],
        "follow_up_months": [t.follow_up_months for t in timing],
        "court_lag_months": [t.court_lag_months for t in timing],
    }, index=last.index)
    out["closed"] = True if extract_date is None else out["window_closes"] <= extract_date
    out.index.name = roles.cohort or "cohort"
    return out.reset_index()


def _check_sizes(treated: pd.DataFrame, roles: ColumnRoles, cohorts: Sequence[Cohort],
                 overlap: str | None = None) -> list[str]:
    """Messages for contract cohorts whose ``size`` differs from the people served the data hold for them."""
    key, owners = _contract_cohorts(treated, roles, tuple(cohorts), overlap)
    counts: dict[str, int] = {}
    for value, n in key.value_counts().items():
        owner = owners.get(value)
        if owner is not None:
            counts[owner.name] = counts.get(owner.name, 0) + int(n)
    return [
        f"contract cohort {c.name!r} has [[cohorts]] size = {c.size}, but the data hold {counts[c.name]} people served "
        "in it; check that the extract is complete, or correct the size in the contract."
        for c in cohorts
        if c.size is not None and counts.get(c.name, 0) not in (0, c.size)
    ]


def _check_treatment(col: pd.Series, name: str, treated_values: tuple[Any, ...] | None = None,
                     id_column: str | None = None) -> pd.Series:
    if treated_values is not None:
        return col.isin(treated_values).astype(np.int64)
    if pd.api.types.is_bool_dtype(col):
        return col.astype(np.int64)
    if not pd.api.types.is_numeric_dtype(col):
        values = sorted(str(v) for v in pd.unique(col.dropna()))
        if len(values) > _MAX_CODES:
            raise SopEvalError(
                f"treatment column '{name}' holds {len(values)} distinct text values, too many for a treatment "
                "coding (is it an identifier column?); name the 0/1 treatment column in the contract's "
                "[data.columns] treatment."
            )
        raise SopEvalError(
            f"treatment column '{name}' holds text "
            f"({shown_values(values, col, id_column=id_column, limit=_MAX_CODES)}); "
            "it must be 0/1 or True/False, "
            f"or say which values mean treated: in the contract add treated_values = [{values[-1]!r}] under "
            f"[data.columns] (in Python: validate(..., treated_values=[{values[-1]!r}])); every other value is "
            "the comparison pool."
        )
    bad = ~col.isin([0, 1])
    if bad.any():
        raise SopEvalError(
            f"treatment column '{name}' must hold only 0 (comparison) and 1 (treated); found "
            f"{shown_values(pd.unique(col[bad]), col, id_column=id_column)} in {int(bad.sum())} row(s) "
            f"(rows {_rows(bad, col.index)}). "
            "Recode the column to 0/1."
        )
    return col.astype(np.int64)


def validate(
    data: pd.DataFrame,
    roles: ColumnRoles,
    *,
    extract_date: str | pd.Timestamp | None = None,
    follow_up_months: int = 12,
    court_lag_months: int = 0,
    today: str | pd.Timestamp | None = None,
    source: str | None = None,
    cohorts: Sequence[Cohort] = (),
    date_format: str | None = None,
    dayfirst: bool | None = None,
    treated_values: Any = None,
    overlap: str | None = None,
) -> EvaluationData:
    """Check person-level evaluation data and return a validated copy.

    Errors (:class:`SopEvalError`): missing columns; missing values in the id, treatment, cohort (of
    treated rows), index date or covariates; infinite values anywhere; duplicate ids within a group;
    treatment not 0/1 (bool and 0/1 numbers accepted, text rejected); no treated or no comparison rows;
    ids both treated and in the comparison pool (contamination); dates that do not parse or lie after
    the extract date (or ``today``); negative values in count columns; a cohort whose outcome window
    (last index date + ``follow_up_months`` + ``court_lag_months``) has not closed by ``extract_date``
    is a warning. With contract ``cohorts``, each cohort's window uses its own contract cohort's months
    (a cohort column value ``v`` belongs to the contract cohort named ``v`` or ``"cohort v"``, else to
    the one whose entry window holds its index dates; a day in two windows goes to the cohort ``overlap``
    names, ``"earlier"`` or ``"later"``), and a cohort whose ``size`` differs from the
    number of people served the data hold for it is a warning. Missing outcomes are a warning unless
    the column is in ``roles.allow_missing``; constant covariates are a warning. Messages show row labels,
    never identifiers.

    Dates are never guessed (:mod:`sop_eval.data.dates`): ISO dates are read as such; any other form
    needs ``date_format`` (a strptime pattern such as ``"%d/%m/%Y"``) or ``dayfirst``. Nor codings:
    a text treatment column needs ``treated_values`` (the values meaning treated; all others are the
    pool); a covariate of numbers with a few text cells is an error unless declared categorical.
    """
    if not isinstance(data, pd.DataFrame):
        raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if not isinstance(roles, ColumnRoles):
        raise SopEvalError("roles must be a sop_eval.data.ColumnRoles naming the id, treatment, covariates, ….")
    if len(data) == 0:
        where = f"data file '{source}'" if source else "the data"
        raise SopEvalError(f"{where} has no rows (only a header?); give a file with the evaluation's rows.")
    if data.index.has_duplicates:
        dup = data.index.duplicated(keep=False)
        raise SopEvalError(
            f"the data's row index has duplicate labels (rows {_rows(dup, data.index)}); "
            "call data.reset_index(drop=True) first."
        )
    require_columns(roles.columns(), data.columns)
    if follow_up_months < 0 or court_lag_months < 0:
        raise SopEvalError(
            f"follow_up_months ({follow_up_months}) and court_lag_months ({court_lag_months}) must be >= 0."
        )
    found: list[str] = []

    def warn(message: str) -> None:
        found.append(message)
        warnings.warn(message, SopEvalWarning, stacklevel=3)

    frame = data.copy()
    r = roles
    frame[r.treatment] = _check_treatment_missing(frame[r.treatment], r.treatment, _values(treated_values), r.id)
    _check_cells(frame, r)

    required = [c for c in (r.id, r.index_date, *r.covariates) if c is not None]
    for name in required:
        missing = frame[name].isna()
        if missing.any():
            raise SopEvalError(
                f"column '{name}' has {int(missing.sum())} missing value(s) (rows {_rows(missing, frame.index)}); "
                f"fill them or drop those rows, e.g. df.dropna(subset=['{name}'])."
            )
    for name in r.columns():
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            infinite = np.isinf(col.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                raise SopEvalError(
                    f"column '{name}' has {int(infinite.sum())} infinite value(s) "
                    f"(rows {_rows(infinite, frame.index)}); "
                    "replace them with a finite value or drop those rows."
                )
    for name in r.outcomes:
        missing = frame[name].isna()
        if missing.any() and name not in r.allow_missing:
            warn(
                f"outcome '{name}' has {int(missing.sum())} missing value(s) (rows {_rows(missing, frame.index)}); "
                "they will be left out of estimates for that outcome. Fill them or drop those rows; allow_missing "
                "is only for outcomes missing by design (e.g. days to an event that never happened)."
            )

    treated = frame[r.treatment] == 1
    if not treated.any():
        raise SopEvalError(f"no treated rows: column '{r.treatment}' has no 1s. An evaluation needs people served.")
    if treated.all():
        raise SopEvalError(
            f"no comparison rows: column '{r.treatment}' has no 0s. Add the comparison pool to the data."
        )
    if r.cohort is not None:
        missing = frame[r.cohort].isna() & treated
        if missing.any():
            raise SopEvalError(
                f"cohort column '{r.cohort}' is missing for {int(missing.sum())} treated row(s) "
                f"(rows {_rows(missing, frame.index)}); every treated person must belong to a cohort."
            )

    if r.id is not None:
        ids = frame[r.id]
        both = ids[treated].isin(set(ids[~treated]))
        if both.any():
            pool_rows = ids.isin(set(ids[treated][both])) & ~treated
            raise SopEvalError(
                f"{int(both.sum())} id(s) in column '{r.id}' appear both among the treated and in the comparison "
                f"pool (treated rows {_rows(both.reindex(frame.index, fill_value=False), frame.index)}; pool rows "
                f"{_rows(pool_rows, frame.index)}). People served cannot be their own comparison: drop those rows "
                "from the pool."
            )
        repeated = ids.duplicated(keep=False)
        if repeated.any():
            raise SopEvalError(
                f"column '{r.id}' has {int(ids[repeated].nunique())} duplicated id(s) over {int(repeated.sum())} rows "
                f"(rows {_rows(repeated, frame.index)}); keep one row per person, e.g. df.drop_duplicates('{r.id}')."
            )

    for name in r.counts:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            raise SopEvalError(
                f"count column '{name}' is not numeric (values such as "
                f"{shown_values(pd.unique(col.dropna()), col, id_column=r.id)}); "
                "convert it to numbers."
            )
        negative = col < 0
        if negative.any():
            raise SopEvalError(
                f"count column '{name}' has {int(negative.sum())} negative value(s) "
                f"({shown_values(pd.unique(col[negative]), col, id_column=r.id)}; "
                f"rows {_rows(negative, frame.index)}); counts cannot be negative. Correct or drop those rows."
            )

    for name in r.covariates:
        if frame[name].nunique(dropna=True) <= 1:
            warn(
                f"covariate '{name}' is constant (every row is {examples(pd.unique(frame[name]), 1)}); it cannot "
                "help matching. Remove it from the covariates."
            )

    extract = None if extract_date is None else _timestamp(extract_date, "extract_date")
    if r.index_date is not None:
        frame[r.index_date] = parse_dates(frame[r.index_date], r.index_date, date_format=date_format, dayfirst=dayfirst)
        limit = extract if extract is not None else _timestamp(today or pd.Timestamp.now().normalize(), "today")
        future = frame[r.index_date] > limit
        if future.any():
            what = "the data extract date" if extract is not None else "today"
            raise SopEvalError(
                f"date column '{r.index_date}' has {int(future.sum())} date(s) after {what} ({limit.date()}): "
                f"{examples(sorted({d.date().isoformat() for d in frame.loc[future, r.index_date]}))} "
                f"(rows {_rows(future, frame.index)}). Check the date format (day/month order) or the extract date."
            )
        if extract is not None:
            windows = outcome_windows(frame, r, extract, follow_up_months, court_lag_months, cohorts, overlap)
            for _, row in windows[~windows["closed"]].iterrows():
                warn(
                    f"the outcome window of cohort {row.iloc[0]} has not closed by the extract date "
                    f"{extract.date()}: {row['follow_up_months']} months of follow-up and "
                    f"{row['court_lag_months']} months of "
                    f"court lag after the last index date ({row['last_index_date'].date()}) end on "
                    f"{row['window_closes'].date()}. Its outcomes are incomplete and cannot trigger a payment."
                )

    for message in _check_sizes(frame[frame[r.treatment] == 1], r, tuple(cohorts), overlap):
        warn(message)

    return EvaluationData(
        frame=frame,
        roles=r,
        warnings=tuple(found),
        extract_date=extract,
        follow_up_months=int(follow_up_months),
        court_lag_months=int(court_lag_months),
        source=source,
        cohorts=tuple(cohorts),
        overlap=overlap,
    )


#: Covariate values beyond this size overflow once squared in the model; they are refused.
LARGEST_VALUE = 1e150
#: A text covariate is read as numbers with stray text when at least this share of its cells are numbers.
_NUMERIC_SHARE = 0.5


def _values(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return (value,)
    return tuple(value)


def _check_cells(frame: pd.DataFrame, r: ColumnRoles) -> None:
    """Refuse cells no model can use: nested values, text outcomes, overflowing or stray-text covariates."""
    for name in r.columns():
        col = frame[name]
        if col.dtype == object:
            nested = col.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray)))
            if nested.any():
                raise SopEvalError(
                    f"column '{name}' holds nested values (lists or records) in {int(nested.sum())} row(s) "
                    f"(rows {_rows(nested, frame.index)}); each cell must be one number, text or date. Flatten it."
                )
    for name in (*r.outcomes, *r.counts):
        col = frame[name]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise SopEvalError(
                f"outcome column '{name}' holds text "
                f"({shown_values(sorted(map(str, pd.unique(col.dropna())))[:3], col, id_column=r.id, limit=3)}); "
                "outcomes must be numbers (0/1 for a binary outcome, counts, days). Recode the column."
            )
    for name in r.covariates:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=float, na_value=np.nan)
            huge = np.isfinite(values) & (np.abs(values) > LARGEST_VALUE)
            if huge.any():
                raise SopEvalError(
                    f"covariate '{name}' has {int(huge.sum())} value(s) too large to model (beyond ±{LARGEST_VALUE:g}; "
                    f"rows {_rows(huge, frame.index)}); they would overflow the propensity model. Correct them or "
                    "drop those rows."
                )
        elif name not in r.categorical and not pd.api.types.is_bool_dtype(col):
            present = col.dropna()
            numeric = pd.to_numeric(present.astype("string"), errors="coerce").notna()
            if len(present) and numeric.mean() >= _NUMERIC_SHARE and not numeric.all():
                text = ~numeric.reindex(frame.index, fill_value=True)
                raise SopEvalError(
                    f"covariate '{name}' holds numbers but {int((~numeric).sum())} cell(s) are text "
                    f"({shown_values(sorted(map(str, pd.unique(present[~numeric])))[:3], col, id_column=r.id, limit=3)}"
                    "; "
                    f"rows {_rows(text, frame.index)}); "
                    "it would be read as categories. Correct those cells, or if the column really is categorical "
                    f"declare it: categorical = ['{name}'] under [data.columns] "
                    "(ColumnRoles(categorical=...) in Python)."
                )


def _check_treatment_missing(col: pd.Series, name: str, treated_values: tuple[Any, ...] | None,
                             id_column: str | None = None) -> pd.Series:
    missing = col.isna()
    if missing.any():
        raise SopEvalError(
            f"treatment column '{name}' has {int(missing.sum())} missing value(s) (rows {_rows(missing, col.index)}); "
            "every row must be 0 (comparison) or 1 (treated)."
        )
    if treated_values is not None:
        present = set(pd.unique(col))
        absent = [v for v in treated_values if v not in present]
        if len(absent) == len(treated_values):
            raise SopEvalError(
                f"treated_values {examples(list(treated_values))} match no value of treatment column '{name}' "
                f"(it holds {shown_values(sorted(str(v) for v in present), col, id_column=id_column, limit=4)}); "
                "correct treated_values."
            )
    return _check_treatment(col, name, treated_values, id_column)


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SopEvalError(f"{name}={value!r} is not a date; give it as 'YYYY-MM-DD'.") from None
    if pd.isna(ts):
        raise SopEvalError(f"{name} is missing; give it as 'YYYY-MM-DD'.")
    return ts


def load(
    path: str,
    roles: ColumnRoles,
    **checks: Any,
) -> EvaluationData:
    """Read a CSV or Parquet file and validate it (keyword arguments go to :func:`validate`)."""
    return validate(read_table(path), roles, source=str(path), **checks)
