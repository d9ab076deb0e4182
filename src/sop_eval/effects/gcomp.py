"""The ATT after matching or weighting by g-computation: the average comparison of outcome-model predictions.

MatchIt's recommended analysis (its vignette "Estimating Effects After Matching"; R
``marginaleffects::avg_comparisons(fit, variables = "treat", vcov = ~subclass, newdata = subset(treat == 1),
wts = "weights")``): fit ``outcome ~ treat * covariates`` with the matching weights, predict every treated
unit under treat = 1 and treat = 0, and average (weighted by the treated units' weights).

Models (``model=``): ``"linear"`` (weighted least squares), ``"logit"`` (binomial, logit link), ``"poisson"``
(log link), ``"negbin"`` (negative binomial NB2, log link; the dispersion ``alpha`` by weighted maximum
likelihood, profiled, and treated as known in the variance, as R ``MASS::glm.nb`` and statsmodels do). GLMs
are fitted with statsmodels (``var_weights`` = the matching weights, the likelihood R ``glm(weights=)``
maximises). Covariates are centred at the weighted treated mean before the fit (predictions are unchanged).

Standard errors by the delta method, ``g' V g`` with ``g`` the gradient of the averaged predictions and ``V``
a sandwich of the model's scores ``w_i x_i (y_i - mu_i) / (1 + alpha mu_i)`` (no denominator for canonical
links) around the expected-information bread ``(X' W v X)^-1``, ``v = (dmu/deta)^2 / V(mu)``, built as a
:class:`sop_eval.stats.wls.WLSFit` whose working weights are ``w v`` and working residuals
``(y - mu) / (dmu/deta)`` (R ``sandwich``'s convention for GLMs):

- ``se="cluster"``: clustered on matched set (CR1, ``G/(G-1) (n-1)/(n-k)``, R ``vcovCL(type = "HC1")``);
  with replacement two-way on matched set and person over ``get_matches()`` rows (each term its own
  ``G/(G-1)``), as :mod:`sop_eval.effects.inference` does for the difference in means;
- ``"robust"``/``"HC0"``–``"HC3"``: on one row per person (a person's rows summed, ``match.data()``), R
  ``vcovHC(type = ...)``.

For counts (and rates) :class:`GcompResult` also gives the rate ratio ``mean(p1) / mean(p0)`` with its interval
from the delta method on the log scale, and the relative reduction ``1 - ratio`` (the Peterborough measure,
here covariate-adjusted) with the interval ``1 - exp(log ratio +- z se)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy.optimize import minimize_scalar
from scipy.special import expit, gammaln
from scipy.stats import norm

from sop_eval.errors import SopEvalError, examples
from sop_eval.stats.wls import SingularDesign, WLSFit, cluster_vcov, hc_vcov, twoway_cluster_vcov, wls

MODELS = ("linear", "logit", "poisson", "negbin")


@dataclass(frozen=True)
class GcompResult:
    """Averaged predictions under treatment (``p1``) and control (``p0``) for the treated, their covariance and
    the fitted model."""

    p1: float
    p0: float
    vcov_means: np.ndarray
    model: str
    coefficients: np.ndarray
    vcov_coefficients: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def estimate(self) -> float:
        return self.p1 - self.p0

    @property
    def se(self) -> float:
        v = self.vcov_means
        return float(np.sqrt(max(v[0, 0] + v[1, 1] - 2 * v[0, 1], 0.0)))

    def ratio(self, level: float = 0.95) -> dict[str, float]:
        """Rate ratio ``p1 / p0`` and relative reduction ``1 - p1 / p0``, intervals on the log scale."""
        if self.p1 <= 0 or self.p0 <= 0:
            raise SopEvalError("the rate ratio needs positive averaged predictions; the outcome has no events.")
        v = self.vcov_means
        grad = np.array([1 / self.p1, -1 / self.p0])
        se_log = float(np.sqrt(max(grad @ v @ grad, 0.0)))
        z = float(norm.ppf(0.5 + level / 2))
        log_rr = float(np.log(self.p1 / self.p0))
        lo, hi = np.exp(log_rr - z * se_log), np.exp(log_rr + z * se_log)
        return {"rate_ratio": float(np.exp(log_rr)), "log_rate_ratio_se": se_log, "rate_ratio_low": float(lo),
                "rate_ratio_high": float(hi), "relative_reduction": float(1 - np.exp(log_rr)),
                "relative_reduction_low": float(1 - hi), "relative_reduction_high": float(1 - lo)}


def _design(treat: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model matrix ``[1, T, Xc, T Xc]`` and the same for the treated rows set to T = 1 and T = 0."""
    t = treat.astype(float)
    xbar = (X * (w * t)[:, None]).sum(0) / (w * t).sum()
    Xc = X - xbar
    D = np.column_stack([np.ones(len(t)), t, Xc, Xc * t[:, None]])
    rows = Xc[treat]
    one = np.ones(len(rows))
    D1 = np.column_stack([one, one, rows, rows])
    D0 = np.column_stack([one, 0 * one, rows, 0 * rows])
    return D, D1, D0


def _nb_loglik(y: np.ndarray, mu: np.ndarray, w: np.ndarray, alpha: float) -> float:
    r = 1 / alpha
    ll = gammaln(y + r) - gammaln(r) - gammaln(y + 1) + y * np.log(alpha * mu / (1 + alpha * mu)) - r * np.log1p(
        alpha * mu)
    return float(w @ ll)


def _glm(y: np.ndarray, D: np.ndarray, w: np.ndarray, model: str, alpha: float = 1.0,
         start: np.ndarray | None = None, strict: bool = True) -> np.ndarray:
    family = {"logit": sm.families.Binomial(), "poisson": sm.families.Poisson(),
              "negbin": sm.families.NegativeBinomial(alpha=alpha)}[model]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, D, family=family, var_weights=w).fit(start_params=start, tol=1e-12, maxiter=200)
    if strict and (not res.converged or not np.all(np.isfinite(res.params))):
        raise SopEvalError(f"the {model} outcome model did not converge (statsmodels IRLS); check the outcome for "
                           "separation or drop covariates.")
    return np.asarray(res.params)


def fit_outcome_model(y: np.ndarray, D: np.ndarray, w: np.ndarray, model: str) -> tuple[WLSFit, float]:
    """Fit ``model`` and return it as a :class:`WLSFit` with working weights and residuals (module docstring),
    and the negative binomial ``alpha`` (0 for the other models)."""
    if model == "linear":
        try:
            return wls(y, D, w), 0.0
        except SingularDesign as err:
            raise SopEvalError(f"the outcome model is singular (rank {err.rank} of {err.k}): a covariate is constant "
                               "in the matched sample or collinear with others; drop it from covariates=.") from None
    if np.linalg.matrix_rank(D.T @ (D * w[:, None])) < D.shape[1]:
        raise SopEvalError("the outcome model is singular: a covariate is constant in the matched sample or collinear "
                           "with others; drop it from covariates=.")
    alpha, start = 0.0, None
    if model == "negbin":
        start = _glm(y, D, w, "poisson")

        def nll(log_a: float) -> float:
            a = float(np.exp(log_a))
            return -_nb_loglik(y, np.exp(D @ _glm(y, D, w, "negbin", a, start, strict=False)), w, a)

        opt = minimize_scalar(nll, bounds=(np.log(1e-8), np.log(1e3)), method="bounded",
                              options={"xatol": 1e-8})
        alpha = float(np.exp(opt.x))
    beta = _glm(y, D, w, model, alpha or 1.0, start)
    eta = D @ beta
    if model == "logit":
        mu = expit(eta)
        dmu = v = mu * (1 - mu)
    else:
        mu = dmu = np.exp(eta)
        v = mu / (1 + alpha * mu)  # (dmu/deta)^2 / variance function
    info = D.T @ (D * (w * v)[:, None])
    fit = WLSFit(X=D, y=y, w=w * v, beta=beta, resid=(y - mu) / dmu, bread=np.linalg.inv(info))
    return fit, alpha


def _per_person(y, D, w, person):
    first = np.unique(person, return_index=True)[1]
    inverse = np.unique(person, return_inverse=True)[1]
    return y[first], D[first], np.bincount(inverse, weights=w)


def gcomp(y: np.ndarray, treat: np.ndarray, weights: np.ndarray, X: np.ndarray, *, model: str, se: str,
          cluster: np.ndarray, person: np.ndarray | None = None) -> GcompResult:
    """G-computation ATT of ``y`` on analysis rows (see the module docstring for models and ``se``)."""
    if model not in MODELS:
        raise SopEvalError(f"model={model!r} is not one of {examples(MODELS)}.")
    y = np.asarray(y, dtype=float)
    if model == "logit" and not np.isin(y, (0.0, 1.0)).all():
        raise SopEvalError("model='logit' needs a 0/1 outcome; use model='linear', 'poisson' or 'negbin'.")
    if model in ("poisson", "negbin") and ((y < 0).any()):
        raise SopEvalError(f"model={model!r} needs a non-negative outcome (counts or rates).")
    w = np.asarray(weights, dtype=float)
    D, D1, D0 = _design(treat, np.asarray(X, dtype=float).reshape(len(y), -1), w)
    details: dict[str, Any] = {"model": model, "n_obs": len(y), "formula": "outcome ~ treat * covariates"}
    if se == "cluster":
        fit, alpha = fit_outcome_model(y, D, w, model)
        if person is None:
            sandwich = cluster_vcov(fit, cluster)
            details["clusters_on"] = "nothing: each person is their own cluster (no matched sets)" \
                if len(np.unique(cluster)) == len(y) else "matched set"
        else:
            sandwich = twoway_cluster_vcov(fit, cluster, person, small_sample="each")
            details["clusters_on"] = "matched set and person (two-way)"
        details["n_clusters"] = sandwich.n_clusters
    else:
        yp, Dp, wp = (y, D, w) if person is None else _per_person(y, D, w, person)
        fit, alpha = fit_outcome_model(yp, Dp, wp, model)
        sandwich = hc_vcov(fit, "HC1" if se == "robust" else se)
        details["clusters_on"] = "nothing (one row per person)"
    if model == "negbin":
        details["alpha"] = alpha
    beta, V = fit.beta, sandwich.vcov
    wt = w[treat]
    eta1, eta0 = D1 @ beta, D0 @ beta
    if model == "linear":
        p1, p0, d1, d0 = eta1, eta0, np.ones(len(eta1)), np.ones(len(eta0))
    elif model == "logit":
        p1, p0 = expit(eta1), expit(eta0)
        d1, d0 = p1 * (1 - p1), p0 * (1 - p0)
    else:
        p1, p0 = np.exp(eta1), np.exp(eta0)
        d1, d0 = p1, p0
    g1 = (wt * d1) @ D1 / wt.sum()
    g0 = (wt * d0) @ D0 / wt.sum()
    G = np.vstack([g1, g0])
    return GcompResult(float(wt @ p1 / wt.sum()), float(wt @ p0 / wt.sum()), G @ V @ G.T, model, beta, V, details)
