"""A simulated Peterborough-like world: short-sentence releases, a treated prison and a national pool."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_eval.data.schema import ColumnRoles
from sop_eval.datasets._arguments import real_number, whole_number
from sop_eval.errors import SopEvalError

OFFENCE_GROUPS = ("theft", "violence", "drugs", "motoring", "public_order", "other")
# log-rate shift of each offence group against theft (the reference group)
_OFFENCE_EFFECT = np.array([0.0, -0.15, -0.05, -0.30, -0.10, -0.20])
_POOL_OFFENCE_P = np.array([0.30, 0.22, 0.14, 0.12, 0.12, 0.10])
_TREATED_OFFENCE_P = np.array([0.42, 0.18, 0.16, 0.06, 0.11, 0.07])

FIRST_RELEASE = pd.Timestamp("2010-09-09")
COHORT_MONTHS = 22
FOLLOW_UP_MONTHS = 12
COURT_LAG_MONTHS = 6
ANALYSIS_MONTHS = 3
_NB_SIZE = 1.6  # negative binomial shape: over-dispersion of reconviction events given risk

REOFFENDING_ROLES = ColumnRoles(
    id="person_id",
    treatment="treated",
    cohort="cohort",
    covariates=(
        "age",
        "prior_convictions",
        "prior_custodial",
        "offence_group",
        "sentence_months",
        "drug_misuse",
        "no_fixed_abode",
    ),
    outcomes=("reconviction_events", "reconvicted", "days_to_reconviction"),
    index_date="release_date",
    counts=("reconviction_events", "prior_convictions", "prior_custodial"),
    allow_missing=("days_to_reconviction",),
)


def _people(rng: np.random.Generator, n: int, treated: bool) -> dict[str, np.ndarray]:
    """Pre-release characteristics; the treated prison holds younger, more prolific offenders."""
    age = np.clip(rng.gamma(6.0, 5.2 if not treated else 4.6, n) + 16, 18, 70).round()
    prolific = rng.gamma(1.3, 6.5 if not treated else 8.5, n)
    prior_convictions = rng.poisson(prolific)
    prior_custodial = rng.binomial(prior_convictions, 0.25 if not treated else 0.30)
    offence = rng.choice(len(OFFENCE_GROUPS), size=n, p=_TREATED_OFFENCE_P if treated else _POOL_OFFENCE_P)
    sentence_months = np.clip(rng.gamma(2.0, 1.6, n), 0.5, 11.9).round(1)
    drug_misuse = rng.binomial(1, 0.34 if not treated else 0.44, n)
    no_fixed_abode = rng.binomial(1, 0.14 if not treated else 0.20, n)
    return {
        "age": age.astype(np.int64),
        "prior_convictions": prior_convictions.astype(np.int64),
        "prior_custodial": prior_custodial.astype(np.int64),
        "offence": offence,
        "sentence_months": sentence_months,
        "drug_misuse": drug_misuse.astype(np.int64),
        "no_fixed_abode": no_fixed_abode.astype(np.int64),
    }


def _expected_events(p: dict[str, np.ndarray]) -> np.ndarray:
    """Expected reconviction events in 12 months without the service (the counterfactual mean)."""
    log_rate = (
        0.06
        - 0.22 * (p["age"] - 30) / 10
        + 0.30 * np.log1p(p["prior_convictions"])
        + 0.12 * np.log1p(p["prior_custodial"])
        + _OFFENCE_EFFECT[p["offence"]]
        - 0.02 * p["sentence_months"]
        + 0.25 * p["drug_misuse"]
        + 0.20 * p["no_fixed_abode"]
    )
    return np.exp(log_rate)


def make_reoffending(
    n_per_cohort: int = 1000,
    n_cohorts: int = 2,
    pool_size: int = 20000,
    effect: float = -0.10,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate released prisoners: treated cohorts from one prison and a national comparison pool.

    One row per release. Treated people (``treated == 1``) fill ``n_cohorts`` consecutive cohorts of
    ``n_per_cohort`` releases, each cohort taking 22 months to fill from 9 September 2010. The pool
    (``treated == 0``) spans the same release period; its ``cohort`` is the cohort whose release window
    holds the release date, so ``exact=["cohort"]`` matches people released in the same period.

    Reconviction events in the 12-month window are negative binomial with mean ``mu0 * (1 + effect)``
    for the treated and ``mu0`` for the pool, where ``mu0`` depends only on the pre-release covariates:
    selection is on observables and the true relative change in expected events for the treated is
    exactly ``effect`` (``df.attrs["true_effect"]``). The treated prison holds younger, more prolific
    offenders, so a naive treated-vs-pool comparison is biased upwards (towards no reduction).

    Columns: ``person_id`` (pseudonymous), ``treated``, ``cohort``, ``prison``, ``release_date``,
    ``age``, ``prior_convictions``, ``prior_custodial``, ``offence_group`` (categorical),
    ``sentence_months``, ``drug_misuse``, ``no_fixed_abode``, ``reconviction_events``,
    ``reconvicted`` (0/1) and ``days_to_reconviction`` (days from release to the first reconviction
    event's offence; missing when there is none). ``df.attrs`` also holds ``true_effect``,
    ``extract_date`` (after every window has closed), ``follow_up_months`` (12) and
    ``court_lag_months`` (6).
    """
    n_per_cohort = whole_number(n_per_cohort, "n_per_cohort", "make_reoffending")
    n_cohorts = whole_number(n_cohorts, "n_cohorts", "make_reoffending")
    pool_size = whole_number(pool_size, "pool_size", "make_reoffending")
    effect = real_number(effect, "effect", "make_reoffending")
    if not -1.0 < effect < 10.0:
        raise SopEvalError(
            f"make_reoffending: effect={effect} is a relative change in expected events and must lie "
            "in (-1, 10); e.g. -0.10 for a 10% reduction."
        )
    rng = np.random.default_rng(seed)
    n_treated = int(n_per_cohort) * int(n_cohorts)
    n_pool = int(pool_size)

    treated_people = _people(rng, n_treated, treated=True)
    pool_people = _people(rng, n_pool, treated=False)
    people = {k: np.concatenate([treated_people[k], pool_people[k]]) for k in treated_people}
    treated = np.r_[np.ones(n_treated, dtype=np.int64), np.zeros(n_pool, dtype=np.int64)]

    boundaries = [FIRST_RELEASE + pd.DateOffset(months=COHORT_MONTHS * c) for c in range(n_cohorts + 1)]
    starts = np.array([b.value for b in boundaries[:-1]])
    spans = np.array([(boundaries[c + 1] - boundaries[c]).value for c in range(n_cohorts)])
    # treated releases are consecutive within each cohort window; pool releases are spread over all of them
    treated_cohort = np.repeat(np.arange(n_cohorts), n_per_cohort)
    frac = np.concatenate([np.sort(rng.random(n_per_cohort)) for _ in range(n_cohorts)])
    treated_release = starts[treated_cohort] + (frac * spans[treated_cohort]).astype(np.int64)
    pool_release = boundaries[0].value + (rng.random(n_pool) * (boundaries[-1] - boundaries[0]).value).astype(
        np.int64
    )
    pool_cohort = np.searchsorted(starts, pool_release, side="right") - 1
    release = pd.to_datetime(np.r_[treated_release, pool_release]).normalize()
    cohort = np.r_[treated_cohort, pool_cohort] + 1

    mu0 = _expected_events(people)
    mu = mu0 * np.where(treated == 1, 1.0 + effect, 1.0)
    events = rng.negative_binomial(_NB_SIZE, _NB_SIZE / (_NB_SIZE + mu))
    reconvicted = (events > 0).astype(np.int64)
    # time to the first event: earlier for people with more events in the window
    first_frac = rng.beta(1.0, 1.0 + events)
    days = np.where(events > 0, np.ceil(first_frac * 365).clip(1, 365), np.nan)

    n_prisons = 24
    pool_prison = rng.integers(1, n_prisons + 1, n_pool)
    prison = np.r_[np.full(n_treated, "HMP Peterborough", dtype=object), [f"Prison {p:02d}" for p in pool_prison]]
    person_id = [f"P{i:07d}" for i in rng.permutation(np.arange(1, n_treated + n_pool + 1))]

    df = pd.DataFrame(
        {
            "person_id": person_id,
            "treated": treated,
            "cohort": cohort.astype(np.int64),
            "prison": prison,
            "release_date": release,
            "age": people["age"],
            "prior_convictions": people["prior_convictions"],
            "prior_custodial": people["prior_custodial"],
            "offence_group": pd.Categorical.from_codes(people["offence"], categories=list(OFFENCE_GROUPS)),
            "sentence_months": people["sentence_months"],
            "drug_misuse": people["drug_misuse"],
            "no_fixed_abode": people["no_fixed_abode"],
            "reconviction_events": events.astype(np.int64),
            "reconvicted": reconvicted,
            "days_to_reconviction": days,
        }
    )
    last_window = boundaries[-1] + pd.DateOffset(months=FOLLOW_UP_MONTHS + COURT_LAG_MONTHS)
    df.attrs.update(
        {
            "true_effect": float(effect),
            "extract_date": (last_window + pd.DateOffset(months=ANALYSIS_MONTHS)).date().isoformat(),
            "follow_up_months": FOLLOW_UP_MONTHS,
            "court_lag_months": COURT_LAG_MONTHS,
            "seed": int(seed),
        }
    )
    return df
