"""Table I/O of a run: the bundled datasets or a campus's own CSV / Parquet files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._sections import ID_COLUMNS, TableSource
from studentprofile.tables import EventTables
from studentprofile.tables._checks import time_column

__all__ = ["load_tables"]


def _path_of(src: TableSource, where: str) -> Path:
    """Return the source's file (a hand-built TableSource may have neither path nor query)."""
    if src.path is None:
        raise ConfigError("a table needs a path or a sql query", key=f"{where}.path",
                          hint='e.g. path = "students.csv"')
    return src.path


def _read_table(src: TableSource, table: str, *, ids_as_text: bool = True) -> pd.DataFrame:
    """Read one table (file or SQL), rename mapped columns, parse dates; ids as text."""
    from studentprofile.io import read_sql
    from studentprofile.io._files import read_table_file

    where = f"data.{table}" if src.name is None else f"data.events ({src.name})"
    ids = [src.columns.get(c, c) for c in ID_COLUMNS] if ids_as_text else []
    if src.sql is not None:
        frame = read_sql(src.sql, src.url or "", source=src.name or table, id_columns=ids)
    else:
        frame = read_table_file(_path_of(src, where), table=where, sep=src.sep,
                                encoding=src.encoding, decimal=src.decimal, dtype=src.dtype,
                                sheet=src.sheet, id_columns=ids)
    rename = {}
    for canon, col in src.columns.items():
        if col not in frame.columns:
            raise SchemaError(
                f"the column mapping names a column the source does not have: {col!r}",
                table=table,
                column=canon,
                rule="mapped-column",
                arrived=f"columns: {list(frame.columns)!r}"[:400],
                hint=f"fix {where}.columns.{canon}",
            )
        rename[col] = canon
    frame = frame.rename(columns=rename)
    for col in src.parse_dates:
        if col not in frame.columns:
            raise ConfigError(f"parse_dates names a missing column {col!r}",
                              key=f"{where}.parse_dates", arrived=repr(col))
        # the one time module's rule: any zone -> naive UTC; bad values -> SchemaError
        frame[col] = time_column(frame[col], table=table, column=col, frame=frame).values
    return frame


def _apply_rule(frame: pd.DataFrame, rule: Any, name: str, where: str) -> pd.Series:
    """Apply a family/kind rule: a constant, a column, or a column's values through a map."""
    if isinstance(rule, str):
        return pd.Series(rule, index=frame.index, dtype=object)
    col = rule["column"]
    if col not in frame.columns:
        raise SchemaError(f"the {name} rule names a column the source does not have: {col!r}",
                          table="events", column=name, rule="mapped-column",
                          arrived=f"columns: {list(frame.columns)!r}"[:400],
                          hint=f"fix {where}.{name}.column")
    values = frame[col]
    if "map" not in rule:
        return values.astype(object)
    mapping = rule["map"]
    text = values.astype(str).where(values.notna())
    unmapped = sorted(set(text.dropna()) - set(mapping))
    if unmapped:
        n = int(text.isin(unmapped).sum())
        raise SchemaError(
            f"{n:,} events have a {col!r} value the {name} map does not name",
            table="events", column=name, rule="unmapped-value", arrived=repr(unmapped[:8]),
            n_bad=n, hint=f"add them to {where}.{name}.map (or filter them in the query)",
        )
    return text.map(mapping).astype(object)


def _read_records(src: TableSource, where: str) -> pd.DataFrame:
    """Read a learning-record export (xAPI, Caliper, Moodle log) into events; log its report."""
    import logging
    import os

    from studentprofile.io import read_caliper, read_moodle_log, read_xapi
    from studentprofile.io._files import read_table_file

    key = None
    if src.hash_key_env is not None:
        key = os.environ.get(src.hash_key_env)
        if not key:
            raise ConfigError(f"the environment variable {src.hash_key_env} is not set",
                              key=f"{where}.hash_key_env",
                              hint="export it with the pseudonym key (16 bytes or more)")
    path = _path_of(src, where)
    if src.format == "xapi":
        got = read_xapi(path, hash_key=key)
    elif src.format == "caliper":
        got = read_caliper(path, hash_key=key)
    else:
        log = read_table_file(path, table=where, sep=src.sep, encoding=src.encoding,
                              id_columns=("userid", "courseid", "relateduserid",
                                          "realuserid"))
        got = read_moodle_log(log, hash_key=key)
    logging.getLogger(__name__).info("%s: %s", where, got.report)
    events = got.events.drop(columns=["record_id", "object_id", "source"])
    events.attrs["record_report"] = got.report.to_dict()
    return events


def _events(src: TableSource, index: int, ids_as_text: bool) -> pd.DataFrame:
    """Read one events source and apply its family/kind/value/known_at rules."""
    name = src.name or ("events" if index == 0 else f"events.{index}")
    where = f"data.events ({name})"
    frame = (_read_records(src, where) if src.format is not None
             else _read_table(src, "events", ids_as_text=ids_as_text))
    if src.family is not None:
        frame["family"] = _apply_rule(frame, src.family, "family", where)
    if src.kind is not None:
        frame["kind"] = _apply_rule(frame, src.kind, "kind", where)
    if src.value is not None:
        frame["value"] = float(src.value)
    if src.known_at_delay is not None and "time" in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame["time"]):
            frame["known_at"] = frame["time"] + pd.Timedelta(days=src.known_at_delay)
        else:
            frame["known_at"] = pd.to_numeric(frame["time"], errors="coerce") \
                + src.known_at_delay
    frame["source"] = name
    return frame


def load_snapshot(cfg: ExperimentConfig) -> Any:
    """Read ``[data.snapshot]``: one row per student -> a :class:`~studentprofile.io.Snapshot`.

    Parameters
    ----------
    cfg : ExperimentConfig
        A config with ``data.snapshot``.

    Returns
    -------
    Snapshot
    """
    from studentprofile.io import from_snapshot

    snap = cfg.data.snapshot
    if snap is None:
        raise ConfigError("the config has no [data.snapshot]", key="data.snapshot")
    src = snap.table
    if snap.student_id is not None and snap.student_id not in src.columns.values():
        src = replace(src, columns={**dict(src.columns), "student_id": snap.student_id})
    frame = _read_table(src, "snapshot", ids_as_text=cfg.data.ids_as_text)
    snapshot = from_snapshot(
        frame, student_id="student_id" if snap.student_id is not None else None,
        outcome=snap.outcome, positive=snap.positive, audit_attributes=snap.audit_attributes,
        allow_audit=snap.allow_audit, drop=snap.drop,
    )
    if cfg.data.sample_students is not None:
        raise ConfigError("sample_students is not available for snapshots",
                          key="data.sample_students")
    return snapshot


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
        parts = [_events(src, i, text) for i, src in enumerate(d.events)]
        events = (None if not parts else parts[0] if len(parts) == 1
                  else pd.concat(parts, ignore_index=True, sort=False))
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
