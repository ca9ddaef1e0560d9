"""``studentprofile check``: read and validate every source of a config, without training."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, StudentProfileError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._tables import _events, _read_table, load_snapshot, load_tables

__all__ = ["check_sources"]


def _span(values: pd.Series) -> tuple[Any, Any]:
    v = values.dropna()
    if v.empty:
        return None, None
    return str(v.min()), str(v.max())


def _lag_days(frame: pd.DataFrame) -> dict[str, Any] | None:
    if "known_at" not in frame.columns or "time" not in frame.columns:
        return None
    t, k = frame["time"], frame["known_at"]
    if pd.api.types.is_datetime64_any_dtype(t) and pd.api.types.is_datetime64_any_dtype(k):
        lag = pd.Series((k - t).dt.total_seconds() / 86400.0, index=frame.index)
    else:
        lag = pd.to_numeric(k, errors="coerce") - pd.to_numeric(t, errors="coerce")
    lag = lag.dropna()
    if lag.empty:
        return None
    return {"median": float(np.median(lag)), "max": float(lag.max()),
            "negative": int((lag < 0).sum())}


def check_sources(cfg: ExperimentConfig) -> dict[str, Any]:
    """Read every source of ``cfg`` and validate the tables; report per source.

    Parameters
    ----------
    cfg : ExperimentConfig
        The config.

    Returns
    -------
    dict
        ``sources``: per source its table, kind (file/sql/dataset), rows, students, ids not in
        the students table, time range and known_at lag (days), or the error that stopped it;
        ``tables``: the validated tables' summary, or the validation error; ``ok``.
    """
    d = cfg.data
    report: dict[str, Any] = {"config": cfg.name, "sources": [], "ok": True}
    if d.snapshot is not None:
        return _check_snapshot(cfg, report)
    if d.dataset is not None:
        report["sources"].append({"source": d.dataset, "table": "all", "kind": "dataset"})
    else:
        students_ids: set[str] | None = None
        plan: list[tuple[str, Any, int]] = []
        if d.students is not None:
            plan.append(("students", d.students, 0))
        plan += [("events", s, i) for i, s in enumerate(d.events)]
        if d.outcomes is not None:
            plan.append(("outcomes", d.outcomes, 0))
        for table, src, i in plan:
            name = (src.name or ("events" if i == 0 else f"events.{i}")) if table == "events" \
                else table
            entry: dict[str, Any] = {"source": name, "table": table,
                                     "kind": "sql" if src.sql is not None else "file",
                                     "where": str(src.path) if src.path is not None else "sql"}
            try:
                frame = (_events(src, i, d.ids_as_text) if table == "events"
                         else _read_table(src, table, ids_as_text=d.ids_as_text))
            except StudentProfileError as exc:
                entry["error"] = str(exc)
                report["ok"] = False
                report["sources"].append(entry)
                continue
            entry["rows"] = len(frame)
            if "record_report" in frame.attrs:
                entry["records"] = frame.attrs["record_report"]
            entry["columns"] = [str(c) for c in frame.columns]
            if "student_id" in frame.columns:
                ids = frame["student_id"].dropna().astype(str)
                entry["students"] = int(ids.nunique())
                if table == "students":
                    students_ids = set(ids)
                elif students_ids is not None:
                    unknown = sorted(set(ids) - students_ids)
                    entry["unknown_ids"] = len(unknown)
                    entry["unknown_ids_example"] = unknown[:3]
            if "time" in frame.columns:
                entry["time_from"], entry["time_until"] = _span(frame["time"])
            lag = _lag_days(frame)
            if lag is not None:
                entry["known_at_lag_days"] = lag
            report["sources"].append(entry)
    try:
        tables = load_tables(cfg)
    except StudentProfileError as exc:
        report["tables"] = {"error": str(exc)}
        report["ok"] = False
        return report
    summary: dict[str, Any] = {
        "time_kind": tables.time_kind,
        "students": len(tables.students),
        "events": 0 if tables.events is None else len(tables.events),
        "outcomes": 0 if tables.outcomes is None else len(tables.outcomes),
        "audit_attributes": list(tables.audit_attributes),
    }
    report["tables"] = summary
    return report


def _check_snapshot(cfg: ExperimentConfig, report: dict[str, Any]) -> dict[str, Any]:
    """Read a flat snapshot: its rows, labels and the columns that become features."""
    snap_cfg = cfg.data.snapshot
    if snap_cfg is None:
        raise ConfigError("the config has no [data.snapshot]", key="data.snapshot")
    src = snap_cfg.table
    entry: dict[str, Any] = {"source": "snapshot", "table": "snapshot",
                             "kind": "sql" if src.sql is not None else "file",
                             "where": str(src.path) if src.path is not None else "sql"}
    try:
        snap = load_snapshot(cfg)
    except StudentProfileError as exc:
        entry["error"] = str(exc)
        report["ok"] = False
        report["sources"].append(entry)
        report["tables"] = {"error": "the snapshot could not be read"}
        return report
    y = snap.y
    entry.update({
        "rows": int(len(y)), "students": int(len(y)),
        "positives": int((y == 1).sum()), "unlabelled": int(y.isna().sum()),
        "features": list(snap.attributes),
        "audit_attributes": list(snap.tables.audit_attributes),
    })
    report["sources"].append(entry)
    report["tables"] = {"time_kind": snap.tables.time_kind, "students": int(len(y)),
                        "events": 0, "outcomes": int(len(snap.tables.outcomes)),
                        "audit_attributes": list(snap.tables.audit_attributes)}
    return report
