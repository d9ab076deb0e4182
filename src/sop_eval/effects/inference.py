"""Standard errors for matched-cohort effects, chosen by name through one registry.

Every estimator here works on plain arrays, so it can be checked against other implementations
without a matched cohort. The regression estimators fit the weighted least-squares model

    y = a * T + c * (1 - T) + gamma' (x - xbar_T) + e

with matching weights ``w`` (MatchIt convention: 1 for kept treated people, the matching weight for
kept comparison people). ``a - c`` is the coefficient on treatment in ``lm(y ~ treat + x, weights)``;
without covariates ``a`` is the treated mean and ``c`` the weighted comparison mean, and with covariates
centred at the weighted treated mean ``xbar_T``, ``a`` is still the treated mean and ``c = a - (a - c)``
the regression-adjusted counterfactual mean of the treated (doubly robust when the weights come from a
propensity-score match).

Rows. Without replacement there is one row per matched person. With replacement the rows are R
MatchIt's ``get_matches()`` form: one row per (matched set, member), a treated row weighing 1 and each
comparison row ``1 / (controls in the set)``, and ``person`` says whose row it is (the same comparison
person sits in every set it serves). Summing a person's rows gives MatchIt's ``match.data()`` form (one
row per person, weight = the sum over its sets, before MatchIt's rescaling of comparison weights,
which changes no estimate or SE without covariates). Every SE of one cohort shares one point estimate.

Names (``SE_METHODS``; declared with their capabilities in :mod:`sop_eval.stats.registry`, where the
implementations below register themselves), what each clusters on, and their sources:

- ``"cluster"``: sandwich clustered on matched set; with replacement (``person`` given) two-way, on
  matched set and on person (Cameron, Gelbach and Miller 2011), so a comparison person's reuse across
  sets is counted. HC1 small-sample factors as R: ``G/(G-1)`` per clustering and ``(n-1)/(n-k)``;
  R ``sandwich::vcovCL(lm(y ~ treat, get_matches(m), weights), cluster = ~subclass + id)`` (one-way
  ``~subclass`` without replacement).
- ``"robust"`` (= ``"HC1"``), ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"``: heteroskedasticity-consistent
  sandwiches, clustered on nothing: one row per person (the ``match.data()`` form, a person's rows
  summed), R ``sandwich::vcovHC(lm(y ~ treat, match.data(m), weights), type = ...)``, MacKinnon and
  White (1985). With replacement they treat people as independent though their sets overlap.
- ``"abadie-imbens"``: the Abadie and Imbens (2006) variance of the matching estimator, for the matched
  sets and weights as made (no re-matching: ties, caliper drops and exact strata are whatever the match
  did; treated people left unmatched are outside the estimand). It counts each comparison person's
  reuse through ``K_j`` (sum of its weights over sets) and ``KK_j`` (sum of squared weights). The
  conditional variance of a comparison person's outcome is estimated by matching within the comparison
  group: the sample variance (``ddof=1``) of its outcome and those of its ``M`` nearest other comparison
  people on the score, ties within the tolerance kept (R ``Matching``'s ``Var.calc = M``, the
  ``M``-match estimator of AI 2006 eq. 14 up to a ``J/(J+1)`` versus sample-variance scaling, which
  agree for ``M = 1``). Equal to R ``Matching::Match(Y, Tr, X = score, estimand = "ATT", M = k,
  ties = TRUE, Var.calc = k)$se`` when the matches coincide; ``var_calc=0`` gives Matching's
  homoskedastic default.
- ``"bootstrap"``: resampling whole matched sets with replacement (a cluster bootstrap), seeded; the
  SE is the standard deviation of the replicate estimates (``ddof=1``). Vectorised: each replicate is a
  weighted sum of per-set cross-products and one small linear solve, never a model refit. Refused when
  comparison people serve several sets: sets are then not independent, and the naive bootstrap is not
  valid for nearest-neighbour matching with replacement (Abadie and Imbens 2008, Econometrica 76:1537);
  use ``"cluster"`` (two-way) or ``"abadie-imbens"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sop_eval.errors import SopEvalError
from sop_eval.stats.bootstrap import cluster_bootstrap_wls
from sop_eval.stats.registry import check_se, register_se
from sop_eval.stats.wls import SingularDesign, WLSFit, cluster_vcov, hc_vcov, twoway_cluster_vcov, wls


@dataclass(frozen=True)
class Inference:
    """What an SE method returns: the effect, the two means, their (co)variances and details."""

    estimate: float
    se: float
    treated_mean: float
    comparison_mean: float
    comparison_mean_se: float | None
    cov_estimate_comparison: float
    method: str
    details: dict[str, Any] = field(default_factory=dict)


# -- weighted least squares with sandwich variances -------------------------------------------------
@dataclass(frozen=True)
class WLSDesign:
    """The WLS problem in the ``(a, c, gamma)`` parametrisation, restricted to positive weights.

    ``cluster`` codes the matched set of each row; ``person`` codes whose row it is (None: every row
    its own person).
    """

    y: np.ndarray
    X: np.ndarray
    w: np.ndarray
    cluster: np.ndarray
    person: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        y: np.ndarray,
        treat: np.ndarray,
        weights: np.ndarray,
        cluster: np.ndarray | None = None,
        covariates: np.ndarray | None = None,
        person: np.ndarray | None = None,
    ) -> WLSDesign:
        y = np.asarray(y, dtype=float)
        t = np.asarray(treat, dtype=float)
        w = np.asarray(weights, dtype=float)
        keep = w > 0
        y, t, w = y[keep], t[keep], w[keep]
        g = np.arange(keep.sum()) if cluster is None else np.unique(np.asarray(cluster)[keep], return_inverse=True)[1]
        who = None if person is None else np.unique(np.asarray(person)[keep], return_inverse=True)[1]
        cols = [t, 1.0 - t]
        if covariates is not None:
            x = np.asarray(covariates, dtype=float).reshape(len(keep), -1)[keep]
            xbar = (x * (w * t)[:, None]).sum(0) / (w * t).sum()
            cols.extend((x - xbar).T)
        return cls(y=y, X=np.column_stack(cols), w=w, cluster=g, person=who)

    @property
    def reused(self) -> bool:
        """Whether some person has rows in more than one matched set."""
        if self.person is None:
            return False
        pairs = np.unique(np.column_stack([self.person, self.cluster]), axis=0)
        return len(pairs) > int(self.person.max()) + 1

    def per_person(self) -> WLSDesign:
        """One row per person, its weights summed (MatchIt's ``match.data()`` form of stacked rows)."""
        if self.person is None:
            return self
        first = np.unique(self.person, return_index=True)[1]
        w = np.bincount(self.person, weights=self.w)
        return WLSDesign(y=self.y[first], X=self.X[first], w=w, cluster=np.arange(len(first)), person=None)

    def fit(self) -> WLSFit:
        """The weighted least-squares fit (:func:`sop_eval.stats.wls.wls`)."""
        try:
            return wls(self.y, self.X, self.w)
        except SingularDesign as err:
            raise SopEvalError(
                f"the regression adjustment is singular (rank {err.rank} of {err.k}): a covariate is "
                "constant in the matched sample or collinear with others; drop it from covariates=."
            ) from None

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients, residuals and the bread ``(X'WX)^-1``."""
        fit = self.fit()
        return fit.beta, fit.resid, fit.bread


def sandwich_vcov(design: WLSDesign, kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Coefficients and sandwich covariance of ``design`` for ``kind`` in HC0-HC3 or ``"cluster"``.

    ``"cluster"`` clusters on ``design.cluster``, and also on ``design.person`` when it is set (two-way:
    set + person - set-and-person, each with its ``G/(G-1)``, as R ``sandwich::vcovCL`` with
    ``multi0 = FALSE``). HC kinds use one row per person (:meth:`WLSDesign.per_person`).
    """
    if kind != "cluster":
        design = design.per_person()
    fit = design.fit()
    details: dict[str, Any] = {"n_obs": fit.n_obs}
    if kind != "cluster":
        details["clusters_on"] = "nothing (one row per person)"
        return fit.beta, hc_vcov(fit, kind).vcov, details
    details["n_clusters"] = int(design.cluster.max()) + 1
    if details["n_clusters"] < 2:
        raise SopEvalError("se='cluster' needs at least 2 matched sets; use se='robust'.")
    if design.person is None:
        singletons = details["n_clusters"] == len(design.y)
        details["clusters_on"] = "nothing: each person is their own cluster (no matched sets)" if singletons else \
            "matched set"
        return fit.beta, cluster_vcov(fit, design.cluster).vcov, details
    # R sandwich::vcovCL(cluster = ~subclass + id): each term its own G/(G-1)
    sandwich = twoway_cluster_vcov(fit, design.cluster, design.person, small_sample="each")
    details.update(n_persons=int(design.person.max()) + 1, clusters_on="matched set and person (two-way)",
                   psd_fixed=sandwich.psd_fixed)
    return fit.beta, sandwich.vcov, details


def _from_coefficients(beta: np.ndarray, vcov: np.ndarray, method: str, details: dict[str, Any]) -> Inference:
    var_est = vcov[0, 0] + vcov[1, 1] - 2 * vcov[0, 1]
    return Inference(
        estimate=float(beta[0] - beta[1]),
        se=float(np.sqrt(max(var_est, 0.0))),
        treated_mean=float(beta[0]),
        comparison_mean=float(beta[1]),
        comparison_mean_se=float(np.sqrt(max(vcov[1, 1], 0.0))),
        cov_estimate_comparison=float(vcov[0, 1] - vcov[1, 1]),
        method=method,
        details=details,
    )


def _sandwich_method(kind: str, label: str, doc: str) -> Callable[..., Inference]:
    def method(y, treat, weights, cluster=None, covariates=None, person=None, **_: Any) -> Inference:
        design = WLSDesign.build(y, treat, weights, cluster if kind == "cluster" else None, covariates, person)
        beta, vcov, details = sandwich_vcov(design, kind)
        name = label
        if kind == "cluster" and design.person is not None:
            name = "cluster (two-way: matched set and person, HC1)"
        return _from_coefficients(beta, vcov, name, details)

    method.__doc__ = f"Weighted regression estimate with the {label} sandwich standard error. {doc}"
    return method


def point_estimate(
    y: np.ndarray, treat: np.ndarray, weights: np.ndarray, covariates: np.ndarray | None = None,
    person: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """The effect, treated mean and comparison mean of the weighted regression on one row per person."""
    beta, _, _ = WLSDesign.build(y, treat, weights, None, covariates, person).per_person().solve()
    return float(beta[0] - beta[1]), float(beta[0]), float(beta[1])


# -- cluster bootstrap --------------------------------------------------------------------------------
def cluster_bootstrap(
    y: np.ndarray,
    treat: np.ndarray,
    weights: np.ndarray,
    cluster: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    person: np.ndarray | None = None,
    *,
    n_boot: int = 1000,
    seed: int | None = None,
    progress: bool | None = None,
    chunk: int = 250,
    **_: Any,
) -> Inference:
    """Weighted-regression estimate with a bootstrap SE from resampling whole matched sets.

    Each replicate draws as many matched sets as there are, with replacement (multinomial counts), and
    re-solves the weighted normal equations from per-set cross-products (how often each set was drawn,
    times its cross-products; :func:`sop_eval.stats.bootstrap.cluster_bootstrap_wls`); ``seed=None`` means
    :data:`sop_eval.seeds.DEFAULT_SEED`. ``progress=None`` shows a bar when there are more than 2,000 replicates.
    Clusters on matched set only, so it is refused when a ``person`` has rows in several sets (matching with
    replacement): the sets are then dependent and the bootstrap is not valid for nearest-neighbour matching
    (Abadie and Imbens 2008).
    """
    if int(n_boot) < 2:
        raise SopEvalError(f"n_boot={n_boot}: the bootstrap needs at least 2 replicates (1,000 is usual).")
    design = WLSDesign.build(y, treat, weights, cluster, covariates, person)
    if design.reused:
        raise SopEvalError(
            "se='bootstrap' resamples matched sets as if independent, but with replacement comparison people "
            "serve several sets, and the bootstrap is not valid for nearest-neighbour matching with "
            "replacement (Abadie and Imbens 2008). Use se='cluster' (two-way: matched set and person) "
            "or se='abadie-imbens'."
        )
    beta = design.fit().beta
    n_clusters = int(design.cluster.max()) + 1
    show = progress if progress is not None else n_boot > 2000
    with tqdm(total=int(n_boot), disable=not show, desc="bootstrap", unit="rep") as bar:
        draws = cluster_bootstrap_wls(design.y, design.X, design.w, design.cluster, n_boot=int(n_boot), seed=seed,
                                      chunk=chunk, on_progress=bar.update)[:, :2]
    good = np.isfinite(draws).all(1)
    draws = draws[good]
    cov = np.cov(draws.T, ddof=1)
    effects = draws[:, 0] - draws[:, 1]
    details = {
        "n_boot": int(n_boot),
        "n_boot_used": int(good.sum()),
        "seed": seed,
        "n_clusters": n_clusters,
        "clusters_on": "matched set (resampled whole)",
        "percentile_ci_95": [float(v) for v in np.percentile(effects, [2.5, 97.5])],
    }
    inf = _from_coefficients(beta, cov, "bootstrap (matched sets)", details)
    return Inference(**{**inf.__dict__, "se": float(np.std(effects, ddof=1))})


# -- Abadie-Imbens ---------------------------------------------------------------------------------------
def nn_match_ties(
    score: np.ndarray, treat: np.ndarray, m: int = 1, tolerance: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-neighbour matching of every treated unit to ``m`` controls with replacement, ties kept.

    Follows R ``Matching::Match``: the score is standardised by its sample SD (``ddof=1``, all units); a
    control is a match when its squared standardised distance is at most the ``m``-th smallest plus
    ``tolerance`` (``distance.tolerance``, default 1e-5). Returns positional arrays
    ``(treated, control, weight)`` with ``weight = 1 / (number of matches of that treated unit)``.
    """
    s = np.asarray(score, dtype=float)
    t = np.asarray(treat).astype(bool)
    sd = float(np.std(s, ddof=1)) or 1.0
    z = s / sd
    controls = np.flatnonzero(~t)
    order = np.argsort(z[controls], kind="stable")
    zc = z[controls][order]
    m = min(int(m), len(zc))
    ti, ci, wi = [], [], []
    for i in np.flatnonzero(t):
        pos = np.searchsorted(zc, z[i])
        near = zc[max(0, pos - m) : pos + m]
        dmax = np.partition((near - z[i]) ** 2, m - 1)[m - 1] + tolerance
        radius = np.sqrt(dmax) * (1 + 1e-12) + 1e-15
        lo, hi = np.searchsorted(zc, z[i] - radius, "left"), np.searchsorted(zc, z[i] + radius, "right")
        window = np.arange(lo, hi)
        window = window[(zc[window] - z[i]) ** 2 <= dmax]
        ti.append(np.full(len(window), i))
        ci.append(controls[order[window]])
        wi.append(np.full(len(window), 1.0 / len(window)))
    return np.concatenate(ti), np.concatenate(ci), np.concatenate(wi)


def conditional_variance(
    y: np.ndarray, score: np.ndarray, rows: np.ndarray, j: int, tolerance: float = 1e-5, scale: float | None = None
) -> np.ndarray:
    """Variance of each outcome in ``rows`` given the score, by matching within ``rows``' own group.

    ``rows`` (positions into ``y`` and ``score``) is one treatment group. For each, the ``j`` nearest other
    members on the score divided by ``scale`` (default: its SD over all of ``score``, ``ddof=1``), all
    members within the ``j``-th smallest squared distance plus ``tolerance`` kept, and the result is the
    sample variance (``ddof=1``) of its outcome and theirs: R ``Matching``'s ``Var.calc = j``.
    Returned in the order of ``rows``.
    """
    y, s = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    sd = scale if scale is not None else (float(np.std(s, ddof=1)) or 1.0)
    rows = np.asarray(rows)
    order = np.argsort(s[rows], kind="stable")
    z, v = s[rows][order] / sd, y[rows][order]
    n = len(z)
    j = min(int(j), n - 1)
    if j < 1:
        return np.zeros(len(rows))
    pos = np.arange(n)
    offsets = np.r_[-np.arange(j, 0, -1), np.arange(1, j + 1)]
    near = pos[:, None] + offsets[None, :]
    d2 = np.where((near >= 0) & (near < n), (z[np.clip(near, 0, n - 1)] - z[:, None]) ** 2, np.inf)
    dmax = np.partition(d2, j - 1, axis=1)[:, j - 1] + tolerance
    radius = np.sqrt(dmax) * (1 + 1e-12) + 1e-15
    lo, hi = np.searchsorted(z, z - radius, "left"), np.searchsorted(z, z + radius, "right")
    # trim the window to the squared-distance rule at both ends (the radius is slightly generous)
    while True:
        bad_lo = (lo < pos) & ((z[lo] - z) ** 2 > dmax)
        bad_hi = (hi - 1 > pos) & ((z[np.maximum(hi - 1, 0)] - z) ** 2 > dmax)
        if not (bad_lo.any() or bad_hi.any()):
            break
        lo, hi = lo + bad_lo, hi - bad_hi
    centred = v - v.mean()
    c1, c2 = np.r_[0.0, np.cumsum(centred)], np.r_[0.0, np.cumsum(centred**2)]
    count = hi - lo
    total, squares = c1[hi] - c1[lo], c2[hi] - c2[lo]
    var = (squares - total**2 / count) / (count - 1)
    out = np.empty(len(rows))
    out[order] = np.maximum(var, 0.0)
    return out


def abadie_imbens_matched(
    y: np.ndarray,
    treat: np.ndarray,
    weights: np.ndarray,
    cluster: np.ndarray | None = None,
    person: np.ndarray | None = None,
    sigma2: np.ndarray | None = None,
    **_: Any,
) -> Inference:
    """ATT of the matches as made, with the Abadie-Imbens (2006) SE; clusters on nothing, counts reuse.

    Rows are matched-set members (``cluster`` = set, ``person`` = who, one treated row per set); a
    comparison row's weight is normalised within its set. With ``tau_s`` the treated outcome minus the
    weighted mean of its set's comparison outcomes, ``N1`` sets, ``K_j``/``KK_j`` the sums over sets of
    person ``j``'s weights and squared weights, the variance is
    ``sum_s (tau_s - est)^2 / N1^2 + sum_j (K_j^2 - KK_j) sigma2_j / N1^2``. ``sigma2`` gives each
    comparison row's conditional variance (:func:`conditional_variance`); None uses R ``Matching``'s
    homoskedastic default, half the weighted mean squared deviation of pair differences from the estimate.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(treat).astype(bool)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    sets = np.unique(np.asarray(cluster if cluster is not None else np.arange(len(y)))[keep], return_inverse=True)[1]
    who = np.unique(np.asarray(person if person is not None else np.arange(len(y)))[keep], return_inverse=True)[1]
    y, t, w = y[keep], t[keep], w[keep]
    n_sets = int(sets.max()) + 1
    has_t = np.bincount(sets[t], minlength=n_sets) == 1
    has_c = np.bincount(sets[~t], minlength=n_sets) > 0
    if not (has_t & has_c).all():
        raise SopEvalError(
            f"se='abadie-imbens' needs each matched set to hold one treated and at least one comparison person; "
            f"{int((~(has_t & has_c)).sum())} set(s) do not (sets come from nearest-neighbour matching)."
        )
    c = ~t
    wc = w[c] / np.bincount(sets[c], weights=w[c], minlength=n_sets)[sets[c]]
    y_t = np.zeros(n_sets)
    y_t[sets[t]] = y[t]
    matched_mean = np.bincount(sets[c], weights=wc * y[c], minlength=n_sets)
    tau = y_t - matched_mean
    n1 = n_sets
    est = float(tau.mean())
    k_count = np.bincount(who[c], weights=wc)
    kk_count = np.bincount(who[c], weights=wc**2)
    if sigma2 is None:
        pair = y_t[sets[c]] - y[c]
        sig = np.full(len(k_count), 0.5 * float((wc * (pair - est) ** 2).sum() / wc.sum()))
        conditional = "homoskedastic (pair differences)"
    else:
        sig = np.zeros(len(k_count))
        sig[who[c]] = np.asarray(sigma2, dtype=float)[keep][c]
        conditional = "matching within the comparison group"
    reuse = float(((k_count**2 - kk_count) * sig).sum()) / n1**2
    var = float(((tau - est) ** 2).sum()) / n1**2 + reuse
    cm_var = float(((matched_mean - matched_mean.mean()) ** 2).sum()) / n1**2 + reuse
    cov_tc = float(((y_t - y_t.mean()) * (matched_mean - matched_mean.mean())).sum()) / n1**2
    return Inference(
        estimate=est,
        se=float(np.sqrt(max(var, 0.0))),
        treated_mean=float(y_t.mean()),
        comparison_mean=float(matched_mean.mean()),
        comparison_mean_se=float(np.sqrt(cm_var)),
        cov_estimate_comparison=cov_tc - cm_var,
        method="abadie-imbens (matches as made; reuse counted)",
        details={
            "n_matched_rows": int(c.sum()),
            "n_controls_used": int((k_count > 0).sum()),
            "conditional_variance": conditional,
            "clusters_on": "nothing: comparison reuse counted through K_j (Abadie-Imbens 2006)",
        },
    )


def abadie_imbens(
    y: np.ndarray,
    treat: np.ndarray,
    score: np.ndarray,
    m: int = 1,
    tolerance: float = 1e-5,
    var_calc: int = 0,
    **_: Any,
) -> Inference:
    """Match on ``score`` as R ``Matching::Match`` does (:func:`nn_match_ties`), then the Abadie-Imbens SE.

    Equal to ``Match(Y, Tr, X = score, estimand = "ATT", M = m, ties = TRUE, Var.calc = var_calc)``
    (``$est``, ``$se``). ``var_calc=0`` (Matching's default) assumes a homoskedastic outcome; ``var_calc=m``
    estimates each comparison person's variance from its ``m`` nearest comparison people (AI 2006). For
    a cohort already matched use :func:`abadie_imbens_matched`, which does not re-match.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(treat).astype(bool)
    ti, ci, wi = nn_match_ties(score, t, m, tolerance)
    treated = np.unique(ti)
    rows = np.r_[treated, ci]
    sets = np.r_[np.searchsorted(treated, treated), np.searchsorted(treated, ti)]
    sigma2 = None
    if var_calc > 0:
        controls = np.flatnonzero(~t)
        by_control = np.zeros(len(y))
        by_control[controls] = conditional_variance(y, score, controls, var_calc, tolerance)
        sigma2 = by_control[rows]
    inf = abadie_imbens_matched(
        y[rows], t[rows], np.r_[np.ones(len(treated)), wi], cluster=sets, person=rows, sigma2=sigma2
    )
    method = f"abadie-imbens (M={m}, ties, Var.calc={var_calc})"
    return Inference(**{**inf.__dict__, "method": method, "details": {**inf.details, "m": int(m)}})


def abadie_imbens_for_cohort(
    y: np.ndarray, treat: np.ndarray, weights: np.ndarray, cluster: np.ndarray | None = None,
    person: np.ndarray | None = None, *, cohort: Any, outcome: str, within: np.ndarray | None = None, **_: Any,
) -> Inference:
    """:func:`abadie_imbens_matched` on a cohort's get_matches rows (``person``: positions in ``cohort.data``).

    Each comparison person's outcome variance comes from its ``cohort.ratio`` nearest non-discarded
    comparison people on the matching distance, within its exact-matching stratum (and ``within``).
    """
    if not getattr(cohort, "replace", False) or person is None:
        raise SopEvalError(
            "se='abadie-imbens' applies to nearest-neighbour matching with replacement; this cohort was "
            "matched without replacement. Use se='cluster' (or match with replace=True)."
        )
    data = cohort.data
    treat_all = data[cohort.treatment].astype(bool).to_numpy()
    distance = getattr(cohort, "distance", None)
    score = (cohort.propensity if distance is None else distance).reindex(data.index).to_numpy(dtype=float)
    y_all = data[outcome].to_numpy(dtype=float)
    pool = ~treat_all & np.isfinite(score) & np.isfinite(y_all)
    discarded = getattr(cohort, "discarded", None)
    if discarded is not None:
        pool &= ~discarded.reindex(data.index).fillna(False).to_numpy(dtype=bool)
    if within is not None:
        pool &= within
    exact = list((getattr(cohort, "settings", None) or {}).get("exact") or [])
    strata = data[exact].astype(str).agg("|".join, axis=1).to_numpy() if exact else np.zeros(len(data))
    scale = float(np.std(score[np.isfinite(score)], ddof=1)) or 1.0
    by_person = np.zeros(len(data))
    for s in np.unique(strata[pool]):
        rows = np.flatnonzero(pool & (strata == s))
        by_person[rows] = conditional_variance(y_all, score, rows, int(cohort.ratio), scale=scale)
    return abadie_imbens_matched(y, treat, weights, cluster=cluster, person=person, sigma2=by_person[person])


# array-level implementations, by name (``abadie-imbens`` here takes matched sets; the registry's takes the cohort)
_ON_SET = ("Clusters on matched set; with ``person`` given (matching with replacement) on matched set and person, "
           "two-way.")
_ON_PERSON = "Clusters on nothing: one row per person, its weights summed (MatchIt's match.data form)."

SE_METHODS: dict[str, Callable[..., Inference]] = {
    "cluster": _sandwich_method("cluster", "cluster (matched set, HC1)", _ON_SET),
    "robust": _sandwich_method("HC1", "robust (HC1)", _ON_PERSON),
    "HC0": _sandwich_method("HC0", "HC0", _ON_PERSON),
    "HC1": _sandwich_method("HC1", "HC1", _ON_PERSON),
    "HC2": _sandwich_method("HC2", "HC2", _ON_PERSON),
    "HC3": _sandwich_method("HC3", "HC3", _ON_PERSON),
    "abadie-imbens": abadie_imbens_matched,
    "bootstrap": cluster_bootstrap,
}


for _name, _method in SE_METHODS.items():
    register_se("psm", _name)(abadie_imbens_for_cohort if _name == "abadie-imbens" else _method)


def get_se_method(name: str) -> Callable[..., Inference]:
    """The array-level SE implementation registered under ``name`` (case-insensitive for HC names)."""
    return SE_METHODS[check_se(name, "psm").name]
