"""Weighted least squares with heteroskedasticity- and cluster-robust sandwich covariances.

Hand-written, not a wrapper of statsmodels: one solve here serves every covariance the callers ask for
(HC0–HC3, one-way CR1, two-way CR1, the bootstrap's cross-products) without refitting; degrees of freedom
can count fixed effects absorbed before the fit (the reghdfe/fixest convention, which statsmodels does not
offer); and the two-way cluster covariance uses the fixest/reghdfe small-sample factor and a stated
eigenvalue fix, which statsmodels' ``cov_cluster_2groups`` does not.

Conventions (``n`` rows with positive weight, ``k`` columns of ``X`` plus ``extra_params``):

- bread ``(X'WX)^-1``, scores ``x_i w_i e_i`` (the whitened-data scores of statsmodels' WLS);
- ``HC0`` no factor; ``HC1`` ``n / (n - k)``; ``HC2`` scores divided by ``sqrt(1 - h_i)``; ``HC3`` by
  ``1 - h_i``, with leverage ``h_i = w_i x_i' (X'WX)^-1 x_i`` (MacKinnon and White 1985; R
  ``sandwich::vcovHC``);
- ``CR1`` (one-way cluster): ``G / (G - 1) * (n - 1) / (n - k)`` times the sandwich of cluster-summed
  scores (Stata, fixest, R ``sandwich::vcovCL(type = "HC1")``, statsmodels ``cov_type="cluster"``);
- two-way CR1 (Cameron, Gelbach and Miller 2011): ``V_A + V_B - V_AB`` with ``AB`` the intersection
  clusters. ``small_sample="min"`` (default; fixest and reghdfe) uses ``G_min / (G_min - 1)`` with
  ``G_min = min(G_A, G_B)`` for all three terms; ``"each"`` gives every term its own ``G / (G - 1)``
  (CGM's paper, statsmodels). When the result is not positive semi-definite its negative eigenvalues are
  set to zero (CGM 2011, section 2.3) and :attr:`Sandwich.psd_fixed` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sop_eval.errors import SopEvalError

HC_KINDS = ("HC0", "HC1", "HC2", "HC3")


class SingularDesign(SopEvalError):
    """``X'WX`` is singular: a column is constant among the weighted rows or collinear with others."""

    def __init__(self, rank: int, k: int) -> None:
        super().__init__(
            f"the regression design is singular (rank {rank} of {k}): a column is constant or collinear with "
            "others; drop it."
        )
        self.rank = rank
        self.k = k


@dataclass(frozen=True, eq=False)
class WLSFit:
    """A weighted least-squares fit: coefficients, residuals and the bread ``(X'WX)^-1``."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    beta: np.ndarray
    resid: np.ndarray
    bread: np.ndarray

    @property
    def n_obs(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_params(self) -> int:
        return int(self.X.shape[1])

    def scores(self) -> np.ndarray:
        """Per-row scores ``x_i w_i e_i`` (n × k)."""
        return self.X * (self.w * self.resid)[:, None]

    def leverage(self) -> np.ndarray:
        """Diagonal of the weighted hat matrix, ``w_i x_i' (X'WX)^-1 x_i``."""
        return self.w * np.einsum("ij,jk,ik->i", self.X, self.bread, self.X)


@dataclass(frozen=True, eq=False)
class Sandwich:
    """A sandwich covariance: the matrix, its name, the small-sample factor and the cluster count(s)."""

    vcov: np.ndarray
    kind: str
    factor: float
    n_obs: int
    n_clusters: int | tuple[int, int] | None = None
    psd_fixed: bool = False

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))


def wls(y: np.ndarray, X: np.ndarray, w: np.ndarray | None = None) -> WLSFit:
    """Weighted least squares of ``y`` on ``X`` (every row is kept; give zero-weight rows only if wanted).

    Raises :class:`SingularDesign` (a :class:`~sop_eval.errors.SopEvalError`) when ``X'WX`` is rank-deficient.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=float)
    xtwx = X.T @ (X * w[:, None])
    rank = int(np.linalg.matrix_rank(xtwx))
    if rank < xtwx.shape[0]:
        raise SingularDesign(rank, int(xtwx.shape[0]))
    bread = np.linalg.inv(xtwx)
    beta = bread @ (X.T @ (w * y))
    return WLSFit(X=X, y=y, w=w, beta=beta, resid=y - X @ beta, bread=bread)


def hc_vcov(fit: WLSFit, kind: str = "HC1", *, extra_params: int = 0) -> Sandwich:
    """Heteroskedasticity-consistent covariance ``kind`` in HC0–HC3 (``extra_params`` counts absorbed effects
    in HC1's ``n / (n - k)``)."""
    if kind not in HC_KINDS:
        raise SopEvalError(f"kind={kind!r} is not a heteroskedasticity-consistent covariance; use one of "
                           f"{', '.join(HC_KINDS)}.")
    scores = fit.scores()
    if kind in ("HC2", "HC3"):
        leverage = fit.leverage()
        scale = np.sqrt(1 - leverage) if kind == "HC2" else 1 - leverage
        scores = scores / np.where(scale > 0, scale, np.inf)[:, None]
    n, k = fit.n_obs, fit.n_params + extra_params
    factor = n / (n - k) if kind == "HC1" else 1.0
    return Sandwich(factor * fit.bread @ (scores.T @ scores) @ fit.bread, kind, factor, n)


def cluster_codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes ``0..G-1`` of any cluster labels, and ``G``."""
    codes = np.unique(np.asarray(cluster), return_inverse=True)[1].reshape(-1)
    return codes, int(codes.max()) + 1 if codes.size else 0


def _meat(scores: np.ndarray, codes: np.ndarray, g: int) -> np.ndarray:
    summed = np.zeros((g, scores.shape[1]))
    np.add.at(summed, codes, scores)
    return summed.T @ summed


def cluster_vcov(fit: WLSFit, cluster: np.ndarray, *, extra_params: int = 0) -> Sandwich:
    """One-way cluster-robust CR1 covariance, ``G/(G-1) * (n-1)/(n-k)`` with ``k`` the columns of ``X`` plus
    ``extra_params`` (e.g. absorbed effects not nested in the clusters)."""
    codes, g = cluster_codes(cluster)
    if g < 2:
        raise SopEvalError(f"cluster-robust standard errors need at least two clusters; there are {g}. "
                           "Use a heteroskedasticity-robust (HC) covariance instead.")
    n, k = fit.n_obs, fit.n_params + extra_params
    factor = g / (g - 1) * (n - 1) / (n - k)
    meat = _meat(fit.scores(), codes, g)
    return Sandwich(factor * fit.bread @ meat @ fit.bread, "CR1", factor, n, g)


def psd_part(v: np.ndarray) -> tuple[np.ndarray, bool]:
    """``v`` with its negative eigenvalues set to zero (``v`` itself when it has none), and whether it changed."""
    vals, vecs = np.linalg.eigh((v + v.T) / 2)
    if vals.min() >= 0:
        return v, False
    return (vecs * np.clip(vals, 0, None)) @ vecs.T, True


def twoway_cluster_vcov(fit: WLSFit, a: np.ndarray, b: np.ndarray, *, extra_params: int = 0,
                        small_sample: str = "min") -> Sandwich:
    """Two-way cluster-robust covariance (Cameron, Gelbach and Miller 2011): ``V_A + V_B - V_{A∩B}``.

    ``small_sample="min"`` scales every term by ``G_min/(G_min-1) * (n-1)/(n-k)`` (fixest, reghdfe);
    ``"each"`` scales each term by its own ``G/(G-1)``. A result that is not positive semi-definite has its
    negative eigenvalues set to zero (``psd_fixed=True``).
    """
    if small_sample not in ("min", "each"):
        raise SopEvalError(f"small_sample={small_sample!r} is not 'min' (fixest, reghdfe) or 'each' (CGM 2011).")
    ca, ga = cluster_codes(a)
    cb, gb = cluster_codes(b)
    if min(ga, gb) < 2:
        raise SopEvalError(f"two-way cluster-robust standard errors need at least two clusters in each dimension; "
                           f"there are {ga} and {gb}. Cluster on one dimension instead.")
    cab, gab = cluster_codes(ca.astype(np.int64) * gb + cb)
    n, k = fit.n_obs, fit.n_params + extra_params
    scores = fit.scores()
    g_min = min(ga, gb)
    total = np.zeros((fit.n_params, fit.n_params))
    for codes, g, sign in ((ca, ga, 1.0), (cb, gb, 1.0), (cab, gab, -1.0)):
        g_adj = g_min if small_sample == "min" else g
        c = g_adj / (g_adj - 1) if g_adj > 1 else 1.0
        total += sign * c * _meat(scores, codes, g)
    dof = (n - 1) / (n - k)
    vcov, fixed = psd_part(dof * fit.bread @ total @ fit.bread)
    factor = dof * (g_min / (g_min - 1) if small_sample == "min" else 1.0)
    return Sandwich(vcov, "CR1 two-way", factor, n, (ga, gb), fixed)


def demean(M: np.ndarray, factors: Sequence[np.ndarray], w: np.ndarray, tol: float = 1e-13,
           max_iter: int = 10_000) -> np.ndarray:
    """Residuals of the columns of ``M`` after (weighted) projection on the dummies of every factor.

    Alternating projections (exact in one sweep for one factor or a balanced panel); ``factors`` are integer
    codes ``0..L-1``.
    """
    out = np.array(M, dtype=float, copy=True)
    if out.ndim == 1:
        out = out[:, None]
    sizes = [np.bincount(f, weights=w) for f in factors]
    for _ in range(max_iter):
        before = out.copy()
        for f, size in zip(factors, sizes, strict=True):
            means = np.vstack([np.bincount(f, weights=w * out[:, j], minlength=len(size)) for j in
                               range(out.shape[1])]).T / size[:, None]
            out -= means[f]
        if len(factors) < 2 or np.max(np.abs(out - before)) < tol * (1 + np.max(np.abs(before))):
            break
    return out
