"""The methods sentence of every :func:`sop_eval.match` method: each method module's ``describe(options)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sop_eval.cohorts import cem, ebal, exact, full, nearest, optimal, subclassify, weighting
from sop_eval.contract.vocabulary import MATCH_METHODS
from sop_eval.errors import SopEvalError, examples

DESCRIBE: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "nearest": nearest.describe, "optimal": optimal.describe, "full": full.describe, "cem": cem.describe,
    "subclass": subclassify.describe, "exact": exact.describe, "weighting": weighting.describe,
    "ebal": ebal.describe,
}
"""Per method, the function that words its sentence (method, estimand, distance, ratio and replacement,
calipers in SDs or raw units, exact and anti-exact columns; trimming and effective sample size for weights)."""

assert set(DESCRIBE) == set(MATCH_METHODS)


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for ``options`` (:func:`sop_eval.match`'s keywords, JSON-safe; ``method`` picks the
    wording, ``exact`` holds the names to show and ``within`` where matching runs, see
    :mod:`sop_eval.cohorts.wording`)."""
    method = options.get("method", "nearest")
    if method not in DESCRIBE:
        raise SopEvalError(f"method={method!r} is not one of {examples(sorted(DESCRIBE))}.")
    return DESCRIBE[method](options)
