"""Every model the reader accepts is scored alike by predict_one, predict_proba and LightGBM.

Hypothesis writes LightGBM text models directly (no training, so any structure LightGBM's
format allows): random tree shapes numbered the way ``Tree::Split`` numbers them, numerical
splits with every missing-value type and default direction, categorical splits with bitsets of
one to three words, leaf values from tiny to large enough to saturate the sigmoid, consistent
data counts, ``tree_sizes``, binary / multiclass / one-vs-all / cross-entropy objectives with
any ``sigmoid:``, random forests (``average_output``). Inputs are full of NaN, +-inf, zeros,
values around LightGBM's zero threshold and values at every threshold.

For each accepted model: ``predict_one`` equals the rows of ``predict_proba`` (and
``predict_one(raw=True)`` the rows of ``predict_raw``) bit for bit, NaN and inf inputs
included; LightGBM itself reads the same text (it never sees a text the reader refused) and its
raw scores, transformed outputs and SHAP values agree with the compiled scorer.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.compiled import compile
from studentprofile.models._lgb_text import parse_model_text

KZERO = float(np.float32(1e-35))
THRESHOLDS = [-1.0, 0.0, 0.5, 1e-36, KZERO, -KZERO, 2.5, 1e300, -1e300, 1e-300, 3.0, np.inf,
              -np.inf]
LEAVES = st.one_of(
    st.floats(-3.0, 3.0, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-300, 40.0, -40.0, 800.0, -800.0, 1e5, -1e5]),
)


@st.composite
def tree_block(draw: st.DrawFn, n_features: int, cat_features: list[int]) -> dict[str, Any]:
    num_leaves = draw(st.integers(1, 8))
    left: list[int] = []
    right: list[int] = []
    leaf_parent = [-1]
    for new in range(num_leaves - 1):  # LightGBM's Tree::Split: node `new` splits a leaf
        leaf = draw(st.integers(0, new))
        parent = leaf_parent[leaf]
        if parent >= 0:
            if left[parent] == ~leaf:
                left[parent] = new
            else:
                right[parent] = new
        left.append(~leaf)
        right.append(~(new + 1))
        leaf_parent[leaf] = new
        leaf_parent.append(new)
    n_int = num_leaves - 1
    split_feature, threshold, decision, bitsets = [], [], [], []
    for _ in range(n_int):
        f = draw(st.integers(0, n_features - 1))
        split_feature.append(f)
        if f in cat_features and draw(st.booleans()):
            words = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3))
            threshold.append(float(len(bitsets)))
            bitsets.append(words)
            decision.append(draw(st.sampled_from([9, 1])))  # categorical, missing NaN / None
        else:
            threshold.append(draw(st.sampled_from(THRESHOLDS)))
            missing = draw(st.sampled_from([0, 1, 2]))
            decision.append(missing << 2 | draw(st.sampled_from([0, 2])))
    leaf_value = [draw(LEAVES) for _ in range(num_leaves)]
    leaf_count = [draw(st.integers(1, 50)) for _ in range(num_leaves)]
    internal = [0] * n_int
    for node in reversed(range(n_int)):  # children are numbered after their parent
        internal[node] = sum(
            internal[c] if c >= 0 else leaf_count[~c] for c in (left[node], right[node])
        )
    return {
        "num_leaves": num_leaves, "split_feature": split_feature, "threshold": threshold,
        "decision_type": decision, "left_child": left, "right_child": right,
        "leaf_value": leaf_value, "leaf_count": leaf_count, "internal_count": internal,
        "bitsets": bitsets,
    }


def _join(values: list[Any]) -> str:
    return " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)


def _block(i: int, t: dict[str, Any]) -> str:
    bounds = np.cumsum([0] + [len(w) for w in t["bitsets"]]).tolist()
    words = [w for ws in t["bitsets"] for w in ws]
    lines = [
        f"num_leaves={t['num_leaves']}",
        f"num_cat={len(t['bitsets'])}",
        f"split_feature={_join(t['split_feature'])}",
        f"split_gain={_join([1.0] * len(t['left_child']))}",
        f"threshold={_join(t['threshold'])}",
        f"decision_type={_join(t['decision_type'])}",
        f"left_child={_join(t['left_child'])}",
        f"right_child={_join(t['right_child'])}",
        f"leaf_value={_join(t['leaf_value'])}",
        f"leaf_weight={_join([float(c) for c in t['leaf_count']])}",
        f"leaf_count={_join(t['leaf_count'])}",
        f"internal_value={_join([0.0] * len(t['left_child']))}",
        f"internal_weight={_join([float(c) for c in t['internal_count']])}",
        f"internal_count={_join(t['internal_count'])}",
    ]
    if t["bitsets"]:
        lines += [f"cat_boundaries={_join(bounds)}", f"cat_threshold={_join(words)}"]
    lines += ["is_linear=0", "shrinkage=1"]
    return f"Tree={i}\n" + "\n".join(lines) + "\n\n\n"


@st.composite
def model_texts(draw: st.DrawFn) -> tuple[str, int, list[int]]:
    n_features = draw(st.integers(1, 4))
    cat_features = [f for f in range(n_features) if draw(st.booleans())]
    kind = draw(st.sampled_from(["binary", "multiclass", "multiclassova", "cross_entropy"]))
    k = 3 if kind.startswith("multiclass") else 1
    sigmoid = draw(st.sampled_from([1.0, 0.5, 2.75, 1e-3]))
    objective = {
        "binary": f"binary sigmoid:{sigmoid!r}",
        "multiclass": "multiclass num_class:3",
        "multiclassova": f"multiclassova num_class:3 sigmoid:{sigmoid!r}",
        "cross_entropy": "cross_entropy",
    }[kind]
    n_iter = draw(st.integers(1, 4))
    blocks = [_block(i, draw(tree_block(n_features, cat_features))) for i in range(n_iter * k)]
    infos = ["0:1:2:3" if f in cat_features else "[-1:1]" for f in range(n_features)]
    head = [
        "tree", "version=v4", f"num_class={k}", f"num_tree_per_iteration={k}",
        "label_index=0", f"max_feature_idx={n_features - 1}", f"objective={objective}",
    ]
    if draw(st.booleans()):
        head.append("average_output")
    head += [
        "feature_names=" + " ".join(f"f{i}" for i in range(n_features)),
        "feature_infos=" + " ".join(infos),
        "tree_sizes=" + " ".join(str(len(b.encode())) for b in blocks),
    ]
    return "\n".join(head) + "\n\n" + "".join(blocks) + "end of trees\n", n_features, cat_features


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-36, KZERO, -KZERO, 1e300, -1e300, 1.0, -1.0,
           0.5, 2.5, 3.0, np.nextafter(0.5, 1.0)]
CATS = [np.nan, -1.0, -0.5, 0.0, 0.9, 1.0, 31.0, 32.0, 33.0, 63.0, 64.0, 95.0, 96.0, 1e10,
        2.0**31, np.inf, -np.inf, 3.7]


class _Text:
    """The smallest object compile() accepts besides a path: it has model_to_string."""

    def __init__(self, text: str):
        self.text = text

    def model_to_string(self, num_iteration: int = -1) -> str:
        return self.text


@given(model_texts(), st.data())
def test_predict_one_equals_predict_proba_and_lightgbm(model: tuple[str, int, list[int]],
                                                       data: st.DataObject) -> None:
    text, n_features, cat_features = model
    parsed = parse_model_text(text)  # every generated model is well formed
    n = data.draw(st.integers(1, 12))
    X = np.empty((n, n_features))
    for j in range(n_features):
        pool = CATS if j in cat_features else SPECIAL
        X[:, j] = data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    scorer = compile(_Text(text))
    raw = scorer.predict_raw(X)
    proba = scorer.predict_proba(X)
    assert np.all(np.isfinite(raw))  # the reader bounds the leaf values, so no overflow
    for i in range(n):
        np.testing.assert_array_equal(scorer.predict_one(X[i], raw=True), raw[i])
        one = scorer.predict_one(X[i])
        np.testing.assert_array_equal(one, proba[i, 1] if parsed.num_class == 1 else proba[i])
        # the mapping and list entry points take the same path
        by_name = {f"f{j}": float(X[i, j]) for j in range(n_features)}
        np.testing.assert_array_equal(scorer.predict_one(by_name), one)
    # LightGBM reads exactly what the reader accepted, and agrees with the compiled scorer
    booster = lgb.Booster(model_str=text)
    np.testing.assert_allclose(raw, booster.predict(X, raw_score=True), rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.predict(X), booster.predict(X), rtol=1e-12, atol=1e-300)
    contrib = booster.predict(X, pred_contrib=True)
    scale = max(1.0, float(np.abs(contrib).max()))
    np.testing.assert_allclose(scorer.shap_values(X), contrib, rtol=0, atol=1e-9 * scale)
