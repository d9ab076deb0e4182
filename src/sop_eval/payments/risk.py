"""Monte Carlo payment risk: effects drawn from their sampling distributions → distribution of payments.

Each cohort estimate is drawn as ``estimate + se * Z`` (normal, or Student t with the estimate's ``df``);
when ``comparison_mean_se`` is known the comparison mean is drawn jointly (bivariate normal with
``cov_estimate_comparison``), otherwise it is held fixed. Cohorts are independent. Every draw goes
through the same gates, pooled catch-up, ladders, scales and caps as the calculator
(:func:`sop_eval.payments.caps.apply_caps` on float arrays, without penny rounding), all draws at once.
Each drawn result is decided by the same rule as the calculator's (:func:`sop_eval.thresholds.decide`, over
float arrays): the threshold on the measure, and, when the gate requires significance at a level,
``|draw / se| > c(level)`` in the favourable direction. A pooled gate is decided on the drawn pooled result
(all cohorts together, :func:`sop_eval.effects.pooling.pool_cohorts`) with the pooled standard error.
Rate-card claims have no sampling distribution and are left out. ``seed=None`` means
:data:`sop_eval.seeds.DEFAULT_SEED`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.arithmetic import ARRAY
from sop_eval.contract import Contract, load_contract
from sop_eval.errors import SopEvalError
from sop_eval.estimate import EffectEstimate
from sop_eval.outputs import ShortRepr
from sop_eval.payments.calculator import (
    EstimatesInput,
    attributable_gross,
    estimate_entries,
    gate_of,
    graded_gross,
    match_estimates,
    order_entries,
)
from sop_eval.payments.caps import CatchUp, apply_caps
from sop_eval.payments.io import read_estimates
from sop_eval.seeds import resolve_seed
from sop_eval.thresholds import critical_value, decide, gate_measure, se_known, z_statistic

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True, repr=False)
class PaymentRisk(ShortRepr):
    """The distribution of total payments over ``n_draws`` simulated results (seeded).

    ``expected_total`` is the mean payment; ``prob_gate_met`` the share of draws in which each gate is
    met; ``expected_by_payer`` and ``expected_by_line`` the mean amounts; ``totals`` every draw's total.
    """

    n_draws: int
    seed: int | None
    currency: str
    expected_total: float
    sd_total: float
    quantiles: dict[float, float]
    prob_any_payment: float
    prob_gate_met: dict[str, float]
    expected_by_payer: dict[str, float]
    expected_by_line: dict[str, float]
    totals: np.ndarray = field(repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """One row per figure: expected total, sd, quantiles, P(any payment), P(gate met), payers."""
        rows = [("expected total", self.expected_total), ("sd of total", self.sd_total)]
        rows += [(f"total, {int(100 * q)}th percentile", v) for q, v in self.quantiles.items()]
        rows += [("P(any payment)", self.prob_any_payment)]
        rows += [(f"P(gate met): {k}", v) for k, v in self.prob_gate_met.items()]
        rows += [(f"expected, {k}", v) for k, v in self.expected_by_payer.items()]
        return pd.DataFrame(rows, columns=["figure", "value"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (without the draws)."""
        return {
            "n_draws": self.n_draws, "seed": self.seed, "currency": self.currency,
            "expected_total": self.expected_total, "sd_total": self.sd_total,
            "quantiles": {str(k): v for k, v in self.quantiles.items()},
            "prob_any_payment": self.prob_any_payment, "prob_gate_met": self.prob_gate_met,
            "expected_by_payer": self.expected_by_payer, "expected_by_line": self.expected_by_line,
        }


def _met(gate: Any, value: np.ndarray, effect: np.ndarray, estimate: Any) -> Any:
    """The gate on every draw: the calculator's rule (:func:`decide`) over float arrays."""
    level = estimate.level if gate.level is None else gate.level
    statistic = z_statistic(effect, estimate.se)
    return decide(value, float(gate.threshold), statistic, critical_value(level, estimate.df), gate.level is not None,
                  ARRAY)[2]


def _joint_draws(pooled: Sequence[EffectEstimate], found: Mapping[tuple[str, str], EffectEstimate],
                 rng: np.random.Generator, n_draws: int) -> dict[int, np.ndarray]:
    """Standardised draws, correlated as the cohorts' effects are, for the cohorts of each pooled result that
    carries their covariance (by ``id`` of the cohort estimate); other cohorts are drawn independently."""
    out: dict[int, np.ndarray] = {}
    for p in pooled:
        cov = p.details.get("cohort_covariance")
        if cov is None:
            continue
        members = [found.get((p.outcome, c)) for c in p.details["cohorts"]]
        if any(m is None or id(m) in out for m in members):
            continue
        v = np.asarray(cov, dtype=float)
        sd = np.sqrt(np.diag(v))
        if not (np.isfinite(v).all() and (sd > 0).all()):
            continue
        corr = v / np.outer(sd, sd)
        eigen, vectors = np.linalg.eigh((corr + corr.T) / 2)
        root = vectors * np.sqrt(np.clip(eigen, 0.0, None))  # a square root that tolerates a singular matrix
        z = root @ rng.standard_normal((len(members), n_draws))
        for m, row in zip(members, z, strict=True):
            out[id(m)] = row
    return out


def payment_risk(
    contract: Contract | str | Path,
    estimates: EstimatesInput,
    *,
    n_draws: int = 100_000,
    seed: int | None = None,
    pooled: Iterable[EffectEstimate] = (),
) -> PaymentRisk:
    """Distribution of payments when each cohort effect is drawn from its estimate's sampling distribution.

    ``seed``: the draws' seed; None means :data:`sop_eval.seeds.DEFAULT_SEED`. ``pooled``: pooled results a
    design computed itself (see :func:`~sop_eval.payments.calculate`); where one carries the covariance of its
    cohorts' effects (``details["cohort_covariance"]``), those cohorts are drawn jointly.
    """
    if not isinstance(contract, Contract):
        contract = load_contract(contract)
    if not isinstance(n_draws, int) or n_draws < 1:
        raise SopEvalError(f"n_draws={n_draws!r} must be a whole number >= 1.")
    if estimates is None:
        raise SopEvalError("payment_risk needs estimates: a JSON file, parsed JSON or a list of EffectEstimate.")
    ests = read_estimates(estimates)
    no_se = [e.label for e in ests if not se_known(e)]
    if no_se:
        raise SopEvalError(f"estimate(s) for {no_se} carry no standard error; payment risk needs 'se' for each.")
    found = match_estimates(contract, ests)
    given = tuple(pooled)
    entries = order_entries(estimate_entries(contract, ests, None, given)[0])
    seed = resolve_seed(seed)
    rng = np.random.default_rng(seed)
    joint = _joint_draws(given, found, rng, n_draws)
    draws: dict[str, tuple[np.ndarray, Any]] = {}
    for e in {id(x): x for x in found.values()}.values():
        z = joint.get(id(e))
        if z is None:
            z = rng.standard_t(e.df, n_draws) if e.df else rng.standard_normal(n_draws)
        effect = e.estimate + e.se * z
        comparison: Any = e.comparison_mean
        if e.comparison_mean_se:
            beta = e.cov_estimate_comparison / e.se**2 if e.se > 0 else 0.0
            resid = max(e.comparison_mean_se**2 - beta * e.cov_estimate_comparison, 0.0)
            comparison = e.comparison_mean + beta * e.se * z + np.sqrt(resid) * rng.standard_normal(n_draws)
        draws[e.label + "\x00" + e.outcome] = (effect, comparison)

    def drawn(o_name: str, cohort: str) -> tuple[Any, np.ndarray, Any]:
        est = found[(o_name, cohort)]
        effect, comparison = draws[est.label + "\x00" + est.outcome]
        return est, effect, comparison

    gate_hits: dict[str, np.ndarray] = {}
    sim = []
    met: Any
    for entry in entries:
        o = entry.outcome
        new = dataclasses.replace(entry, gross=np.zeros(n_draws))
        if entry.status == "no estimate":
            sim.append(new)
            continue
        if entry.kind == "pooled catch-up":
            terms = o.pooled
            assert terms is not None and entry.decision is not None
            parts = [drawn(o.name, c) for c in terms.cohorts]
            weights = np.array([p[0].n_treated for p in parts], dtype=float)
            weights /= weights.sum()
            effect_all = sum(w * eff for w, (_, eff, _) in zip(weights, parts, strict=True))
            comparison_all = sum(w * comp for w, (_, _, comp) in zip(weights, parts, strict=True))
            together = entry.decision.measured
            gate = gate_of(terms, entry.decision.gate)
            met = _met(gate, gate_measure(effect_all, comparison_all, terms.measure, ARRAY), effect_all, together)
            sign = -1.0 if o.direction == "reduction" else 1.0
            if entry.catch_up is not None:
                prices = [float(entries[m].price or 0) for m in entry.catch_up.members]
                due_all = sum(sign * eff * est.n_treated * p for (est, eff, _), p in zip(parts, prices, strict=True))
                new.catch_up = CatchUp(entry.catch_up.members, due_all, met)
            gate_hits[f"{o.name} / pooled"] = np.broadcast_to(met, (n_draws,))
        else:
            est, eff, comp = drawn(o.name, entry.cohort or "")
            met = True
            trigger = o.trigger()
            if trigger is not None:
                gate = gate_of(trigger, f"{o.name} / {entry.cohort}")
                hit = _met(gate, gate_measure(eff, comp, trigger.measure, ARRAY), eff, est)
                gate_hits[f"{o.name} / {entry.cohort}"] = np.broadcast_to(hit, (n_draws,))
                met = hit if o.gate is not None else True
            if o.mechanism == "attributable":
                assert entry.price is not None
                units = (-eff if o.direction == "reduction" else eff) * est.n_treated
                assert entry.price is not None  # the parser requires a price for attributable outcomes
                new.gross = attributable_gross(units, entry.price, met, ARRAY)
            else:
                new.gross = graded_gross(o, gate_measure(eff, comp, o.measure, ARRAY), est.n_treated, met, ARRAY)
        sim.append(new)
    capped = apply_caps(sim, contract, ARRAY)
    totals = np.zeros(n_draws)
    by_payer = {p.name: np.zeros(n_draws) for p in contract.payers}
    by_line = {}
    for line, c in zip(sim, capped, strict=True):
        amount = np.broadcast_to(c.amount, (n_draws,))
        totals = totals + amount
        by_line[f"{line.outcome.name} / {line.cohort}"] = float(np.mean(amount))
        for name, part in c.payers:
            by_payer[name] = by_payer[name] + part
    return PaymentRisk(
        n_draws=n_draws, seed=seed, currency=contract.currency, expected_total=float(totals.mean()),
        sd_total=float(totals.std(ddof=1)) if n_draws > 1 else 0.0,
        quantiles={q: float(v) for q, v in zip(QUANTILES, np.quantile(totals, QUANTILES), strict=False)},
        prob_any_payment=float(np.mean(totals > 0)),
        prob_gate_met={k: float(np.mean(v)) for k, v in gate_hits.items()},
        expected_by_payer={k: float(np.mean(v)) for k, v in by_payer.items()},
        expected_by_line=by_line, totals=totals,
    )

