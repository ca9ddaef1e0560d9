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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables import EventTables
from studentprofile.tables._checks import show_values
from studentprofile.tables._time import as_days, as_moment, days_delta, time_column

__all__ = ["check_grid", "final_outcome", "make_labels"]


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


def _end_of_observation(tables: EventTables, observed_until: Any) -> Any:
    if observed_until is None:
        times = [tables.events["known_at"], tables.events["time"], tables.outcomes["time"]]
        stacked = pd.concat([t for t in times if len(t)], ignore_index=True) if any(
            len(t) for t in times
        ) else None
        if stacked is None:
            raise ConfigError(
                "observed_until is needed when the tables hold no events or outcomes",
                key="observed_until",
                arrived="None",
                hint="pass the date up to which outcomes were recorded",
            )
        return stacked.max()
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
        Rows whose window runs past it with no outcome yet are censored (NaN). Defaults to the
        latest time in the tables. A temporal backtest passes the test split's as-of date here
        so no training label looks past it.
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
    """
    grid = check_grid(grid, tables)
    wanted = _outcome_set(tables, outcome)
    h = _horizon(horizon, tables.time_kind)
    end = _end_of_observation(tables, observed_until)
    oc = tables.outcomes
    oc = oc[oc["outcome"].astype(str).isin(wanted) & (oc["time"] < end)]
    n = len(grid)
    label = np.zeros(n, dtype="float64")
    if n:
        as_of = grid["as_of"].to_numpy()
        next_time, prior = _next_and_prior(grid, oc)
        has_next = ~pd.isna(next_time)
        pos = np.zeros(n, dtype=bool)
        pos[has_next] = next_time[has_next] < (as_of[has_next] + _np(h))
        label[pos] = 1.0
        complete = (as_of + _np(h)) <= _np(end)
        label[~pos & ~complete] = np.nan
        if exclude_prior:
            label[prior] = np.nan
    index = pd.MultiIndex.from_arrays(
        [grid["student_id"].to_numpy(), grid["as_of"].to_numpy()], names=["student_id", "as_of"]
    )
    return pd.Series(label, index=index, name="label")


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
