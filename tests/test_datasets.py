"""Calibration and determinism of the simulated and bundled data."""

import numpy as np
import pandas as pd
import pytest

from sop_eval import SopEvalError, datasets
from sop_eval.data import validate
from sop_eval.datasets import REOFFENDING_ROLES, load_lalonde, make_reoffending, make_staggered_panel


@pytest.fixture(scope="module")
def world():
    return make_reoffending()


def test_reoffending_columns_and_roles(world):
    expected = {
        "person_id", "treated", "cohort", "prison", "release_date", "age", "prior_convictions",
        "prior_custodial", "offence_group", "sentence_months", "reconviction_events", "reconvicted",
        "days_to_reconviction",
    }
    assert expected <= set(world.columns)
    assert isinstance(world["offence_group"].dtype, pd.CategoricalDtype)
    assert world["treated"].sum() == 2000 and (world["treated"] == 0).sum() == 20000
    assert sorted(world.loc[world.treated == 1, "cohort"].unique()) == [1, 2]
    validate(world, REOFFENDING_ROLES, extract_date=world.attrs["extract_date"],
             follow_up_months=12, court_lag_months=6)


def test_reoffending_calibration(world):
    pool = world[world.treated == 0]
    assert 1.4 <= pool["reconviction_events"].mean() <= 2.0
    assert 0.50 <= pool["reconvicted"].mean() <= 0.70
    assert (world["reconvicted"] == (world["reconviction_events"] > 0)).all()
    assert world.loc[world.reconvicted == 0, "days_to_reconviction"].isna().all()
    assert world.loc[world.reconvicted == 1, "days_to_reconviction"].between(1, 365).all()


def test_pool_spans_treated_release_period(world):
    treated = world[world.treated == 1]
    pool = world[world.treated == 0]
    for c in (1, 2):
        t = treated[treated.cohort == c]["release_date"]
        p = pool[pool.cohort == c]["release_date"]
        assert p.min() <= t.min() + pd.Timedelta(days=60) and p.max() >= t.max() - pd.Timedelta(days=60)


def test_naive_comparison_is_biased(world):
    t = world[world.treated == 1]["reconviction_events"].mean()
    p = world[world.treated == 0]["reconviction_events"].mean()
    naive = t / p - 1
    assert abs(naive - world.attrs["true_effect"]) > 0.05


def test_true_effect_recorded_and_effect_moves_outcomes():
    a = make_reoffending(n_per_cohort=4000, n_cohorts=1, pool_size=100, effect=0.0, seed=3)
    b = make_reoffending(n_per_cohort=4000, n_cohorts=1, pool_size=100, effect=-0.3, seed=3)
    assert b.attrs["true_effect"] == -0.3
    ratio = b.loc[b.treated == 1, "reconviction_events"].mean() / a.loc[a.treated == 1, "reconviction_events"].mean()
    assert ratio == pytest.approx(0.7, abs=0.05)


def test_reoffending_deterministic_and_seed_sensitive():
    a, b, c = make_reoffending(seed=5), make_reoffending(seed=5), make_reoffending(seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["reconviction_events"].equals(c["reconviction_events"])


def test_reoffending_bad_arguments():
    with pytest.raises(SopEvalError, match="n_per_cohort=0 must be a whole number of at least 1"):
        make_reoffending(n_per_cohort=0)
    with pytest.raises(SopEvalError, match="pool_size='many'"):
        make_reoffending(pool_size="many")
    with pytest.raises(SopEvalError, match="n_units=2.5"):
        make_staggered_panel(n_units=2.5)
    with pytest.raises(SopEvalError, match="noise=nan must be a finite number"):
        make_staggered_panel(noise=float("nan"))
    with pytest.raises(SopEvalError, match="effect=-1.5"):
        make_reoffending(effect=-1.5)


def test_staggered_panel_structure_and_truth():
    df = make_staggered_panel(seed=2)
    assert df.groupby("unit").size().nunique() == 1
    assert (df.groupby("unit")["group"].nunique() == 1).all()
    assert set(df["group"].unique()) == {0, 4, 6, 8}
    assert ((df["treated"] == 1) == ((df["group"] > 0) & (df["period"] >= df["group"]))).all()
    truth = pd.DataFrame(df.attrs["true_att_gt"])
    # heterogeneous across waves and growing with exposure
    first = truth.groupby("group")["att"].first()
    assert first.is_monotonic_increasing and first.nunique() == 3
    assert truth[truth.group == 4]["att"].is_monotonic_increasing
    pd.testing.assert_frame_equal(df, make_staggered_panel(seed=2))


def test_staggered_panel_simple_did_recovers_first_effect():
    df = make_staggered_panel(n_units=4000, seed=4, noise=0.5)
    g, t = 4, 4

    def cell(grp, per):
        return df[(df.group == grp) & (df.period == per)]["y"].mean()

    est = (cell(g, t) - cell(g, t - 1)) - (cell(0, t) - cell(0, t - 1))
    truth = next(r["att"] for r in df.attrs["true_att_gt"] if r["group"] == g and r["time"] == t)
    assert est == pytest.approx(truth, abs=0.15)


def test_staggered_panel_bad_waves():
    with pytest.raises(SopEvalError, match="waves"):
        make_staggered_panel(waves=(1, 4))


def test_lalonde_shape_and_counts():
    df = load_lalonde()
    assert df.shape == (614, 9)
    assert int(df["treat"].sum()) == 185
    assert df.index[0] == "NSW1" and df.index[-1] == "PSID429"
    assert list(df["race"].cat.categories) == ["black", "hispan", "white"]
    assert df["re78"].mean() == pytest.approx(6792.834, abs=0.01)  # published mean of re78


def test_bundled_reoffending_fixtures_match_generator():
    from importlib import resources

    base = resources.files("sop_eval").joinpath("fixtures")
    csv = pd.read_csv(base.joinpath("reoffending_small.csv"))
    pq = pd.read_parquet(base.joinpath("reoffending_small.parquet"))
    fresh = make_reoffending(n_per_cohort=150, n_cohorts=2, pool_size=1500, seed=11)
    assert len(csv) == len(pq) == len(fresh) == 1800
    assert np.array_equal(csv["reconviction_events"], fresh["reconviction_events"])
    assert np.array_equal(pq["reconviction_events"], fresh["reconviction_events"])


def test_datasets_module_exposed():
    import sop_eval

    assert sop_eval.datasets is datasets
    assert isinstance(sop_eval.__version__, str)
    assert issubclass(sop_eval.SopEvalError, ValueError)
