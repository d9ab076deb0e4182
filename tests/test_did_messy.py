"""Small and messy panels give clear warnings naming group and period; bad input raises SopEvalError."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt, did2x2, event_study, twfe
from sop_eval.errors import SopEvalError, SopEvalWarning

ARGS = ("y", "unit", "period", "group")


@pytest.fixture
def df():
    return make_staggered_panel(n_units=200, n_periods=6, waves=(3, 5), seed=2)


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return att_gt(*args, **kwargs)


def test_input_is_not_modified(df):
    before = df.copy()
    _quiet(df, *ARGS, control="not_yet", covariates=["x"])
    pd.testing.assert_frame_equal(df, before)


def test_unbalanced_panel_drops_units_with_a_warning_naming_the_period(df):
    messy = df.drop(index=df.index[(df["unit"] <= 4) & (df["period"] == 2)])
    with pytest.warns(SopEvalWarning, match=r"unbalanced panel: 4 unit\(s\) lack an outcome in period\(s\) 2"):
        res = att_gt(messy, *ARGS)
    assert res.n_units == 196
    assert np.isfinite(res.att).all()
    kept = att_gt(messy, *ARGS, allow_unbalanced=True)
    assert kept.n_units == 200 and not kept.panel
    assert any("read as repeated cross-sections" in note for note in kept.notes)
    np.testing.assert_allclose(att_gt(df, *ARGS, allow_unbalanced=True).att, att_gt(df, *ARGS).att)
    missing_y = df.assign(y=df["y"].where(~((df["unit"] == 7) & (df["period"] == 4))))
    with pytest.warns(SopEvalWarning, match="missing in 1 unit-periods"):
        assert att_gt(missing_y, *ARGS).n_units == 199


def test_group_treated_in_first_period_is_dropped_with_a_message(df):
    early = df.copy()
    early.loc[early["unit"] <= 10, "group"] = 1
    with pytest.warns(SopEvalWarning, match=r"group 1 \(10 units\) is treated in or before the first period 1"):
        res = att_gt(early, *ARGS)
    assert 1 not in set(res.group)
    assert res.n_units == 190


def test_small_group_warns_and_still_estimates(df):
    small = df.copy()
    small.loc[small["unit"].isin([1, 2]), "group"] = 4
    small = small[~small["unit"].isin(small.loc[(small["group"] == 4) & ~small["unit"].isin([1, 2]), "unit"])]
    with pytest.warns(SopEvalWarning, match=r"group 4 has only 2 unit\(s\)"):
        res = att_gt(small, *ARGS, method="reg")
    assert np.isfinite(res.aggregate("simple").overall_att)


def test_collinear_covariates_warn_per_cell_and_aggregates_stay_finite(df):
    bad = df.assign(x2=2 * df["x"])
    with pytest.warns(SopEvalWarning, match=r"ATT\(g=3, t=2\) is not estimable: the .* design is singular"):
        res = att_gt(bad, *ARGS, method="reg", covariates=["x", "x2"])
    assert np.isnan(res.att).all()
    with pytest.raises(SopEvalError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res.aggregate("simple")
    # a covariate that is constant (0) among the comparison units of some cells only
    local = df.assign(c=np.where(df["group"] == 5, df["x"], 0.0))
    with pytest.warns(SopEvalWarning, match=r"ATT\(g=5, t=\d\) is not estimable"):
        res = att_gt(local, *ARGS, method="reg", control="not_yet", covariates=["c"])
    with pytest.warns(SopEvalWarning, match="left out of the simple aggregation"):
        agg = res.aggregate("simple")
    assert np.isfinite(agg.overall_att) and np.isfinite(agg.overall_se)


def test_no_never_treated_units(df):
    all_treated = df[df["group"] > 0]
    with pytest.raises(SopEvalError, match="control='never' needs never-treated units"):
        att_gt(all_treated, *ARGS, control="never")
    with pytest.warns(SopEvalWarning, match="no never-treated units: periods from 5 on are dropped"):
        res = att_gt(all_treated, *ARGS, control="not_yet")
    assert set(res.group) == {3.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns="y"), "no column"),
        (lambda d: d.assign(period=d["period"].map(lambda v: f"P{v}")), "time column 'period' must be numeric"),
        (lambda d: d.assign(group=np.where(d["period"] > 3, d["group"] + 1, d["group"])), "changes over time"),
        (lambda d: pd.concat([d, d.head(1)]), "repeat a"),
        (lambda d: d.assign(y=d["y"].astype(str)), "outcome column 'y' must be numeric"),
        (lambda d: d.assign(area=d["period"] % 2), "cluster column 'area' changes over time"),
        (lambda d: d.assign(area=1), "single cluster"),
        (lambda d: d.assign(group=np.where(d["unit"] == 3, -1, d["group"])), "negative values"),
        (lambda d: d.assign(group=0), "no unit is ever treated"),
        (lambda d: d[d["period"] == 3], "at least two periods"),
    ],
)
def test_bad_input_raises_naming_the_culprit(df, change, message):
    with pytest.raises(SopEvalError, match=message):
        _quiet(change(df.assign(area=df["unit"] % 9)), *ARGS, cluster="area")


@pytest.mark.parametrize(
    "kwargs",
    [dict(control="everyone"), dict(method="ols"), dict(base_period="fixed"), dict(se="jackknife"),
     dict(n_boot=0), dict(anticipation=-1), dict(covariates=["nope"]), dict(cluster="nope"), dict(weights="x")],
)
def test_bad_options_raise(df, kwargs):
    with pytest.raises(SopEvalError):
        att_gt(df, *ARGS, **kwargs)


def test_bad_aggregation_kind(df):
    with pytest.raises(SopEvalError, match="kind='weekly'"):
        _quiet(df, *ARGS).aggregate("weekly")


def test_regression_inputs(df):
    d = df.assign(post=(df["period"] >= 3).astype(int), tr=(df["group"] > 0).astype(int))
    with pytest.raises(SopEvalError, match="coded 0/1"):
        did2x2(d.assign(tr=d["tr"] * 2), "y", "tr", "post")
    with pytest.raises(SopEvalError, match="comparison units after"):
        did2x2(d[(d["tr"] == 1) | (d["post"] == 0)], "y", "tr", "post")
    with pytest.raises(SopEvalError, match="repeat a"):
        twfe(pd.concat([d, d.head(2)]), "y", "unit", "period", "treated")
    with pytest.raises(SopEvalError, match="contain reference"):
        event_study(d, "y", "unit", "period", "group", window=(0, 3))
    switching = d.assign(treated=np.where(d["period"] == 6, 0, d["treated"]))
    res = twfe(switching, "y", "unit", "period", "treated")  # non-absorbing treatment: no staggering caveat
    assert res.bacon is None and not res.caveats


def test_summaries_and_records_are_tidy_and_json_safe(df):
    import json

    res = _quiet(df, *ARGS, se="bootstrap", n_boot=199, seed=1)
    s = res.summary()
    assert {"group", "time", "att", "se", "ci_low", "ci_high"} <= set(s.columns)
    json.dumps(res.to_dict())
    agg = res.aggregate("dynamic", balance_e=1)
    assert set(agg.labels) <= {-3, -2, -1, 0, 1}
    json.dumps(agg.to_dict())
    json.dumps(res.pretrend_test().to_dict())
    again = _quiet(df, *ARGS, se="bootstrap", n_boot=199, seed=1)
    np.testing.assert_array_equal(res.se, again.se)


def test_calendar_years_and_json_records(df):
    import json

    years = df.assign(period=df["period"] + 2014, group=np.where(df["group"] > 0, df["group"] + 2014, 0))
    res = _quiet(years, *ARGS)
    base = _quiet(df, *ARGS)
    np.testing.assert_allclose(res.att, base.att)
    s = res.summary()
    assert s["group"].tolist()[0] == 2017 and isinstance(s["time"].tolist()[0], int)
    np.testing.assert_allclose(res.aggregate("dynamic").att, base.aggregate("dynamic").att)
    d = years.assign(post=(years["period"] >= 2017).astype(int), tr=(years["group"] > 0).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in (did2x2(d, "y", "tr", "post", unit="unit"), twfe(d, "y", "unit", "period", "treated"),
                  event_study(d, "y", "unit", "period", "group", window=(-2, 2))):
            rec = json.dumps(r.to_dict())
            assert len(rec) < 20_000  # summaries and counts only, never unit-level rows
            assert r.summary().shape[0] >= 1


def test_repeated_cross_sections_rules(df):
    rc = df.sample(frac=0.6, random_state=1)
    with pytest.raises(SopEvalError, match="pass panel=False"):
        att_gt(rc, "y", None, "period", "group")
    rc = rc.assign(y=rc["y"].where(rc.index != rc.index[0]))
    with pytest.warns(SopEvalWarning, match="missing in 1 rows"):
        res = att_gt(rc, "y", None, "period", "group", panel=False)
    assert res.n_units == len(rc) - 1 and not res.panel
    truth = pd.DataFrame(df.attrs["true_att_gt"])
    post = res.summary().query("post").merge(truth, on=["group", "time"], suffixes=("", "_true"))
    assert np.abs((post["att"] - post["att_true"]) / post["se"]).max() < 4
