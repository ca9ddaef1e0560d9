"""The canonical tables: students, events and outcomes, validated on construction."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables import _checks
from studentprofile.tables._time import TimeKind, as_moment, to_days

logger = logging.getLogger(__name__)

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_OPTIONAL",
    "FAMILIES",
    "OUTCOME_COLUMNS",
    "STUDENT_TIME_COLUMNS",
    "EventTables",
    "ValidationReport",
    "frame_fingerprint",
    "to_days",
]

#: The four record families, in the order the documentation lists them.
FAMILIES: tuple[str, ...] = ("academic", "behavioral", "participation", "wellbeing")

#: Required and optional columns of each table.
STUDENT_COLUMNS: tuple[str, ...] = ("student_id",)
EVENT_COLUMNS: tuple[str, ...] = ("student_id", "time", "family", "kind", "value")
EVENT_OPTIONAL: tuple[str, ...] = ("known_at", "course_id", "max_value")
OUTCOME_COLUMNS: tuple[str, ...] = ("student_id", "time", "outcome")

#: Columns of ``students`` that hold times and follow the tables' time kind.
STUDENT_TIME_COLUMNS: tuple[str, ...] = ("entry_date", "term_start", "term_end")


@dataclass(frozen=True)
class ValidationReport:
    """What validation noticed and kept: data that is valid but worth knowing about.

    Attributes
    ----------
    n_students, n_events, n_outcomes : int
        Row counts after validation (always equal to the row counts that arrived).
    duplicate_events : int or None
        Events that exactly repeat an earlier event (every column equal). They are kept: two
        identical card swipes can be two real swipes; decide upstream whether to drop them.
        ``None`` when the check was switched off (``check_duplicates=False``).
    duplicate_examples : str
        Up to five duplicated rows, formatted.
    known_at_filled : int
        Events whose ``known_at`` was empty and was set to their ``time``.
    timezone : str or None
        The timezone the times arrived in, when they were timezone-aware (they are stored as
        naive UTC).
    notes : tuple of str
        Other handling applied, one sentence each.
    """

    n_students: int
    n_events: int
    n_outcomes: int
    duplicate_events: int | None = 0
    duplicate_examples: str = ""
    known_at_filled: int = 0
    timezone: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dictionary."""
        return {
            "n_students": self.n_students,
            "n_events": self.n_events,
            "n_outcomes": self.n_outcomes,
            "duplicate_events": self.duplicate_events,
            "known_at_filled": self.known_at_filled,
            "timezone": self.timezone,
            "notes": list(self.notes),
        }


class EventTables:
    """Students, their events and their outcomes, validated against the data contract.

    Construction checks every rule of ``docs/data-contracts.md`` and either returns tables that
    every other part of the library can trust, or raises :class:`~studentprofile.errors.SchemaError`
    naming the table, the column, the rule, up to five offending rows and what to do. No row is
    ever dropped.

    Parameters
    ----------
    students : DataFrame
        One row per student (or per enrolment): ``student_id`` (unique, no nulls) and any static
        attributes, e.g. ``cohort``, ``program``, ``entry_date``.
    events : DataFrame, optional
        ``student_id``, ``time``, ``family`` (one of ``FAMILIES``), ``kind``, ``value``;
        optionally ``known_at`` (when the fact became known; empty or absent means ``time``),
        ``course_id`` and ``max_value``. Other columns are kept as they are.
    outcomes : DataFrame, optional
        ``student_id``, ``time``, ``outcome``.
    audit_attributes : sequence of str, default ()
        Columns of ``students`` that describe protected or sensitive groups (gender, disability,
        ...). They are kept for fairness audits and are never used as model features unless a
        caller opts in by name.
    time_origin : str or Timestamp, optional
        When times are float days, the calendar date of day 0 (used only to display dates;
        stored as naive UTC like every date).
    check_duplicates : bool, default True
        Count exact duplicate events for the report. Costs one hash of the events table.
    metadata : dict, optional
        JSON-ready facts about where the tables came from (dataset name, licence, citation,
        mapping notes, simulator parameters). Kept as given.
    time_kind : {"datetime", "float"}, optional
        Declare the kind of time; needed only when no table holds a time yet (e.g. empty events
        and outcomes with float-day as-of grids). A declaration that contradicts the data is a
        ``SchemaError``.

    Attributes
    ----------
    students, events, outcomes : DataFrame
        The normalised tables: ``family``, ``kind`` and ``outcome`` as categoricals, ``value`` and
        ``max_value`` as float64, times as ``datetime64[ns]`` (naive; aware input converted to UTC)
        or float64 days, ``known_at`` always present. Each has a fresh ``RangeIndex``.
    time_kind : {"datetime", "float"}
        Which kind of time all three tables use.
    audit_attributes : tuple of str
        The declared audit attributes.
    report : ValidationReport
        What validation noticed and kept.
    metadata : dict
        Provenance given at construction.

    Notes
    -----
    Treat the tables as read-only after construction: other parts cache derived arrays (such as
    :meth:`student_codes`) and rely on :meth:`fingerprint` describing the data.

    Raises
    ------
    SchemaError
        When a table breaks the data contract.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.tables import EventTables
    >>> students = pd.DataFrame({"student_id": ["ana", "ben"], "gender": ["F", "M"]})
    >>> events = pd.DataFrame({
    ...     "student_id": ["ana", "ana", "ben"],
    ...     "time": pd.to_datetime(["2024-09-02", "2024-09-09", "2024-09-02"]),
    ...     "family": ["behavioral", "behavioral", "academic"],
    ...     "kind": ["class_attendance", "class_attendance", "assessment_score"],
    ...     "value": [1.0, 0.0, 71.0],
    ... })
    >>> tables = EventTables(students=students, events=events, audit_attributes=["gender"])
    >>> tables.time_kind, len(tables.events), tables.events["family"].dtype.name
    ('datetime', 3, 'category')
    >>> bool((tables.events["known_at"] == tables.events["time"]).all())
    True
    """

    def __init__(
        self,
        *,
        students: pd.DataFrame,
        events: pd.DataFrame | None = None,
        outcomes: pd.DataFrame | None = None,
        audit_attributes: Sequence[str] = (),
        time_origin: str | pd.Timestamp | None = None,
        check_duplicates: bool = True,
        metadata: dict[str, Any] | None = None,
        time_kind: TimeKind | None = None,
    ) -> None:
        if isinstance(audit_attributes, str):
            raise ConfigError(
                "audit_attributes must be a list of column names",
                key="audit_attributes",
                arrived=repr(audit_attributes),
                hint=f"wrap it in a list: audit_attributes=[{audit_attributes!r}]",
            )
        students = _checks.require_frame(students, "students")
        events = _empty_events() if events is None else _checks.require_frame(events, "events")
        outcomes = (
            _empty_outcomes() if outcomes is None else _checks.require_frame(outcomes, "outcomes")
        )
        _checks.require_columns(students, "students", STUDENT_COLUMNS)
        _checks.require_columns(events, "events", EVENT_COLUMNS)
        _checks.require_columns(outcomes, "outcomes", OUTCOME_COLUMNS)

        notes: list[str] = []
        st = _normalise_students(students, audit_attributes)
        ev = _normalise_events(events)
        oc = _normalise_outcomes(outcomes)
        if time_kind not in (None, "datetime", "float"):
            raise ConfigError(
                "time_kind must be 'datetime' or 'float'",
                key="time_kind",
                arrived=repr(time_kind),
                hint="leave it out unless every table is empty",
            )
        time_kind, tz = _reconcile_times(st, ev, oc, notes, time_kind)
        known_at_filled = _check_known_at(ev, events)
        _check_id_types(st, ev, oc)
        ev_codes = _check_membership(st, ev, events, "events")
        _check_membership(st, oc, outcomes, "outcomes")

        n_dup: int | None = None
        dup_examples = ""
        if check_duplicates:
            n_dup = 0
        if check_duplicates and len(ev):
            n_dup, dup_examples = _duplicates(ev)
            if n_dup:
                logger.info(
                    "%d exact duplicate event(s) kept; see EventTables.report", n_dup
                )
        if known_at_filled:
            notes.append(f"{known_at_filled:,} empty known_at value(s) set to their time")
        if time_origin is not None:
            if time_kind != "float":
                raise ConfigError(
                    "time_origin applies only when times are float days",
                    key="time_origin",
                    arrived=repr(time_origin),
                    hint="drop time_origin: these tables already hold calendar times",
                )
            time_origin = as_moment(time_origin, "datetime", key="time_origin")
        self.students: pd.DataFrame = st
        self.events: pd.DataFrame = ev
        self.outcomes: pd.DataFrame = oc
        self.time_kind: TimeKind = time_kind
        self.time_origin: pd.Timestamp | None = (
            None if time_origin is None else pd.Timestamp(time_origin)
        )
        self.audit_attributes: tuple[str, ...] = tuple(audit_attributes)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._event_codes: np.ndarray | None = ev_codes
        self.report = ValidationReport(
            n_students=len(st),
            n_events=len(ev),
            n_outcomes=len(oc),
            duplicate_events=n_dup,
            duplicate_examples=dup_examples,
            known_at_filled=known_at_filled,
            timezone=tz,
            notes=tuple(notes),
        )

    # ------------------------------------------------------------------ helpers for other layers
    @property
    def static_attributes(self) -> list[str]:
        """Columns of ``students`` other than ``student_id`` and the audit attributes."""
        return [
            c
            for c in self.students.columns
            if c != "student_id" and c not in self.audit_attributes
        ]

    def student_codes(self) -> np.ndarray:
        """Return, for each row of ``events``, the position of its student in ``students``.

        Computed once during validation (the membership check needs it) and cached; feature
        kernels use it to lay events out per student without hashing identifiers again.

        Returns
        -------
        ndarray of int64
            ``codes[i]`` is the row of ``students`` for ``events.iloc[i]``.

        Examples
        --------
        >>> import pandas as pd
        >>> t = EventTables(
        ...     students=pd.DataFrame({"student_id": ["b", "a"]}),
        ...     events=pd.DataFrame({"student_id": ["a", "b", "a"], "time": [1.0, 2.0, 3.0],
        ...                          "family": "academic", "kind": "quiz", "value": 1.0}))
        >>> t.student_codes().tolist()
        [1, 0, 1]
        """
        if self._event_codes is None:
            idx = pd.Index(self.students["student_id"])
            self._event_codes = np.asarray(
                idx.get_indexer(self.events["student_id"]), dtype=np.int64
            )
        return self._event_codes

    def to_days(self, values: pd.Series | np.ndarray | pd.Index) -> np.ndarray:
        """Convert times of these tables' kind to float days (see :func:`to_days`)."""
        return to_days(values, self.time_kind)

    def select(self, student_ids: Iterable[Any]) -> EventTables:
        """Return the tables restricted to the given students (rows of others left out).

        Parameters
        ----------
        student_ids : iterable
            Identifiers to keep; unknown identifiers raise ``SchemaError``.

        Returns
        -------
        EventTables
        """
        ids = pd.Index(list(student_ids))
        known = pd.Index(self.students["student_id"])
        missing = ids[~ids.isin(known)]
        if len(missing):
            raise SchemaError(
                "every selected student must be in the students table",
                table="students",
                column="student_id",
                rule="membership",
                arrived=f"unknown identifiers {_checks.show_values(missing)}",
                hint="select identifiers from tables.students['student_id']",
            )
        out = object.__new__(EventTables)
        out.students = self.students[self.students["student_id"].isin(ids)].reset_index(drop=True)
        out.events = self.events[self.events["student_id"].isin(ids)].reset_index(drop=True)
        out.outcomes = self.outcomes[self.outcomes["student_id"].isin(ids)].reset_index(drop=True)
        out.time_kind = self.time_kind
        out.time_origin = self.time_origin
        out.audit_attributes = self.audit_attributes
        out.metadata = dict(self.metadata)
        out._event_codes = None
        out.report = ValidationReport(
            n_students=len(out.students),
            n_events=len(out.events),
            n_outcomes=len(out.outcomes),
            timezone=self.report.timezone,
            notes=(*self.report.notes, "selected from larger tables"),
        )
        return out

    def known_before(self, cut: Any) -> EventTables:
        """Return the tables as they stood just before ``cut`` (cheap: already validated).

        Keeps events with ``known_at < cut`` and outcomes with ``time < cut``; every student stays.
        This is what a campus system would have held at ``cut``; a temporal backtest uses it to
        make sure nothing from later can reach a feature, whatever the feature code does.

        Parameters
        ----------
        cut : date or float
            The moment, of the tables' time kind: a date (naive, or aware in any zone: it is
            converted to UTC like the tables' times) or a number of days.

        Returns
        -------
        EventTables
            Sharing the students table; events and outcomes are new frames.

        Examples
        --------
        >>> import pandas as pd
        >>> t = EventTables(
        ...     students=pd.DataFrame({"student_id": [1]}),
        ...     events=pd.DataFrame({"student_id": [1, 1], "time": [1.0, 5.0],
        ...                          "known_at": [2.0, 9.0], "family": "academic",
        ...                          "kind": "quiz", "value": [3.0, 4.0]}))
        >>> len(t.known_before(5.0).events), len(t.known_before(9.5).events)
        (1, 2)
        """
        moment = as_moment(cut, self.time_kind, key="cut")
        cut_value = moment.to_datetime64() if self.time_kind == "datetime" else moment
        ev_keep = (self.events["known_at"].to_numpy() < cut_value)
        oc_keep = (self.outcomes["time"].to_numpy() < cut_value)
        out = object.__new__(EventTables)
        out.students = self.students
        out.events = self.events[ev_keep].reset_index(drop=True)
        out.outcomes = self.outcomes[oc_keep].reset_index(drop=True)
        out.time_kind = self.time_kind
        out.time_origin = self.time_origin
        out.audit_attributes = self.audit_attributes
        out.metadata = dict(self.metadata)
        out._event_codes = self.student_codes()[ev_keep]
        out.report = ValidationReport(
            n_students=len(out.students),
            n_events=len(out.events),
            n_outcomes=len(out.outcomes),
            duplicate_events=None,
            timezone=self.report.timezone,
            notes=(*self.report.notes, "cut to what was known before a moment"),
        )
        return out

    def fingerprint(self) -> dict[str, str]:
        """Return a SHA-256 hex digest per table (contents, column names and dtypes).

        The digests identify the data a model was trained on without revealing any of it.

        Returns
        -------
        dict
            ``{"students": ..., "events": ..., "outcomes": ...}``.

        Examples
        --------
        >>> import pandas as pd
        >>> t = EventTables(students=pd.DataFrame({"student_id": [1, 2]}))
        >>> sorted(t.fingerprint())
        ['events', 'outcomes', 'students']
        >>> len(t.fingerprint()["students"])
        64
        """
        return {
            "students": frame_fingerprint(self.students),
            "events": frame_fingerprint(self.events),
            "outcomes": frame_fingerprint(self.outcomes),
        }

    def describe(self, by: str = "kind") -> pd.DataFrame:
        """Summarise the events per family and kind, or per source system.

        Parameters
        ----------
        by : {"kind", "source"}, default "kind"
            ``"kind"``: per (family, kind). ``"source"``: per value of the events' ``source``
            column (which multi-source configs and the learning-record readers write), with the
            ``known_at`` lag too.

        Returns
        -------
        DataFrame
            ``events``, ``students``, ``first`` and ``last`` time; by source also
            ``kinds`` and ``known_at_lag_median`` / ``known_at_lag_max`` (days).

        Raises
        ------
        ConfigError
            ``by`` is not one of the two, or ``"source"`` on events without a source column.

        Examples
        --------
        >>> import pandas as pd
        >>> t = EventTables(
        ...     students=pd.DataFrame({"student_id": ["a", "b"]}),
        ...     events=pd.DataFrame({
        ...         "student_id": ["a", "b", "a"], "time": [1.0, 2.0, 3.0],
        ...         "known_at": [1.0, 9.0, 3.0], "family": "academic", "kind": "quiz",
        ...         "value": 1.0, "source": ["lms", "registry", "lms"]}),
        ...     time_kind="float")
        >>> t.describe(by="source")[["events", "students", "known_at_lag_max"]]
                  events  students  known_at_lag_max
        source
        lms            2         1               0.0
        registry       1         1               7.0
        """
        from studentprofile.errors import ConfigError

        if by not in ("kind", "source"):
            raise ConfigError("by must be 'kind' or 'source'", key="by", arrived=repr(by))
        ev = self.events
        keys = ["family", "kind"] if by == "kind" else ["source"]
        if by == "source" and "source" not in ev.columns:
            raise ConfigError(
                "the events have no source column", key="by", arrived="'source'",
                hint="multi-source configs ([[data.events]]) and the io readers write one",
            )
        if not len(ev):
            return pd.DataFrame(
                columns=["events", "students", "first", "last"],
                index=pd.MultiIndex.from_arrays([[]] * len(keys), names=keys)
                if len(keys) > 1 else pd.Index([], name=keys[0]),
            )
        g = ev.groupby(keys, observed=True)
        out = pd.DataFrame(
            {
                "events": g.size(),
                "students": g["student_id"].nunique(),
                "first": g["time"].min(),
                "last": g["time"].max(),
            }
        )
        if by == "source":
            out["kinds"] = g["kind"].nunique()
            lag = pd.Series(self.to_days(ev["known_at"]) - self.to_days(ev["time"]),
                            index=ev.index)
            lg = lag.groupby([ev[k] for k in keys], observed=True)
            out["known_at_lag_median"] = lg.median()
            out["known_at_lag_max"] = lg.max()
        return out

    def __repr__(self) -> str:
        return (
            f"EventTables(students={len(self.students):,}, events={len(self.events):,}, "
            f"outcomes={len(self.outcomes):,}, time_kind={self.time_kind!r}, "
            f"audit_attributes={list(self.audit_attributes)!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventTables):
            return NotImplemented
        return self.fingerprint() == other.fingerprint() and (
            self.audit_attributes == other.audit_attributes
        )

    __hash__ = None  # type: ignore[assignment]


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's values, column names and dtypes (index ignored).

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    h = hashlib.sha256()
    for col in frame.columns:
        h.update(repr((str(col), str(frame[col].dtype))).encode())
        hashed = pd.util.hash_pandas_object(frame[col], index=False).to_numpy()
        h.update(np.ascontiguousarray(hashed).tobytes())
    h.update(str(len(frame)).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------- internals
def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student_id": pd.Series([], dtype=object),
            "time": pd.Series([], dtype=object),
            "family": pd.Series([], dtype=object),
            "kind": pd.Series([], dtype=object),
            "value": pd.Series([], dtype="float64"),
        }
    )


def _empty_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student_id": pd.Series([], dtype=object),
            "time": pd.Series([], dtype=object),
            "outcome": pd.Series([], dtype=object),
        }
    )


def _normalise_students(students: pd.DataFrame, audit_attributes: Sequence[str]) -> pd.DataFrame:
    st = students.copy()
    missing_audit = [a for a in audit_attributes if a not in st.columns]
    if missing_audit:
        raise SchemaError(
            "every audit attribute must be a column of the students table",
            table="students",
            column=missing_audit[0],
            rule="audit-attribute",
            arrived=f"audit_attributes={list(audit_attributes)!r}; columns {list(st.columns)!r}",
            hint="add the column to students or remove it from audit_attributes",
        )
    if "student_id" in audit_attributes:
        raise SchemaError(
            "student_id cannot be an audit attribute",
            table="students",
            column="student_id",
            rule="audit-attribute",
            arrived="audit_attributes includes 'student_id'",
            hint="name group columns such as gender or age band instead",
        )
    st["student_id"] = _checks.student_ids(st["student_id"], "students", students).to_numpy()
    st["student_id"] = st["student_id"].astype(
        "int64" if st["student_id"].dtype.kind in "iu" else st["student_id"].dtype
    )
    dup = st["student_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            "`student_id` must be unique in the students table",
            table="students",
            column="student_id",
            rule="unique",
            arrived=f"{int(st['student_id'].duplicated().sum()):,} repeated identifier(s), e.g. "
            f"{_checks.show_values(st['student_id'][dup].unique())}",
            rows=_checks.show_rows(students, dup, list(students.columns)[:6]),
            n_bad=int(dup.sum()),
            hint="keep one row per student (for several enrolments, make the id per enrolment, "
            "e.g. '<student>/<course>/<term>')",
        )
    for col in st.columns:
        if col != "student_id":
            st[col] = _checks.plain(st[col])
    return st.reset_index(drop=True)


def _normalise_events(events: pd.DataFrame) -> pd.DataFrame:
    ev = pd.DataFrame(index=events.index)
    ev["student_id"] = _checks.student_ids(events["student_id"], "events", events)
    ev["family"] = _checks.categories(events["family"], "events", "family", events, FAMILIES)
    ev["kind"] = _checks.categories(events["kind"], "events", "kind", events)
    ev["value"] = _checks.numbers(events["value"], "events", "value", events)
    t = _checks.times(events["time"], "events", "time", events)
    _no_null_times(t.values, events, "events", "time")
    ev["time"] = t.values
    if "known_at" in events.columns:
        k = _checks.times(events["known_at"], "events", "known_at", events)
        ev["known_at"] = k.values
    else:
        ev["known_at"] = t.values
    if "course_id" in events.columns:
        ev["course_id"] = _checks.plain(events["course_id"])
        if not isinstance(ev["course_id"].dtype, pd.CategoricalDtype):
            ev["course_id"] = ev["course_id"].astype("category")
    if "max_value" in events.columns:
        ev["max_value"] = _checks.numbers(
            events["max_value"], "events", "max_value", events, positive=True
        )
    for col in events.columns:
        if col not in ev.columns:
            ev[col] = _checks.plain(events[col])
    order = ["student_id", "time", "known_at", "family", "kind", "value"]
    order += [c for c in ev.columns if c not in order]
    return ev[order]


def _normalise_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    oc = pd.DataFrame(index=outcomes.index)
    oc["student_id"] = _checks.student_ids(outcomes["student_id"], "outcomes", outcomes)
    t = _checks.times(outcomes["time"], "outcomes", "time", outcomes)
    _no_null_times(t.values, outcomes, "outcomes", "time")
    oc["time"] = t.values
    oc["outcome"] = _checks.categories(outcomes["outcome"], "outcomes", "outcome", outcomes)
    for col in outcomes.columns:
        if col not in oc.columns:
            oc[col] = _checks.plain(outcomes[col])
    return oc


def _no_null_times(values: pd.Series, frame: pd.DataFrame, table: str, column: str) -> None:
    null = values.isna().to_numpy()
    if null.any():
        raise SchemaError(
            f"`{column}` must not be empty",
            table=table,
            column=column,
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty time(s)",
            rows=_checks.show_rows(frame, null, ["student_id", column, "kind", "outcome"]),
            n_bad=int(null.sum()),
            hint="fill in when each record happened, or drop records with no time upstream",
        )


def _reconcile_times(
    st: pd.DataFrame,
    ev: pd.DataFrame,
    oc: pd.DataFrame,
    notes: list[str],
    declared: TimeKind | None = None,
) -> tuple[TimeKind, str | None]:
    """Make every time column one kind; aware times become naive UTC; aware+naive is an error."""
    columns: list[tuple[str, str, pd.DataFrame]] = [
        ("events", "time", ev),
        ("events", "known_at", ev),
        ("outcomes", "time", oc),
    ]
    for col in STUDENT_TIME_COLUMNS:
        if col in st.columns:
            parsed = _checks.times(st[col], "students", col, st)
            st[col] = parsed.values
            columns.append(("students", col, st))
    definite: dict[str, str] = {}  # columns holding at least one time
    dtype_kinds: set[str] = set()  # kinds suggested by dtypes of empty columns
    aware: dict[str, bool] = {}
    zones: set[str] = set()
    for table, col, frame in columns:
        s = frame[col]
        name = f"{table}.{col}"
        has_values = bool(s.notna().any())
        if isinstance(s.dtype, pd.DatetimeTZDtype) or s.dtype.kind == "M":
            dtype_kinds.add("datetime")
            if has_values:
                definite[name] = "datetime"
                aware[name] = isinstance(s.dtype, pd.DatetimeTZDtype)
                if isinstance(s.dtype, pd.DatetimeTZDtype):
                    zones.add(str(s.dtype.tz))
        elif s.dtype.kind == "f":
            dtype_kinds.add("float")
            if has_values:
                definite[name] = "float"
    distinct = set(definite.values())
    if len(distinct) > 1:
        dt = [n for n, k in definite.items() if k == "datetime"]
        fl = [n for n, k in definite.items() if k == "float"]
        table, col = fl[0].split(".")
        raise SchemaError(
            "every time column must use the same kind of time: all datetimes or all float days",
            table=table,
            column=col,
            rule="time-kind",
            arrived=f"datetimes in {dt!r}, float days in {fl!r}",
            hint="convert the float days to datetimes (origin + pd.to_timedelta(days, 'D')) "
            "or the datetimes to days",
        )
    kind: TimeKind
    if distinct:
        kind = "datetime" if distinct == {"datetime"} else "float"
        if declared is not None and declared != kind:
            name = next(iter(definite))
            table, col = name.split(".")
            raise SchemaError(
                f"time_kind={declared!r} was declared but the times are {kind} values",
                table=table,
                column=col,
                rule="time-kind",
                arrived=f"{kind} values in {sorted(definite)!r}",
                hint="drop time_kind (it is inferred from the data) or convert the times",
            )
    elif declared is not None:
        kind = declared
    else:
        kind = "float" if dtype_kinds == {"float"} else "datetime"
    if aware and any(aware.values()) and not all(aware.values()):
        aw = [n for n, a in aware.items() if a]
        nv = [n for n, a in aware.items() if not a]
        table, col = nv[0].split(".")
        raise SchemaError(
            "timezone-aware and naive times cannot be mixed across columns",
            table=table,
            column=col,
            rule="timezone-mix",
            arrived=f"aware: {aw!r}; naive: {nv!r}",
            hint="localise the naive column(s) to the same timezone, or make all columns naive",
        )
    tz: str | None = None
    for _table, col, frame in columns:
        s = frame[col]
        if kind == "datetime":
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                frame[col] = _checks.to_naive_utc(s)
            elif s.dtype.kind != "M":  # an empty column of no particular kind
                frame[col] = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        elif s.dtype.kind in "fiu":
            frame[col] = s.astype("float64")
        else:  # an empty datetime or object column in float-day tables
            frame[col] = pd.Series(np.nan, index=s.index, dtype="float64")
    if zones:
        tz = zones.pop() if len(zones) == 1 else "UTC"
        notes.append(f"timezone-aware times (tz={tz}) converted to naive UTC")
    return kind, tz


def _check_known_at(ev: pd.DataFrame, original: pd.DataFrame) -> int:
    null = ev["known_at"].isna().to_numpy()
    n_filled = int(null.sum())
    if n_filled:
        ev.loc[null, "known_at"] = ev.loc[null, "time"]
    early = (ev["known_at"] < ev["time"]).to_numpy()
    if early.any():
        raise SchemaError(
            "`known_at` must not be earlier than `time`: a fact cannot be known before it happens",
            table="events",
            column="known_at",
            rule="known-after-time",
            arrived=f"{int(early.sum()):,} event(s) known before they happened",
            rows=_checks.show_rows(original, early, ["student_id", "time", "known_at", "kind"]),
            n_bad=int(early.sum()),
            hint="check the two columns are not swapped; known_at is when the record reached "
            "the campus system (e.g. when a mark was published)",
        )
    return n_filled


def _check_id_types(st: pd.DataFrame, ev: pd.DataFrame, oc: pd.DataFrame) -> None:
    base = "int" if st["student_id"].dtype.kind in "iu" else "str"
    for table, frame in (("events", ev), ("outcomes", oc)):
        if not len(frame) or not len(st):
            if len(frame) and not len(st):
                continue  # membership check reports it
            if not len(frame):
                frame["student_id"] = frame["student_id"].astype(st["student_id"].dtype)
            continue
        kind = "int" if frame["student_id"].dtype.kind in "iu" else "str"
        if kind != base:
            raise SchemaError(
                "`student_id` must have the same type in every table",
                table=table,
                column="student_id",
                rule="id-type",
                arrived=f"{kind} identifiers in {table}, {base} identifiers in students",
                hint="convert both to the same type, e.g. .astype(str) on each student_id column",
            )


def _check_membership(
    st: pd.DataFrame, frame: pd.DataFrame, original: pd.DataFrame, table: str
) -> np.ndarray:
    """Check every row's student is in ``st``; return each row's position in ``st``."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    known = pd.Index(st["student_id"])
    codes = np.asarray(known.get_indexer(frame["student_id"]), dtype=np.int64)
    ok = codes >= 0
    if not ok.all():
        bad = ~ok
        unknown = frame["student_id"][bad].unique()
        raise SchemaError(
            f"every student in `{table}` must be in the students table",
            table=table,
            column="student_id",
            rule="membership",
            arrived=f"{len(unknown):,} unknown student(s), e.g. {_checks.show_values(unknown)}",
            rows=_checks.show_rows(original, bad, ["student_id", "time", "kind", "outcome"]),
            n_bad=int(bad.sum()),
            hint="add those students to the students table (rows are never dropped silently)",
        )
    return codes


def _duplicates(ev: pd.DataFrame) -> tuple[int, str]:
    """Count events that exactly repeat an earlier one (every column equal).

    A 64-bit hash per row finds the candidates in one vectorised pass; only rows whose hash
    repeats are compared exactly, so hash collisions cannot inflate the count.
    """
    cols = list(ev.columns)
    try:
        row_hash = pd.util.hash_pandas_object(ev[cols], index=False).to_numpy()
    except TypeError:  # unhashable values in an extra column: compare the contract columns only
        cols = [*EVENT_COLUMNS, "known_at"]
        row_hash = pd.util.hash_pandas_object(ev[cols], index=False).to_numpy()
    candidates = pd.Series(row_hash).duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0, ""
    sub = ev.loc[candidates, cols]
    dup_sub = sub.duplicated(keep="first").to_numpy()
    dup = np.zeros(len(ev), dtype=bool)
    dup[np.flatnonzero(candidates)[dup_sub]] = True
    n = int(dup.sum())
    if not n:
        return 0, ""
    return n, _checks.show_rows(ev, dup, ["student_id", "time", "kind", "value"])
