"""End to end on the bundled OULAD: the example backtest, audit and report (about 25 s)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "examples" / "oulad_backtest.py"


@pytest.mark.slow
def test_oulad_backtest_example(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("oulad_backtest", _PATH)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "oulad.html"
    # truncate=False: the same numbers (docs/evaluation.md), four times faster
    headline = example.main(["--no-truncate", "--out", str(out), "--json",
                             str(tmp_path / "oulad.json")])
    capsys.readouterr()
    splits = headline["splits"]
    assert [s["split"] for s in splits] == [0, 1]
    for s in splits:
        assert 0.68 < s["roc_auc"] < 0.75
        assert s["precision@10%"] > 2 * s["prevalence"]  # a real lift at the caseload
        assert s["ece"] < 0.03
    lt = headline["lead_time"]
    assert lt["n_scored"] == 4735 and 0.2 < lt["share_flagged"] < 0.5
    verdicts = {(r["attribute"], r["metric"]): r["verdict"] for r in headline["fairness_summary"]}
    assert {a for a, _ in verdicts} >= {"gender", "disability", "imd_band", "age_band",
                                        "gender & age_band"}
    html = out.read_text(encoding="utf-8")
    figures = set(re.findall(r'id="fig-([a-z_]+)"', html))
    assert figures == {"roc", "pr", "calibration", "precision_at_k", "lead_time", "fairness",
                       "backtest"}
    # enrolment ids ("AAA/2014J/11391") never reach the report
    assert not re.search(r"[A-G]{3}/201[34][BJ]/\d+", html)
    json.loads((tmp_path / "oulad.json").read_text(encoding="utf-8"))
