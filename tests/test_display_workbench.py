"""Rich display of the workbench results (issue 17): compact, bounded, escaped.

Every notebook-facing result of the workbench (comparison, audition, lists, crosstabs,
mitigation, post-modeling, judged and intervention outcomes, the weekly job, a run) shows a
summary line and small tables through :mod:`studentprofile._html`: no script, no external
asset, at most ``MAX_ROWS`` rows of any table, hostile names as text. ``repr`` is one line.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studentprofile import _html
from studentprofile.evaluation import (
    InterventionOutcomes,
    audition,
    compare,
    compare_lists,
    contact_comparison,
    contact_trajectories,
    crosstabs,
    list_churn,
    mitigate,
    mitigate_over_time,
    platform_outcomes,
    post_modeling,
    term_outcomes,
)
from studentprofile.evaluation._compare import Comparison
from studentprofile.evaluation._verdicts import JudgedOutcomes
from studentprofile.pipeline import RunResult
from studentprofile.pipeline._weekly import WeeklyResult

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def body_rows(page: str) -> int:
    return page.count("<tr>") - page.count("<thead>")


def tables(page: str) -> list[str]:
    return page.split("<table>")[1:]


def assert_display(page: str, *, max_rows: int = _html.MAX_ROWS) -> None:
    """Compact (one sp-repr block, no asset, no script), escaped and bounded."""
    assert page.startswith('<div class="sp-repr">') and page.endswith("</div>")
    for banned in ("<!DOCTYPE", "<html", "<script", "<img", "data:image", "http://",
                   "https://", "<link"):
        assert banned not in page, banned
    for t in tables(page):  # each table: at most max_rows rows plus the "... n more" line
        assert body_rows(t) <= max_rows + 1


def one_line(obj: object) -> str:
    text = repr(obj)
    assert "\n" not in text and len(text) < 300, text
    return text


# --------------------------------------------------------------------------- comparison
def test_a_10000_row_comparison_shows_at_most_max_rows_candidates():
    names = [EVIL] + [f"cand{i:03d}" for i in range(499)]
    metrics = ["roc_auc", "precision@10%", "ece", "brier", "pr_auc"]
    rows = [(c, s, m, 0.5 + 0.001 * i) for i, c in enumerate(names) for s in range(4)
            for m in metrics]
    frame = pd.DataFrame(rows, columns=["candidate", "split", "metric", "value"])
    assert len(frame) == 10_000
    cmp = Comparison(metrics=frame, results=dict.fromkeys(names), baselines=["cand498"],
                     params={})
    assert one_line(cmp) == "Comparison(500 candidate(s) incl. 1 baseline(s), 4 split(s))"
    page = cmp._repr_html_()
    assert_display(page)
    assert body_rows(page) == _html.MAX_ROWS + 1 and "... 490 more rows" in page
    assert ESCAPED in page and EVIL not in page
    # AUC, precision at k and ECE lead; the candidate's mean over the four splits
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert head.index("roc_auc") < head.index("precision@10%") < head.index("ece") < \
        head.index("pr_auc")
    assert f"<td>{ESCAPED}</td><td>no</td><td class=\"n\">0.500</td>" in page


def test_an_empty_comparison_displays_a_note():
    cmp = Comparison(metrics=pd.DataFrame(columns=["candidate", "split", "metric", "value"]),
                     results={}, baselines=[], params={})
    assert "No metric was measured" in cmp._repr_html_()


# ----------------------------------------------------------------------------- audition
def test_audition_shows_each_rules_choice_and_regret():
    table = pd.DataFrame({EVIL: [0.80, 0.75, 0.60, 0.55],
                          "b": [0.70, 0.72, 0.74, 0.76]}).rename_axis("split")
    result = audition(table, "roc_auc")
    page = result._repr_html_()
    assert_display(page)
    assert one_line(result).startswith("Audition('roc_auc': ")
    assert "best_current_value" in page and "mean_regret" in page and "Regret:" in page
    assert EVIL not in page


# -------------------------------------------------------------------------------- lists
@pytest.fixture(scope="module")
def long_scores():
    rng = np.random.default_rng(3)
    cands = [EVIL] + [f"m{i}" for i in range(5)]
    rows = [(c, f"s{j}", float(t), rng.uniform()) for c in cands for t in range(3)
            for j in range(40)]
    return pd.DataFrame(rows, columns=["candidate", "student_id", "as_of", "score"])


def test_list_comparison_and_churn_are_bounded(long_scores):
    pairs = compare_lists(long_scores, k=5)
    page = pairs._repr_html_()
    assert_display(page)
    assert len(pairs.summary) == 15 and "... 5 more rows" in page and EVIL not in page
    assert one_line(pairs) == "ListComparison(between candidates, k=5, 45 row(s))"
    churn = list_churn(long_scores, k=5)
    assert_display(churn._repr_html_())
    assert "Means over the as-of dates" in churn._repr_html_()


# ---------------------------------------------------------------------------- crosstabs
def test_crosstabs_show_the_largest_effects_first_and_the_caveat():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 30)), columns=[f"f{i}" for i in range(29)] + [EVIL])
    flagged = np.zeros(200, dtype=bool)
    flagged[:40] = True
    X.loc[flagged, EVIL] += 3.0
    result = crosstabs(X, flagged)
    page = result._repr_html_()
    assert_display(page)
    assert "... 20 more rows" in page and "descriptive" in page.lower()
    first_row = page.split("<tbody><tr>")[1].split("</tr>")[0]
    assert ESCAPED in first_row  # the largest effect leads
    assert one_line(result) == "Crosstabs(flagged vs not_flagged: 30 feature(s); descriptive)"


# --------------------------------------------------------------------------- mitigation
def test_mitigation_shows_the_cost_and_bounded_groups():
    rng = np.random.default_rng(2)
    n = 1400
    group = np.array([EVIL] + [f"region {i}" for i in range(13)])[np.arange(n) % 14]
    y = rng.uniform(size=n) < 0.3
    s = np.clip(0.3 * y + rng.uniform(size=n) * 0.7, 0, 1)
    result = mitigate(y, s, group, k=0.2, constraint="equal_selection_rate", tolerance=0.1)
    page = result._repr_html_()
    assert_display(page)
    assert "What it costs: unmitigated vs mitigated" in page and "... 4 more rows" in page
    assert EVIL not in page and result.notice.split(".")[0] in page
    assert one_line(result).startswith("Mitigation(equal_selection_rate within 0.1 at k=280")


def test_mitigation_over_time_display():
    rows = []
    for split, as_of in ((0, 10.0), (1, 20.0)):
        for i, (g, s, y) in enumerate([("a", .9, 1), ("a", .8, 0), ("a", .7, 0), ("a", .6, 0),
                                       (EVIL, .5, 1), (EVIL, .4, 0), (EVIL, .3, 0),
                                       (EVIL, .2, 0)]):
            rows.append((split, f"{g}{i}", as_of, s, y))
    scores = pd.DataFrame(rows, columns=["split", "student_id", "as_of", "score", "label"])
    group = pd.Series({sid: sid[:-1] for sid in scores["student_id"]}, name="band")
    result = mitigate_over_time(scores, group, k=2, min_group_size=2)
    page = result._repr_html_()
    assert_display(page)
    assert EVIL not in page and ESCAPED in page and "Per group" in page
    assert one_line(result).startswith("MitigationOverTime(equal_tpr on 'band'")


# ------------------------------------------------------------------------ post-modeling
@pytest.fixture(scope="module")
def small_comparison():
    from sklearn.tree import DecisionTreeClassifier

    from studentprofile.evaluation import TemporalSplits
    from studentprofile.tables import EventTables

    students = pd.DataFrame({"student_id": list("abcdefgh"),
                             "engagement": [0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.9, 0.2]})
    outcomes = pd.DataFrame({"student_id": ["b", "d", "f", "h"],
                             "time": [15.0, 25.0, 45.0, 55.0], "outcome": "withdrawn"})
    tables_ = EventTables(students=students, outcomes=outcomes)

    class Engagement:
        def transform(self, tables, grid):
            e = grid["student_id"].map(tables.students.set_index("student_id")["engagement"])
            index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
            return pd.DataFrame({"engagement": e.to_numpy()}, index=index)

    splits = TemporalSplits(test_start=40.0, test_end=60.0, horizon=20, every=10)
    return compare({EVIL: DecisionTreeClassifier(max_depth=1)}, tables_, splits,
                   feature_builder=Engagement(), outcome="withdrawn", k=[2],
                   test_observed_until=100.0)


def test_post_modeling_display_is_compact_without_figures(small_comparison):
    result = post_modeling(small_comparison, k=2, metric="roc_auc",
                           select_rule="best_average_value", eligible=[EVIL])
    page = result._repr_html_()
    assert_display(page)
    assert EVIL not in page and f"Ships {ESCAPED} (chosen by best_average_value)" in page
    assert "Selection over time (roc_auc" in page and "logistic_regression" in page
    assert len(page) < len("".join(result.html())) + 2_000  # no figure, no page skeleton
    assert one_line(result).startswith("PostModeling(3 candidate(s), roc_auc")
    cmp_page = small_comparison._repr_html_()
    assert_display(cmp_page)
    assert "best_one_feature" in cmp_page


# --------------------------------------------------------------------- judged outcomes
def test_judged_outcomes_tables_are_bounded_and_escaped():
    advisors = pd.DataFrame({"owner": [EVIL] + [f"adv{i}" for i in range(24)],
                             "cases": 3, "contacted": 2, "median_days_to_contact": 2.5,
                             "p90_days_to_contact": 6.0, "contacted_late": 0, "overdue": 1,
                             "overdue_rate": 0.333})
    overall = pd.DataFrame({"cases": [75], "judged": [40], "useful": [30],
                            "judged_precision": [0.75]})
    result = JudgedOutcomes(overall=overall, by_tier=overall, by_reason_family=overall,
                            by_model_version=overall, contact_by_advisor=advisors,
                            contact_by_unit=advisors.rename(columns={"owner": "unit"}),
                            params={}, notes=(f"note {EVIL}",))
    page = result._repr_html_()
    assert_display(page)
    assert page.count("... 15 more rows") == 2 and EVIL not in page
    assert "judged precision = cases judged" in page and f"note {ESCAPED}" in page
    assert one_line(result) == ("JudgedOutcomes(75 cases, 40 judged, judged precision 0.750, "
                                "25 overdue)")


# ----------------------------------------------------------------- intervention outcomes
@pytest.fixture(scope="module")
def interventions():
    values = pd.DataFrame({"student_id": ["ana"] * 4 + [EVIL] * 4,
                           "as_of": [0.0, 7.0, 14.0, 21.0] * 2,
                           "score": [0.8, 0.7, 0.5, 0.4, 0.9, 0.9, 0.8, 0.6]})
    contacts = pd.DataFrame({"student_id": ["ana", EVIL], "time": [7.0, 8.0],
                             "action": ["call", "email"], "staff": [EVIL, "kim"]})
    alerts = pd.DataFrame({"student_id": ["ana", EVIL, "cai"], "time": [0.0, 0.0, 5.0],
                           "score": [0.5, 0.6, 0.7]})
    outcomes = pd.DataFrame({"student_id": ["cai"], "time": [40.0]})
    return {
        "trajectories": contact_trajectories(values, contacts),
        "platform": platform_outcomes(alerts, contacts, capacity=4),
        "comparison": contact_comparison(alerts, contacts, outcomes, bands=1,
                                         observed_until=200.0),
        "institution": term_outcomes(pd.DataFrame({"term": ["2013J", "2014B"],
                                                   "result": ["pass", "withdrawn"]})),
    }


def test_intervention_outcome_parts_display(interventions):
    t, p, c = (interventions[k] for k in ("trajectories", "platform", "comparison"))
    assert one_line(t) == "Trajectories('score' around first contact: 2 student(s), 8 value(s))"
    assert one_line(p) == "PlatformOutcomes(3 flagged student(s), 2 staff, reach within 14 days)"
    assert one_line(c).startswith("ContactComparison(observational, not causal; 1 risk band(s)")
    for part in (t, p, c):
        page = part._repr_html_()
        assert_display(page)
        assert EVIL not in page
    assert ESCAPED in p._repr_html_()  # a staff member's name
    assert "not causal" in c._repr_html_() and "Weighted difference" in c._repr_html_()
    whole = InterventionOutcomes(per_student=t, platform=p,
                                 institution=interventions["institution"], comparison=c)
    assert one_line(whole) == ("InterventionOutcomes(per student, platform, institution, "
                               "comparison)")
    page = whole._repr_html_()
    assert_display(page)
    assert page.count('<div class="sp-repr">') == 1 and page.count("<style>") == 1
    assert "retention_rate" in page and "Per staff member" in page
    assert repr(InterventionOutcomes()) == "InterventionOutcomes(empty)"


# ------------------------------------------------------------------------ weekly, run
def test_weekly_result_repr_is_one_line_and_display_bounded(tmp_path):
    n = 10_000
    alerts = pd.DataFrame({"student_id": [EVIL] + [f"s{i}" for i in range(n - 1)],
                           "as_of": pd.Timestamp("2024-11-04"),
                           "score": np.linspace(0.99, 0.5, n),
                           "tier": ["high"] * 100 + ["medium"] * (n - 100),
                           "reasons": [[f"reason {EVIL}", "few clicks"]] * n,
                           "alert_id": [f"a{i}" for i in range(n)]})
    tiers = alerts[["student_id", "as_of", "score", "tier"]].assign(alert=True)
    recorded = types.SimpleNamespace(n_new=n - 5, n_existing=5)
    result = WeeklyResult(as_of=pd.Timestamp("2024-11-04"), students=12_000, alerts=alerts,
                          tiers=tiers, recorded=recorded,
                          files={"alerts": tmp_path / "alerts.csv"}, log="sqlite:///x.db")
    assert one_line(result) == ("WeeklyResult(as of 2024-11-04: 12000 student(s), 10000 "
                                "alert(s) (medium 9900, high 100), 9995 new in the log, "
                                "1 file(s))")
    page = result._repr_html_()
    assert_display(page)
    assert "... 9,990 more rows" in page and EVIL not in page
    assert f"reason {ESCAPED}; few clicks" in page and "alerts_by_tier: high" in page
    assert str(tmp_path / "alerts.csv") in page and "sqlite:///x.db" in page


GRID = {
    "chosen": "lgbm", "select_rule": "best_average_value", "metric": "roc_auc",
    "candidates": {"lgbm": "grid", EVIL: "grid", "logistic_regression": "baseline"},
    "table": [{"candidate": "lgbm", "kind": "grid", "roc_auc": 0.71, "ece": 0.02},
              {"candidate": EVIL, "kind": "grid", "roc_auc": 0.69, "ece": 0.03},
              {"candidate": "logistic_regression", "kind": "baseline", "roc_auc": 0.73,
               "ece": 0.01}],
    "rules": [{"rule": "best_average_value", "chosen": "lgbm", "mean_regret": 0.01,
               "max_regret": 0.02}],
    "baseline_beat": [{"baseline": "logistic_regression", "metric": "roc_auc", "value": 0.73,
                       "best_grid": "lgbm", "best_grid_value": 0.71}],
}


def test_run_result_repr_is_one_line_and_shows_the_grid(tmp_path):
    files = {f"post_modeling.f{i}": tmp_path / f"f{i}.csv" for i in range(30)}
    result = RunResult(name=EVIL, run_dir=tmp_path, model_dir=tmp_path / "model", files=files,
                       metrics={"roc_auc": 0.71, "precision@10%": 0.3, "ece": 0.02, "n": 5000},
                       fairness=[{"attribute": "age_band", "metric": "tpr", "verdict": "fail",
                                  "min_disparity": 0.81, "max_disparity": 1.0}],
                       example={"risk": 0.8, "reasons": [f"few clicks {EVIL}"]},
                       facts={"grid": GRID, "rows": 10_000})
    assert result.grid is GRID and RunResult(name="x", run_dir=tmp_path,
                                             model_dir=tmp_path).grid is None
    assert one_line(result) == (
        f"RunResult({EVIL!r}: ROC AUC 0.710, precision@10% 0.300, 1 fairness FAIL, grid of 3 "
        f"shipped 'lgbm'; {tmp_path})")
    page = result._repr_html_()
    assert_display(page)
    assert EVIL not in page and "Model grid: ships lgbm (best_average_value on roc_auc)" in page
    assert "Baseline logistic_regression beat every grid candidate on roc_auc (0.730 vs 0.710 " \
        "for lgbm)." in page
    assert "... 20 more files in .files" in page and f"few clicks {ESCAPED}" in page
    assert ('<tr><td>age_band</td><td><span class="fail">FAIL</span></td></tr>' in page
            and "<th>tpr</th>" in page)  # verdicts as attribute x metric
    assert '<td>n</td><td class="n">5,000</td>' in page
    assert Path(result.to_dict()["run_dir"]) == tmp_path
