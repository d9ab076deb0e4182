"""Synthetic control predictors from the contract ([evaluation.synth] predictors, outcome_periods)."""

import json

import numpy as np
import pandas as pd
import pytest

from contract_copies import copy_contract
from sop_eval import SopEvalError
from sop_eval.contract import parse_contract
from sop_eval.evaluation import evaluate, run, verify
from sop_eval.synth import fit_area_contract

YEARS = np.arange(2015, 2025)
START = 2021
PREDICTOR = '["deprivation"]'


def _panel() -> pd.DataFrame:
    """Ten areas. LA-001 (treated from 2021, effect -4) has deprivation 5, as do LA-002..LA-004, whose rates run
    1 to 2 above LA-001's; LA-005..LA-007 track LA-001's rate within 0.1 but have deprivation 20 to 24; the rest
    run further above LA-001 and differ on deprivation too."""
    t = YEARS - YEARS[0]
    base = 30 + 0.5 * t + 1.5 * np.sin(t)
    wiggle = np.cos(1.7 * t)
    paths = {
        "LA-001": (base + np.where(YEARS >= START, -4.0, 0.0), 5.0),
        "LA-002": (base + 1.0 + 0.8 * wiggle, 5.0),
        "LA-003": (base + 1.5 - 0.5 * wiggle, 5.0),
        "LA-004": (base + 2.0, 5.0),
        "LA-005": (base + 0.1 * wiggle, 20.0),
        "LA-006": (base - 0.1 * np.sin(2.3 * t), 22.0),
        "LA-007": (base + 0.05, 24.0),
        "LA-008": (base + 6.0 + wiggle, 10.0),
        "LA-009": (base + 7.0, 12.0),
        "LA-010": (base + 9.0 * np.sin(0.5 * t), 14.0),
    }
    rows = [{"area": a, "year": int(y), "treated": int(a == "LA-001" and y >= START), "entering_care": float(v),
             "population": 10_000, "deprivation": x, "region": "north"}
            for a, (path, x) in paths.items() for y, v in zip(YEARS, path, strict=True)]
    return pd.DataFrame(rows)


def _contract(tmp_path, design="synthetic_control", panel=None, synth=""):
    data = tmp_path / "data" / "panel.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    (_panel() if panel is None else panel).to_parquet(data)
    template = "area_synthetic_control.toml" if design == "synthetic_control" else "area_sdid.toml"
    old = "rate_per = 10000"
    return copy_contract(template, tmp_path / "contract", data, **{old: old + ("\n" + synth if synth else "")})


def _alike_share(evaluation) -> float:
    w = evaluation.fit.weights()
    return float(w.loc[w["donor"].isin(["LA-002", "LA-003", "LA-004"]), "weight"].sum())


def test_a_predictor_moves_the_weight_to_donors_alike_on_it(tmp_path):
    plain = evaluate(_contract(tmp_path / "plain"), risk_draws=0)
    with_x = evaluate(_contract(tmp_path / "x", synth=f"predictors = {PREDICTOR}"), risk_draws=0)
    # outcome only: the donors that track LA-001's rate (deprivation 20-24) carry the weight
    assert _alike_share(plain) < 0.2
    # deprivation 5 is matched only by weight on the donors with deprivation 5
    assert _alike_share(with_x) == pytest.approx(1.0, abs=1e-4)
    fit = with_x.fit.synth_fits[0]
    assert list(fit.v_weights.index) == ["deprivation (pre-period mean)"]
    # those donors run 1-2 above LA-001 before the start, so the pre-period fit is worse
    assert fit.pre_rmspe > plain.fit.synth_fits[0].pre_rmspe + 0.5
    assert plain.parameters["synth"]["predictors"] == [] and plain.fit.uses_predictors is False


def test_run_records_the_predictors_and_verifies(tmp_path):
    out = tmp_path / "out"
    ev = run(_contract(tmp_path, synth=f"predictors = {PREDICTOR}\noutcome_periods = [2016, 2019]"), out,
             risk_draws=200)
    assert verify(out).ok
    record = json.loads((out / "results.json").read_text())
    synth = record["parameters"]["synth"]
    assert synth["predictors"] == ["deprivation"] and synth["outcome_periods"] == [2016, 2019]
    v = record["area"]["predictor_weights"]
    assert [r["predictor"] for r in v] == ["deprivation (pre-period mean)", "entering_care in 2016",
                                           "entering_care in 2019"]
    assert sum(r["weight"] for r in v) == pytest.approx(1.0) and all(r["weight"] >= 0 for r in v)
    assert ev.fit.synth_fits[0].v_weights.to_dict() == pytest.approx({r["predictor"]: r["weight"] for r in v})
    html = (out / "report.html").read_text()
    for text in ("Predictor weights V", "deprivation (pre-period mean), entering_care in 2016, entering_care in "
                 "2019", "as the R package Synth", "minimise the pre-period mean squared gap in the outcome"):
        assert text in html, text
    record["parameters"]["synth"]["predictors"] = []
    (out / "results.json").write_text(json.dumps(record))
    assert not verify(out).ok


def test_outcome_only_methods_text_is_unchanged(tmp_path):
    out = tmp_path / "out"
    run(_contract(tmp_path), out, risk_draws=0)
    html = (out / "report.html").read_text()
    assert "every pre-period outcome a predictor, equal predictor weights" in html
    assert "Predictor weights V" not in html
    assert "predictor_weights" not in json.loads((out / "results.json").read_text())["area"]


@pytest.mark.parametrize("key", ["predictors = [\"deprivation\"]", "outcome_periods = [2016]"])
def test_sdid_refuses_predictors_naming_the_key_and_the_alternative(tmp_path, key):
    name = key.split(" ")[0]
    with pytest.raises(SopEvalError, match=rf"evaluation\.synth\.{name} = .*SDID weights donors on the pre-period "
                       r"outcomes only.*design = \"synthetic_control\""):
        evaluate(_contract(tmp_path, "sdid", synth=key), risk_draws=0)
    with pytest.raises(SopEvalError, match=r"method='sdid' .* outcomes only.*method='sc'"):
        fit_area_contract(_panel(), "LA-001", START, unit="area", time="year", outcome="entering_care",
                          predictors=["deprivation"])


def _with(change):
    frame = _panel()
    change(frame)
    return frame


@pytest.mark.parametrize("synth, panel, message", [
    ('predictors = ["poverty"]', None,
     r"\[evaluation\.synth\] predictors names column 'poverty', which is not in the data .*name a column"),
    ('predictors = ["region"]', None, r"\[evaluation\.synth\] predictors: column 'region' is not numeric "
     r"\(e\.g\. 'north'\).*recode it as numbers"),
    ('predictors = ["deprivation"]', _with(lambda f: f.__setitem__("deprivation", f["deprivation"].where(
        ~((f["area"] == "LA-003") & (f["year"] == 2017))))),
     r"\[evaluation\.synth\] predictors: column 'deprivation' has 1 missing value\(s\) before start 2021 "
     r"\(area\(s\) 'LA-003'\).*fill them or remove the predictor"),
    ('predictors = ["area"]', None, r"predictors names column 'area', the area column"),
    ("outcome_periods = [2022]", None,
     r"\[evaluation\.synth\] outcome_periods includes 2022, which is not a pre-treatment period"),
    ("outcome_periods = [2016.5]", None, r"evaluation\.synth\.outcome_periods = \['2016\.5'\]: expected whole"),
    ('predictors = ["deprivation", "deprivation"]', None, r"evaluation\.synth\.predictors = .*each entry once"),
])
def test_bad_predictors_name_the_key_the_column_and_a_fix(tmp_path, synth, panel, message):
    with pytest.raises(SopEvalError, match=message):
        evaluate(_contract(tmp_path, panel=panel, synth=synth), risk_draws=0)


def test_missing_predictor_values_after_the_start_are_allowed(tmp_path):
    late = _with(lambda f: f.__setitem__("deprivation", f["deprivation"].where(f["year"] < START)))
    ev = evaluate(_contract(tmp_path, panel=late, synth=f"predictors = {PREDICTOR}"), risk_draws=0)
    assert _alike_share(ev) == pytest.approx(1.0, abs=1e-4)


def test_schema_reads_the_predictor_keys():
    text = (copy_contract.__globals__["FIXTURES"] / "contracts" / "area_synthetic_control.toml").read_text()
    c = parse_contract(text.replace("rate_per = 10000", "rate_per = 10000\npredictors = [\"deprivation\"]\n"
                                    "outcome_periods = [2016, 2020]"))
    assert c.evaluation.synth.predictors == ("deprivation",) and c.evaluation.synth.outcome_periods == (2016, 2020)
    assert parse_contract(text).evaluation.synth.predictors == ()
