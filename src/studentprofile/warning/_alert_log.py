"""The closed loop: an append-only alert log in SQLite.

Every alert the policy raises is written once, with its tier, score and reasons; what advisors
do about it is appended as lifecycle events ``raised -> acknowledged -> action(s) -> resolved``.
Rows are never updated or deleted (SQLite triggers refuse it), so the log is its own audit trail.

Guarantees
----------
* **Idempotent.** An alert's id is a hash of (source, student, as-of date); processing the same
  as-of date twice adds nothing the second time. A lifecycle event's key is a hash of its
  content, so a retried call adds nothing either.
* **Atomic.** Each call is one transaction (``BEGIN IMMEDIATE``): a batch is written whole or not
  at all, even if the process dies half-way (tested by killing a writer mid-batch).
* **Never duplicated, never silently changed.** Re-processing a date with *different* content
  for an existing alert (another model, another score) is refused by default
  (``on_conflict="error"``); ``"keep"`` keeps the first version and reports the conflicts.
* **Private logs.** Log messages carry counts, never student identifiers.
* **Typed failures, nothing lost.** A damaged file (garbage, truncated, flipped bits) or a
  SQLite file that is not an alert log raises :class:`~studentprofile.errors.DataIntegrityError`
  when it is opened (a quick check of every page) or read; a read-only file raises
  :class:`~studentprofile.errors.OutputError` when written. In either case the file is left
  exactly as it was: the log never rewrites, repairs or replaces a file it cannot trust.

The log feeds :mod:`studentprofile.evaluation`: :meth:`AlertLog.interventions` returns the
``student_id, time, action, staff`` table its intervention-outcome functions read, and
:meth:`AlertLog.alerts` the ``student_id, time, score`` table of raised alerts.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import (
    ConfigError,
    DataIntegrityError,
    OutputError,
    SchemaError,
    StudentProfileError,
)
from studentprofile.tables._time import naive_utc
from studentprofile.warning._inputs import keyed_frame

__all__ = ["STATUSES", "AlertLog", "RecordResult"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

#: The lifecycle, in order.
STATUSES: tuple[str, ...] = ("raised", "acknowledged", "action", "resolved")

# status of an alert -> statuses an event may move it to
_NEXT = {
    "raised": ("acknowledged",),
    "acknowledged": ("action", "resolved"),
    "action": ("action", "resolved"),
    "resolved": (),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id     TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    student_id   NOT NULL,
    as_of        NOT NULL,
    tier         TEXT,
    score        REAL,
    reasons      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    run_id       TEXT,
    recorded_at  TEXT NOT NULL,
    UNIQUE (source, student_id, as_of)
);
CREATE TABLE IF NOT EXISTS lifecycle (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key   TEXT NOT NULL UNIQUE,
    alert_id    TEXT NOT NULL REFERENCES alerts (alert_id),
    status      TEXT NOT NULL CHECK (status IN ('raised', 'acknowledged', 'action', 'resolved')),
    time        NOT NULL,
    staff       TEXT,
    action      TEXT,
    note        TEXT,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    run_id       TEXT,
    as_of_min    ,
    as_of_max    ,
    n_rows       INTEGER NOT NULL,
    n_new        INTEGER NOT NULL,
    n_existing   INTEGER NOT NULL,
    n_conflicts  INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lifecycle_alert ON lifecycle (alert_id, seq);
CREATE INDEX IF NOT EXISTS alerts_student ON alerts (student_id, as_of);
"""

_APPEND_ONLY = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the alert log is append-only: {op} on {table} refused'); END;"
    for table in ("alerts", "lifecycle", "runs", "meta")
    for op in ("UPDATE", "DELETE")
]


_TABLES = frozenset({"meta", "alerts", "lifecycle", "runs"})
_OBJECTS = _TABLES | {"lifecycle_alert", "alerts_student"} | {
    f"{table}_no_{op.lower()}" for table in ("alerts", "lifecycle", "runs", "meta")
    for op in ("UPDATE", "DELETE")
}

#: Error texts (tested as they are).
DAMAGED = "the alert log file is damaged or is not an alert log; it was left as it was"
READ_ONLY = "the alert log is read-only; nothing was written"
NOT_WRITTEN = "the alert log could not be written; nothing was written"

# SQLite result codes (``sqlite3.Error.sqlite_errorname``) by what the caller can do about them
_READ_ONLY_CODES = ("SQLITE_READONLY",)
_OUTPUT_CODES = ("SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_BUSY",
                 "SQLITE_LOCKED", "SQLITE_IOERR")
_DAMAGED_HINT = ("keep the file as it is (it is the audit trail); restore the latest backup, or "
                 "run `sqlite3 <file> .recover` on a copy; start a new log only under another "
                 "file name")


def _typed_error(exc: sqlite3.Error, path: str, doing: str) -> StudentProfileError:
    """Turn a SQLite error into the library's typed error (the caller chains ``exc``)."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    arrived = f"{name or type(exc).__name__}: {exc} (while {doing} {path!r})"
    if name.startswith(_READ_ONLY_CODES):
        return OutputError(
            READ_ONLY, arrived=arrived,
            hint="give the service write permission on the file and its folder, or open it "
                 "with AlertLog(path, read_only=True) to read it only",
        )
    if name.startswith(_OUTPUT_CODES) and name != "SQLITE_IOERR_SHORT_READ":
        return OutputError(
            NOT_WRITTEN, arrived=arrived,
            hint="check the free disk space, the permissions of the file and its folder, and "
                 "that no other process holds the log locked (the log waits 30 s)",
        )
    # SQLITE_CORRUPT, SQLITE_NOTADB, a short read, a missing table, ...: a file we cannot trust
    return DataIntegrityError(DAMAGED, arrived=arrived, hint=_DAMAGED_HINT)


@dataclass(frozen=True)
class RecordResult:
    """What :meth:`AlertLog.record_alerts` did.

    Attributes
    ----------
    n_rows : int
        Alerts offered.
    n_new : int
        Alerts written now.
    n_existing : int
        Alerts already in the log with the same content (nothing written).
    n_conflicts : int
        Alerts already in the log with different content (kept as they were).
    alert_ids : list of str
        The id of every offered alert, in input order.
    """

    n_rows: int
    n_new: int
    n_existing: int
    n_conflicts: int
    alert_ids: list[str]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AlertLog:
    """An append-only alert log with the lifecycle raised -> acknowledged -> action -> resolved.

    Parameters
    ----------
    path : str or path-like
        The SQLite file (created when missing). ``":memory:"`` for a throwaway log.
    time_kind : {"datetime", "float"}, optional
        The kind of time the log holds; fixed by the first write when omitted.
    read_only : bool, default False
        Open an existing log for reading only (SQLite's ``mode=ro``): every write raises
        :class:`~studentprofile.errors.OutputError`. For dashboards and auditors, and for a
        log file the process may not write.

    Raises
    ------
    DataIntegrityError
        The file is damaged (SQLite's quick check of every page fails, or it is not a
        database at all) or is a SQLite file of something else. The file is not changed.
    OutputError
        A write to a read-only log (file permissions, or ``read_only=True``), a full disk, a
        lock held for longer than 30 s. Nothing is written.

    Examples
    --------
    >>> import pandas as pd
    >>> log = AlertLog(":memory:")
    >>> alerts = pd.DataFrame({"student_id": ["ana"], "as_of": [30.0], "tier": ["high"],
    ...                        "score": [0.71], "reasons": [["attendance fell"]]})
    >>> log.record_alerts(alerts).n_new
    1
    >>> log.record_alerts(alerts).n_new  # the same as-of date again: nothing new
    0
    >>> aid = log.alerts()["alert_id"].iloc[0]
    >>> log.acknowledge(aid, time=31.0, staff="kim")
    >>> log.record_action(aid, time=33.0, staff="kim", action="call")
    >>> log.resolve(aid, time=40.0, staff="kim", note="back on track")
    >>> log.alerts()[["student_id", "status"]]
      student_id    status
    0        ana  resolved
    >>> log.interventions()[["student_id", "time", "action", "staff"]]
      student_id  time action staff
    0        ana  33.0   call   kim
    >>> log.close()
    """

    def __init__(self, path: str | os.PathLike[str], *, time_kind: str | None = None,
                 read_only: bool = False):
        if time_kind not in (None, "datetime", "float"):
            raise ConfigError("time_kind must be 'datetime' or 'float'", key="time_kind",
                              arrived=repr(time_kind))
        if not isinstance(read_only, bool):
            raise ConfigError("read_only must be True or False", key="read_only",
                              arrived=repr(read_only))
        self.path = str(path)
        self.read_only = read_only
        in_memory = self.path == ":memory:"
        if read_only and not in_memory and not Path(self.path).is_file():
            raise ConfigError("the alert log to read does not exist", key="path",
                              arrived=repr(self.path), hint="check the path")
        try:
            if read_only and not in_memory:
                # mode=ro: SQLite itself refuses every write, whoever runs the process
                uri = Path(self.path).resolve().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            else:
                self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise ConfigError(
                "cannot open the alert log",
                key="path",
                arrived=f"{self.path!r}: {exc}",
                hint="check that the folder exists and is writable",
            ) from exc
        try:
            with self._errors("opening"):
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute("PRAGMA synchronous = FULL")
                self._init_schema(time_kind, check=not in_memory)
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ set-up
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate SQLite's errors into typed ones (damaged file, read-only, disk full)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _typed_error(exc, self.path, doing) from exc

    def _writable(self, doing: str) -> None:
        if self.read_only:
            raise OutputError(READ_ONLY, arrived=f"{doing} on a log opened with read_only=True",
                              hint="open the log without read_only=True to write")

    def _init_schema(self, time_kind: str | None, *, check: bool) -> None:
        have = {name for (name,) in self._conn.execute("SELECT name FROM sqlite_master")}
        if have:
            if not _TABLES <= have:
                raise DataIntegrityError(
                    DAMAGED,
                    arrived=f"{self.path!r} is a SQLite file with tables {sorted(have)!r}, "
                    f"not the alert log's {sorted(_TABLES)!r}",
                    hint="give the path of an alert log, or a new file name for a new log",
                )
            if check:
                # every page once: a damaged file is refused before anything is written to it
                problems = [r[0] for r in self._conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise DataIntegrityError(DAMAGED, arrived="; ".join(problems[:5]),
                                             hint=_DAMAGED_HINT)
            version = self._meta().get("schema_version")
            if version != SCHEMA_VERSION:
                raise DataIntegrityError(
                    "the alert log was written by an incompatible version of studentprofile",
                    arrived=f"schema version {version!r}, expected {SCHEMA_VERSION!r}",
                    hint="open it with the version that wrote it, or start a new log",
                )
        elif self.read_only:
            raise DataIntegrityError(DAMAGED, arrived=f"{self.path!r} has no tables",
                                     hint="give the path of an alert log")
        if self.read_only:
            have_kind = self._meta().get("time_kind")
            if time_kind is not None and have_kind is not None and have_kind != time_kind:
                self._set_kind("time_kind", time_kind)  # raises the SchemaError
            return
        if _OBJECTS <= have and (time_kind is None or "time_kind" in self._meta()):
            if time_kind is not None:
                self._set_kind("time_kind", time_kind)  # compares only
            return
        with self._transaction("creating"):
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._conn.execute(stmt)
            for stmt in _APPEND_ONLY:
                self._conn.execute(stmt)
            if "schema_version" not in self._meta():
                self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                   (SCHEMA_VERSION,))
            if time_kind is not None:
                self._set_kind("time_kind", time_kind)

    def _meta(self) -> dict[str, str]:
        with self._errors("reading"):
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def _set_kind(self, key: str, value: str) -> None:
        have = self._meta().get(key)
        if have is None:
            self._conn.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
        elif have != value:
            what = "kind of time" if key == "time_kind" else "type of student id"
            raise SchemaError(
                f"the alert log holds one {what}",
                table="alert_log",
                column="as_of" if key == "time_kind" else "student_id",
                rule=key.replace("_", "-"),
                arrived=f"{value!r} values for a log of {have!r}",
                hint="convert the values, or use another log file",
            )

    @contextlib.contextmanager
    def _transaction(self, doing: str = "writing") -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back whole."""
        self._writable(doing)
        with self._errors(doing):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                # SQLite may have rolled back already (a full disk, a damaged page)
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> AlertLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ values
    def _time_kind(self) -> str | None:
        return self._meta().get("time_kind")

    def _encode_times(self, values: Any, *, what: str) -> list[Any]:
        arr = np.asarray(values)
        if arr.dtype.kind == "M" or (arr.dtype == object and len(arr) and all(
                isinstance(v, pd.Timestamp | _dt.datetime | np.datetime64) for v in arr)):
            self._set_kind("time_kind", "datetime")
            ts = pd.to_datetime(pd.Series(arr))
            if getattr(ts.dt, "tz", None) is not None:
                ts = naive_utc(ts)  # the one time module's rule: the instant, in UTC
            return [t.strftime("%Y-%m-%dT%H:%M:%S.%f") for t in ts]
        if arr.dtype.kind in "iuf":
            f = arr.astype("float64")
            if not np.isfinite(f).all():
                raise SchemaError(
                    f"`{what}` must be finite",
                    table="alert_log",
                    column=what,
                    rule="finite",
                    arrived=f"{int((~np.isfinite(f)).sum())} NaN or inf value(s)",
                )
            self._set_kind("time_kind", "float")
            return [float(v) for v in f]
        raise SchemaError(
            f"`{what}` must be datetimes or float days",
            table="alert_log",
            column=what,
            rule="time-type",
            arrived=f"dtype {arr.dtype}",
            hint="use the as_of values of the feature matrix",
        )

    def _decode_times(self, values: pd.Series) -> pd.Series:
        if self._time_kind() == "datetime":
            return pd.to_datetime(values, format="%Y-%m-%dT%H:%M:%S.%f")
        return values.astype("float64")

    def _encode_ids(self, ids: pd.Series) -> list[Any]:
        if ids.dtype.kind in "iu":
            self._set_kind("id_kind", "int")
            return [int(v) for v in ids]
        if not all(isinstance(v, str) for v in ids):
            raise SchemaError(
                "`student_id` must be integers or text",
                table="alert_log",
                column="student_id",
                rule="id-type",
                arrived=f"dtype {ids.dtype}",
            )
        self._set_kind("id_kind", "str")
        return [str(v) for v in ids]

    # ------------------------------------------------------------------ alerts
    def record_alerts(
        self,
        alerts: Any,
        *,
        source: str = "risk-model",
        run_id: str | None = None,
        on_conflict: str = "error",
    ) -> RecordResult:
        """Write raised alerts; an alert already in the log is not written again.

        Parameters
        ----------
        alerts : DataFrame
            Keyed by ``student_id`` and ``as_of`` (columns or index), e.g. the output of
            :meth:`AlertPolicy.apply`; when it has an ``alert`` column only rows where it is
            true are recorded. Optional ``tier``, ``score``, ``reasons`` (list of texts).
        source : str, default "risk-model"
            Which system raised them (``"risk-model"``, ``"abc"``, ...): part of the alert id.
        run_id : str, optional
            A run identifier (e.g. the MLflow run), stored with new alerts.
        on_conflict : {"error", "keep"}, default "error"
            What to do when an alert with the same id is already in the log with different
            content: refuse the whole batch, or keep the logged version and count the conflict.

        Returns
        -------
        RecordResult

        Raises
        ------
        DataIntegrityError
            A conflicting alert with ``on_conflict="error"`` (nothing is written).
        SchemaError
            Rows without student or as-of date, bad times or ids, repeated pairs.
        """
        if on_conflict not in ("error", "keep"):
            raise ConfigError("on_conflict must be 'error' or 'keep'", key="on_conflict",
                              arrived=repr(on_conflict))
        if not isinstance(source, str) or not source:
            raise ConfigError("source must be a non-empty string", key="source",
                              arrived=repr(source))
        frame = keyed_frame(alerts, table="alerts")
        if "alert" in frame.columns:
            frame = frame[frame["alert"].fillna(False).astype(bool).to_numpy()]
            frame = frame.reset_index(drop=True)
        n = len(frame)
        with self._transaction("recording alerts") as conn:
            if n == 0:
                return RecordResult(0, 0, 0, 0, [])
            ids = self._encode_ids(frame["student_id"])
            times = self._encode_times(frame["as_of"].to_numpy(), what="as_of")
            tiers = _optional_text(frame, "tier")
            scores = _optional_float(frame, "score")
            reasons = [json.dumps(_texts(r)) for r in (
                frame["reasons"] if "reasons" in frame.columns else [None] * n)]
            alert_ids = [_digest("alert", source, s, t) for s, t in zip(ids, times, strict=True)]
            alert_ids = [a[:24] for a in alert_ids]
            hashes = [
                _digest(a, tr, sc, rs)
                for a, tr, sc, rs in zip(alert_ids, tiers, scores, reasons, strict=True)
            ]
            existing = self._existing(conn, alert_ids)
            new_rows, n_existing, conflicts = [], 0, []
            for i, aid in enumerate(alert_ids):
                if aid in existing:
                    if existing[aid] == hashes[i]:
                        n_existing += 1
                    else:
                        conflicts.append(i)
                else:
                    new_rows.append(i)
                    existing[aid] = hashes[i]
            if conflicts and on_conflict == "error":
                raise DataIntegrityError(
                    "the alert log already holds different alerts for these students and dates",
                    arrived=f"{len(conflicts)} conflicting alert(s) from source {source!r} "
                    f"(as_of {times[conflicts[0]]!r}, ...)",
                    hint="an as-of date is processed once per source: use another `source` for "
                    "a new model, or on_conflict='keep' to keep what was logged",
                )
            now = _now()
            conn.executemany(
                "INSERT INTO alerts (alert_id, source, student_id, as_of, tier, score, reasons, "
                "content_hash, run_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _alert_rows(new_rows, alert_ids, source, ids, times, tiers, scores, reasons,
                            hashes, run_id, now),
            )
            conn.executemany(
                "INSERT INTO lifecycle (event_key, alert_id, status, time, staff, action, note, "
                "recorded_at) VALUES (?, ?, 'raised', ?, NULL, NULL, NULL, ?)",
                ((_digest("event", alert_ids[i], "raised", times[i], None, None, None),
                  alert_ids[i], times[i], now) for i in new_rows),
            )
            conn.execute(
                "INSERT INTO runs (source, run_id, as_of_min, as_of_max, n_rows, n_new, "
                "n_existing, n_conflicts, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (source, run_id, min(times), max(times), n, len(new_rows), n_existing,
                 len(conflicts), now),
            )
        if conflicts:
            logger.warning("alert log: %d conflicting alert(s) kept as first logged",
                           len(conflicts))
        logger.info("alert log: %d alert(s) offered, %d new, %d already logged",
                    n, len(new_rows), n_existing)
        return RecordResult(n, len(new_rows), n_existing, len(conflicts), alert_ids)

    @staticmethod
    def _existing(conn: sqlite3.Connection, alert_ids: list[str]) -> dict[str, str]:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _offered (alert_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp._offered")
        conn.executemany("INSERT OR IGNORE INTO temp._offered VALUES (?)",
                         ((a,) for a in alert_ids))
        rows = conn.execute(
            "SELECT a.alert_id, a.content_hash FROM alerts a "
            "JOIN temp._offered o ON o.alert_id = a.alert_id"
        ).fetchall()
        return dict(rows)

    # ------------------------------------------------------------------ lifecycle
    def acknowledge(self, alert_id: str, *, time: Any, staff: str,
                    note: str | None = None) -> None:
        """Record that ``staff`` saw the alert at ``time``."""
        self.record_events([{"alert_id": alert_id, "status": "acknowledged", "time": time,
                             "staff": staff, "note": note}])

    def record_action(self, alert_id: str, *, time: Any, staff: str, action: str,
                      note: str | None = None) -> None:
        """Record an action (``"call"``, ``"email"``, ``"meeting"``, ``"referral"``, ...)."""
        self.record_events([{"alert_id": alert_id, "status": "action", "time": time,
                             "staff": staff, "action": action, "note": note}])

    def resolve(self, alert_id: str, *, time: Any, staff: str, note: str | None = None,
                resolution: str | None = None) -> None:
        """Close the alert (after it was acknowledged, with or without actions)."""
        self.record_events([{"alert_id": alert_id, "status": "resolved", "time": time,
                             "staff": staff, "action": resolution, "note": note}])

    def record_events(self, events: Any) -> int:
        """Append lifecycle events in one transaction; an identical event is not added twice.

        Parameters
        ----------
        events : DataFrame or iterable of dict
            ``alert_id``, ``status`` (``acknowledged``, ``action`` or ``resolved``), ``time``,
            ``staff``; optional ``action`` (required for ``status="action"``) and ``note``.
            Events of one alert are applied in the order given.

        Returns
        -------
        int
            Events written (identical retries are not counted).

        Raises
        ------
        ConfigError
            An unknown alert, a status out of order (e.g. ``action`` before ``acknowledged``,
            anything after ``resolved``), an event earlier than the one before it, or an action
            without a name. Nothing of the batch is written.
        """
        rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
        if not rows:
            return 0
        for r in rows:
            if not isinstance(r, Mapping):
                raise SchemaError("each lifecycle event must be a mapping", table="lifecycle",
                                  rule="dataframe", arrived=repr(r))
            missing = [k for k in ("alert_id", "status", "time", "staff") if k not in r]
            if missing:
                raise SchemaError(
                    "lifecycle events need alert_id, status, time and staff",
                    table="lifecycle",
                    rule="required-column",
                    arrived=f"missing {missing!r}",
                )
        written = 0
        with self._transaction("recording lifecycle events") as conn:
            times = self._encode_times(_time_array([r["time"] for r in rows]), what="time")
            now = _now()
            state: dict[str, tuple[str, Any]] = {}
            for r, t in zip(rows, times, strict=True):
                aid, status = str(r["alert_id"]), r["status"]
                action = _clean(r.get("action"))
                note = _clean(r.get("note"))
                staff = _clean(r.get("staff"))
                if status not in STATUSES[1:]:
                    raise ConfigError(
                        "status must be 'acknowledged', 'action' or 'resolved'",
                        key="status",
                        arrived=repr(status),
                        hint="alerts are raised by record_alerts",
                    )
                if status == "action" and not action:
                    raise ConfigError("an action event needs the action's name", key="action",
                                      arrived=repr(r.get("action")),
                                      hint="e.g. action='call', 'email', 'meeting'")
                key = _digest("event", aid, status, t, staff, action, note)
                if conn.execute("SELECT 1 FROM lifecycle WHERE event_key = ?",
                                (key,)).fetchone():
                    continue  # an identical retry
                if aid not in state:
                    last = conn.execute(
                        "SELECT status, time FROM lifecycle WHERE alert_id = ? "
                        "ORDER BY seq DESC LIMIT 1", (aid,)).fetchone()
                    if last is None:
                        raise ConfigError(
                            "no such alert in the log",
                            key="alert_id",
                            arrived=repr(aid),
                            hint="use the alert_id column of AlertLog.alerts()",
                        )
                    state[aid] = (last[0], last[1])
                current, last_time = state[aid]
                if status not in _NEXT[current]:
                    allowed = ", ".join(_NEXT[current]) or "nothing (the alert is resolved)"
                    raise ConfigError(
                        f"an alert that is {current!r} can move to {allowed}",
                        key="status",
                        arrived=f"{status!r} for alert {aid!r}",
                        hint="follow raised -> acknowledged -> action(s) -> resolved",
                    )
                if t < last_time:
                    raise ConfigError(
                        "a lifecycle event cannot be earlier than the alert's previous event",
                        key="time",
                        arrived=f"{t!r} after {last_time!r} for alert {aid!r}",
                    )
                conn.execute(
                    "INSERT INTO lifecycle (event_key, alert_id, status, time, staff, action, "
                    "note, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, aid, status, t, staff, action, note, now),
                )
                state[aid] = (status, t)
                written += 1
        logger.info("alert log: %d lifecycle event(s) written", written)
        return written

    # ------------------------------------------------------------------ reading
    def _read(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        with self._errors("reading"):
            cur = self._conn.execute(sql, tuple(params))
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def alerts(self, *, source: str | None = None, status: str | None = None) -> pd.DataFrame:
        """Every alert with its current status.

        Parameters
        ----------
        source : str, optional
            Only alerts of this source.
        status : str, optional
            Only alerts currently in this status.

        Returns
        -------
        DataFrame
            ``alert_id``, ``source``, ``student_id``, ``as_of``, ``time`` (= ``as_of``: when
            the alert was raised, for :mod:`studentprofile.evaluation`), ``tier``, ``score``,
            ``reasons`` (list of str), ``status``, ``status_time``, ``staff`` (who last acted),
            ``run_id``; in the order written.
        """
        frame = self._read(
            "SELECT a.alert_id, a.source, a.student_id, a.as_of, a.tier, a.score, a.reasons, "
            "l.status, l.time AS status_time, "
            "(SELECT staff FROM lifecycle s WHERE s.alert_id = a.alert_id AND s.staff IS NOT "
            " NULL ORDER BY s.seq DESC LIMIT 1) AS staff, a.run_id "
            "FROM alerts a JOIN lifecycle l ON l.seq = ("
            " SELECT MAX(seq) FROM lifecycle m WHERE m.alert_id = a.alert_id) "
            "ORDER BY a.seq"
        )
        frame["reasons"] = [json.loads(r) for r in frame["reasons"]]
        frame["as_of"] = self._decode_times(frame["as_of"])
        frame["status_time"] = self._decode_times(frame["status_time"])
        frame.insert(4, "time", frame["as_of"])
        frame["score"] = frame["score"].astype("float64")
        if source is not None:
            frame = frame[frame["source"] == source]
        if status is not None:
            if status not in STATUSES:
                raise ConfigError(f"status must be one of {list(STATUSES)!r}", key="status",
                                  arrived=repr(status))
            frame = frame[frame["status"] == status]
        return frame.reset_index(drop=True)

    def history(self) -> pd.DataFrame:
        """Every lifecycle event, oldest first, with the alert's student, source and date."""
        frame = self._read(
            "SELECT l.seq, l.alert_id, a.source, a.student_id, a.as_of, l.status, l.time, "
            "l.staff, l.action, l.note, l.recorded_at FROM lifecycle l "
            "JOIN alerts a ON a.alert_id = l.alert_id ORDER BY l.seq"
        )
        frame["as_of"] = self._decode_times(frame["as_of"])
        frame["time"] = self._decode_times(frame["time"])
        return frame

    def interventions(self, *, source: str | None = None) -> pd.DataFrame:
        """Return the actions taken (the ``interventions`` table of the evaluation module).

        Parameters
        ----------
        source : str, optional
            Only actions on alerts of this source.

        Returns
        -------
        DataFrame
            ``student_id``, ``time``, ``action``, ``staff``, ``alert_id``, ``source``,
            ``as_of`` (of the alert), oldest first.
        """
        h = self.history()
        h = h[h["status"] == "action"]
        if source is not None:
            h = h[h["source"] == source]
        return h[["student_id", "time", "action", "staff", "alert_id", "source", "as_of"]
                 ].reset_index(drop=True)

    def runs(self) -> pd.DataFrame:
        """One row per :meth:`record_alerts` call: counts of new, existing and conflicting."""
        return self._read("SELECT * FROM runs ORDER BY seq")

    def verify(self) -> dict[str, int]:
        """Check the log: SQLite integrity, one ``raised`` event per alert, lifecycle order.

        Returns
        -------
        dict
            Counts of alerts and events.

        Raises
        ------
        DataIntegrityError
            Any broken rule, named; a damaged file (SQLite's integrity check, or a page that
            cannot be read).
        """
        with self._errors("verifying"):
            problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise DataIntegrityError(DAMAGED, arrived="; ".join(problems[:5]),
                                         hint=_DAMAGED_HINT)
            n_alerts = self._conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        h = self._read("SELECT alert_id, status, time FROM lifecycle ORDER BY seq")
        raised = h[h["status"] == "raised"]
        if raised["alert_id"].duplicated().any() or len(raised) != n_alerts:
            raise DataIntegrityError(
                "every alert has exactly one 'raised' event",
                arrived=f"{len(raised)} raised events for {n_alerts} alerts",
            )
        for aid, g in h.groupby("alert_id", sort=False):
            seq = g["status"].tolist()
            steps = zip(seq, seq[1:], strict=False)
            if seq[0] != "raised" or any(b not in _NEXT[a] for a, b in steps):
                raise DataIntegrityError("an alert's lifecycle is out of order",
                                         arrived=f"{aid!r}: {seq!r}")
        return {"alerts": int(n_alerts), "events": int(len(h))}


def _alert_rows(
    new_rows: list[int],
    alert_ids: list[str],
    source: str,
    ids: list[Any],
    times: list[Any],
    tiers: list[str | None],
    scores: list[float | None],
    reasons: list[str],
    hashes: list[str],
    run_id: str | None,
    now: str,
) -> Iterator[tuple[Any, ...]]:
    for i in new_rows:
        yield (alert_ids[i], source, ids[i], times[i], tiers[i], scores[i], reasons[i],
               hashes[i], run_id, now)


def _optional_text(frame: pd.DataFrame, col: str) -> list[str | None]:
    if col not in frame.columns:
        return [None] * len(frame)
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in frame[col].tolist()]


def _optional_float(frame: pd.DataFrame, col: str) -> list[float | None]:
    if col not in frame.columns:
        return [None] * len(frame)
    vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return [float(v) if np.isfinite(v) else None for v in vals]


def _texts(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _clean(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _time_array(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
           for v in values):
        return np.asarray(values, dtype="float64")
    try:
        return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[ns]")
    except (ValueError, TypeError) as exc:
        raise SchemaError(
            "`time` must be datetimes or float days",
            table="lifecycle",
            column="time",
            rule="time-type",
            arrived=f"values such as {values[:3]!r}",
        ) from exc
