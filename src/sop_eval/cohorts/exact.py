"""Exact matching (MatchIt ``method = "exact"``): strata of identical covariate values.

Every combination of covariate values held by both groups is a stratum (subclass), numbered in order
of first appearance among the units of the group of the first row (MatchIt's ``intersect``); units in
other combinations are unmatched. Weights are MatchIt's stratum weights
(:func:`sop_eval.cohorts.strata.subclass_weights`) for the ATT, ATC or ATE. Hash-based: O(n).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import wording
from sop_eval.cohorts.strata import NO_STRATUM, Assignment, common_strata, stratum_reasons, subclass_weights
from sop_eval.errors import SopEvalError


def row_keys(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One integer per distinct combination of the columns' values (hash-based, O(n))."""
    codes = [c.astype(np.int64) if c.dtype.kind in "iu" and c.min(initial=0) >= 0 and c.max(initial=0) < 1024
             else pd.factorize(c, use_na_sentinel=False)[0].astype(np.int64) for c in columns]
    key = codes[0]
    for c in codes[1:]:
        radix = int(c.max()) + 1
        if key.max() >= (np.iinfo(np.int64).max // radix) - 1:
            key = pd.factorize(key)[0].astype(np.int64)  # compact before the product overflows
        key = key * radix + c
    return key


def exact_match(data: pd.DataFrame, covariates: Sequence[str], treat: np.ndarray, estimand: str) -> Assignment:
    """Strata of identical values of ``covariates``; see the module docstring."""
    key = row_keys([data[c].to_numpy() for c in covariates])
    sub = common_strata(key, treat, bool(treat[0]))
    if np.isnan(sub).all():
        raise SopEvalError(f"no treated and control units share the values of {list(covariates)}; exact matching "
                           "found no matches. Use method='cem' to coarsen them.")
    w = subclass_weights(sub, treat, estimand)
    return Assignment(weights=w, subclass=sub, reasons=stratum_reasons(sub, treat, w, NO_STRATUM),
                      info={"n_strata": int(np.nanmax(sub))})


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for exact matching with these :func:`sop_eval.match` options."""
    return (f"exact matching on the covariates{wording.within(options)} (estimand {wording.estimand(options)}); "
            "weights as MatchIt's for strata")
