"""Top-k lists: overlap and rank correlation between candidates, churn between as-of dates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    BacktestResult,
    Comparison,
    ListComparison,
    compare_lists,
    list_churn,
    top_k,
)
from studentprofile.evaluation._lists import ONE_CANDIDATE, SCORES_REPEAT


def long(candidate, as_of, scores):
    return pd.DataFrame({"candidate": candidate, "student_id": list(scores),
                         "as_of": as_of, "score": list(scores.values())})


def test_top_k_per_date_with_ties_to_the_smaller_id_and_fractions_floored():
    s = pd.concat([
        long("m", 7.0, {"d": 0.5, "b": 0.5, "a": 0.9, "c": 0.1}),
        long("m", 14.0, {"a": 0.2, "b": 0.3, "c": 0.4}),
    ])
    out = top_k(s, k=2)
    assert out[["as_of", "student_id", "rank"]].values.tolist() == [
        [7.0, "a", 1], [7.0, "b", 2], [14.0, "c", 1], [14.0, "b", 2]]
    # 50% of 4 is 2, of 3 is 1 (floor)
    frac = top_k(s, k=0.5)
    assert frac.groupby("as_of").size().tolist() == [2, 1]


def test_compare_lists_by_hand():
    s = pd.concat([
        long("m", 7.0, {"a": 0.9, "b": 0.8, "c": 0.2, "d": 0.1, "e": 0.05}),
        long("n", 7.0, {"a": 0.9, "b": 0.1, "c": 0.8, "d": 0.2, "e": 0.3}),
        long("o", 7.0, {"a": 0.9, "b": 0.8, "c": 0.2, "d": 0.1, "e": 0.05}),
    ])
    out = compare_lists(s, k=2)
    assert isinstance(out, ListComparison)
    f = out.frame.set_index(["candidate_a", "candidate_b"])
    assert f.loc[("m", "n"), "overlap"] == 1
    assert f.loc[("m", "n"), "jaccard"] == pytest.approx(1 / 3)
    union = ["a", "b", "c"]
    m = [0.9, 0.8, 0.2]
    n = [0.9, 0.1, 0.8]
    assert f.loc[("m", "n"), "spearman"] == pytest.approx(spearmanr(m, n).statistic)
    assert f.loc[("m", "n"), "kendall"] == pytest.approx(kendalltau(m, n).statistic)
    assert len(union) == 3
    # identical candidates agree fully
    assert f.loc[("m", "o"), "jaccard"] == 1.0
    assert f.loc[("m", "o"), "spearman"] == pytest.approx(1.0)
    assert out.summary.index.tolist() == [("m", "n"), ("m", "o"), ("n", "o")]
    assert "ListComparison(between candidates, k=2" in out._repr_html_()


def test_compare_lists_of_a_comparison_and_a_subset():
    def result(scores):
        frame = pd.DataFrame({"split": 0, "student_id": list(scores), "as_of": 7.0,
                              "score": list(scores.values()), "label": 0.0})
        return BacktestResult(metrics=pd.DataFrame(), scores=frame, splits=pd.DataFrame(),
                              models=[], feature_info=None, params={})

    comparison = Comparison(
        metrics=pd.DataFrame(), baselines=[], params={},
        results={"m": result({"a": 0.9, "b": 0.1}), "n": result({"a": 0.1, "b": 0.9}),
                 "o": result({"a": 0.5, "b": 0.4})},
    )
    out = compare_lists(comparison, k=1, candidates=["m", "n"])
    assert out.frame[["candidate_a", "candidate_b", "overlap", "jaccard"]].values.tolist() == [
        ["m", "n", 0, 0.0]]
    assert out.frame["spearman"].iloc[0] == pytest.approx(-1.0)
    with pytest.raises(ConfigError, match=re.escape(ONE_CANDIDATE)):
        compare_lists(comparison, k=1, candidates=["m"])
    with pytest.raises(ConfigError, match="candidate 'x' has no scores"):
        compare_lists(comparison, k=1, candidates=["m", "x"])


def test_list_churn_counts_entries_exits_and_students_no_longer_scored():
    s = pd.concat([
        long("m", 7.0, {"a": 0.9, "b": 0.8, "c": 0.2, "d": 0.1}),
        long("m", 14.0, {"b": 0.9, "c": 0.8, "d": 0.1}),           # a withdrew: not scored
        long("m", 21.0, {"b": 0.1, "c": 0.2, "d": 0.9}),
    ])
    out = list_churn(s, k=2)
    f = out.frame
    assert f[["as_of", "previous", "n_flagged", "entered", "left", "left_unscored",
              "stayed"]].values.tolist() == [
        [14.0, 7.0, 2, 1, 1, 1, 1],
        [21.0, 14.0, 2, 1, 1, 0, 1],
    ]
    assert f["jaccard"].tolist() == pytest.approx([1 / 3, 1 / 3])
    # correlation over {b, c} at 7 and 14 (a is not scored at 14)
    assert f["spearman"].iloc[0] == pytest.approx(spearmanr([0.8, 0.2], [0.9, 0.8]).statistic)
    assert out.summary.loc["m", "entered"] == 1.0
    assert list_churn(s, k=2, candidate="m").frame.equals(f)
    with pytest.raises(ConfigError, match="candidate 'z' has no scores"):
        list_churn(s, k=2, candidate="z")


def test_constant_scores_have_no_rank_correlation():
    s = pd.concat([long("m", 7.0, {"a": 0.5, "b": 0.5, "c": 0.5}),
                   long("n", 7.0, {"a": 0.1, "b": 0.2, "c": 0.3})])
    assert np.isnan(compare_lists(s, k=2).frame["spearman"].iloc[0])


def test_score_frame_errors():
    with pytest.raises(SchemaError, match=r"scores must have the columns(.|\n)*missing \['score'"):
        top_k(pd.DataFrame({"student_id": ["a"], "as_of": [1.0]}), k=1)
    dup = pd.concat([long("m", 7.0, {"a": 0.5}), long("m", 7.0, {"a": 0.6})])
    with pytest.raises(SchemaError, match=re.escape(SCORES_REPEAT)):
        top_k(dup, k=1)
    with pytest.raises(SchemaError, match="finite numbers"):
        top_k(long("m", 7.0, {"a": np.nan}), k=1)
    with pytest.raises(SchemaError, match="scores must be a DataFrame"):
        top_k([0.5], k=1)
    with pytest.raises(ConfigError, match="k must be"):
        top_k(long("m", 7.0, {"a": 0.5}), k=1.5)


def test_datetime_as_of_dates():
    d1, d2 = pd.Timestamp("2014-02-01"), pd.Timestamp("2014-02-08")
    s = pd.concat([
        long("m", d1, {"a": 0.9, "b": 0.8, "c": 0.1}),
        long("n", d1, {"a": 0.9, "b": 0.1, "c": 0.8}),
        long("m", d2, {"a": 0.1, "b": 0.8, "c": 0.9}),
        long("n", d2, {"a": 0.9, "b": 0.1, "c": 0.8}),
    ])
    pairs = compare_lists(s, k=2).frame
    assert pairs["as_of"].tolist() == [d1, d2]
    assert pairs["overlap"].tolist() == [1, 1]
    churn = list_churn(s, k=2, candidate="m").frame
    assert churn[["as_of", "previous", "entered", "left"]].values.tolist() == [[d2, d1, 1, 1]]
