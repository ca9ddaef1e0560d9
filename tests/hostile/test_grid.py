"""Hostile inputs for model grids: names, ids and group values from the real world."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from studentprofile.errors import ConfigError
from studentprofile.evaluation import Audition, audition, mitigate_over_time
from studentprofile.evaluation._postmodeling import PostModeling
from studentprofile.pipeline import ExperimentConfig, load_config


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "-cmd", "a b",
                                  "", "x" * 61, "<b>", "a/b"])
def test_candidate_names_that_could_harm_a_file_or_a_sheet_are_refused(tmp_path, name):
    path = tmp_path / "c.toml"
    path.write_text(textwrap.dedent(f"""
        [model]
        grid = [{{name = {json.dumps(name)}}}]
    """), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model.grid\[0\].name: must be"):
        load_config(path)


def test_chinese_candidate_names_round_trip():
    cfg = ExperimentConfig.from_dict({"model": {"grid": [{"name": "梯度提升-小", "num_leaves": 4},
                                                         {"name": "模型2"}]}})
    again = ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict(), ensure_ascii=False)))
    assert [c.name for c in again.model.grid] == ["梯度提升-小", "模型2"] and again == cfg


def test_post_modeling_html_escapes_candidate_names(tmp_path):
    table = pd.DataFrame({"<script>x</script>": [0.7, 0.8], "=cmd": [0.6, 0.9]}).rename_axis(
        "split")
    aud = audition(table, "roc_auc")
    assert isinstance(aud, Audition)
    post = PostModeling(k=0.1, metric="roc_auc", per_split={"roc_auc": table},
                        summary=pd.DataFrame(), baselines=[], audition=aud,
                        chosen="<script>x</script>", select_rule="best_average_value")
    html = "".join(post.html())
    assert "<script>" not in html and "&lt;script&gt;" in html
    files = post.save(tmp_path)
    text = files["selection"].read_text(encoding="utf-8")
    assert "'=cmd" in text or "\"'=cmd\"" in text  # neutralised for spreadsheets


def test_mitigation_keeps_ids_with_leading_zeros_apart():
    # "007" and "7" are two students in two groups; a numeric cast would merge them
    rows = []
    for split, as_of in ((0, 1.0), (1, 2.0)):
        for sid, s, y in (("007", 0.9, 1), ("7", 0.8, 0), ("0070", 0.85, 1), ("70", 0.1, 0)):
            rows.append((split, sid, as_of, s, y))
    scores = pd.DataFrame(rows, columns=["split", "student_id", "as_of", "score", "label"])
    group = pd.Series({"007": "a", "7": "b", "0070": "b", "70": "a"}, name="band")
    out = mitigate_over_time(scores, group, k=2, min_group_size=2)
    assert out.groups.loc["a", "n"] == 2 and out.groups.loc["b", "n"] == 2
    assert out.cost.loc["mitigated", "reached"] == 2  # 007 (a) and 0070 (b)


def test_group_values_missing_or_formula_like_are_groups_not_crashes():
    rows = [(sp, f"s{i}", float(sp), s, y) for sp in (0, 1)
            for i, (s, y) in enumerate([(0.9, 1), (0.8, 0), (0.7, 0), (0.2, 1)])]
    scores = pd.DataFrame(rows, columns=["split", "student_id", "as_of", "score", "label"])
    group = pd.Series({"s0": "=1+1", "s1": "=1+1", "s2": None, "s3": np.nan})
    out = mitigate_over_time(scores, group, k=2, min_group_size=2,
                             constraint="equal_selection_rate")
    assert set(out.groups.index) == {"=1+1", "missing"}
    assert json.dumps(out.to_dict())


def test_feature_subset_clone_keeps_the_columns():
    from sklearn.base import clone

    from studentprofile.evaluation import FeatureSubset

    model = FeatureSubset(LogisticRegression(), ["学分", "出勤率"])
    copy = clone(model)
    assert copy.columns == ["学分", "出勤率"] and copy is not model
    X = pd.DataFrame({"学分": [1.0, 2.0, 3.0, 4.0], "出勤率": [0.9, 0.8, 0.3, 0.2],
                      "other": 0.0})
    assert copy.fit(X, [0, 0, 1, 1]).feature_names_in_ == ["学分", "出勤率"]
