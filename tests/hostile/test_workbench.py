"""Hostile inputs for the workbench (issue 17): comparisons, selection, lists, contrasts,
mitigation. Names from real campuses must stay text, be escaped in HTML and never crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    BacktestResult,
    Comparison,
    RuleScorer,
    SelectionRule,
    audition,
    crosstabs,
    list_churn,
    mitigate,
    top_k,
)

EVIL = '<script>alert("x")</script>'


def test_ids_with_leading_zeros_and_chinese_names_stay_distinct_text():
    s = pd.DataFrame({
        "student_id": ["007", "7", "王小明", "=1+1", "007", "7", "王小明", "=1+1"],
        "as_of": [7.0] * 4 + [14.0] * 4,
        "score": [0.9, 0.8, 0.7, 0.1, 0.1, 0.8, 0.9, 0.7],
    })
    flagged = top_k(s, k=2)
    assert flagged["student_id"].tolist() == ["007", "7", "王小明", "7"]
    churn = list_churn(s, k=2).frame
    assert churn[["entered", "left", "stayed"]].values.tolist() == [[1, 1, 1]]


def test_candidate_and_feature_names_are_escaped_in_html():
    metrics = pd.DataFrame({"candidate": [EVIL], "split": [0], "test_from": [0.0],
                            "metric": ["roc_auc"], "value": [0.7]})
    res = BacktestResult(metrics=pd.DataFrame({"test_from": [0.0]}), scores=pd.DataFrame(),
                         splits=pd.DataFrame(), models=[], feature_info=None, params={})
    page = Comparison(metrics=metrics, results={EVIL: res}, baselines=[], params={})._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    X = pd.DataFrame({EVIL: [1.0, 2.0, 3.0, 4.0]})
    page = crosstabs(X, np.array([True, True, False, False]))._repr_html_()
    assert "<script>" not in page
    out = mitigate([1, 0, 0, 1, 0, 0], [0.9, 0.5, 0.1, 0.8, 0.4, 0.2],
                   [EVIL] * 3 + ["王"] * 3, k=2, min_group_size=3)
    assert "<script>" not in out._repr_html_()


def test_mitigation_refuses_a_group_of_one_student_by_default():
    y = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    s = np.linspace(0.9, 0.1, 11)
    g = ["F"] * 5 + ["M"] * 5 + ["Zoë-000123"]
    with pytest.raises(ConfigError, match="min_group_size=5(.|\n)*1 group"):
        mitigate(y, s, g, k=3)


def test_mitigation_refuses_missing_scores():
    with pytest.raises(SchemaError, match="finite numbers"):
        mitigate([1, 0] * 5, [np.nan] + [0.5] * 9, ["a"] * 5 + ["b"] * 5, k=2, min_group_size=2)


def test_a_candidate_without_any_metric_value_is_never_chosen():
    table = pd.DataFrame({"no_positives": [np.nan, np.nan], "real": [0.6, 0.7]})
    result = audition(table, "roc_auc")
    assert set(result.summary["chosen"]) == {"real"}
    with pytest.raises(ConfigError, match="the metric table must be a DataFrame of numbers"):
        SelectionRule("best_current_value").pick(pd.DataFrame({"a": [np.inf]}))


def test_a_rule_that_returns_text_is_a_typed_error():
    X = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="one finite number or NaN per row(.|\n)*not numbers"):
        RuleScorer(lambda X: ["high", "low"]).fit(X).predict_proba(X)
