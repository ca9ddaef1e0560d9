"""The one time module: a user's date, a number of days or a time column -> the tables' time.

The canonical tables hold one *kind* of time (``docs/data-contracts.md``):

* ``"datetime"``: naive ``datetime64[ns]`` in UTC. A timezone-aware input (a string with an offset
  such as ``"2024-03-02T00:30+02:00"`` or ``"...Z"``, an aware ``Timestamp`` or ``datetime``) is
  converted to UTC and its zone dropped; a naive input is taken as it is (``numpy.datetime64`` is
  naive UTC by definition). So the same instant, written in any zone or form, is the same time.
* ``"float"``: float64 days from an origin the caller declares.

Every public function that takes a date, a duration or a time column goes through this module:

* :func:`as_moment` -- one date or day count (``make_labels(observed_until=)``,
  ``make_grid(start=, end=)``, ``EventTables.known_before``, ``TemporalSplits`` dates, ...);
* :func:`as_days` -- one positive (or non-negative) number of days, given as a number or a
  ``pandas.Timedelta`` alike (horizons, grid steps, gaps, ...);
* ``tables._checks.time_column`` -- a whole column (events, outcomes, grids), parsed by the
  tables' column checks under this module's rules (zones to naive UTC, the date range);
* :func:`to_days` and :func:`days_delta` -- arithmetic in days for either kind.

Dates must lie in ``[EARLIEST, LATEST)`` and durations must not exceed ``MAX_DAYS``: with these
bounds no date, no date plus or minus a duration and no difference of two dates can overflow
``datetime64[ns]`` (whose range is 1677-09-21 to 2262-04-11), so nothing downstream wraps around
silently.

This module imports only numpy, pandas and :mod:`studentprofile.errors`.
The column parser lives with the column checks (``tables._checks``), which import this
module, never the other way round.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DAYS",
    "MIN_POSITIVE_DAYS",
    "NS_PER_DAY",
    "TimeKind",
    "as_days",
    "as_moment",
    "days_delta",
    "moment_days",
    "naive_utc",
    "out_of_range",
    "to_days",
]

TimeKind = Literal["datetime", "float"]

#: Nanoseconds in a day.
NS_PER_DAY: int = 86_400 * 10**9

#: The earliest date the tables accept (inclusive).
EARLIEST: pd.Timestamp = pd.Timestamp("1900-01-01")
#: The first date the tables no longer accept (exclusive).
LATEST: pd.Timestamp = pd.Timestamp("2150-01-01")
#: The longest duration, in days, a parameter may take (100 years).
MAX_DAYS: float = 36_525.0
#: The shortest positive duration, in days (one second).
MIN_POSITIVE_DAYS: float = 1.0 / 86_400

# ---- the rules, as constants that tests assert on
RANGE_TEXT = f"from {EARLIEST:%Y-%m-%d} up to (not including) {LATEST:%Y-%m-%d}"
DATE_OUT_OF_RANGE = "{key} must be a date " + RANGE_TEXT
DATE_FOR_DATETIME = "{key} must be a date for tables with datetime times"
DAYS_FOR_FLOAT = "{key} must be a number of days for tables with float-day times"
MOMENT_INVALID = "{key} must be a date (datetime tables) or a number of days (float tables)"
DAYS_POSITIVE = (
    "{key} must be a positive number of days (or a pandas Timedelta) "
    f"from {MIN_POSITIVE_DAYS:.6g} (one second) to {MAX_DAYS:,.0f} (100 years)"
)
DAYS_NON_NEGATIVE = (
    "{key} must be a non-negative number of days (or a pandas Timedelta) "
    f"up to {MAX_DAYS:,.0f} (100 years)"
)

_NUMBER = (int, float, np.integer, np.floating)
_DURATION = (pd.Timedelta, _dt.timedelta, np.timedelta64)
_DATE = (str, _dt.date, np.datetime64)  # pd.Timestamp and datetime are dates too


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool | np.bool_)


def as_moment(value: Any, kind: TimeKind | None = None, *, key: str) -> Any:
    """Turn a user's date or number of days into the tables' time type.

    Parameters
    ----------
    value : str, Timestamp, datetime, date, numpy.datetime64 or number
        A date (naive, or aware in any zone) for datetime tables; a number of days for
        float-day tables.
    kind : {"datetime", "float"}, optional
        The tables' kind of time; ``None`` infers it from ``value`` (numbers are float days).
    key : str
        The parameter's name, used in error messages.

    Returns
    -------
    Timestamp or float
        A naive ``Timestamp`` in UTC (unit ``ns``) for datetime times, a float for float days.

    Raises
    ------
    ConfigError
        ``None``, ``NaT``, NaN, inf, a boolean, unparseable text, a date outside
        ``[EARLIEST, LATEST)``, or a value of the wrong kind; the message names ``key``.

    Examples
    --------
    >>> as_moment("2024-03-02T00:30+02:00", "datetime", key="observed_until")
    Timestamp('2024-03-01 22:30:00')
    >>> as_moment(pd.Timestamp("2024-03-01 23:30", tz="Europe/London"), key="end")
    Timestamp('2024-03-01 23:30:00')
    >>> as_moment(120, "float", key="cut")
    120.0
    """
    if value is None or isinstance(value, bool | np.bool_):
        raise _moment_error(value, kind, key)
    if _is_number(value):
        if kind == "datetime":
            raise ConfigError(
                DATE_FOR_DATETIME.format(key=key),
                key=key,
                arrived=repr(value),
                hint=f"pass e.g. {key}='2024-09-01'",
            )
        days = float(value)
        if not np.isfinite(days):
            raise ConfigError(
                f"{key} must be a finite number of days",
                key=key,
                arrived=repr(value),
                hint=f"pass e.g. {key}=120.0",
            )
        return days
    if not isinstance(value, _DATE) or isinstance(value, _DURATION):
        raise _moment_error(value, kind, key)
    if kind == "float":
        raise ConfigError(
            DAYS_FOR_FLOAT.format(key=key),
            key=key,
            arrived=repr(value),
            hint=f"pass e.g. {key}=120.0 (days from the tables' origin)",
        )
    try:
        ts = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _moment_error(value, kind, key) from exc
    if ts is pd.NaT or pd.isna(ts):
        raise _moment_error(value, kind, key)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if not (EARLIEST <= ts < LATEST):
        raise ConfigError(
            DATE_OUT_OF_RANGE.format(key=key),
            key=key,
            arrived=repr(value),
            hint="check the year; dates outside this range cannot be stored as datetime64[ns] "
            "together with durations of up to 100 years",
        )
    return ts.as_unit("ns")


def _moment_error(value: Any, kind: TimeKind | None, key: str) -> ConfigError:
    if kind == "datetime":
        return ConfigError(
            DATE_FOR_DATETIME.format(key=key),
            key=key,
            arrived=repr(value),
            hint=f"pass e.g. {key}='2024-09-01' (ISO 8601, optionally with a UTC offset)",
        )
    if kind == "float":
        return ConfigError(
            DAYS_FOR_FLOAT.format(key=key),
            key=key,
            arrived=repr(value),
            hint=f"pass e.g. {key}=120.0",
        )
    return ConfigError(
        MOMENT_INVALID.format(key=key),
        key=key,
        arrived=repr(value),
        hint=f"pass e.g. {key}='2014-02-01' or {key}=120.0",
    )


def moment_days(value: Any, kind: TimeKind | None = None, *, key: str) -> tuple[float, TimeKind]:
    """Turn a user's date or number of days into float days and its kind of time.

    Datetimes become days since 1970-01-01 (UTC), as :func:`to_days` counts them.

    Parameters
    ----------
    value, kind, key
        As for :func:`as_moment`.

    Returns
    -------
    (float, {"datetime", "float"})

    Examples
    --------
    >>> moment_days("1970-01-02T12:00Z", key="test_start")
    (1.5, 'datetime')
    >>> moment_days(3, key="test_start")
    (3.0, 'float')
    """
    moment = as_moment(value, kind, key=key)
    if isinstance(moment, pd.Timestamp):
        return moment.value / NS_PER_DAY, "datetime"
    return float(moment), "float"


def as_days(
    value: Any,
    *,
    key: str,
    positive: bool = True,
    allow_none: bool = False,
) -> Any:
    """Validate a duration in days: a number or a ``pandas.Timedelta`` alike.

    This is the one check for every "number of days" parameter (label horizons, grid steps,
    gaps, history windows, cooldowns...).

    Parameters
    ----------
    value : int, float, Timedelta, datetime.timedelta or numpy.timedelta64
        The duration; numbers are days.
    key : str
        The parameter's name, used in error messages.
    positive : bool, default True
        Require at least ``MIN_POSITIVE_DAYS`` (one second); ``False`` allows zero.
    allow_none : bool, default False
        Return ``None`` for ``None`` instead of raising.

    Returns
    -------
    float or None
        The duration in days, at most ``MAX_DAYS``.

    Raises
    ------
    ConfigError
        NaN, inf, NaT, a boolean, text, a negative (or, when ``positive``, zero) duration, or
        one longer than ``MAX_DAYS``; the message names ``key`` and the allowed range.

    Examples
    --------
    >>> as_days(7, key="every")
    7.0
    >>> as_days(pd.Timedelta(hours=36), key="horizon")
    1.5
    >>> as_days(0, key="gap", positive=False)
    0.0
    """
    if value is None and allow_none:
        return None
    rule = DAYS_POSITIVE if positive else DAYS_NON_NEGATIVE
    example = f"pass e.g. {key}=28 or {key}=pd.Timedelta(weeks=4)"
    days: float
    if isinstance(value, _DURATION):
        try:
            td = pd.Timedelta(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(rule.format(key=key), key=key, arrived=repr(value),
                              hint=example) from exc
        if td is pd.NaT or pd.isna(td):
            raise ConfigError(rule.format(key=key), key=key, arrived=repr(value), hint=example)
        days = td / pd.Timedelta(days=1)
    elif _is_number(value):
        days = float(value)
    else:
        raise ConfigError(rule.format(key=key), key=key, arrived=repr(value), hint=example)
    low_ok = days >= MIN_POSITIVE_DAYS if positive else days >= 0
    if not np.isfinite(days) or not low_ok or days > MAX_DAYS:
        raise ConfigError(rule.format(key=key), key=key, arrived=repr(value), hint=example)
    return float(days)


def days_delta(days: float, kind: TimeKind) -> Any:
    """Return a duration in days as the tables' duration type.

    Parameters
    ----------
    days : float
        A duration checked by :func:`as_days`.
    kind : {"datetime", "float"}

    Returns
    -------
    numpy.timedelta64 (ns) or float

    Examples
    --------
    >>> days_delta(1.5, "datetime")
    np.timedelta64(129600000000000,'ns')
    >>> days_delta(1.5, "float")
    1.5
    """
    if kind == "datetime":
        return np.timedelta64(int(round(days * NS_PER_DAY)), "ns")
    return float(days)


def to_days(values: pd.Series | np.ndarray | pd.Index, kind: TimeKind) -> np.ndarray:
    """Convert canonical time values to float64 days (since 1970-01-01 for datetimes).

    Parameters
    ----------
    values : Series, Index or ndarray
        Times of the canonical kind (``datetime64[ns]`` or float days).
    kind : {"datetime", "float"}
        The time kind of the tables the values belong to.

    Returns
    -------
    ndarray of float64
        Days; NaN where a time is missing.

    Examples
    --------
    >>> to_days(pd.Series(pd.to_datetime(["1970-01-02 12:00"])), "datetime")
    array([1.5])
    """
    if kind == "float":
        return np.asarray(values, dtype="float64")
    arr = np.asarray(values, dtype="datetime64[ns]")
    ints = arr.view("int64").astype("float64")
    out = ints / NS_PER_DAY
    out[np.isnat(arr)] = np.nan
    return out


def naive_utc(values: pd.Series) -> pd.Series:
    """Convert an aware datetime column to naive UTC ``datetime64[ns]``.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-03-02T00:30+02:00"]))
    >>> naive_utc(s).tolist()
    [Timestamp('2024-03-01 22:30:00')]
    """
    return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")


def out_of_range(values: pd.Series) -> np.ndarray:
    """Return which datetimes (naive UTC, any unit) fall outside ``[EARLIEST, LATEST)``.

    Missing times are not out of range.

    Examples
    --------
    >>> out_of_range(pd.Series(pd.to_datetime(["2024-01-01", "2300-01-01"]))).tolist()
    [False, True]
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    with np.errstate(invalid="ignore"):
        bad = (values < EARLIEST) | (values >= LATEST)
    return np.asarray(bad.fillna(False), dtype=bool)
