"""Staff verdicts on early-warning cases: judged precision, verdict rates, time to first contact.

The closed loop's evaluation reads two frames (the contracts of ``warning``'s case store):

* **cases** -- one row per case: :data:`CASE_COLUMNS` (``case_id``, ``student_id``, ``as_of``,
  ``opened_at``, ``tier``, ``risk``, ``model_version``, ``reason_families`` and
  ``reason_codes`` as ``;``-joined text, ``owner``, ``unit``, ``role``, ``status``,
  ``due_first_contact``, ``first_contact_at``, ``closed_at``);
* **verdicts** -- one row per verdict given by a member of staff: :data:`VERDICT_COLUMNS`
  (``case_id``, ``time``, ``staff``, ``verdict``, ``note``) with ``verdict`` one of
  :data:`VERDICTS`.

:func:`judged_outcomes` turns them into verdict counts and rates per tier, reason family and
model version, *judged precision* (useful / judged) beside the statistical precision when an
outcomes table is given, and time to first contact and overdue cases per advisor and per unit.

This module also holds the one validation of those two frames (:func:`check_cases`,
:func:`check_verdicts`), which ``warning``'s notifiers and weekly site use too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.evaluation._lead_time import _outcome_times
from studentprofile.evaluation._outcomes import _wilson
from studentprofile.tables import _checks
from studentprofile.tables._time import NS_PER_DAY, TimeKind, as_days, moment_days, to_days

__all__ = [
    "CASE_COLUMNS",
    "CASE_TIME_COLUMNS",
    "JUDGED_PRECISION",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "JudgedOutcomes",
    "check_cases",
    "check_verdicts",
    "judged_outcomes",
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
#: What judged precision means (said in every result).
JUDGED_PRECISION = (
    "judged precision = cases judged 'useful' / cases with a verdict; a case's verdict is the "
    "latest one given (by time) up to the evaluation date"
)

_Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval

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


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class JudgedOutcomes:
    """Staff verdicts and contact times over a set of cases (see :func:`judged_outcomes`).

    Attributes
    ----------
    overall : DataFrame
        One row: the verdict table over all cases.
    by_tier, by_reason_family, by_model_version : DataFrame
        One row per tier / reason family / model version: ``cases``, ``judged``, ``coverage``
        (judged / cases), one count and one rate (``rate_<verdict>``, of judged) per verdict,
        ``judged_precision`` with its Wilson 95% interval (``judged_precision_ci_low``,
        ``_ci_high``); with an outcomes table also ``observable`` (cases whose horizon has
        passed), ``with_outcome`` and ``statistical_precision`` with its interval. A case with
        several reason families counts once in each; tiers are ordered by mean risk, riskiest
        first.
    contact_by_advisor, contact_by_unit : DataFrame
        One row per owner / unit: ``cases``, ``contacted``, ``median_days_to_contact``,
        ``p90_days_to_contact``, ``contacted_late`` (after the due date), ``overdue`` (open, not
        contacted, past due at the evaluation date), ``overdue_rate``.
    params : dict
        The evaluation date, the horizon, the outcome filter.
    notes : tuple of str
        Cases or verdicts left out, and why; the definition of judged precision.
    """

    overall: pd.DataFrame
    by_tier: pd.DataFrame
    by_reason_family: pd.DataFrame
    by_model_version: pd.DataFrame
    contact_by_advisor: pd.DataFrame
    contact_by_unit: pd.DataFrame
    params: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)

    _FRAMES = ("overall", "by_tier", "by_reason_family", "by_model_version",
               "contact_by_advisor", "contact_by_unit")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary of every table, the parameters and the notes."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {**{name: getattr(self, name) for name in self._FRAMES},
             "definition": JUDGED_PRECISION, "params": self.params, "notes": list(self.notes)}
        )

    def __repr__(self) -> str:
        row = self.overall.iloc[0]
        jp = row["judged_precision"]
        jp_text = "undefined" if pd.isna(jp) else f"{jp:.3f}"
        return (
            f"JudgedOutcomes({int(row['cases'])} cases, {int(row['judged'])} judged, "
            f"judged precision {jp_text}, {int(self.contact_by_advisor['overdue'].sum())} "
            "overdue)"
        )

    def _repr_html_(self) -> str:
        parts = [f"<p>{html.escape(JUDGED_PRECISION)}</p>"]
        for name in self._FRAMES:
            frame = getattr(self, name)
            parts.append(f"<h4>{html.escape(name.replace('_', ' '))}</h4>")
            parts.append(frame.to_html(float_format=lambda v: f"{v:.3f}", na_rep="–",
                                       index=False, escape=True))
        parts.extend(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return "\n".join(parts)


def _verdict_table(
    cases: pd.DataFrame, key: str | None, explode: bool = False, with_outcomes: bool = False
) -> pd.DataFrame:
    frame = cases
    if explode and key is not None:
        frame = frame.assign(**{key: frame[key].str.split(";")}).explode(key)
        frame[key] = frame[key].str.strip()
        frame = frame[frame[key] != ""]
    by = frame[key] if key is not None else pd.Series("all", index=frame.index)
    judged = frame["verdict"].isin(VERDICTS)
    grouped = pd.DataFrame({"_g": by.to_numpy(), "judged": judged.to_numpy()})
    for v in VERDICTS:
        grouped[v] = (frame["verdict"] == v).to_numpy()
    if with_outcomes:
        grouped["observable"] = frame["_observable"].to_numpy()
        grouped["with_outcome"] = (frame["_observable"] & frame["_outcome"]).to_numpy()
    g = grouped.groupby("_g", sort=True)
    table = g.sum()
    table.insert(0, "cases", g.size())
    table = table.astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        table.insert(2, "coverage", table["judged"] / table["cases"])
        for v in VERDICTS:
            table[f"rate_{v}"] = table[v] / table["judged"].where(table["judged"] > 0)
        table["judged_precision"] = table["useful"] / table["judged"].where(table["judged"] > 0)
        low, high = _wilson(table["useful"].to_numpy(float), table["judged"].to_numpy(float),
                            _Z95)
        table["judged_precision_ci_low"], table["judged_precision_ci_high"] = low, high
        if with_outcomes:
            table["statistical_precision"] = table["with_outcome"] / table["observable"].where(
                table["observable"] > 0)
            low, high = _wilson(table["with_outcome"].to_numpy(float),
                                table["observable"].to_numpy(float), _Z95)
            table["statistical_precision_ci_low"] = low
            table["statistical_precision_ci_high"] = high
    if key == "tier":  # the riskiest tier first
        mean_risk = pd.Series(frame["risk"].to_numpy(), index=by.to_numpy()).groupby(level=0).mean()
        table = table.loc[mean_risk.sort_values(ascending=False, kind="mergesort").index]
    table.index.name = key or "scope"
    return table.reset_index()


def _contact_table(cases: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = cases.assign(_k=cases[key].replace("", "(unassigned)" if key == "owner"
                                                 else "(none)"))
    g = frame.groupby("_k", sort=True)
    table = pd.DataFrame({
        "cases": g.size(),
        "contacted": g["_contacted"].sum(),
        "median_days_to_contact": g["_to_contact"].median(),
        "p90_days_to_contact": g["_to_contact"].quantile(0.9),
        "contacted_late": g["_late"].sum(),
        "overdue": g["_overdue"].sum(),
    })
    for col in ("contacted", "contacted_late", "overdue"):
        table[col] = table[col].astype("int64")
    table["overdue_rate"] = table["overdue"] / table["cases"]
    table.index.name = "advisor" if key == "owner" else key
    return table.reset_index()


def judged_outcomes(
    cases: Any,
    verdicts: Any,
    *,
    as_of: Any = None,
    outcomes: Any = None,
    horizon: Any = 90.0,
    outcome: str | Sequence[str] | None = None,
) -> JudgedOutcomes:
    """Evaluate the closed loop from the staff's verdicts and the cases' contact times.

    Parameters
    ----------
    cases : DataFrame
        The cases frame (:data:`CASE_COLUMNS`). Cases opened after ``as_of`` are left out.
    verdicts : DataFrame
        The verdicts frame (:data:`VERDICT_COLUMNS`). Verdicts given after ``as_of`` are left out;
        a case's verdict is its latest one (by time; the last row on a tie).
    as_of : datetime-like or float, optional
        The evaluation date; default the latest time in either frame.
    outcomes : DataFrame, optional
        ``student_id``, ``time`` (and ``outcome``): the evaluation module's outcomes table. When
        given, each table gets the statistical precision beside judged precision: the share of
        cases whose student had an outcome within ``horizon`` days after the case's ``as_of``,
        among cases whose horizon ended by the evaluation date (``observable``).
    horizon : float or Timedelta, default 90
        Days after a case's ``as_of`` in which an outcome counts.
    outcome : str or sequence of str, optional
        Count only these outcomes (needs an ``outcome`` column).

    Returns
    -------
    JudgedOutcomes
        Frames per tier, reason family, model version, advisor and unit; ``to_dict()`` and an
        HTML view.

    Raises
    ------
    SchemaError
        Either frame breaks its contract (see :func:`check_cases`, :func:`check_verdicts`).
    ConfigError
        ``as_of`` or ``horizon`` is not a date / duration of the frames' kind.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({c: [None, None] for c in CASE_COLUMNS}).assign(
    ...     case_id=["c1", "c2"], student_id=["s1", "s2"], as_of="2026-11-02",
    ...     opened_at="2026-11-02", due_first_contact="2026-11-09", tier=["high", "medium"],
    ...     risk=[0.8, 0.4], model_version="v1", reason_families=["academic;behavioral",
    ...     "academic"], owner="kim", unit="North", status=["closed", "open"],
    ...     first_contact_at=["2026-11-04", None])
    >>> verdicts = pd.DataFrame({"case_id": ["c1"], "time": ["2026-11-05"], "staff": ["kim"],
    ...                          "verdict": ["useful"], "note": [""]})
    >>> result = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    >>> result.by_tier[["tier", "cases", "judged", "judged_precision"]]
         tier  cases  judged  judged_precision
    0    high      1       1               1.0
    1  medium      1       0               NaN
    >>> result.contact_by_advisor[["advisor", "contacted", "median_days_to_contact", "overdue"]]
      advisor  contacted  median_days_to_contact  overdue
    0     kim          1                     2.0        1
    """
    frame = check_cases(cases)
    judged = check_verdicts(verdicts, frame)
    kind: TimeKind = frame.attrs["time_kind"]
    notes: list[str] = [JUDGED_PRECISION]
    if as_of is None:
        candidates = [case_days(frame[c], kind) for c in CASE_TIME_COLUMNS]
        candidates.append(case_days(judged["time"], kind) if len(judged) else np.array([]))
        finite = np.concatenate([c[np.isfinite(c)] for c in candidates])
        if not len(finite):
            raise SchemaError(
                "there is nothing to evaluate: the cases frame is empty",
                table="cases",
                rule="not-empty",
                arrived="0 rows",
                hint="pass the cases of the period to evaluate",
            )
        at = float(finite.max())
    else:
        at = case_moment(as_of, kind, "as_of")
    horizon_days = float(as_days(horizon, key="horizon"))

    later = case_days(frame["opened_at"], kind) > at
    if later.any():
        notes.append(f"{int(later.sum()):,} case(s) opened after the evaluation date left out")
    frame = frame[~later].reset_index(drop=True)
    vt = case_days(judged["time"], kind) if len(judged) else np.array([], dtype=float)
    late_verdicts = vt > at
    if late_verdicts.any():
        notes.append(f"{int(late_verdicts.sum()):,} verdict(s) given after the evaluation date "
                     "left out")
    judged = judged[~late_verdicts].assign(_t=vt[~late_verdicts])
    latest = (judged.reset_index().sort_values(["_t", "index"], kind="mergesort")
              .drop_duplicates("case_id", keep="last"))
    last_verdict = dict(zip(latest["case_id"], latest["verdict"], strict=True))
    frame["verdict"] = [last_verdict.get(c, "") for c in frame["case_id"]]

    # contact times (a contact or closing recorded after the evaluation date did not happen yet)
    state = case_state(frame, at)
    frame["_contacted"] = state["contacted"].to_numpy()
    frame["_to_contact"] = (state["first_contact"] - state["opened"]).to_numpy()
    frame["_late"] = (state["contacted"] & (state["first_contact"] > state["due"])).to_numpy()
    frame["_overdue"] = state["overdue"].to_numpy()

    with_outcomes = outcomes is not None
    params: dict[str, Any] = {
        "as_of": moment_text(at, kind), "time_kind": kind,
        "horizon_days": horizon_days if with_outcomes else None,
        "outcome": outcome,
    }
    if with_outcomes:
        out = _outcome_times(outcomes, outcome)
        out_kind = out.attrs["time_kind"]
        if len(out) and out_kind != kind:
            raise SchemaError(
                TIME_KINDS,
                table="outcomes",
                column="time",
                rule="time-kind",
                arrived=f"{out_kind} outcome times, {kind} case times",
                hint="convert both to datetimes, or both to float days",
            )
        case_start = case_days(frame["as_of"], kind)
        # every outcome (not only the first) may fall in a case's window
        every = _checks.require_frame(outcomes, "outcomes")
        if outcome is not None:
            wanted = [outcome] if isinstance(outcome, str) else list(outcome)
            every = every[every["outcome"].astype(str).isin(wanted).to_numpy()]
        ev = pd.DataFrame({
            "sid": every["student_id"].map(str).to_numpy(),
            "t": case_days(_checks.time_column(every["time"], table="outcomes", column="time",
                                           frame=every).values, kind) if len(every)
            else np.array([], dtype=float),
        })
        ev = ev[ev["t"] <= at]
        pairs = pd.DataFrame({"row": np.arange(len(frame)),
                              "sid": frame["student_id"].map(str).to_numpy(),
                              "start": case_start}).merge(ev, on="sid", how="inner")
        hit_rows = pairs.loc[(pairs["t"] > pairs["start"])
                             & (pairs["t"] <= pairs["start"] + horizon_days), "row"]
        frame["_outcome"] = np.isin(np.arange(len(frame)), hit_rows.to_numpy())
        frame["_observable"] = case_start + horizon_days <= at
        unobservable = int((~frame["_observable"]).sum())
        if unobservable:
            notes.append(f"{unobservable:,} case(s) whose {horizon_days:g}-day horizon has not "
                         "ended are left out of the statistical precision")

    return JudgedOutcomes(
        overall=_verdict_table(frame, None, with_outcomes=with_outcomes),
        by_tier=_verdict_table(frame, "tier", with_outcomes=with_outcomes),
        by_reason_family=_verdict_table(frame, "reason_families", explode=True,
                                        with_outcomes=with_outcomes)
        .rename(columns={"reason_families": "reason_family"}),
        by_model_version=_verdict_table(frame, "model_version", with_outcomes=with_outcomes),
        contact_by_advisor=_contact_table(frame, "owner"),
        contact_by_unit=_contact_table(frame, "unit"),
        params=params,
        notes=tuple(notes),
    )
