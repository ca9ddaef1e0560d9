"""Spark engine: the pandas path vs studentprofile.spark (local[1], local[2]) vs Spark SQL.

The job is ``bench_features.py``'s: for every student at every weekly as-of date of a year, 21
windowed features (count, sum, mean, max, std, last, days since last over 7, 30 and 90 days) of
the events known before the as-of date. Engines, each timed end to end from data in memory to
the features materialised:

- ``pandas``: ``FeatureBuilder.transform`` on one machine (EventTables built beforehand, as in
  ``bench_features.py``; its time is reported apart as ``tables_s``);
- ``spark_local1`` / ``spark_local2``: ``studentprofile.spark.build_features`` in a Spark session
  with 1 or 2 cores, from cached Spark DataFrames to a written-out result (``noop`` sink), its
  checking jobs included; a first untimed run warms the Python workers and numba caches;
- ``spark_sql_local2``: the same features as a platform team would write them without us: a range
  join of grid and events in Spark SQL with ``FILTER`` aggregates per window (the same session
  as ``spark_local2``).

The Spark rows agree with the pandas path (checked on a sample of rows and written as
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
from functools import partial
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


def session(cores: int) -> Any:
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
        .config("spark.driver.memory", os.environ.get("BENCH_SPARK_MEMORY", "8g"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def to_spark(spark: Any, pdf: pd.DataFrame) -> Any:
    """A cached Spark DataFrame of a pandas frame (times as UTC instants) via Arrow."""
    import pyarrow as pa

    cols = {}
    for c in pdf.columns:
        s = pdf[c]
        if s.dtype.kind == "M":
            cols[c] = pa.array(s.to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns")).cast(
                pa.timestamp("us", tz="UTC"))
        elif s.dtype.kind in "biuf":
            cols[c] = pa.array(s.to_numpy())
        else:
            cols[c] = pa.array(s.astype(str).to_numpy(), pa.string())
    sdf = spark.createDataFrame(pa.table(cols)).cache()
    sdf.count()
    return sdf


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


def ours(ev: Any, st: Any, g: Any, spec: Any, shards: int) -> Any:
    """Build and materialise the features (the checking jobs run inside the timing)."""
    from studentprofile import spark as sps

    res = sps.build_features(ev, st, g, spec, shards=shards)
    sink(res.features)
    return res


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
    pdf["as_of"] = pdf["as_of"].dt.tz_convert(None).astype("datetime64[ns]")
    return pdf


def run(n_events: int, n_students: int, n_dates: int, shards: int | None) -> dict[str, Any]:
    from studentprofile.features import EventFeatures, FeatureSpec

    students, events = bf.generate(n_events, n_students)
    for col in ("time", "known_at"):  # Spark timestamps hold microseconds
        events[col] = events[col].dt.floor("us")
    grid = bf.make_weekly_grid(n_students, n_dates)
    tables, tables_s = timed(lambda: bf.build_tables(students, events))
    ref, pandas_s = timed(lambda: bf.run_studentprofile(tables, grid))
    spec = FeatureSpec([EventFeatures("lms_click", family="behavioral", aggregates=bf.AGGS,
                                      windows=bf.WINDOWS)])
    result: dict[str, Any] = {
        "events": n_events, "students": n_students, "as_of_dates": n_dates,
        "grid_rows": len(grid), "features": len(bf.columns()), "tables_s": tables_s,
        "pandas_s": pandas_s,
    }
    ev_pdf = events.astype({"family": str, "kind": str})
    for cores in (1, 2):
        spark = session(cores)
        ev, st, g = to_spark(spark, ev_pdf), to_spark(spark, students), to_spark(spark, grid)
        n_shards = shards or 4 * cores
        job = partial(ours, ev, st, g, spec, n_shards)
        job()  # warm: numba caches and Python workers
        res, secs = timed(job)
        result[f"spark_local{cores}_s"] = secs
        result[f"spark_local{cores}_max_abs_diff"] = check(sample_rows(res.features,
                                                                       n_students), ref)
        if cores == 2:
            ev.createOrReplaceTempView("events")
            g.createOrReplaceTempView("grid")
            peer = spark.sql(spark_sql(spark))
            _, peer_s = timed(partial(sink, peer))
            result["spark_sql_local2_s"] = peer_s
            result["spark_sql_local2_max_abs_diff"] = check(sample_rows(peer, n_students), ref)
        spark.stop()
    result["spark_local2_over_pandas"] = result["spark_local2_s"] / pandas_s
    result["speedup_local1_to_local2"] = result["spark_local1_s"] / result["spark_local2_s"]
    result["spark_sql_over_ours_local2"] = result["spark_sql_local2_s"] / result["spark_local2_s"]
    cs = 2 * result["spark_local2_s"]
    result["per_core_second"] = {"events": n_events / cs, "students": n_students / cs,
                                 "grid_rows": len(grid) / cs}
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000_000)
    p.add_argument("--students", type=int, default=20_000)
    p.add_argument("--dates", type=int, default=52)
    p.add_argument("--shards", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    import pyspark

    out = {
        "benchmark": "bench_spark",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "pyspark": pyspark.__version__, "platform": platform.platform()},
        "results": [run(args.events, args.students, args.dates, args.shards)],
    }
    text = json.dumps(out, indent=2)
    if args.json is not None:
        from studentprofile._files import atomic_write_text

        atomic_write_text(args.json, text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
