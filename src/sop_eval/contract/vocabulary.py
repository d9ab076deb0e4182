"""The words a contract may use and the engine runs: one list per choice, imported by both.

Add a value here when the engine learns it; the parser then accepts it and the error for an unknown
value lists it. Standard-error names come from the SE registry of the numerical core, the one place
that declares them with what each supports.
"""

from __future__ import annotations

from sop_eval.stats.registry import se_names

# -- what pays and how it is measured -------------------------------------------------------------
MECHANISMS = ("attributable", "rate_card", "ladder", "sliding_scale")
DIRECTIONS = ("reduction", "increase")
MEASURES = ("relative_reduction", "relative_increase", "reduction", "increase")

# -- timing ------------------------------------------------------------------------------------------
OVERLAP_RULES = ("earlier", "later")
"""``[timing] overlap``: a date inside two cohorts' entry windows belongs to the earlier- or later-starting one."""
MAX_MONTHS = 1200
"""The most months a timing key may hold (a hundred years): more overflows the calendar."""
MAX_DAYS = 3660
"""The most days ``payment_terms_days`` may hold (ten years)."""

# -- evaluation designs ------------------------------------------------------------------------------
DESIGNS = ("psm", "did", "synthetic_control", "sdid", "historical_baseline", "assumed_rate", "rct", "weighting")
"""Designs an estimate (and a paid outcome) may come from."""
WEAKER_DESIGNS = ("historical_baseline", "assumed_rate")
"""Designs without a concurrent comparison group."""
EVALUATION_DESIGNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
"""``[evaluation] design``: every design ``evaluate()`` runs, with the ``[evaluation]`` keys and the
``[data.columns]`` roles it reads. Filled by :func:`declare_design`, which registering a design calls."""


def declare_design(name: str, evaluation_keys: tuple[str, ...], data_columns: tuple[str, ...]) -> None:
    """Let contracts name design ``name``, reading these ``[evaluation]`` keys and ``[data.columns]`` roles."""
    EVALUATION_DESIGNS[name] = (tuple(evaluation_keys), tuple(data_columns))
"""Designs ``evaluate()`` runs end to end from a contract (``[evaluation] design``)."""

# -- matched cohorts ([evaluation.matching] and sop_eval.match) ------------------------------------
MATCH_METHODS = ("nearest", "optimal", "full", "cem", "subclass", "exact", "weighting", "ebal")
"""Methods :func:`sop_eval.match` implements."""
EVALUATION_MATCH_METHODS = ("nearest", "optimal", "full", "cem", "subclass", "exact", "weighting", "ebal")
"""``[evaluation.matching] method``: the methods ``evaluate()`` runs (propensity weighting and entropy balancing
with the keys ``estimand``, ``trim``, ``trim_rule``, ``moments``)."""
DEFAULT_SE = {"nearest": "cluster", "optimal": "cluster", "full": "cluster", "cem": "robust", "subclass": "robust",
              "exact": "robust", "weighting": "robust", "ebal": "robust"}
"""``[evaluation] se`` when the contract gives none, by ``[evaluation.matching] method`` (MatchIt's guidance on
estimating effects): clustered on the matched set after pair and full matching, whose sets are the units of
dependence; robust (HC1, one row per person) after subclassification, coarsened exact and exact matching, whose
strata are few and not matched sets, and after weighting, which forms no sets."""
FEW_CLUSTERS_SE = ("subclass",)
"""Methods whose strata are too few to cluster a standard error on (``subclass``: 6 by default)."""
WEIGHTING_ESTIMANDS = ("ATT", "ATC", "ATE", "ATO")
"""``[evaluation.matching] estimand`` for ``method = "weighting"`` (``"ebal"``: all but ATO; nearest: ATT)."""
TRIM_RULES = ("truncate", "drop")
"""``[evaluation.matching] trim_rule``: weights above the ``trim`` quantile set to it, or to 0."""
PROPENSITY_DISTANCES = ("logit", "linear_logit")
"""Built-in ``distance`` names of :func:`sop_eval.match` (the score matched on)."""
PROPENSITY_MODELS = ("glm", "logit")
"""``[evaluation.matching] distance``: the propensity model, logistic regression (both names)."""
COVARIATE_DISTANCES = ("mahalanobis", "robust_mahalanobis")
"""Distances on the covariates themselves (``distance=`` of :func:`sop_eval.match` and the contract)."""
MATCH_DISTANCES = (*PROPENSITY_MODELS, *COVARIATE_DISTANCES)
"""``[evaluation.matching] distance``: a propensity model or a covariate distance."""
CALIPER_SCALES = ("logit", "propensity")
"""``[evaluation.matching] caliper_scale``: SDs of the logit of the score, or of the score itself."""
MATCHED_SE = se_names("psm")
"""``[evaluation] se`` for matched cohorts: the names the SE registry (:mod:`sop_eval.stats.registry`) declares."""

# -- staggered difference-in-differences ([evaluation.did] and sop_eval.did.att_gt) ----------------
DID_CONTROLS = ("never", "not_yet")
DID_METHODS = ("dr", "ipw", "reg")
DID_BASE_PERIODS = ("varying", "universal")
DID_SE = se_names("did")
HONEST_RESTRICTIONS = ("both", "relative_magnitudes", "smoothness", "none")
"""``[evaluation.did] honest``: the HonestDiD restrictions a DiD run reports on its event study."""
HONEST_TARGETS = ("average", "first", "both")
"""``[evaluation.did] honest_target``: the average of the post-period effects, the first post-period effect, or both."""
HONEST_MBAR = (0, 0.5, 1, 1.5, 2)
"""Default ``[evaluation.did] honest_mbar``: the relative-magnitudes bounds Mbar reported."""

# -- [data.columns] roles ------------------------------------------------------------------------------
COLUMN_ROLES = ("id", "treatment", "cohort", "index_date")
COLUMN_LISTS = ("covariates", "outcomes", "counts", "allow_missing", "categorical")
PANEL_ROLES = ("unit", "time", "group")
AREA_ROLES = ("population",)
"""``[data.columns]`` roles of the area-level designs (synthetic control, SDID) beyond ``unit`` and ``time``."""


declare_design("psm", ("design", "outcome", "extract_date", "se", "level", "allow_small", "matching"),
               (*COLUMN_ROLES, *COLUMN_LISTS, "treated_values"))
declare_design("did", ("design", "outcome", "level", "did"), (*PANEL_ROLES, "outcomes", "covariates"))
for _area_design in ("synthetic_control", "sdid"):
    declare_design(_area_design, ("design", "outcome", "level", "synth"), ("unit", "time", *AREA_ROLES, "outcomes"))
