"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021), as R ``synthdid``.

One machinery, three estimators (``estimator=``):

- ``"sdid"`` (Algorithm 1): unit weights ω solve ``min ζ² T0 ||ω||² + ||ω₀ + Y_co,preᵀ ω - ȳ_tr,pre||²`` over the
  simplex with an intercept ω₀, ζ = (N_tr T_post)^{1/4} σ̂ and σ̂ the standard deviation of the first
  differences of the donors' pre-period outcomes; time weights λ solve the same problem across periods
  (pre-period columns predicting the post-period mean, with intercept) with the "tiny" ridge ζ_λ = 10⁻⁶ σ̂.
  Both are solved by Frank–Wolfe with exact line search: 100 iterations, sparsification (weights at most a
  quarter of the largest set to zero, the rest renormalised), then iterations until the objective falls by less
  than (10⁻⁵ σ̂)² or 10,000 iterations — R ``synthdid_estimate`` step for step.
  τ̂ = (ȳ_tr,post - ω'Y_co,post) - Σ_t λ_t (ȳ_tr,t - ω'Y_co,t).
- ``"sc"`` (``sc_estimate``): λ = 0, no unit intercept, ridge ζ_ω = 10⁻⁶ σ̂: the synthetic control fitted to every
  pre-period outcome.
- ``"did"`` (``did_estimate``): uniform ω and λ.

Standard errors (``se=``): ``"placebo"`` (Algorithm 4: the treated block reassigned at random among donors,
weights re-estimated; the only one defined with one treated area), ``"bootstrap"`` (Algorithm 2: areas resampled,
weights re-estimated, draws with no donor or no treated area redrawn) and ``"jackknife"`` (Algorithm 3: leave
one area out with the weights held fixed; undefined with one treated area or one donor with weight). Each SE is
``sqrt((R - 1)/R)`` times the standard deviation of the R replicates, as in R. ``"auto"`` is placebo with one
treated area and bootstrap otherwise. Intervals are normal, ``τ̂ ± z se``. Replications use ``seed``
(None: :data:`sop_eval.seeds.DEFAULT_SEED`); R's random numbers differ, so placebo and bootstrap SEs agree with
R's only up to simulation error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sop_eval.errors import SopEvalError
from sop_eval.outputs import json_safe
from sop_eval.seeds import resolve_seed
from sop_eval.stats.estimate import resolve_level
from sop_eval.synth.panel import AreaMatrix, area_matrix
from sop_eval.synth.solver import collapsed_form, fw_sparse

ESTIMATORS = ("sdid", "sc", "did")
SE_METHODS = ("auto", "placebo", "bootstrap", "jackknife", "none")


@dataclass(frozen=True)
class SdidOptions:
    """The tuning that a re-estimate (placebo, bootstrap, jackknife) reuses unchanged, as R's ``opts``."""

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = 10_000
    max_iter_pre_sparsify: int = 100
    sparsify: bool = True


def _sum_normalize(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s != 0 else np.full(len(x), 1.0 / len(x))


def _fit(Y: np.ndarray, N0: int, T0: int, opts: SdidOptions, omega: np.ndarray | None,
         lam: np.ndarray | None) -> tuple[float, np.ndarray, np.ndarray]:
    """τ̂, ω, λ for one outcome matrix (weights passed are fixed or, when updated, starting values)."""
    tau, w, lp = _fit_batch(Y[None], N0, T0, opts, None if omega is None else omega[None],
                            None if lam is None else lam[None])
    return float(tau[0]), w[0], lp[0]


def _fit_batch(Y: np.ndarray, N0: int, T0: int, opts: SdidOptions, omega: np.ndarray | None,
               lam: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_fit` for a stack of outcome matrices ``Y`` (R, N, T) sharing N0 and T0."""
    R, N, T = Y.shape
    N1, T1 = N - N0, T - T0
    pre_iter = opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter
    if opts.update_lambda or opts.update_omega:
        Yc = collapsed_form(Y, N0, T0)
        if opts.update_lambda:
            lam = fw_sparse(Yc[:, :N0, :], opts.zeta_lambda, opts.lambda_intercept, lam, opts.min_decrease,
                            opts.max_iter, pre_iter, opts.sparsify)
        if opts.update_omega:
            omega = fw_sparse(np.swapaxes(Yc[:, :, :T0], 1, 2), opts.zeta_omega, opts.omega_intercept, omega,
                              opts.min_decrease, opts.max_iter, pre_iter, opts.sparsify)
    if omega is None or lam is None:
        raise SopEvalError("internal: weights were neither given nor estimated.")
    u = np.concatenate([-omega, np.full((R, N1), 1.0 / N1)], axis=1)
    v = np.concatenate([-lam, np.full((R, T1), 1.0 / T1)], axis=1)
    return np.einsum("rn,rnt,rt->r", u, Y, v), omega, lam


def noise_level(Y: np.ndarray, N0: int, T0: int) -> float:
    """σ̂: the standard deviation (n - 1) of the first differences of the donors' pre-period outcomes."""
    return float(np.std(np.diff(Y[:N0, :T0], axis=1), ddof=1))


def _options(Y: np.ndarray, N0: int, T0: int, estimator: str) -> tuple[SdidOptions, float, np.ndarray | None,
                                                                       np.ndarray | None]:
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    sigma = noise_level(Y, N0, T0)
    eta_omega = (N1 * T1) ** 0.25 if estimator == "sdid" else 1e-6
    omega0 = np.full(N0, 1.0 / N0) if estimator == "did" else None
    lam0 = {"sdid": None, "sc": np.zeros(T0), "did": np.full(T0, 1.0 / T0)}[estimator]
    opts = SdidOptions(zeta_omega=eta_omega * sigma, zeta_lambda=1e-6 * sigma,
                       omega_intercept=estimator != "sc", lambda_intercept=True,
                       update_omega=omega0 is None, update_lambda=lam0 is None, min_decrease=1e-5 * sigma)
    return opts, sigma, omega0, lam0


def _placebo_replicates(Y: np.ndarray, N0: int, T0: int, opts: SdidOptions, omega: np.ndarray, lam: np.ndarray,
                        R: int, rng: np.random.Generator, curves: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 4: ``R`` random permutations of the donors, the last N1 of each playing the treated areas; the
    replicates are fitted together in batches (each exactly as alone)."""
    N1 = Y.shape[0] - N0
    if N0 <= N1:
        raise SopEvalError(f"the placebo SE needs more donors ({N0}) than treated areas ({N1}).")
    n0 = N0 - N1
    perms = np.stack([rng.permutation(N0) for _ in range(R)])
    batch = max(1, min(R, int(2**28 // max(1, 8 * N0 * Y.shape[1]))))
    est = np.empty(R)
    per_unit: list[np.ndarray] = []
    for lo in range(0, R, batch):
        ind = perms[lo:lo + batch]
        Yp = Y[ind]
        start = omega[ind[:, :n0]]
        sums = start.sum(axis=1, keepdims=True)
        start = np.where(sums != 0, start / np.where(sums == 0, 1.0, sums), 1.0 / n0)
        est[lo:lo + batch], w, lp = _fit_batch(Yp, n0, T0, opts, start, np.repeat(lam[None], len(ind), axis=0))
        if curves:
            gap = Yp[:, n0:, :] - np.einsum("rn,rnt->rt", w, Yp[:, :n0, :])[:, None, :]
            per_unit.append((gap[:, :, T0:] - np.einsum("rut,rt->ru", gap[:, :, :T0], lp)[:, :, None])
                            .reshape(-1, Y.shape[1] - T0))
    return est, (np.vstack(per_unit) if curves else np.empty((0, Y.shape[1] - T0)))


def _bootstrap_replicates(Y: np.ndarray, N0: int, T0: int, opts: SdidOptions, omega: np.ndarray, lam: np.ndarray,
                          R: int, rng: np.random.Generator) -> np.ndarray:
    N = Y.shape[0]
    if N - N0 == 1:
        return np.full(R, np.nan)
    est = np.empty(R)
    count = 0
    while count < R:
        ind = np.sort(rng.integers(0, N, size=N))
        if (ind < N0).all() or (ind >= N0).all():
            continue
        n0 = int((ind < N0).sum())
        est[count] = _fit(Y[ind], n0, T0, opts, _sum_normalize(omega[ind[:n0]]), lam)[0]
        count += 1
    return est


def _jackknife_replicates(Y: np.ndarray, N0: int, T0: int, opts: SdidOptions, omega: np.ndarray,
                          lam: np.ndarray) -> np.ndarray:
    N = Y.shape[0]
    if N - N0 == 1 or (omega != 0).sum() == 1:
        return np.full(N, np.nan)
    fixed = replace(opts, update_omega=False, update_lambda=False)
    out = np.empty(N)
    for i in range(N):
        keep = np.delete(np.arange(N), i)
        n0 = int((keep < N0).sum())
        out[i] = _fit(Y[keep], n0, T0, fixed, _sum_normalize(omega[keep[:n0]]), lam)[0]
    return out


def _replicate_se(est: np.ndarray, method: str) -> float:
    R = len(est)
    if R < 2 or not np.isfinite(est).all():
        return float("nan")
    if method == "jackknife":
        return float(np.sqrt((R - 1) / R * (R - 1) * np.var(est, ddof=1)))
    return float(np.sqrt((R - 1) / R) * np.std(est, ddof=1))


@dataclass(frozen=True, eq=False)
class SdidResult:
    """An SDID, SC or DID estimate from the ``synthdid`` machinery (see the module docstring for conventions).

    ``estimate`` is τ̂, the average effect over the treated areas' post-treatment periods; ``se`` its standard
    error by ``se_method`` (NaN where undefined, e.g. the jackknife with one treated area); ``omega`` the donor
    weights, ``lambda_`` the pre-period weights; ``replicates`` the placebo/bootstrap/jackknife estimates.
    """

    estimator: str
    estimate: float
    se: float
    se_method: str
    level: float
    data: AreaMatrix
    omega: np.ndarray
    lambda_: np.ndarray
    options: SdidOptions
    noise_level: float
    replications: int
    seed: int | None
    replicates: np.ndarray = field(repr=False)
    placebo_curves: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"SdidResult({self.estimator}: {self.estimate:.4g} (se {self.se:.3g}, {self.se_method}), "
                f"{self.data.N1} treated × {self.data.T1} post-periods, {self.data.N0} donors)")

    @property
    def outcome(self) -> str:
        return self.data.outcome

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Normal interval ``τ̂ ± z se`` at ``level`` (default: the result's)."""
        z = stats.norm.ppf(0.5 + (self.level if level is None else resolve_level(level, None, "conf_int")) / 2)
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def summary(self) -> pd.DataFrame:
        """One row: estimator, estimate, se, interval at ``level``, the SE method and the panel's dimensions."""
        lo, hi = self.conf_int()
        return pd.DataFrame([{
            "estimator": self.estimator, "estimate": self.estimate, "se": self.se, "ci_low": lo, "ci_high": hi,
            "level": self.level, "se_method": self.se_method, "replications": self.replications,
            "n_treated": self.data.N1, "n_donors": self.data.N0, "n_pre": self.data.T0, "n_post": self.data.T1,
            "start": self.data.start,
        }])

    def unit_weights(self) -> pd.DataFrame:
        """Donor weights ω, largest first (zero weights included)."""
        out = pd.DataFrame({"unit": self.data.donors, "weight": self.omega})
        return out.sort_values(["weight", "unit"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def time_weights(self) -> pd.DataFrame:
        """Pre-period weights λ in period order."""
        return pd.DataFrame({"period": self.data.times[: self.data.T0], "weight": self.lambda_})

    def effect_curve(self) -> pd.DataFrame:
        """The effect in each post-period averaged over treated areas (R ``synthdid_effect_curve``); their
        mean is ``estimate``."""
        d = self.data
        gap = d.Y[d.N0:].mean(axis=0) - self.omega @ d.Y[: d.N0]
        return pd.DataFrame({"period": d.times[d.T0:], "effect": gap[d.T0:] - gap[: d.T0] @ self.lambda_})

    def area_effects(self) -> pd.DataFrame:
        """The effect per treated area and post-period: the area's gap to the ω-weighted donors, less its
        λ-weighted pre-period gap."""
        d = self.data
        gap = d.Y[d.N0:] - self.omega @ d.Y[: d.N0]
        eff = gap[:, d.T0:] - (gap[:, : d.T0] @ self.lambda_)[:, None]
        return pd.DataFrame({"unit": np.repeat(d.treated, d.T1), "period": np.tile(d.times[d.T0:], d.N1),
                             "effect": eff.ravel()})

    def trajectories(self) -> pd.DataFrame:
        """Per period: the treated areas' mean, the ω-weighted donors' mean, and the weighted donors shifted by
        the λ-weighted pre-period difference (the counterfactual the estimate compares with; for ``"sc"`` no
        shift)."""
        d = self.data
        tr = d.Y[d.N0:].mean(axis=0)
        co = self.omega @ d.Y[: d.N0]
        shift = (tr[: d.T0] - co[: d.T0]) @ self.lambda_
        return pd.DataFrame({"period": d.times, "treated": tr, "synthetic": co, "counterfactual": co + shift,
                             "post": np.arange(len(d.times)) >= d.T0})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, estimate, weights and the effect curve."""
        return json_safe({
            "estimator": f"synthdid:{self.estimator}", "outcome": self.outcome, "estimate": self.estimate,
            "se": self.se, "se_method": self.se_method, "level": self.level, "conf_int": list(self.conf_int()),
            "replications": self.replications, "seed": self.seed, "noise_level": self.noise_level,
            "zeta_omega": self.options.zeta_omega, "zeta_lambda": self.options.zeta_lambda,
            "n_treated": self.data.N1, "n_donors": self.data.N0, "n_pre": self.data.T0, "n_post": self.data.T1,
            "treated": list(self.data.treated), "start": self.data.start,
            "unit_weights": self.unit_weights().to_dict(orient="records"),
            "time_weights": self.time_weights().to_dict(orient="records"),
            "effect_curve": self.effect_curve().to_dict(orient="records"), "notes": list(self.notes),
        })

    def in_time_placebo(self, treated_fraction: float | None = None) -> SdidResult:
        """The same estimator on pre-treatment data only, with a fake start ``floor(T0 (1 - fraction))`` periods
        in (default fraction: the real post/total share), R ``synthdid_placebo``; its estimate should be near 0."""
        d = self.data
        frac = 1 - d.T0 / d.Y.shape[1] if treated_fraction is None else float(treated_fraction)
        t0 = int(np.floor(d.T0 * (1 - frac)))
        if not 2 <= t0 < d.T0:
            raise SopEvalError(f"treated_fraction={treated_fraction!r} leaves {t0} placebo pre-periods; choose a "
                               "fraction giving at least 2 and fewer than the real pre-period.")
        sub = AreaMatrix(d.Y[:, : d.T0], d.units, d.times[: d.T0], d.N0, t0, d.outcome)
        return fit_matrix(sub, self.estimator, se="none", level=self.level)


def fit_matrix(data: AreaMatrix, estimator: str = "sdid", *, se: str = "auto", replications: int = 200,
               seed: int | None = None, level: float | None = None, curves: bool = False) -> SdidResult:
    """Fit ``estimator`` to an :class:`AreaMatrix` (see the module docstring); ``curves=True`` keeps the placebo
    areas' effect curves (``placebo_curves``, one row per pseudo-treated area and replication)."""
    if estimator not in ESTIMATORS:
        raise SopEvalError(f"estimator={estimator!r} is not one of {', '.join(map(repr, ESTIMATORS))}.")
    if se not in SE_METHODS:
        raise SopEvalError(f"se={se!r} is not one of {', '.join(map(repr, SE_METHODS))}.")
    if not (isinstance(replications, (int, np.integer)) and replications >= 2):
        raise SopEvalError(f"replications={replications!r} must be a whole number >= 2, e.g. 200.")
    level = resolve_level(level, None, "synthdid")
    Y, N0, T0 = data.Y, data.N0, data.T0
    opts, sigma, omega0, lam0 = _options(Y, N0, T0, estimator)
    tau, omega, lam = _fit(Y, N0, T0, opts, omega0, lam0)
    method = ("placebo" if data.N1 == 1 else "bootstrap") if se == "auto" else se
    rng = np.random.default_rng(resolve_seed(seed))
    notes: list[str] = []
    pc = np.empty((0, data.T1))
    if method == "placebo":
        reps, pc = _placebo_replicates(Y, N0, T0, opts, omega, lam, int(replications), rng, curves)
    elif method == "bootstrap":
        reps = _bootstrap_replicates(Y, N0, T0, opts, omega, lam, int(replications), rng)
        if data.N1 == 1:
            notes.append("the bootstrap SE is undefined with one treated area; use se='placebo'")
    elif method == "jackknife":
        reps = _jackknife_replicates(Y, N0, T0, opts, omega, lam)
        if not np.isfinite(reps).all():
            notes.append("the jackknife SE is undefined with one treated area or one donor with weight")
    else:
        reps = np.empty(0)
    se_val = _replicate_se(reps, method) if method != "none" else float("nan")
    return SdidResult(estimator=estimator, estimate=tau, se=se_val, se_method=method, level=level, data=data,
                      omega=omega, lambda_=lam, options=opts, noise_level=sigma,
                      replications=len(reps) if method != "none" else 0, seed=resolve_seed(seed) if method in
                      ("placebo", "bootstrap") else None, replicates=reps, placebo_curves=pc, notes=tuple(notes))


def synthdid(panel: pd.DataFrame, *, unit: str, time: str, outcome: str, treated: Sequence[Any] | None = None,
             start: Any = None, treatment: str | None = None, estimator: str = "sdid", se: str = "auto",
             replications: int = 200, seed: int | None = None, level: float | None = None) -> SdidResult:
    """Synthetic DiD (``estimator="sdid"``), or the SC / DID estimates from the same machinery, on a long panel.

    Treated areas and timing as :func:`sop_eval.synth.panel.area_matrix`; the rest as the module docstring.
    """
    data = area_matrix(panel, unit=unit, time=time, outcome=outcome, treated=treated, start=start,
                       treatment=treatment)
    return fit_matrix(data, estimator, se=se, replications=replications, seed=seed, level=level)

