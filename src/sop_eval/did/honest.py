"""Robust inference when parallel trends may fail: HonestDiD (Rambachan & Roth 2023).

Input: an event study's estimates ``betahat`` (pre-periods first, the reference period left out) and their
covariance ``sigma``. ``theta = l' tau_post`` is a post-period effect (``l`` a unit vector) or the average of the
post-period effects (``l`` = 1/T_post each). Two kinds of restriction on the post-period violation ``delta``:

- **Relative magnitudes** Δ^RM(Mbar): every post-period change in the violation is at most ``Mbar`` times the
  largest pre-period change. Confidence sets are the conditional least-favourable hybrid ("C-LF", Andrews,
  Roth & Pakes): the union over the pre-period attaining the maximum and its sign of the ARP tests, each test
  first rejecting when the LP statistic exceeds the least-favourable critical value at ``kappa = alpha/10``
  (1,000 normal draws, seed 0), then applying the conditional test at ``(alpha - kappa)/(1 - kappa)``. Values of
  ``theta`` are tested on a grid of 1,000 points over ±20 sd(l' betahat_post); the set's bounds are the extreme
  accepted grid points. Only the post-period moments enter the tests (R's ``postPeriodMomentsOnly = TRUE``).
  The LP statistic of every grid point, and its dual solution where one vertex of the dual polytope attains the
  maximum (the LP is solved where the maximum is tied), are read off the enumerated vertices; the breakdown search
  tests grid points outward from zero and stops at the first accepted one on each side.
- **Smoothness** Δ^SD(M): the second differences of the violation are bounded by ``M`` (M = 0: linear
  pre-trend extrapolated). Confidence intervals are the optimal fixed-length CIs (FLCI, Armstrong & Kolesár):
  an affine estimator ``a + v' betahat`` whose half-length ``cv_alpha(bias/sd) sd`` is minimised over the
  sd-bound ``h`` by R's derivative bisection (100 steps between the minimum-variance and minimum-bias ``h``),
  the worst-case bias for a given ``h`` solved as a smooth program (SLSQP), the folded-normal quantile
  simulated with 10⁶ draws (seed 0) as R ``HonestDiD`` does.

These conventions are those of R ``HonestDiD`` and the Python ``honestdid`` package, which the tests reproduce
on the same inputs (``tests/results/did/honest/``). LPs use scipy's ``linprog`` (HiGHS). The **breakdown value**
is the smallest ``Mbar`` (or ``M``) at which the robust set includes zero, found by bisection on multiples of a
power of ten (``breakdown_step``) between the grid values that bracket it, so that it agrees with the grid's rows.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sop_eval.errors import SopEvalError, SopEvalWarning
from sop_eval.outputs import json_safe
from sop_eval.stats.estimate import alpha_of, resolve_level

_GRID_POINTS = 1000
_LF_SIMS = 1000


# ---------------------------------------------------------------- restriction matrices

def _a_rm(n_pre: int, n_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Δ^RM_{s,±}(Mbar) as ``A delta <= 0`` (delta without the reference period)."""
    T = n_pre + n_post
    At = np.zeros((T, T + 1))
    At[np.arange(T), np.arange(T)] = -1.0
    At[np.arange(T), np.arange(T) + 1] = 1.0
    v = np.zeros(T + 1)
    v[n_pre + s - 1], v[n_pre + s] = -1.0, 1.0
    if not positive:
        v = -v
    ub = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    A = np.vstack([At - ub, -At - ub])
    A = A[(A**2).sum(axis=1) > 1e-10]
    return np.delete(A, n_pre, axis=1)


def _gamma(lvec: np.ndarray) -> np.ndarray:
    """An invertible matrix with ``lvec'`` as first row: ``lvec`` then the unit vectors except the one at lvec's
    last non-zero entry (the pivot columns of rref([lvec, I]))."""
    k = int(np.flatnonzero(lvec)[-1])
    return np.vstack([lvec, np.delete(np.eye(len(lvec)), k, axis=0)])


# ---------------------------------------------------------------- ARP / hybrid tests

def _truncnorm_quantile(p: float, lo: float, hi: float, mu: float = 0.0, sd: float = 1.0) -> float:
    if sd <= 0:
        return mu
    a, b = (lo - mu) / sd, (hi - mu) / sd
    if a >= b:
        return mu + a * sd
    if math.isinf(a) and a < 0 and math.isinf(b) and b > 0:
        return float(stats.norm.ppf(p) * sd + mu)
    return float(mu + stats.truncnorm.ppf(p, a, b) * sd)


def _dual_vertices(X: np.ndarray, sd: np.ndarray) -> np.ndarray | None:
    """Vertices of the dual polytope ``{lam >= 0: sd'lam = 1, X'lam = 0}`` of the statistic's LP, so that
    ``eta(y) = max over vertices of lam'y`` for every ``y`` at once (None when there are too many bases)."""
    W = np.column_stack([sd, X])
    m, r = W.shape[0], int(np.linalg.matrix_rank(W))
    if math.comb(m, r) > 400_000:
        return None
    e1 = np.zeros(W.shape[1])
    e1[0] = 1.0
    found = []
    combos = itertools.combinations(range(m), r)
    while chunk := list(itertools.islice(combos, 20_000)):
        idx = np.array(chunk)
        WB = np.transpose(W[idx], (0, 2, 1))  # (n, k+1, r)
        if WB.shape[1] != r:
            return None
        ok = np.abs(np.linalg.det(WB)) > 1e-12
        if not ok.any():
            continue
        lam_b = np.linalg.solve(WB[ok], np.broadcast_to(e1, (int(ok.sum()), r))[..., None])[..., 0]
        good = (lam_b >= -1e-12).all(axis=1)
        full = np.zeros((int(good.sum()), m))
        np.put_along_axis(full, idx[ok][good], np.clip(lam_b[good], 0, None), axis=1)
        found.append(full)
    return np.vstack(found) if found else None


def _lf_cv(X: np.ndarray | None, sigma: np.ndarray, kappa: float, seed: int = 0,
           vertices: np.ndarray | None = None) -> float:
    """Least-favourable critical value: the 1 - kappa quantile of the LP statistic under zero moments
    (draws: numpy's legacy ``RandomState(seed).multivariate_normal``, as ``honestdid``)."""
    draws = np.random.RandomState(seed).multivariate_normal(np.zeros(sigma.shape[0]), sigma, size=_LF_SIMS)
    sd = np.sqrt(np.diag(sigma))
    if X is None:
        return float(np.quantile((draws / sd).max(axis=1), 1 - kappa))
    if vertices is not None:
        return float(np.quantile((draws @ vertices.T).max(axis=1), 1 - kappa))
    C = np.column_stack([-sd, -X])
    f = np.zeros(C.shape[1])
    f[0] = 1.0
    etas = []
    for xi in draws:
        r = optimize.linprog(f, A_ub=C, b_ub=-xi, bounds=[(None, None)] * C.shape[1], method="highs")
        if r.success:
            etas.append(r.x[0])
    return float(np.quantile(etas, 1 - kappa)) if etas else math.inf


def _eta_lp(y: np.ndarray, X: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray, bool]:
    """min eta s.t. y - X delta <= eta sd: the statistic and the (non-negative) duals."""
    sd = np.sqrt(np.diag(sigma))
    C = np.column_stack([-sd, -X])
    f = np.zeros(C.shape[1])
    f[0] = 1.0
    r = optimize.linprog(f, A_ub=C, b_ub=-y, bounds=[(None, None)] * C.shape[1], method="highs")
    if not r.success:
        return math.nan, np.zeros(len(y)), False
    return float(r.x[0]), -r.ineqlin.marginals, True


def _max_program(s_T: np.ndarray, g: np.ndarray, sigma: np.ndarray, W: np.ndarray,
                 c: float) -> tuple[float, np.ndarray, bool]:
    gsg = float(g @ sigma @ g)
    f = s_T if abs(gsg) < 1e-30 else s_T + (sigma @ g) * c / gsg
    beq = np.zeros(W.shape[1])
    beq[0] = 1.0
    r = optimize.linprog(-f, A_eq=W.T, b_eq=beq, bounds=[(0, None)] * len(f), method="highs")
    return (-r.fun if r.success else math.nan), (r.x if r.success else np.zeros(len(f))), bool(r.success)


def _roundeps(x: float) -> float:
    return 0.0 if abs(x) < np.finfo(float).eps ** 0.75 else float(x)


def _vlo_vup_dual(eta: float, s_T: np.ndarray, g: np.ndarray, sigma: np.ndarray, W: np.ndarray) -> tuple[float, float]:
    """Truncation bounds of the dual statistic by the bisection of ARP's Appendix D (as R ``HonestDiD``)."""
    tol_c, tol_eq = 1e-6, 1e-6
    gsg = float(g @ sigma @ g)
    if abs(gsg) < 1e-30:
        return -math.inf, math.inf
    sd_b = math.sqrt(gsg)
    b_vec = (sigma @ g) / gsg

    def check(c: float) -> tuple[bool, np.ndarray]:
        opt, sol, ok = _max_program(s_T, g, sigma, W, c)
        return ok and abs(c - opt) <= tol_eq, sol

    if not check(eta)[0]:
        return eta, math.inf

    def bound(start: float, upper: bool) -> float:
        honest, sol = check(start)
        if honest:
            return math.inf if upper else -math.inf
        dif, iters = 0.0, 1
        denom = 1.0 - float(sol @ b_vec)
        mid = _roundeps(float(sol @ s_T)) / denom if abs(denom) > 1e-15 else start
        honest, sol = check(mid)
        while not honest and iters < 10000:
            iters += 1
            if iters >= 10:
                dif = tol_c + 1
                break
            denom = 1.0 - float(sol @ b_vec)
            mid = _roundeps(float(sol @ s_T)) / denom if abs(denom) > 1e-15 else mid
            honest, sol = check(mid)
        lo, hi = (eta, mid) if upper else (mid, eta)
        while dif > tol_c and iters < 10000:
            iters += 1
            mid = (lo + hi) / 2
            inside = check(mid)[0]
            if upper:
                lo, hi = (mid, hi) if inside else (lo, mid)
            else:
                lo, hi = (lo, mid) if inside else (mid, hi)
            dif = hi - lo
        return mid

    return bound(min(-100.0, eta - 20 * sd_b), False), bound(max(100.0, eta + 20 * sd_b), True)


def _arp_test(y: np.ndarray, X: np.ndarray, sigma: np.ndarray, alpha: float, kappa: float,
              lf_cv: float | None, solved: tuple[float, np.ndarray] | None = None) -> bool:
    """Reject ``E[y - X delta] <= 0`` for some delta? ARP's conditional test, hybridised with the LF test
    when ``lf_cv`` is given. ``solved``: the statistic and its duals when already known (else the LP)."""
    eta, lam, ok = (*solved, True) if solved is not None else _eta_lp(y, X, sigma)
    if not ok:
        warnings.warn("HonestDiD: the LP for the test statistic did not converge; not rejecting.", SopEvalWarning,
                      stacklevel=2)
        return False
    if lf_cv is not None:
        if eta > lf_cv:
            return True
        size = (alpha - kappa) / (1 - kappa)
    else:
        size = alpha
    k = X.shape[1]
    B = lam > 1e-6
    XB = X[B]
    full_rank = XB.size > 0 and np.linalg.matrix_rank(XB) == min(XB.shape)
    if not full_rank or B.sum() != k + 1:
        gsg = float(lam @ sigma @ lam)
        if abs(gsg) < np.finfo(float).eps:
            return eta > 0
        sd_w = math.sqrt(gsg)
        W = np.column_stack([np.sqrt(np.diag(sigma)), X])
        s_T = (np.eye(len(y)) - (sigma @ np.outer(lam, lam)) / gsg) @ y
        vlo, vup = _vlo_vup_dual(eta, s_T, lam, sigma, W)
        stat, zlo = eta / sd_w, vlo / sd_w
        zup = (min(vup, lf_cv) if lf_cv is not None else vup) / sd_w
    else:
        sd = np.sqrt(np.diag(sigma))
        S = np.eye(len(y))
        cb, cbc = np.column_stack([sd[B], X[B]]), np.column_stack([sd[~B], X[~B]])
        inv = np.linalg.solve(cb, S[B])
        G = cbc @ inv - S[~B]
        v = inv[0]
        s2 = float(v @ sigma @ v)
        rho = G @ sigma @ v / s2
        maxim = -(G @ y) / rho + float(v @ y)
        vlo = float(maxim[rho > 0].max()) if (rho > 0).any() else -math.inf
        vup = float(maxim[rho < 0].min()) if (rho < 0).any() else math.inf
        sd_w = math.sqrt(s2)
        stat, zlo = eta / sd_w, vlo / sd_w
        zup = (min(vup, lf_cv) if lf_cv is not None else vup) / sd_w
    if not zlo <= stat <= zup:
        return False
    return stat > max(0.0, _truncnorm_quantile(1 - size, zlo, zup))


def _lf_test_no_nuisance(y: np.ndarray, sigma: np.ndarray, A: np.ndarray, d: np.ndarray, alpha: float,
                         kappa: float, lf_cv: float) -> bool:
    """The LF hybrid test of ``A y <= d`` with no nuisance parameter (one post-period)."""
    st = np.sqrt(np.diag(A @ sigma @ A.T))
    At, dt = A / st[:, None], d / st
    mom = At @ y - dt
    j = int(np.argmax(mom))
    if mom[j] > lf_cv:
        return True
    gam = At[j]
    Abar = At - At[j][None, :]
    dbar = dt - dt[j]
    gsg = float(gam @ sigma @ gam)
    c = sigma @ gam / gsg
    z = y - c * float(gam @ y)
    Ac = Abar @ c
    obj = (dbar - Abar @ z) / np.where(Ac == 0, np.nan, Ac)
    vlo = float(obj[Ac < 0].max()) if (Ac < 0).any() else -math.inf
    vup = float(obj[Ac > 0].min()) if (Ac > 0).any() else math.inf
    size = (alpha - kappa) / (1 - kappa)
    crit = max(0.0, _truncnorm_quantile(1 - size, vlo, vup, mu=float(dt[j]), sd=math.sqrt(gsg)))
    return mom[j] + dt[j] > crit


def _unique_optimum(values: np.ndarray, vertices: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The statistic and its duals from the dual vertices when one vertex alone attains the maximum (the LP's dual
    solution is then that vertex); ``None`` when the maximum is tied, left to the LP."""
    if len(values) < 2:
        return (float(values[0]), vertices[0]) if len(values) else None
    top2 = np.partition(values, -2)[-2:]
    if top2[1] - top2[0] <= 1e-9 * max(1.0, abs(float(top2[1]))):
        return None
    return float(top2[1]), vertices[int(np.argmax(values))]


def _rm_tests(betahat: np.ndarray, sigma: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray, mbar: float,
              alpha: float, grid: np.ndarray) -> list[Callable[[int], bool]]:
    """One test per (pre-period ``s``, sign) of Δ^RM(Mbar): ``test(k)`` rejects grid point ``k``? A point is in the
    C-LF set when some test does not reject it."""
    kappa = alpha / 10
    tests: list[Callable[[int], bool]] = []
    for s in range(-(n_pre - 1), 1):
        for positive in (True, False):
            A = _a_rm(n_pre, n_post, mbar, s, positive)
            d = np.zeros(A.shape[0])
            if n_post == 1:
                rows = np.flatnonzero(A[:, -1] != 0)
                A1, d1 = A[rows], d[rows]
                lf1 = _lf_cv(None, A1 @ sigma @ A1.T, kappa)
                e = np.zeros(len(betahat))
                e[n_pre] = 1.0
                tests.append(lambda k, A1=A1, d1=d1, lf1=lf1, e=e: _lf_test_no_nuisance(
                    betahat - e * grid[k], sigma, A1, d1, alpha, kappa, lf1))
                continue
            rows = np.flatnonzero((A[:, n_pre:] != 0).sum(axis=1) > 0)
            AGi = A[:, n_pre:] @ np.linalg.inv(_gamma(lvec))
            Y = A @ betahat - d
            sY = A @ sigma @ A.T
            Xr, sYr = AGi[rows, 1:], sY[np.ix_(rows, rows)]
            V = _dual_vertices(Xr, np.sqrt(np.diag(sYr)))
            lf = _lf_cv(Xr, sYr, kappa, vertices=V)
            # grid points whose statistic exceeds the LF critical value are rejected at the first stage; the
            # statistic of every grid point at once from the dual vertices (the LP's optimal value is unique)
            vals = (V @ Y[rows][:, None] - (V @ AGi[rows, 0])[:, None] * grid[None, :]) if V is not None else None
            first = vals.max(axis=0) > lf + 1e-9 if vals is not None else np.zeros(len(grid), dtype=bool)

            def test(k: int, Y: np.ndarray = Y, AGi: np.ndarray = AGi, rows: np.ndarray = rows, Xr: np.ndarray = Xr,
                     sYr: np.ndarray = sYr, lf: float = lf, V: np.ndarray | None = V, vals: np.ndarray | None = vals,
                     first: np.ndarray = first) -> bool:
                if first[k]:
                    return True
                solved = _unique_optimum(vals[:, k], V) if vals is not None and V is not None else None
                return _arp_test((Y - AGi[:, 0] * grid[k])[rows], Xr, sYr, alpha, kappa, lf, solved)

            tests.append(test)
    return tests


def _rm_accept(betahat: np.ndarray, sigma: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray, mbar: float,
               alpha: float, grid: np.ndarray) -> np.ndarray:
    """Accepted grid points of the C-LF set under Δ^RM(Mbar) (union over s and sign)."""
    accept = np.zeros(len(grid), dtype=bool)
    for test in _rm_tests(betahat, sigma, n_pre, n_post, lvec, mbar, alpha, grid):
        for k in range(len(grid)):
            if not accept[k]:
                accept[k] = not test(k)
    return accept


def _rm_covers_zero(betahat: np.ndarray, sigma: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray,
                    mbar: float, alpha: float, grid: np.ndarray) -> bool:
    """Whether the C-LF set's bounds (its extreme accepted grid points) enclose zero, i.e. some grid point at or
    below zero and some at or above it are accepted (or none at all, as an empty set has no bounds to exclude
    zero): the same tests as :func:`_rm_accept`, stopping at the first accepted point on each side."""
    tests = _rm_tests(betahat, sigma, n_pre, n_post, lvec, mbar, alpha, grid)

    def accepted(side: np.ndarray) -> bool:
        idx = np.flatnonzero(side)
        return any(not t(int(k)) for k in idx[np.argsort(np.abs(grid[idx]), kind="stable")] for t in tests)

    below, above = accepted(grid <= 0), accepted(grid >= 0)
    return below == above


# ---------------------------------------------------------------- FLCI under smoothness

class _Flci:
    """The pieces of the FLCI problem for one ``lvec`` and covariance."""

    def __init__(self, sigma: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray, seed: int = 0):
        K = n_pre
        self.K, self.lvec = K, lvec
        W2L = np.eye(K) - np.eye(K, k=-1)
        sp, spp = sigma[:K, :K], sigma[:K, K:]
        self.Q = W2L.T @ sp @ W2L
        self.Q = (self.Q + self.Q.T) / 2
        self.a = 2.0 * W2L.T @ spp @ lvec
        self.c = float(lvec @ sigma[K:, K:] @ lvec)
        self.target = float(np.arange(1, n_post + 1) @ lvec)
        self.const = (sum(abs(float(np.arange(1, s + 1) @ lvec[n_post - s:])) for s in range(1, n_post + 1))
                      - self.target)
        self.W2L = W2L
        self.L = np.tril(np.ones((K, K)))
        self.draws = np.sort(np.random.RandomState(seed).normal(size=10**6))

    def var(self, w: np.ndarray) -> float:
        return float(w @ self.Q @ w + self.a @ w + self.c)

    def h0(self) -> float:
        w = np.zeros(self.K)
        w[-1] = self.target
        return math.sqrt(max(self.var(w), 0.0))

    def min_var(self) -> tuple[float, np.ndarray]:
        K = self.K
        kkt = np.block([[2 * self.Q, np.ones((K, 1))], [np.ones((1, K)), np.zeros((1, 1))]])
        sol = np.linalg.lstsq(kkt, np.append(-self.a, self.target), rcond=None)[0]
        w = sol[:K]
        return math.sqrt(max(self.var(w), 0.0)), w

    def bias(self, h: float, w0: np.ndarray) -> tuple[float, np.ndarray]:
        """Minimum worst-case bias (per unit M) of the estimators with sd <= h, and their pre-period weights."""
        K, L = self.K, self.L
        x0 = np.concatenate([np.abs(L @ w0) + 1e-9, w0])
        cons = [
            {"type": "ineq", "fun": lambda x: np.concatenate([x[:K] - L @ x[K:], x[:K] + L @ x[K:]]),
             "jac": lambda x: np.block([[np.eye(K), -L], [np.eye(K), L]])},
            {"type": "eq", "fun": lambda x: np.array([x[K:].sum() - self.target]),
             "jac": lambda x: np.concatenate([np.zeros(K), np.ones(K)])[None, :]},
            {"type": "ineq", "fun": lambda x: np.array([h**2 - self.var(x[K:])]),
             "jac": lambda x: np.concatenate([np.zeros(K), -(2 * self.Q @ x[K:] + self.a)])[None, :]},
        ]
        r = optimize.minimize(lambda x: x[:K].sum(), x0, jac=lambda x: np.concatenate([np.ones(K), np.zeros(K)]),
                              constraints=cons, method="SLSQP", options={"ftol": 1e-13, "maxiter": 1000})
        w = r.x[K:]
        return self.const + float(np.abs(L @ w).sum()), w

    def q_folded(self, p: float, mu: float) -> float:
        """``numpy.quantile(|draws + mu|, p)`` (linear interpolation) without re-sorting: the order statistics
        of ``|z + mu|`` merge two sorted runs of the sorted draws, searched in O(log n)."""
        s = self.draws
        n = len(s)
        j = int(np.searchsorted(s, -mu, side="left"))  # s[j:] + mu >= 0 ascending; -(s[:j] + mu) descending

        def A(i: int) -> float:  # i-th smallest of the non-negative run
            return float(s[j + i] + mu)

        def B(i: int) -> float:  # i-th smallest of the negative run, folded
            return float(-(s[j - 1 - i] + mu))

        m1, m2 = n - j, j

        def kth(k: int) -> float:
            lo, hi = max(0, k + 1 - m2), min(k + 1, m1)
            while lo < hi:  # i elements from A, k + 1 - i from B
                i = (lo + hi) // 2
                if i < m1 and k - i >= 0 and k - i < m2 and B(k - i) > A(i):
                    lo = i + 1
                else:
                    hi = i
            i = lo
            cands = []
            if i > 0:
                cands.append(A(i - 1))
            if k + 1 - i > 0:
                cands.append(B(k - i))
            return max(cands)

        pos = p * (n - 1)
        k = int(math.floor(pos))
        lo_v = kth(k)
        return lo_v if k + 1 >= n else lo_v + (pos - k) * (kth(k + 1) - lo_v)


def _flci(betahat: np.ndarray, sigma: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray, M: float,
          alpha: float, n_points: int = 100) -> tuple[float, float]:
    pr = _Flci(sigma, n_pre, n_post, lvec)
    h0 = pr.h0()
    hmin, wmin = pr.min_var()
    cache: dict[float, tuple[float, np.ndarray]] = {}

    def bias_at(h: float) -> tuple[float, np.ndarray]:
        if h not in cache:
            cache[h] = pr.bias(max(h, hmin), wmin)
        return cache[h]

    def f(h: float) -> float:
        b = bias_at(h)[0]
        return pr.q_folded(1 - alpha, M * b / h) * h

    a, b = hmin, h0
    dif = (b - a) / n_points
    hstar = math.nan
    if dif > 0:
        fa, fb = f(a), f(b)
        fpa, fpb = (f(a + dif) - fa) / dif, (f(b - dif) - fb) / (-dif)
        maxiter = int(10 * math.ceil(math.log(max(abs(b - a) / max(dif, 1e-15), 1)) / math.log(2)))
        failtol = max(np.finfo(float).eps ** 0.5, 2.0)
        if fpa <= fpb:
            if fpb < 0:
                hstar = b
            elif fpa > 0:
                hstar = a
            else:
                failed, it = False, 1
                while not failed and abs(b - a) > dif:
                    it += 1
                    x = (a + b) / 2
                    fpx = (f(x + dif) - f(x - dif)) / (2 * dif)
                    failed = fpx > fpb + failtol or fpx + failtol < fpa or it > maxiter
                    a, b = (a, x) if fpx > 0 else (x, b)
                hstar = math.nan if failed else (a + b) / 2
    if math.isnan(hstar):
        grid = np.linspace(hmin, h0, max(n_points, 1000))
        hstar = float(grid[int(np.argmin([f(h) for h in grid]))])
    bias, w = bias_at(hstar)
    half = pr.q_folded(1 - alpha, M * bias / hstar) * hstar
    pe = float(np.concatenate([pr.W2L @ w, lvec]) @ betahat)
    return pe - half, pe + half


# ---------------------------------------------------------------- public API

def _check_inputs(betahat: Any, sigma: Any, n_pre: int, n_post: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    b = np.asarray(betahat, dtype=float).ravel()
    s = np.asarray(sigma, dtype=float)
    if s.shape != (len(b), len(b)):
        raise SopEvalError(f"sigma has shape {s.shape}; it must be {len(b)} × {len(b)} to match betahat.")
    if not np.allclose(s, s.T, atol=1e-10 * max(1.0, float(np.abs(s).max()))):
        raise SopEvalError("sigma is not symmetric; pass the covariance matrix of betahat.")
    n_post = len(b) - n_pre if n_post is None else int(n_post)
    if n_pre < 1 or n_post < 1 or n_pre + n_post != len(b):
        raise SopEvalError(f"n_pre={n_pre} and n_post={n_post} must be >= 1 and add up to len(betahat)="
                           f"{len(b)} (the reference period is left out).")
    if not (np.isfinite(b).all() and np.isfinite(s).all()):
        raise SopEvalError("betahat and sigma must be finite (an event time without an estimate? drop it first).")
    return b, s, n_post


def _l_vector(target: int | str | Sequence[float], n_post: int) -> tuple[np.ndarray, str]:
    if isinstance(target, str):
        if target != "average":
            raise SopEvalError(f"target={target!r}: give 'average', a post-period index (0 = first), or weights.")
        return np.full(n_post, 1.0 / n_post), "average of post-period effects"
    if isinstance(target, (int, np.integer)):
        if not 0 <= target < n_post:
            raise SopEvalError(f"target={target} is not a post-period index 0..{n_post - 1}.")
        lvec = np.zeros(n_post)
        lvec[target] = 1.0
        return lvec, f"post-period effect {int(target)} (event time {int(target)})"
    lvec = np.asarray(target, dtype=float).ravel()
    if len(lvec) != n_post or not lvec.any():
        raise SopEvalError(f"target weights must have {n_post} entries, not all zero.")
    return lvec, "weighted post-period effects"


@dataclass(frozen=True, eq=False)
class HonestResult:
    """Robust confidence sets for ``theta = l' tau_post`` over a grid of ``Mbar`` (relative magnitudes) or ``M``
    (smoothness), with the original (parallel-trends) interval. As an estimate: ``estimate`` is ``l' betahat_post``,
    ``se`` its standard error, ``conf_int()`` the original interval; the robust sets are in ``summary()``."""

    restriction: str
    target: str
    l_vec: np.ndarray
    estimate: float
    se: float
    level: float
    grid: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    breakdown: float
    method: str
    n_pre: int
    n_post: int
    breakdown_step: float = math.nan
    """The resolution of the breakdown search: the breakdown value is a multiple of it (or a grid value)."""

    def __repr__(self) -> str:
        name = "Mbar" if self.restriction == "relative_magnitudes" else "M"
        return (f"HonestResult({self.restriction}, {self.target}: {self.estimate:.4g}, breakdown {name} = "
                f"{self.breakdown:.3g})")

    @property
    def parameter(self) -> str:
        return "Mbar" if self.restriction == "relative_magnitudes" else "M"

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """The original interval (parallel trends exact) at ``level``."""
        lv = self.level if level is None else resolve_level(level, None, "conf_int")
        z = stats.norm.ppf(0.5 + lv / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def summary(self) -> pd.DataFrame:
        """One row for the original interval, then one per ``Mbar``/``M``: lb, ub, method."""
        lo, hi = self.conf_int()
        rows = [{"restriction": "none (parallel trends)", self.parameter: np.nan, "lb": lo, "ub": hi,
                 "method": "original", "target": self.target, "level": self.level}]
        for g, a, b in zip(self.grid, self.lb, self.ub, strict=True):
            rows.append({"restriction": self.restriction, self.parameter: g, "lb": a, "ub": b, "method": self.method,
                         "target": self.target, "level": self.level})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return json_safe({"estimator": "honestdid", "restriction": self.restriction, "target": self.target,
                          "l_vec": self.l_vec.tolist(), "estimate": self.estimate, "se": self.se, "level": self.level,
                          "method": self.method, "breakdown": self.breakdown,
                          "breakdown_step": self.breakdown_step, "n_pre": self.n_pre,
                          "n_post": self.n_post, "rows": self.summary().to_dict(orient="records")})


def _set_at(restriction: str, b: np.ndarray, s: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray, m: float,
            alpha: float) -> tuple[float, float]:
    if restriction == "relative_magnitudes":
        sd = float(np.sqrt(lvec @ s[n_pre:, n_pre:] @ lvec))
        grid = np.linspace(-20 * sd, 20 * sd, _GRID_POINTS)
        acc = _rm_accept(b, s, n_pre, n_post, lvec, m, alpha, grid)
        if acc[0] or acc[-1]:
            warnings.warn("HonestDiD: the robust set is open at an end of the grid; its bounds are not accurate.",
                          SopEvalWarning, stacklevel=2)
        return (float(grid[acc].min()), float(grid[acc].max())) if acc.any() else (math.nan, math.nan)
    return _flci(b, s, n_pre, n_post, lvec, m, alpha)


def _breakdown(restriction: str, b: np.ndarray, s: np.ndarray, n_pre: int, n_post: int, lvec: np.ndarray,
               alpha: float, upper: float, step: float, grid: np.ndarray, bounds: Sequence[tuple[float, float]]
               ) -> float:
    """The smallest multiple of ``step`` (or grid value) whose robust set includes zero; 0 when the set at 0 does,
    ``inf`` when none up to ``upper`` does. The rows already computed on ``grid`` bracket the search, so every
    grid value below the result excludes zero and the first at or above it includes zero."""
    def covers_zero(m: float) -> bool:
        if restriction == "relative_magnitudes":
            sd = float(np.sqrt(lvec @ s[n_pre:, n_pre:] @ lvec))
            return _rm_covers_zero(b, s, n_pre, n_post, lvec, m, alpha, np.linspace(-20 * sd, 20 * sd, _GRID_POINTS))
        with warnings.catch_warnings():  # only whether zero is inside matters here, not the exact bounds
            warnings.simplefilter("ignore", SopEvalWarning)
            lo, hi = _set_at(restriction, b, s, n_pre, n_post, lvec, m, alpha)
        return not (lo > 0 or hi < 0)

    below, first_cover = 0.0, None
    for m, (lo_m, hi_m) in sorted(zip(grid.tolist(), bounds, strict=True)):
        if np.isfinite(lo_m) and lo_m <= 0 <= hi_m:
            first_cover = m
            break
        below = max(below, m)
    if (first_cover is not None and first_cover <= 0) or (0.0 not in grid and covers_zero(0.0)):
        return 0.0
    if first_cover is None and not covers_zero(upper):
        return math.inf
    k_lo, k_hi = math.floor(below / step), math.ceil((upper if first_cover is None else first_cover) / step)
    while k_hi - k_lo > 1:
        mid = (k_lo + k_hi) // 2
        k_lo, k_hi = (k_lo, mid) if covers_zero(mid * step) else (mid, k_hi)
    found = k_hi * step
    return found if first_cover is None else min(found, first_cover)


def honest_did(betahat: Any, sigma: Any, n_pre: int, n_post: int | None = None, *,
               restriction: str = "relative_magnitudes", grid: Sequence[float] | None = None,
               target: int | str | Sequence[float] = 0, level: float | None = None,
               breakdown: bool = True, breakdown_tol: float | None = None,
               target_label: str | None = None) -> HonestResult:
    """HonestDiD sensitivity of an event study (see the module docstring for the methods).

    ``betahat``/``sigma``: the event-study estimates with the pre-periods first (``n_pre`` of them) and their
    covariance, reference period left out. ``restriction``: ``"relative_magnitudes"`` (grid of ``Mbar``, default
    0, 0.25, …, 2) or ``"smoothness"`` (grid of ``M``, default 10 points from 0 to the sd of the first post-period
    estimate). ``target``: a post-period index (0 = the first post-period), ``"average"`` or weights
    (``target_label``: the target in words, when weights stand for a named one).
    ``breakdown``: also find the smallest ``Mbar``/``M`` whose set includes zero, searched on multiples of a power of
    ten no larger than ``breakdown_tol`` (default 1% of the grid's top; the step is ``breakdown_step``) and never above
    the first ``grid`` value whose set includes zero; ``inf`` if none up to 4 × the top.
    """
    b, s, n_post = _check_inputs(betahat, sigma, n_pre, n_post)
    if restriction not in ("relative_magnitudes", "smoothness"):
        raise SopEvalError(f"restriction={restriction!r} is not 'relative_magnitudes' or 'smoothness'.")
    level = resolve_level(level, None, "honest_did")
    alpha = alpha_of(level)
    lvec, label = _l_vector(target, n_post)
    label = target_label or label
    est = float(lvec @ b[n_pre:])
    se = float(np.sqrt(lvec @ s[n_pre:, n_pre:] @ lvec))
    if grid is None:
        g = np.linspace(0, 2, 9) if restriction == "relative_magnitudes" else np.linspace(0, se, 10)
    else:
        g = np.asarray(grid, dtype=float)
    bounds = [_set_at(restriction, b, s, n_pre, n_post, lvec, float(m), alpha) for m in g]
    top = float(g.max()) if g.size and g.max() > 0 else 1.0
    step = 10.0 ** math.floor(math.log10(breakdown_tol or top / 100))
    bd = _breakdown(restriction, b, s, n_pre, n_post, lvec, alpha, 4 * top, step, g, bounds) \
        if breakdown else math.nan
    return HonestResult(restriction=restriction, target=label, l_vec=lvec, estimate=est, se=se, level=level, grid=g,
                        lb=np.array([x[0] for x in bounds]), ub=np.array([x[1] for x in bounds]), breakdown=bd,
                        method="C-LF" if restriction == "relative_magnitudes" else "FLCI", n_pre=n_pre, n_post=n_post,
                        breakdown_step=step if breakdown else math.nan)


def event_study_inputs(result: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``betahat``, ``sigma``, ``n_pre``, ``n_post`` from a dynamic aggregate of ``att_gt`` (its ``vcov`` from the
    influence functions; the reference event time, whose estimate is identically 0, is dropped) or an
    :class:`~sop_eval.did.event_study.EventStudyResult` (its coefficient covariance)."""
    labels = np.asarray(result.labels if hasattr(result, "labels") else getattr(result, "event_time", []), dtype=float)
    beta = np.asarray(getattr(result, "att", getattr(result, "coef", None)), dtype=float)
    V = getattr(result, "vcov", None)
    if V is None or beta is None or len(labels) != len(beta):
        raise SopEvalError("honest_did needs an event study: att_gt(...).aggregate('dynamic') or event_study(...).")
    V = np.asarray(V, dtype=float)
    keep = np.isfinite(beta) & (np.diag(V) > 0)
    labels, beta, V = labels[keep], beta[keep], V[np.ix_(keep, keep)]
    lead = int(getattr(result, "anticipation", 0) or 0)
    n_pre = int((labels < -lead).sum())
    if n_pre < 1:
        raise SopEvalError("the event study has no pre-treatment estimate"
                           + (f" before its {lead} anticipation period(s)" if lead else "")
                           + "; HonestDiD needs at least one.")
    return beta, V, n_pre, int((labels >= -lead).sum())


def post_weights(result: Any, target: int | str) -> tuple[int | str | list[float], str | None]:
    """``target`` (``"average"`` or an event time from 0) as weights on the post-period block of
    :func:`event_study_inputs`, where that block starts with the anticipation periods: they count as
    post-treatment (departures from parallel trends may begin there) but carry no weight in the effect. Returns
    the weights and the target in words (``None``: :func:`honest_did`'s own)."""
    lead = int(getattr(result, "anticipation", 0) or 0)
    if not lead:
        return target, None
    labels = np.asarray(result.labels, dtype=float)
    keep = np.isfinite(np.asarray(result.att, dtype=float)) & (np.diag(np.asarray(result.vcov, dtype=float)) > 0)
    post = labels[keep][labels[keep] >= -lead]
    after = post >= 0
    if not after.any():
        raise SopEvalError("the event study has no estimate after adoption yet.")
    if target == "average":
        return np.where(after, 1.0 / after.sum(), 0.0).tolist(), "average of post-period effects"
    if not (post == float(target)).any():
        raise SopEvalError(f"target={target} is not an event time of the post-period estimates 0..{post.max():g}.")
    weights = np.where(post == float(target), 1.0, 0.0).tolist()
    return weights, f"post-period effect {int(target)} (event time {int(target)})"


def honest_sensitivity(result: Any, **options: Any) -> HonestResult:
    """:func:`honest_did` on an event study result: ``att_gt(...).aggregate("dynamic")`` or ``event_study(...)``
    (``options`` as :func:`honest_did`: ``restriction``, ``grid``, ``target``, ``level``, ``breakdown``).
    Anticipation periods of the fit are not pre-periods (see :func:`post_weights`)."""
    b, V, n_pre, n_post = event_study_inputs(result)
    target = options.get("target", 0)
    if isinstance(target, (str, int, np.integer)):
        options["target"], label = post_weights(result, target)
        options.setdefault("target_label", label)
    return honest_did(b, V, n_pre, n_post, **options)


__all__ = ["honest_did", "honest_sensitivity", "HonestResult", "event_study_inputs", "post_weights"]
