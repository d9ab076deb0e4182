"""Write survival_data.csv: a small weighted, clustered time-to-event sample for the R reference.

Run from the repository root: .venv/bin/python tests/results/effects/make_survival_data.py
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261123)
n_sets = 150
rows = []
for s in range(n_sets):
    k = rng.integers(1, 4)  # controls in the set
    frailty = rng.gamma(2.0, 0.5)
    for treat, weight in [(1, 1.0)] + [(0, 1.0 / k)] * int(k):
        rate = 0.004 * frailty * (0.7 if treat else 1.0)
        t = rng.exponential(1 / rate)
        c = rng.uniform(100, 500)
        rows.append({"set": s + 1, "treat": treat, "weight": weight,
                     "time": float(np.ceil(min(t, c))), "event": int(t <= c)})
pd.DataFrame(rows).to_csv("tests/results/effects/survival_data.csv", index=False)
