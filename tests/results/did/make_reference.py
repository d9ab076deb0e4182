"""Reference ATT(g,t), aggregations and pre-trend tests from csdid (a Python port of R `did`).

Run from the repository root with csdid installed (it is not a test dependency):

    .venv/bin/pip install csdid==0.4.3
    .venv/bin/python tests/results/did/make_reference.py

Writes panel_{a,b,c}.csv, cross_sections_d.csv and unbalanced_e.csv (the simulated data, so the tests do not
depend on the simulator staying the same) and reference.json (csdid's numbers).

    .venv/bin/python tests/results/did/make_reference.py options

reads the stored data files instead and writes reference_options.json: anticipation = 1, a universal base period
and both together across panels, comparison groups, estimators, repeated cross-sections and an unbalanced panel.
csdid 0.4.3 honours both options on the path used (its default faster_mode, compute_att_gt2, and compute_att_gt
alike): the base period of each cell comes from its shared `plan_cell` (the last period t with t + anticipation
< g, fixed for every cell of g under "universal", which is reported as 0 with no SE), not-yet-treated
comparisons are the units with g > max(t, base) + anticipation as in R did's compute.att_gt, and the pre-trend
Wald test and aggregations treat cells with g - anticipation <= t < g as anticipation periods (R did's
aggte keeps only t >= g for the simple and group aggregates). The R `did` package's `mpdta`
data set is not shipped with csdid (and R packages cannot be installed here), so the staggered panels are
simulated with sop_eval.datasets.make_staggered_panel; `z` is a noisy, time-invariant proxy of `x` so that
propensity scores overlap. csdid's `att_gt` calls the same DRDID estimators as R `did`
(drdid_panel / reg_did_panel / std_ipw_did_panel and their *_rc versions).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import csdid
import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

from sop_eval.datasets import make_staggered_panel

HERE = Path(__file__).parent
warnings.simplefilter("ignore")


def _panels() -> dict[str, pd.DataFrame]:
    specs = {
        "a": dict(n_units=300, n_periods=8, waves=(3, 5, 7), covariate_trend=1.0, seed=1),
        "b": dict(n_units=240, n_periods=6, waves=(2, 4, 5), never_share=0.25, effect=1.0, dynamic=1.0,
                  covariate_trend=0.5, seed=7),
        "c": dict(n_units=150, n_periods=6, waves=(3, 4, 6), never_share=0.0, seed=3),
    }
    out = {}
    for name, spec in specs.items():
        df = make_staggered_panel(**spec)
        rng = np.random.default_rng(spec["seed"] + 10)
        per_unit = 0.5 * df.groupby("unit")["x"].first() + rng.normal(size=df["unit"].nunique())
        df["z"] = df["unit"].map(per_unit)
        df["w"] = 1.0 + (df["unit"] % 4)  # unit weights, e.g. matching or sampling weights
        df["area"] = df["unit"] % 25  # clusters that units nest in
        out[name] = df[["unit", "period", "group", "treated", "x", "z", "w", "area", "y"]]
    # repeated cross-sections: a 60% sample of the rows of a panel, each row a different person
    df = make_staggered_panel(n_units=400, n_periods=6, waves=(3, 4, 6), seed=21)
    rng = np.random.default_rng(5)
    rc = df[rng.uniform(size=len(df)) < 0.6].copy()
    rc["rid"] = np.arange(1, len(rc) + 1)
    rc["z"] = 0.5 * rc["x"] + rng.normal(size=len(rc))
    out["d"] = rc[["rid", "period", "group", "x", "z", "y"]]
    # an unbalanced panel: panel a without a random 10% of its rows
    out["e"] = out["a"][np.random.default_rng(3).uniform(size=len(out["a"])) > 0.1]
    return out


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _run(df, control, method, cov, *, bstrap=False, base_period="varying", anticipation=0, weights=None, cluster=None,
         panel=True, seed=0):
    np.random.seed(seed)
    o = ATTgt(yname="y", tname="period", idname="unit" if panel else "rid", gname="group", data=df, panel=panel,
              allow_unbalanced_panel=True,
              xformla=f"y ~ {cov or 1}",
              control_group={"never": "nevertreated", "not_yet": "notyettreated"}[control],
              anticipation=anticipation, weights_name=weights, clustervar=cluster, biters=999)
    o.fit(est_method=method, base_period=base_period, bstrap=bstrap)
    res = o.results
    rec = {
        "cells": [{"group": _num(g), "time": _num(t), "att": _num(a), "se": _num(s)}
                  for g, t, a, s in zip(res["group"], res["year"], res["att"], res["se"], strict=True)],
        "W": _num(o.MP.get("W")), "Wpval": _num(o.MP.get("Wpval")), "aggregates": {},
    }
    variants = {"simple": ("simple", {}), "group": ("group", {}), "dynamic": ("dynamic", {}),
                "calendar": ("calendar", {}), "dynamic_balance2": ("dynamic", {"balance_e": 2}),
                "dynamic_window": ("dynamic", {"min_e": -2, "max_e": 3}), "group_max_e1": ("group", {"max_e": 1})}
    for name, (kind, options) in variants.items():
        np.random.seed(seed + 1)
        try:
            o.aggte(kind, na_rm=True, bstrap=bstrap, cband=bstrap, **options)
        except ValueError as exc:  # e.g. no group observed at every event time up to balance_e
            rec["aggregates"][name] = {"refused": str(exc)}
            continue
        a = o.atte
        agg = {"overall_att": _num(a["overall_att"]), "overall_se": _num(np.ravel(a["overall_se"])[0])}
        if a.get("egt") is not None:
            agg.update(labels=[_num(v) for v in np.ravel(a["egt"])], att=[_num(v) for v in np.ravel(a["att_egt"])],
                       se=[_num(v) for v in np.ravel(a["se_egt"])], crit_val=_num(a.get("crit_val_egt")))
        rec["aggregates"][name] = agg
    return rec


def main() -> None:
    panels = _panels()
    for name, df in panels.items():
        final = HERE / {"d": "cross_sections_d.csv", "e": "unbalanced_e.csv"}.get(name, f"panel_{name}.csv")
        tmp = final.with_suffix(".csv.tmp")
        df.to_csv(tmp, index=False, float_format="%.17g")
        tmp.replace(final)
    configs = {}
    for name in ("a", "b"):
        for control in ("never", "not_yet"):
            for method in ("reg", "ipw", "dr"):
                for cov in (None, "z"):
                    key = f"{name}/{control}/{method}/{cov or 'none'}"
                    configs[key] = dict(panel=name, control=control, method=method, covariates=cov)
    for control in ("never", "not_yet"):
        for method in ("reg", "ipw", "dr"):
            for cov in (None, "z"):
                configs[f"d/{control}/{method}/{cov or 'none'}/cross_sections"] = dict(
                    panel="d", control=control, method=method, covariates=cov, cross_sections=True)
    for control, method, cov in (("never", "dr", "z"), ("not_yet", "reg", None), ("not_yet", "ipw", "z"),
                                 ("never", "reg", "z")):
        configs[f"e/{control}/{method}/{cov or 'none'}/unbalanced"] = dict(
            panel="e", control=control, method=method, covariates=cov, unbalanced=True)
    configs["a/never/dr/x"] = dict(panel="a", control="never", method="dr", covariates="x")
    configs["c/not_yet/dr/none"] = dict(panel="c", control="not_yet", method="dr", covariates=None)
    configs["c/not_yet/reg/z"] = dict(panel="c", control="not_yet", method="reg", covariates="z")
    configs["a/never/dr/z/universal"] = dict(panel="a", control="never", method="dr", covariates="z",
                                             base_period="universal")
    configs["a/not_yet/reg/none/anticipation1"] = dict(panel="a", control="not_yet", method="reg", covariates=None,
                                                       anticipation=1)
    configs["a/not_yet/dr/z/weighted"] = dict(panel="a", control="not_yet", method="dr", covariates="z", weights="w")
    configs["b/never/ipw/none/weighted"] = dict(panel="b", control="never", method="ipw", covariates=None, weights="w")
    configs["a/never/dr/none/cluster"] = dict(panel="a", control="never", method="dr", covariates=None,
                                              cluster="area")
    configs["b/not_yet/reg/z/cluster"] = dict(panel="b", control="not_yet", method="reg", covariates="z",
                                              cluster="area")
    configs["a/not_yet/reg/z/cluster/bootstrap"] = dict(panel="a", control="not_yet", method="reg", covariates="z",
                                                        cluster="area", bstrap=True)
    for name, control in (("a", "never"), ("a", "not_yet"), ("b", "not_yet")):
        configs[f"{name}/{control}/dr/z/bootstrap"] = dict(panel=name, control=control, method="dr", covariates="z",
                                                          bstrap=True)
    out = {"source": f"csdid {csdid.__version__ if hasattr(csdid, '__version__') else '0.4.3'} "
                     "(Python port of R did 2.x; DRDID panel estimators), run by make_reference.py",
           "configs": {}}
    for i, (key, cfg) in enumerate(configs.items()):
        df = panels[cfg["panel"]]
        rec = _run(df, cfg["control"], cfg["method"], cfg["covariates"], bstrap=cfg.get("bstrap", False),
                   base_period=cfg.get("base_period", "varying"), anticipation=cfg.get("anticipation", 0),
                   weights=cfg.get("weights"), cluster=cfg.get("cluster"),
                   panel=not cfg.get("cross_sections", False), seed=1000 + i)
        out["configs"][key] = {"settings": cfg, **rec}
        print(key, "done")
    tmp = HERE / "reference.json.tmp"
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(HERE / "reference.json")


def _stored() -> dict[str, pd.DataFrame]:
    names = {"a": "panel_a.csv", "b": "panel_b.csv", "c": "panel_c.csv", "d": "cross_sections_d.csv",
             "e": "unbalanced_e.csv"}
    return {k: pd.read_csv(HERE / f) for k, f in names.items()}


def options() -> None:
    """anticipation and base_period across settings, on the stored data (reference_options.json)."""
    panels = _stored()
    configs: dict[str, dict] = {}
    for name in ("a", "b"):
        for control in ("never", "not_yet"):
            for method in ("reg", "ipw", "dr"):
                configs[f"{name}/{control}/{method}/z/anticipation1"] = dict(
                    panel=name, control=control, method=method, covariates="z", anticipation=1)
                configs[f"{name}/{control}/{method}/z/universal"] = dict(
                    panel=name, control=control, method=method, covariates="z", base_period="universal")
            configs[f"{name}/{control}/dr/none/anticipation1/universal"] = dict(
                panel=name, control=control, method="dr", covariates=None, anticipation=1, base_period="universal")
    configs["a/not_yet/dr/z/anticipation2"] = dict(panel="a", control="not_yet", method="dr", covariates="z",
                                                   anticipation=2)
    configs["c/not_yet/dr/none/anticipation1"] = dict(panel="c", control="not_yet", method="dr", covariates=None,
                                                      anticipation=1)
    configs["c/not_yet/reg/z/universal"] = dict(panel="c", control="not_yet", method="reg", covariates="z",
                                                base_period="universal")
    for control, method in (("never", "dr"), ("not_yet", "ipw"), ("not_yet", "reg")):
        configs[f"d/{control}/{method}/z/cross_sections/anticipation1"] = dict(
            panel="d", control=control, method=method, covariates="z", cross_sections=True, anticipation=1)
        configs[f"d/{control}/{method}/z/cross_sections/universal"] = dict(
            panel="d", control=control, method=method, covariates="z", cross_sections=True, base_period="universal")
    configs["e/not_yet/reg/none/unbalanced/anticipation1"] = dict(panel="e", control="not_yet", method="reg",
                                                                  covariates=None, unbalanced=True, anticipation=1)
    configs["e/never/dr/z/unbalanced/universal"] = dict(panel="e", control="never", method="dr", covariates="z",
                                                        unbalanced=True, base_period="universal")
    out = {"source": f"csdid {getattr(csdid, '__version__', '0.4.3')} (Python port of R did 2.x; DRDID estimators), "
                     "run by make_reference.py options on the stored data files", "configs": {}}
    for i, (key, cfg) in enumerate(configs.items()):
        rec = _run(panels[cfg["panel"]], cfg["control"], cfg["method"], cfg["covariates"],
                   base_period=cfg.get("base_period", "varying"), anticipation=cfg.get("anticipation", 0),
                   panel=not cfg.get("cross_sections", False), seed=5000 + i)
        out["configs"][key] = {"settings": cfg, **rec}
        print(key, "done")
    tmp = HERE / "reference_options.json.tmp"
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(HERE / "reference_options.json")


if __name__ == "__main__":
    import sys

    options() if sys.argv[1:] == ["options"] else main()
