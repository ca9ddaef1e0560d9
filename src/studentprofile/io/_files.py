"""Table files as campuses export them; ids always read as text.

CSV with any separator, encoding and decimal mark, compressed or not; Parquet files and
partitioned folders; Excel sheets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError, DependencyError, SchemaError

__all__ = ["CSV_SUFFIXES", "EXCEL_SUFFIXES", "PARQUET_SUFFIXES", "read_table_file"]

_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
_DTYPES = {"str": str, "text": str, "string": str, "float": "float64", "int": "Int64",
           "bool": "boolean", "category": "category"}


def _kind(path: Path) -> str:
    name = path.name.lower()
    for comp in _COMPRESSION:
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    if path.is_dir() or name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(EXCEL_SUFFIXES):
        return "excel"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return "unknown"


def read_table_file(
    path: str | os.PathLike[str],
    *,
    table: str = "table",
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    dtype: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    id_columns: Sequence[str] = ("student_id",),
) -> pd.DataFrame:
    r"""Read a table file; id columns as text exactly as written.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file (``.csv``, ``.tsv``, ``.txt``; compressed with ``.gz``, ``.bz2``, ``.zip``,
        ``.xz`` or ``.zst``), a Parquet file or a folder of Parquet files (a partitioned
        dataset), or an Excel workbook (``.xlsx``, ``.xls``; needs the ``excel`` extra).
    table : str, default "table"
        The table's name in errors.
    sep : str, optional
        CSV separator (default ``,``; tab for ``.tsv``).
    encoding : str, optional
        CSV encoding (default UTF-8; ``"latin-1"``, ``"cp1252"``, ``"gbk"``, ...).
    decimal : str, optional
        CSV decimal mark (``","`` for many European exports).
    dtype : mapping, optional
        File column -> ``"str"``, ``"float"``, ``"int"``, ``"bool"`` or ``"category"``.
    sheet : str or int, optional
        Excel sheet name or position (default the first).
    id_columns : sequence of str, default ("student_id",)
        File columns read as text (CSV and Excel as written; integer Parquet ids as their exact
        decimal text).

    Returns
    -------
    pandas.DataFrame
        The table.

    Raises
    ------
    ConfigError
        The file does not exist or an option is invalid.
    SchemaError
        The file cannot be read as the table it claims to be.
    DependencyError
        An Excel file without openpyxl installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "students.csv"
    >>> _ = p.write_text("student_id;gpa\n000123;3,5\n", encoding="utf-8")
    >>> read_table_file(p, sep=";", decimal=",").to_dict("records")
    [{'student_id': '000123', 'gpa': 3.5}]
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"the {table} file does not exist", key=f"{table}.path",
                          arrived=repr(str(p)), hint="paths are relative to the config's folder")
    kind = _kind(p)
    types: dict[str, Any] = {}
    for col, name in (dtype or {}).items():
        if name not in _DTYPES:
            raise ConfigError(f"unknown dtype for column {col!r}", key=f"{table}.dtype",
                              arrived=repr(name), hint=f"use one of {', '.join(_DTYPES)}")
        types[col] = _DTYPES[name]
    ids = {c: str for c in id_columns}
    try:
        if kind == "parquet":
            frame = pd.read_parquet(p)
            for col in id_columns:
                if col in frame.columns and (frame[col].dtype.kind in "iu"
                                             or isinstance(frame[col].dtype, pd.Int64Dtype)):
                    frame[col] = frame[col].map(str, na_action="ignore").astype(object)
            if types:
                frame = frame.astype({c: t for c, t in types.items() if c in frame.columns})
        elif kind == "excel":
            try:
                import openpyxl  # noqa: F401
            except ImportError as exc:
                raise DependencyError(
                    "reading Excel files needs openpyxl",
                    hint='pip install "studentprofile[excel]"',
                ) from exc
            frame = pd.read_excel(p, sheet_name=0 if sheet is None else sheet,
                                  dtype={**types, **ids})
        elif kind == "csv":
            default_sep = "\t" if ".tsv" in p.name.lower() else ","
            frame = pd.read_csv(
                p, sep=sep or default_sep, encoding=encoding or "utf-8",
                decimal=decimal or ".", dtype={**types, **ids},
            )
        else:
            raise ConfigError(
                f"the {table} file has a suffix studentprofile cannot read", key=f"{table}.path",
                arrived=repr(p.name),
                hint="use .csv/.tsv/.txt (optionally .gz, .bz2, .zip, .xz, .zst), .parquet or a "
                     "folder of Parquet files, or .xlsx",
            )
    except (ConfigError, DependencyError):
        raise
    except UnicodeDecodeError as exc:
        raise SchemaError(
            "the file is not in the expected text encoding", table=table, rule="encoding",
            arrived=f"{p.name}: {exc.reason} at byte {exc.start}",
            hint='give its encoding, e.g. encoding = "latin-1" (or "cp1252", "gbk")',
        ) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise SchemaError(
            "the file cannot be read", table=table, rule="readable",
            arrived=f"{p.name}: {type(exc).__name__}: {str(exc)[:300]}",
            hint="check the format, the separator (sep) and the decimal mark (decimal)",
        ) from None
    if kind == "csv" and len(frame.columns) == 1 and sep is None:
        only = str(frame.columns[0])
        for guess in (";", "\t", "|"):
            if guess in only:
                raise SchemaError(
                    "the file was read as one column: the separator is probably not a comma",
                    table=table, rule="separator", arrived=repr(only[:80]),
                    hint=f"give sep = {guess!r}",
                )
    return frame
