"""The evaluation end to end for a staggered roll-out evaluated by difference-in-differences."""

import json
import warnings
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from contract_copies import FIXTURES, copy_contract
from sop_eval import SopEvalError
from sop_eval.audit import verify
from sop_eval.contract.plan import DidSettings
from sop_eval.datasets import make_staggered_panel
from sop_eval.designs.did import _at_step, _breakdown_sentence, honest_sensitivity_of
from sop_eval.did.honest import event_study_inputs, honest_did
from sop_eval.pipeline import evaluate, run
from sop_eval.preflight import check

PANEL_ARGS = dict(n_units=150, n_periods=8, waves=(4, 6), never_share=0.4, effect=-6.0, dynamic=-1.0,
                  heterogeneity=0.25, noise=3.0, baseline=120.0, seed=7)


def contract_for(tmp: Path, **replace: str) -> Path:
    return copy_contract("care_did.toml", tmp, FIXTURES / "care_panel.csv", **replace)


@pytest.fixture(scope="module")
def evaluation():
    return evaluate(FIXTURES / "contracts" / "care_did.toml", risk_draws=2000)


def test_fixture_is_the_documented_simulation():
    panel = pd.read_csv(FIXTURES / "care_panel.csv")
    fresh = make_staggered_panel(**PANEL_ARGS)
    assert np.allclose(panel["care_days"], fresh["y"].round(2))


def test_recovers_the_true_wave_effects(evaluation):
    truth = pd.DataFrame(make_staggered_panel(**PANEL_ARGS).attrs["true_att_gt"]).groupby("group")["att"].mean()
    for cohort, group in (("wave 1", 4), ("wave 2", 6)):
        effect = evaluation.cohort(cohort).effect
        assert effect.design == "did"
        assert abs(effect.estimate - truth[group]) < 3 * effect.se
    assert evaluation.did.pretrend.p_value > 0.01  # parallel pre-trends hold in the simulation


def test_payment_is_effect_times_area_periods_times_price(evaluation):
    effect = evaluation.cohort("wave 1").effect
    assert effect.n_treated == 45 * 5  # 45 areas, adopting in period 4 of 8
    line = evaluation.schedule.line(outcome="care_days", cohort="wave 1")
    assert float(line.units) == pytest.approx(-effect.estimate * 45 * 5, rel=1e-9)
    assert float(line.gross) == pytest.approx(round(100 * float(line.units), 2), abs=0.006)
    head = evaluation.headline().set_index("cohort")
    assert head.loc["pooled", "gate_met"] and "treated_mean" in head and "treated_per_100" not in head


def test_run_writes_report_and_verifies(tmp_path):
    out = tmp_path / "out"
    run(contract_for(tmp_path / "c"), out, risk_draws=1000)
    html = (out / "report.html").read_text()
    assert ">Parallel trends and event study</h2>" in html and ">Panel and adoption</h2>" in html
    assert html.count("data:image/png;base64,") >= 4
    results = json.loads((out / "results.json").read_text())
    assert results["design"] == "did" and results["did"]["pretrend"]["df"] > 0
    assert ">Sensitivity to parallel trends (HonestDiD)</h2>" in html and "Breakdown Mbar = " in html
    assert "Robust 95% sets by Mbar (relative magnitudes)" in html and "Robust 95% sets by M (smoothness)" in html
    assert (out / "figures" / "honest_relative_magnitudes_average.png").is_file()
    assert (out / "figures" / "honest_smoothness_average.png").is_file()
    honest = {h["restriction"]: h for h in results["did"]["honest"]}
    assert [r["Mbar"] for r in honest["relative_magnitudes"]["rows"]] == [None, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert honest["relative_magnitudes"]["breakdown_found"] and honest["smoothness"]["target"].startswith("average")
    assert verify(out).ok
    again = tmp_path / "again"
    run(contract_for(tmp_path / "c"), again, risk_draws=1000)
    assert (again / "results.json").read_bytes() == (out / "results.json").read_bytes()


def test_wave_after_the_data_is_not_yet_measurable(tmp_path):
    contract = contract_for(tmp_path, **{"name = \"wave 2\"\ngroup = 6": "name = \"wave 2\"\ngroup = 10"})
    panel = pd.read_csv(tmp_path / "care_panel.csv")
    panel.loc[panel.group == 6, "group"] = 10
    panel.to_csv(tmp_path / "care_panel.csv", index=False)
    evaluation = evaluate(contract, risk_draws=0)
    wave2 = evaluation.cohort("wave 2")
    assert wave2.status == "not yet measurable" and wave2.effect is None
    assert "first measurable when period 10 is in the data" in wave2.status_text


def test_cohort_whose_group_no_area_adopts_in_is_refused(tmp_path):
    """A wave naming a period in which no area adopts would be paid nothing and leave its areas in no cohort."""
    contract = contract_for(tmp_path, **{"name = \"wave 2\"\ngroup = 6": "name = \"wave 2\"\ngroup = 7"})
    with pytest.raises(SopEvalError, match=r"cohort 'wave 2' has \[\[cohorts\]\] group = 7, but no area in column "
                                           r"'group' first adopts in period 7; the adoption periods in the data are "
                                           r"4 and 6\. Set the cohort's `group`"):
        evaluate(contract, risk_draws=0)
    with pytest.raises(SopEvalError, match="adoption periods in the data are 4 and 6"):
        check(contract)


def _panel_edit(tmp_path: Path, areas: int, value: float) -> Path:
    """The fixture contract with ``areas`` never-treated areas given ``value`` as their adoption period."""
    contract = contract_for(tmp_path)
    panel = pd.read_csv(tmp_path / "care_panel.csv")
    chosen = panel.loc[panel.group == 0, "area"].drop_duplicates().iloc[:areas]
    panel.loc[panel.area.isin(chosen), "group"] = value
    panel.to_csv(tmp_path / "care_panel.csv", index=False)
    return contract


def test_adoption_period_in_no_cohort_warns(tmp_path):
    contract = _panel_edit(tmp_path, 12, 5)
    evaluation = evaluate(contract, risk_draws=0)
    found = [w for w in evaluation.warnings if "period 5, which no [[cohorts]] group names" in w]
    assert len(found) == 1 and found[0].startswith("12 area(s) first adopt in period 5")
    assert any("period 5, which no [[cohorts]] group names" in w for w in check(contract).warnings)


def test_blank_adoption_period_warns_with_the_count(tmp_path):
    """A blank adoption period counts as never treated (as R did's 0), said aloud since a missing date looks alike."""
    contract = _panel_edit(tmp_path, 9, np.nan)
    evaluation = evaluate(contract, risk_draws=0)
    assert any(w.startswith("9 area(s) have a blank 'group' on every row and count as never treated")
               for w in evaluation.warnings)
    assert evaluation.did.units["never_treated"] == int((pd.read_csv(FIXTURES / "care_panel.csv")
                                                         .groupby("area")["group"].first() == 0).sum())


def test_check_lists_areas_periods_and_pre_periods(tmp_path):
    result = check(contract_for(tmp_path, **{"n_boot = 999": "n_boot = 99\nanticipation = 1"}))
    assert result.ok
    rows = result.cohorts.set_index("cohort")
    assert rows.loc["wave 1", "areas"] == "45" and rows.loc["wave 1", "first treated period"] == "4"
    # periods 1..8: wave 1 adopts in 4, anticipation 1 leaves periods 1 and 2 before it
    assert rows.loc["wave 1", "pre-treatment periods"] == 2 and rows.loc["wave 1", "post-treatment periods"] == 5
    assert rows.loc["wave 2", "pre-treatment periods"] == 4 and rows.loc["wave 2", "post-treatment periods"] == 3
    never = int((pd.read_csv(FIXTURES / "care_panel.csv").groupby("area")["group"].first() == 0).sum())
    assert any(n.startswith(f"{never} never-treated area(s); 8 periods in the data (1 to 8)") and "anticipation" in n
               for n in result.notes)


@pytest.mark.parametrize(
    "replace, message",
    [
        ({'group = "group"\n': ""}, r"needs \[data.columns\] group"),
        ({"name = \"wave 1\"\ngroup = 4": "name = \"wave 1\""}, r"cohort\(s\) 'wave 1' have no `group`"),
        ({'unit = "area"': 'unit = "district"'}, r"has no column\(s\) 'district'"),
    ],
)
def test_bad_did_contracts(replace, message, tmp_path):
    with pytest.raises(SopEvalError, match=message):
        evaluate(contract_for(tmp_path, **replace), risk_draws=0)


def test_honest_sensitivity_equals_a_direct_call(evaluation):
    """The run's HonestDiD figures are those of did/honest.py on the same event study, with the default grids."""
    did = evaluation.did
    b, V, n_pre, n_post = event_study_inputs(did.dynamic)
    assert (n_pre, n_post) == (4, 5)
    recorded = {h["restriction"]: h for h in did.to_dict()["honest"]}
    for restriction, grid in (("relative_magnitudes", [0, 0.5, 1, 1.5, 2]), ("smoothness", None)):
        with warnings.catch_warnings():  # the set open at the grid's end at large Mbar, as the report marks it
            warnings.simplefilter("ignore")
            direct = honest_did(b, V, n_pre, n_post, restriction=restriction, grid=grid, target="average", level=0.95)
        rec = recorded[restriction]
        assert rec["estimate"] == pytest.approx(float(np.mean(did.dynamic.att[-5:])), abs=1e-12)
        assert rec["breakdown"] == direct.breakdown
        assert [r["lb"] for r in rec["rows"][1:]] == direct.lb.tolist()
        assert [r["ub"] for r in rec["rows"][1:]] == direct.ub.tolist()
    # the parallel-trends average effect is excluded from zero, and relaxing the bound widens the set
    rm = recorded["relative_magnitudes"]
    assert rm["rows"][1]["ub"] < 0 and 0 < rm["breakdown"] < 2
    assert all(a["ub"] <= b["ub"] for a, b in zip(rm["rows"][1:], rm["rows"][2:], strict=False))


def test_honest_contract_keys(tmp_path):
    contract = contract_for(tmp_path, **{"n_boot = 999": 'n_boot = 99\nhonest = "relative_magnitudes"\n'
                                                         "honest_mbar = [1, 0]"})
    did = evaluate(contract, risk_draws=0).did
    assert [h.restriction for h in did.honest] == ["relative_magnitudes"]
    assert did.honest[0].grid.tolist() == [0.0, 1.0]
    none = contract_for(tmp_path / "none", **{"n_boot = 999": 'n_boot = 99\nhonest = "none"'})
    assert evaluate(none, risk_draws=0).did.honest == ()
    bad = contract_for(tmp_path / "bad", **{"n_boot = 999": "n_boot = 99\nhonest_mbar = [-1]"})
    with pytest.raises(SopEvalError, match=r"evaluation\.did\.honest_mbar = \[-1\]: expected a list of non-negative"):
        evaluate(bad, risk_draws=0)


def test_honest_sensitivity_explains_when_unavailable():
    pre_only = SimpleNamespace(labels=np.array([-2.0, -1.0]), att=np.array([0.1, -0.2]), vcov=np.eye(2))
    honest, note = honest_sensitivity_of(pre_only, DidSettings(), 0.95)
    assert honest == () and "no post-treatment estimate" in note
    post_only = SimpleNamespace(labels=np.array([0.0, 1.0]), att=np.array([0.1, -0.2]), vcov=np.eye(2))
    honest, note = honest_sensitivity_of(post_only, DidSettings(), 0.95)
    assert honest == () and "no pre-treatment estimate" in note
    assert honest_sensitivity_of(post_only, DidSettings(honest="none"), 0.95) == ((), None)


def test_pooled_se_accounts_for_the_shared_comparison_areas(evaluation):
    fit = evaluation.fit.att_gt
    waves = [evaluation.cohort(name) for name in ("wave 1", "wave 2")]
    n = np.array([c.effect.n_treated for c in waves], dtype=float)
    w = n / n.sum()
    psi = []  # each wave's effect's influence function, straight from its post-treatment cells
    for c in waves:
        post = np.flatnonzero((fit.group == c.details["group"]) & (fit.time >= fit.group))
        psi.append(fit.influence[:, post].mean(axis=1))
    corr = np.corrcoef(np.column_stack(psi), rowvar=False)  # influence functions have mean zero
    se = np.array([c.effect.se for c in waves])  # the reported (here bootstrap) standard errors
    expected = float(np.sqrt(w @ (np.outer(se, se) * corr) @ w))
    independent = float(np.sqrt(w**2 @ se**2))
    pooled = evaluation.pooled
    assert pooled.estimate == pytest.approx(float(w @ [c.effect.estimate for c in waves]), rel=1e-12)
    assert pooled.se == pytest.approx(expected, rel=1e-6)
    assert abs(pooled.se - independent) > 1e-3 * independent  # the waves' estimates are correlated


def test_breakdown_sentence_says_what_the_table_shows(evaluation):
    """The sentence names the smallest bound whose set includes zero, its search step and M's units; every table row
    below it excludes zero and every row at or above it includes zero."""
    for r in evaluation.did.honest:
        covers = (r.lb <= 0) & (r.ub >= 0)
        assert covers.tolist() == (r.grid >= r.breakdown).tolist()
        text = _breakdown_sentence(r)
        assert f"the smallest {r.parameter}, searching in steps of {r.breakdown_step:g}, at which the robust 95% set" \
               in text and "includes zero" in text and f"less than {_at_step(r.breakdown, r)}" in text
        unit = "outcome units per period squared" if r.parameter == "M" else "a ratio, without units"
        assert unit in text


def test_anticipation_periods_are_not_pre_periods(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sop_eval.report.did_plots import event_study_plot

    contract = contract_for(tmp_path, **{"n_boot = 999": 'n_boot = 99\nanticipation = 1\nhonest = "smoothness"'})
    did = evaluate(contract, risk_draws=0).did
    assert did.dynamic.anticipation == 1
    b, V, n_pre, n_post = event_study_inputs(did.dynamic)
    labels = did.dynamic.labels[np.isfinite(did.dynamic.att) & (np.diag(did.dynamic.vcov) > 0)]
    assert n_pre == int((labels < -1).sum()) and n_post == int((labels >= -1).sum())
    (r,) = did.honest
    assert r.n_pre == n_pre and r.l_vec[0] == 0 and r.l_vec[1:] == pytest.approx(1 / (n_post - 1))
    assert r.target == "average of post-period effects"
    ax = event_study_plot(did.dynamic)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform band", "pre-treatment", "anticipation",
                                                                   "post-treatment"]
    plt.close(ax.figure)


def test_base_period_note_and_wording(tmp_path, evaluation):
    out = tmp_path / "out"
    run(contract_for(tmp_path / "c", **{"n_boot = 999": "n_boot = 99"}), out, risk_draws=0)
    html = unescape((out / "report.html").read_text())
    assert 'recommend a universal base period (every estimate against the period before adoption) for the event ' \
           'study HonestDiD reads: set base_period = "universal" in [evaluation.did].' in html
    universal = tmp_path / "u"
    run(contract_for(tmp_path / "cu", **{"n_boot = 999": 'n_boot = 99\nbase_period = "universal"'}), universal,
        risk_draws=0)
    assert "recommend a universal base period" not in (universal / "report.html").read_text()
    effect = evaluation.cohort("wave 1").effect
    assert "the average care_days per area and period was" in effect.describe()
    assert effect.counted == "area-periods"
