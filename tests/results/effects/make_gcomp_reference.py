"""Reference numbers for g-computation after matching (sop_eval.effects.gcomp), from statsmodels.

Run from the repository root:  PYTHONPATH=src python tests/results/effects/make_gcomp_reference.py
Writes gcomp_rows.csv (the analysis rows: outcomes, treatment, weights, matched set, person, covariates) and
gcomp_statsmodels.json: for each case, the statsmodels fit of outcome ~ treat * covariates (WLS or GLM with
var_weights), its cluster-robust covariance (cov_type="cluster"; two columns of groups for two-way), and the
ATT, averaged predictions and delta-method SE computed here with a finite-difference gradient (an independent
path from sop_eval's analytic gradient). For the negative binomial (a non-canonical link) statsmodels' sandwich
uses the observed Hessian, R sandwich's the expected information; "se" is built from statsmodels' score_obs
and expected Hessian (R's convention, sop_eval's), "se_statsmodels_observed_hessian" is statsmodels' own.
The negative binomial dispersion is checked against statsmodels'
discrete NegativeBinomial maximum likelihood on 1:1 matches (all weights 1).
gcomp_marginaleffects.py (run in a separate environment with the marginaleffects package) adds
gcomp_marginaleffects.json from the same rows.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

import sop_eval
from sop_eval.effects.matched import matched_sample

HERE = Path(__file__).resolve().parent
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
ADJUST = ["age", "educ", "married", "re74k"]


def data() -> pd.DataFrame:
    df = sop_eval.datasets.load_lalonde()
    rng = np.random.default_rng(20261130)
    lin = -1.0 + 0.25 * df["treat"] + 0.03 * (df["age"] - 27) - 0.1 * df["married"]
    mu = np.exp(0.4 + 0.2 * df["treat"] + 0.02 * (df["age"] - 27) + 0.05 * (df["educ"] - 10))
    return df.assign(
        re74k=df["re74"] / 1000,
        employed=(df["re78"] > 0).astype(int),
        reoffended=(rng.random(len(df)) < 1 / (1 + np.exp(-lin))).astype(int),
        offences=rng.negative_binomial(2.0, 2.0 / (2.0 + mu)),  # NB2 with alpha = 0.5
    )


CASES = {
    "nn2_linear": ({"ratio": 2}, "re78", "linear"),
    "nn2_logit": ({"ratio": 2}, "reoffended", "logit"),
    "nn2_poisson": ({"ratio": 2}, "offences", "poisson"),
    "nn1_negbin": ({"ratio": 1}, "offences", "negbin"),
    "nn2r_poisson": ({"ratio": 2, "replace": True}, "offences", "poisson"),
    "nn2r_logit": ({"ratio": 2, "replace": True}, "employed", "logit"),
}


def design(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = rows["treat"].to_numpy(float)
    w = rows["weights"].to_numpy(float)
    X = rows[ADJUST].to_numpy(float)
    Xc = X - (X * (w * t)[:, None]).sum(0) / (w * t).sum()
    D = np.column_stack([np.ones(len(t)), t, Xc, Xc * t[:, None]])
    tr = Xc[t == 1]
    one = np.ones(len(tr))
    return D, np.column_stack([one, one, tr, tr]), np.column_stack([one, 0 * one, tr, 0 * tr])


def main() -> None:
    warnings.simplefilter("ignore")  # statsmodels notes that cov_type is "not fully supported with var_weights"
    df = data()
    frames, out = [], {}
    for name, (kwargs, outcome, model) in CASES.items():
        m = sop_eval.match(df, "treat", COVS, **kwargs)
        s = matched_sample(m)
        rows = s.frame[[outcome, "treat", *ADJUST]].rename(columns={outcome: "y"}).assign(
            weights=s.weights, subclass=s.cluster, person=s.person if s.person is not None else np.arange(len(s.frame)),
            case=name)
        frames.append(rows.reset_index(names="id"))
        D, D1, D0 = design(rows)
        y, w = rows["y"].to_numpy(float), rows["weights"].to_numpy(float)
        groups = rows["subclass"].to_numpy() if s.person is None else rows[["subclass", "person"]].to_numpy()
        alpha = None
        if model == "linear":
            res = sm.WLS(y, D, weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups})
            link = lambda eta: eta  # noqa: E731
        else:
            if model == "negbin":
                start = sm.GLM(y, D, family=sm.families.Poisson()).fit().params
                nb = sm.NegativeBinomial(y, D, loglike_method="nb2").fit(start_params=np.r_[start, 0.5], disp=0,
                                                                          maxiter=500, method="newton", tol=1e-12)
                alpha = float(nb.params[-1])
            family = {"logit": sm.families.Binomial(), "poisson": sm.families.Poisson(),
                      "negbin": sm.families.NegativeBinomial(alpha=alpha or 1.0)}[model]
            res = sm.GLM(y, D, family=family, var_weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups},
                                                                tol=1e-13)
            link = family.link.inverse
        beta, V = np.asarray(res.params), np.asarray(res.cov_params())
        V_oim = V
        if model == "negbin":  # R sandwich's bread for glm is the expected information; statsmodels' the observed
            bread = np.linalg.inv(-res.model.hessian(beta, observed=False))
            scores = res.model.score_obs(beta)
            g_codes = np.unique(groups, return_inverse=True)[1]
            summed = np.zeros((g_codes.max() + 1, len(beta)))
            np.add.at(summed, g_codes, scores)
            n_g, n, k = len(summed), len(y), len(beta)
            V = n_g / (n_g - 1) * (n - 1) / (n - k) * bread @ summed.T @ summed @ bread
        wt = w[rows["treat"].to_numpy() == 1]

        def means(b: np.ndarray, wt=wt, link=link, D1=D1, D0=D0) -> np.ndarray:
            return np.array([wt @ link(D1 @ b) / wt.sum(), wt @ link(D0 @ b) / wt.sum()])

        h = 1e-6 * np.maximum(1, np.abs(beta))
        G = np.column_stack([(means(beta + e) - means(beta - e)) / (2 * e.max()) for e in np.diag(h)])
        vm = G @ V @ G.T
        vo = G @ V_oim @ G.T
        p1, p0 = means(beta)
        g = np.array([1 / p1, -1 / p0])
        out[name] = {
            "outcome": outcome, "model": model, "match": kwargs, "n_rows": int(len(y)),
            "att": float(p1 - p0), "se": float(np.sqrt(vm[0, 0] + vm[1, 1] - 2 * vm[0, 1])),
            "p1": float(p1), "p0": float(p0), "rate_ratio": float(p1 / p0),
            "log_rate_ratio_se": float(np.sqrt(g @ vm @ g)), "coefficients": beta.tolist(),
            "coefficient_se": np.sqrt(np.diag(V)).tolist(), "alpha": alpha,
            "se_statsmodels_observed_hessian": float(np.sqrt(vo[0, 0] + vo[1, 1] - 2 * vo[0, 1])),
            "cov_type": "cluster" + (" (two groups)" if s.person is not None else ""),
        }
    pd.concat(frames, ignore_index=True).to_csv(HERE / "gcomp_rows.csv", index=False)
    (HERE / "gcomp_statsmodels.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
