"""Checks of Spark DataFrame schemas (no job runs) and the pandas side of each shard.

Everything here runs on the driver before a Spark job starts, or inside a worker on one shard's
pandas frames. Spark hands timestamps to pandas as naive wall-clock times of the session time
zone; :class:`FrameContext` turns them back into the instants the tables' time module expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables import STUDENT_TIME_COLUMNS, EventTables

__all__ = [
    "FrameContext",
    "arrow_frame",
    "check_frame",
    "collect",
    "id_kind",
    "pandas_dtype",
    "time_kind_of",
]

_NUMBER = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
           T.DecimalType)
_INTEGER = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_TIMESTAMP = (T.TimestampType, T.TimestampNTZType)

#: What each table must hold, and what each column's Spark type must be.
REQUIRED = {
    "events": ("student_id", "time", "family", "kind", "value"),
    "students": ("student_id",),
    "grid": ("student_id", "as_of"),
    "outcomes": ("student_id", "time", "outcome"),
}
_TEXT_COLUMNS = {"family", "kind", "outcome"}
_NUMBER_COLUMNS = {"value", "max_value"}
_TIME_COLUMNS = {"time", "known_at", "as_of", *STUDENT_TIME_COLUMNS}


def check_frame(sdf: Any, table: str) -> dict[str, T.DataType]:
    """Check one Spark DataFrame's columns and types; return its ``{column: type}``.

    Raises
    ------
    SchemaError
        Not a Spark DataFrame, a required column missing, or a column of the wrong type.
    """
    if not isinstance(sdf, DataFrame):
        raise SchemaError(
            f"the {table} table must be a Spark DataFrame",
            table=table,
            rule="type",
            arrived=f"an object of type {type(sdf).__name__}",
            hint="pass spark.createDataFrame(...) or spark.read...(...); for pandas frames use "
            "the single-machine API (studentprofile.features)",
        )
    types = {f.name: f.dataType for f in sdf.schema.fields}
    missing = [c for c in REQUIRED[table] if c not in types]
    if missing:
        raise SchemaError(
            f"the {table} table lacks required column(s) {missing!r}",
            table=table,
            column=missing[0],
            rule="required-column",
            arrived=f"columns {list(types)!r}",
            hint=f"the {table} table needs {list(REQUIRED[table])!r}; rename or add the columns",
        )
    for col, dtype in types.items():
        if col == "student_id" and not isinstance(dtype, (T.StringType, *_INTEGER)):
            _bad_type(table, col, dtype, "text or integer identifiers")
        elif col in _TEXT_COLUMNS and table != "students" and not isinstance(dtype, T.StringType):
            _bad_type(table, col, dtype, "text")
        elif col in _NUMBER_COLUMNS and table == "events" and not isinstance(dtype, _NUMBER):
            _bad_type(table, col, dtype, "numbers")
        elif col in _TIME_COLUMNS and (table != "students" or col in STUDENT_TIME_COLUMNS) \
                and not isinstance(dtype, (*_TIMESTAMP, *_NUMBER)):
            _bad_type(table, col, dtype, "timestamps or numbers (days)")
        elif isinstance(dtype, (T.ArrayType, T.MapType, T.StructType, T.BinaryType)):
            _bad_type(table, col, dtype, "a plain value (text, number, boolean or timestamp)")
    return types


def _bad_type(table: str, col: str, dtype: T.DataType, expected: str) -> None:
    raise SchemaError(
        f"`{col}` must hold {expected}",
        table=table,
        column=col,
        rule="spark-type",
        arrived=f"Spark type {dtype.simpleString()!r}",
        hint=f"cast the column before calling: sdf.withColumn({col!r}, F.col({col!r}).cast(...))",
    )


def id_kind(types: dict[str, T.DataType]) -> str:
    """Return ``"int"`` or ``"str"``: the kind of the table's ``student_id``."""
    return "int" if isinstance(types["student_id"], _INTEGER) else "str"


def time_kind_of(tables: dict[str, dict[str, T.DataType]]) -> str | None:
    """Return the one kind of time ('datetime' or 'float') of every time column, or None if none.

    Raises
    ------
    SchemaError
        Timestamps in one column, numbers in another.
    """
    seen: dict[str, str] = {}
    for table, types in tables.items():
        for col, dtype in types.items():
            if col in _TIME_COLUMNS and (table != "students" or col in STUDENT_TIME_COLUMNS):
                seen[f"{table}.{col}"] = "datetime" if isinstance(dtype, _TIMESTAMP) else "float"
    kinds = set(seen.values())
    if len(kinds) > 1:
        fl = [k for k, v in seen.items() if v == "float"]
        dt = [k for k, v in seen.items() if v == "datetime"]
        table, col = fl[0].split(".")
        raise SchemaError(
            "every time column must use the same kind of time: all timestamps or all days",
            table=table,
            column=col,
            rule="time-kind",
            arrived=f"timestamps in {dt!r}, numbers in {fl!r}",
            hint="cast the numbers to timestamps or the timestamps to days",
        )
    return kinds.pop() if kinds else None


def check_ids(frames: dict[str, dict[str, T.DataType]]) -> None:
    """Every table's ``student_id`` has the same kind (text or integer)."""
    kinds = {table: id_kind(types) for table, types in frames.items()}
    if len(set(kinds.values())) > 1:
        table = next(t for t, k in kinds.items() if k != kinds["students"])
        raise SchemaError(
            "`student_id` must have the same type as in the students table",
            table=table,
            column="student_id",
            rule="id-type",
            arrived=f"identifier kinds {kinds!r}",
            hint="cast student_id to the students table's type in every table",
        )


def pandas_dtype(dtype: T.DataType) -> Any:
    """Return the pandas dtype Spark's Arrow conversion gives a column of this type."""
    if isinstance(dtype, _INTEGER):
        return "int64"
    if isinstance(dtype, _NUMBER):
        return "float64"
    if isinstance(dtype, T.BooleanType):
        return "bool"
    if isinstance(dtype, _TIMESTAMP):
        return "datetime64[ns]"
    return "object"


def check_positive_int(value: Any, key: str, hint: str) -> int:
    """Check a positive integer parameter (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{key} must be a positive integer", key=key, arrived=repr(value),
                          hint=hint)
    return int(value)


@dataclass(frozen=True)
class FrameContext:
    """How one run's pandas frames become EventTables inside a worker.

    Parameters
    ----------
    session_tz : str
        ``spark.sql.session.timeZone``: Spark gives ``TimestampType`` values to pandas as naive
        wall-clock times of this zone.
    timezone : str or None
        The zone the source's local clock runs in (what ``EventTables.report.timezone`` holds on
        the pandas path); time-of-day and weekday aggregates read that clock.
    instant_columns : dict of str -> tuple of str
        Per table, the ``TimestampType`` columns (instants; ``TimestampNTZType`` columns are
        naive already and taken as UTC).

    Examples
    --------
    >>> ctx = FrameContext(session_tz="Asia/Shanghai", timezone=None,
    ...                    instant_columns={"grid": ("as_of",)})
    >>> ctx.as_of(pd.Series(pd.to_datetime(["2024-09-09 08:00"]))).tolist()  # 08:00 in Shanghai
    [Timestamp('2024-09-09 00:00:00')]
    """

    session_tz: str
    timezone: str | None
    instant_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    audit_attributes: tuple[str, ...] = ()
    time_origin: Any = None
    time_kind: str | None = None

    def _times(self, s: pd.Series, table: str, as_source: bool) -> pd.Series:
        if s.dtype.kind != "M":
            return s
        if isinstance(s.dtype, pd.DatetimeTZDtype):  # an instant, as Arrow hands it over
            s = s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif s.name in self.instant_columns.get(table, ()):
            s = s.astype("datetime64[ns]").dt.tz_localize(self.session_tz)
        else:
            s = s.astype("datetime64[ns]").dt.tz_localize("UTC")
        if as_source and self.timezone is not None:
            return s.dt.tz_convert(self.timezone)
        return s.dt.tz_convert("UTC").dt.tz_localize(None)

    def utc(self, s: pd.Series, instant: bool = True) -> pd.Series:
        """Return Spark's naive session-zone times (or naive UTC ones) as naive UTC."""
        s = s.astype("datetime64[ns]")
        if not instant:
            return s
        return s.dt.tz_localize(self.session_tz).dt.tz_convert("UTC").dt.tz_localize(None)

    def to_session(self, s: pd.Series) -> pd.Series:
        """Return naive UTC times as the naive session-zone times Spark reads back."""
        if s.dtype.kind != "M":
            return s
        return s.dt.tz_localize("UTC").dt.tz_convert(self.session_tz).dt.tz_localize(None)

    def frame(self, pdf: pd.DataFrame, table: str) -> pd.DataFrame:
        """Return the frame with times as the pandas path reads them (aware in ``timezone``)."""
        out = pdf.copy()
        for col in out.columns:
            source = table == "events" and col in ("time", "known_at") or (
                table == "students" and col in STUDENT_TIME_COLUMNS) or (
                table == "outcomes" and col == "time")
            out[col] = self._times(out[col], table, source)
        return out

    def as_of(self, s: pd.Series) -> pd.Series:
        """Return the grid's as_of as naive UTC (or float days)."""
        return self._times(s.rename("as_of"), "grid", False)

    def tables(
        self,
        students: pd.DataFrame,
        events: pd.DataFrame | None = None,
        outcomes: pd.DataFrame | None = None,
    ) -> EventTables:
        """EventTables of one shard (validated as on the pandas path)."""
        return EventTables(
            students=self.frame(students, "students"),
            events=None if events is None else self.frame(events, "events"),
            outcomes=None if outcomes is None else self.frame(outcomes, "outcomes"),
            audit_attributes=self.audit_attributes,
            time_origin=self.time_origin,
            check_duplicates=False,
            time_kind=self.time_kind,  # type: ignore[arg-type]
        )


def context(
    sdfs: dict[str, Any],
    types: dict[str, dict[str, T.DataType]],
    *,
    timezone: str | None,
    audit_attributes: Sequence[str],
    time_origin: Any,
) -> FrameContext:
    """Build the run's FrameContext from the checked schemas."""
    if timezone is not None:
        try:
            pd.Timestamp("2024-01-01").tz_localize(timezone)
        except Exception as exc:  # pytz / zoneinfo raise different types for unknown zones
            raise ConfigError("timezone must be a time zone name", key="timezone",
                              arrived=repr(timezone),
                              hint="e.g. 'Europe/London' or 'Asia/Shanghai'") from exc
    if isinstance(audit_attributes, str):
        raise ConfigError("audit_attributes must be a list of column names",
                          key="audit_attributes", arrived=repr(audit_attributes),
                          hint=f"wrap it in a list: audit_attributes=[{audit_attributes!r}]")
    spark = next(iter(sdfs.values())).sparkSession
    session_tz = str(spark.conf.get("spark.sql.session.timeZone"))
    instants = {
        table: tuple(c for c, t in tt.items() if isinstance(t, T.TimestampType))
        for table, tt in types.items()
    }
    return FrameContext(
        session_tz=session_tz,
        timezone=timezone,
        instant_columns=instants,
        audit_attributes=tuple(audit_attributes),
        time_origin=time_origin,
        time_kind=time_kind_of(types),
    )


def collect(sdf: DataFrame, session_tz: str) -> pd.DataFrame:
    """Collect a (small) Spark DataFrame to pandas as a worker would see it.

    Goes through Arrow (``toArrow``), not ``toPandas``, whose pandas conversion trips over
    pandas 3 deprecations in pyspark 4.x; timestamps come back as naive wall-clock times of the
    session time zone, exactly as ``applyInPandas`` hands them to a worker.
    """
    pdf = sdf.toArrow().to_pandas()
    for col in pdf.columns:
        if isinstance(pdf[col].dtype, pd.DatetimeTZDtype):
            pdf[col] = pdf[col].dt.tz_convert(session_tz).dt.tz_localize(None)
    return pdf


def arrow_frame(table: Any) -> pd.DataFrame:
    """Return a pandas frame of an Arrow table that Spark handed to Python.

    As ``applyInPandas`` would give it, except for instants: ``TimestampType`` columns stay
    tz-aware (:class:`FrameContext` reads them as instants), text is ``object`` with ``None``
    for nulls, integers with nulls are floats.
    """
    import pyarrow as pa

    cols: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            cols[name] = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        elif pa.types.is_timestamp(col.type) and col.type.tz is not None:
            # an instant: to nanoseconds in UTC inside Arrow (one pass, no pandas tz logic)
            cols[name] = col.cast(pa.timestamp("ns", "UTC")).to_pandas()
        else:
            cols[name] = col.to_pandas()
    return pd.DataFrame(cols, index=pd.RangeIndex(table.num_rows))


def empty_frame(types: dict[str, T.DataType]) -> pd.DataFrame:
    """Return an empty pandas frame with the dtypes Spark would hand a worker."""
    return pd.DataFrame({c: pd.Series([], dtype=pandas_dtype(t)) for c, t in types.items()})
