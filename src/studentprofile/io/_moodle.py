r"""Moodle's standard log (``logstore_standard_log``) -> canonical events.

An export of the table ``mdl_logstore_standard_log`` (a database query or Moodle's own log
download) holds one row per event with, among others, ``userid``, ``eventname`` (e.g.
``\mod_quiz\event\attempt_submitted``), ``component``, ``edulevel``, ``anonymous``,
``realuserid``, ``courseid`` and ``timecreated`` (Unix seconds, UTC).

* ``userid`` -> ``student_id`` (as text, exactly as the digits read);
* ``eventname`` -> ``kind`` (``moodle_`` plus the component and the event's short name, e.g.
  ``moodle_mod_quiz_attempt_submitted``) and ``family`` (academic for submissions, attempts and
  grades; participation for forum, wiki, glossary, chat and feedback contributions; behavioral
  for everything else), overridable per event name;
* ``timecreated`` -> ``time`` and ``known_at`` (the log is written as it happens);
* ``courseid`` -> ``course_id`` (``0`` and ``1``, the site, become missing).

Rows left out on purpose, each counted under ``skipped``: not the student's own learning
(``edulevel`` other than *participating* = 2, by default), anonymous rows, rows done by someone
"logged in as" the user (``realuserid`` set), and rows of nobody logged in (``userid`` 0).
Rows with a missing or malformed user, event name or time are rejected under a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables import FAMILIES
from studentprofile.tables._time import EARLIEST, LATEST

from ._records import EVENT_COLUMNS_OUT, LearningRecords, RecordReport, pseudonymiser

__all__ = ["read_moodle_log"]

_REQUIRED = ("userid", "eventname", "timecreated")
_ACADEMIC_WORDS = ("submitted", "graded", "attempt_", "assessable", "submission")
_PARTICIPATION_COMPONENTS = ("mod_forum", "mod_wiki", "mod_glossary", "mod_chat",
                             "mod_feedback", "mod_data", "mod_workshop")
_PARTICIPATION_WORDS = ("created", "posted", "sent", "updated", "added")
LEVEL_PARTICIPATING = 2


def default_kind(eventname: str) -> tuple[str, str]:
    r"""Return the default (family, kind) of a Moodle event name.

    Examples
    --------
    >>> default_kind(r"\mod_quiz\event\attempt_submitted")
    ('academic', 'moodle_mod_quiz_attempt_submitted')
    >>> default_kind(r"\mod_forum\event\post_created")
    ('participation', 'moodle_mod_forum_post_created')
    >>> default_kind(r"\core\event\course_viewed")
    ('behavioral', 'moodle_core_course_viewed')
    """
    parts = [p for p in eventname.strip().split("\\") if p]
    component = parts[0] if parts else "unknown"
    short = parts[-1] if len(parts) >= 2 else component
    kind = f"moodle_{component}_{short}"
    if any(w in short for w in _ACADEMIC_WORDS):
        return "academic", kind
    if component in _PARTICIPATION_COMPONENTS and any(w in short for w in _PARTICIPATION_WORDS):
        return "participation", kind
    return "behavioral", kind


def _id_text(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids as text without going through a float: 123 and '123' -> '123'; bad -> missing."""
    out = pd.Series(None, index=col.index, dtype=object)
    bad = np.zeros(len(col), dtype=bool)
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        if isinstance(v, bool | np.bool_):
            bad[i] = True
        elif isinstance(v, int | np.integer):
            out.iat[i] = str(int(v))
        elif isinstance(v, float | np.floating):
            if float(v).is_integer():
                out.iat[i] = str(int(v))
            else:
                bad[i] = True
        elif isinstance(v, str) and v.strip().lstrip("-").isdigit():
            out.iat[i] = v.strip()
        else:
            bad[i] = True
    return out, bad


def read_moodle_log(
    frame: pd.DataFrame,
    *,
    events: Mapping[str, Any] | None = None,
    edulevels: tuple[int, ...] = (LEVEL_PARTICIPATING,),
    hash_key: bytes | str | None = None,
) -> LearningRecords:
    r"""Read an export of Moodle's ``logstore_standard_log`` into canonical events.

    Parameters
    ----------
    frame : pandas.DataFrame
        The log rows; columns ``userid``, ``eventname`` and ``timecreated`` are required,
        ``component``, ``edulevel``, ``anonymous``, ``realuserid``, ``courseid`` and ``id`` are
        used when present.
    events : mapping, optional
        Event name -> ``(family, kind)``, or ``None`` to skip that event on purpose.
    edulevels : tuple of int, default (2,)
        Which education levels to keep (Moodle: 2 participating, 1 teaching, 0 other).
    hash_key : bytes or str, optional
        Student ids become keyed pseudonyms (HMAC-SHA256) of the Moodle user id.

    Returns
    -------
    LearningRecords
        ``events`` and the ``report``.

    Raises
    ------
    SchemaError
        A required column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "id": [1, 2, 3],
    ...     "eventname": [r"\core\event\course_viewed", r"\mod_quiz\event\attempt_submitted",
    ...                   r"\core\event\course_viewed"],
    ...     "component": ["core", "mod_quiz", "core"],
    ...     "edulevel": [2, 2, 1],
    ...     "userid": [1042, 1042, 7],
    ...     "courseid": [12, 12, 12],
    ...     "timecreated": [1700000000, 1700003600, 1700007200],
    ... })
    >>> got = read_moodle_log(log)
    >>> got.events[["student_id", "kind", "time"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'student_id': '1042', 'kind': 'moodle_core_course_viewed',
      'time': Timestamp('2023-11-14 22:13:20')},
     {'student_id': '1042', 'kind': 'moodle_mod_quiz_attempt_submitted',
      'time': Timestamp('2023-11-14 23:13:20')}]
    >>> got.report.skipped
    {'edulevel not in (2,)': 1}
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError("read_moodle_log expects a DataFrame of log rows", key="frame",
                          arrived=type(frame).__name__,
                          hint="read the export first, e.g. pd.read_csv(path, dtype=str)")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"the Moodle log needs columns {', '.join(_REQUIRED)}", table="moodle_log",
            column=missing[0], rule="required-column", arrived=repr(list(frame.columns)[:12]),
            hint="export mdl_logstore_standard_log with at least userid, eventname, timecreated",
        )
    table: dict[str, tuple[str, str] | None] = {}
    for name, target in (events or {}).items():
        if target is not None and not (
            isinstance(target, tuple | list) and len(target) == 2 and target[0] in FAMILIES
            and isinstance(target[1], str) and target[1].strip()
        ):
            raise ConfigError("an event name maps to a (family, kind) pair or None",
                              key=f"events[{name!r}]", arrived=repr(target))
        table[name] = None if target is None else (target[0], target[1])
    pseudonym = pseudonymiser(hash_key)
    report = RecordReport("moodle", records=len(frame))
    n = len(frame)
    ids = (frame["id"].astype(str).to_numpy(dtype=object) if "id" in frame.columns
           else np.array([f"#{i + 1}" for i in range(n)], dtype=object))
    alive = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, rule: str, *, skipped: bool = False) -> None:
        hit = mask & alive
        if skipped:
            report.skip(rule, int(hit.sum()))
        else:
            report.reject_many(rule, [str(r) for r in ids[hit][:3]] if hit.any() else [])
            if hit.sum() > 3:
                report.rejected[rule] += int(hit.sum()) - 3
        alive[hit] = False

    users, bad_user = _id_text(frame["userid"])
    drop(bad_user | users.isna().to_numpy(), "bad-userid")
    drop((users == "0").to_numpy(), "not logged in (userid 0)", skipped=True)
    names = frame["eventname"].map(lambda v: v.strip() if isinstance(v, str) else None)
    drop(names.isna().to_numpy() | (names == "").to_numpy(), "bad-eventname")
    created = pd.to_numeric(frame["timecreated"], errors="coerce")
    lo = (EARLIEST - pd.Timestamp(0)).total_seconds()
    hi = (LATEST - pd.Timestamp(0)).total_seconds()
    with np.errstate(invalid="ignore"):
        bad_time = ~np.isfinite(created.to_numpy(dtype="float64")) | (created < lo).to_numpy() \
            | (created >= hi).to_numpy()
    drop(bad_time, "bad-timecreated")
    if "edulevel" in frame.columns:
        level = pd.to_numeric(frame["edulevel"], errors="coerce")
        drop(~level.isin(list(edulevels)).to_numpy(), f"edulevel not in {tuple(edulevels)}",
             skipped=True)
    if "anonymous" in frame.columns:
        anon = pd.to_numeric(frame["anonymous"], errors="coerce").fillna(0)
        drop((anon != 0).to_numpy(), "anonymous", skipped=True)
    if "realuserid" in frame.columns:
        real = frame["realuserid"]
        drop(real.notna().to_numpy() & (real.astype(str).str.strip() != "").to_numpy(),
             "done by another user logged in as the student", skipped=True)
    name_values = names.to_numpy(dtype=object)
    mapped: dict[str, tuple[str, str] | None] = {}
    for name in pd.unique(name_values[alive]):
        mapped[name] = table[name] if name in table else default_kind(name)
    for name, target in mapped.items():
        if target is None:
            hit = alive & (name_values == name)
            report.skip(f"event {name}", int(hit.sum()))
            alive &= ~hit
    rows = np.flatnonzero(alive)
    fam_kind = [mapped[name_values[i]] for i in rows]
    seconds = created.to_numpy(dtype="float64")[rows]
    time = pd.to_datetime(np.round(seconds * 1e3).astype("int64"), unit="ms")
    if "courseid" in frame.columns:
        course, _ = _id_text(frame["courseid"])
        course_v = course.to_numpy(dtype=object)[rows]
        course_v[np.isin(course_v, ["0", "1"])] = None
    else:
        course_v = np.full(len(rows), None, dtype=object)
    out = pd.DataFrame({
        "student_id": [pseudonym(u) for u in users.to_numpy(dtype=object)[rows]],
        "time": time, "known_at": time,
        "family": [fk[0] for fk in fam_kind if fk is not None],
        "kind": [fk[1] for fk in fam_kind if fk is not None],
        "value": np.ones(len(rows)), "max_value": np.full(len(rows), np.nan),
        "course_id": course_v, "source": "moodle", "record_id": ids[rows],
        "object_id": (frame["objectid"].astype(str).to_numpy(dtype=object)[rows]
                      if "objectid" in frame.columns else None),
    }, columns=list(EVENT_COLUMNS_OUT))
    out["time"] = out["time"].astype("datetime64[ns]")
    out["known_at"] = out["known_at"].astype("datetime64[ns]")
    report.events = len(out)
    return LearningRecords(out.reset_index(drop=True), report)
