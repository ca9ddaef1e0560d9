"""The simulator benchmark runs at a tiny size and its implementations agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_simulate.py"


@pytest.fixture(scope="module")
def bench_module():
    pytest.importorskip("psutil")
    spec = importlib.util.spec_from_file_location("bench_simulate", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_records_agree(bench_module):
    rec = bench_module.bench(60, 21, 3)
    assert rec["agree"] is True  # revalidated tables equal the simulated ones
    assert rec["events"] == sum(rec["by_family"].values()) > 0
    assert rec["duplicates_checked"] is True
    assert rec["traced_peak_gb"] > 0 and rec["rss_peak_gb"] >= rec["rss_increase_gb"]


def test_benchmark_writes_json(bench_module, tmp_path):
    out = tmp_path / "bench.json"
    assert (
        bench_module.main(["--sizes", "30", "--days", "7", "--no-memory", "--out", str(out)]) == 0
    )
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "bench_simulate"
    assert [r["n_students"] for r in payload["results"]] == [30]
    assert not list(tmp_path.glob("*.tmp"))
