"""Independent check of the ADH synthetic control with optimised predictor weights, on Proposition 99.

pysyncon 1.7.0 (PyPI; a Python port of R Synth), never a dependency of sop_eval, in a throwaway environment:

    python3 -m venv /tmp/synthcheck && /tmp/synthcheck/bin/pip install pysyncon
    /tmp/synthcheck/bin/python tests/results/synth/crosscheck_pysyncon.py

Predictors: cigarette sales in 1975, 1980 and 1988 (ADH 2010's outcome lags; the other ADH covariates are not in
the synthdid copy of the data). V is chosen by nested optimisation of the pre-period (1970-1988) MSPE. Writes
``crosscheck_pysyncon.json``: the donor weights, V and the pre-period MSPE.
"""

import json
import pathlib

import pandas as pd
from pysyncon import Dataprep, Synth

here = pathlib.Path(__file__).parent
df = pd.read_csv(here / "california_prop99.csv", sep=";")
controls = sorted(set(df["State"]) - {"California"})
dp = Dataprep(
    foo=df, predictors=[], predictors_op="mean", time_predictors_prior=range(1970, 1989),
    special_predictors=[("PacksPerCapita", [1975], "mean"), ("PacksPerCapita", [1980], "mean"),
                        ("PacksPerCapita", [1988], "mean")],
    dependent="PacksPerCapita", unit_variable="State", time_variable="Year", treatment_identifier="California",
    controls_identifier=controls, time_optimize_ssr=range(1970, 1989),
)
best = None
for method in ("Nelder-Mead", "BFGS"):
    for init in ("equal", "ols"):
        s = Synth()
        s.fit(dataprep=dp, optim_method=method, optim_initial=init)
        if best is None or s.loss_V < best[0].loss_V:
            best = (s, method, init)
s, method, init = best
out = {"package": "pysyncon 1.7.0 (PyPI)", "optim": f"{method}, initial {init} (best of Nelder-Mead/BFGS × equal/ols)",
       "loss_V_pre_mspe": float(s.loss_V),
       "weights": {k: float(v) for k, v in zip(controls, s.W, strict=True) if v > 1e-6},
       "V": [float(v) for v in s.V]}
(here / "crosscheck_pysyncon.json").write_text(json.dumps(out, indent=2) + "\n")
print(out)
