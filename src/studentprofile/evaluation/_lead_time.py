"""Lead time: how many days before the outcome a student was first flagged.

For every student who reached the outcome (at time ``T``) and was scored at least once at an
as-of date ``<= T``, the *first flag* is the earliest as-of date ``<= T`` at which the student
was flagged (score ``>= threshold``, or among the top ``k`` scores of that as-of date). The lead
time is ``T - first flag`` in days; a student never flagged by ``T`` has no lead time (missed).
Shares are over the students who were scored before their outcome (the ones the system had a
chance to flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs
from studentprofile.tables import _checks
from studentprofile.tables._event_tables import to_days

__all__ = ["LeadTime", "flags_from_scores", "lead_time", "long_scores"]

AHEAD_INVALID = "ahead must be a list of numbers of days >= 0"
TIME_KINDS_DIFFER = "`{a}` and `{b}` must use the same kind of time"
#: Tie rules that give each student a yes/no flag (an expected value would not).
FLAG_TIES = (_inputs.DEFAULT_TIES, "best")
NONE_REACHED = "no student reached the outcome: there is no lead time to measure"
NONE_SCORED = (
    "none of the {n:,} student(s) who reached the outcome was scored at or before it: there is "
    "no lead time to measure"
)
NONE_FLAGGED = (
    "none of the {n:,} student(s) who reached the outcome after being scored was flagged "
    "({rule}) before it: share flagged 0, no lead time"
)


def _time_column(frame: pd.DataFrame, table: str, column: str) -> tuple[np.ndarray, str, Any]:
    """Parse a time column to float days; return (days, kind, original values)."""
    parsed = _checks.times(frame[column], table, column, frame)
    values = parsed.values
    if parsed.aware:
        values = _checks.to_naive_utc(values)
    null = values.isna().to_numpy()
    if null.any():
        raise SchemaError(
            f"`{column}` must not be empty",
            table=table,
            column=column,
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty value(s)",
            rows=_checks.show_rows(frame, null, ["student_id", column]),
            n_bad=int(null.sum()),
            hint=f"fill in `{column}` or drop those rows",
        )
    kind = parsed.kind or "float"
    if kind == "float":
        values = values.astype("float64")
    return to_days(values, kind), kind, values.to_numpy()


@_inputs.renamed_keyword("scores", "score_frame")
def long_scores(
    score_frame: Any, *, table: str = "scores", column: str = "score"
) -> pd.DataFrame:
    """Validate long-format scores: one row per (student, as-of date).

    Parameters
    ----------
    score_frame : DataFrame or Series
        A DataFrame with ``student_id``, ``as_of`` and ``column``, or a Series indexed by
        (``student_id``, ``as_of``) (as ``RiskModel.predict_proba`` on a feature matrix gives).
        ``scores=`` is the deprecated old name of this argument.
    table : str
        Name used in error messages.
    column : str
        The score column.

    Returns
    -------
    DataFrame
        Columns ``student_id``, ``as_of`` (canonical time), ``score`` (float64), ``_days``
        (``as_of`` in float days), fresh ``RangeIndex``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series([0.2, 0.9], name="score", index=pd.MultiIndex.from_tuples(
    ...     [("ana", 7.0), ("ben", 7.0)], names=["student_id", "as_of"]))
    >>> long_scores(s)[["student_id", "as_of", "score"]].to_dict("list")
    {'student_id': ['ana', 'ben'], 'as_of': [7.0, 7.0], 'score': [0.2, 0.9]}
    """
    if isinstance(score_frame, pd.Series):
        names = list(score_frame.index.names)
        if names[:2] != ["student_id", "as_of"] or score_frame.index.nlevels != 2:
            raise SchemaError(
                "a Series of scores must be indexed by (student_id, as_of)",
                table=table,
                rule="index",
                arrived=f"index levels {names!r}",
                hint="pass a DataFrame with student_id, as_of and score columns",
            )
        frame = score_frame.rename(column).reset_index()
    else:
        frame = _checks.require_frame(score_frame, table)
    _checks.require_columns(frame, table, ["student_id", "as_of", column])
    ids = _checks.student_ids(frame["student_id"], table, frame)
    days, kind, as_of = _time_column(frame, table, "as_of")
    values = _inputs.scores(frame[column], f"{table}.{column}")
    out = pd.DataFrame({"student_id": ids.to_numpy(), "as_of": as_of, "score": values})
    out["_days"] = days
    out.attrs["time_kind"] = kind
    return out


def _outcome_times(outcomes: Any, outcome: str | Sequence[str] | None) -> pd.DataFrame:
    frame = _checks.require_frame(outcomes, "outcomes")
    _checks.require_columns(frame, "outcomes", ["student_id", "time"])
    if outcome is not None:
        if "outcome" not in frame.columns:
            raise SchemaError(
                "outcome= filters on an `outcome` column, which the table lacks",
                table="outcomes",
                column="outcome",
                rule="required-column",
                arrived=f"columns {list(frame.columns)!r}",
                hint="drop outcome= or pass tables.outcomes",
            )
        wanted = [outcome] if isinstance(outcome, str) else list(outcome)
        frame = frame[frame["outcome"].astype(str).isin(wanted).to_numpy()]
    ids = _checks.student_ids(frame["student_id"], "outcomes", frame)
    days, kind, values = _time_column(frame, "outcomes", "time")
    out = pd.DataFrame({"student_id": ids.to_numpy(), "time": values, "_days": days})
    # the earliest time per student, in the order the students arrived
    out = out.sort_values("_days", kind="mergesort").drop_duplicates("student_id").sort_index()
    out.attrs["time_kind"] = kind
    return out.reset_index(drop=True)


def _id_kind(ids: pd.Series) -> str:
    return "int" if ids.dtype.kind in "iu" else "str"


def _same_kinds(a: pd.DataFrame, b: pd.DataFrame, a_name: str, b_name: str) -> None:
    if len(a) and len(b):
        if a.attrs["time_kind"] != b.attrs["time_kind"]:
            raise SchemaError(
                TIME_KINDS_DIFFER.format(a=a_name, b=b_name),
                table=b_name,
                rule="time-kind",
                arrived=f"{a.attrs['time_kind']} times in {a_name}, {b.attrs['time_kind']} in "
                f"{b_name}",
                hint="convert both to datetimes, or both to float days",
            )
        if _id_kind(a["student_id"]) != _id_kind(b["student_id"]):
            raise SchemaError(
                "`student_id` must have the same type in both tables",
                table=b_name,
                column="student_id",
                rule="id-type",
                arrived=f"{_id_kind(a['student_id'])} identifiers in {a_name}, "
                f"{_id_kind(b['student_id'])} in {b_name}",
                hint="convert one of them, e.g. .astype(str)",
            )


@_inputs.renamed_keyword("scores", "score_frame")
def flags_from_scores(
    score_frame: pd.DataFrame,
    *,
    threshold: Any = None,
    k: Any = None,
    ties: Literal["worst", "best"] = _inputs.DEFAULT_TIES,
) -> np.ndarray:
    """Which rows of validated long-format scores are flagged.

    Parameters
    ----------
    score_frame : DataFrame
        Long-format scores from :func:`long_scores` (``scores=`` is the deprecated old name
        of this argument).
    threshold : float, optional
        Flag when ``score >= threshold``.
    k : float or int, optional
        Flag the top ``k`` (fraction or count) of each as-of date's scores.
    ties : {"worst", "best"}, default "worst"
        With ``k``: students tied at the cut are flagged only if all of them fit (``"worst"``)
        or always (``"best"``, which may flag more than ``k``).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import pandas as pd
    >>> sc = long_scores(pd.DataFrame({"student_id": ["a", "b", "c", "a"],
    ...                                "as_of": [7.0, 7.0, 7.0, 14.0],
    ...                                "score": [0.9, 0.5, 0.1, 0.3]}))
    >>> flags_from_scores(sc, k=1).tolist()
    [True, False, False, True]
    >>> flags_from_scores(sc, threshold=0.4).tolist()
    [True, True, False, False]
    """
    if (threshold is None) == (k is None):
        raise ConfigError(
            _inputs.K_AND_THRESHOLD,
            key="k" if k is not None else "threshold",
            arrived=f"k={k!r}, threshold={threshold!r}",
            hint="flag by a risk threshold (threshold=0.5) or by a caseload (k=0.1)",
        )
    score = score_frame["score"].to_numpy()
    if threshold is not None:
        return score >= _inputs.threshold(threshold)
    rule = _inputs.ties(ties, FLAG_TIES)
    if not len(score_frame):
        return np.zeros(0, dtype=bool)
    _inputs.resolve_k(k, 1)  # validate the type of k once
    date = score_frame["_days"]
    n_by_date = date.map(date.value_counts()).to_numpy()
    if isinstance(k, float | np.floating):
        k_d = np.floor(float(k) * n_by_date + 1e-9)
    else:
        k_d = np.minimum(int(k), n_by_date)
    grouped = pd.Series(score).groupby(date.to_numpy())
    method = "max" if rule == "worst" else "min"
    rank = grouped.rank(method=method, ascending=False).to_numpy()
    return rank <= k_d


@dataclass(frozen=True)
class LeadTime:
    """Lead times of the students who reached the outcome (see :func:`lead_time`).

    Attributes
    ----------
    per_student : DataFrame
        One row per student who reached the outcome: ``student_id``, ``outcome_time``,
        ``scored`` (had an as-of date at or before it), ``first_flag`` (as-of date or missing),
        ``lead_days`` (``nan`` when not flagged in time).
    ahead : tuple of float
        The day counts of :attr:`share_ahead`.
    rule : str
        How students were flagged, in words.
    notes : tuple of str
        Things a reader should know, e.g. that nobody reached the outcome or was flagged
        before it (then the shares are 0 or ``nan`` and there is no lead time: an empty result,
        not an error).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"student_id": [1, 1, 2], "as_of": [0.0, 7.0, 0.0],
    ...                        "score": [0.2, 0.9, 0.1]})
    >>> lt = lead_time(scores, pd.DataFrame({"student_id": [1, 2], "time": [10.0, 3.0]}),
    ...                threshold=0.5, ahead=[3])
    >>> lt.summary()["share_flagged"], lt.summary()["share_flagged_3d_ahead"]
    (0.5, 0.5)
    """

    per_student: pd.DataFrame
    ahead: tuple[float, ...]
    rule: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_reached(self) -> int:
        """Students who reached the outcome."""
        return len(self.per_student)

    @property
    def n_scored(self) -> int:
        """Students who reached the outcome and were scored at or before it."""
        return int(self.per_student["scored"].sum())

    @property
    def n_flagged(self) -> int:
        """Students flagged at or before their outcome."""
        return int(self.per_student["lead_days"].notna().sum())

    @property
    def lead_days(self) -> np.ndarray:
        """Lead times in days of the flagged students."""
        lead = self.per_student["lead_days"].to_numpy(dtype=np.float64)
        return lead[~np.isnan(lead)]

    @property
    def share_flagged(self) -> float:
        """Share of scored students flagged at or before their outcome."""
        return self.n_flagged / self.n_scored if self.n_scored else float("nan")

    @property
    def share_ahead(self) -> pd.Series:
        """Share of scored students first flagged at least N days before their outcome."""
        lead = self.lead_days
        values = [
            float((lead >= n).sum() / self.n_scored) if self.n_scored else float("nan")
            for n in self.ahead
        ]
        return pd.Series(values, index=pd.Index(self.ahead, name="days"), name="share_ahead")

    def summary(self) -> dict[str, Any]:
        """Headline numbers: counts, share flagged, median and mean lead, shares ahead."""
        lead = self.lead_days
        out: dict[str, Any] = {
            "rule": self.rule,
            "n_reached": self.n_reached,
            "n_scored": self.n_scored,
            "n_flagged": self.n_flagged,
            "share_flagged": self.share_flagged,
            "median_lead_days": float(np.median(lead)) if len(lead) else float("nan"),
            "mean_lead_days": float(np.mean(lead)) if len(lead) else float("nan"),
        }
        for n, share in self.share_ahead.items():
            out[f"share_flagged_{n:g}d_ahead"] = share
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return :attr:`per_student` (a copy)."""
        return self.per_student.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return the summary, the lead-time distribution and the notes, JSON-ready.

        Undefined numbers (no student flagged) become ``None``; see ``to_json_safe``.
        """
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {
                "summary": self.summary(),
                "lead_days": self.lead_days.tolist(),
                "notes": list(self.notes),
            }
        )

    def __repr__(self) -> str:
        s = self.summary()
        median = s["median_lead_days"]
        ahead = f"median {median:.1f} days ahead" if np.isfinite(median) else "no lead time"
        return (
            f"LeadTime({self.rule}: {s['n_flagged']:,} of {s['n_scored']:,} students flagged "
            f"before the outcome, {ahead})"
        )


def _check_ahead(ahead: Any) -> tuple[float, ...]:
    values = [ahead] if isinstance(ahead, int | float | np.integer | np.floating) else ahead
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(AHEAD_INVALID, key="ahead", arrived=repr(ahead)) from exc
    if any(isinstance(v, bool) for v in values) or any(not np.isfinite(v) or v < 0 for v in out):
        raise ConfigError(AHEAD_INVALID, key="ahead", arrived=repr(ahead))
    return out


def _empty_notes(per: pd.DataFrame, rule: str) -> list[str]:
    """Say plainly when there is nothing to measure (the numbers are then nan, not a crash)."""
    n_reached = len(per)
    n_scored = int(per["scored"].sum())
    n_flagged = int(per["lead_days"].notna().sum())
    if n_reached == 0:
        return [NONE_REACHED]
    if n_scored == 0:
        return [NONE_SCORED.format(n=n_reached)]
    if n_flagged == 0:
        return [NONE_FLAGGED.format(n=n_scored, rule=rule)]
    return []


@_inputs.renamed_keyword("scores", "score_frame")
def lead_time(
    score_frame: Any,
    outcomes: Any,
    *,
    threshold: float | None = None,
    k: float | int | None = None,
    ties: Literal["worst", "best"] = _inputs.DEFAULT_TIES,
    ahead: Sequence[float] = (7, 14, 30, 60),
    outcome: str | Sequence[str] | None = None,
) -> LeadTime:
    """How many days before the outcome each student who reached it was first flagged.

    Parameters
    ----------
    score_frame : DataFrame or Series
        Long format, one row per (student, as-of date): columns ``student_id``, ``as_of``,
        ``score``, or a Series indexed by (``student_id``, ``as_of``). ``scores=`` is the
        deprecated old name of this argument.
    outcomes : DataFrame
        ``student_id`` and ``time`` of the students who reached the outcome (the earliest time
        counts), e.g. ``tables.outcomes`` with ``outcome="withdrawn"``.
    threshold : float, optional
        Flag when ``score >= threshold``.
    k : float or int, optional
        Flag the top ``k`` of each as-of date (a fraction or a count). Exactly one of ``k`` and
        ``threshold``.
    ties : {"worst", "best"}, default "worst"
        With ``k``: flag students tied at the cut only when all fit (``"worst"``, never more
        than ``k``; the package's one default, as in :func:`precision_at_k`), or always
        (``"best"``).
    ahead : sequence of float, default (7, 14, 30, 60)
        Report the share flagged at least this many days ahead.
    outcome : str or list of str, optional
        Keep only these values of ``outcomes["outcome"]``.

    Returns
    -------
    LeadTime

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "student_id": ["ana", "ana", "ana", "ben", "ben", "cai"],
    ...     "as_of": [0.0, 7.0, 14.0, 0.0, 7.0, 0.0],
    ...     "score": [0.2, 0.7, 0.9, 0.1, 0.2, 0.8],
    ... })
    >>> outcomes = pd.DataFrame({"student_id": ["ana", "ben"], "time": [30.0, 10.0]})
    >>> lt = lead_time(scores, outcomes, threshold=0.5, ahead=[14, 30])
    >>> lt.per_student[["student_id", "first_flag", "lead_days"]]
      student_id  first_flag  lead_days
    0        ana         7.0       23.0
    1        ben         NaN        NaN
    >>> lt.share_ahead.tolist()
    [0.5, 0.0]
    """
    days_ahead = _check_ahead(ahead)
    sc = long_scores(score_frame)
    oc = _outcome_times(outcomes, outcome)
    _same_kinds(sc, oc, "scores", "outcomes")
    flagged = flags_from_scores(sc, threshold=threshold, k=k, ties=ties)
    if threshold is not None:
        rule = f"score >= {float(threshold):g}"
    else:
        rule = f"top {_inputs.k_label(k)} of each as-of date (ties: {ties})"
    t_out = oc.set_index("student_id")["_days"]
    joined = sc.assign(_flag=flagged, _t=sc["student_id"].map(t_out).to_numpy())
    joined = joined[joined["_t"].notna().to_numpy() & (joined["_days"] <= joined["_t"]).to_numpy()]
    first_scored = joined.groupby("student_id", sort=False)["_days"].min()
    # the earliest flagged row of each student (an empty frame when nobody was flagged: the
    # reindex below then gives missing values of the right kind, NaT or nan)
    hits = joined[joined["_flag"].to_numpy()]
    first = (
        hits.sort_values("_days", kind="mergesort")
        .drop_duplicates("student_id")
        .set_index("student_id")
    )
    ids = pd.Index(oc["student_id"])
    per = pd.DataFrame(
        {
            "student_id": oc["student_id"].to_numpy(),
            "outcome_time": oc["time"].to_numpy(),
            "scored": ids.isin(first_scored.index),
            "first_flag": first["as_of"].reindex(ids).to_numpy(),
            "lead_days": oc["_days"].to_numpy(dtype=np.float64)
            - first["_days"].reindex(ids).to_numpy(dtype=np.float64),
        }
    )
    notes = _empty_notes(per, rule)
    n_unscored = int((~per["scored"]).sum())
    if n_unscored and n_unscored < len(per):
        notes.append(
            f"{n_unscored:,} student(s) reached the outcome with no score at or before it; "
            "they are left out of the shares"
        )
    return LeadTime(per_student=per, ahead=days_ahead, rule=rule, notes=tuple(notes))
