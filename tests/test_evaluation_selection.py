"""Selection rules over splits (triage's audition) and their regret, on hand-made metric tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError
from studentprofile.evaluation import (
    BacktestResult,
    Comparison,
    SelectionRule,
    audition,
    default_rules,
)
from studentprofile.evaluation._selection import RULE_PARAMS, RULE_UNKNOWN, TIMES_INVALID


def table(**columns):
    return pd.DataFrame(columns).rename_axis("split")


def pick(rule, t, params=None, **kw):
    return SelectionRule(rule, params or {}).pick(t, **kw)


def test_best_current_and_best_average():
    t = table(a=[0.80, 0.75, 0.60], b=[0.70, 0.72, 0.74])
    assert pick("best_current_value", t) == "b"
    assert pick("best_average_value", t) == "b"  # a 0.7167, b 0.72
    t2 = table(a=[0.80, 0.75, 0.70], b=[0.70, 0.72, 0.74])
    assert pick("best_average_value", t2) == "a"  # 0.75 > 0.72
    # lower is better: the smallest value wins
    assert pick("best_current_value", t, greater_is_better=False) == "a"


def test_best_average_value_by_hand():
    t = table(a=[0.80, 0.75, 0.60], b=[0.70, 0.72, 0.74])
    # a: 0.71667, b: 0.72
    assert pick("best_average_value", t) == "b"


def test_lowest_metric_variance_and_its_one_split_fallback():
    t = table(a=[0.5, 0.9], b=[0.6, 0.65], c=[0.1, 0.1])
    assert pick("lowest_metric_variance", t) == "c"
    assert pick("lowest_metric_variance", t[["a", "b"]]) == "b"
    # one split: no standard deviation; the best average decides (triage: random)
    assert pick("lowest_metric_variance", t.iloc[:1]) == "b"


@pytest.mark.parametrize(("penalty", "expected"), [(0.0, "a"), (0.1, "a"), (0.5, "b")])
def test_best_avg_var_penalized(penalty, expected):
    # a: mean 0.70, std 0.1414; b: mean 0.68, std 0 -> a - penalty * 0.1414 vs 0.68
    t = table(a=[0.80, 0.60], b=[0.68, 0.68])
    assert pick("best_avg_var_penalized", t, {"stdev_penalty": penalty}) == expected


@pytest.mark.parametrize(("penalty", "expected"), [(0.1, "a"), (0.5, "b")])
def test_best_avg_var_penalized_lower_is_better(penalty, expected):
    # ECE: a mean 0.06, std 0.0566; b 0.07, std 0 -> the penalty adds to a's mean
    t = table(a=[0.02, 0.10], b=[0.07, 0.07])
    rule = SelectionRule("best_avg_var_penalized", {"stdev_penalty": penalty})
    assert rule.pick(t, greater_is_better=False) == expected


@pytest.mark.parametrize("decay", ["linear", "exponential"])
def test_best_avg_recency_weight_matches_weighted_average(decay):
    t = table(a=[0.9, 0.6, 0.6], b=[0.6, 0.7, 0.65])
    days = np.array([0.0, 10.0, 30.0])
    if decay == "linear":
        w = (5.0 - 1.0) * days / 30.0 + 1.0
    else:
        w = np.exp(np.log(5.0) * days / 30.0)
    expected = max("ab", key=lambda c: np.average(t[c], weights=w))
    assert expected == "b"  # unweighted, a (0.70) beats b (0.65)
    assert pick("best_average_value", t) == "a"
    params = {"curr_weight": 5.0, "decay_type": decay}
    assert pick("best_avg_recency_weight", t, params, times=[0.0, 10.0, 30.0]) == expected
    dates = pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-31"])
    assert pick("best_avg_recency_weight", t, params, times=dates) == expected
    # curr_weight 1: every split weighs the same, so the plain average decides
    flat = {"curr_weight": 1.0, "decay_type": decay}
    assert pick("best_avg_recency_weight", t, flat, times=[0.0, 10.0, 30.0]) == "a"


def test_most_frequent_best_dist():
    t = table(a=[0.80, 0.70, 0.75], b=[0.78, 0.74, 0.70], c=[0.60, 0.90, 0.60])
    # within 0.03 of the best (0.80, 0.90, 0.75): a 2/3, b 1/3, c 1/3
    assert pick("most_frequent_best_dist", t, {"dist_from_best_case": 0.03}) == "a"
    # within 0.05: a 2/3, b 2/3 (0.70 is exactly 0.05 below 0.75); ties go to the first
    assert pick("most_frequent_best_dist", t[["b", "a", "c"]],
                {"dist_from_best_case": 0.05}) == "b"
    assert pick("most_frequent_best_dist", t, {"dist_from_best_case": 0.05}) == "a"


def test_missing_values_are_skipped_and_never_chosen():
    t = table(a=[np.nan, np.nan], b=[0.5, np.nan], c=[0.4, 0.45])
    assert pick("best_current_value", t) == "c"
    assert pick("best_average_value", t) == "b"
    assert pick("best_current_value", table(a=[np.nan])) is None


def test_regret_by_hand():
    t = table(a=[0.80, 0.75, 0.60, 0.55], b=[0.70, 0.72, 0.74, 0.76])
    result = audition(t, "precision@10%", rules=[SelectionRule("best_current_value")])
    r = result.regrets
    assert r["chosen"].tolist() == ["a", "a", "b"]
    assert r["next_split"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(r["value_next"], [0.75, 0.60, 0.76])
    np.testing.assert_allclose(r["best_next"], [0.75, 0.74, 0.76])
    np.testing.assert_allclose(r["regret"], [0.0, 0.14, 0.0], atol=1e-12)
    s = result.summary.loc["best_current_value"]
    assert s["chosen"] == "b" and s["n_regrets"] == 3
    assert s["mean_regret"] == pytest.approx(0.14 / 3)
    assert s["max_regret"] == pytest.approx(0.14)
    assert result.chosen("best_current_value") == "b"


def test_regret_for_lower_is_better():
    t = table(a=[0.02, 0.05], b=[0.04, 0.03])
    result = audition(t, "ece", rules=[SelectionRule("best_current_value")])
    assert result.greater_is_better is False
    assert result.regrets["chosen"].tolist() == ["a"]
    np.testing.assert_allclose(result.regrets["regret"], [0.02])


def test_default_rules_and_the_audition_frames():
    t = table(a=[0.80, 0.75, 0.60, 0.55], b=[0.70, 0.72, 0.74, 0.76])
    result = audition(t, "roc_auc")
    names = [r.name for r in default_rules()]
    assert result.choices.index.tolist() == names
    assert names == [
        "best_current_value", "best_average_value", "lowest_metric_variance",
        "best_avg_var_penalized_0.5", "best_avg_recency_weight_1.5_linear",
        "most_frequent_best_dist_0.05",
    ]
    assert result.choices.shape == (6, 4)
    assert len(result.regrets) == 6 * 3
    assert "Regret" in result._repr_html_() and "<table>" in result._repr_html_()
    assert result.to_dict()["metric"] == "roc_auc"


def test_audition_of_a_comparison_uses_split_times():
    metrics = pd.DataFrame({
        "candidate": ["a", "a", "a", "b", "b", "b"],
        "split": [0, 1, 2] * 2,
        "test_from": [0.0, 10.0, 30.0] * 2,
        "metric": "roc_auc",
        "value": [0.9, 0.6, 0.6, 0.6, 0.7, 0.65],
    })
    backtest = BacktestResult(
        metrics=pd.DataFrame({"test_from": [0.0, 10.0, 30.0]}, index=pd.Index(
            [0, 1, 2], name="split")),
        scores=pd.DataFrame(), splits=pd.DataFrame(), models=[], feature_info=None, params={},
    )
    comparison = Comparison(metrics=metrics, results={"a": backtest, "b": backtest},
                            baselines=[], params={})
    rule = SelectionRule("best_avg_recency_weight", {"curr_weight": 3.0, "decay_type": "linear"})
    result = audition(comparison, "roc_auc", rules=[rule])
    assert result.chosen(rule) == "b"
    with pytest.raises(ConfigError, match="metric is required with a Comparison"):
        audition(comparison)
    with pytest.raises(ConfigError, match="rule was not part of this audition"):
        result.chosen("best_current_value")


def test_rule_and_table_errors():
    with pytest.raises(ConfigError, match=re.escape(RULE_UNKNOWN.format(rules=[
            "best_current_value", "best_average_value", "lowest_metric_variance",
            "best_avg_var_penalized", "best_avg_recency_weight", "most_frequent_best_dist"]))):
        SelectionRule("random_model_group")
    with pytest.raises(ConfigError, match=re.escape(RULE_PARAMS.format(
            rule="best_avg_var_penalized", params=["stdev_penalty"]))):
        SelectionRule("best_avg_var_penalized")
    with pytest.raises(ConfigError, match="decay_type must be 'linear' or 'exponential'"):
        SelectionRule("best_avg_recency_weight", {"curr_weight": 2.0, "decay_type": "log"})
    with pytest.raises(ConfigError, match="curr_weight must be a positive number"):
        SelectionRule("best_avg_recency_weight", {"curr_weight": 0, "decay_type": "linear"})
    with pytest.raises(ConfigError, match="stdev_penalty must be a number >= 0"):
        SelectionRule("best_avg_var_penalized", {"stdev_penalty": -1.0})
    with pytest.raises(ConfigError, match="dist_from_best_case must be a number >= 0"):
        SelectionRule("most_frequent_best_dist", {"dist_from_best_case": "0.1"})
    rule = SelectionRule("best_current_value")
    with pytest.raises(ConfigError, match="the metric table must be a DataFrame of numbers"):
        rule.pick([[0.5]])
    with pytest.raises(ConfigError, match="the metric table must be a DataFrame of numbers"):
        rule.pick(pd.DataFrame({"a": ["high"]}))
    with pytest.raises(ConfigError, match="needs at least one split and one candidate"):
        rule.pick(pd.DataFrame())
    with pytest.raises(ConfigError, match=re.escape(TIMES_INVALID)):
        rule.pick(table(a=[0.1, 0.2]), times=[5.0, 5.0])
    with pytest.raises(ConfigError, match=re.escape(TIMES_INVALID) + r"(.|\n)*1 time"):
        rule.pick(table(a=[0.1, 0.2]), times=[5.0])
    with pytest.raises(ConfigError, match="rules must be SelectionRule objects"):
        audition(table(a=[0.1]), rules=["best_current_value"])
