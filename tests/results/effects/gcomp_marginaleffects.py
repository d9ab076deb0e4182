"""G-computation references from the Python marginaleffects package (avg_comparisons), on gcomp_rows.csv.

Run in an environment that has marginaleffects (it is not a sop_eval dependency), from the repository root:
    python3 -m venv /tmp/me && /tmp/me/bin/pip install marginaleffects statsmodels
    /tmp/me/bin/python tests/results/effects/gcomp_marginaleffects.py
Each case refits outcome ~ treat * (age + educ + married + re74k) with statsmodels' formula API and the matching
weights, takes statsmodels' cluster-robust covariance (matched set; two groups, set and person, with
replacement) and asks avg_comparisons(variables="treat", newdata=<treated rows>, wts="weights", vcov=<that
matrix>) for the difference and the log ratio of averages (comparison="lnratioavg"). The negative binomial is
left out (its vcov in statsmodels uses the observed Hessian; see make_gcomp_reference.py). Writes
gcomp_marginaleffects.json.
"""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from marginaleffects import avg_comparisons

HERE = Path(__file__).resolve().parent
FORMULA = "y ~ treat * (age + educ + married + re74k)"
FAMILY = {"logit": sm.families.Binomial(), "poisson": sm.families.Poisson()}


def main() -> None:
    warnings.simplefilter("ignore")
    rows = pd.read_csv(HERE / "gcomp_rows.csv")
    ref = json.loads((HERE / "gcomp_statsmodels.json").read_text())
    out = {"marginaleffects": version("marginaleffects"), "statsmodels": version("statsmodels")}
    for name, case in ref.items():
        if case["model"] == "negbin":
            continue
        d = rows[rows["case"] == name].reset_index(drop=True)
        two = "two groups" in case["cov_type"]
        groups = d[["subclass", "person"]].to_numpy() if two else d["subclass"].to_numpy()
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
        if case["model"] == "linear":
            fit = smf.wls(FORMULA, data=d, weights=d["weights"]).fit(**kw)
        else:
            fit = smf.glm(FORMULA, data=d, family=FAMILY[case["model"]], var_weights=d["weights"]).fit(**kw)
        V = np.asarray(fit.cov_params())
        treated = d[d["treat"] == 1]
        diff = avg_comparisons(fit, variables="treat", newdata=treated, wts="weights", vcov=V)
        lnr = avg_comparisons(fit, variables="treat", newdata=treated, wts="weights", vcov=V,
                              comparison="lnratioavg")
        out[name] = {"att": float(diff["estimate"][0]), "se": float(diff["std_error"][0]),
                     "log_rate_ratio": float(lnr["estimate"][0]), "log_rate_ratio_se": float(lnr["std_error"][0])}
    (HERE / "gcomp_marginaleffects.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
