"""Checks a long unit-by-period panel and reshapes it to the wide arrays the staggered estimators use."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns


def _rows(mask: np.ndarray | pd.Series, index: pd.Index) -> str:
    """Row labels (never identifiers) of the rows flagged by ``mask``."""
    return examples(list(index[np.asarray(mask, dtype=bool)]))


def check_numeric(data: pd.DataFrame, column: str, what: str) -> None:
    """Raise :class:`SopEvalError` unless ``column`` is numeric (booleans count as 0/1)."""
    col = data[column]
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
        raise SopEvalError(
            f"{what} column {column!r} must be numeric, but it has dtype {col.dtype} with non-numeric values in rows "
            f"{_rows(bad, data.index)}. Code it as numbers (e.g. years or period indices 1, 2, 3 …)."
        )


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric design columns for ``covariates`` (categoricals become 0/1 dummies, first level dropped)."""
    require_columns(list(covariates), data.columns, "data")
    parts, names = [], []
    for c in covariates:
        col = data[c]
        if col.isna().any():
            raise SopEvalError(
                f"covariate {c!r} has {int(col.isna().sum())} missing values (rows {_rows(col.isna(), data.index)}); "
                "impute or drop them before estimating."
            )
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.to_numpy(dtype=float)[:, None])
            names.append(c)
        else:
            dummies = pd.get_dummies(col.astype("category"), prefix=c, drop_first=True, dtype=float)
            parts.append(dummies.to_numpy())
            names.extend(dummies.columns.astype(str))
    if not parts:
        return np.empty((len(data), 0)), []
    return np.hstack(parts), names


@dataclass(frozen=True, eq=False)
class StaggeredPanel:
    """A balanced panel in wide form: ``y[i, j]`` is unit ``i``'s outcome in ``times[j]``.

    ``group[i]`` is the unit's first treated period (0 = never treated within the panel), ``weights`` the unit
    weights normalised to mean 1 and ``x[i, j, :]`` the covariates. ``notes`` lists what was dropped or recoded.
    """

    y: np.ndarray
    group: np.ndarray
    times: np.ndarray
    weights: np.ndarray
    x: np.ndarray
    covariate_names: list[str]
    n_units_input: int
    notes: list[str] = field(default_factory=list)
    cluster: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (first treated periods), ascending."""
        return np.unique(self.group[self.group > 0])


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, SopEvalWarning, stacklevel=4)


def prepare_panel(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    *,
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
    control: str = "never",
    anticipation: int = 0,
    cluster: str | None = None,
) -> StaggeredPanel:
    """Validate a long panel and return it balanced and in wide form (the caller's frame is not modified).

    Rules (each reported by a :class:`SopEvalWarning` naming the group and period, or a :class:`SopEvalError`):
    units not observed (or with a missing outcome) in every period are dropped; a group first treated in or before
    the first period plus ``anticipation`` has no pre-treatment period and is dropped; units first treated after
    the last period are treated as never treated; with ``control="not_yet"`` and no never-treated units, periods
    from the last cohort's start on are dropped and that cohort serves as the comparison (as R ``did`` does).
    """
    if not isinstance(data, pd.DataFrame):
        raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    covariates = list(covariates or [])
    cols = [outcome, unit, time, group, *covariates] + [c for c in (weights, cluster) if c]
    require_columns(cols, data.columns, "panel data")
    for c, what in ((time, "time"), (outcome, "outcome"), (group, "group")):
        check_numeric(data, c, what)
    if data[time].isna().any():
        raise SopEvalError(f"time column {time!r} has missing values in rows {_rows(data[time].isna(), data.index)}.")
    if data[unit].isna().any():
        raise SopEvalError(f"unit column {unit!r} has missing values in rows {_rows(data[unit].isna(), data.index)}.")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise SopEvalError(f"anticipation={anticipation!r} must be a whole number of periods >= 0.")
    df = data[list(dict.fromkeys(cols))].copy()
    df[group] = df[group].fillna(0)
    if (df[group] < 0).any():
        raise SopEvalError(f"group column {group!r} has negative values in rows {_rows(df[group] < 0, df.index)}; it "
                           "must hold the first treated period, or 0 / missing for never-treated units.")
    dup = df.duplicated([unit, time], keep=False)
    if dup.any():
        raise SopEvalError(
            f"panel data has {int(dup.sum())} rows that repeat a ({unit!r}, {time!r}) pair (rows "
            f"{_rows(dup, df.index)}); keep one row per unit and period."
        )
    n_groups = df.groupby(unit, sort=False)[group].nunique()
    if (n_groups > 1).any():
        bad = df[unit].isin(n_groups.index[n_groups > 1])
        raise SopEvalError(
            f"group column {group!r} changes over time for {int((n_groups > 1).sum())} unit(s) (rows "
            f"{_rows(bad, df.index)}); it must hold each unit's first treated period on every row."
        )
    if weights:
        check_numeric(df, weights, "weights")
        w_bad = df[weights].isna() | (df[weights] < 0)
        if w_bad.any():
            raise SopEvalError(f"weights column {weights!r} has missing or negative values in rows {_rows(w_bad, df.index)}.")
        if (df.groupby(unit, sort=False)[weights].nunique() > 1).any():
            raise SopEvalError(f"weights column {weights!r} must be constant within each unit.")

    if cluster:
        if df[cluster].isna().any():
            raise SopEvalError(f"cluster column {cluster!r} has missing values in rows "
                               f"{_rows(df[cluster].isna(), df.index)}.")
        if (df.groupby(unit, sort=False)[cluster].nunique() > 1).any():
            raise SopEvalError(f"cluster column {cluster!r} must be constant within each unit (units nest in clusters).")

    notes: list[str] = []
    times = np.sort(df[time].unique()).astype(float)
    missing_y = df[outcome].isna()
    if missing_y.any():
        per = df.loc[missing_y, time].value_counts().sort_index()
        _warn(notes, f"outcome {outcome!r} is missing in {int(missing_y.sum())} unit-periods (periods "
                     f"{examples(per.index.tolist())}); those units are dropped to keep the panel balanced.")
    unit_codes, unit_labels = pd.factorize(df[unit], sort=True)
    time_codes = np.searchsorted(times, df[time].to_numpy(dtype=float))
    n_u, n_t = len(unit_labels), len(times)
    y = np.full((n_u, n_t), np.nan)
    y[unit_codes, time_codes] = df[outcome].to_numpy(dtype=float)
    g = np.zeros(n_u)
    g[unit_codes] = df[group].to_numpy(dtype=float)
    w = np.ones(n_u)
    if weights:
        w[unit_codes] = df[weights].to_numpy(dtype=float)
    cl = np.zeros(n_u, dtype=np.int64)
    if cluster:
        cl[unit_codes] = pd.factorize(df[cluster])[0]
    xcols, xnames = covariate_matrix(df, covariates) if covariates else (np.empty((len(df), 0)), [])
    x = np.zeros((n_u, n_t, xcols.shape[1]))
    x[unit_codes, time_codes] = xcols

    complete = ~np.isnan(y).any(axis=1)
    if not complete.all():
        lost = ~complete
        gaps = np.isnan(y[lost]).any(axis=0)
        lost_groups = np.unique(g[lost])
        _warn(notes, f"unbalanced panel: {int(lost.sum())} unit(s) lack an outcome in period(s) "
                     f"{examples(times[gaps].tolist())} (groups {examples([_gl(v) for v in lost_groups])}) and are "
                     "dropped; the estimators need every unit in every period.")
    keep = complete & (w > 0)
    first = times[0]
    too_early = (g > 0) & (g <= first + anticipation) & keep
    for gv in np.unique(g[too_early]):
        k = int((too_early & (g == gv)).sum())
        _warn(notes, f"group {_gl(gv)} ({k} units) is treated in or before the first period {_gl(first)}"
                     f"{' plus anticipation' if anticipation else ''}, so it has no pre-treatment period and is dropped.")
    keep &= ~too_early
    late = (g > times[-1]) & keep
    if late.any():
        _warn(notes, f"group(s) {examples([_gl(v) for v in np.unique(g[late])])} start after the last period "
                     f"{_gl(times[-1])}; their {int(late.sum())} units count as never treated.")
        g = np.where(late, 0.0, g)
    y, g, w, x, cl = y[keep], g[keep], w[keep], x[keep], cl[keep]
    if control == "never" and not (g == 0).any():
        raise SopEvalError(
            f"control='never' needs never-treated units (group 0 or missing in {group!r}), but every unit is "
            "eventually treated; use control='not_yet' to compare with units not yet treated."
        )
    if control == "not_yet" and not (g == 0).any():
        last = g.max()
        cut = times < last - anticipation
        _warn(notes, f"no never-treated units: periods from {_gl(last - anticipation)} on are dropped and group "
                     f"{_gl(last)} serves only as a not-yet-treated comparison.")
        y, x, times = y[:, cut], x[:, cut], times[cut]
        g = np.where(g == last, 0.0, g)
    if not (g > 0).any():
        raise SopEvalError("no treated group is left with a pre-treatment period; check the group column.")
    if len(times) < 2:
        raise SopEvalError(f"the panel needs at least two periods; it has {len(times)}.")
    for gv in np.unique(g[g > 0]):
        size = int((g == gv).sum())
        if size < len(xnames) + 5:
            _warn(notes, f"group {_gl(gv)} has only {size} unit(s) (fewer than covariates + 5); its ATT(g,t) "
                         "are imprecise and may not be estimable.")
    clusters = pd.factorize(cl)[0] if cluster else None
    if clusters is not None and clusters.max() < 1:
        raise SopEvalError(f"cluster column {cluster!r} has a single cluster; clustered standard errors need several.")
    return StaggeredPanel(y=y, group=g, times=times, weights=w / w.mean(), x=x, covariate_names=xnames,
                          n_units_input=n_u, notes=notes, cluster=clusters)


def _gl(v: float) -> int | float:
    """A period or group label as written by the user (integers without '.0')."""
    return int(v) if float(v).is_integer() else float(v)
