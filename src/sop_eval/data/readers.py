"""Readers for CSV and Parquet evaluation data, with errors that name the file."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd

from sop_eval.contract import Contract
from sop_eval.errors import SopEvalError, examples

_CSV = {".csv", ".txt", ".gz"}
_PARQUET = {".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file into a DataFrame.

    Dates are read as text; :func:`sop_eval.data.validate` parses them and reports rows that do not parse.
    """
    path = Path(path)
    if not path.exists():
        raise SopEvalError(f"data file '{path}' does not exist; check the path "
                           f"(relative paths are resolved from {Path.cwd()}).")
    if path.is_dir():
        raise SopEvalError(f"'{path}' is a directory, not a data file; name a .csv or .parquet file.")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            return _checked(pd.read_parquet(path), path)
        if suffix in _CSV:
            _no_repeated_names(path)
            return _checked(pd.read_csv(path, low_memory=False), path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SopEvalError(
            f"could not read data file '{path}': {exc}. Check that it is a valid {suffix} file."
        ) from None
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise SopEvalError(f"could not read data file '{path}': {type(exc).__name__}: {exc}.") from None
    raise SopEvalError(
        f"data file '{path}' has extension '{suffix}'; sop_eval reads .csv, .csv.gz, .parquet or .pq files. "
        "Convert the file or rename it."
    )


def load_contract_data(contract: Contract, data: pd.DataFrame | None = None) -> tuple[pd.DataFrame, tuple[Path, ...]]:
    """The rows a contract evaluates and the files they came from.

    ``data``, when given, is used as is (no files read: the paths are empty). Otherwise the files the
    contract's ``[data]`` section names are read with :func:`read_table`: the participants, and the
    comparison pool when there is one, stacked in that order. Where the files lack the treatment column
    (``[data.columns] treatment``) it is added: 1 for the participants, 0 for the comparison pool.
    """
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise SopEvalError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
        return data, ()
    settings = contract.data
    if settings is None or settings.participants is None:
        raise SopEvalError(
            f"contract '{contract.source}' has no [data] participants file; add `[data] participants = "
            "\"people.csv\"` (relative to the contract) or pass data= to evaluate()."
        )
    roles = settings.column_roles()
    frames, paths = [], []
    for path, treated in ((settings.participants, 1), (settings.comparison_pool, 0)):
        if path is None:
            continue
        frame = read_table(path)
        if settings.comparison_pool is not None and roles.treatment not in frame.columns:
            frame = frame.assign(**{roles.treatment: treated})
        frames.append(frame)
        paths.append(Path(path))
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return combined, tuple(paths)


def _checked(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise SopEvalError(
            f"data file '{path}' has repeated column names ({examples(repeated)}); rename them so each is unique."
        )
    if len(frame) == 0:
        raise SopEvalError(f"data file '{path}' has no rows (only a header?); give a file with the evaluation's rows.")
    return frame


def _no_repeated_names(path: Path) -> None:
    """pandas renames repeated CSV headers silently ('age', 'age.1'); refuse them instead."""
    try:
        with (gzip.open(path, "rt", newline="", encoding="utf-8-sig") if path.suffix.lower() == ".gz"
              else open(path, newline="", encoding="utf-8-sig")) as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    seen: set[str] = set()
    repeated = [name for name in header if name in seen or seen.add(name)]
    if repeated:
        raise SopEvalError(
            f"data file '{path}' has repeated column names ({examples(list(dict.fromkeys(repeated)))}); rename them "
            "so each is unique."
        )
