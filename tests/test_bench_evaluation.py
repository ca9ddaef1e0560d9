"""The benchmarked implementations agree (small size)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_evaluation.py"
_spec = importlib.util.spec_from_file_location("bench_evaluation", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("case", bench.CASES)
def test_ours_and_the_peer_agree(case, monkeypatch):
    monkeypatch.setattr(bench, "N_BOOT", 5)  # fairlearn redraws every metric per draw: slow
    y, s, attrs = bench.make_data(3000, seed=1)
    row = bench.run_case(case, y, s, attrs)
    if case in ("roc_auc", "pr_auc"):
        assert row["ours"] == pytest.approx(row["peer_value"], abs=1e-12)
    else:
        assert row["max_abs_diff"] < 1e-12


def test_main_writes_json(tmp_path):
    out = bench.main(["--n", "2000", "--cases", "roc_auc", "--json", str(tmp_path / "b.json")])
    assert (tmp_path / "b.json").exists()
    assert out["results"][0]["case"] == "roc_auc"
