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

Names (``SE_METHODS``) and their sources:

- ``"cluster"``: sandwich clustered on matched set, HC1 small-sample factor ``G/(G-1) * (n-1)/(n-k)``;
  R ``sandwich::vcovCL(lm(y ~ treat, weights), cluster = ~subclass, type = "HC1")``.
- ``"robust"`` (= ``"HC1"``), ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"``: heteroskedasticity-consistent
  sandwiches; R ``sandwich::vcovHC(fit, type = ...)``, MacKinnon and White (1985).
- ``"abadie-imbens"``: nearest-neighbour matching with replacement on a scalar score, ties kept, and the
  Abadie and Imbens (2006) variance under homoskedasticity; equal to R
  ``Matching::Match(Y, Tr, X = score, estimand = "ATT", M = k, ties = TRUE)`` (``$est`` and ``$se``).
- ``"bootstrap"``: resampling whole matched sets with replacement (a cluster bootstrap), seeded; the
  SE is the standard deviation of the replicate estimates (``ddof=1``). Vectorised: each replicate is a
  weighted sum of per-set cross-products and one small linear solve, never a model refit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from sop_eval.errors import SopEvalError
from sop_eval.seeds import rng as seeded_rng


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
    """The WLS problem in the ``(a, c, gamma)`` parametrisation, restricted to positive weights."""

    y: np.ndarray
    X: np.ndarray
    w: np.ndarray
    cluster: np.ndarray

    @classmethod
    def build(
        cls,
        y: np.ndarray,
        treat: np.ndarray,
        weights: np.ndarray,
        cluster: np.ndarray | None = None,
        covariates: np.ndarray | None = None,
    ) -> "WLSDesign":
        y = np.asarray(y, dtype=float)
        t = np.asarray(treat, dtype=float)
        w = np.asarray(weights, dtype=float)
        keep = w > 0
        y, t, w = y[keep], t[keep], w[keep]
        g = np.arange(keep.sum()) if cluster is None else np.unique(np.asarray(cluster)[keep], return_inverse=True)[1]
        cols = [t, 1.0 - t]
        if covariates is not None:
            x = np.asarray(covariates, dtype=float).reshape(len(keep), -1)[keep]
            xbar = (x * (w * t)[:, None]).sum(0) / (w * t).sum()
            cols.extend((x - xbar).T)
        return cls(y=y, X=np.column_stack(cols), w=w, cluster=g)

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients, residuals and the bread ``(X'WX)^-1``."""
        xtwx = self.X.T @ (self.X * self.w[:, None])
        rank = np.linalg.matrix_rank(xtwx)
        if rank < xtwx.shape[0]:
            raise SopEvalError(
                f"the regression adjustment is singular (rank {rank} of {xtwx.shape[0]}): a covariate is "
                "constant in the matched sample or collinear with others; drop it from covariates=."
            )
        bread = np.linalg.inv(xtwx)
        beta = bread @ (self.X.T @ (self.w * self.y))
        return beta, self.y - self.X @ beta, bread


def sandwich_vcov(design: WLSDesign, kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Coefficients and sandwich covariance of ``design`` for ``kind`` in HC0-HC3 or ``"cluster"``."""
    beta, resid, bread = design.solve()
    n, k = design.X.shape
    scores = design.X * (design.w * resid)[:, None]
    details: dict[str, Any] = {"n_obs": int(n)}
    if kind == "cluster":
        n_clusters = int(design.cluster.max()) + 1
        if n_clusters < 2:
            raise SopEvalError("se='cluster' needs at least 2 matched sets; use se='robust'.")
        summed = np.zeros((n_clusters, k))
        np.add.at(summed, design.cluster, scores)
        meat = summed.T @ summed
        factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
        details["n_clusters"] = n_clusters
    else:
        if kind in ("HC2", "HC3"):
            leverage = design.w * np.einsum("ij,jk,ik->i", design.X, bread, design.X)
            scale = np.sqrt(1 - leverage) if kind == "HC2" else 1 - leverage
            scores = scores / np.where(scale > 0, scale, np.inf)[:, None]
        meat = scores.T @ scores
        factor = n / (n - k) if kind == "HC1" else 1.0
    return beta, factor * bread @ meat @ bread, details


def _from_coefficients(beta: np.ndarray, vcov: np.ndarray, method: str, details: dict[str, Any]) -> Inference:
    var_est = vcov[0, 0] + vcov[1, 1] - 2 * vcov[0, 1]
    return Inference(
        estimate=float(beta[0] - beta[1]),
        se=float(np.sqrt(max(var_est, 0.0))),
        treated_mean=float(beta[0]),
        comparison_mean=float(beta[1]),
        comparison_mean_se=float(np.sqrt(vcov[1, 1])),
        cov_estimate_comparison=float(vcov[0, 1] - vcov[1, 1]),
        method=method,
        details=details,
    )


def _sandwich_method(kind: str, label: str) -> Callable[..., Inference]:
    def method(y, treat, weights, cluster=None, covariates=None, **_: Any) -> Inference:
        design = WLSDesign.build(y, treat, weights, cluster if kind == "cluster" else None, covariates)
        beta, vcov, details = sandwich_vcov(design, kind)
        return _from_coefficients(beta, vcov, label, details)

    method.__doc__ = f"Weighted regression estimate with the {label} sandwich standard error."
    return method


# -- cluster bootstrap --------------------------------------------------------------------------------
def cluster_bootstrap(
    y: np.ndarray,
    treat: np.ndarray,
    weights: np.ndarray,
    cluster: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
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
    times its cross-products); ``seed=None`` means :data:`sop_eval.seeds.DEFAULT_SEED`. ``progress=None`` shows a bar
    when there are more than 2,000 replicates.
    """
    if int(n_boot) < 2:
        raise SopEvalError(f"n_boot={n_boot}: the bootstrap needs at least 2 replicates (1,000 is usual).")
    design = WLSDesign.build(y, treat, weights, cluster, covariates)
    beta, _, _ = design.solve()
    n_clusters = int(design.cluster.max()) + 1
    k = design.X.shape[1]
    wx = design.X * design.w[:, None]
    per_set = np.zeros((n_clusters, k * k + k))
    np.add.at(per_set, design.cluster, np.column_stack([(wx[:, :, None] * design.X[:, None, :]).reshape(-1, k * k), wx * design.y[:, None]]))
    rng = seeded_rng(seed)
    draws = np.empty((int(n_boot), 2))
    show = progress if progress is not None else n_boot > 2000
    done = 0
    with tqdm(total=int(n_boot), disable=not show, desc="bootstrap", unit="rep") as bar:
        while done < n_boot:
            b = min(chunk, int(n_boot) - done)
            draws_idx = rng.integers(0, n_clusters, (b, n_clusters)) + (np.arange(b) * n_clusters)[:, None]
            counts = np.bincount(draws_idx.ravel(), minlength=b * n_clusters).reshape(b, n_clusters).astype(float)
            sums = counts @ per_set
            xtwx = sums[:, : k * k].reshape(b, k, k)
            xtwy = sums[:, k * k :]
            ok = np.abs(np.linalg.det(xtwx)) > 1e-12 * np.abs(np.diagonal(xtwx, axis1=1, axis2=2)).prod(1)
            coef = np.full((b, k), np.nan)
            coef[ok] = np.linalg.solve(xtwx[ok], xtwy[ok][:, :, None])[:, :, 0]
            draws[done : done + b] = coef[:, :2]
            done += b
            bar.update(b)
    good = np.isfinite(draws).all(1)
    draws = draws[good]
    cov = np.cov(draws.T, ddof=1)
    effects = draws[:, 0] - draws[:, 1]
    details = {
        "n_boot": int(n_boot),
        "n_boot_used": int(good.sum()),
        "seed": seed,
        "n_clusters": n_clusters,
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


def abadie_imbens(
    y: np.ndarray,
    treat: np.ndarray,
    score: np.ndarray,
    m: int = 1,
    tolerance: float = 1e-5,
    **_: Any,
) -> Inference:
    """ATT by nearest-neighbour matching with replacement on ``score`` and the Abadie-Imbens (2006) SE.

    The variance is R ``Matching``'s default (``Var.calc = 0``, homoskedastic; population variance):
    ``sigma2 * sum_j (K_j^2 - KK_j) / N1^2 + sum_i (tau_i - est)^2 / N1^2`` where ``K_j`` sums ``1/M_i``
    and ``KK_j`` sums ``1/M_i^2`` over the treated units control ``j`` serves, ``tau_i`` is treated ``i``
    minus the mean of its matches, and ``sigma2`` is half the weighted mean squared deviation of the
    pair differences from the estimate.
    """
    y = np.asarray(y, dtype=float)
    ti, ci, wi = nn_match_ties(score, treat, m, tolerance)
    n1 = int(np.asarray(treat).astype(bool).sum())
    tau = y[ti] - y[ci]
    est = float((wi * tau).sum() / wi.sum())
    sigma2 = 0.5 * float((wi * (tau - est) ** 2).sum() / wi.sum())
    k_count = np.bincount(ci, weights=wi, minlength=len(y))
    kk_count = np.bincount(ci, weights=wi**2, minlength=len(y))
    matched_mean = np.bincount(ti, weights=wi * y[ci], minlength=len(y))
    treated = np.flatnonzero(np.asarray(treat).astype(bool))
    ycaus = y[treated] - matched_mean[treated]
    var = sigma2 * float((k_count**2 - kk_count).sum()) / n1**2 + float(((ycaus - est) ** 2).sum()) / n1**2
    treated_mean = float(y[treated].mean())
    counterfactual = y[treated].mean() - est
    # the counterfactual mean's spread from the treated units' match means (reuse of controls ignored)
    joint = np.cov(y[treated], matched_mean[treated], ddof=1) / n1 if n1 > 1 else np.full((2, 2), np.nan)
    cm_se = float(np.sqrt(joint[1, 1])) if n1 > 1 else None
    return Inference(
        estimate=est,
        se=float(np.sqrt(var)),
        treated_mean=treated_mean,
        comparison_mean=float(counterfactual),
        comparison_mean_se=cm_se,
        cov_estimate_comparison=float(joint[0, 1] - joint[1, 1]) if n1 > 1 else 0.0,
        method=f"abadie-imbens (M={m}, ties)",
        details={"m": int(m), "n_matched_rows": int(len(ti)), "n_controls_used": int((k_count > 0).sum())},
    )


SE_METHODS: dict[str, Callable[..., Inference]] = {
    "cluster": _sandwich_method("cluster", "cluster (matched set, HC1)"),
    "robust": _sandwich_method("HC1", "robust (HC1)"),
    "HC0": _sandwich_method("HC0", "HC0"),
    "HC1": _sandwich_method("HC1", "HC1"),
    "HC2": _sandwich_method("HC2", "HC2"),
    "HC3": _sandwich_method("HC3", "HC3"),
    "abadie-imbens": abadie_imbens,
    "bootstrap": cluster_bootstrap,
}


def get_se_method(name: str) -> Callable[..., Inference]:
    """The SE implementation registered under ``name`` (case-insensitive for HC names)."""
    key = name.upper() if name.upper() in {"HC0", "HC1", "HC2", "HC3"} else name.lower()
    try:
        return SE_METHODS[key]
    except KeyError:
        raise SopEvalError(f"se={name!r} is not a known standard error; choose one of {', '.join(SE_METHODS)}.") from None
