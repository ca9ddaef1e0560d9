"""build_features on Spark: the FeatureBuilder per shard of students, then a cohort stage.

Stage 1 (``cogroup(...).applyInPandas``): events and the queried (student, as_of) pairs are
grouped by a hash of ``student_id`` into shards; each shard becomes an ``EventTables`` and the
fitted :class:`~studentprofile.features.FeatureBuilder` computes the raw columns with the same
numba kernels as the pandas path. Per-student windows never cross students, so these columns are
bit for bit the pandas path's.

Stage 2 (``groupBy(by, as_of).applyInPandas``), only for entries with cohort transforms or
``missing="cohort_mean"``: each cohort at one as-of date runs the same cohort kernel over the same
rows as the pandas path (every member of a grid row's cohort at that date, not only the grid's
students), then the entry's imputation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features import EventFeatures, FeatureBuilder, FeatureInfo, FeatureSpec
from studentprofile.features import _kernels as K  # the cohort kernel, shared with the builder
from studentprofile.features._spec import StaticFeatures
from studentprofile.spark._pack import (
    ParquetSource,
    labels_of,
    pack,
    pack_parquet,
    parquet_source,
    scan_parquet,
    unpack,
)
from studentprofile.spark._schema import (
    FrameContext,
    arrow_frame,
    check_frame,
    check_ids,
    check_positive_int,
    collect,
    context,
    empty_frame,
    pandas_dtype,
)
from studentprofile.spark._shards import use_task_cores
from studentprofile.tables import EventTables

__all__ = ["SparkFeatureResult", "build_features"]

_PAIR = "__sp_pair"
_EVENTS, _QUERIES = 0, 1  # the tags of packed blobs
_TRANSFORM_IDS = {"zscore": K.COHORT_ZSCORE, "percentile": K.COHORT_PERCENTILE,
                  "ratio": K.COHORT_RATIO}


@dataclass(frozen=True)
class SparkFeatureResult:
    """What :func:`build_features` returns.

    Attributes
    ----------
    features : pyspark.sql.DataFrame
        ``student_id``, ``as_of`` (as in the grid) and one double column per feature, named and
        ordered as ``feature_names``; one row per grid row (in no particular order).
    feature_info : dict of str -> FeatureInfo
        One record per feature column, as ``FeatureBuilder.feature_info_``.
    feature_names : list of str
        The feature columns, as ``FeatureBuilder.feature_names_out_``.
    skipped : dict of str -> str
        Spec entries left out (no events of their kinds), as ``FeatureBuilder.skipped_``.
    builder : FeatureBuilder
        The builder fitted on the whole data (reuse it on the pandas path for the same columns).
    context : FrameContext
        How Spark's timestamps were read (session and source time zones).
    """

    features: DataFrame
    feature_info: dict[str, FeatureInfo]
    feature_names: list[str]
    skipped: dict[str, str]
    builder: FeatureBuilder
    context: FrameContext

    def to_pandas(self) -> pd.DataFrame:
        """Collect the features as the pandas path returns them.

        Returns
        -------
        DataFrame
            Indexed by (``student_id``, ``as_of``), ``as_of`` as naive UTC ``datetime64[ns]``
            (or float days), sorted by student then as_of, float64 columns.
        """
        pdf = collect(self.features, self.context.session_tz)
        pdf["as_of"] = self.context.as_of(pdf["as_of"]).to_numpy()
        pdf = pdf.sort_values(["student_id", "as_of"], kind="stable")
        out = pdf.set_index(["student_id", "as_of"])[self.feature_names].astype("float64")
        return out


def build_features(
    events_sdf: DataFrame,
    students_sdf: DataFrame,
    grid_sdf: DataFrame,
    spec: FeatureSpec | EventFeatures | StaticFeatures,
    *,
    shards: int | None = None,
    timezone: str | None = None,
    audit_attributes: Sequence[str] = (),
    time_origin: Any = None,
    on_absent_kind: str = "skip",
    fit_tables: EventTables | None = None,
    direct_read: bool = True,
) -> SparkFeatureResult:
    """Build the features of ``spec`` for every grid row, on Spark.

    The result equals ``FeatureBuilder(spec).fit_transform(tables, grid)`` on the same data, bit for
    bit (see ``docs/scaling.md`` for the one case that agrees to 1e-12 instead).

    Parameters
    ----------
    events_sdf, students_sdf, grid_sdf : pyspark.sql.DataFrame
        The events, students and as-of grid with the columns of the data contract
        (``docs/data-contracts.md``): times as ``TimestampType``/``TimestampNTZType`` or as
        numbers of days, ids as text or integers, ``family``/``kind`` as text.
    spec : FeatureSpec
        What to build, as for :class:`~studentprofile.features.FeatureBuilder`.
    shards : int, optional
        Groups of students computed together (a hash of ``student_id``); default: twice the
        session's default parallelism. More shards: smaller tasks, more overhead.
    timezone : str, optional
        The zone of the source's local clock (``EventTables.report.timezone`` on the pandas
        path, e.g. ``"Europe/London"``); time-of-day and weekday aggregates read that clock.
        Spark timestamps are instants, so the zone must be named here. Default: UTC.
    audit_attributes : sequence of str, default ()
        Audit attribute columns of the students table, as for ``EventTables``.
    time_origin : date, optional
        For float-day times: the calendar date of day 0, as for ``EventTables``.
    on_absent_kind : {"skip", "keep", "raise"}, default "skip"
        As for :class:`~studentprofile.features.FeatureBuilder`, decided on the whole events.
    fit_tables : EventTables, optional
        Fit the builder on these (pandas) tables instead of on the Spark data: the columns,
        skipped entries and static categories are then those of
        ``FeatureBuilder(spec).fit(fit_tables)``, e.g. what a trained run's builder saw (what
        was known before its first test date), so that the rows match the model's columns.
    direct_read : bool, default True
        When ``events_sdf`` is a plain ``spark.read.parquet(...)`` (columns may be selected;
        no filter, join or partition columns) on a file system Arrow can open, the tasks read
        its files with Arrow themselves instead of through Spark's scan: the same rows, several
        times faster (``docs/scaling.md``). ``False`` always reads through Spark.

    Returns
    -------
    SparkFeatureResult
        The features DataFrame (lazy) and the fitted column records.

    Raises
    ------
    SchemaError
        Before any job: a frame that is not a Spark DataFrame, a missing or mistyped column,
        columns the spec needs (``term_start``, ``max_value``, ``by``, static columns). After
        two small checking jobs: grid or event students missing from the students table.
    ConfigError
        A bad spec, ``shards``, ``timezone`` or ``on_absent_kind``; an audit attribute used as
        a feature without ``allow_audit``.

    Examples
    --------
    >>> from pyspark.sql import SparkSession  # doctest: +SKIP
    >>> import studentprofile as sp  # doctest: +SKIP
    >>> from studentprofile import spark as sps  # doctest: +SKIP
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> t = sp.datasets.simulate_campus(n_students=100, days=120)  # doctest: +SKIP
    >>> ev = spark.createDataFrame(t.events)  # doctest: +SKIP
    >>> st = spark.createDataFrame(t.students)  # doctest: +SKIP
    >>> grid = spark.createDataFrame(sp.features.make_grid(t, every=14))  # doctest: +SKIP
    >>> spec = sp.features.behavioral_features()  # doctest: +SKIP
    >>> res = sps.build_features(ev, st, grid, spec, audit_attributes=t.audit_attributes)
    ... # doctest: +SKIP
    >>> res.features.columns[:2]  # doctest: +SKIP
    ['student_id', 'as_of']
    """
    types = {
        "events": check_frame(events_sdf, "events"),
        "students": check_frame(students_sdf, "students"),
        "grid": check_frame(grid_sdf, "grid"),
    }
    check_ids(types)
    ctx = context({"events": events_sdf}, types, timezone=timezone,
                  audit_attributes=audit_attributes, time_origin=time_origin)
    spark = events_sdf.sparkSession
    if shards is None:
        shards = max(1, 2 * int(spark.sparkContext.defaultParallelism))
    shards = check_positive_int(shards, "shards", "e.g. shards=64 (a few per executor core)")
    if not isinstance(direct_read, bool):
        raise ConfigError("direct_read must be True or False", key="direct_read",
                          arrived=repr(direct_read),
                          hint="direct_read=False reads the events through Spark's scan")
    # a dry fit on empty tables: the spec's columns, statics, audit rules; no Spark job
    dry_mode = "keep" if on_absent_kind == "raise" else on_absent_kind
    empty = ctx.tables(empty_frame(types["students"]), empty_frame(types["events"]))
    if isinstance(spec, EventFeatures | StaticFeatures):
        spec = FeatureSpec([spec])
    FeatureBuilder(spec, on_absent_kind=dry_mode).fit(empty)  # a bad spec: ConfigError
    raw_spec, cohort_entries = _raw_spec(spec)
    if fit_tables is not None and not isinstance(fit_tables, EventTables):
        raise ConfigError("fit_tables must be EventTables", key="fit_tables",
                          arrived=f"an object of type {type(fit_tables).__name__}",
                          hint="pass tables.known_before(date), or leave it out to fit on the "
                               "Spark data")

    _check_members(grid_sdf, "grid", students_sdf)
    needed = [c for c in ("known_at", "max_value") if c in types["events"]]
    ev_cols = ["student_id", "time", *needed, "value"]
    source = (parquet_source(events_sdf, [*ev_cols, "family", "kind"]) if direct_read
              else None)
    skeleton = _skeleton(events_sdf, students_sdf, spec, types["students"], ctx, source)
    fit_on = skeleton if fit_tables is None else fit_tables
    full = FeatureBuilder(spec, on_absent_kind=on_absent_kind).fit(fit_on)
    raw = FeatureBuilder(raw_spec, on_absent_kind=on_absent_kind).fit(fit_on)
    names = list(full.feature_names_out_)
    plan = [p for p in spec.plan() if p.name in set(names)]
    jobs = _cohort_jobs(spec, plan, cohort_entries)
    bys = sorted(jobs)
    kinds = _EventKinds.of(skeleton.events, raw_spec)

    grid = grid_sdf.select("student_id", "as_of")
    queries = grid
    if bys:
        members = students_sdf.select("student_id", *bys)
        with_by = grid.join(members, "student_id")
        extras = [
            with_by.where(F.col(by).isNotNull()).select(by, "as_of").distinct()
            .join(members.where(F.col(by).isNotNull()).select("student_id", by), by)
            .select("student_id", "as_of")
            for by in bys
        ]
        queries = reduce(DataFrame.unionByName, [grid, *extras]).distinct()
    keys = {by: f"__sp_by_{by}" for by in bys}  # a static feature may share the by's name
    qs = queries.join(students_sdf, "student_id")
    qs = qs.select("*", *[F.col(by).alias(key) for by, key in keys.items()])
    if source is not None:  # a plain Parquet table: the tasks read it with Arrow
        ev_packed = pack_parquet(spark, source, [*ev_cols, "family", "kind"],
                                 _Prepare(kinds), _EVENTS, shards)
    else:
        ev = (events_sdf.select(*ev_cols, kinds.code().alias(_PAIR))
              .where(F.col(_PAIR).isNotNull()))  # only events of kinds the spec reads
        ev_packed = pack(ev, _EVENTS, shards)
    # each shard's events and queries travel as packed Arrow blobs to one partition (_pack)
    moved = ev_packed.unionByName(pack(qs, _QUERIES, shards))
    moved = moved.repartition(shards, "label")

    stu_types = types["students"]
    fields = [T.StructField("student_id", stu_types["student_id"]),
              T.StructField("as_of", types["grid"]["as_of"])]
    fields += [T.StructField(keys[by], stu_types[by]) for by in bys]
    fields += [T.StructField(n, T.DoubleType()) for n in names]
    schema = T.StructType(fields)
    ev_dtypes = {c: pandas_dtype(types["events"][c]) for c in ("student_id", "time", *needed)}
    ev_dtypes |= {"value": "float64", _PAIR: "int32"}

    def shard(batches: Iterator[Any]) -> Iterator[Any]:
        use_task_cores()
        for _, (ev_t, q_t) in sorted(unpack(batches, 2).items()):
            if q_t is not None and q_t.num_rows:
                yield from _shard_features(ev_t, q_t, raw, names, list(keys.values()), ctx,
                                           ev_dtypes, kinds)

    result = moved.mapInArrow(shard, schema)
    for by in bys:
        result = result.groupBy(keys[by], "as_of").applyInPandas(
            _cohort_udf(keys[by], jobs[by]), schema)
    result = result.drop(*keys.values())
    if bys:  # back to one row per grid row (the cohort members not in the grid leave)
        result = grid.join(result, ["student_id", "as_of"], "inner")
    result = result.select("student_id", "as_of", *names)
    return SparkFeatureResult(
        features=result,
        feature_info=dict(full.feature_info_),
        feature_names=names,
        skipped=dict(full.skipped_),
        builder=full,
        context=ctx,
    )


# ----------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class _Job:
    base: str  # the raw column
    mode: int  # a cohort kernel mode, or -1 for a plain fill
    target: str  # the column written
    fill: float | None = None  # the constant of missing="zero"/"constant"


def _raw_spec(spec: FeatureSpec) -> tuple[FeatureSpec, set[int]]:
    """Return the spec without cohort transforms and cohort imputation (stage 1 computes it)."""
    entries: list[Any] = []
    cohort: set[int] = set()
    for i, e in enumerate(spec.entries):
        if isinstance(e, EventFeatures) and (e.relative or e.missing != "nan"):
            if e.relative or e.missing == "cohort_mean":
                cohort.add(i)
                e = dataclasses.replace(e, relative=(), missing="nan", fill_value=None)
        entries.append(e)
    return FeatureSpec(entries), cohort


def _cohort_jobs(
    spec: FeatureSpec, plan: list[Any], cohort_entries: set[int]
) -> dict[str, list[_Job]]:
    jobs: dict[str, list[_Job]] = {}
    for p in plan:
        if p.entry not in cohort_entries or p.transform is not None or p.flag_of is not None:
            continue
        e = spec.entries[p.entry]
        if not isinstance(e, EventFeatures):  # cohort entries are event entries
            continue
        todo = jobs.setdefault(e.by, [])
        for r in e.relative:
            todo.append(_Job(p.name, _TRANSFORM_IDS[r], f"{p.name}_{r}_{e.by}"))
        if e.missing == "cohort_mean":
            todo.append(_Job(p.name, K.COHORT_MEAN, p.name))
        elif e.missing == "zero":
            todo.append(_Job(p.name, -1, p.name, 0.0))
        elif e.missing == "constant":
            todo.append(_Job(p.name, -1, p.name, float(e.fill_value)))  # type: ignore[arg-type]
    return jobs


def _unknown_students(table: str, examples: list[Any]) -> SchemaError:
    return SchemaError(
        f"every student in the {table} table must be in the students table",
        table=table,
        column="student_id",
        rule="membership",
        arrived=f"unknown students such as {examples!r}",
        hint="add the students, or filter the table to the students table's ids",
    )


def _check_members(sdf: DataFrame, table: str, students_sdf: DataFrame) -> None:
    """Students of ``table`` that the students table lacks: a SchemaError (one small job)."""
    bad = (sdf.select("student_id").join(students_sdf.select("student_id"), "student_id",
                                         "left_anti")
           .limit(5).collect())
    if bad:
        raise _unknown_students(table, [r[0] for r in bad])


def _skeleton(
    events_sdf: DataFrame,
    students_sdf: DataFrame,
    spec: FeatureSpec,
    stu_types: dict[str, T.DataType],
    ctx: FrameContext,
    source: ParquetSource | None = None,
) -> Any:
    """Small tables with every (family, kind) of the events and every static category.

    Fitting a builder on them gives the columns and records the whole data would give: fit reads
    only which kinds occur, which columns exist and the categories of static text columns.
    First, one job over the events' distinct students finds those the students table lacks
    (with a Parquet ``source``, one pass of the tasks over its files does both).

    Raises
    ------
    SchemaError
        Events of students that are not in the students table (rule ``membership``).
    """
    # known_at is set to the time below (a valid row: known when it happened)
    numbers: list[str] = [c for c in ("time", "value", "max_value") if c in events_sdf.columns]
    if source is not None:  # the tasks read the Parquet files themselves: one pass
        ids = students_sdf.select("student_id").toArrow().column(0).combine_chunks()
        table, strangers = scan_parquet(events_sdf.sparkSession, source, numbers, ids)
        if strangers:
            raise _unknown_students("events", strangers)
        found = (arrow_frame(table) if table is not None
                 else empty_frame({f.name: f.dataType for f in events_sdf.schema.fields
                                  if f.name in ("family", "kind", *numbers)}))
    else:
        strangers = (events_sdf.select("student_id").distinct()
                     .join(students_sdf.select("student_id"), "student_id", "left_anti")
                     .limit(5).collect())
        if strangers:
            raise _unknown_students("events", [r[0] for r in strangers])
        # one row per (family, kind) with fixed-width aggregates only (Spark's hash aggregate;
        # a first() of text or of a struct falls back to sorting every event)
        found = collect(events_sdf.groupBy("family", "kind").agg(
            *[F.min(c).alias(c) for c in numbers]), ctx.session_tz)
    if "known_at" in events_sdf.columns:
        found["known_at"] = found["time"]
    parts = [students_sdf.limit(1)]
    for e in spec.entries:
        if isinstance(e, StaticFeatures):
            for col in e.columns:
                if pandas_dtype(stu_types[col]) == "object":
                    parts.append(students_sdf.dropDuplicates([col]))
    st = collect(reduce(DataFrame.unionByName, parts), ctx.session_tz)
    st = st.drop_duplicates("student_id", ignore_index=True)
    if len(st):  # every skeleton event belongs to one real student
        found.insert(0, "student_id", st["student_id"].iloc[0])
    else:
        found.insert(0, "student_id", pd.Series([], dtype=pandas_dtype(stu_types["student_id"])))
    return ctx.tables(st, found)


@dataclass(frozen=True)
class _EventKinds:
    """The (family, kind) pairs the spec reads, as small integer codes.

    Events travel to the workers with one integer code instead of two text columns (a smaller
    shuffle, and the worker builds categoricals from codes instead of checking millions of
    strings one by one); events of kinds no spec entry reads are left out before the shuffle.
    """

    families: tuple[str, ...]
    kinds: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, events: pd.DataFrame, spec: FeatureSpec) -> _EventKinds:
        present = sorted({(str(f), str(x)) for f, x in
                          zip(events["family"], events["kind"], strict=True)})
        entries = [e for e in spec.entries if isinstance(e, EventFeatures)]
        used = tuple(
            (f, x) for f, x in present
            if any((e.family is None or f == e.family) and (e.kinds is None or x in e.kinds)
                   for e in entries)
        )
        return cls(families=tuple(sorted({f for f, _ in used})),
                   kinds=tuple(sorted({x for _, x in used})), pairs=used)

    def code(self) -> Any:
        """Return the Spark column of each event's pair code (null: a kind nothing reads)."""
        if not self.pairs:
            return F.lit(None).cast("int")
        fam, kind = F.col("family"), F.col("kind")
        code = None
        for i, (f, x) in enumerate(self.pairs):
            hit = (fam == F.lit(f)) & (kind == F.lit(x))
            code = F.when(hit, F.lit(i)) if code is None else code.when(hit, F.lit(i))
        return code

    def codes(self, family: Any, kind: Any) -> np.ndarray:
        """Return the pair code of each event of Arrow ``family``/``kind`` columns (-1: unread)."""
        if not self.pairs:
            return np.full(len(family), -1, dtype=np.int32)
        (fam, fam_labels), (kin, kind_labels) = labels_of(family), labels_of(kind)
        lookup = np.full((len(fam_labels), len(kind_labels)), -1, dtype=np.int32)
        for i, (f, x) in enumerate(self.pairs):
            if f in fam_labels[:-1] and x in kind_labels[:-1]:
                lookup[fam_labels.index(f), kind_labels.index(x)] = i
        return lookup[fam, kin]

    def decode(self, codes: np.ndarray) -> tuple[Any, Any]:
        """Return the family and kind categoricals of an array of pair codes."""
        fam = np.array([self.families.index(f) for f, _ in self.pairs], dtype=np.int32)
        kin = np.array([self.kinds.index(x) for _, x in self.pairs], dtype=np.int32)
        at = codes.astype(np.int64, copy=False)
        return (pd.Categorical.from_codes(fam[at], categories=pd.Index(list(self.families))),
                pd.Categorical.from_codes(kin[at], categories=pd.Index(list(self.kinds))))


# ------------------------------------------------------------------------- the workers
class _Prepare:
    """Events read from Parquet in a task -> the rows Spark's scan would pack (pair codes)."""

    def __init__(self, kinds: _EventKinds) -> None:
        self.kinds = kinds

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        code = self.kinds.codes(table.column("family"), table.column("kind"))
        keep = code >= 0
        out = table.drop_columns(["family", "kind"]).append_column(
            _PAIR, pa.array(code, pa.int32()))
        return out if keep.all() else out.filter(pa.array(keep))


def _shard_features(
    ev_t: Any,
    q_t: Any,
    builder: FeatureBuilder,
    names: list[str],
    bys: list[str],
    ctx: FrameContext,
    ev_dtypes: dict[str, Any],
    kinds: _EventKinds,
) -> Iterator[Any]:
    """One shard: Arrow tables of its events and queries in, Arrow batches of features out.

    The output's ``student_id``, ``as_of`` and cohort keys are the queries' own Arrow columns,
    so they go back to Spark exactly as they came.
    """
    import pyarrow as pa

    q_pdf = arrow_frame(q_t.drop_columns(["as_of", *bys]))
    st = q_pdf.drop_duplicates("student_id", ignore_index=True)
    if ev_t is None:
        ev_pdf = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in ev_dtypes.items()})
    else:
        ev_pdf = arrow_frame(ev_t)
    known = ev_pdf["student_id"].isin(st["student_id"]).to_numpy()
    ev = ev_pdf if known.all() else ev_pdf[known].reset_index(drop=True)
    family, kind = kinds.decode(ev[_PAIR].to_numpy())
    ev = ev.drop(columns=[_PAIR]).assign(family=family, kind=kind)
    tables = ctx.tables(st, ev)
    grid = pd.DataFrame({"student_id": q_pdf["student_id"].to_numpy(),
                         "as_of": ctx.as_of(arrow_frame(q_t.select(["as_of"]))["as_of"])
                         .to_numpy()})
    X = builder.transform(tables, grid)
    n = len(grid)
    arrays = [q_t.column("student_id"), q_t.column("as_of"), *[q_t.column(b) for b in bys]]
    arrays += [pa.array(X[c].to_numpy(dtype=np.float64) if c in X.columns
                        else np.full(n, np.nan), pa.float64()) for c in names]
    out = pa.Table.from_arrays(arrays, names=["student_id", "as_of", *bys, *names])
    yield from out.to_batches(max_chunksize=1 << 16)


def _cohort_udf(by: str, todo: list[_Job]) -> Any:
    def cohort(pdf: pd.DataFrame) -> pd.DataFrame:
        return _cohort_stage(pdf, by, todo)

    return cohort


def _cohort_stage(pdf: pd.DataFrame, by: str, todo: list[_Job]) -> pd.DataFrame:
    """One cohort at one as-of date: the cohort kernel of the pandas path, then imputation.

    Rows are taken in ``student_id`` order (the pandas path takes them in students-table order;
    the sums inside a cohort mean agree bit for bit when the students table is sorted by id).
    """
    pdf = pdf.sort_values("student_id", kind="stable", ignore_index=True)
    n = len(pdf)
    x = np.stack([pdf[j.base].to_numpy(dtype=np.float64) for j in todo])
    out = np.full(x.shape, np.nan)
    if n and not pd.isna(pdf[by].iloc[0]):
        modes = np.array([max(j.mode, 0) for j in todo], dtype=np.int64)
        K.cohort_transform_serial(np.array([0, n], dtype=np.int64), np.arange(n, dtype=np.int64),
                                  np.ascontiguousarray(x), modes, out)
    for row, j in enumerate(todo):
        if j.mode == K.COHORT_MEAN or j.mode < 0:
            values = x[row].copy()
            missing = np.isnan(values)
            values[missing] = out[row][missing] if j.mode >= 0 else j.fill
            pdf[j.target] = values
        else:
            pdf[j.target] = out[row]
    return pdf

