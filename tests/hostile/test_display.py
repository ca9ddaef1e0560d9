"""Hostile names in notebook displays (issue 17): ids, group and feature names are text.

A name such as ``<script>`` or ``<img onerror>`` comes from a campus file; every
``_repr_html_`` escapes it, so a notebook shows it and never runs or loads it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studentprofile.evaluation import BacktestResult, cross_validate, evaluate, fairness_audit
from studentprofile.models import RiskModel
from studentprofile.warning import profile_card

EVIL = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"


def assert_escaped(page: str) -> None:
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page or "&lt;img" in page


def test_fairness_audit_and_report_escape_group_names():
    rng = np.random.default_rng(0)
    n = 200
    groups = pd.DataFrame({EVIL: rng.choice([IMG, "王小明", "=1+1"], n)})
    y = rng.uniform(size=n) < 0.3
    s = rng.uniform(size=n)
    audit = fairness_audit(y_true=y, scores=s, attributes=groups, k=0.1, n_boot=0)
    page = audit._repr_html_()
    assert_escaped(page)
    assert "王小明" in page and "=1+1" in page
    report = evaluate(y_true=y, scores=s, k=[0.1], attributes=groups, title=EVIL,
                      audit_options={"n_boot": 0})
    assert_escaped(report._repr_html_())


def test_explanations_escape_ids_and_feature_names():
    rng = np.random.default_rng(1)
    n = 120
    X = pd.DataFrame({IMG: rng.normal(size=n), "ok": rng.normal(size=n)},
                     index=pd.Index([EVIL if i == 0 else f"007-{i}" for i in range(n)],
                                    name="student_id"))
    y = (X[IMG] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    model = RiskModel(n_estimators=10, num_leaves=5, validation_fraction=None).fit(X, y)
    page = model.explain(X)._repr_html_()
    assert_escaped(page)
    assert "<td>007-1</td>" in page  # ids stay text: leading zeros kept


def test_backtest_and_cross_validation_escape_settings():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=90)})
    y = pd.Series((X["x"] + rng.normal(size=90) > 0).astype(float))
    from sklearn.linear_model import LogisticRegression

    cv = cross_validate(LogisticRegression(), X, y, cv=3, reasons=0)
    assert "<script>" not in cv._repr_html_()
    bt = BacktestResult(metrics=pd.DataFrame({"roc_auc": [0.7]}), scores=pd.DataFrame(),
                        splits=pd.DataFrame(), models=[], feature_info=None,
                        params={"outcome": EVIL, "model": IMG})
    assert_escaped(bt._repr_html_())


def test_profile_card_display_escapes_the_id():
    risk = pd.Series([0.4], index=pd.MultiIndex.from_tuples([(EVIL, 30.0)],
                                                            names=["student_id", "as_of"]))
    assert_escaped(profile_card(EVIL, risk=risk)._repr_html_())
