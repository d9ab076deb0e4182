"""Disclosure control: primary suppression, rounding and secondary suppression."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_eval import SopEvalError
from sop_eval.report.disclosure import DEFAULT_POLICY, DisclosurePolicy, protect


def test_primary_suppression_and_rounding():
    t = pd.DataFrame({"group": ["a", "b", "c", "d"], "n": [0, 3, 7, 12]})
    out = protect(t, ["n"]).table
    assert out["n"].tolist() == [0, "[suppressed]", "[suppressed]", 10]
    assert out["group"].tolist() == t["group"].tolist()
    assert t["n"].tolist() == [0, 3, 7, 12]  # input untouched


def test_rounding_halves_up():
    assert DEFAULT_POLICY.round_count(12.5) == 15
    assert DEFAULT_POLICY.round_count(22) == 20
    assert DEFAULT_POLICY.round_count(8) == 10


def test_secondary_suppression_in_rows_with_total():
    t = pd.DataFrame({"matched": [995, 500], "dropped": [5, 40], "eligible": [1000, 540]}, index=["c1", "c2"])
    p = protect(t, ["matched", "dropped", "eligible"], row_total="eligible", name="flow")
    # dropped=5 is hidden; matched would reveal it as eligible - matched, so matched is hidden too
    assert p.table.loc["c1", "dropped"] == "[suppressed]"
    assert p.table.loc["c1", "matched"] == "[suppressed]"
    assert p.table.loc["c2", "matched"] == 500
    reasons = {(s["row"], s["column"]): s["reason"] for s in p.suppressed}
    assert reasons == {("c1", "dropped"): "primary", ("c1", "matched"): "secondary"}
    assert p.to_dict()["secondary_suppressions"] == 1


def test_secondary_suppression_across_rows_with_total_row():
    t = pd.DataFrame({"n": [3, 50, 60, 113]}, index=["a", "b", "c", "total"])
    out = protect(t, ["n"], total_row="total").table
    assert out.loc["a", "n"] == "[suppressed]"
    assert out.loc["b", "n"] == "[suppressed]"  # smallest other cell
    assert out.loc["c", "n"] == 60
    assert out.loc["total", "n"] == 115


def test_policy_is_configurable():
    policy = DisclosurePolicy(name="suppress-1-9-round-10", threshold=9, rounding=10, secondary=False)
    out = protect(pd.DataFrame({"n": [9, 10, 24]}), ["n"], policy=policy).table
    assert out["n"].tolist() == ["[suppressed]", 10, 20]


def test_bad_inputs():
    with pytest.raises(SopEvalError, match="'missing'"):
        protect(pd.DataFrame({"n": [1]}), ["missing"])
    with pytest.raises(SopEvalError, match="total_row"):
        protect(pd.DataFrame({"n": [1]}), ["n"], total_row="total")
    with pytest.raises(SopEvalError, match="non-numeric"):
        protect(pd.DataFrame({"n": ["x"]}), ["n"])
    with pytest.raises(SopEvalError, match="negative or infinite"):
        protect(pd.DataFrame({"n": [5, -3]}), ["n"])
    with pytest.raises(SopEvalError, match="rounding"):
        DisclosurePolicy(rounding=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=2, max_size=4), min_size=2, max_size=5))
def test_no_hidden_cell_is_recoverable_from_totals(rows):
    width = min(len(r) for r in rows)
    body = np.array([r[:width] for r in rows])
    cols = [f"c{j}" for j in range(width)]
    table = pd.DataFrame(body, columns=cols)
    table["total"] = table[cols].sum(axis=1)
    table.loc["all"] = table.sum()
    out = protect(table, [*cols, "total"], row_total="total", total_row="all").table
    hidden = out == "[suppressed]"
    for i in table.index:
        row_hidden = hidden.loc[i, cols].sum()
        assert row_hidden != 1 or hidden.loc[i, "total"]
    for c in [*cols, "total"]:
        col_hidden = hidden.loc[table.index[:-1], c].sum()
        assert col_hidden != 1 or hidden.loc["all", c]
    shown = out.where(~hidden)
    for i, c in itertools.product(table.index, [*cols, "total"]):
        if not hidden.loc[i, c]:
            assert shown.loc[i, c] % 5 == 0 and abs(shown.loc[i, c] - table.loc[i, c]) <= 2.5
