"""The early-warning study runs end to end at a small size and writes what the docs quote."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "early_warning_vs_abc.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("early_warning_vs_abc", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_run_writes_results_and_a_card(study, tmp_path):
    assert study.main(["--quick", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "early_warning_vs_abc.json").read_text())
    for part in (result["simulated"]["summary"], result["oulad"]["by_caseload"]):
        assert [row["k"] for row in part] == list(study.CASELOADS)
        for row in part:
            for system in ("model", "abc"):
                assert 0.0 <= row[f"{system}_precision"] <= 1.0
                assert 0.0 <= row[f"{system}_caught"] <= 1.0
    card = json.loads((tmp_path / "oulad_profile_card.json").read_text())
    assert card["student_id"] == result["oulad"]["card"]["student_id"]
    assert card["risk"]["tier"] in ("high", "medium")
    assert card["alerts"] and card["reasons"]
    html = (tmp_path / "oulad_profile_card.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and card["student_id"] in html
    assert not list(tmp_path.glob("*.tmp"))
