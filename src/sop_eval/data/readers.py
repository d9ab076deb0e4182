"""Readers for CSV and Parquet evaluation data, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sop_eval.errors import SopEvalError

_CSV = {".csv", ".txt", ".gz"}
_PARQUET = {".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file into a DataFrame.

    Dates are read as text; :func:`sop_eval.data.validate` parses them and reports rows that do not parse.
    """
    path = Path(path)
    if not path.exists():
        raise SopEvalError(f"data file '{path}' does not exist; check the path (relative paths are resolved from {Path.cwd()}).")
    if path.is_dir():
        raise SopEvalError(f"'{path}' is a directory, not a data file; name a .csv or .parquet file.")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            return pd.read_parquet(path)
        if suffix in _CSV:
            return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SopEvalError(f"could not read data file '{path}': {exc}. Check that it is a valid {suffix} file.") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise SopEvalError(f"could not read data file '{path}': {type(exc).__name__}: {exc}.") from None
    raise SopEvalError(
        f"data file '{path}' has extension '{suffix}'; sop_eval reads .csv, .csv.gz, .parquet or .pq files. "
        "Convert the file or rename it."
    )
