"""The compiled scorer equals LightGBM: raw scores to 1e-12 (in fact bit for bit), SHAP to 1e-9.

Models are trained inside the tests on Hypothesis-generated data (every missing-value type,
categorical features with bitsets of several words, binary / multiclass / regression, 2..255
leaves, depth limits), and scored on generated inputs full of NaN, +-inf, zeros, tiny values
around LightGBM's zero threshold, extreme values and values exactly at the split thresholds.
A slow pure-Python transcription of LightGBM's ``Tree::NumericalDecision`` /
``CategoricalDecision`` is the independent reference for the traversal; LightGBM itself is the
reference for everything.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from studentprofile.compiled import CompiledScorer, compile
from studentprofile.compiled import _kernels as K
from studentprofile.errors import ConfigError, ModelIntegrityError, SchemaError
from studentprofile.models._lgb_text import ParsedModel, parse_model_text

MODELS = Path(__file__).parent / "models"
KZERO = float(np.float32(1e-35))


# ------------------------------------------------------------------------------------------
# slow references
# ------------------------------------------------------------------------------------------
def _reference_tree(tree: Any, x: np.ndarray) -> float:
    """LightGBM's Tree::GetLeaf, line by line, on a row already passed through the C API."""
    if tree.num_leaves == 1:
        return float(tree.leaf_value[0])
    node = 0
    while node >= 0:
        fval = float(x[tree.split_feature[node]])
        dt = int(tree.decision_type[node])
        if dt & 1:  # CategoricalDecision
            if math.isnan(fval):
                node = int(tree.right_child[node])
                continue
            int_fval = int(fval) if -(2.0**31) < fval < 2.0**31 else -(2**31)
            if int_fval < 0:
                node = int(tree.right_child[node])
                continue
            cat_idx = int(tree.threshold[node])
            lo, hi = int(tree.cat_boundaries[cat_idx]), int(tree.cat_boundaries[cat_idx + 1])
            word = int_fval // 32
            found = word < hi - lo and (int(tree.cat_threshold[lo + word]) >> (int_fval % 32)) & 1
            node = int(tree.left_child[node]) if found else int(tree.right_child[node])
            continue
        missing = (dt >> 2) & 3
        if math.isnan(fval) and missing != 2:
            fval = 0.0
        if (missing == 1 and -KZERO <= fval <= KZERO) or (missing == 2 and math.isnan(fval)):
            node = int(tree.left_child[node]) if dt & 2 else int(tree.right_child[node])
        elif fval <= tree.threshold[node]:
            node = int(tree.left_child[node])
        else:
            node = int(tree.right_child[node])
    return float(tree.leaf_value[~node])


def _reference_raw(model: ParsedModel, X: np.ndarray) -> np.ndarray:
    k = model.num_tree_per_iteration
    out = np.zeros((X.shape[0], k))
    for r in range(X.shape[0]):
        # the C API drops |v| <= kZeroThreshold from a dense row (it becomes 0.0)
        row = np.where(np.abs(X[r]) <= KZERO, 0.0, X[r])
        for t, tree in enumerate(model.trees):
            out[r, t % k] += _reference_tree(tree, row)
    return out


# ------------------------------------------------------------------------------------------
# generated models and inputs
# ------------------------------------------------------------------------------------------
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-36, -1e-36, KZERO, -KZERO, 1e300, -1e300,
           5e-324, 1.0, -1.0]
CAT_SPECIAL = [np.nan, -1.0, -0.5, 0.0, 0.9, 31.0, 32.0, 33.0, 63.0, 64.0, 65.0, 1e10, 2.0**31,
               -(2.0**31), np.inf, -np.inf, 3.7]


@st.composite
def trained_models(draw: st.DrawFn) -> tuple[lgb.Booster, np.ndarray, list[int]]:
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    num_leaves = draw(st.sampled_from([2, 3, 7, 31, 255, 255]))
    # enough rows for 255 leaves to grow deep, leaf-wise trees (and the classic SHAP fallback)
    n = draw(st.integers(40, 300)) if num_leaves < 255 else draw(st.integers(500, 1500))
    n_num = draw(st.integers(1, 4))
    n_cat = draw(st.integers(0, 2))
    objective = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    missing = draw(st.sampled_from(["nan", "zero", "none"]))
    X = rng.normal(size=(n, n_num + n_cat)) * draw(st.sampled_from([1e-3, 1.0, 1e6]))
    # ties and zeros so thresholds fall on repeated values
    X[:, :n_num] = np.round(X[:, :n_num], draw(st.integers(0, 3)))
    cats: list[int] = []
    for j in range(n_num, n_num + n_cat):
        n_levels = draw(st.sampled_from([3, 12, 40, 70, 70]))  # 40, 70: bitsets of 2-3 words
        X[:, j] = rng.integers(0, n_levels, size=n)
        cats.append(j)
    if missing == "nan":
        X[rng.random(X.shape) < draw(st.sampled_from([0.05, 0.3]))] = np.nan
    elif missing == "zero":
        X[:, :n_num][rng.random((n, n_num)) < 0.3] = 0.0
    signal = np.nan_to_num(X[:, 0]) + (np.nan_to_num(X[:, -1]) % 3 if n_cat else 0)
    if objective == "binary":
        y = (signal + rng.normal(size=n) > np.median(signal)).astype(float)
    elif objective == "multiclass":
        y = np.digitize(signal + rng.normal(size=n) * 0.5, np.quantile(signal, [0.33, 0.66]))
    else:
        y = signal + rng.normal(size=n)
    if objective != "regression" and len(np.unique(y)) < (3 if objective == "multiclass" else 2):
        y[: 3] = [0, 1, 2][: 3] if objective == "multiclass" else [0, 1, 0]
    params: dict[str, Any] = {
        "objective": objective,
        "verbose": -1,
        "num_leaves": num_leaves,
        "max_depth": draw(st.sampled_from([-1, -1, -1, 2, 5, 12])),
        "min_data_in_leaf": draw(st.sampled_from([1, 1, 3, 10])),
        "min_sum_hessian_in_leaf": 0.0,
        "min_data_per_group": 1,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": draw(st.sampled_from([1, 1, 4])),
        "learning_rate": 0.3,
        "num_threads": 1,
        "deterministic": True,
        "seed": seed,
    }
    if objective == "multiclass":
        params["num_class"] = 3
    if missing == "zero":
        params["zero_as_missing"] = True
    elif missing == "none":
        params["use_missing"] = False
    rounds = draw(st.integers(1, 6))
    try:
        booster = lgb.train(
            params,
            lgb.Dataset(X, y, categorical_feature=cats or "auto", free_raw_data=False),
            num_boost_round=rounds,
        )
    except lgb.basic.LightGBMError as exc:
        # LightGBM's own training sometimes aborts on tiny, tie-heavy data with
        # "Check failed: (best_split_info.left_count) > (0)" (open upstream bugs
        # lightgbm-org/LightGBM#4739 and #3679). No model, nothing of ours to test: reject the
        # example; any other LightGBM error still fails the test.
        assume("best_split_info" not in str(exc))
        raise
    return booster, X, cats


def _thresholds(booster: lgb.Booster) -> np.ndarray:
    model = parse_model_text(booster.model_to_string())
    values = [t.threshold[(t.decision_type & 1) == 0] for t in model.trees if t.num_leaves > 1]
    return np.concatenate(values) if values else np.zeros(0)


def _inputs(rng: np.random.Generator, X: np.ndarray, cats: list[int], thresholds: np.ndarray,
            n_extra: int = 60) -> np.ndarray:
    rows = [X[: min(len(X), 80)]]
    extra = rng.normal(size=(n_extra, X.shape[1]))
    pool = np.concatenate([SPECIAL, thresholds, np.nextafter(thresholds, np.inf),
                           np.nextafter(thresholds, -np.inf)])
    pick = rng.random(extra.shape) < 0.7
    extra[pick] = rng.choice(pool, size=int(pick.sum()))
    for j in cats:
        extra[:, j] = rng.choice(CAT_SPECIAL + list(range(70)), size=n_extra)
    rows.append(extra)
    return np.concatenate(rows)


def _assert_matches(booster: lgb.Booster, scorer: CompiledScorer, Z: np.ndarray) -> None:
    ref = booster.predict(Z, raw_score=True)
    ours = scorer.predict_raw(Z)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    ref_contrib = booster.predict(Z, pred_contrib=True)
    # 1e-9 absolute for outputs of size <= 1; for a regression on targets of size 1e6 the
    # double format itself cannot resolve 1e-9, so the bound scales with the outputs
    scale = max(1.0, float(np.abs(ref_contrib).max(initial=0.0)))
    np.testing.assert_allclose(scorer.shap_values(Z), ref_contrib, rtol=0, atol=1e-9 * scale)


@given(trained_models(), st.integers(0, 2**32 - 1))
def test_generated_models_match_lightgbm(model: tuple[lgb.Booster, np.ndarray, list[int]],
                                         seed: int) -> None:
    booster, X, cats = model
    Z = _inputs(np.random.default_rng(seed), X, cats, _thresholds(booster))
    scorer = compile(booster)
    # what the examples cover (see --hypothesis-show-statistics)
    depth = int(scorer.arrays["tree_depth"].max(initial=0))
    event(f"max tree depth {'0-4' if depth < 5 else '5-15' if depth < 16 else '16+'}")
    event(f"trees on classic TreeSHAP: {scorer.n_trees - scorer.n_trees_fast_shap > 0}")
    words = int(scorer.arrays["colinfo"][:, 3].max(initial=0))
    event(f"widest categorical bitset: {words} words")
    _assert_matches(booster, scorer, Z)
    # the classic TreeSHAP fallback (no tables at all), and a mix of both, give the same values
    fast = scorer.shap_values(Z)
    scale = max(1.0, float(np.abs(fast).max(initial=0.0)))
    classic = compile(booster, shap_memory_limit=0)
    assert classic.n_trees_fast_shap == 0
    np.testing.assert_allclose(classic.shap_values(Z), fast, rtol=0, atol=1e-9 * scale)
    mixed = compile(booster, max_fast_depth=3)
    np.testing.assert_allclose(mixed.shap_values(Z), fast, rtol=0, atol=1e-9 * scale)
    # single-row path equals the batch path bit for bit
    raw = scorer.predict_raw(Z[:20])
    for i in range(min(len(Z), 20)):
        one = scorer.predict_one(Z[i], raw=True)
        np.testing.assert_array_equal(one, raw[i])


@given(trained_models(), st.integers(0, 2**32 - 1))
def test_traversal_equals_slow_reference(model: tuple[lgb.Booster, np.ndarray, list[int]],
                                         seed: int) -> None:
    booster, X, cats = model
    Z = _inputs(np.random.default_rng(seed), X, cats, _thresholds(booster), n_extra=30)
    parsed = parse_model_text(booster.model_to_string())
    ref = _reference_raw(parsed, Z)
    ours = compile(booster).predict_raw(Z)
    np.testing.assert_array_equal(ours.reshape(ref.shape), ref)


@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([K.KIND_NONE, K.KIND_NAN_LEFT, K.KIND_NAN_RIGHT, K.KIND_ZERO_LEFT,
                     K.KIND_ZERO_RIGHT, K.KIND_CAT]),
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=3),
    st.floats(allow_nan=False, allow_infinity=True),
    st.booleans(),
)
def test_column_value_decides_like_lightgbm(v: float, kind: int, words: list[int],
                                            threshold: float, default_left: bool) -> None:
    """Prepared value + `not (xv <= thr)` makes LightGBM's decision, for every kind of node."""
    cat_words = np.array(words, np.int64)
    xv = K.column_value(v, kind, 0, len(words), cat_words)
    if kind == K.KIND_CAT:
        go_right = not (xv <= 0.5)
        fval = v
        if math.isnan(fval) or fval <= -1.0 or fval >= 2.0**31:
            expected = True
        else:
            c = int(fval)
            expected = not (c // 32 < len(words) and (words[c // 32] >> (c % 32)) & 1)
        assert go_right == expected
        return
    go_right = not (xv <= threshold)
    fval = 0.0 if abs(v) <= KZERO else v
    missing = {K.KIND_NONE: 0, K.KIND_ZERO_LEFT: 1, K.KIND_ZERO_RIGHT: 1}.get(kind, 2)
    dl = kind in (K.KIND_NAN_LEFT, K.KIND_ZERO_LEFT)
    if kind in (K.KIND_NAN_LEFT, K.KIND_NAN_RIGHT):
        missing = 2
    if math.isnan(fval) and missing != 2:
        fval = 0.0
    if (missing == 1 and fval == 0.0) or (missing == 2 and math.isnan(fval)):
        expected = not dl
    else:
        expected = not (fval <= threshold)
    assert go_right == expected


def test_deep_leafwise_trees_match_with_every_shap_path() -> None:
    """255 leaves grown leaf-wise on a skewed target: deep trees, tables, fallback and a mix."""
    rng = np.random.default_rng(21)
    X = rng.normal(size=(3000, 12))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.exp(2 * np.nan_to_num(X[:, 0])) + np.nan_to_num(X[:, 1:]).sum(axis=1)
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 255,
                         "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 0.0, "num_threads": 1},
                        lgb.Dataset(X, y), 4)
    scorer = compile(booster)
    assert int(scorer.arrays["tree_depth"].max()) >= 12
    Z = _inputs(np.random.default_rng(22), X, [], _thresholds(booster), n_extra=200)
    _assert_matches(booster, scorer, Z)
    mixed = compile(booster, max_fast_depth=11)  # some trees with tables, some without
    assert 0 < mixed.n_trees_fast_shap < mixed.n_trees
    for other in (compile(booster, shap_memory_limit=0), mixed):
        np.testing.assert_allclose(other.shap_values(Z), scorer.shap_values(Z), rtol=0,
                                   atol=1e-9 * max(1.0, float(np.abs(scorer.shap_values(Z)).max())))


# ------------------------------------------------------------------------------------------
# committed models
# ------------------------------------------------------------------------------------------
COMMITTED = sorted(MODELS.glob("*.txt"))


def test_committed_models_cover_every_missing_type_and_multiword_bitsets() -> None:
    kinds: set[int] = set()
    widest = 0
    for path in COMMITTED:
        for tree in parse_model_text(path.read_text()).trees:
            kinds |= {int(d) & ~1 for d in tree.decision_type if not d & 1}
            if tree.num_leaves > 1 and len(tree.cat_boundaries) > 1:
                widest = max(widest, int(np.diff(tree.cat_boundaries).max()))
    # None (LightGBM always sends it left), Zero and NaN with default left and right
    assert {2, 4, 6, 8, 10} <= kinds
    assert widest >= 2


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_models_match_lightgbm(path: Path) -> None:
    booster = lgb.Booster(model_file=str(path))
    scorer = compile(path)
    assert scorer.source == "file"
    parsed = parse_model_text(path.read_text())
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, scorer.n_features)) * 2
    cats = parsed.categorical_features
    Z = _inputs(rng, X, cats, _thresholds(booster), n_extra=200)
    _assert_matches(booster, scorer, Z)
    np.testing.assert_allclose(scorer.predict(Z), booster.predict(Z), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# objectives, iterations, outputs
# ------------------------------------------------------------------------------------------
def _train(params: dict[str, Any], X: np.ndarray, y: np.ndarray, rounds: int = 5,
           **kw: Any) -> lgb.Booster:
    return lgb.train({"verbose": -1, "num_threads": 1, **params}, lgb.Dataset(X, y, **kw), rounds)


@pytest.mark.parametrize(
    ("objective", "extra"),
    [
        ("binary", {"sigmoid": 0.7}),
        ("cross_entropy", {}),
        ("cross_entropy_lambda", {}),
        ("multiclass", {"num_class": 3}),
        ("multiclassova", {"num_class": 3}),
        ("regression", {"reg_sqrt": True}),
        ("poisson", {}),
        ("gamma", {}),
        ("tweedie", {}),
        ("huber", {}),
        ("quantile", {"alpha": 0.7}),
    ],
)
def test_transformed_outputs_match_booster_predict(objective: str, extra: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    base = np.nan_to_num(X[:, 0])
    if objective in ("multiclass", "multiclassova"):
        y = np.digitize(base, [-0.5, 0.5]).astype(float)
    elif objective in ("binary", "cross_entropy", "cross_entropy_lambda"):
        y = (base > 0).astype(float)
    elif objective in ("poisson", "gamma", "tweedie"):
        y = np.exp(base) + 0.1
    else:
        y = base + rng.normal(size=400)
    booster = _train({"objective": objective, **extra}, X, y)
    scorer = compile(booster)
    np.testing.assert_allclose(scorer.predict(X), booster.predict(X), rtol=1e-12, atol=1e-14)
    if scorer.is_classifier:
        proba = scorer.predict_proba(X)
        ref = booster.predict(X)
        if ref.ndim == 1:
            ref = np.column_stack([1 - ref, ref])
        np.testing.assert_allclose(proba, ref, rtol=1e-12, atol=1e-14)
        one = scorer.predict_one(X[5])
        np.testing.assert_allclose(one, ref[5, 1] if ref.shape[1] == 2 else ref[5], rtol=1e-12)
    else:
        with pytest.raises(ConfigError, match="predict_proba needs a classification model"):
            scorer.predict_proba(X)
        np.testing.assert_allclose(scorer.predict_one(X[5]), booster.predict(X[5:6])[0],
                                   rtol=1e-12)


def test_multiclass_shap_layout_is_lightgbms() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    booster = _train({"objective": "multiclass", "num_class": 3}, X, y)
    scorer = compile(booster)
    values = scorer.shap_values(X[:10])
    assert values.shape == (10, 3 * 4)
    np.testing.assert_allclose(values, booster.predict(X[:10], pred_contrib=True), atol=1e-9)
    per_class = values.reshape(10, 3, 4).sum(axis=2)
    np.testing.assert_allclose(per_class, scorer.predict_raw(X[:10]), atol=1e-12)


def test_num_iteration_and_best_iteration() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = X[:, 0] + rng.normal(size=400)
    train, valid = lgb.Dataset(X[:300], y[:300]), lgb.Dataset(X[300:], y[300:])
    booster = lgb.train(
        {"objective": "regression", "verbose": -1, "learning_rate": 0.5}, train, 50,
        valid_sets=[valid], callbacks=[lgb.early_stopping(3, verbose=False)],
    )
    assert 0 < booster.best_iteration < 50
    scorer = compile(booster)
    assert scorer.num_iteration == booster.best_iteration
    np.testing.assert_array_equal(scorer.predict_raw(X), booster.predict(X, raw_score=True))
    for k in (1, 2, 1000, 0, -1):
        s = compile(booster, num_iteration=k)
        ref = booster.predict(X, raw_score=True, num_iteration=k)
        np.testing.assert_array_equal(s.predict_raw(X), ref)
        np.testing.assert_allclose(s.shap_values(X[:5]),
                                   booster.predict(X[:5], pred_contrib=True, num_iteration=k),
                                   atol=1e-9)


def test_random_forest_average_output() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(float)
    booster = _train({"objective": "binary", "boosting": "rf", "bagging_freq": 1,
                      "bagging_fraction": 0.7}, X, y, rounds=7)
    scorer = compile(booster)
    # LightGBM's raw score and pred_contrib are sums over the trees; predict() averages
    np.testing.assert_array_equal(scorer.predict_raw(X), booster.predict(X, raw_score=True))
    np.testing.assert_allclose(scorer.predict(X), booster.predict(X), rtol=1e-12)
    np.testing.assert_allclose(scorer.predict_proba(X)[:, 1], booster.predict(X), rtol=1e-12)
    assert scorer.predict_one(X[0]) == pytest.approx(booster.predict(X[:1])[0], rel=1e-12)
    np.testing.assert_allclose(scorer.shap_values(X[:20]),
                               booster.predict(X[:20], pred_contrib=True), atol=1e-9)
    np.testing.assert_allclose(scorer.shap_values(X[:20]).sum(axis=1), scorer.predict_raw(X[:20]),
                               atol=1e-12)


def test_single_leaf_trees_and_empty_input() -> None:
    X = np.zeros((50, 2))
    y = np.arange(50.0)
    booster = _train({"objective": "regression", "min_data_in_leaf": 100}, X, y, rounds=3)
    scorer = compile(booster)
    np.testing.assert_array_equal(scorer.predict_raw(X[:3]), booster.predict(X[:3], raw_score=True))
    np.testing.assert_allclose(scorer.shap_values(X[:3]), booster.predict(X[:3], pred_contrib=True))
    assert scorer.predict_raw(np.zeros((0, 2))).shape == (0,)
    assert scorer.shap_values(np.zeros((0, 2))).shape == (0, 3)


# ------------------------------------------------------------------------------------------
# DataFrames and categories
# ------------------------------------------------------------------------------------------
def _cat_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "attendance": rng.random(n),
            "program": pd.Categorical(rng.choice(["law", "math", "art", "bio"], n)),
            "credits": rng.integers(0, 60, n).astype(float),
            "campus": pd.Categorical(rng.choice([f"c{i}" for i in range(40)], n)),
        }
    )


def test_pandas_categorical_columns_map_like_lightgbm() -> None:
    rng = np.random.default_rng(8)
    df = _cat_frame(rng, 600)
    y = ((df["program"] == "math") ^ (df["attendance"] > 0.5)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5},
                        lgb.Dataset(df, y), 8)
    scorer = compile(booster)
    new = _cat_frame(np.random.default_rng(9), 50)
    # unseen and missing categories, NaN numbers
    new["program"] = pd.Categorical(
        ["law", "zoology", None, "math", "art"] * 10, categories=["zoology", "art", "law", "math"]
    )
    new.loc[3, "attendance"] = np.nan
    ref = booster.predict(new, raw_score=True)
    np.testing.assert_array_equal(scorer.predict_raw(new), ref)
    # columns matched by name, whatever their order, extra columns ignored
    shuffled = new[["campus", "credits", "program", "attendance"]].assign(extra=1.0)
    np.testing.assert_array_equal(scorer.predict_raw(shuffled), ref)
    np.testing.assert_allclose(scorer.shap_values(new), booster.predict(new, pred_contrib=True),
                               atol=1e-9)
    # text columns are mapped through the same categories
    as_text = new.assign(program=new["program"].astype(object),
                         campus=new["campus"].astype(str))
    np.testing.assert_array_equal(scorer.predict_raw(as_text), ref)
    one = scorer.predict_one(new.iloc[0].to_dict(), raw=True)
    assert one == ref[0]


def test_input_errors_are_typed_and_clear() -> None:
    rng = np.random.default_rng(10)
    df = _cat_frame(rng, 200)
    booster = lgb.train({"objective": "binary", "verbose": -1},
                        lgb.Dataset(df, (df["attendance"] > 0.5).astype(int)), 2)
    scorer = compile(booster)
    with pytest.raises(SchemaError,
                       match=r"(?s)X\.credits \[required-column\].*missing \['credits'\]"):
        scorer.predict_raw(df.drop(columns="credits"))
    with pytest.raises(SchemaError, match=r"(?s)X \[n-columns\]: X must have 4 columns.*3 columns"):
        scorer.predict_raw(np.zeros((2, 3)))
    with pytest.raises(SchemaError, match=r"(?s)two-dimensional.*shape \(4,\)"):
        scorer.predict_raw(np.zeros(4))
    with pytest.raises(SchemaError, match=r"(?s)must hold numbers.*dtype"):
        scorer.predict_raw(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(SchemaError, match=r"(?s)X\.credits \[numeric\].*datetime64"):
        scorer.predict_raw(df.assign(credits=pd.Timestamp("2024-01-01")))
    with pytest.raises(SchemaError, match=r"(?s)one row must hold 4 values.*\(3,\)"):
        scorer.predict_one(np.zeros(3))
    with pytest.raises(SchemaError, match="duplicate column names"):
        scorer.predict_raw(pd.concat([df, df[["credits"]]], axis=1))


def test_model_errors_are_typed_and_clear(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] + rng.normal(size=200)
    linear = _train({"objective": "regression", "linear_tree": True}, X, y, rounds=2)
    with pytest.raises(ModelIntegrityError, match="linear trees .* are not supported"):
        compile(linear)
    with pytest.raises(ConfigError, match=r"(?s)compile\(\) takes a RiskModel.*arrived: int"):
        compile(3)
    with pytest.raises(ConfigError, match=r"(?s)could not be read.*nope.txt"):
        compile(tmp_path / "nope.txt")
    good = _train({"objective": "regression"}, X, y, rounds=2).model_to_string()
    truncated = tmp_path / "truncated.txt"
    truncated.write_text(good[: good.index("Tree=1") + 40])
    with pytest.raises(ModelIntegrityError, match="truncated|must hold"):
        compile(truncated)
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello")
    with pytest.raises(ModelIntegrityError, match="starts with the line 'tree'"):
        compile(not_a_model)
    broken = tmp_path / "broken.txt"
    broken.write_text(good.replace("left_child=", "left_child=7 ", 1))
    with pytest.raises(ModelIntegrityError, match="must hold|out of range|do not form a tree"):
        compile(broken)
    with pytest.raises(ConfigError, match="num_iteration must be an integer"):
        compile(linear, num_iteration=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="shap_memory_limit must be a non-negative integer"):
        compile(tmp_path / "x", shap_memory_limit=-1)


def test_arrays_are_read_only() -> None:
    booster = _train({"objective": "regression"}, np.arange(100.0).reshape(50, 2), np.arange(50.0))
    scorer = compile(booster)
    arrays = scorer.arrays
    assert {"node_thr", "node_value", "tree_root", "colinfo"} <= set(arrays)
    for arr in arrays.values():
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0


# ------------------------------------------------------------------------------------------
# RiskModel duck type (the real one is tested in test_compiled_riskmodel.py once it lands)
# ------------------------------------------------------------------------------------------
class _Calibrator:
    def transform(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-0.5 * np.asarray(raw) - 0.25))


class _FakeRiskModel:
    def __init__(self, booster: lgb.Booster, names: list[str], categories: dict[str, list[Any]]):
        self.booster_ = booster
        self.calibrator_ = _Calibrator()
        self.feature_names_in_ = np.array(names, dtype=object)
        self.categories_ = categories
        self.classes_ = np.array([0, 1])


def test_risk_model_duck_type_applies_its_calibration_and_categories() -> None:
    rng = np.random.default_rng(12)
    df = _cat_frame(rng, 400)
    codes = df.assign(program=df["program"].cat.codes, campus=df["campus"].cat.codes)
    y = ((df["program"] == "math") | (df["attendance"] > 0.8)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1},
                        lgb.Dataset(codes.to_numpy(float), y, categorical_feature=[1, 3]), 5)
    cats = {"program": list(df["program"].cat.categories),
            "campus": list(df["campus"].cat.categories)}
    risk = _FakeRiskModel(booster, list(df.columns), cats)
    scorer = compile(risk)
    assert scorer.source == "risk_model"
    raw = booster.predict(codes.to_numpy(float), raw_score=True)
    text = df.astype({"program": str, "campus": object})
    np.testing.assert_array_equal(scorer.predict_raw(text), raw)
    proba = scorer.predict_proba(text)
    np.testing.assert_allclose(proba[:, 1], _Calibrator().transform(raw), rtol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scorer.predict(text), (proba[:, 1] > 0.5).astype(int))
    assert scorer.predict_one(text.iloc[0].to_dict()) == pytest.approx(proba[0, 1], rel=1e-15)


def test_warnings_stay_quiet() -> None:
    """Compiling and scoring raises no warning (the suite treats warnings as errors)."""
    booster = _train({"objective": "binary"}, np.random.default_rng(0).normal(size=(100, 2)),
                     (np.arange(100) % 2).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scorer = compile(booster)
        scorer.shap_values(np.full((3, 2), np.nan))
        scorer.predict_one(np.array([np.inf, -np.inf]))
