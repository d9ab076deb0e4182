"""Write survival_replacement.csv: a simulated matched-with-replacement time-to-event sample.

One row per (matched set, member) as ``sop_eval.effects.matched.matched_sample`` builds it: a comparison
person serving several sets appears once per set. ``person`` numbers people 1..n (simulated, no real
identifiers); ``time`` is days to the first reconviction, or 365 (end of follow-up) with ``event`` 0.
Run from the repository root: PYTHONPATH=src .venv/bin/python tests/results/effects/make_survival_replacement.py
"""

import warnings

import numpy as np
import pandas as pd

import sop_eval
from sop_eval.datasets import make_reoffending
from sop_eval.effects.matched import matched_sample

df = make_reoffending(n_per_cohort=150, n_cohorts=1, pool_size=1500, effect=-0.4, seed=4)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = sop_eval.match(df, "treated", ["age", "prior_convictions", "offence_group", "drug_misuse"], ratio=3,
                       replace=True)
s = matched_sample(m)
days = s.frame["days_to_reconviction"].to_numpy()
pd.DataFrame({
    "set": s.cluster + 1,
    "person": pd.factorize(s.frame.index)[0] + 1,
    "treat": s.treat.astype(int),
    "weight": s.weights,
    "time": np.where(np.isnan(days), 365.0, days),
    "event": (~np.isnan(days)).astype(int),
}).to_csv("tests/results/effects/survival_replacement.csv", index=False)
