"""The case store's inputs: alert frames, caseload assignments, reasons -> case rows.

Kept apart from the store (``_cases.py``): these only check and shape what arrives; the store
writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.warning._reasons import _records, day_key
from studentprofile.warning._routing import Routing

__all__ = ["alert_frame", "as_of_text", "assignment_maps", "case_rows", "dumps", "plain",
           "text_time"]


def text_time(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def as_of_text(value: Any) -> str:
    """Return an alert's as-of date as text: ISO for dates, the number for float days."""
    if isinstance(value, bool):
        raise TypeError("bool")
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError("not finite")
        return repr(v)
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        raise ValueError("missing")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return text_time(ts)


def alert_frame(alerts: Any) -> pd.DataFrame:
    if not isinstance(alerts, pd.DataFrame):
        raise SchemaError("alerts must be a DataFrame", table="alerts", rule="dataframe",
                          arrived=f"an object of type {type(alerts).__name__}",
                          hint="pass WeeklyResult.alerts or AlertLog.alerts()")
    frame = alerts
    levels = [n for n in (frame.index.names or []) if n in ("student_id", "as_of", "alert_id")]
    if levels:
        frame = frame.reset_index(level=levels)
    frame = frame.reset_index(drop=True)
    missing = [c for c in ("alert_id", "student_id", "as_of") if c not in frame.columns]
    if missing:
        raise SchemaError("alerts need alert_id, student_id and as_of", table="alerts",
                          column=missing[0], rule="required-column",
                          arrived=f"columns {list(frame.columns)!r}",
                          hint="open cases from the alerts the alert log recorded (they carry "
                               "alert_id)")
    ids = frame["alert_id"]
    bad = ids.map(lambda v: not isinstance(v, str) or not v.strip())
    if bad.any():
        raise SchemaError("every alert needs an alert_id (text)", table="alerts",
                          column="alert_id", rule="text",
                          arrived=repr(ids[bad].head(5).tolist()), n_bad=int(bad.sum()),
                          hint="record the alerts in the alert log first")
    if ids.duplicated().any():
        raise SchemaError("each alert_id appears once", table="alerts", column="alert_id",
                          rule="unique", arrived=repr(ids[ids.duplicated()].head(5).tolist()),
                          n_bad=int(ids.duplicated().sum()))
    sid = frame["student_id"]
    bad = sid.isna() | sid.map(lambda v: isinstance(v, str) and not v.strip())
    if bad.any():
        raise SchemaError("every alert needs a student_id", table="alerts", column="student_id",
                          rule="required", arrived=f"{int(bad.sum())} empty id(s)",
                          n_bad=int(bad.sum()))
    return frame


def assignment_maps(assignments: Any, owner_role: str) -> tuple[
        dict[str, tuple[str, str | None]], dict[tuple[str, str], tuple[str, str | None]]]:
    """Owner per student and (student, role) -> helper, from assign_caseloads' output."""
    owners: dict[str, tuple[str, str | None]] = {}
    helpers: dict[tuple[str, str], tuple[str, str | None]] = {}
    if assignments is None:
        return owners, helpers
    if not isinstance(assignments, pd.DataFrame):
        raise SchemaError("assignments must be a DataFrame (assign_caseloads' output)",
                          table="assignments", rule="dataframe",
                          arrived=f"an object of type {type(assignments).__name__}")
    col = "staff_id" if "staff_id" in assignments.columns else "advisor_id"
    if "student_id" not in assignments.columns or col not in assignments.columns:
        raise SchemaError("assignments need student_id and staff_id (or advisor_id)",
                          table="assignments", column="student_id" if col in assignments.columns
                          else col, rule="required-column",
                          arrived=f"columns {list(assignments.columns)!r}",
                          hint="pass the output of assign_caseloads")
    n = len(assignments)
    status = assignments["status"].tolist() if "status" in assignments.columns else [None] * n
    roles = assignments["role"].tolist() if "role" in assignments.columns else [owner_role] * n
    units = assignments["unit"].tolist() if "unit" in assignments.columns else [None] * n
    for s, who, role, st, unit in zip(assignments["student_id"].tolist(),
                                      assignments[col].tolist(), roles, status, units,
                                      strict=True):
        if who is None or (isinstance(who, float) and math.isnan(who)):
            continue
        if st is not None and st != "assigned":
            continue
        u = None if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
        key = str(plain(s))
        if role == owner_role:
            owners[key] = (str(who), u)
        helpers[(key, str(role))] = (str(who), u)
    return owners, helpers


def case_rows(frame: pd.DataFrame, routing: Routing, lookup: Mapping[Any, Any] | None,
               model_version: str | None) -> list[dict[str, Any]]:
    n = len(frame)
    risk_col = "score" if "score" in frame.columns else "risk" if "risk" in frame.columns else None
    mv_col = next((c for c in ("model_version", "run_id") if c in frame.columns), None)
    risks = np.full(n, np.nan)
    if risk_col is not None:
        raw = frame[risk_col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            raise SchemaError(f"`{risk_col}` must be a number", table="alerts", column=risk_col,
                              rule="numeric", arrived=repr(raw[bad].head(5).tolist()),
                              n_bad=int(bad.sum()))
        risks = num.to_numpy(dtype="float64", na_value=np.nan)
    def column(name: str | None) -> list[Any]:
        return frame[name].tolist() if name is not None and name in frame.columns else [None] * n

    sids, dates, reasons = column("student_id"), column("as_of"), column("reasons")
    tiers, aids = column("tier"), column("alert_id")
    versions = [model_version] * n if model_version is not None else column(mv_col)
    as_of_texts: dict[Any, str] = {}  # the alerts of one job share a date or two
    rows = []
    for i in range(n):
        sid, as_of = plain(sids[i]), dates[i]
        try:
            key = as_of if isinstance(as_of, Hashable) else repr(as_of)
            if key not in as_of_texts:
                as_of_texts[key] = as_of_text(as_of)
            date_text = as_of_texts[key]
        except (TypeError, ValueError):
            raise SchemaError("as_of must be a date or a number of days", table="alerts",
                              column="as_of", rule="moment", arrived=f"row {i}: {as_of!r}"
                              ) from None
        recs: list[dict[str, Any]] = []
        if lookup is not None:
            recs = list(lookup.get((sid, day_key(as_of)), []))
        if not recs:
            recs = _records(reasons[i])
        recs = [{k: plain(v) for k, v in r.items()
                 if k in ("text", "feature", "family", "kind", "direction")} for r in recs]
        families = list(dict.fromkeys(str(r["family"]) for r in recs if r.get("family")))
        codes = list(dict.fromkeys(str(r.get("feature") or r.get("kind")) for r in recs
                                   if r.get("feature") or r.get("kind")))
        roles = routing.roles_of(recs)
        tier, mv = tiers[i], versions[i]
        rows.append({
            "alert_id": str(aids[i]),
            "student_id": str(sid),
            "as_of": date_text,
            "tier": None if tier is None or (isinstance(tier, float) and math.isnan(tier))
            else str(tier),
            "risk": None if np.isnan(risks[i]) else float(risks[i]),
            "model_version": None if mv is None or (isinstance(mv, float) and math.isnan(mv))
            else str(mv),
            "role": roles[0],
            "reason_families": ";".join(families),
            "reason_codes": ";".join(codes),
            "reasons": dumps(recs),
            "_roles": roles,
        })
    return rows
