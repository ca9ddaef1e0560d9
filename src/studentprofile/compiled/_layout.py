"""Turn parsed LightGBM trees into the flat arrays the kernels walk.

Layout
------
* **Prepared columns.** Every distinct (feature, missing-value kind) used by a numerical split,
  and every distinct (feature, bitset) used by a categorical split, becomes one column of the
  prepared row ``xv`` (see ``_kernels.py``); one more, always 0.0, serves the leaves.
* **Nodes.** All trees share flat node arrays. Each tree is laid out breadth first with the two
  children of a node side by side (``right = left + 1``), so a step is
  ``node = left[node] + go_right`` and a tree's top levels share cache lines. Leaves are nodes
  that point to themselves. For the batch kernel the column offset and the left child are packed
  into one int64 per node (``node_meta``); thresholds live in their own float64 array.
* **TreeSHAP.** Per node its feature, its cover (LightGBM's data count), and the position of its
  feature in the list of distinct features on the path from the root (the same for every leaf
  below it). Per leaf its distinct path features, their cover-ratio products ``r_j`` and
  ``(1 - r_j) / r_j``, and the offset of its Fast TreeSHAP v2 table (``2**d`` doubles).
  A tree is explained with the classic algorithm instead when a leaf has more than
  ``max_fast_depth`` distinct path features, a cover ratio is zero, or the tables would pass
  the memory bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studentprofile.compiled import _kernels as K
from studentprofile.models._lgb_text import ParsedModel, ParsedTree

__all__ = ["Layout", "ShapLayout", "build_layout", "build_shap_layout"]


@dataclass(frozen=True)
class Layout:
    """Flat arrays for prediction (all read-only)."""

    colinfo: np.ndarray  # (C, 4): feature, kind, bitset start, bitset length
    cat_words: np.ndarray
    node_thr: np.ndarray
    node_col: np.ndarray
    node_left: np.ndarray
    node_value: np.ndarray
    pack_batch: np.ndarray  # (2N,) uint64: threshold bits, column * BLOCK | left << 32
    pack_row: np.ndarray  # (2N,) uint64: threshold bits, column | left << 32
    node_leaf: np.ndarray
    node_feat: np.ndarray
    node_cover: np.ndarray
    node_pos: np.ndarray
    tree_root: np.ndarray
    tree_size: np.ndarray
    tree_depth: np.ndarray
    tree_class: np.ndarray
    tree_expected: np.ndarray
    trees_batch: np.ndarray  # (T, 3): root, depth, class
    group_depth: np.ndarray  # (T // 8,): deepest tree of each run of eight (single-row kernel)

    @property
    def n_trees(self) -> int:
        """Number of trees laid out."""
        return int(self.tree_root.shape[0])


@dataclass(frozen=True)
class ShapLayout:
    """Per-leaf arrays and tables for Fast TreeSHAP v2 (all read-only)."""

    tree_fast: np.ndarray
    leaf_d: np.ndarray
    leaf_path_off: np.ndarray
    path_feat: np.ndarray
    path_r: np.ndarray
    path_coef: np.ndarray
    leaf_table_off: np.ndarray
    table: np.ndarray

    @property
    def table_bytes(self) -> int:
        """Memory held by the precomputed tables."""
        return int(self.table.nbytes)


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def _kind(decision_type: int) -> int:
    missing = (decision_type >> 2) & 3
    default_left = (decision_type >> 1) & 1
    if missing == 0:
        return K.KIND_NONE
    if missing == 2:
        return K.KIND_NAN_LEFT if default_left else K.KIND_NAN_RIGHT
    return K.KIND_ZERO_LEFT if default_left else K.KIND_ZERO_RIGHT


def _bfs(tree: ParsedTree) -> list[int]:
    """List LightGBM node codes (internal >= 0, leaf ``~i``) breadth first, siblings adjacent."""
    if tree.num_leaves == 1:
        return [-1]
    order = [0]
    k = 0
    while k < len(order):
        code = order[k]
        if code >= 0:
            order.append(int(tree.left_child[code]))
            order.append(int(tree.right_child[code]))
        k += 1
    return order


def build_layout(model: ParsedModel, n_trees: int) -> Layout:
    """Lay out the first ``n_trees`` trees of ``model``."""
    columns: dict[tuple[int, int, tuple[int, ...]], int] = {}
    col_feat: list[int] = []
    col_kind: list[int] = []
    col_cat_start: list[int] = []
    col_cat_len: list[int] = []
    cat_words: list[int] = []

    def column(feature: int, kind: int, words: tuple[int, ...] = ()) -> int:
        key = (feature, kind, words)
        found = columns.get(key)
        if found is not None:
            return found
        columns[key] = len(col_feat)
        col_feat.append(feature)
        col_kind.append(kind)
        col_cat_start.append(len(cat_words))
        col_cat_len.append(len(words))
        cat_words.extend(words)
        return columns[key]

    trees = model.trees[:n_trees]
    total = sum(2 * t.num_leaves - 1 for t in trees)
    thr = np.empty(total)
    col = np.empty(total, np.int64)
    left = np.empty(total, np.int64)
    value = np.zeros(total)
    leaf_id = np.full(total, -1, np.int64)
    feat = np.full(total, -1, np.int64)
    cover = np.zeros(total)
    pos = np.zeros(total, np.int64)
    tree_root = np.empty(len(trees), np.int64)
    tree_size = np.empty(len(trees), np.int64)
    tree_depth = np.empty(len(trees), np.int64)
    tree_class = np.empty(len(trees), np.int64)
    tree_expected = np.empty(len(trees))
    const_nodes: list[int] = []  # leaves read the constant column, known only at the end
    base = 0
    n_leaves_seen = 0
    for t, tree in enumerate(trees):
        order = _bfs(tree)
        index = {code: j for j, code in enumerate(order)}
        depth = {0 if tree.num_leaves > 1 else -1: 0}
        # distinct-feature path lists, per node code
        unique: dict[int, list[int]] = {order[0]: []}
        for j, code in enumerate(order):
            nd = base + j
            if code >= 0:
                f = int(tree.split_feature[code])
                dt = int(tree.decision_type[code])
                if dt & 1:
                    ci = int(tree.threshold[code])
                    lo, hi = int(tree.cat_boundaries[ci]), int(tree.cat_boundaries[ci + 1])
                    words = [int(w) for w in tree.cat_threshold[lo:hi]]
                    while words and words[-1] == 0:
                        words.pop()
                    col[nd] = column(f, K.KIND_CAT, tuple(words))
                    thr[nd] = 0.5
                else:
                    col[nd] = column(f, _kind(dt))
                    thr[nd] = float(tree.threshold[code])
                lc, rc = int(tree.left_child[code]), int(tree.right_child[code])
                left[nd] = base + index[lc]
                feat[nd] = f
                cover[nd] = float(tree.internal_count[code])
                path = unique[code]
                if f in path:
                    pos[nd] = path.index(f)
                    child_path = path
                else:
                    pos[nd] = len(path)
                    child_path = [*path, f]
                unique[lc] = child_path
                unique[rc] = child_path
                depth[lc] = depth[code] + 1
                depth[rc] = depth[code] + 1
            else:
                leaf = ~code
                const_nodes.append(nd)
                thr[nd] = np.inf
                left[nd] = nd
                value[nd] = float(tree.leaf_value[leaf])
                leaf_id[nd] = n_leaves_seen + leaf
                cover[nd] = float(tree.leaf_count[leaf])
        tree_root[t] = base
        tree_size[t] = len(order)
        tree_depth[t] = max(depth.values())
        tree_class[t] = t % model.num_tree_per_iteration
        if tree.num_leaves == 1:
            tree_expected[t] = float(tree.leaf_value[0])
        else:
            total_count = float(tree.internal_count[0])
            exp_value = 0.0
            for i in range(tree.num_leaves):
                exp_value += (float(tree.leaf_count[i]) / total_count) * float(tree.leaf_value[i])
            tree_expected[t] = exp_value
        base += len(order)
        n_leaves_seen += tree.num_leaves
    n_cols = len(col_feat)
    col[const_nodes] = n_cols
    if n_cols + 1 >= 2**31 // K.BLOCK or total >= 2**31:
        from studentprofile.errors import ModelIntegrityError

        raise ModelIntegrityError(
            "the model is too large for the compiled scorer",
            arrived=f"{total} nodes, {n_cols} prepared columns",
            hint="score it with lightgbm itself",
        )
    pack_batch = np.empty(2 * total, np.int64)
    pack_batch[0::2] = thr.view(np.int64)
    pack_batch[1::2] = (col * K.BLOCK) | (left << 32)
    pack_row = np.empty(2 * total, np.int64)
    pack_row[0::2] = thr.view(np.int64)
    pack_row[1::2] = col | (left << 32)
    trees_batch = np.stack([tree_root, tree_depth, tree_class], axis=1)
    n_groups = len(trees) // 8
    group_depth = tree_depth[: n_groups * 8].reshape(n_groups, 8).max(axis=1, initial=0)
    colinfo = np.array([col_feat, col_kind, col_cat_start, col_cat_len], np.int64).T
    return Layout(
        colinfo=_freeze(colinfo.reshape(n_cols, 4)),
        cat_words=_freeze(np.array(cat_words, np.int64)),
        node_thr=_freeze(thr),
        node_col=_freeze(col),
        node_left=_freeze(left),
        node_value=_freeze(value),
        pack_batch=_freeze(pack_batch.view(np.uint64)),
        pack_row=_freeze(pack_row.view(np.uint64)),
        node_leaf=_freeze(leaf_id),
        node_feat=_freeze(feat),
        node_cover=_freeze(cover),
        node_pos=_freeze(pos),
        tree_root=_freeze(tree_root),
        tree_size=_freeze(tree_size),
        tree_depth=_freeze(tree_depth),
        tree_class=_freeze(tree_class),
        tree_expected=_freeze(tree_expected),
        trees_batch=_freeze(trees_batch.astype(np.int64)),
        group_depth=_freeze(group_depth.astype(np.int64)),
    )


def build_shap_layout(layout: Layout, *, max_fast_depth: int, memory_limit: int) -> ShapLayout:
    """Per-leaf path data and Fast TreeSHAP v2 tables for ``layout``.

    Trees are taken in model order; a tree gets tables if each of its leaves has at most
    ``max_fast_depth`` distinct path features, no cover ratio on its paths is zero, and its
    tables fit in what is left of ``memory_limit`` bytes. Other trees use the classic algorithm.
    """
    n_leaves = int(np.count_nonzero(layout.node_leaf >= 0))
    leaf_d = np.zeros(n_leaves, np.int64)
    leaf_path_off = np.zeros(n_leaves, np.int64)
    leaf_table_off = np.zeros(n_leaves, np.int64)
    leaf_value = np.zeros(n_leaves)
    leaf_fast = np.zeros(n_leaves, np.bool_)
    path_feat: list[int] = []
    path_r: list[float] = []
    tree_fast = np.zeros(layout.n_trees, np.bool_)
    thr_left = layout.node_left
    budget = memory_limit // 8
    table_size = 0
    for t in range(layout.n_trees):
        root = int(layout.tree_root[t])
        size = int(layout.tree_size[t])
        if size == 1:
            continue
        # walk the tree top-down carrying (features, ratios) of the distinct path features
        paths: dict[int, tuple[list[int], list[float]]] = {root: ([], [])}
        tree_leaves: list[tuple[int, list[int], list[float]]] = []
        ok = True
        for nd in range(root, root + size):
            feats, ratios = paths.pop(nd)
            lf = int(layout.node_leaf[nd])
            if lf >= 0:
                tree_leaves.append((lf, feats, ratios))
                leaf_value[lf] = layout.node_value[nd]
                continue
            f = int(layout.node_feat[nd])
            p = int(layout.node_pos[nd])
            c = float(layout.node_cover[nd])
            lc = int(thr_left[nd])
            for child in (lc, lc + 1):
                ratio = float(layout.node_cover[child]) / c if c != 0 else np.nan
                if p < len(feats):
                    new_ratios = ratios.copy()
                    new_ratios[p] = new_ratios[p] * ratio
                    paths[child] = (feats, new_ratios)
                else:
                    paths[child] = ([*feats, f], [*ratios, ratio])
        need = 0
        for _lf, feats, ratios in tree_leaves:
            d = len(feats)
            if d > max_fast_depth or not all(r > 0 and np.isfinite(r) for r in ratios):
                ok = False
                break
            need += 1 << d
        if ok and table_size + need <= budget:
            tree_fast[t] = True
        for lf, feats, ratios in tree_leaves:
            leaf_d[lf] = len(feats)
            leaf_path_off[lf] = len(path_feat)
            path_feat.extend(feats)
            path_r.extend(ratios)
            if tree_fast[t]:
                leaf_fast[lf] = True
                leaf_table_off[lf] = table_size
                table_size += 1 << len(feats)
    r_arr = np.array(path_r, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(r_arr > 0, (1.0 - r_arr) / r_arr, 0.0)
    table = np.zeros(table_size)
    K.shap_tables(leaf_d, leaf_path_off, r_arr, leaf_value, leaf_table_off, leaf_fast, table)
    return ShapLayout(
        tree_fast=_freeze(tree_fast),
        leaf_d=_freeze(leaf_d),
        leaf_path_off=_freeze(leaf_path_off),
        path_feat=_freeze(np.array(path_feat, np.int64)),
        path_r=_freeze(r_arr),
        path_coef=_freeze(coef),
        leaf_table_off=_freeze(leaf_table_off),
        table=_freeze(table),
    )
