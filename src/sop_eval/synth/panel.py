"""An area-by-period panel as the outcome matrix the area-level estimators use.

Rows are areas, donors (never treated) first and treated areas last, each block sorted by label; columns are
periods in order. ``N0`` donors, ``T0`` pre-treatment periods (before ``start``). Every area must be observed
in every period with a finite outcome: nothing is imputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.errors import SopEvalError, examples, require_columns


@dataclass(frozen=True, eq=False)
class AreaMatrix:
    """Outcomes ``Y`` (areas × periods), the area labels, the periods, ``N0`` donors and ``T0`` pre-periods."""

    Y: np.ndarray
    units: np.ndarray
    times: np.ndarray
    N0: int
    T0: int
    outcome: str = "outcome"

    @property
    def N1(self) -> int:
        return int(self.Y.shape[0] - self.N0)

    @property
    def T1(self) -> int:
        return int(self.Y.shape[1] - self.T0)

    @property
    def treated(self) -> np.ndarray:
        return self.units[self.N0:]

    @property
    def donors(self) -> np.ndarray:
        return self.units[: self.N0]

    @property
    def start(self) -> Any:
        return self.times[self.T0]

    def subset(self, rows: Sequence[int] | np.ndarray, N0: int) -> AreaMatrix:
        rows = np.asarray(rows)
        return AreaMatrix(self.Y[rows], self.units[rows], self.times, N0, self.T0, self.outcome)


def _label(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def area_matrix(panel: pd.DataFrame, *, unit: str, time: str, outcome: str, treated: Sequence[Any] | None = None,
                start: Any = None, treatment: str | None = None) -> AreaMatrix:
    """Build the :class:`AreaMatrix` of a long panel.

    Say which areas are treated and when either with ``treated`` (area labels) and ``start`` (the first treated
    period), or with ``treatment``, a 0/1 column that is 1 for treated areas from their first treated period on
    (all treated areas must start together, as R ``synthdid::panel.matrices`` requires).
    """
    if not isinstance(panel, pd.DataFrame):
        raise SopEvalError(f"the panel must be a pandas DataFrame, not {type(panel).__name__}.")
    require_columns([unit, time, outcome] + ([treatment] if treatment else []), panel.columns, "the area panel")
    df = panel[[unit, time, outcome] + ([treatment] if treatment else [])]
    for col in (unit, time, outcome):
        bad = df[col].isna()
        if bad.any():
            raise SopEvalError(f"column {col!r} has {int(bad.sum())} missing value(s) (rows "
                               f"{examples(np.flatnonzero(bad.to_numpy()))}); the area estimators need a complete "
                               "panel: drop or fill those rows before fitting.")
    dup = df.duplicated([unit, time])
    if dup.any():
        rows = df.loc[dup, [unit, time]].astype(str).agg(" in ".join, axis=1)
        raise SopEvalError(f"the panel has {int(dup.sum())} repeated (area, period) row(s): {examples(rows)}; keep "
                           f"one row per {unit!r} and {time!r}.")
    wide = df.pivot(index=unit, columns=time, values=outcome).sort_index().sort_index(axis=1)
    if wide.isna().any().any():
        gaps = wide.isna()
        where = [f"{_label(wide.index[i])} in {_label(wide.columns[j])}"
                 for i, j in zip(*np.nonzero(gaps.to_numpy()), strict=True)]
        raise SopEvalError(f"the panel is unbalanced: {len(where)} (area, period) cell(s) have no row, e.g. "
                           f"{examples(where)}; every area needs every period (drop areas or periods first).")
    try:
        values = wide.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise SopEvalError(f"column {outcome!r} must be numeric.") from None
    if not np.isfinite(values).all():
        raise SopEvalError(f"column {outcome!r} has non-finite values (inf); the estimators need finite outcomes.")
    units = wide.index.to_numpy()
    times = wide.columns.to_numpy()
    if treatment is not None:
        if treated is not None or start is not None:
            raise SopEvalError("give either treatment= (a 0/1 column) or treated= with start=, not both.")
        w = df.pivot(index=unit, columns=time, values=treatment).sort_index().sort_index(axis=1)
        wv = w.to_numpy(dtype=float)
        if not np.isin(wv, (0.0, 1.0)).all():
            raise SopEvalError(f"column {treatment!r} must be 0 or 1; "
                               f"found {examples(np.unique(wv[~np.isin(wv, (0, 1))]))}.")
        is_t = wv.any(axis=1)
        if not is_t.any():
            raise SopEvalError(f"column {treatment!r} is never 1: no area is treated.")
        firsts = {int(np.argmax(row)) for row in wv[is_t]}
        if len(firsts) > 1 or not all((row[min(firsts):] == 1).all() for row in wv[is_t]):
            raise SopEvalError(f"column {treatment!r}: treated areas must all start in the same period and stay "
                               "treated; fit each start separately.")
        treated_mask, T0 = is_t, firsts.pop()
    else:
        if treated is None or start is None:
            raise SopEvalError("say which areas are treated: treated=[area labels] and start=<first treated period>, "
                               "or treatment=<0/1 column>.")
        treated_list = [treated] if isinstance(treated, (str, int, np.integer)) else list(treated)
        missing = [t for t in treated_list if t not in set(units.tolist())]
        if missing:
            raise SopEvalError(f"treated area(s) {examples(missing)} are not in column {unit!r} (areas include "
                               f"{examples(units.tolist())}).")
        treated_mask = np.isin(units, treated_list)
        if start not in set(times.tolist()):
            raise SopEvalError(f"start={start!r} is not a period in column {time!r} (periods: "
                               f"{examples(times.tolist(), 8)}).")
        T0 = int(np.flatnonzero(times == start)[0])
    if T0 < 2:
        raise SopEvalError(f"treatment starts in {_label(times[T0])}, leaving {T0} pre-treatment period(s); the area "
                           "estimators need at least 2.")
    if T0 >= len(times):
        raise SopEvalError("no period at or after the start of treatment is observed.")
    N0 = int((~treated_mask).sum())
    if N0 < 2:
        raise SopEvalError(f"only {N0} donor (untreated) area(s); the area estimators need at least 2.")
    order = np.concatenate([np.flatnonzero(~treated_mask), np.flatnonzero(treated_mask)])
    return AreaMatrix(values[order], units[order], times, N0, T0, outcome)
