"""Hostile inputs for the evaluation package: every case a campus met, kept forever.

Each test names the issue item it guards (issue 12 "campus-ready hardening", issue 13 "auditor
trust and code health").
"""

from __future__ import annotations

import re

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
    assert "<h2>Fairness audit at k = 5% " in report.to_html()


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


# --------------------------------------- 12.11: an audit never publishes a small group's name
SECRET = ["Zoë-000123", 'O\'Brien, "Al" & co', "王小明", "=HYPERLINK(\"x\")"]


def _privacy_case():
    rng = np.random.default_rng(0)
    n = 200
    gender = np.array(["F"] * 100 + ["M"] * 96 + SECRET, dtype=object)
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.random(n).round(3)
    return y, s, pd.DataFrame({"gender": gender})


def _all_text(obj):
    """Every string inside a JSON document, keys included."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield str(key)
            yield from _all_text(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _all_text(value)
    elif isinstance(obj, str):
        yield obj


def test_suppressed_groups_are_counted_not_named_anywhere(tmp_path):
    import html as html_module
    import json

    from studentprofile.evaluation import _fairness, fairness_audit

    y, s, attrs = _privacy_case()
    secret_reference = {"gender": SECRET[0]}
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold={"gender": {g: 0.5 for g in
                                                                     ["F", "M", *SECRET]}},
        reference=secret_reference, n_boot=20,
    )
    frame = audit.to_frame()
    assert set(frame["group"]) >= {"F", "M", _fairness.SUPPRESSED_GROUPS.format(n=4)}
    assert audit.params["suppressed_groups"] == {"gender": 4}
    assert "2 group(s) shown, 4 suppressed" in repr(audit)
    report = sp.evaluate(y_true=y, scores=s, fairness=audit)
    html_path = report.save(tmp_path / "report.html")
    json_path = report.save(tmp_path / "evaluation.json")
    texts = [
        "\n".join(_all_text(json.loads(json.dumps(audit.to_dict())))),
        "\n".join(_all_text(json.loads(json_path.read_text(encoding="utf-8")))),
        html_module.unescape(html_path.read_text(encoding="utf-8")),
        frame.to_csv(), audit.disparities().to_csv(), audit.summary().to_csv(),
        repr(audit), "\n".join(audit.notes), str(audit.params),
    ]
    for text in texts:
        for name in SECRET:
            assert name not in text
    # also through evaluate(attributes=...), intersections included
    attrs2 = attrs.assign(band=np.where(np.arange(len(y)) % 2, "a", "b"))
    rep = sp.evaluate(y_true=y, scores=s, attributes=attrs2, audit_options={"n_boot": 0})
    out = html_module.unescape(rep.to_html()) + rep.to_json()
    assert not any(name in out or json.dumps(name)[1:-1] in out for name in SECRET)


@pytest.mark.parametrize("size", [0, 1, 4])
def test_min_group_size_below_five_is_refused(size):
    from studentprofile.errors import ConfigError
    from studentprofile.evaluation import _fairness

    y, s, attrs = _privacy_case()
    with pytest.raises(ConfigError, match=re.escape(_fairness.MIN_GROUP_SIZE_INVALID)):
        sp.evaluation.fairness_audit(
            y_true=y, scores=s, attributes=attrs, k=0.1, min_group_size=size
        )
    with pytest.raises(ConfigError, match="min_group_size"):
        sp.evaluate(y_true=y, scores=s, attributes=attrs, audit_options={"min_group_size": size})


def test_an_identifying_attribute_is_refused():
    from studentprofile.errors import ConfigError
    from studentprofile.evaluation import _fairness

    y, s, attrs = _privacy_case()
    ids = attrs.assign(student=[f"{i:06d}" for i in range(len(y))])
    with pytest.raises(ConfigError, match=re.escape(_fairness.TOO_MANY_DISTINCT)) as info:
        sp.evaluation.fairness_audit(y_true=y, scores=s, attributes=ids, k=0.1)
    text = str(info.value)
    assert "attributes['student']" in text and "share 1.00" in text
    assert "max_distinct_share" in text
    # the option is the caller's: a 60% share passes at 0.7, fails at the default
    half = attrs.assign(code=[f"c{i % 120}" for i in range(len(y))])
    with pytest.raises(ConfigError, match=r"share 0\.60 > max_distinct_share=0\.5"):
        sp.evaluation.fairness_audit(y_true=y, scores=s, attributes=half, k=0.1)
    audit = sp.evaluation.fairness_audit(
        y_true=y, scores=s, attributes=half, k=0.1, max_distinct_share=0.7, n_boot=0
    )
    assert audit.params["suppressed_groups"]["code"] == 120  # every code group too small
    for bad in (0, 1.5, "half", True, float("nan")):
        with pytest.raises(ConfigError, match=re.escape(_fairness.MAX_DISTINCT_SHARE_INVALID)):
            sp.evaluation.fairness_audit(
                y_true=y, scores=s, attributes=attrs, k=0.1, max_distinct_share=bad
            )


# -------------------------------- 13.9/13.10: the outcomes module uses the one time module
def test_outcome_windows_take_timedeltas_like_every_days_parameter():
    from studentprofile.errors import ConfigError
    from studentprofile.evaluation import contact_trajectories

    scores = pd.DataFrame({"student_id": ["a"] * 3, "as_of": [0.0, 7.0, 14.0],
                           "score": [0.2, 0.5, 0.3]})
    contacts = pd.DataFrame({"student_id": ["a"], "time": [7.0], "action": ["call"],
                             "staff": ["kim"]})
    by_number = contact_trajectories(scores, contacts, before=7, after=7)
    by_timedelta = contact_trajectories(scores, contacts, before=pd.Timedelta(days=7),
                                        after=pd.Timedelta(weeks=1))
    pd.testing.assert_frame_equal(by_number.per_student, by_timedelta.per_student)
    with pytest.raises(ConfigError, match="before must be a non-negative number of days"):
        contact_trajectories(scores, contacts, before=float("nan"))


# ------------------------------------------------ 12.20: labels are 0/1, scores are numbers
@pytest.mark.parametrize(
    "labels, shown",
    [
        (["yes", "no", "yes"], "'yes', 'no'"),
        ([2, 0, 1], "2"),
        ([1.0, 0.0, 2.0], "2.0"),
        (np.array(["1", "0", "1"]), "'1', '0'"),
        ([True, "0", 1], "'True', '0', '1'"),  # numpy makes them all text
        ([1, 0, -1], "-1"),
    ],
)
def test_labels_that_are_not_zero_or_one_are_refused(labels, shown):
    from studentprofile.errors import SchemaError
    from studentprofile.evaluation import _inputs

    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_NOT_BINARY)) as info:
        sp.evaluate(y_true=labels, scores=[0.1, 0.5, 0.9])
    assert f"values {shown}" in str(info.value)


def test_label_and_score_errors_name_the_column():
    from studentprofile.errors import SchemaError
    from studentprofile.evaluation import _inputs

    frame = pd.DataFrame({"withdrawn": ["yes", "no"], "risk": ["high", "0.2"], "y": [0, 1]})
    with pytest.raises(SchemaError, match=r"^y_true\.withdrawn \[binary-labels\]"):
        sp.evaluate(y_true=frame["withdrawn"], scores=[0.1, 0.2])
    with pytest.raises(SchemaError, match=r"^scores\.risk \[numeric\]") as info:
        sp.evaluate(y_true=frame["y"], scores=frame["risk"])
    assert _inputs.SCORES_NOT_NUMERIC in str(info.value) and "'high'" in str(info.value)
    with pytest.raises(SchemaError, match=r"^y_true\.y \[not-null\]"):
        sp.evaluate(y_true=pd.Series([1, None], dtype="Int64", name="y"), scores=[0.1, 0.2])
    with pytest.raises(SchemaError, match=r"^scores\.risk \[finite\]"):
        sp.evaluate(y_true=[0, 1], scores=pd.Series([0.1, np.inf], name="risk"))
    # 0/1 in any honest form is fine
    for y in ([0, 1], [False, True], [0.0, 1.0], pd.Series([0, 1], dtype="Int64"),
              np.array([0, 1], dtype=np.uint8)):
        assert sp.evaluate(y_true=y, scores=[0.1, 0.2]).summary["positives"] == 1
