"""Table I/O of a run: the bundled datasets or a campus's own CSV / Parquet files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._sections import ID_COLUMNS, TableSource
from studentprofile.tables import EventTables
from studentprofile.tables._time import time_column

__all__ = ["load_tables"]


def _read_table(src: TableSource, table: str, *, ids_as_text: bool = True) -> pd.DataFrame:
    """Read one table file; CSV id columns as text (``000123`` never becomes 123)."""
    path = src.path
    if not path.is_file():
        raise ConfigError(
            f"the {table} file does not exist",
            key=f"data.{table}.path",
            arrived=repr(str(path)),
            hint="paths are relative to the config file's folder",
        )
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            # ids are text exactly as written, unless data.ids_as_text = false
            dtype = ({src.columns.get(c, c): str for c in ID_COLUMNS} if ids_as_text
                     else None)
            frame = pd.read_csv(path, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise SchemaError(
            "the file cannot be read",
            table=table,
            rule="readable",
            arrived=f"{path.name}: {type(exc).__name__}: {exc}",
            hint="check the format (CSV with a header row, or Parquet)",
        ) from exc
    rename = {}
    for canon, col in src.columns.items():
        if col not in frame.columns:
            raise SchemaError(
                f"the column mapping names a column the file does not have: {col!r}",
                table=table,
                column=canon,
                rule="mapped-column",
                arrived=f"columns of {path.name}: {list(frame.columns)!r}",
                hint=f"fix data.{table}.columns.{canon}",
            )
        rename[col] = canon
    frame = frame.rename(columns=rename)
    if ids_as_text:
        # Parquet keeps its types: integer ids become their exact decimal text, so they meet
        # the text ids of CSV files (never the other way round, through a number)
        for col in ID_COLUMNS:
            if col in frame.columns and frame[col].dtype.kind in "iu":
                frame[col] = frame[col].map(str).astype(object)
            elif col in frame.columns and isinstance(frame[col].dtype, pd.Int64Dtype):
                frame[col] = frame[col].map(str, na_action="ignore").astype(object)
    for col in src.parse_dates:
        if col not in frame.columns:
            raise ConfigError(f"parse_dates names a missing column {col!r}",
                              key=f"data.{table}.parse_dates", arrived=repr(col))
        # the one time module's rule: any zone -> naive UTC; bad values -> SchemaError
        frame[col] = time_column(frame[col], table=table, column=col, frame=frame).values
    return frame


def load_tables(cfg: ExperimentConfig) -> EventTables:
    """Load (and sample) the tables a config names.

    Parameters
    ----------
    cfg : ExperimentConfig
        The config.

    Returns
    -------
    EventTables
    """
    from studentprofile import datasets

    d = cfg.data
    if d.dataset == "oulad":
        tables = datasets.load_oulad()
    elif d.dataset == "uci_dropout":
        tables = datasets.load_uci_dropout()
    elif d.dataset == "simulated":
        try:
            tables = datasets.simulate_campus(**{"seed": cfg.seed, **dict(d.simulate)})
        except TypeError as exc:
            raise ConfigError("unknown simulate_campus setting", key="data.simulate",
                              arrived=str(exc)) from exc
    else:
        if d.students is None or d.outcomes is None:  # load_config checks this; a hand-built
            raise ConfigError(                          # ExperimentConfig may not
                "table files need at least [data.students] and [data.outcomes]",
                key="data.students" if d.students is None else "data.outcomes",
                hint="give both table files, or a bundled dataset",
            )
        text = d.ids_as_text
        students = _read_table(d.students, "students", ids_as_text=text)
        events = (_read_table(d.events, "events", ids_as_text=text) if d.events is not None
                  else None)
        outcomes = _read_table(d.outcomes, "outcomes", ids_as_text=text)
        missing = [a for a in d.audit_attributes if a not in students.columns]
        if missing:
            raise ConfigError(
                "audit attributes must be columns of the students table",
                key="data.audit_attributes",
                arrived=f"missing {missing!r}; students has {list(students.columns)!r}",
            )
        tables = EventTables(students=students, events=events, outcomes=outcomes,
                             audit_attributes=d.audit_attributes, time_origin=d.time_origin)
    if d.sample_students is not None:
        ids = tables.students["student_id"].to_numpy()
        n = (int(d.sample_students) if isinstance(d.sample_students, int)
             else max(1, round(d.sample_students * len(ids))))
        rng = np.random.default_rng(cfg.seed)
        keep = np.sort(rng.choice(len(ids), size=min(n, len(ids)), replace=False))
        tables = tables.select(ids[keep])
    return tables
