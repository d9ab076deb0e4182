"""A matched cohort in MatchIt's words: ``match.data()``, ``get_matches()`` and ``summary()``'s layout.

- :func:`match_data`: one row per unit with a positive weight, the data plus ``distance``, ``weights`` and
  (matching without replacement) ``subclass`` — R ``MatchIt::match.data(m)``;
- :func:`get_matches`: one row per unit per matched set, treated first within each set, with ``id`` (the row
  label), ``subclass``, ``weights`` (treated 1, each control ``1 / controls in the set``) and ``distance`` —
  R ``MatchIt::get_matches(m)``;
- :func:`matchit_summary`: balance for all and for matched data, percent balance improvement and sample
  sizes, as R ``summary(m)`` prints them (``Std. Pair Dist.`` is not computed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts.assessment import effective_sample_size
from sop_eval.errors import SopEvalError

_COLUMNS = {"mean_treated": "Means Treated", "mean_control": "Means Control", "smd": "Std. Mean Diff.",
            "var_ratio": "Var. Ratio", "ecdf_mean": "eCDF Mean", "ecdf_max": "eCDF Max"}


def _fresh(data: pd.DataFrame, names: tuple[str, ...]) -> None:
    clash = [n for n in names if n in data.columns]
    if clash:
        raise SopEvalError(f"data already has column(s) {clash}, which match.data()/get_matches() add; rename them.")


def match_data(cohort: Any) -> pd.DataFrame:
    """R ``match.data()``: the units with a positive weight, with ``distance``, ``weights`` (and ``subclass``)."""
    data, w = cohort.data, cohort.weights
    keep = (w > 0).to_numpy()
    with_sets = not cohort.replace and cohort.subclass.notna().any()
    added = ("distance", "weights", "subclass") if with_sets else ("distance", "weights")
    _fresh(data, added)
    out = data.loc[keep].assign(distance=cohort.distance[keep], weights=w[keep])
    if with_sets:
        out["subclass"] = pd.Categorical(cohort.subclass[keep].astype("Int64"))
    return out


def get_matches(cohort: Any) -> pd.DataFrame:
    """R ``get_matches()``: one row per unit per matched set (a control serving two sets appears twice)."""
    pairs = cohort.pairs
    if pairs is None or len(pairs) == 0:
        raise SopEvalError(f"get_matches() needs matched sets; method={cohort.method!r} made none. Use match_data().")
    _fresh(cohort.data, ("id", "subclass", "weights", "distance"))
    sets = pairs["subclass"].to_numpy()
    _, inverse, size = np.unique(sets, return_inverse=True, return_counts=True)
    first = ~pd.Series(sets).duplicated().to_numpy()
    rows = pd.DataFrame({
        "id": np.r_[pairs["treated"].to_numpy()[first], pairs["control"].to_numpy()],
        "subclass": np.r_[sets[first], sets],
        "weights": np.r_[np.ones(int(first.sum())), 1.0 / size[inverse]],
        "_role": np.r_[np.zeros(int(first.sum()), int), np.ones(len(sets), int)],
    })
    rows = rows.sort_values(["subclass", "_role"], kind="stable").drop(columns="_role").reset_index(drop=True)
    body = cohort.data.loc[rows["id"].to_numpy()].reset_index(drop=True)
    out = pd.concat([rows, body], axis=1)
    out["distance"] = cohort.distance.loc[rows["id"].to_numpy()].to_numpy()
    out["subclass"] = pd.Categorical(out["subclass"])
    return out


@dataclass(frozen=True)
class MatchItSummary:
    """R MatchIt's ``summary()``: four frames labelled as MatchIt labels them; ``repr`` prints them as R does."""

    all: pd.DataFrame
    matched: pd.DataFrame
    improvement: pd.DataFrame
    sample_sizes: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).replace({np.nan: None}).to_dict(orient="index")
                for name in ("all", "matched", "improvement", "sample_sizes")}

    def __repr__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return (f"Summary of Balance for All Data:\n{self.all.round(4)}\n\n"
                    f"Summary of Balance for Matched Data:\n{self.matched.round(4)}\n\n"
                    f"Percent Balance Improvement:\n{self.improvement.round(1)}\n\n"
                    f"Sample Sizes:\n{self.sample_sizes.round(2)}")


def _improvement(before: pd.Series, after: pd.Series, log: bool = False) -> pd.Series:
    b, a = before.astype(float), after.astype(float)
    if log:
        b, a = np.log(b), np.log(a)
    b, a = b.abs(), a.abs()
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * (b - a) / b


def balance_improvement(table: pd.DataFrame) -> pd.DataFrame:
    """MatchIt's percent balance improvement ``100 (|before| - |after|) / |before|`` of each statistic (the
    variance ratio on the log scale)."""
    return pd.DataFrame({
        "Std. Mean Diff.": _improvement(table["smd_before"], table["smd_after"]),
        "Var. Ratio": _improvement(table["var_ratio_before"], table["var_ratio_after"], log=True),
        "eCDF Mean": _improvement(table["ecdf_mean_before"], table["ecdf_mean_after"]),
        "eCDF Max": _improvement(table["ecdf_max_before"], table["ecdf_max_after"]),
    })


def matchit_summary(cohort: Any, table: pd.DataFrame) -> MatchItSummary:
    """Lay out a balance ``table`` (``<stat>_before``/``<stat>_after`` columns) and the cohort's sample sizes."""
    frames = {}
    for sample in ("before", "after"):
        f = table[[f"{s}_{sample}" for s in _COLUMNS]]
        f.columns = list(_COLUMNS.values())
        frames[sample] = f
    improvement = balance_improvement(table)
    t = cohort.treated.to_numpy()
    w = cohort.weights.to_numpy(dtype=float)
    disc = cohort.discarded.to_numpy()
    sizes: dict[str, dict[str, float]] = {"All": {}, "Matched (ESS)": {}, "Matched": {}, "Unmatched": {},
                                          "Discarded": {}}
    for name, g in (("Control", ~t), ("Treated", t)):
        wg = w[g]
        sizes["All"][name] = float(g.sum())
        sizes["Matched (ESS)"][name] = effective_sample_size(wg)
        sizes["Matched"][name] = float(np.count_nonzero(wg))
        sizes["Unmatched"][name] = float(np.count_nonzero((wg == 0) & ~disc[g]))
        sizes["Discarded"][name] = float(disc[g].sum())
    size_frame = pd.DataFrame.from_dict(sizes, orient="index")[["Control", "Treated"]]
    return MatchItSummary(frames["before"], frames["after"], improvement, size_frame)
