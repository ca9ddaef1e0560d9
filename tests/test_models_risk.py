"""RiskModel: fitting, calibration, categories, constraints, determinism and errors."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from studentprofile.errors import ConfigError, NotFittedError, SchemaError
from studentprofile.features._info import FeatureInfo
from studentprofile.models import Calibrator, RiskModel

PROGRAMMES = ["arts", "engineering", "science"]


def feature_matrix(n_students=240, n_weeks=6, seed=0, text_dtype="str"):
    """A weekly feature matrix indexed by (student_id, as_of) with a known risk mechanism."""
    rng = np.random.default_rng(seed)
    sid = np.repeat([f"s{i:04d}" for i in range(n_students)], n_weeks)
    as_of = np.tile(np.arange(n_weeks) * 7.0, n_students)
    student_att = np.repeat(rng.beta(5, 2, n_students), n_weeks)
    n = n_students * n_weeks
    att = np.clip(student_att + rng.normal(0, 0.08, n), 0, 1)
    clicks = rng.poisson(np.repeat(rng.gamma(2, 10, n_students), n_weeks)).astype(float)
    clicks[rng.uniform(size=n) < 0.05] = np.nan
    prog = np.repeat(rng.choice(PROGRAMMES, n_students), n_weeks)
    absences = rng.poisson(3 * (1 - att) * 4).astype(float)
    logit = -1.0 - 4.0 * (att - 0.7) + 0.6 * (prog == "arts") - 0.01 * np.nan_to_num(clicks, nan=20)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "att_rate_30d": att,
            "lms_clicks_7d": clicks,
            "absences_30d": absences,
            "programme": pd.array(prog, dtype=text_dtype),
        },
        index=pd.MultiIndex.from_arrays([sid, as_of], names=["student_id", "as_of"]),
    )
    return X, pd.Series(y, index=X.index, name="label")


INFOS = {
    "att_rate_30d": FeatureInfo(
        name="att_rate_30d", family="behavioral", kind="class_attendance", aggregate="mean",
        window="30d", phrase="class attendance over the last 30 days", unit="share",
        higher_is="better",
    ),
    "absences_30d": FeatureInfo(
        name="absences_30d", family="behavioral", kind="class_attendance", aggregate="count",
        window="30d", phrase="absences over the last 30 days", unit="count", higher_is="worse",
    ),
}


@pytest.fixture(scope="module")
def data():
    return feature_matrix()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return RiskModel(random_state=0).fit(X, y, feature_info=INFOS)


def test_fitted_attributes(fitted, data):
    X, _ = data
    m = fitted
    assert list(m.classes_) == [0, 1]
    assert list(m.feature_names_in_) == list(X.columns) and m.n_features_in_ == 4
    assert m.feature_info_["att_rate_30d"] is INFOS["att_rate_30d"]
    assert m.feature_info_["programme"].phrase == "programme"  # inferred
    assert m.categories_ == {"programme": PROGRAMMES}
    assert m.booster_.num_trees() == m.best_iteration_ < m.n_estimators
    assert isinstance(m.calibrator_, Calibrator) and m.calibrator_.method == "sigmoid"
    assert m.holdout_["strategy"] == "temporal"
    assert m.training_info_["refit"] is False  # "auto": no refit after a temporal split
    assert m.training_info_["holdout_metrics"]["auc"] > 0.6
    assert m.reference_values_["programme"] in PROGRAMMES
    assert m.reference_values_["att_rate_30d"] == pytest.approx(X["att_rate_30d"].median())


def test_predictions_are_calibrated_raw_scores(fitted, data):
    X, _ = data
    raw = fitted.predict_raw(X)
    assert raw.shape == (len(X),)
    proba = fitted.predict_proba(X)
    np.testing.assert_array_equal(proba, fitted.calibrator_.transform(raw))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X), np.where(proba[:, 1] > 0.5, 1, 0))
    risk = fitted.predict_risk(X)
    assert risk.index.equals(X.index) and np.array_equal(risk.to_numpy(), proba[:, 1])
    # raw scores are LightGBM's own
    np.testing.assert_array_equal(raw, fitted.booster_.predict(X.astype({"programme": "category"}),
                                                               raw_score=True))


def test_calibration_on_later_slice_is_honest_out_of_sample():
    """On new students, calibrated probabilities match observed rates better than raw ones."""
    X, y = feature_matrix(n_students=600, seed=1)
    Xt, yt = feature_matrix(n_students=600, seed=2)
    m = RiskModel(random_state=0, class_weight="balanced").fit(X, y)
    p_cal = m.predict_proba(Xt)[:, 1]
    p_raw = 1 / (1 + np.exp(-m.predict_raw(Xt)))
    # balanced weights inflate the raw probabilities; calibration undoes it
    assert abs(p_cal.mean() - yt.mean()) < 0.02
    assert abs(p_raw.mean() - yt.mean()) > 0.05
    brier = lambda p: np.mean((p - yt.to_numpy()) ** 2)  # noqa: E731
    assert brier(p_cal) < brier(p_raw)


def test_text_columns_object_str_and_category_are_the_same_model():
    Xs, y = feature_matrix(text_dtype="str")
    Xo, _ = feature_matrix(text_dtype=object)
    Xc, _ = feature_matrix(text_dtype="category")
    texts = [RiskModel(random_state=1).fit(X, y).booster_.model_to_string() for X in (Xs, Xo, Xc)]
    assert texts[0] == texts[1] == texts[2]


def test_unknown_category_is_missing(fitted, data):
    X, _ = data
    head = X.head(6).copy()
    unseen = head.copy()
    unseen["programme"] = pd.Series(["medicine"] * 6, index=head.index, dtype="str")
    missing = head.copy()
    missing["programme"] = pd.Series([None] * 6, index=head.index, dtype="str")
    np.testing.assert_array_equal(fitted.predict_raw(unseen), fitted.predict_raw(missing))
    enc = fitted.encode(unseen)
    assert np.isnan(enc[:, 3]).all()


def test_encode_gives_the_matrix_the_trees_split_on(fitted, data):
    X, _ = data
    enc = fitted.encode(X)
    assert enc.dtype == np.float64 and enc.shape == X.shape
    codes = pd.Categorical(X["programme"].astype(object), categories=PROGRAMMES).codes
    np.testing.assert_array_equal(enc[:, 3], codes.astype(float))
    np.testing.assert_array_equal(fitted.booster_.predict(enc, raw_score=True),
                                  fitted.predict_raw(X))


def test_columns_matched_by_name_not_position(fitted, data):
    X, _ = data
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(fitted.predict_raw(shuffled), fitted.predict_raw(X))


def test_numeric_codes_as_categories():
    X, y = feature_matrix()
    X = X.assign(programme=X["programme"].map({p: 100 + i for i, p in enumerate(PROGRAMMES)}))
    m = RiskModel(categorical_features=["programme"]).fit(X, y)
    assert m.categories_ == {"programme": [100, 101, 102]}
    # float codes at predict time find the integer levels
    as_float = X.assign(programme=X["programme"].astype(float))
    np.testing.assert_array_equal(m.predict_raw(as_float), m.predict_raw(X))


def test_determinism_bit_identical_model_text():
    X, y = feature_matrix(seed=3)
    a = RiskModel(random_state=7).fit(X, y).booster_.model_to_string()
    b = RiskModel(random_state=7).fit(X, y).booster_.model_to_string()
    c = RiskModel(random_state=8).fit(X, y).booster_.model_to_string()
    assert a == b
    assert a != c


def test_monotone_constraints_by_name_hold_everywhere(data):
    X, y = data
    m = RiskModel(monotone_constraints={"absences_30d": 1, "att_rate_30d": -1}).fit(X, y)
    rows = X.sample(50, random_state=0)
    grid = np.linspace(0, 1, 21)
    for name, values, sign in (("att_rate_30d", grid, -1), ("absences_30d", grid * 20, 1)):
        raw = np.stack([m.predict_raw(rows.assign(**{name: v})) for v in values], axis=1)
        steps = np.diff(raw, axis=1) * sign
        assert (steps >= -1e-12).all(), name
    auto = RiskModel(monotone_constraints="auto").fit(X, y, feature_info=INFOS)
    assert auto.training_info_["lightgbm_params"]["monotone_constraints"] == [-1, 0, 1, 0]


def test_monotone_constraint_errors(data):
    X, y = data
    with pytest.raises(ConfigError, match=r"names features that X does not have[\s\S]*absense"):
        RiskModel(monotone_constraints={"absense": 1}).fit(X, y)
    with pytest.raises(ConfigError, match="must be -1, 0 or \\+1"):
        RiskModel(monotone_constraints={"absences_30d": 2}).fit(X, y)
    with pytest.raises(ConfigError, match="numeric features only"):
        RiskModel(monotone_constraints={"programme": 1}).fit(X, y)
    y3 = pd.Series(np.arange(len(y)) % 3, index=y.index)
    with pytest.raises(ConfigError, match="binary models only"):
        RiskModel(monotone_constraints={"absences_30d": 1}).fit(X, y3)


def test_multiclass_outcomes():
    X, y = feature_matrix(seed=4)
    outcome = np.where(y == 1, "dropout", np.where(X["att_rate_30d"] > 0.8, "graduate",
                                                   "enrolled"))
    m = RiskModel().fit(X, outcome)
    assert list(m.classes_) == ["dropout", "enrolled", "graduate"]
    raw = m.predict_raw(X)
    assert raw.shape == (len(X), 3)
    proba = m.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(m.predict(X)) <= set(m.classes_)
    frame = m.predict_risk(X)
    assert list(frame.columns) == list(m.classes_)
    assert m.booster_.num_trees() == 3 * m.best_iteration_


def test_class_weight_balanced_moves_raw_not_ranking_much(data):
    X, y = data
    a = RiskModel().fit(X, y)
    b = RiskModel(class_weight="balanced").fit(X, y)
    assert b.predict_raw(X).mean() > a.predict_raw(X).mean() + 0.3
    with pytest.raises(ConfigError, match="names classes that y does not have"):
        RiskModel(class_weight={0: 1.0, 2: 3.0}).fit(X, y)


def test_refit_choices(data):
    X, y = data
    m = RiskModel(refit=False).fit(X, y)
    assert m.training_info_["refit"] is False
    m2 = RiskModel(refit=True).fit(X, y)
    assert m2.training_info_["refit"] is True
    assert m.best_iteration_ == m2.best_iteration_
    assert m.booster_.model_to_string() != m2.booster_.model_to_string()
    # the calibration is the one fitted on the held-out slice either way
    assert m.calibrator_ == m2.calibrator_
    auto = RiskModel().fit(X, y)
    assert auto.holdout_["strategy"] == "temporal" and auto.training_info_["refit"] is False
    assert auto.booster_.model_to_string() == m.booster_.model_to_string()
    flat = RiskModel().fit(X.reset_index(drop=True), y.to_numpy())
    assert flat.holdout_["strategy"] == "row" and flat.training_info_["refit"] is True


def test_groups_and_time_without_index(data):
    X, y = data
    flat = X.reset_index(drop=True)
    students = X.index.get_level_values("student_id")
    times = X.index.get_level_values("as_of")
    a = RiskModel().fit(flat, y.to_numpy(), groups=students, time=times)
    b = RiskModel().fit(X, y)
    assert a.holdout_ == b.holdout_
    assert a.booster_.model_to_string() == b.booster_.model_to_string()
    c = RiskModel().fit(flat, y.to_numpy())
    assert c.holdout_["strategy"] == "row"


def test_too_small_for_a_holdout_trains_without_calibration(caplog):
    X, y = feature_matrix(n_students=10, n_weeks=2)
    with caplog.at_level(logging.WARNING, logger="studentprofile.models._risk_model"):
        m = RiskModel(n_estimators=30, min_child_samples=2, extra_trees=False).fit(X, y)
    assert m.holdout_["strategy"] == "none"
    assert "held-out slice would hold" in m.holdout_["reason"]
    assert m.calibrator_.method == "none" and m.best_iteration_ == 30
    assert "no early stopping and no calibration" in caplog.text
    assert "s000" not in caplog.text  # no student identifiers in logs


def test_validation_fraction_none():
    X, y = feature_matrix(n_students=60)
    m = RiskModel(validation_fraction=None, n_estimators=40).fit(X, y)
    assert m.best_iteration_ == 40 and m.holdout_ == {
        "strategy": "none", "reason": "validation_fraction=None"}


def test_clone_and_params():
    m = RiskModel(num_leaves=9, monotone_constraints={"a": 1})
    c = clone(m)
    assert c.get_params() == m.get_params()
    with pytest.raises(TypeError):
        RiskModel(31)  # keyword-only


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"learning_rate": 0}, r"learning_rate must be a number in \(0, 1\]"),
        ({"n_estimators": 2.5}, "n_estimators must be an integer"),
        ({"calibration": "platt"}, "calibration must be one of"),
        ({"validation_fraction": 1.0}, "validation_fraction must be a number"),
        ({"random_state": None}, "random_state must be a non-negative integer"),
        ({"class_weight": "auto"}, "class_weight must be None, 'balanced'"),
        ({"lgb_params": {"objective": "regression"}}, "may not set parameters RiskModel manages"),
        ({"categorical_features": "programme"}, "categorical_features must be 'auto' or a list"),
        ({"refit": "yes"}, "refit must be True, False or 'auto'"),
    ],
)
def test_bad_parameters(params, match, data):
    X, y = data
    with pytest.raises(ConfigError, match=match):
        RiskModel(**params).fit(X, y)


def test_bad_data(data, fitted):
    X, y = data
    with pytest.raises(SchemaError, match="must not have missing labels"):
        RiskModel().fit(X, y.where(y.index.get_level_values("as_of") > 0))
    with pytest.raises(SchemaError, match=r"at least two classes \(got 1 class\)"):
        RiskModel().fit(X, np.zeros(len(X)))
    with pytest.raises(SchemaError, match="index must equal X's index"):
        RiskModel().fit(X, y.iloc[::-1])
    with pytest.raises(SchemaError, match="one label per row"):
        RiskModel().fit(X, y.to_numpy()[:-1])
    with pytest.raises(SchemaError, match="date and time columns are not model features"):
        RiskModel().fit(X.assign(day=pd.Timestamp("2024-01-01")), y)
    with pytest.raises(SchemaError, match="must not mix text and numbers"):
        RiskModel().fit(X.assign(programme=["a", 1] * (len(X) // 2)), y)
    with pytest.raises(SchemaError, match="requires y to be passed"):
        RiskModel().fit(X, None)
    with pytest.raises(SchemaError, match="feature names should match[\\s\\S]*- programme"):
        fitted.predict_proba(X.drop(columns="programme"))
    with pytest.raises(SchemaError, match="must be a DataFrame with the columns"):
        fitted.predict_proba(X.drop(columns="programme").to_numpy())
    with pytest.raises(SchemaError, match="held numbers when the model was fitted"):
        fitted.predict_proba(X.assign(att_rate_30d="high"))


def test_not_fitted_is_ours_and_sklearns():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    for method in ("predict", "predict_proba", "predict_raw", "explain", "encode"):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(RiskModel(), method)(np.zeros((2, 2)))
        with pytest.raises(SkNotFitted):
            getattr(RiskModel(), method)(np.zeros((2, 2)))


def test_compile_returns_the_compiled_scorer(fitted, data):
    from studentprofile.compiled import CompiledScorer

    X, _ = data
    scorer = fitted.compile()
    assert isinstance(scorer, CompiledScorer)
    np.testing.assert_allclose(scorer.predict_proba(X.head(5)), fitted.predict_proba(X.head(5)))


def test_models_import_explain_and_compiled_only_inside_the_facades():
    # explain/ and compiled/ sit above models/: RiskModel.explain and RiskModel.compile import
    # them lazily (plain imports inside the method); nothing else in models/ may import them,
    # and no importlib call may hide an import (regression: compile used import_module)
    import ast
    from pathlib import Path

    import studentprofile.models as models

    upward = ("studentprofile.explain", "studentprofile.compiled")
    found = []
    for path in sorted(Path(models.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        assert "import_module" not in path.read_text("utf-8"), path.name
        type_checking = {
            id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                        upward
                    ):
                        found.append((path.name, node.name, inner.module))
            elif (
                isinstance(node, ast.ImportFrom)
                and node.col_offset == 0
                and (node.module or "").startswith(upward)
                and id(node) not in type_checking
            ):
                found.append((path.name, "<module>", node.module))
    assert sorted(found) == [
        ("_risk_model.py", "compile", "studentprofile.compiled"),
        ("_risk_model.py", "explain", "studentprofile.explain"),
    ]


def test_empty_batch(fitted, data):
    X, _ = data
    assert fitted.predict_proba(X.iloc[:0]).shape == (0, 2)
    assert fitted.predict_raw(X.iloc[:0]).shape == (0,)
