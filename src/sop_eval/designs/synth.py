"""Area-level contracts: synthetic control (``"synthetic_control"``) and synthetic DiD (``"sdid"``) over an area panel.

The data are a panel, one row per area (``[data.columns] unit``) and period (``time``), with the outcome a rate
per ``[evaluation.synth] rate_per`` of the ``population`` column (e.g. children entering care per 10,000
children a year). ``[evaluation.synth] treated`` names the area(s) the contract serves and ``start`` their first
treated period; every other area is a donor. One fit, :func:`sop_eval.synth.fit_area_contract`, covers every
period in the data.

Conventions:

- **Cohorts are spans of periods.** A ``[[cohorts]]`` entry covers the periods ``first_period`` to
  ``last_period`` (inclusive; default ``first_period`` alone), all on or after ``start``. A cohort whose
  ``last_period`` is after the data's last period is "not yet measurable" (first measurable when that period
  is in the data).
- **The cohort's effect** is the population-weighted mean of the treated area-period effects in its periods
  (one treated area with a constant population: the plain mean); its standard error is the standard deviation
  of the same weighted mean over the placebo fits (SDID: Algorithm 4's placebo replications, scaled as R
  ``synthdid``; synthetic control: placebo-in-space over every donor, one treated area's placebos independent
  of another's).
- **Units.** The :class:`~sop_eval.effects.estimate.EffectEstimate` is per person and period: the rate effect
  divided by ``rate_per`` (``details["rate_per"]`` keeps the base; the report shows rates per ``rate_per``).
  ``n_treated`` is the treated areas' population summed over the cohort's periods (population-periods), so
  the units attributable, ``-estimate × n_treated``, are ``-Σ effect × population / rate_per`` over the
  cohort's area-periods: e.g. children kept out of care.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from sop_eval.contract import Cohort, Contract
from sop_eval.contract.plan import SynthSettings
from sop_eval.contract.timing import owned_periods
from sop_eval.contract.vocabulary import EVALUATION_DESIGNS
from sop_eval.designs.base import CohortResult, DesignCheck, Prepared, ReportKit
from sop_eval.effects.estimate import EffectEstimate
from sop_eval.errors import SopEvalError, SopEvalWarning, examples, require_columns
from sop_eval.outputs import json_safe
from sop_eval.stats.estimate import interval_label
from sop_eval.synth import AreaEffect, SdidResult, SynthResult, area_matrix, fit_area_contract

DEFAULT_REPLICATIONS = 200
"""SDID placebo replications when ``[evaluation.synth] replications`` is not given (as R ``synthdid``)."""
TOP_DONORS = 10
"""Donors shown in the report's weights table (all are in ``results.json``)."""

METHODS = {
    "sdid": "synthetic difference-in-differences (Arkhangelsky et al. 2021, as the R package synthdid): donor "
            "weights ω and pre-period weights λ are chosen so the weighted donors track the treated area(s) "
            "before the start up to a constant; the effect in each post-period is the gap to the weighted donors "
            "less the λ-weighted pre-period gap",
    "sc": "synthetic control (Abadie, Diamond and Hainmueller 2010): donor weights on the simplex minimise the "
          "pre-period mean squared gap between each treated area and its weighted donors (every pre-period "
          "outcome a predictor, equal predictor weights); the effect in each post-period is the gap",
}
PREDICTOR_METHOD = (
    "synthetic control (Abadie, Diamond and Hainmueller 2010, as the R package Synth): donor weights on the simplex "
    "minimise the V-weighted squared distance between each treated area's predictors and its weighted donors' "
    "({predictors}), each predictor divided by its standard deviation across areas; the predictor weights V "
    "(diagonal, non-negative, summing to 1) are chosen, as Synth does, to minimise the pre-period mean squared gap "
    "in the outcome (a nested optimisation: Nelder–Mead over V from equal weights and from inverse-variance "
    "weights, the better kept; the donor weights for each V solved exactly), and where several donor weightings "
    "fit the predictors equally well the best pre-period outcome fit is taken (each placebo fit uses the same "
    "predictors and chooses its own V); the effect in each post-period is the gap")
"""The synthetic control's counterfactual with ``[evaluation.synth] predictors`` or ``outcome_periods``."""
INFERENCE = {
    "sdid": "placebo standard errors (Algorithm 4 of Arkhangelsky et al.): in each of {replications} replications "
            "(seed {seed}) donors chosen at random play the treated area(s) and the estimator is refitted; the "
            "standard error is the standard deviation of the placebo estimates",
    "sc": "placebo-in-space: every donor in turn is treated as if served, fitted from the other donors; the "
          "standard error is the standard deviation of the placebo areas' effects, and the intervals, p-values and "
          "gates of the cohorts use it with the normal approximation; the permutation p-value shown per treated "
          "area is a separate check that ranks its post/pre-period RMSPE ratio among the placebos' and decides "
          "nothing",
}


@dataclass(frozen=True)
class AreaFit:
    """The area-level fit behind a synthetic control or SDID evaluation, with what the report shows of it."""

    effect: AreaEffect
    method: str
    unit: str
    time: str
    population: str
    rate_per: int
    treated: tuple[Any, ...]
    start: Any
    donors: int
    pre_periods: int
    post_periods: tuple[Any, ...]
    uses_predictors: bool = False

    @property
    def estimate(self) -> float:
        """The average effect over every treated area-period in the data, in the outcome's rate."""
        return self.effect.estimate

    @property
    def outcome(self) -> str:
        return self.effect.outcome

    @property
    def synth_fits(self) -> tuple[SynthResult, ...]:
        """The synthetic control fits, one per treated area (empty for SDID)."""
        fit = self.effect.fit
        return fit if isinstance(fit, tuple) else ()

    @property
    def sdid_fit(self) -> SdidResult | None:
        """The SDID fit (``None`` for synthetic control)."""
        fit = self.effect.fit
        return fit if isinstance(fit, SdidResult) else None

    @property
    def placebo_estimates(self) -> np.ndarray:
        """The placebo fits' average effects: SDID replications, or every placebo area's mean post-period gap
        (synthetic control, all treated areas' placebos together)."""
        sdid = self.sdid_fit
        if sdid is not None:
            return np.asarray(sdid.replicates, dtype=float)
        return np.concatenate([f.placebos["mean_post_gap"].to_numpy(float) for f in self.synth_fits])

    def weights(self) -> pd.DataFrame:
        """Donor weights with positive weight, largest first (per treated area for synthetic control)."""
        sdid = self.sdid_fit
        if sdid is not None:
            w = sdid.unit_weights()
            return w[w["weight"] > 1e-10].reset_index(drop=True).rename(columns={"unit": "donor"})
        parts = [f.weights_table().rename(columns={"unit": "donor"}).assign(**{"treated area": f.treated})
                 for f in self.synth_fits]
        return pd.concat(parts, ignore_index=True)[["treated area", "donor", "weight"]]

    def predictor_weights(self) -> pd.DataFrame:
        """The synthetic control's predictor weights V per treated area (empty for SDID)."""
        parts = [pd.DataFrame({"treated area": f.treated, "predictor": f.v_weights.index,
                               "weight": f.v_weights.to_numpy(float)}) for f in self.synth_fits]
        return (pd.concat(parts, ignore_index=True) if parts
                else pd.DataFrame(columns=["treated area", "predictor", "weight"]))

    def pre_fit(self) -> pd.DataFrame:
        """Pre-period fit: the RMSPE of the treated outcome against its synthetic counterpart before ``start``
        (SDID: the treated areas' mean against the λ-shifted weighted donors), and after it."""
        sdid = self.sdid_fit
        if sdid is not None:
            tr = sdid.trajectories()
            gap = (tr["treated"] - tr["counterfactual"]).to_numpy(float)
            pre, post = gap[~tr["post"].to_numpy()], gap[tr["post"].to_numpy()]
            label = self.treated[0] if len(self.treated) == 1 else "treated areas (mean)"
            return pd.DataFrame([{"treated area": label, "pre-period RMSPE": float(np.sqrt(np.mean(pre**2))),
                                  "post-period RMSPE": float(np.sqrt(np.mean(post**2)))}])
        return pd.DataFrame([{"treated area": f.treated, "pre-period RMSPE": f.pre_rmspe,
                              "post-period RMSPE": f.post_rmspe, "RMSPE ratio": f.ratio,
                              "permutation p-value": f.p_value} for f in self.synth_fits])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, the overall effect and its cells, donor weights, pre-period fit."""
        return json_safe({
            "method": self.method, "unit": self.unit, "time": self.time, "population": self.population,
            "rate_per": self.rate_per, "treated": list(self.treated), "start": self.start, "donors": self.donors,
            "pre_periods": self.pre_periods, "post_periods": list(self.post_periods),
            "effect": self.effect.to_dict(), "weights": self.weights().to_dict("records"),
            "pre_fit": self.pre_fit().to_dict("records"),
            **({"predictor_weights": self.predictor_weights().to_dict("records")} if self.uses_predictors else {}),
        })

    def __repr__(self) -> str:
        return (f"AreaFit({self.method}: {self.estimate:.4g} per {self.rate_per:,}, {len(self.treated)} treated "
                f"area(s), {self.donors} donors, start {self.start})")


@dataclass(frozen=True)
class _State:
    fit: AreaFit | None
    population: pd.DataFrame  # treated areas × periods
    outcome_rate: pd.DataFrame  # treated areas × periods
    last: Any
    donors: int
    rate_per: int
    level: float
    periods: dict[str, list[int]]  # each cohort's periods, a period shared by two spans given to one ([timing] overlap)


def _where(contract: Contract, key: str) -> str:
    return f"contract '{contract.source}': {key}"


def _settings(contract: Contract, frame: pd.DataFrame, design: str) -> dict[str, Any]:
    """The contract's area settings, checked against the data (errors name the contract key and a fix)."""
    ev = contract.evaluation
    assert ev is not None  # evaluate() refuses a contract without [evaluation]
    cols = dict(contract.data.columns) if contract.data is not None else {}
    for role, what in (("unit", "the area column"), ("time", "the period column"),
                       ("population", "the population the outcome's rate is per, used to attribute units")):
        if not cols.get(role):
            raise SopEvalError(f"{_where(contract, '[data.columns] ' + role)} is missing; a {design} evaluation "
                               f"needs {what}: add `{role} = \"<column>\"` to [data.columns].")
    outcomes = cols.get("outcomes") or ()
    outcome = ev.outcome or (outcomes[0] if outcomes else None)
    if outcome is None:
        raise SopEvalError(f"{_where(contract, '[evaluation] outcome')} is missing; name the outcome column, e.g. "
                           "outcome = \"entering_care\".")
    unit, time, population = cols["unit"], cols["time"], cols["population"]
    require_columns([unit, time, population, outcome], frame.columns, f"data for contract '{contract.source}'")
    periods = pd.to_numeric(frame[time], errors="coerce")
    bad = periods.isna() | (periods != periods.round())
    if bad.any():
        raise SopEvalError(f"{_where(contract, '[data.columns] time')} = {time!r}: the column must hold whole-number "
                           f"periods (e.g. years); found {examples(frame.loc[bad, time].astype(str))}. Recode the "
                           "periods as whole numbers.")
    s = ev.synth
    labels = {str(a): a for a in pd.unique(frame[unit])}
    unknown = [t for t in s.treated if t not in labels]
    if unknown:
        raise SopEvalError(f"{_where(contract, '[evaluation.synth] treated')} names area(s) {examples(unknown)} not "
                           f"in column {unit!r} (areas include {examples(sorted(labels), 5)}); give the labels as "
                           "written in the data.")
    treated = tuple(labels[t] for t in s.treated)
    if len(set(treated)) != len(treated):
        raise SopEvalError(f"{_where(contract, '[evaluation.synth] treated')} repeats an area; name each once.")
    donors = len(labels) - len(treated)
    needed = len(treated) + 1 if design == "sdid" else 2
    if donors < needed:
        raise SopEvalError(f"{_where(contract, '[evaluation.synth] treated')}: {donors} donor area(s) remain; the "
                           f"{design} estimate needs at least {needed} untreated areas. Add untreated areas to the "
                           "data or treat fewer areas.")
    times = sorted(int(t) for t in pd.unique(periods))
    pre = sum(t < s.start for t in times)
    if pre < 2:
        raise SopEvalError(f"{_where(contract, '[evaluation.synth] start')} = {s.start} leaves {pre} pre-treatment "
                           f"period(s) in the data (periods {times[0]}–{times[-1]}); the area estimators need at "
                           "least 2: check start, or add earlier periods to the data.")
    if design == "synthetic_control" and s.replications is not None:
        raise SopEvalError(f"{_where(contract, '[evaluation.synth] replications')} = {s.replications}: the synthetic "
                           "control's placebo-in-space fits every donor once; remove replications (it sets the "
                           "SDID placebo draws).")
    _check_predictors(contract, s, frame, periods, unit, time, times)
    for c in contract.cohorts:
        if c.first_period is None:
            raise SopEvalError(f"{_where(contract, f'[[cohorts]] {c.name!r}')} has no first_period; in an area-level "
                               "evaluation each cohort names the periods it covers, e.g. first_period = 2021 and "
                               "last_period = 2022.")
        if c.first_period < s.start:
            raise SopEvalError(f"{_where(contract, f'[[cohorts]] {c.name!r} first_period')} = {c.first_period} is "
                               f"before [evaluation.synth] start = {s.start}; a cohort covers treated periods only.")
    return {"unit": unit, "time": time, "population": population, "outcome": outcome, "treated": treated,
            "donors": donors, "times": times}


def _check_predictors(contract: Contract, s: SynthSettings, frame: pd.DataFrame, periods: pd.Series, unit: str,
                      time: str, times: list[int]) -> None:
    """``[evaluation.synth] predictors`` are numeric panel columns with a value in every pre-period row;
    ``outcome_periods`` are pre-treatment periods of the data."""
    key = _where(contract, "[evaluation.synth] predictors")
    for col in s.predictors:
        if col not in frame.columns:
            raise SopEvalError(f"{key} names column {col!r}, which is not in the data (columns "
                               f"{examples(list(map(str, frame.columns)), 10)}); name a column of the panel or "
                               "remove it.")
        if col in (unit, time):
            raise SopEvalError(f"{key} names column {col!r}, the {'area' if col == unit else 'period'} column; "
                               "name a measured characteristic of the areas (e.g. a deprivation score) or remove it.")
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            shown = pd.unique(values[pd.to_numeric(values, errors="coerce").isna() & values.notna()].astype(str))
            raise SopEvalError(f"{key}: column {col!r} is not numeric (e.g. {examples(shown, 3)}); a predictor "
                               "is averaged over the pre-period, so recode it as numbers or remove it.")
        missing = (periods < s.start) & ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if missing.any():
            areas = pd.unique(frame.loc[missing, unit].astype(str))
            raise SopEvalError(f"{key}: column {col!r} has {int(missing.sum())} missing value(s) before start "
                               f"{s.start} (area(s) {examples(areas, 5)}); every area needs a value in every "
                               "pre-treatment period: fill them or remove the predictor.")
    pre = [t for t in times if t < s.start]
    for t in s.outcome_periods:
        if t not in pre:
            raise SopEvalError(f"{_where(contract, '[evaluation.synth] outcome_periods')} includes {t}, which is not "
                               f"a pre-treatment period of the data (before start {s.start}: {examples(pre, 12)}); "
                               "name periods before start.")


def _treated_table(frame: pd.DataFrame, contract: Contract, k: dict[str, Any], column: str) -> pd.DataFrame:
    rows = frame[frame[k["unit"]].isin(k["treated"])]
    values = pd.to_numeric(rows[column], errors="coerce")
    key = "[data.columns] population" if column == k["population"] else "[evaluation] outcome"
    if values.isna().any():
        raise SopEvalError(f"{_where(contract, key)} = {column!r} has {int(values.isna().sum())} missing or "
                           "non-numeric value(s) in the treated area(s); fill them (every treated area-period needs "
                           "one).")
    bad = (values <= 0) | (values != values.round())
    if column == k["population"] and bad.any():
        raise SopEvalError(f"{_where(contract, key)} = {column!r} must be a whole number of people above 0 in every "
                           f"treated area-period; found {examples(values[bad])}.")
    table = rows.assign(**{column: values}).pivot_table(index=k["unit"], columns=k["time"], values=column,
                                                        aggfunc="first")
    table.columns = [int(t) for t in table.columns]
    return table


class SynthDesign:
    """An area-level design: synthetic control (``"synthetic_control"``) or synthetic DiD (``"sdid"``)."""

    def __init__(self, name: str) -> None:
        if name not in ("synthetic_control", "sdid"):
            raise SopEvalError(f"an area-level design is 'synthetic_control' or 'sdid', not {name!r}.")
        self.name = name
        self.method = "sc" if name == "synthetic_control" else "sdid"
        self.title = "synthetic control" if name == "synthetic_control" else "synthetic difference-in-differences"
        self.contract_keys, self.data_columns = EVALUATION_DESIGNS[name]

    def prepare(self, contract: Contract, frame: pd.DataFrame, *, seed: int, as_of: dt.date | str | None,
                risk_draws: int) -> Prepared:
        """Check the settings and the panel; fit the treated area(s) once over every period in the data."""
        ev = contract.evaluation
        assert ev is not None
        s = ev.synth
        k = _settings(contract, frame, self.name)
        panel = frame.assign(**{k["time"]: pd.to_numeric(frame[k["time"]]).round().astype("int64")})
        placebo_seed = int(seed if s.seed is None else s.seed)
        replications = DEFAULT_REPLICATIONS if s.replications is None else int(s.replications)
        population = _treated_table(panel, contract, k, k["population"])
        rate = _treated_table(panel, contract, k, k["outcome"])
        last = k["times"][-1]
        fit = None
        if s.start <= last:
            if s.start not in k["times"]:
                raise SopEvalError(f"{_where(contract, '[evaluation.synth] start')} = {s.start} is not a period in "
                                   f"column {k['time']!r} (periods {examples(k['times'], 12)}).")
            effect = fit_area_contract(panel, list(k["treated"]), s.start, unit=k["unit"], time=k["time"],
                                       outcome=k["outcome"], method=self.method, level=ev.level,
                                       replications=replications, seed=placebo_seed,
                                       predictors=s.predictors if self.method == "sc" else (),
                                       outcome_periods=s.outcome_periods if self.method == "sc" else ())
            fit = AreaFit(effect=effect, method=self.method, unit=k["unit"], time=k["time"],
                          population=k["population"], rate_per=int(s.rate_per), treated=k["treated"], start=s.start,
                          donors=k["donors"], pre_periods=sum(t < s.start for t in k["times"]),
                          post_periods=tuple(t for t in k["times"] if t >= s.start),
                          uses_predictors=self.method == "sc" and bool(s.predictors or s.outcome_periods))
        parameters = {
            "seed": int(seed), "as_of": None if as_of is None else str(as_of), "outcome": k["outcome"],
            "design": self.name, "level": ev.level, "risk_draws": int(risk_draws),
            "synth": {"method": self.method, "unit": k["unit"], "time": k["time"], "population": k["population"],
                      "treated": list(s.treated), "start": s.start, "rate_per": int(s.rate_per),
                      "replications": replications if self.method == "sdid" else None,
                      "placebo_seed": placebo_seed if self.method == "sdid" else None,
                      "predictors": list(s.predictors) if self.method == "sc" else None,
                      "outcome_periods": list(s.outcome_periods) if self.method == "sc" else None},
        }
        _warn_unpaid_periods(contract)
        state = _State(fit=fit, population=population, outcome_rate=rate, last=last, donors=k["donors"],
                       rate_per=int(s.rate_per), level=ev.level, periods=cohort_periods(contract))
        return Prepared(outcome=k["outcome"], parameters=parameters, fit=fit, state=state)

    def check_data(self, contract: Contract, frame: pd.DataFrame) -> DesignCheck:
        """What a run would meet, fitting nothing: the panel checked as :meth:`prepare` checks it, the treated
        areas, donors and periods, and each cohort's periods, whether they are in the data, and its due date.
        Treated periods in no cohort are warned of as a run warns."""
        return check_area_contract(contract, frame, self.name)

    def measure(self, cohort: Cohort, prepared: Prepared, *, seed: int) -> CohortResult:
        """The cohort's periods: the population-weighted effect over its treated area-periods, once all are in
        the data."""
        st: _State = prepared.state
        first, last = cohort.first_period, cohort.last_period
        assert first is not None and last is not None  # prepare() checks
        owned = st.periods[cohort.name]
        periods = [int(t) for t in st.population.columns if int(t) in owned]
        info: dict[str, Any] = {"first_period": first, "last_period": last, "periods": len(periods),
                                "areas": len(st.population), "rate_per": st.rate_per,
                                "per": f"person and period (the rate per {st.rate_per:,} divided by {st.rate_per:,})"}
        if last > st.last or st.fit is None:
            return CohortResult(cohort.name, "not yet measurable", None, 0, st.donors, design=self.name,
                                details=info, first_measurable=f"when period {last} is in the data")
        if not periods:
            raise SopEvalError(f"[[cohorts]] {cohort.name!r}: no period of the data lies in first_period {first} to "
                               f"last_period {last}; name periods the data hold.")
        pop = st.population[periods]
        weights = pop / float(pop.to_numpy().sum())
        effect = self._effect(st, weights, int(round(float(pop.to_numpy().sum()))), prepared.outcome, cohort.name,
                              info)
        return CohortResult(cohort.name, "measured", None, effect.n_treated, st.donors, effect=effect,
                            design=self.name, details=info)

    def pool(self, cohorts: Sequence[CohortResult], prepared: Prepared, *, label: str) -> EffectEstimate:
        """All ``cohorts`` together: the ``n_treated``-weighted mean of their effects (as
        :func:`~sop_eval.effects.pooling.pool_cohorts`), its standard error from the spread of that same
        combination over the placebo fits — the cohorts share one fit, so they are not independent."""
        st: _State = prepared.state
        assert st.fit is not None
        total = float(sum(c.n_treated for c in cohorts))
        weights = st.population * 0.0
        own = []
        for c in cohorts:
            periods = [t for t in st.population.columns if int(t) in st.periods[c.name]]
            pop = st.population[periods]
            share = (st.population * 0.0).astype(float)
            share[periods] = pop / float(pop.to_numpy().sum())
            own.append(share)
            weights += (c.n_treated / total) * share
        r = float(st.rate_per)
        info: dict[str, Any] = {"cohorts": [c.name for c in cohorts], "areas": len(st.population),
                                "pool_weights": [c.n_treated / total for c in cohorts],
                                "rate_per": st.rate_per,
                                "per": f"person and period (the rate per {st.rate_per:,} divided by {st.rate_per:,})",
                                "cohort_covariance": (_placebo_covariance(st.fit, own) / r**2).tolist()}
        return self._effect(st, weights, int(round(total)), prepared.outcome, label, info)

    def _effect(self, st: _State, weights: pd.DataFrame, n: int, outcome: str, label: str,
                info: dict[str, Any]) -> EffectEstimate:
        """The ``weights``-weighted effect over treated area-periods, as an estimate per person and period."""
        assert st.fit is not None
        est, se = _weighted(st.fit, weights)
        treated_rate = float((st.outcome_rate[weights.columns] * weights).to_numpy().sum())
        lo, hi = _normal_interval(est, se, st.level)
        info.update(estimate_per_rate=est, se_per_rate=se, ci_low_per_rate=lo, ci_high_per_rate=hi,
                    treated_rate=treated_rate, population_periods=n)
        r = float(st.rate_per)
        return EffectEstimate(
            estimate=est / r, se=se / r, treated_mean=treated_rate / r, comparison_mean=(treated_rate - est) / r,
            n_treated=n, n_comparison=st.donors, outcome=outcome, kind="continuous", design=self.name,
            method=f"{self.title}, placebo SE", label=label, level=st.level, details=info,
        )

    def report_sections(self, evaluation: Any, kit: ReportKit) -> list[Any]:
        """The areas and their fit (donor weights, pre-period RMSPE, the gap plot) and the placebo inference."""
        fit: AreaFit | None = evaluation.fit
        p = evaluation.parameters["synth"]
        per = f"per {p['rate_per']:,}"
        label = interval_label(evaluation.parameters["level"])
        rows = []
        for k in evaluation.cohorts:
            d = k.details
            rows.append({"cohort": k.name, "periods": f"{d.get('first_period')}–{d.get('last_period')}",
                         "status": k.status_text, f"effect {per}": d.get("estimate_per_rate"),
                         f"{label} from": d.get("ci_low_per_rate"), "to": d.get("ci_high_per_rate"),
                         "population-periods": d.get("population_periods")})
        # population-periods are sums of published area populations, not counts of people served
        cohorts = kit.protect(pd.DataFrame(rows), [], name="area cohorts")
        treated = ", ".join(str(t) for t in p["treated"])
        intro = (f"Treated area(s): {treated}, from period {p['start']}; donors: every other area in the data "
                 f"(areas, not people). Outcome: {_outcome_words(evaluation, per, p['population'])}.")
        if fit is None:
            return [kit.section("Areas and synthetic comparison", paragraphs=(
                intro, f"Period {p['start']} is not yet in the data: nothing is estimated yet."),
                tables=(("Cohorts", cohorts.table),))]
        cells = fit.effect.cells.astype({"period": str}).rename(columns={"unit": "area", "effect": f"effect {per}",
                                                 "ci_low": f"{label} from", "ci_high": "to"})
        weights = fit.weights()
        shown = (weights.groupby("treated area", sort=False).head(TOP_DONORS) if "treated area" in weights
                 else weights.head(TOP_DONORS))
        tables = [("Cohorts", cohorts.table), ("Donor weights (largest first)", shown),
                  ("Pre-period fit", fit.pre_fit())]
        if fit.uses_predictors:
            tables.append(("Predictor weights V (chosen to minimise the pre-period outcome MSPE)",
                           kit.estimates(fit.predictor_weights())))
        paragraphs = [
            intro,
            f"{fit.donors:,} donor areas, {fit.pre_periods} pre-treatment and {len(fit.post_periods)} post-treatment "
            f"periods. Average effect over every treated area-period in the data: {fit.estimate:.3f} {per} "
            f"(standard error {fit.effect.se:.3f}).",
            f"{int((weights['weight'] > 0).sum())} donor weight(s) are positive; the largest {TOP_DONORS} per "
            "treated area are shown (all are in results.json).",
        ]
        figures = []
        for f in fit.synth_fits:
            figures.append(kit.figure(f"synth_gap_{_safe(f.treated)}.png", f"{f.treated} and its synthetic control; "
                                      f"dotted: period {f.start}", "gap_plot", f, size=(6.4, 3.8)))
            figures.append(kit.figure(f"synth_placebo_gaps_{_safe(f.treated)}.png", f"Gap of {f.treated} (black) "
                                      "over the placebo areas' gaps (grey; placebos whose pre-period RMSPE is at most "
                                      "5 times the treated area's)", "placebo_plot", f, max_pre_rmspe_ratio=5.0,
                                      size=(6.4, 3.8)))
        sdid = fit.sdid_fit
        if sdid is not None:
            figures.append(kit.figure("sdid_gap.png", "Treated area(s) and the SDID counterfactual (weighted donors "
                                      "shifted by the λ-weighted pre-period gap); bars: time weights λ", "sdid_plot",
                                      sdid, size=(6.4, 3.8)))
        figures.append(kit.figure("placebo_distribution.png", "Average effect of each placebo fit (grey) and of the "
                                  f"treated area(s) (black line), {per}", "placebo_distribution_plot", fit,
                                  size=(6.4, 3.4)))
        return [
            kit.section("Areas and synthetic comparison", paragraphs=tuple(paragraphs),
                        tables=tuple(tables)),
            kit.section("Effect by period and placebo inference", tables=(("Effect by area and period",
                                                                          kit.estimates(cells)),),
                        figures=tuple(figures)),
        ]

    def methods(self, evaluation: Any, *, significance: str, policy: str) -> tuple[str, ...]:
        """What was estimated, the inference, the cohort and unit conventions, gates, risk and disclosure."""
        p = evaluation.parameters["synth"]
        per = f"{p['rate_per']:,}"
        inference = INFERENCE[p["method"]].format(replications=p["replications"], seed=p["placebo_seed"])
        method = METHODS[p["method"]]
        named = [*(f"{c} (pre-period mean)" for c in p.get("predictors") or ()),
                 *(f"{evaluation.outcome} in {t}" for t in p.get("outcome_periods") or ())]
        if named:
            method = PREDICTOR_METHOD.format(predictors=", ".join(named))
        return (
            f"Counterfactual: {method}. Treated area(s): {', '.join(map(str, p['treated']))} from "
            f"period {p['start']}; donors: every other area of the panel (one row per {p['unit']} and {p['time']}, "
            "balanced, nothing imputed).",
            f"Inference: {inference}. Intervals are normal, estimate ± z × standard error. {significance}.",
            "Cohorts: each contract cohort is a span of treated periods (first_period to last_period); its effect "
            f"is the {p['population']}-weighted mean of the treated area-period effects in those periods, its "
            "standard error the standard deviation of the same weighted mean over the placebo fits. A cohort "
            "whose last period is not yet in the data is not yet measurable.",
            f"Units: the outcome is a rate per {per} of {p['population']} per period; the estimate is carried per "
            f"person and period (the rate effect ÷ {per}) and n_treated counts population-periods, so the units "
            f"attributable are −effect × {p['population']} ÷ {per}, summed over the cohort's treated area-periods. "
            "The relative change is the effect over the counterfactual rate (treated rate minus effect).",
            "Gates: each gate is decided on the unrounded point estimate; the statistical test is shown beside it "
            "and decides nothing unless the contract requires significance.",
            "Pooled result: the cohorts share one fit, so they are not independent; the pooled effect is the "
            "population-period-weighted mean of the cohorts' effects and its standard error the spread of that same "
            "mean over the placebo fits. The pooled gate is tested on it.",
            "Payment risk: the cohorts' effects are drawn jointly from a normal distribution with their covariance "
            "over the placebo fits, and passed through the contract's gates, caps and payer shares.",
            f"Disclosure control: {policy}. The data are area-level; areas are shown by their labels as given, and "
            "no person-level rows appear.",
        )


def check_area_contract(contract: Contract, frame: pd.DataFrame, design: str) -> DesignCheck:
    """The check behind :meth:`SynthDesign.check_data` (see there); a refusal of the data raises as a run would."""
    ev = contract.evaluation
    assert ev is not None
    s = ev.synth
    k = _settings(contract, frame, design)
    panel = frame.assign(**{k["time"]: pd.to_numeric(frame[k["time"]]).round().astype("int64")})
    for column in (k["population"], k["outcome"]):
        _treated_table(panel, contract, k, column)
    times = k["times"]
    last = times[-1]
    pre = [t for t in times if t < s.start]
    post = [t for t in times if t >= s.start]
    problems: list[str] = []
    if s.start <= last:
        if s.start not in times:
            problems.append(f"{_where(contract, '[evaluation.synth] start')} = {s.start} is not a period in column "
                            f"{k['time']!r} (periods {examples(times, 12)}).")
        else:
            try:
                area_matrix(panel, unit=k["unit"], time=k["time"], outcome=k["outcome"], treated=list(k["treated"]),
                            start=s.start)
            except SopEvalError as exc:
                problems.append(str(exc))
    _warn_unpaid_periods(contract)
    owned = cohort_periods(contract)
    terms = dt.timedelta(days=contract.payment_terms_days)
    rows, waiting = [], []
    for c in contract.cohorts:
        assert c.first_period is not None and c.last_period is not None  # _settings checks
        mine = owned[c.name]
        shown = f"{c.first_period}–{c.last_period}"
        span = list(range(c.first_period, c.last_period + 1))
        if mine != span:
            shown += f" (paid: {examples(mine, 10)}; [timing] overlap = {contract.overlap!r})"
        in_data = [t for t in mine if t in times]
        measurable = c.last_period <= last
        if not measurable:
            waiting.append(f"{c.name!r} (first measurable when period {c.last_period} is in the data)")
        when = c.measurable_from
        rows.append({"cohort": c.name, "periods": shown, "periods in the data": f"{len(in_data)} of {len(mine)}",
                     "measurable": "yes" if measurable else f"not yet: when period {c.last_period} is in the data",
                     "measurable from": "—" if when is None else when.isoformat(),
                     "payment due": "—" if when is None else (when + terms).isoformat()})
    treated = ", ".join(str(t) for t in k["treated"])
    notes = [
        f"treated areas: {len(k['treated'])} ({treated}), from period {s.start}; donors: {k['donors']} (every other "
        f"area in the data).",
        f"periods in the data: {times[0]}–{last}; before the start: {len(pre)}"
        + (f" ({pre[0]}–{pre[-1]})" if pre else "") + "; from the start on: "
        + (f"{len(post)} ({post[0]}–{post[-1]})" if post else f"none yet (period {s.start} is not in the data)") + ".",
    ]
    if waiting:
        notes.append("not yet measurable (their payment lines wait): " + "; ".join(waiting) + ".")
    if any(c.measurable_from is None for c in contract.cohorts):
        notes.append("no payment due date for cohorts without data_available: an area cohort is dated by the day its "
                     "last period's data are published; add data_available = YYYY-MM-DD to each [[cohorts]] table "
                     "(measurable then, plus any [timing] analysis_months; payment due payment_terms_days = "
                     f"{contract.payment_terms_days} days after).")
    notes.append("minimum detectable effect: not projected for an area design. Its uncertainty comes from the placebo "
                 "fits over the donors, which the run makes; the report shows the placebo spread (standard error) "
                 "and the pre-period fit.")
    return DesignCheck(cohorts=pd.DataFrame(rows), problems=tuple(problems), notes=tuple(notes))


def cohort_periods(contract: Contract) -> dict[str, list[int]]:
    """Each cohort's periods: its span, less any period ``[timing] overlap`` gives to another cohort."""
    return {c.name: owned_periods(c, contract.cohorts, contract.overlap) for c in contract.cohorts
            if c.first_period is not None}


def unpaid_periods(contract: Contract) -> list[int]:
    """Treated periods from ``start`` to the last cohort's last period that lie in no cohort (never paid for)."""
    ev = contract.evaluation
    spans = [(c.first_period, c.last_period) for c in contract.cohorts
             if c.first_period is not None and c.last_period is not None]
    if ev is None or not spans:
        return []
    covered = {t for first, last in spans for t in range(first, last + 1)}
    end = max(last for _, last in spans)
    return [t for t in range(ev.synth.start, end + 1) if t not in covered]


def _warn_unpaid_periods(contract: Contract) -> None:
    gaps = unpaid_periods(contract)
    if gaps:
        warnings.warn(f"{_where(contract, '[[cohorts]]')}: treated period(s) {examples(gaps, 10)} (from "
                      f"[evaluation.synth] start = {contract.evaluation.synth.start} on) lie in no cohort's "  # type: ignore[union-attr]
                      "first_period to last_period, so they are never paid for; extend a cohort's span over them "
                      "if the contract pays for them.", SopEvalWarning, stacklevel=3)


def _outcome_words(evaluation: Any, per: str, population: str) -> str:
    """The outcome as the contract words it (its metric), else its label and the population's, per period."""
    contract = evaluation.contract
    metric = next((o.metric for o in contract.outcomes if o.name == evaluation.outcome and o.metric), None)
    if metric:
        return str(metric)
    data = contract.data
    name = data.label if data is not None else (lambda c: str(c).replace("_", " "))
    return f"{name(evaluation.outcome)} {per} of {name(population)} per period"


def _weighted(fit: AreaFit, weights: pd.DataFrame) -> tuple[float, float]:
    """The ``weights``-weighted mean effect (weights: treated areas × periods, summing to 1) and its placebo
    standard error."""
    est, parts = _placebo_parts(fit, weights)
    return est, float(np.sqrt(sum(factor * _cov(x, x) for factor, x in parts)))


def _placebo_covariance(fit: AreaFit, weights: Sequence[pd.DataFrame]) -> np.ndarray:
    """Covariance of several weighted mean effects over the same placebo fits (its diagonal: their squared
    standard errors as :func:`_weighted` gives them)."""
    parts = [_placebo_parts(fit, w)[1] for w in weights]
    k = len(parts)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            out[i, j] = sum(f * _cov(a, b) for (f, a), (_, b) in zip(parts[i], parts[j], strict=True))
    return out


def _cov(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.cov(a, b, ddof=1)[0, 1]) if len(a) > 1 else float("nan")


def _placebo_parts(fit: AreaFit, weights: pd.DataFrame) -> tuple[float, list[tuple[float, np.ndarray]]]:
    """The weighted mean effect and the placebo replicates of it: SDID one series (scaled by ``(r-1)/r``, as
    R synthdid's placebo variance), synthetic control one placebo-in-space series per treated area (the areas
    independent, their variances added)."""
    cells = fit.effect.cells
    sdid = fit.sdid_fit
    if sdid is not None:
        d = sdid.data
        post = [int(t) for t in d.times[d.T0:]]
        w = weights.reindex(index=list(d.treated), columns=post).fillna(0.0).to_numpy(float)
        eff = cells.pivot(index="unit", columns="period", values="effect").reindex(index=list(d.treated),
                                                                                  columns=post).to_numpy(float)
        curves = sdid.placebo_curves.reshape(-1, d.N1, d.T1)
        stats = np.einsum("rut,ut->r", curves, w)
        r = len(stats)
        return float((eff * w).sum()), [((r - 1) / r if r > 1 else float("nan"), stats)]
    est, parts = 0.0, []
    for f in fit.synth_fits:
        post = [int(t) for t in f.times[f.T0:]]
        w = weights.reindex(index=[f.treated], columns=post).fillna(0.0).to_numpy(float)[0]
        est += float(f.gaps[f.T0:] @ w)
        parts.append((1.0, f.placebo_gaps.to_numpy(float)[f.T0:].T @ w))
    return est, parts


def _normal_interval(estimate: float, se: float, level: float) -> tuple[float, float]:
    z = float(norm.ppf(0.5 + level / 2))
    return estimate - z * se, estimate + z * se


def _safe(label: Any) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(label))
