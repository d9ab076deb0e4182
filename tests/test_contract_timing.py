"""The one window rule (contract.timing) and its users: validation per cohort, payments' measurable dates."""

import datetime as dt
import warnings

import pandas as pd
import pytest

from sop_eval import SopEvalError, SopEvalWarning
from sop_eval.contract import Cohort, parse_contract, timing, vocabulary
from sop_eval.data import ColumnRoles, outcome_windows, validate
from sop_eval.did.estimators import ESTIMATORS
from sop_eval.effects.inference import SE_METHODS


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (dt.date(2020, 1, 31), 1, dt.date(2020, 2, 29)),    # leap year: clipped to 29 February
        (dt.date(2021, 1, 31), 1, dt.date(2021, 2, 28)),    # common year
        (dt.date(2019, 2, 28), 12, dt.date(2020, 2, 28)),   # not moved to the month's end
        (dt.date(2020, 2, 29), 12, dt.date(2021, 2, 28)),
        (dt.date(2020, 2, 29), 48, dt.date(2024, 2, 29)),
        (dt.date(2012, 8, 31), 18, dt.date(2014, 2, 28)),
        (dt.date(2021, 12, 15), 21, dt.date(2023, 9, 15)),
        (dt.date(2020, 5, 31), 0, dt.date(2020, 5, 31)),
    ],
)
def test_add_months_clips_to_the_month_end(day, months, expected):
    assert timing.add_months(day, months) == expected


def test_months_are_added_in_one_step():
    c = Cohort("c", dt.date(2019, 1, 1), dt.date(2019, 12, 31), follow_up_months=1, court_lag_months=1,
               analysis_months=1)
    # 31 Dec + 2 months = 29 Feb (not 31 Jan + 1 month = 29 Feb, then the clipped day carried on)
    assert c.window_closes == timing.window_closes(c.entry_end, c) == dt.date(2020, 2, 29)
    assert c.measurable_from == dt.date(2020, 3, 31)


def test_timestamps_keep_their_type_and_time():
    closes = timing.add_months(pd.Timestamp("2020-01-31 13:00"), 13)
    assert isinstance(closes, pd.Timestamp) and closes == pd.Timestamp("2021-02-28 13:00")


def test_negative_months_are_refused():
    with pytest.raises(SopEvalError, match="months=-1"):
        timing.add_months(dt.date(2020, 1, 1), -1)


def _people() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": range(8),
        "treated": [1, 1, 1, 1, 0, 0, 0, 0],
        "cohort": [1, 1, 2, 2, 1, 1, 2, 2],
        "release": ["2020-01-10", "2020-01-31", "2020-06-01", "2020-08-31", "2020-01-05", "2020-01-06",
                    "2020-06-02", "2020-06-03"],
        "x": [1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 1.0, 5.0],
    })


ROLES = ColumnRoles(id="pid", treatment="treated", cohort="cohort", index_date="release", covariates=("x",))
COHORTS = (
    Cohort("cohort 1", dt.date(2020, 1, 1), dt.date(2020, 1, 31), follow_up_months=1, court_lag_months=0, size=2),
    Cohort("cohort 2", dt.date(2020, 6, 1), dt.date(2020, 8, 31), follow_up_months=6, court_lag_months=3, size=5),
)


def test_validation_uses_each_cohorts_own_timing():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checked = validate(_people(), ROLES, extract_date="2021-03-31", cohorts=COHORTS)
    windows = checked.outcome_windows().set_index("cohort")
    assert windows.loc[1, "window_closes"] == pd.Timestamp("2020-02-29")  # 1 month, leap February
    assert windows.loc[2, "window_closes"] == pd.Timestamp("2021-05-31")  # 6 + 3 months, clipped
    assert list(windows["follow_up_months"]) == [1, 6] and list(windows["court_lag_months"]) == [0, 3]
    assert bool(windows.loc[1, "closed"]) and not bool(windows.loc[2, "closed"])
    messages = [str(w.message) for w in caught if issubclass(w.category, SopEvalWarning)]
    assert any("cohort 2 has not closed" in m and "6 months of follow-up and 3 months" in m for m in messages)
    assert not any("cohort 1 has not closed" in m for m in messages)


def test_validation_without_contract_cohorts_keeps_the_given_months():
    windows = outcome_windows(validate(_people(), ROLES, extract_date="2021-12-31").frame, ROLES, None, 12, 6)
    assert list(windows["window_closes"]) == [pd.Timestamp("2021-07-31"), pd.Timestamp("2022-02-28")]


def test_entry_windows_place_rows_when_the_data_has_no_cohort_column():
    roles = ROLES.with_(cohort=None)
    windows = outcome_windows(validate(_people(), roles, extract_date="2021-12-31").frame, roles, None, 12, 0,
                              COHORTS).set_index("cohort")
    assert windows.loc["cohort 1", "window_closes"] == pd.Timestamp("2020-02-29")
    assert windows.loc["cohort 2", "window_closes"] == pd.Timestamp("2021-05-31")


def test_cohort_size_is_checked_against_the_data():
    with pytest.warns(SopEvalWarning, match=r"'cohort 2' has \[\[cohorts\]\] size = 5, but the data hold 2"):
        checked = validate(_people(), ROLES, extract_date="2021-12-31", cohorts=COHORTS)
    assert not any("'cohort 1' has [[cohorts]] size" in w for w in checked.warnings)


CONTRACT = """
[contract]
name = "t"
version = "1"
effective = 2020-01-01
currency = "GBP"
[timing]
follow_up_months = 12
court_lag_months = 6
analysis_months = 3
[[cohorts]]
name = "a"
entry_start = 2020-01-01
entry_end = 2020-08-31
[[cohorts]]
name = "b"
entry_start = 2020-09-01
entry_end = 2021-05-31
follow_up_months = 9
[[outcomes]]
name = "o"
mechanism = "attributable"
design = "psm"
price = 1
[[payers]]
name = "p"
share = 1
"""


def test_contract_cohorts_measurable_from_the_same_rule():
    a, b = parse_contract(CONTRACT).cohorts
    assert a.window_closes == dt.date(2022, 2, 28) and a.measurable_from == dt.date(2022, 5, 31)
    assert b.window_closes == dt.date(2022, 8, 31) and b.measurable_from == dt.date(2022, 11, 30)


def test_engine_registries_speak_the_vocabulary():
    assert tuple(SE_METHODS) == vocabulary.MATCHED_SE
    assert set(ESTIMATORS) == set(vocabulary.DID_METHODS)
