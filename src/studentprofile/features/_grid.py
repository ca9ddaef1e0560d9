"""As-of grids: the moments at which a prediction would have been made."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features._layout import NS_PER_DAY, time_values
from studentprofile.labels import check_grid
from studentprofile.tables import EventTables
from studentprofile.tables._time import TimeKind, as_days, as_moment, days_delta

__all__ = ["make_grid"]

_PER = ("cohort", "enrolment", "enrollment")

#: Warnings of the one release in which ``per``'s default moved from "cohort" to "enrolment".
PER_DEFAULT_CHANGED = (
    "make_grid's default per is now 'enrolment' (the default of the config's grid.per); "
    "this grid differs from the 'cohort' grid earlier releases built by default. Pass "
    "per='enrolment' to keep this grid and silence the warning, or per='cohort' for the old one"
)
PER_DEFAULT_NO_STARTS = (
    "make_grid's default per is now 'enrolment' (the default of the config's grid.per), which "
    "needs each student's term_start or entry_date; these tables have none, so the 'cohort' grid "
    "was built as before. The next release raises instead: pass per='cohort'"
)

#: The most rows a grid may have (16 bytes a row: 16 GB); more is a mistake in start, end or every.
MAX_GRID_ROWS = 10**9
GRID_TOO_LARGE = "the grid would have {rows:,} rows, more than the {limit:,} allowed"


def _check_size(rows: int, start: Any, end: Any, every: Any) -> None:
    if rows > MAX_GRID_ROWS:
        raise ConfigError(
            GRID_TOO_LARGE.format(rows=rows, limit=MAX_GRID_ROWS),
            key="every",
            arrived=f"start={start!r}, end={end!r}, every={every!r}",
            hint="check start and end (a wrong year?), make every larger, or build the grid for "
            "fewer students at a time (students=...)",
        )


def _moment(value: Any, key: str, kind: TimeKind) -> float | int | None:
    """Convert a user-given start/end to kernel time units (ns int or float days)."""
    if value is None:
        return None
    moment = as_moment(value, kind, key=key)
    if kind == "datetime":
        return int(moment.value)
    return float(moment)


def _column(tables: EventTables, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    st = tables.students
    if name not in st.columns:
        return None
    col = st[name]
    has = col.notna().to_numpy()
    return time_values(col, tables.time_kind), has


def _default_start(tables: EventTables) -> float | int | None:
    for name in ("term_start", "entry_date"):
        c = _column(tables, name)
        if c is not None and c[1].any():
            return c[0][c[1]].min()
    ev = tables.events
    if len(ev):
        t = time_values(ev["time"], tables.time_kind)
        first = t.min()
        if tables.time_kind == "datetime":
            return int(first // NS_PER_DAY * NS_PER_DAY)  # midnight of the first day
        return float(first)
    return None


def _last_known(tables: EventTables) -> float | int | None:
    ev = tables.events
    if len(ev):
        return time_values(ev["known_at"], tables.time_kind).max()
    return None


def _default_end(tables: EventTables) -> float | int | None:
    c = _column(tables, "term_end")
    if c is not None and c[1].any():
        return c[0][c[1]].max()
    ev = tables.events
    if len(ev):
        return time_values(ev["known_at"], tables.time_kind).max()
    return None


def make_grid(
    tables: EventTables,
    *,
    start: Any = None,
    end: Any = None,
    every: float | pd.Timedelta = 7,
    per: str | None = None,
    students: Any = None,
) -> pd.DataFrame:
    """Build an as-of grid: every ``every`` days from a start to an end date, per student.

    Parameters
    ----------
    tables : EventTables
        The tables the grid is for.
    start, end : date or float, optional
        First and last possible as-of date (dates for datetime tables, naive or aware in any
        zone, converted to UTC like the tables' times; days for float tables).
        The last date is ``start + k * every <= end``.
    every : float or Timedelta, default 7
        Days between consecutive as-of dates (from one second to 100 years).
    per : {"enrolment", "cohort"}, default "enrolment"
        The default is the config's (``grid.per``). It was ``"cohort"`` before this release:
        left unset, a ``FutureWarning`` says when the grid differs from the old default's, and
        tables without any ``term_start``/``entry_date`` still get the cohort grid (with a
        ``FutureWarning``; the next release raises, as ``per="enrolment"`` does).
        ``"cohort"``: every student gets the same dates, from ``start`` (default: the earliest
        ``term_start``, else ``entry_date``, else midnight of the first event) to ``end``
        (default: the latest ``term_end``, else the latest ``known_at``).
        ``"enrolment"``: each student gets dates from their own ``term_start`` (else
        ``entry_date``) to their own ``term_end`` (else ``end`` or the latest ``known_at``),
        clipped to ``[start, end]`` when those are given; students without a start date get no
        rows.
    students : sequence, optional
        Only these student ids (default: every student).

    Returns
    -------
    DataFrame
        Columns ``student_id`` and ``as_of``, sorted by student (in the students table's order)
        then ``as_of``; valid for :func:`studentprofile.labels.check_grid`.

    Raises
    ------
    ConfigError
        A bad ``every``, ``per``, ``start`` or ``end``, or no dates to build from.
    SchemaError
        ``per="enrolment"`` without ``term_start`` or ``entry_date`` in the students table.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.tables import EventTables
    >>> t = EventTables(students=pd.DataFrame({"student_id": ["ana", "ben"],
    ...                                        "term_start": [0.0, 14.0],
    ...                                        "term_end": [21.0, 28.0]}))
    >>> make_grid(t, every=7, per="enrolment").groupby("student_id")["as_of"].apply(list)
    student_id
    ana     [0.0, 7.0, 14.0, 21.0]
    ben    [14.0, 21.0, 28.0]
    Name: as_of, dtype: object
    >>> len(make_grid(t, start=0.0, end=14.0, per="cohort"))  # 3 dates x 2 students
    6
    """
    if not isinstance(tables, EventTables):
        raise SchemaError(
            "a grid is built from an EventTables",
            table="tables",
            rule="type",
            arrived=f"an object of type {type(tables).__name__}",
            hint="wrap the frames: EventTables(students=..., events=...)",
        )
    if per is None:
        return _default_per(tables, start=start, end=end, every=every, students=students)
    if per not in _PER:
        raise ConfigError(
            "per must be 'cohort' or 'enrolment'",
            key="per",
            arrived=repr(per),
            hint="'cohort': the same dates for everyone; 'enrolment': from each student's "
            "term_start to term_end",
        )
    kind = tables.time_kind
    step_days = as_days(every, key="every")
    delta = days_delta(step_days, kind)
    step: float | int = int(delta.astype(np.int64)) if kind == "datetime" else delta
    lo = _moment(start, "start", kind)
    hi = _moment(end, "end", kind)
    if lo is not None and hi is not None and hi < lo:  # per enrolment too: not an empty grid
        raise ConfigError("end must not be before start", key="end",
                          arrived=f"start={start!r}, end={end!r}")
    st = tables.students
    pos = np.arange(len(st))
    if students is not None:
        wanted = pd.Index(list(students) if not isinstance(students, str) else [students])
        idx = pd.Index(st["student_id"]).get_indexer(wanted)
        if (idx < 0).any():
            raise SchemaError(
                "every student asked for must be in the students table",
                table="students",
                column="student_id",
                rule="membership",
                arrived=f"unknown ids {wanted[idx < 0].tolist()[:5]!r}",
                hint="pick ids from tables.students['student_id']",
            )
        pos = idx.astype(np.int64)
    if per == "cohort":
        a = lo if lo is not None else _default_start(tables)
        b = hi if hi is not None else _default_end(tables)
        if a is None or b is None:
            raise ConfigError(
                "start and end are needed: the tables hold no dates to take them from",
                key="start" if a is None else "end",
                arrived="None",
                hint="pass start=... and end=...",
            )
        if b < a:
            raise ConfigError("end must not be before start", key="end",
                              arrived=f"start={start!r}, end={end!r}")
        n_dates = int((b - a) // step) + 1
        _check_size(n_dates * len(pos), start, end, every)
        dates = a + step * np.arange(n_dates)
        s_pos = np.repeat(pos, n_dates)
        as_of = np.tile(dates, len(pos))
    else:
        begin = _column(tables, "term_start") or _column(tables, "entry_date")
        if begin is None:
            raise SchemaError(
                "per='enrolment' needs each student's term_start (or entry_date)",
                table="students",
                column="term_start",
                rule="required-column",
                arrived=f"students columns {list(st.columns)!r}",
                hint="add term_start and term_end to the students table, or use per='cohort'",
            )
        b0, has_b = begin[0][pos], begin[1][pos]
        finish = _column(tables, "term_end")
        default_end = hi if hi is not None else _last_known(tables)
        if default_end is None:
            default_end = _default_end(tables)
        if finish is not None:
            e0, has_e = finish[0][pos], finish[1][pos]
        else:
            e0, has_e = np.zeros_like(b0), np.zeros(len(pos), bool)
        if default_end is None and not has_e.all():
            raise ConfigError(
                "end is needed for students without term_end: the tables hold no dates",
                key="end",
                arrived="None",
                hint="pass end=...",
            )
        e_all = np.where(has_e, e0, default_end if default_end is not None else 0)
        if hi is not None:
            e_all = np.minimum(e_all, hi)
        first = b0
        if lo is not None:
            # keep each student's rhythm: the first date on or after start
            behind = np.maximum(lo - b0, 0)
            k = -(-behind // step) if kind == "datetime" else np.ceil(behind / step)
            first = b0 + k * step
        ok = has_b & (e_all >= first)
        spans = np.where(ok, (e_all - first) // step + 1, 0)
        _check_size(int(np.sum(spans, dtype=np.float64)), start, end, every)
        counts = spans.astype(np.int64)
        s_pos = np.repeat(pos, counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        as_of = np.repeat(first, counts) + offs * step
    if kind == "datetime":
        values: Any = np.asarray(as_of, dtype=np.int64).view("datetime64[ns]")
    else:
        values = np.asarray(as_of, dtype=np.float64)
    grid = pd.DataFrame(
        {"student_id": st["student_id"].to_numpy()[s_pos], "as_of": values}
    )
    return check_grid(grid, tables)


def _has_starts(tables: EventTables) -> bool:
    """Whether any student has a start date (``per="enrolment"`` can build rows)."""
    for name in ("term_start", "entry_date"):
        c = _column(tables, name)
        if c is not None and c[1].any():
            return True
    return False


def _default_per(tables: EventTables, **kw: Any) -> pd.DataFrame:
    """Build the grid of ``per``'s default, warning where the old default's grid differs."""
    if not isinstance(tables, EventTables):
        return make_grid(tables, per="enrolment", **kw)  # raises the type error
    if not _has_starts(tables):
        warnings.warn(PER_DEFAULT_NO_STARTS, FutureWarning, stacklevel=3)
        return make_grid(tables, per="cohort", **kw)
    grid = make_grid(tables, per="enrolment", **kw)
    try:
        old: pd.DataFrame | None = make_grid(tables, per="cohort", **kw)
    except (ConfigError, SchemaError):
        old = None
    if old is None or not old.equals(grid):
        warnings.warn(PER_DEFAULT_CHANGED, FutureWarning, stacklevel=3)
    return grid
