"""Coverage of every standard error when matching with replacement reuses comparison people heavily.

Each simulated world: 300 treated and a pool of only 150 comparison people, one covariate ``x``
(treated ``N(0.5, 1)``, comparison ``N(0, 1)``), outcome ``y = 1 + 0.5 x + 1 * treat + e`` with
``e ~ N(0, (0.5 + 0.5 |x|)^2)`` (heteroskedastic), a constant true effect of 1. sop_eval matches on a
logistic propensity score with replacement, 1:1 and 1:5 (each comparison person serves about 3 and 12
matched sets on average), and every SE name gives a 95% normal interval for the difference. Writes
``coverage_replacement_results.md`` and ``.json`` next to this file. Run from the repository root:

    PYTHONPATH=src python benchmarks/effects/bench_coverage_replacement.py [worlds]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sop_eval
from sop_eval.effects.inference import get_se_method
from sop_eval.effects.matched import RECOMMENDED_WITH_REPLACEMENT, matched_sample
from sop_eval.errors import SopEvalError
from sop_eval.outputs import write_text_atomic

OUT = Path(__file__).parent / "coverage_replacement_results"
SE_NAMES = ("cluster", "abadie-imbens", "robust", "HC0", "HC1", "HC2", "HC3", "bootstrap")
N_TREATED, N_POOL, EFFECT = 300, 150, 1.0
SET_ONLY = "cluster on matched set only (not offered)"


def world(seed: int) -> pd.DataFrame:
    """One simulated data set with a known constant effect ``EFFECT``."""
    rng = np.random.default_rng(seed)
    treat = np.r_[np.ones(N_TREATED, int), np.zeros(N_POOL, int)]
    x = np.r_[rng.normal(0.5, 1, N_TREATED), rng.normal(0, 1, N_POOL)]
    y = 1 + 0.5 * x + EFFECT * treat + rng.normal(0, 0.5 + 0.5 * np.abs(x))
    return pd.DataFrame({"treat": treat, "x": x, "y": y})


def intervals(df: pd.DataFrame, ratio: int, seed: int) -> list[dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = sop_eval.match(df, "treat", ["x"], ratio=ratio, replace=True)
    rows = []
    for se in SE_NAMES:
        try:
            est = cohort.effect("y", se=se, seed=seed, n_boot=200)
        except SopEvalError:
            rows.append({"ratio": ratio, "se_name": se, "refused": True})
            continue
        lo, hi = est.conf_int()
        rows.append({"ratio": ratio, "se_name": se, "refused": False, "estimate": est.estimate, "se": est.se,
                     "covers": lo <= EFFECT <= hi, "reuse": float(cohort.pairs["control"].value_counts().mean())})
    # for comparison: clustering on matched set only, as sop_eval did before two-way clustering
    sample = matched_sample(cohort)
    old = get_se_method("cluster")(sample.frame["y"].to_numpy(), sample.treat, sample.weights, cluster=sample.cluster)
    rows.append({**rows[0], "se_name": SET_ONLY, "se": old.se,
                 "covers": abs(old.estimate - EFFECT) <= 1.959963984540054 * old.se})
    return rows


def main(worlds: int = 500) -> None:
    t0 = time.perf_counter()
    rows = [r for seed in range(worlds) for ratio in (1, 5) for r in intervals(world(seed), ratio, seed)]
    res = pd.DataFrame(rows)
    table = []
    for (ratio, se), g in res.groupby(["ratio", "se_name"], sort=False):
        if g["refused"].all():
            table.append({"ratio": int(ratio), "se": se, "recommended": se in RECOMMENDED_WITH_REPLACEMENT,
                          "coverage": None, "mean_se": None, "sd_estimate": None, "note": "refused with replacement"})
            continue
        table.append({
            "ratio": int(ratio), "se": se, "recommended": se in RECOMMENDED_WITH_REPLACEMENT,
            "coverage": float(g["covers"].mean()), "mean_se": float(g["se"].mean()),
            "sd_estimate": float(g["estimate"].std(ddof=1)), "mean_estimate": float(g["estimate"].mean()),
            "sets_per_comparison_person": float(g["reuse"].mean()), "note": "",
        })
    mc = float(np.sqrt(0.95 * 0.05 / worlds))
    meta = {"worlds": worlds, "n_treated": N_TREATED, "n_pool": N_POOL, "true_effect": EFFECT, "level": 0.95,
            "monte_carlo_se_of_coverage": mc, "seconds": round(time.perf_counter() - t0)}
    write_text_atomic(OUT.with_suffix(".json"), json.dumps({"meta": meta, "table": table}, indent=2) + "\n")
    lines = [
        "# Coverage with heavy reuse of comparison people (matching with replacement)",
        "",
        (
            f"{worlds} simulated worlds: {N_TREATED} treated, a pool of {N_POOL}, constant true effect {EFFECT:g}; "
            "logistic propensity score, nearest neighbour with replacement; 95% normal interval of the difference. "
            f"Monte Carlo SE of a 95% coverage: {mc:.3f}. {meta['seconds']} s. Produced by "
            "`bench_coverage_replacement.py`; recommended SEs with replacement: "
            f"{', '.join(RECOMMENDED_WITH_REPLACEMENT)}."
        ),
        "",
        "| ratio | SE | recommended | clusters on | coverage | mean SE | SD of estimates "
        "| sets per comparison person |",
        "|---:|---|:---:|---|---:|---:|---:|---:|",
    ]
    on = {"cluster": "matched set and person", "abadie-imbens": "nothing (reuse counted by K_j)",
          "bootstrap": "matched set", SET_ONLY: "matched set"}
    for r in table:
        if r["coverage"] is None:
            lines.append(f"| {r['ratio']} | {r['se']} | {'yes' if r['recommended'] else ''} "
                         f"| {on.get(r['se'], 'nothing')} | refused | | | |")
        else:
            lines.append(f"| {r['ratio']} | {r['se']} | {'yes' if r['recommended'] else ''} "
                         f"| {on.get(r['se'], 'nothing')} | {r['coverage']:.3f} | {r['mean_se']:.4f} "
                         f"| {r['sd_estimate']:.4f} | {r['sets_per_comparison_person']:.1f} |")
    write_text_atomic(OUT.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
