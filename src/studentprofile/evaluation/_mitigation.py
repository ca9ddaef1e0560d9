"""Fairness mitigation by post-processing: per-group shares of a fixed caseload (opt-in).

When a fairness audit fails, :func:`mitigate` chooses how many of the ``K`` students on the list
come from each group of *one* attribute, so that a parity constraint holds within a tolerance:

* ``"equal_selection_rate"``: each group's share of the list follows its share of the students
  (largest remainders; needs no labels);
* ``"equal_tpr"`` (equal opportunity): each group's true positive rate (the share of its students
  who go on to the outcome that the list reaches) lies within ``tolerance`` of the others'. The
  highest common rate the caseload allows is found first; the places left are filled in score
  order with students who keep the rates within the tolerance. Groups without a positive have no
  true positive rate and are not constrained.

The result sets the unmitigated policy (the top ``K`` by score) beside the mitigated one: students
reached (true positives), precision and recall at ``K``, and the disparities, so the cost is seen.

**Who may do this.** Choosing by group means using a protected attribute at decision time. In
many jurisdictions that is unlawful for some attributes and decisions (disparate treatment), even
with good intent; in others it is allowed for support offered to students (not for sanctions), or
only with a documented legal basis. Ask the institution's legal and data-protection officers
before use, prefer fixing the data and the model, record the choice in the model card, and never
use it when the support offered is a scarce good others are denied. The equal-TPR shares are
*fitted on labelled past data*; judge them on a later period (:meth:`Mitigation.apply`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs

__all__ = [
    "CONSTRAINTS",
    "MITIGATION_NOTICE",
    "Mitigation",
    "MitigationOverTime",
    "mitigate",
    "mitigate_over_time",
]

CONSTRAINTS = ("equal_tpr", "equal_selection_rate")
"""The parity constraints :func:`mitigate` can meet."""

MITIGATION_NOTICE = (
    "Mitigation chooses students by a protected attribute at decision time: check that this is "
    "lawful for this attribute and this support (ask legal and data-protection officers), and "
    "record it in the model card."
)
CONSTRAINT_INVALID = "constraint must be one of {allowed!r}"
TOLERANCE_INVALID = "tolerance must be a number in [0, 1]"
GROUP_INVALID = "group must hold one value per student (a 1-D array or Series)"
ONE_GROUP = "mitigation needs at least two groups"
GROUP_TOO_SMALL = "every group needs at least min_group_size={m} students"
GROUP_UNKNOWN = "groups {groups!r} were not seen when the mitigation was fitted"
NOT_MET = "the constraint could not be met within the tolerance at this caseload"
SCORES_FRAME = ("scores must be a DataFrame with columns split, student_id, as_of, score and "
                "label (BacktestResult.scores)")
GROUP_BY_STUDENT = "group must be a Series indexed by student_id (one attribute value each)"
NO_LABELLED_ROWS = "mitigation needs labelled test rows to fit on"


@dataclass
class Mitigation:
    """What :func:`mitigate` returns.

    Attributes
    ----------
    constraint : str
        ``"equal_tpr"`` or ``"equal_selection_rate"``.
    tolerance : float
        Largest allowed difference between the groups' rates.
    k : int
        The caseload (students on the list).
    met : bool
        Whether the mitigated list meets the constraint.
    flags : ndarray of bool
        The mitigated list for the fitted rows.
    unmitigated_flags : ndarray of bool
        The top ``k`` by score.
    groups : DataFrame
        Per group: ``n``, ``positives``, ``flagged`` and ``flagged_unmitigated``, ``share`` (of
        the list), ``threshold`` (the lowest score on the mitigated list), ``tpr`` and
        ``tpr_unmitigated``, ``selection_rate`` and ``selection_rate_unmitigated``.
    cost : DataFrame
        Indexed by policy (``unmitigated``, ``mitigated``): ``k``, ``reached`` (true positives),
        ``precision_at_k``, ``recall_at_k``, ``tpr_difference``, ``tpr_ratio``,
        ``selection_rate_difference``, ``selection_rate_ratio``.
    notice : str
        :data:`MITIGATION_NOTICE`.

    Examples
    --------
    See :func:`mitigate`.
    """

    constraint: str
    tolerance: float
    k: int
    met: bool
    flags: np.ndarray
    unmitigated_flags: np.ndarray
    groups: pd.DataFrame
    cost: pd.DataFrame
    notice: str = MITIGATION_NOTICE
    notes: list[str] = field(default_factory=list)

    @property
    def shares(self) -> pd.Series:
        """Each group's share of the mitigated list."""
        return self.groups["share"]

    def apply(self, scores: Any, group: Any, *, k: Any) -> np.ndarray:
        """Flag a new caseload with the fitted per-group shares (e.g. next week's scores).

        Parameters
        ----------
        scores : array of float
            Risk scores of the new students.
        group : array
            Their group (same attribute as when fitted; missing values are ``"missing"``).
        k : float or int
            The new caseload; each group gets ``share * k`` places (largest remainders), at
            most its size, places it cannot fill going to the others by score.

        Returns
        -------
        ndarray of bool
            The list.
        """
        s = _inputs.scores(scores, "scores")
        g = _group(group, len(s))
        unknown = sorted(set(g) - set(self.groups.index))
        if unknown:
            raise ConfigError(
                GROUP_UNKNOWN.format(groups=unknown[:5]),
                key="group",
                arrived=repr(unknown[:5]),
                hint="fit the mitigation on data that has every group",
            )
        total = _inputs.resolve_k(k, len(s))
        names = list(self.groups.index)
        sizes = np.array([(g == n).sum() for n in names])
        counts = _largest_remainder(self.groups["share"].to_numpy(), total, sizes)
        return _flags_from_counts(s, g, names, counts, total)

    def __repr__(self) -> str:
        verdict = "met" if self.met else "NOT met"
        return (
            f"Mitigation({self.constraint} within {self.tolerance:g} at k={self.k}: {verdict}; "
            f"reached {int(self.cost['reached'].to_numpy()[1])} vs "
            f"{int(self.cost['reached'].to_numpy()[0])} unmitigated)"
        )

    def _repr_html_(self) -> str:
        return _cost_html(repr(self), self.notice, self.notes, self.cost, self.groups)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (no per-student rows) for the model card."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {
                "constraint": self.constraint,
                "tolerance": self.tolerance,
                "k": self.k,
                "met": self.met,
                "groups": self.groups.reset_index(),
                "cost": self.cost.reset_index(),
                "notice": self.notice,
                "notes": self.notes,
            }
        )


def _group(group: Any, n: int) -> np.ndarray:
    values = group.to_numpy() if isinstance(group, pd.Series | pd.Index) else np.asarray(
        group, dtype=object
    )
    if values.ndim != 1 or len(values) != n:
        raise SchemaError(
            GROUP_INVALID,
            table="group",
            rule="shape",
            arrived=f"shape {values.shape} for {n} score(s)",
            hint="pass one column, e.g. group=students['age_band']",
        )
    return np.array(["missing" if pd.isna(v) else str(v) for v in values], dtype=object)


def _largest_remainder(shares: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` (as far as ``caps`` allow), proportional to shares."""
    want = shares * total
    counts = np.minimum(np.floor(want + 1e-9).astype(np.int64), caps)
    order = np.argsort(-(want - counts), kind="mergesort")
    left = total - counts.sum()
    while left > 0:
        moved = False
        for j in order:
            if left == 0:
                break
            if counts[j] < caps[j]:
                counts[j] += 1
                left -= 1
                moved = True
        if not moved:
            break
    return counts


def _order(s: np.ndarray) -> np.ndarray:
    """Rows by score, highest first; ties to the earlier row."""
    return np.argsort(-s, kind="mergesort")


def _flags_from_counts(
    s: np.ndarray, g: np.ndarray, names: list[str], counts: np.ndarray, total: int
) -> np.ndarray:
    flags = np.zeros(len(s), dtype=bool)
    for name, c in zip(names, counts, strict=True):
        rows = np.flatnonzero(g == name)
        flags[rows[_order(s[rows])[: int(c)]]] = True
    short = total - int(flags.sum())
    if short > 0:  # a group could not fill its places: the best of the rest take them
        rest = np.flatnonzero(~flags)
        flags[rest[_order(s[rest])[:short]]] = True
    return flags


def _rates(
    y: np.ndarray, flags: np.ndarray, g: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    tpr = np.full(len(names), np.nan)
    sel = np.full(len(names), np.nan)
    for j, name in enumerate(names):
        m = g == name
        sel[j] = flags[m].mean()
        if y[m].any():
            tpr[j] = (flags[m] & y[m]).sum() / y[m].sum()
    return tpr, sel


def _spread(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return 0.0, 1.0
    hi, lo = float(v.max()), float(v.min())
    return hi - lo, (lo / hi if hi > 0 else 1.0)


def _equal_tpr(
    s: np.ndarray, y: np.ndarray, g: np.ndarray, names: list[str], total: int, tol: float
) -> np.ndarray:
    """Per-group lists meeting equal TPR within ``tol`` at ``total`` places, if possible."""
    orders = {n: np.flatnonzero(g == n)[_order(s[g == n])] for n in names}
    pos = {n: int(y[orders[n]].sum()) for n in names}
    # slots needed for a group to reach t positives: the position of its t-th positive
    where_pos = {n: np.flatnonzero(y[orders[n]]) + 1 for n in names}

    def needed(level: float) -> dict[str, int]:
        out = {}
        for n in names:
            if pos[n] == 0:
                out[n] = 0
                continue
            t = min(pos[n], math.ceil(level * pos[n] - 1e-9))
            out[n] = int(where_pos[n][t - 1]) if t > 0 else 0
        return out

    levels = sorted({t / pos[n] for n in names if pos[n] for t in range(pos[n] + 1)})
    best = 0.0
    for level in levels:  # the highest common TPR the caseload allows
        if sum(needed(level).values()) <= total:
            best = level
        else:
            break
    taken = needed(best)
    counts = {n: taken[n] for n in names}
    tp = {n: int(y[orders[n][: counts[n]]].sum()) for n in names}

    def spread_after(n: str) -> float:
        tprs = [
            (tp[m] + (1 if m == n else 0)) / pos[m] if m == n else tp[m] / pos[m]
            for m in names
            if pos[m]
        ]
        return max(tprs) - min(tprs) if len(tprs) > 1 else 0.0

    left = total - sum(counts.values())
    while left > 0:
        options = []
        for n in names:
            if counts[n] >= len(orders[n]):
                continue
            row = orders[n][counts[n]]
            positive = bool(y[row])
            ok = (not positive) or pos[n] == 0 or spread_after(n) <= tol + 1e-12
            options.append((ok, s[row], -names.index(n), n, positive))
        if not options:
            break
        allowed = [o for o in options if o[0]]
        if allowed:
            choice = max(allowed, key=lambda o: (o[1], o[2]))
        else:  # only positives that widen the spread are left: take the one widening it least
            choice = min(options, key=lambda o: (spread_after(o[3]), -o[1]))
        n = choice[3]
        if choice[4]:
            tp[n] += 1
        counts[n] += 1
        left -= 1
    flags = np.zeros(len(s), dtype=bool)
    for n in names:
        flags[orders[n][: counts[n]]] = True
    return flags


def mitigate(
    y_true: Any,
    scores: Any,
    group: Any,
    *,
    k: Any,
    constraint: str = "equal_tpr",
    tolerance: float = 0.05,
    min_group_size: int = 5,
) -> Mitigation:
    """Choose per-group shares of a fixed caseload that meet a parity constraint (opt-in).

    Read the module notes (and ``docs/workbench.md``) on when using a protected attribute at
    decision time is lawful and wise before using this.

    Parameters
    ----------
    y_true : array of 0/1
        Outcomes of a *past*, labelled period (``equal_tpr`` is fitted on them; with
        ``equal_selection_rate`` they only measure the cost).
    scores : array of float
        Risk scores.
    group : array or Series
        One attribute (e.g. age band); missing values form the group ``"missing"``.
    k : float or int
        The caseload: a fraction of the students or a count.
    constraint : {"equal_tpr", "equal_selection_rate"}, default "equal_tpr"
        The parity to meet.
    tolerance : float, default 0.05
        Largest allowed difference between the highest and lowest group rate.
    min_group_size : int, default 5
        Refuse groups smaller than this (their rates are noise, and tiny groups identify
        students).

    Returns
    -------
    Mitigation
        The mitigated list, the per-group shares and thresholds, and the cost beside the
        unmitigated top ``k``; ``met`` says whether the constraint holds.

    Raises
    ------
    ConfigError
        An unknown constraint, a tolerance outside [0, 1], fewer than two groups, a group
        smaller than ``min_group_size``.
    SchemaError
        Labels that are not 0/1, scores that are not finite numbers, a group of another length.

    Examples
    --------
    Group ``b``'s students who withdraw score lower, so the top 4 reach none of them:

    >>> y = [1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    >>> s = [0.9, 0.8, 0.7, 0.6, 0.1, 0.5, 0.4, 0.3, 0.2, 0.05]
    >>> g = ["a"] * 5 + ["b"] * 5
    >>> out = mitigate(y, s, g, k=4, min_group_size=2)
    >>> out.cost[["reached", "precision_at_k", "tpr_difference"]]
                 reached  precision_at_k  tpr_difference
    policy
    unmitigated        2             0.5             1.0
    mitigated          4             1.0             0.0
    >>> out.groups[["flagged", "threshold", "tpr"]]
           flagged  threshold  tpr
    group
    a            2        0.8  1.0
    b            2        0.4  1.0
    """
    y = _inputs.labels(y_true, "y_true")
    s = _inputs.scores(scores, "scores")
    _inputs.same_length([("y_true", y_true, y), ("scores", scores, s)])
    g = _group(group, len(s))
    if constraint not in CONSTRAINTS:
        raise ConfigError(
            CONSTRAINT_INVALID.format(allowed=CONSTRAINTS), key="constraint",
            arrived=repr(constraint),
        )
    if isinstance(tolerance, bool) or not isinstance(
        tolerance, int | float | np.integer | np.floating
    ) or not 0 <= float(tolerance) <= 1:
        raise ConfigError(TOLERANCE_INVALID, key="tolerance", arrived=repr(tolerance),
                          hint="e.g. tolerance=0.05 (five percentage points)")
    tol = float(tolerance)
    min_size = _inputs.positive_int(min_group_size, "min_group_size",
                                    "min_group_size must be an integer >= 1")
    names = list(pd.unique(g))
    names = sorted(names, key=str)
    if len(names) < 2:
        raise ConfigError(ONE_GROUP, key="group", arrived=f"only {names!r}")
    sizes = np.array([(g == n).sum() for n in names])
    if (sizes < min_size).any():
        small = [n for n, c in zip(names, sizes, strict=True) if c < min_size]
        raise ConfigError(
            GROUP_TOO_SMALL.format(m=min_size),
            key="group",
            arrived=f"{len(small)} group(s) smaller, e.g. {small[:3]!r}",
            hint="merge small groups (e.g. age bands) before mitigating",
        )
    total = _inputs.resolve_k(k, len(s))
    unmitigated = np.zeros(len(s), dtype=bool)
    unmitigated[_order(s)[:total]] = True
    if constraint == "equal_selection_rate":
        counts = _largest_remainder(sizes / sizes.sum(), total, sizes)
        flags = _flags_from_counts(s, g, names, counts, total)
    else:
        flags = _equal_tpr(s, y, g, names, total, tol)
    rows = []
    tpr_u, sel_u = _rates(y, unmitigated, g, names)
    tpr_m, sel_m = _rates(y, flags, g, names)
    for j, name in enumerate(names):
        m = g == name
        on = flags & m
        rows.append(
            {
                "group": name,
                "n": int(m.sum()),
                "positives": int(y[m].sum()),
                "flagged": int(on.sum()),
                "flagged_unmitigated": int((unmitigated & m).sum()),
                "share": float(on.sum() / total) if total else 0.0,
                "threshold": float(s[on].min()) if on.any() else np.nan,
                "tpr": tpr_m[j],
                "tpr_unmitigated": tpr_u[j],
                "selection_rate": sel_m[j],
                "selection_rate_unmitigated": sel_u[j],
            }
        )
    groups = pd.DataFrame(rows).set_index("group")
    cost_rows = []
    for policy, f, tpr, sel in (
        ("unmitigated", unmitigated, tpr_u, sel_u),
        ("mitigated", flags, tpr_m, sel_m),
    ):
        reached = int((f & y).sum())
        tpr_diff, tpr_ratio = _spread(tpr)
        sel_diff, sel_ratio = _spread(sel)
        cost_rows.append(
            {
                "policy": policy,
                "k": int(f.sum()),
                "reached": reached,
                "precision_at_k": reached / f.sum() if f.any() else np.nan,
                "recall_at_k": reached / y.sum() if y.any() else np.nan,
                "tpr_difference": tpr_diff,
                "tpr_ratio": tpr_ratio,
                "selection_rate_difference": sel_diff,
                "selection_rate_ratio": sel_ratio,
            }
        )
    cost = pd.DataFrame(cost_rows).set_index("policy")
    measure = "tpr_difference" if constraint == "equal_tpr" else "selection_rate_difference"
    achieved = float(cost[measure].to_numpy()[1])
    met = achieved <= tol + 1e-12
    notes = []
    if not met:
        notes.append(
            f"{NOT_MET}: {measure} {achieved:.3f} > {tol:g}; "
            "a larger caseload or tolerance may allow it"
        )
    if constraint == "equal_tpr" and (groups["positives"] == 0).any():
        notes.append("groups without a positive have no true positive rate and are not "
                     "constrained")
    return Mitigation(
        constraint=constraint,
        tolerance=tol,
        k=total,
        met=met,
        flags=flags,
        unmitigated_flags=unmitigated,
        groups=groups,
        cost=cost,
        notes=notes,
    )


@dataclass
class MitigationOverTime:
    """What :func:`mitigate_over_time` returns: shares fitted on one period, judged on the next.

    Attributes
    ----------
    fitted : Mitigation
        The shares, fitted on the first split's labelled rows (pooled student-dates).
    fitted_on, judged_on : list
        The splits fitted on and judged on (the same split, with a note, when there is one).
    cost : DataFrame
        Indexed by policy (``unmitigated``: the top ``k`` of each as-of date by score;
        ``mitigated``: the fitted shares of each date's caseload): ``flags``, ``reached``
        (flagged student-dates with the outcome ahead), ``students_reached`` (distinct students
        flagged at least once before their outcome), ``precision_at_k``, ``recall_at_k``,
        ``tpr_difference``, ``tpr_ratio``, ``selection_rate_difference``,
        ``selection_rate_ratio``.
    groups : DataFrame
        Per group on the judged rows: ``n``, ``positives``, ``tpr`` and ``tpr_unmitigated``,
        ``selection_rate`` and ``selection_rate_unmitigated``, ``share`` (fitted).
    attribute : str
        The attribute's name.
    k : float or int
        The caseload per as-of date.
    notes : list of str
    """

    fitted: Mitigation
    fitted_on: list[Any]
    judged_on: list[Any]
    cost: pd.DataFrame
    groups: pd.DataFrame
    attribute: str
    k: Any
    notes: list[str] = field(default_factory=list)
    notice: str = MITIGATION_NOTICE

    @property
    def met(self) -> bool:
        """Whether the judged period meets the constraint within the tolerance."""
        measure = ("tpr_difference" if self.fitted.constraint == "equal_tpr"
                   else "selection_rate_difference")
        return self._at("mitigated", measure) <= self.fitted.tolerance + 1e-12

    def _at(self, policy: str, column: str) -> float:
        values = self.cost[column].to_numpy(dtype=np.float64)
        return float(values[list(self.cost.index).index(policy)])

    def gap_closed(self) -> dict[str, float]:
        """Return the disparity before and after, and what it costs, as plain numbers."""
        m = "tpr" if self.fitted.constraint == "equal_tpr" else "selection_rate"
        out = {f"{m}_{stat}_{policy}": self._at(policy, f"{m}_{stat}")
               for stat in ("difference", "ratio") for policy in ("unmitigated", "mitigated")}
        for col in ("precision_at_k", "recall_at_k", "reached", "students_reached",
                    "share_flagged_before", "median_lead_days"):
            if col not in self.cost.columns:
                continue
            out[f"{col}_change"] = self._at("mitigated", col) - self._at("unmitigated", col)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (no per-student rows) for the model card."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe({
            "attribute": self.attribute,
            "constraint": self.fitted.constraint,
            "tolerance": self.fitted.tolerance,
            "k": self.k,
            "fitted_on": self.fitted_on,
            "judged_on": self.judged_on,
            "met": self.met,
            "shares": self.fitted.groups["share"].to_dict(),
            "cost": self.cost.reset_index(),
            "groups": self.groups.reset_index(),
            "gap_closed": self.gap_closed(),
            "notice": self.notice,
            "notes": self.notes,
        })

    def __repr__(self) -> str:
        verdict = "met" if self.met else "NOT met"
        return (f"MitigationOverTime({self.fitted.constraint} on {self.attribute!r} within "
                f"{self.fitted.tolerance:g}, judged on split(s) {self.judged_on}: {verdict})")

    def _repr_html_(self) -> str:
        return _cost_html(repr(self), self.notice, self.notes, self.cost, self.groups)

    def html(self) -> list[str]:
        """Return the report section (HTML fragments, names escaped)."""
        from studentprofile.evaluation._report import _table

        e = html.escape
        return [
            "<h2>Fairness mitigation (opt-in)</h2>",
            f'<p class="note"><em>{e(self.notice)}</em></p>',
            f'<p class="note">{e(repr(self))}. The unmitigated policy is the top k of each '
            "as-of date by score; the mitigated one gives each group its fitted share of the "
            "same caseload. Read docs/workbench.md on when using the attribute is lawful.</p>",
            *[f'<p class="note">{e(n)}</p>' for n in self.notes],
            _table(self.cost), _table(self.groups),
        ]


def _policy_cost(y: np.ndarray, flags: np.ndarray, g: np.ndarray, names: list[str],
                 students: np.ndarray) -> dict[str, Any]:
    tpr, sel = _rates(y, flags, g, names)
    tpr_diff, tpr_ratio = _spread(tpr)
    sel_diff, sel_ratio = _spread(sel)
    reached = int((flags & y).sum())
    return {
        "flags": int(flags.sum()),
        "reached": reached,
        "students_reached": int(pd.unique(students[flags & y]).size),
        "precision_at_k": reached / flags.sum() if flags.any() else np.nan,
        "recall_at_k": reached / y.sum() if y.any() else np.nan,
        "tpr_difference": tpr_diff,
        "tpr_ratio": tpr_ratio,
        "selection_rate_difference": sel_diff,
        "selection_rate_ratio": sel_ratio,
        "_tpr": tpr,
        "_sel": sel,
    }


def mitigate_over_time(
    scores: pd.DataFrame,
    group: pd.Series,
    *,
    k: Any,
    constraint: str = "equal_tpr",
    tolerance: float = 0.05,
    min_group_size: int = 5,
    attribute: str | None = None,
    outcomes: pd.DataFrame | None = None,
) -> MitigationOverTime:
    """Fit per-group shares on the first split of a backtest, judge them on the later ones.

    The honest way to read a mitigation: the shares are chosen on a labelled past period
    (the first split's test rows, pooled over its as-of dates), then every later as-of date's
    caseload (the top ``k``) is split between the groups with those shares
    (:meth:`Mitigation.apply`) and compared with the plain top ``k`` on the same rows.

    Parameters
    ----------
    scores : DataFrame
        ``BacktestResult.scores``: ``split``, ``student_id``, ``as_of``, ``score``, ``label``
        (rows without a label are left out).
    group : Series
        The attribute, indexed by ``student_id`` (missing values form ``"missing"``).
    k : float or int
        The caseload per as-of date.
    constraint, tolerance, min_group_size
        As for :func:`mitigate`.
    attribute : str, optional
        The attribute's name for the record (default ``group.name``).
    outcomes : DataFrame, optional
        ``student_id`` and ``time`` of the students who reached the outcome (as for
        :func:`~studentprofile.evaluation.lead_time`): adds each policy's lead time
        (``share_flagged_before``, ``median_lead_days``) to ``cost``.

    Returns
    -------
    MitigationOverTime

    Raises
    ------
    SchemaError
        ``scores`` or ``group`` of the wrong shape.
    ConfigError
        As for :func:`mitigate`; no labelled row; a group in the judged period that the first
        split did not have.

    Examples
    --------
    Group ``b``'s students who withdraw score lower; shares fitted on split 0 are judged on
    split 1:

    >>> import pandas as pd
    >>> rows = []
    >>> for split, as_of in ((0, 10.0), (1, 20.0)):
    ...     for i, (g, s, y) in enumerate([("a", .9, 1), ("a", .8, 0), ("a", .7, 0),
    ...                                    ("a", .6, 0), ("b", .5, 1), ("b", .4, 0),
    ...                                    ("b", .3, 0), ("b", .2, 0)]):
    ...         rows.append((split, f"{g}{i}", as_of, s, y))
    >>> scores = pd.DataFrame(rows, columns=["split", "student_id", "as_of", "score", "label"])
    >>> group = pd.Series({sid: sid[0] for sid in scores["student_id"]}, name="band")
    >>> out = mitigate_over_time(scores, group, k=2, min_group_size=2)
    >>> out.judged_on, out.met
    ([1], True)
    >>> out.cost[["reached", "tpr_difference"]]
                 reached  tpr_difference
    policy
    unmitigated        1             1.0
    mitigated          2             0.0
    """
    need = ["split", "student_id", "as_of", "score", "label"]
    if not isinstance(scores, pd.DataFrame) or any(c not in scores.columns for c in need):
        raise SchemaError(SCORES_FRAME, table="scores", rule="columns",
                          arrived=(f"columns {list(scores.columns)!r}"
                                   if isinstance(scores, pd.DataFrame)
                                   else f"an object of type {type(scores).__name__}"))
    if not isinstance(group, pd.Series) or not group.index.is_unique:
        raise SchemaError(GROUP_BY_STUDENT, table="group", rule="type",
                          arrived=("a Series with repeated ids" if isinstance(group, pd.Series)
                                   else f"an object of type {type(group).__name__}"))
    rows = scores[scores["label"].notna()]
    if rows.empty:
        raise ConfigError(NO_LABELLED_ROWS, key="scores", arrived="0 labelled row(s)")
    splits = sorted(pd.unique(rows["split"]))
    fit_rows = rows[rows["split"] == splits[0]]
    judge_splits = splits[1:] or splits[:1]
    judge_rows = rows[rows["split"].isin(judge_splits)]
    notes: list[str] = []
    if len(splits) == 1:
        notes.append("one split only: the shares are judged on the rows they were fitted on, "
                     "which flatters them")
    name = attribute or (str(group.name) if group.name is not None else "group")

    def groups_of(frame: pd.DataFrame) -> np.ndarray:
        return _group(frame["student_id"].map(group).to_numpy(dtype=object), len(frame))

    fitted = mitigate(fit_rows["label"].to_numpy(dtype=np.int64),
                      fit_rows["score"].to_numpy(dtype=np.float64), groups_of(fit_rows),
                      k=k if not isinstance(k, int | np.integer) or isinstance(k, bool)
                      else int(k) * fit_rows["as_of"].nunique(),
                      constraint=constraint, tolerance=tolerance,
                      min_group_size=min_group_size)
    y = judge_rows["label"].to_numpy(dtype=np.int64).astype(bool)
    s = judge_rows["score"].to_numpy(dtype=np.float64)
    g = groups_of(judge_rows)
    students = judge_rows["student_id"].to_numpy(dtype=object)
    plain = np.zeros(len(s), dtype=bool)
    adjusted = np.zeros(len(s), dtype=bool)
    for _, idx in judge_rows.groupby("as_of", sort=True).indices.items():
        n = _inputs.resolve_k(k, len(idx))
        plain[idx[_order(s[idx])[:n]]] = True
        adjusted[idx] = fitted.apply(s[idx], g[idx], k=n)
    names = list(fitted.groups.index)
    costs = {"unmitigated": _policy_cost(y, plain, g, names, students),
             "mitigated": _policy_cost(y, adjusted, g, names, students)}
    if outcomes is not None:
        from studentprofile.evaluation._lead_time import lead_time

        frame = judge_rows[["student_id", "as_of"]].reset_index(drop=True)
        for policy, flags in (("unmitigated", plain), ("mitigated", adjusted)):
            lt = lead_time(frame.assign(score=flags.astype(np.float64)), outcomes,
                           threshold=1.0).summary()
            costs[policy]["share_flagged_before"] = lt["share_flagged"]
            costs[policy]["median_lead_days"] = lt["median_lead_days"]
    cost = pd.DataFrame([{k2: v for k2, v in c.items() if not k2.startswith("_")}
                         for c in costs.values()], index=pd.Index(list(costs), name="policy"))
    group_rows = []
    for j, n in enumerate(names):
        m = g == n
        group_rows.append({
            "group": n, "n": int(m.sum()), "positives": int(y[m].sum()),
            "share": float(fitted.groups.loc[n, "share"]),
            "tpr": costs["mitigated"]["_tpr"][j],
            "tpr_unmitigated": costs["unmitigated"]["_tpr"][j],
            "selection_rate": costs["mitigated"]["_sel"][j],
            "selection_rate_unmitigated": costs["unmitigated"]["_sel"][j],
        })
    out = MitigationOverTime(
        fitted=fitted, fitted_on=[_plain(splits[0])], judged_on=[_plain(x) for x in judge_splits],
        cost=cost, groups=pd.DataFrame(group_rows).set_index("group"), attribute=name, k=k,
        notes=notes + list(fitted.notes),
    )
    if not out.met:
        out.notes.append(f"{NOT_MET} on the judged period")
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _cost_html(title: str, notice: str, notes: list[str], cost: pd.DataFrame,
               groups: pd.DataFrame) -> str:
    """Render a mitigation for a notebook: notes, the cost side by side, the groups."""
    from studentprofile import _html

    bound: dict[str, Any] = {"max_rows": _html.MAX_ROWS, "max_cols": _html.MAX_COLS}
    return _html.display(title, [
        _html.note(notice), *(_html.note(n) for n in notes),
        _html.heading("What it costs: unmitigated vs mitigated"),
        _html.table(cost, **bound),
        _html.heading("Per group"), _html.table(groups, **bound),
    ])
