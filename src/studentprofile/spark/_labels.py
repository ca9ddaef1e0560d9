"""make_grid and make_labels on Spark: the pandas functions per shard, global defaults first.

Both functions are per student once their few global facts are fixed (the default start and
end of a grid, the default end of observation of labels). Those facts are computed by one small
aggregate job on the driver, exactly as the pandas path computes them from the whole tables, and
handed to the pandas function that runs on each shard of students.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from studentprofile.errors import ConfigError, DataQualityWarning
from studentprofile.features import make_grid as pandas_make_grid
from studentprofile.features._layout import NS_PER_DAY
from studentprofile.labels import (  # labels and the degenerate-case texts, no warning
    LABELS_ALL_MISSING,
    LABELS_ONE_CLASS,
    _labels,
)
from studentprofile.spark._schema import (
    FrameContext,
    check_frame,
    check_ids,
    check_positive_int,
    collect,
    context,
)
from studentprofile.tables import STUDENT_TIME_COLUMNS, EventTables

__all__ = ["make_grid", "make_labels"]

_SHARD = "__sp_shard"
_PER = ("enrolment", "cohort")


def _global(sdf: DataFrame | None, aggs: dict[str, Any], table: str,
            ctx: FrameContext) -> dict[str, Any]:
    """One aggregate job: ``{name: Column}`` -> values as the pandas path holds them.

    Times come back as naive UTC ``Timestamp`` (or float days); an empty aggregate as None.
    """
    if sdf is None or not aggs:
        return {}
    row = collect(sdf.agg(*[expr.alias(name) for name, expr in aggs.items()]), ctx.session_tz)
    instant = bool(ctx.instant_columns.get(table))
    out: dict[str, Any] = {}
    for name in aggs:
        s = row[name]
        if s.dtype.kind == "M":
            s = ctx.utc(s, instant)
        value = s.iloc[0]
        out[name] = None if pd.isna(value) else value
    return out


def _has(sdf: DataFrame | None, col: str) -> bool:
    return sdf is not None and col in sdf.columns


def make_grid(
    students_sdf: DataFrame,
    events_sdf: DataFrame | None = None,
    *,
    start: Any = None,
    end: Any = None,
    every: Any = 7,
    per: str = "enrolment",
    timezone: str | None = None,
    time_origin: Any = None,
) -> DataFrame:
    """Build an as-of grid on Spark, equal to :func:`studentprofile.features.make_grid`.

    Parameters
    ----------
    students_sdf : pyspark.sql.DataFrame
        The students (``student_id``; ``term_start``/``entry_date``/``term_end`` as timestamps
        or days).
    events_sdf : pyspark.sql.DataFrame, optional
        The events, read only for the defaults (the first event's midnight, the latest
        ``known_at``); needed when the students' dates do not give them.
    start, end, every
        As for the pandas ``make_grid``.
    per : {"enrolment", "cohort"}, default "enrolment"
        As for the pandas ``make_grid`` (whose default it is; the Spark path never had another).
    timezone, time_origin
        As for :func:`build_features`.

    Returns
    -------
    pyspark.sql.DataFrame
        ``student_id`` and ``as_of`` (a timestamp, or days), one row per (student, date).

    Raises
    ------
    SchemaError, ConfigError
        As the pandas ``make_grid``; schema problems before any job.
    """
    types = {"students": check_frame(students_sdf, "students")}
    frames = {"students": students_sdf}
    if events_sdf is not None:
        types["events"] = check_frame(events_sdf, "events")
        frames["events"] = events_sdf
    check_ids(types)
    if per not in _PER:
        raise ConfigError("per must be 'cohort' or 'enrolment'", key="per", arrived=repr(per),
                          hint="'cohort': the same dates for everyone; 'enrolment': from each "
                          "student's term_start to term_end")
    ctx = context(frames, types, timezone=timezone, audit_attributes=(),
                  time_origin=time_origin)
    kind = ctx.time_kind or "datetime"
    st_aggs = {name: how(F.col(col)) for name, how, col in (
        ("min_term_start", F.min, "term_start"), ("min_entry_date", F.min, "entry_date"),
        ("max_term_end", F.max, "term_end")) if _has(students_sdf, col)}
    st_facts = _global(students_sdf, st_aggs, "students", ctx)
    ev_aggs: dict[str, Any] = {}
    if events_sdf is not None:
        known = (F.coalesce(F.col("known_at"), F.col("time")) if _has(events_sdf, "known_at")
                 else F.col("time"))
        ev_aggs = {"min_time": F.min("time"), "last_known": F.max(known)}
    ev_facts = _global(events_sdf, ev_aggs, "events", ctx)
    lo, hi = start, end
    fake_known: Any = None
    if per == "cohort":
        if lo is None:
            lo = st_facts.get("min_term_start")
            if lo is None:
                lo = st_facts.get("min_entry_date")
            if lo is None and ev_facts.get("min_time") is not None:
                first = ev_facts["min_time"]
                if kind == "datetime":
                    ns = pd.Timestamp(first).value
                    lo = pd.Timestamp(ns // NS_PER_DAY * NS_PER_DAY)
                else:
                    lo = float(first)
        if hi is None:
            hi = st_facts.get("max_term_end")
            if hi is None:
                hi = ev_facts.get("last_known")
    elif hi is None:
        # students without term_end end at the latest known_at (else the latest term_end)
        fake_known = ev_facts.get("last_known")
        if fake_known is None:
            fake_known = st_facts.get("max_term_end")
    key = [f for f in types["students"] if f in ("student_id", *STUDENT_TIME_COLUMNS)]
    sdf = students_sdf.select(*key)
    schema = T.StructType([T.StructField("student_id", types["students"]["student_id"]),
                           T.StructField("as_of", T.TimestampType() if kind == "datetime"
                                         else T.DoubleType())])

    def shard(it: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in it:
            yield _grid_shard(pdf, ctx, kind, fake_known, start=lo, end=hi, every=every,
                              per=per)

    return sdf.mapInPandas(shard, schema)


def _grid_shard(pdf: pd.DataFrame, ctx: FrameContext, kind: str, fake_known: Any,
                **kw: Any) -> pd.DataFrame:
    if not len(pdf):
        return pd.DataFrame({"student_id": pdf["student_id"],
                             "as_of": pd.Series([], dtype="datetime64[ns]" if kind == "datetime"
                                                else "float64")})
    students = ctx.frame(pdf, "students")
    events = None
    if fake_known is not None:  # carries the global latest known_at, the grid's default end
        moment = pd.Series([fake_known])
        if kind == "datetime" and ctx.timezone is not None:
            moment = moment.dt.tz_localize("UTC").dt.tz_convert(ctx.timezone)
        events = pd.DataFrame({"student_id": pdf["student_id"].iloc[:1].to_numpy(),
                               "time": moment, "known_at": moment, "family": ["academic"],
                               "kind": ["grid_end"], "value": [0.0]})
    tables = EventTables(students=students, events=events, time_kind=kind,  # type: ignore[arg-type]
                         time_origin=ctx.time_origin, check_duplicates=False)
    grid = pandas_make_grid(tables, **kw)
    grid["as_of"] = ctx.to_session(grid["as_of"])
    return grid


def make_labels(
    grid_sdf: DataFrame,
    outcomes_sdf: DataFrame,
    *,
    outcome: str | Sequence[str],
    horizon: Any,
    observed_until: Any = None,
    exclude_prior: bool = True,
    events_sdf: DataFrame | None = None,
    shards: int | None = None,
    timezone: str | None = None,
    warn: bool = True,
) -> DataFrame:
    """Label each grid row on Spark, equal to :func:`studentprofile.labels.make_labels`.

    Parameters
    ----------
    grid_sdf, outcomes_sdf : pyspark.sql.DataFrame
        The as-of grid and the outcomes (``student_id``, ``time``, ``outcome``).
    outcome, horizon, observed_until, exclude_prior
        As for the pandas ``make_labels``. The default ``observed_until`` is just after the
        latest time of the events and outcomes, as there; pass ``events_sdf`` so that it sees
        the events too (without them it is the latest outcome).
    events_sdf : pyspark.sql.DataFrame, optional
        Read only for the default ``observed_until``.
    shards : int, optional
        Groups of students labelled together; default twice the default parallelism.
    timezone : str, optional
        As for :func:`build_features`.
    warn : bool, default True
        Count the labels (one small job) and warn, as the pandas path does, when every label is
        missing or every known label is one class. ``False`` keeps the result fully lazy.

    Returns
    -------
    pyspark.sql.DataFrame
        ``student_id``, ``as_of`` (as in the grid) and ``label`` (1.0, 0.0 or null for censored
        rows and rows after a prior outcome).

    Warns
    -----
    DataQualityWarning
        With ``warn=True``: labels a model cannot learn from, with the counts and what to do.
    """
    types = {"grid": check_frame(grid_sdf, "grid"),
             "outcomes": check_frame(outcomes_sdf, "outcomes")}
    frames = {"grid": grid_sdf, "outcomes": outcomes_sdf}
    if events_sdf is not None:
        types["events"] = check_frame(events_sdf, "events")
        frames["events"] = events_sdf
    check_ids(types | {"students": types["grid"]})
    ctx = context(frames, types, timezone=timezone, audit_attributes=(), time_origin=None)
    kind = ctx.time_kind or "datetime"
    spark = grid_sdf.sparkSession
    if shards is None:
        shards = max(1, 2 * int(spark.sparkContext.defaultParallelism))
    shards = check_positive_int(shards, "shards", "e.g. shards=64")
    if not isinstance(warn, bool):
        raise ConfigError("warn must be True or False", key="warn", arrived=repr(warn),
                          hint="warn=False skips the job that counts the labels")
    if observed_until is None:
        facts = _global(outcomes_sdf, {"oc": F.max("time")}, "outcomes", ctx)
        ev_aggs = {"time": F.max("time")}
        if _has(events_sdf, "known_at"):
            ev_aggs["known_at"] = F.max("known_at")
        facts |= _global(events_sdf, ev_aggs, "events", ctx)
        latest = [v for v in facts.values() if v is not None]
        if not latest:
            raise ConfigError(
                "observed_until is needed when the tables hold no events or outcomes",
                key="observed_until", arrived="None",
                hint="pass the date up to which outcomes were recorded")
        top = max(latest)
        observed_until = (pd.Timestamp(top) + pd.Timedelta(1, "ns") if kind == "datetime"
                          else float(np.nextafter(float(top), np.inf)))
    g = grid_sdf.select("student_id", "as_of").withColumn(
        _SHARD, F.pmod(F.hash("student_id"), F.lit(shards)))
    oc = outcomes_sdf.select("student_id", "time", "outcome").withColumn(
        _SHARD, F.pmod(F.hash("student_id"), F.lit(shards)))
    schema = T.StructType([T.StructField("student_id", types["grid"]["student_id"]),
                           T.StructField("as_of", types["grid"]["as_of"]),
                           T.StructField("label", T.DoubleType())])
    options = {"outcome": outcome, "horizon": horizon, "observed_until": observed_until,
               "exclude_prior": exclude_prior}

    def shard(g_pdf: pd.DataFrame, oc_pdf: pd.DataFrame) -> pd.DataFrame:
        return _label_shard(g_pdf, oc_pdf, ctx, kind, options)

    out = g.groupBy(_SHARD).cogroup(oc.groupBy(_SHARD)).applyInPandas(shard, schema)
    if warn:
        problem = _label_problem(out, outcome, horizon)
        if problem:
            warnings.warn(problem, DataQualityWarning, stacklevel=2)
    return out


def _label_problem(labels: DataFrame, outcome: Any, horizon: Any) -> str | None:
    """Return the warning for labels a model cannot learn from (pandas' first line), or None."""
    counts = {r[0]: int(r[1]) for r in labels.groupBy("label").count().collect()}
    missing = sum(n for k, n in counts.items() if k is None or k != k)
    known = {k: n for k, n in counts.items() if k is not None and k == k}
    if len(known) == 2:
        return None
    why = []
    if known:
        value = int(next(iter(known)))
        head = LABELS_ONE_CLASS.format(value=value)
        why.append(f"{sum(known.values()):,} known label(s), all {value}")
    else:
        head = LABELS_ALL_MISSING
    if missing:
        why.append(f"{missing:,} row(s) without a label: censored (the window [as_of, as_of + "
                   f"horizon={horizon!r}) runs past observed_until with no outcome seen) or "
                   "after a prior outcome (exclude_prior=True)")
    return (f"{head}\n  why: " + "; ".join(why) + "\n  what to do: check the outcome name "
            f"({outcome!r}), the horizon, observed_until and the as-of dates; "
            "studentprofile.labels.make_labels on a sample of the students says which")


def _label_shard(g_pdf: pd.DataFrame, oc_pdf: pd.DataFrame, ctx: FrameContext, kind: str,
                 options: dict[str, Any]) -> pd.DataFrame:
    out = g_pdf[["student_id", "as_of"]].reset_index(drop=True)
    if not len(out):
        return out.assign(label=pd.Series([], dtype="float64"))
    ids = pd.unique(pd.concat([out["student_id"], oc_pdf["student_id"]], ignore_index=True))
    students = pd.DataFrame({"student_id": ids})
    tables = EventTables(
        students=students,
        outcomes=ctx.frame(oc_pdf.drop(columns=[_SHARD]), "outcomes"),
        time_kind=kind,  # type: ignore[arg-type]
        check_duplicates=False,
    )
    grid = pd.DataFrame({"student_id": out["student_id"].to_numpy(),
                         "as_of": ctx.as_of(out["as_of"]).to_numpy()})
    labels, _problem = _labels(tables, grid, **options)
    out["label"] = labels.to_numpy()
    return out
