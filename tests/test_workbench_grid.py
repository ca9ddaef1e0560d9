"""The workbench's grid parts in Python: ablation, post-modeling, mitigation judged over time."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace as Info

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from _evaluation_fakes import CausalBuilder, grid_for, synthetic_tables
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    FeatureSubset,
    PostModeling,
    TemporalSplits,
    ablation_candidates,
    compare,
    mitigate,
    mitigate_over_time,
    post_modeling,
)
from studentprofile.evaluation._compare import ABLATION_NO_FAMILIES, ABLATION_OF_UNKNOWN

SPLITS = dict(test_start=250.0, test_end=400.0, horizon=30, retrain_every=50, gap=3)
FAMILIES = {"clicks_14d": "behavioral", "weeks_active": "behavioral",
            "mean_clicks": "academic", "days_since_last": "static"}


class FamilyBuilder(CausalBuilder):
    """CausalBuilder with FeatureInfo-like records naming each column's family."""

    def fit(self, tables, grid=None):
        self.feature_info_ = {c: Info(family=f) for c, f in FAMILIES.items()}
        return self

    def get_params(self, deep=True):  # clone() copies it
        return {}


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables(150, seed=5)


@pytest.fixture(scope="module")
def grid(tables):
    return grid_for(tables, every=14.0)


@pytest.fixture(scope="module")
def comparison(tables, grid):
    return compare({"lr": LogisticRegression(solver="liblinear")}, tables,
                   TemporalSplits(**SPLITS), feature_builder=FamilyBuilder(),
                   outcome="withdrawn", grid=grid, k=[0.1],
                   ablation=["leave_one_out", "only_one"])


@pytest.fixture(scope="module")
def X(tables, grid):
    return FamilyBuilder().transform(tables, grid)


# ------------------------------------------------------------------------------ ablation
def test_ablation_is_a_grid_dimension_over_families(comparison):
    assert comparison.candidates == [
        "lr", "lr-without-academic", "lr-without-behavioral", "lr-without-static",
        "lr-only-academic", "lr-only-behavioral", "lr-only-static",
        "logistic_regression", "best_one_feature"]
    # every variant saw only its columns (fitted per split on the same shared features)
    model = comparison.results["lr-without-behavioral"].models[0]
    assert model.feature_names_in_ == ["mean_clicks", "days_since_last"]
    only = comparison.results["lr-only-behavioral"].models[0]
    assert only.feature_names_in_ == ["clicks_14d", "weeks_active"]
    # the same splits for all
    splits = {name: tuple(r.metrics.index) for name, r in comparison.results.items()}
    assert len(set(splits.values())) == 1


def test_feature_subset_passes_its_feature_info_and_refuses_missing_columns():
    seen = {}

    class Recorder(LogisticRegression):
        def fit(self, X, y, feature_info=None):
            seen["info"] = feature_info
            return super().fit(X, y)

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    FeatureSubset(Recorder(), ["a"]).fit(X, [0, 0, 1, 1], feature_info={"a": 1, "b": 2})
    assert seen["info"] == {"a": 1}
    with pytest.raises(SchemaError, match=r"columns \['c'\] of the feature subset are not in X"):
        FeatureSubset(LogisticRegression(), ["a", "c"]).fit(X, [0, 0, 1, 1])
    with pytest.raises(ConfigError, match="FeatureSubset needs at least one column"):
        FeatureSubset(LogisticRegression(), []).fit(X, [0, 0, 1, 1])


def test_ablation_errors_name_what_is_missing(tables, grid):
    infos = {"a": Info(family="academic")}
    assert ablation_candidates("m", object(), infos) == {}  # one family: nothing to ablate
    with pytest.raises(ConfigError, match="ablation must be a list of modes"):
        ablation_candidates("m", object(), infos, modes=["leave_two_out"])
    with pytest.raises(ConfigError, match=re.escape(ABLATION_NO_FAMILIES)):
        ablation_candidates("m", object(), {"a": Info(family=None)})
    kw = dict(feature_builder=CausalBuilder(), outcome="withdrawn", grid=grid, k=[0.1])
    with pytest.raises(ConfigError, match=re.escape(ABLATION_NO_FAMILIES)):
        compare({"lr": LogisticRegression()}, tables, TemporalSplits(**SPLITS),
                ablation=["only_one"], **kw)
    with pytest.raises(ConfigError, match=ABLATION_OF_UNKNOWN):
        compare({"lr": LogisticRegression()}, tables, TemporalSplits(**SPLITS),
                ablation=["only_one"], ablation_of="nope",
                **{**kw, "feature_builder": FamilyBuilder()})


# ------------------------------------------------------------------------ post-modeling
def test_post_modeling_gathers_selection_lists_and_crosstabs(comparison, X):
    post = post_modeling(comparison, k=0.1, X=X, select_rule="best_average_value")
    assert isinstance(post, PostModeling)
    assert post.metric == "precision@10%"
    assert list(post.per_split) == ["roc_auc", "precision@10%", "ece"]
    assert list(post.per_split["roc_auc"].columns) == comparison.candidates
    # the shipped choice is best_average_value among the non-baselines, by hand
    table = comparison.table("precision@10%")
    own = table[[c for c in comparison.candidates if c not in comparison.baselines]]
    assert post.chosen == own.mean().idxmax()
    assert post.audition.summary.loc["best_average_value", "chosen"] == table.mean().idxmax()
    # lists: every pair of candidates; churn: every candidate
    assert len(post.lists.summary) == 9 * 8 // 2
    assert list(post.churn.summary.index) == comparison.candidates
    assert post.focus == post.chosen
    assert set(post.crosstabs.frame.index) == set(FAMILIES)
    assert post.errors.groups == ("false_positive", "true_positive")


def test_post_modeling_crosstabs_use_the_focus_candidates_weekly_caseload(comparison, X):
    post = post_modeling(comparison, k=0.1, X=X, focus="lr-only-static", lists=False)
    s = comparison.results["lr-only-static"].scores
    s = s[s["label"].notna()]
    n_flagged = sum(int(np.floor(0.1 * len(g) + 1e-9)) for _, g in s.groupby("as_of"))
    assert post.crosstabs.frame["n_flagged"].max() == n_flagged
    assert post.lists is None and post.churn is None
    with pytest.raises(ConfigError, match="focus must name one of the comparison's candidates"):
        post_modeling(comparison, X=X, focus="nope")
    with pytest.raises(ConfigError, match="select_rule must name one of the rules"):
        post_modeling(comparison, select_rule="best_guess")


def test_post_modeling_report_sections_and_artefacts_have_no_ids(comparison, X, tmp_path):
    post = post_modeling(comparison, k=0.1, X=X, select_rule="best_average_value")
    html = "".join(post.html())
    for heading in ("Model grid: candidates per split", "Selection over time",
                    "Top-10% lists", "List churn", "Crosstabs: flagged vs not flagged",
                    "Error analysis: false vs true positives"):
        assert heading in html
    files = post.save(tmp_path / "pm")
    assert {"post_modeling", "candidates", "selection", "list_overlap", "list_churn",
            "crosstabs", "error_analysis", "candidates_png", "crosstabs_png"} <= set(files)
    ids = set(comparison.scores()["student_id"])
    for path in files.values():
        if path.suffix in (".csv", ".json"):
            text = path.read_text(encoding="utf-8")
            assert not any(sid in text for sid in ids), path.name
    doc = json.loads(files["post_modeling"].read_text())
    assert doc["chosen"] == post.chosen and doc["selection"]["metric"] == "precision@10%"
    candidates = pd.read_csv(files["candidates"])
    assert set(candidates["metric"]) == {"roc_auc", "precision@10%", "ece"}
    assert len(candidates) == 3 * 3 * len(comparison.candidates)  # metrics x splits x cands


def test_report_renders_post_modeling_and_mitigation(comparison, X, tables):
    post = post_modeling(comparison, k=0.1, X=X, select_rule="best_average_value")
    bt = comparison.results[post.chosen]
    report = bt.report(k=[0.1])
    report.post_modeling = post
    group = tables.students.set_index("student_id")["gender"]
    report.mitigation = mitigate_over_time(bt.scores, group, k=0.1, constraint="equal_tpr",
                                           tolerance=0.2, min_group_size=5)
    page = report.to_html()
    assert "Selection over time" in page and "Fairness mitigation (opt-in)" in page
    assert 'id="fig-grid_candidates"' in page
    d = report.to_dict()
    assert d["post_modeling"]["chosen"] == post.chosen
    assert d["mitigation"]["attribute"] == "gender"


# ---------------------------------------------------------------- mitigation over time
def _two_period_scores():
    rows = []
    for split, as_of in ((0, 10.0), (0, 17.0), (1, 24.0), (1, 31.0)):
        for i, (g, s, y) in enumerate([("a", .9, 1), ("a", .8, 0), ("a", .7, 0), ("a", .6, 0),
                                       ("b", .5, 1), ("b", .4, 0), ("b", .3, 0),
                                       ("b", .2, 0)]):
            rows.append((split, f"{g}{i}", as_of, s, y))
    return pd.DataFrame(rows, columns=["split", "student_id", "as_of", "score", "label"])


def test_mitigation_is_fitted_on_the_first_split_and_judged_on_the_next():
    scores = _two_period_scores()
    group = pd.Series({sid: sid[0] for sid in scores["student_id"]}, name="band")
    out = mitigate_over_time(scores, group, k=2, min_group_size=2)
    assert out.fitted_on == [0] and out.judged_on == [1] and out.notes == []
    # fitted on split 0 alone: the same shares as mitigate() on those rows
    first = scores[scores["split"] == 0]
    direct = mitigate(first["label"], first["score"], first["student_id"].str[0], k=4,
                      min_group_size=2)
    assert out.fitted.groups["share"].to_dict() == direct.groups["share"].to_dict() == {
        "a": 0.5, "b": 0.5}
    # judged: per as-of date, top 2 reaches a's withdrawal only; the shares reach both
    assert out.cost.loc["unmitigated", "reached"] == 2
    assert out.cost.loc["mitigated", "reached"] == 4
    assert out.cost.loc["mitigated", "students_reached"] == 2
    gap = out.gap_closed()
    assert gap["tpr_difference_unmitigated"] == 1.0 and gap["tpr_difference_mitigated"] == 0.0
    assert gap["precision_at_k_change"] == 0.5
    assert out.met and json.dumps(out.to_dict())
    # with the outcomes: each policy's lead time on the judged dates (24 and 31)
    outcomes = pd.DataFrame({"student_id": ["a0", "b4"], "time": [40.0, 40.0]})
    timed = mitigate_over_time(scores, group, k=2, min_group_size=2, outcomes=outcomes)
    assert timed.cost.loc["unmitigated", "share_flagged_before"] == 0.5  # b4 never flagged
    assert timed.cost.loc["mitigated", "share_flagged_before"] == 1.0
    assert timed.cost.loc["mitigated", "median_lead_days"] == 16.0  # first flag on day 24
    assert timed.gap_closed()["share_flagged_before_change"] == 0.5


def test_mitigation_with_one_split_says_it_flatters_and_errors_are_typed():
    scores = _two_period_scores()
    one = scores[scores["split"] == 0]
    group = pd.Series({sid: sid[0] for sid in scores["student_id"]})
    out = mitigate_over_time(one, group, k=2, min_group_size=2)
    assert out.judged_on == [0] and "flatters" in out.notes[0]
    with pytest.raises(SchemaError, match="scores must be a DataFrame with columns split"):
        mitigate_over_time(one.drop(columns="split"), group, k=2)
    with pytest.raises(SchemaError, match="group must be a Series indexed by student_id"):
        mitigate_over_time(one, dict(group), k=2)
    with pytest.raises(ConfigError, match="every group needs at least min_group_size=9"):
        mitigate_over_time(one, group, k=2, min_group_size=9)  # 8 student-dates a group
    with pytest.raises(ConfigError, match="mitigation needs labelled test rows"):
        mitigate_over_time(one.assign(label=np.nan), group, k=2)


def test_audition_skips_splits_where_no_candidate_has_a_value():
    from studentprofile.evaluation import SelectionRule, audition

    # the last split's labels are not known yet: every candidate is NaN there
    table = pd.DataFrame({"a": [0.6, 0.9, np.nan], "b": [0.8, 0.7, np.nan]}).rename_axis("split")
    out = audition(table, "roc_auc", rules=[SelectionRule("best_current_value")])
    assert out.chosen("best_current_value") == "a"  # the latest split with values, not None
    assert list(out.choices.columns) == [0, 1]
    assert out.regrets["regret"].tolist() == [pytest.approx(0.2)]


def test_the_shipped_choice_reads_the_latest_split_with_values():
    from types import SimpleNamespace

    from studentprofile.evaluation import Comparison

    rows = [(c, s, float(s), "roc_auc", v)
            for c, vals in (("a", [0.6, 0.9, np.nan]), ("b", [0.8, 0.7, np.nan]))
            for s, v in enumerate(vals)]
    metrics = pd.DataFrame(rows, columns=["candidate", "split", "test_from", "metric", "value"])
    fake = SimpleNamespace(metrics=pd.DataFrame({"test_from": [0.0, 1.0, 2.0]}))
    comparison = Comparison(metrics=metrics, results={"a": fake, "b": fake}, baselines=[],
                            params={})
    post = post_modeling(comparison, metric="roc_auc", select_rule="best_current_value",
                         lists=False)
    assert post.chosen == "a" and post.notes == []
