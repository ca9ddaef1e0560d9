"""Column-level checks and normalisers shared by the canonical tables.

Each function takes one column, returns it normalised (never with fewer rows) or raises a
:class:`~studentprofile.errors.SchemaError` that names the table, the column, the rule, what
arrived, up to five offending rows and what to do.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import difflib
import numbers as _numbers
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.tables._time import RANGE_TEXT, TimeKind, naive_utc, out_of_range

_MAX_SHOWN = 5

#: Integer identifiers must fit a signed 64-bit integer (the tables store them as int64).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: Floats are whole-number identifiers only while every integer is exact (2**53).
FLOAT_ID_MAX = 2**53

ID_RANGE = "integer `student_id` values must fit in a signed 64-bit integer"
ID_FLOAT_RANGE = "`student_id` floats are exact only up to 2**53 (9,007,199,254,740,992)"
ID_EMPTY = "`student_id` must not be empty text"


def show_rows(frame: pd.DataFrame, mask: np.ndarray | pd.Series, columns: Sequence[str]) -> str:
    """Format up to five rows of ``frame`` where ``mask`` is true, with their index labels."""
    cols = [c for c in columns if c in frame.columns]
    mask_arr = np.asarray(mask, dtype=bool)
    picked = frame.loc[mask_arr, cols].head(_MAX_SHOWN)
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        return picked.to_string()


def show_values(values: Iterable[object], n: int = _MAX_SHOWN) -> str:
    """Format a few values with ``repr`` for an ``arrived:`` line."""
    out = []
    for i, v in enumerate(values):
        if i == n:
            out.append("...")
            break
        out.append(repr(v))
    return ", ".join(out)


def require_frame(obj: object, table: str) -> pd.DataFrame:
    """Check that ``obj`` is a pandas DataFrame with unique string-like column names."""
    if not isinstance(obj, pd.DataFrame):
        kind = type(obj).__module__.split(".")[0]
        hint = "pass a pandas DataFrame"
        if kind == "polars":
            hint += " (polars: call .to_pandas() first)"
        elif isinstance(obj, dict):
            hint += " (for a dict of columns: pd.DataFrame(d))"
        raise SchemaError(
            f"the `{table}` table must be a pandas DataFrame",
            table=table,
            rule="dataframe",
            arrived=f"an object of type {type(obj).__name__}",
            hint=hint,
        )
    dup = obj.columns[obj.columns.duplicated()].tolist()
    if dup:
        raise SchemaError(
            "column names must be unique",
            table=table,
            rule="unique-columns",
            arrived=f"repeated column names {show_values(dup)}",
            hint="rename or drop the repeated columns",
        )
    return obj


def require_columns(frame: pd.DataFrame, table: str, required: Sequence[str]) -> None:
    """Raise naming every required column that is missing, with close matches as hints."""
    present = [str(c) for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if not missing:
        return
    hints = []
    for col in missing:
        close = difflib.get_close_matches(col, present, n=1, cutoff=0.6)
        if close:
            hints.append(f"rename {close[0]!r} to {col!r}")
    hint = "; ".join(hints) if hints else f"add the column(s) {show_values(missing)}"
    raise SchemaError(
        f"required column(s) missing: expected {list(required)!r}",
        table=table,
        column=missing[0],
        rule="required-column",
        arrived=f"columns {present!r}",
        hint=hint,
    )


def plain(series: pd.Series) -> pd.Series:
    """Turn pyarrow-backed and nullable extension columns into numpy-backed ones, losslessly.

    Integers without nulls become ``int64``, integers or floats with nulls become ``float64`` (NaN
    for missing), booleans without nulls ``bool``, strings stay strings. Anything else is returned
    as it is.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        pa_type = dtype.pyarrow_dtype
        if pa.types.is_timestamp(pa_type):
            if pa_type.tz is not None:
                return series.astype(pd.DatetimeTZDtype("ns", pa_type.tz))
            return series.astype("datetime64[ns]")
        if pa.types.is_date(pa_type):
            return pd.to_datetime(series.astype(object)).astype("datetime64[ns]")
        if pa.types.is_string(pa_type) or pa.types.is_large_string(pa_type):
            return series.astype(object).where(series.notna(), None)
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        return series
    if pd.api.types.is_extension_array_dtype(dtype):
        if pd.api.types.is_bool_dtype(dtype):
            if series.isna().any():
                return series.astype(object).where(series.notna(), None)
            return series.astype(bool)
        if pd.api.types.is_integer_dtype(dtype):
            if series.isna().any():
                return series.astype("float64")
            if pd.api.types.is_unsigned_integer_dtype(dtype) and len(series) and (
                int(series.max()) > INT64_MAX
            ):
                return series.astype("uint64")  # int64 would wrap around
            return series.astype("int64")
        if pd.api.types.is_float_dtype(dtype):
            return series.astype("float64")
    return series


def student_ids(series: pd.Series, table: str, frame: pd.DataFrame) -> pd.Series:
    """Validate and normalise a ``student_id`` column (no nulls; integers or strings)."""
    s = plain(series)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
        s = plain(s)
    null = s.isna().to_numpy()
    if null.any():
        raise SchemaError(
            "`student_id` must not be empty",
            table=table,
            column="student_id",
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty student_id value(s)",
            rows=show_rows(frame, null, list(frame.columns)[:6]),
            n_bad=int(null.sum()),
            hint="fill in the identifier or drop those rows before building EventTables",
        )
    kind = s.dtype.kind
    if kind == "u" and len(s) and int(s.max()) > INT64_MAX:
        _raise_id_range(s.to_numpy() > INT64_MAX, s.to_numpy(), table, frame)
    if kind in "iu":
        return s.astype("int64")
    if kind == "b":
        raise SchemaError(
            "`student_id` must be integers or strings",
            table=table,
            column="student_id",
            rule="id-type",
            arrived="a boolean column",
            hint="use the real identifiers",
        )
    if kind == "f":
        vals = s.to_numpy()
        bad = ~np.isfinite(vals) | (np.floor(vals) != vals)
        if not bad.any() and (np.abs(vals) > FLOAT_ID_MAX).any():
            big = np.abs(vals) > FLOAT_ID_MAX
            raise SchemaError(
                ID_FLOAT_RANGE,
                table=table,
                column="student_id",
                rule="id-range",
                arrived=f"values {show_values(vals[big])}",
                rows=show_rows(frame, big, ["student_id"]),
                n_bad=int(big.sum()),
                hint="read the identifiers as text (e.g. dtype={'student_id': str}) so no digit "
                "is lost",
            )
        if bad.any():
            raise SchemaError(
                "`student_id` must be integers or strings; floats are accepted only when whole",
                table=table,
                column="student_id",
                rule="id-type",
                arrived=f"non-integral values {show_values(vals[bad])}",
                rows=show_rows(frame, bad, ["student_id"]),
                n_bad=int(bad.sum()),
                hint="convert identifiers to strings or integers",
            )
        return s.astype("int64")
    if kind == "M" or isinstance(s.dtype, pd.DatetimeTZDtype):
        raise SchemaError(
            "`student_id` must be integers or strings",
            table=table,
            column="student_id",
            rule="id-type",
            arrived="a datetime column",
            hint="check the column mapping: student_id looks like a date",
        )
    # object or string: every element must be a str (numbers mixed with text are ambiguous)
    values = s.to_numpy(dtype=object)
    is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    if not is_str.all():
        is_int = np.fromiter(
            (isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values),
            dtype=bool,
            count=len(values),
        )
        if is_int.all():
            wide = np.fromiter(
                (not INT64_MIN <= int(v) <= INT64_MAX for v in values), dtype=bool,
                count=len(values),
            )
            if wide.any():
                _raise_id_range(wide, values, table, frame)
            return pd.Series(values.astype("int64"), index=s.index, name="student_id")
        bad = ~is_str
        raise SchemaError(
            "`student_id` must be all integers or all strings, not a mixture",
            table=table,
            column="student_id",
            rule="id-type",
            arrived=f"non-string values {show_values(values[bad])} among strings",
            rows=show_rows(frame, bad, ["student_id"]),
            n_bad=int(bad.sum()),
            hint="convert the column with .astype(str) (or to integers) before building "
            "EventTables",
        )
    text = s.astype(object) if s.dtype == object else s
    blank = np.fromiter((not v.strip() for v in values), dtype=bool, count=len(values))
    if blank.any():
        raise SchemaError(
            ID_EMPTY,
            table=table,
            column="student_id",
            rule="not-empty",
            arrived=f"{int(blank.sum()):,} empty or blank identifier(s) "
            f"{show_values(pd.unique(values[blank]))}",
            rows=show_rows(frame, blank, list(frame.columns)[:6]),
            n_bad=int(blank.sum()),
            hint="fill in the identifier or drop those rows before building EventTables",
        )
    return text


def _raise_id_range(
    bad: np.ndarray, values: np.ndarray, table: str, frame: pd.DataFrame
) -> NoReturn:
    raise SchemaError(
        ID_RANGE,
        table=table,
        column="student_id",
        rule="id-range",
        arrived=f"values {show_values(values[bad])} (the range is {INT64_MIN:,} to {INT64_MAX:,})",
        rows=show_rows(frame, bad, ["student_id"]),
        n_bad=int(bad.sum()),
        hint="read the identifiers as text (e.g. dtype={'student_id': str}); they are then kept "
        "exactly as given",
    )


def categories(
    series: pd.Series,
    table: str,
    column: str,
    frame: pd.DataFrame,
    allowed: Sequence[str] | None = None,
) -> pd.Series:
    """Validate a non-null label column and return it as a categorical of strings."""
    s = plain(series)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_values = s.cat.categories
        if not all(isinstance(v, str) for v in cat_values):
            s = s.astype(object)
    null = s.isna().to_numpy()
    if null.any():
        raise SchemaError(
            f"`{column}` must not be empty",
            table=table,
            column=column,
            rule="not-null",
            arrived=f"{int(null.sum()):,} empty value(s)",
            rows=show_rows(frame, null, ["student_id", column]),
            n_bad=int(null.sum()),
            hint=f"fill in `{column}` or drop those rows before building EventTables",
        )
    if not isinstance(s.dtype, pd.CategoricalDtype):
        values = s.to_numpy(dtype=object)
        is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        if not is_str.all():
            bad = ~is_str
            raise SchemaError(
                f"`{column}` must hold text labels",
                table=table,
                column=column,
                rule="text",
                arrived=f"non-text values {show_values(values[bad])}",
                rows=show_rows(frame, bad, ["student_id", column]),
                n_bad=int(bad.sum()),
                hint=f"map `{column}` to text labels (e.g. .astype(str)) before building "
                "EventTables",
            )
        s = s.astype("category")
    cats = [str(c) for c in s.cat.categories]
    s = s.cat.set_categories(cats) if list(s.cat.categories) != cats else s
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(cats)) > 0 if len(codes) else None
    if used is None or not used.all():  # sorting the column is costly: only when needed
        s = s.cat.remove_unused_categories()
    if allowed is not None:
        unknown = [c for c in s.cat.categories if c not in allowed]
        if unknown:
            bad = s.isin(unknown).to_numpy()
            suggestions = []
            for u in unknown:
                close = difflib.get_close_matches(u.lower(), allowed, n=1, cutoff=0.5)
                if close:
                    suggestions.append(f"{u!r} -> {close[0]!r}")
            hint = f"use one of {list(allowed)!r}"
            if suggestions:
                hint += f" (did you mean {', '.join(suggestions)}?)"
            raise SchemaError(
                f"`{column}` must be one of {list(allowed)!r}",
                table=table,
                column=column,
                rule="allowed-values",
                arrived=f"unknown value(s) {show_values(unknown)}",
                rows=show_rows(frame, bad, ["student_id", column, "kind"]),
                n_bad=int(bad.sum()),
                hint=hint,
            )
    return s


def numbers(
    series: pd.Series,
    table: str,
    column: str,
    frame: pd.DataFrame,
    *,
    positive: bool = False,
) -> pd.Series:
    """Validate a numeric column and return it as float64 (NaN allowed, inf refused).

    Text that spells a number (``"3.5"``) is converted; any other text is an error, so that no
    value silently becomes NaN.
    """
    s = plain(series)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if s.dtype.kind == "c":
        _raise_not_real(s, np.ones(len(s), dtype=bool), table, column, frame)
    if s.dtype.kind in "iufb":
        out = s.astype("float64")
    elif s.dtype.kind == "M" or isinstance(s.dtype, pd.DatetimeTZDtype):
        raise SchemaError(
            f"`{column}` must be numeric",
            table=table,
            column=column,
            rule="numeric",
            arrived="a datetime column",
            hint="check the column mapping",
        )
    else:
        obj = s.astype(object)
        odd = np.fromiter((not _real_or_text(v) for v in obj.to_numpy()), dtype=bool,
                          count=len(obj))
        if odd.any():
            _raise_not_real(obj, odd, table, column, frame)
        converted = pd.to_numeric(obj, errors="coerce")
        bad = (converted.isna() & s.notna()).to_numpy()
        if bad.any():
            raise SchemaError(
                f"`{column}` must be numeric (text is accepted only when it spells a number)",
                table=table,
                column=column,
                rule="numeric",
                arrived=f"text {show_values(s[bad].unique())}",
                rows=show_rows(frame, bad, ["student_id", "kind", column]),
                n_bad=int(bad.sum()),
                hint=f"clean `{column}` or map text codes to numbers before building EventTables",
            )
        out = converted.astype("float64")
    vals = out.to_numpy()
    bad = np.isinf(vals)
    if positive:
        with np.errstate(invalid="ignore"):
            bad |= vals <= 0
    if bad.any():
        rule = "positive" if positive else "finite"
        what = "positive (or empty)" if positive else "finite (or empty)"
        raise SchemaError(
            f"`{column}` must be {what}",
            table=table,
            column=column,
            rule=rule,
            arrived=f"values {show_values(np.unique(vals[bad]))}",
            rows=show_rows(frame, bad, ["student_id", "kind", column]),
            n_bad=int(bad.sum()),
            hint=f"replace those values in `{column}` with a real measurement or leave them empty",
        )
    return pd.Series(vals, index=series.index, name=column)


def _real_or_text(v: object) -> bool:
    """Whether ``v`` may hold a measurement: a real number, text, or empty."""
    if v is None or v is pd.NA:
        return True
    if isinstance(v, str | bytes | decimal.Decimal):
        return True
    return isinstance(v, _numbers.Real)  # int, float, bool, numpy reals; not complex


def _distinct(values: Iterable[object]) -> list[object]:
    """Distinct values in order of appearance, unhashable ones included (compared by repr)."""
    seen: set[str] = set()
    out = []
    for v in values:
        key = repr(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _raise_not_real(
    s: pd.Series, bad: np.ndarray, table: str, column: str, frame: pd.DataFrame
) -> NoReturn:
    bad = np.asarray(bad, dtype=bool)
    raise SchemaError(
        f"`{column}` must hold real numbers (text is accepted only when it spells a number)",
        table=table,
        column=column,
        rule="numeric",
        arrived=f"{int(bad.sum()):,} value(s) that are not real numbers, e.g. "
        f"{show_values(_distinct(s.to_numpy(dtype=object)[bad]))}",
        rows=show_rows(frame, bad, ["student_id", "kind", column]),
        n_bad=int(bad.sum()),
        hint=f"give one real number per row in `{column}` (complex numbers, lists and other "
        "containers are not measurements)",
    )


@dataclass
class ParsedTime:
    """A time column after parsing: values, kind and the timezone it arrived in (if any)."""

    values: pd.Series
    kind: TimeKind | None  # None: an empty column that can take either kind
    tz: str | None
    aware: bool | None  # None when empty or float


def _is_aware(v: object) -> bool:
    return isinstance(v, _dt.datetime) and v.tzinfo is not None


def times(series: pd.Series, table: str, column: str, frame: pd.DataFrame) -> ParsedTime:
    """Parse a time column: datetimes (naive or aware), ISO strings, or float days.

    Nulls are left in place (the caller decides whether they are allowed). Datetimes outside
    ``[EARLIEST, LATEST)`` of :mod:`studentprofile.tables._time` are a ``SchemaError``; aware
    values keep their zone here (see :func:`time_column`).
    """
    s = plain(series)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return _datetimes(s, frame, table, column)
    if s.dtype.kind == "M":
        return _datetimes(s, frame, table, column)
    if s.dtype.kind == "b":
        raise SchemaError(
            f"`{column}` must be a datetime or a number of days",
            table=table,
            column=column,
            rule="time-type",
            arrived="a boolean column",
            hint="check the column mapping",
        )
    if s.dtype.kind in "iuf":
        vals = s.astype("float64")
        inf = np.isinf(vals.to_numpy())
        if inf.any():
            raise SchemaError(
                f"`{column}` must be finite",
                table=table,
                column=column,
                rule="finite",
                arrived=f"{int(inf.sum()):,} infinite value(s)",
                rows=show_rows(frame, inf, ["student_id", column]),
                n_bad=int(inf.sum()),
                hint="use real times (or leave them empty where a rule allows it)",
            )
        return ParsedTime(vals, "float", None, None)
    if s.dtype.kind in "c":
        raise SchemaError(
            f"`{column}` must be a datetime or a number of days",
            table=table,
            column=column,
            rule="time-type",
            arrived="a complex-number column",
            hint="check the column mapping",
        )
    values = s.to_numpy(dtype=object)
    notnull = s.notna().to_numpy()
    if not notnull.any():
        return ParsedTime(s, None, None, None)
    nn = values[notnull]
    # a column of Python datetimes / Timestamps: check awareness element by element
    if all(isinstance(v, _dt.datetime | _dt.date | np.datetime64) for v in nn):
        aware = np.fromiter((_is_aware(v) for v in nn), dtype=bool, count=len(nn))
        if aware.any() and not aware.all():
            _raise_mixed(frame, table, column, notnull, aware)
        try:
            parsed = pd.to_datetime(s, utc=bool(aware.all()))
        except (ValueError, OverflowError) as exc:  # beyond any unit pandas holds
            bad = np.zeros(len(values), dtype=bool)
            bad[np.flatnonzero(notnull)] = [not _holdable(v) for v in nn]
            if bad.any():
                _raise_range(frame, table, column, bad, values[bad])
            raise SchemaError(
                f"`{column}` must be parseable as a date-time",
                table=table,
                column=column,
                rule="parseable-time",
                arrived=str(exc),
                hint=f"convert `{column}` with pd.to_datetime before building EventTables",
            ) from exc
        return _datetimes(parsed, frame, table, column)
    # numbers stored as objects
    if all(_is_real(v) for v in nn):
        return times(pd.to_numeric(s.astype(object)).astype("float64"), table, column, frame)
    # text: parse ISO 8601 fast; fall back to element-wise parsing only to report errors
    str_mask = np.fromiter((isinstance(v, str) for v in nn), dtype=bool, count=len(nn))
    if not str_mask.all():
        bad_full = np.zeros(len(values), dtype=bool)
        bad_full[np.flatnonzero(notnull)[~str_mask]] = True
        raise SchemaError(
            f"`{column}` must be datetimes, ISO 8601 text or numbers of days, not a mixture",
            table=table,
            column=column,
            rule="time-type",
            arrived=f"values of types {show_values(sorted({type(v).__name__ for v in nn}))}",
            rows=show_rows(frame, bad_full, ["student_id", column]),
            n_bad=int(bad_full.sum()),
            hint=f"convert `{column}` with pd.to_datetime before building EventTables",
        )
    fast: pd.Series | None
    with warnings.catch_warnings():
        # pandas 2.2 only warns (FutureWarning) about mixed offsets where pandas 3 raises
        warnings.simplefilter("error", FutureWarning)
        try:
            fast = pd.to_datetime(s, format="ISO8601")
        except (ValueError, TypeError, OverflowError, FutureWarning):
            fast = None
    if fast is not None and fast.dtype == object:  # mixed offsets kept as objects
        fast = None
    if fast is not None and fast.notna().sum() == notnull.sum():
        return _datetimes(fast, frame, table, column)
    # slow path: find the offending strings
    uniq = pd.unique(nn)
    status: dict[object, int] = {}  # 0 unparseable, 1 naive, 2 aware
    for u in uniq:
        try:
            ts = pd.Timestamp(u)
            status[u] = 0 if ts is pd.NaT else (2 if ts.tzinfo is not None else 1)
        except (ValueError, TypeError, OverflowError):
            status[u] = 0
    codes = np.fromiter((status[v] for v in nn), dtype=np.int8, count=len(nn))
    if (codes == 0).any():
        bad_full = np.zeros(len(values), dtype=bool)
        bad_full[np.flatnonzero(notnull)[codes == 0]] = True
        raise SchemaError(
            f"`{column}` must be parseable as a date-time",
            table=table,
            column=column,
            rule="parseable-time",
            arrived=f"unparseable text {show_values(pd.unique(values[bad_full]))}",
            rows=show_rows(frame, bad_full, ["student_id", column]),
            n_bad=int(bad_full.sum()),
            hint=f"fix those values (ISO 8601, e.g. '2024-09-30 14:05') or convert `{column}` "
            "with pd.to_datetime(..., format=...) first",
        )
    aware = codes == 2
    if aware.any() and not aware.all():
        _raise_mixed(frame, table, column, notnull, aware)
    if aware.all():
        return _datetimes(pd.to_datetime(s, utc=True, format="mixed"), frame, table, column)
    return _datetimes(pd.to_datetime(s, format="mixed"), frame, table, column)


def _is_real(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_
    )


def _datetimes(s: pd.Series, frame: pd.DataFrame, table: str, column: str) -> ParsedTime:
    """Check a parsed datetime column (any unit) is in range; return it in nanoseconds."""
    _check_range(s, frame, table, column)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return ParsedTime(s.dt.as_unit("ns"), "datetime", str(s.dtype.tz), True)
    return ParsedTime(s.astype("datetime64[ns]"), "datetime", None, False)


def _check_range(s: pd.Series, frame: pd.DataFrame, table: str, column: str) -> None:
    bad = out_of_range(s)
    if bad.any():
        _raise_range(frame, table, column, bad, np.asarray(s, dtype=object)[bad])


def _holdable(v: object) -> bool:
    """Whether pandas can hold ``v`` as a Timestamp in the tables' range."""
    try:
        ts = pd.Timestamp(v)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return False
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return not bool(out_of_range(pd.Series([ts]))[0])


def _raise_range(
    frame: pd.DataFrame, table: str, column: str, bad: np.ndarray, examples: np.ndarray
) -> NoReturn:
    raise SchemaError(
        f"`{column}` must hold dates {RANGE_TEXT}",
        table=table,
        column=column,
        rule="time-range",
        arrived=f"{int(bad.sum()):,} date(s) out of range, e.g. "
        f"{show_values(pd.unique(examples))}",
        rows=show_rows(frame, bad, ["student_id", column]),
        n_bad=int(bad.sum()),
        hint="check the year (a typo, or a placeholder such as 9999-12-31 or 1899-12-30); "
        "leave unknown times empty where a rule allows it",
    )


def _raise_mixed(
    frame: pd.DataFrame, table: str, column: str, notnull: np.ndarray, aware: np.ndarray
) -> None:
    bad_full = np.zeros(len(notnull), dtype=bool)
    idx = np.flatnonzero(notnull)
    # show the minority kind as the offenders
    minority = aware if aware.sum() <= (~aware).sum() else ~aware
    bad_full[idx[minority]] = True
    raise SchemaError(
        f"`{column}` mixes timezone-aware and naive times",
        table=table,
        column=column,
        rule="timezone-mix",
        arrived=f"{int(aware.sum()):,} aware and {int((~aware).sum()):,} naive value(s)",
        rows=show_rows(frame, bad_full, ["student_id", column]),
        n_bad=int(bad_full.sum()),
        hint="make every time aware (e.g. .dt.tz_localize('Europe/London')) or every time naive "
        "in the same local clock",
    )


#: Kept for callers of the column checks; the one implementation is in ``tables._time``.
to_naive_utc = naive_utc


def time_column(
    series: pd.Series, *, table: str, column: str, frame: pd.DataFrame | None = None
) -> ParsedTime:
    """Turn a time column into the tables' time type (the kind is read from the values).

    Datetimes (naive or aware, ``datetime64`` of any unit, ``Timestamp`` or ``datetime``
    objects, ISO 8601 text with or without offsets) become naive UTC ``datetime64[ns]``;
    numbers become float64 days. Missing values stay missing (the caller decides whether they
    are allowed).

    Parameters
    ----------
    series : Series
        The column.
    table, column : str
        Names used in error messages.
    frame : DataFrame, optional
        The table the column belongs to (to show offending rows); default: the column alone.

    Returns
    -------
    ParsedTime
        ``values`` (converted), ``kind`` (``None`` for an all-empty column), ``tz`` (the zone
        the values arrived in) and ``aware``.

    Raises
    ------
    SchemaError
        Unparseable text, a mixture of kinds, aware mixed with naive values, infinite days or a
        date outside ``[EARLIEST, LATEST)``.

    Examples
    --------
    >>> s = pd.Series(["2024-03-02T00:30+02:00", "2024-03-01T22:30Z"])
    >>> parsed = time_column(s, table="grid", column="as_of")
    >>> parsed.values.tolist(), parsed.kind
    ([Timestamp('2024-03-01 22:30:00'), Timestamp('2024-03-01 22:30:00')], 'datetime')
    """
    if frame is None:
        frame = series.to_frame(column)
    parsed = times(series, table, column, frame)
    if parsed.aware:
        parsed.values = naive_utc(parsed.values)
    return parsed
