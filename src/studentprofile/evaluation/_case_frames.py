"""The case store's two frames as the evaluation and the notifiers read them.

* **cases** -- one row per case: :data:`CASE_COLUMNS`;
* **verdicts** -- one row per verdict given by a member of staff: :data:`VERDICT_COLUMNS`, with
  ``verdict`` one of :data:`VERDICTS`.

:func:`check_cases` and :func:`check_verdicts` are the one validation of those frames (typed
:class:`~studentprofile.errors.SchemaError` naming the column, the rule and the rows);
:func:`case_state` is the one definition of where a case stands at a date (open, contacted,
overdue, new), used by :func:`~studentprofile.evaluation.judged_outcomes`, the digests and the
advisor's weekly site of :mod:`studentprofile.warning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.tables import _checks
from studentprofile.tables._time import NS_PER_DAY, TimeKind, moment_days, to_days

__all__ = [
    "CASE_COLUMNS",
    "CASE_TIME_COLUMNS",
    "CLOSED",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "case_days",
    "case_moment",
    "case_state",
    "check_cases",
    "check_verdicts",
    "moment_text",
    "moment_texts",
]

#: The columns of a cases frame (the case store's contract), in order.
CASE_COLUMNS: tuple[str, ...] = (
    "case_id", "alert_id", "student_id", "as_of", "opened_at", "tier", "risk", "model_version",
    "reason_families", "reason_codes", "owner", "unit", "role", "status", "due_first_contact",
    "first_contact_at", "closed_at",
)
#: The time columns of a cases frame; the last two may be empty.
CASE_TIME_COLUMNS: tuple[str, ...] = (
    "as_of", "opened_at", "due_first_contact", "first_contact_at", "closed_at",
)
_CASE_TIMES_REQUIRED = ("as_of", "opened_at", "due_first_contact")
_CASE_TEXT = ("alert_id", "tier", "model_version", "reason_families", "reason_codes", "owner",
              "unit", "role", "status")
#: The columns of a verdicts frame, in order.
VERDICT_COLUMNS: tuple[str, ...] = ("case_id", "time", "staff", "verdict", "note")
#: The verdicts staff can give (Moodle Analytics' useful / not useful / incorrectly flagged,
#: plus two that say why a useful-looking alert led nowhere).
VERDICTS: tuple[str, ...] = (
    "useful", "not_useful", "incorrectly_flagged", "already_known", "student_declined",
)
#: The status of a closed case; every other status is open.
CLOSED = "closed"
# error texts (tested as they are)
DUPLICATE_CASE = "`case_id` must be unique: one row per case"
UNKNOWN_VERDICT = "`verdict` must be one of {allowed}"
UNKNOWN_CASE = "every verdict must be about a case in the cases frame"
TIME_KINDS = "all time columns must be of one kind (datetimes, or float days)"
RISK_RANGE = "`risk` must be a probability in [0, 1]"


def _text(series: pd.Series) -> pd.Series:
    """Text with missing values as ''."""
    s = _checks.plain(series).astype(object)
    return s.where(s.notna(), "").map(str)


def _ids(series: pd.Series, table: str, frame: pd.DataFrame) -> pd.Series:
    s = _checks.plain(series)
    null = s.isna().to_numpy()
    if null.any():
        raise SchemaError(
            "`case_id` must not be empty",
            table=table,
            column="case_id",
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty case_id value(s)",
            rows=_checks.show_rows(frame, null, list(frame.columns)[:6]),
            n_bad=int(null.sum()),
            hint="give every row the id of its case",
        )
    if s.dtype.kind == "f":
        vals = s.to_numpy()
        if (np.floor(vals) == vals).all():
            s = s.astype("int64")
    return s.map(str).astype(object)


def _times(
    frame: pd.DataFrame, table: str, columns: Sequence[str], required: Sequence[str]
) -> tuple[dict[str, pd.Series], str | None]:
    """Parse time columns to naive UTC datetimes or float days; all of one kind."""
    out: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for col in columns:
        parsed = _checks.time_column(frame[col], table=table, column=col, frame=frame)
        values = parsed.values
        if col in required:
            null = values.isna().to_numpy()
            if null.any():
                raise SchemaError(
                    f"`{col}` must not be empty",
                    table=table,
                    column=col,
                    rule="not-null",
                    arrived=f"{int(null.sum()):,} empty value(s)",
                    rows=_checks.show_rows(frame, null, [frame.columns[0], col]),
                    n_bad=int(null.sum()),
                    hint=f"fill in `{col}` or drop those rows",
                )
        if parsed.kind is not None:
            kinds[col] = parsed.kind
        out[col] = values.astype("float64") if parsed.kind == "float" else values
    if len(set(kinds.values())) > 1:
        raise SchemaError(
            TIME_KINDS,
            table=table,
            rule="time-kind",
            arrived=", ".join(f"{c}: {k}" for c, k in kinds.items()),
            hint="convert every time column to datetimes (or every one to float days)",
        )
    return out, next(iter(kinds.values()), None)


def check_cases(cases: Any, *, table: str = "cases") -> pd.DataFrame:
    """Validate a cases frame against its contract and return a normalised copy.

    ``case_id`` becomes text (unique, not empty); ``student_id`` is checked as everywhere in the
    library; the time columns become naive UTC datetimes (or float days, all of one kind; the
    kind is in ``attrs["time_kind"]``); ``risk`` a float in [0, 1]; the text columns text with
    ``''`` for missing; ``status`` is trimmed and lower-cased.

    Parameters
    ----------
    cases : DataFrame
        With every column of :data:`CASE_COLUMNS` (more columns are kept).
    table : str, default "cases"
        The name used in error messages.

    Returns
    -------
    DataFrame
        The normalised copy, with a fresh index.

    Raises
    ------
    SchemaError
        Not a frame, a missing column, an empty or repeated ``case_id``, an empty required time,
        time columns of different kinds, a risk outside [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({c: [None] for c in CASE_COLUMNS})
    >>> frame = frame.assign(case_id=7, student_id="s1", as_of="2026-11-02",
    ...                      opened_at="2026-11-02", due_first_contact="2026-11-09",
    ...                      tier="high", risk=0.8, status=" Open ")
    >>> out = check_cases(frame)
    >>> out.loc[0, "case_id"], out.loc[0, "status"], out.loc[0, "owner"], out.attrs["time_kind"]
    ('7', 'open', '', 'datetime')
    """
    frame = _checks.require_frame(cases, table)
    _checks.require_columns(frame, table, list(CASE_COLUMNS))
    frame = frame.reset_index(drop=True)
    out = frame.copy()
    out["case_id"] = _ids(frame["case_id"], table, frame)
    dup = out["case_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            DUPLICATE_CASE,
            table=table,
            column="case_id",
            rule="unique",
            arrived=f"repeated ids {_checks.show_values(out['case_id'][dup].unique())}",
            rows=_checks.show_rows(frame, dup, ["case_id", "student_id", "as_of"]),
            n_bad=int(dup.sum()),
            hint="pass the current state of each case once (the case store's cases frame)",
        )
    out["student_id"] = _checks.student_ids(frame["student_id"], table, frame).to_numpy()
    times, kind = _times(frame, table, CASE_TIME_COLUMNS, _CASE_TIMES_REQUIRED)
    for col, values in times.items():
        out[col] = values.to_numpy()
    for col in _CASE_TEXT:
        out[col] = _text(frame[col]).to_numpy()
    out["status"] = out["status"].str.strip().str.lower()
    risk = _checks.plain(frame["risk"])
    try:
        risk = pd.to_numeric(risk, errors="raise").astype("float64")
    except (TypeError, ValueError):
        bad = pd.to_numeric(risk, errors="coerce").isna() & risk.notna()
        raise SchemaError(
            RISK_RANGE,
            table=table,
            column="risk",
            rule="numeric",
            arrived=f"values {_checks.show_values(risk[bad.to_numpy()].unique())}",
            rows=_checks.show_rows(frame, bad.to_numpy(), ["case_id", "risk"]),
            n_bad=int(bad.sum()),
            hint="pass the calibrated risk as a number",
        ) from None
    bad_range = ((risk < 0) | (risk > 1) | np.isinf(risk)).to_numpy()
    if bad_range.any():
        raise SchemaError(
            RISK_RANGE,
            table=table,
            column="risk",
            rule="range",
            arrived=f"values {_checks.show_values(risk[bad_range].unique())}",
            rows=_checks.show_rows(frame, bad_range, ["case_id", "risk"]),
            n_bad=int(bad_range.sum()),
            hint="pass the calibrated risk (a probability), not a raw score",
        )
    out["risk"] = risk.to_numpy()
    out.attrs["time_kind"] = kind or "datetime"
    return out


def check_verdicts(
    verdicts: Any, cases: pd.DataFrame | None = None, *, table: str = "verdicts"
) -> pd.DataFrame:
    """Validate a verdicts frame against its contract and return a normalised copy.

    Parameters
    ----------
    verdicts : DataFrame
        With every column of :data:`VERDICT_COLUMNS`.
    cases : DataFrame, optional
        A cases frame already checked with :func:`check_cases`: every verdict must be about one
        of its cases, and times must be of the same kind.
    table : str, default "verdicts"
        The name used in error messages.

    Returns
    -------
    DataFrame
        ``case_id`` as text, ``time`` parsed, ``staff`` and ``note`` text, ``verdict`` trimmed and
        lower-cased.

    Raises
    ------
    SchemaError
        A missing column, an empty ``case_id`` or ``time``, a verdict not in :data:`VERDICTS`,
        a verdict about an unknown case, times of another kind than the cases'.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"case_id": [1], "time": ["2026-11-03"], "staff": ["kim"],
    ...                   "verdict": ["Useful"], "note": [None]})
    >>> check_verdicts(v).loc[0, ["case_id", "verdict", "note"]].tolist()
    ['1', 'useful', '']
    >>> check_verdicts(v.assign(verdict="great"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    studentprofile.errors.SchemaError: verdicts.verdict [allowed-values]: ...
    """
    frame = _checks.require_frame(verdicts, table)
    _checks.require_columns(frame, table, list(VERDICT_COLUMNS))
    frame = frame.reset_index(drop=True)
    out = frame.copy()
    out["case_id"] = _ids(frame["case_id"], table, frame)
    times, kind = _times(frame, table, ["time"], ["time"])
    out["time"] = times["time"].to_numpy()
    out["staff"] = _text(frame["staff"]).to_numpy()
    out["note"] = _text(frame["note"]).to_numpy()
    verdict = _text(frame["verdict"]).str.strip().str.lower()
    bad = ~verdict.isin(VERDICTS).to_numpy()
    if bad.any():
        raise SchemaError(
            UNKNOWN_VERDICT.format(allowed=list(VERDICTS)),
            table=table,
            column="verdict",
            rule="allowed-values",
            arrived=f"values {_checks.show_values(frame['verdict'][bad].unique())}",
            rows=_checks.show_rows(frame, bad, ["case_id", "staff", "verdict"]),
            n_bad=int(bad.sum()),
            hint="map the verdicts to the five the loop counts (free text goes in `note`)",
        )
    out["verdict"] = verdict.to_numpy()
    out.attrs["time_kind"] = kind or "datetime"
    if cases is not None and len(out):
        if len(cases) and out.attrs["time_kind"] != cases.attrs.get("time_kind", "datetime"):
            raise SchemaError(
                TIME_KINDS,
                table=table,
                column="time",
                rule="time-kind",
                arrived=f"{out.attrs['time_kind']} verdict times, "
                f"{cases.attrs.get('time_kind')} case times",
                hint="convert both to datetimes, or both to float days",
            )
        unknown = ~out["case_id"].isin(cases["case_id"]).to_numpy()
        if unknown.any():
            raise SchemaError(
                UNKNOWN_CASE,
                table=table,
                column="case_id",
                rule="unknown-case",
                arrived=f"case ids {_checks.show_values(out['case_id'][unknown].unique())} are "
                "not in the cases frame",
                rows=_checks.show_rows(frame, unknown, ["case_id", "staff", "verdict"]),
                n_bad=int(unknown.sum()),
                hint="pass the cases frame these verdicts belong to (all of it, not a filtered "
                "part)",
            )
    return out


def case_days(values: pd.Series | np.ndarray, kind: str) -> np.ndarray:
    """Return checked time values (of :func:`check_cases`) as float days (NaN for missing)."""
    s = pd.Series(values)
    if kind == "float":
        return s.astype("float64").to_numpy()
    return to_days(pd.to_datetime(s), "datetime")


def case_moment(value: Any, kind: TimeKind, key: str) -> float:
    """Return a user's date (``as_of=``) as float days, refusing one of the other kind."""
    days, got = moment_days(value, None, key=key)
    if got != kind:
        days, _ = moment_days(value, kind, key=key)  # raises the ConfigError that says why
    return days


def moment_texts(days: Any, kind: str) -> list[str]:
    """Return float days as people read them, for many values at once.

    ``2026-11-16`` (with the time, to the second, only when it is not midnight), ``day 15`` for
    float-day times, ``''`` for missing.
    """
    d = np.asarray(days, dtype="float64").reshape(-1)
    out = np.full(len(d), "", dtype=object)
    ok = np.isfinite(d)
    if kind == "float":
        out[ok] = [f"day {v:g}" for v in d[ok]]
    elif ok.any():
        ns = np.round(d[ok] * NS_PER_DAY).astype("int64").astype("datetime64[ns]")
        midnight = ns == ns.astype("datetime64[D]").astype("datetime64[ns]")
        out[ok] = np.where(midnight, np.datetime_as_string(ns, unit="D"),
                           np.datetime_as_string(ns, unit="s"))
    return [str(v) for v in out]


def moment_text(days: float, kind: str) -> str:
    """Return one moment in float days as people read them (see :func:`moment_texts`)."""
    return moment_texts([days], kind)[0]


def case_state(frame: pd.DataFrame, at: float, *, window: float = 7.0) -> pd.DataFrame:
    """Return where each case stands at a moment: the one definition of open, overdue and new.

    Parameters
    ----------
    frame : DataFrame
        From :func:`check_cases`.
    at : float
        The moment, in days.
    window : float, default 7
        Days back from ``at`` in which an opened case is *new*.

    Returns
    -------
    DataFrame
        Same index; float days ``opened``, ``due``, ``first_contact`` (NaN unless on or before
        ``at``), ``closed_at``; booleans ``started`` (opened by ``at``), ``closed`` (status
        ``closed`` and not closed after ``at``), ``contacted``, ``overdue`` (started, open, not
        contacted, due before ``at``) and ``new`` (started, open, not overdue, opened in the
        ``window`` days up to ``at``).
    """
    kind = frame.attrs.get("time_kind", "datetime")
    opened = case_days(frame["opened_at"], kind)
    due = case_days(frame["due_first_contact"], kind)
    first = case_days(frame["first_contact_at"], kind)
    closed_at = case_days(frame["closed_at"], kind)
    started = opened <= at
    closed = (frame["status"] == CLOSED).to_numpy() & ~(closed_at > at)
    contacted = first <= at
    overdue = started & ~closed & ~contacted & (due < at)
    new = started & ~closed & ~overdue & (opened > at - window)
    return pd.DataFrame({
        "opened": opened, "due": due, "first_contact": np.where(contacted, first, np.nan),
        "closed_at": closed_at, "started": started, "closed": closed, "contacted": contacted,
        "overdue": overdue, "new": new,
    }, index=frame.index)
