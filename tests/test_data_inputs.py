"""Inputs are never guessed: dates, treatment codings, stray text in numbers, overflow, nested cells, headers."""

import pandas as pd
import pytest

from sop_eval import SopEvalError
from sop_eval.data import ColumnRoles, validate
from sop_eval.data.dates import parse_dates

UK = ["13/02/2020", "03/01/2020", "1/12/2019"]


def _parse(values, **kw):
    return parse_dates(pd.Series(values), "release_dt", **kw)


def test_iso_dates_need_no_setting():
    out = _parse(["2020-02-13", "2020-01-03", None, "2019-12-01 10:30"])
    assert out.dtype == "datetime64[ns]"
    assert out.iloc[0] == pd.Timestamp("2020-02-13") and pd.isna(out.iloc[2])


def test_day_first_text_without_a_format_is_an_error_naming_column_examples_and_key():
    with pytest.raises(SopEvalError) as err:
        _parse(UK)
    message = str(err.value)
    assert "'release_dt'" in message and "'13/02/2020'" in message and "'03/01/2020'" in message
    assert "date_format" in message and "dayfirst = true" in message and "[data]" in message


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"dayfirst": True}, ["2020-02-13", "2020-01-03", "2019-12-01"]),
        ({"date_format": "%d/%m/%Y"}, ["2020-02-13", "2020-01-03", "2019-12-01"]),
    ],
)
def test_day_first_dates_read_with_the_stated_format(kw, expected):
    assert _parse(UK, **kw).tolist() == [pd.Timestamp(d) for d in expected]


def test_month_first_is_read_as_month_first_only_when_stated():
    out = _parse(["02/13/2020", "01/03/2020"], dayfirst=False)
    assert out.tolist() == [pd.Timestamp("2020-02-13"), pd.Timestamp("2020-01-03")]


def test_a_value_that_does_not_fit_the_stated_order_is_named():
    with pytest.raises(SopEvalError, match=r"1 value\(s\) that do not parse as day/month/year.*'02/13/2020'"):
        _parse(["13/02/2020", "02/13/2020"], dayfirst=True)


def test_mixed_formats_in_one_column_are_an_error():
    with pytest.raises(SopEvalError, match=r"1 value\(s\) that do not parse as ISO 8601.*rows 1"):
        _parse(["2020-02-13", "13/02/2020"])


@pytest.mark.parametrize("values", [["2020-02-13T10:00:00+01:00"], ["2020-02-13 10:00Z"]])
def test_time_zone_offsets_are_refused(values):
    with pytest.raises(SopEvalError, match="time-zone offsets"):
        _parse(values)


def test_time_zone_aware_column_is_refused():
    col = pd.Series(pd.to_datetime(["2020-02-13", "2020-03-01"]).tz_localize("Europe/London"))
    with pytest.raises(SopEvalError, match="carries a time zone"):
        parse_dates(col, "release_dt")


def test_both_settings_at_once_are_refused():
    with pytest.raises(SopEvalError, match="either date_format"):
        _parse(UK, dayfirst=True, date_format="%d/%m/%Y")


def test_validate_takes_the_format_and_never_shifts_a_uk_date():
    frame = pd.DataFrame({
        "pid": [1, 2, 3, 4], "treated": [1, 1, 0, 0], "age": [20, 30, 25, 35],
        "release_dt": ["13/02/2020", "03/01/2020", "05/02/2020", "12/11/2019"],
    })
    roles = ColumnRoles(id="pid", treatment="treated", covariates=["age"], index_date="release_dt")
    with pytest.raises(SopEvalError, match="release_dt"):
        validate(frame, roles, today="2024-01-01")
    checked = validate(frame, roles, today="2024-01-01", dayfirst=True)
    assert checked.frame["release_dt"].dt.strftime("%Y-%m-%d").tolist() == [
        "2020-02-13", "2020-01-03", "2020-02-05", "2019-11-12"]
    assert frame["release_dt"].iloc[0] == "13/02/2020"


def _roles(**kw):
    base = dict(id="pid", treatment="treated", covariates=["age"], outcomes=["reconvicted"])
    base.update(kw)
    return ColumnRoles(**base)


def _people(**cols):
    frame = pd.DataFrame({"pid": [1, 2, 3, 4, 5, 6], "treated": [1, 1, 1, 0, 0, 0],
                          "age": [20, 30, 25, 35, 41, 19], "reconvicted": [1, 0, 1, 0, 1, 1]})
    for k, v in cols.items():
        frame[k] = v
    return frame


def test_a_few_text_cells_in_a_numeric_covariate_are_named_not_read_as_categories():
    frame = _people(age=["20", "30", "forty", "35", "41", "19"])
    with pytest.raises(SopEvalError,
                       match=r"covariate 'age' holds numbers but 1 cell\(s\) are text \('forty'; rows 2\)"):
        validate(frame, _roles())
    checked = validate(frame, _roles(categorical=["age"]))
    assert checked.frame["age"].tolist()[2] == "forty"


def test_overflowing_covariate_values_are_refused_naming_the_column():
    frame = _people(age=[20.0, 1e308, 25.0, 35.0, 41.0, 19.0])
    with pytest.raises(SopEvalError, match=r"covariate 'age' has 1 value\(s\) too large to model.*rows 1"):
        validate(frame, _roles())


def test_text_outcome_and_nested_cells_are_clear_errors():
    with pytest.raises(SopEvalError, match=r"outcome column 'reconvicted' holds text"):
        validate(_people(reconvicted=["yes", "no"] * 3), _roles())
    with pytest.raises(SopEvalError, match=r"column 'age' holds nested values"):
        validate(_people(age=[[1, 2]] * 6), _roles())


def test_text_treatment_needs_treated_values_and_never_prints_ids():
    frame = _people(treated=["Y", "Y", "Y", "N", "N", "N"])
    with pytest.raises(SopEvalError, match=r"treated_values = \['Y'\] under \[data.columns\]"):
        validate(frame, _roles())
    checked = validate(frame, _roles(), treated_values=["Y"])
    assert checked.frame["treated"].tolist() == [1, 1, 1, 0, 0, 0]
    with pytest.raises(SopEvalError, match="match no value"):
        validate(frame, _roles(), treated_values=["yes"])
    ids = _people(treated=["X001", "X002", "X003", "X004", "X005", "X006"])
    with pytest.raises(SopEvalError) as err:
        validate(ids, _roles())
    assert "too many for a treatment coding" in str(err.value)
    assert not any(f"X00{i}" in str(err.value) for i in range(1, 7))


def test_repeated_csv_headers_and_header_only_files_name_the_file(tmp_path):
    from sop_eval.data import read_table

    dup = tmp_path / "people.csv"
    dup.write_text("pid,age,age\n1,2,3\n")
    with pytest.raises(SopEvalError, match=r"people.csv' has repeated column names \('age'\)"):
        read_table(dup)
    empty = tmp_path / "empty.csv"
    empty.write_text("pid,age\n")
    with pytest.raises(SopEvalError, match=r"empty.csv' has no rows"):
        read_table(empty)
