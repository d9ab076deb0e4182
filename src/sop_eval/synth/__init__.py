"""Area-level methods for one or a few treated areas: synthetic control and synthetic difference-in-differences.

For the design plug-in, one call::

    from sop_eval.synth import fit_area_contract
    eff = fit_area_contract(panel, treated=["LA-017"], start=2023, unit="area", time="year",
                            outcome="entering_care_per_10k", method="sdid", level=0.95, seed=None)
    eff.estimate, eff.se, eff.conf_int()   # the average effect over treated area-years
    eff.cells                              # unit, period, effect, se, ci_low, ci_high per treated area-year
    eff.summary(), eff.to_dict()           # tidy table, JSON-safe record; eff.fit is the underlying result

``panel`` is long (one row per area and period, balanced, no missing outcome); donors are the areas not in
``treated``. ``method="sdid"`` (default, placebo SEs) or ``"sc"`` (synthetic control per area, placebo-in-space).

The estimators themselves:

- :func:`synthdid` / :func:`fit_matrix` — SDID, and the SC and DID estimates from the same machinery
  (``estimator="sdid" | "sc" | "did"``), as R ``synthdid``; placebo, bootstrap and jackknife SEs.
- :func:`synthetic_control` — Abadie–Diamond–Hainmueller synthetic control with predictor weights, placebo-in-space
  RMSPE-ratio p-value and leave-one-out refits.
- Plots: :mod:`sop_eval.report.synth_plots`.
"""

from sop_eval.synth.contract import AreaEffect, fit_area_contract
from sop_eval.synth.panel import AreaMatrix, area_matrix
from sop_eval.synth.scm import SynthResult, synthetic_control
from sop_eval.synth.sdid import SdidResult, fit_matrix, synthdid

__all__ = ["fit_area_contract", "AreaEffect", "synthdid", "fit_matrix", "SdidResult", "synthetic_control",
           "SynthResult", "area_matrix", "AreaMatrix"]
