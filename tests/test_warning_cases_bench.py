"""The case-store benchmark runs at a tiny size (SQLite) and its implementations agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_cases.py"


@pytest.mark.slow  # ~12 s: SQLite commits of 8 concurrent writers, twice
def test_bench_cases_agrees_at_a_tiny_size(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_cases", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.run(str(tmp_path / "bench.sqlite"), 0.0025, picks=4)
    assert [r["bench"] for r in results] == ["open", "list_one_advisor", "concurrent_verdicts"]
    assert all(r["agree"] is True for r in results), results
    verdicts = results[2]
    assert (verdicts["lost"], verdicts["duplicated"], verdicts["seq_gaps"]) == (0, 0, 0)
