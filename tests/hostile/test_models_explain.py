"""Hostile inputs for the risk model, explanations and feature infos (the catalogue grows here).

Each test names the issue item it guards (12.x: campus-ready hardening, 13.x: auditor trust).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.models import RiskModel


def _separable(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"absences": rng.uniform(0, 10, n), "noise": rng.normal(size=n)})
    y = (X["absences"] > 5).astype(int).to_numpy()
    return X, y


# ----------------------------------------------------------------- 12.7 label alignment
@pytest.mark.parametrize(
    "y_index",
    [
        pytest.param(lambda n: np.arange(n)[::-1], id="reversed-ints"),
        pytest.param(lambda n: pd.RangeIndex(1, n + 1), id="shifted-rangeindex"),
        pytest.param(lambda n: [f"s{i:04d}" for i in range(n)], id="text-ids"),
        pytest.param(
            lambda n: pd.MultiIndex.from_arrays(
                [[f"s{i}" for i in range(n)], np.zeros(n)], names=["student_id", "as_of"]
            ),
            id="feature-matrix-index",
        ),
    ],
)
def test_y_with_another_index_than_a_rangeindexed_X_is_refused(y_index):
    # regression: X with a RangeIndex and y with any other index were matched by position
    # silently (AUC 0.51 instead of 1.0 when y had been sorted apart from X)
    X, y = _separable()
    y_series = pd.Series(y, index=y_index(len(X)))
    with pytest.raises(SchemaError, match=r"y's index must equal X's index") as info:
        RiskModel(n_estimators=20).fit(X, y_series)
    assert info.value.rule == "aligned"
    assert "y = y.loc[X.index]" in str(info.value)


def test_y_series_with_X_own_rangeindex_and_arrays_still_fit():
    X, y = _separable()
    RiskModel(n_estimators=20).fit(X, pd.Series(y))  # both RangeIndex(0, n)
    keep = pd.Series(y == y, index=X.index)
    RiskModel(n_estimators=20).fit(X[keep], pd.Series(y)[keep])  # filtered the same way
    # an array X has no index to match: any y index is positional
    RiskModel(n_estimators=20).fit(X.to_numpy(), pd.Series(y, index=np.arange(len(y))[::-1]))


def test_y_index_difference_names_the_first_differing_row():
    X, y = _separable()
    with pytest.raises(SchemaError, match=r"row 0: y's index has 399, X's has 0"):
        RiskModel(n_estimators=20).fit(X, pd.Series(y, index=np.arange(len(y))[::-1]))


def test_y_shorter_with_another_index_names_the_lengths():
    X, y = _separable()
    with pytest.raises(SchemaError, match=r"y has 399 rows \(RangeIndex\), X has 400"):
        RiskModel(n_estimators=20).fit(X, pd.Series(y[:-1]))


# ----------------------------------------------------------------- 12.19 feature names
HOSTILE_NAMES = [
    pytest.param(['quiz "final": score, {x}', "clicks [7d]"], id="json-characters"),
    pytest.param(["a b", "a_b"], id="collide-after-lightgbm-sanitising"),
    pytest.param(["出勤率", "Days enrolled"], id="chinese-and-spaces"),
    pytest.param(["__a_x20_b", "a b"], id="looks-like-an-escape"),
]


@pytest.mark.parametrize("names", HOSTILE_NAMES)
def test_free_text_feature_names_fit_save_reload_and_explain(names, tmp_path):
    # regression: LightGBMError "Do not support special JSON characters in feature name" /
    # "Feature (a_b) appears more than one time" from fit
    rng = np.random.default_rng(1)
    n = 300
    X = pd.DataFrame({name: rng.normal(size=n) for name in names})
    X["programme"] = rng.choice(["arts", "law"], n)
    y = (X[names[0]] > 0).astype(int).to_numpy()
    model = RiskModel(n_estimators=30).fit(X, y)
    assert list(model.feature_names_in_) == [*names, "programme"]
    assert len(set(model.booster_.feature_name())) == len(names) + 1
    # readable names in explanations and reasons
    ex = model.explain(X.head(3))
    assert ex.feature_names == [*names, "programme"]
    cited = {r["feature"] for row in ex.reasons(top=3) for r in row["reasons"]}
    assert cited <= {*names, "programme"}
    # the model file reloads and scores the same; metadata keeps the readable names
    model.save(tmp_path / "m")
    again = RiskModel.load(tmp_path / "m")
    assert list(again.feature_names_in_) == [*names, "programme"]
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    np.testing.assert_allclose(again.compile().predict_proba(X), model.predict_proba(X))


def test_lightgbm_names_are_distinct_and_plain_names_unchanged():
    from studentprofile.models._frame import lgb_feature_names

    names = ["absences_30d", "a b", "a_b", "a__b", "_a", "a_", "", "x", '"', "__a_x20_b"]
    out = lgb_feature_names(names)
    assert len(set(out)) == len(names)
    assert out[0] == "absences_30d" and out[2] == "a_b" and out[7] == "x"
    assert all(set(o) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
               for o in out)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=8, unique=True))
def test_lightgbm_names_never_collide_property(names):
    from studentprofile.models._frame import lgb_feature_name, lgb_feature_names

    out = lgb_feature_names(names)
    assert len(set(out)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9_]*", o) for o in out)
    assert all(lgb_feature_name(o) == o for o, n in zip(out, names, strict=True) if o == n)


@pytest.mark.parametrize(
    "weights", [{0: -1}, {0: 0}, {1: float("nan")}, {1: float("inf")}, {1: "5"}, {1: True}]
)
def test_invalid_class_weights_are_config_errors(weights):
    # regression: class_weight={0: -1} was accepted (negative weights trained silently)
    X, y = _separable()
    with pytest.raises(ConfigError, match="a class weight must be a finite number above 0"):
        RiskModel(n_estimators=20, class_weight=weights).fit(X, y)


# ----------------------------------------------------------------- 12.15 lgb_params errors
@pytest.mark.parametrize(
    ("params", "key", "arrived"),
    [
        ({"device_type": "gpu"}, "device_type", r"OpenCL|GPU|gpu"),
        ({"max_bin": 1}, "max_bin", r"max_bin"),
        ({"num_leaves": "abc"}, "num_leaves", r"should be of type int"),
        ({"max_bin": 63, "min_data_in_leaf": -5}, "min_data_in_leaf", r"min_data_in_leaf"),
    ],
)
def test_lightgbm_parameter_errors_are_config_errors(params, key, arrived):
    # regression: lgb_params={"device_type": "gpu"} on a CPU-only LightGBM raised a raw
    # LightGBMError from fit (the CLI reported "this is a bug", exit 3)
    X, y = _separable()
    with pytest.raises(ConfigError, match=rf"lgb_params\.{key}: LightGBM refused") as info:
        RiskModel(n_estimators=20, lgb_params=params).fit(X, y)
    assert info.value.key == f"lgb_params.{key}"
    assert info.value.arrived is not None
    assert re.search(arrived, info.value.arrived)


def test_unknown_and_managed_lightgbm_parameters_are_refused():
    X, y = _separable()
    with pytest.raises(ConfigError, match=r"does not have.*\n.*\['max_bni'\]\n.*did you mean"):
        RiskModel(lgb_params={"max_bni": 63}).fit(X, y)
    # an alias of a parameter RiskModel manages (num_round = num_iterations)
    with pytest.raises(ConfigError, match="may not set parameters RiskModel manages"):
        RiskModel(lgb_params={"num_round": 5}).fit(X, y)
    RiskModel(n_estimators=20, lgb_params={"max_bin": 63}).fit(X, y)  # a good one still works


# ----------------------------------------------------------------- 13.1 audit attributes
def _campus(n: int = 400, seed: int = 2, **extra) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = _separable(n, seed)
    rng = np.random.default_rng(seed)
    for name, make in extra.items():
        X[name] = make(rng, n)
    return X, y


@pytest.mark.parametrize(
    ("column", "values", "why"),
    [
        ("xingbie", lambda r, n: r.choice([0.0, 1.0], n), "sex or gender: 'xingbie'"),
        ("性别", lambda r, n: r.choice(["男", "女"], n), "sex or gender: '性别'"),
        ("minzu", lambda r, n: r.choice(["汉族", "回族"], n), "ethnicity: 'minzu'"),
        ("nianling", lambda r, n: r.integers(17, 30, n).astype(float), "age: 'nianling'"),
        ("StudentAge", lambda r, n: r.integers(17, 30, n).astype(float), "age: 'age'"),
        ("Religion", lambda r, n: r.choice(["a", "b"], n), "religion: 'religion'"),
        ("is_pregnant", lambda r, n: r.choice([0.0, 1.0], n), "pregnancy: 'pregnant'"),
        ("disability_flag", lambda r, n: r.choice([0.0, 1.0], n), "disability: 'disability'"),
        ("Ethnic group", lambda r, n: r.choice(["x", "y"], n), "ethnicity: 'ethnic'"),
        ("kind", lambda r, n: r.choice(["F", "M"], n), "values are codes of a protected"),
        ("status", lambda r, n: r.choice(["Single", "Married", "Other"], n),
         "marital status: ['married', 'single']"),
    ],
)
def test_protected_columns_are_left_out_with_one_warning(column, values, why):
    from studentprofile.errors import DataQualityWarning

    X, y = _campus(**{column: values})
    with pytest.warns(DataQualityWarning, match="look like protected characteristics") as rec:
        model = RiskModel(n_estimators=20).fit(X, y)
    assert len(rec) == 1 and repr(column) in str(rec[0].message)
    assert list(model.excluded_features_) == [column]
    assert why in model.excluded_features_[column]
    assert column not in model.feature_names_in_
    cited = {r["feature"] for row in model.explain(X).reasons(top=3) for r in row["reasons"]}
    assert column not in cited
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X[["absences",
                                                                                  "noise"]]))


@pytest.mark.parametrize(
    "column", ["page_views", "average_score", "stage", "orientation_week", "grace_days",
               "programme", "message_count"],
)
def test_ordinary_columns_are_not_mistaken_for_protected_ones(column):
    X, y = _campus(**{column: lambda r, n: r.normal(size=n)})
    model = RiskModel(n_estimators=20).fit(X, y)  # a warning would fail the test
    assert model.excluded_features_ == {} and column in model.feature_names_in_


def test_declared_and_allowed_audit_attributes():
    X, y = _campus(gender=lambda r, n: r.choice(["F", "M"], n),
                   age_band=lambda r, n: r.choice(["17-20", "21-24"], n),
                   house=lambda r, n: r.choice(["red", "blue"], n))
    # declared (constructor and fit): left out without a warning; allowed by name: kept
    model = RiskModel(n_estimators=20, audit_attributes=["gender"],
                      allow_features=("age_band",)).fit(X, y, audit_attributes=["house"])
    assert model.excluded_features_ == {
        "gender": "declared an audit attribute (audit_attributes)",
        "house": "declared an audit attribute (audit_attributes)",
    }
    assert list(model.feature_names_in_) == ["absences", "noise", "age_band"]
    assert model.feature_info_["age_band"].sensitivity == "audit"
    ex = model.explain(X)
    assert "age_band" not in {r["feature"] for row in ex.reasons(top=3) for r in row["reasons"]}
    opted = ex.reasons(top=3, allow=["age_band"])
    assert "age_band" in {r["feature"] for row in opted for r in row["reasons"]}
    with pytest.raises(ConfigError, match="audit_attributes must be a column name or a list"):
        RiskModel(audit_attributes=3).fit(X, y)
    with pytest.raises(SchemaError, match="every column of X is an audit attribute"):
        RiskModel(audit_attributes=["absences", "noise", "house", "age_band"]).fit(
            X.drop(columns="gender"), y)


def test_builder_opted_in_audit_attribute_stays_a_feature():
    # a FeatureBuilder told StaticFeatures(..., allow_audit=["gender"]) marks the column allowed
    from studentprofile.features import FeatureInfo

    X, y = _campus(gender=lambda r, n: r.choice([0.0, 1.0], n))
    info = FeatureInfo(name="gender", family="static", kind="gender", aggregate="value",
                       window="static", phrase="gender", sensitivity="audit",
                       extra={"categories": ["F", "M"], "allowed_as_feature": True})
    model = RiskModel(n_estimators=20).fit(X, y, feature_info={"gender": info})
    assert "gender" in model.feature_names_in_ and model.excluded_features_ == {}
    # the same info without the builder's opt-in: left out (declared by its FeatureInfo)
    plain = FeatureInfo(**{**info.to_dict(), "extra": {"categories": ["F", "M"]}})
    model = RiskModel(n_estimators=20).fit(X, y, feature_info={"gender": plain})
    assert "sensitivity='audit'" in model.excluded_features_["gender"]


def test_model_card_lists_the_columns_left_out_and_why():
    # issue 13.1: "The model card lists which columns were excluded and why"
    from types import SimpleNamespace

    from studentprofile.features import FeatureInfo
    from studentprofile.pipeline._model_card import model_card

    X, y = _campus(Gender=lambda r, n: r.choice(["F", "M"], n))
    model = RiskModel(n_estimators=20, audit_attributes=["Gender"]).fit(X, y)
    infos = {name: FeatureInfo(name=name, family="static", kind=name, aggregate="value",
                               window="static", phrase=name.lower()) for name in X.columns}
    cfg = SimpleNamespace(
        name="card", description="", label=SimpleNamespace(outcome=["withdrawn"], horizon=60.0),
        grid=SimpleNamespace(every=7.0, per="calendar"),
        evaluation=SimpleNamespace(audit_k=0.1),
    )
    facts = {"versions": {"studentprofile": "x"}, "dataset": "hand-made", "students": 1,
             "events": 0, "grid_rows": 1, "labelled_rows": 1, "positive_rate": 0.5,
             "fingerprints": {}, "audit_attributes": ["Gender"], "tiers": {}}
    empty = pd.DataFrame({"split": [], "n_test": []}).set_index("split")
    report = SimpleNamespace(summary={}, ranking=pd.DataFrame({"k": []}),
                             calibration=pd.DataFrame({"count": []}))
    card = model_card(cfg, facts=facts, report=report,
                      backtest=SimpleNamespace(params={}, metrics=empty), audit=None,
                      feature_info=infos, model=model)
    assert ("Columns left out of the model's features as audit attributes, and why:\n\n"
            "* `Gender`: declared an audit attribute (audit_attributes)") in card
    features = card.split("## Features by family")[1].split("## Sensitive data policy")[0]
    assert "`Gender`" not in features and "`absences`" in features


def test_protected_codes_in_a_plain_array_are_left_out_by_position():
    from studentprofile.errors import DataQualityWarning

    rng = np.random.default_rng(4)
    n = 300
    X = np.empty((n, 3), dtype=object)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = rng.choice(["F", "M"], n)
    X[:, 2] = rng.normal(size=n)
    y = (X[:, 0].astype(float) > 0).astype(int)
    with pytest.warns(DataQualityWarning, match=r"\['x1'\]"):
        model = RiskModel(n_estimators=20).fit(X, y)
    assert list(model.excluded_features_) == ["x1"] and model.n_features_in_ == 2
    assert model.predict_proba(X).shape == (n, 2)  # the same array scores
