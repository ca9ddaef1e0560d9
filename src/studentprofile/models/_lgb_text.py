"""Read and check a LightGBM text model before anything trusts it.

LightGBM's own reader trusts its text: a wrong array length, child index, feature index,
``tree_sizes`` entry or ``num_class`` makes it read or write outside its buffers and abort the
interpreter (``terminate called without an active exception``, ``munmap_chunk(): invalid
pointer``) instead of raising. This module is the package's one reader of the format. It parses
the text strictly, checks every size against the file's own content before anything is
allocated, and refuses with :class:`~studentprofile.errors.ModelIntegrityError` anything that
LightGBM could misread or that the compiled scorer could not reproduce exactly. Both
:func:`studentprofile.models.RiskModel.load` (before LightGBM sees a file) and
:func:`studentprofile.compiled.compile` use it.

The text format is LightGBM's own (``Booster.save_model`` / ``model_to_string``): a header of
``key=value`` lines, one ``Tree=i`` block per tree, ``end of trees``, then feature importances,
parameters and the python package's ``pandas_categorical:`` trailer.

What is checked
---------------
* the header: ``num_class``, ``num_tree_per_iteration`` (equal to ``num_class``),
  ``label_index``, ``max_feature_idx``, one feature name and one feature info per feature, a
  known objective whose options (``sigmoid:``, ``num_class:``) are numbers that agree with the
  header, ``tree_sizes`` (when present) equal to the byte size of every tree block;
* every tree: LightGBM's block layout (``key=value`` lines, at most 22, a blank line at the
  end), integers where LightGBM reads integers, no NaN threshold, every array exactly as long
  as ``num_leaves`` says, child links that form a tree numbered parent-first, split features inside
  ``0..max_feature_idx``, decision types LightGBM defines, categorical bitsets inside
  ``cat_boundaries`` / ``cat_threshold``, positive data counts that add up (TreeSHAP divides by
  them), finite leaf values whose sum over the trees stays finite, and the fields of linear
  trees;
* the trees together: at least one iteration, a whole number of iterations.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studentprofile.errors import ModelIntegrityError

__all__ = [
    "ParsedModel",
    "ParsedTree",
    "objective_name",
    "parse_model_text",
]

_HINT = (
    "the model text was changed or damaged; save the model again with lightgbm's "
    "Booster.save_model (or RiskModel.save) and use that file"
)

#: LightGBM reads at most this many ``key=value`` lines per tree (``Tree::Tree(const char*)``).
MAX_TREE_LINES = 22
_INT32 = 2**31 - 1
_UINT32 = 2**32 - 1

# one field of a tree: numbers separated by single spaces (LightGBM splits on ' ' only)
_INT_TOKEN = r"[+-]?[0-9]{1,18}"
_FLOAT_TOKEN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?"
_ANY_TOKEN = rf"(?:{_FLOAT_TOKEN}|[+-]?inf|[+-]?nan)"  # LightGBM writes inf and nan so
_INT_FIELD = re.compile(rf" *(?:{_INT_TOKEN}(?: +{_INT_TOKEN})* *)?", re.ASCII)
_FLOAT_FIELD = re.compile(rf" *(?:{_ANY_TOKEN}(?: +{_ANY_TOKEN})* *)?", re.ASCII)
_INT_VALUE = re.compile(_INT_TOKEN, re.ASCII)
_PARAMETER_LINE = re.compile(r"\[[A-Za-z0-9_]+: [^\n]*\]", re.ASCII)
_FLOAT_VALUE = re.compile(_FLOAT_TOKEN, re.ASCII)

# objectives LightGBM writes (its canonical names) and the classes they imply
_BINARY = {"binary", "cross_entropy", "xentropy", "cross_entropy_lambda", "xentlambda"}
_MULTI = {"multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"}
_OTHER = {
    "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root",
    "root_mean_squared_error", "rmse", "regression_l1", "l1", "mean_absolute_error", "mae",
    "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error", "poisson", "gamma",
    "tweedie", "lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart",
    "xendcg_mart", "custom", "none", "null", "na",
}
OBJECTIVES = frozenset(_BINARY | _MULTI | _OTHER)
# LightGBM refuses these without a positive sigmoid (BinaryLogloss, MulticlassOVA)
_NEEDS_SIGMOID = {"binary", "multiclassova", "multiclass_ova", "ova", "ovr"}
_FLAGS = {"sqrt"}

_TREE_KEYS_INT = ("split_feature", "decision_type", "left_child", "right_child")
_LINEAR_KEYS = ("leaf_const", "num_features", "leaf_features", "leaf_coeff")


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
    is_linear: bool = False


@dataclass(frozen=True)
class ParsedModel:
    """The parts of a LightGBM text model that checking, scoring and explaining need."""

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

    @property
    def has_linear_trees(self) -> bool:
        """Whether any tree is a linear tree (``linear_tree=True``)."""
        return any(t.is_linear for t in self.trees)


def _fail(message: str, arrived: str | None = None) -> ModelIntegrityError:
    return ModelIntegrityError(message, arrived=arrived, hint=_HINT)


def _short(text: str, n: int = 80) -> str:
    return repr(text[:n] + ("..." if len(text) > n else ""))


# ------------------------------------------------------------------------------------ values
def _int_value(value: str | None, what: str, lo: int, hi: int) -> int:
    text = (value or "").strip(" ")
    if not _INT_VALUE.fullmatch(text):
        raise _fail(f"{what} must be an integer", arrived=_short(text))
    number = int(text)
    if not lo <= number <= hi:
        raise _fail(f"{what} must be between {lo} and {hi}", arrived=str(number))
    return number


def _float_value(value: str, what: str) -> float:
    text = value.strip(" ")
    number = float(text) if _FLOAT_VALUE.fullmatch(text) else math.nan
    if not math.isfinite(number):
        raise _fail(f"{what} must be a finite number", arrived=_short(text))
    return number


def _ints(kv: dict[str, str], key: str, n: int, tree: int, lo: int, hi: int) -> np.ndarray:
    text = kv.get(key)
    if text is None:
        raise _fail(f"tree {tree}: the field `{key}` is missing")
    if not _INT_FIELD.fullmatch(text):
        raise _fail(f"tree {tree}: `{key}` must hold integers", arrived=_short(text))
    values = [t for t in text.split(" ") if t]
    if len(values) != n:
        raise _fail(f"tree {tree}: `{key}` must hold {n} values", arrived=f"{len(values)} values")
    arr = np.array(values, dtype=np.int64) if values else np.zeros(0, np.int64)
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        raise _fail(
            f"tree {tree}: every value of `{key}` must be between {lo} and {hi}",
            arrived=repr(arr[bad][:5].tolist()),
        )
    return arr


def _floats(
    kv: dict[str, str], key: str, n: int, tree: int, allow: str = "finite"
) -> np.ndarray:
    """Numbers of a tree field; ``allow`` is "finite", "inf" (no NaN) or "any"."""
    text = kv.get(key)
    what = {"finite": "finite numbers", "inf": "numbers (not NaN)", "any": "numbers"}[allow]
    if text is None:
        raise _fail(f"tree {tree}: the field `{key}` is missing")
    if not _FLOAT_FIELD.fullmatch(text):
        raise _fail(f"tree {tree}: `{key}` must hold {what}", arrived=_short(text))
    values = [t for t in text.split(" ") if t]
    if len(values) != n:
        raise _fail(f"tree {tree}: `{key}` must hold {n} values", arrived=f"{len(values)} values")
    arr = np.array(values, dtype=np.float64) if values else np.zeros(0)
    bad = ~np.isfinite(arr) if allow == "finite" else np.isnan(arr) if allow == "inf" else None
    if bad is not None and np.any(bad):
        raise _fail(f"tree {tree}: `{key}` must hold {what}", arrived=repr(arr[bad][:5].tolist()))
    return arr


# ------------------------------------------------------------------------------------ trees
def _tree_fields(lines: list[str], index: int) -> dict[str, str]:
    if len(lines) > MAX_TREE_LINES:
        raise _fail(
            f"tree {index} has more than {MAX_TREE_LINES} lines (LightGBM reads no more)",
            arrived=f"{len(lines)} lines",
        )
    kv: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            raise _fail(f"tree {index}: every line must read key=value", arrived=_short(line))
        if key in kv:
            raise _fail(f"tree {index}: the field `{key}` appears twice")
        kv[key] = value
    return kv


def _parse_linear(kv: dict[str, str], index: int, num_leaves: int, num_features: int) -> None:
    """Check the fields of a linear tree (LightGBM reads them without checking their sizes)."""
    missing = [k for k in _LINEAR_KEYS if k not in kv]
    if missing:
        raise _fail(f"tree {index} is linear but lacks {missing!r}")
    _floats(kv, "leaf_const", num_leaves, index, allow="any")
    counts = _ints(kv, "num_features", num_leaves, index, 0, num_features)
    total = int(counts.sum())
    _ints(kv, "leaf_features", total, index, 0, num_features - 1)
    _floats(kv, "leaf_coeff", total, index, allow="any")


def _parse_tree(lines: list[str], index: int, num_features: int) -> ParsedTree:
    kv = _tree_fields(lines, index)
    num_leaves = _int_value(kv.get("num_leaves"), f"tree {index}: num_leaves", 1, _INT32)
    num_cat = _int_value(kv.get("num_cat"), f"tree {index}: num_cat", 0, _INT32)
    is_linear = _int_value(kv.get("is_linear", "0"), f"tree {index}: is_linear", 0, 1) == 1
    if "shrinkage" in kv:
        _float_value(kv["shrinkage"], f"tree {index}: shrinkage")
    # every size is checked against the text before anything of that size is made
    leaf_value = _floats(kv, "leaf_value", num_leaves, index)
    if "leaf_count" in kv:
        leaf_count = _ints(kv, "leaf_count", num_leaves, index, 0, _INT32).astype(np.float64)
    elif num_leaves == 1:
        leaf_count = np.ones(1)
    else:
        raise _fail(f"tree {index}: the field `leaf_count` is missing")
    if "leaf_weight" in kv and (num_leaves > 1 or kv["leaf_weight"].strip(" ")):
        _floats(kv, "leaf_weight", num_leaves, index, allow="any")
    if is_linear:
        _parse_linear(kv, index, num_leaves, num_features)
    if num_leaves == 1:
        if num_cat:
            raise _fail(f"tree {index} has one leaf and no splits, but num_cat={num_cat}")
        empty_i = np.zeros(0, np.int64)
        return ParsedTree(
            1, empty_i, np.zeros(0), empty_i, empty_i, empty_i, leaf_value, leaf_count,
            np.zeros(0), np.zeros(1, np.int64), np.zeros(0, np.uint32), is_linear,
        )
    n_int = num_leaves - 1
    split_feature = _ints(kv, "split_feature", n_int, index, 0, num_features - 1)
    threshold = _floats(kv, "threshold", n_int, index, allow="inf")
    decision_type = _ints(kv, "decision_type", n_int, index, 0, 15)
    left = _ints(kv, "left_child", n_int, index, -num_leaves, n_int - 1)
    right = _ints(kv, "right_child", n_int, index, -num_leaves, n_int - 1)
    internal_count = _ints(kv, "internal_count", n_int, index, 1, _INT32).astype(np.float64)
    for key in ("split_gain", "internal_value", "internal_weight"):
        if key in kv:
            _floats(kv, key, n_int, index, allow="any")
    if num_cat > 0:
        cat_boundaries = _ints(kv, "cat_boundaries", num_cat + 1, index, 0, _INT32)
        if cat_boundaries[0] != 0 or np.any(np.diff(cat_boundaries) < 0):
            raise _fail(f"tree {index}: `cat_boundaries` must start at 0 and never decrease")
        cat_threshold = _ints(
            kv, "cat_threshold", int(cat_boundaries[-1]), index, 0, _UINT32
        ).astype(np.uint32)
    else:
        cat_boundaries = np.zeros(1, np.int64)
        cat_threshold = np.zeros(0, np.uint32)
    # structure: every node reached exactly once, a child numbered after its parent
    children = np.concatenate([left, right])
    internal_seen = np.sort(children[children >= 0])
    leaf_seen = np.sort(~children[children < 0])
    if not (
        np.array_equal(internal_seen, np.arange(1, n_int))
        and np.array_equal(leaf_seen, np.arange(num_leaves))
    ):
        raise _fail(f"tree {index}: the child links do not form a tree")
    nodes = np.arange(n_int)
    for child in (left, right):
        bad = (child >= 0) & (child <= nodes)
        if np.any(bad):
            node = int(nodes[bad][0])
            raise _fail(
                f"tree {index}: node {int(child[node])} is numbered before its parent {node}"
            )
    # decisions: missing type 3 is undefined; categorical splits point into cat_boundaries
    if np.any(((decision_type >> 2) & 3) == 3):
        raise _fail(f"tree {index}: unknown missing type 3 in decision_type")
    is_cat = (decision_type & 1) == 1
    cat_idx = threshold[is_cat]
    if np.any((cat_idx < 0) | (cat_idx >= num_cat) | (cat_idx != np.floor(cat_idx))):
        raise _fail(f"tree {index}: a categorical split points outside cat_boundaries")
    # data counts: TreeSHAP divides by them, so they must be positive and add up
    child_count = np.where(left >= 0, internal_count[np.maximum(left, 0)], 0.0)
    child_count += np.where(left < 0, leaf_count[np.maximum(~left, 0)], 0.0)
    child_count += np.where(right >= 0, internal_count[np.maximum(right, 0)], 0.0)
    child_count += np.where(right < 0, leaf_count[np.maximum(~right, 0)], 0.0)
    if np.any(leaf_count < 1) or not np.array_equal(child_count, internal_count):
        raise _fail(
            f"tree {index}: every leaf_count must be at least 1 and every internal_count the "
            "sum of its two children's counts",
            arrived=f"leaf_count {leaf_count[:6].astype(np.int64).tolist()}, internal_count "
            f"{internal_count[:6].astype(np.int64).tolist()}",
        )
    return ParsedTree(
        num_leaves, split_feature, threshold, decision_type, left, right, leaf_value,
        leaf_count, internal_count, cat_boundaries, cat_threshold, is_linear,
    )


def _split_trees(body: str) -> list[tuple[int, str, list[str]]]:
    """Cut the text from the first ``Tree=`` line to ``end of trees`` into tree blocks.

    Returns (offset of the ``Tree=`` line in ``body``, that line, the block's field lines).
    """
    blocks: list[tuple[int, str, list[str]]] = []
    lines = body.split("\n")
    offset = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        start = offset
        offset += len(lines[i]) + 1
        i += 1
        if not line:
            continue
        if not line.startswith("Tree="):
            raise _fail("between the trees only blank lines may stand", arrived=_short(line))
        fields: list[str] = []
        while i < len(lines) and lines[i]:
            fields.append(lines[i])
            offset += len(lines[i]) + 1
            i += 1
        if i >= len(lines) - 1:
            raise _fail(f"{line}: the tree block must end with a blank line")
        blocks.append((start, line, fields))
    return blocks


# ------------------------------------------------------------------------------------ header
def _header(head: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in head.split("\n"):
        key, eq, value = line.partition("=")
        if eq and "=" in value and key not in ("feature_names", "monotone_constraints"):
            raise _fail("a header line holds more than one '='", arrived=_short(line))
        header[key] = value if eq else ""
    return header


def _check_objective(objective: str, num_class: int) -> None:
    name, options, flags = objective_name(objective)
    if name not in OBJECTIVES:
        raise _fail("unknown objective", arrived=_short(objective))
    unknown = flags - _FLAGS
    if unknown:
        raise _fail("unknown objective option", arrived=repr(sorted(unknown)))
    for key, value in options.items():
        if key == "num_class":
            stated = _int_value(value, "the objective's num_class", 1, _INT32)
            if stated != num_class:
                raise _fail(
                    "the objective's num_class must equal the header's num_class",
                    arrived=f"num_class:{stated} in the objective, num_class={num_class}",
                )
        else:
            number = _float_value(value, f"the objective option {key}")
            if key == "sigmoid" and number <= 0:
                raise _fail("the objective option sigmoid must be positive", arrived=value)
    if name in _NEEDS_SIGMOID and "sigmoid" not in options:
        raise _fail(f"a {name} objective must state sigmoid:", arrived=_short(objective))
    if name in _MULTI and "num_class" not in options:
        raise _fail(f"a {name} objective must state num_class:", arrived=_short(objective))
    if name in _MULTI and num_class < 2:
        raise _fail(
            f"a {name} model must have num_class >= 2", arrived=f"num_class={num_class}"
        )
    if name not in _MULTI and num_class != 1:
        raise _fail(
            f"a {name} model has num_class=1 (one score per row)",
            arrived=f"num_class={num_class}",
        )


def _check_tree_sizes(sizes_text: str, body: str, heads: list[int]) -> None:
    """``tree_sizes`` are byte offsets LightGBM jumps to; they must land on every tree."""
    sizes = [_int_value(s, "tree_sizes", 0, 2**62) for s in sizes_text.split(" ") if s]
    if len(sizes) != len(heads):
        raise _fail(
            "tree_sizes must give one size per tree",
            arrived=f"{len(sizes)} sizes for {len(heads)} trees",
        )
    bounds = [*heads, len(body)]
    for i, size in enumerate(sizes):
        actual = len(body[bounds[i] : bounds[i + 1]].encode("utf-8"))
        if size != actual:
            raise _fail(
                "tree_sizes must equal the size in bytes of every tree block",
                arrived=f"tree {i}: tree_sizes says {size}, the block has {actual} bytes",
            )


def _check_parameters(tail: str) -> None:
    """Check the ``parameters:`` section as LightGBM reads it back (``GetLoadedParam``).

    Every line up to ``end of parameters`` must read ``[name: value]``: LightGBM splits each on
    ``:`` and reads the second part without checking that there is one.
    """
    inside = False
    for line in tail.split("\n"):
        if line == "parameters:":
            inside = True
        elif line == "end of parameters":
            return
        elif inside and line and not _PARAMETER_LINE.fullmatch(line):
            raise _fail("every parameter line must read '[name: value]'", arrived=_short(line))
    if inside:
        raise _fail("the parameters section has no 'end of parameters' line")


def parse_model_text(text: str) -> ParsedModel:
    r"""Parse and check a LightGBM text model.

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
        When the text is not a LightGBM tree model, is truncated, or holds anything LightGBM
        could misread (see the module docstring for every rule).

    Examples
    --------
    >>> model = parse_model_text(
    ...     "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
    ...     "max_feature_idx=0\nobjective=regression\nfeature_names=x\nfeature_infos=none\n\n"
    ...     "Tree=0\nnum_leaves=1\nnum_cat=0\nleaf_value=0.5\nleaf_count=10\nis_linear=0\n\n"
    ...     "end of trees\n"
    ... )
    >>> model.num_features, len(model.trees), model.trees[0].leaf_value
    (1, 1, array([0.5]))
    >>> try:
    ...     parse_model_text("tree\nnum_class=3\n")
    ... except ModelIntegrityError as err:
    ...     print(err.message)
    the model text is truncated: 'end of trees' is missing
    """
    if not isinstance(text, str) or not text.startswith("tree"):
        raise _fail(
            "a LightGBM text model starts with the line 'tree'",
            arrived=_short(text, 40) if isinstance(text, str) else type(text).__name__,
        )
    if "\x00" in text or "\r" in text:
        raise _fail(
            "a LightGBM text model holds no NUL or carriage-return characters (LightGBM writes "
            "'\\n' line ends)",
            arrived=f"{text.count(chr(0))} NUL, {text.count(chr(13))} carriage returns",
        )
    marker = text.find("\nend of trees")
    if marker < 0:
        raise _fail("the model text is truncated: 'end of trees' is missing", arrived=_short(text))
    first = text.find("\nTree=", 0, marker + 1)
    head_end = first if first >= 0 else marker
    header = _header(text[:head_end])
    num_class = _int_value(header.get("num_class"), "num_class", 1, _INT32)
    ntpi = _int_value(
        header.get("num_tree_per_iteration", str(num_class)), "num_tree_per_iteration", 1, _INT32
    )
    if ntpi != num_class:
        raise _fail(
            "num_tree_per_iteration must equal num_class (one tree per class and iteration)",
            arrived=f"num_class={num_class}, num_tree_per_iteration={ntpi}",
        )
    _int_value(header.get("label_index"), "label_index", 0, _INT32)
    max_feature_idx = _int_value(header.get("max_feature_idx"), "max_feature_idx", 0, _INT32 - 1)
    num_features = max_feature_idx + 1
    feature_names = [n for n in header.get("feature_names", "").split(" ") if n]
    feature_infos = [n for n in header.get("feature_infos", "").split(" ") if n]
    for key, values in (("feature_names", feature_names), ("feature_infos", feature_infos)):
        if key not in header or len(values) != num_features:
            raise _fail(
                f"{key} must list one entry per feature (max_feature_idx + 1 = {num_features})",
                arrived=f"{len(values)} entries" if key in header else f"no {key} line",
            )
    objective = header.get("objective", "custom").strip(" ")
    _check_objective(objective, num_class)
    categorical = [
        i for i, info in enumerate(feature_infos) if not info.startswith("[") and info != "none"
    ]
    # trees: from the first "Tree=" line to the line "end of trees"
    trees: list[ParsedTree] = []
    heads: list[int] = []
    if first >= 0:
        body = text[first + 1 : marker + 1]
        for i, (start, head, lines) in enumerate(_split_trees(body)):
            if head != f"Tree={i}":
                raise _fail(f"tree {i} must start with the line 'Tree={i}'", arrived=_short(head))
            heads.append(start)
            trees.append(_parse_tree(lines, i, num_features))
        if "tree_sizes" in header:
            _check_tree_sizes(header["tree_sizes"], body, heads)
    if not trees or len(trees) % ntpi:
        raise _fail(
            "a model needs a whole number (at least one) of iterations of num_tree_per_iteration "
            "trees",
            arrived=f"{len(trees)} trees, {ntpi} per iteration",
        )
    _check_parameters(text[marker + 1 :])
    total = sum(float(np.max(np.abs(t.leaf_value))) for t in trees)
    if not math.isfinite(total):
        raise _fail("the leaf values add up past the largest floating-point number")
    pandas_categorical = None
    tail = text.rfind("\npandas_categorical:")
    if tail >= 0:
        payload = text[tail + len("\npandas_categorical:") :].strip()
        try:
            loaded = json.loads(payload) if payload else None
        except (json.JSONDecodeError, RecursionError):
            raise _fail("the pandas_categorical trailer is not valid JSON") from None
        if loaded is not None and not (
            isinstance(loaded, list) and all(isinstance(v, list) for v in loaded)
        ):
            raise _fail("pandas_categorical must be a list of lists", arrived=_short(payload))
        pandas_categorical = loaded
    return ParsedModel(
        num_class=num_class,
        num_tree_per_iteration=ntpi,
        max_feature_idx=max_feature_idx,
        objective=objective or "custom",
        feature_names=feature_names,
        feature_infos=feature_infos,
        average_output="average_output" in header,
        trees=trees,
        pandas_categorical=pandas_categorical,
        categorical_features=categorical,
    )


def objective_name(objective: str) -> tuple[str, dict[str, str], set[str]]:
    """Split LightGBM's objective line into name, ``key:value`` options and flags.

    Parameters
    ----------
    objective : str
        The ``objective=`` value of a model text, e.g. ``"binary sigmoid:1"``.

    Returns
    -------
    tuple of (str, dict, set)
        The objective's name, its options and its flags (e.g. ``sqrt``).

    Examples
    --------
    >>> objective_name("binary sigmoid:1")
    ('binary', {'sigmoid': '1'}, set())
    """
    parts = objective.split(" ")
    parts = [p for p in parts if p]
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
