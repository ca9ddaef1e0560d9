"""Intervention outcomes: what happened after advisors acted on the warnings.

Three levels:

* per student -- :func:`contact_trajectories`: a score or feature before and after first contact;
* per platform -- :func:`platform_outcomes`: time from alert to first contact, share of flagged
  students reached, caseload use per staff member;
* per institution -- :func:`term_outcomes`: pass and retention rates per term against the term
  before.

And :func:`contact_comparison`: outcomes of contacted vs not-contacted students within the same
risk band. It is **observational, not causal**: advisors chose whom to contact, and whatever
guided that choice may also drive the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact, norm

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation._lead_time import (
    _outcome_times,
    _same_kinds,
    _time_column,
    long_scores,
)
from studentprofile.tables import _checks
from studentprofile.tables._checks import show_values
from studentprofile.tables._time import as_days, moment_days

__all__ = [
    "OBSERVATIONAL_CAVEAT",
    "ContactComparison",
    "InterventionOutcomes",
    "PlatformOutcomes",
    "Trajectories",
    "contact_comparison",
    "contact_trajectories",
    "platform_outcomes",
    "term_outcomes",
]

#: The label every contacted-vs-not comparison carries, in its text, HTML and dictionary.
OBSERVATIONAL_CAVEAT = (
    "Observational comparison, not a causal estimate. Students were not assigned to contact at "
    "random: advisors chose whom to contact, and whatever guided that choice (what they knew "
    "beyond the risk score, how reachable a student was, their workload) may also affect the "
    "outcome. Comparing within the same risk band removes differences in the risk score only. "
    "A difference here may come from who was contacted; it does not show that contact changed "
    "the outcome. A causal answer needs a design for it, e.g. randomising the order of contact "
    "within a band."
)

INTERVENTION_COLUMNS: tuple[str, ...] = ("student_id", "time", "action", "staff")


def _interventions(interventions: Any, action: str | Sequence[str] | None) -> pd.DataFrame:
    frame = _checks.require_frame(interventions, "interventions")
    _checks.require_columns(frame, "interventions", list(INTERVENTION_COLUMNS))
    if action is not None:
        wanted = [action] if isinstance(action, str) else list(action)
        frame = frame[frame["action"].astype(str).isin(wanted).to_numpy()]
    ids = _checks.student_ids(frame["student_id"], "interventions", frame)
    days, kind, values = _time_column(frame, "interventions", "time")
    out = pd.DataFrame(
        {
            "student_id": ids.to_numpy(),
            "time": values,
            "action": frame["action"].astype(object).to_numpy(),
            "staff": frame["staff"].astype(object).to_numpy(),
            "_days": days,
        }
    )
    out.attrs["time_kind"] = kind
    return out


def _alerts(alerts: Any, *, need_score: bool = False) -> pd.DataFrame:
    frame = _checks.require_frame(alerts, "alerts")
    cols = ["student_id", "time"] + (["score"] if need_score else [])
    _checks.require_columns(frame, "alerts", cols)
    ids = _checks.student_ids(frame["student_id"], "alerts", frame)
    days, kind, values = _time_column(frame, "alerts", "time")
    out = pd.DataFrame({"student_id": ids.to_numpy(), "time": values, "_days": days})
    if need_score:
        from studentprofile.evaluation._inputs import scores as check_scores

        out["score"] = check_scores(frame["score"], "alerts.score")
    out.attrs["time_kind"] = kind
    return out


def _compatible(a: pd.DataFrame, b: pd.DataFrame, a_name: str, b_name: str) -> None:
    _same_kinds(a, b, a_name, b_name)


def _days_arg(value: Any, name: str) -> float:
    """Check a non-negative number of days (or a Timedelta): the tables' one duration rule."""
    return float(as_days(value, key=name, positive=False))


# --------------------------------------------------------------------------- per student
def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:.3f}"


@dataclass(frozen=True)
class Trajectories:
    """A value (risk score or feature) around each contacted student's first contact.

    Attributes
    ----------
    long : DataFrame
        ``student_id``, ``days_from_contact`` (as-of date minus first contact), ``value``.
    per_student : DataFrame
        ``student_id``, ``contact_time``, ``action``, ``staff``, ``n_before``, ``n_after``,
        ``mean_before`` (as-of dates up to and including the contact), ``mean_after`` (after
        it), ``change`` (after minus before).
    value : str
        What the value is.

    Examples
    --------
    See :func:`contact_trajectories`.
    """

    long: pd.DataFrame
    per_student: pd.DataFrame
    value: str

    def profile(self, bin_days: float = 7.0) -> pd.DataFrame:
        """Mean value per bin of days from contact, over contacted students.

        Parameters
        ----------
        bin_days : float, default 7
            Bin width; bin ``b`` holds ``b*w < days <= (b+1)*w`` (so day 0 is in bin -1,
            "before").

        Returns
        -------
        DataFrame
            Indexed by ``bin_start`` (days): ``mean``, ``students``.
        """
        if not len(self.long):
            return pd.DataFrame(columns=["mean", "students"])
        b = np.ceil(self.long["days_from_contact"].to_numpy() / bin_days) - 1
        grouped = self.long.assign(bin_start=b * bin_days).groupby("bin_start")
        return pd.DataFrame(
            {"mean": grouped["value"].mean(), "students": grouped["student_id"].nunique()}
        )

    def summary(self) -> dict[str, Any]:
        """Students followed, and the mean change among those with values on both sides."""
        both = self.per_student.dropna(subset=["change"])
        return {
            "value": self.value,
            "students_contacted": len(self.per_student),
            "students_with_before_and_after": len(both),
            "mean_change": float(both["change"].mean()) if len(both) else float("nan"),
            "median_change": float(both["change"].median()) if len(both) else float("nan"),
        }

    def __repr__(self) -> str:
        return (f"Trajectories({self.value!r} around first contact: {len(self.per_student)} "
                f"student(s), {len(self.long)} value(s))")

    def _repr_html_(self) -> str:
        from studentprofile import _html

        bound: dict[str, Any] = {"max_rows": _html.MAX_ROWS, "max_cols": _html.MAX_COLS}
        return _html.display(repr(self), [
            _html.kv_table(self.summary()),
            _html.heading("Mean value per week from first contact"),
            _html.table(self.profile(), **bound),
            _html.note("Observational: a change after contact is not its effect."),
        ])


def contact_trajectories(
    values: Any,
    interventions: Any,
    *,
    value: str = "score",
    before: float = 28.0,
    after: float = 28.0,
    action: str | Sequence[str] | None = None,
) -> Trajectories:
    """Follow a score or feature from ``before`` days ahead of first contact to ``after`` days past.

    Parameters
    ----------
    values : DataFrame
        Long format: ``student_id``, ``as_of`` and the ``value`` column (e.g. backtest scores,
        or a feature column of a feature matrix after ``reset_index()``).
    interventions : DataFrame
        ``student_id``, ``time``, ``action``, ``staff``.
    value : str, default "score"
        The column of ``values`` to follow.
    before, after : float, default 28
        Days before and after the first contact to keep.
    action : str or list of str, optional
        Count only these actions as contact.

    Returns
    -------
    Trajectories

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"student_id": ["ana"] * 4, "as_of": [0.0, 7.0, 14.0, 21.0],
    ...                        "score": [0.6, 0.7, 0.5, 0.3]})
    >>> contacts = pd.DataFrame({"student_id": ["ana"], "time": [7.0], "action": ["call"],
    ...                          "staff": ["kim"]})
    >>> t = contact_trajectories(values, contacts)
    >>> t.per_student[["n_before", "n_after", "mean_before", "mean_after", "change"]]
       n_before  n_after  mean_before  mean_after  change
    0         2        2         0.65         0.4   -0.25
    """
    b = _days_arg(before, "before")
    a = _days_arg(after, "after")
    vals = long_scores(values, table="values", column=value)
    iv = _interventions(interventions, action)
    _compatible(vals, iv, "values", "interventions")
    first = iv.sort_values("_days", kind="mergesort").drop_duplicates("student_id")
    first = first.set_index("student_id")
    t_c = vals["student_id"].map(first["_days"])
    rel = (vals["_days"] - t_c).to_numpy(dtype=np.float64)
    keep = ~np.isnan(rel) & (rel >= -b) & (rel <= a)
    long = pd.DataFrame(
        {
            "student_id": vals["student_id"].to_numpy()[keep],
            "days_from_contact": rel[keep],
            "value": vals["score"].to_numpy()[keep],
        }
    )
    rows = []
    for sid, row in first.iterrows():
        sub = long[long["student_id"] == sid]
        pre = sub.loc[sub["days_from_contact"] <= 0, "value"]
        post = sub.loc[sub["days_from_contact"] > 0, "value"]
        mb = float(pre.mean()) if len(pre) else float("nan")
        ma = float(post.mean()) if len(post) else float("nan")
        rows.append(
            {
                "student_id": sid,
                "contact_time": row["time"],
                "action": row["action"],
                "staff": row["staff"],
                "n_before": len(pre),
                "n_after": len(post),
                "mean_before": mb,
                "mean_after": ma,
                "change": ma - mb,
            }
        )
    per = pd.DataFrame(
        rows,
        columns=[
            "student_id",
            "contact_time",
            "action",
            "staff",
            "n_before",
            "n_after",
            "mean_before",
            "mean_after",
            "change",
        ],
    )
    return Trajectories(long=long, per_student=per, value=value)


# --------------------------------------------------------------------------- per platform
@dataclass(frozen=True)
class PlatformOutcomes:
    """How the warning platform was used: alert-to-contact times, reach and caseloads.

    Attributes
    ----------
    per_student : DataFrame
        One row per flagged student: ``student_id``, ``first_alert``, ``first_contact`` (at or
        after the first alert), ``days_to_contact``, ``reached`` (within ``reach_within``
        days).
    per_staff : DataFrame
        Indexed by ``staff``: ``contacts``, ``students``, and with a capacity ``capacity`` and
        ``caseload_use`` (students / capacity).
    reach_within : float
        The reach window in days.

    Examples
    --------
    See :func:`platform_outcomes`.
    """

    per_student: pd.DataFrame
    per_staff: pd.DataFrame
    reach_within: float

    def summary(self) -> dict[str, Any]:
        """Summarise: flagged students, share reached, days from alert to contact, caseload use."""
        d = self.per_student["days_to_contact"].to_numpy(dtype=np.float64)
        d = d[~np.isnan(d)]
        n = len(self.per_student)
        out: dict[str, Any] = {
            "students_flagged": n,
            "students_contacted": len(d),
            f"share_reached_within_{self.reach_within:g}d": float(
                self.per_student["reached"].mean()
            )
            if n
            else float("nan"),
            "share_contacted_ever": len(d) / n if n else float("nan"),
            "median_days_to_contact": float(np.median(d)) if len(d) else float("nan"),
            "p90_days_to_contact": float(np.percentile(d, 90)) if len(d) else float("nan"),
        }
        if "caseload_use" in self.per_staff.columns and len(self.per_staff):
            out["mean_caseload_use"] = float(self.per_staff["caseload_use"].mean())
        return out

    def __repr__(self) -> str:
        return (f"PlatformOutcomes({len(self.per_student)} flagged student(s), "
                f"{len(self.per_staff)} staff, reach within {self.reach_within:g} days)")

    def _repr_html_(self) -> str:
        from studentprofile import _html

        return _html.display(repr(self), [
            _html.kv_table(self.summary()),
            _html.heading("Per staff member"),
            _html.table(self.per_staff, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ])


def platform_outcomes(
    alerts: Any,
    interventions: Any,
    *,
    reach_within: float = 14.0,
    capacity: int | Mapping[Any, int] | None = None,
    action: str | Sequence[str] | None = None,
) -> PlatformOutcomes:
    """Time from alert to first contact, share of flagged students reached, caseload use.

    Parameters
    ----------
    alerts : DataFrame
        ``student_id`` and ``time`` of each alert (e.g. the raised alerts of the alert log).
        A student's first alert starts their clock.
    interventions : DataFrame
        ``student_id``, ``time``, ``action``, ``staff``.
    reach_within : float, default 14
        A flagged student counts as reached when first contacted within this many days of the
        first alert.
    capacity : int or mapping, optional
        Students each staff member can follow (one number or ``{staff: number}``); adds
        ``caseload_use`` = distinct students contacted / capacity.
    action : str or list of str, optional
        Count only these actions as contact.

    Returns
    -------
    PlatformOutcomes

    Examples
    --------
    >>> import pandas as pd
    >>> alerts = pd.DataFrame({"student_id": ["ana", "ben", "cai"], "time": [0.0, 0.0, 5.0]})
    >>> contacts = pd.DataFrame({"student_id": ["ana", "cai"], "time": [3.0, 30.0],
    ...                          "action": ["call", "email"], "staff": ["kim", "kim"]})
    >>> p = platform_outcomes(alerts, contacts, capacity=4)
    >>> p.per_student[["student_id", "days_to_contact", "reached"]]
      student_id  days_to_contact  reached
    0        ana              3.0     True
    1        ben              NaN    False
    2        cai             25.0    False
    >>> p.per_staff
           contacts  students  capacity  caseload_use
    staff
    kim           2         2         4           0.5
    """
    window = _days_arg(reach_within, "reach_within")
    al = _alerts(alerts)
    iv = _interventions(interventions, action)
    _compatible(al, iv, "alerts", "interventions")
    first_alert = al.sort_values("_days", kind="mergesort").drop_duplicates("student_id")
    first_alert = first_alert.sort_index()
    merged = first_alert[["student_id", "time", "_days"]].merge(
        iv[["student_id", "time", "_days"]].rename(columns={"time": "contact", "_days": "_c"}),
        on="student_id",
        how="left",
    )
    after = merged[(merged["_c"] >= merged["_days"]).to_numpy()]
    after = after.sort_values("_c", kind="mergesort").drop_duplicates("student_id")
    after = after.set_index("student_id")
    ids = first_alert["student_id"]
    days = (ids.map(after["_c"]) - first_alert["_days"]).to_numpy(dtype=np.float64)
    per_student = pd.DataFrame(
        {
            "student_id": ids.to_numpy(),
            "first_alert": first_alert["time"].to_numpy(),
            "first_contact": ids.map(after["contact"]).to_numpy(),
            "days_to_contact": days,
            "reached": ~np.isnan(days) & (np.nan_to_num(days, nan=np.inf) <= window),
        }
    )
    g = iv.groupby("staff", sort=True)
    per_staff = pd.DataFrame({"contacts": g.size(), "students": g["student_id"].nunique()})
    if capacity is not None:
        if isinstance(capacity, Mapping):
            missing = [s for s in per_staff.index if s not in capacity]
            if missing:
                raise ConfigError(
                    "capacity must give a number for every staff member",
                    key="capacity",
                    arrived=f"no capacity for {show_values(missing)}",
                )
            caps = np.array([capacity[s] for s in per_staff.index], dtype=np.float64)
        else:
            caps = np.full(len(per_staff), float(capacity))
        if (caps <= 0).any() or not np.isfinite(caps).all():
            raise ConfigError(
                "capacity must be a positive number of students",
                key="capacity",
                arrived=repr(capacity),
            )
        per_staff["capacity"] = caps.astype(np.int64) if np.all(caps == np.round(caps)) else caps
        per_staff["caseload_use"] = per_staff["students"] / caps
    return PlatformOutcomes(per_student=per_student, per_staff=per_staff, reach_within=window)


# ------------------------------------------------------------------------ per institution
def term_outcomes(
    records: Any,
    *,
    term: str = "term",
    result: str = "result",
    passed: Sequence[str] = ("pass", "distinction"),
    withdrawn: Sequence[str] = ("withdrawn",),
    order: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Pass and retention rates per term, each against the term before.

    Parameters
    ----------
    records : DataFrame
        One row per enrolment: a ``term`` column and a ``result`` column (e.g. ``"pass"``,
        ``"fail"``, ``"withdrawn"``; compared case-insensitively). A missing result counts as
        neither passed nor withdrawn.
    term, result : str
        Column names.
    passed, withdrawn : sequence of str
        Results that count as a pass, and as a withdrawal.
    order : sequence, optional
        Term order; default the categorical order of ``term``, else sorted.

    Returns
    -------
    DataFrame
        Indexed by term: ``enrolled``, ``passed``, ``pass_rate``, ``withdrawn``,
        ``retention_rate`` (1 - withdrawn / enrolled), ``pass_rate_change`` and
        ``retention_rate_change`` (against the previous term, in rate units), and
        ``pass_rate_pvalue`` / ``retention_rate_pvalue`` (two-sided Fisher exact test of the
        term against the previous term). The first term's changes are empty.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"term": ["2013B"] * 4 + ["2013J"] * 4,
    ...                         "result": ["Pass", "Fail", "Withdrawn", "Pass",
    ...                                    "Pass", "Pass", "Distinction", "Withdrawn"]})
    >>> term_outcomes(records)[["enrolled", "pass_rate", "retention_rate", "pass_rate_change"]]
           enrolled  pass_rate  retention_rate  pass_rate_change
    term
    2013B         4       0.50            0.75               NaN
    2013J         4       0.75            0.75              0.25
    """
    frame = _checks.require_frame(records, "records")
    _checks.require_columns(frame, "records", [term, result])
    terms = frame[term]
    if terms.isna().any():
        raise SchemaError(
            "every enrolment needs a term",
            table="records",
            column=term,
            rule="not-null",
            arrived=f"{int(terms.isna().sum()):,} empty term(s)",
            hint="fill in the term or drop those rows",
        )
    res = frame[result].astype(object).where(frame[result].notna(), None)
    lower = res.map(lambda v: None if v is None else str(v).lower())
    pass_set = {p.lower() for p in passed}
    wd_set = {w.lower() for w in withdrawn}
    if order is not None:
        labels = list(order)
        unknown = sorted({str(t) for t in terms.unique()} - {str(t) for t in labels})
        if unknown:
            raise ConfigError(
                "order must list every term",
                key="order",
                arrived=f"terms not listed: {show_values(unknown)}",
            )
    elif isinstance(terms.dtype, pd.CategoricalDtype):
        labels = [c for c in terms.cat.categories if (terms == c).any()]
    else:
        labels = sorted(terms.unique().tolist())
    rows = []
    for label in labels:
        m = (terms.astype(str) == str(label)).to_numpy()
        n = int(m.sum())
        n_pass = int(lower[m].isin(pass_set).sum())
        n_wd = int(lower[m].isin(wd_set).sum())
        rows.append(
            {
                term: label,
                "enrolled": n,
                "passed": n_pass,
                "pass_rate": n_pass / n if n else np.nan,
                "withdrawn": n_wd,
                "retention_rate": 1 - n_wd / n if n else np.nan,
            }
        )
    columns = [term, "enrolled", "passed", "pass_rate", "withdrawn", "retention_rate"]
    out = pd.DataFrame(rows, columns=columns).set_index(term)
    for rate, count in (("pass_rate", "passed"), ("retention_rate", "withdrawn")):
        out[f"{rate}_change"] = out[rate].diff()
        pvals = [np.nan]
        for i in range(1, len(out)):
            a = out[count].iloc[i]
            b = out[count].iloc[i - 1]
            n1 = out["enrolled"].iloc[i]
            n0 = out["enrolled"].iloc[i - 1]
            if n1 and n0:
                table = np.array([[a, n1 - a], [b, n0 - b]])
                pvals.append(float(fisher_exact(table).pvalue))
            else:
                pvals.append(np.nan)
        out[f"{rate}_pvalue"] = np.asarray(pvals[: len(out)], dtype=np.float64)
    return out[
        [
            "enrolled",
            "passed",
            "pass_rate",
            "withdrawn",
            "retention_rate",
            "pass_rate_change",
            "retention_rate_change",
            "pass_rate_pvalue",
            "retention_rate_pvalue",
        ]
    ]


# ----------------------------------------------------------------- contacted vs not (observational)
def _wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


@dataclass(frozen=True)
class ContactComparison:
    """Outcome rates of contacted vs not-contacted students per risk band. Observational.

    Attributes
    ----------
    bands : DataFrame
        One row per risk band (see :func:`contact_comparison`).
    pooled : dict
        The Mantel-Haenszel weighted difference over bands and its approximate CI.
    params : dict
        Window, horizon, band edges.
    notes : tuple of str
        Students left out, and why.
    caveat : str
        :data:`OBSERVATIONAL_CAVEAT`.

    Examples
    --------
    See :func:`contact_comparison`; ``str(comparison)`` starts with the label:

    >>> import pandas as pd
    >>> alerts = pd.DataFrame({"student_id": ["a", "b"], "time": [0.0, 0.0],
    ...                        "score": [0.5, 0.6]})
    >>> contacts = pd.DataFrame({"student_id": ["a"], "time": [1.0], "action": "call",
    ...                          "staff": "kim"})
    >>> cmp = contact_comparison(alerts, contacts, pd.DataFrame({"student_id": ["b"],
    ...                          "time": [30.0]}), bands=1, observed_until=200.0)
    >>> str(cmp).splitlines()[0]
    'OBSERVATIONAL COMPARISON - NOT CAUSAL'
    """

    bands: pd.DataFrame
    pooled: dict[str, Any]
    params: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)
    caveat: str = OBSERVATIONAL_CAVEAT

    def to_frame(self) -> pd.DataFrame:
        """Return the per-band table (a copy)."""
        return self.bands.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, the caveat first."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {
                "label": "observational, not causal",
                "caveat": self.caveat,
                "bands": self.bands,
                "pooled": self.pooled,
                "params": self.params,
                "notes": list(self.notes),
            }
        )

    def __str__(self) -> str:
        lines = ["OBSERVATIONAL COMPARISON - NOT CAUSAL", self.caveat, ""]
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            lines.append(self.bands.to_string())
        p = self.pooled
        lines.append(
            f"\nWeighted difference (contacted - not) in outcome rate: {p['difference']:.3f} "
            f"(approx. 95% CI {p['ci_low']:.3f} to {p['ci_high']:.3f}) - an association, "
            "not an effect."
        )
        lines.extend(self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ContactComparison(observational, not causal; {len(self.bands)} risk band(s), "
            f"difference {self.pooled['difference']:.3f})"
        )

    def _repr_html_(self) -> str:
        from studentprofile import _html

        p = self.pooled
        return _html.display(repr(self), [
            '<p class="fail">Observational comparison &mdash; not causal.</p>',
            _html.note(self.caveat),
            _html.table(self.bands, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
            _html.note(f"Weighted difference (contacted - not) in outcome rate: "
                       f"{_fmt(p.get('difference'))} (approx. 95% CI {_fmt(p.get('ci_low'))} "
                       f"to {_fmt(p.get('ci_high'))}): an association, not an effect."),
            *(_html.note(n) for n in self.notes),
        ])


def contact_comparison(
    alerts: Any,
    interventions: Any,
    outcomes: Any,
    *,
    window: float = 14.0,
    horizon: float = 90.0,
    bands: int | Sequence[float] = 4,
    outcome: str | Sequence[str] | None = None,
    observed_until: Any = None,
    action: str | Sequence[str] | None = None,
) -> ContactComparison:
    """Compare outcomes of contacted and not-contacted students in the same risk band.

    Design (a landmark comparison, to avoid crediting contact with outcomes that happened
    before it could occur): each student's first alert at time ``t0`` with risk ``score``;
    *contacted* means a contact in ``[t0, t0 + window)``; the outcome is counted in
    ``[t0 + window, t0 + window + horizon)``. Students who reach the outcome before
    ``t0 + window`` are left out (they could not have been followed up), as are students whose
    follow-up runs past ``observed_until`` without an outcome. Students are banded by ``score``.

    **Observational, not causal** (:data:`OBSERVATIONAL_CAVEAT`).

    Parameters
    ----------
    alerts : DataFrame
        ``student_id``, ``time``, ``score``: the alerts (first per student is used).
    interventions : DataFrame
        ``student_id``, ``time``, ``action``, ``staff``.
    outcomes : DataFrame
        ``student_id``, ``time`` (and ``outcome`` when filtering with ``outcome=``).
    window : float, default 14
        Days after the alert in which a contact counts.
    horizon : float, default 90
        Days of follow-up after the window.
    bands : int or sequence of float, default 4
        Number of equal-count risk bands (quantiles of ``score``), or band edges; band ``b``
        holds ``edges[b] <= score < edges[b+1]`` (the last band includes its upper edge).
    outcome : str or list of str, optional
        Keep only these outcomes.
    observed_until : date or float, optional
        End of observation (default: the latest time in any input).
    action : str or list of str, optional
        Count only these actions as contact.

    Returns
    -------
    ContactComparison
        ``bands`` has per risk band: ``band``, ``score_from``, ``score_to``,
        ``n_contacted``, ``n_not_contacted``, ``outcome_rate_contacted``,
        ``outcome_rate_not_contacted``, ``difference`` (contacted - not), ``ci_low``,
        ``ci_high`` (Newcombe's hybrid Wilson score interval, 95%).

    Examples
    --------
    >>> import pandas as pd
    >>> alerts = pd.DataFrame({"student_id": list("abcd"), "time": [0.0] * 4,
    ...                        "score": [0.9, 0.8, 0.3, 0.2]})
    >>> contacts = pd.DataFrame({"student_id": ["a", "c"], "time": [2.0, 3.0],
    ...                          "action": "call", "staff": "kim"})
    >>> outcomes = pd.DataFrame({"student_id": ["b"], "time": [40.0]})
    >>> cmp = contact_comparison(alerts, contacts, outcomes, bands=[0, 0.5, 1],
    ...                          observed_until=200.0)
    >>> cmp.to_frame()[["n_contacted", "n_not_contacted", "difference"]]
       n_contacted  n_not_contacted  difference
    0            1                1         0.0
    1            1                1        -1.0
    """
    w = _days_arg(window, "window")
    h = _days_arg(horizon, "horizon")
    al = _alerts(alerts, need_score=True)
    iv = _interventions(interventions, action)
    oc = _outcome_times(outcomes, outcome)
    _compatible(al, iv, "alerts", "interventions")
    _compatible(al, oc, "alerts", "outcomes")
    first = al.sort_values("_days", kind="mergesort").drop_duplicates("student_id").sort_index()
    if observed_until is None:
        ends = [f["_days"].max() for f in (al, iv, oc) if len(f)]
        end = float(max(ends)) if ends else np.inf
    else:
        end = moment_days(observed_until, key="observed_until")[0]
    t0 = first["_days"].to_numpy()
    ids = first["student_id"]
    # contacted: any contact in [t0, t0 + w)
    m = first[["student_id", "_days"]].merge(
        iv[["student_id", "_days"]].rename(columns={"_days": "_c"}), on="student_id"
    )
    hit = m[(m["_c"] >= m["_days"]).to_numpy() & (m["_c"] < m["_days"] + w).to_numpy()]
    contacted = ids.isin(hit["student_id"]).to_numpy()
    t_out = ids.map(oc.set_index("student_id")["_days"]).to_numpy(dtype=np.float64)
    landmark = t0 + w
    early = ~np.isnan(t_out) & (t_out < landmark)
    reached = ~np.isnan(t_out) & (t_out >= landmark) & (t_out < landmark + h)
    censored = ~reached & ~early & (landmark + h > end)
    keep = ~early & ~censored
    notes = []
    if early.any():
        notes.append(
            f"{int(early.sum()):,} student(s) reached the outcome within {w:g} days of their "
            "alert, before contact could be judged; left out"
        )
    if censored.any():
        notes.append(
            f"{int(censored.sum()):,} student(s) not followed for the full {h:g} days; left out"
        )
    score = first["score"].to_numpy()[keep]
    y = reached[keep]
    c = contacted[keep]
    if isinstance(bands, bool):
        raise ConfigError("bands must be >= 1", key="bands", arrived=repr(bands))
    if isinstance(bands, int | np.integer):
        if bands < 1:
            raise ConfigError("bands must be >= 1", key="bands", arrived=repr(bands))
        edges = (
            np.unique(np.quantile(score, np.linspace(0, 1, int(bands) + 1)))
            if len(score)
            else np.array([0.0, 1.0])
        )
    else:
        try:
            edges = np.asarray([float(v) for v in bands], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                "bands must be a number of bands or increasing band edges",
                key="bands",
                arrived=repr(bands),
            ) from exc
        if len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ConfigError(
                "bands must be a number of bands or increasing band edges",
                key="bands",
                arrived=repr(bands),
            )
        outside = (score < edges[0]) | (score > edges[-1])
        if outside.any():
            raise ConfigError(
                "band edges must cover every score",
                key="bands",
                arrived=f"scores {show_values(np.unique(score[outside]).tolist())} outside "
                f"[{edges[0]:g}, {edges[-1]:g}]",
            )
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    band = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(edges) - 2)
    z = float(norm.ppf(0.975))
    rows = []
    for b in range(len(edges) - 1):
        mb = band == b
        n1 = int((mb & c).sum())
        n0 = int((mb & ~c).sum())
        x1 = int((mb & c & y).sum())
        x0 = int((mb & ~c & y).sum())
        p1 = x1 / n1 if n1 else np.nan
        p0 = x0 / n0 if n0 else np.nan
        l1, u1 = _wilson(np.array(x1, float), np.array(n1, float), z) if n1 else (np.nan, np.nan)
        l0, u0 = _wilson(np.array(x0, float), np.array(n0, float), z) if n0 else (np.nan, np.nan)
        d = p1 - p0
        rows.append(
            {
                "band": b,
                "score_from": edges[b],
                "score_to": edges[b + 1],
                "n_contacted": n1,
                "n_not_contacted": n0,
                "outcome_rate_contacted": p1,
                "outcome_rate_not_contacted": p0,
                "difference": d,
                "ci_low": d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
                "ci_high": d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
            }
        )
    table = pd.DataFrame(rows)
    ok = (table["n_contacted"] > 0) & (table["n_not_contacted"] > 0)
    pooled: dict[str, Any] = {
        "difference": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "method": "Mantel-Haenszel weighted risk difference over bands with both groups, "
        "weights n1*n0/(n1+n0), normal-approximation 95% CI",
    }
    if ok.any():
        t = table[ok]
        c1 = t["n_contacted"].to_numpy(dtype=float)
        c0 = t["n_not_contacted"].to_numpy(dtype=float)
        r1 = t["outcome_rate_contacted"].to_numpy(dtype=float)
        r0 = t["outcome_rate_not_contacted"].to_numpy(dtype=float)
        wts = c1 * c0 / (c1 + c0)
        diff = float(np.sum(wts * (r1 - r0)) / wts.sum())
        var = float(np.sum(wts**2 * (r1 * (1 - r1) / c1 + r0 * (1 - r0) / c0)) / wts.sum() ** 2)
        pooled.update(
            difference=diff, ci_low=diff - z * np.sqrt(var), ci_high=diff + z * np.sqrt(var)
        )
    params = {
        "window_days": w,
        "horizon_days": h,
        "band_edges": edges.tolist(),
        "students": int(keep.sum()),
        "contacted": int(c.sum()),
    }
    return ContactComparison(bands=table, pooled=pooled, params=params, notes=tuple(notes))


@dataclass(frozen=True)
class InterventionOutcomes:
    """The intervention outcomes at the three levels, and the observational comparison.

    Any part may be ``None``. Pass it to :func:`studentprofile.evaluation.evaluate` as
    ``interventions=`` to put it in the report.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"term": ["2013J", "2014B"], "result": ["pass", "withdrawn"]})
    >>> InterventionOutcomes(institution=term_outcomes(records)).to_dict()["institution"][1][
    ...     "retention_rate"]
    0.0
    """

    per_student: Trajectories | None = None
    platform: PlatformOutcomes | None = None
    institution: pd.DataFrame | None = None
    comparison: ContactComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every part present."""
        from studentprofile.evaluation._json import to_json_safe

        out: dict[str, Any] = {}
        if self.per_student is not None:
            out["per_student"] = {
                "summary": self.per_student.summary(),
                "profile": self.per_student.profile(),
            }
        if self.platform is not None:
            out["platform"] = {
                "summary": self.platform.summary(),
                "per_staff": self.platform.per_staff,
            }
        if self.institution is not None:
            out["institution"] = self.institution
        if self.comparison is not None:
            out["comparison"] = self.comparison.to_dict()
        return to_json_safe(out)

    def _parts(self) -> list[tuple[str, Any]]:
        return [(name, part) for name, part in (
            ("per student", self.per_student), ("platform", self.platform),
            ("institution", self.institution), ("comparison", self.comparison))
            if part is not None]

    def __repr__(self) -> str:
        names = [name for name, _ in self._parts()]
        return f"InterventionOutcomes({', '.join(names) or 'empty'})"

    def _repr_html_(self) -> str:
        from studentprofile import _html

        parts: list[str] = []
        for name, part in self._parts():
            parts.append(_html.heading(name))
            if isinstance(part, pd.DataFrame):
                parts.append(_html.table(part, max_rows=_html.MAX_ROWS,
                                         max_cols=_html.MAX_COLS))
            else:  # the part's own display, without its wrapper
                inner = part._repr_html_()
                parts.append(inner[inner.index("</style>") + len("</style>"):-len("</div>")])
        return _html.display(repr(self), parts)
