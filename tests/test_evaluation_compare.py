"""Model comparison: candidates and baselines backtested on the same splits and features."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from _evaluation_fakes import CausalBuilder, grid_for, synthetic_tables
from studentprofile.errors import ConfigError
from studentprofile.evaluation import (
    BASELINES,
    OneFeatureRanking,
    RuleScorer,
    TemporalSplits,
    backtest,
    compare,
    greater_is_better,
    logistic_baseline,
)
from studentprofile.evaluation._compare import (
    CANDIDATE_INVALID,
    CANDIDATE_NAME_TAKEN,
    CANDIDATES_EMPTY,
    METRIC_UNKNOWN,
)
from studentprofile.warning import ABCIndicator, ABCRules, abc_flags

SPLITS = dict(test_start=250.0, test_end=400.0, horizon=30, retrain_every=50, gap=3)


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables(150, seed=5)


@pytest.fixture(scope="module")
def grid(tables):
    return grid_for(tables, every=14.0)


class CountingBuilder(CausalBuilder):
    """CausalBuilder that counts its transform calls."""

    calls = 0

    def transform(self, tables, grid):
        type(self).calls += 1
        return super().transform(tables, grid)


@pytest.fixture(scope="module")
def comparison(tables, grid):
    CountingBuilder.calls = 0
    return compare(
        {"lr": LogisticRegression(solver="liblinear"), "tree": DecisionTreeClassifier(
            max_depth=3, random_state=0)},
        tables,
        TemporalSplits(**SPLITS),
        feature_builder=CountingBuilder(),
        outcome="withdrawn",
        grid=grid,
        k=[0.1],
    )


def test_baselines_join_by_default_and_the_frame_is_tidy(comparison):
    assert comparison.candidates == ["lr", "tree", *BASELINES]
    assert comparison.baselines == list(BASELINES)
    m = comparison.metrics
    assert list(m.columns) == ["candidate", "split", "test_from", "metric", "value"]
    metrics = ["roc_auc", "pr_auc", "brier", "log_loss", "ece",
               "precision@10%", "recall@10%", "lift@10%"]
    assert list(dict.fromkeys(m["metric"])) == metrics
    assert len(m) == 4 * 3 * len(metrics)  # candidates x splits x metrics
    assert not m.duplicated(["candidate", "split", "metric"]).any()
    table = comparison.table("roc_auc")
    assert list(table.columns) == comparison.candidates
    assert table.index.tolist() == [0, 1, 2]


def test_each_candidate_equals_its_own_backtest(tables, grid, comparison):
    alone = backtest(
        tables, TemporalSplits(**SPLITS), feature_builder=CausalBuilder(),
        model=LogisticRegression(solver="liblinear"), outcome="withdrawn", grid=grid, k=[0.1],
    )
    pd.testing.assert_series_equal(
        comparison.table("roc_auc")["lr"], alone.metrics["roc_auc"], check_names=False
    )
    pd.testing.assert_frame_equal(comparison.results["lr"].scores, alone.scores)


def test_features_are_built_once_for_all_candidates(grid, comparison):
    # one transform per distinct needed as-of date, not one per candidate
    calls = CountingBuilder.calls
    dates = comparison.results["lr"].scores["as_of"].nunique()
    assert dates < calls <= grid["as_of"].nunique()
    assert calls < 2 * grid["as_of"].nunique()


def test_summary_and_html(comparison):
    s = comparison.summary()
    assert s.index.tolist() == comparison.candidates
    assert ("roc_auc", "mean") in s.columns and ("ece", "std") in s.columns
    np.testing.assert_allclose(
        s[("roc_auc", "mean")].to_numpy(), comparison.table("roc_auc").mean().to_numpy()
    )
    page = comparison._repr_html_()
    assert "<table>" in page and "best_one_feature" in page and "Comparison(4 candidate" in page
    assert comparison.to_dict()["baselines"] == list(BASELINES)
    long = comparison.scores()
    assert set(long["candidate"]) == set(comparison.candidates)


def test_audition_and_lists_of_a_comparison(comparison):
    result = comparison.audition("precision@10%")
    assert set(result.summary["chosen"]) <= set(comparison.candidates)
    assert result.choices.shape == (6, 3) and len(result.regrets) == 6 * 2
    lists = comparison.compare_lists(0.1)
    assert len(lists.summary) == 6  # pairs of 4 candidates
    assert (lists.frame["jaccard"].between(0, 1)).all()
    churn = comparison.list_churn(0.1, candidate="lr")
    assert set(churn.frame["candidate"]) == {"lr"}


def test_unknown_metric_names_the_choices(comparison):
    with pytest.raises(ConfigError, match=METRIC_UNKNOWN.format(metric="auc")
                       + r"(.|\n)*choose one of \[.brier."):
        comparison.table("auc")


def test_direction_of_metrics():
    assert greater_is_better("roc_auc") and greater_is_better("precision@10%")
    assert not greater_is_better("ece") and not greater_is_better("brier")


# ---------------------------------------------------------------------------- baselines
def test_one_feature_ranking_chooses_best_training_auc_and_direction():
    X = pd.DataFrame({
        "weak": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "strong_low": [9.0, 8.0, 2.0, 7.0, 1.0, np.nan],
    })
    y = [0, 0, 1, 0, 1, 1]
    model = OneFeatureRanking().fit(X, y)
    assert model.feature_ == "strong_low"
    assert model.higher_is_riskier_ is False
    assert model.training_auc_["strong_low"] == pytest.approx(8.5 / 9)
    assert model.training_auc_["weak"] == pytest.approx(8 / 9)
    p = model.predict_proba(pd.DataFrame({"weak": [0.0, 0.0, 0.0],
                                          "strong_low": [0.0, 10.0, np.nan]}))[:, 1]
    np.testing.assert_allclose(p, [1.0, 0.0, 0.5])
    forced = OneFeatureRanking(feature="weak").fit(X, y)
    assert forced.feature_ == "weak" and forced.higher_is_riskier_ is True
    with pytest.raises(ConfigError, match="feature must be a column of X"):
        OneFeatureRanking(feature="nope").fit(X, y)


def test_logistic_baseline_handles_missing_and_empty_columns():
    X = pd.DataFrame({"a": [0.0, np.nan, 2.0, 3.0], "empty": [np.nan] * 4})
    model = logistic_baseline().fit(X, [0, 0, 1, 1])
    p = model.predict_proba(X)[:, 1]
    assert p.shape == (4,) and np.isfinite(p).all()
    assert p[3] > p[0]


def test_abc_rule_as_a_candidate(tables, grid):
    quiet = ABCIndicator(name="quiet", feature="clicks_14d", op="<", threshold=5.0, scale=5.0)
    rules = ABCRules((quiet,))
    abc = RuleScorer(
        lambda X: abc_flags(X, rules, reasons=False)["abc_score"].to_numpy(), name="ABC"
    )
    result = compare({"abc": abc}, tables, TemporalSplits(**SPLITS), baselines=False,
                     feature_builder=CausalBuilder(), outcome="withdrawn", grid=grid, k=[0.1])
    assert result.candidates == ["abc"] and result.baselines == []
    auc = result.table("roc_auc")["abc"]
    assert auc.mean() > 0.5  # fewer recent clicks: more withdrawals in the synthetic campus
    scores = result.results["abc"].scores["score"]
    assert set(np.unique(scores[scores <= 0.5])) == {0.5}  # not flagged: abc_score 0


def test_rule_scorer_keeps_order_and_checks_output():
    X = pd.DataFrame({"x": [-3.0, 0.0, 2.0, np.nan]})
    p = RuleScorer(lambda X: X["x"]).fit(X).predict_proba(X)[:, 1]
    assert p[0] < p[1] < p[2] and p[3] == 0.0
    assert p[1] == 0.5
    with pytest.raises(ConfigError, match="one finite number or NaN per row"):
        RuleScorer(lambda X: [1.0]).fit(X).predict_proba(X)
    outside = r"probability in \[0, 1\](.|\n)*outside, e.g. \[-3.0, 2.0\]"
    with pytest.raises(ConfigError, match=outside):
        RuleScorer(lambda X: X["x"], probability=True).fit(X).predict_proba(X)
    with pytest.raises(ConfigError, match="score must be a callable"):
        RuleScorer("x").fit(X)


# -------------------------------------------------------------------------------- errors
def test_candidate_errors(tables, grid):
    splits = TemporalSplits(**SPLITS)
    kw = dict(feature_builder=CausalBuilder(), outcome="withdrawn", grid=grid)
    with pytest.raises(ConfigError, match=re.escape(CANDIDATE_NAME_TAKEN.format(
            name="logistic_regression", baselines=BASELINES))):
        compare({"logistic_regression": LogisticRegression()}, tables, splits, **kw)
    with pytest.raises(ConfigError, match=re.escape(CANDIDATE_INVALID.format(name="x"))
                       + r"(.|\n)*type str"):
        compare({"x": "lightgbm"}, tables, splits, **kw)
    with pytest.raises(ConfigError, match=re.escape(CANDIDATES_EMPTY)):
        compare({}, tables, splits, baselines=False, **kw)
    with pytest.raises(ConfigError, match="baselines must be True, False or a list"):
        compare({}, tables, splits, baselines=["abc"], **kw)
    with pytest.raises(ConfigError, match="candidate names must be non-empty text"):
        compare({"": LogisticRegression()}, tables, splits, **kw)
