"""The run's local files: JSON reports, CSV tables, pseudonymised scores, the data period.

Every file goes through the package's one atomic writer (:mod:`studentprofile._files`); CSV
tables a person may open go through its CSV-for-people writer (spreadsheet formulas
neutralised).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from studentprofile._files import atomic_write_json, write_people_csv
from studentprofile.tables import EventTables

__all__ = ["per_student_scores", "period", "write_csv", "write_json"]


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON (numpy values and non-finite numbers made JSON-safe), in order."""
    from studentprofile.evaluation import to_json_safe

    return atomic_write_json(path, to_json_safe(data), sort_keys=False)


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write a table a person may open in a spreadsheet (no index)."""
    return write_people_csv(frame, path, index=False)


def period(tables: EventTables) -> dict[str, Any]:
    """Return the first and last time in the events and outcomes (dates as ISO text)."""
    ev, oc = tables.events, tables.outcomes
    times = pd.concat([ev["time"], oc["time"]]) if len(ev) else oc["time"]
    if not len(times):
        return {"first": None, "last": None}
    lo, hi = times.min(), times.max()
    fmt = (lambda t: pd.Timestamp(t).date().isoformat()) if tables.time_kind == "datetime" \
        else (lambda t: float(t))
    return {"first": fmt(lo), "last": fmt(hi), "time_kind": tables.time_kind}


def per_student_scores(run_dir: Path, scores: pd.DataFrame, key: bytes) -> Path:
    """Write the backtest's scores with student ids replaced by keyed pseudonyms."""
    from studentprofile.tracking import pseudonymize

    out = scores[["student_id", "as_of", "score", "label"]].copy()
    out.insert(0, "pseudonym", pseudonymize(out.pop("student_id"), key))
    return write_csv(run_dir / "scores_pseudonymised.csv", out)
