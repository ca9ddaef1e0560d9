"""Labels: the one place in studentprofile that reads what happened after an as-of date.

Features (``studentprofile.features``) only ever see events known before ``as_of``. A label asks
the opposite question: did the outcome happen in the ``horizon`` days starting at ``as_of``? Keeping
that look-ahead in this one module makes it easy to audit.

Label values
------------
For a grid row (student, ``as_of``) and a set of outcomes:

* ``1`` -- the student reached one of the outcomes at a time ``t`` with
  ``as_of <= t < as_of + horizon``;
* ``0`` -- no such outcome, and the whole window ``[as_of, as_of + horizon)`` was observed
  (``as_of + horizon <= observed_until``);
* ``NaN`` -- not known or not at risk: the window runs past ``observed_until`` with no outcome
  seen yet (censored), or the student had already reached one of the outcomes before ``as_of``
  (when ``exclude_prior=True``). Drop these rows before training.

Examples
--------
>>> import pandas as pd
>>> from studentprofile.tables import EventTables
>>> from studentprofile.labels import make_labels
>>> students = pd.DataFrame({"student_id": ["ana", "ben"]})
>>> outcomes = pd.DataFrame({"student_id": ["ana"], "time": [40.0], "outcome": ["withdrawn"]})
>>> tables = EventTables(students=students, outcomes=outcomes)
>>> grid = pd.DataFrame({"student_id": ["ana", "ana", "ana", "ben"],
...                      "as_of": [0.0, 30.0, 50.0, 30.0]})
>>> make_labels(tables, grid, outcome="withdrawn", horizon=20, observed_until=100).tolist()
[0.0, 1.0, nan, 0.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, DataQualityWarning, SchemaError
from studentprofile.tables import EventTables
from studentprofile.tables._checks import show_values, time_column
from studentprofile.tables._time import as_days, as_moment, days_delta

__all__ = ["check_grid", "final_outcome", "make_labels"]

#: The first lines of the warnings ``make_labels`` gives for labels a model cannot learn from.
LABELS_ALL_MISSING = "make_labels: every label is missing (NaN), so there is nothing to learn from"
LABELS_ONE_CLASS = "make_labels: every known label is {value}, so a model sees one class only"


def check_grid(grid: Any, tables: EventTables) -> pd.DataFrame:
    """Validate an as-of grid against the tables and return it normalised.

    Parameters
    ----------
    grid : DataFrame
        Columns ``student_id`` and ``as_of`` (the tables' time kind); other columns are kept.
    tables : EventTables
        The tables the grid refers to.

    Returns
    -------
    DataFrame
        The grid with a fresh ``RangeIndex``, ``as_of`` as ``datetime64[ns]`` or float64.

    Raises
    ------
    SchemaError
        Missing columns, empty ``as_of``, a time kind that differs from the tables', or students
        not in ``tables.students``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = EventTables(students=pd.DataFrame({"student_id": [1]}))
    >>> check_grid(pd.DataFrame({"student_id": [1], "as_of": ["2024-01-01"]}), t).dtypes["as_of"]
    dtype('<M8[ns]')
    """
    from studentprofile.tables import _checks

    grid = _checks.require_frame(grid, "grid")
    _checks.require_columns(grid, "grid", ["student_id", "as_of"])
    out = grid.copy()
    out["student_id"] = _checks.student_ids(grid["student_id"], "grid", grid)
    parsed = time_column(grid["as_of"], table="grid", column="as_of", frame=grid)
    values = parsed.values
    null = values.isna().to_numpy()
    if null.any():
        raise SchemaError(
            "`as_of` must not be empty",
            table="grid",
            column="as_of",
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty as_of value(s)",
            rows=_checks.show_rows(grid, null, ["student_id", "as_of"]),
            n_bad=int(null.sum()),
            hint="give every grid row the moment the prediction is made",
        )
    if parsed.kind is None:
        values = (
            pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
            if tables.time_kind == "datetime"
            else values.astype("float64")
        )
    elif parsed.kind != tables.time_kind:
        raise SchemaError(
            f"`as_of` must use the tables' kind of time ({tables.time_kind})",
            table="grid",
            column="as_of",
            rule="time-kind",
            arrived=f"{parsed.kind} values",
            hint="build the grid with studentprofile.features.make_grid, or convert as_of to "
            f"{'datetimes' if tables.time_kind == 'datetime' else 'float days'}",
        )
    out["as_of"] = values.to_numpy()
    if len(out) and len(tables.students):
        kind_grid = "int" if out["student_id"].dtype.kind in "iu" else "str"
        kind_st = "int" if tables.students["student_id"].dtype.kind in "iu" else "str"
        if kind_grid != kind_st:
            raise SchemaError(
                "`student_id` must have the same type as in the students table",
                table="grid",
                column="student_id",
                rule="id-type",
                arrived=f"{kind_grid} identifiers in the grid, {kind_st} in students",
                hint="convert the grid's student_id to the students table's type",
            )
    known = out["student_id"].isin(pd.Index(tables.students["student_id"])).to_numpy()
    if not known.all():
        raise SchemaError(
            "every student in the grid must be in the students table",
            table="grid",
            column="student_id",
            rule="membership",
            arrived=f"unknown students {show_values(out['student_id'][~known].unique())}",
            rows=_checks.show_rows(grid, ~known, ["student_id", "as_of"]),
            n_bad=int((~known).sum()),
            hint="build the grid from tables.students",
        )
    return out.reset_index(drop=True)


def _horizon(horizon: Any, kind: str) -> Any:
    """Return the horizon as the tables' duration type (a Timedelta for datetime tables)."""
    days = as_days(horizon, key="horizon")
    return pd.Timedelta(days_delta(days, "datetime")) if kind == "datetime" else days


def _outcome_set(tables: EventTables, outcome: str | Sequence[str]) -> list[str]:
    wanted = [outcome] if isinstance(outcome, str) else list(outcome)
    if not wanted or not all(isinstance(o, str) for o in wanted):
        raise ConfigError(
            "outcome must be an outcome name or a list of names",
            key="outcome",
            arrived=repr(outcome),
            hint="pass e.g. outcome='withdrawn'",
        )
    return wanted


def _latest_time(tables: EventTables) -> Any:
    """Return the latest time in the tables (a Timestamp or a float)."""
    times = [tables.events["known_at"], tables.events["time"], tables.outcomes["time"]]
    present = [t for t in times if len(t)]
    if not present:
        raise ConfigError(
            "observed_until is needed when the tables hold no events or outcomes",
            key="observed_until",
            arrived="None",
            hint="pass the date up to which outcomes were recorded",
        )
    latest = pd.concat(present, ignore_index=True).max()
    return pd.Timestamp(latest) if tables.time_kind == "datetime" else float(latest)


def _end_of_observation(tables: EventTables, observed_until: Any) -> Any:
    """Return the end of observation: given, or just after the latest time (so it is seen)."""
    if observed_until is None:
        latest = _latest_time(tables)
        if tables.time_kind == "datetime":
            return latest + pd.Timedelta(1, "ns")
        return float(np.nextafter(latest, np.inf))
    return as_moment(observed_until, tables.time_kind, key="observed_until")


def make_labels(
    tables: EventTables,
    grid: pd.DataFrame,
    *,
    outcome: str | Sequence[str],
    horizon: float | pd.Timedelta,
    observed_until: Any = None,
    exclude_prior: bool = True,
) -> pd.Series:
    """Label each grid row: 1 when one of ``outcome`` happens within ``horizon`` days of ``as_of``.

    Parameters
    ----------
    tables : EventTables
        Tables holding the outcomes.
    grid : DataFrame
        As-of grid with ``student_id`` and ``as_of``.
    outcome : str or sequence of str
        Outcome name(s) counted as positive, e.g. ``"withdrawn"`` or ``["withdrawn", "failed"]``.
    horizon : float or Timedelta
        Window length in days (a number or a ``pandas.Timedelta``, from one second to 100
        years); the window is ``[as_of, as_of + horizon)``.
    observed_until : date or float, optional
        Outcomes are known up to (not including) this time: a date for datetime tables (naive,
        or aware in any zone: converted to UTC like the tables' times), days for float tables.
        Rows whose window runs past it with no outcome yet are censored (NaN). Defaults to just
        after the latest time in the tables (so outcomes at that time are seen). A temporal
        backtest passes the test split's as-of date here so no training label looks past it.
    exclude_prior : bool, default True
        Label NaN when the student reached one of the outcomes before ``as_of`` (no longer at
        risk).

    Returns
    -------
    Series of float64
        Indexed by (``student_id``, ``as_of``) in grid order; values 1.0, 0.0 or NaN.

    Raises
    ------
    SchemaError
        A bad grid (see :func:`check_grid`).
    ConfigError
        A bad ``outcome``, ``horizon`` or ``observed_until``.

    Warns
    -----
    DataQualityWarning
        When every label is missing or every known label is one class: the message says why
        (rows censored by ``observed_until``, rows after a prior outcome, no outcome of that name,
        every outcome at or after ``observed_until``, none within the horizon) and what to do.

    Examples
    --------
    >>> import warnings
    >>> from studentprofile.errors import DataQualityWarning
    >>> students = pd.DataFrame({"student_id": ["ana", "ben"]})
    >>> outcomes = pd.DataFrame({"student_id": ["ana", "ben"], "time": [300.0, 300.0],
    ...                          "outcome": ["withdrawn", "passed"]})
    >>> tables = EventTables(students=students, outcomes=outcomes)
    >>> grid = pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [0.0, 0.0]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     y = make_labels(tables, grid, outcome="withdrawn", horizon=301)
    >>> y.tolist()  # ben's window runs past the end of observation (just after t=300)
    [1.0, nan]
    >>> print(str(caught[0].message).splitlines()[0])
    make_labels: every known label is 1, so a model sees one class only
    """
    labels, problem = _labels(tables, grid, outcome=outcome, horizon=horizon,
                              observed_until=observed_until, exclude_prior=exclude_prior)
    if problem:
        warnings.warn(problem, DataQualityWarning, stacklevel=2)
    return labels


def _labels(
    tables: EventTables,
    grid: pd.DataFrame,
    *,
    outcome: str | Sequence[str],
    horizon: float | pd.Timedelta,
    observed_until: Any = None,
    exclude_prior: bool = True,
) -> tuple[pd.Series, str | None]:
    """Return :func:`make_labels`' labels and, when no model can learn from them, why.

    A temporal backtest labels each split's rows with this and reports degenerate splits itself
    (one class in a small test window is expected there, not a data problem).
    """
    grid = check_grid(grid, tables)
    wanted = _outcome_set(tables, outcome)
    h = _horizon(horizon, tables.time_kind)
    end = _end_of_observation(tables, observed_until)
    named = tables.outcomes[tables.outcomes["outcome"].astype(str).isin(wanted)]
    oc = named[named["time"] < end]
    n = len(grid)
    label = np.zeros(n, dtype="float64")
    problem = None
    if n:
        as_of = grid["as_of"].to_numpy()
        next_time, prior = _next_and_prior(grid, oc)
        has_next = ~pd.isna(next_time)
        pos = np.zeros(n, dtype=bool)
        pos[has_next] = next_time[has_next] < (as_of[has_next] + _np(h))
        label[pos] = 1.0
        censored = ~pos & ~((as_of + _np(h)) <= _np(end))
        label[censored] = np.nan
        if exclude_prior:
            label[prior] = np.nan
        else:
            prior = np.zeros(n, dtype=bool)
        problem = _degenerate(
            label,
            censored=int((censored & ~prior).sum()),
            prior=int(prior.sum()),
            n_named=len(named),
            n_seen=len(oc),
            wanted=wanted,
            present=sorted(map(str, tables.outcomes["outcome"].unique())),
            end=end,
            latest=_latest_time(tables) if observed_until is None else None,
            horizon=horizon,
        )
    index = pd.MultiIndex.from_arrays(
        [grid["student_id"].to_numpy(), grid["as_of"].to_numpy()], names=["student_id", "as_of"]
    )
    return pd.Series(label, index=index, name="label"), problem


def _degenerate(
    label: np.ndarray,
    *,
    censored: int,
    prior: int,
    n_named: int,
    n_seen: int,
    wanted: list[str],
    present: list[str],
    end: Any,
    latest: Any,
    horizon: Any,
) -> str | None:
    """Say why, and what to do, when no label or only one class is known; else None."""
    known = label[~np.isnan(label)]
    if len(known) and 0.0 in known and 1.0 in known:
        return None
    until = (
        f"observed_until={end!r}" if latest is None
        else f"observed_until (the default: just after the latest time in the tables, {latest!r})"
    )
    why: list[str] = []
    todo: list[str] = []
    if not len(known):
        head = LABELS_ALL_MISSING
    else:
        value = int(known[0])
        head = LABELS_ONE_CLASS.format(value=value)
        why.append(f"{len(known):,} known label(s), all {value}")
    if censored:
        why.append(
            f"{censored:,} row(s) censored: the window [as_of, as_of + horizon={horizon!r}) runs "
            f"past {until} and no outcome was seen in it"
        )
        todo.append("pass a later observed_until (outcomes are seen only before it), a shorter "
                    "horizon, or earlier as-of dates")
    if prior:
        why.append(f"{prior:,} row(s) left out: the student had reached {wanted!r} before "
                   "as_of (exclude_prior=True)")
        todo.append("use as-of dates before the outcomes")
    if len(known) and int(known[0]) == 0:
        if not n_named:
            why.append(f"no outcome named {wanted!r} in the tables (they hold {present!r})")
            todo.append("check the outcome name")
        elif not n_seen:
            why.append(f"every {wanted!r} outcome is at or after {until}, so none is seen")
            todo.append("pass a later observed_until")
        else:
            why.append(f"no {wanted!r} outcome falls within horizon={horizon!r} days of an as-of "
                       "date")
            todo.append("use a longer horizon or as-of dates closer to the outcomes")
    elif len(known):
        todo.append("check the outcome name and the as-of dates: every student reaches it")
    return f"{head}\n  why: " + "; ".join(why) + "\n  what to do: " + "; or ".join(todo)


def _np(x: Any) -> Any:
    if isinstance(x, pd.Timedelta):
        return x.to_timedelta64()
    if isinstance(x, pd.Timestamp):
        return x.to_datetime64()
    return x


def _next_and_prior(grid: pd.DataFrame, oc: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each grid row: time of the first outcome at or after as_of; any outcome before it."""
    n = len(grid)
    left = pd.DataFrame(
        {"student_id": grid["student_id"].to_numpy(), "as_of": grid["as_of"].to_numpy()}
    )
    left["_row"] = np.arange(n)
    left = left.sort_values("as_of", kind="stable")
    right = pd.DataFrame(
        {"student_id": oc["student_id"].to_numpy(), "t": oc["time"].to_numpy()}
    ).sort_values("t", kind="stable")
    right["student_id"] = right["student_id"].astype(left["student_id"].dtype)
    fwd = pd.merge_asof(
        left, right, left_on="as_of", right_on="t", by="student_id", direction="forward"
    )
    bwd = pd.merge_asof(
        left,
        right,
        left_on="as_of",
        right_on="t",
        by="student_id",
        direction="backward",
        allow_exact_matches=False,
    )
    order = fwd["_row"].to_numpy()
    next_time = np.empty(n, dtype=fwd["t"].to_numpy().dtype)
    next_time[order] = fwd["t"].to_numpy()
    prior = np.zeros(n, dtype=bool)
    prior[bwd["_row"].to_numpy()] = bwd["t"].notna().to_numpy()
    return next_time, prior


def final_outcome(
    tables: EventTables,
    grid: pd.DataFrame,
    *,
    outcomes: Sequence[str],
    default: str | None = None,
) -> pd.Series:
    """Return the first of ``outcomes`` each student reaches at or after ``as_of`` (multi-class).

    Parameters
    ----------
    tables : EventTables
        Tables holding the outcomes.
    grid : DataFrame
        As-of grid with ``student_id`` and ``as_of``.
    outcomes : sequence of str
        The classes, e.g. ``["dropout", "enrolled", "graduate"]``.
    default : str, optional
        Class for rows with no later outcome; ``None`` leaves them missing.

    Returns
    -------
    Series of category
        Indexed by (``student_id``, ``as_of``); categories in the order of ``outcomes``, then
        ``default``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = EventTables(
    ...     students=pd.DataFrame({"student_id": [1, 2]}),
    ...     outcomes=pd.DataFrame({"student_id": [1, 2], "time": [5.0, 9.0],
    ...                            "outcome": ["dropout", "graduate"]}))
    >>> g = pd.DataFrame({"student_id": [1, 2], "as_of": [0.0, 0.0]})
    >>> final_outcome(t, g, outcomes=["dropout", "graduate"]).tolist()
    ['dropout', 'graduate']
    """
    grid = check_grid(grid, tables)
    wanted = _outcome_set(tables, list(outcomes))
    oc = tables.outcomes[tables.outcomes["outcome"].astype(str).isin(wanted)]
    n = len(grid)
    left = pd.DataFrame(
        {"student_id": grid["student_id"].to_numpy(), "as_of": grid["as_of"].to_numpy()}
    )
    left["_row"] = np.arange(n)
    left = left.sort_values("as_of", kind="stable")
    right = pd.DataFrame(
        {
            "student_id": oc["student_id"].to_numpy(),
            "t": oc["time"].to_numpy(),
            "outcome": oc["outcome"].astype(str).to_numpy(),
        }
    ).sort_values("t", kind="stable")
    right["student_id"] = right["student_id"].astype(left["student_id"].dtype)
    fwd = pd.merge_asof(
        left, right, left_on="as_of", right_on="t", by="student_id", direction="forward"
    )
    values = np.empty(n, dtype=object)
    values[fwd["_row"].to_numpy()] = fwd["outcome"].to_numpy(dtype=object)
    result = pd.Series(values).where(pd.notna(values), default)
    index = pd.MultiIndex.from_arrays(
        [grid["student_id"].to_numpy(), grid["as_of"].to_numpy()], names=["student_id", "as_of"]
    )
    cats = wanted + ([default] if default is not None and default not in wanted else [])
    return pd.Series(
        pd.Categorical(result.to_numpy(dtype=object), categories=cats),
        index=index,
        name="label",
    )
