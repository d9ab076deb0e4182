"""The standard errors sop_eval offers, by name: one declaration of names and capabilities for every design.

A declaration, not an implementation: each :class:`SEMethod` says what the name computes, what it clusters
on, which design it belongs to and which settings it supports. The contract parser validates ``se`` names
against it with :func:`check_se` without importing the estimators; the estimators (``sop_eval.effects`` for
``"psm"``, ``sop_eval.did`` for ``"did"``) attach their implementations with :func:`register_se` when they
are imported and dispatch through :func:`se_implementation` (linearmodels' covariance-manager pattern).

Settings a design's methods may restrict (any other keyword passed to :func:`check_se` is a programming error):

- ``"psm"``: ``kind`` (outcome: binary, count, continuous, time_to_event), ``replace`` (matching with
  replacement), ``covariates`` (regression adjustment in the matched sample), ``ratio`` (controls per treated
  person), ``weights`` (weights other than 0/1), ``model`` (None: the weighted difference in means or regression
  adjustment; ``"linear"``, ``"logit"``, ``"poisson"``, ``"negbin"``: g-computation with that outcome model,
  :mod:`sop_eval.effects.gcomp`, whose delta-method SEs use the same sandwiches on the model's scores).
- ``"did"``: ``panel`` (False: repeated cross-sections), ``covariates``, ``weights``, ``cluster`` (a cluster
  column is given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sop_eval.errors import SopEvalError

DESIGNS = ("psm", "did")
SETTINGS: Mapping[str, tuple[str, ...]] = {
    "psm": ("kind", "replace", "covariates", "ratio", "weights", "model"),
    "did": ("panel", "covariates", "weights", "cluster"),
}
_HC = ("HC0", "HC1", "HC2", "HC3")
_NOT_TIME_TO_EVENT = ("binary", "count", "continuous")
_ALL_KINDS = (*_NOT_TIME_TO_EVENT, "time_to_event")
_MODELS = ("linear", "logit", "poisson", "negbin")


@dataclass(frozen=True)
class SEMethod:
    """A named standard error: what it is, what it clusters on, and where it applies.

    ``supports`` maps a setting to the values the method accepts (a setting not listed accepts any value);
    ``fixes`` maps a setting to the advice given when its value is refused. ``implemented_in`` is the module
    that registers the implementation. ``uniform_band``: the method also gives a simultaneous (sup-t) band.
    """

    name: str
    design: str
    description: str
    clusters_on: str
    implemented_in: str
    supports: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    fixes: Mapping[str, str] = field(default_factory=dict)
    uniform_band: bool = False

    def accepts(self, setting: str, value: Any) -> bool:
        """Whether ``setting=value`` is supported."""
        allowed = self.supports.get(setting)
        return allowed is None or value in allowed

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the declaration (for the audit trail and documentation)."""
        return {"name": self.name, "design": self.design, "description": self.description,
                "clusters_on": self.clusters_on, "supports": {k: list(v) for k, v in self.supports.items()},
                "uniform_band": self.uniform_band, "implemented_in": self.implemented_in}


_EFFECTS = "sop_eval.effects.inference"
_DID = "sop_eval.did.inference"
_SANDWICH = "weighted regression of the outcome on treatment (and centred covariates) with matching weights; "

_DECLARED: tuple[SEMethod, ...] = (
    SEMethod(
        "cluster", "psm",
        _SANDWICH + "CR1 sandwich, small-sample factor G/(G-1)*(n-1)/(n-k); R sandwich::vcovCL(type='HC1'); "
        "with replacement two-way on R MatchIt's get_matches() rows, each term its own G/(G-1), R "
        "vcovCL(cluster = ~subclass + id). For time to event, the Cox model's robust variance with matched-set "
        "clusters. With model= (g-computation) the same clustering of the outcome model's scores, and the "
        "delta method for the averaged predictions (R marginaleffects::avg_comparisons(vcov = ~subclass)).",
        "matched set (the subclass; rows without a set, as after weighting, are their own cluster); with "
        "replacement, matched set and person (two-way), as a comparison person serves several sets",
        _EFFECTS,
    ),
    SEMethod(
        "robust", "psm",
        _SANDWICH + "HC1 sandwich, the same as 'HC1'. For time to event, the Cox model's robust (Lin-Wei) variance.",
        "nothing: every analysis row is independent", _EFFECTS,
    ),
    *(
        SEMethod(
            hc, "psm", _SANDWICH + f"{hc} sandwich (MacKinnon and White 1985) on one row per person (R MatchIt's "
            f"match.data() form); R sandwich::vcovHC(type='{hc}').",
            "nothing: every person is independent (one row per person, its weights summed)", _EFFECTS,
            supports={"kind": _NOT_TIME_TO_EVENT, "model": (None, *_MODELS)},
            fixes={"kind": "use se='cluster' or se='robust'."},
        )
        for hc in _HC
    ),
    SEMethod(
        "abadie-imbens", "psm",
        "the Abadie and Imbens (2006) variance of the matches as made (no re-matching), which counts controls "
        "used more than once; each control's outcome variance from its M = ratio nearest controls on the "
        "matching distance, within exact strata; R Matching::Match(estimand='ATT', M=ratio, ties=TRUE, "
        "Var.calc=ratio) where the matches coincide.",
        "nothing: the variance counts how often each control is reused instead of clustering", _EFFECTS,
        supports={"kind": _NOT_TIME_TO_EVENT, "covariates": (False,), "replace": (True,), "model": (None,)},
        fixes={"kind": "use se='cluster' or se='robust'.", "model": "leave model= out or use se='cluster'.",
               "covariates": "drop covariates= or use se='cluster'.",
               "replace": "match with replace=True, or use se='cluster'."},
    ),
    SEMethod(
        "bootstrap", "psm",
        "cluster bootstrap: resamples whole matched sets with replacement (seeded, n_boot replicates) and "
        "re-solves the weighted regression; the SE is the replicates' standard deviation.",
        "matched set (whole sets are resampled)", _EFFECTS,
        supports={"kind": _NOT_TIME_TO_EVENT, "replace": (False,), "model": (None,)},
        fixes={"kind": "use se='cluster' or se='robust'.", "model": "leave model= out or use se='cluster'.",
               "replace": "use se='cluster' (two-way: matched set and person) or se='abadie-imbens'; resampling "
                          "matched sets that share controls is not valid for nearest-neighbour matching with "
                          "replacement (Abadie and Imbens 2008)."},
    ),
    SEMethod(
        "analytic", "did",
        "influence-function standard error of each ATT(g,t) and aggregate, sqrt(mean(psi^2)/n) (R did, DRDID).",
        "unit (each unit's influence functions are summed over its periods), or the cluster= column when given; "
        "for repeated cross-sections, each observation", _DID,
    ),
    SEMethod(
        "bootstrap", "did",
        "multiplier bootstrap: n_boot Rademacher draws on the influence functions (seeded), IQR-based SE, and a "
        "uniform (sup-t) band over cells (R did::mboot).",
        "unit (one multiplier per unit), or the cluster= column when given (one multiplier per cluster); for "
        "repeated cross-sections, each observation", _DID,
        uniform_band=True,
    ),
)
SE_REGISTRY: Mapping[tuple[str, str], SEMethod] = {(m.design, m.name): m for m in _DECLARED}
_IMPLEMENTATIONS: dict[tuple[str, str], Callable[..., Any]] = {}


def _check_design(design: str) -> None:
    if design not in DESIGNS:
        raise SopEvalError(f"design={design!r} has no standard errors declared; designs: {', '.join(DESIGNS)}.")


def _canonical(name: Any) -> str:
    text = str(name)
    return text.upper() if text.upper() in _HC else text.lower()


def se_methods(design: str) -> tuple[SEMethod, ...]:
    """The standard errors declared for ``design``, in declaration order."""
    _check_design(design)
    return tuple(m for m in _DECLARED if m.design == design)


def se_names(design: str, **settings: Any) -> tuple[str, ...]:
    """Names of the standard errors of ``design`` that support every given setting."""
    _check_settings(design, settings)
    return tuple(m.name for m in se_methods(design) if all(m.accepts(k, v) for k, v in settings.items()))


def _check_settings(design: str, settings: Mapping[str, Any]) -> None:
    _check_design(design)
    unknown = sorted(set(settings) - set(SETTINGS[design]))
    if unknown:
        raise TypeError(f"check_se got setting(s) {unknown} unknown for design {design!r}; "
                        f"known: {', '.join(SETTINGS[design])}.")


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def check_se(name: Any, design: str, **settings: Any) -> SEMethod:
    """The declaration of standard error ``name`` for ``design``, checked against ``settings``.

    Names are case-insensitive. Raises :class:`SopEvalError` naming the value, the names supported for that
    setting and a fix when ``name`` is unknown for ``design`` or does not support one of ``settings``
    (e.g. ``check_se("abadie-imbens", "psm", replace=False)``).
    """
    _check_settings(design, settings)
    method = SE_REGISTRY.get((design, _canonical(name)))
    if method is None:
        known = se_names(design)
        other = [d for d in DESIGNS if d != design and (d, _canonical(name)) in SE_REGISTRY]
        where = f" (it is a standard error of design {other[0]!r})" if other else ""
        raise SopEvalError(
            f"se={name!r} is not a known standard error for design {design!r}{where}; choose one of "
            f"{_names(known)}."
        )
    for key in SETTINGS[design]:
        if key in settings and not method.accepts(key, settings[key]):
            value = settings[key]
            ok = se_names(design, **{key: value})
            needs = " or ".join(_describe(key, v) for v in method.supports[key])
            raise SopEvalError(
                f"se={method.name!r} is not available for {_describe(key, value)}; it needs {needs}. For "
                f"{_describe(key, value)} the standard errors are {_names(ok)}. Fix: "
                f"{method.fixes.get(key, 'choose one of those.')}"
            )
    return method


_TEXT: Mapping[str, Mapping[Any, str]] = {
    "replace": {True: "matching with replacement", False: "matching without replacement"},
    "covariates": {True: "regression adjustment", False: "no regression adjustment"},
    "panel": {True: "a panel", False: "repeated cross-sections"},
    "weights": {True: "weights", False: "no weights"},
    "cluster": {True: "a cluster column", False: "no cluster column"},
}


def _describe(key: str, value: Any) -> str:
    text = _TEXT.get(key, {}).get(value) if isinstance(value, bool) else None
    if text is None:
        return f"{value} outcomes ({key}={value!r})" if key == "kind" else f"{key}={value!r}"
    return f"{text} ({key}={value!r})"


def register_se(design: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator attaching the implementation of a declared standard error (used by effects and did)."""
    if (design, name) not in SE_REGISTRY:
        raise KeyError(f"standard error {name!r} is not declared for design {design!r} in sop_eval.stats.registry.")

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        _IMPLEMENTATIONS[(design, name)] = fn
        return fn

    return attach


def se_implementation(design: str, name: str) -> Callable[..., Any]:
    """The implementation registered for ``name`` (canonical, as :func:`check_se` returns it) in ``design``."""
    try:
        return _IMPLEMENTATIONS[(design, name)]
    except KeyError:
        method = check_se(name, design)
        raise LookupError(f"no implementation of se={name!r} for design {design!r} is registered; import "
                          f"{method.implemented_in} first.") from None
