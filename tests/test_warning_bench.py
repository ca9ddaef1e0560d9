"""The warning benchmark runs at a tiny size and its implementations agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_warning.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_warning", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_implementations_agree(bench):
    assert bench.bench_abc(3000)["agree"] is True
    assert bench.bench_policy(300, 12)["agree"] is True
    rec = bench.bench_caseload(120, 8)
    assert rec["agree"] is True
    assert rec["covered"] >= rec["first_come_covered"]


def test_benchmark_writes_json(bench, tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--scale", "0.001", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "bench_warning"
    assert {r["case"] for r in payload["results"]} == {"abc", "policy", "caseload"}
    assert all(r.get("agree", True) for r in payload["results"])
    assert not list(tmp_path.glob("*.tmp"))
