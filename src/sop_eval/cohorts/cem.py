"""Coarsened exact matching (MatchIt ``method = "cem"``, Iacus, King and Porro 2012).

Each numeric covariate is cut into bins, then units are matched exactly on the bins and on the
values of the other covariates. Cut points per numeric covariate (``cutpoints``, one value for all or
a dict by covariate), as MatchIt's ``cutpoints``:

- ``"sturges"`` (default), ``"scott"``, ``"fd"``: that many equal-width bins over the range
  (Sturges: ceil(log2(n) + 1), n all units);
- a whole number k: k equal-width bins (``0``: match exactly; ``1``: ignore the covariate);
- ``"q4"``: bins at the quartiles (any ``"q<k>"``: k quantile bins, R type 7 quantiles);
- a list of numbers: the cut points themselves.

Bins are closed on the left (``findInterval``). ``grouping`` merges levels of a categorical covariate:
``{"region": [["north", "north east"], ["south", "south west"]]}`` (each group takes its first value).
Strata holding both groups are the subclasses, numbered in order of first appearance among the
controls; weights are MatchIt's stratum weights (ATT, ATC, ATE). ``k2k``: within each stratum of more
than two units, each focal unit (treated for the ATT/ATE, control for the ATC) in data order takes the
nearest remaining unit of the other group (Mahalanobis distance on the uncoarsened covariates, the
first in data order on ties), and units left over are unmatched; the pairs are the subclasses.

Cost: one hash of the bin codes, O(n · covariates) time and O(n) memory (no sort of the data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sop_eval.cohorts import distances, wording
from sop_eval.cohorts.exact import row_keys
from sop_eval.cohorts.strata import NO_STRATUM, Assignment, common_strata, stratum_reasons, subclass_weights
from sop_eval.errors import SopEvalError, examples

Cut = str | int | Sequence[float]


def _iqr(x: np.ndarray) -> float:
    q1, q3 = np.quantile(x, [0.25, 0.75])
    return float(q3 - q1)


def _n_bins(rule: str, x: np.ndarray) -> int:
    n = len(x)
    if rule == "sturges":
        return int(np.ceil(np.log2(n) + 1))
    if rule == "scott":
        h = 3.5 * np.std(x, ddof=1) * n ** (-1 / 3)
    else:
        h = 2 * _iqr(x) * n ** (-1 / 3)
    return max(1, int(np.ceil((x.max() - x.min()) / h))) if h > 0 else 1


def breaks_for(name: str, x: np.ndarray, cut: Cut) -> np.ndarray | None:
    """The interior cut points for covariate ``name`` (None: match exactly)."""
    if isinstance(cut, str):
        rule = cut.lower()
        if rule.startswith("q") and rule[1:].isdigit() and int(rule[1:]) >= 1:
            q = int(rule[1:])
            probs = 1 / q + np.arange(q - 1) * (1 / q)
            return np.unique(np.quantile(x, probs))
        if rule not in ("sturges", "scott", "fd"):
            raise SopEvalError(f"cutpoints[{name!r}]={cut!r} is not understood; use 'sturges', 'scott', 'fd', "
                               "'q<k>' (k quantile bins), a number of bins, or a list of cut points.")
        cut = _n_bins(rule, x)
    if isinstance(cut, (int, np.integer)) and not isinstance(cut, bool):
        if cut < 0:
            raise SopEvalError(f"cutpoints[{name!r}]={cut} must be a number of bins >= 0 (0: match exactly).")
        if cut == 0:
            return None
        lo, hi = float(x.min()), float(x.max())
        return lo + np.arange(1, cut) * ((hi - lo) / cut)  # R's seq(min, max, length = k + 1), inner points
    values = np.asarray(cut, dtype=float) if not isinstance(cut, (str, bool)) else None
    if values is None or values.ndim != 1 or not np.isfinite(values).all():
        raise SopEvalError(f"cutpoints[{name!r}]={cut!r} must be a rule name, a number of bins or a list of "
                           "finite cut points.")
    return np.unique(values)


def bin_codes(x: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``findInterval``: the number of cut points <= x, as small integers.

    Equal-width bins by arithmetic, corrected where rounding puts a value on the wrong side of a cut
    point, so the result equals ``searchsorted(inner, x, side="right")`` at O(n) cost.
    """
    k = len(inner)
    if k == 0:
        return np.zeros(len(x), dtype=np.int8)
    dtype = np.int8 if k < 127 else np.int32
    if k >= 2 and np.allclose(np.diff(inner), inner[1] - inner[0], rtol=1e-9, atol=0):
        h = inner[1] - inner[0]
        t = x - inner[0]  # one float buffer, worked in place
        t /= h
        np.floor(t, out=t)
        t += 1
        np.clip(t, 0, k, out=t)
        c = t.astype(dtype)
        padded = np.r_[-np.inf, inner, np.inf]
        np.take(padded, c, out=t, mode="clip")  # the bin's lower cut point (codes are within 0..k)
        c[x < t] -= 1
        np.take(padded[1:], c, out=t, mode="clip")  # its upper cut point
        c[x >= t] += 1
        return c
    return np.searchsorted(inner, x, side="right").astype(dtype)


def coarsen(data: pd.DataFrame, covariates: Sequence[str], cutpoints: Cut | Mapping[str, Cut] | None,
            grouping: Mapping[str, Sequence[Sequence[Any]]] | None) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Bin codes (numeric covariates) or values (others), and the cut points used."""
    grouping = dict(grouping or {})
    per = dict(cutpoints) if isinstance(cutpoints, Mapping) else {}
    unknown = [k for k in [*per, *grouping] if k not in covariates]
    if unknown:
        raise SopEvalError(f"cutpoints/grouping name {examples(unknown)}, which are not covariates "
                           f"({examples(list(covariates), 12)}); name covariates only.")
    default: Cut = "sturges" if isinstance(cutpoints, Mapping) or cutpoints is None else cutpoints
    columns, used = [], {}
    for name in covariates:
        col = data[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if name in grouping:
            values = col.to_numpy(dtype=object).copy()
            for group in grouping[name]:
                group = list(group)
                values[np.isin(values, group)] = group[0]
            columns.append(values)
            used[name] = "grouped"
            continue
        if not numeric:
            columns.append(col.to_numpy())
            used[name] = "exact"
            continue
        x = col.to_numpy(dtype=float)
        cut = per.get(name, default)
        if isinstance(cut, (int, np.integer)) and not isinstance(cut, bool) and cut == 1:
            used[name] = "ignored"
            continue
        inner = breaks_for(name, x, cut)
        if inner is None:
            columns.append(x)
            used[name] = "exact"
        else:
            columns.append(bin_codes(x, inner))
            used[name] = [float(v) for v in inner]
    if not columns:
        raise SopEvalError("every covariate was ignored (cutpoints = 1); keep at least one for CEM.")
    return columns, used


def _k2k(sub: np.ndarray, treat: np.ndarray, Z: np.ndarray, focal: bool) -> np.ndarray:
    """Pair up units within each stratum (see the module docstring)."""
    out = sub.copy()
    inside = ~np.isnan(sub)
    codes = sub[inside].astype(np.int64)
    sizes = np.bincount(codes)
    extra = int(codes.max())
    order = np.argsort(np.where(inside, sub, np.inf), kind="stable")[: int(inside.sum())]
    starts = np.r_[0, np.cumsum(sizes[1:])]
    for s in np.flatnonzero(sizes > 2):
        members = order[starts[s - 1]: starts[s - 1] + sizes[s]]
        rows = members[treat[members] == focal]
        cols = list(members[treat[members] != focal])
        for r in rows:
            if not cols:
                out[r] = np.nan
                continue
            d = np.sqrt(((Z[cols] - Z[r]) ** 2).sum(axis=1))
            j = int(np.argmin(d))
            extra += 1
            out[r] = out[cols[j]] = extra
            cols.pop(j)
        out[cols] = np.nan
    inside = ~np.isnan(out)
    out[inside] = np.unique(out[inside], return_inverse=True)[1] + 1
    return out


def cem(data: pd.DataFrame, covariates: Sequence[str], treat: np.ndarray, estimand: str,
        cutpoints: Cut | Mapping[str, Cut] | None = None, grouping: Mapping[str, Sequence[Sequence[Any]]] | None = None,
        k2k: bool = False) -> Assignment:
    """Coarsened exact matching; see the module docstring."""
    columns, used = coarsen(data, covariates, cutpoints, grouping)
    sub = common_strata(row_keys(columns), treat, False)
    if np.isnan(sub).all():
        raise SopEvalError("no stratum holds both treated and control units; coarsen the covariates further "
                           "(fewer bins in cutpoints=) or match on fewer covariates.")
    if k2k:
        Z = distances.transform(distances.distance_covariates(data, covariates), treat,
                                np.zeros(len(treat), bool), "mahalanobis")
        sub = _k2k(sub, treat, Z, focal=estimand != "ATC")
    w = subclass_weights(sub, treat, estimand)
    return Assignment(weights=w, subclass=sub, reasons=stratum_reasons(sub, treat, w, NO_STRATUM),
                      info={"cutpoints": used, "k2k": bool(k2k), "n_strata": int(np.nanmax(sub))})


def describe(options: Mapping[str, Any]) -> str:
    """The methods sentence for coarsened exact matching with these :func:`sop_eval.match` options."""
    given = sorted(options.get("cutpoints") or {})
    cuts = ("numeric covariates cut into Sturges' rule bins" if not given else
            f"{', '.join(given)} cut as given, other numeric covariates into Sturges' rule bins")
    return (f"coarsened exact matching on the covariates{wording.within(options)} (estimand "
            f"{wording.estimand(options)}; {cuts}{', one-to-one within strata' if options.get('k2k') else ''}); "
            "weights as MatchIt's for strata")
