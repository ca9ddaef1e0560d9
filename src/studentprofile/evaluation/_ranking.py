"""Ranking metrics at a caseload: precision, recall and lift at k, precision at capacity.

Ties at the cut
---------------
Flag the ``k`` highest-scoring students. Let ``s_k`` be the ``k``-th highest score, ``a`` the
number of students scoring strictly above it, ``t`` the number scoring exactly ``s_k`` (so
``a < k <= a + t``) and ``m = k - a`` the places left for the tied students. With ``P_a`` the
positives above the cut and ``P_t`` the positives among the tied, the true positives among the
flagged are

* worst case (tied positives placed last): ``TP = P_a + max(0, m - (t - P_t))``;
* best case (tied positives placed first): ``TP = P_a + min(m, P_t)``;
* expected value over a uniformly random order of the tied students (the mean of a
  hypergeometric draw of ``m`` from ``t``): ``TP = P_a + m P_t / t``.

Then ``precision@k = TP / k``, ``recall@k = TP / P`` and ``lift@k = precision@k / (P / n)``,
where ``P`` is the number of positives and ``n`` the number of students.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs
from studentprofile.tables._checks import show_values

__all__ = [
    "capacity_report",
    "lift_at_k",
    "precision_at_capacity",
    "precision_at_k",
    "ranking_at_k",
    "recall_at_k",
]

Ties = Literal["expected", "worst", "best"]

CAPACITY_INVALID = "capacity must be a number of students >= 0 per group (an int or a mapping)"
CAPACITY_MISSING_GROUP = "capacity must give a number for every group"
GROUPS_MISSING = "every student needs a group (an advisor or caseload) for precision at capacity"


class _Cut:
    """Tie-aware counts at one or more cuts of a ranking (arrays aligned with ``ks``)."""

    def __init__(self, y: np.ndarray, s: np.ndarray, ks: np.ndarray):
        n = len(y)
        self.n = n
        self.n_pos = int(y.sum())
        self.k = ks.astype(np.int64)
        order = np.argsort(-s, kind="mergesort")
        desc = -s[order]  # ascending
        cum = np.r_[0, np.cumsum(y[order], dtype=np.int64)]
        valid = self.k > 0
        kk = np.where(valid, self.k, 1)
        if n:
            v = desc[np.minimum(kk, n) - 1]
            lo = np.searchsorted(desc, v, side="left")
            hi = np.searchsorted(desc, v, side="right")
            self.cut_score = np.where(valid, -v, np.nan)
        else:
            lo = hi = np.zeros(len(ks), dtype=np.int64)
            self.cut_score = np.full(len(ks), np.nan)
        self.above = np.where(valid, lo, 0)
        self.tied = np.where(valid, hi - lo, 0)
        self.pos_above = np.where(valid, cum[lo], 0)
        self.pos_tied = np.where(valid, cum[hi] - cum[lo], 0)
        self.slots = np.where(valid, self.k - self.above, 0)

    def true_positives(self, ties: str) -> np.ndarray:
        m, t, pa, pt = self.slots, self.tied, self.pos_above, self.pos_tied
        if ties == "worst":
            return (pa + np.maximum(0, m - (t - pt))).astype(np.float64)
        if ties == "best":
            return (pa + np.minimum(m, pt)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(t > 0, m * pt / np.maximum(t, 1), 0.0)
        return pa + frac

    def precision(self, ties: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.k > 0, self.true_positives(ties) / np.maximum(self.k, 1), np.nan)

    def recall(self, ties: str) -> np.ndarray:
        if self.n_pos == 0:
            return np.full(len(self.k), np.nan)
        return self.true_positives(ties) / self.n_pos

    def lift(self, ties: str) -> np.ndarray:
        if self.n_pos == 0:
            return np.full(len(self.k), np.nan)
        return self.precision(ties) / (self.n_pos / self.n)


def _one(y_true: Any, scores: Any, k: Any, ties: Any) -> _Cut:
    _inputs.ties(ties)
    y, s = _inputs.binary_inputs(y_true, scores)
    kk = _inputs.resolve_k(k, len(y))
    return _Cut(y, s, np.array([kk]))


def precision_at_k(
    y_true: Any, scores: Any, k: float | int, *, ties: Ties = _inputs.DEFAULT_TIES
) -> float:
    """Share of the ``k`` highest-scoring students who reached the outcome.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    k : float or int
        A fraction of students in (0, 1] (``0.1`` flags ``floor(0.1 n)``) or a number of
        students (an ``int``; more than ``n`` flags everyone).
    ties : {"worst", "expected", "best"}, default "worst"
        How students tied with the last flagged one are counted (module docstring): the
        worst case (the package's one default, as in :func:`lead_time`), the expected value
        over a random order of the tied students, or the best case.

    Returns
    -------
    float
        In [0, 1]; ``nan`` when ``k`` resolves to 0 students.

    Examples
    --------
    Five students; two tie at the cut for the last of three places, one of them a positive:

    >>> y = [1, 0, 1, 0, 0]
    >>> s = [0.9, 0.8, 0.5, 0.5, 0.1]
    >>> precision_at_k(y, s, 3), precision_at_k(y, s, 3, ties="expected")
    (0.333..., 0.5)
    >>> precision_at_k(y, s, 3, ties="best")
    0.666...
    """
    cut = _one(y_true, scores, k, ties)
    return float(cut.precision(ties)[0])


def recall_at_k(
    y_true: Any, scores: Any, k: float | int, *, ties: Ties = _inputs.DEFAULT_TIES
) -> float:
    """Share of all students who reached the outcome that are among the ``k`` highest scores.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    k : float or int
        A fraction in (0, 1] or a number of students (see :func:`precision_at_k`).
    ties : {"worst", "expected", "best"}, default "worst"
        How students tied at the cut are counted (see :func:`precision_at_k`).

    Returns
    -------
    float
        In [0, 1]; ``nan`` when no student reached the outcome.

    Examples
    --------
    >>> recall_at_k([1, 0, 1, 0, 0], [0.9, 0.8, 0.5, 0.5, 0.1], 3)  # worst case: 1 of 2
    0.5
    >>> recall_at_k([1, 0, 1, 0, 0], [0.9, 0.8, 0.5, 0.5, 0.1], 3, ties="expected")  # 1.5 of 2
    0.75
    """
    cut = _one(y_true, scores, k, ties)
    return float(cut.recall(ties)[0])


def lift_at_k(
    y_true: Any, scores: Any, k: float | int, *, ties: Ties = _inputs.DEFAULT_TIES
) -> float:
    """Precision at ``k`` divided by the prevalence: how many times better than random.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    k : float or int
        A fraction in (0, 1] or a number of students (see :func:`precision_at_k`).
    ties : {"worst", "expected", "best"}, default "worst"
        How students tied at the cut are counted (see :func:`precision_at_k`).

    Returns
    -------
    float
        1 is no better than flagging at random; ``nan`` when no student reached the outcome.

    Examples
    --------
    >>> lift_at_k([1, 0, 1, 0, 0], [0.9, 0.8, 0.5, 0.5, 0.1], 3, ties="expected")  # 0.5 / 0.4
    1.25
    """
    cut = _one(y_true, scores, k, ties)
    return float(cut.lift(ties)[0])


def _k_list(k: Any) -> list[Any]:
    if isinstance(k, str | bytes) or not isinstance(k, Iterable):
        return [k]
    out = list(k)
    if not out:
        raise ConfigError(
            _inputs.K_INVALID, key="k", arrived=repr(k), hint="pass e.g. k=[0.05, 0.1, 0.2]"
        )
    return out


def ranking_at_k(y_true: Any, scores: Any, k: Any = (0.05, 0.1, 0.2)) -> pd.DataFrame:
    """Precision, recall and lift at each ``k``, each as expected value, worst and best case.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    k : float, int or sequence of them, default (0.05, 0.1, 0.2)
        Fractions in (0, 1] and/or numbers of students.

    Returns
    -------
    DataFrame
        Indexed by ``k`` (``'10%'`` for 0.1, ``'50'`` for 50), with ``n_flagged``,
        ``cut_score`` (the score of the last flagged student), ``tied_at_cut`` (students with
        exactly that score), ``tied_places`` (places among the flagged left for them), and for
        each of ``precision``, ``recall`` and ``lift`` the expected value and its ``_worst`` and
        ``_best`` cases.

    Examples
    --------
    >>> t = ranking_at_k([1, 0, 1, 0, 0], [0.9, 0.8, 0.5, 0.5, 0.1], k=[2, 3])
    >>> t[["n_flagged", "tied_at_cut", "precision", "precision_worst", "precision_best"]]
       n_flagged  tied_at_cut  precision  precision_worst  precision_best
    k
    2          2            1        0.5         0.500000        0.500000
    3          3            2        0.5         0.333333        0.666667
    """
    ks = _k_list(k)
    y, s = _inputs.binary_inputs(y_true, scores)
    counts = np.array([_inputs.resolve_k(one, len(y)) for one in ks], dtype=np.int64)
    cut = _Cut(y, s, counts)
    out: dict[str, Any] = {
        "n_flagged": counts,
        "cut_score": cut.cut_score,
        "tied_at_cut": cut.tied.astype(np.int64),
        "tied_places": cut.slots.astype(np.int64),
    }
    for name in ("precision", "recall", "lift"):
        fn = getattr(cut, name)
        out[name] = fn("expected")
        out[f"{name}_worst"] = fn("worst")
        out[f"{name}_best"] = fn("best")
    return pd.DataFrame(out, index=pd.Index([_inputs.k_label(one) for one in ks], name="k"))


def _group_codes(groups: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    arr = _inputs._squeeze(groups, "groups")
    if len(arr) != n:
        raise SchemaError(
            _inputs.LENGTHS_DIFFER.format(a="y_true", b="groups"),
            table="groups",
            rule="same-length",
            arrived=f"{n:,} value(s) in y_true, {len(arr):,} in groups",
            hint="pass one group (advisor) per student, in the same order",
        )
    missing = pd.isna(arr)
    if missing.any():
        raise SchemaError(
            GROUPS_MISSING,
            table="groups",
            rule="not-null",
            arrived=f"{int(missing.sum()):,} student(s) without a group at positions "
            f"{show_values(np.flatnonzero(missing).tolist())}",
            hint="assign them, or give them an explicit group such as 'unassigned' with its own "
            "capacity",
        )
    codes, uniques = pd.factorize(arr, sort=True)
    return codes.astype(np.int64), list(uniques)


def _capacities(capacity: Any, labels: Sequence[Any]) -> np.ndarray:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise ConfigError(
                CAPACITY_INVALID, key=key, arrived=repr(value), hint="pass e.g. capacity=25"
            )
        if value < 0:
            raise ConfigError(
                CAPACITY_INVALID, key=key, arrived=repr(value), hint="pass e.g. capacity=25"
            )
        return int(value)

    if isinstance(capacity, Mapping):
        missing = [g for g in labels if g not in capacity]
        if missing:
            raise ConfigError(
                CAPACITY_MISSING_GROUP,
                key="capacity",
                arrived=f"no capacity for group(s) {show_values(missing)}",
                hint="add them to the mapping (0 for a group that takes no one)",
            )
        return np.array([check(capacity[g], f"capacity[{g!r}]") for g in labels], dtype=np.int64)
    value = check(capacity, "capacity")
    return np.full(len(labels), value, dtype=np.int64)


def capacity_report(
    y_true: Any,
    scores: Any,
    groups: Any,
    capacity: int | Mapping[Any, int],
) -> pd.DataFrame:
    """Per group (advisor, caseload), flag its ``capacity`` highest-scoring students.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    groups : array-like
        Each student's group, e.g. the advisor who would contact them. No missing values.
    capacity : int or mapping
        How many students each group can take: one number for all, or ``{group: number}``.

    Returns
    -------
    DataFrame
        Indexed by ``group``: ``size``, ``capacity``, ``n_flagged`` (``min(capacity, size)``),
        ``positives``, and true positives and precision as expected value, worst and best case
        (ties at each group's cut handled as in :func:`precision_at_k`).

    Examples
    --------
    >>> t = capacity_report([1, 0, 0, 1, 1], [0.9, 0.8, 0.7, 0.2, 0.1],
    ...                     groups=["a", "a", "a", "b", "b"], capacity=1)
    >>> t[["size", "n_flagged", "positives", "precision"]]
           size  n_flagged  positives  precision
    group
    a         3          1          1        1.0
    b         2          1          2        1.0
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    codes, labels = _group_codes(groups, len(y))
    caps = _capacities(capacity, labels)
    rows = []
    for g, label in enumerate(labels):
        mask = codes == g
        yg, sg = y[mask], s[mask]
        k = int(min(caps[g], len(yg)))
        cut = _Cut(yg, sg, np.array([k]))
        row: dict[str, Any] = {
            "group": label,
            "size": len(yg),
            "capacity": int(caps[g]),
            "n_flagged": k,
            "positives": int(yg.sum()),
        }
        for rule in ("expected", "worst", "best"):
            suffix = "" if rule == "expected" else f"_{rule}"
            row[f"true_positives{suffix}"] = float(cut.true_positives(rule)[0])
            row[f"precision{suffix}"] = float(cut.precision(rule)[0])
        rows.append(row)
    columns = ["group", "size", "capacity", "n_flagged", "positives"] + [
        f"{m}{suffix}"
        for m in ("true_positives", "precision")
        for suffix in ("", "_worst", "_best")
    ]
    return pd.DataFrame(rows, columns=columns).set_index("group")


def precision_at_capacity(
    y_true: Any,
    scores: Any,
    groups: Any,
    capacity: int | Mapping[Any, int],
    *,
    ties: Ties = _inputs.DEFAULT_TIES,
) -> float:
    """Precision when each group (advisor) contacts its own ``capacity`` highest-risk students.

    ``precision = sum_g TP_g / sum_g min(capacity_g, n_g)``: the share of all contacted
    students who reached the outcome, pooling the groups. It differs from precision at a global
    ``k`` because an advisor with a low-risk caseload still fills it.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; higher means more at risk.
    groups : array-like
        Each student's group; no missing values.
    capacity : int or mapping
        Students per group: one number for all, or ``{group: number}``.
    ties : {"worst", "expected", "best"}, default "worst"
        How students tied at a group's cut are counted (see :func:`precision_at_k`).

    Returns
    -------
    float
        ``nan`` when no one is flagged.

    Examples
    --------
    >>> precision_at_capacity([1, 0, 0, 1, 1], [0.9, 0.8, 0.7, 0.2, 0.1],
    ...                       groups=["a", "a", "a", "b", "b"], capacity={"a": 2, "b": 1})
    0.666...
    """
    rule = _inputs.ties(ties)
    table = capacity_report(y_true, scores, groups, capacity)
    flagged = int(table["n_flagged"].sum())
    if flagged == 0:
        return float("nan")
    suffix = "" if rule == "expected" else f"_{rule}"
    return float(table[f"true_positives{suffix}"].sum() / flagged)
