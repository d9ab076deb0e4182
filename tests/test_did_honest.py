"""HonestDiD against the Python honestdid package on the same inputs (tests/results/did/honest/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sop_eval import SopEvalError
from sop_eval.datasets import make_staggered_panel
from sop_eval.did import att_gt, event_study
from sop_eval.did.honest import event_study_inputs, honest_did, honest_sensitivity
from sop_eval.stats.estimate import Estimate

HERE = Path(__file__).parent / "results" / "did" / "honest"
INP = json.loads((HERE / "inputs.json").read_text())
REF = json.loads((HERE / "reference.json").read_text())
B, S, NPRE, NPOST = np.array(INP["betahat"]), np.array(INP["sigma"]), INP["n_pre"], INP["n_post"]


@pytest.mark.parametrize("target,key", [(0, "sd_first"), ("average", "sd_average")])
def test_smoothness_flci_equals_honestdid(target, key):
    r = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=REF["M"], target=target, breakdown=False)
    assert r.lb == pytest.approx(REF[key]["lb"], abs=1e-4)
    assert r.ub == pytest.approx(REF[key]["ub"], abs=1e-4)


def test_relative_magnitudes_equals_honestdid():
    grid = [0.0, 1.0]
    r = honest_did(B, S, NPRE, NPOST, restriction="relative_magnitudes", grid=grid, target=0, breakdown=False)
    idx = [REF["Mbar"].index(m) for m in grid]
    assert r.lb == pytest.approx(np.array(REF["rm_first"]["lb"])[idx], abs=1e-3)
    assert r.ub == pytest.approx(np.array(REF["rm_first"]["ub"])[idx], abs=1e-3)
    assert isinstance(r, Estimate) and r.estimate == pytest.approx(B[NPRE])
    lo, _ = r.conf_int()
    assert r.lb[0] >= lo - 0.05 and r.summary().iloc[0]["method"] == "original"


def test_breakdown_value_is_where_the_set_reaches_zero():
    r = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=[0.0, 0.1, 0.2], target=0,
                   breakdown_tol=0.005)
    assert 0 < r.breakdown < np.inf
    below = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=[r.breakdown - 0.01], target=0,
                       breakdown=False)
    above = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=[r.breakdown + 0.005], target=0,
                       breakdown=False)
    assert below.lb[0] > 0 and above.lb[0] <= 0
    assert json.dumps(r.to_dict()) and "breakdown" in repr(r)


def test_honest_plot_draws():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sop_eval.report.synth_plots import honest_plot

    r = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=[0.0, 0.05, 0.1], breakdown=False)
    fig, ax = plt.subplots()
    assert honest_plot(r, ax=ax) is ax
    plt.close(fig)


def test_sensitivity_from_att_gt_and_event_study():
    df = make_staggered_panel(n_units=400, n_periods=10, waves=(6,), never_share=0.5, effect=1.0, dynamic=0.3,
                              seed=3)
    dyn = att_gt(df, "y", "unit", "period", "group", base_period="universal").aggregate("dynamic")
    b, V, n_pre, n_post = event_study_inputs(dyn)
    assert b == pytest.approx(B) and V == pytest.approx(S) and (n_pre, n_post) == (NPRE, NPOST)
    es = event_study(df, "y", "unit", "period", "group")
    r = honest_sensitivity(es, restriction="smoothness", grid=[0.0, 0.05], target="average", breakdown=False)
    assert r.n_post == int((es.event_time >= 0).sum()) and (r.lb <= r.ub).all()


def test_inputs_are_checked():
    with pytest.raises(SopEvalError, match="sigma"):
        honest_did(B, S[:-1, :-1], NPRE)
    with pytest.raises(SopEvalError, match="target"):
        honest_did(B, S, NPRE, target=9)


@pytest.mark.parametrize("grid", [[0.0, 0.2, 0.4], list(np.linspace(0, 0.4, 7))])
def test_breakdown_agrees_with_the_grid_rows(grid):
    """The breakdown is the smallest bound (on a power-of-ten step, never past a grid row) whose set includes zero:
    the grid rows below it exclude zero, those at or above include it, and one step below it excludes zero."""
    r = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=grid, target=0)
    covers = (r.lb <= 0) & (r.ub >= 0)
    assert covers.any() and not covers.all()
    assert covers.tolist() == (r.grid >= r.breakdown).tolist()
    assert r.breakdown_step == 0.001
    assert r.breakdown in r.grid or r.breakdown / r.breakdown_step == pytest.approx(round(r.breakdown / 0.001))
    below = honest_did(B, S, NPRE, NPOST, restriction="smoothness", grid=[r.breakdown - r.breakdown_step], target=0,
                       breakdown=False)
    assert below.lb[0] > 0 or below.ub[0] < 0
