"""Move students' rows between executors as packed Arrow blobs, not row by row.

A feature job groups every event of a student into one shard. Spark's row shuffle would
serialise, compress, sort and hand over each of the events one row at a time; at hundreds of
millions of events that is most of the job. Here each map task cuts what it reads into one
Arrow IPC blob per shard instead (numpy sorts a batch by shard and slices it) and Spark shuffles
those blobs: a few rows of megabytes, not millions of rows of bytes. The reduce task reads the
blobs back into Arrow tables with no per-row work.

Rows keep their columns and Arrow types exactly as Spark handed them to Python; the blobs are
Arrow's own IPC stream format, so nothing here is pickled.

Measured in ``benchmarks/bench_spark.py`` (``shuffle_s`` against ``packed_shuffle_s``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame

from studentprofile.errors import SchemaError
from studentprofile.spark._shards import shard_labels

__all__ = ["PACK_SCHEMA", "ParquetSource", "blobs", "gather", "pack", "pack_parquet",
           "parquet_source", "scan_parquet", "shards_of", "unpack"]

#: One packed blob: the partition label it travels to, its shard, what it holds, the bytes.
PACK_SCHEMA = "label bigint, shard int, tag int, blob binary"
#: Rows a map task gathers before it cuts them into blobs (several of Spark's Arrow batches).
PACK_ROWS = 1 << 20
#: The blobs' buffers are zstd-compressed: fewer bytes for the JVM to copy and shuffle. Measured
#: at 50M events on ``local[2]`` (feature job, warm): zstd 20-21 s, none 24 s, lz4 25 s.
_CODEC = "zstd"


def _ipc_options() -> Any:
    import pyarrow as pa

    return pa.ipc.IpcWriteOptions(compression=_CODEC)


def pack(sdf: DataFrame, tag: int, shards: int, rows: int = PACK_ROWS) -> DataFrame:
    """Return ``sdf`` as packed blobs (:data:`PACK_SCHEMA`), one per shard and map-side cut.

    ``sdf`` needs a ``student_id`` column; every other column travels as it is. Repartition
    the result by ``label`` (``repartition(shards, "label")``) to bring each shard's blobs to
    one task: the labels are those of :func:`~studentprofile.spark._shards.shard_labels`.
    """
    labels = np.asarray(shard_labels(shards), dtype=np.int64)

    def cut(batches: Iterator[Any]) -> Iterator[Any]:
        for table in gather(batches, rows):
            yield blobs(table, tag, labels)

    return sdf.mapInArrow(cut, PACK_SCHEMA)


def gather(batches: Iterator[Any], rows: int) -> Iterator[Any]:
    """Yield Arrow tables of at least ``rows`` rows (the last may be smaller) from batches."""
    import pyarrow as pa

    held: list[Any] = []
    n = 0
    for batch in batches:
        if batch.num_rows:
            held.append(batch)
            n += batch.num_rows
        if n >= rows:
            yield pa.Table.from_batches(held)
            held, n = [], 0
    if held:
        yield pa.Table.from_batches(held)


def shards_of(ids: Any, shards: int) -> np.ndarray:
    """Return each student id's shard: a hash of the id, the same on every worker.

    Integer ids hash as int64 and text as text, so an ``int`` grid and ``bigint`` events
    agree. (pandas' ``hash_array``: SipHash of the values with a fixed key.)
    """
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(ids.type):
        values = ids.cast(pa.int64()).to_numpy(zero_copy_only=False)
    else:
        values = ids.cast(pa.string()).to_numpy(zero_copy_only=False)
    out = pd.util.hash_array(values) % np.uint64(shards)
    # small integers: numpy's stable argsort is then a radix sort
    return out.astype(np.int16 if shards < (1 << 15) else np.int64)


def blobs(table: Any, tag: int, labels: np.ndarray) -> Any:
    """One record batch of blobs: the rows of ``table`` split by the shard of their student.

    Every shard's rows are written as one Arrow IPC stream into a single buffer, which then
    backs the binary column without another copy.
    """
    import pyarrow as pa

    table = table.combine_chunks()
    shard = shards_of(table.column("student_id"), len(labels))
    order = np.argsort(shard, kind="stable")  # keeps each shard's rows in arrival order
    counts = np.bincount(shard, minlength=len(labels))
    body = table.take(order)
    sink = pa.BufferOutputStream()
    offsets = [0]
    present: list[int] = []
    start = 0
    for s, count in enumerate(counts.tolist()):
        if count:
            with pa.ipc.new_stream(sink, body.schema, options=_ipc_options()) as writer:
                writer.write_table(body.slice(start, count))
            offsets.append(sink.tell())
            present.append(s)
        start += count
    data = sink.getvalue()
    at = np.asarray(present, dtype=np.int64)
    offs = pa.py_buffer(np.asarray(offsets, dtype=np.int64).astype(np.int32))
    blob = pa.Array.from_buffers(pa.binary(), len(at), [None, offs, data])
    return pa.RecordBatch.from_arrays(
        [pa.array(labels[at], pa.int64()), pa.array(at.astype(np.int32), pa.int32()),
         pa.array(np.full(len(at), tag, dtype=np.int32), pa.int32()), blob],
        names=["label", "shard", "tag", "blob"],
    )


def unpack(batches: Iterator[Any], tags: int) -> dict[int, list[Any]]:
    """Read packed blobs back: ``{shard: [table of tag 0 or None, ..., tag tags-1]}``.

    A task usually holds one shard; more than one (e.g. partitions merged by the user's
    settings) are kept apart.
    """
    import pyarrow as pa

    found: dict[int, list[list[Any]]] = {}
    for batch in batches:
        shard = batch.column(1).to_numpy(zero_copy_only=False)
        tag = batch.column(2).to_numpy(zero_copy_only=False)
        blob = batch.column(3)
        for i in range(batch.num_rows):
            table = pa.ipc.open_stream(blob[i].as_buffer()).read_all()
            found.setdefault(int(shard[i]), [[] for _ in range(tags)])[int(tag[i])].append(table)
    return {s: [pa.concat_tables(ts) if ts else None for ts in parts]
            for s, parts in found.items()}


# ------------------------------------------------------------------ reading Parquet in the tasks
#: Reader options that only choose which files are read (their effect is in the file list).
_LISTING_OPTIONS = {"path", "paths", "recursivefilelookup", "pathglobfilter", "modifiedbefore",
                    "modifiedafter", "basepath", "ignorecorruptfiles", "ignoremissingfiles"}


@dataclass(frozen=True)
class ParquetSource:
    """A Spark DataFrame that is a plain read of Parquet files, as the tasks can read it.

    Attributes
    ----------
    files : tuple of str
        The files' URIs (``DataFrame.inputFiles()``).
    arrow_types : dict of str -> str
        The Arrow type each column of the files must have (from the first file).
    """

    files: tuple[str, ...]
    arrow_types: dict[str, str]


def parquet_source(sdf: DataFrame, columns: list[str]) -> ParquetSource | None:
    """Return how to read ``sdf`` with Arrow in the tasks, or None if that would not be equal.

    Only a bare ``spark.read.parquet(...)`` (columns may be selected, nothing else) of files
    without partition columns qualifies, whose first file holds ``columns`` under their exact
    names with the Arrow types Spark's own reader would map to the DataFrame's types, on a file
    system Arrow can open (local, ``s3://``, ``gs://``, ``hdfs://``, ``abfs://``). Anything else
    (a filter, a join, a Delta or Hive table, ``s3a://``, Spark Connect) returns None and the
    events go through Spark's scan.
    """
    try:
        plan = sdf._jdf.queryExecution().optimizedPlan()  # classic PySpark only
        if plan.nodeName() == "Project":
            items = plan.projectList()
            if any(items.apply(i).getClass().getSimpleName() != "AttributeReference"
                   for i in range(items.size())):
                return None
            plan = plan.child()
        if plan.nodeName() != "LogicalRelation":
            return None
        rel = plan.relation()
        if (rel.getClass().getSimpleName() != "HadoopFsRelation"
                or rel.fileFormat().getClass().getSimpleName() != "ParquetFileFormat"
                or rel.partitionSchema().length() != 0
                or rel.bucketSpec().isDefined()):
            return None
        keys = _option_keys(rel)
        if keys - _LISTING_OPTIONS:
            return None
        files = tuple(str(f) for f in sdf.inputFiles())
    except Exception:  # noqa: BLE001 (Spark Connect, another Spark version: use Spark's scan)
        return None
    if not files:
        return None
    try:
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(files[0])
        schema = file_types(open_parquet(path, fs))
    except Exception:  # noqa: BLE001 (a file system Arrow cannot open)
        return None
    spark_types = {f.name: f.dataType for f in sdf.schema.fields}
    found: dict[str, str] = {}
    for col in columns:
        if col not in schema or col not in spark_types:
            return None
        if not arrow_matches(schema[col], spark_types[col]):
            return None
        found[col] = plain_type(schema[col])
    return ParquetSource(files=files, arrow_types=found)


def open_parquet(path: str, fs: Any) -> Any:
    """Open a Parquet file as the tasks read it (text keys as dictionaries, INT96 in us)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, filesystem=fs, read_dictionary=["family", "kind"],
                          coerce_int96_timestamp_unit="us")


def _int96(pf: Any) -> set[str]:
    """Top-level columns stored as INT96 (Spark's default for timestamps): UTC instants."""
    return {c.name for c in (pf.schema.column(i) for i in range(len(pf.schema)))
            if c.physical_type == "INT96" and "." not in c.path}


def file_types(pf: Any) -> dict[str, Any]:
    """Return the Arrow type of each column as the tasks deliver it (INT96: UTC instants)."""
    import pyarrow as pa

    legacy = _int96(pf)
    return {f.name: pa.timestamp("us", "UTC") if f.name in legacy else f.type
            for f in pf.schema_arrow}


def read_group(pf: Any, group: int, columns: list[str]) -> Any:
    """Read one row group's ``columns``, INT96 times as the UTC instants Spark reads."""
    import pyarrow as pa

    table = pf.read_row_group(group, columns=columns)
    for col in _int96(pf) & set(columns):
        at = table.column_names.index(col)
        table = table.set_column(at, col, table.column(col).cast(pa.timestamp("us", "UTC")))
    return table


def _option_keys(rel: Any) -> set[str]:
    it = rel.options().keySet().iterator()
    keys = set()
    while it.hasNext():
        keys.add(str(it.next()).lower())
    return keys


def arrow_matches(arrow: Any, spark_type: Any) -> bool:
    """Whether Spark's Parquet reader gives ``spark_type`` for a file column of ``arrow``."""
    import pyarrow as pa
    from pyspark.sql import types as T

    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    if isinstance(spark_type, T.TimestampType):  # adjusted to UTC: an instant
        return pa.types.is_timestamp(arrow) and arrow.tz is not None and arrow.unit != "ns"
    if isinstance(spark_type, T.TimestampNTZType):
        return pa.types.is_timestamp(arrow) and arrow.tz is None and arrow.unit != "ns"
    if isinstance(spark_type, T.StringType):
        return pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
    exact = {T.LongType: pa.int64(), T.IntegerType: pa.int32(), T.ShortType: pa.int16(),
             T.ByteType: pa.int8(), T.DoubleType: pa.float64(), T.FloatType: pa.float32(),
             T.BooleanType: pa.bool_()}
    want = exact.get(type(spark_type))
    return want is not None and arrow == want


def pack_parquet(
    spark: Any,
    source: ParquetSource,
    columns: list[str],
    prepare: Callable[[Any], Any],
    tag: int,
    shards: int,
    rows: int = PACK_ROWS,
) -> DataFrame:
    """Read ``source``'s ``columns`` with Arrow in the tasks and pack them (:func:`pack`).

    The files are split into pieces (every k-th row group of a file) so that each core gets
    work even from one big file; ``prepare`` turns each table read into the rows to pack.
    """
    labels = np.asarray(shard_labels(shards), dtype=np.int64)
    files = source.files
    pieces = pieces_of(spark, source)
    types = dict(source.arrow_types)

    def read(batches: Iterator[Any]) -> Iterator[Any]:
        held: list[Any] = []
        n = 0
        for table in row_groups(batches, files, pieces, types, columns):
            part = prepare(table)
            held.append(part)
            n += part.num_rows
            if n >= rows:
                yield blobs(_concat(held), tag, labels)
                held, n = [], 0
        if n:
            yield blobs(_concat(held), tag, labels)

    return (spark.range(0, len(pieces), 1, len(pieces)).withColumnRenamed("id", "piece")
            .mapInArrow(read, PACK_SCHEMA))


def row_groups(batches: Iterator[Any], files: tuple[str, ...], pieces: list[tuple[int, int, int]],
               types: dict[str, str], columns: list[str]) -> Iterator[Any]:
    """Yield ``columns`` of each row group of the pieces a task was given (files checked)."""
    import pyarrow.fs as pafs

    for batch in batches:
        for piece in batch.column(0).to_pylist():
            f, k, every = pieces[piece]
            fs, path = pafs.FileSystem.from_uri(files[f])
            pf = open_parquet(path, fs)
            check_file(file_types(pf), types, files[f])
            for g in range(k, pf.metadata.num_row_groups, every):
                yield read_group(pf, g, columns)


def _concat(tables: list[Any]) -> Any:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def plain_type(arrow: Any) -> str:
    """Return a column's type as compared between files: no dictionary, one kind of text."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    if pa.types.is_large_string(arrow):
        arrow = pa.string()
    return str(arrow)


def check_file(schema: dict[str, Any], types: dict[str, str], uri: str) -> None:
    """Raise a SchemaError naming a file whose columns differ from the first file's."""
    for col, want in types.items():
        got = plain_type(schema[col]) if col in schema else "no such column"
        if got != want:
            raise SchemaError(
                f"the Parquet file {uri} does not match the first file of the events",
                table="events", column=col, rule="spark-type",
                arrived=f"Arrow type {got!r} where the first file has {want!r}",
                hint="rewrite the files with one schema, or pass direct_read=False to read "
                     "them through Spark's scan")


def pieces_of(spark: Any, source: ParquetSource) -> list[tuple[int, int, int]]:
    """Split the files into pieces, ``(file, k, every)``: row groups k, k+every, ... of a file."""
    per_file = max(1, -(-2 * int(spark.sparkContext.defaultParallelism) // len(source.files)))
    return [(f, k, per_file) for f in range(len(source.files)) for k in range(per_file)]


def labels_of(col: Any) -> tuple[np.ndarray, list[Any]]:
    """Return (codes, labels) of a text column: ``labels[codes[i]]`` is row i's value.

    Read with ``read_dictionary``, a Parquet text column is an Arrow dictionary array: its
    codes are taken as they are, without building one string per row. Nulls get the code
    ``len(labels) - 1``, whose label is None.
    """
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.unify_dictionaries() if pa.types.is_dictionary(col.type) else col
        chunks = col.chunks
        if not chunks:
            return np.empty(0, dtype=np.int64), [None]
        if pa.types.is_dictionary(col.type):
            values = chunks[0].dictionary.to_pylist()
            codes = np.concatenate([c.indices.fill_null(len(values))
                                    .to_numpy(zero_copy_only=False) for c in chunks])
            return codes.astype(np.int64, copy=False), [*values, None]
        col = pa.concat_arrays(chunks)
    if pa.types.is_dictionary(col.type):
        values = col.dictionary.to_pylist()
        codes = col.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
        return codes.astype(np.int64, copy=False), [*values, None]
    encoded = col.dictionary_encode()
    return labels_of(encoded)


def scan_parquet(
    spark: Any, source: ParquetSource, numbers: list[str], known_ids: Any
) -> tuple[Any, list[Any]]:
    """One pass over the files in the tasks: the (family, kind) pairs and unknown students.

    Returns an Arrow table with one row per ``(family, kind)`` and the minimum of each of
    ``numbers`` (what ``groupBy("family", "kind").agg(min(...))`` gives), and up to five
    student ids of events that ``known_ids`` (an Arrow array) lacks.
    """
    import pyarrow as pa

    files = source.files
    pieces = pieces_of(spark, source)
    types = dict(source.arrow_types)
    columns = ["student_id", "family", "kind", *numbers]

    def scan(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow.compute as pc

        parts, strangers = [], []
        for t in row_groups(batches, files, pieces, types, columns):
            parts.append(_pair_mins(t, numbers))
            ids = pc.unique(t.column("student_id"))
            known = pc.is_in(ids, value_set=known_ids.cast(ids.type))
            strangers.extend(ids.filter(pc.invert(known)).to_pylist()[:5])
        out = [_ipc(pa.table({"strangers": [repr(strangers[:5])]}))]
        if parts:
            out.append(_ipc(_pair_mins(pa.concat_tables(parts), numbers)))
        yield pa.RecordBatch.from_arrays([pa.array(out, pa.binary())], names=["blob"])

    rows = (spark.range(0, len(pieces), 1, len(pieces)).mapInArrow(scan, "blob binary")
            .toArrow().column("blob").to_pylist())
    found_parts, strangers = [], []
    for blob in rows:
        t = pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
        if t.column_names == ["strangers"]:
            strangers.extend(ast.literal_eval(t.column(0)[0].as_py()))
        else:
            found_parts.append(t)
    found = _pair_mins(pa.concat_tables(found_parts), numbers) if found_parts else None
    return found, strangers[:5]


def _ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _pair_mins(table: Any, numbers: list[str]) -> Any:
    """One row per (family, kind) with the minimum of each of ``numbers`` (text keys).

    A file usually holds a few kinds: each one's minimums are then a masked ``min`` per column
    (Arrow's SIMD kernels); many kinds go through a hash aggregate.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    fam, fam_labels = labels_of(table.column("family"))
    kind, kind_labels = labels_of(table.column("kind"))
    key = fam * len(kind_labels) + kind
    present = np.flatnonzero(np.bincount(key, minlength=len(fam_labels) * len(kind_labels)))
    if len(present) > 16:
        keyed = pa.table({"__key": key, **{c: table.column(c) for c in numbers}})
        out = keyed.group_by("__key").aggregate([(c, "min") for c in numbers])
        at = out.column("__key").to_numpy()
        mins = {c: out.column(f"{c}_min") for c in numbers}
    else:
        at = present
        mins = {c: [] for c in numbers}
        for k in present.tolist():
            rows = table if len(present) == 1 else table.filter(pa.array(key == k))
            for c in numbers:
                mins[c].append(pc.min(rows.column(c)))
        mins = {c: pa.array([m.as_py() for m in ms], type=table.column(c).type)
                for c, ms in mins.items()}
    return pa.table({
        "family": pa.array([fam_labels[i] for i in at // len(kind_labels)], pa.string()),
        "kind": pa.array([kind_labels[i] for i in at % len(kind_labels)], pa.string()),
        **mins,
    })
