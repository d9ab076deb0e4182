"""Export sop_eval's matched sets for the R sandwich reference, and a simulated sample for R Matching.

Run from the repository root:
    PYTHONPATH=src python tests/results/effects/make_se_replacement_data.py
    Rscript tests/results/effects/se_replacement_reference.R

R computes only the regressions and sandwiches (and, for the simulated sample, Matching::Match), so
the reference checks the standard errors and not the matching. Writes, next to this script:

- ``lalonde_sets_<design>.csv``: R MatchIt's ``get_matches()`` form of sop_eval's matches on the
  Lalonde sample (logit propensity score on age, educ, race, married, nodegree, re74, re75): one row
  per (matched set, member) with ``subclass``, ``row`` (1-based row of src/sop_eval/fixtures/lalonde.csv,
  which stands in for the person id), ``treat`` and ``weights`` (treated 1, control 1 / controls in the
  set). Designs: ``nn1r`` 1:1 and ``nn3r`` 1:3 with replacement.
- ``lalonde_units_<design>.csv``: the ``match.data()`` form, one row per matched person: ``row``,
  ``treat``, ``subclass`` (without replacement), ``weights`` (MatchIt's weights, controls rescaled to
  sum to the number of matched controls) and ``weights_sum`` (the person's get_matches weights summed,
  before rescaling). Designs ``nn1r``, ``nn3r`` and ``nn1`` (1:1 without replacement).
- ``ai_sim_data.csv``: 150 comparison people with scores on a jittered grid over (0.05, 0.95) and 100
  treated people each placed 0.1 to 0.25 grid steps beside a randomly drawn comparison person, so the
  nearest-neighbour matches are unambiguous for M = 1 and 3 even under R Matching's distance tolerance
  (1e-5 on the squared standardised distance); outcome ``y = 2 + 4 score + 1.5 treat + noise`` with noise
  SD ``0.5 + 2 score``. Columns ``y``, ``treat``, ``score``.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sop_eval
from sop_eval.datasets import load_lalonde

OUT = Path(__file__).parent
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
DESIGNS = {"nn1r": (1, True), "nn3r": (3, True), "nn1": (1, False)}


def main() -> None:
    d = load_lalonde()
    row = pd.Series(np.arange(1, len(d) + 1), index=d.index)
    for name, (ratio, replace) in DESIGNS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = sop_eval.match(d, "treat", COVARIATES, ratio=ratio, replace=replace)
        kept = m.weights > 0
        units = pd.DataFrame({"row": row[kept], "treat": d["treat"][kept], "weights": m.weights[kept]})
        if replace:
            pairs = m.pairs
            k = pairs.groupby("subclass")["control"].transform("size").to_numpy()
            treated = pairs.drop_duplicates("subclass")
            sets = pd.concat([
                pd.DataFrame({"subclass": treated["subclass"], "row": row[treated["treated"]].to_numpy(), "treat": 1,
                              "weights": 1.0}),
                pd.DataFrame({"subclass": pairs["subclass"], "row": row[pairs["control"]].to_numpy(), "treat": 0,
                              "weights": 1.0 / k}),
            ]).sort_values(["subclass", "treat"], ascending=[True, False], kind="stable")
            sets.to_csv(OUT / f"lalonde_sets_{name}.csv", index=False)
            units["weights_sum"] = sets.groupby("row")["weights"].sum().reindex(units["row"]).to_numpy()
        else:
            units["subclass"] = m.subclass[kept].astype(int)
            units["weights_sum"] = units["weights"]
        units.to_csv(OUT / f"lalonde_units_{name}.csv", index=False)

    rng = np.random.default_rng(20261130)
    n_t, n_c = 100, 150
    step = 0.9 / (n_c - 1)
    controls = 0.05 + step * np.arange(n_c) + rng.uniform(-0.05, 0.05, n_c) * step
    beside = rng.integers(2, n_c - 2, n_t)
    treated = controls[beside] + rng.choice([-1.0, 1.0], n_t) * rng.uniform(0.1, 0.25, n_t) * step
    score = np.r_[treated, controls]
    treat = np.r_[np.ones(n_t, int), np.zeros(n_c, int)]
    y = 2.0 + 4.0 * score + 1.5 * treat + rng.normal(0, 0.5 + 2 * score)
    pd.DataFrame({"y": y, "treat": treat, "score": score}).to_csv(
        OUT / "ai_sim_data.csv", index=False, float_format="%.17g"
    )


if __name__ == "__main__":
    main()
