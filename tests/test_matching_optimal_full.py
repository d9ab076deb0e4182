"""Optimal and full matching proved optimal against an independent LP (scipy linprog, HiGHS), with the
properties MatchIt's sets and weights have. No R reference: optmatch is not packaged for Debian."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

import sop_eval
from sop_eval.cohorts.full import solve_stratum


def _data(seed: int, n: int = 60, share: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(np.log(share / (1 - share)) + 0.8 * x1)))).astype(int)
    return pd.DataFrame({"t": t, "x1": x1, "x2": x2})


def _lp_optimum(cost: np.ndarray, t_rows: tuple[float, float], c_cols: tuple[float, float]) -> float:
    """min sum c x, 0 <= x <= 1, row sums in t_rows, column sums in c_cols (an independent formulation)."""
    nt, nc = cost.shape
    A = lil_matrix((2 * (nt + nc), nt * nc))
    b = []
    for i in range(nt):
        A[i, i * nc:(i + 1) * nc] = 1
        A[nt + i, i * nc:(i + 1) * nc] = -1
    for j in range(nc):
        A[2 * nt + j, j::nc] = 1
        A[2 * nt + nc + j, j::nc] = -1
    b = [t_rows[1]] * nt + [-t_rows[0]] * nt + [c_cols[1]] * nc + [-c_cols[0]] * nc
    res = linprog(cost.ravel(), A_ub=A.tocsr(), b_ub=b, bounds=(0, 1), method="highs")
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ratio", [1, 2])
def test_optimal_total_distance_is_the_lp_optimum(seed, ratio):
    df = _data(seed, n=90, share=0.2)
    cohort = sop_eval.match(df, "t", ["x1", "x2"], method="optimal", ratio=ratio)
    d = cohort.distance.to_numpy()
    t_pos = df.index.get_indexer(cohort.pairs["treated"])
    c_pos = df.index.get_indexer(cohort.pairs["control"])
    total = np.abs(d[t_pos] - d[c_pos]).sum()
    treat = df["t"].to_numpy(bool)
    cost = np.abs(d[treat][:, None] - d[~treat][None, :])
    assert len(cohort.pairs) == ratio * treat.sum()
    assert total == pytest.approx(_lp_optimum(cost, (ratio, ratio), (0, 1)), rel=1e-9, abs=1e-12)
    # greedy nearest neighbour is never better
    greedy = sop_eval.match(df, "t", ["x1", "x2"], ratio=ratio)
    gt = df.index.get_indexer(greedy.pairs["treated"])
    gc = df.index.get_indexer(greedy.pairs["control"])
    assert total <= np.abs(d[gt] - d[gc]).sum() + 1e-12
    # every set: one treated, ratio controls; weights as MatchIt's stratum weights
    sizes = cohort.pairs.groupby("subclass").size()
    assert (sizes == ratio).all()
    w = cohort.weights
    assert w[treat].eq(1).all() and w[~treat][w[~treat] > 0].sum() == pytest.approx((w[~treat] > 0).sum())


def test_optimal_caliper_drops_infeasible_pairs():
    df = _data(7, n=80)
    cohort = sop_eval.match(df, "t", ["x1", "x2"], method="optimal", caliper=0.05, warn_dropped=1.0)
    d = cohort.distance.to_numpy()
    t_pos = df.index.get_indexer(cohort.pairs["treated"])
    c_pos = df.index.get_indexer(cohort.pairs["control"])
    assert (np.abs(d[t_pos] - d[c_pos]) <= cohort.caliper).all()
    assert (cohort.unmatched["reason"] == "caliper").all()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bounds", [(0, np.inf), (1, np.inf), (0.5, 6), (2, np.inf)])
def test_full_matching_is_optimal_and_forms_sets(seed, bounds):
    lo, hi = bounds
    df = _data(seed, n=50, share=0.25)
    cohort = sop_eval.match(df, "t", ["x1", "x2"], method="full", min_controls=lo,
                            max_controls=None if np.isinf(hi) else hi)
    treat = df["t"].to_numpy(bool)
    d = cohort.distance.to_numpy()
    sub = cohort.subclass.to_numpy()
    assert not np.isnan(sub).any()  # every unit matched
    total = 0.0
    for s in np.unique(sub):
        members = sub == s
        nt, nc = int((members & treat).sum()), int((members & ~treat).sum())
        assert nt >= 1 and nc >= 1 and min(nt, nc) == 1  # one treated with controls, or one control with treated
        assert lo - 1e-12 <= nc / nt <= hi + 1e-12
        total += np.abs(d[members & treat][:, None] - d[members & ~treat][None, :]).sum()
    cost = np.abs(d[treat][:, None] - d[~treat][None, :])
    if lo >= 1:
        t_rows, c_cols = (lo, min(hi, cost.shape[1])), (1, 1)
    else:
        t_rows, c_cols = (1, min(hi, cost.shape[1])), (1, cost.shape[0] if lo == 0 else 1 / lo)
    assert total == pytest.approx(_lp_optimum(cost, t_rows, c_cols), rel=1e-6, abs=1e-9)
    # MatchIt's ATT weights: treated 1; controls (treated/controls in the set), rescaled to the number of controls
    w = cohort.weights.to_numpy()
    assert np.allclose(w[treat], 1.0)
    ratio = pd.Series(treat).groupby(sub).sum() / pd.Series(~treat).groupby(sub).sum()
    raw = ratio.reindex(sub[~treat]).to_numpy()
    assert np.allclose(w[~treat], raw * (~treat).sum() / raw.sum())


def test_full_matching_refuses_impossible_bounds():
    cost = np.ones((3, 4))
    with pytest.raises(sop_eval.SopEvalError, match="no solution"):
        solve_stratum(cost, 2, 2)  # 3 treated x 2 controls = 6 > 4 controls
