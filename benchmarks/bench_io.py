"""Benchmark: reading an events table from PostgreSQL, ours against pandas, in one process.

A throw-away PostgreSQL server (the tests' helper) is filled with ``--rows`` synthetic events
(``student_id`` text, ``time``/``known_at`` timestamptz, ``family``, ``kind``, ``value``,
``max_value``) with ``COPY``; then, alternating, each method reads ``select * from events``:

* ``studentprofile``: ``studentprofile.io.read_sql`` (server-side cursor, 50,000-row chunks,
  timestamptz -> naive UTC, ids as text);
* ``pandas``: ``pandas.read_sql(query, engine)`` (the whole result at once);
* ``pandas_chunked``: ``pandas.read_sql(query, engine, chunksize=50_000)`` concatenated.

For each: wall time (best of ``--repeat``), rows per second, and the peak RSS growth over the
RSS before the call (a thread samples RSS every 5 ms). Results go to JSON. The machine is
shared and noisy: compare the methods of one run with each other (ratios), not across runs.

Usage::

    PYTHONPATH=src:tests python benchmarks/bench_io.py --rows 20000000 --out results/bench_io.json
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _pg_server import postgres_server  # noqa: E402
from studentprofile import __version__  # noqa: E402
from studentprofile.io import read_sql  # noqa: E402

QUERY = "select * from events"


def fill(url: str, rows: int, seed: int = 0) -> None:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    rng = np.random.default_rng(seed)
    kinds = np.array(["lms_click", "class_attendance", "canteen_swipe", "assessment_score"])
    fams = np.array(["behavioral", "behavioral", "behavioral", "academic"])
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute("drop table if exists events")
        con.execute("create table events (student_id text, time timestamptz, "
                    "known_at timestamptz, family text, kind text, value double precision, "
                    "max_value double precision)")
        base = pd.Timestamp("2024-09-01", tz="UTC").value // 1000  # microseconds
        step = 1_000_000
        for lo in range(0, rows, step):
            n = min(step, rows - lo)
            k = rng.integers(0, 4, n)
            us = base + rng.integers(0, 365 * 86_400_000_000, n)
            t = pd.to_datetime(us, unit="us", utc=True)
            frame = pd.DataFrame({
                "student_id": np.char.zfill(rng.integers(0, 20_000, n).astype(str), 6),
                "time": t.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                "known_at": (t + pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                "family": fams[k], "kind": kinds[k],
                "value": np.round(rng.random(n) * 100, 3), "max_value": 100.0,
            })
            buf = io.StringIO()
            frame.to_csv(buf, index=False, header=False)
            with con.cursor() as cur, cur.copy(
                    "copy events from stdin with (format csv)") as copy:
                copy.write(buf.getvalue())
        con.execute("analyze events")


class Peak:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.stop = threading.Event()
        self.peak = 0

    def __enter__(self) -> Peak:
        gc.collect()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_io.json")
    args = ap.parse_args()
    import sqlalchemy as sa

    results: dict[str, Any] = {
        "benchmark": "bench_io", "rows": args.rows, "query": QUERY,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_start": os.getloadavg()},
        "versions": {"studentprofile": __version__, "pandas": pd.__version__,
                     "sqlalchemy": sa.__version__},
        "methods": {},
    }
    with postgres_server() as url:
        t0 = time.perf_counter()
        fill(url, args.rows)
        results["fill_seconds"] = round(time.perf_counter() - t0, 1)
        engine = sa.create_engine(url)

        def ours() -> pd.DataFrame:
            return read_sql(QUERY, url, source="events", chunksize=50_000)

        def plain() -> pd.DataFrame:
            return pd.read_sql(QUERY, engine)

        def chunked() -> pd.DataFrame:
            return pd.concat(pd.read_sql(QUERY, engine, chunksize=50_000), ignore_index=True)

        methods = {"studentprofile": ours, "pandas": plain, "pandas_chunked": chunked}
        best: dict[str, float] = {}
        peaks: dict[str, float] = {}
        shapes: dict[str, Any] = {}
        for _ in range(args.repeat):
            for name, fn in methods.items():
                with Peak() as peak:
                    t = time.perf_counter()
                    frame = fn()
                    dt = time.perf_counter() - t
                best[name] = min(best.get(name, np.inf), dt)
                peaks[name] = max(peaks.get(name, 0), (peak.peak - peak.base) / 2**20)
                shapes[name] = {"rows": len(frame),
                                "dtypes": {c: str(d) for c, d in frame.dtypes.items()}}
                del frame
                gc.collect()
        engine.dispose()
    for name in methods:
        results["methods"][name] = {
            "seconds": round(best[name], 2),
            "rows_per_second": round(args.rows / best[name]),
            "peak_rss_growth_mib": round(peaks[name], 1),
            "result": shapes[name],
        }
    ref = results["methods"]["pandas"]
    for m in results["methods"].values():
        m["speed_vs_pandas"] = round(ref["seconds"] / m["seconds"], 2)
        m["memory_vs_pandas"] = round(m["peak_rss_growth_mib"] / ref["peak_rss_growth_mib"], 2)
    results["machine"]["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["methods"], indent=2))


if __name__ == "__main__":
    main()
