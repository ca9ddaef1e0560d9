"""The explanation benchmark's implementations agree (small size)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_explain.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_explain", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarked_implementations_agree():
    bench = _load()
    result = bench.run(n_students=400, n_trees=20, repeats=3, batch_repeats=1)
    json.dumps(result, allow_nan=False)
    assert set(result["max_abs_difference_from_ours"]) == set(result["throughput"])
    assert max(result["max_abs_difference_from_ours"].values()) <= 1e-9
    assert result["n_trees"] <= 20
    assert all(np.isfinite(v["students_per_second"]) for v in result["throughput"].values())
