"""Hostile inputs for the risk model, explanations and feature infos (the catalogue grows here).

Each test names the issue item it guards (12.x: campus-ready hardening, 13.x: auditor trust).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

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
    pytest.param(["出勤率", "Marital status"], id="chinese-and-spaces"),
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
