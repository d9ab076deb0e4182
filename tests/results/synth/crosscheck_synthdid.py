"""Independent check of the SDID and DID estimates on California Proposition 99.

Runs the PyPI package ``synthdid`` 0.10.1 (d2cml-ai, a Python port of R synthdid), never a dependency of
sop_eval, in a throwaway environment:

    python3 -m venv /tmp/synthcheck
    /tmp/synthcheck/bin/pip install pysyncon numpy pandas scipy matplotlib statsmodels
    /tmp/synthcheck/bin/pip install --no-deps synthdid==0.10.1   # its pinned requirements do not install
    /tmp/synthcheck/bin/python tests/results/synth/crosscheck_synthdid.py

and writes ``crosscheck_synthdid.json`` beside this script. Its ``synth=True`` mode keeps uniform time weights and
a unit intercept, so it is not R's ``sc_estimate`` and is not compared; its placebo SE draws pseudo-treated units
with replacement and re-estimates the weights from scratch (not Algorithm 4), so it is recorded for information.
"""

import json
import pathlib

import numpy as np
import pandas as pd
from synthdid.synthdid import Synthdid

here = pathlib.Path(__file__).parent
df = pd.read_csv(here / "california_prop99.csv", sep=";")
out = {"package": "synthdid 0.10.1 (PyPI)"}
for name, kw in (("sdid", {}), ("did", {"did": True})):
    model = Synthdid(df, unit="State", time="Year", treatment="treated", outcome="PacksPerCapita").fit(**kw)
    out[name] = float(np.asarray(model.att).ravel()[0]) if hasattr(model, "att") else None
np.random.seed(12345)
model = Synthdid(df, unit="State", time="Year", treatment="treated", outcome="PacksPerCapita").fit()
model = model.vcov(method="placebo", n_reps=200)
out["sdid_placebo_se_200_their_algorithm"] = float(model.se)
(here / "crosscheck_synthdid.json").write_text(json.dumps(out, indent=2) + "\n")
print(out)
