"""Area-level contracts (synthetic control and SDID) run end to end: evaluate, run, verify and the report."""

import json
import re

import pandas as pd
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval import SopEvalError
from sop_eval.cli import main
from sop_eval.contract import parse_contract
from sop_eval.designs import DESIGNS, AreaFit
from sop_eval.effects.pooling import pool_cohorts
from sop_eval.evaluation import evaluate, run, verify

PANEL = FIXTURES / "area_panel.parquet"
TRUE_EFFECT = -4.0  # per 10,000 children a year (make_area_panel(seed=4))
TOLERANCE = 1.0  # a cohort's point estimate lies within 1 per 10,000 of the true effect
CONTRACTS = {"sdid": "area_sdid.toml", "synthetic_control": "area_synthetic_control.toml"}
LATER = {"first_period = 2023\nlast_period = 2024": "first_period = 2027\nlast_period = 2027"}
"""'years 3-4' moved beyond the data, so that 'years 1-2' may cover 2021-2024 alone."""


@pytest.fixture(scope="module", params=sorted(CONTRACTS))
def evaluation(request):
    return evaluate(FIXTURES / "contracts" / CONTRACTS[request.param], risk_draws=0)


def _contract(tmp_path, design="synthetic_control", data=PANEL, **replace):
    return copy_contract(CONTRACTS[design], tmp_path, data, **replace)


def test_both_design_names_are_registered_with_their_keys():
    for name in CONTRACTS:
        design = DESIGNS[name]
        assert design.name == name and "synth" in design.contract_keys and "population" in design.data_columns
    assert DESIGNS["sdid"].method == "sdid" and DESIGNS["synthetic_control"].method == "sc"


def test_bundled_contract_recovers_the_known_effect(evaluation):
    assert isinstance(evaluation.fit, AreaFit) and evaluation.design in CONTRACTS
    measured = [c for c in evaluation.cohorts if c.measured]
    assert [c.name for c in measured] == ["years 1-2", "years 3-4"]
    for c in measured:
        d = c.details
        assert d["ci_low_per_rate"] < TRUE_EFFECT < d["ci_high_per_rate"]
        assert abs(d["estimate_per_rate"] - TRUE_EFFECT) < TOLERANCE
        assert c.effect.design == evaluation.design and c.effect.conf_int()[0] < TRUE_EFFECT / 10_000
    overall = evaluation.fit.effect
    lo, hi = overall.conf_int()
    assert lo < TRUE_EFFECT < hi and abs(overall.estimate - TRUE_EFFECT) < TOLERANCE


def test_units_attributable_are_the_rate_effect_times_population_periods(evaluation):
    panel = pd.read_parquet(PANEL)
    population = panel.loc[(panel["area"] == "LA-001") & panel["year"].isin([2021, 2022]), "population"].sum()
    cohort = evaluation.cohort("years 1-2")
    assert cohort.effect.n_treated == cohort.details["population_periods"] == population
    line = next(ln for ln in evaluation.schedule.lines if ln.reference == "years 1-2")
    expected = -cohort.details["estimate_per_rate"] * population / 10_000
    assert float(line.units) == pytest.approx(expected, rel=1e-9)
    assert float(line.amount) == pytest.approx(round(expected * 20_000, 2), abs=0.01)


def test_a_cohort_after_the_data_is_not_yet_measurable(evaluation):
    late = evaluation.cohort("years 5-6")
    assert late.status == "not yet measurable" and late.effect is None
    assert "when period 2026 is in the data" in late.status_text
    assert evaluation.pooled is not None  # the pooled gate covers the two measured cohorts


def test_pooled_result_accounts_for_the_shared_fit(evaluation):
    measured = [c for c in evaluation.cohorts if c.measured]
    independent = pool_cohorts([c.effect for c in measured])
    pooled = evaluation.pooled
    assert pooled.estimate == pytest.approx(independent.estimate, rel=1e-12)
    assert pooled.n_treated == independent.n_treated
    # the two cohorts share donors and weights: their placebo effects move together, so the pooled SE is
    # larger than the SE of independent cohorts
    assert pooled.se > independent.se * 1.02


def test_pooled_over_every_post_period_is_the_overall_fit(tmp_path):
    path = _contract(tmp_path, "sdid", **{"replications = 200": "replications = 40"})
    ev = evaluate(path, risk_draws=0)
    whole = _contract(tmp_path / "whole", "sdid", **{"replications = 200": "replications = 40",
                                                      "first_period = 2021\nlast_period = 2022":
                                                      "first_period = 2021\nlast_period = 2024", **LATER})
    one = evaluate(whole, risk_draws=0).cohort("years 1-2")
    assert ev.pooled.estimate == pytest.approx(one.effect.estimate, rel=1e-12)
    assert ev.pooled.se == pytest.approx(one.effect.se, rel=1e-9)


def test_a_cohort_over_every_post_period_is_the_overall_fit(tmp_path):
    for design in CONTRACTS:
        path = _contract(tmp_path / design, design, **{"first_period = 2021\nlast_period = 2022":
                                                        "first_period = 2021\nlast_period = 2024", **LATER},
                         **({"replications = 200": "replications = 40"} if design == "sdid" else {}))
        ev = evaluate(path, risk_draws=0)
        c = ev.cohort("years 1-2")
        assert c.details["estimate_per_rate"] == pytest.approx(ev.fit.effect.estimate, rel=1e-12)
        assert c.details["se_per_rate"] == pytest.approx(ev.fit.effect.se, rel=1e-9)


def test_the_contract_seed_fixes_the_sdid_placebo_draws(tmp_path):
    fixed = _contract(tmp_path / "fixed", "sdid", **{"replications = 200": "replications = 20\nseed = 7"})
    one, two = (evaluate(fixed, seed=s, risk_draws=0) for s in (1, 2))
    assert one.cohorts[0].details["se_per_rate"] == two.cohorts[0].details["se_per_rate"]
    assert one.parameters["synth"]["placebo_seed"] == 7 and one.parameters["seed"] == 1
    free = _contract(tmp_path / "free", "sdid", **{"replications = 200": "replications = 20"})
    three, four = (evaluate(free, seed=s, risk_draws=0) for s in (1, 2))
    assert three.cohorts[0].details["se_per_rate"] != four.cohorts[0].details["se_per_rate"]
    assert three.cohorts[0].details["estimate_per_rate"] == four.cohorts[0].details["estimate_per_rate"]


def test_run_verify_and_an_edited_results_file(tmp_path):
    out = tmp_path / "out"
    run(_contract(tmp_path), out, risk_draws=500)
    assert verify(out).ok
    record = json.loads((out / "results.json").read_text())
    assert record["design"] == "synthetic_control" and record["area"]["weights"][0]["weight"] > 0
    record["cohorts"][0]["effect"]["estimate"] *= 2
    (out / "results.json").write_text(json.dumps(record))
    assert not verify(out).ok


def test_cli_runs_and_verifies_sdid(tmp_path, capsys):
    contract = _contract(tmp_path, "sdid", **{"replications = 200": "replications = 30"})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out), "--quiet"]) == 0
    assert "years 1-2" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    (out / "results.json").write_text((out / "results.json").read_text().replace('"sdid"', '"did"', 1))
    assert main(["verify", str(out)]) == 1


def test_report_has_the_area_sections(tmp_path):
    out = tmp_path / "out"
    run(_contract(tmp_path), out, risk_draws=0)
    html = (out / "report.html").read_text()
    for text in ("Areas and synthetic comparison", "Donor weights (largest first)", "Pre-period fit",
                 "pre-period RMSPE", "Effect by period and placebo inference", "placebo-in-space",
                 "Units: the outcome is a rate per 10,000"):
        assert text in html, text
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"synth_gap_LA-001.png", "synth_placebo_gaps_LA-001.png", "placebo_distribution.png"} <= figures
    assert re.search(r"LA-0\d\d</td>\s*<td[^>]*>0\.\d+", html)  # a donor and its weight


def test_sdid_report_draws_its_counterfactual(tmp_path):
    out = tmp_path / "out"
    run(_contract(tmp_path, "sdid", **{"replications = 200": "replications = 30"}), out, risk_draws=0)
    assert {"sdid_gap.png", "placebo_distribution.png"} <= {p.name for p in (out / "figures").iterdir()}
    assert "Algorithm 4" in (out / "report.html").read_text()


def test_start_after_the_data_measures_nothing_yet(tmp_path):
    path = _contract(tmp_path, **{"start = 2021": "start = 2025",
                                  "first_period = 2021\nlast_period = 2022": "first_period = 2027",
                                  "first_period = 2023\nlast_period = 2024": "first_period = 2028"})
    out = tmp_path / "out"
    ev = run(path, out, risk_draws=0)
    assert ev.fit is None and all(c.status == "not yet measurable" for c in ev.cohorts)
    assert {ln.status for ln in ev.schedule.lines} == {"not yet measurable"}
    assert "is not yet in the data" in (out / "report.html").read_text()


def test_row_order_does_not_change_the_results(tmp_path):
    shuffled = _panel(tmp_path / "shuffled", lambda f: f.sample(frac=1.0, random_state=3).reset_index(drop=True))
    a = evaluate(_contract(tmp_path / "a"), risk_draws=0).to_dict()
    b = evaluate(_contract(tmp_path / "b", data=shuffled), risk_draws=0).to_dict()
    assert json.dumps(a["cohorts"], sort_keys=True) == json.dumps(b["cohorts"], sort_keys=True)
    assert json.dumps(a["area"], sort_keys=True) == json.dumps(b["area"], sort_keys=True)


def _panel(tmp_path, change):
    frame = change(pd.read_parquet(PANEL))
    path = tmp_path.parent / f"{tmp_path.name}_panel.parquet"
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize("replace, message", [
    ({'treated = ["LA-001"]': 'treated = ["LA-999"]'}, r"\[evaluation\.synth\] treated names area\(s\) 'LA-999'"),
    ({"start = 2021": "start = 2016"}, r"\[evaluation\.synth\] start = 2016 leaves 1 pre-treatment"),
    ({'population = "population"\n': ""}, r"\[data\.columns\] population is missing"),
    ({'population = "population"': 'population = "children"'}, r"children"),
    ({"first_period = 2021\nlast_period = 2022": "first_period = 2019\nlast_period = 2022"},
     r"\[\[cohorts\]\] 'years 1-2' first_period.* = 2019 is before \[evaluation\.synth\] start = 2021"),
    ({"rate_per = 10000": "rate_per = 10000\nreplications = 50"}, r"\[evaluation\.synth\] replications = 50"),
])
def test_bad_input_names_the_contract_key(tmp_path, replace, message):
    with pytest.raises(SopEvalError, match=message):
        evaluate(_contract(tmp_path, **replace), risk_draws=0)


def test_no_donors_and_missing_population_name_the_key(tmp_path):
    few = _panel(tmp_path / "few", lambda f: f[f["area"].isin(["LA-001", "LA-002", "LA-003"])])
    with pytest.raises(SopEvalError, match=r"\[evaluation\.synth\] treated: 1 donor area\(s\) remain"):
        evaluate(_contract(tmp_path / "few", data=few, **{'treated = ["LA-001"]': 'treated = ["LA-001", "LA-002"]'}),
                 risk_draws=0)
    gaps = _panel(tmp_path / "gaps", lambda f: f.assign(population=f["population"].astype(float).where(
        ~((f["area"] == "LA-001") & (f["year"] == 2022)))))
    with pytest.raises(SopEvalError, match=r"\[data\.columns\] population = 'population' has 1 missing"):
        evaluate(_contract(tmp_path / "gaps", data=gaps), risk_draws=0)
    no_cohort_periods = _contract(tmp_path / "periods", **{"first_period = 2021\nlast_period = 2022\n": ""})
    with pytest.raises(SopEvalError, match=r"\[\[cohorts\]\] 'years 1-2' has no first_period"):
        evaluate(no_cohort_periods, risk_draws=0)


AREA = """
[contract]
name = "area"
version = "1"
effective = 2021-01-01
currency = "GBP"

[[cohorts]]
name = "y1"
first_period = 2021

[[outcomes]]
name = "entering_care"
mechanism = "attributable"
design = "sdid"
price = 100

[[payers]]
name = "p"
share = 1

[data.columns]
unit = "area"
time = "year"
population = "population"

[evaluation]
design = "sdid"

[evaluation.synth]
treated = ["LA-001"]
start = 2021
rate_per = 10000
"""


def test_schema_reads_the_area_keys():
    c = parse_contract(AREA)
    s = c.evaluation.synth
    assert (s.treated, s.start, s.rate_per, s.replications, s.seed) == (("LA-001",), 2021, 10000, None, None)
    assert (c.cohorts[0].first_period, c.cohorts[0].last_period) == (2021, 2021)
    assert c.data.columns["population"] == "population" and c.data.column_roles().outcomes == ()
    assert parse_contract(AREA.replace('design = "sdid"', 'design = "synthetic_control"')).evaluation.design \
        == "synthetic_control"


@pytest.mark.parametrize("old, new, message", [
    ("rate_per = 10000", "rate_per = 10000\nplacebos = 5", r"evaluation\.synth\.placebos"),
    ("rate_per = 10000\n", "", r"evaluation\.synth\.rate_per"),
    ("start = 2021", "start = 2021.5", r"evaluation\.synth\.start"),
    ('[evaluation]\ndesign = "sdid"', '[evaluation]\ndesign = "did"', r"evaluation\.synth .*not used by design 'did'"),
    ('population = "population"', 'population = "population"\ngroup = "g"', r"data\.columns\.group"),
    ("first_period = 2021", "first_period = 2021\nlast_period = 2020", r"last_period = 2020.*on or after"),
    ("first_period = 2021", "last_period = 2022", r"give first_period too"),
    ('[evaluation.synth]\ntreated = ["LA-001"]\nstart = 2021\nrate_per = 10000\n', "",
     r"needs an \[evaluation\.synth\] table"),
])
def test_schema_refuses_unknown_or_misplaced_area_keys(old, new, message):
    assert old in AREA
    with pytest.raises(SopEvalError, match=message):
        parse_contract(AREA.replace(old, new, 1))


def test_population_is_refused_under_other_designs():
    did = AREA.replace('design = "sdid"', 'design = "did"').replace(
        '[evaluation.synth]\ntreated = ["LA-001"]\nstart = 2021\nrate_per = 10000\n', "")
    with pytest.raises(SopEvalError, match=r"data\.columns\.population"):
        parse_contract(did)
