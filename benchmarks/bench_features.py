"""Windowed event features: studentprofile vs DuckDB vs polars, in one process.

The job: for every student and every weekly as-of date of a year, the count, sum, mean, max,
sample standard deviation, last value and days since the last event of the events known before
the as-of date (``known_at < as_of``) in windows of 7, 30 and 90 days (``as_of - w <= time``).
21 feature columns per row.

Each engine starts from its own in-memory form of the same data and ends with a pandas DataFrame
of the 21 features (timed end to end: for studentprofile the per-student layout, the kernels and
the output frame; for DuckDB a range join in SQL with ``FILTER`` aggregates per window; for
polars an equi-join on student filtered to the range, lazily, in student batches so it
fits in memory). Building
and validating ``EventTables`` is timed separately (``tables_s``): it is done once per data set,
not once per feature job.

Peak memory is the largest rise of the process's resident set size above its size when the
engine started, sampled every 5 ms.

Usage::

    python benchmarks/bench_features.py --events 20000000 --json bench_features.json
    python benchmarks/bench_features.py            # sweep 1M, 5M, 20M, 50M events

The events are generated here (fast, vectorised, seeded): students with different activity
levels, times spread over a year in chronological order, 10% of events known up to 14 days after
they happened.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9
WINDOWS = (7, 30, 90)
AGGS = ("count", "sum", "mean", "max", "std", "last", "days_since_last")
START = pd.Timestamp("2024-09-01")


def columns() -> list[str]:
    """Feature column names, in the order every engine returns them."""
    return [f"lms_click_{a}_{w}d" for w in WINDOWS for a in AGGS]


# ------------------------------------------------------------------------------- data
def generate(n_events: int, n_students: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Students and events for one year, chronological; a tenth of the events known late."""
    rng = np.random.default_rng(seed)
    activity = rng.gamma(2.0, 1.0, n_students)
    student = rng.choice(n_students, size=n_events, p=activity / activity.sum())
    offset = np.sort(rng.integers(0, 365 * NS_PER_DAY, n_events, dtype=np.int64))
    delay = np.where(rng.random(n_events) < 0.1,
                     rng.integers(0, 14 * NS_PER_DAY, n_events, dtype=np.int64), 0)
    t = (START.value + offset).view("datetime64[ns]")
    k = (START.value + offset + delay).view("datetime64[ns]")
    events = pd.DataFrame(
        {
            "student_id": student.astype(np.int64),
            "time": t,
            "known_at": k,
            "family": pd.Categorical.from_codes(np.zeros(n_events, np.int8), ["behavioral"]),
            "kind": pd.Categorical.from_codes(np.zeros(n_events, np.int8), ["lms_click"]),
            "value": rng.gamma(1.5, 4.0, n_events).round(1),
        }
    )
    students = pd.DataFrame({"student_id": np.arange(n_students, dtype=np.int64)})
    return students, events


def make_weekly_grid(n_students: int, n_dates: int = 52) -> pd.DataFrame:
    """Every student at every weekly as-of date, sorted by student then date."""
    dates = START + pd.to_timedelta(7 * np.arange(1, n_dates + 1), unit="D")
    return pd.DataFrame(
        {
            "student_id": np.repeat(np.arange(n_students, dtype=np.int64), n_dates),
            "as_of": np.tile(dates.to_numpy(dtype="datetime64[ns]"), n_students),
        }
    )


# ----------------------------------------------------------------------------- engines
def build_tables(students: pd.DataFrame, events: pd.DataFrame) -> Any:
    from studentprofile.tables import EventTables

    return EventTables(students=students, events=events, check_duplicates=False)


def run_studentprofile(tables: Any, grid: pd.DataFrame) -> pd.DataFrame:
    from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec

    spec = FeatureSpec([EventFeatures("lms_click", family="behavioral", aggregates=AGGS,
                                      windows=WINDOWS)])
    out = FeatureBuilder(spec).fit_transform(tables, grid)
    return out[columns()]


def _duckdb_sql() -> str:
    parts = []
    for w in WINDOWS:
        cond = f"FILTER (WHERE e.time >= g.as_of - INTERVAL {w} DAY)"
        parts += [
            f"count(e.time) {cond} AS lms_click_count_{w}d",
            f"coalesce(sum(e.value) {cond}, 0) AS lms_click_sum_{w}d",
            f"avg(e.value) {cond} AS lms_click_mean_{w}d",
            f"max(e.value) {cond} AS lms_click_max_{w}d",
            f"stddev_samp(e.value) {cond} AS lms_click_std_{w}d",
            f"arg_max(e.value, e.time) {cond} AS lms_click_last_{w}d",
            f"(epoch_ns(g.as_of) - epoch_ns(max(e.time) {cond})) / {NS_PER_DAY}.0 "
            f"AS lms_click_days_since_last_{w}d",
        ]
    longest = max(WINDOWS)
    return f"""
        SELECT g.student_id, g.as_of, {", ".join(parts)}
        FROM grid g
        LEFT JOIN events e
          ON e.student_id = g.student_id
         AND e.known_at < g.as_of
         AND e.time < g.as_of
         AND e.time >= g.as_of - INTERVAL {longest} DAY
        GROUP BY g.student_id, g.as_of
        ORDER BY g.student_id, g.as_of
    """


def run_duckdb(events: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET threads TO {os.cpu_count() or 1}")
        con.register("events", events[["student_id", "time", "known_at", "value"]])
        con.register("grid", grid)
        out = con.execute(_duckdb_sql()).df()
    finally:
        con.close()
    return out.set_index(["student_id", "as_of"])[columns()]


def polars_input(events: pd.DataFrame) -> Any:
    import polars as pl

    return pl.from_pandas(events[["student_id", "time", "known_at", "value"]])


def run_polars(events: Any, grid: pd.DataFrame, batch_rows: int = 40_000_000) -> pd.DataFrame:
    """Equi-join on student, filter the range, aggregate (lazy), in student batches.

    (``join_where`` with the range predicates was 3-5x slower than this in polars 2.1.)
    """
    import polars as pl

    longest = max(WINDOWS)
    g_all = pl.from_pandas(grid).with_columns(
        (pl.col("as_of") - pl.duration(days=longest)).alias("window_start"))
    n_students = int(grid["student_id"].max()) + 1 if len(grid) else 0
    dates = max(1, len(grid) // max(n_students, 1))
    # student batches so that one batch's joined rows (before the filter) stay near batch_rows
    per_student = max(1.0, events.height / max(n_students, 1) * dates)
    step = max(1, int(batch_rows / per_student))
    flags, aggs = [], []
    for w in WINDOWS:
        inside = pl.col("time") >= pl.col("as_of") - pl.duration(days=w)
        flags += [pl.when(inside).then(pl.col("value")).alias(f"v{w}"),
                  pl.when(inside).then(pl.col("time")).alias(f"t{w}")]
        v, t = pl.col(f"v{w}"), pl.col(f"t{w}")
        aggs += [
            v.count().alias(f"lms_click_count_{w}d"),
            v.sum().alias(f"lms_click_sum_{w}d"),
            v.mean().alias(f"lms_click_mean_{w}d"),
            v.max().alias(f"lms_click_max_{w}d"),
            v.std(ddof=1).alias(f"lms_click_std_{w}d"),
            pl.col("value").get(t.arg_max()).alias(f"lms_click_last_{w}d"),
            ((pl.col("as_of").first() - t.max()).dt.total_nanoseconds() / NS_PER_DAY)
            .alias(f"lms_click_days_since_last_{w}d"),
        ]
    parts = []
    for lo in range(0, n_students, step):
        in_batch = pl.col("student_id").is_between(lo, lo + step, closed="left")
        g = g_all.lazy().filter(in_batch)
        agg = (
            g.join(events.lazy().filter(in_batch), on="student_id")
            .filter((pl.col("known_at") < pl.col("as_of")) & (pl.col("time") < pl.col("as_of"))
                    & (pl.col("time") >= pl.col("window_start")))
            .with_columns(flags)
            .group_by("student_id", "as_of")
            .agg(aggs)
        )
        # grid rows with no event at all in the longest window keep their row
        parts.append(g.drop("window_start").join(agg, on=["student_id", "as_of"], how="left")
                     .collect())
    out = pl.concat(parts).sort("student_id", "as_of")
    count_cols = [c for c in columns() if "_count_" in c or "_sum_" in c]
    out = out.with_columns([pl.col(c).fill_null(0) for c in count_cols])
    frame = out.to_pandas()
    return frame.set_index(["student_id", "as_of"])[columns()].astype("float64")


# ---------------------------------------------------------------------------- measuring
def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, seconds, and peak RSS rise in MB (sampled every 5 ms)."""
    gc.collect()
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - t0
        stop.set()
        thread.join()
    peak[0] = max(peak[0], _rss())
    return result, elapsed, (peak[0] - base) / 2**20


def compare(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> float:
    """Largest relative difference between two feature frames (NaN equal to NaN)."""
    x = a.to_numpy(dtype=np.float64)
    y = b.reindex(a.index)[a.columns].to_numpy(dtype=np.float64)
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.abs(x - y) / np.maximum(np.maximum(np.abs(x), np.abs(y)), 1.0)
    diff[both_nan] = 0.0
    diff[np.isnan(diff)] = np.inf
    return float(diff.max()) if diff.size else 0.0


def run_size(n_events: int, n_students: int, engines: list[str], seed: int = 0,
             warm: bool = True) -> dict[str, Any]:
    students, events = generate(n_events, n_students, seed)
    grid = make_weekly_grid(n_students)
    row: dict[str, Any] = {"events": n_events, "students": n_students,
                           "as_of_dates": 52, "grid_rows": len(grid),
                           "features": len(columns())}
    # raw event arrays: student, time, known_at (8 bytes each), value (8), family+kind (1 each)
    row["raw_event_mb"] = round(n_events * 34 / 2**20, 1)
    if warm:  # compile (or load) the numba kernels outside the timings
        # big enough for the parallel kernels (small inputs run serial twins)
        s, e = generate(300_000, 300, seed + 1)
        run_studentprofile(build_tables(s, e), make_weekly_grid(300, 4))
    results: dict[str, pd.DataFrame] = {}
    if "studentprofile" in engines:
        tables, t_tables, m_tables = measure(lambda: build_tables(students, events))
        row["tables_s"] = round(t_tables, 3)
        out, secs, mb = measure(lambda: run_studentprofile(tables, grid))
        row["studentprofile_s"] = round(secs, 3)
        row["studentprofile_peak_mb"] = round(mb, 1)
        results["studentprofile"] = out
        del tables
    if "duckdb" in engines:
        out, secs, mb = measure(lambda: run_duckdb(events, grid))
        row["duckdb_s"] = round(secs, 3)
        row["duckdb_peak_mb"] = round(mb, 1)
        results["duckdb"] = out
    if "polars" in engines:
        pl_events = polars_input(events)
        out, secs, mb = measure(lambda: run_polars(pl_events, grid))
        row["polars_s"] = round(secs, 3)
        row["polars_peak_mb"] = round(mb, 1)
        results["polars"] = out
        del pl_events
    if "studentprofile" in results:
        ours = results["studentprofile"]
        for name in ("duckdb", "polars"):
            if name in results:
                row[f"max_rel_diff_vs_{name}"] = compare(ours, results[name])
                row[f"speedup_vs_{name}"] = round(row[f"{name}_s"] / row["studentprofile_s"], 2)
    row["load_avg_1m"] = round(os.getloadavg()[0], 2)
    row["cpus"] = os.cpu_count()
    row["python"] = platform.python_version()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help="one size (events)")
    parser.add_argument("--students", type=int, default=None,
                        help="students (default: events / 1000, at least 1000)")
    parser.add_argument("--engines", default="studentprofile,duckdb,polars")
    parser.add_argument("--json", default=None, help="write results to this path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [args.events] if args.events else [1_000_000, 5_000_000, 20_000_000, 50_000_000]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    results = []
    for n in sizes:
        students = args.students or max(1000, n // 1000)
        row = run_size(n, students, engines, args.seed)
        print(json.dumps(row))
        results.append(row)
        if args.json:
            tmp = f"{args.json}.tmp"
            with open(tmp, "w") as fh:
                json.dump({"results": results}, fh, indent=2)
            os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
