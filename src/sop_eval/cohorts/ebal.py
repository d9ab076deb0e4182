"""Entropy balancing (Hainmueller 2012): weights closest to uniform (in Kullback–Leibler divergence) under which
the reweighted group's chosen moments equal the target group's exactly.

For the ATT the controls are reweighted to the treated means; for the ATC the treated to the control means;
for the ATE both groups to the full sample's. ``moments=1`` balances means; ``moments=2`` also balances the
squares of non-binary terms (so their variances match too). The weights of a reweighted group are
``exp(C lambda)`` normalised to sum to the group's size (WeightIt's ``method = "ebal"``); the target group
keeps weight 1.

The dual ``min_lambda log sum_i exp((c_i - target)' lambda)`` is convex; it is solved with scipy's trust-region
Newton method (``trust-exact``, exact gradient and Hessian) on terms standardised by their full-sample SD, then
polished by full Newton steps when the trust region stalls short of the tolerance.
Convergence is judged on the constraints themselves: the largest absolute difference between the weighted and
target moments, in SD units, must be below ``tol`` (default 1e-8). Otherwise :class:`SopEvalError` names the
terms still off balance (typically a target outside the range of the reweighted group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp

from sop_eval.cohorts import weighting, wording
from sop_eval.errors import SopEvalError, examples

ESTIMANDS = ("ATT", "ATC", "ATE")
TOLERANCE = 1e-8


@dataclass(frozen=True)
class EbalFit:
    """Entropy balancing weights, the constraint terms, the largest remaining imbalance and solver details."""

    weights: np.ndarray
    terms: tuple[str, ...]
    max_imbalance: float
    tol: float
    n_iter: int
    moments: int

    def to_dict(self) -> dict[str, object]:
        return {"terms": list(self.terms), "max_imbalance_sd": float(self.max_imbalance), "tol": self.tol,
                "n_iter": int(self.n_iter), "moments": int(self.moments),
                "solver": "scipy.optimize.minimize(method='trust-exact') on the dual, Newton polish"}


def constraint_terms(X: pd.DataFrame, moments: int) -> pd.DataFrame:
    """The columns to balance: every term, plus the square of each non-binary term when ``moments=2``."""
    if moments not in (1, 2):
        raise SopEvalError(f"moments={moments!r} must be 1 (means) or 2 (means and variances).")
    if moments == 1:
        return X
    squares = {f"{c}^2": X[c] ** 2 for c in X.columns if not X[c].isin((0.0, 1.0)).all()}
    return pd.concat([X, pd.DataFrame(squares, index=X.index)], axis=1) if squares else X


def _solve(C: np.ndarray, target: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float, int]:
    """Normalised weights over the rows of ``C`` with weighted mean ``target``; largest gap and iterations."""
    D = C - target

    def fun(lam: np.ndarray) -> float:
        return float(logsumexp(D @ lam))

    def probs(lam: np.ndarray) -> np.ndarray:
        eta = D @ lam
        p = np.exp(eta - eta.max())
        return p / p.sum()

    def jac(lam: np.ndarray) -> np.ndarray:
        return probs(lam) @ D

    def hess(lam: np.ndarray) -> np.ndarray:
        p = probs(lam)
        m = p @ D
        return (D * p[:, None]).T @ D - np.outer(m, m)

    res = minimize(fun, np.zeros(D.shape[1]), jac=jac, hess=hess, method="trust-exact",
                   options={"gtol": tol * 1e-2, "maxiter": max_iter})
    lam, nit = res.x, int(res.nit)
    # the trust region can stall a hair short of the tolerance; full Newton steps finish a convex problem
    for _ in range(20):
        g = jac(lam)
        if not D.shape[1] or np.max(np.abs(g)) <= tol:
            break
        try:
            lam = lam - np.linalg.lstsq(hess(lam), g, rcond=None)[0]
        except np.linalg.LinAlgError:
            break
        nit += 1
    p = probs(lam)
    return p, float(np.max(np.abs(p @ D))) if D.shape[1] else 0.0, nit


def entropy_balance(X: pd.DataFrame, treat: np.ndarray, estimand: str = "ATT", *, moments: int = 1,
                    tol: float = TOLERANCE, max_iter: int = 200) -> EbalFit:
    """Entropy balancing weights on the design matrix ``X`` (no intercept); see the module docstring."""
    if estimand not in ESTIMANDS:
        raise SopEvalError(f"estimand={estimand!r} is not one of {examples(ESTIMANDS)} for entropy balancing.")
    C = constraint_terms(X, moments)
    names = tuple(map(str, C.columns))
    values = C.to_numpy(dtype=float)
    sd = values.std(axis=0)
    sd[sd == 0] = 1.0
    Z = (values - values.mean(axis=0)) / sd
    w = np.ones(len(treat))
    groups = {"ATT": [(~treat, treat)], "ATC": [(treat, ~treat)],
              "ATE": [(~treat, np.ones(len(treat), bool)), (treat, np.ones(len(treat), bool))]}[estimand]
    worst, iterations = 0.0, 0
    for reweighted, target in groups:
        p, gap, nit = _solve(Z[reweighted], Z[target].mean(axis=0), tol, max_iter)
        iterations += nit
        if not np.isfinite(gap) or gap > tol:
            off = np.abs(p @ Z[reweighted] - Z[target].mean(axis=0))
            bad = [f"{names[j]} ({off[j]:.2g} SD)" for j in np.argsort(-off) if off[j] > tol]
            raise SopEvalError(
                f"entropy balancing did not converge for estimand {estimand!r} (moments={moments}): after {nit} "
                f"Newton iterations the weighted moments still differ from the target by up to {gap:.3g} SD "
                f"(tolerance {tol:g}) in {examples(bad, 6)}. The target lies at or outside the range of the "
                "reweighted group for these terms; drop or coarsen them"
                f"{', use moments=1' if moments == 2 else ''}, or use method='weighting'."
            )
        worst = max(worst, gap)
        w[reweighted] = p * reweighted.sum()
    return EbalFit(w, names, worst, float(tol), iterations, int(moments))


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for entropy balancing with these :func:`sop_eval.match` options."""
    moments = "means and variances" if options.get("moments") == 2 else "means"
    return (f"entropy balancing{wording.within(options)} (estimand {wording.estimand(options)}), exact balance of the "
            f"covariate {moments}, no propensity score and no trimming (trimming would undo the balance); "
            f"{weighting.ESS}")
