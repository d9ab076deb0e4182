"""The Lalonde NSW/PSID sample, shipped with the package."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def load_lalonde() -> pd.DataFrame:
    """The 614-row Lalonde sample (185 NSW treated, 429 PSID comparison men), as in R's MatchIt.

    Indexed by the original row names (``NSW1`` …, ``PSID1`` …) so matched pairs can be compared with
    R's output. Columns: ``treat`` (0/1), ``age``, ``educ``, ``race`` (categorical: black, hispan,
    white), ``married``, ``nodegree``, ``re74``, ``re75``, ``re78`` (earnings, US dollars). Source:
    Dehejia and Wahba (1999), via ``data("lalonde", package = "MatchIt")``.
    """
    with resources.files("sop_eval").joinpath("fixtures/lalonde.csv").open("r") as handle:
        df = pd.read_csv(handle, index_col="id")
    df.index.name = None
    df["race"] = pd.Categorical(df["race"], categories=["black", "hispan", "white"])
    return df
