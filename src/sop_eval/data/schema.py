"""Column roles: which column of person-level evaluation data plays which part."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

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

    def with_(self, **changes: Any) -> "ColumnRoles":
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
