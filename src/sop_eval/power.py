"""Power, minimum detectable effects and what a contractual gate means statistically.

Conventions. ``relative_effect`` is the relative change in the treated mean versus the comparison
mean, as :attr:`EffectEstimate.relative` (``-0.10`` is a 10% reduction). The minimum detectable effect
(:func:`mde`) is returned as a positive size of reduction (0.10 = 10%). The test is the Wald z-test of
the difference in means with unequal variances: ``se^2 = design_effect * (s1^2 / n_treated + s0^2 /
(ratio * n_treated))`` where ``s0^2`` is the comparison variance and ``s1^2`` the treated variance at the
alternative. Variances: count outcomes ``dispersion * mean`` (``dispersion`` is the variance-to-mean
ratio: 1 for Poisson, ``1 + mean/k`` for a negative binomial with shape ``k``); binary outcomes
``p (1 - p)``; continuous outcomes ``sd^2``. Two-sided power counts both rejection regions, as
``statsmodels.stats.power.NormalIndPower``; with ``equal_variance=True`` both arms use ``s0^2`` and the
results equal ``NormalIndPower`` with ``effect_size = difference / s0``. ``ratio`` is comparison
people per treated person (Peterborough: up to 10); ``design_effect`` inflates the variance for
reuse of controls or unequal matching weights (1 = independent, equally weighted people).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from tqdm.auto import tqdm

from sop_eval.errors import SopEvalError
from sop_eval.outputs import ShortRepr
from sop_eval.outputs import json_safe as _json_safe
from sop_eval.seeds import resolve_seed
from sop_eval.stats.estimate import alpha_of, level_of, resolve_level

KINDS = ("count", "binary", "continuous")
ALTERNATIVES = ("two-sided", "one-sided")


def _check(
    kind: str, baseline_mean: float, dispersion: float, sd: float | None, alpha: float, alternative: str
) -> None:
    """Validate a scenario; ``alpha`` is the test size ``1 - level``."""
    if kind not in KINDS:
        raise SopEvalError(f"kind={kind!r} must be one of {', '.join(KINDS)}.")
    if alternative not in ALTERNATIVES:
        raise SopEvalError(f"alternative={alternative!r} must be 'two-sided' or 'one-sided'.")
    if not 0 < alpha < 1:
        raise SopEvalError(f"level={1 - alpha:g} must lie strictly between 0 and 1, e.g. 0.95.")
    if kind == "binary" and not 0 < baseline_mean < 1:
        raise SopEvalError(f"baseline_mean={baseline_mean}: a binary outcome's rate must lie strictly between 0 and 1.")
    if kind == "count" and not (baseline_mean > 0 and dispersion > 0):
        raise SopEvalError(f"a count outcome needs baseline_mean > 0 and dispersion > 0; "
                           f"got {baseline_mean}, {dispersion}.")
    if kind == "continuous" and not (sd is not None and sd > 0):
        raise SopEvalError("a continuous outcome needs sd= (its standard deviation) > 0.")


def outcome_variance(kind: str, mean: float, dispersion: float = 1.0, sd: float | None = None) -> float:
    """Per-person outcome variance under the module's conventions."""
    if kind == "binary":
        return float(mean * (1 - mean))
    if kind == "count":
        return float(dispersion * mean)
    return float(sd) ** 2


def _se(relative_effect: float, n_treated: float, ratio: float, baseline_mean: float, kind: str, dispersion: float,
        sd: float | None, design_effect: float, equal_variance: bool) -> float:
    v0 = outcome_variance(kind, baseline_mean, dispersion, sd)
    v1 = v0 if equal_variance else outcome_variance(kind, baseline_mean * (1 + relative_effect), dispersion, sd)
    return float(np.sqrt(design_effect * (v1 / n_treated + v0 / (ratio * n_treated))))


def power(
    relative_effect: float,
    *,
    n_treated: float,
    baseline_mean: float,
    ratio: float = 1.0,
    kind: str = "count",
    dispersion: float = 1.0,
    sd: float | None = None,
    level: float | None = None,
    alternative: str = "two-sided",
    design_effect: float = 1.0,
    equal_variance: bool = False,
    alpha: float | None = None,
) -> float:
    """Probability that the z-test rejects no effect when the true relative change is ``relative_effect``.

    The test is run at significance ``1 - level`` (``level`` 0.95 by default: a 5% test); ``alpha=`` is the
    deprecated spelling of ``1 - level``.
    """
    alpha = alpha_of(resolve_level(level, alpha, "power"))
    _check(kind, baseline_mean, dispersion, sd, alpha, alternative)
    if n_treated <= 0 or ratio <= 0:
        raise SopEvalError(f"n_treated={n_treated} and ratio={ratio} must be positive.")
    se = _se(relative_effect, n_treated, ratio, baseline_mean, kind, dispersion, sd, design_effect, equal_variance)
    shift = abs(relative_effect * baseline_mean) / se
    if alternative == "one-sided":
        return float(stats.norm.sf(stats.norm.isf(alpha) - shift))
    crit = stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


_SCENARIO = ("n_treated", "baseline_mean", "ratio", "kind", "dispersion", "sd", "level", "alternative", "design_effect",
             "equal_variance", "alpha")


def _scenario(options: dict[str, Any], caller: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    unknown = set(options) - set(_SCENARIO) - set(exclude)
    if unknown or set(exclude) & set(options):
        raise SopEvalError(
            f"{caller}() got unexpected argument(s) {sorted(unknown | (set(exclude) & set(options)))}; it takes the "
            f"keyword arguments of power(): {', '.join(k for k in _SCENARIO if k not in exclude)}."
        )
    return options


def mde(*, power: float = 0.8, **scenario: Any) -> float:
    """Minimum detectable relative reduction (positive, 0.10 = 10%) with probability ``power``.

    ``scenario``: the keyword arguments of :func:`power` (``n_treated``, ``baseline_mean``, ``ratio``,
    ``kind``, ``dispersion``, ``sd``, ``level``, ``alternative``, ``design_effect``, ``equal_variance``).
    Infinite when no reduction up to 100% (counts, rates) reaches that power.
    """
    target = power
    if not 0 < target < 1:
        raise SopEvalError(f"power={target} must lie strictly between 0 and 1, e.g. 0.8.")
    options = _scenario(scenario, "mde")
    gap = lambda r: globals()["power"](-r, **options) - target  # noqa: E731
    top = 1 - 1e-9 if options.get("kind", "count") in ("count", "binary") else 1e6
    if gap(top) < 0:
        return float("inf")
    return float(optimize.brentq(gap, 1e-12, top, xtol=1e-12))


def required_n(relative_effect: float, *, power: float = 0.8, **scenario: Any) -> int:
    """Smallest number of treated people giving ``power`` to detect ``relative_effect`` (rounded up).

    ``scenario``: the keyword arguments of :func:`power` other than ``n_treated``.
    """
    if relative_effect == 0:
        raise SopEvalError("relative_effect=0 cannot be detected by any sample size.")
    options = _scenario(scenario, "required_n", exclude=("n_treated",))
    gap = lambda n: globals()["power"](relative_effect, n_treated=n, **options) - power  # noqa: E731
    hi = 10.0
    while gap(hi) < 0:
        hi *= 10
        if hi > 1e12:
            raise SopEvalError("the required sample size exceeds 10^12; the effect is too small to detect.")
    return int(np.ceil(optimize.brentq(gap, 1e-6, hi, xtol=1e-6)))


def gate_pay_probability(gate: float, relative_effect: float, **scenario: Any) -> float:
    """Probability that the estimated relative reduction reaches ``gate`` (e.g. 0.10) when the truth is
    ``relative_effect`` (normal approximation for the estimate; the comparison mean taken as known).

    ``scenario``: the keyword arguments of :func:`power` (``level`` and ``alternative`` play no part).
    At ``relative_effect=0`` this is the gate's false-payment rate: the one-sided test size the gate implies.
    """
    given = _scenario(scenario, "gate_pay_probability", exclude=("level", "alpha", "alternative"))
    options = {"ratio": 1.0, "kind": "count", "dispersion": 1.0, "sd": None, "design_effect": 1.0,
               "equal_variance": False, **given}
    _check(options["kind"], options["baseline_mean"], options["dispersion"], options["sd"], 0.05, "two-sided")
    se = _se(relative_effect, options["n_treated"], options["ratio"], options["baseline_mean"], options["kind"],
             options["dispersion"], options["sd"], options["design_effect"], options["equal_variance"])
    mean = options["baseline_mean"]
    return float(stats.norm.cdf((-gate * mean - relative_effect * mean) / se))


def dispersion_from_pilot(values: Any) -> float:
    """Variance-to-mean ratio of pilot counts (sample variance, ``ddof=1``)."""
    v = _pilot(values)
    if v.mean() <= 0:
        raise SopEvalError("pilot counts have mean 0; the dispersion is undefined.")
    return float(v.var(ddof=1) / v.mean())


def _pilot(values: Any) -> np.ndarray:
    v = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(v):
        raise SopEvalError(f"pilot data must be numeric (dtype {v.dtype}).")
    v = v.to_numpy(dtype=float)
    if np.isnan(v).any() or len(v) < 2:
        raise SopEvalError("pilot data need at least 2 values and no missing values.")
    return v


@dataclass(frozen=True, repr=False)
class SimulatedPower(ShortRepr):
    """Power estimated by simulation, with its Monte Carlo standard error."""

    power: float
    mc_se: float
    relative_effect: float
    n_treated: int
    ratio: float
    alpha: float
    alternative: str
    n_sims: int
    seed: int | None
    source: str
    details: dict[str, Any] = field(default_factory=dict)
    level: float = 0.95

    @property
    def estimate(self) -> float:
        """The simulated power."""
        return self.power

    @property
    def se(self) -> float:
        """Its Monte Carlo standard error (``mc_se``)."""
        return self.mc_se

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Normal interval for the simulated power (Monte Carlo error only) at ``level`` (default: the result's)."""
        c = stats.norm.ppf(0.5 + (self.level if level is None else level) / 2)
        return (self.power - c * self.mc_se, self.power + c * self.mc_se)

    def summary(self) -> pd.DataFrame:
        """One row with the simulated power and its settings."""
        lo, hi = self.conf_int()
        settings = {k: v for k, v in asdict(self).items() if k != "details"}
        return pd.DataFrame([{**settings, "ci_low": lo, "ci_high": hi}])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return _json_safe(asdict(self))


def simulate_power(
    relative_effect: float,
    *,
    n_treated: int,
    ratio: float = 1.0,
    pilot: Any = None,
    baseline_mean: float | None = None,
    kind: str = "count",
    dispersion: float = 1.0,
    sd: float | None = None,
    level: float | None = None,
    alternative: str = "two-sided",
    n_sims: int = 1000,
    seed: int | None = None,
    progress: bool | None = None,
    chunk: int = 100,
    alpha: float | None = None,
) -> SimulatedPower:
    """Power of the z-test (unequal variances) by simulating treated and comparison groups.

    From ``pilot`` outcomes (comparison-like people): both groups are resampled with replacement and
    the treated group's outcomes are thinned binomially with keep probability ``1 + relative_effect``
    (counts and 0/1 outcomes; reductions only) or scaled by it (continuous). Without ``pilot``: counts
    are negative binomial with mean ``baseline_mean`` and variance ``dispersion * mean`` (Poisson when
    ``dispersion == 1``), binary outcomes Bernoulli, continuous normal with ``sd``. Seeded (``seed=None``:
    :data:`sop_eval.seeds.DEFAULT_SEED`); a progress
    bar shows for long runs (``progress=None``: more than 20,000 simulated people per chunk of runs).
    The test is run at significance ``1 - level`` (``alpha=`` is its deprecated spelling).
    """
    alpha = alpha_of(resolve_level(level, alpha, "simulate_power"))
    if int(n_sims) < 1 or int(n_treated) < 2:
        raise SopEvalError(f"n_sims={n_sims} must be >= 1 and n_treated={n_treated} >= 2.")
    n1, n0 = int(n_treated), int(round(n_treated * ratio))
    seed = resolve_seed(seed)
    rng = np.random.default_rng(seed)
    if pilot is not None:
        base = _pilot(pilot)
        source = f"pilot data ({len(base)} people)"
        if kind in ("count", "binary") and not -1 <= relative_effect <= 0:
            raise SopEvalError("simulation from pilot counts or rates supports reductions only "
                               "(-1 <= relative_effect <= 0).")
    else:
        if baseline_mean is None:
            raise SopEvalError("give pilot= data or baseline_mean= (with dispersion= or sd=) to simulate from.")
        _check(kind, baseline_mean, dispersion, sd, alpha, alternative)
        if kind == "count" and dispersion < 1:
            raise SopEvalError(f"dispersion={dispersion} < 1 (under-dispersion) cannot be simulated as "
                               "negative binomial.")
        source = f"{kind} model, mean {baseline_mean:g}"

    def draw(size: tuple[int, int], treated: bool) -> np.ndarray:
        if pilot is not None:
            y = base[rng.integers(0, len(base), size)]
            if not treated:
                return y
            if kind == "continuous":
                return y * (1 + relative_effect)
            return rng.binomial(y.astype(np.int64), 1 + relative_effect).astype(float)
        mu = baseline_mean * (1 + relative_effect if treated else 1.0)
        if kind == "binary":
            return rng.binomial(1, mu, size).astype(float)
        if kind == "continuous":
            return rng.normal(mu, sd, size)
        if dispersion == 1:
            return rng.poisson(mu, size).astype(float)
        shape = mu / (dispersion - 1)
        return rng.negative_binomial(shape, shape / (shape + mu), size).astype(float)

    crit = stats.norm.isf(alpha / 2 if alternative == "two-sided" else alpha)
    rejections = 0
    done = 0
    show = progress if progress is not None else n_sims * (n1 + n0) > 2e7
    with tqdm(total=int(n_sims), disable=not show, desc="simulating power", unit="run") as bar:
        while done < n_sims:
            b = min(chunk, int(n_sims) - done)
            y1, y0 = draw((b, n1), True), draw((b, n0), False)
            diff = y1.mean(1) - y0.mean(1)
            se = np.sqrt(y1.var(1, ddof=1) / n1 + y0.var(1, ddof=1) / n0)
            z = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
            if alternative == "two-sided":
                rejections += int((np.abs(z) > crit).sum())
            else:
                rejections += int((np.sign(relative_effect or -1) * z > crit).sum())
            done += b
            bar.update(b)
    p = rejections / n_sims
    return SimulatedPower(
        power=p, mc_se=float(np.sqrt(p * (1 - p) / n_sims)), relative_effect=float(relative_effect),
        n_treated=n1, ratio=float(ratio), alpha=float(alpha), alternative=alternative, n_sims=int(n_sims),
        seed=seed, source=source, details={"n_comparison": n0},
    )


def mde_table(
    n_treated: Any, *, levels: Any = (0.95, 0.90), powers: Any = (0.8, 0.9), alphas: Any = None, **scenario: Any
) -> pd.DataFrame:
    """Minimum detectable relative reduction for every combination of sample size, test level and power.

    ``levels``: the tests' confidence levels (0.95: a 5% test); ``alphas=`` is the deprecated spelling of
    ``1 - level``. ``scenario``: the other keyword arguments of :func:`power` (``baseline_mean``, ``ratio`` …).
    """
    options = _scenario(scenario, "mde_table", exclude=("n_treated", "level", "alpha"))
    if alphas is not None:
        warnings.warn("mde_table: alphas= is deprecated; pass levels= (1 - alpha) instead.", DeprecationWarning,
                      stacklevel=2)
        levels = [level_of(a) for a in np.atleast_1d(alphas)]
    alternative = options.get("alternative", "two-sided")
    rows = [
        {"n_treated": n, "level": float(lv), "power": p, "alternative": alternative,
         "mde": mde(n_treated=n, level=float(lv), power=p, **options)}
        for n in np.atleast_1d(n_treated) for lv in np.atleast_1d(levels) for p in np.atleast_1d(powers)
    ]
    return pd.DataFrame(rows)
