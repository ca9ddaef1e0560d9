"""Spark engine: the pandas path vs studentprofile.spark (local[1], local[2]) vs Spark SQL.

The job is ``bench_features.py``'s: for every student at every weekly as-of date of a year, 21
windowed features (count, sum, mean, max, std, last, days since last over 7, 30 and 90 days) of
the events known before the as-of date. The data are generated once and written to Parquet in a
temporary folder; every Spark engine reads that Parquet itself (no pandas -> Spark conversion of
the input). Engines, each timed end to end:

- ``pandas``: ``FeatureBuilder.transform`` on one machine (EventTables built beforehand, as in
  ``bench_features.py``; its time is reported apart as ``tables_s``);
- ``spark_local1`` / ``spark_local2``: ``studentprofile.spark.build_features`` in a Spark session
  with 1 or 2 cores, from the Parquet files to a written-out result (``noop`` sink), its checking
  jobs included (reported apart as ``*_checks_s``: the grid membership job, the scan for kinds
  and unknown students); the session's Python workers and numba caches are warmed first on a
  few students (untimed);
- ``spark_sql_local2``: the same features as a platform team would write them without us: a range
  join of grid and events in Spark SQL with ``FILTER`` aggregates per window (the same session
  as ``spark_local2``); stopped after ``--peer-timeout`` seconds, then reported as a lower bound.

Where the Spark time goes is measured, not guessed: ``*_checks_s`` is the checking jobs,
``*_shuffle_s`` the events' read, projection and shuffle into shards alone (the JVM part of the
feature job, no Python), and the rest of the feature job is the Python side (Arrow transfer to
the workers, EventTables per shard, the kernels, the output).

The Spark rows agree with the pandas path (checked on a sample of students and written as
``max_abs_diff``). Usage::

    python benchmarks/bench_spark.py --events 2000000 --students 2000 --json out.json
    python benchmarks/bench_spark.py                   # the issue's size: 50M events, 20k students
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_features", _HERE / "bench_features.py")
assert _spec is not None and _spec.loader is not None
bf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bf)

# pyspark 4.x warns about pandas 3 on every pandas UDF; the results are checked below
warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)


def session(cores: int, batch: int) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"bench_spark_local{cores}")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(4 * cores))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
        .config("spark.driver.memory", os.environ.get("BENCH_SPARK_MEMORY", "6g"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def write_data(folder: Path, n_events: int, n_students: int, n_dates: int) -> dict[str, Any]:
    """Generate the data once; write it to Parquet; return the pandas frames."""
    students, events = bf.generate(n_events, n_students)
    for col in ("time", "known_at"):  # Spark timestamps hold microseconds
        events[col] = events[col].dt.floor("us")
    grid = bf.make_weekly_grid(n_students, n_dates)
    kw = {"index": False, "coerce_timestamps": "us", "allow_truncated_timestamps": True}
    events.astype({"family": str, "kind": str}).to_parquet(folder / "events.parquet", **kw)
    students.to_parquet(folder / "students.parquet", index=False)
    grid.to_parquet(folder / "grid.parquet", **kw)
    return {"students": students, "events": events, "grid": grid}


def read(spark: Any, folder: Path) -> tuple[Any, Any, Any]:
    """The three tables as Spark reads them (TimestampNTZ times, read as UTC)."""
    return tuple(spark.read.parquet(str(folder / f"{t}.parquet"))
                 for t in ("events", "students", "grid"))


def spark_sql(spark: Any) -> str:
    parts = []
    for w in bf.WINDOWS:
        cond = f"FILTER (WHERE e.time >= g.as_of - INTERVAL {w} DAYS)"
        parts += [
            f"count(e.time) {cond} AS lms_click_count_{w}d",
            f"coalesce(sum(e.value) {cond}, 0D) AS lms_click_sum_{w}d",
            f"avg(e.value) {cond} AS lms_click_mean_{w}d",
            f"max(e.value) {cond} AS lms_click_max_{w}d",
            f"stddev_samp(e.value) {cond} AS lms_click_std_{w}d",
            f"max_by(e.value, e.time) {cond} AS lms_click_last_{w}d",
            f"(unix_micros(g.as_of) - unix_micros(max(e.time) {cond})) / 86400000000D "
            f"AS lms_click_days_since_last_{w}d",
        ]
    longest = max(bf.WINDOWS)
    return f"""
        SELECT g.student_id, g.as_of, {", ".join(parts)}
        FROM grid g
        LEFT JOIN events e
          ON e.student_id = g.student_id
         AND e.known_at < g.as_of
         AND e.time < g.as_of
         AND e.time >= g.as_of - INTERVAL {longest} DAYS
        GROUP BY g.student_id, g.as_of
    """


def sink(sdf: Any) -> None:
    """Materialise every row of a Spark DataFrame without collecting it."""
    sdf.write.format("noop").mode("overwrite").save()


def ours(ev: Any, st: Any, g: Any, spec: Any, shards: int) -> tuple[Any, float, float]:
    """Build (checking jobs) and materialise the features; return the result and both times."""
    from studentprofile import spark as sps

    res, checks = timed(lambda: sps.build_features(ev, st, g, spec, shards=shards))
    _, job = timed(lambda: sink(res.features))
    return res, checks, job


def shuffle_only(ev: Any, shards: int) -> float:
    """The events' read, projection and shuffle into shards, without any Python."""
    from pyspark.sql import functions as F

    from studentprofile.spark._shards import shard_labels

    labels = F.element_at(F.array(*[F.lit(x).cast("bigint") for x in shard_labels(shards)]),
                          F.pmod(F.hash("student_id"), F.lit(shards)) + 1)
    moved = (ev.select("student_id", "time", "known_at", "value", F.lit(0).alias("pair"))
             .withColumn("shard", labels).repartition(shards, "shard")
             .sortWithinPartitions("shard"))
    return timed(lambda: sink(moved))[1]


def peer(spark: Any, timeout: float) -> tuple[float, bool]:
    """Run the Spark SQL peer; stop it after ``timeout`` s. Return (seconds, finished)."""
    import threading

    sc = spark.sparkContext
    sc.setJobGroup("peer", "Spark SQL range join", interruptOnCancel=True)
    timer = threading.Timer(timeout, lambda: sc.cancelJobGroup("peer"))
    timer.start()
    t0 = time.perf_counter()
    try:
        sink(spark.sql(spark_sql(spark)))
        done = True
    except Exception:  # the cancellation surfaces as a Py4J/Spark error
        done = False
    secs = time.perf_counter() - t0
    timer.cancel()
    sc.setLocalProperty("spark.jobGroup.id", None)
    return secs, done


def timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def check(spark_rows: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Largest absolute difference on the sampled rows (NaN where both NaN counts as 0)."""
    got = spark_rows.set_index(["student_id", "as_of"])[bf.columns()].sort_index()
    want = ref.loc[got.index, bf.columns()]
    a, b = got.to_numpy(dtype=float), want.to_numpy(dtype=float)
    both = np.isnan(a) & np.isnan(b)
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    return float(np.nanmax(np.where(both, 0.0, np.abs(a - b)))) if a.size else 0.0


def sample_rows(sdf: Any, n_students: int) -> pd.DataFrame:
    from pyspark.sql import functions as F

    picked = sdf.where(F.col("student_id") % max(1, n_students // 50) == 0)
    pdf = picked.toArrow().to_pandas()
    if isinstance(pdf["as_of"].dtype, pd.DatetimeTZDtype):
        pdf["as_of"] = pdf["as_of"].dt.tz_convert(None)
    pdf["as_of"] = pdf["as_of"].astype("datetime64[ns]")
    return pdf


def pandas_path(data: dict[str, Any]) -> tuple[pd.DataFrame, float, float, int]:
    """The single-machine path: (features, tables_s, transform_s, grid rows)."""
    tables, tables_s = timed(lambda: bf.build_tables(data["students"], data["events"]))
    ref, pandas_s = timed(lambda: bf.run_studentprofile(tables, data["grid"]))
    return ref, tables_s, pandas_s, len(data["grid"])


def run(n_events: int, n_students: int, n_dates: int, shards: int, batch: int,
        peer_timeout: float) -> dict[str, Any]:
    import gc
    import tempfile

    from studentprofile.features import EventFeatures, FeatureSpec

    spec = FeatureSpec([EventFeatures("lms_click", family="behavioral", aggregates=bf.AGGS,
                                      windows=bf.WINDOWS)])
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        folder = Path(tmp)
        ref, tables_s, pandas_s, grid_rows = pandas_path(
            write_data(folder, n_events, n_students, n_dates))
        gc.collect()  # the pandas frames are gone: memory for Spark
        result: dict[str, Any] = {
            "events": n_events, "students": n_students, "as_of_dates": n_dates,
            "grid_rows": grid_rows, "features": len(bf.columns()), "shards": shards,
            "arrow_max_records_per_batch": batch, "tables_s": tables_s, "pandas_s": pandas_s,
        }
        for cores in (1, 2):
            spark = session(cores, batch)
            ev, st, g = read(spark, folder)
            few = spark.createDataFrame([(i,) for i in range(20)], "student_id bigint")
            ours(ev.join(few, "student_id"), st, g.join(few, "student_id"), spec, shards)  # warm
            res, checks_s, job_s = ours(ev, st, g, spec, shards)
            key = f"spark_local{cores}"
            result[f"{key}_s"] = checks_s + job_s
            result[f"{key}_checks_s"] = checks_s
            result[f"{key}_job_s"] = job_s
            result[f"{key}_max_abs_diff"] = check(sample_rows(res.features, n_students), ref)
            result[f"{key}_shuffle_s"] = shuffle_only(ev, shards)
            if cores == 2:
                ev.createOrReplaceTempView("events")
                g.createOrReplaceTempView("grid")
                peer_s, done = peer(spark, peer_timeout)
                result["spark_sql_local2_s"] = peer_s
                result["spark_sql_local2_finished"] = done
                if done:
                    result["spark_sql_local2_max_abs_diff"] = check(
                        sample_rows(spark.sql(spark_sql(spark)), n_students), ref)
            spark.stop()
    result["spark_local2_over_pandas"] = result["spark_local2_s"] / pandas_s
    result["speedup_local1_to_local2"] = result["spark_local1_s"] / result["spark_local2_s"]
    result["spark_sql_over_ours_local2"] = result["spark_sql_local2_s"] / result["spark_local2_s"]
    if not result["spark_sql_local2_finished"]:
        result["note"] = "the Spark SQL peer was stopped: its time and ratio are lower bounds"
    for cores in (1, 2):
        cs = cores * result[f"spark_local{cores}_s"]
        result[f"spark_local{cores}_per_core_second"] = {
            "events": n_events / cs, "students": n_students / cs,
            "as_of_dates": n_dates / cs, "grid_rows": grid_rows / cs}
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000_000)
    p.add_argument("--students", type=int, default=20_000)
    p.add_argument("--dates", type=int, default=52)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--batch", type=int, default=100_000,
                   help="spark.sql.execution.arrow.maxRecordsPerBatch")
    p.add_argument("--peer-timeout", type=float, default=1800.0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    import pyspark

    out = {
        "benchmark": "bench_spark",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "pyspark": pyspark.__version__, "platform": platform.platform()},
        "results": [run(args.events, args.students, args.dates, args.shards, args.batch,
                        args.peer_timeout)],
    }
    text = json.dumps(out, indent=2)
    if args.json is not None:
        from studentprofile._files import atomic_write_text

        atomic_write_text(args.json, text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
