"""Phrases the methods' ``describe(options)`` sentences share: what is matched on, calipers, exact columns.

``options`` are :func:`sop_eval.match`'s keyword arguments as a JSON-safe mapping (a contract's
``[evaluation.matching]`` as the matched-cohorts design records it), with ``exact`` the names to show and
``within`` an optional phrase for where matching runs (e.g. ``"each contract cohort"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sop_eval.contract.vocabulary import COVARIATE_DISTANCES


def score(options: Mapping[str, Any]) -> str:
    """The score the distance is measured on: the propensity score or its logit."""
    logit = options.get("caliper_scale", "logit" if options.get("score", options.get("distance")) == "linear_logit"
                        else "propensity") == "logit"
    return f"{'logit of the ' if logit else ''}propensity score"


def matched_on(options: Mapping[str, Any]) -> str:
    """``the <distance>``: a Mahalanobis distance of ``mahvars``, a covariate distance, or the score."""
    if options.get("mahvars"):
        return "the Mahalanobis distance of " + ", ".join(options["mahvars"])
    if options.get("distance") in COVARIATE_DISTANCES:
        return f"the {options['distance'].replace('_', ' ')} distance of the covariates"
    return f"the {score(options)}"


def calipers(options: Mapping[str, Any]) -> str:
    """``, caliper 0.2 SD of the <score>`` (SDs) or ``, caliper 0.05 on the <score> (raw units)``, per caliper."""
    caliper = options.get("caliper")
    if caliper is None:
        return ""
    items = dict(caliper) if isinstance(caliper, Mapping) else {"distance": caliper}
    flags = options.get("std_caliper", True)
    parts = []
    for name, width in items.items():
        in_sds = bool(flags.get(name, True) if isinstance(flags, Mapping) else flags)
        what = f"the {score(options)}" if name == "distance" else name
        parts.append(f"{number(width)} SD of {what}" if in_sds else f"{number(width)} on {what} (raw units)")
    return f", caliper {parts[0]}" if len(parts) == 1 else ", calipers " + ", ".join(parts)


def exact(options: Mapping[str, Any]) -> str:
    """``, exact on a, b`` and ``, differing on c (anti-exact)``; empty when neither is set."""
    names = options.get("exact") or []
    anti = options.get("antiexact") or []
    return ((f", exact on {', '.join(names)}" if names else "")
            + (f", differing on {', '.join(anti)} (anti-exact)" if anti else ""))


def within(options: Mapping[str, Any]) -> str:
    """`` within <where>`` when the options say where matching runs, else empty."""
    return f" within {options['within']}" if options.get("within") else ""


def estimand(options: Mapping[str, Any]) -> str:
    """The estimand, ATT unless the options say otherwise."""
    return str(options.get("estimand") or "ATT")


def number(value: Any) -> str:
    """A setting as written: whole numbers without a decimal point (``3.0`` reads 3), others as given."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
