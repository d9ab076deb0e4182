"""One test per validation rule, each with the bad input it names."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sop_eval import SopEvalError, SopEvalWarning
from sop_eval.data import ColumnRoles, EvaluationData, load, read_table, validate

ROLES = ColumnRoles(
    id="pid",
    treatment="treated",
    cohort="cohort",
    covariates=("age", "priors"),
    outcomes=("events", "days"),
    index_date="release",
    counts=("events", "priors"),
    allow_missing=("days",),
)


def frame(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "pid": [f"X{i:03d}" for i in range(n)],
            "treated": [1, 0] * (n // 2),
            "cohort": [1] * n,
            "age": rng.integers(18, 60, n),
            "priors": rng.integers(0, 20, n),
            "events": rng.integers(0, 4, n),
            "days": [np.nan if i % 3 else 100.0 for i in range(n)],
            "release": pd.date_range("2011-01-01", periods=n, freq="7D").strftime("%Y-%m-%d"),
        }
    )


def check(df, **kw):
    kw.setdefault("today", "2020-01-01")
    return validate(df, ROLES, **kw)


def test_valid_data_passes_and_input_is_not_modified():
    df = frame()
    before = df.copy(deep=True)
    out = check(df)
    assert isinstance(out, EvaluationData)
    pd.testing.assert_frame_equal(df, before)
    assert pd.api.types.is_datetime64_any_dtype(out.frame["release"])
    assert len(out.treated) == 6 and len(out.pool) == 6
    assert out.warnings == ()


def test_missing_column_is_named():
    with pytest.raises(SopEvalError, match="'priors'"):
        check(frame().drop(columns="priors"))


def test_missing_covariate_values_counted_with_rows():
    df = frame()
    df.loc[[2, 5], "age"] = np.nan
    with pytest.raises(SopEvalError, match=r"'age' has 2 missing value\(s\) \(rows 2, 5\)"):
        check(df)


def test_missing_outcome_values_warn_unless_allowed():
    df = frame()
    df.loc[3, "events"] = np.nan
    with pytest.warns(SopEvalWarning, match="outcome 'events' has 1 missing"):
        out = check(df)
    assert any("events" in w for w in out.warnings)
    assert not any("'days'" in w for w in out.warnings)  # allowed to be missing


def test_infinite_values_rejected():
    df = frame().astype({"age": float})
    df.loc[4, "age"] = np.inf
    with pytest.raises(SopEvalError, match=r"'age' has 1 infinite value\(s\) \(rows 4\)"):
        check(df)


def test_duplicate_ids_reported_by_row_not_identifier():
    df = frame()
    df.loc[4, "pid"] = df.loc[2, "pid"]
    with pytest.raises(SopEvalError, match=r"duplicated id") as err:
        check(df)
    assert "rows 2, 4" in str(err.value)
    assert "X002" not in str(err.value)  # identifiers are never printed


def test_treatment_text_rejected_with_fix():
    df = frame()
    df["treated"] = np.where(df["treated"] == 1, "yes", "no")
    with pytest.raises(SopEvalError, match=r"treatment column 'treated' holds text.*'yes'"):
        check(df)


def test_treatment_other_numbers_rejected():
    df = frame()
    df.loc[1, "treated"] = 2
    with pytest.raises(SopEvalError, match=r"only 0 \(comparison\) and 1 \(treated\); found 2"):
        check(df)


def test_treatment_bool_accepted():
    df = frame()
    df["treated"] = df["treated"].astype(bool)
    out = check(df)
    assert out.frame["treated"].tolist() == [1, 0] * 6
    assert df["treated"].dtype == bool  # caller's frame untouched


def test_no_treated_rows():
    df = frame().assign(treated=0)
    with pytest.raises(SopEvalError, match="no treated rows"):
        check(df)


def test_no_comparison_rows():
    df = frame().assign(treated=1)
    with pytest.raises(SopEvalError, match="no comparison rows"):
        check(df)


def test_constant_covariate_warns():
    df = frame().assign(priors=3)
    with pytest.warns(SopEvalWarning, match="covariate 'priors' is constant"):
        check(df)


def test_contamination_between_treated_and_pool():
    df = frame()
    df.loc[1, "pid"] = df.loc[0, "pid"]  # row 0 treated, row 1 pool
    with pytest.raises(SopEvalError, match=r"both among the treated and in the comparison pool") as err:
        check(df)
    assert "X000" not in str(err.value)


def test_unparseable_dates():
    df = frame()
    df.loc[6, "release"] = "31/02/2011x"
    with pytest.raises(SopEvalError, match=r"'release' has 1 value\(s\) that do not parse.*rows 6"):
        check(df)


def test_future_dates_against_extract_date():
    df = frame()
    df.loc[7, "release"] = "2030-01-01"
    with pytest.raises(SopEvalError, match=r"after the data extract date \(2015-01-01\)"):
        check(df, extract_date="2015-01-01")


def test_future_dates_against_today():
    df = frame()
    df.loc[7, "release"] = "2030-01-01"
    with pytest.raises(SopEvalError, match="after today"):
        check(df)


def test_negative_counts():
    df = frame()
    df.loc[8, "events"] = -1
    with pytest.raises(SopEvalError, match=r"count column 'events' has 1 negative value\(s\)"):
        check(df)


def test_outcome_window_not_closed_warns():
    df = frame()  # last treated release 2011-03-12; 12 + 6 months later is 2012-09-12
    with pytest.warns(SopEvalWarning, match=r"cohort 1 has not closed.*2012-09-12"):
        out = check(df, extract_date="2012-06-30", follow_up_months=12, court_lag_months=6)
    windows = out.outcome_windows()
    assert not windows["closed"].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        closed = check(df, extract_date="2012-09-12", follow_up_months=12, court_lag_months=6)
    assert closed.outcome_windows()["closed"].all()


def test_missing_cohort_for_treated():
    df = frame().astype({"cohort": float})
    df.loc[0, "cohort"] = np.nan
    with pytest.raises(SopEvalError, match="cohort column 'cohort' is missing for 1 treated row"):
        check(df)


def test_empty_and_non_frame_input():
    with pytest.raises(SopEvalError, match="no rows"):
        check(frame().iloc[0:0])
    with pytest.raises(SopEvalError, match="DataFrame"):
        validate([1, 2, 3], ROLES)


def test_duplicate_row_labels():
    df = frame()
    df.index = [0] * len(df)
    with pytest.raises(SopEvalError, match="duplicate labels"):
        check(df)


def test_roles_reject_outcome_as_covariate():
    with pytest.raises(SopEvalError, match="matching must never see the outcome"):
        ColumnRoles(covariates=("age", "events"), outcomes=("events",))


def test_readers_csv_parquet_and_bad_files(tmp_path):
    df = frame()
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet", index=False)
    a = load(str(tmp_path / "d.csv"), ROLES, today="2020-01-01")
    b = load(str(tmp_path / "d.parquet"), ROLES, today="2020-01-01")
    pd.testing.assert_series_equal(a.frame["release"], b.frame["release"])
    with pytest.raises(SopEvalError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(SopEvalError, match="reads .csv"):
        read_table(tmp_path / "d.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SopEvalError, match="could not read data file"):
        read_table(tmp_path / "bad.parquet")


def test_summary_is_aggregate_only():
    out = check(frame())
    summary = out.summary()
    assert set(summary["group"]) == {"treated", "comparison pool"}
    assert summary["people"].sum() == 12
    assert "pid" not in summary.columns
