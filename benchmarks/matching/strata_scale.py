"""CEM and subclassification at scale, and the largest pool full matching solves in 60 s.

Run from the repository root: python benchmarks/matching/strata_scale.py [n_treated n_controls]
(default 100,000 treated + 10,000,000 controls, 10 covariates). Writes strata_scale.json beside this file.
Times are wall-clock on the machine that ran it, all from the same run.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sop_eval


def make(n_t: int, n_c: int, p: int = 10, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    cols = {f"x{j}": rng.normal(size=n) + (0.3 if j < 3 else 0.0) * np.r_[np.ones(n_t), np.zeros(n_c)]
            for j in range(p - 2)}
    cols["g1"] = rng.integers(0, 3, n)
    cols["g2"] = rng.integers(0, 2, n)
    return pd.DataFrame({"t": np.r_[np.ones(n_t, np.int8), np.zeros(n_c, np.int8)], **cols})


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    n_t, n_c = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (100_000, 10_000_000)
    df = make(n_t, n_c)
    covs = [c for c in df.columns if c != "t"]
    results: dict = {"n_treated": n_t, "n_controls": n_c, "covariates": len(covs),
                     "machine": platform.platform(), "python": platform.python_version()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sec, m = timed(lambda: sop_eval.match(df, "t", covs, method="cem"))
        results["cem_seconds"] = round(sec, 2)
        results["cem_matched_treated"] = m.n_matched_treated
        sec, m = timed(lambda: sop_eval.match(df, "t", covs, method="cem", cutpoints=3))
        results["cem_3_bins_seconds"] = round(sec, 2)
        results["cem_3_bins_matched_treated"] = m.n_matched_treated
        score = 1 / (1 + np.exp(-(df["x0"] + df["x1"]).to_numpy() / 2))
        dfp = df.assign(ps=score)
        sec, m = timed(lambda: sop_eval.match(dfp, "t", covs, method="subclass", distance="ps"))
        results["subclass_precomputed_score_seconds"] = round(sec, 2)
        # full matching: grow the pool until one run takes over 60 s
        full = []
        for n_pool in (1_000, 2_000, 5_000, 10_000, 20_000):
            small = make(max(n_pool // 10, 1), n_pool, seed=2)
            sec, _ = timed(lambda small=small: sop_eval.match(small, "t", ["x0", "x1", "x2"], method="full"))
            full.append({"treated": len(small) - n_pool, "controls": n_pool, "seconds": round(sec, 2)})
            if sec > 60:
                break
        results["full"] = full
    out = Path(__file__).with_name("strata_scale.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
