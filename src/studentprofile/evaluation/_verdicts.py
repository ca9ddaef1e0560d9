"""Staff verdicts on early-warning cases: judged precision, verdict rates, time to first contact.

:func:`judged_outcomes` reads the case store's two frames (:mod:`._case_frames`: cases and
staff verdicts) and returns verdict counts and rates per tier, reason family and model version,
*judged precision* (useful / judged) beside the statistical precision when an outcomes table is
given, and time to first contact and overdue cases per advisor and per unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.evaluation._case_frames import (
    CASE_TIME_COLUMNS,
    TIME_KINDS,
    VERDICTS,
    case_days,
    case_moment,
    case_state,
    check_cases,
    check_verdicts,
    moment_text,
)
from studentprofile.evaluation._lead_time import _outcome_times
from studentprofile.evaluation._outcomes import _wilson
from studentprofile.tables import _checks
from studentprofile.tables._time import TimeKind, as_days

__all__ = ["JUDGED_PRECISION", "JudgedOutcomes", "judged_outcomes"]

#: What judged precision means (said in every result).
JUDGED_PRECISION = (
    "judged precision = cases judged 'useful' / cases with a verdict; a case's verdict is the "
    "latest one given (by time) up to the evaluation date"
)

_Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


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
        from studentprofile import _html

        parts = [_html.note(JUDGED_PRECISION)]
        for name in self._FRAMES:
            parts.append(_html.heading(name.replace("_", " ")))
            parts.append(_html.table(getattr(self, name), index=False, max_rows=_html.MAX_ROWS,
                                     max_cols=_html.MAX_COLS))
        parts.extend(_html.note(n) for n in self.notes)
        return _html.display(repr(self), parts)


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
    if key is None:  # the overall table has its one row, also over no cases
        table = table.reindex(["all"], fill_value=0)
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
    >>> from studentprofile.evaluation import CASE_COLUMNS
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
