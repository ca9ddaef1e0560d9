"""Rich display in notebooks (issue 17): ``_repr_html_`` of the result objects.

Each display is compact (a summary line and small tables, no figures, no page skeleton), holds
the numbers the object holds, and stays bounded however many rows the object has.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from studentprofile import _html
from studentprofile.evaluation import cross_validate, evaluate, fairness_audit
from studentprofile.features._info import FeatureInfo
from studentprofile.models import RiskModel
from studentprofile.warning import ProfileCard, profile_card, render_card_html


def body_rows(page: str) -> int:
    return page.count("<tr>") - page.count("<thead>")


def assert_compact(page: str) -> None:
    assert page.startswith('<div class="sp-repr">') and page.endswith("</div>")
    for banned in ("<!DOCTYPE", "<html", "<script", "<img", "data:image", "http://", "https://",
                   "<link"):
        assert banned not in page, banned


# ------------------------------------------------------------------------------------ helpers
def test_table_shows_the_first_rows_and_counts_the_rest():
    frame = pd.DataFrame({"x": np.arange(25.0), "y": list("abcdefghijklmnopqrstuvwxy")})
    page = _html.table(frame, max_rows=10)
    assert body_rows(page) == 11
    assert "... 15 more rows" in page and '<td class="n">9.000</td>' in page
    assert "10.000" not in page and "<td>j</td>" in page  # numbers right, text left
    assert body_rows(_html.table(frame)) == 25  # the saved report shows everything


def test_table_bounds_columns_and_flattens_column_pairs():
    wide = pd.DataFrame([range(20)], columns=[("auc", str(i)) for i in range(20)])
    page = _html.table(wide, max_cols=4)
    assert page.count("<th>") == 4 and "... 16 more columns" in page
    assert "<th>auc / 0</th>" in page


def test_cells_format_numbers_and_verdicts():
    assert [_html.cell(v) for v in (1234567, 0.5, 1e-5, np.inf, None, pd.NaT, True)] == [
        "1,234,567", "0.500", "1.0e-05", "∞", "–", "–", "yes"]
    assert _html.cell(pd.Timestamp("2024-03-01")) == "2024-03-01"


# ------------------------------------------------------------------------------------ results
@pytest.fixture(scope="module")
def audited():
    rng = np.random.default_rng(1)
    n = 600
    y = rng.uniform(size=n) < 0.3
    s = np.clip(0.3 * y + rng.uniform(size=n) * 0.7, 0, 1)
    attrs = pd.DataFrame({"age_band": rng.choice(["0-35", "35-55", "55<="], n),
                          "region": rng.choice([f"region {i}" for i in range(14)], n)})
    return y, s, attrs


def test_evaluation_report_display_is_compact_with_the_headline_numbers(audited):
    y, s, attrs = audited
    report = evaluate(y_true=y, scores=s, k=[0.05, 0.1], attributes=attrs,
                      audit_options={"n_boot": 0})
    page = report._repr_html_()
    assert_compact(page)
    assert f'<td>roc_auc</td><td class="n">{report.summary["roc_auc"]:,.3f}</td>' in page
    assert "Caseload metrics at k" in page and "Fairness audit at" in page
    assert "report.save(&#x27;report.html&#x27;)" in page
    assert len(page) < 20_000 < len(report.to_html())  # the full page keeps its figures


def test_fairness_audit_display_has_verdicts_and_the_first_groups(audited):
    y, s, attrs = audited
    audit = fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, n_boot=0,
                           intersections=None)
    page = audit._repr_html_()
    assert_compact(page)
    assert "<h4>Verdicts</h4>" in page and "<h4>Groups</h4>" in page
    assert len(audit.frame) > _html.MAX_ROWS
    assert f"... {len(audit.frame) - _html.MAX_ROWS} more rows" in page
    first = audit.frame.iloc[0]
    assert f"<td>{first['attribute']}</td><td>{first['group']}</td>" in page
    # verdicts: one row per attribute, one column per compared metric, failures counted
    verdicts = page.split("<h4>Verdicts</h4>")[1].split("<h4>Groups</h4>")[0]
    summary = audit.summary()
    assert body_rows(verdicts) == summary["attribute"].nunique() == 2
    fails = summary[summary["verdict"] == "fail"]
    assert verdicts.count('class="fail"') == len(fails)
    for _, r in fails.iterrows():
        assert f"FAIL {r['failing']}/{r['compared']}" in verdicts


def test_fairness_display_bounds_attributes_and_notes(audited):
    y, s, attrs = audited
    many = attrs.assign(**{f"a{i}": attrs["region"] for i in range(12)})
    audit = fairness_audit(y_true=y, scores=s, attributes=many, k=0.1, n_boot=0,
                           intersections=None, min_group_size=45)
    page = audit._repr_html_()
    assert f"... {many.shape[1] - _html.MAX_ROWS} more attributes" in page
    assert len(audit.notes) > 3 and f"... {len(audit.notes) - 3} more notes" in page


@pytest.fixture(scope="module")
def cv():
    rng = np.random.default_rng(0)
    ids = np.repeat([f"s{i:03d}" for i in range(120)], 2)
    X = pd.DataFrame({"x": rng.normal(size=240), "z": rng.normal(size=240)},
                     index=pd.MultiIndex.from_arrays([ids, np.tile([7.0, 14.0], 120)],
                                                     names=["student_id", "as_of"]))
    y = pd.Series((X["x"] + rng.normal(scale=0.7, size=240) > 0).astype(float), index=X.index)
    return cross_validate(LogisticRegression(), X, y, cv=3, reasons=0)


def test_cross_validation_display(cv):
    assert repr(cv).startswith("CrossValidation(3 fold(s), 240 scored row(s), pooled roc_auc=")
    page = cv._repr_html_()
    assert_compact(page)
    auc = cv.summary()["auc"]
    assert f"{auc['mean']:.3f} ± {auc['std']:.3f}" in page
    assert "<h4>Per fold</h4>" in page and "s001" not in page  # no per-student rows


def test_backtest_display_has_the_split_metrics_and_their_mean(cv):
    bt = cv.to_backtest(k=[0.1])
    assert repr(bt).startswith("BacktestResult(k-fold: 3 split(s), 240 scored row(s)")
    page = bt._repr_html_()
    assert_compact(page)
    mean_auc = bt.metrics["roc_auc"].mean()
    assert "<td>mean</td>" in page
    mean_row = page.split("<td>mean</td>")[1].split("</tr>")[0]
    assert f"{mean_auc:,.3f}" in mean_row and "–" in mean_row  # counts are not averaged
    assert "s001" not in page  # scores stay in .scores
    assert body_rows(page.split("<h4>Per split</h4>")[1]) == len(bt.metrics) + 1


def test_backtest_repr_is_one_line_without_frames():
    from studentprofile.evaluation import BacktestResult

    bt = BacktestResult(metrics=pd.DataFrame({"roc_auc": [0.6, 0.8]}),
                        scores=pd.DataFrame({"score": np.zeros(5000)}), splits=pd.DataFrame(),
                        models=[], feature_info=None, params={"outcome": "withdrawn"})
    assert repr(bt) == ("BacktestResult(temporal: 2 split(s), 5,000 scored row(s), "
                        "outcome='withdrawn', mean roc_auc=0.700)")


INFOS = {
    "att": FeatureInfo(name="att", family="behavioral", kind="class_attendance",
                       aggregate="mean", window="30d", phrase="class attendance", unit="share"),
    "score": FeatureInfo(name="score", family="academic", kind="assessment_score",
                         aggregate="mean", window="all", phrase="average score", unit="score"),
    "visits": FeatureInfo(name="visits", family="wellbeing", kind="counselling",
                          aggregate="count", window="all", phrase="counselling visits",
                          unit="count", sensitivity="sensitive"),
}


@pytest.fixture(scope="module")
def explained():
    rng = np.random.default_rng(4)
    n = 300
    X = pd.DataFrame({"att": rng.beta(4, 2, n), "score": rng.normal(60, 10, n),
                      "visits": rng.poisson(1.0, n).astype(float)},
                     index=pd.MultiIndex.from_arrays(
                         [[f"s{i:03d}" for i in range(n)],
                          pd.Timestamp("2024-09-02") + pd.to_timedelta(np.arange(n) % 3 * 7, "D")],
                         names=["student_id", "as_of"]))
    logit = 2 - 4 * X["att"] + 0.8 * X["visits"] - 0.02 * (X["score"] - 60)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = RiskModel(n_estimators=30, validation_fraction=None).fit(X, y, feature_info=INFOS)
    return model.explain(X)


def test_explanations_display_adds_up_and_shows_reasons_without_sensitive_features(explained):
    page = explained._repr_html_()
    assert_compact(page)
    gap = np.max(np.abs(explained.values.sum(axis=1) + explained.base_value - explained.raw))
    assert f"the largest gap in this batch is {gap:.1e}" in page
    assert "<h4>By family</h4>" in page and "<td>wellbeing</td>" in page  # it counts
    reasons = page.split("Reasons (sensitive and audit features left out)")[1]
    assert "counselling" not in reasons  # but is never an advisor-facing reason
    first = explained[:1].reasons(top=3)[0]
    assert first["reasons"][0]["sentence"].split(" ")[0] in reasons
    assert "<td>s000</td><td>2024-09-02</td>" in reasons  # ids and dates as they are
    assert "<td>s001</td><td>2024-09-09</td>" in reasons and "<td>s010</td>" not in reasons
    assert f"... {len(explained) - _html.MAX_ROWS} more students" in page


def test_explanations_display_of_a_multiclass_model():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=240), "b": rng.normal(size=240)})
    y = np.digitize(X["a"] + rng.normal(scale=0.5, size=240), [-0.5, 0.5])
    model = RiskModel(n_estimators=10, num_leaves=5, validation_fraction=None).fit(X, y)
    page = model.explain(X)._repr_html_()
    assert_compact(page)
    assert "Top features, mean |SHAP| per class" in page and ".for_class(label)" in page


def test_profile_card_is_a_dict_that_displays_as_the_rendered_card():
    risk = pd.Series([0.12, 0.41], index=pd.MultiIndex.from_tuples(
        [("ana", 30.0), ("ana", 60.0)], names=["student_id", "as_of"]))
    card = profile_card("ana", risk=risk)
    assert isinstance(card, ProfileCard) and isinstance(card, dict)
    assert json.loads(json.dumps(card)) == card
    assert card._repr_html_() == render_card_html(dict(card))
    assert "41%" in card._repr_html_()
