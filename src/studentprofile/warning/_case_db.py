"""A minimal database helper for the case store (SQLAlchemy Core).

A path becomes a SQLite file (created on first write), ``":memory:"`` a private in-memory database,
anything with ``://`` a SQLAlchemy URL (``postgresql+psycopg://...``). On SQLite every write
transaction starts with ``BEGIN IMMEDIATE`` (a read-then-append is one serial step; readers use a
plain ``BEGIN``) and waits up to 30 s for a lock. :func:`append_only_ddl` makes triggers that
refuse ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL).

The alert log's port to SQLAlchemy brings ``warning/_db.py`` (one engine helper and schema-version
table for both stores); this module is meant to fold into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

from studentprofile.errors import ConfigError, DependencyError

__all__ = ["append_only_ddl", "is_url", "make_engine", "shown"]


def is_url(target: str) -> bool:
    """Tell a SQLAlchemy URL from a file path."""
    return "://" in target


def shown(target: str) -> str:
    """Return the target as a message may show it: a URL without its password."""
    if not is_url(target):
        return target
    try:
        return sa.make_url(target).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: show only its scheme
        return target.split("://", 1)[0] + "://..."


def make_engine(target: str) -> Engine:
    """Make an engine for a path (SQLite, created on first write) or a SQLAlchemy URL."""
    if target == ":memory:":
        url = "sqlite://"
        kw: dict[str, Any] = {"poolclass": sa.pool.StaticPool,
                              "connect_args": {"check_same_thread": False}}
    elif is_url(target):
        url = target
        kw = {"pool_pre_ping": True}
        if url.startswith("postgresql+psycopg:") or url.startswith("postgresql+psycopg_async"):
            # no server-side prepared statements: a generic plan of `IN ($1, ..., $500)` compares
            # every row with every parameter (0.6 s per 500 ids on 20,000 cases instead of 3 ms)
            kw["connect_args"] = {"prepare_threshold": None}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30.0}
    else:
        url = "sqlite:///" + str(Path(target).expanduser().resolve())
        kw = {"connect_args": {"check_same_thread": False, "timeout": 30.0}}
    try:
        engine = sa.create_engine(url, **kw)
    except ImportError as exc:
        raise DependencyError(f"the database driver for {shown(target)!r} is not installed",
                              arrived=str(exc),
                              hint="pip install 'studentprofile[postgres]' for PostgreSQL",
                              ) from None
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError("the case store must be a path or a SQLAlchemy URL", key="store",
                          arrived=f"{shown(target)!r}: {exc}",
                          hint="e.g. cases.sqlite or postgresql+psycopg://user@host/db "
                               "(pip install 'studentprofile[postgres]')") from None
    if engine.dialect.name == "sqlite":
        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.close()

        @sa_event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # writers take the write lock up front: a read-then-append is one serial step
            read = conn.get_execution_options().get("sp_read", False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")
    return engine


def append_only_ddl(dialect: str, tables: Sequence[str], *, what: str, function: str
                    ) -> list[str]:
    """Return the statements that make ``tables`` append-only on SQLite or PostgreSQL.

    Idempotent (``IF NOT EXISTS`` / ``OR REPLACE``). Other databases get no triggers: the
    guarantee is then only in Python, which the store's documentation says.
    """
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN "
            f"SELECT RAISE(ABORT, '{what} is append-only: {op} on {t} refused'); END"
            for t in tables for op in ("UPDATE", "DELETE")
        ]
    if dialect != "postgresql":
        return []
    out = [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = "
        f"'{what} is append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused'; "
        "END $$",
    ]
    for t in tables:
        out.append(f"CREATE OR REPLACE TRIGGER {t}_no_change BEFORE UPDATE OR DELETE ON {t} "
                   f"FOR EACH ROW EXECUTE FUNCTION {function}()")
        out.append(f"CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    return out
