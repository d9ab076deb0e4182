"""How the evaluation behind the payments is run: data files and column roles, matching, DiD, inference.

The typed form of a contract's ``[data]`` and ``[evaluation]`` sections (built by
:func:`sop_eval.contract.parse_contract`); the values allowed for each setting are listed in
:mod:`sop_eval.contract.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from sop_eval.contract.vocabulary import AREA_ROLES, HONEST_MBAR, PANEL_ROLES
from sop_eval.errors import SopEvalError, examples


def _as_tuple(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise SopEvalError(f"column role '{name}' must be a column name or a list of names, got {value!r}.") from None
    for item in items:
        if not isinstance(item, str):
            raise SopEvalError(f"column role '{name}' must list column names (text); got {item!r}.")
    return items


@dataclass(frozen=True)
class ColumnRoles:
    """The part each column plays in an evaluation.

    ``id`` identifies a person (pseudonymised; never printed), ``treatment`` is 1 for people served
    and 0 for the comparison pool, ``cohort`` labels the contract cohort, ``covariates`` are
    pre-treatment characteristics used for matching, ``outcomes`` are measured after the index date
    (``index_date``, e.g. the release date). ``counts`` must be non-negative; ``allow_missing`` may
    hold missing values (e.g. days to an event that never happened). ``categorical`` declares
    covariates whose values are categories even where they look like numbers (codes).
    """

    id: str | None = None
    treatment: str = "treated"
    cohort: str | None = None
    covariates: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    index_date: str | None = None
    counts: tuple[str, ...] = ()
    allow_missing: tuple[str, ...] = field(default=())
    categorical: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("covariates", "outcomes", "counts", "allow_missing", "categorical"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name), name))
        for name in ("id", "treatment", "cohort", "index_date"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise SopEvalError(f"column role '{name}' must be one column name (text), got {value!r}.")
        overlap = set(self.covariates) & set(self.outcomes)
        if overlap:
            raise SopEvalError(
                f"column(s) {sorted(overlap)} are declared both as covariates and as outcomes; matching must "
                "never see the outcome. Remove them from one of the two lists."
            )
        if self.treatment in self.covariates:
            raise SopEvalError(f"the treatment column '{self.treatment}' cannot also be a covariate.")
        undeclared = [c for c in self.categorical if c not in self.covariates]
        if undeclared:
            raise SopEvalError(
                f"column(s) {examples(undeclared)} are declared categorical but are not covariates; list them "
                "among the covariates too, or remove them from categorical."
            )

    def columns(self) -> list[str]:
        """Every column named by a role, in a stable order without repeats."""
        named = [self.id, self.treatment, self.cohort, self.index_date, *self.covariates, *self.outcomes, *self.counts]
        return list(dict.fromkeys(c for c in named if c is not None))

    def with_(self, **changes: Any) -> ColumnRoles:
        """A copy with some roles changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "id": self.id,
            "treatment": self.treatment,
            "cohort": self.cohort,
            "covariates": list(self.covariates),
            "outcomes": list(self.outcomes),
            "index_date": self.index_date,
            "counts": list(self.counts),
            "allow_missing": list(self.allow_missing),
            "categorical": list(self.categorical),
        }


@dataclass(frozen=True)
class DataSettings:
    """Where the evaluation data live (absolute paths, resolved against the contract file) and column roles."""

    participants: Path | None = None
    comparison_pool: Path | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    date_format: str | None = None
    dayfirst: bool | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str:
        """How a report names a column or a covariate term: the contract's ``[data.labels]`` where given, else
        the name with underscores as spaces. A categorical covariate's level term (``offence_group_theft``)
        reads ``offence group: theft`` (the covariate's label, then the level)."""
        if name in self.labels:
            return self.labels[name]
        covariates = list(self.columns.get("covariates", ()))
        if name not in covariates:
            owner = max((c for c in covariates if name.startswith(f"{c}_")), key=len, default=None)
            if owner is not None:
                return f"{self.label(owner)}: {name[len(owner) + 1:].replace('_', ' ')}"
        return name.replace("_", " ")

    def column_roles(self) -> ColumnRoles:
        """The person-level column roles as :class:`ColumnRoles`."""
        return ColumnRoles(**{k: v for k, v in self.columns.items()
                              if k not in (*PANEL_ROLES, *AREA_ROLES, "treated_values")})

    @property
    def treated_values(self) -> tuple[str, ...] | None:
        """The treatment column's values meaning treated (``[data.columns] treated_values``), if given."""
        values = self.columns.get("treated_values")
        return None if values is None else tuple(values)

    def reading(self) -> dict[str, Any]:
        """How the data are read, as keyword arguments of :func:`sop_eval.data.validate`."""
        return {"date_format": self.date_format, "dayfirst": self.dayfirst, "treated_values": self.treated_values}

    def panel_columns(self) -> dict[str, str]:
        """The panel roles of a difference-in-differences evaluation: ``unit``, ``time`` and ``group``."""
        return {k: v for k, v in self.columns.items() if k in PANEL_ROLES}


@dataclass(frozen=True)
class MatchingSettings:
    """Matching settings: ``method``, up to ``ratio`` controls each, ``replace``, ``caliper`` (in SDs of
    ``caliper_scale``, or in its raw units where ``std_caliper`` is false), ``exact`` columns and the propensity
    ``distance`` model as the contract writes it
    (``glm`` or ``logit``: both a logistic regression, or a covariate distance), the options of the other
    methods (``mahvars``, ``antiexact``, ``min_controls``/``max_controls``, ``subclass``/``min_n``, ``cutpoints``,
    ``k2k``, as :func:`sop_eval.match`) and ``ties`` (with replacement, keep every control tied at the last
    matched distance, sharing the weight). :attr:`score` is what the matching runs on.
    For ``method = "weighting"``/``"ebal"``: the ``estimand``, ``trim`` quantile and ``trim_rule`` (weighting) and
    the balanced ``moments`` (ebal)."""

    method: str = "nearest"
    ratio: int = 1
    replace: bool = False
    caliper: Decimal | None = None
    caliper_scale: str = "logit"
    std_caliper: bool | dict[str, bool] = True
    exact: tuple[str, ...] = ()
    distance: str = "glm"
    mahvars: tuple[str, ...] = ()
    antiexact: tuple[str, ...] = ()
    min_controls: Decimal | None = None
    max_controls: Decimal | None = None
    subclass: int = 6
    min_n: int = 1
    cutpoints: dict[str, Any] = field(default_factory=dict)
    k2k: bool = False
    ties: bool = False
    estimand: str = "ATT"
    trim: Decimal | None = None
    trim_rule: str = "truncate"
    moments: int = 1

    @property
    def score(self) -> str:
        """The :func:`sop_eval.match` ``distance`` these settings imply: the logit of the propensity score
        (``linear_logit``) when the caliper is in its SDs, else the score itself (``logit``)."""
        return "linear_logit" if self.caliper_scale == "logit" else "logit"


@dataclass(frozen=True)
class DidSettings:
    """Staggered-adoption settings (Callaway–Sant'Anna ``att_gt``): comparison units, estimator, base period,
    anticipation and the standard error (``analytic`` or multiplier ``bootstrap`` with ``n_boot`` draws); the
    HonestDiD sensitivity of the event study (``honest``: which restrictions, ``honest_target``: which effect,
    ``honest_mbar``/``honest_m``: the bounds; an empty ``honest_m`` leaves the grid to HonestDiD's default)."""

    control: str = "not_yet"
    method: str = "dr"
    anticipation: int = 0
    base_period: str = "varying"
    se: str = "analytic"
    n_boot: int = 999
    honest: str = "both"
    honest_target: str = "average"
    honest_mbar: tuple[Decimal, ...] = tuple(Decimal(str(m)) for m in HONEST_MBAR)
    honest_m: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class SynthSettings:
    """Area-level settings (synthetic control, SDID): the ``treated`` area labels, the first treated period
    ``start``, the rate base ``rate_per`` (the outcome is per this many of the population column), the SDID
    placebo ``replications`` (None: the default of 200) and the placebo ``seed`` (None: the run's seed).
    Synthetic control only: ``predictors`` (panel columns averaged over the pre-period) and ``outcome_periods``
    (pre-periods whose outcome is a predictor); with neither, every pre-period outcome is a predictor."""

    treated: tuple[str, ...] = ()
    start: int = 0
    rate_per: int = 1
    replications: int | None = None
    seed: int | None = None
    predictors: tuple[str, ...] = ()
    outcome_periods: tuple[int, ...] = ()


@dataclass(frozen=True)
class EvaluationSettings:
    """How the evaluation that feeds the payments is run (read by the pipeline)."""

    design: str = "psm"
    outcome: str | None = None
    extract_date: dt.date | None = None
    se: str = "cluster"
    level: float = 0.95
    allow_small: bool = False
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    did: DidSettings = field(default_factory=DidSettings)
    synth: SynthSettings = field(default_factory=SynthSettings)


@dataclass(frozen=True)
class ReportSettings:
    """How the report is laid out: ``"standard"``, or ``"jdl"`` (the Justice Data Lab's layout)."""

    layout: str = "standard"
