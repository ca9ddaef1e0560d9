"""Benchmark: time and peak memory of ``simulate_campus`` across sizes, and the validation share.

For each size the program runs, in this one process:

* ``simulate``: ``simulate_campus(n_students=n, days=days, seed=seed)`` end to end (generation
  plus ``EventTables`` validation; duplicates are checked only up to 2,000,000 events);
* ``validate``: ``EventTables(...)`` again on the simulated frames (``check_duplicates=False``),
  the validation share of the total;
* ``memory``: the same simulation under ``tracemalloc`` (peak of traced allocations, numpy
  buffers included) while a thread samples the process RSS with psutil.

Times come from a run without tracemalloc. The machine is shared and noisy: compare the
``validate`` and ``simulate`` figures of one run with each other, not across runs.

Usage::

    PYTHONPATH=src python benchmarks/bench_simulate.py                 # 1k, 5k, 20k students
    PYTHONPATH=src python benchmarks/bench_simulate.py --sizes 20000 --days 365 --out x.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile import __version__
from studentprofile.datasets import simulate_campus
from studentprofile.tables import EventTables


def run_simulate(n_students: int, days: int, seed: int) -> tuple[EventTables, float]:
    t0 = time.perf_counter()
    tables = simulate_campus(n_students=n_students, days=days, seed=seed)
    return tables, time.perf_counter() - t0


def run_validate(tables: EventTables) -> tuple[EventTables, float]:
    t0 = time.perf_counter()
    again = EventTables(
        students=tables.students,
        events=tables.events,
        outcomes=tables.outcomes,
        audit_attributes=tables.audit_attributes,
        check_duplicates=False,
    )
    return again, time.perf_counter() - t0


class _RssSampler:
    """Sample the process RSS every ``interval`` seconds; report the maximum."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._proc = psutil.Process(os.getpid())
        self._interval = interval
        self._stop = threading.Event()
        self.before = self._proc.memory_info().rss
        self.peak = self.before
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def run_memory(n_students: int, days: int, seed: int) -> dict[str, float]:
    gc.collect()
    with _RssSampler() as rss:
        tracemalloc.start()
        tables = simulate_campus(n_students=n_students, days=days, seed=seed)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result_bytes = int(
            tables.events.memory_usage(deep=False).sum()
            + tables.students.memory_usage(deep=True).sum()
        )
        del tables
    return {
        "traced_peak_gb": peak / 1e9,
        "rss_peak_gb": rss.peak / 1e9,
        "rss_increase_gb": (rss.peak - rss.before) / 1e9,
        "result_gb": result_bytes / 1e9,
    }


def bench(n_students: int, days: int, seed: int, *, memory: bool = True) -> dict[str, Any]:
    gc.collect()
    tables, t_sim = run_simulate(n_students, days, seed)
    again, t_val = run_validate(tables)
    record: dict[str, Any] = {
        "n_students": n_students,
        "days": days,
        "seed": seed,
        "events": len(tables.events),
        "outcomes": len(tables.outcomes),
        "events_per_student": len(tables.events) / n_students,
        "duplicates_checked": tables.report.duplicate_events is not None,
        "simulate_s": t_sim,
        "validate_s": t_val,
        "validate_share": t_val / t_sim,
        "events_per_s": len(tables.events) / t_sim,
        "by_family": {
            str(k): int(v) for k, v in tables.events["family"].value_counts().sort_index().items()
        },
        "agree": bool(again == tables),
    }
    del tables, again
    if memory:
        record.update(run_memory(n_students, days, seed))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_simulate.json"
    )
    args = parser.parse_args(argv)
    results = []
    for n in args.sizes:
        rec = bench(n, args.days, args.seed, memory=not args.no_memory)
        results.append(rec)
        mem = (
            ""
            if args.no_memory
            else f", traced peak {rec['traced_peak_gb']:.2f} GB, "
            f"RSS peak {rec['rss_peak_gb']:.2f} GB"
        )
        print(
            f"n_students={n:>7,} days={args.days}: {rec['events']:>12,} events in "
            f"{rec['simulate_s']:6.2f} s ({rec['events_per_s'] / 1e6:5.2f} M events/s; "
            f"validation {rec['validate_s']:5.2f} s){mem}"
        )
    payload = {
        "benchmark": "bench_simulate",
        "studentprofile": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
