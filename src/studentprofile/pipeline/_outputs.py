"""The run's local files: JSON and text written atomically, pseudonymised scores, the period."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from studentprofile.tables import EventTables

__all__ = ["per_student_scores", "period", "write_json", "write_text"]


def write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def write_json(path: Path, data: Any) -> Path:
    from studentprofile.evaluation import to_json_safe

    return write_text(path, json.dumps(to_json_safe(data), indent=2, allow_nan=False) + "\n")


def period(tables: EventTables) -> dict[str, Any]:
    ev, oc = tables.events, tables.outcomes
    times = pd.concat([ev["time"], oc["time"]]) if len(ev) else oc["time"]
    if not len(times):
        return {"first": None, "last": None}
    lo, hi = times.min(), times.max()
    fmt = (lambda t: pd.Timestamp(t).date().isoformat()) if tables.time_kind == "datetime" \
        else (lambda t: float(t))
    return {"first": fmt(lo), "last": fmt(hi), "time_kind": tables.time_kind}



def per_student_scores(run_dir: Path, scores: pd.DataFrame, key: bytes) -> Path:
    from studentprofile.tracking import pseudonymize

    out = scores[["student_id", "as_of", "score", "label"]].copy()
    out.insert(0, "pseudonym", pseudonymize(out.pop("student_id"), key))
    path = run_dir / "scores_pseudonymised.csv"
    out.to_csv(path, index=False)
    return path

