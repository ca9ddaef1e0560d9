"""Cases: what staff do about an alert, event-sourced and append-only, on SQLite or PostgreSQL.

An alert becomes a **case**. The case's opening facts (the alert, the student, the tier, the
risk, the model version, the reasons and the role they call for) are one immutable row of
``cases``; everything that happens afterwards -- who owns it and who helps (with their roles), the
status (``open -> contacted -> in_progress -> closed``, and ``closed -> reopened -> ...``),
notes, due dates and staff verdicts -- is a row of ``case_events``. Rows are never updated or
deleted: triggers in the database refuse it, so the history is its own audit trail. A case's
current state is a fold over its events.

Guarantees
----------
* **Idempotent.** One case per alert (``alert_id`` is unique): opening the same alerts again adds
  nothing. An event's key is a hash of the request (case, action, acting staff, time, content):
  a retried call adds nothing.
* **Serialised per case.** Each write reads the case's history and appends with the next
  per-case sequence number in one transaction (``BEGIN IMMEDIATE`` on SQLite, a row lock on
  PostgreSQL); ``(case_id, seq)`` is unique, so two writers can never both append "contacted" to
  an open case, and a writer that loses a race retries on the new state. Concurrent writers lose
  and duplicate nothing (tested with threads and processes on both databases).
* **Every action is signed.** Each event carries the acting staff member and the time of the
  action (given, or now in UTC), and the time it was recorded.
* **Typed errors.** An illegal transition raises :class:`~studentprofile.errors.StateError`
  naming the case, its status and the allowed ones; an unknown case or bad argument a
  :class:`~studentprofile.errors.ConfigError`; an unreachable database a
  :class:`~studentprofile.errors.SourceError` (the URL shown without its password); a failed
  write an :class:`~studentprofile.errors.OutputError` (nothing written).

The frames :meth:`CaseStore.cases`, :meth:`CaseStore.verdicts` and :meth:`CaseStore.history` are
the column contracts that :mod:`studentprofile.evaluation` reads (judged precision, time to
first contact, cases overdue per advisor and unit).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import random
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from studentprofile.errors import (
    ConfigError,
    DataIntegrityError,
    OutputError,
    SourceError,
    StateError,
    StudentProfileError,
)
from studentprofile.warning._case_db import append_only_ddl, is_url, make_engine, shown
from studentprofile.warning._case_inputs import (
    alert_frame,
    assignment_maps,
    case_rows,
    dumps,
    plain,
    text_time,
)
from studentprofile.warning._reasons import reasons_lookup
from studentprofile.warning._routing import Routing

__all__ = [
    "CASE_COLUMNS",
    "CASE_STATUSES",
    "ENV_URL",
    "HISTORY_COLUMNS",
    "TRANSITIONS",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "CaseStore",
    "OpenResult",
    "open_cases",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

#: The environment variable a store URL may come from (keeps passwords out of shell history).
ENV_URL = "STUDENTPROFILE_CASES_URL"

#: Case statuses.
CASE_STATUSES: tuple[str, ...] = ("open", "contacted", "in_progress", "closed", "reopened")

#: Status -> the statuses it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("contacted", "closed"),
    "contacted": ("in_progress", "closed"),
    "in_progress": ("closed",),
    "closed": ("reopened",),
    "reopened": ("contacted", "in_progress", "closed"),
}

#: What staff may say about an alert.
VERDICTS: tuple[str, ...] = (
    "useful", "not_useful", "incorrectly_flagged", "already_known", "student_declined",
)

#: Event kinds in ``case_events``.
EVENTS: tuple[str, ...] = ("opened", "assigned", "unassigned", "status", "note", "due", "verdict")

#: Column contracts (read by :mod:`studentprofile.evaluation`; keep them exactly).
CASE_COLUMNS: tuple[str, ...] = (
    "case_id", "alert_id", "student_id", "as_of", "opened_at", "tier", "risk", "model_version",
    "reason_families", "reason_codes", "owner", "unit", "role", "status", "due_first_contact",
    "first_contact_at", "closed_at",
)
VERDICT_COLUMNS: tuple[str, ...] = ("case_id", "time", "staff", "verdict", "note")
HISTORY_COLUMNS: tuple[str, ...] = ("case_id", "seq", "time", "staff", "event", "detail")

#: Error texts (tested as they are).
ILLEGAL_TRANSITION = "case {case_id!r} is {status!r}; it cannot move to {to!r}"
UNKNOWN_CASE = "there is no case with this id"
NO_STAFF = "every action needs the acting staff member (non-empty text)"
NO_STORE = "no case store was given"
NOT_A_STORE = "the database holds no case store yet"
FOREIGN_SCHEMA = "the database has case tables that this version cannot read"
NOT_WRITTEN = "the case store could not be written; nothing was written"
UNREACHABLE = "the case store cannot be reached"

_RETRIES = 60
_LOCK_KEY = 0x5350_4341  # PostgreSQL advisory lock for creating the schema ("SPCA")


# --------------------------------------------------------------------------- the database

_MD = sa.MetaData()

CASES = sa.Table(
    "cases", _MD,
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(255), nullable=False, unique=True),
    sa.Column("student_id", sa.Text, nullable=False),
    sa.Column("as_of", sa.Text, nullable=False),
    sa.Column("tier", sa.Text),
    sa.Column("risk", sa.Float),
    sa.Column("model_version", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("reason_families", sa.Text, nullable=False),
    sa.Column("reason_codes", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("opened_at", sa.Text, nullable=False),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Text, nullable=False),
)

CASE_EVENTS = sa.Table(
    "case_events", _MD,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("case_seq", sa.Integer, nullable=False),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("staff", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("status", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("verdict", sa.Text),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("event_key", sa.String(64), nullable=False, unique=True),
    sa.Column("recorded_at", sa.Text, nullable=False),
    sa.UniqueConstraint("case_id", "case_seq", name="case_events_case_seq"),
    sa.CheckConstraint("event IN ({})".format(", ".join(f"'{e}'" for e in EVENTS)),
                       name="case_events_event"),
    sa.CheckConstraint("status IS NULL OR status IN ({})".format(
        ", ".join(f"'{s}'" for s in CASE_STATUSES)), name="case_events_status"),
    sa.CheckConstraint("verdict IS NULL OR verdict IN ({})".format(
        ", ".join(f"'{v}'" for v in VERDICTS)), name="case_events_verdict"),
    sa.Index("case_events_assignee", "assignee", "case_id"),
    sqlite_autoincrement=True,
)

CASE_SCHEMA = sa.Table(
    "case_schema", _MD,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

_APPEND_ONLY = ("cases", "case_events", "case_schema")


def _append_only_ddl(dialect: str) -> list[str]:
    return append_only_ddl(dialect, _APPEND_ONLY, what="the case store",
                           function="sp_case_store_append_only")


# --------------------------------------------------------------------------- values

def _now() -> pd.Timestamp:
    return pd.Timestamp(_dt.datetime.now(_dt.UTC).replace(tzinfo=None))


def _moment(value: Any, key: str) -> pd.Timestamp:
    """Return a wall-clock time as naive UTC (aware times converted; naive ones are UTC)."""
    if value is None:
        return _now()
    try:
        if isinstance(value, bool) or isinstance(value, int | float | np.number):
            raise TypeError("a number is not a time")
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            raise ValueError("missing")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a date and time", key=key, arrived=repr(value),
                          hint="e.g. '2026-11-09 14:30' (UTC) or an aware datetime") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _parse_times(values: Iterable[Any]) -> pd.Series:
    return pd.to_datetime(pd.Series(list(values), dtype=object), format="ISO8601")


def _decode_as_of(values: pd.Series) -> pd.Series:
    if values.empty:
        return values.astype(object)
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all():
        return num.astype("float64")
    return _parse_times(values)


def _staff(value: Any, key: str = "staff") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(NO_STAFF, key=key, arrived=repr(value),
                          hint="say who acts: --staff <your staff id> on the command line")
    return value.strip()


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be text", key=key, arrived=repr(value))
    return value


def _digest(*parts: Any) -> str:
    return hashlib.sha256(dumps(parts).encode("utf-8")).hexdigest()


def case_id_of(alert_id: str) -> str:
    """Return the case id of an alert: ``c-`` and 16 hex digits of a hash of the alert id.

    Examples
    --------
    >>> case_id_of("a1")
    'c-f55ff16f66f43360'
    """
    return "c-" + hashlib.sha256(alert_id.encode("utf-8")).hexdigest()[:16]


def _event_key(request_key: str, i: int) -> str:
    """Return the key of the ``i``-th event a request appends (64 characters)."""
    return f"{request_key[:56]}{i:08d}"


# --------------------------------------------------------------------------- state

@dataclass
class _State:
    """A case's current state: a fold over its events."""

    case_id: str
    opened_at: str
    status: str = "open"
    owner: str | None = None
    owner_role: str | None = None
    unit: str | None = None
    assignees: dict[str, str] = field(default_factory=dict)  # staff -> role
    due_first_contact: str | None = None
    first_contact_at: str | None = None
    closed_at: str | None = None
    last_seq: int = 0

    def apply(self, event: str, time: str, detail: Mapping[str, Any], seq: int) -> None:
        self.last_seq = seq
        if event == "assigned":
            if detail.get("as") == "owner":
                self.owner = detail.get("staff_id")
                self.owner_role = detail.get("role")
                self.unit = detail.get("unit")
                self.assignees.pop(str(self.owner), None)
            else:
                self.assignees[str(detail.get("staff_id"))] = str(detail.get("role"))
        elif event == "unassigned":
            self.assignees.pop(str(detail.get("staff_id")), None)
        elif event == "status":
            to = str(detail.get("to"))
            self.status = to
            if to == "contacted" and self.first_contact_at is None:
                self.first_contact_at = time
            if to == "closed":
                self.closed_at = time
            elif to == "reopened":
                self.closed_at = None
        elif event == "due" and detail.get("what") == "first_contact":
            self.due_first_contact = detail.get("due")


def _fold(facts: Mapping[str, Any], events: Iterable[Any]) -> _State:
    state = _State(case_id=facts["case_id"], opened_at=facts["opened_at"])
    for ev in events:
        state.apply(ev["event"], ev["time"], json.loads(ev["detail"]), int(ev["case_seq"]))
    return state


@dataclass(frozen=True)
class OpenResult:
    """What :meth:`CaseStore.open_cases` did.

    Attributes
    ----------
    n_rows : int
        Alerts offered.
    n_new : int
        Cases opened now.
    n_existing : int
        Alerts that already had a case (nothing written for them).
    case_ids : list of str
        The case id of every offered alert, in input order.
    """

    n_rows: int
    n_new: int
    n_existing: int
    case_ids: list[str]


@dataclass(frozen=True)
class _Event:
    event: str
    detail: dict[str, Any]
    status: str | None = None
    assignee: str | None = None
    role: str | None = None
    verdict: str | None = None


# --------------------------------------------------------------------------- the store

class CaseStore:
    """Cases opened from alerts, with owners, assignees, statuses, notes, due dates, verdicts.

    Parameters
    ----------
    target : str or path-like, optional
        A file path (SQLite, created on first use), ``":memory:"``, or a SQLAlchemy URL such as
        ``postgresql+psycopg://ews@db.campus/ews``. The same database may hold the alert log.
        Default: the ``STUDENTPROFILE_CASES_URL`` environment variable.
    create : bool, default True
        Create the tables (and the append-only triggers) when missing. With ``False`` a store
        that does not exist yet raises :class:`~studentprofile.errors.ConfigError` (a mistyped
        path must not silently start an empty store).

    Raises
    ------
    ConfigError
        No target, a bad URL, or (``create=False``) no store at the target.
    SourceError
        The database cannot be reached (the message shows the URL without its password).
    DataIntegrityError
        The database has case tables of another schema version.

    Examples
    --------
    >>> import pandas as pd
    >>> store = CaseStore(":memory:")
    >>> alerts = pd.DataFrame({
    ...     "alert_id": ["a1"], "student_id": ["0042"], "as_of": ["2026-11-09"],
    ...     "score": [0.81], "tier": ["high"],
    ...     "reasons": [[{"text": "Attendance fell", "feature": "att_30d",
    ...                   "family": "behavioral", "kind": "class_attendance"}]]})
    >>> staff = pd.DataFrame({"student_id": ["0042"], "role": ["advisor"],
    ...                       "staff_id": ["kim"], "unit": ["north"], "status": ["assigned"]})
    >>> routing = Routing(families={"behavioral": "tutor"})
    >>> res = store.open_cases(alerts, routing=routing, assignments=staff,
    ...                        time="2026-11-09 08:00")
    >>> res.n_new, store.open_cases(alerts, routing=routing, assignments=staff).n_new
    (1, 0)
    >>> cid = res.case_ids[0]
    >>> store.contact(cid, staff="kim", time="2026-11-10 09:30")
    >>> store.record_verdict(cid, "useful", staff="kim", note="missed two weeks (flu)",
    ...                      time="2026-11-10 09:31")
    >>> store.close_case(cid, staff="kim", time="2026-11-20 16:00")
    >>> row = store.cases().iloc[0]
    >>> row["owner"], row["unit"], row["role"], row["status"], row["reason_families"]
    ('kim', 'north', 'tutor', 'closed', 'behavioral')
    >>> str(row["first_contact_at"]), str(row["due_first_contact"])
    ('2026-11-10 09:30:00', '2026-11-16 08:00:00')
    >>> store.close_case(cid, staff="kim")
    Traceback (most recent call last):
    ...
    studentprofile.errors.StateError: case 'c-...' is 'closed'; it cannot move to 'closed'
      arrived: close by 'kim'
      what to do: allowed from 'closed': ['reopened']
    >>> store.verdicts()[["staff", "verdict", "note"]]
      staff verdict                    note
    0   kim  useful  missed two weeks (flu)
    """

    def __init__(self, target: str | os.PathLike[str] | None = None, *, create: bool = True):
        if target is None:
            target = os.environ.get(ENV_URL) or None
        if target is None or not str(target).strip():
            raise ConfigError(NO_STORE, key="store", arrived=repr(target),
                              hint=f"give a path or URL, or set {ENV_URL}")
        self.target = str(target)
        self._shown = shown(self.target)
        if not create and not is_url(self.target) and self.target != ":memory:" \
                and not Path(self.target).expanduser().is_file():
            raise ConfigError(NOT_A_STORE, key="store", arrived=repr(self._shown),
                              hint="check the path; cases are created by the weekly job "
                                   "(open_cases)")
        self._engine = make_engine(self.target)
        try:
            self._init_schema(create=create)
        except BaseException:
            self._engine.dispose()
            raise

    # ------------------------------------------------------------------ set-up
    @property
    def dialect(self) -> str:
        """The database's dialect name (``"sqlite"``, ``"postgresql"``, ...)."""
        return str(self._engine.dialect.name)

    def __repr__(self) -> str:
        return f"CaseStore({self._shown!r})"

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, doing: str, *, write: bool) -> Iterator[None]:
        try:
            yield
        except StudentProfileError:
            raise
        except sa.exc.DBAPIError as exc:
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()
            arrived = f"{type(getattr(exc, 'orig', exc)).__name__}: " \
                      f"{detail[0] if detail else ''} (while {doing} {self._shown!r})"
            if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError) or (
                    isinstance(exc, sa.exc.OperationalError) and not write):
                raise SourceError(UNREACHABLE, source="cases", arrived=arrived,
                                  hint="check the URL, that the server runs and the "
                                       "credentials (password in " + ENV_URL + ")") from None
            raise OutputError(NOT_WRITTEN if write else UNREACHABLE, arrived=arrived,
                              hint="check the permissions, the free space and that no other "
                                   "process holds the store locked") from None

    def _init_schema(self, *, create: bool) -> None:
        doing = "opening"
        with self._errors(doing, write=False), \
                self._engine.connect().execution_options(sp_read=True) as conn:
            have = set(sa.inspect(conn).get_table_names())
        with self._errors(doing, write=True):
            if {"cases", "case_events", "case_schema"} <= have:
                self._check_schema()
                return
            if not create:
                raise ConfigError(NOT_A_STORE, key="store", arrived=repr(self._shown),
                                  hint="check the path or URL; cases are created by the weekly "
                                       "job (open_cases)")
            with self._engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                _MD.create_all(conn, checkfirst=True)
                for stmt in _append_only_ddl(self.dialect):
                    conn.exec_driver_sql(stmt)
                found = conn.execute(sa.select(CASE_SCHEMA.c.value).where(
                    CASE_SCHEMA.c.key == "schema_version")).scalar()
                if found is None:
                    conn.execute(CASE_SCHEMA.insert(), [
                        {"key": "schema_version", "value": SCHEMA_VERSION},
                        {"key": "created_at", "value": text_time(_now())},
                    ])
            self._check_schema()

    def _check_schema(self) -> None:
        """Refuse tables of another schema (the version row first: one cheap query per open)."""
        with self._engine.connect().execution_options(sp_read=True) as conn:
            try:
                version = conn.execute(sa.select(CASE_SCHEMA.c.value).where(
                    CASE_SCHEMA.c.key == "schema_version")).scalar()
            except sa.exc.DBAPIError:
                version = None
                conn.rollback()
            if version == SCHEMA_VERSION:
                return
            insp = sa.inspect(conn)
            for table in (CASES, CASE_EVENTS, CASE_SCHEMA):
                cols = {c["name"] for c in insp.get_columns(table.name)}
                want = {c.name for c in table.columns}
                if cols != want:
                    raise DataIntegrityError(
                        FOREIGN_SCHEMA, arrived=f"table {table.name!r} has columns "
                        f"{sorted(cols)!r}, expected {sorted(want)!r}",
                        hint="use another database (or schema) for the case store")
        raise DataIntegrityError(FOREIGN_SCHEMA, arrived=f"schema version {version!r}, this "
                                 f"version reads {SCHEMA_VERSION!r}",
                                 hint="upgrade studentprofile to the version that wrote it")

    # ------------------------------------------------------------------ writing
    def _write(self, doing: str, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn`` in one transaction; retry when a concurrent writer won a race."""
        last: Exception | None = None
        for attempt in range(_RETRIES):
            try:
                with self._errors(doing, write=True), self._engine.begin() as conn:
                    return fn(conn)
            except OutputError as exc:
                cause = exc.__context__
                if not _retryable(cause):
                    raise
                last = exc
            _time.sleep(min(0.2, 0.002 * 2 ** min(attempt, 7)) * (0.5 + random.random()))
        raise OutputError(NOT_WRITTEN, arrived=f"{_RETRIES} attempts lost a race with other "
                          f"writers while {doing}", hint="retry later") from last

    def _lock_case(self, conn: Connection, case_id: Any, *, fold: bool = True
                   ) -> tuple[dict[str, Any], _State]:
        if not isinstance(case_id, str) or not case_id:
            raise ConfigError(UNKNOWN_CASE, key="case_id", arrived=repr(case_id))
        query = sa.select(CASES).where(CASES.c.case_id == case_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise ConfigError(UNKNOWN_CASE, key="case_id", arrived=repr(case_id),
                              hint="list the cases with `studentprofile cases list`")
        facts = dict(row)
        if not fold:  # an action that does not depend on the state needs only the next number
            last = conn.execute(sa.select(sa.func.max(CASE_EVENTS.c.case_seq)).where(
                CASE_EVENTS.c.case_id == case_id)).scalar()
            return facts, _State(case_id=case_id, opened_at=facts["opened_at"],
                                 last_seq=int(last or 0))
        events = conn.execute(sa.select(CASE_EVENTS).where(CASE_EVENTS.c.case_id == case_id)
                              .order_by(CASE_EVENTS.c.case_seq)).mappings().all()
        return facts, _fold(facts, events)

    def _act(
        self,
        case_id: str,
        *,
        action: str,
        staff: Any,
        time: Any,
        request: Mapping[str, Any],
        build: Callable[[_State, str], list[_Event]],
        fold: bool = True,
    ) -> None:
        """Append the events ``build`` makes from the case's current state, at most once."""
        who = _staff(staff)
        when = _moment(time, "time")
        stamp = text_time(when)
        key = _digest(case_id, action, who, stamp, dict(request))

        def run(conn: Connection) -> None:
            facts, state = self._lock_case(conn, case_id, fold=fold)
            done = conn.execute(sa.select(CASE_EVENTS.c.seq).where(
                CASE_EVENTS.c.event_key == _event_key(key, 0))).first()
            if done is not None:
                return  # the same request again: nothing to add
            if when < pd.Timestamp(facts["opened_at"]):
                raise ConfigError("an action cannot happen before its case was opened",
                                  key="time", arrived=f"{stamp} (opened {facts['opened_at']})")
            events = build(state, f"{action} by {who!r}")
            now = text_time(_now())
            conn.execute(CASE_EVENTS.insert(), [
                {"case_id": case_id, "case_seq": state.last_seq + i + 1, "time": stamp,
                 "staff": who, "event": e.event, "status": e.status, "assignee": e.assignee,
                 "role": e.role, "verdict": e.verdict, "detail": dumps(e.detail),
                 "event_key": _event_key(key, i), "recorded_at": now}
                for i, e in enumerate(events)
            ])

        self._write(action, run)
        logger.info("case store: %s recorded", action)

    def _move(self, case_id: str, to: str, *, staff: Any, time: Any, note: Any,
              action: str) -> None:
        note = _text(note, "note")

        def build(state: _State, arrived: str) -> list[_Event]:
            allowed = TRANSITIONS[state.status]
            if to not in allowed:
                raise StateError(ILLEGAL_TRANSITION.format(case_id=state.case_id,
                                                           status=state.status, to=to),
                                 arrived=arrived,
                                 hint=f"allowed from {state.status!r}: {list(allowed)!r}")
            out = [_Event("status", {"from": state.status, "to": to}, status=to)]
            if note:
                out.append(_Event("note", {"text": note}))
            return out

        self._act(case_id, action=action, staff=staff, time=time,
                  request={"to": to, "note": note}, build=build)

    def contact(self, case_id: str, *, staff: str, time: Any = None,
                note: str | None = None) -> None:
        """Record the first (or a renewed) contact with the student: status -> ``contacted``.

        Parameters
        ----------
        case_id : str
            The case.
        staff : str
            Who acted.
        time : datetime or str, optional
            When (default: now, UTC). Naive times are UTC.
        note : str, optional
            Free text, stored as a note event.

        Raises
        ------
        StateError
            The case's status does not allow it (see ``TRANSITIONS``).
        ConfigError
            Unknown case, no staff, a bad time.
        """
        self._move(case_id, "contacted", staff=staff, time=time, note=note, action="contact")

    def start(self, case_id: str, *, staff: str, time: Any = None,
              note: str | None = None) -> None:
        """Mark the case as in progress (after contact). Parameters as :meth:`contact`."""
        self._move(case_id, "in_progress", staff=staff, time=time, note=note, action="start")

    def close_case(self, case_id: str, *, staff: str, time: Any = None,
                   note: str | None = None, verdict: str | None = None) -> None:
        """Close the case, optionally with a verdict. Parameters as :meth:`contact`.

        ``verdict`` (one of ``VERDICTS``) is recorded as by :meth:`record_verdict`, in the same
        transaction.
        """
        if verdict is None:
            self._move(case_id, "closed", staff=staff, time=time, note=note, action="close")
            return
        verdict = _verdict(verdict)
        note = _text(note, "note")

        def build(state: _State, arrived: str) -> list[_Event]:
            allowed = TRANSITIONS[state.status]
            if "closed" not in allowed:
                raise StateError(ILLEGAL_TRANSITION.format(case_id=state.case_id,
                                                           status=state.status, to="closed"),
                                 arrived=arrived,
                                 hint=f"allowed from {state.status!r}: {list(allowed)!r}")
            return [_Event("status", {"from": state.status, "to": "closed"}, status="closed"),
                    _Event("verdict", {"verdict": verdict, "note": note}, verdict=verdict)]

        self._act(case_id, action="close", staff=staff, time=time,
                  request={"to": "closed", "verdict": verdict, "note": note}, build=build)

    def reopen(self, case_id: str, *, staff: str, time: Any = None,
               note: str | None = None) -> None:
        """Reopen a closed case. Parameters as :meth:`contact`."""
        self._move(case_id, "reopened", staff=staff, time=time, note=note, action="reopen")

    def set_status(self, case_id: str, status: str, *, staff: str, time: Any = None,
                   note: str | None = None) -> None:
        """Move the case to ``status`` (one of ``CASE_STATUSES``). Parameters as :meth:`contact`.

        Raises
        ------
        StateError
            The move is not in ``TRANSITIONS``.
        """
        if status not in CASE_STATUSES or status == "open":
            raise ConfigError("status must be a status a case can move to", key="status",
                              arrived=repr(status), hint=f"one of {list(CASE_STATUSES[1:])!r}")
        self._move(case_id, status, staff=staff, time=time, note=note, action=f"set {status}")

    def add_note(self, case_id: str, text: str, *, staff: str, time: Any = None) -> None:
        """Add a free-text note to a case (in any status)."""
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("a note needs text", key="note", arrived=repr(text))
        self._act(case_id, action="note", staff=staff, time=time, request={"text": text},
                  build=lambda _s, _a: [_Event("note", {"text": text})], fold=False)

    def record_verdict(self, case_id: str, verdict: str, *, staff: str, time: Any = None,
                       note: str | None = None) -> None:
        """Record a staff member's verdict on the alert behind a case (counted by evaluation).

        Parameters
        ----------
        case_id : str
            The case.
        verdict : str
            One of ``VERDICTS``: ``useful``, ``not_useful``, ``incorrectly_flagged``,
            ``already_known``, ``student_declined``.
        staff : str
            Who judges.
        time : datetime or str, optional
            When (default: now, UTC).
        note : str, optional
            Free text.

        Raises
        ------
        ConfigError
            Unknown verdict or case, no staff.
        """
        verdict = _verdict(verdict)
        note = _text(note, "note")
        self._act(case_id, action="verdict", staff=staff, time=time,
                  request={"verdict": verdict, "note": note},
                  build=lambda _s, _a: [_Event("verdict", {"verdict": verdict, "note": note},
                                               verdict=verdict)], fold=False)

    def assign(self, case_id: str, to: str, *, role: str, staff: str, time: Any = None,
               unit: str | None = None, owner: bool = False, note: str | None = None) -> None:
        """Assign a staff member to a case with a role, or make them its owner (reassignment).

        The history keeps every earlier owner and assignee.

        Parameters
        ----------
        case_id : str
            The case.
        to : str
            The staff member assigned.
        role : str
            Their role on the case (``tutor``, ``counsellor``, ...).
        staff : str
            Who acts.
        time : datetime or str, optional
            When (default: now, UTC).
        unit : str, optional
            The owner's unit (college, building), for the meso-level views.
        owner : bool, default False
            Make ``to`` the case's owner (the previous owner is recorded in the event).
        note : str, optional
            Why.
        """
        to = _staff(to, "to")
        role = _staff(role, "role")
        unit = _text(unit, "unit")
        note = _text(note, "note")

        def build(state: _State, arrived: str) -> list[_Event]:
            if owner and state.owner == to and state.owner_role == role \
                    and (unit is None or unit == state.unit):
                raise StateError(f"{to!r} already owns case {state.case_id!r}", arrived=arrived,
                                 hint="reassign to someone else")
            if not owner and state.assignees.get(to) == role:
                raise StateError(f"{to!r} is already assigned to case {state.case_id!r} as "
                                 f"{role!r}", arrived=arrived)
            detail: dict[str, Any] = {"staff_id": to, "role": role,
                                      "as": "owner" if owner else "assignee"}
            if owner:
                detail["previous"] = state.owner
                detail["unit"] = unit if unit is not None else (
                    state.unit if state.owner is None else None)
            out = [_Event("assigned", detail, assignee=to, role=role)]
            if note:
                out.append(_Event("note", {"text": note}))
            return out

        self._act(case_id, action="reassign" if owner else "assign", staff=staff, time=time,
                  request={"to": to, "role": role, "unit": unit, "owner": owner, "note": note},
                  build=build)

    def unassign(self, case_id: str, who: str, *, staff: str, time: Any = None) -> None:
        """Remove an assignee (not the owner: reassign the owner instead)."""
        who = _staff(who, "who")

        def build(state: _State, arrived: str) -> list[_Event]:
            if who not in state.assignees:
                raise StateError(f"{who!r} is not an assignee of case {state.case_id!r}",
                                 arrived=arrived,
                                 hint=f"assignees: {sorted(state.assignees)!r}")
            return [_Event("unassigned", {"staff_id": who, "role": state.assignees[who]},
                           assignee=who, role=state.assignees[who])]

        self._act(case_id, action="unassign", staff=staff, time=time, request={"who": who},
                  build=build)

    def set_due(self, case_id: str, due: Any, *, staff: str, time: Any = None) -> None:
        """Set (or move) the first-contact due date of a case."""
        due_ts = _moment(due, "due")
        self._act(case_id, action="due", staff=staff, time=time,
                  request={"due": text_time(due_ts)},
                  build=lambda _s, _a: [_Event("due", {"what": "first_contact",
                                                       "due": text_time(due_ts)})], fold=False)

    # ------------------------------------------------------------------ opening
    def open_cases(
        self,
        alerts: Any,
        *,
        routing: Routing | None = None,
        assignments: pd.DataFrame | None = None,
        first_contact_days: float = 7,
        time: Any = None,
        staff: str = "system",
        reasons: Any = None,
        model_version: str | None = None,
    ) -> OpenResult:
        """Open one case per new alert (idempotent on ``alert_id``).

        Parameters
        ----------
        alerts : DataFrame
            The weekly job's alerts (:class:`~studentprofile.pipeline.WeeklyResult`'s
            ``alerts``) or :meth:`AlertLog.alerts`: ``alert_id``, ``student_id``, ``as_of``
            (columns or index levels), optional ``score`` (or ``risk``), ``tier``, ``reasons``
            (a list per alert of sentences, or of reason records with ``text``/``sentence``,
            ``feature``, ``family``, ``kind``), ``model_version`` (or ``run_id``).
        routing : Routing, optional
            Reason -> role table (default: every case to the ``advisor`` role).
        assignments : DataFrame, optional
            :func:`assign_caseloads` output. The owner is the student's staff member in the
            routing's ``owner_role`` (an advisors frame's ``advisor_id`` counts as that role);
            staff assigned in the other roles the case's reasons call for become assignees.
            Rows whose ``status`` is not ``"assigned"`` are ignored.
        first_contact_days : float, default 7
            First contact is due this many days after opening.
        time : datetime or str, optional
            When the cases are opened (default: now, UTC).
        staff : str, default "system"
            Who opens them (the weekly job).
        reasons : optional
            Structured reasons when the alerts' ``reasons`` are sentences only: anything
            :func:`~studentprofile.warning.reasons_lookup` reads (e.g. ``model.explain(X)``),
            keyed by (student_id, as_of).
        model_version : str, optional
            The model that raised the alerts (default: the alerts' ``model_version`` or
            ``run_id`` column).

        Returns
        -------
        OpenResult

        Raises
        ------
        SchemaError
            Missing columns, empty or repeated alert ids, bad dates.
        DataIntegrityError
            An alert id already has a case for another student.
        """
        routing = routing if routing is not None else Routing()
        if not isinstance(routing, Routing):
            raise ConfigError("routing must be a Routing", key="routing",
                              arrived=f"an object of type {type(routing).__name__}",
                              hint="Routing.from_toml('routing.toml')")
        if isinstance(first_contact_days, bool) or not isinstance(
                first_contact_days, int | float) or not math.isfinite(first_contact_days) \
                or first_contact_days < 0:
            raise ConfigError("first_contact_days must be a finite number >= 0",
                              key="first_contact_days", arrived=repr(first_contact_days))
        who = _staff(staff)
        opened = _moment(time, "time")
        frame = alert_frame(alerts)
        owners, helpers = assignment_maps(assignments, routing.owner_role)
        lookup = reasons_lookup(reasons) if reasons is not None else None
        rows = case_rows(frame, routing, lookup, model_version)
        due = text_time(opened + pd.Timedelta(days=float(first_contact_days)))
        stamp = text_time(opened)

        def run(conn: Connection) -> tuple[list[str], int]:
            ids = [r["alert_id"] for r in rows]
            existing: dict[str, str] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for aid, sid in conn.execute(sa.select(CASES.c.alert_id, CASES.c.student_id)
                                             .where(CASES.c.alert_id.in_(chunk))):
                    existing[aid] = sid
            clash = [a for a, r in ((r["alert_id"], r) for r in rows)
                     if a in existing and existing[a] != r["student_id"]]
            if clash:
                raise DataIntegrityError(
                    "an alert id already has a case for another student",
                    arrived=f"{len(clash)} alert id(s), e.g. {clash[0]!r}",
                    hint="alert ids must come from the alert log (one per source, student and "
                         "date)")
            new = [r for r in rows if r["alert_id"] not in existing]
            now = text_time(_now())
            facts, events = [], []
            for r in new:
                cid = case_id_of(r["alert_id"])
                facts.append({**{k: v for k, v in r.items() if not k.startswith("_")},
                              "case_id": cid, "opened_at": stamp, "opened_by": who,
                              "recorded_at": now})
                evs = [_Event("opened", {"alert_id": r["alert_id"], "role": r["role"]},
                              status="open")]
                own = owners.get(r["student_id"])
                if own is not None:
                    evs.append(_Event("assigned", {"staff_id": own[0], "role": routing.owner_role,
                                                   "as": "owner", "previous": None,
                                                   "unit": own[1]},
                                      assignee=own[0], role=routing.owner_role))
                for role in r["_roles"]:
                    helper = helpers.get((r["student_id"], role))
                    if role != routing.owner_role and helper is not None:
                        evs.append(_Event("assigned", {"staff_id": helper[0], "role": role,
                                                       "as": "assignee"},
                                          assignee=helper[0], role=role))
                evs.append(_Event("due", {"what": "first_contact", "due": due}))
                base = _digest(cid, "open")
                for i, e in enumerate(evs):
                    events.append({
                        "case_id": cid, "case_seq": i + 1, "time": stamp, "staff": who,
                        "event": e.event, "status": e.status, "assignee": e.assignee,
                        "role": e.role, "verdict": e.verdict, "detail": dumps(e.detail),
                        "event_key": _event_key(base, i),
                        "recorded_at": now})
            _insert_many(conn, CASES, facts)
            _insert_many(conn, CASE_EVENTS, events)
            return [case_id_of(a) for a in ids], len(new)

        case_ids, n_new = self._write("opening cases", run)
        logger.info("case store: %d alert(s) offered, %d case(s) opened, %d already open",
                    len(rows), n_new, len(rows) - n_new)
        return OpenResult(n_rows=len(rows), n_new=n_new, n_existing=len(rows) - n_new,
                          case_ids=case_ids)

    # ------------------------------------------------------------------ reading
    def _read(self, doing: str, fn: Callable[[Connection], Any]) -> Any:
        with self._errors(doing, write=False), \
                self._engine.connect().execution_options(sp_read=True) as conn:
            return fn(conn)

    def _load(self, where: Callable[[Any], Any] | None) -> tuple[list[dict[str, Any]],
                                                                 dict[str, list[Any]]]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
            fq = sa.select(CASES)
            eq = sa.select(CASE_EVENTS)
            if where is not None:
                fq = fq.where(where(CASES.c.case_id))
                eq = eq.where(where(CASE_EVENTS.c.case_id))
            facts = [dict(r) for r in conn.execute(fq.order_by(CASES.c.opened_at,
                                                                CASES.c.case_id)).mappings()]
            events: dict[str, list[Any]] = {}
            for ev in conn.execute(eq.order_by(CASE_EVENTS.c.case_id,
                                               CASE_EVENTS.c.case_seq)).mappings():
                events.setdefault(ev["case_id"], []).append(ev)
            # oldest first; cases opened together in the order they were written
            facts.sort(key=lambda f: (f["opened_at"], events[f["case_id"]][0]["seq"]
                                      if f["case_id"] in events else 0))
            return facts, events

        out: tuple[list[dict[str, Any]], dict[str, list[Any]]] = self._read("reading cases", run)
        return out

    def _frame(self, where: Callable[[Any], Any] | None) -> tuple[pd.DataFrame,
                                                                  list[_State]]:
        facts, events = self._load(where)
        states = [_fold(f, events.get(f["case_id"], ())) for f in facts]
        data = {
            "case_id": [f["case_id"] for f in facts],
            "alert_id": [f["alert_id"] for f in facts],
            "student_id": pd.Series([f["student_id"] for f in facts], dtype=object),
            "as_of": _decode_as_of(pd.Series([f["as_of"] for f in facts], dtype=object)),
            "opened_at": _parse_times(f["opened_at"] for f in facts),
            "tier": [f["tier"] for f in facts],
            "risk": pd.Series([f["risk"] for f in facts], dtype="float64"),
            "model_version": [f["model_version"] for f in facts],
            "reason_families": [f["reason_families"] for f in facts],
            "reason_codes": [f["reason_codes"] for f in facts],
            "owner": [s.owner for s in states],
            "unit": [s.unit for s in states],
            "role": [f["role"] for f in facts],
            "status": [s.status for s in states],
            "due_first_contact": _parse_times(s.due_first_contact for s in states),
            "first_contact_at": _parse_times(s.first_contact_at for s in states),
            "closed_at": _parse_times(s.closed_at for s in states),
        }
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) if isinstance(v, list) else v
                              for k, v in data.items()})
        return frame[list(CASE_COLUMNS)], states

    def cases(
        self,
        *,
        staff: str | None = None,
        status: str | Sequence[str] | None = None,
        role: str | None = None,
        unit: str | None = None,
        student: str | None = None,
        overdue: bool | None = None,
        now: Any = None,
        case_id: str | None = None,
    ) -> pd.DataFrame:
        """Return the cases and their current state, oldest first (the evaluation's contract).

        Parameters
        ----------
        staff : str, optional
            Only cases this staff member owns or is assigned to (see :meth:`for_staff`).
        status : str or list of str, optional
            Only cases in these statuses (``"active"`` = every status but ``closed``).
        role, unit, student : str, optional
            Only cases of this role, owner's unit or student.
        overdue : bool, optional
            Only cases whose first contact is overdue at ``now`` (``True``) or not (``False``).
        now : datetime or str, optional
            The moment ``overdue`` is judged at (default: now, UTC).
        case_id : str, optional
            Only this case.

        Returns
        -------
        DataFrame
            ``case_id, alert_id, student_id, as_of, opened_at, tier, risk, model_version,
            reason_families, reason_codes, owner, unit, role, status, due_first_contact,
            first_contact_at, closed_at``. Times are naive UTC; ``as_of`` as the alerts had it
            (dates, or float days); ``reason_families`` and ``reason_codes`` are ``;``-joined.
        """
        where: Callable[[Any], Any] | None = None
        if staff is not None:
            staff = _staff(staff, "staff")
            # only the cases this person was ever assigned to (indexed), then the fold decides
            sub = sa.select(CASE_EVENTS.c.case_id).where(
                CASE_EVENTS.c.event == "assigned", CASE_EVENTS.c.assignee == staff)
            where = lambda col: col.in_(sub)  # noqa: E731
        elif case_id is not None:
            where = lambda col: col == case_id  # noqa: E731
        frame, states = self._frame(where)
        keep = np.ones(len(frame), dtype=bool)
        if staff is not None:
            keep &= np.array([s.owner == staff or staff in s.assignees for s in states],
                             dtype=bool)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            if "active" in wanted:
                wanted = [s for s in CASE_STATUSES if s != "closed"] + wanted
            bad = sorted(set(wanted) - set(CASE_STATUSES) - {"active"})
            if bad:
                raise ConfigError("status must name case statuses", key="status",
                                  arrived=repr(bad), hint=f"one of {[*CASE_STATUSES, 'active']}")
            keep &= frame["status"].isin(wanted).to_numpy()
        for col, value in (("role", role), ("unit", unit), ("student_id", student),
                           ("case_id", case_id)):
            if value is not None:
                keep &= (frame[col] == value).to_numpy()
        if overdue is not None:
            at = _moment(now, "now")
            late = (frame["first_contact_at"].isna() & (frame["status"] != "closed")
                    & (frame["due_first_contact"] < at)).to_numpy()
            keep &= late if overdue else ~late
        return frame[keep].reset_index(drop=True)

    def for_staff(self, staff_id: str, **filters: Any) -> pd.DataFrame:
        """Return the cases a staff member owns or is assigned to (other filters as :meth:`cases`).

        Reads only that staff member's cases (an index on assignments), so it stays fast on a
        store of many thousands of cases.
        """
        return self.cases(staff=staff_id, **filters)

    def assignees(self, case_id: str | None = None) -> pd.DataFrame:
        """Return the current owner and assignees: ``case_id, staff_id, role, as``."""
        where = None if case_id is None else (lambda col: col == case_id)
        facts, events = self._load(where)
        rows = []
        for f in facts:
            s = _fold(f, events.get(f["case_id"], ()))
            if s.owner is not None:
                rows.append((f["case_id"], s.owner, s.owner_role, "owner"))
            rows.extend((f["case_id"], who, role, "assignee") for who, role in s.assignees.items())
        return pd.DataFrame(rows, columns=["case_id", "staff_id", "role", "as"], dtype=object)

    def load(self, *, now: Any = None) -> pd.DataFrame:
        """Return each staff member's active caseload: what next week's capacities subtract.

        Parameters
        ----------
        now : datetime or str, optional
            The moment ``overdue`` is judged at (default: now, UTC).

        Returns
        -------
        DataFrame
            One row per (``staff_id``, ``role``) with an active (not closed) case:
            ``staff_id``, ``role``, ``active`` (cases owned or assigned) and ``overdue`` (of
            those, first contact past due), sorted by staff and role.

        Examples
        --------
        >>> import pandas as pd
        >>> store = CaseStore(":memory:")
        >>> alerts = pd.DataFrame({"alert_id": ["a1", "a2"], "student_id": ["ana", "ben"],
        ...                        "as_of": [120.0, 120.0]})
        >>> plan = pd.DataFrame({"student_id": ["ana", "ben"], "advisor_id": ["kim", "kim"]})
        >>> ids = store.open_cases(alerts, assignments=plan, time="2026-11-09").case_ids
        >>> store.close_case(ids[0], staff="kim", time="2026-11-10")
        >>> store.load(now="2026-12-01")
          staff_id     role  active  overdue
        0      kim  advisor       1        1
        """
        frame, states = self._frame(None)
        at = _moment(now, "now")
        late = (frame["first_contact_at"].isna() & (frame["due_first_contact"] < at)).tolist()
        counts: dict[tuple[str, str], list[int]] = {}
        for st, is_late in zip(states, late, strict=True):
            if st.status == "closed":
                continue
            people = dict(st.assignees)
            if st.owner is not None:
                people[st.owner] = str(st.owner_role)
            for who, role in people.items():
                c = counts.setdefault((who, role), [0, 0])
                c[0] += 1
                c[1] += int(is_late)
        rows = [(w, r, a, o) for (w, r), (a, o) in sorted(counts.items())]
        out = pd.DataFrame(rows, columns=["staff_id", "role", "active", "overdue"])
        return out.astype({"staff_id": object, "role": object, "active": "int64",
                           "overdue": "int64"})

    def _events(self, case_id: str | None, event: str | None = None) -> list[Any]:
        def run(conn: Connection) -> list[Any]:
            q = sa.select(CASE_EVENTS)
            if case_id is not None:
                q = q.where(CASE_EVENTS.c.case_id == case_id)
            if event is not None:
                q = q.where(CASE_EVENTS.c.event == event)
            return list(conn.execute(q.order_by(CASE_EVENTS.c.seq)).mappings())

        out: list[Any] = self._read("reading the history", run)
        return out

    def history(self, case_id: str | None = None) -> pd.DataFrame:
        """Return every event, in the order written: ``case_id, seq, time, staff, event, detail``.

        ``seq`` numbers a case's events from 1; ``detail`` is JSON text.
        """
        evs = self._events(case_id)
        return pd.DataFrame({
            "case_id": pd.Series([e["case_id"] for e in evs], dtype=object),
            "seq": pd.Series([e["case_seq"] for e in evs], dtype="int64"),
            "time": _parse_times(e["time"] for e in evs),
            "staff": pd.Series([e["staff"] for e in evs], dtype=object),
            "event": pd.Series([e["event"] for e in evs], dtype=object),
            "detail": pd.Series([e["detail"] for e in evs], dtype=object),
        })[list(HISTORY_COLUMNS)]

    def verdicts(self, case_id: str | None = None) -> pd.DataFrame:
        """Return every verdict: ``case_id, time, staff, verdict, note``, in the order written."""
        evs = self._events(case_id, "verdict")
        return pd.DataFrame({
            "case_id": pd.Series([e["case_id"] for e in evs], dtype=object),
            "time": _parse_times(e["time"] for e in evs),
            "staff": pd.Series([e["staff"] for e in evs], dtype=object),
            "verdict": pd.Series([e["verdict"] for e in evs], dtype=object),
            "note": pd.Series([json.loads(e["detail"]).get("note") for e in evs], dtype=object),
        })[list(VERDICT_COLUMNS)]

    def show(self, case_id: str) -> dict[str, Any]:
        """Return one case as JSON-ready data: its facts, state, people, reasons and history."""
        frame, states = self._frame(lambda col: col == case_id)
        if not len(frame):
            raise ConfigError(UNKNOWN_CASE, key="case_id", arrived=repr(case_id),
                              hint="list the cases with `studentprofile cases list`")
        row = _json_row(frame.iloc[0])
        facts, _ = self._load(lambda col: col == case_id)
        row["reasons"] = json.loads(facts[0]["reasons"])
        row["assignees"] = [{"staff_id": k, "role": v} for k, v in states[0].assignees.items()]
        row["history"] = [_json_row(r) | {"detail": json.loads(r["detail"])}
                          for _, r in self.history(case_id).iterrows()]
        return row

    def counts(self) -> dict[str, Any]:
        """Return counts only (no identifiers): cases by status and verdicts by kind."""
        frame = self.cases()
        verdicts = self.verdicts()
        return {
            "cases": int(len(frame)),
            "by_status": {s: int((frame["status"] == s).sum()) for s in CASE_STATUSES},
            "verdicts": {v: int((verdicts["verdict"] == v).sum()) for v in VERDICTS},
        }


def _insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL (psycopg 3).

    Row-by-row ``executemany`` costs a round trip per row (106,000 rows for 20,000 cases: most
    of the time); ``COPY`` streams them. Other databases use ``executemany``.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(table.insert(), rows)
        return
    import psycopg

    cols = list(rows[0])
    raw = conn.connection.driver_connection
    if raw is None:
        conn.execute(table.insert(), rows)
        return
    try:
        with raw.cursor() as cur, cur.copy(
                f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])
    except psycopg.IntegrityError as exc:  # a concurrent writer won: retried by _write
        raise sa.exc.IntegrityError(f"COPY {table.name}", None, exc) from exc
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError(f"COPY {table.name}", None, exc) from exc


def _verdict(value: Any) -> str:
    if value not in VERDICTS:
        raise ConfigError("unknown verdict", key="verdict", arrived=repr(value),
                          hint=f"one of {list(VERDICTS)!r} (free text goes in the note)")
    return str(value)


def _retryable(exc: BaseException | None) -> bool:
    """Tell a lost race: a unique key taken first, a lock or a serialisation failure."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    if isinstance(exc, sa.exc.OperationalError):
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        text = str(getattr(exc, "orig", exc)).lower()
        return code in ("40001", "40P01") or "database is locked" in text
    return False


def _json_row(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, pd.Timestamp):
            out[str(k)] = v.isoformat()
        elif v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
            out[str(k)] = None
        else:
            out[str(k)] = plain(v)
    return out


def open_cases(store: CaseStore | str | os.PathLike[str], alerts: Any, **kwargs: Any
               ) -> OpenResult:
    """Open one case per new alert in ``store`` (a :class:`CaseStore`, a path or a URL).

    Keyword arguments are those of :meth:`CaseStore.open_cases`.

    Examples
    --------
    >>> import pandas as pd
    >>> store = CaseStore(":memory:")
    >>> alerts = pd.DataFrame({"alert_id": ["a1", "a2"], "student_id": ["ana", "ben"],
    ...                        "as_of": [120.0, 120.0], "score": [0.9, 0.7],
    ...                        "reasons": [["Attendance fell"], []]})
    >>> open_cases(store, alerts, time="2026-11-09").n_new
    2
    >>> store.cases()[["student_id", "as_of", "role", "status", "owner"]]
      student_id  as_of     role status owner
    0        ana  120.0  advisor   open  None
    1        ben  120.0  advisor   open  None
    """
    if isinstance(store, CaseStore):
        return store.open_cases(alerts, **kwargs)
    with CaseStore(store) as s:
        return s.open_cases(alerts, **kwargs)
