"""``warning.abc_baseline``: the ABC rule baseline the pipeline adds, for users of compare."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from studentprofile.errors import ConfigError
from studentprofile.evaluation import RuleScorer
from studentprofile.features._info import FeatureInfo
from studentprofile.warning import ABC_DEFAULTS, ABCRules, abc_baseline, abc_flags


def info(name, **kw):
    base = {"family": "other", "kind": "x", "aggregate": "value", "window": "", "phrase": name}
    return FeatureInfo(name=name, **{**base, **kw})


INFOS = {
    "att_30d": info("att_30d", family="behavioral", kind="class_attendance", aggregate="mean",
                    window="30d", unit="share"),
    "att_7d": info("att_7d", family="behavioral", kind="class_attendance", aggregate="mean",
                   window="7d", unit="share"),
    "score_30d": info("score_30d", family="academic", kind="assessment_score",
                      aggregate="mean", window="30d", unit="score"),
}


@pytest.fixture
def X():
    index = pd.MultiIndex.from_tuples([("a", 1.0), ("b", 1.0), ("c", 1.0)],
                                      names=["student_id", "as_of"])
    frame = pd.DataFrame({"att_30d": [0.95, 0.5, 0.8], "att_7d": [1.0, 0.4, 0.9],
                          "score_30d": [70.0, 20.0, 60.0]}, index=index)
    return frame


def test_defaults_pick_each_classic_indicator_that_matches_one_column(X):
    abc = abc_baseline(INFOS)
    assert isinstance(abc, RuleScorer) and abc.name == "ABC"
    rules = abc.score.rules
    assert [(i.name, i.feature) for i in rules.indicators] == [
        ("attendance", ABC_DEFAULTS["attendance"]), ("course", ABC_DEFAULTS["course"])]
    p = abc.fit(X, [0, 1, 0], feature_info=INFOS).predict_proba(X)[:, 1]
    expected = abc_flags(X, rules, feature_info=INFOS, reasons=False)["abc_score"].to_numpy()
    assert np.array_equal(np.argsort(p), np.argsort(expected)) and p[1] > p[2] > p[0]


def test_rules_as_classic_keywords_or_ABCRules_are_checked_against_the_features(X):
    abc = abc_baseline(X, rules={"attendance": "att_7d", "attendance_below": 0.5})
    assert [(i.feature, i.threshold) for i in abc.score.rules.indicators] == [("att_7d", 0.5)]
    rules = ABCRules.classic(course="score_30d")
    assert abc_baseline(INFOS, rules=rules).score.rules is rules
    with pytest.raises(ConfigError, match=r"rules.attendance: must select exactly one feature "
                       r"column(.|\n)*matches 2 column\(s\)"):
        abc_baseline(INFOS, rules={"attendance": {"kind": "class_attendance"}})
    with pytest.raises(ConfigError, match=r"rules: rules has a keyword ABCRules.classic does "
                       r"not take(.|\n)*\['attendence'\]"):
        abc_baseline(INFOS, rules={"attendence": "att_7d"})
    with pytest.raises(ConfigError, match=r"rules: rules must be ABCRules(.|\n)*type list"):
        abc_baseline(INFOS, rules=["att_7d"])


def test_without_features_the_defaults_are_resolved_when_scored(X):
    abc = abc_baseline()
    assert abc.score.rules is None and "ABC_DEFAULTS" in repr(abc.score)
    p = abc.fit(X, [0, 1, 0], feature_info=INFOS).predict_proba(X)[:, 1]
    assert p[1] == p.max() and [i.name for i in abc.score.rules.indicators] == [
        "attendance", "course"]
    with pytest.raises(ConfigError, match=r"rules: none of the classic ABC indicators(.|\n)*"
                       r"\['att_30d', 'att_7d', 'score_30d'\]"):
        abc_baseline(X)  # plain columns carry no kind: nothing matches


def test_the_candidate_clones_and_pickles(X):
    abc = abc_baseline(INFOS)
    again = pickle.loads(pickle.dumps(clone(abc).fit(X, [0, 1, 0], feature_info=INFOS)))
    assert np.allclose(again.predict_proba(X), abc.fit(X, [0, 1, 0],
                                                       feature_info=INFOS).predict_proba(X))


def test_the_pipeline_uses_the_same_function():
    from studentprofile.pipeline import _grid

    assert _grid.ABC_DEFAULTS is ABC_DEFAULTS
    cfg = type("Cfg", (), {"model": type("M", (), {"abc": {"course": "nope"}})()})()
    with pytest.raises(ConfigError, match=r"model.abc.course: must select exactly one"):
        _grid.abc_baseline(cfg, INFOS)
    cfg.model.abc = {}
    scorer, rules, note = _grid.abc_baseline(cfg, INFOS)
    assert note is None and [i.name for i in rules.indicators] == ["attendance", "course"]
    scorer, rules, note = _grid.abc_baseline(cfg, {"x": info("x")})
    assert scorer is None and "left out" in note


def tiny_campus():
    from studentprofile.evaluation import TemporalSplits
    from studentprofile.tables import EventTables

    students = pd.DataFrame({"student_id": list("abcdefgh"),
                             "att": [0.95, 0.5, 0.92, 0.4, 0.97, 0.6, 0.99, 0.3]})
    outcomes = pd.DataFrame({"student_id": ["b", "d", "f", "h"],
                             "time": [15.0, 25.0, 45.0, 55.0], "outcome": "withdrawn"})

    class Attendance:
        def transform(self, tables, grid):
            a = grid["student_id"].map(tables.students.set_index("student_id")["att"])
            index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
            return pd.DataFrame({"att": a.to_numpy()}, index=index)

    splits = TemporalSplits(test_start=40.0, test_end=60.0, horizon=20, every=10)
    return EventTables(students=students, outcomes=outcomes), splits, Attendance()


def test_compare_takes_it_as_an_extra_baseline_that_is_never_shipped():
    from sklearn.tree import DecisionTreeClassifier

    from studentprofile.evaluation import compare, post_modeling

    tables, splits, builder = tiny_campus()
    result = compare({"tree": DecisionTreeClassifier(max_depth=1)}, tables, splits,
                     feature_builder=builder, outcome="withdrawn", k=[2],
                     test_observed_until=100.0,
                     extra_baselines={"abc_rules": abc_baseline(rules={"attendance": "att"})})
    assert result.candidates == ["tree", "logistic_regression", "best_one_feature", "abc_rules"]
    assert result.baselines == ["logistic_regression", "best_one_feature", "abc_rules"]
    assert result.table("roc_auc")["abc_rules"].iloc[0] == 1.0  # low attendance: withdrew
    post = post_modeling(result, k=2, metric="roc_auc", select_rule="best_average_value",
                         lists=False)
    assert post.chosen == "tree"  # baselines are judged, never shipped
    with pytest.raises(ConfigError, match=r"extra_baselines: candidate name 'tree' is used"):
        compare({"tree": DecisionTreeClassifier()}, tables, splits, feature_builder=builder,
                outcome="withdrawn", extra_baselines={"tree": abc_baseline()})
    with pytest.raises(ConfigError, match=r"extra_baselines: candidate name "
                       r"'logistic_regression' is used"):
        compare({"tree": DecisionTreeClassifier()}, tables, splits, feature_builder=builder,
                outcome="withdrawn", extra_baselines={"logistic_regression": abc_baseline()})
    with pytest.raises(ConfigError, match=r"extra_baselines\['abc'\]: candidate 'abc' must be "
                       r"a classifier"):
        compare({"tree": DecisionTreeClassifier()}, tables, splits, feature_builder=builder,
                outcome="withdrawn", extra_baselines={"abc": "att < 0.9"})
