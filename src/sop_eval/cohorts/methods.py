"""Dispatch of ``sop_eval.match(method=...)`` beyond greedy nearest neighbour on a score.

Each method lives in its own module (:mod:`~sop_eval.cohorts.optimal`, :mod:`~sop_eval.cohorts.full`,
:mod:`~sop_eval.cohorts.cem`, :mod:`~sop_eval.cohorts.subclassify`, :mod:`~sop_eval.cohorts.exact`,
:mod:`~sop_eval.cohorts.nearest_general`); this module checks the options each accepts, builds the
distances and calipers they share, and returns an :class:`~sop_eval.cohorts.strata.Assignment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace as replace_fields
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import distances
from sop_eval.cohorts.cem import cem
from sop_eval.cohorts.exact import exact_match
from sop_eval.cohorts.full import full_match
from sop_eval.cohorts.nearest_general import greedy_match, variable_ratios
from sop_eval.cohorts.optimal import optimal_match
from sop_eval.cohorts.propensity import PropensityFit
from sop_eval.cohorts.strata import NO_STRATUM, Assignment
from sop_eval.cohorts.subclassify import subclassify
from sop_eval.cohorts.weights import matching_weights
from sop_eval.errors import SopEvalError, examples

DISCARD, NO_EXACT = "discard", "no exact match"  # as sop_eval.cohorts.matching

ESTIMANDS = {"nearest": ("ATT", "ATC"), "optimal": ("ATT", "ATC"), "full": ("ATT", "ATC", "ATE"),
             "cem": ("ATT", "ATC", "ATE"), "subclass": ("ATT", "ATC", "ATE"), "exact": ("ATT", "ATC", "ATE"),
             "weighting": ("ATT", "ATE")}
"""Estimands each method computes (MatchIt's)."""
NO_SCORE = ("cem", "exact")
"""Methods that match on covariates alone: no propensity score is fitted."""


DESCRIPTIONS = {"optimal": "optimal matching", "full": "optimal full matching", "cem": "coarsened exact matching",
                "subclass": "subclassification on the propensity score", "exact": "exact matching",
                "weighting": "propensity score weighting", "ebal": "entropy balancing"}


def no_score(frame: pd.DataFrame, covariates: Sequence[str], distance: Any) -> PropensityFit:
    """No propensity score (CEM, exact, Mahalanobis distance): NaN scores; the covariates must be complete."""
    for name in covariates:
        missing = frame[name].isna().to_numpy()
        if missing.any():
            raise SopEvalError(f"covariate {name!r} has {int(missing.sum())} missing value(s) (rows "
                               f"{examples(frame.index[missing])}); matching needs complete covariates: impute them "
                               "or drop those rows first.")
    nan = np.full(len(frame), np.nan)
    return PropensityFit(nan, nan, str(distance), pd.Series(dtype=float, name="coefficient"))


def reasons(got: Assignment, treat: np.ndarray, discarded: np.ndarray, strata: np.ndarray | None) -> list[str | None]:
    """Why each treated unit (data order) has weight 0: discard, no exact match, else the method's reason."""
    default = got.info.get("default_reason", NO_STRATUM)
    no_partner = np.zeros(len(treat), dtype=bool)
    if strata is not None:
        for g in (True, False):
            other = np.unique(strata[(treat != g) & ~discarded])
            no_partner |= (treat == g) & ~np.isin(strata, other)
    out: list[str | None] = []
    for p in np.flatnonzero(treat).tolist():
        if got.weights[p] > 0:
            out.append(None)
        elif discarded[p]:
            out.append(DISCARD)
        elif no_partner[p]:
            out.append(NO_EXACT)
        else:
            out.append(default)
    return out


def settings(got: Assignment, mahvars: Any, antiexact: Any, min_controls: Any, max_controls: Any) -> dict[str, Any]:
    """The method's settings for ``MatchedCohort.settings`` (JSON-safe)."""
    out: dict[str, Any] = {k: v for k, v in got.info.items() if k != "default_reason"}
    if mahvars:
        out["mahvars"] = list(mahvars)
    if antiexact:
        out["antiexact"] = [antiexact] if isinstance(antiexact, str) else list(antiexact)
    if min_controls is not None:
        out["min_controls"] = min_controls
    if max_controls is not None:
        out["max_controls"] = max_controls
    return out


def caliper_scales(caliper: float | Mapping[str, float] | None,
                   std_caliper: bool | Mapping[str, bool]) -> dict[str, bool]:
    """Per caliper name, whether its width is in standard deviations (MatchIt's ``std.caliper``, one per caliper).

    ``std_caliper`` is one flag for every caliper or a mapping from caliper names (``"distance"`` for the
    propensity caliper, else a covariate) to flags; a caliper the mapping leaves out is in SDs (MatchIt's default).
    """
    names = [] if caliper is None else list(caliper) if isinstance(caliper, Mapping) else ["distance"]
    if isinstance(std_caliper, (bool, np.bool_)):
        return {name: bool(std_caliper) for name in names}
    if not isinstance(std_caliper, Mapping):
        raise SopEvalError(f"std_caliper={std_caliper!r} must be True, False or a mapping of caliper names to "
                           "True/False, e.g. {'distance': True, 'age': False}.")
    unknown = [str(k) for k in std_caliper if k not in names]
    if unknown:
        raise SopEvalError(f"std_caliper names {examples(unknown)}, which {'has' if len(unknown) == 1 else 'have'} no "
                           f"caliper; the calipers are {examples(names) if names else 'none'}. Give std_caliper only "
                           "for calipers set in caliper=.")
    for name, flag in std_caliper.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise SopEvalError(f"std_caliper[{name!r}]={flag!r} must be True (width in SDs) or False (raw units).")
    return {name: bool(std_caliper.get(name, True)) for name in names}


def calipers(caliper: float | Mapping[str, float] | None, std_caliper: bool | Mapping[str, bool], frame: pd.DataFrame,
             score: np.ndarray | None, discarded: np.ndarray) -> tuple[float | None, list[tuple[np.ndarray, float]]]:
    """MatchIt's ``process.caliper``: (distance caliper in score units, [(covariate values, width)])."""
    if caliper is None:
        return None, []
    scales = caliper_scales(caliper, std_caliper)
    items = dict(caliper) if isinstance(caliper, Mapping) else {"distance": caliper}
    dist_cal, cov_cals = None, []
    for name, width in items.items():
        if isinstance(width, bool) or not isinstance(width, (int, float, np.number)) or not np.isfinite(width) \
                or width < 0:
            raise SopEvalError(f"caliper[{name!r}]={width!r} must be a finite number >= 0.")
        if name == "distance":
            if score is None:
                raise SopEvalError("caliper['distance'] needs a propensity score; with distance='mahalanobis' give "
                                   "covariate calipers, or use distance='logit' with mahvars=[...].")
            values = score
        else:
            if name not in frame.columns:
                raise SopEvalError(f"caliper names column {name!r}, which is not in data; columns: "
                                   f"{examples(list(frame.columns), 12)}.")
            col = frame[name]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or col.nunique() <= 2:
                raise SopEvalError(f"caliper on {name!r}: calipers need a numeric covariate with more than two "
                                   "values; match exactly on it with exact=[...] instead.")
            values = col.to_numpy(dtype=float)
        scaled = float(width) * (float(np.std(values[~discarded], ddof=1)) if scales[name] else 1.0)
        if name == "distance":
            dist_cal = scaled
        else:
            cov_cals.append((values, scaled))
    return dist_cal, cov_cals


def _antiexact_codes(frame: pd.DataFrame, antiexact: Sequence[str] | str | None) -> np.ndarray | None:
    cols = [antiexact] if isinstance(antiexact, str) else list(antiexact or [])
    if not cols:
        return None
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SopEvalError(f"antiexact names {examples(missing)}, not columns of data.")
    return np.column_stack([pd.factorize(frame[c])[0] for c in cols])


def _groups(focal: np.ndarray, strata: np.ndarray | None, discarded: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    f = np.flatnonzero(focal & ~discarded)
    o = np.flatnonzero(~focal & ~discarded)
    if strata is None:
        return [(f, o)]
    return [(f[strata[f] == s], o[strata[o] == s]) for s in np.unique(strata[f])]


def assign(method: str, frame: pd.DataFrame, treat: np.ndarray, covariates: Sequence[str], *,
           score: np.ndarray | None, discarded: np.ndarray, strata: np.ndarray | None, estimand: str, ratio: int,
           replace: bool, caliper: Any, std_caliper: bool | Mapping[str, bool],
           sequence_of: Callable[[np.ndarray], np.ndarray],
           distance: Any, mahvars: Sequence[str] | None, antiexact: Sequence[str] | str | None,
           min_controls: float | None, max_controls: float | None, subclass: Any, min_n: int, cutpoints: Any,
           grouping: Any, k2k: bool, nearest_pairs: Callable[..., Any], ties: bool = False) -> Assignment:
    """Run ``method`` (see :func:`sop_eval.match`); ``sequence_of(focal scores)`` orders the focal units."""
    if ties and method != "nearest":
        raise SopEvalError(f"ties=True keeps tied controls in nearest neighbour matching; method={method!r} does not "
                           "take it (drop ties=True).")
    if estimand not in ESTIMANDS[method]:
        raise SopEvalError(f"estimand={estimand!r} is not supported with method={method!r}; use "
                           f"{examples(ESTIMANDS[method])}.")
    if method in NO_SCORE and (replace or ratio != 1 or caliper is not None or strata is not None):
        raise SopEvalError(f"method={method!r} forms strata of equal covariate values; ratio=, replace=, caliper= and "
                           "exact= do not apply (add exact columns to covariates; use method='nearest' for calipers).")
    if method == "exact":
        return exact_match(frame, covariates, treat, estimand)
    if method == "cem":
        return cem(frame, covariates, treat, estimand, cutpoints, grouping, k2k)
    assert score is not None or distance in distances.MAHALANOBIS
    if method == "subclass":
        assert score is not None
        if replace or ratio != 1 or caliper is not None or strata is not None:
            raise SopEvalError("method='subclass' cuts the propensity score into subclasses; ratio=, replace=, "
                               "caliper= and exact= do not apply (use method='nearest' or 'full' for those).")
        return subclassify(score, treat, discarded, estimand, subclass, min_n)
    focal = treat if estimand != "ATC" else ~treat
    n = len(treat)
    dist_cal, cov_cals = calipers(caliper, std_caliper, frame, score, discarded)
    cal_list = ([(score, dist_cal)] if dist_cal is not None and score is not None else []) + cov_cals
    kind = distance if distance in distances.MAHALANOBIS else ("mahalanobis" if mahvars else None)
    Z = None
    if kind is not None:
        cols = list(mahvars) if mahvars else list(covariates)
        Z = distances.transform(distances.distance_covariates(frame, cols), focal, discarded, kind)
    anti = _antiexact_codes(frame, antiexact)

    def cost(f: np.ndarray, o: np.ndarray) -> np.ndarray:
        return distances.cost_matrix(f, o, score, Z, cal_list, anti)

    groups = _groups(focal, strata, discarded)
    if method == "optimal":
        return replace_fields(optimal_match(groups, cost, treat, ratio, estimand), caliper=dist_cal)
    if method == "full":
        if replace or ratio != 1:
            raise SopEvalError("full matching forms sets of any size itself; drop ratio=/replace= and bound set sizes "
                               "with min_controls=/max_controls=.")
        return replace_fields(full_match(groups, cost, treat, estimand, min_controls, max_controls), caliper=dist_cal)
    # nearest
    variable = max_controls is not None
    if Z is None and anti is None and not cov_cals and not variable:
        t_pos, c_pos, slots, _ = nearest_pairs(score, focal, discarded, strata, sequence_of(score[focal]), ratio,
                                               replace, np.inf if dist_cal is None else dist_cal, ties)
    else:
        f_all = np.flatnonzero(focal)
        if variable:
            assert score is not None
            lo = 1 if min_controls is None else int(np.floor(min_controls))
            hi = int(np.ceil(max_controls))  # type: ignore[arg-type]
            if not lo >= 1 or not lo < ratio < hi:
                raise SopEvalError(f"variable ratio matching needs 1 <= min_controls < ratio < max_controls; got "
                                   f"min_controls={min_controls}, ratio={ratio}, max_controls={max_controls}.")
            ratios_all = variable_ratios(score[focal], score[~focal], ratio, lo, hi)
        else:
            ratios_all = np.full(len(f_all), ratio, dtype=np.int64)
        rank = np.empty(n, dtype=np.int64)
        rank[f_all] = np.arange(len(f_all))
        # the focal units pick in one order over all strata, as on the fast path (random order included)
        turn = np.empty(len(f_all), dtype=np.int64)
        turn[sequence_of(score[focal]) if score is not None else np.arange(len(f_all))] = np.arange(len(f_all))
        out_t, out_c, out_s = [], [], []
        for f, o in groups:
            if len(f) == 0 or len(o) == 0:
                continue
            seq = np.argsort(turn[rank[f]], kind="stable")
            chosen, _ = greedy_match(f, o, seq, ratios_all[rank[f]], replace, score, Z, cal_list, anti, ties)
            for i, picks in enumerate(chosen):
                out_t.extend([f[i]] * len(picks))
                out_c.extend(picks)
                out_s.extend(range(1, len(picks) + 1))
        t_pos, c_pos, slots = (np.asarray(v, dtype=np.int64) for v in (out_t, out_c, out_s))
    if len(t_pos) == 0:
        raise SopEvalError("no unit found a match; the caliper, exact= or antiexact= settings are too strict.")
    w = matching_weights(n, t_pos, c_pos)
    sub = np.full(n, np.nan)
    order = np.lexsort((slots, t_pos))
    t_pos, c_pos, slots = t_pos[order], c_pos[order], slots[order]
    sets = np.unique(t_pos, return_inverse=True)[1] + 1
    if not replace:
        sub[t_pos] = sets
        sub[c_pos] = sets
    pt, pc = (t_pos, c_pos) if estimand != "ATC" else (c_pos, t_pos)
    return Assignment(weights=w, subclass=sub, reasons=[], t_pos=pt, c_pos=pc, slots=slots, pair_sets=sets,
                      caliper=dist_cal,
                      info={"default_reason": "caliper"})
