"""Checks a long unit-by-period panel and reshapes it to the wide arrays the staggered estimators use."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.stats.design import design_matrix


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
    design = design_matrix(data, covariates, booleans="numeric", strict=False,
                           remedy="impute or drop them before estimating.")
    return design.values, list(design.names)


@dataclass(frozen=True, eq=False, kw_only=True)
class Observations:
    """What the staggered estimators need: outcomes ``y``, cohort ``group`` (first treated period, 0 = never),
    ``weights`` normalised to mean 1, covariates ``x``, the periods ``times``, cluster codes (or None) and the
    ``notes`` on what was dropped or recoded."""

    y: np.ndarray
    group: np.ndarray
    times: np.ndarray
    weights: np.ndarray
    x: np.ndarray
    covariate_names: list[str]
    notes: list[str] = field(default_factory=list)
    cluster: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (first treated periods), ascending."""
        return np.unique(self.group[self.group > 0])


@dataclass(frozen=True, eq=False, kw_only=True)
class StaggeredPanel(Observations):
    """A balanced panel in wide form: ``y[i, j]`` is unit ``i``'s outcome in ``times[j]`` and ``x[i, j, :]`` its
    covariates; ``n_units_input`` counts the units before any were dropped."""

    n_units_input: int
    unit_labels: np.ndarray | None = None


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, SopEvalWarning, stacklevel=4)


def _checked_frame(data: pd.DataFrame, outcome: str, unit: str | None, time: str, group: str,
                   covariates: list[str], weights: str | None, cluster: str | None, anticipation: int) -> pd.DataFrame:
    """Column checks shared by panels and repeated cross-sections; returns a copy with missing groups set to 0."""
    if not isinstance(data, pd.DataFrame):
        raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    cols = [c for c in (outcome, unit, time, group) if c] + covariates + [c for c in (weights, cluster) if c]
    require_columns(cols, data.columns, "panel data")
    for c, what in ((time, "time"), (outcome, "outcome"), (group, "group")):
        check_numeric(data, c, what)
    for c in (time, unit):
        if c and data[c].isna().any():
            raise SopEvalError(f"column {c!r} has missing values in rows {_rows(data[c].isna(), data.index)}.")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise SopEvalError(f"anticipation={anticipation!r} must be a whole number of periods >= 0.")
    df = data[list(dict.fromkeys(cols))].copy()
    df[group] = df[group].fillna(0)
    if (df[group] < 0).any():
        raise SopEvalError(f"group column {group!r} has negative values in rows {_rows(df[group] < 0, df.index)}; it "
                           "must hold the first treated period, or 0 / missing for never-treated units.")
    if weights:
        check_numeric(df, weights, "weights")
        w_bad = df[weights].isna() | (df[weights] < 0)
        if w_bad.any():
            raise SopEvalError(f"weights column {weights!r} has missing or negative values in rows "
                               f"{_rows(w_bad, df.index)}.")
    if cluster and df[cluster].isna().any():
        raise SopEvalError(f"cluster column {cluster!r} has missing values in rows "
                           f"{_rows(df[cluster].isna(), df.index)}.")
    if unit:
        dup = df.duplicated([unit, time], keep=False)
        if dup.any():
            raise SopEvalError(
                f"panel data has {int(dup.sum())} rows that repeat a ({unit!r}, {time!r}) pair (rows "
                f"{_rows(dup, df.index)}); keep one row per unit and period."
            )
        for c, what in ((group, "group"), (weights, "weights"), (cluster, "cluster")):
            if not c:
                continue
            varies = df.groupby(unit, sort=False)[c].nunique() > 1
            if varies.any():
                bad = df[unit].isin(varies.index[varies])
                raise SopEvalError(
                    f"{what} column {c!r} changes over time for {int(varies.sum())} unit(s) "
                    f"(rows {_rows(bad, df.index)}); it must be constant within each unit"
                    + (" (its first treated period on every row)." if c == group
                       else " (units nest in clusters)." if c == cluster else ".")
                )
    return df


def _group_rules(g: np.ndarray, keep: np.ndarray, times: np.ndarray, control: str, anticipation: int, group: str,
                 what: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop cohorts without a pre-treatment period, recode cohorts starting after the panel as never treated and,
    for not-yet-treated comparisons without never-treated units, cut the periods R ``did`` cuts.

    Returns ``(keep, g, period_kept)``; ``what`` names the observations ("units" or "observations").
    """
    if len(times) < 2:
        raise SopEvalError(f"the data need at least two periods; they have {len(times)}.")
    if not (g[keep] > 0).any():
        raise SopEvalError(f"no unit is ever treated: {group!r} is 0 or missing everywhere.")
    first = times[0]
    too_early = (g > 0) & (g <= first + anticipation) & keep
    for gv in np.unique(g[too_early]):
        k = int((too_early & (g == gv)).sum())
        _warn(notes, f"group {_gl(gv)} ({k} {what}) is treated in or before the first period {_gl(first)}"
                     f"{' plus anticipation' if anticipation else ''}, "
                     "so it has no pre-treatment period and is dropped.")
    keep = keep & ~too_early
    late = (g > times[-1]) & keep
    if late.any():
        _warn(notes, f"group(s) {examples([_gl(v) for v in np.unique(g[late])])} start after the last period "
                     f"{_gl(times[-1])}; their {int(late.sum())} {what} count as never treated.")
        g = np.where(late, 0.0, g)
    period_kept = np.ones(len(times), dtype=bool)
    if control == "never" and not (g[keep] == 0).any():
        raise SopEvalError(
            f"control='never' needs never-treated units (group 0 or missing in {group!r}), but every unit is "
            "eventually treated; use control='not_yet' to compare with units not yet treated."
        )
    if control == "not_yet" and not (g[keep] == 0).any():
        last = g[keep].max()
        period_kept = times < last - anticipation
        _warn(notes, f"no never-treated units: periods from {_gl(last - anticipation)} on are dropped and group "
                     f"{_gl(last)} serves only as a not-yet-treated comparison.")
        g = np.where(g == last, 0.0, g)
    if not (g[keep] > 0).any():
        raise SopEvalError("no treated group is left with a pre-treatment period; check the group column.")
    if period_kept.sum() < 2:
        raise SopEvalError(f"the data need at least two periods; {int(period_kept.sum())} are usable.")
    return keep, g, period_kept


def _small_groups(g: np.ndarray, n_cov: int, what: str, notes: list[str]) -> None:
    for gv in np.unique(g[g > 0]):
        size = int((g == gv).sum())
        if size < n_cov + 5:
            _warn(notes, f"group {_gl(gv)} has only {size} {what} (fewer than covariates + 5); its ATT(g,t) "
                         "are imprecise and may not be estimable.")


def _cluster_codes(cl: np.ndarray | None, cluster: str | None) -> np.ndarray | None:
    if not cluster or cl is None:
        return None
    codes = pd.factorize(cl)[0]
    if codes.max() < 1:
        raise SopEvalError(f"cluster column {cluster!r} has a single cluster; clustered standard errors need several.")
    return codes


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
    covariates = list(covariates or [])
    df = _checked_frame(data, outcome, unit, time, group, covariates, weights, cluster, anticipation)
    notes: list[str] = []
    times = np.sort(df[time].unique()).astype(float)
    missing_y = df[outcome].isna()
    if missing_y.any():
        per = df.loc[missing_y, time].value_counts().sort_index()
        _warn(notes, f"outcome {outcome!r} is missing in {int(missing_y.sum())} unit-periods (periods "
                     f"{examples([_gl(v) for v in per.index])}); those units are dropped to keep the panel balanced.")
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
                     f"{examples([_gl(v) for v in times[gaps]])} (groups {examples([_gl(v) for v in lost_groups])}) "
                     "and are dropped; the estimators need every unit in every period.")
    keep, g, period_kept = _group_rules(g, complete & (w > 0), times, control, anticipation, group, "units", notes)
    y, g, w, x, cl = y[keep][:, period_kept], g[keep], w[keep], x[keep][:, period_kept], cl[keep]
    _small_groups(g, len(xnames), "unit(s)", notes)
    return StaggeredPanel(y=y, group=g, times=times[period_kept], weights=w / w.mean(), x=x, covariate_names=xnames,
                          n_units_input=n_u, notes=notes, cluster=_cluster_codes(cl, cluster),
                          unit_labels=np.asarray(unit_labels)[keep])


@dataclass(frozen=True, eq=False, kw_only=True)
class CrossSections(Observations):
    """Repeated cross-sections: observation ``i`` has outcome ``y[i]`` in period ``times[period[i]]`` and
    covariates ``x[i, :]``; for an unbalanced panel read as cross-sections, ``unit[i]`` is its unit's code."""

    period: np.ndarray
    unit: np.ndarray | None = None

    @property
    def balanced(self) -> bool:
        """Whether every unit is observed in every period (only meaningful when ``unit`` is known)."""
        return self.unit is not None and len(self.y) == (int(self.unit.max()) + 1) * len(self.times)


def prepare_cross_sections(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    group: str,
    *,
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
    control: str = "never",
    anticipation: int = 0,
    cluster: str | None = None,
    unit: str | None = None,
) -> CrossSections:
    """Validate repeated cross-sections (one row per person and period, people not followed over time), or an
    unbalanced panel to be read as such when ``unit`` is given (units then keep their codes).

    Same rules as :func:`prepare_panel`, except that rows (not units) with a missing outcome are dropped.
    """
    covariates = list(covariates or [])
    df = _checked_frame(data, outcome, unit, time, group, covariates, weights, cluster, anticipation)
    notes: list[str] = []
    times = np.sort(df[time].unique()).astype(float)
    missing_y = df[outcome].isna().to_numpy()
    if missing_y.any():
        _warn(notes, f"outcome {outcome!r} is missing in {int(missing_y.sum())} rows (periods "
                     f"{examples([_gl(v) for v in np.unique(df.loc[missing_y, time])])}); those rows are dropped.")
    g = df[group].to_numpy(dtype=float)
    w = df[weights].to_numpy(dtype=float) if weights else np.ones(len(df))
    keep, g, period_kept = _group_rules(g, ~missing_y & (w > 0), times, control, anticipation, group,
                                        "observations", notes)
    period = np.searchsorted(times, df[time].to_numpy(dtype=float))
    keep &= period_kept[period]
    xcols, xnames = covariate_matrix(df, covariates) if covariates else (np.empty((len(df), 0)), [])
    remap = np.cumsum(period_kept) - 1
    g, w = g[keep], w[keep]
    _small_groups(g, len(xnames), "observation(s)", notes)
    return CrossSections(y=df[outcome].to_numpy(dtype=float)[keep], period=remap[period[keep]], group=g,
                         times=times[period_kept], weights=w / w.mean(), x=xcols[keep], covariate_names=xnames,
                         notes=notes,
                         cluster=_cluster_codes(df[cluster].to_numpy()[keep] if cluster else None, cluster),
                         unit=pd.factorize(df[unit].to_numpy()[keep])[0] if unit else None)


def _gl(v: float) -> int | float:
    """A period or group label as written by the user (integers without '.0')."""
    return int(v) if float(v).is_integer() else float(v)
