"""Effects in a matched cohort: the ATT on binary, count, continuous and time-to-event outcomes."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.contract.vocabulary import DEFAULT_SE
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.effects.gcomp import gcomp
from sop_eval.effects.inference import Inference, point_estimate
from sop_eval.effects.survival import time_to_event_effect
from sop_eval.errors import SopEvalError, require_columns
from sop_eval.stats.design import design_matrix
from sop_eval.stats.registry import check_se, se_implementation

JDL_MIN_TREATED = 60
# covers 94.8% (1:1) and 95.4% (1:5) in benchmarks/effects/coverage_replacement_results.md
RECOMMENDED_WITH_REPLACEMENT = ("cluster",)


@dataclass(frozen=True)
class MatchedSample:
    """The analysis rows of a matched cohort: one row per (matched set, member).

    Without replacement these are the rows with a positive MatchIt weight, clustered on ``subclass``
    (rows without a subclass, as after weighting, are their own cluster), and ``person`` is None. With
    replacement they are R MatchIt's ``get_matches()`` rows: a control appears once per set it serves,
    weighted ``1 / (controls in the set)``, treated rows weigh 1 (the ATT of nearest-neighbour matching
    with replacement), ``cluster`` is the set and ``person`` the row's position in the cohort's data.
    """

    frame: pd.DataFrame
    treat: np.ndarray
    weights: np.ndarray
    cluster: np.ndarray
    person: np.ndarray | None = None

    @property
    def n_treated(self) -> int:
        return int(self.frame.index[self.treat].nunique())

    @property
    def n_comparison(self) -> int:
        return int(self.frame.index[~self.treat].nunique())

    def take(self, rows: np.ndarray) -> MatchedSample:
        person = None if self.person is None else self.person[rows]
        return MatchedSample(self.frame.iloc[rows], self.treat[rows], self.weights[rows], self.cluster[rows], person)


def matched_sample(cohort: Any) -> MatchedSample:
    """Turn a ``MatchedCohort`` (or any object with its attributes) into analysis rows."""
    data: pd.DataFrame = cohort.data
    treat_all = data[cohort.treatment].astype(bool).to_numpy()
    if len(data) == 0 or not treat_all.any():
        raise SopEvalError(
            f"the cohort is empty: {len(data)} rows, {int(treat_all.sum())} treated (column "
            f"{cohort.treatment!r}). Check the cohort filter before estimating an effect."
        )
    weights = cohort.weights.reindex(data.index).fillna(0.0).to_numpy(dtype=float)
    if not (weights[treat_all] > 0).any() or not (weights[~treat_all] > 0).any():
        raise SopEvalError(
            f"the match kept nobody: {int((weights[treat_all] > 0).sum())} treated and "
            f"{int((weights[~treat_all] > 0).sum())} comparison rows have a positive weight. "
            "Relax the caliper or exact matching, or check the comparison pool."
        )
    pairs = getattr(cohort, "pairs", None)
    if getattr(cohort, "replace", False) and pairs is not None and len(pairs):
        return _with_replacement(data, pairs, treat_all)
    keep = np.flatnonzero(weights > 0)
    sub = cohort.subclass.reindex(data.index).to_numpy(dtype=float)[keep]
    own = np.isnan(sub)
    codes = np.unique(np.where(own, 0, sub), return_inverse=True)[1]
    cluster = np.where(own, codes.max() + 1 + np.arange(len(keep)), codes)
    return MatchedSample(data.iloc[keep], treat_all[keep], weights[keep], cluster)


def _with_replacement(data: pd.DataFrame, pairs: pd.DataFrame, treat_all: np.ndarray) -> MatchedSample:
    sets = pairs["subclass"].to_numpy()
    set_codes, inverse = np.unique(sets, return_inverse=True)
    controls_per_set = np.bincount(inverse)
    first = pd.Series(pairs["treated"].to_numpy()).duplicated(keep="first").to_numpy()
    t_pos = data.index.get_indexer(pairs["treated"].to_numpy()[~first])
    c_pos = data.index.get_indexer(pairs["control"].to_numpy())
    rows = np.r_[t_pos, c_pos]
    return MatchedSample(
        frame=data.iloc[rows],
        treat=np.r_[np.ones(len(t_pos), bool), np.zeros(len(c_pos), bool)],
        weights=np.r_[np.ones(len(t_pos)), 1.0 / controls_per_set[inverse]],
        cluster=np.r_[inverse[~first], inverse],
        person=rows,
    )


def infer_kind(values: pd.Series) -> str:
    """``"binary"`` for 0/1 or boolean, ``"count"`` for non-negative whole numbers, else ``"continuous"``."""
    if pd.api.types.is_bool_dtype(values):
        return "binary"
    v = values.dropna().to_numpy(dtype=float)
    if len(v) and np.isin(v, (0.0, 1.0)).all():
        return "binary"
    if len(v) and (v >= 0).all() and (v == np.round(v)).all():
        return "count"
    return "continuous"


def _numeric_outcome(frame: pd.DataFrame, column: str, role: str = "outcome") -> np.ndarray:
    require_columns([column], frame.columns, "the matched cohort's data")
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise SopEvalError(
            f"{role} column {column!r} is not numeric (dtype {values.dtype}). Convert it to numbers "
            "(0/1 for a rate, counts for events, durations for a time to event)."
        )
    return values.to_numpy(dtype=float)


def _covariate_matrix(frame: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    require_columns(list(covariates), frame.columns, "the matched cohort's data (covariates=)")
    return design_matrix(frame, covariates, booleans="numeric", strict=False,
                         remedy="impute them or leave them out of the regression adjustment (covariates=).").values


def estimate_effect(
    cohort: Any,
    outcome: str,
    *,
    kind: str | None = None,
    se: str | None = None,
    covariates: Sequence[str] | bool | None = None,
    level: float = 0.95,
    seed: int | None = None,
    event: str | None = None,
    min_treated: int = JDL_MIN_TREATED,
    allow_small: bool = False,
    horizon: float | None = None,
    n_boot: int = 1000,
    progress: bool | None = None,
    label: str = "",
    model: str | None = None,
) -> EffectEstimate:
    """The effect on ``outcome`` of being treated, in a matched cohort (ATT: treated minus comparison).

    ``kind`` is inferred from the column (0/1 → ``"binary"``, non-negative whole numbers → ``"count"``,
    otherwise ``"continuous"``) or given. For ``"time_to_event"``, ``outcome`` is the time to the event
    and ``event`` the 0/1 event column; without ``event``, a missing time means no event by ``horizon``.
    The time-to-event effect is the difference in restricted mean time to event up to ``horizon``
    (default: the largest observed time; later times, events included, are censored at it), with
    Kaplan–Meier curves, medians and a weighted Cox hazard ratio in ``details`` (see
    :mod:`sop_eval.effects.survival`; there ``"robust"`` clusters on the person, ``"cluster"`` on the set).

    ``se`` names the standard error (declared in :mod:`sop_eval.stats.registry`); it never changes
    the point estimate. Without it, the method's default applies, as in a contract
    (:data:`sop_eval.contract.vocabulary.DEFAULT_SE`): ``"cluster"`` after nearest, optimal and full matching,
    ``"robust"`` after subclassification, CEM, exact matching and weighting. ``"cluster"`` clusters on matched
    set, and with replacement on matched set and person (two-way), so a comparison person serving several sets is
    counted; ``"robust"``/``"HC0"``–``"HC3"`` cluster on nothing (one row per person, MatchIt's ``match.data()``
    form);
    ``"abadie-imbens"`` (matching with replacement only) is the Abadie–Imbens variance of the matches as
    made, each comparison person's outcome variance estimated from its ``ratio`` nearest comparison
    people on the matching distance (within exact strata); ``"bootstrap"`` (``n_boot`` replicates of
    matched sets, ``seed``) is refused with replacement. Recommended with replacement: ``"cluster"``
    (:data:`RECOMMENDED_WITH_REPLACEMENT`); ``"abadie-imbens"`` leaves out the variability of the
    matching discrepancies, and covered 93% where a thin pool leaves them large. ``covariates`` (column names, or
    True for the matching covariates) adds regression adjustment in the matched sample (doubly robust).

    Refuses to run with fewer than ``min_treated`` (60, the Justice Data Lab minimum) treated people
    unless ``allow_small=True``. Counts use the same sandwich variance, which does not assume a
    Poisson variance and so respects over-dispersion.

    ``model`` (``"linear"``, ``"logit"``, ``"poisson"``, ``"negbin"``) estimates the ATT by g-computation
    instead: ``outcome ~ treat * covariates`` fitted with the matching weights, predictions for every treated
    person under treatment and control averaged, delta-method SEs from the ``se`` sandwich
    (:mod:`sop_eval.effects.gcomp`); ``details`` then hold the rate ratio and relative reduction with intervals.
    """
    if se is None:
        se = DEFAULT_SE.get(str(getattr(cohort, "method", "nearest")), "cluster")
    if model is not None:
        return _gcomp_estimate(cohort, matched_sample(cohort), outcome, model=model, kind=kind, se=se,
                               covariates=covariates, level=level, min_treated=min_treated, allow_small=allow_small,
                               label=label)
    return _estimate(
        cohort, matched_sample(cohort), outcome, kind=kind, se=se, covariates=covariates, level=level,
        seed=seed, event=event, min_treated=min_treated, allow_small=allow_small, horizon=horizon,
        n_boot=n_boot, progress=progress, label=label, within=None,
    )


def _estimate(
    cohort: Any,
    sample: MatchedSample,
    outcome: str,
    *,
    kind: str | None,
    se: str,
    covariates: Sequence[str] | bool | None,
    level: float,
    seed: int | None,
    event: str | None,
    min_treated: int,
    allow_small: bool,
    horizon: float | None,
    n_boot: int,
    progress: bool | None,
    label: str,
    within: np.ndarray | None,
) -> EffectEstimate:
    frame = sample.frame
    y = _numeric_outcome(frame, outcome)
    kind = kind or ("time_to_event" if event is not None else infer_kind(frame[outcome]))
    if kind not in ("binary", "count", "continuous", "time_to_event"):
        raise SopEvalError(f"kind={kind!r} is not one of binary, count, continuous, time_to_event.")
    if sample.n_treated < int(min_treated) and not allow_small:
        raise SopEvalError(
            f"only {sample.n_treated} treated people were matched; at least {min_treated} are needed before "
            "an effect is estimated (the Justice Data Lab rule). To estimate anyway set allow_small = true under "
            "[evaluation] in the contract (allow_small=True in Python)."
        )
    replace = bool(getattr(cohort, "replace", False))
    if kind == "time_to_event":
        if covariates:
            raise SopEvalError("covariates= adjustment is not available for time_to_event outcomes; leave it out.")
        check_se(se, "psm", kind=kind, replace=replace)
        ev = None if event is None else _numeric_outcome(frame, event, "event")
        return time_to_event_effect(
            sample, y, ev, outcome=outcome, se=se, horizon=horizon, level=level, label=label
        )
    if kind == "binary" and not np.isin(y[~np.isnan(y)], (0.0, 1.0)).all():
        raise SopEvalError(f"kind='binary' but outcome column {outcome!r} holds values other than 0 and 1; "
                           "use kind='count' or 'continuous', or recode it.")
    missing = np.isnan(y)
    if missing.any():
        raise SopEvalError(
            f"outcome column {outcome!r} has {int(missing.sum())} missing value(s) among the {len(y)} matched "
            "rows; an outcome must be observed for everyone matched (for a time to event pass kind="
            "'time_to_event' and event=)."
        )
    cov_names = list(cohort.covariates) if covariates is True else list(covariates or [])
    method = check_se(se, "psm", kind=kind, replace=replace, covariates=bool(cov_names))
    X = _covariate_matrix(frame, cov_names) if cov_names else None
    inf = se_implementation("psm", method.name)(
        y, sample.treat, sample.weights, cluster=sample.cluster, covariates=X, person=sample.person,
        n_boot=n_boot, seed=seed, progress=progress, cohort=cohort, outcome=outcome, within=within,
    )
    estimate, treated_mean, comparison_mean = point_estimate(y, sample.treat, sample.weights, X, sample.person)
    inf = Inference(**{**inf.__dict__, "estimate": estimate, "treated_mean": treated_mean,
                       "comparison_mean": comparison_mean})
    return _to_estimate(inf, sample, outcome, kind, cohort, level, label, cov_names, se, within)


def _to_estimate(
    inf: Inference,
    sample: MatchedSample,
    outcome: str,
    kind: str,
    cohort: Any,
    level: float,
    label: str,
    covariates: list[str],
    se: str,
    within: np.ndarray | None = None,
) -> EffectEstimate:
    w_c = sample.weights[~sample.treat]
    details = {
        **inf.details,
        "se_name": se,
        "estimand": getattr(cohort, "estimand", "ATT"),
        "matching": getattr(cohort, "method", ""),
        "n_matched_sets": int(len(np.unique(sample.cluster))),
        "comparison_ess": float(w_c.sum() ** 2 / (w_c**2).sum()) if len(w_c) else 0.0,
        "regression_adjustment": covariates,
    }
    unmatched = getattr(cohort, "unmatched", None)
    if unmatched is not None:
        labels = unmatched.index
        if within is not None:
            labels = labels[np.isin(labels, cohort.data.index[within])]
        group = "control" if getattr(cohort, "estimand", "ATT") == "ATC" else "treated"  # the focal group
        details[f"n_{group}_unmatched"] = int(len(labels))
    if kind == "binary":
        y = sample.frame[outcome].to_numpy(dtype=float)
        details["n_events_treated"] = int(y[sample.treat].sum())
    return EffectEstimate(
        estimate=inf.estimate,
        se=inf.se,
        treated_mean=inf.treated_mean,
        comparison_mean=inf.comparison_mean,
        n_treated=sample.n_treated,
        n_comparison=sample.n_comparison,
        outcome=outcome,
        kind=kind,
        design="weighting" if getattr(cohort, "method", "") in ("weighting", "ebal") else "psm",
        method=inf.method + (" + regression adjustment" if covariates else ""),
        label=label,
        level=level,
        comparison_mean_se=inf.comparison_mean_se,
        cov_estimate_comparison=inf.cov_estimate_comparison,
        details=details,
    )


def _gcomp_estimate(cohort: Any, sample: MatchedSample, outcome: str, *, model: str, kind: str | None, se: str,
                    covariates: Sequence[str] | bool | None, level: float, min_treated: int, allow_small: bool,
                    label: str) -> EffectEstimate:
    frame = sample.frame
    y = _numeric_outcome(frame, outcome)
    if np.isnan(y).any():
        raise SopEvalError(f"outcome column {outcome!r} has {int(np.isnan(y).sum())} missing value(s) among the "
                           f"{len(y)} matched rows; an outcome must be observed for everyone matched.")
    kind = kind or infer_kind(frame[outcome])
    if kind == "time_to_event":
        raise SopEvalError("model= g-computation is for binary, count and continuous outcomes; leave model out for "
                           "a time to event.")
    if sample.n_treated < int(min_treated) and not allow_small:
        raise SopEvalError(
            f"only {sample.n_treated} treated people were matched; at least {min_treated} are needed before "
            "an effect is estimated (the Justice Data Lab rule). Pass allow_small=True to override."
        )
    cov_names = list(cohort.covariates) if covariates is True else list(covariates or [])
    replace = sample.person is not None
    method = check_se(se, "psm", kind=kind, replace=replace, covariates=bool(cov_names), model=model)
    X = _covariate_matrix(frame, cov_names) if cov_names else np.empty((len(y), 0))
    res = gcomp(y, sample.treat, sample.weights, X, model=model, se=method.name, cluster=sample.cluster,
                person=sample.person)
    details: dict[str, Any] = {**res.details, "g_computation": True}
    if kind in ("count", "binary") or model in ("poisson", "negbin"):
        details.update(res.ratio(level))
    v = res.vcov_means
    inf = Inference(estimate=res.estimate, se=res.se, treated_mean=res.p1, comparison_mean=res.p0,
                    comparison_mean_se=float(np.sqrt(max(v[1, 1], 0.0))),
                    cov_estimate_comparison=float(v[0, 1] - v[1, 1]),
                    method=f"g-computation ({model} model, outcome ~ treat * covariates), delta method, se={se!r}",
                    details=details)
    out = _to_estimate(inf, sample, outcome, kind, cohort, level, label, cov_names, se)
    return out


def estimate_by(cohort: Any, outcome: str, by: str = "cohort", **kwargs: Any) -> dict[Hashable, EffectEstimate]:
    """Effects per value of ``by`` (e.g. the contract cohort), one :class:`EffectEstimate` each.

    A matched set belongs to the group of its treated member, so match with ``exact=[by]`` for sets that
    never straddle groups. Keyword arguments go to :func:`estimate_effect`; the label is the group value.
    """
    require_columns([by], cohort.data.columns, "the matched cohort's data (by=)")
    sample = matched_sample(cohort)
    group = sample.frame[by].to_numpy()
    set_group = pd.Series(group[sample.treat], index=sample.cluster[sample.treat]).groupby(level=0).first()
    row_group = set_group.reindex(sample.cluster).to_numpy()
    out: dict[Hashable, EffectEstimate] = {}
    options = {
        "kind": None, "se": "cluster", "covariates": None, "level": 0.95, "seed": None, "event": None,
        "min_treated": JDL_MIN_TREATED, "allow_small": False, "horizon": None, "n_boot": 1000,
        "progress": None, **kwargs,
    }
    unknown = set(options) - set(_OPTION_NAMES)
    if unknown:
        raise SopEvalError(f"estimate_by got unknown option(s) {sorted(unknown)}; allowed: {', '.join(_OPTION_NAMES)}.")
    by_values = cohort.data[by].to_numpy()
    for value in pd.unique(set_group.to_numpy()):
        rows = np.flatnonzero(row_group == value)
        out[value] = _estimate(
            cohort, sample.take(rows), outcome, label=f"{by} {value}", within=by_values == value, **options
        )
    return out


_OPTION_NAMES = (
    "kind", "se", "covariates", "level", "seed", "event", "min_treated", "allow_small", "horizon", "n_boot",
    "progress",
)
