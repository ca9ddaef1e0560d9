"""End to end on bundled OULAD: features, labels, a temporal split, reasons in plain words."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import studentprofile as sp
from studentprofile.features import (
    EventFeatures,
    FeatureBuilder,
    FeatureSpec,
    StaticFeatures,
    make_grid,
)
from studentprofile.labels import make_labels

SPEC = FeatureSpec([
    EventFeatures(["tma_score", "cma_score"], family="academic", name="assessment_score",
                  aggregates=("count", "mean", "last"), windows=(30, "all"),
                  event="marked assessment", events="marked assessments",
                  value="assessment score", unit="score", higher_is="better",
                  activity_is="better"),
    EventFeatures("assessment_missed", family="academic", aggregates=("count",),
                  windows=(30, "all"), event="missed assessment", events="missed assessments",
                  activity_is="worse"),
    StaticFeatures(["num_of_prev_attempts", "studied_credits", "highest_education",
                    "term_start"], phrases={"term_start": "days since the module started"},
                   units={"term_start": "days"}),
])


@pytest.fixture(scope="module")
def oulad():
    tables = sp.datasets.load_oulad()
    st = tables.students
    ids = st.loc[st["code_module"].astype(str).isin(["AAA", "BBB"]), "student_id"]
    tables = tables.select(ids)
    grid = make_grid(tables, every=14, per="enrolment")
    y = make_labels(tables, grid, outcome="withdrawn", horizon=60)
    keep = y.notna().to_numpy()
    grid, y = grid[keep].reset_index(drop=True), y[keep].astype(int)
    builder = FeatureBuilder(SPEC)
    X = builder.fit(tables, grid).transform(tables, grid)
    pres = tables.students.set_index("student_id")["code_presentation"].astype(str)
    train = pres.reindex(grid["student_id"]).str.startswith("2013").to_numpy()
    return X, y, builder, train


# ~5 s with numba's cache warm, ~20 s when the feature kernels compile first
@pytest.mark.slow
def test_oulad_train_2013_test_2014(oulad, tmp_path):
    X, y, builder, train = oulad
    model = sp.RiskModel().fit(X[train], y[train], feature_info=builder.feature_info_)
    assert model.holdout_["strategy"] == "temporal"
    assert model.training_info_["refit"] is False
    assert model.categories_["highest_education"]  # the builder's codes stay categorical
    p = model.predict_proba(X[~train])[:, 1]
    assert roc_auc_score(y[~train], p) > 0.65
    assert abs(p.mean() - y[~train].mean()) < 0.03
    ex = model.explain(X[~train].head(200))
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_value, ex.raw, atol=1e-9)
    reasons = ex.reasons(top=3)
    sentences = [r["sentence"] for rec in reasons for r in rec["reasons"]]
    phrases = {info.phrase for info in builder.feature_info_.values()}
    assert sentences and all(any(s.lower().startswith(ph.lower()) for ph in phrases)
                             for s in sentences)
    education = [r for rec in reasons for r in rec["reasons"]
                 if r["feature"] == "highest_education"]
    levels = builder.feature_info_["highest_education"].extra["categories"]
    assert all(r["value"] in levels or r["value"] is None for r in education)
    json.dumps(ex.to_records(), allow_nan=False)
    back = sp.RiskModel.load(model.save(tmp_path / "oulad"))
    np.testing.assert_array_equal(back.predict_proba(X[~train]), model.predict_proba(X[~train]))
