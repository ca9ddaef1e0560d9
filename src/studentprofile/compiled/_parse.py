"""Read a LightGBM text model into plain numpy arrays, one record per tree.

The text format is LightGBM's own (``Booster.save_model`` / ``model_to_string``): a header of
``key=value`` lines, one ``Tree=i`` block per tree, then feature importances, parameters and the
python package's ``pandas_categorical:`` trailer. Only what prediction and TreeSHAP need is kept.
Anything this package cannot score exactly (linear trees, malformed arrays, NaN thresholds) is
refused with :class:`~studentprofile.errors.ModelIntegrityError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studentprofile.errors import ModelIntegrityError

__all__ = ["ParsedModel", "ParsedTree", "parse_model_text"]

_HINT = "save the model again with lightgbm's Booster.save_model and compile that file"


@dataclass(frozen=True)
class ParsedTree:
    """One tree, in LightGBM's own node numbering (internal nodes 0.., leaves as ``~leaf``)."""

    num_leaves: int
    split_feature: np.ndarray  # int64, (num_leaves - 1,)
    threshold: np.ndarray  # float64
    decision_type: np.ndarray  # int64
    left_child: np.ndarray  # int64
    right_child: np.ndarray  # int64
    leaf_value: np.ndarray  # float64, (num_leaves,)
    leaf_count: np.ndarray  # float64 (counts, used as TreeSHAP covers)
    internal_count: np.ndarray  # float64
    cat_boundaries: np.ndarray  # int64
    cat_threshold: np.ndarray  # uint32


@dataclass(frozen=True)
class ParsedModel:
    """The parts of a LightGBM text model that scoring and explaining need."""

    num_class: int
    num_tree_per_iteration: int
    max_feature_idx: int
    objective: str
    feature_names: list[str]
    feature_infos: list[str]
    average_output: bool
    trees: list[ParsedTree]
    pandas_categorical: list[list[Any]] | None = None
    categorical_features: list[int] = field(default_factory=list)

    @property
    def num_features(self) -> int:
        """Number of input columns the model expects."""
        return self.max_feature_idx + 1

    @property
    def num_iterations(self) -> int:
        """Number of boosting iterations (trees per class)."""
        return len(self.trees) // self.num_tree_per_iteration


def _fail(message: str, arrived: str | None = None) -> ModelIntegrityError:
    return ModelIntegrityError(message, arrived=arrived, hint=_HINT)


def _ints(kv: dict[str, str], key: str, n: int, tree: int) -> np.ndarray:
    text = kv.get(key, "").strip()
    try:
        arr = np.array(text.split(), dtype=np.int64) if text else np.zeros(0, np.int64)
    except ValueError:
        raise _fail(f"tree {tree}: `{key}` must hold integers", arrived=repr(text[:80])) from None
    if arr.shape[0] != n:
        raise _fail(
            f"tree {tree}: `{key}` must hold {n} values", arrived=f"{arr.shape[0]} values"
        )
    return arr


def _floats(kv: dict[str, str], key: str, n: int, tree: int) -> np.ndarray:
    text = kv.get(key, "").strip()
    try:
        arr = np.array([float(v) for v in text.split()], dtype=np.float64)
    except ValueError:
        raise _fail(f"tree {tree}: `{key}` must hold numbers", arrived=repr(text[:80])) from None
    if arr.shape[0] != n:
        raise _fail(
            f"tree {tree}: `{key}` must hold {n} values", arrived=f"{arr.shape[0]} values"
        )
    return arr


def _parse_tree(block: str, index: int, num_features: int) -> ParsedTree:
    kv: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            kv[key.strip()] = value
    if kv.get("is_linear", "0").strip() not in ("0", ""):
        raise ModelIntegrityError(
            "linear trees (linear_tree=True) are not supported by the compiled scorer",
            arrived=f"tree {index} has is_linear={kv['is_linear'].strip()}",
            hint="score this model with lightgbm itself, or retrain it with linear_tree=False",
        )
    try:
        num_leaves = int(kv["num_leaves"])
    except (KeyError, ValueError):
        raise _fail(
            f"tree {index} must state num_leaves", arrived=repr(kv.get("num_leaves"))
        ) from None
    if num_leaves < 1:
        raise _fail(f"tree {index} must have at least one leaf", arrived=str(num_leaves))
    n_int = num_leaves - 1
    leaf_value = _floats(kv, "leaf_value", num_leaves, index)
    if num_leaves == 1:
        counts = kv.get("leaf_count", "").strip()
        leaf_count = np.array([float(counts.split()[0]) if counts else 1.0])
        empty_i = np.zeros(0, np.int64)
        return ParsedTree(
            1, empty_i, np.zeros(0), empty_i, empty_i, empty_i, leaf_value, leaf_count,
            np.zeros(0), empty_i, np.zeros(0, np.uint32),
        )
    split_feature = _ints(kv, "split_feature", n_int, index)
    threshold = _floats(kv, "threshold", n_int, index)
    decision_type = _ints(kv, "decision_type", n_int, index)
    left = _ints(kv, "left_child", n_int, index)
    right = _ints(kv, "right_child", n_int, index)
    leaf_count = _floats(kv, "leaf_count", num_leaves, index)
    internal_count = _floats(kv, "internal_count", n_int, index)
    num_cat = int(kv.get("num_cat", "0") or 0)
    if num_cat > 0:
        cat_boundaries = _ints(kv, "cat_boundaries", num_cat + 1, index)
        cat_threshold = _ints(kv, "cat_threshold", int(cat_boundaries[-1]), index)
        if np.any(np.diff(cat_boundaries) < 0) or cat_boundaries[0] != 0:
            raise _fail(f"tree {index}: `cat_boundaries` must start at 0 and never decrease")
        cat_threshold_u = cat_threshold.astype(np.uint32)
    else:
        cat_boundaries = np.zeros(1, np.int64)
        cat_threshold_u = np.zeros(0, np.uint32)
    # structural checks: every child index in range, every node reached exactly once
    children = np.concatenate([left, right])
    if np.any(children >= n_int) or np.any(children < -num_leaves):
        raise _fail(f"tree {index}: a child index is out of range")
    internal_seen = np.sort(children[children >= 0])
    leaf_seen = np.sort(~children[children < 0])
    if not (
        np.array_equal(internal_seen, np.arange(1, n_int))
        and np.array_equal(leaf_seen, np.arange(num_leaves))
    ):
        raise _fail(f"tree {index}: the child links do not form a tree")
    if np.any(left[np.arange(n_int)] == np.arange(n_int)):
        raise _fail(f"tree {index}: a node is its own child")
    # LightGBM numbers a node after its parent; the layout relies on it
    for node in range(n_int):
        for child in (left[node], right[node]):
            if 0 <= child <= node:
                raise _fail(f"tree {index}: node {child} is numbered before its parent {node}")
    if np.any((split_feature < 0) | (split_feature >= num_features)):
        raise _fail(
            f"tree {index}: a split feature is outside 0..{num_features - 1}",
            arrived=repr(split_feature[(split_feature < 0) | (split_feature >= num_features)][:5]),
        )
    is_cat = (decision_type & 1) == 1
    if np.any(np.isnan(threshold[~is_cat])):
        raise _fail(f"tree {index}: a numerical threshold is NaN")
    if np.any(((decision_type >> 2) & 3) == 3):
        raise _fail(f"tree {index}: unknown missing type 3 in decision_type")
    cat_idx = threshold[is_cat]
    if np.any((cat_idx < 0) | (cat_idx >= num_cat) | (cat_idx != np.floor(cat_idx))):
        raise _fail(f"tree {index}: a categorical split points outside cat_boundaries")
    return ParsedTree(
        num_leaves, split_feature, threshold, decision_type, left, right, leaf_value,
        leaf_count, internal_count, cat_boundaries, cat_threshold_u,
    )


def parse_model_text(text: str) -> ParsedModel:
    r"""Parse a LightGBM text model.

    Parameters
    ----------
    text : str
        The model as ``Booster.model_to_string()`` returns it or ``save_model`` writes it.

    Returns
    -------
    ParsedModel

    Raises
    ------
    ModelIntegrityError
        When the text is not a LightGBM tree model, is truncated or holds something the
        compiled scorer cannot reproduce exactly (for example linear trees).

    Examples
    --------
    >>> model = parse_model_text(
    ...     "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\n"
    ...     "objective=regression\nfeature_names=x\nfeature_infos=none\n\n"
    ...     "Tree=0\nnum_leaves=1\nleaf_value=0.5\nleaf_count=10\nis_linear=0\n\n"
    ...     "end of trees\n"
    ... )
    >>> model.num_features, len(model.trees), model.trees[0].leaf_value
    (1, 1, array([0.5]))
    """
    if not isinstance(text, str) or not text.lstrip().startswith("tree"):
        raise _fail(
            "a LightGBM text model starts with the line 'tree'",
            arrived=repr(text[:40]) if isinstance(text, str) else type(text).__name__,
        )
    head, sep, rest = text.partition("\nTree=")
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            header[key.strip()] = value.strip()
    if "end of trees" not in text:
        raise _fail("the model text is truncated: 'end of trees' is missing")
    try:
        num_class = int(header.get("num_class", "1"))
        num_tree_per_iteration = int(header.get("num_tree_per_iteration", "1"))
        max_feature_idx = int(header["max_feature_idx"])
    except (KeyError, ValueError):
        raise _fail(
            "the model header must state num_class, num_tree_per_iteration and max_feature_idx"
        ) from None
    if num_tree_per_iteration < 1 or max_feature_idx < 0:
        raise _fail(
            "num_tree_per_iteration must be >= 1 and max_feature_idx >= 0",
            arrived=f"{num_tree_per_iteration}, {max_feature_idx}",
        )
    num_features = max_feature_idx + 1
    feature_names = header.get("feature_names", "").split()
    if len(feature_names) != num_features:
        feature_names = [f"Column_{i}" for i in range(num_features)]
    feature_infos = header.get("feature_infos", "").split()
    if len(feature_infos) != num_features:
        feature_infos = ["none"] * num_features
    categorical = [
        i for i, info in enumerate(feature_infos) if not info.startswith("[") and info != "none"
    ]
    trees: list[ParsedTree] = []
    if sep:
        body = rest.split("\nend of trees", 1)[0]
        blocks = ("Tree=" + body).split("\nTree=")
        for i, block in enumerate(blocks):
            trees.append(_parse_tree(block, i, num_features))
    if len(trees) % num_tree_per_iteration:
        raise _fail(
            "the number of trees must be a multiple of num_tree_per_iteration",
            arrived=f"{len(trees)} trees, {num_tree_per_iteration} per iteration",
        )
    pandas_categorical = None
    marker = text.rfind("\npandas_categorical:")
    if marker >= 0:
        payload = text[marker + len("\npandas_categorical:") :].strip()
        try:
            loaded = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            raise _fail("the pandas_categorical trailer is not valid JSON") from None
        if loaded is not None and not isinstance(loaded, list):
            raise _fail("pandas_categorical must be a list", arrived=type(loaded).__name__)
        pandas_categorical = loaded
    return ParsedModel(
        num_class=num_class,
        num_tree_per_iteration=num_tree_per_iteration,
        max_feature_idx=max_feature_idx,
        objective=header.get("objective", "custom"),
        feature_names=feature_names,
        feature_infos=feature_infos,
        average_output=any(line.strip() == "average_output" for line in head.splitlines()),
        trees=trees,
        pandas_categorical=pandas_categorical,
        categorical_features=categorical,
    )


def objective_name(objective: str) -> tuple[str, dict[str, str], set[str]]:
    """Split LightGBM's objective line (e.g. ``binary sigmoid:1``) into name, options, flags."""
    parts = objective.split()
    name = parts[0] if parts else "custom"
    options: dict[str, str] = {}
    flags: set[str] = set()
    for part in parts[1:]:
        key, colon, value = part.partition(":")
        if colon:
            options[key] = value
        else:
            flags.add(part)
    return name, options, flags
