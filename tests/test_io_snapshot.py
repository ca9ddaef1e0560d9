"""Flat snapshots (one row per student) and student-disjoint k-fold cross-validation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

import studentprofile as sp
from studentprofile.errors import ConfigError, DataQualityWarning, SchemaError
from studentprofile.evaluation import cross_validate, roc_auc
from studentprofile.features import snapshot_matrix
from studentprofile.io import from_snapshot, outcome_rule


def flat(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    credits = rng.integers(0, 60, n)
    return pd.DataFrame({
        "id": [f"{i:05d}" for i in range(n)],
        "credits": credits,
        "program": rng.choice(["Law", "Nursing", "Art"], n),
        "sex": rng.choice(["F", "M"], n),
        "G3": np.where(credits + rng.normal(0, 8, n) > 30, 14, 7),
        "status": np.where(credits < 25, "Dropout", "Graduate"),
    })


def test_snapshot_labels_features_and_audit_attributes():
    snap = from_snapshot(flat(), student_id="id", outcome="status", positive="Dropout",
                         audit_attributes=["sex"], drop=["G3"])
    assert snap.attributes == ("credits", "program")  # not the id, outcome, audit or dropped
    ids = snap.y.index.get_level_values("student_id")
    assert ids[0] == "00000"  # ids stay text, leading zeros kept
    assert snap.y.tolist() == (flat()["status"] == "Dropout").astype(float).tolist()
    X = snapshot_matrix(snap)
    assert list(X.columns) == ["credits", "program"] and X.index.equals(snap.y.index)
    assert set(X.attrs["feature_info"]) == {"credits", "program"}
    assert snap.tables.audit_attributes == ("sex",) or list(snap.tables.audit_attributes) == [
        "sex"]
    assert snap.audit_frame()["sex"].tolist() == flat()["sex"].tolist()
    # the outcomes table holds the positives only, at the snapshot's as-of (no invented dates)
    assert len(snap.tables.outcomes) == int(snap.y.sum())
    assert snap.tables.time_kind == "float"


def test_snapshot_outcome_rules():
    snap = from_snapshot(flat(), student_id="id", outcome="G3", positive="G3 < 10")
    assert snap.y.tolist() == (flat()["G3"] < 10).astype(float).tolist()
    assert "G3" not in snap.attributes and snap.outcome == "G3 < 10"
    col, test = outcome_rule("`final status` == 'Dropout'")
    assert col == "final status"
    assert test(pd.Series(["Dropout", "Graduate", None])).tolist()[:2] == [True, False]
    with pytest.raises(ConfigError, match="one comparison"):
        outcome_rule("__import__('os').system('x')")
    with pytest.raises(SchemaError, match="not 0/1"):
        from_snapshot(flat(), student_id="id", outcome="status")
    binary = flat().assign(dropped=lambda d: (d["status"] == "Dropout").astype(int))
    got = from_snapshot(binary.drop(columns="status"), student_id="id", outcome="dropped")
    assert got.y.sum() == (flat()["status"] == "Dropout").sum()


def test_snapshot_bad_input():
    with pytest.raises(SchemaError, match="ids repeat"):
        from_snapshot(flat().assign(id="x"), student_id="id")
    with pytest.raises(SchemaError, match="'ID' is not in the snapshot"):
        from_snapshot(flat(), student_id="ID")
    with pytest.raises(SchemaError, match="read as decimals"):
        from_snapshot(flat().assign(id=np.arange(120) + 0.0), student_id="id")
    with pytest.raises(SchemaError, match="no rows"):
        from_snapshot(flat().iloc[:0], student_id="id")
    with pytest.warns(DataQualityWarning, match="3 of 120 students have no outcome"):
        snap = from_snapshot(flat().assign(status=lambda d: d["status"].mask(d.index < 3)),
                             student_id="id", outcome="status", positive="Dropout")
    assert snap.y.isna().sum() == 3
    with pytest.warns(DataQualityWarning, match="same outcome"):
        from_snapshot(flat().assign(status="Graduate"), student_id="id", outcome="status",
                      positive="Dropout")
    no_id = from_snapshot(flat().drop(columns="id"), student_id=None)
    assert no_id.y.index.get_level_values("student_id")[:2].tolist() == ["1", "2"]
    assert no_id.y.isna().all()


def test_cross_validate_folds_are_student_disjoint_and_stratified():
    snap = from_snapshot(flat(200), student_id="id", outcome="status", positive="Dropout",
                         audit_attributes=["sex"], drop=["G3"])
    X = snapshot_matrix(snap)
    result = cross_validate(LogisticRegression(), X, snap.y, cv=4, reasons=0,
                            attributes=snap.audit_frame())
    assert result.fold.nunique() == 4 and result.scores.notna().all()
    assert result.folds["n_test"].sum() == 200
    # each row scored by the one model that did not see it: refit by hand and compare
    splits = StratifiedGroupKFold(4, shuffle=True, random_state=0).split(
        X, snap.y.to_numpy(), np.asarray(X.index.get_level_values("student_id")))
    for i, (train, test) in enumerate(splits):
        lr = LogisticRegression().fit(X.iloc[train], snap.y.to_numpy()[train])
        np.testing.assert_allclose(result.scores.iloc[test], lr.predict_proba(X.iloc[test])[:, 1])
        assert (result.fold.iloc[test] == i).all()
    assert result.report.fairness is not None


def test_cross_validate_rows_of_one_student_share_a_fold():
    rng = np.random.default_rng(1)
    idx = pd.MultiIndex.from_product([[f"s{i}" for i in range(40)], [7.0, 14.0]],
                                     names=["student_id", "as_of"])
    X = pd.DataFrame({"x": rng.normal(size=80)}, index=idx)
    y = pd.Series(np.repeat(rng.integers(0, 2, 40), 2).astype(float), index=idx)
    result = cross_validate(LogisticRegression(), X, y, cv=5, reasons=0)
    per_student = result.fold.groupby(level="student_id").nunique()
    assert (per_student == 1).all()


def test_cross_validate_bad_input():
    X = pd.DataFrame({"x": np.arange(20.0)})
    y = pd.Series(np.tile([0.0, 1.0], 10))
    with pytest.raises(SchemaError, match="0 or 1"):
        cross_validate(LogisticRegression(), X, y.replace(1.0, 2.0))
    with pytest.raises(SchemaError, match="index must equal"):
        cross_validate(LogisticRegression(), X, y.set_axis(range(100, 120)))
    with pytest.raises(ConfigError, match="folds >= 2"):
        cross_validate(LogisticRegression(), X, y, cv=1)
    with pytest.raises(SchemaError, match="at least 5 positive"):
        cross_validate(LogisticRegression(), X, y.where(y.index > 15, 0.0), cv=5)


@pytest.mark.slow
def test_uci_flat_path_equals_a_hand_written_risk_model_cv():
    """The flat path's CV AUC equals a hand-written RiskModel CV on the same folds (0.002)."""
    frame = sp.datasets.uci_dropout_frame()
    audit = ["Gender", "Nacionality", "Marital status", "Age at enrollment",
             "Educational special needs", "International", "Displaced"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        snap = from_snapshot(frame, student_id=None, outcome="Target", positive="Dropout",
                             audit_attributes=audit)
    X = snapshot_matrix(snap)
    result = cross_validate(sp.RiskModel(random_state=0), X, snap.y, cv=5, reasons=3)
    by_hand = []
    y = snap.y.to_numpy()
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=0).split(
        X, y, np.asarray(X.index.get_level_values("student_id")))
    for train, test in folds:
        m = sp.RiskModel(random_state=0).fit(X.iloc[train], y[train])
        by_hand.append(roc_auc(y[test], m.predict_proba(X.iloc[test])[:, 1]))
    assert np.abs(result.folds["auc"].to_numpy() - np.array(by_hand)).max() <= 0.002
    assert result.summary()["auc"]["mean"] > 0.88
    assert len(result.reasons) == len(X)
