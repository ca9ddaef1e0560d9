"""studentprofile.spark's own data movement: packed Arrow blobs and tasks reading Parquet.

The feature job moves each shard's events as Arrow IPC blobs (``spark/_pack.py``), and reads a
plain Parquet events table in the tasks with Arrow instead of through Spark's scan. Both must
be invisible in the results: bit for bit the pandas path's, by either route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _spark_session import require_spark, spark_session

require_spark()

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import studentprofile as sp  # noqa: E402
from studentprofile.errors import ConfigError, SchemaError  # noqa: E402
from studentprofile.features import FeatureBuilder  # noqa: E402
from test_spark import COHORT_SPEC, assert_same, hostile_campus, sdf  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:PySpark does not yet fully support pandas:FutureWarning"
    ),
]

EVENT_COLUMNS = ["student_id", "time", "known_at", "value", "family", "kind"]


@pytest.fixture(scope="module")
def spark() -> Any:
    return spark_session()


def written(spark: Any, frame: pd.DataFrame, path: Path, files: int = 3) -> Any:
    """Write ``frame`` with Spark as ``files`` Parquet files of small row groups; read it."""
    (sdf(spark, frame).repartition(files)
     .write.option("parquet.block.size", 32 * 1024).parquet(str(path)))
    return spark.read.parquet(str(path))


# --------------------------------------------------------------------------- equal results
@pytest.mark.parametrize("stored", ["INT96", "TIMESTAMP_MICROS"])
def test_direct_read_equals_pandas_bit_for_bit(spark: Any, tmp_path: Path, stored: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Files Spark wrote: times as INT96 (Spark's default) or as UTC-adjusted microseconds."""
    from studentprofile import spark as sps
    from studentprofile.spark import _features
    from studentprofile.spark._pack import parquet_source

    tables, grid = hostile_campus(3)
    spec = sp.features.behavioral_features() + COHORT_SPEC
    builder = FeatureBuilder(spec)
    ref = builder.fit_transform(tables, grid)
    old = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", stored)
    try:
        ev = written(spark, tables.events, tmp_path / "events")
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", old)
    assert len(ev.inputFiles()) == 3
    first = pq.ParquetFile(ev.inputFiles()[0].removeprefix("file://"))
    assert first.metadata.num_row_groups > 1  # pieces are row groups, not whole files
    assert first.schema.column(1).physical_type == ("INT96" if stored == "INT96" else "INT64")
    assert parquet_source(ev, EVENT_COLUMNS) is not None
    st_, g = sdf(spark, tables.students), sdf(spark, grid)

    calls: list[int] = []
    real = _features.pack_parquet
    monkeypatch.setattr(_features, "pack_parquet",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    direct = sps.build_features(ev, st_, g, spec, shards=3,
                                audit_attributes=tables.audit_attributes)
    assert calls == [1]  # the tasks read the files
    assert direct.feature_names == builder.feature_names_out_
    assert direct.skipped == builder.skipped_
    assert_same(direct.to_pandas(), ref)
    through_spark = sps.build_features(ev, st_, g, spec, shards=3, direct_read=False,
                                       audit_attributes=tables.audit_attributes)
    assert calls == [1]  # Spark's scan this time
    assert_same(through_spark.to_pandas(), ref)


def test_direct_read_of_naive_times_in_another_session_zone(spark: Any, tmp_path: Path) -> None:
    """Files written by pandas: naive times (Spark: TIMESTAMP_NTZ), text ids, large strings."""
    from studentprofile import spark as sps
    from studentprofile.spark._pack import parquet_source

    t = sp.datasets.simulate_campus(n_students=40, days=90, seed=11)
    events = t.events.assign(student_id="s" + t.events["student_id"].astype(str))
    students = t.students.assign(student_id="s" + t.students["student_id"].astype(str))
    tables = sp.EventTables(students=students, events=events,
                            audit_attributes=t.audit_attributes)
    grid = sp.features.make_grid(tables, every=10, per="enrolment")
    spec = sp.features.behavioral_features()
    ref = FeatureBuilder(spec).fit_transform(tables, grid)
    folder = tmp_path / "events"
    folder.mkdir()
    half = len(events) // 2
    for i, part in enumerate((events.iloc[:half], events.iloc[half:])):
        part.astype({"family": str, "kind": str}).to_parquet(
            folder / f"part-{i}.parquet", index=False, coerce_timestamps="us",
            row_group_size=2000)
    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    try:
        ev = spark.read.parquet(str(folder))
        assert dict(ev.dtypes)["time"] == "timestamp_ntz"
        assert parquet_source(ev, EVENT_COLUMNS) is not None
        res = sps.build_features(ev, sdf(spark, students), sdf(spark, grid), spec,
                                 audit_attributes=t.audit_attributes, shards=2)
        got = res.to_pandas()
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)
    assert_same(got, ref)


# ------------------------------------------------------------------- which reads qualify
def test_direct_read_only_for_a_plain_parquet_read(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    from studentprofile.spark._pack import parquet_source

    tables, _ = hostile_campus(5)
    ev = written(spark, tables.events, tmp_path / "events", files=2)
    assert parquet_source(ev, EVENT_COLUMNS) is not None
    assert parquet_source(ev.select(*EVENT_COLUMNS), EVENT_COLUMNS) is not None
    # anything that changes rows or values goes through Spark's scan
    assert parquet_source(ev.where(F.col("value") > 0), EVENT_COLUMNS) is None
    assert parquet_source(ev.withColumn("value", F.col("value") * 2), EVENT_COLUMNS) is None
    assert parquet_source(ev.join(ev.select("student_id").distinct(), "student_id"),
                          EVENT_COLUMNS) is None
    assert parquet_source(sdf(spark, tables.events), EVENT_COLUMNS) is None
    # partition columns live in folder names, not in the files
    sdf(spark, tables.events).write.partitionBy("family").parquet(str(tmp_path / "by_family"))
    assert parquet_source(spark.read.parquet(str(tmp_path / "by_family")),
                          EVENT_COLUMNS) is None
    # a schema given by the reader that the files do not have
    fixed = spark.read.schema(ev.schema.simpleString().replace("value:double", "value:float")
                              .removeprefix("struct<").removesuffix(">").replace(":", " "))
    assert parquet_source(fixed.parquet(str(tmp_path / "events")), EVENT_COLUMNS) is None
    # reader options that change values
    rebase = spark.read.option("datetimeRebaseMode", "LEGACY").parquet(str(tmp_path / "events"))
    assert parquet_source(rebase, EVENT_COLUMNS) is None


def test_direct_read_errors(spark: Any, tmp_path: Path) -> None:
    from studentprofile import spark as sps
    from studentprofile.spark._pack import check_file

    tables, grid = hostile_campus(2)
    ev = written(spark, tables.events, tmp_path / "events", files=2)
    st_, g = sdf(spark, tables.students), sdf(spark, grid)
    spec = sp.features.behavioral_features()
    with pytest.raises(ConfigError, match=r"direct_read must be True or False"):
        sps.build_features(ev, st_, g, spec, direct_read="yes")
    # students the students table lacks: found by the tasks' scan, typed, before the job
    fewer = sdf(spark, tables.students.iloc[5:])
    g_fewer = sdf(spark, grid[grid["student_id"].isin(tables.students["student_id"].iloc[5:])])
    with pytest.raises(SchemaError, match=r"events.student_id \[membership\]"):
        sps.build_features(ev, fewer, g_fewer, spec)
    # a later file whose columns differ from the first file's names the file
    with pytest.raises(SchemaError, match=r"events.value \[spark-type\].*part-9.parquet"
                       r"(.|\n)*'int64' where the first file has 'double'"):
        check_file({"value": pa.int64()}, {"value": "double"}, "file:///data/part-9.parquet")
    check_file({"kind": pa.dictionary(pa.int32(), pa.large_string())}, {"kind": "string"},
               "file:///data/part-1.parquet")  # the same column


# ------------------------------------------------------------------------- the blobs
ids_ints = st.lists(st.integers(-(2**62), 2**62), min_size=0, max_size=300)
ids_text = st.lists(st.text(min_size=0, max_size=6), min_size=0, max_size=300)


@given(ids=st.one_of(ids_ints, ids_text), shards=st.integers(1, 9),
       cut=st.integers(1, 400), seed=st.integers(0, 2**16))
def test_blobs_carry_every_row_to_its_shard_in_order(ids: list[Any], shards: int, cut: int,
                                                     seed: int) -> None:
    from studentprofile.spark._pack import blobs, gather, shards_of, unpack
    from studentprofile.spark._shards import shard_labels

    rng = np.random.default_rng(seed)
    n = len(ids)
    values = rng.normal(size=n)
    values[rng.random(n) < 0.1] = np.nan
    table = pa.table({"student_id": pa.array(ids), "value": pa.array(values),
                      "time": pa.array(rng.integers(0, 10**12, n), pa.timestamp("us", "UTC")),
                      "row": pa.array(np.arange(n))})
    labels = np.asarray(shard_labels(shards), dtype=np.int64)
    batches = [blobs(t, 0, labels) for t in gather(iter(table.to_batches(max_chunksize=37)),
                                                   cut)]
    got = unpack(iter(batches), 1)
    want = shards_of(table.column("student_id"), shards)
    assert sum(parts[0].num_rows for parts in got.values()) == n
    for s, (part,) in got.items():
        rows = np.flatnonzero(want == s)
        assert part.column("row").to_pylist() == rows.tolist()  # arrival order kept
        assert part.schema.equals(table.schema)
        assert part.to_pandas().equals(table.take(rows).to_pandas())  # NaN where NaN
        assert all(b.column(0).to_pylist() == [labels[x] for x in b.column(1).to_pylist()]
                   for b in batches)


def test_shards_agree_across_integer_widths_and_text() -> None:
    from studentprofile.spark._pack import shards_of

    ids = [0, 1, 7, 2**31 - 1, -5]
    wide = shards_of(pa.array(ids, pa.int64()), 7)
    assert (shards_of(pa.array(ids, pa.int32()), 7) == wide).all()
    assert (shards_of(pa.chunked_array([ids[:2], ids[2:]], pa.int64()), 7) == wide).all()
    text = ["ana", "ben", "ana", ""]
    assert (shards_of(pa.array(text, pa.string()), 5)
            == shards_of(pa.array(text, pa.large_string()), 5)).all()
    assert shards_of(pa.array(text), 5)[0] == shards_of(pa.array(text), 5)[2]


@pytest.mark.parametrize("n_kinds", [1, 3, 40])
def test_pair_minimums_equal_a_pandas_groupby(n_kinds: int) -> None:
    """The scan's (family, kind) minimums: masked mins for a few kinds, a hash aggregate else."""
    from studentprofile.spark._pack import _pair_mins

    rng = np.random.default_rng(n_kinds)
    n = 5000
    frame = pd.DataFrame({
        "family": rng.choice(["academic", "behavioral"], n),
        "kind": [f"k{i}" for i in rng.integers(0, n_kinds, n)],
        "time": pd.Timestamp("2024-09-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        "value": rng.normal(size=n),
    })
    frame.loc[frame.index[::7], "value"] = np.nan  # Arrow's min skips nulls, as Spark's
    micros = frame["time"].dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype("i8")
    table = pa.table({"family": pa.array(frame["family"].tolist()),
                      "kind": pa.array(frame["kind"].tolist()).dictionary_encode(),
                      "time": pa.array(micros, pa.timestamp("us", "UTC")),
                      "value": pa.array(frame["value"].to_numpy())})
    got = _pair_mins(table, ["time", "value"]).to_pandas().set_index(["family", "kind"])
    want = frame.groupby(["family", "kind"]).min()
    assert got.sort_index().equals(want.sort_index().astype(got.dtypes.to_dict()))


def test_labels_of_dictionary_chunks_and_nulls() -> None:
    from studentprofile.spark._pack import labels_of

    chunks = pa.chunked_array([
        pa.array(["b", "a", None, "b"]).dictionary_encode(),
        pa.array(["c", "a", "c"]).dictionary_encode(),  # another dictionary
    ])
    codes, labels = labels_of(chunks)
    assert [labels[c] for c in codes] == ["b", "a", None, "b", "c", "a", "c"]
    assert labels[-1] is None
    codes, labels = labels_of(pa.chunked_array([pa.array(["x", None, "y"], pa.large_string())]))
    assert [labels[c] for c in codes] == ["x", None, "y"]
