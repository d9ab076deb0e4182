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
    """One integer per distinct combination of the columns' values (hash-based, O(n)).

    Small non-negative integer columns (bin codes) are used as they are, others are factorized; the key is
    their mixed-radix number, built in place, compacted by a factorize when the next product could overflow.
    """
    key: np.ndarray | None = None
    bound = 1  # every key lies in [0, bound)
    for c in columns:
        if not (c.dtype.kind in "iu" and c.min(initial=0) >= 0 and c.max(initial=0) < 1024):
            c = pd.factorize(c, use_na_sentinel=False)[0]
        radix = int(c.max(initial=0)) + 1
        if key is None:
            key, bound = c.astype(np.int64), radix
            continue
        if bound > np.iinfo(np.int64).max // radix - 1:
            key = pd.factorize(key)[0].astype(np.int64)
            bound = int(key.max(initial=0)) + 1
        key *= radix
        key += c if c.dtype.kind == "i" else c.astype(np.int64)
        bound *= radix
    assert key is not None
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
