"""The closed loop: an append-only alert log in SQLite (embedded) or PostgreSQL (shared).

Every alert the policy raises is written once, with its tier, score and reasons; what advisors
do about it is appended as lifecycle events ``raised -> acknowledged -> action -> resolved``; who
the alert was assigned to (the caseload) is appended as assignments. Rows are never updated or
deleted -- the *database* refuses it (SQLite triggers, PostgreSQL trigger functions) -- so the
log is its own audit trail.

Guarantees (the same on both databases)
---------------------------------------
* **Idempotent.** An alert's id is a hash of (source, student, as-of date); processing the same
  as-of date twice adds nothing the second time. A lifecycle event's or an assignment's key is a
  hash of its content, so a retried call adds nothing either. The ids do not depend on the
  database: the same alert has the same id in SQLite and in PostgreSQL.
* **Atomic.** Each call is one transaction: a batch is written whole or not at all, even if the
  process dies half-way (tested by killing a writer mid-batch, on both databases).
* **Concurrent writers.** Writers of one log take turns (SQLite's ``BEGIN IMMEDIATE``; a
  PostgreSQL advisory lock with ``READ COMMITTED``), readers never wait on PostgreSQL; unique
  constraints back the rule. Tested with writers racing on the same alerts.
* **Never duplicated, never silently changed.** Re-processing a date with *different* content
  for an existing alert (another model, another score) is refused by default
  (``on_conflict="error"``); ``"keep"`` keeps the first version and reports the conflicts.
* **Private logs.** Log messages carry counts, never student identifiers; errors never carry a
  database password.
* **Typed failures, nothing lost.** A damaged file (garbage, truncated, flipped bits) or a
  SQLite file that is not an alert log raises :class:`~studentprofile.errors.DataIntegrityError`
  when it is opened (a quick check of every page) or read; a read-only file raises
  :class:`~studentprofile.errors.OutputError` when written, and so does a database server that
  cannot be reached (the message names host and port). In every case the file is left exactly
  as it was: the log never rewrites, repairs or replaces a file it cannot trust.

Storage
-------
The SQLite file keeps the layout of studentprofile 0.1 (tables ``meta``, ``alerts``,
``lifecycle``, ``runs``); version 2 adds ``assignments`` and the shared ``sp_schema_versions``
table (see :mod:`studentprofile.warning._db`). A 0.1 file is migrated on its first writable open
(one step, in one transaction; nothing existing is changed). On PostgreSQL, student ids and times
are stored as text (ids exactly, datetimes as ISO-8601, float days in Python's shortest exact
form) so that one schema serves every log; ``meta`` records their kind.

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
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import sqlalchemy as sa

from studentprofile.errors import (
    ConfigError,
    DataIntegrityError,
    OutputError,
    SchemaError,
    StudentProfileError,
)
from studentprofile.tables._time import naive_utc
from studentprofile.warning._db import (
    VERSION_TABLE,
    Migration,
    append_only,
    driver_message,
    engine_for,
    ensure_schema,
    failure_kind,
    masked_url,
    schema_version,
    table_names,
    write_transaction,
)
from studentprofile.warning._inputs import keyed_frame

__all__ = ["STATUSES", "AlertLog", "RecordResult"]

logger = logging.getLogger(__name__)

#: The component's name in the schema version table.
COMPONENT = "alert_log"
#: The layout of the alert tables recorded in ``meta`` since 0.1 (unchanged by version 2).
LAYOUT_VERSION = "1"

#: The lifecycle, in order.
STATUSES: tuple[str, ...] = ("raised", "acknowledged", "action", "resolved")

# status of an alert -> statuses an event may move it to
_NEXT = {
    "raised": ("acknowledged",),
    "acknowledged": ("action", "resolved"),
    "action": ("action", "resolved"),
    "resolved": (),
}

# ---- version 1: the 0.1 layout. The SQLite text is 0.1's, byte for byte (typeless id and time
# columns hold ints or text, floats or ISO text); PostgreSQL gets the same tables, typed.
_SQLITE_V1 = """
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
CREATE INDEX IF NOT EXISTS alerts_student ON alerts (student_id, as_of)
"""

_PG_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE alerts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    student_id   TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    tier         TEXT,
    score        DOUBLE PRECISION,
    reasons      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    run_id       TEXT,
    recorded_at  TEXT NOT NULL,
    UNIQUE (source, student_id, as_of)
);
CREATE TABLE lifecycle (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key   TEXT NOT NULL UNIQUE,
    alert_id    TEXT NOT NULL REFERENCES alerts (alert_id),
    status      TEXT NOT NULL CHECK (status IN ('raised', 'acknowledged', 'action', 'resolved')),
    time        TEXT NOT NULL,
    staff       TEXT,
    action      TEXT,
    note        TEXT,
    recorded_at TEXT NOT NULL
);
CREATE TABLE runs (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT NOT NULL,
    run_id       TEXT,
    as_of_min    TEXT,
    as_of_max    TEXT,
    n_rows       INTEGER NOT NULL,
    n_new        INTEGER NOT NULL,
    n_existing   INTEGER NOT NULL,
    n_conflicts  INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX lifecycle_alert ON lifecycle (alert_id, seq);
CREATE INDEX alerts_student ON alerts (student_id, as_of)
"""

# ---- version 2: who each alert was assigned to (the caseload), append-only
_SQLITE_V2 = """
CREATE TABLE IF NOT EXISTS assignments (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment_key TEXT NOT NULL UNIQUE,
    alert_id       TEXT NOT NULL REFERENCES alerts (alert_id),
    staff_id       TEXT NOT NULL,
    role           TEXT NOT NULL,
    time           NOT NULL,
    assigned_by    TEXT,
    recorded_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assignments_alert ON assignments (alert_id, seq);
CREATE INDEX IF NOT EXISTS assignments_staff ON assignments (staff_id)
"""

_PG_V2 = """
CREATE TABLE assignments (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    assignment_key TEXT NOT NULL UNIQUE,
    alert_id       TEXT NOT NULL REFERENCES alerts (alert_id),
    staff_id       TEXT NOT NULL,
    role           TEXT NOT NULL,
    time           TEXT NOT NULL,
    assigned_by    TEXT,
    recorded_at    TEXT NOT NULL
);
CREATE INDEX assignments_alert ON assignments (alert_id, seq);
CREATE INDEX assignments_staff ON assignments (staff_id)
"""

_TABLES = frozenset({"meta", "alerts", "lifecycle", "runs"})
_APPEND_ONLY_TABLES = ("alerts", "lifecycle", "runs", "meta", "assignments")
_WHAT = "the alert log"


def _run_ddl(conn: sa.engine.Connection, sqlite_ddl: str, pg_ddl: str,
             tables: Iterable[str]) -> None:
    ddl = sqlite_ddl if conn.dialect.name == "sqlite" else pg_ddl
    for stmt in ddl.split(";"):
        if stmt.strip():
            conn.exec_driver_sql(stmt)
    for table in tables:
        for stmt in append_only(table, dialect=conn.dialect.name, what=_WHAT):
            conn.exec_driver_sql(stmt)


def _v1(conn: sa.engine.Connection) -> None:
    # a 0.1 SQLite file already has these (IF NOT EXISTS): adopting it changes nothing in it
    _run_ddl(conn, _SQLITE_V1, _PG_V1, ("alerts", "lifecycle", "runs", "meta"))
    have = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    if have is None:
        # what 0.1 reads: it opens a version-2 log and ignores the assignments
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
                     {"v": LAYOUT_VERSION})


def _v2(conn: sa.engine.Connection) -> None:
    _run_ddl(conn, _SQLITE_V2, _PG_V2, ("assignments",))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "alerts, lifecycle, runs and meta tables (the 0.1 layout), append-only", _v1),
    Migration(2, "caseload assignments, append-only", _v2),
)

#: Error texts (tested as they are).
DAMAGED = "the alert log file is damaged or is not an alert log; it was left as it was"
READ_ONLY = "the alert log is read-only; nothing was written"
NOT_WRITTEN = "the alert log could not be written; nothing was written"
UNREACHABLE = "the alert log's database cannot be reached; nothing was read or written"
REFUSED = "the alert log's database refused the write; nothing was written"
NOT_A_LOG = "the database does not hold the alert log's tables as this version expects"

_DAMAGED_HINT = ("keep the file as it is (it is the audit trail); restore the latest backup, or "
                 "run `sqlite3 <file> .recover` on a copy; start a new log only under another "
                 "file name")
_CHUNK = 500  # rows per statement (well under SQLite's and PostgreSQL's bound-parameter limits)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


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
    target : str, path-like or sqlalchemy Engine
        Where the log lives: a SQLite file (created when missing; ``":memory:"`` for a throwaway
        log), a SQLAlchemy URL (``sqlite:///alerts.sqlite``,
        ``postgresql+psycopg://user:password@host:5432/db``, or ``"${ALERTS_DB_URL}"`` naming an
        environment variable that holds it, which keeps the password out of files and shell
        history), or an Engine shared with the other stores of the same database (see
        :attr:`engine`). PostgreSQL needs ``studentprofile[postgres]``.
    time_kind : {"datetime", "float"}, optional
        The kind of time the log holds; fixed by the first write when omitted.
    read_only : bool, default False
        Open an existing log for reading only (SQLite's ``mode=ro``; read-only transactions on
        PostgreSQL): every write raises :class:`~studentprofile.errors.OutputError`. For
        dashboards and auditors, and for a log file the process may not write.
    path : str or path-like, optional
        Deprecated name of ``target`` (0.1); emits a FutureWarning.

    Attributes
    ----------
    url : str
        The database's URL with the password masked (safe to log and show).
    engine : sqlalchemy.engine.Engine
        The Engine, for sibling stores (cases, notifications) in the same database.
    path : str
        The SQLite file (or ``":memory:"``); for another database, :attr:`url`.

    Raises
    ------
    ConfigError
        A target that is not a path or a database URL, an unknown dialect, a folder that does
        not exist.
    DataIntegrityError
        The file is damaged (SQLite's quick check of every page fails, or it is not a
        database at all), is a SQLite file of something else, or holds a newer schema version
        than this library knows. The file is not changed.
    OutputError
        A write to a read-only log (file permissions, or ``read_only=True``), a full disk, a
        lock held for longer than 30 s, a database server that cannot be reached. Nothing is
        written.

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
    >>> log.record_assignments(pd.DataFrame({"alert_id": [aid], "staff_id": ["kim"]}),
    ...                        time=30.0, by="weekly job")
    1
    >>> log.acknowledge(aid, time=31.0, staff="kim")
    >>> log.record_action(aid, time=33.0, staff="kim", action="call")
    >>> log.resolve(aid, time=40.0, staff="kim", note="back on track")
    >>> log.alerts()[["student_id", "status"]]
      student_id    status
    0        ana  resolved
    >>> log.interventions()[["student_id", "time", "action", "staff"]]
      student_id  time action staff
    0        ana  33.0   call   kim
    >>> log.assignments()[["student_id", "staff_id", "role", "time", "by"]]
      student_id staff_id     role  time          by
    0        ana      kim  advisor  30.0  weekly job
    >>> log
    AlertLog('sqlite://')
    >>> log.close()
    """

    def __init__(self, target: str | os.PathLike[str] | sa.engine.Engine | None = None, *,
                 time_kind: str | None = None, read_only: bool = False,
                 path: str | os.PathLike[str] | None = None):
        if path is not None:
            warnings.warn("AlertLog(path=...) is renamed AlertLog(target=...); `path` will be "
                          "removed in the next release", FutureWarning, stacklevel=2)
            if target is not None:
                raise ConfigError("give the log's target once", key="target",
                                  arrived=f"target={target!r} and path={path!r}")
            target = path
        if target is None:
            raise ConfigError("AlertLog needs a file path, a database URL or an Engine",
                              key="target", arrived="None",
                              hint='e.g. AlertLog("alerts.sqlite")')
        if time_kind not in (None, "datetime", "float"):
            raise ConfigError("time_kind must be 'datetime' or 'float'", key="time_kind",
                              arrived=repr(time_kind))
        if not isinstance(read_only, bool):
            raise ConfigError("read_only must be True or False", key="read_only",
                              arrived=repr(read_only))
        self.read_only = read_only
        self._owns_engine = not isinstance(target, sa.engine.Engine)
        file = _sqlite_file(target)
        if read_only and file is not None and file != ":memory:" and not Path(file).is_file():
            raise ConfigError("the alert log to read does not exist", key="path",
                              arrived=repr(file), hint="check the path")
        self.engine: sa.engine.Engine = engine_for(target, read_only=read_only)
        self.url = masked_url(self.engine)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self.path = (file or ":memory:") if self._sqlite else self.url
        if self.engine.dialect.name not in ("sqlite", "postgresql"):  # an Engine passed in
            raise ConfigError("the alert log runs on SQLite or PostgreSQL", key="target",
                              arrived=repr(self.url),
                              hint="use a file path, sqlite:///... or postgresql+psycopg://...")
        try:
            with self._errors("opening"):
                self._open(time_kind, check=self._sqlite and self.path != ":memory:")
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ set-up
    def _typed(self, exc: BaseException, doing: str) -> StudentProfileError:
        """Turn a database error into the library's typed error (the caller chains ``exc``)."""
        orig = getattr(exc, "orig", None) or exc
        name = str(getattr(orig, "sqlite_errorname", "") or getattr(orig, "sqlstate", "")
                   or type(orig).__name__)
        arrived = f"{name}: {driver_message(exc, self.engine)} (while {doing} {self.path!r})"
        kind = failure_kind(exc)
        if kind == "read_only" and doing == "migrating":
            return OutputError(
                READ_ONLY, arrived=arrived,
                hint=f"the log's schema needs version {len(MIGRATIONS)}: open it once as the "
                     "owner of its tables (a role that may create tables), then run the "
                     "service as a role with SELECT and INSERT rights only",
            )
        if kind == "read_only":
            return OutputError(
                READ_ONLY, arrived=arrived,
                hint="give the service write permission on the file and its folder (or the "
                     "database role INSERT rights), or open it with read_only=True to read it",
            )
        if kind == "unavailable" or (kind == "unreachable" and self._sqlite):
            if doing == "opening" and name == "SQLITE_CANTOPEN":
                return ConfigError("cannot open the alert log", key="path", arrived=arrived,
                                   hint="check that the folder exists and is writable")
            return OutputError(
                NOT_WRITTEN, arrived=arrived,
                hint="check the free disk space, the permissions of the file and its folder, "
                     "and that no other process holds the log locked (the log waits 30 s); "
                     "then run again: recording is idempotent",
            )
        if kind == "unreachable":
            return OutputError(
                UNREACHABLE, arrived=arrived,
                hint="check that the database server runs and accepts connections from this "
                     "host (host, port, firewall, pg_hba.conf), then run the job again: "
                     "recording is idempotent",
            )
        if kind == "refused":
            return DataIntegrityError(
                REFUSED, arrived=arrived,
                hint="the log's history is append-only and its keys are unique; write through "
                     "AlertLog, which never changes a row",
            )
        if kind == "damaged" and self._sqlite:
            return DataIntegrityError(DAMAGED, arrived=arrived, hint=_DAMAGED_HINT)
        if kind == "damaged":
            return DataIntegrityError(NOT_A_LOG, arrived=arrived,
                                      hint="point the log at its own database or schema")
        return OutputError(NOT_WRITTEN, arrived=arrived,
                           hint="see the database's message; nothing of the call was kept")

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate database errors into typed ones (damaged file, read-only, unreachable)."""
        dbapi_error = getattr(self.engine.dialect, "loaded_dbapi", sqlite3).Error
        try:
            yield
        except (sa.exc.DBAPIError, sqlite3.Error, dbapi_error) as exc:
            raise self._typed(exc, doing) from exc

    def _writable(self, doing: str) -> None:
        if self.read_only:
            raise OutputError(READ_ONLY, arrived=f"{doing} on a log opened with read_only=True",
                              hint="open the log without read_only=True to write")

    # ---- statements at the driver's level: positional parameters, executemany, plain tuples
    # (SQLAlchemy's per-row parameter and result processing cost more than the database here)
    def _q(self, sql: str) -> str:
        """Write ``?`` placeholders in the driver's style (psycopg: ``%s``)."""
        return sql if self._sqlite else sql.replace("?", "%s")

    def _many(self, conn: sa.engine.Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Execute ``sql`` for every row, ``_CHUNK`` rows per round trip."""
        for chunk in _chunks(rows, _CHUNK):
            conn.exec_driver_sql(self._q(sql), chunk)

    def _fetch(self, conn: sa.engine.Connection, sql: str,
               params: tuple[Any, ...] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query on the DBAPI cursor of ``conn``: column names and plain tuples."""
        cur = conn.connection.cursor()
        try:
            cur.execute(self._q(sql), params)
            return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def _existing(self, conn: sa.engine.Connection, table: str, key: str, value: str,
                  keys: Iterable[str]) -> dict[str, Any]:
        """``{key: value}`` of the rows of ``table`` whose ``key`` is one of ``keys``."""
        found: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(keys)), _CHUNK):
            marks = ", ".join("?" * len(chunk))
            _, rows = self._fetch(conn, f"SELECT {key}, {value} FROM {table} "
                                        f"WHERE {key} IN ({marks})", tuple(chunk))
            found.update((str(k), v) for k, v in rows)
        return found

    def _open(self, time_kind: str | None, *, check: bool) -> None:
        newest = len(MIGRATIONS)
        with self.engine.connect() as conn:
            have = table_names(conn)
            if have and check:
                # every page once: a damaged file is refused before anything is written to it
                problems = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise DataIntegrityError(DAMAGED, arrived="; ".join(problems[:5]),
                                             hint=_DAMAGED_HINT)
            version = schema_version(conn, COMPONENT)
            legacy = version == 0 and _TABLES <= have
            if version == 0 and have and not legacy and self._sqlite and (
                    VERSION_TABLE not in have or have & _TABLES):
                raise DataIntegrityError(
                    DAMAGED,
                    arrived=f"{self.path!r} is a SQLite file with tables {sorted(have)!r}, "
                    f"not the alert log's {sorted(_TABLES)!r}",
                    hint="give the path of an alert log, or a new file name for a new log",
                )
            if legacy or (version and "meta" in have):
                layout = conn.execute(sa.text(
                    "SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
                if layout != LAYOUT_VERSION:
                    raise DataIntegrityError(
                        "the alert log was written by an incompatible version of studentprofile",
                        arrived=f"schema version {layout!r}, expected {LAYOUT_VERSION!r}",
                        hint="open it with the version that wrote it, or start a new log",
                    )
                version = max(version, 1)
        if version > newest:
            raise DataIntegrityError(
                "the alert log was written by a newer version of studentprofile",
                arrived=f"schema version {version} in {self.url!r}; this version knows "
                        f"{newest}",
                hint="upgrade studentprofile to open it; nothing was changed",
            )
        if self.read_only:
            if version == 0:
                raise DataIntegrityError(DAMAGED if self._sqlite else NOT_A_LOG,
                                         arrived=f"{self.path!r} has no alert log",
                                         hint="give the path or URL of an alert log")
            self._version = version
            have_kind = self._meta().get("time_kind")
            if time_kind is not None and have_kind is not None and have_kind != time_kind:
                self._kind_error("time_kind", time_kind, have_kind)
            return
        with self._errors("migrating"):
            self._version = ensure_schema(self.engine, COMPONENT, MIGRATIONS)
        if time_kind is not None and self._meta().get("time_kind") != time_kind:
            with self._transaction("creating") as conn:
                self._set_kind(conn, "time_kind", time_kind)

    def _meta(self, conn: sa.engine.Connection | None = None) -> dict[str, str]:
        if conn is not None:
            rows = conn.execute(sa.text("SELECT key, value FROM meta")).fetchall()
        else:
            with self._errors("reading"), self.engine.connect() as c:
                rows = c.execute(sa.text("SELECT key, value FROM meta")).fetchall()
        return {str(k): str(v) for k, v in rows}

    def _kind_error(self, key: str, value: str, have: str) -> None:
        what = "kind of time" if key == "time_kind" else "type of student id"
        raise SchemaError(
            f"the alert log holds one {what}",
            table="alert_log",
            column="as_of" if key == "time_kind" else "student_id",
            rule=key.replace("_", "-"),
            arrived=f"{value!r} values for a log of {have!r}",
            hint="convert the values, or use another log file",
        )

    def _set_kind(self, conn: sa.engine.Connection, key: str, value: str) -> None:
        have = self._meta(conn).get(key)
        if have is None:
            conn.execute(sa.text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
                         {"k": key, "v": value})
        elif have != value:
            self._kind_error(key, value, have)

    @contextlib.contextmanager
    def _transaction(self, doing: str = "writing") -> Iterator[sa.engine.Connection]:
        """One write transaction, one writer at a time: committed whole, or rolled back whole."""
        self._writable(doing)
        with self._errors(doing), write_transaction(self.engine, lock=COMPONENT) as conn:
            yield conn

    def close(self) -> None:
        """Close the database connections (an Engine passed in stays open for its owner)."""
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"AlertLog({self.url!r}{mode})"

    def __enter__(self) -> AlertLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ values
    def _time_kind(self, conn: sa.engine.Connection | None = None) -> str | None:
        return self._meta(conn).get("time_kind")

    def _encode_times(self, conn: sa.engine.Connection, values: Any, *, what: str) -> list[Any]:
        arr = np.asarray(values)
        if arr.dtype.kind == "M" or (arr.dtype == object and len(arr) and all(
                isinstance(v, pd.Timestamp | _dt.datetime | np.datetime64) for v in arr)):
            self._set_kind(conn, "time_kind", "datetime")
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
            self._set_kind(conn, "time_kind", "float")
            return [float(v) for v in f]
        raise SchemaError(
            f"`{what}` must be datetimes or float days",
            table="alert_log",
            column=what,
            rule="time-type",
            arrived=f"dtype {arr.dtype}",
            hint="use the as_of values of the feature matrix",
        )

    def _stored(self, value: Any) -> Any:
        """Return a Python value (encoded id or time) as the database column holds it."""
        if self._sqlite or value is None or isinstance(value, str):
            return value
        return repr(float(value)) if isinstance(value, float) else str(value)

    def _no_nul(self, values: Iterable[Any], *, table: str, column: str) -> None:
        """Refuse text with the NUL character on PostgreSQL, whose text type cannot hold it."""
        if self._sqlite:
            return
        bad = [i for i, v in enumerate(values) if isinstance(v, str) and "\x00" in v]
        if bad:
            raise SchemaError(
                "PostgreSQL text cannot hold the NUL character (\\x00)",
                table=table, column=column, rule="no-nul",
                arrived=f"{len(bad)} value(s) with it, e.g. row {bad[0]}",
                hint="remove the character at the source (SQLite logs store it as given)",
            )

    def _time_of(self, value: Any, kind: str | None) -> Any:
        """Return a stored time as the encoded Python value (float days or ISO text)."""
        return float(value) if kind == "float" else value

    def _decode_times(self, values: pd.Series, kind: str | None) -> pd.Series:
        if kind == "datetime":
            return pd.to_datetime(values, format="%Y-%m-%dT%H:%M:%S.%f")
        return values.astype("float64")

    def _decode_ids(self, values: pd.Series, kind: str | None) -> pd.Series:
        if kind == "int" and not self._sqlite:
            return values.astype("int64")
        return values

    def _encode_ids(self, conn: sa.engine.Connection, ids: pd.Series) -> list[Any]:
        if ids.dtype.kind in "iu":
            self._set_kind(conn, "id_kind", "int")
            return [int(v) for v in ids]
        if not all(isinstance(v, str) for v in ids):
            raise SchemaError(
                "`student_id` must be integers or text",
                table="alert_log",
                column="student_id",
                rule="id-type",
                arrived=f"dtype {ids.dtype}",
            )
        self._set_kind(conn, "id_kind", "str")
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
            ids = self._encode_ids(conn, frame["student_id"])
            times = self._encode_times(conn, frame["as_of"].to_numpy(), what="as_of")
            tiers = _optional_text(frame, "tier")
            scores = _optional_float(frame, "score")
            reasons = [json.dumps(_texts(r)) for r in (  # JSON escapes a NUL: safe everywhere
                frame["reasons"] if "reasons" in frame.columns else [None] * n)]
            for column, values in (("student_id", ids), ("tier", tiers), ("source", [source]),
                                   ("run_id", [run_id])):
                self._no_nul(values, table="alerts", column=column)
            alert_ids = [_digest("alert", source, s, t) for s, t in zip(ids, times, strict=True)]
            alert_ids = [a[:24] for a in alert_ids]
            hashes = [
                _digest(a, tr, sc, rs)
                for a, tr, sc, rs in zip(alert_ids, tiers, scores, reasons, strict=True)
            ]
            existing = self._existing(conn, "alerts", "alert_id", "content_hash", alert_ids)
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
            st = self._stored
            self._many(
                conn,
                "INSERT INTO alerts (alert_id, source, student_id, as_of, tier, score, reasons, "
                "content_hash, run_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((a, src, st(s), st(t), tr, sc, rs, h, r, rec)
                 for a, src, s, t, tr, sc, rs, h, r, rec in _alert_rows(
                     new_rows, alert_ids, source, ids, times, tiers, scores, reasons, hashes,
                     run_id, now)),
            )
            self._many(
                conn,
                "INSERT INTO lifecycle (event_key, alert_id, status, time, staff, action, note, "
                "recorded_at) VALUES (?, ?, 'raised', ?, NULL, NULL, NULL, ?)",
                ((_digest("event", alert_ids[i], "raised", times[i], None, None, None),
                  alert_ids[i], st(times[i]), now) for i in new_rows),
            )
            self._many(
                conn,
                "INSERT INTO runs (source, run_id, as_of_min, as_of_max, n_rows, n_new, "
                "n_existing, n_conflicts, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(source, run_id, st(min(times)), st(max(times)), n, len(new_rows), n_existing,
                  len(conflicts), now)],
            )
        if conflicts:
            logger.warning("alert log: %d conflicting alert(s) kept as first logged",
                           len(conflicts))
        logger.info("alert log: %d alert(s) offered, %d new, %d already logged",
                    n, len(new_rows), n_existing)
        return RecordResult(n, len(new_rows), n_existing, len(conflicts), alert_ids)

    # ------------------------------------------------------------------ assignments
    def record_assignments(self, assignments: Any, *, time: Any = None, by: str | None = None,
                           role: str = "advisor") -> int:
        """Record who each alert was assigned to (the caseload), in one transaction.

        Assignments are history: a later assignment of the same alert and role supersedes an
        earlier one (see ``assignments(current=True)``); nothing is overwritten. An identical
        assignment (same alert, staff member, role, time and ``by``) is not added twice.

        Parameters
        ----------
        assignments : DataFrame or iterable of dict
            ``alert_id`` and ``staff_id`` (or ``advisor_id``, as :func:`assign_caseloads`
            names it, after adding the alert ids); optional ``role``, ``time`` and ``by``
            columns, which take precedence over the keyword defaults.
        time : datetime or float, optional
            When the assignment was made (the log's kind of time), for rows without one.
        by : str, optional
            Who or what made it (a staff id, ``"assign_caseloads"``, the weekly job's run).
        role : str, default "advisor"
            The role of the staff member on the alert, for rows without one.

        Returns
        -------
        int
            Assignments written (identical retries are not counted).

        Raises
        ------
        SchemaError
            A missing column, an empty staff id (keep only the rows whose ``status`` is
            ``"assigned"``), a row without a time.
        ConfigError
            An unknown alert, an assignment earlier than the alert, an empty role. Nothing of
            the batch is written.
        """
        if isinstance(assignments, pd.DataFrame):
            frame = assignments.reset_index(drop=True)
        else:
            rows = list(assignments)
            if not all(isinstance(r, Mapping) for r in rows):
                raise SchemaError("each assignment must be a mapping", table="assignments",
                                  rule="dataframe", arrived=repr(rows[:1]))
            frame = pd.DataFrame(rows)
        if "staff_id" not in frame.columns and "advisor_id" in frame.columns:
            frame = frame.rename(columns={"advisor_id": "staff_id"})
        frame = frame.copy()
        missing = [c for c in ("alert_id", "staff_id") if c not in frame.columns]
        if missing and len(frame):
            raise SchemaError("assignments need alert_id and staff_id", table="assignments",
                              rule="required-column", arrived=f"missing {missing!r}",
                              hint="add the alert ids (RecordResult.alert_ids or "
                                   "AlertLog.alerts()) to the caseload frame")
        if not len(frame):
            self._writable("recording assignments")
            return 0
        for col, default in (("role", role), ("time", time), ("by", by)):
            # the keyword fills the rows without a value of their own
            values = frame[col].tolist() if col in frame.columns else [None] * len(frame)
            frame[col] = pd.Series([default if _clean(v) is None else v for v in values],
                                   dtype=object)
        staff = [_clean(v) for v in frame["staff_id"]]
        roles = [_clean(v) for v in frame["role"]]
        empty = [i for i, v in enumerate(staff) if not v]
        if empty:
            raise SchemaError(
                "every assignment names a staff member",
                table="assignments", column="staff_id", rule="required",
                arrived=f"{len(empty)} row(s) without one, e.g. row {empty[0]}",
                hint="keep the rows of assign_caseloads whose status is 'assigned'",
            )
        if any(not r for r in roles):
            raise ConfigError("an assignment's role must be a non-empty text", key="role",
                              arrived=repr(next(r for r in frame["role"] if not _clean(r))))
        no_time = [i for i, v in enumerate(frame["time"])
                   if v is None or (isinstance(v, float) and math.isnan(v))]
        if no_time:
            raise SchemaError("every assignment has a time", table="assignments",
                              column="time", rule="required",
                              arrived=f"{len(no_time)} row(s) without one",
                              hint="pass time=... (e.g. the as-of date of the weekly run)")
        alert_ids = [str(a) for a in frame["alert_id"]]
        bys = [_clean(v) for v in frame["by"]]
        for column, values in (("alert_id", alert_ids), ("staff_id", staff), ("role", roles),
                               ("by", bys)):
            self._no_nul(values, table="assignments", column=column)
        written = 0
        with self._transaction("recording assignments") as conn:
            times = self._encode_times(conn, _time_array(list(frame["time"]), table="assignments"),
                                       what="time")
            kind = self._time_kind(conn)
            as_of = self._existing(conn, "alerts", "alert_id", "as_of", alert_ids)
            unknown = [a for a in alert_ids if a not in as_of]
            if unknown:
                raise ConfigError("no such alert in the log", key="alert_id",
                                  arrived=f"{len(unknown)} unknown id(s), e.g. {unknown[0]!r}",
                                  hint="use the alert_id column of AlertLog.alerts()")
            keys = [_digest("assignment", a, s, r, t, b)
                    for a, s, r, t, b in zip(alert_ids, staff, roles, times, bys, strict=True)]
            done = set(self._existing(conn, "assignments", "assignment_key", "alert_id", keys))
            out: list[tuple[Any, ...]] = []
            for a, s, r, t, b, k in zip(alert_ids, staff, roles, times, bys, keys, strict=True):
                if t < self._time_of(as_of[a], kind):
                    raise ConfigError(
                        "an alert cannot be assigned before it was raised", key="time",
                        arrived=f"{t!r} before the alert's as_of {as_of[a]!r}",
                    )
                if k in done:
                    continue
                done.add(k)
                out.append((k, a, s, r, self._stored(t), b))
            now = _now()
            self._many(conn, "INSERT INTO assignments (assignment_key, alert_id, staff_id, role, "
                             "time, assigned_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (row + (now,) for row in out))
            written = len(out)
        logger.info("alert log: %d assignment(s) written", written)
        return written

    def assignments(self, *, current: bool = False) -> pd.DataFrame:
        """Every recorded assignment, oldest first.

        Parameters
        ----------
        current : bool, default False
            Only the latest assignment of each alert and role (the caseload now).

        Returns
        -------
        DataFrame
            ``alert_id``, ``source``, ``student_id``, ``as_of``, ``staff_id``, ``role``,
            ``time``, ``by``, ``recorded_at``.
        """
        cols = ["alert_id", "source", "student_id", "as_of", "staff_id", "role", "time", "by",
                "recorded_at"]
        if self._version < 2:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        frame = self._read(
            "SELECT g.alert_id, a.source, a.student_id, a.as_of, g.staff_id, g.role, g.time, "
            "g.assigned_by AS by, g.recorded_at FROM assignments g "
            "JOIN alerts a ON a.alert_id = g.alert_id ORDER BY g.seq"
        )
        if current:
            frame = frame.drop_duplicates(["alert_id", "role"], keep="last")
        meta = self._meta()
        frame["student_id"] = self._decode_ids(frame["student_id"], meta.get("id_kind"))
        frame["as_of"] = self._decode_times(frame["as_of"], meta.get("time_kind"))
        frame["time"] = self._decode_times(frame["time"], meta.get("time_kind"))
        frame["by"] = pd.Series([_clean(v) for v in frame["by"]], index=frame.index,
                                dtype=object)
        return frame[cols].reset_index(drop=True)

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
        for column in ("alert_id", "staff", "action", "note"):
            self._no_nul([r.get(column) for r in rows], table="lifecycle", column=column)
        written = 0
        with self._transaction("recording lifecycle events") as conn:
            times = self._encode_times(conn, _time_array([r["time"] for r in rows]),
                                       what="time")
            kind = self._time_kind(conn)
            now = _now()
            keys = [_digest("event", str(r["alert_id"]), r["status"], t, _clean(r.get("staff")),
                            _clean(r.get("action")), _clean(r.get("note")))
                    for r, t in zip(rows, times, strict=True)]
            known = set(self._existing(conn, "lifecycle", "event_key", "alert_id", keys))
            state = {aid: (str(status), self._time_of(t, kind))
                     for aid, (status, t) in self._last_events(
                         conn, [str(r["alert_id"]) for r in rows]).items()}
            new: list[tuple[Any, ...]] = []
            for r, t, key in zip(rows, times, keys, strict=True):
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
                if key in known:
                    continue  # an identical retry
                if aid not in state:
                    raise ConfigError(
                        "no such alert in the log",
                        key="alert_id",
                        arrived=repr(aid),
                        hint="use the alert_id column of AlertLog.alerts()",
                    )
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
                new.append((key, aid, status, self._stored(t), staff, action, note, now))
                known.add(key)
                state[aid] = (status, t)
            self._many(conn, "INSERT INTO lifecycle (event_key, alert_id, status, time, staff, "
                             "action, note, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", new)
            written = len(new)
        logger.info("alert log: %d lifecycle event(s) written", written)
        return written

    def _last_events(self, conn: sa.engine.Connection,
                     alert_ids: Iterable[str]) -> dict[str, tuple[Any, Any]]:
        """``{alert_id: (status, time)}`` of each alert's latest lifecycle event."""
        found: dict[str, tuple[Any, Any]] = {}
        for chunk in _chunks(sorted(set(alert_ids)), _CHUNK):
            marks = ", ".join("?" * len(chunk))
            _, rows = self._fetch(
                conn,
                "SELECT l.alert_id, l.status, l.time FROM lifecycle l WHERE l.seq IN ("
                f"SELECT MAX(seq) FROM lifecycle WHERE alert_id IN ({marks}) GROUP BY alert_id)",
                tuple(chunk))
            found.update((str(a), (st, t)) for a, st, t in rows)
        return found

    # ------------------------------------------------------------------ reading
    def _read(self, sql: str) -> pd.DataFrame:
        with self._errors("reading"), self.engine.connect() as conn:
            cols, rows = self._fetch(conn, sql)
            return pd.DataFrame.from_records(rows, columns=cols)

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
        if status is not None and status not in STATUSES:
            raise ConfigError(f"status must be one of {list(STATUSES)!r}", key="status",
                              arrived=repr(status))
        frame = self._read(
            "SELECT a.alert_id, a.source, a.student_id, a.as_of, a.tier, a.score, a.reasons, "
            "l.status, l.time AS status_time, "
            "(SELECT staff FROM lifecycle s WHERE s.alert_id = a.alert_id AND s.staff IS NOT "
            " NULL ORDER BY s.seq DESC LIMIT 1) AS staff, a.run_id "
            "FROM alerts a JOIN lifecycle l ON l.seq = ("
            " SELECT MAX(seq) FROM lifecycle m WHERE m.alert_id = a.alert_id) "
            "ORDER BY a.seq"
        )
        meta = self._meta()
        frame["reasons"] = [json.loads(r) for r in frame["reasons"]]
        frame["student_id"] = self._decode_ids(frame["student_id"], meta.get("id_kind"))
        frame["as_of"] = self._decode_times(frame["as_of"], meta.get("time_kind"))
        frame["status_time"] = self._decode_times(frame["status_time"], meta.get("time_kind"))
        frame.insert(4, "time", frame["as_of"])
        frame["score"] = frame["score"].astype("float64")
        if source is not None:
            frame = frame[frame["source"] == source]
        if status is not None:
            frame = frame[frame["status"] == status]
        return frame.reset_index(drop=True)

    def history(self) -> pd.DataFrame:
        """Every lifecycle event, oldest first, with the alert's student, source and date."""
        frame = self._read(
            "SELECT l.seq, l.alert_id, a.source, a.student_id, a.as_of, l.status, l.time, "
            "l.staff, l.action, l.note, l.recorded_at FROM lifecycle l "
            "JOIN alerts a ON a.alert_id = l.alert_id ORDER BY l.seq"
        )
        meta = self._meta()
        frame["student_id"] = self._decode_ids(frame["student_id"], meta.get("id_kind"))
        frame["as_of"] = self._decode_times(frame["as_of"], meta.get("time_kind"))
        frame["time"] = self._decode_times(frame["time"], meta.get("time_kind"))
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
        frame = self._read("SELECT * FROM runs ORDER BY seq")
        if not self._sqlite and self._meta().get("time_kind") == "float":
            for col in ("as_of_min", "as_of_max"):
                frame[col] = frame[col].astype("float64")
        return frame

    def verify(self) -> dict[str, int]:
        """Check the log: integrity, append-only triggers, one ``raised`` event per alert, order.

        Returns
        -------
        dict
            Counts of alerts and events.

        Raises
        ------
        DataIntegrityError
            Any broken rule, named; a damaged file (SQLite's integrity check, or a page that
            cannot be read); an append-only trigger that was dropped.
        """
        with self._errors("verifying"), self.engine.connect() as conn:
            if self._sqlite:
                problems = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise DataIntegrityError(DAMAGED, arrived="; ".join(problems[:5]),
                                             hint=_DAMAGED_HINT)
            missing = _missing_triggers(conn, self._version)
            if missing:
                raise DataIntegrityError(
                    "the alert log's append-only triggers are missing",
                    arrived=f"no trigger {missing!r}",
                    hint="someone changed the database by hand: compare it with a backup; "
                         "the history may have been edited",
                )
            n_alerts = conn.execute(sa.text("SELECT COUNT(*) FROM alerts")).scalar_one()
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


def _missing_triggers(conn: sa.engine.Connection, version: int) -> list[str]:
    tables = [t for t in _APPEND_ONLY_TABLES if version >= 2 or t != "assignments"]
    if conn.dialect.name == "sqlite":
        want = [f"{t}_no_{op}" for t in tables for op in ("update", "delete")]
        have = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    else:
        want = [f"{t}_no_{op}" for t in tables for op in ("change", "truncate")]
        have = {r[0] for r in conn.execute(sa.text(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname IN :tables AND pg_table_is_visible(c.oid)").bindparams(
                sa.bindparam("tables", expanding=True)), {"tables": tables})}
    return [w for w in want if w not in have]


def _sqlite_file(target: Any) -> str | None:
    """Return the SQLite file a target names (``":memory:"``), or None for other databases."""
    url: sa.engine.URL | None = None
    if isinstance(target, sa.engine.Engine):
        url = target.url
    elif isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if "://" not in text and "${" not in text:
            return text
        with contextlib.suppress(Exception):
            from studentprofile.io._sql import expand_url

            url = sa.engine.make_url(expand_url(text, source="store"))
    if url is None or url.get_backend_name() != "sqlite":
        return None
    db = url.database or ":memory:"
    return unquote(db[len("file://"):]) if db.startswith("file://") else db


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


def _time_array(values: list[Any], *, table: str = "lifecycle") -> np.ndarray:
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
           for v in values):
        return np.asarray(values, dtype="float64")
    try:
        return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[ns]")
    except (ValueError, TypeError) as exc:
        raise SchemaError(
            "`time` must be datetimes or float days",
            table=table,
            column="time",
            rule="time-type",
            arrived=f"values such as {values[:3]!r}",
        ) from exc
