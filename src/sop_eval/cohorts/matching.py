"""Comparison cohorts by propensity score matching (or odds weighting): ``match`` and ``MatchedCohort``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import design, dropped, matchit_views, methods, nearest
from sop_eval.cohorts.assessment import effective_sample_size, weighted_ecdf
from sop_eval.cohorts.balance import BalanceTable, cohort_balance
from sop_eval.cohorts.distances import MAHALANOBIS
from sop_eval.cohorts.propensity import PropensityFit, fit_propensity
from sop_eval.cohorts.weights import ESTIMANDS as _WEIGHTING_ESTIMANDS
from sop_eval.cohorts.weights import WEIGHTING_METHODS, matching_weights, weigh
from sop_eval.contract.vocabulary import MATCH_METHODS as _METHODS
from sop_eval.errors import SopEvalError, SopEvalWarning, examples
from sop_eval.seeds import rng as seeded_rng

_ORDERS = ("largest", "smallest", "random", "data")
_DISCARDS = ("none", "treated", "control", "both")
NO_EXACT = "no exact match"
DISCARD = "discard"

CONVENTIONS = (
    "greedy nearest neighbour on the distance (MatchIt >= 4.5.4 'nearest'); treated units pick in "
    "'order'; ratio k runs in k rounds; " + nearest.TIE_RULE + "; caliper in SDs of the distance "
    "over non-discarded units when std_caliper; "
    "ATT weights: matched treated 1, controls sum of 1/(set size) rescaled to the number of matched "
    "controls; SMD denominator: treated SD in the full sample"
)


@dataclass(frozen=True, eq=False)
class MatchedCohort:
    """A matched comparison cohort (or an odds-weighted one for ``method="weighting"``).

    ``pairs``: one row per treated-control pair (``treated``, ``control`` are row labels of ``data``;
    ``subclass`` numbers the matched set). ``weights``: MatchIt's weights on ``data.index`` (matched
    treated 1; controls sum of 1/set size, rescaled to the number of matched controls; 0 unmatched).
    ``propensity``: P(treated | covariates). ``distance``: what was matched on. ``subclass``: matched
    set of each unit (NaN when unmatched; with replacement a control may be in several sets, and
    ``pairs`` is the authority). ``unmatched``: units of the focal group (:attr:`focal`: the controls for
    the ATC, else the treated) left out, with ``reason`` (caliper, discard, no exact match, no controls left)
    and ``propensity``. ``discarded``: units outside common support.
    ``caliper``: the caliper in distance units (None when there is none).
    """

    data: pd.DataFrame
    treatment: str
    covariates: tuple[str, ...]
    method: str
    estimand: str
    ratio: int
    replace: bool
    pairs: pd.DataFrame
    weights: pd.Series
    propensity: pd.Series
    distance: pd.Series
    subclass: pd.Series
    unmatched: pd.DataFrame
    discarded: pd.Series
    caliper: float | None
    settings: dict[str, Any] = field(default_factory=dict)
    coefficients: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    @property
    def treated(self) -> pd.Series:
        """Boolean treatment indicator on ``data.index``."""
        return self.data[self.treatment].astype(bool)

    @property
    def focal(self) -> pd.Series:
        """Boolean indicator of the focal group on ``data.index``: the controls for the ATC, else the treated."""
        return ~self.treated if self.estimand == "ATC" else self.treated

    @property
    def focal_group(self) -> str:
        """``"control"`` for the ATC, else ``"treated"``: the group :attr:`unmatched` speaks of."""
        return "control" if self.estimand == "ATC" else "treated"

    @property
    def n_matched_treated(self) -> int:
        """Number of treated units with a positive weight."""
        return int(np.count_nonzero(self.weights[self.treated]))

    @property
    def n_matched_controls(self) -> int:
        """Number of distinct controls with a positive weight."""
        return int(np.count_nonzero(self.weights[~self.treated]))

    def design_matrix(self) -> pd.DataFrame:
        """The covariates as numeric terms, one column per level of each categorical."""
        return design.covariate_matrix(self.data, self.covariates, all_levels=True)

    def balance(self, threshold: float = 0.1) -> BalanceTable:
        """Balance of every term before and after matching (MatchIt's ``summary()`` conventions; the statistics
        are :func:`sop_eval.balance`'s)."""
        return cohort_balance(self, threshold)

    def ecdf(self, covariate: str) -> pd.DataFrame:
        """Empirical CDFs of one covariate term by group, before (unweighted) and after matching.

        Tidy frame with columns ``value``, ``group`` (treated/control), ``sample`` (before/after), ``cdf``.
        """
        X = self.design_matrix()
        if covariate == "distance":
            x = self.distance.to_numpy(dtype=float)
        elif covariate in X.columns:
            x = X[covariate].to_numpy(dtype=float)
        else:
            raise SopEvalError(f"no covariate term {covariate!r}; terms: {examples(list(X.columns), 12)}.")
        t = self.treated.to_numpy()
        frames = []
        for sample, w in (("before", np.ones(len(x))), ("after", self.weights.to_numpy(dtype=float))):
            cdf = weighted_ecdf(x, t, w).melt(id_vars="value", var_name="group", value_name="cdf")
            cdf["sample"] = sample
            frames.append(cdf)
        return pd.concat(frames, ignore_index=True)[["value", "group", "sample", "cdf"]]

    def dropped_profile(self, risk: str | pd.Series | None = None) -> pd.DataFrame:
        """Unmatched focal units (treated; controls for the ATC) against matched ones: counts and means.

        See :func:`sop_eval.cohorts.dropped.dropped_profile`.
        """
        return dropped.dropped_profile(self, risk)

    def compare_risk(self, risk: str | pd.Series | None = None) -> pd.DataFrame:
        """Baseline risk of treated and comparison groups, before and after matching.

        See :func:`sop_eval.cohorts.dropped.compare_risk`.
        """
        return dropped.compare_risk(self, risk)

    def effect(self, outcome: str, **kwargs: Any) -> Any:
        """Estimate the effect on ``outcome`` in this cohort (``sop_eval.effects.estimate_effect``)."""
        from sop_eval.effects import estimate_effect  # effects sits above cohorts: a convenience reaching up on call

        return estimate_effect(self, outcome, **kwargs)

    def match_data(self) -> pd.DataFrame:
        """One row per kept unit with ``distance``, ``weights`` and ``subclass`` (R ``MatchIt::match.data``)."""
        return matchit_views.match_data(self)

    def get_matches(self) -> pd.DataFrame:
        """One row per unit per matched set with ``id``, ``subclass``, ``weights`` (R ``MatchIt::get_matches``)."""
        return matchit_views.get_matches(self)

    def summary(self, style: str = "tidy") -> Any:
        """Sample sizes by group: all, matched, unmatched, discarded and effective sample size (ESS).

        ``style="matchit"`` returns R MatchIt's ``summary()`` instead: balance for all and matched data, percent
        balance improvement and sample sizes (:class:`~sop_eval.cohorts.matchit_views.MatchItSummary`).
        """
        if style == "matchit":
            return matchit_views.matchit_summary(self, self.balance().table)
        if style != "tidy":
            raise SopEvalError(f"style={style!r} is not 'tidy' or 'matchit'.")
        t = self.treated.to_numpy()
        w = self.weights.to_numpy(dtype=float)
        disc = self.discarded.to_numpy()
        rows = []
        for group, g in (("control", ~t), ("treated", t)):
            wg = w[g]
            pos = wg[wg > 0]
            rows.append(
                {
                    "group": group,
                    "all": int(g.sum()),
                    "matched": int(len(pos)),
                    "unmatched": int(g.sum() - len(pos)),
                    "discarded": int(disc[g].sum()),
                    "ess": effective_sample_size(wg),
                }
            )
        out = pd.DataFrame(rows)
        out.attrs["conventions"] = CONVENTIONS
        for key in ("trimming", "ebal"):
            if key in self.settings:
                out.attrs[key] = self.settings[key]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the settings, sample sizes, drop reasons and balance (no row labels)."""
        reasons = self.unmatched["reason"].value_counts().sort_index()
        return {
            "method": self.method,
            "estimand": self.estimand,
            "treatment": self.treatment,
            "covariates": list(self.covariates),
            "ratio": int(self.ratio),
            "replace": bool(self.replace),
            "caliper": None if self.caliper is None else float(self.caliper),
            "settings": {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v))
                         for k, v in self.settings.items()},
            "conventions": CONVENTIONS,
            "n_pairs": int(len(self.pairs)),
            "sample_sizes": self.summary().to_dict(orient="records"),
            "unmatched_reasons": {str(k): int(v) for k, v in reasons.items()},
            "unmatched_group": self.focal_group,
            "coefficients": {str(k): float(v) for k, v in self.coefficients.items()},
            "balance": self.balance().to_dict(),
        }

    def __repr__(self) -> str:
        # a few lines, as MatchIt prints a matchit object; the data frames are in the attributes
        t = self.treated
        if self.method == "nearest":
            how = f"1:{self.ratio} nearest neighbour matching {'with' if self.replace else 'without'} replacement"
        elif self.method == "ebal":
            how = f"entropy balancing (moments {self.settings.get('ebal', {}).get('moments', 1)})"
        elif self.method == "weighting":
            how = "odds weighting" if self.estimand == "ATT" else f"propensity score weighting ({self.estimand})"
        else:
            how = methods.DESCRIPTIONS.get(self.method, f"{self.method} matching")
        caliper = "none" if self.caliper is None else f"{self.caliper:.4g} in distance units"
        if self.settings.get("caliper_sd") is not None:
            caliper += f" ({self.settings['caliper_sd']} SD)"
        more = len(self.covariates) - 8
        covariates = ", ".join(self.covariates[:8]) + (f", … ({more} more)" if more > 0 else "")
        return (
            f"<MatchedCohort: {how}, estimand {self.estimand}\n"
            f"  distance: {self.settings.get('distance', '?')}, caliper: {caliper}\n"
            f"  treated: {int(t.sum())} ({self.n_matched_treated} matched), control: {int((~t).sum())} "
            f"({self.n_matched_controls} matched)\n"
            f"  covariates: {covariates}>"
        )


def _in_sds(caliper: Any, std_caliper: Any, scales: dict[str, bool]) -> Any:
    """The caliper widths given in SDs (None when none is)."""
    if not isinstance(std_caliper, Mapping):
        return caliper if std_caliper else None
    if isinstance(caliper, Mapping):
        return {k: v for k, v in caliper.items() if scales[k]} or None
    return caliper if scales.get("distance") else None


def _check_options(method, ratio, caliper, order, discard, estimand, replace, ties) -> int:
    if method not in _METHODS:
        raise SopEvalError(f"method={method!r} is not one of {examples(_METHODS)}.")
    if order not in _ORDERS:
        raise SopEvalError(f"order={order!r} is not one of {examples(_ORDERS)}.")
    if discard not in _DISCARDS:
        raise SopEvalError(f"discard={discard!r} is not one of {examples(_DISCARDS)}.")
    allowed = _WEIGHTING_ESTIMANDS[method] if method in WEIGHTING_METHODS else methods.ESTIMANDS[method]
    if estimand not in allowed:
        raise SopEvalError(f"estimand={estimand!r} is not supported with method={method!r}; use {examples(allowed)}.")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        raise SopEvalError(f"ratio={ratio!r} must be a whole number of controls per treated unit, at least 1.")
    if caliper is not None and not isinstance(caliper, dict):
        if isinstance(caliper, bool) or not isinstance(caliper, (int, float, np.number)) or not np.isfinite(caliper):
            raise SopEvalError(f"caliper={caliper!r} must be a finite number (or None for no caliper).")
        if caliper < 0:
            raise SopEvalError(f"caliper={caliper!r} is negative; a caliper is a maximum distance (>= 0).")
    if ties and not replace:
        raise SopEvalError("ties=True needs replace=True (tied controls are shared, as in R's Matching).")
    if method in WEIGHTING_METHODS and caliper is not None:
        raise SopEvalError(f"caliper= applies to matching only; with method={method!r} use discard= or trim=.")
    return int(ratio)


def _discarded(distance: np.ndarray, treat: np.ndarray, discard: str) -> np.ndarray:
    """Common-support trimming on the distance (MatchIt's rule)."""
    if discard == "none":
        return np.zeros(len(treat), dtype=bool)
    t, c = distance[treat], distance[~treat]
    if discard == "both":
        lo, hi = max(t.min(), c.min()), min(t.max(), c.max())
    elif discard == "control":
        lo, hi = t.min(), t.max()
    else:
        lo, hi = c.min(), c.max()
    return (distance < lo) | (distance > hi)


def _treated_sequence(dist_t: np.ndarray, order: str, seed: int | None) -> np.ndarray:
    if order == "largest":
        return np.argsort(-dist_t, kind="stable")
    if order == "smallest":
        return np.argsort(dist_t, kind="stable")
    if order == "random":
        return seeded_rng(seed).permutation(len(dist_t))
    return np.arange(len(dist_t))


def nearest_pairs(
    dist: np.ndarray,
    treat: np.ndarray,
    discarded: np.ndarray,
    strata: np.ndarray | None,
    sequence: np.ndarray,
    ratio: int,
    replace: bool,
    caliper: float,
    ties: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """Run nearest-neighbour matching over all strata.

    ``sequence`` orders the treated units (positions among the treated). Units with equal distances
    are ordered by their position in the data, which decides ties (see :mod:`sop_eval.cohorts.nearest`).
    Returns pair positions (treated, control, slot) into the full data and the reason each treated
    unit has no match.
    """
    t_pos = np.flatnonzero(treat)
    c_pos = np.flatnonzero(~treat)
    reasons: list[str | None] = [None] * len(t_pos)
    rank_in_seq = np.empty(len(t_pos), dtype=np.int64)
    rank_in_seq[sequence] = np.arange(len(t_pos))
    if strata is None:
        groups = [(np.arange(len(t_pos)), np.arange(len(c_pos)))]
    else:
        st, sc = strata[t_pos], strata[c_pos]
        ot, oc = np.argsort(st, kind="stable"), np.argsort(sc, kind="stable")
        keys_t, start_t = np.unique(st[ot], return_index=True)
        keys_c, start_c = np.unique(sc[oc], return_index=True)
        split_t = dict(zip(keys_t.tolist(), np.split(ot, start_t[1:]), strict=True))
        split_c = dict(zip(keys_c.tolist(), np.split(oc, start_c[1:]), strict=True))
        groups = []
        for key, members in split_t.items():
            if key not in split_c:
                for i in members.tolist():
                    reasons[i] = NO_EXACT
                continue
            groups.append((members, split_c[key]))
    out_t, out_c, out_s = [], [], []
    for t_idx, c_idx in groups:
        keep_t = t_idx[~discarded[t_pos[t_idx]]]
        for i in t_idx[discarded[t_pos[t_idx]]].tolist():
            reasons[i] = DISCARD
        keep_c = c_idx[~discarded[c_pos[c_idx]]]
        if len(keep_t) == 0:
            continue
        local_seq = np.argsort(rank_in_seq[keep_t], kind="stable")
        chosen, why = nearest.match_stratum(
            dist[t_pos[keep_t]], dist[c_pos[keep_c]], t_pos[keep_t], c_pos[keep_c], local_seq, ratio, replace,
            caliper, ties,
        )
        for local, (picks, reason) in enumerate(zip(chosen, why, strict=True)):
            ti = int(keep_t[local])
            if reason is not None:
                reasons[ti] = reason
            for slot, p in enumerate(picks, start=1):
                out_t.append(t_pos[ti])
                out_c.append(c_pos[keep_c[p]])
                out_s.append(slot)
    return (np.asarray(out_t, dtype=np.int64), np.asarray(out_c, dtype=np.int64),
            np.asarray(out_s, dtype=np.int64), reasons)


def fits_propensity(method: str, distance: Any) -> bool:
    """Whether :func:`match` fits a propensity model for ``method`` and ``distance`` (not for coarsened or
    exact matching, nor for a covariate distance such as Mahalanobis)."""
    return not (method in methods.NO_SCORE or distance in MAHALANOBIS)


def treatment_model(data: pd.DataFrame, treatment: str, covariates: Sequence[str], *, method: str = "nearest",
                    distance: Any = "logit") -> PropensityFit | None:
    """The propensity model :func:`match` would fit for ``method`` and ``distance``, fitted on the covariates
    alone (no matching, no outcome); None where ``match`` fits none (:func:`fits_propensity`).

    It raises the errors and issues the warnings that ``match`` would meet in its propensity model: perfect
    separation refused, scores numerically 0 or 1 warned of.
    """
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    design.check_frame(data, treatment, covariates)
    treat = design.treatment_indicator(data, treatment)
    if not fits_propensity(method, distance):
        return None
    return fit_propensity(data, design.covariate_matrix(data, covariates, all_levels=False), treat, distance)


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    method: str = "nearest",
    distance: Any = "logit",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    std_caliper: bool | Mapping[str, bool] = True,
    exact: Sequence[str] | str | None = None,
    order: str | None = None,
    discard: str = "none",
    ties: bool = False,
    estimand: str = "ATT",
    seed: int | None = None,
    warn_dropped: float = 0.05,
    mahvars: Sequence[str] | None = None,
    antiexact: Sequence[str] | str | None = None,
    min_controls: float | None = None,
    max_controls: float | None = None,
    subclass: int | Sequence[float] = 6,
    min_n: int = 1,
    cutpoints: Any = None,
    grouping: dict[str, Any] | None = None,
    k2k: bool = False,
    trim: float | None = None,
    trim_rule: str = "truncate",
    moments: int = 1,
) -> MatchedCohort:
    """Build a comparison cohort by greedy nearest-neighbour propensity score matching (MatchIt >= 4.5.4 rules).

    Parameters follow R's ``MatchIt::matchit(method = "nearest")``:

    - ``distance``: ``"logit"`` (logistic regression of ``treatment`` on the covariates with an
      intercept; categorical, string and boolean covariates become indicators, first level dropped),
      ``"linear_logit"`` (match on the linear predictor), a scikit-learn classifier with
      ``predict_proba`` (used as is when fitted, else a clone is fitted), or the name of a column of
      precomputed scores.
    - ``ratio``: k controls per treated unit, in k rounds (every treated unit gets a first control
      before any gets a second; a unit without a first match gets no later ones).
    - ``replace``: controls may serve several treated units (then ``order`` does not matter).
    - ``caliper``: the largest allowed distance between a treated unit and its control, in standard
      deviations of the distance (sample SD over all non-discarded units) when ``std_caliper``,
      otherwise in distance units. A treated unit whose nearest available control is farther is left
      unmatched. A mapping ``{"distance": 0.2, "age": 5}`` adds calipers on covariates (their SDs or raw units).
    - ``std_caliper``: one flag for every caliper, or a mapping from caliper names to flags (MatchIt's
      ``std.caliper``, one per caliper), e.g. ``{"distance": True, "age": False}``; a caliper it leaves out is
      in SDs. Names without a caliper are refused.
    - ``exact``: columns that must be equal within every matched set.
    - ``order``: the order in which treated units pick: ``"largest"`` distance first (ties in data
      order), ``"smallest"``, ``"random"`` (numpy generator seeded by ``seed``; None:
      :data:`sop_eval.seeds.DEFAULT_SEED`) or ``"data"``.
    - ``discard``: drop units outside the other group's range of the distance before matching
      (``"treated"``, ``"control"``, ``"both"``) or keep all (``"none"``).
    - ``ties``: with replacement, keep every control at exactly the k-th nearest distance too; their
      weights split the set equally, as in R's Matching.
    - ``method="weighting"``: no matching; propensity weights for ``estimand`` ATT (controls e/(1-e)),
      ATC, ATE (1/e, 1/(1-e)) or ATO (overlap: 1-e, e), trimmed at the ``trim`` quantile by ``trim_rule``
      (:mod:`sop_eval.cohorts.weighting`). ``method="ebal"``: entropy balancing, exact balance on the means
      (``moments=2``: and variances) of the covariate terms (:mod:`sop_eval.cohorts.ebal`).
    - ``warn_dropped``: warn (``SopEvalWarning``) when more than this share of the focal units (treated; controls
      for the ATC) is unmatched.

    Ties follow MatchIt (>= 4.5.4): all units are sorted by distance with a stable sort, so equal
    distances keep the row order of ``data`` (the tiebreak input, as in MatchIt). From each treated
    unit, the nearest available control below (lower or equal distance) and the nearest above are
    found; the closer is taken and the one below wins an exact tie, so among controls with the same
    distance the last in the data is taken when they lie below the treated unit, the first when above.
    With ``ratio`` k the k rounds apply this rule each time (with replacement: the k nearest, merging
    below and above by distance, below first on ties). Reordering the rows can therefore change which
    of several equally near controls is chosen, never the matched distances. The caller's DataFrame
    is never modified; ``MatchedCohort.data`` is a copy.
    """
    ratio = _check_options(method, ratio, caliper, order or "largest", discard, estimand, replace, ties)
    order = order or ("smallest" if estimand == "ATC" else "largest")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
    if method in WEIGHTING_METHODS and exact_cols:
        raise SopEvalError(f"exact= applies to matching only; with method={method!r} weight within each stratum.")
    if (trim is not None or moments != 1) and method not in WEIGHTING_METHODS:
        raise SopEvalError(f"trim= and moments= apply to method='weighting'/'ebal' only, not method={method!r}.")
    design.check_frame(data, treatment, [*covariates, *exact_cols, *(mahvars or [])])
    frame = data.copy(deep=False)  # copy-on-write: neither frame can change the other
    treat = design.treatment_indicator(frame, treatment)
    focal = ~treat if estimand == "ATC" else treat
    classic = method in WEIGHTING_METHODS or (method == "nearest" and estimand == "ATT" and not (
        mahvars or antiexact or max_controls is not None or isinstance(caliper, dict) or distance in MAHALANOBIS))
    X = None
    if not fits_propensity(method, distance):
        fit = methods.no_score(frame, covariates, distance)
    else:
        X = design.covariate_matrix(frame, covariates, all_levels=False)
        fit = fit_propensity(frame, X, treat, distance)
    dist = fit.distance
    discarded = _discarded(dist, treat, discard)
    if discarded[~treat].all() or discarded[treat].all():
        raise SopEvalError(f"discard={discard!r} leaves no treated or no control units inside common support.")
    if method in WEIGHTING_METHODS:
        w, weighting = weigh(method, fit.score, treat, X, estimand, discarded, trim=trim, trim_rule=trim_rule,
                             moments=moments)
    del X
    strata = design.exact_codes(frame, exact_cols)
    index = frame.index
    n = len(frame)
    cal_units = None
    got = None
    scales = methods.caliper_scales(caliper, std_caliper)
    if not classic:
        got = methods.assign(
            method, frame, treat, covariates, score=None if np.isnan(dist).all() else dist, discarded=discarded,
            strata=strata, estimand=estimand, ratio=ratio, replace=replace, caliper=caliper, std_caliper=std_caliper,
            sequence_of=lambda d: _treated_sequence(d, "data" if replace else order, seed), distance=distance,
            mahvars=mahvars, antiexact=antiexact, min_controls=min_controls, max_controls=max_controls,
            subclass=subclass, min_n=min_n, cutpoints=cutpoints, grouping=grouping, k2k=k2k,
            nearest_pairs=nearest_pairs, ties=ties)
        t_pos, c_pos, slots, w, cal_units = got.t_pos, got.c_pos, got.slots, got.weights, got.caliper
        reasons = methods.reasons(got, focal, discarded, strata)
    elif method in WEIGHTING_METHODS:
        t_pos, c_pos, slots = (np.empty(0, dtype=np.int64),) * 3
        reasons = [DISCARD if d else None for d in discarded[focal]]
    else:
        cal_units = None if caliper is None else float(caliper) * (
            float(np.std(dist[~discarded], ddof=1)) if scales["distance"] else 1.0
        )
        sequence = _treated_sequence(dist[treat], "data" if replace else order, seed)
        t_pos, c_pos, slots, reasons = nearest_pairs(
            dist, treat, discarded, strata, sequence, ratio, replace,
            np.inf if cal_units is None else cal_units, ties,
        )
        if len(t_pos) == 0:
            culprit = (f"caliper={caliper}" if caliper is not None else
                       f"exact={exact_cols}" if exact_cols else f"discard={discard!r}")
            raise SopEvalError(
                f"no treated unit found a match; {culprit} is too strict (reasons: "
                f"{examples(sorted({r for r in reasons if r}))}). Widen the caliper or relax exact matching."
            )
        w = matching_weights(n, t_pos, c_pos)
    f_labels = index[np.flatnonzero(focal)]
    reason_series = pd.Series(reasons, index=f_labels, dtype=object)
    left_out = reason_series.notna().to_numpy()
    unmatched = pd.DataFrame(
        {"reason": reason_series[left_out].astype(str), "propensity": fit.score[focal][left_out]},
        index=f_labels[left_out],
    )
    subclass_of_t = {p: k for k, p in enumerate(dict.fromkeys(np.sort(t_pos).tolist()), start=1)}
    sets = got.pair_sets if got is not None else np.array([subclass_of_t[p] for p in t_pos.tolist()], dtype=np.int64)
    pairs = pd.DataFrame({"treated": index[t_pos], "control": index[c_pos], "subclass": sets})
    pairs = pairs.assign(_slot=slots).sort_values(["subclass", "_slot"], kind="stable").drop(columns="_slot")
    pairs = pairs.reset_index(drop=True)
    sub = np.full(n, np.nan)
    sub[t_pos] = sets
    sub[c_pos] = sets
    if got is not None:
        sub = got.subclass
    share = len(unmatched) / max(int(focal.sum()), 1)
    if share > warn_dropped:
        counts = unmatched["reason"].value_counts()
        group = "control units (the focal group of the ATC)" if estimand == "ATC" else "treated units"
        warnings.warn(
            f"{len(unmatched)} of {int(focal.sum())} {group} ({share:.1%}) were left unmatched "
            f"({', '.join(f'{k}: {v}' for k, v in counts.items())}); they may differ from those kept — "
            "see MatchedCohort.dropped_profile() and compare_risk().",
            SopEvalWarning,
            stacklevel=2,
        )
    settings = {
        "distance": distance if isinstance(distance, str) else type(distance).__name__,
        "caliper_sd": _in_sds(caliper, std_caliper, scales),
        "std_caliper": dict(scales) if isinstance(std_caliper, Mapping) else bool(std_caliper),
        "exact": exact_cols,
        "order": "data" if replace else order,
        "discard": discard,
        "ties": bool(ties),
        "seed": seed,
        **({} if got is None else methods.settings(got, mahvars, antiexact, min_controls, max_controls)),
        **(weighting if method in WEIGHTING_METHODS else {}),
    }
    return MatchedCohort(
        data=frame,
        treatment=treatment,
        covariates=tuple(covariates),
        method=method,
        estimand=estimand,
        ratio=ratio,
        replace=bool(replace),
        pairs=pairs,
        weights=pd.Series(w, index=index, name="weights"),
        propensity=pd.Series(fit.score, index=index, name="propensity"),
        distance=pd.Series(dist, index=index, name="distance"),
        subclass=pd.Series(sub, index=index, name="subclass"),
        unmatched=unmatched,
        discarded=pd.Series(discarded, index=index, name="discarded"),
        caliper=cal_units,
        settings=settings,
        coefficients=fit.coefficients,
    )
