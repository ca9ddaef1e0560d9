"""EventTables (pandas) -> Spark DataFrames with the types :func:`build_features` expects."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from studentprofile.errors import ConfigError
from studentprofile.tables import EventTables

__all__ = ["from_pandas", "from_tables"]


def from_pandas(spark: Any, frame: pd.DataFrame) -> DataFrame:
    """Return a Spark DataFrame of a pandas frame, through Arrow.

    Naive times are UTC instants (``TimestampType``, microseconds; the tables' times are naive
    UTC), aware times are converted to UTC, categoricals and other text become strings (nulls
    stay null), numbers and booleans keep their type.

    Parameters
    ----------
    spark : SparkSession
    frame : DataFrame

    Returns
    -------
    pyspark.sql.DataFrame

    Examples
    --------
    >>> from studentprofile.spark import from_pandas  # doctest: +SKIP
    >>> from_pandas(spark, tables.events).columns[:3]  # doctest: +SKIP
    ['student_id', 'time', 'known_at']
    """
    import pyarrow as pa

    if not isinstance(frame, pd.DataFrame):
        raise ConfigError("from_pandas needs a pandas DataFrame", key="frame",
                          arrived=f"an object of type {type(frame).__name__}",
                          hint="pass a DataFrame, e.g. tables.events")
    cols: dict[str, Any] = {}
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert(None)
        if s.dtype.kind == "M":
            cols[str(c)] = pa.array(s.to_numpy(dtype="datetime64[ns]"),
                                    pa.timestamp("ns")).cast(pa.timestamp("us", tz="UTC"))
        elif s.dtype.kind in "biuf":
            cols[str(c)] = pa.array(s.to_numpy())
        else:
            values = s.astype(object).to_numpy()
            cols[str(c)] = pa.array([None if pd.isna(v) else str(v) for v in values],
                                    pa.string())
    return spark.createDataFrame(pa.table(cols))


def from_tables(spark: Any, tables: EventTables) -> dict[str, DataFrame]:
    """Return the tables as Spark DataFrames: ``{"students", "events"[, "outcomes"]}``.

    For tables already held by the driver (a test, a small campus, the weekly job of a run whose
    config loads its sources on one machine); at platform scale read the tables in Spark.
    Pass ``timezone=tables.report.timezone`` and the tables' ``audit_attributes`` and
    ``time_origin`` to :func:`build_features` with them.

    Parameters
    ----------
    spark : SparkSession
    tables : EventTables

    Returns
    -------
    dict of str -> pyspark.sql.DataFrame

    Examples
    --------
    >>> from studentprofile.spark import from_tables  # doctest: +SKIP
    >>> sorted(from_tables(spark, tables))  # doctest: +SKIP
    ['events', 'outcomes', 'students']
    """
    if not isinstance(tables, EventTables):
        raise ConfigError("from_tables needs EventTables", key="tables",
                          arrived=f"an object of type {type(tables).__name__}",
                          hint="build them with studentprofile.EventTables(...)")
    out = {"students": from_pandas(spark, tables.students),
           "events": from_pandas(spark, tables.events)}
    if tables.outcomes is not None and len(tables.outcomes.columns):
        out["outcomes"] = from_pandas(spark, tables.outcomes)
    return out
