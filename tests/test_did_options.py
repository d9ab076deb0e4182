"""att_gt options checked by hand on a small panel: anticipation, universal base period (also with gaps in the
periods), and the overlap diagnostics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt
from sop_eval.did.honest import event_study_inputs
from sop_eval.did.overlap import overlap_diagnostics, pseudonym


def _panel(times=(1, 2, 3, 4, 5, 6)) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for u in range(40):
        g = 4 if u < 12 else (6 if u < 20 else 0)
        g = times[g - 1] if g else 0
        for k, t in enumerate(times):
            rows.append({"unit": u, "period": t, "group": g, "y": u * 0.1 + k * 0.5 + rng.normal()
                         + (2.0 if g and t >= g else 0.0)})
    return pd.DataFrame(rows)


def _did(df, g, t, base, comparison):
    m = df.pivot(index="unit", columns="period", values="y")
    grp = df.groupby("unit")["group"].first()
    c, k = grp == g, comparison(grp)
    return (m.loc[c, t] - m.loc[c, base]).mean() - (m.loc[k, t] - m.loc[k, base]).mean()


def _cell(res, g, t):
    return float(res.att[(res.group == g) & (res.time == t)][0])


def test_anticipation_moves_the_base_period_and_comparison_group():
    df = _panel()
    res = att_gt(df, "y", "unit", "period", "group", anticipation=1, control="not_yet", method="reg")
    # cohort 4 is compared from period 2 (last period before 4 - 1); not-yet-treated comparison units are those
    # first treated after max(t, base) + 1
    assert _cell(res, 4, 4) == pytest.approx(_did(df, 4, 4, 2, lambda g: (g == 0) | (g > 5)))
    assert _cell(res, 4, 5) == pytest.approx(_did(df, 4, 5, 2, lambda g: (g == 0) | (g > 6)))
    # the anticipation period itself (t = 3) is a post-base cell, excluded from the pre-test
    assert _cell(res, 4, 3) == pytest.approx(_did(df, 4, 3, 2, lambda g: (g == 0) | (g > 4)))
    pre = (res.time < res.group - 1)
    assert res.pretrend_test().df == int((pre & np.isfinite(res.se)).sum())


def test_universal_base_period_by_hand():
    df = _panel()
    res = att_gt(df, "y", "unit", "period", "group", base_period="universal", method="reg")
    assert _cell(res, 4, 1) == pytest.approx(_did(df, 4, 1, 3, lambda g: g == 0))
    assert _cell(res, 4, 3) == 0.0
    assert _cell(res, 4, 5) == pytest.approx(_did(df, 4, 5, 3, lambda g: g == 0))
    varying = att_gt(df, "y", "unit", "period", "group", base_period="varying", method="reg")
    assert _cell(varying, 4, 2) == pytest.approx(_did(df, 4, 2, 1, lambda g: g == 0))


def test_universal_base_with_gaps_in_periods_aggregates():
    df = _panel(times=(2000, 2002, 2003, 2005, 2006, 2009))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(df, "y", "unit", "period", "group", base_period="universal", method="reg")
        dyn = res.aggregate("dynamic")
    # the reference periods (2003 for cohort 2005, 2006 for cohort 2009) sit at different event times: they are
    # left out, so no row averages a reference zero with another cohort's estimate
    assert np.isfinite(dyn.row_se).all() and (dyn.att != 0).all()
    assert np.isfinite(dyn.overall_att) and np.isfinite(dyn.overall_se)
    assert dyn.vcov.shape == (len(dyn.labels), len(dyn.labels))
    ok = np.isfinite(dyn.row_se)
    assert np.sqrt(np.diag(dyn.vcov))[ok] == pytest.approx(dyn.row_se[ok])
    b, V, n_pre, n_post = event_study_inputs(dyn)
    assert V.shape == (len(b), len(b)) and len(b) == len(dyn.labels) and n_pre + n_post == len(b)
    even = att_gt(_panel(), "y", "unit", "period", "group", base_period="universal", method="reg").aggregate("dynamic")
    assert even.att[even.labels == -1][0] == 0.0 and np.isnan(even.row_se[even.labels == -1][0])


def test_overlap_diagnostics_name_cells_and_pseudonymised_units():
    df = make_staggered_panel(n_units=200, n_periods=6, waves=(4,), never_share=0.5, seed=1)
    df["z"] = df["x"] * 4 + (df["group"] > 0) * 3.0
    rep = overlap_diagnostics(df, "y", "unit", "period", "group", covariates=["z"])
    assert (rep.cells["status"] != "ok").all()
    assert not rep.units.empty and rep.units["unit"].str.match(r"^unit-[0-9a-f]{8}$").all()
    assert set(rep.units["unit"]) <= {pseudonym(u) for u in df["unit"].unique()}
    assert not any(str(u) == p for u in df["unit"].unique() for p in rep.units["unit"])
    clean = overlap_diagnostics(df, "y", "unit", "period", "group", covariates=["x"])
    assert (clean.cells["status"] == "ok").all() and clean.units.empty and clean.to_dict()["trim_level"] == 0.995
