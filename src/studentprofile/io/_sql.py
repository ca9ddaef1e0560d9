"""SQL sources through SQLAlchemy: a query -> a DataFrame, in chunks, with typed errors.

The connection URL may name environment variables (``"${CAMPUS_DB_URL}"``) so that no secret is
written in a config file; it is never written to a log, a run folder, MLflow or an error message
(errors show the database kind, host and database name only, and scrub the user name and
password from the driver's own text).

Rows are fetched in chunks through a server-side cursor where the driver has one (PostgreSQL),
so memory holds the result being built plus one chunk, never the driver's copy of the whole
result as well. Types come from the database: integers, floats and text as they are; ``NUMERIC``
as float; timestamps with time zone are converted to naive UTC by the one time module; id
columns become text, exactly as the database spells them (never through a float). A failure at
any point returns nothing: no half-loaded table.
"""

from __future__ import annotations

import decimal
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, DependencyError, SourceError
from studentprofile.tables._time import naive_utc, out_of_range

__all__ = ["expand_url", "read_sql", "safe_url"]

logger = logging.getLogger(__name__)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Drivers we name in the install hint for a missing DBAPI module.
_DRIVER_HINT = {
    "postgresql": 'pip install "studentprofile[postgres]" (psycopg)',
    "mysql": "pip install pymysql (and use mysql+pymysql://)",
    "mssql": "pip install pyodbc (and use mssql+pyodbc://)",
    "oracle": "pip install oracledb (and use oracle+oracledb://)",
}


def expand_url(url: str, *, source: str = "sql") -> str:
    """Replace ``${NAME}`` by the environment variable ``NAME``.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL, or a text naming environment variables.
    source : str, default "sql"
        The source's name, for error messages.

    Returns
    -------
    str
        The URL with every variable replaced.

    Raises
    ------
    SourceError
        A named variable is not set (the message names the variable, never a value).

    Examples
    --------
    >>> import os
    >>> os.environ["SP_DOC_DB"] = "sqlite://"
    >>> expand_url("${SP_DOC_DB}")
    'sqlite://'
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("a SQL source needs a database URL", key=f"{source}.url",
                          arrived=type(url).__name__,
                          hint='e.g. url = "${CAMPUS_DB_URL}" with the URL in that variable')

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise SourceError(
                f"the environment variable {name} named in the database URL is not set",
                source=source,
                hint=f"export {name}=postgresql+psycopg://user:password@host/db before running",
            )
        return os.environ[name]

    return _VAR.sub(sub, url)


def safe_url(url: str) -> str:
    """Return the URL without user, password or query: safe to log and show.

    Examples
    --------
    >>> safe_url("postgresql+psycopg://advisor:s3cret@db.campus.edu:5432/sis?sslmode=require")
    'postgresql+psycopg://db.campus.edu:5432/sis'
    """
    try:
        import sqlalchemy as sa

        u = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown as nothing at all
        return "<a database URL that could not be parsed>"
    host = u.host or ""
    port = f":{u.port}" if u.port else ""
    db = f"/{u.database}" if u.database else ""
    return f"{u.drivername}://{host}{port}{db}"


def _scrub(text: str, url: str) -> str:
    """Remove the URL, its user name and its password from a driver's message."""
    try:
        import sqlalchemy as sa

        u = sa.engine.make_url(url)
        secrets = [url, u.password or "", u.username or ""]
    except Exception:  # noqa: BLE001
        secrets = [url]
    for secret in sorted((s for s in secrets if s and len(str(s)) >= 2), key=len, reverse=True):
        text = text.replace(str(secret), "***")
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _column_values(values: Sequence[Any], is_id: bool) -> Any:
    if is_id:
        # ids as text exactly as the database gives them; never through a float
        return pd.Series([None if v is None else str(v) for v in values], dtype="str")
    return list(values)


def _finish_column(s: pd.Series, name: str, source: str) -> pd.Series:
    if s.dtype != object:
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
            return _dates(s, name, source)
        return s
    present = s.dropna()
    if present.empty:
        return s
    first = present.iloc[0]
    if isinstance(first, decimal.Decimal | int | float) and not isinstance(first, bool):
        if present.map(lambda v: isinstance(v, decimal.Decimal | int | float)
                       and not isinstance(v, bool)).all():
            return pd.Series(
                [np.nan if v is None or v is pd.NA else float(v) for v in s],
                index=s.index, dtype="float64", name=s.name,
            )
    if hasattr(first, "tzinfo") and hasattr(first, "year"):
        parsed = pd.to_datetime(s, utc=any(getattr(v, "tzinfo", None) is not None
                                           for v in present))
        return _dates(parsed, name, source)
    return s


def _dates(s: pd.Series, name: str, source: str) -> pd.Series:
    far = out_of_range(s)
    if far.any():
        raise SourceError(
            f"column {name!r} holds dates outside the range the tables support",
            source=source, arrived=f"{int(far.sum()):,} rows, e.g. {s[far].iloc[0]!r}",
            hint="filter or fix those rows in the query",
        )
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return naive_utc(s)
    return s.astype("datetime64[ns]")


def _missing_driver(exc: ImportError, where: str, url: str) -> DependencyError:
    scheme = where.split(":", 1)[0].split("+", 1)[0]
    return DependencyError(
        f"the driver for {scheme} databases is not installed",
        arrived=_scrub(str(exc), url),
        hint=_DRIVER_HINT.get(scheme, "install the DBAPI driver of your database"),
    )


def read_sql(
    query: str,
    url: str,
    *,
    source: str = "sql",
    params: Mapping[str, Any] | None = None,
    id_columns: Sequence[str] = ("student_id",),
    chunksize: int = 50_000,
    max_rows: int | None = None,
    method: Literal["auto", "rows", "copy"] = "auto",
) -> pd.DataFrame:
    """Run a query through SQLAlchemy and return its rows as a DataFrame, read in chunks.

    Parameters
    ----------
    query : str
        A SQL query (``select ...``); ``:name`` placeholders take ``params``.
    url : str
        A SQLAlchemy URL, or a text such as ``"${CAMPUS_DB_URL}"`` naming an environment
        variable that holds it (see :func:`expand_url`). SQLite (``sqlite:///path.db``) needs no
        extra; PostgreSQL needs ``studentprofile[postgres]``; other databases their SQLAlchemy
        dialect's driver.
    source : str, default "sql"
        The source's name, used in errors.
    params : mapping, optional
        Bound parameters of the query.
    id_columns : sequence of str, default ("student_id",)
        Columns read as text exactly as the database gives them (absent ones are ignored).
    chunksize : int, default 50000
        Rows fetched at a time.
    max_rows : int, optional
        Refuse results larger than this (a typed error before memory runs out).
    method : {"auto", "rows", "copy"}, default "auto"
        ``"copy"`` streams the result with PostgreSQL's ``COPY ... TO STDOUT`` into Arrow
        (PostgreSQL through psycopg, no ``params``; several times faster than fetching rows);
        ``"rows"`` fetches rows through a server-side cursor (every database); ``"auto"``
        takes ``"copy"`` where it can. Both give the same frame.

    Returns
    -------
    pandas.DataFrame
        The rows, with types from the database (see the module notes).

    Raises
    ------
    SourceError
        The server cannot be reached, the credentials are refused, the query fails, or the
        result is larger than ``max_rows``; the message never holds a credential.
    DependencyError
        The database's driver is not installed.

    Examples
    --------
    >>> import sqlite3, tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "campus.db"
    >>> with sqlite3.connect(db) as con:
    ...     _ = con.execute("create table students (student_id text, cohort int)")
    ...     _ = con.execute("insert into students values ('000123', 2024), ('000456', 2023)")
    >>> read_sql("select * from students order by student_id", f"sqlite:///{db}")
      student_id  cohort
    0     000123    2024
    1     000456    2023
    """
    if not isinstance(query, str) or not query.strip():
        raise ConfigError("a SQL source needs a query", key=f"{source}.sql", arrived=repr(query))
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ConfigError("chunksize must be a positive whole number", key="chunksize",
                          arrived=repr(chunksize))
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)
                                 or max_rows < 0):
        raise ConfigError("max_rows must be a whole number >= 0", key="max_rows",
                          arrived=repr(max_rows))
    if method not in ("auto", "rows", "copy"):
        raise ConfigError("method must be 'auto', 'rows' or 'copy'", key="method",
                          arrived=repr(method))
    import sqlalchemy as sa

    real = expand_url(url, source=source)
    where = safe_url(real)
    try:
        engine = sa.create_engine(real)
    except sa.exc.NoSuchModuleError:
        raise SourceError(f"no SQLAlchemy dialect for this URL ({where})", source=source,
                          hint="check the URL's scheme, e.g. postgresql+psycopg:// or "
                               "sqlite:///path.db") from None
    except sa.exc.ArgumentError:
        raise SourceError("the database URL could not be parsed", source=source,
                          hint="a SQLAlchemy URL looks like "
                               "dialect+driver://user:password@host:port/database") from None
    except ImportError as exc:
        raise _missing_driver(exc, where, real) from None
    ids = set(id_columns)
    parts: list[pd.DataFrame] = []
    columns: list[str] = []
    n = 0
    stage = "connect"
    try:
        copyable = (engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
                    and not params)
        if method == "copy" and not copyable:
            raise ConfigError(
                "method='copy' needs PostgreSQL through psycopg and a query without params",
                key="method", arrived=f"{engine.dialect.name}+{engine.dialect.driver}",
                hint="use method='auto'",
            )
        with engine.connect() as conn:
            stage = "query"
            if copyable and method in ("auto", "copy"):
                from studentprofile.io._postgres import read_postgres

                frame = read_postgres(
                    conn.connection.dbapi_connection, query, source=source,
                    id_columns=list(id_columns), max_rows=max_rows, where=where,
                )
                logger.info("source %r: %d rows from %s (COPY)", source, len(frame), where)
                return frame
            conn = conn.execution_options(stream_results=True, yield_per=chunksize)
            result = conn.execute(sa.text(query), dict(params or {}))
            stage = "fetch"
            try:
                columns = [str(c) for c in result.keys()]
                dup = sorted({c for c in columns if columns.count(c) > 1})
                if dup:
                    raise SourceError(
                        "the query returns several columns with the same name", source=source,
                        arrived=repr(dup), hint="give each column its own name with AS",
                    )
                flags = [c in ids for c in columns]
                for rows in result.partitions(chunksize):
                    n += len(rows)
                    if max_rows is not None and n > max_rows:
                        raise SourceError(
                            f"the query returns more than max_rows={max_rows:,} rows",
                            source=source, arrived=f"more than {max_rows:,} rows from {where}",
                            hint="narrow the query (a date range, a term) or raise max_rows",
                        )
                    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
                    parts.append(pd.DataFrame(
                        {i: _column_values(cols[i], flags[i]) for i in range(len(columns))}
                    ))
            finally:
                result.close()  # a server-side cursor must be closed even when we stop early
    except SourceError:
        raise
    except sa.exc.OperationalError as exc:
        if stage in ("query", "fetch"):
            raise SourceError(
                f"the query failed on the database at {where}", source=source,
                arrived=_scrub(str(getattr(exc, "orig", exc)), real),
                hint="run the query in the database's own client to see the problem; "
                     "nothing was loaded",
            ) from None
        raise SourceError(
            f"cannot connect to the database at {where}", source=source,
            arrived=_scrub(str(getattr(exc, "orig", exc)), real),
            hint="check that the server runs and is reachable, and the user name, password "
                 "and database in the URL's environment variable",
        ) from None
    except (sa.exc.ProgrammingError, sa.exc.DataError, sa.exc.IntegrityError) as exc:
        raise SourceError(
            f"the query failed on the database at {where}", source=source,
            arrived=_scrub(str(getattr(exc, "orig", exc)), real),
            hint="run the query in the database's own client to see the problem",
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(
            f"reading the database at {where} failed", source=source,
            arrived=_scrub(f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}", real),
        ) from None
    except ImportError as exc:
        raise _missing_driver(exc, where, real) from None
    except Exception as exc:
        dbapi = getattr(engine.dialect, "dbapi", None)
        if dbapi is None or not isinstance(exc, getattr(dbapi, "Error", ())):
            raise
        raise SourceError(
            f"the query failed on the database at {where}", source=source,
            arrived=_scrub(str(exc), real),
            hint="run the query in the database's own client to see the problem; "
                 "nothing was loaded",
        ) from None
    finally:
        engine.dispose()
    logger.info("source %r: %d rows from %s", source, n, where)
    if parts:
        frame = pd.concat(parts, ignore_index=True)
    else:
        frame = pd.DataFrame({i: pd.Series(dtype=object) for i in range(len(columns))})
    frame.columns = pd.Index(columns)
    for name, is_id in zip(columns, [c in ids for c in columns], strict=True):
        if not is_id:
            frame[name] = _finish_column(frame[name], name, source)
    return frame
