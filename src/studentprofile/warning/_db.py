"""The database under the early-warning stores: engines, transactions, append-only DDL, migrations.

The alert log, the case store and the notification ledger may share one database: an embedded
SQLite file (the default) or PostgreSQL for a campus with many staff. This module is the one place
that knows the difference; each store writes its tables through it.

* :func:`engine_for` -- a file path, ``":memory:"``, a SQLAlchemy URL (``sqlite:///...``,
  ``postgresql+psycopg://...``, ``${ENV_VAR}`` expanded) or an Engine -> an Engine. SQLite gets a
  30 s busy timeout, foreign keys on, ``synchronous=FULL``, and transactions the library opens
  itself (``BEGIN`` for reads, ``BEGIN IMMEDIATE`` for writes). The rollback journal is kept by
  default (WAL needs shared memory, which a read-only folder or a network share cannot give);
  ``wal=True`` opts in.
* :func:`write_transaction` -- one transaction per batch, one writer at a time per store:
  SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL ``READ COMMITTED`` plus a transaction-level advisory
  lock named after the store (readers never wait). Unique constraints back both.
* :func:`append_only` -- the DDL that makes the *database* refuse ``UPDATE``/``DELETE`` (and
  ``TRUNCATE`` on PostgreSQL) of a table: ``RAISE(ABORT)`` triggers on SQLite, a trigger
  function raising SQLSTATE 23000 on PostgreSQL.
* :func:`ensure_schema` -- a schema version table (``sp_schema_versions``: component, version,
  description, applied_at, library version; append-only itself) and a forward-only migration
  runner: each store lists its :class:`Migration` steps; pending ones run in one write
  transaction, under the lock, so two processes opening a new database create it once.
* :func:`failure_kind` and :func:`masked_url` -- what a driver error means for the caller, and a
  URL safe to show (password masked).

Why not Alembic: it ships with MLflow, but it is built for one application owning a database
through an ``alembic.ini`` and a scripts folder; our stores are several independent components in
a database a campus may share, each with a handful of additive steps and triggers written by hand
per dialect. A 100-line runner with one table is easier to audit than Alembic's environment and
revision graph, needs no files outside the package, and runs inside the same transaction and lock
as the store's first write.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa

from studentprofile.errors import ConfigError, DataIntegrityError, DependencyError

__all__ = [
    "VERSION_TABLE",
    "Migration",
    "append_only",
    "driver_message",
    "engine_for",
    "ensure_schema",
    "failure_kind",
    "masked_url",
    "schema_version",
    "table_names",
    "write_transaction",
]

#: The schema version table shared by every store in a database.
VERSION_TABLE = "sp_schema_versions"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEYS = ("pass", "secret", "token", "key")
_BUSY_SECONDS = 30.0


def _is_sqlite(engine: sa.engine.Engine) -> bool:
    return engine.dialect.name == "sqlite"


# ---------------------------------------------------------------------------------- engines
def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # the library opens transactions itself (see _on_sqlite_begin): the driver's own implicit
    # BEGIN would make BEGIN IMMEDIATE impossible
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(_BUSY_SECONDS * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = FULL")
    finally:
        cur.close()


def _on_sqlite_begin(conn: sa.engine.Connection) -> None:
    mode = conn.get_execution_options().get("sp_sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _on_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA journal_mode = WAL")
    finally:
        cur.close()


def _configure_sqlite(engine: sa.engine.Engine, *, wal: bool) -> sa.engine.Engine:
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    if wal:
        sa.event.listen(engine, "connect", _on_sqlite_wal)
    return engine


def _sqlite_engine(path: str, *, read_only: bool, wal: bool) -> sa.engine.Engine:
    args = {"timeout": _BUSY_SECONDS, "check_same_thread": False}
    if path == ":memory:":
        engine = sa.create_engine(sa.engine.URL.create("sqlite"), connect_args=args,
                                  poolclass=sa.pool.StaticPool, hide_parameters=True)
    elif read_only:
        # mode=ro: SQLite itself refuses every write, whoever runs the process
        uri = Path(path).resolve().as_uri()
        engine = sa.create_engine(
            sa.engine.URL.create("sqlite", database=uri, query={"mode": "ro", "uri": "true"}),
            connect_args=args, hide_parameters=True,
        )
    else:
        engine = sa.create_engine(sa.engine.URL.create("sqlite", database=path),
                                  connect_args=args, hide_parameters=True)
    return _configure_sqlite(engine, wal=wal and not read_only and path != ":memory:")


def engine_for(
    target: str | os.PathLike[str] | sa.engine.Engine,
    *,
    read_only: bool = False,
    wal: bool = False,
) -> sa.engine.Engine:
    """Return an Engine for a store's target.

    Parameters
    ----------
    target : str, path-like or Engine
        A SQLite file path (created when written), ``":memory:"``, a SQLAlchemy URL
        (``sqlite:///alerts.sqlite``, ``postgresql+psycopg://user:pw@host/db``; ``${VAR}`` is
        replaced by the environment variable, see :func:`studentprofile.io.expand_url`), or an
        Engine (a SQLite Engine must come from this function; a PostgreSQL one may be any).
    read_only : bool, default False
        Open a SQLite file with ``mode=ro``; ask PostgreSQL for read-only transactions.
    wal : bool, default False
        Put a SQLite file in write-ahead-log mode (readers and one writer at once). It stays
        in WAL mode; a WAL file cannot be read from a read-only folder.

    Returns
    -------
    sqlalchemy.engine.Engine

    Raises
    ------
    ConfigError
        Not a database URL, an unknown dialect, a foreign SQLite Engine.
    DependencyError
        The database's driver is not installed.

    Examples
    --------
    >>> engine = engine_for(":memory:")
    >>> engine.dialect.name, masked_url(engine)
    ('sqlite', 'sqlite://')
    >>> masked_url(engine_for("postgresql+psycopg://kim:s3cret@db.campus.edu/ew"))
    'postgresql+psycopg://kim:***@db.campus.edu/ew'
    """
    if isinstance(target, sa.engine.Engine):
        if _is_sqlite(target) and not sa.event.contains(target, "begin", _on_sqlite_begin):
            raise ConfigError(
                "a SQLite Engine for a store must be made by engine_for",
                key="target", arrived=repr(masked_url(target)),
                hint="pass the file path or URL, or engine_for(path) to share one Engine",
            )
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or not target.strip():
        raise ConfigError("a store needs a file path, a database URL or an Engine",
                          key="target", arrived=repr(target),
                          hint='e.g. "alerts.sqlite" or "postgresql+psycopg://host/db"')
    from studentprofile.io._sql import expand_url, safe_url

    if not _URL.match(target) and "${" not in target:
        return _sqlite_engine(target, read_only=read_only, wal=wal)
    real = expand_url(target, source="store")
    try:
        url = sa.engine.make_url(real)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError("not a database URL", key="target", arrived=repr(safe_url(real)),
                          hint="e.g. sqlite:///alerts.sqlite or "
                               "postgresql+psycopg://user@host:5432/db") from None
    if url.get_backend_name() == "sqlite":
        db = url.database or ":memory:"
        if url.query.get("uri") or db.startswith("file:"):
            raise ConfigError("a SQLite store is named by its path", key="target",
                              arrived=repr(real), hint="e.g. sqlite:///alerts.sqlite")
        return _sqlite_engine(db, read_only=read_only, wal=wal)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("the early-warning stores run on SQLite or PostgreSQL", key="target",
                          arrived=repr(safe_url(real)),
                          hint="use a file path, sqlite:///path or postgresql+psycopg://...")
    # hide_parameters: a driver error never carries the rows (student ids) into a traceback
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": 10}
    if read_only:
        kwargs["execution_options"] = {"postgresql_readonly": True}
    try:
        return sa.create_engine(url, **kwargs)
    except sa.exc.NoSuchModuleError:
        raise ConfigError("no SQLAlchemy dialect for this database URL", key="target",
                          arrived=repr(safe_url(real)),
                          hint="use postgresql+psycopg://... (psycopg 3)") from None
    except ImportError as exc:
        raise DependencyError(
            "the driver for PostgreSQL databases is not installed",
            arrived=f"{type(exc).__name__} for {safe_url(real)!r}",
            hint='pip install "studentprofile[postgres]" (psycopg)',
        ) from None


def masked_url(target: sa.engine.Engine | sa.engine.URL) -> str:
    """Return the URL with the password (and secret-looking query values) masked.

    Examples
    --------
    >>> import sqlalchemy as sa
    >>> masked_url(sa.engine.make_url("postgresql+psycopg://kim:pw@h/db?sslpassword=x&a=1"))
    'postgresql+psycopg://kim:***@h/db?a=1&sslpassword=***'
    """
    url = target.url if isinstance(target, sa.engine.Engine) else target
    query = {k: ("***" if any(s in k.lower() for s in _SECRET_KEYS) else v)
             for k, v in url.query.items()}
    if url.get_backend_name() == "sqlite" and url.query.get("uri"):
        # a read-only file: show its path, as it was given
        db = url.database or ""
        path = unquote(db[len("file://"):]) if db.startswith("file://") else db
        return "sqlite:///" + path
    shown = url.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", "***")


# ---------------------------------------------------------------------------------- transactions
def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"studentprofile:{name}".encode()).digest()[:8],
                          "big", signed=True)


@contextlib.contextmanager
def write_transaction(engine: sa.engine.Engine, *, lock: str) -> Iterator[sa.engine.Connection]:
    """Open one write transaction, one writer at a time per ``lock``; commit whole or roll back.

    SQLite: ``BEGIN IMMEDIATE`` (the database's write lock, waited for up to 30 s).
    PostgreSQL: ``READ COMMITTED`` and ``pg_advisory_xact_lock`` on a key derived from
    ``lock`` (waited for up to 30 s: ``lock_timeout``); every statement after the lock sees
    every earlier writer's commit.

    Examples
    --------
    >>> engine = engine_for(":memory:")
    >>> with write_transaction(engine, lock="doc") as conn:
    ...     _ = conn.exec_driver_sql("CREATE TABLE t (x)")
    ...     _ = conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    >>> with engine.connect() as conn:
    ...     conn.exec_driver_sql("SELECT x FROM t").scalar()
    1
    """
    if _is_sqlite(engine):
        with engine.connect() as conn:
            conn = conn.execution_options(sp_sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn
        return
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                # wait for another writer as long as SQLite would, then fail typed (55P03)
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(_BUSY_SECONDS * 1000)}")
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(lock)})
            yield conn


def failure_kind(exc: BaseException) -> str:
    """Say what a database error means for the caller.

    Returns one of ``"read_only"`` (the database refuses writes), ``"unreachable"`` (no
    connection to the server, or it went away), ``"unavailable"`` (disk full, locked for too
    long, a serialization failure: run again), ``"refused"`` (a constraint or trigger refused the
    statement: e.g. an append-only table), ``"damaged"`` (a damaged file, not a database, a
    missing table or someone else's table in the way) or ``"failed"`` (anything else).

    Examples
    --------
    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:")
    >>> try:
    ...     conn.execute("SELECT * FROM nothing")
    ... except sqlite3.Error as exc:
    ...     failure_kind(exc)
    'damaged'
    """
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error):
        name = str(getattr(orig, "sqlite_errorname", "") or "")
        if name.startswith("SQLITE_READONLY"):
            return "read_only"
        if name.startswith("SQLITE_CONSTRAINT"):
            return "refused"
        if name.startswith(("SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_BUSY",
                            "SQLITE_LOCKED", "SQLITE_IOERR")) and name != "SQLITE_IOERR_SHORT_READ":
            return "unavailable"
        # SQLITE_CORRUPT, SQLITE_NOTADB, a short read, a missing table, ...
        return "damaged"
    state = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    if state in ("25006", "42501"):
        return "read_only"
    if state.startswith("23"):
        return "refused"
    if state.startswith(("08", "57P")) or (
            not state and isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)):
        return "unreachable"
    if state.startswith(("53", "40")) or state in ("55P03", "57014"):
        return "unavailable"
    if state in ("42P01", "42703", "42P07", "42710"):  # missing, or someone else's, table
        return "damaged"
    return "failed"


def driver_message(exc: BaseException, engine: sa.engine.Engine) -> str:
    """Return the driver's message, first line, without the URL, user or password."""
    from studentprofile.io._sql import _scrub

    orig = getattr(exc, "orig", None) or exc
    text = str(orig)
    if engine.url.password:
        text = text.replace(str(engine.url.password), "***")
    return _scrub(text, engine.url.render_as_string(hide_password=False))


# ---------------------------------------------------------------------------------- DDL
def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ConfigError("a table name must be a plain SQL identifier", key="table",
                          arrived=repr(name))
    return name


def append_only(table: str, *, dialect: str, what: str) -> list[str]:
    """DDL that makes the database refuse ``UPDATE`` and ``DELETE`` of ``table``'s rows.

    Parameters
    ----------
    table : str
        The table (a plain identifier).
    dialect : {"sqlite", "postgresql"}
        ``engine.dialect.name``.
    what : str
        The store's name in the error, e.g. ``"the alert log"``: the database raises
        ``"<what> is append-only: UPDATE on <table> refused"``.

    Returns
    -------
    list of str
        Statements to execute in order (idempotent on SQLite; run once, by a migration, on
        PostgreSQL, where ``TRUNCATE`` is refused too).

    Examples
    --------
    >>> append_only("alerts", dialect="sqlite", what="the alert log")[0]
    "CREATE TRIGGER IF NOT EXISTS alerts_no_update BEFORE UPDATE ON alerts BEGIN SELECT \
RAISE(ABORT, 'the alert log is append-only: UPDATE on alerts refused'); END"
    """
    table = _ident(table)
    said = what.replace("'", "''")
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{said} is append-only: {op} on {table} refused'); END"
            for op in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            # one function for every store; the store's name arrives as the trigger argument
            "CREATE OR REPLACE FUNCTION sp_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$ "
            "BEGIN RAISE EXCEPTION USING MESSAGE = TG_ARGV[0] || ' is append-only: ' || TG_OP "
            "|| ' on ' || TG_TABLE_NAME || ' refused', ERRCODE = '23000'; END $f$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION sp_append_only('{said}')",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION sp_append_only('{said}')",
        ]
    raise ConfigError("the early-warning stores run on SQLite or PostgreSQL", key="target",
                      arrived=repr(dialect), hint="use a sqlite:// or postgresql:// URL")


def table_names(conn: sa.engine.Connection) -> set[str]:
    """Return the tables of the database (SQLite) or of the current schema (PostgreSQL).

    Examples
    --------
    >>> engine = engine_for(":memory:")
    >>> with engine.connect() as conn:
    ...     table_names(conn)
    set()
    """
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}
    return set(sa.inspect(conn).get_table_names())


# ---------------------------------------------------------------------------------- migrations
@dataclass(frozen=True)
class Migration:
    """One forward step of a store's schema.

    Attributes
    ----------
    version : int
        1, 2, 3, ... in order.
    description : str
        What it does, for the version table.
    apply : callable
        ``apply(connection)``: executes the DDL (``connection.dialect.name`` says which).
    """

    version: int
    description: str
    apply: Callable[[sa.engine.Connection], None]


def _create_version_table(conn: sa.engine.Connection) -> None:
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
        "component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, "
        "applied_at TEXT NOT NULL, library_version TEXT NOT NULL, "
        "PRIMARY KEY (component, version))"
    )
    if conn.dialect.name == "postgresql":
        have = conn.execute(sa.text("SELECT count(*) FROM pg_trigger WHERE tgname = :n AND "
                                    "tgrelid = CAST(:t AS regclass)"),
                            {"n": f"{VERSION_TABLE}_no_change", "t": VERSION_TABLE}).scalar()
        if have:
            return
    for stmt in append_only(VERSION_TABLE, dialect=conn.dialect.name,
                            what="the schema version table"):
        conn.exec_driver_sql(stmt)


def schema_version(conn: sa.engine.Connection, component: str) -> int:
    """Return the component's version in the database (0: none, or no version table).

    Examples
    --------
    >>> engine = engine_for(":memory:")
    >>> _ = ensure_schema(engine, "doc", [Migration(1, "nothing", lambda conn: None)])
    >>> with engine.connect() as conn:
    ...     schema_version(conn, "doc"), schema_version(conn, "other")
    (1, 0)
    """
    if VERSION_TABLE not in table_names(conn):
        return 0
    got = conn.execute(sa.text(f"SELECT max(version) FROM {VERSION_TABLE} "
                               "WHERE component = :c"), {"c": component}).scalar()
    return int(got or 0)


def ensure_schema(engine: sa.engine.Engine, component: str,
                  migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s tables to the newest version; return the version.

    Pending migrations run in one write transaction (see :func:`write_transaction`), each
    recorded in the version table; nothing is written when the database is up to date.

    Raises
    ------
    DataIntegrityError
        The database holds a newer version than this library knows.

    Examples
    --------
    >>> engine = engine_for(":memory:")
    >>> steps = [Migration(1, "a table", lambda c: c.exec_driver_sql("CREATE TABLE t (x)"))]
    >>> ensure_schema(engine, "doc", steps), ensure_schema(engine, "doc", steps)
    (1, 1)
    """
    if [m.version for m in migrations] != list(range(1, len(migrations) + 1)):
        raise ConfigError("migrations are numbered 1, 2, 3, ... in order", key="migrations",
                          arrived=repr([m.version for m in migrations]))
    newest = len(migrations)
    with engine.connect() as conn:
        have = schema_version(conn, component)
    if have == newest:
        return have
    if have < newest:
        from studentprofile._version import __version__

        # one lock for every component's schema changes: they share the version table
        with write_transaction(engine, lock="schema") as conn:
            _create_version_table(conn)
            have = schema_version(conn, component)  # another process may have run them
            for step in migrations[have:]:
                step.apply(conn)
                conn.execute(
                    sa.text(f"INSERT INTO {VERSION_TABLE} (component, version, description, "
                            "applied_at, library_version) VALUES (:c, :v, :d, :t, :l)"),
                    {"c": component, "v": step.version, "d": step.description,
                     "t": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                     "l": __version__},
                )
            have = max(have, newest)
    if have > newest:
        raise DataIntegrityError(
            f"the database holds {component} schema version {have}, newer than this "
            f"studentprofile knows ({newest})",
            arrived=f"schema version {have} in {masked_url(engine)!r}",
            hint="upgrade studentprofile; nothing was changed",
        )
    return have
