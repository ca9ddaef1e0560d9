"""The notification ledger: an append-only record of every digest claimed, sent or failed.

Two tables in a database reached through SQLAlchemy Core (a path: an embedded SQLite file; a URL:
e.g. PostgreSQL for a campus with many senders):

* ``notification_attempts`` -- one row per attempt, inserted *before* sending (the claim). Its
  primary key (digest key, channel, attempt number) lets exactly one sender claim an attempt;
* ``notification_results`` -- one row per finished attempt: ``sent`` or ``failed`` with the
  error's class and text (no student data: notifiers' messages carry none). A unique index
  allows one ``sent`` per digest key and channel.

Rows are never updated or deleted: database triggers refuse ``UPDATE`` and ``DELETE`` (and
``TRUNCATE`` on PostgreSQL), so the ledger is its own audit trail.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from studentprofile.errors import ConfigError, OutputError

if TYPE_CHECKING:  # annotations only
    from studentprofile.warning._notify import Digest

__all__ = ["LEDGER_SCHEMA_VERSION", "NotificationLedger"]

#: The ledger's schema version (kept in ``notification_meta``).
LEDGER_SCHEMA_VERSION = 1

APPEND_ONLY = "the notification ledger is append-only"
NOT_OPENED = "the notification ledger could not be opened or written"

_TABLES = ("notification_meta", "notification_attempts", "notification_results")
_ERROR_MAX = 1000


@dataclass(frozen=True)
class _State:
    sent: bool
    in_doubt: bool
    attempts: int


class _Settled(Exception):
    """The record of an attempt settled by a person (its class name goes in the ledger)."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def _metadata() -> tuple[sa.MetaData, sa.Table, sa.Table, sa.Table]:
    md = sa.MetaData()
    meta = sa.Table("notification_meta", md,
                    sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    attempts = sa.Table(
        "notification_attempts", md,
        sa.Column("digest_key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(512), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("advisor", sa.Text, nullable=False),
        sa.Column("as_of", sa.Text, nullable=False),
        sa.Column("n_new", sa.Integer, nullable=False),
        sa.Column("n_overdue", sa.Integer, nullable=False),
        sa.Column("claimed_at", sa.Text, nullable=False),
    )
    results = sa.Table(
        "notification_results", md,
        sa.Column("digest_key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(512), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_class", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("elapsed_s", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Text, nullable=False),
        sa.CheckConstraint("outcome in ('sent', 'failed')", name="notification_outcome"),
    )
    sa.Index("notification_sent_once", results.c.digest_key, results.c.channel, unique=True,
             sqlite_where=results.c.outcome == "sent",
             postgresql_where=results.c.outcome == "sent")
    return md, meta, attempts, results


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {op} on {t} refused'); END"
        for t in _TABLES for op in ("UPDATE", "DELETE")
    ]


def _postgres_triggers() -> list[str]:
    fn = (
        "CREATE OR REPLACE FUNCTION notification_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
        f"'{APPEND_ONLY}: % on % refused', TG_OP, TG_TABLE_NAME; END $$"
    )
    out = [fn]
    for t in _TABLES:
        out.append(f"CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                   "FOR EACH ROW EXECUTE FUNCTION notification_append_only()")
        out.append(f"CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION notification_append_only()")
    return out


class NotificationLedger:
    """The append-only record of digests claimed, sent and failed (SQLite or PostgreSQL).

    Parameters
    ----------
    target : str, os.PathLike or sqlalchemy.engine.Engine
        A file path (an SQLite database, created when missing), a SQLAlchemy URL containing
        ``://`` (e.g. ``postgresql+psycopg://user@host/db``; the password is never shown in
        messages), or an engine.

    Raises
    ------
    OutputError
        The database cannot be opened or its tables created.
    ConfigError
        The database holds a ledger of a newer schema version.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ledger = NotificationLedger(pathlib.Path(tempfile.mkdtemp()) / "ledger.db")
    >>> ledger.sent().columns.tolist()[:4]
    ['digest_key', 'channel', 'attempt', 'advisor']
    >>> len(ledger.failures()), len(ledger.in_doubt())
    (0, 0)
    """

    def __init__(self, target: str | os.PathLike[str] | sa.Engine):
        self._owns_engine = not isinstance(target, sa.Engine)
        if isinstance(target, sa.Engine):
            self.engine = target
        elif isinstance(target, str) and "://" in target:
            try:
                self.engine = sa.create_engine(target)
            except (sa.exc.ArgumentError, ImportError) as exc:
                raise ConfigError("the ledger URL is not a SQLAlchemy URL with an installed "
                                  "driver", key="target", arrived=type(exc).__name__,
                                  hint="e.g. 'postgresql+psycopg://user@host/db' with "
                                  "pip install 'studentprofile[postgres]'") from None
        elif isinstance(target, str | os.PathLike):
            path = Path(target).expanduser().absolute()
            if path.is_dir():
                raise ConfigError("the ledger target is a folder", key="target",
                                  arrived=repr(str(path)),
                                  hint="give a file name, e.g. notifications.db")
            self.engine = sa.create_engine(f"sqlite:///{path}",
                                           connect_args={"timeout": 30})
        else:
            raise ConfigError("the ledger target must be a path, a URL or an engine",
                              key="target", arrived=f"an object of type {type(target).__name__}",
                              hint="e.g. NotificationLedger('notifications.db')")
        self._md, self._meta, self._attempts, self._results = _metadata()
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the database connections this ledger opened (an engine passed in is left open).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with NotificationLedger(pathlib.Path(tempfile.mkdtemp()) / "l.db") as ledger:
        ...     n = len(ledger.sent())
        >>> n
        0
        """
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> NotificationLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        """The database, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"NotificationLedger({self.where!r})"

    def _fail(self, exc: BaseException) -> OutputError:
        return OutputError(f"{NOT_OPENED}: {self.where}",
                           arrived=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                           hint="check that the database is reachable and writable")

    def _create(self) -> None:
        dialect = self.engine.dialect.name
        try:
            with self.engine.begin() as con:
                if dialect == "postgresql":  # one creator at a time
                    con.execute(sa.text("SELECT pg_advisory_xact_lock(727316)"))
                self._md.create_all(con, checkfirst=True)
                ddl = _postgres_triggers() if dialect == "postgresql" else _sqlite_triggers()
                for stmt in ddl:
                    con.execute(sa.text(stmt))
                found = con.execute(sa.select(self._meta.c.value).where(
                    self._meta.c.key == "schema_version")).scalar()
                if found is None:
                    con.execute(self._meta.insert().values(key="schema_version",
                                                           value=str(LEDGER_SCHEMA_VERSION)))
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        if found is not None and int(found) > LEDGER_SCHEMA_VERSION:
            raise ConfigError("the ledger was written by a newer studentprofile",
                              key="target", arrived=f"schema version {found}",
                              hint="upgrade studentprofile")

    # ------------------------------------------------------------- used by send_digests
    def _state(self, key: str, channel: str) -> _State:
        a, r = self._attempts, self._results
        q = (sa.select(a.c.attempt, r.c.outcome)
             .select_from(a.outerjoin(r, sa.and_(a.c.digest_key == r.c.digest_key,
                                                  a.c.channel == r.c.channel,
                                                  a.c.attempt == r.c.attempt)))
             .where(a.c.digest_key == key, a.c.channel == channel))
        try:
            with self.engine.connect() as con:
                rows = con.execute(q).all()
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        return _State(sent=any(o == "sent" for _, o in rows),
                      in_doubt=any(o is None for _, o in rows),
                      attempts=max((n for n, _ in rows), default=0))

    def _claim(self, digest: Digest, channel: str, attempt: int) -> bool:
        row = {"digest_key": digest.key, "channel": channel, "attempt": int(attempt),
               "advisor": digest.advisor, "as_of": digest.as_of, "n_new": digest.n_new,
               "n_overdue": digest.n_overdue, "claimed_at": _now()}
        try:
            with self.engine.begin() as con:
                con.execute(self._attempts.insert().values(**row))
        except sa.exc.IntegrityError:
            return False
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        return True

    def _record(self, key: str, channel: str, attempt: int, outcome: str, elapsed: float,
                exc: BaseException | None) -> None:
        row = {"digest_key": key, "channel": channel, "attempt": int(attempt),
               "outcome": outcome, "elapsed_s": float(elapsed), "finished_at": _now(),
               "error_class": None if exc is None else type(exc).__name__,
               "error": None if exc is None else str(exc)[:_ERROR_MAX]}
        try:
            with self.engine.begin() as con:
                con.execute(self._results.insert().values(**row))
        except sa.exc.SQLAlchemyError as exc2:
            raise self._fail(exc2) from None

    def settle(self, digest_key: str, *, channel: str, outcome: str, note: str = "") -> int:
        """Record by hand how attempts that never finished ended (see :meth:`in_doubt`).

        After checking with the recipient: ``"sent"`` when the digest did arrive (it is then
        never sent again), ``"failed"`` when it did not (the next :func:`send_digests` sends
        it). Nothing is changed or removed: a result row is added for each open attempt.

        Parameters
        ----------
        digest_key : str
            The digest's key.
        channel : str
            The notifier's channel.
        outcome : {"sent", "failed"}
            How they ended.
        note : str, optional
            Who settled it and why (kept as the result's error text).

        Returns
        -------
        int
            How many attempts were settled (0 when none was open).

        Raises
        ------
        ConfigError
            ``outcome`` is neither ``"sent"`` nor ``"failed"``.
        """
        if outcome not in ("sent", "failed"):
            raise ConfigError("outcome must be 'sent' or 'failed'", key="outcome",
                              arrived=repr(outcome), hint="'sent' if the digest arrived")
        open_ = self.in_doubt()
        open_ = open_[(open_["digest_key"] == digest_key) & (open_["channel"] == channel)]
        for attempt in open_["attempt"].tolist():
            self._record(digest_key, channel, int(attempt), outcome, 0.0,
                         _Settled(f"settled by hand: {note}"[:_ERROR_MAX]))
        return len(open_)

    # ------------------------------------------------------------------- the frames
    def attempts(self) -> pd.DataFrame:
        """Return every attempt with its outcome (empty when it never finished).

        Returns
        -------
        DataFrame
            ``digest_key``, ``channel``, ``attempt``, ``advisor``, ``as_of``, ``n_new``,
            ``n_overdue``, ``claimed_at``, ``outcome``, ``error_class``, ``error``,
            ``elapsed_s``, ``finished_at`` (times as UTC datetimes), ordered by claim time.
        """
        a, r = self._attempts, self._results
        q = (sa.select(a, r.c.outcome, r.c.error_class, r.c.error, r.c.elapsed_s,
                       r.c.finished_at)
             .select_from(a.outerjoin(r, sa.and_(a.c.digest_key == r.c.digest_key,
                                                  a.c.channel == r.c.channel,
                                                  a.c.attempt == r.c.attempt)))
             .order_by(a.c.claimed_at, a.c.digest_key, a.c.attempt))
        try:
            with self.engine.connect() as con:
                res = con.execute(q)
                frame = pd.DataFrame(res.all(), columns=list(res.keys()))
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc) from None
        for col in ("claimed_at", "finished_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        return frame.astype({"attempt": "int64", "n_new": "int64", "n_overdue": "int64"})

    def sent(self) -> pd.DataFrame:
        """Return the attempts that delivered a digest (one per digest key and channel).

        Returns
        -------
        DataFrame
            As :meth:`attempts`.
        """
        frame = self.attempts()
        return frame[frame["outcome"] == "sent"].reset_index(drop=True)

    def failures(self) -> pd.DataFrame:
        """Return the failed attempts, with the error's class and text.

        Returns
        -------
        DataFrame
            As :meth:`attempts`.
        """
        frame = self.attempts()
        return frame[frame["outcome"] == "failed"].reset_index(drop=True)

    def in_doubt(self) -> pd.DataFrame:
        """Return the attempts claimed but never finished (a sender stopped mid-send).

        Such a digest may or may not have arrived; :func:`send_digests` does not send it again
        (at most once). Check with the recipient, then send it under a new channel name or let
        it be.

        Returns
        -------
        DataFrame
            As :meth:`attempts`.
        """
        frame = self.attempts()
        return frame[frame["outcome"].isna()].reset_index(drop=True)
