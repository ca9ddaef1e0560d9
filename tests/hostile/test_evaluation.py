"""Hostile inputs for the evaluation package: every case a campus met, kept forever.

Each test names the issue item it guards (issue 12 "campus-ready hardening", issue 13 "auditor
trust and code health").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile.errors import OutputError


# ------------------------------------------------------------------ 12.14: one atomic writer
def test_report_save_to_an_unwritable_place_is_a_typed_error(tmp_path):
    report = sp.evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
    with pytest.raises(OutputError, match="report.html"):
        report.save("/proc/report.html")
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "report.json").mkdir()  # a folder where the file should go
    with pytest.raises(OutputError, match="is a folder"):
        report.save(folder / "report.json")


def test_report_save_never_writes_through_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    # the old fixed-name scheme wrote through `.<name>.tmp`; plant every such name
    (out / ".report.html.tmp").symlink_to(victim)
    report = sp.evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
    report.save(out / "report.html")
    assert victim.read_text(encoding="utf-8") == "precious"
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ------------------------------------------------- 12.5: empty inputs give empty results
def test_curves_of_no_student_are_empty():
    from studentprofile.evaluation import pr_curve, roc_curve

    assert pr_curve([], []).empty
    assert list(pr_curve([], []).columns) == ["threshold", "precision", "recall"]
    roc = roc_curve([], [])
    assert roc["threshold"].tolist() == [np.inf] and roc[["fpr", "tpr"]].isna().all().all()


def test_fairness_audit_of_no_student_has_an_empty_summary():
    from studentprofile.evaluation import fairness_audit

    audit = fairness_audit(
        y_true=[], scores=[], attributes=pd.DataFrame({"gender": []}), k=0.1, n_boot=10
    )
    assert audit.summary().empty
    assert list(audit.summary().columns)[-1] == "verdict"
    report = sp.evaluate(y_true=[], scores=[], attributes=pd.DataFrame({"gender": []}))
    assert "<h2>Fairness audit</h2>" in report.to_html()


def test_term_outcomes_of_no_student_is_an_empty_table():
    from studentprofile.evaluation import term_outcomes

    text = pd.Series([], dtype=object)
    empty = pd.DataFrame({"term": text, "result": text})
    out = term_outcomes(empty)
    assert out.empty and "retention_rate_pvalue" in out.columns


def test_backtest_metrics_by_as_of_without_labelled_rows_keeps_its_columns():
    from studentprofile.evaluation import BacktestResult

    empty = pd.DataFrame(
        {"split": [], "student_id": [], "as_of": [], "score": [], "label": []}
    )
    res = BacktestResult(
        metrics=pd.DataFrame(), scores=empty, splits=pd.DataFrame(), models=[],
        feature_info=None, params={},
    )
    by_date = res.metrics_by_as_of(k=[0.1, 5])
    assert by_date.empty and by_date.index.name == "as_of"
    assert list(by_date.columns) == ["n", "positives", "roc_auc", "pr_auc", "precision@10%",
                                     "precision@5"]
