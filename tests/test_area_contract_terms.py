"""Area-level contract terms: cohorts' period spans (shared periods, gaps), one start period, due dates from
data_available, not-yet-measurable payment lines, and `sop-eval check` for the area designs."""

import datetime as dt

import pandas as pd
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval import SopEvalError
from sop_eval.cli import main
from sop_eval.contract import load_contract
from sop_eval.contract.timing import owned_periods
from sop_eval.designs import synth as synth_design
from sop_eval.errors import SopEvalWarning
from sop_eval.evaluation import evaluate
from sop_eval.preflight import check
from sop_eval.synth import fit_area_contract

PANEL = FIXTURES / "area_panel.parquet"
FAST = {"replications = 200": "replications = 20"}
YEARS_12 = "first_period = 2021\nlast_period = 2022"
YEARS_34 = "first_period = 2023\nlast_period = 2024"
LATER = {"[[cohorts]]\nname = \"years 1-2\"": "[timing]\noverlap = \"later\"\n\n[[cohorts]]\nname = \"years 1-2\""}


def _sdid(tmp_path, **replace):
    return copy_contract("area_sdid.toml", tmp_path, PANEL, **{**FAST, **replace})


def test_overlapping_period_spans_are_refused_naming_both_cohorts_and_the_periods(tmp_path):
    path = _sdid(tmp_path, **{YEARS_12: "first_period = 2021\nlast_period = 2023"})
    with pytest.raises(SopEvalError) as exc:
        load_contract(path)
    message = str(exc.value)
    assert "'years 1-2'" in message and "'years 3-4'" in message and "period(s) 2023," in message
    assert "paid for twice" in message and 'overlap = "earlier"' in message


def test_overlap_rule_gives_a_shared_period_to_one_cohort_so_it_is_paid_once(tmp_path):
    path = _sdid(tmp_path, **{YEARS_12: "first_period = 2021\nlast_period = 2023", **LATER})
    contract = load_contract(path)
    one, two = contract.cohort("years 1-2"), contract.cohort("years 3-4")
    assert owned_periods(one, contract.cohorts, "later") == [2021, 2022]
    assert owned_periods(one, contract.cohorts, "earlier") == [2021, 2022, 2023]
    assert owned_periods(two, contract.cohorts, "later") == [2023, 2024]
    ev = evaluate(path, risk_draws=0)
    panel = pd.read_parquet(PANEL)
    served = panel[(panel["area"] == "LA-001") & panel["year"].between(2021, 2024)]["population"].sum()
    paid = ev.cohort("years 1-2").effect.n_treated + ev.cohort("years 3-4").effect.n_treated
    assert paid == served  # each treated period counted once
    assert ev.cohort("years 1-2").details["periods"] == 2


def test_a_cohort_left_without_periods_by_the_overlap_rule_is_refused(tmp_path):
    earlier = {k: v.replace('"later"', '"earlier"') for k, v in LATER.items()}
    path = _sdid(tmp_path, **{YEARS_12: "first_period = 2021\nlast_period = 2024", **earlier})
    with pytest.raises(SopEvalError, match=r"'years 3-4' .*keeps no period of its own: \[timing\] overlap = 'earlier'"):
        load_contract(path)


def test_a_treated_period_in_no_cohort_is_warned_of(tmp_path):
    path = _sdid(tmp_path, **{YEARS_34: "first_period = 2024\nlast_period = 2024"})
    result = check(path)
    assert result.ok
    assert any("treated period(s) 2023 " in w and "never paid for" in w for w in result.warnings)
    with pytest.warns(SopEvalWarning, match=r"treated period\(s\) 2023 .*never paid for"):
        evaluate(path, risk_draws=0)


@pytest.mark.parametrize("start", ["[2020, 2021]", "{ LA-001 = 2021, LA-002 = 2022 }"])
def test_staggered_starts_say_one_start_is_shared_and_how_to_stagger(tmp_path, start):
    path = _sdid(tmp_path, **{"start = 2021": f"start = {start}"})
    with pytest.raises(SopEvalError) as exc:
        load_contract(path)
    message = str(exc.value)
    assert "start" in message and "one start period, shared by every treated area" in message
    assert "one contract per start period" in message and 'design = "did"' in message
    assert "whole number" not in message


def test_data_available_dates_a_cohort_and_its_payment(tmp_path):
    path = _sdid(tmp_path, **{YEARS_12: YEARS_12 + "\ndata_available = 2023-06-30"})
    contract = load_contract(path)
    assert contract.cohort("years 1-2").measurable_from == dt.date(2023, 6, 30)
    assert contract.cohort("years 3-4").measurable_from is None
    ev = evaluate(path, risk_draws=0)
    lines = {ln.cohort: ln for ln in ev.schedule.lines}
    assert lines["years 1-2"].due == dt.date(2023, 6, 30) + dt.timedelta(days=60)
    assert lines["years 3-4"].due is None
    assert any("'years 3-4'" in n and "data_available" in n for n in ev.schedule.notes)


def test_data_available_adds_the_analysis_months_and_is_refused_on_entry_windows(tmp_path):
    path = _sdid(tmp_path, **{YEARS_12: YEARS_12 + "\ndata_available = 2023-06-30\nanalysis_months = 3"})
    assert load_contract(path).cohort("years 1-2").measurable_from == dt.date(2023, 9, 30)
    bad = _sdid(tmp_path / "bad", **{YEARS_12: "entry_start = 2021-01-01\nentry_end = 2021-12-31\n"
                                                "data_available = 2023-06-30"})
    with pytest.raises(SopEvalError, match=r"data_available = 2023-06-30: data_available dates a cohort of periods"):
        load_contract(bad)


def test_a_cohort_after_the_data_has_a_not_yet_measurable_payment_line(tmp_path):
    path = _sdid(tmp_path, **{'cohorts = ["years 1-2", "years 3-4"]\n': ""})  # pooled over all three
    ev = evaluate(path, risk_draws=0)
    lines = {ln.cohort: ln for ln in ev.schedule.lines}
    late = lines["years 5-6"]
    assert late.status == "not yet measurable" and late.amount == 0
    assert late.note == "measurable when period 2026 is in the data"
    pooled = next(ln for ln in ev.schedule.lines if ln.kind == "pooled catch-up")
    assert pooled.status == "not yet measurable" and "'years 5-6'" in pooled.note
    assert lines["years 1-2"].status != "not yet measurable"


def test_check_reports_areas_periods_and_cohorts_without_fitting(tmp_path, monkeypatch, capsys):
    def no_fit(*args, **kwargs):
        raise AssertionError("check fitted the areas")

    monkeypatch.setattr(synth_design, "fit_area_contract", no_fit)
    path = _sdid(tmp_path, **{YEARS_12: YEARS_12 + "\ndata_available = 2023-06-30"})
    result = check(path)
    assert result.ok and not result.warnings
    rows = result.cohorts.set_index("cohort")
    assert rows.loc["years 1-2", "periods"] == "2021–2022" and rows.loc["years 1-2", "periods in the data"] == "2 of 2"
    assert rows.loc["years 1-2", "payment due"] == "2023-08-29" and rows.loc["years 3-4", "payment due"] == "—"
    assert rows.loc["years 5-6", "measurable"] == "not yet: when period 2026 is in the data"
    assert rows.loc["years 5-6", "periods in the data"] == "0 of 2"
    notes = " ".join(result.notes)
    assert "treated areas: 1 (LA-001), from period 2021; donors: 149" in notes
    assert "before the start: 6 (2015–2020); from the start on: 4 (2021–2024)" in notes
    assert "not yet measurable (their payment lines wait): 'years 5-6'" in notes
    assert "minimum detectable effect: not projected" in notes
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ready to run" in out and "per-cohort counts are not shown" not in out


def test_check_turns_a_panel_the_run_would_refuse_into_a_problem(tmp_path):
    panel = pd.read_parquet(PANEL)
    (tmp_path / "data").mkdir()
    holed = tmp_path / "data" / "holed.csv"
    panel[~((panel["area"] == "LA-007") & (panel["year"] == 2018))].to_csv(holed, index=False)
    result = check(copy_contract("area_sdid.toml", tmp_path, holed))
    assert not result.ok and any("unbalanced" in p for p in result.problems)


def test_check_help_describes_the_area_designs(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "Area designs (sdid, synthetic_control)" in out and "propensity model" in out


def test_fit_area_contract_accepts_the_contract_design_name():
    panel = pd.read_parquet(PANEL)
    kw = dict(unit="area", time="year", outcome="entering_care")
    by_contract_name = fit_area_contract(panel, "LA-001", 2021, method="synthetic_control", **kw)
    assert by_contract_name.method == "sc"
    assert by_contract_name.estimate == fit_area_contract(panel, "LA-001", 2021, method="sc", **kw).estimate
    with pytest.raises(SopEvalError, match="'synthetic_control'"):
        fit_area_contract(panel, "LA-001", 2021, method="scm", **kw)
