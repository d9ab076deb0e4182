"""Balance tables, who was dropped, weighting, other distances and the balance plots."""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import sop_eval
from sop_eval.cohorts.balance import term_balance, weighted_ecdf_gap
from sop_eval.report import balance_plots

COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def df():
    return sop_eval.datasets.load_lalonde()


@pytest.fixture(scope="module")
def cohort(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sop_eval.SopEvalWarning)
        return sop_eval.match(df, "treat", COVS, caliper=0.1)


def test_summary_columns_and_flags(cohort):
    s = cohort.balance().summary()
    for col in ("term", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after",
                "ecdf_mean_after", "ecdf_max_after", "flag"):
        assert col in s.columns
    assert list(s["term"][:4]) == ["distance", "age", "educ", "race_black"]
    assert (s["flag"] == (s["smd_after"].abs() > 0.1)).all()
    assert s.loc[s["term"] == "married", "var_ratio_after"].isna().all()  # binary: no variance ratio


def test_threshold_changes_flags(cohort):
    loose, strict = cohort.balance(threshold=1.0), cohort.balance(threshold=0.0)
    assert loose.imbalanced == []
    nonzero = strict.table["smd_after"].drop("distance").abs() > 0
    assert strict.imbalanced == list(nonzero.index[nonzero])


def test_ecdf_statistics_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    treat = np.array([True, True, False, False])
    gaps = weighted_ecdf_gap(x, treat, np.ones(4))
    assert np.allclose(gaps, [0.5, 1.0, 0.5, 0.0])
    stats = term_balance(x, treat, np.ones(4))
    assert stats["ecdf_max"] == 1.0 and stats["ecdf_mean"] == pytest.approx(0.5)
    assert stats["smd"] == pytest.approx(-2 / np.std([1.0, 2.0], ddof=1))
    assert stats["var_ratio"] == pytest.approx(1.0)


def test_binary_smd_uses_p_one_minus_p():
    x = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    treat = np.array([True, True, True, False, False, False])
    p = 2 / 3
    assert term_balance(x, treat, np.ones(6))["smd"] == pytest.approx((p - 1 / 3) / np.sqrt(p * (1 - p)))


def test_to_dict_is_json_and_has_no_row_labels(cohort):
    text = json.dumps(cohort.to_dict())
    assert "NSW" not in text and "PSID" not in text
    record = json.loads(text)
    assert record["unmatched_reasons"] == {"caliper": 74}
    assert record["balance"]["smd_denominator"].startswith("treated SD")


def test_summary_counts(cohort):
    s = cohort.summary().set_index("group")
    assert s.loc["treated", "matched"] == 111 and s.loc["treated", "unmatched"] == 74
    assert s.loc["control", "matched"] == 111


def test_public_attributes(cohort, df):
    assert cohort.data is not df and cohort.data.equals(df)
    assert cohort.treatment == "treat" and cohort.covariates == tuple(COVS)
    assert (cohort.ratio, cohort.replace, cohort.estimand, cohort.method) == (1, False, "ATT", "nearest")
    assert cohort.subclass.notna().sum() == 2 * 111
    assert cohort.subclass.loc[cohort.pairs["treated"]].to_numpy().tolist() == cohort.pairs["subclass"].tolist()
    assert cohort.caliper == pytest.approx(0.1 * cohort.distance.std(ddof=1))


def test_dropped_profile_shows_higher_risk_of_dropped(cohort):
    prof = cohort.dropped_profile("re75")
    assert prof.loc["n", "matched"] == 111 and prof.loc["n", "unmatched"] == 74
    assert prof.loc["propensity", "unmatched"] > prof.loc["propensity", "matched"]
    treated = cohort.data[cohort.data["treat"] == 1]
    dropped = treated.loc[cohort.unmatched.index, "re75"].mean()
    assert prof.loc["risk: re75", "unmatched"] == pytest.approx(dropped)


def test_compare_risk_before_and_after(cohort, df):
    risk = cohort.compare_risk("age")
    t = df["treat"] == 1
    assert risk.loc["before", "control"] == pytest.approx(df.loc[~t, "age"].mean())
    kept = cohort.pairs["control"]
    assert risk.loc["after", "control"] == pytest.approx(df.loc[kept, "age"].mean())
    assert abs(risk.loc["after", "difference"]) < abs(risk.loc["before", "difference"])


def test_odds_weighting_balances_means(df):
    m = sop_eval.match(df, "treat", COVS, method="weighting")
    t = df["treat"] == 1
    ps = m.propensity
    assert np.allclose(m.weights[~t], ps[~t] / (1 - ps[~t]))
    assert m.pairs.empty
    table = m.balance().table.drop(index="distance")
    assert table["smd_before"].abs().max() > 1.5
    assert table["smd_after"].abs().max() < 0.15


def test_sklearn_classifier_distance(df):
    from sklearn.linear_model import LogisticRegression

    unfitted = LogisticRegression(C=1e8, max_iter=5000)
    m = sop_eval.match(df, "treat", ["age", "educ", "married", "nodegree"], distance=unfitted)
    ref = sop_eval.match(df, "treat", ["age", "educ", "married", "nodegree"])
    assert np.allclose(m.propensity, ref.propensity, atol=1e-3)
    assert not hasattr(unfitted, "coef_")  # a clone was fitted


def test_ties_split_weights_equally():
    frame = pd.DataFrame({"t": [1, 0, 0, 0], "s": [0.5, 0.4, 0.6, 0.9], "x": [1.0, 2.0, 3.0, 5.0]},
                         index=list("abcd"))
    m = sop_eval.match(frame, "t", ["x"], distance="s", replace=True, ties=True)
    assert sorted(m.pairs["control"]) == ["b", "c"]
    assert m.weights["b"] == m.weights["c"] == pytest.approx(1.0)
    one = sop_eval.match(frame, "t", ["x"], distance="s", replace=True)
    assert one.pairs["control"].tolist() == ["b"]  # without ties: the control below wins an exact tie


def test_plots_draw_on_given_axes(cohort):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    assert balance_plots.love_plot(cohort.balance(), ax=axes[0]) is axes[0]
    assert len(axes[0].get_yticklabels()) == len(cohort.balance().table)
    assert balance_plots.propensity_overlap(cohort, ax=axes[1]) is axes[1]
    assert balance_plots.ecdf_plot(cohort, "age", ax=axes[2]) is axes[2]
    assert len(axes[2].get_lines()) == 4
    plt.close(fig)


def test_ecdf_frame_ends_at_one(cohort):
    curves = cohort.ecdf("re74")
    last = curves.groupby(["group", "sample"])["cdf"].max()
    assert np.allclose(last, 1.0)


def test_fitted_classifier_on_other_terms_is_named(df):
    from sklearn.linear_model import LogisticRegression

    other = LogisticRegression().fit(df[["age", "educ"]].to_numpy(), df["treat"])
    with pytest.raises(sop_eval.SopEvalError, match="LogisticRegression cannot score"):
        sop_eval.match(df, "treat", COVS, distance=other)


def test_cohort_balance_table_is_the_balance_of_the_cohort(cohort, df):
    bal = cohort.balance()
    full = sop_eval.balance(cohort)
    pd.testing.assert_frame_equal(bal.table, full.table[bal.table.columns])
    assert list(bal.table.columns[:2]) == ["covariate", "binary"]
    assert list(bal.sample_sizes.columns) == ["all", "matched", "ess_after", "unmatched"]
    assert bal.sample_sizes.loc["treated", "matched"] == 111
    cem = sop_eval.match(df, "treat", COVS, method="cem", cutpoints=3)
    assert "distance" not in cem.balance().table.index  # no score, no distance row


def test_balance_of_a_cem_cohort_has_no_distance_row(df):
    cem = sop_eval.match(df, "treat", COVS, method="cem", cutpoints=3)
    got = sop_eval.balance(cem)
    assert "distance" not in got.table.index
    assert list(got.table.index) == list(cem.balance().table.index)
    scored = sop_eval.balance(sop_eval.match(df, "treat", COVS))
    assert scored.table.index[0] == "distance"
