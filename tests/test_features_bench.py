"""The benchmarked engines (studentprofile, DuckDB, polars) compute the same features."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_features.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_features", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engines_agree(bench):
    students, events = bench.generate(30_000, 60, seed=3)
    grid = bench.make_weekly_grid(60)
    ours = bench.run_studentprofile(bench.build_tables(students, events), grid)
    duck = bench.run_duckdb(events, grid)
    polars = bench.run_polars(bench.polars_input(events), grid, batch_rows=200_000)
    assert ours.shape == (60 * 52, 21) and list(ours.columns) == bench.columns()
    assert bench.compare(ours, duck) < 1e-9
    assert bench.compare(ours, polars) < 1e-9
    # the job is not trivial: late-known events, empty windows and real spread are all there
    assert (events["known_at"] > events["time"]).mean() > 0.05
    assert (ours["lms_click_count_7d"] == 0).any() and (ours["lms_click_count_7d"] > 3).any()
    assert np.isnan(ours["lms_click_std_7d"]).any()


def test_json_layout(bench, tmp_path):
    out = tmp_path / "bench.json"
    bench.main(["--events", "20000", "--students", "40", "--json", str(out)])
    import json

    data = json.loads(out.read_text())
    assert list(data) == ["results"]
    row = data["results"][0]
    for key in ("events", "students", "studentprofile_s", "duckdb_s", "polars_s",
                "studentprofile_peak_mb", "duckdb_peak_mb", "polars_peak_mb"):
        assert key in row
    assert row["events"] == 20000 and row["students"] == 40
    assert row["max_rel_diff_vs_duckdb"] < 1e-9 and row["max_rel_diff_vs_polars"] < 1e-9
