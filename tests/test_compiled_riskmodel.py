"""RiskModel(...).fit(...).compile() equals the model: raw scores, probabilities, SHAP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studentprofile.errors import SchemaError

models = pytest.importorskip("studentprofile.models")


def _students(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    attendance = rng.random(n)
    attendance[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "attendance_30d": attendance,
            "lms_clicks_14d": rng.poisson(20, n).astype(float),
            "mean_score": np.where(rng.random(n) < 0.05, np.nan, rng.normal(60, 15, n)),
            "program": pd.Categorical(rng.choice(["law", "math", "art", "bio", "med"], n)),
            "campus": rng.choice(["north", "south", "east"], n).astype(object),
        }
    )


def _binary_target(X: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = (
        -2.0 * np.nan_to_num(X["attendance_30d"].to_numpy(), nan=0.3)
        - 0.02 * X["lms_clicks_14d"].to_numpy()
        + (X["program"] == "art").to_numpy() * 0.8
        + rng.normal(0, 0.5, len(X))
    )
    return (logit > np.median(logit)).astype(int)


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame]:
    X = _students(800, 1)
    y = _binary_target(X, 2)
    model = models.RiskModel(n_estimators=60, random_state=0).fit(X, y)
    return model, _students(300, 3)


def test_compile_equals_risk_model(fitted: tuple[object, pd.DataFrame]) -> None:
    model, X = fitted
    scorer = model.compile()
    assert scorer.source == "risk_model"
    # unseen category levels and missing values on the text column too
    X = X.copy()
    X.loc[:10, "campus"] = "west"
    X.loc[11:20, "campus"] = None
    np.testing.assert_array_equal(scorer.predict_raw(X), model.predict_raw(X))
    np.testing.assert_allclose(scorer.predict_proba(X), model.predict_proba(X),
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(scorer.predict(X), model.predict(X))
    explanation = model.explain(X)
    shap = scorer.shap_values(X)
    p = X.shape[1]
    np.testing.assert_allclose(shap[:, :p], explanation.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(shap[:, p], explanation.base_value, rtol=0, atol=1e-9)
    proba = model.predict_proba(X)
    for i in (0, 5, 12):
        assert scorer.predict_one(X.iloc[i].to_dict()) == pytest.approx(proba[i, 1], abs=1e-12)


def test_compile_equals_multiclass_risk_model() -> None:
    X = _students(900, 4)
    score = np.nan_to_num(X["attendance_30d"].to_numpy(), nan=0.5) + (X["program"] == "law") * 0.3
    y = np.select([score < 0.4, score < 0.8], ["dropout", "enrolled"], "graduate")
    model = models.RiskModel(n_estimators=40, random_state=0).fit(X, y)
    scorer = model.compile()
    new = _students(200, 5)
    np.testing.assert_array_equal(scorer.predict_raw(new), model.predict_raw(new))
    np.testing.assert_allclose(scorer.predict_proba(new), model.predict_proba(new), atol=1e-12)
    np.testing.assert_array_equal(scorer.predict(new), model.predict(new))
    explanation = model.explain(new)
    k = len(model.classes_)
    p = new.shape[1]
    shap = scorer.shap_values(new).reshape(len(new), k, p + 1)
    np.testing.assert_allclose(shap[:, :, :p].transpose(0, 2, 1), explanation.values, atol=1e-9)


@pytest.fixture(scope="module")
def numeric_scorer() -> tuple[object, object]:
    X = _students(600, 11).drop(columns=["program", "campus"])
    model = models.RiskModel(n_estimators=30, random_state=0).fit(X, _binary_target(
        _students(600, 11), 3))
    return model, model.compile()


_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.integers(min_value=-1000, max_value=1000).map(np.int32),
    st.floats(width=32, allow_nan=True).map(np.float32),
)


@settings(deadline=None)
@given(values=st.lists(_number, min_size=3, max_size=3), as_series=st.booleans())
def test_a_mapping_of_numbers_scores_as_the_one_row_frame_does(numeric_scorer, values,
                                                               as_series) -> None:
    """predict_one's direct path for plain numbers equals the frame path bit for bit."""
    model, scorer = numeric_scorer
    row = dict(zip(scorer.feature_names, values, strict=True))
    frame = pd.DataFrame([row])
    got = scorer.predict_one(pd.Series(row, dtype=object) if as_series else row)
    assert got == scorer.predict_proba(frame)[0, 1] or (np.isnan(got) and np.isnan(
        scorer.predict_proba(frame)[0, 1]))


def test_a_mapping_with_text_none_or_a_missing_name_still_gets_the_frame_paths_errors(
        numeric_scorer) -> None:
    _, scorer = numeric_scorer
    names = scorer.feature_names
    row = dict.fromkeys(names, 1.0)
    with pytest.raises(SchemaError, match=rf"X\.{names[1]}.*numeric"):
        scorer.predict_one({**row, names[1]: "7"})
    with pytest.raises(SchemaError, match=rf"X\.{names[0]}.*numeric"):
        scorer.predict_one({**row, names[0]: None})
    with pytest.raises(SchemaError, match="missing model features"):
        scorer.predict_one({k: v for k, v in row.items() if k != names[2]})
