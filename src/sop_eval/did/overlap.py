"""Overlap diagnostics for ATT(g,t) with covariates: which cells lack overlap and which units are trimmed.

For every cell of :func:`sop_eval.did.att_gt` (same plan, comparison group, anticipation and base period), the
propensity of belonging to the cohort rather than its comparison group is fitted by logit on the covariates of
the earlier period, as the estimator does. Reported, per cell: comparison units with propensity >= 0.995, which
the IPW and DR estimators **trim** (give zero weight, as R ``DRDID``), and cells where some propensity reaches
0.999, which are **not estimable** (covariates separate the cohort from its comparison units; R ``did`` drops
them too). Units are named by pseudonyms ``"unit-" + the first 8 hex digits of SHA-256(label)``, stable across
runs, never the raw identifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.did.att_gt import _plan
from sop_eval.did.estimators import TRIM_LEVEL
from sop_eval.did.panel import _gl, prepare_panel
from sop_eval.errors import SopEvalError
from sop_eval.outputs import json_safe
from sop_eval.stats.logit import newton_logit

SEPARATION = 0.999


def pseudonym(label: Any) -> str:
    """A stable pseudonymous label for a unit identifier."""
    return "unit-" + hashlib.sha256(str(label).encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True, eq=False)
class OverlapReport:
    """``cells``: one row per ATT(g,t) (group, time, n_cohort, n_comparison, max_propensity, n_trimmed, status);
    ``units``: one row per flagged unit and cell (group, time, unit pseudonym, propensity, action)."""

    cells: pd.DataFrame
    units: pd.DataFrame
    trim_level: float = TRIM_LEVEL

    def __repr__(self) -> str:
        bad = int((self.cells["status"] != "ok").sum())
        return f"OverlapReport({bad} of {len(self.cells)} cells with trimmed units or no overlap)"

    def summary(self) -> pd.DataFrame:
        return self.cells

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"trim_level": self.trim_level, "separation_level": SEPARATION,
                          "cells": self.cells.to_dict("records"), "units": self.units.to_dict("records")})


def overlap_diagnostics(data: pd.DataFrame, outcome: str, unit: str, time: str, group: str, *,
                        covariates: Sequence[str], control: str = "never", anticipation: int = 0,
                        base_period: str = "varying", weights: str | None = None) -> OverlapReport:
    """Propensity overlap of every ATT(g,t) cell of a panel (see the module docstring)."""
    if not covariates:
        raise SopEvalError("overlap_diagnostics needs covariates=[...]: without covariates there is no propensity.")
    panel = prepare_panel(data, outcome, unit, time, group, covariates=covariates, weights=weights, control=control,
                          anticipation=anticipation)
    labels = panel.unit_labels if panel.unit_labels is not None else np.arange(panel.n)
    times, g_obs = panel.times, panel.group
    cells, units = [], []
    for g, j, base in _plan(panel, base_period, anticipation):
        if j == base:
            continue
        cohort = g_obs == g
        comparison = (g_obs == 0) if control == "never" else \
            (g_obs == 0) | ((g_obs > times[max(j, base)] + anticipation) & ~cohort)
        sel = cohort | comparison
        X = np.hstack([np.ones((int(sel.sum()), 1)), panel.x[sel, min(j, base), :]])
        d = cohort[sel].astype(float)
        with np.errstate(all="ignore"):
            try:
                ps = newton_logit(X, d, np.ones(len(d))).fitted
            except np.linalg.LinAlgError:
                ps = np.full(len(d), np.nan)
        idx = np.flatnonzero(sel)
        trimmed = (d == 0) & (ps >= TRIM_LEVEL)
        separated = bool(np.nanmax(ps) >= SEPARATION) if np.isfinite(ps).any() else True
        status = "not estimable: no overlap" if separated else ("units trimmed" if trimmed.any() else "ok")
        cells.append({"group": _gl(g), "time": _gl(times[j]), "n_cohort": int(d.sum()),
                      "n_comparison": int((d == 0).sum()), "max_propensity": float(np.nanmax(ps)),
                      "n_trimmed": int(trimmed.sum()), "status": status})
        flag = trimmed | (ps >= SEPARATION)
        for k in np.flatnonzero(flag):
            units.append({"group": _gl(g), "time": _gl(times[j]), "unit": pseudonym(labels[idx[k]]),
                          "role": "cohort" if d[k] == 1 else "comparison", "propensity": float(ps[k]),
                          "action": "cell not estimable" if ps[k] >= SEPARATION or separated else "trimmed"})
    return OverlapReport(cells=pd.DataFrame(cells),
                         units=pd.DataFrame(units, columns=["group", "time", "unit", "role", "propensity", "action"]))
