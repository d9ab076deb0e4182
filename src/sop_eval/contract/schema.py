"""The contract file's schema: every section, every key, how it is read, its default and its allowed values.

One table per section. A key is ``Key(name, kind, default, ...)``; ``REQUIRED`` marks a key that must
be given, ``SET_BY_PARSER`` one whose default depends on other keys (stated in its ``note``). Kinds:
``text`` (optionally one of ``choices``), ``label`` (text or a bare number, e.g. a version), ``texts``
(a list of names), ``number`` (an exact decimal within ``low``/``high``), ``integer``, ``flag``,
``switches`` (a flag, or a table of name = flag), ``date``, ``path`` (relative to the contract file),
``prices`` (a list of amounts), ``numbers`` (a list of non-negative numbers), ``mapping``
({name = value}), ``table`` and ``tables`` (a sub-table or an array of tables, read by its own schema).
Any key not listed is refused, naming its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sop_eval.contract import vocabulary as v

REQUIRED: Any = object()
SET_BY_PARSER: Any = object()
ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class Key:
    """One key of a section."""

    name: str
    kind: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    low: Any = ZERO
    high: Any = None
    what: str = ""
    note: str = ""


#: what an organisation identifier is (INDIGO exports reference organisations by it)
ORG_ID_NOTE = ("an org-id.guide identifier: the list's code and the organisation's identifier in that list, e.g. "
               "GB-LAE-KIR (a local authority), GB-GOR-... (a central government body), GB-COH-09506232 (a company)")


CONTRACT = (
    Key("name", "text", REQUIRED),
    Key("version", "label", REQUIRED),
    Key("effective", "date", REQUIRED),
    Key("currency", "text", REQUIRED, note="a three-letter ISO 4217 code"),
    Key("description", "text", ""),
    Key("payment_terms_days", "integer", 0, high=v.MAX_DAYS, what="ten years at most"),
    Key("provider", "text", None, note="the service provider's name"),
    Key("provider_organisation_id", "text", None, note=ORG_ID_NOTE),
)

TIMING_KEYS = ("follow_up_months", "court_lag_months", "analysis_months")
TIMING = (
    *(Key(k, "integer", 0, high=v.MAX_MONTHS, what="a hundred years at most") for k in TIMING_KEYS),
    Key("overlap", "text", None, choices=v.OVERLAP_RULES,
        note="which cohort a date in two cohorts' entry windows belongs to (required when windows overlap)"),
)

COHORT = (
    Key("name", "text", REQUIRED),
    Key("entry_start", "date"),
    Key("entry_end", "date"),
    Key("size", "integer", low=1, note="people served expected in the cohort; validation warns when the data differ"),
    Key("group", "integer", low=1, note="first treated period (difference-in-differences)"),
    Key("first_period", "integer", note="first period of the panel the cohort covers (synthetic control, SDID)"),
    Key("last_period", "integer", note="last period the cohort covers, inclusive (default: first_period)"),
    Key("data_available", "date", note="the date the data for last_period are published (synthetic control, SDID): "
        "measurable then plus [timing] analysis_months, due payment_terms_days later"),
    *(Key(k, "integer", SET_BY_PARSER, high=v.MAX_MONTHS, what="a hundred years at most", note="default: [timing]")
      for k in TIMING_KEYS),
)

GATE = (
    Key("measure", "text", SET_BY_PARSER, choices=v.MEASURES, note="default: from the outcome's direction or measure"),
    Key("threshold", "number", REQUIRED, what="a threshold (0.10 for 10%)"),
    Key("level", "number", None, high=ONE, what="a confidence level such as 0.95",
        note="significance required at this level; `alpha` (1 - level) is the older spelling"),
    Key("alpha", "number", None, high=ONE, what="a significance level such as 0.05"),
)

POOLED = (
    *GATE,
    Key("cohorts", "texts", SET_BY_PARSER, note="default: the outcome's cohorts"),
    Key("catch_up", "flag", True),
)

STEP = (
    Key("at_least", "number", REQUIRED, low=None, what="a value on the measure"),
    Key("amount", "number", REQUIRED, what="an amount"),
)

OUTCOME = (
    Key("name", "text", REQUIRED),
    Key("mechanism", "text", REQUIRED, choices=v.MECHANISMS),
    Key("design", "text", REQUIRED, choices=v.DESIGNS),
    Key("metric", "text", ""),
    Key("unit", "text", ""),
    Key("cohorts", "texts", SET_BY_PARSER, note="default: every cohort"),
    Key("cap", "number", None, what="an amount"),
)

MECHANISM_KEYS: dict[str, tuple[Key, ...]] = {
    "attributable": (
        Key("price", "number", REQUIRED, what="a price (amount per unit)"),
        Key("direction", "text", "reduction", choices=v.DIRECTIONS),
        Key("gate", "table"),
        Key("pooled", "table"),
    ),
    "rate_card": (
        Key("price", "number", REQUIRED, what="a price (amount per unit)"),
        Key("max_per_person", "integer", 1, low=1),
        Key("tier_prices", "prices", ()),
        Key("volume_cap", "integer", None),
    ),
    "ladder": (
        Key("measure", "text", "relative_reduction", choices=v.MEASURES),
        Key("steps", "tables", REQUIRED),
        Key("gate", "table"),
        Key("per_person", "flag", False),
    ),
    "sliding_scale": (
        Key("measure", "text", "relative_reduction", choices=v.MEASURES),
        Key("floor", "number", REQUIRED, low=None, what="the value below which nothing is paid"),
        Key("ceiling", "number", REQUIRED, low=None, what="the value at which the full amount is paid"),
        Key("amount", "number", REQUIRED, what="the full amount"),
        Key("amount_at_floor", "number", ZERO, what="an amount"),
        Key("gate", "table"),
        Key("per_person", "flag", False),
    ),
}

PAYER = (
    Key("name", "text", REQUIRED),
    Key("share", "number", REQUIRED, high=ONE, what="a share between 0 and 1 (0.8 for 80%)"),
    Key("cap", "number", None, what="an amount"),
    Key("organisation_id", "text", None, note=ORG_ID_NOTE),
)

CAPS = (
    Key("contract", "number", None, what="an amount"),
    Key("per_person", "number", None, what="an amount"),
)

AMENDMENT = (
    Key("version", "label", REQUIRED),
    Key("effective", "date", REQUIRED),
    Key("description", "text", ""),
    Key("prices", "mapping", None, note="{outcome = price}"),
)

DRAWDOWN = (
    Key("date", "date", REQUIRED),
    Key("amount", "number", REQUIRED, what="an amount"),
)

INVESTOR = (
    Key("name", "text", "investors"),
    Key("drawdowns", "tables", ()),
    Key("return_cap", "number", None, high=Decimal(10), what="an annual rate (0.06 for 6%)"),
    Key("multiple_cap", "number", None, low=ONE, what="a money multiple >= 1"),
    Key("excess_to", "text", "outcome payers"),
)

DATA = (
    Key("participants", "path"),
    Key("comparison_pool", "path"),
    Key("date_format", "text", note="a strptime pattern for non-ISO dates, e.g. \"%d/%m/%Y\""),
    Key("dayfirst", "flag", None, note="true: dates written day/month/year; false: month/day/year"),
    Key("columns", "table"),
    Key("labels", "mapping", note="column = \"label\": how the report names a column (default: its name with "
        "underscores as spaces)"),
)

REFUSED = {
    "data.estimates": "the contract does not read estimates; give the file to `sop-eval pay --estimates FILE` "
    "or calculate(contract, estimates=...)",
    "data.claims": "the contract does not read claims; give the file to `sop-eval pay --claims FILE` "
    "or calculate(contract, claims=...)",
}
"""Keys that earlier versions read but nothing used, refused with what to do instead."""

COLUMNS = (
    *(Key(k, "text") for k in v.COLUMN_ROLES),
    *(Key(k, "texts") for k in v.COLUMN_LISTS),
    *(Key(k, "text") for k in v.PANEL_ROLES),
    *(Key(k, "text") for k in v.AREA_ROLES),
    Key("treated_values", "texts", note="the treatment column's values that mean treated, e.g. [\"Y\"]"),
)



EVALUATION = (
    Key("design", "text", "psm",
        note="other designs: estimate them yourself (e.g. sop_eval.effects.versus_baseline) and pay them with "
        "`sop-eval pay --estimates`"),
    Key("outcome", "text"),
    Key("extract_date", "date", note="psm only"),
    Key("se", "text", SET_BY_PARSER,
        note="psm only, a name of the SE registry (vocabulary.MATCHED_SE); default by [evaluation.matching] method "
        "(vocabulary.DEFAULT_SE): 'cluster' after nearest, optimal and full matching, else 'robust'; DiD: "
        "[evaluation.did] se"),
    Key("level", "number", Decimal("0.95"), what="a confidence level such as 0.95"),
    Key("allow_small", "flag", False, note="psm only: estimate cohorts below the Justice Data Lab minimum of 60"),
    Key("matching", "table", note="psm only"),
    Key("did", "table", note="did only"),
    Key("synth", "table", note="synthetic_control and sdid only"),
)



MATCHING = (
    Key("method", "text", "nearest", choices=v.EVALUATION_MATCH_METHODS),
    Key("ratio", "integer", 1, low=1),
    Key("replace", "flag", False),
    Key("caliper", "number", None, what="a caliper width in standard deviations"),
    Key("caliper_scale", "text", "logit", choices=v.CALIPER_SCALES),
    Key("std_caliper", "switches", True,
        note="true: the caliper is in SDs of caliper_scale; false: in its raw units; or per caliper, "
        "{ distance = false } (MatchIt's std.caliper)"),
    Key("exact", "texts", ()),
    Key("distance", "text", "glm", choices=v.MATCH_DISTANCES),
    Key("mahvars", "texts", (), note="nearest/optimal/full: match on the Mahalanobis distance of these columns, "
        "the propensity score only for the caliper"),
    Key("antiexact", "texts", ()),
    Key("min_controls", "number", None, what="the fewest controls per treated unit (full, variable-ratio nearest)"),
    Key("max_controls", "number", None, what="the most controls per treated unit (full, variable-ratio nearest)"),
    Key("subclass", "integer", 6, low=2),
    Key("min_n", "integer", 1),
    Key("cutpoints", "mapping", note="cem: covariate = \"sturges\", \"q4\", a number of bins or a list of cut points"),
    Key("k2k", "flag", False),
    Key("ties", "flag", False, note="with replace = true: keep every control tied at the last matched distance"),
    Key("estimand", "text", "ATT", choices=v.WEIGHTING_ESTIMANDS, note="weighting and ebal; nearest: ATT"),
    Key("trim", "number", None, high=Decimal(1), what="a quantile of the weights such as 0.99",
        note="weighting only"),
    Key("trim_rule", "text", "truncate", choices=v.TRIM_RULES, note="weighting only"),
    Key("moments", "integer", 1, low=1, note="ebal only: 1 balances means, 2 means and variances"),
)

DID = (
    Key("control", "text", "not_yet", choices=v.DID_CONTROLS),
    Key("method", "text", "dr", choices=v.DID_METHODS),
    Key("anticipation", "integer", 0),
    Key("base_period", "text", "varying", choices=v.DID_BASE_PERIODS),
    Key("se", "text", "analytic", note="a name of the SE registry (vocabulary.DID_SE)"),
    Key("n_boot", "integer", 999, low=1),
    Key("honest", "text", "both", choices=v.HONEST_RESTRICTIONS,
        note="HonestDiD sensitivity of the event study: relative magnitudes, smoothness, both or none"),
    Key("honest_target", "text", "average", choices=v.HONEST_TARGETS,
        note="the effect the sensitivity is for: the average post-period effect, the first, or both"),
    Key("honest_mbar", "numbers", tuple(Decimal(str(m)) for m in v.HONEST_MBAR),
        note="relative-magnitudes bounds Mbar (multiples of the largest pre-period change)"),
    Key("honest_m", "numbers", (), note="smoothness bounds M in outcome units (default: 10 from 0 to the effect's SE)"),
)

SYNTH = (
    Key("treated", "texts", REQUIRED, note="the treated area(s), as labelled in the unit column"),
    Key("start", "integer", REQUIRED, note="the first treated period (a value of the time column)"),
    Key("rate_per", "integer", REQUIRED, low=1,
        note="the outcome is a rate per this many of the population column (10000: per 10,000)"),
    Key("replications", "integer", None, low=2, note="sdid only: placebo replications (default 200)"),
    Key("seed", "integer", None, note="the placebo draws' seed (default: the run's seed)"),
    Key("predictors", "texts", (),
        note="synthetic_control only: numeric panel columns, each averaged over the pre-period as a predictor "
        "(predictor weights V chosen as R Synth)"),
    Key("outcome_periods", "numbers", (),
        note="synthetic_control only: pre-treatment periods whose outcome is a predictor, e.g. [2016, 2018, 2020]"),
)

REPORT = (
    Key("layout", "text", "standard", choices=("standard", "jdl"),
        note="jdl: the Justice Data Lab's layout for reoffending outcomes"),
)

TOP = (
    Key("contract", "table", REQUIRED),
    Key("timing", "table"),
    Key("cohorts", "tables", ()),
    Key("outcomes", "tables", REQUIRED),
    Key("payers", "tables", REQUIRED),
    Key("caps", "table"),
    Key("amendments", "tables", ()),
    Key("investor", "table"),
    Key("data", "table"),
    Key("evaluation", "table"),
    Key("report", "table"),
)
