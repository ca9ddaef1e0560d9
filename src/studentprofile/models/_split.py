"""The held-out slice for early stopping and calibration: later in time, no shared students.

A random split of a student x as-of feature matrix leaks twice: the same student sits on both
sides (their rows are strongly correlated), and rows from the future teach the model about the
past. :func:`holdout_split` builds the slice the way a deployed model meets data: the held-out
rows come from students the training rows never saw, and from as-of dates at or after a cutoff
that every training row precedes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError

__all__ = ["HoldoutSplit", "holdout_split"]

_MAX_CUTOFFS = 64


@dataclass(frozen=True)
class HoldoutSplit:
    """Row positions of the training and held-out slices, and how they were chosen.

    Attributes
    ----------
    train, holdout : ndarray of int64
        Row positions (``0 .. n - 1``), sorted.
    strategy : {"temporal", "student", "row"}
        ``temporal``: held-out rows are at or after ``cutoff`` and every training row is before
        it; ``student``: one as-of date only, so the split is by student alone; ``row``: no
        student or time information, so every row counts as its own student.
    cutoff : object or None
        The first as-of value of the held-out slice (``temporal`` only).
    n_unused : int
        Rows in neither slice: earlier rows of held-out students and later rows of training
        students, dropped so that both rules hold.
    """

    train: np.ndarray
    holdout: np.ndarray
    strategy: str
    cutoff: Any = None
    n_unused: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (no row positions, no identifiers)."""
        cutoff = self.cutoff
        if isinstance(cutoff, np.datetime64 | pd.Timestamp):
            cutoff = str(pd.Timestamp(cutoff))
        elif isinstance(cutoff, np.generic):
            cutoff = cutoff.item()
        return {
            "strategy": self.strategy,
            "cutoff": cutoff,
            "n_train": int(len(self.train)),
            "n_holdout": int(len(self.holdout)),
            "n_unused": int(self.n_unused),
        }


def _codes(values: Any, what: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = pd.Series(np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy())
    if len(arr) != n:
        raise SchemaError(
            f"`{what}` must have one value per row of X",
            table="X",
            column=what,
            rule="length",
            arrived=f"{len(arr):,} values for {n:,} rows",
        )
    if arr.isna().any():
        raise SchemaError(
            f"`{what}` must not be empty",
            table="X",
            column=what,
            rule="not-null",
            arrived=f"{int(arr.isna().sum()):,} empty value(s)",
            hint=f"give every row its {what}",
        )
    codes, uniques = pd.factorize(arr, sort=True)
    return codes.astype("int64"), np.asarray(uniques)


def holdout_split(
    n: int,
    *,
    student: Any = None,
    time: Any = None,
    fraction: float = 0.2,
    random_state: int | None = 0,
) -> HoldoutSplit:
    """Choose a held-out slice that is later in time and shares no student with training.

    Parameters
    ----------
    n : int
        Number of rows.
    student : array-like, optional
        Student of each row. Without it every row is its own student.
    time : array-like, optional
        As-of time of each row (numbers or datetimes). Without it, or when it holds a single
        value, the split is by student only.
    fraction : float, default 0.2
        Target share of rows in the held-out slice (at least this many, as close as whole
        students allow).
    random_state : int or None, default 0
        Seed for breaking ties between students.

    Returns
    -------
    HoldoutSplit

    Notes
    -----
    The rule, for a cutoff ``c``: held-out rows are the rows at or after ``c`` of a set ``H`` of
    students; training rows are the rows before ``c`` of everyone else. Students join ``H`` in
    a fixed order, the latest to enter the grid (first as-of date) first, ties broken by a
    seeded shuffle, skipping those with no row at or after ``c``, until ``H`` holds
    ``fraction`` of the rows. The order never looks at a student's later rows: in an
    early-warning grid those depend on the outcome (a student who withdraws leaves the grid),
    and choosing by them would fill the slice with students who stay. The cutoff is searched
    over (up to 64 quantiles of) the distinct as-of values, and the one that keeps the most
    training rows wins. With several intake cohorts this holds out late entrants and loses
    little; with a single cohort it holds out a random group of students for the later weeks
    and trains on the other students' earlier weeks.

    Examples
    --------
    >>> split = holdout_split(8, student=["a", "a", "b", "b", "c", "c", "d", "d"],
    ...                       time=[1, 2, 1, 2, 1, 2, 2, 3], fraction=0.25)
    >>> split.strategy, split.holdout.tolist(), split.train.tolist()
    ('temporal', [6, 7], [0, 2, 4])
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not (
        0 < fraction < 1
    ):
        raise ConfigError(
            "validation_fraction must be a number strictly between 0 and 1",
            key="validation_fraction",
            arrived=repr(fraction),
            hint="use e.g. 0.2, or None to train on every row without early stopping",
        )
    rng = np.random.default_rng(random_state)
    if student is None:
        s_codes, n_students = np.arange(n, dtype="int64"), n
        strategy_no_time = "row"
    else:
        s_codes, s_uniques = _codes(student, "student_id", n)
        n_students = len(s_uniques)
        strategy_no_time = "student"
    priority = rng.permutation(n_students)
    target = max(1, math.ceil(fraction * n))
    t_codes: np.ndarray | None = None
    t_values: np.ndarray = np.empty(0)
    if time is not None:
        t_codes, t_values = _codes(time, "as_of", n)
        if len(t_values) < 2:
            t_codes = None
    if t_codes is None:
        # by student only: whole students in a seeded random order until the slice is full
        rows_per = np.bincount(s_codes, minlength=n_students)
        order = np.argsort(priority, kind="stable")
        cum = np.cumsum(rows_per[order])
        k = int(np.searchsorted(cum, target) + 1)
        chosen = np.zeros(n_students, dtype=bool)
        chosen[order[:k]] = True
        held = chosen[s_codes]
        return HoldoutSplit(
            train=np.flatnonzero(~held), holdout=np.flatnonzero(held), strategy=strategy_no_time
        )

    n_times = len(t_values)
    candidates = np.arange(1, n_times)
    if len(candidates) > _MAX_CUTOFFS:
        candidates = np.unique(np.linspace(1, n_times - 1, _MAX_CUTOFFS).round().astype("int64"))
    # students in the order they are held out: latest first as-of date first, ties by the
    # seeded shuffle. Nothing that could depend on a student's outcome (such as how many rows
    # they have after the cutoff: withdrawn students leave the grid) may enter this order.
    first = np.full(n_students, n_times, dtype="int64")
    np.minimum.at(first, s_codes, t_codes)
    entry_order = np.lexsort((priority, -first))
    best_score: tuple[bool, int, int] = (False, -1, 0)
    best_cut, best_chosen = 1, np.zeros(0, dtype="int64")
    for c in candidates.tolist():
        late = t_codes >= c
        after = np.bincount(s_codes[late], minlength=n_students)
        before = np.bincount(s_codes[~late], minlength=n_students)
        order = entry_order[after[entry_order] > 0]
        cum = np.cumsum(after[order])
        k = len(order) if cum[-1] < target else int(np.searchsorted(cum, target) + 1)
        chosen = order[:k]
        n_held = int(cum[k - 1])
        n_train = int(before.sum() - before[chosen].sum())
        score = (n_held >= target, n_train, -n_held)
        if score > best_score:
            best_score, best_cut, best_chosen = score, c, chosen
    in_h = np.zeros(n_students, dtype=bool)
    in_h[best_chosen] = True
    late = t_codes >= best_cut
    held = late & in_h[s_codes]
    train = ~late & ~in_h[s_codes]
    return HoldoutSplit(
        train=np.flatnonzero(train),
        holdout=np.flatnonzero(held),
        strategy="temporal",
        cutoff=t_values[best_cut],
        n_unused=int(n - held.sum() - train.sum()),
    )
