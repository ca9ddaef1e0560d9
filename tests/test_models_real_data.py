"""End to end on the bundled UCI dropout data: fit, calibrate, explain, govern, save, load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import studentprofile as sp
from studentprofile.errors import DataQualityWarning
from studentprofile.features._info import infer_feature_infos


@pytest.fixture(scope="module")
def uci():
    tables = sp.datasets.load_uci_dropout()
    st = tables.students.set_index("student_id")
    ev = tables.events[tables.events["known_at"] < 151.0]  # first-semester results only
    wide = ev.pivot_table(index="student_id", columns="kind", values="value", aggfunc="first",
                          observed=True, dropna=False)
    X = st[["program", "admission_grade", "debtor", "tuition_fees_up_to_date",
            "scholarship_holder", "gender"]].join(wide)
    X.index = pd.MultiIndex.from_arrays([X.index, np.full(len(X), 151.0)],
                                        names=["student_id", "as_of"])
    outcome = tables.outcomes.set_index("student_id")["outcome"]
    y = (outcome.reindex(X.index.get_level_values("student_id")) == "dropout").astype(int)
    infos = infer_feature_infos(X, audit_attributes=tables.audit_attributes)
    return X, pd.Series(y.to_numpy(), index=X.index), infos


def test_uci_end_to_end(uci, tmp_path):
    X, y, infos = uci
    assert infos["gender"].sensitivity == "audit"
    rng = np.random.default_rng(0)
    test = rng.uniform(size=len(X)) < 0.3
    # gender is a declared audit attribute: kept as a feature only because it is allowed by name
    model = sp.RiskModel(allow_features=["gender"]).fit(X[~test], y[~test], feature_info=infos)
    assert model.holdout_["strategy"] == "student" and model.training_info_["refit"] is True
    p = model.predict_proba(X[test])[:, 1]
    assert roc_auc_score(y[test], p) > 0.85
    assert abs(p.mean() - y[test].mean()) < 0.03  # calibrated on average
    ex = model.explain(X[test])
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_value, ex.raw, atol=1e-9)
    reasons = ex.reasons(top=3)
    features = {r["feature"] for rec in reasons for r in rec["reasons"]}
    assert "gender" not in features and len(features) >= 3
    opted = ex.reasons(top=len(X.columns), allow=["gender"])
    assert any(r["feature"] == "gender" for rec in opted for r in rec["reasons"])
    json.dumps(reasons, allow_nan=False)
    back = sp.RiskModel.load(model.save(tmp_path / "uci-dropout"))
    np.testing.assert_array_equal(back.predict_proba(X[test]), model.predict_proba(X[test]))
    assert back.explain(X[test]).reasons(top=3) == reasons


def test_uci_protected_columns_are_left_out_by_default(tmp_path):
    # issue 13.1: the published UCI file as a campus would pass it (its own column names,
    # Gender / Nacionality / Marital status / Age at enrollment / Educational special needs)
    X = sp.datasets.uci_dropout_frame()  # a copy: the cached file must not change
    y = (X.pop("Target") == "Dropout").astype(int)
    protected = ["Marital status", "Nacionality", "Educational special needs", "Gender",
                 "Age at enrollment"]
    with pytest.warns(DataQualityWarning, match="look like protected characteristics") as rec:
        model = sp.RiskModel(n_estimators=200).fit(X, y)
    assert len(rec) == 1 and all(repr(c) in str(rec[0].message) for c in protected)
    assert list(model.excluded_features_) == protected
    assert model.excluded_features_["Nacionality"] == (
        "its name names a protected characteristic (nationality: 'nacionality')")
    assert not set(protected) & set(model.feature_names_in_)
    assert model.n_features_in_ == X.shape[1] - len(protected)
    reasons = model.explain(X.head(300)).reasons(top=5)
    cited = {r["feature"] for rec in reasons for r in rec["reasons"]}
    assert cited and not cited & set(protected)
    # scoring takes the same frame, with or without the left-out columns
    np.testing.assert_array_equal(model.predict_proba(X.head(50)),
                                  model.predict_proba(X.head(50).drop(columns=protected)))
    # the saved model records them
    back = sp.RiskModel.load(model.save(tmp_path / "uci"))
    assert back.excluded_features_ == model.excluded_features_
    meta = json.loads((tmp_path / "uci" / "metadata.json").read_text())
    assert sorted(meta["training"]["excluded_features"]) == sorted(protected)
    # allowed by name: a feature again, marked audit, never a reason unless allowed there too
    allowed = sp.RiskModel(n_estimators=50, allow_features=["Age at enrollment"],
                           audit_attributes=protected).fit(X, y)
    assert "Age at enrollment" in allowed.feature_names_in_
    assert allowed.feature_info_["Age at enrollment"].sensitivity == "audit"
    assert "Age at enrollment" not in allowed.excluded_features_
