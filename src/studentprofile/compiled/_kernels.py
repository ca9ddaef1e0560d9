"""Numba kernels of the compiled scorer: column preparation, tree traversal and TreeSHAP.

These loops import only numpy and numba; they never validate and never raise. The thin wrappers
in ``_scorer.py`` hand them contiguous, correctly typed arrays.

Decision rule (one comparison per node)
---------------------------------------
Before any tree is touched, every input row is turned into a short vector of *prepared columns*
``xv``. A prepared column is a (feature, missing-value handling) pair, or for a categorical split
one (feature, bitset) pair; see ``_layout.py``. The preparation folds LightGBM's missing-value
rules (``Tree::NumericalDecision`` / ``CategoricalDecision``) into the value itself, so that
every node, numerical or categorical, decides with the same branch-free test::

    go_right = not (xv[col] <= threshold)      # an unordered compare: NaN goes right

* values with ``|v| <= kZeroThreshold`` become 0.0 (LightGBM drops them from the row);
* missing type None: NaN becomes 0.0;
* missing type NaN: NaN goes to the default child: -inf (default left) or NaN (default right);
* missing type Zero: NaN and zero go to the default child the same way;
* categorical: 0.0 when the category is in the node's bitset (left), 1.0 otherwise
  (NaN, negative values and values >= 2**31 always go right), threshold 0.5.

Leaves are nodes too: they read a constant 0.0 column against a threshold of +inf and point to
themselves, so a tree can be walked for a fixed number of steps (its depth) with no branch.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# LightGBM's kZeroThreshold is the float literal 1e-35f widened to double.
KZERO = float(np.float32(1e-35))

KIND_NONE = 0
KIND_NAN_LEFT = 1
KIND_NAN_RIGHT = 2
KIND_ZERO_LEFT = 3
KIND_ZERO_RIGHT = 4
KIND_CAT = 5

BLOCK = 64  # rows per block in the batch kernel (a multiple of 8)
SHAP_BLOCK = 32  # rows per block in the TreeSHAP kernel
_INT_LIMIT = 2147483648.0


@nb.njit(cache=True, nogil=True)
def column_value(v, kind, cat_start, cat_len, cat_words):  # type: ignore[no-untyped-def]
    """Return the prepared value of raw feature value ``v`` for a column of the given kind."""
    if kind < KIND_ZERO_LEFT and (v > KZERO or v < -KZERO):
        return v  # the common case: an ordinary number on a numerical split
    if v != v:
        if kind == KIND_NONE:
            return 0.0
        if kind == KIND_NAN_LEFT or kind == KIND_ZERO_LEFT:
            return -np.inf
        if kind == KIND_CAT:
            return 1.0
        return np.nan
    if -KZERO <= v <= KZERO:
        v = 0.0
    if kind == KIND_ZERO_LEFT or kind == KIND_ZERO_RIGHT:
        if v == 0.0:
            return -np.inf if kind == KIND_ZERO_LEFT else np.nan
        return v
    if kind == KIND_CAT:
        if v <= -1.0 or v >= _INT_LIMIT:
            return 1.0
        c = np.int64(v)
        w = c >> 5
        if w >= cat_len:
            return 1.0
        if (cat_words[cat_start + w] >> (c & 31)) & 1:
            return 0.0
        return 1.0
    return v


@nb.njit(cache=True, nogil=True)
def fill_block(X, r0, m, colinfo, cat_words, xv, stride):  # type: ignore[no-untyped-def]
    """Prepare rows ``r0 .. r0+m-1`` of ``X`` into ``xv`` (column-major, ``stride`` per column).

    ``colinfo`` holds one row per prepared column: feature, kind, bitset start, bitset length.
    """
    for c in range(colinfo.shape[0]):
        f = colinfo[c, 0]
        kind = colinfo[c, 1]
        cs = colinfo[c, 2]
        cl = colinfo[c, 3]
        base = c * stride
        for i in range(m):
            xv[base + i] = column_value(X[r0 + i, f], kind, cs, cl, cat_words)


@nb.njit(cache=True, nogil=True, parallel=True)
def predict_batch(X, colinfo, cat_words, pk, pkf, node_value, trees, n_class, out):  # type: ignore[no-untyped-def]
    """Raw scores of every row of ``X`` into ``out`` (n, n_class).

    Rows are cut into blocks of ``BLOCK``; a block is prepared once (column-major), then every
    tree walks eight rows at a time in lock-step: eight independent dependency chains and no
    data-dependent branch. ``pk`` (uint64) holds two words per node: the threshold's bits (read
    through the float64 view ``pkf``) and ``column * BLOCK | left << 32``; the right child is
    ``left + 1``. Node indices are unsigned so that numba emits no negative-index wraparound
    code in the inner loop. Trees are added in model order, as LightGBM adds them, so the sums
    are bit-identical.
    """
    n = X.shape[0]
    C = colinfo.shape[0]
    nblocks = (n + BLOCK - 1) // BLOCK
    low = np.uint64(0xFFFFFFFF)
    sh = np.uint64(32)
    one = np.uint64(1)
    two = np.uint64(2)
    u3 = np.uint64(3)
    u4 = np.uint64(4)
    u5 = np.uint64(5)
    u6 = np.uint64(6)
    u7 = np.uint64(7)
    for b in nb.prange(nblocks):
        r0 = b * BLOCK
        m = min(BLOCK, n - r0)
        xv = np.zeros((C + 1) * BLOCK)
        fill_block(X, r0, m, colinfo, cat_words, xv, BLOCK)
        acc = np.zeros(n_class * BLOCK)
        for t in range(trees.shape[0]):
            root = np.uint64(trees[t, 0])
            depth = trees[t, 1]
            a = trees[t, 2] * BLOCK
            for i0 in range(0, BLOCK, 8):
                i = np.uint64(i0)
                n0 = root
                n1 = root
                n2 = root
                n3 = root
                n4 = root
                n5 = root
                n6 = root
                n7 = root
                for _ in range(depth):
                    m0 = pk[two * n0 + one]
                    m1 = pk[two * n1 + one]
                    m2 = pk[two * n2 + one]
                    m3 = pk[two * n3 + one]
                    m4 = pk[two * n4 + one]
                    m5 = pk[two * n5 + one]
                    m6 = pk[two * n6 + one]
                    m7 = pk[two * n7 + one]
                    n0 = (m0 >> sh) + np.uint64(not (xv[(m0 & low) + i] <= pkf[two * n0]))
                    n1 = (m1 >> sh) + np.uint64(not (xv[(m1 & low) + i + one] <= pkf[two * n1]))
                    n2 = (m2 >> sh) + np.uint64(not (xv[(m2 & low) + i + two] <= pkf[two * n2]))
                    n3 = (m3 >> sh) + np.uint64(not (xv[(m3 & low) + i + u3] <= pkf[two * n3]))
                    n4 = (m4 >> sh) + np.uint64(not (xv[(m4 & low) + i + u4] <= pkf[two * n4]))
                    n5 = (m5 >> sh) + np.uint64(not (xv[(m5 & low) + i + u5] <= pkf[two * n5]))
                    n6 = (m6 >> sh) + np.uint64(not (xv[(m6 & low) + i + u6] <= pkf[two * n6]))
                    n7 = (m7 >> sh) + np.uint64(not (xv[(m7 & low) + i + u7] <= pkf[two * n7]))
                acc[a + i0] += node_value[n0]
                acc[a + i0 + 1] += node_value[n1]
                acc[a + i0 + 2] += node_value[n2]
                acc[a + i0 + 3] += node_value[n3]
                acc[a + i0 + 4] += node_value[n4]
                acc[a + i0 + 5] += node_value[n5]
                acc[a + i0 + 6] += node_value[n6]
                acc[a + i0 + 7] += node_value[n7]
        for k in range(n_class):
            for r in range(m):
                out[r0 + r, k] = acc[k * BLOCK + r]


@nb.njit(cache=True, nogil=True)
def predict_row(x, colinfo, cat_words, pk, pkf, node_value, trees, group_depth, out):  # type: ignore[no-untyped-def]
    """Raw scores of one row ``x`` into ``out`` (n_class,).

    One row has no other rows to overlap with, so eight consecutive *trees* walk in lock-step
    instead, for ``group_depth[g]`` steps (the deepest of the eight). ``pk`` packs the
    threshold's bits and ``column | left << 32``. Leaf values are added in model order, so the
    sum is bit-identical to LightGBM's.
    """
    C = colinfo.shape[0]
    xv = np.empty(C + 1)
    xv[C] = 0.0
    for c in range(C):
        xv[c] = column_value(x[colinfo[c, 0]], colinfo[c, 1], colinfo[c, 2], colinfo[c, 3],
                             cat_words)
    T = trees.shape[0]
    low = np.uint64(0xFFFFFFFF)
    sh = np.uint64(32)
    one = np.uint64(1)
    two = np.uint64(2)
    for k in range(out.shape[0]):
        out[k] = 0.0
    t = 0
    g = 0
    while t + 8 <= T:
        n0 = np.uint64(trees[t, 0])
        n1 = np.uint64(trees[t + 1, 0])
        n2 = np.uint64(trees[t + 2, 0])
        n3 = np.uint64(trees[t + 3, 0])
        n4 = np.uint64(trees[t + 4, 0])
        n5 = np.uint64(trees[t + 5, 0])
        n6 = np.uint64(trees[t + 6, 0])
        n7 = np.uint64(trees[t + 7, 0])
        for _ in range(group_depth[g]):
            m0 = pk[two * n0 + one]
            m1 = pk[two * n1 + one]
            m2 = pk[two * n2 + one]
            m3 = pk[two * n3 + one]
            m4 = pk[two * n4 + one]
            m5 = pk[two * n5 + one]
            m6 = pk[two * n6 + one]
            m7 = pk[two * n7 + one]
            n0 = (m0 >> sh) + np.uint64(not (xv[m0 & low] <= pkf[two * n0]))
            n1 = (m1 >> sh) + np.uint64(not (xv[m1 & low] <= pkf[two * n1]))
            n2 = (m2 >> sh) + np.uint64(not (xv[m2 & low] <= pkf[two * n2]))
            n3 = (m3 >> sh) + np.uint64(not (xv[m3 & low] <= pkf[two * n3]))
            n4 = (m4 >> sh) + np.uint64(not (xv[m4 & low] <= pkf[two * n4]))
            n5 = (m5 >> sh) + np.uint64(not (xv[m5 & low] <= pkf[two * n5]))
            n6 = (m6 >> sh) + np.uint64(not (xv[m6 & low] <= pkf[two * n6]))
            n7 = (m7 >> sh) + np.uint64(not (xv[m7 & low] <= pkf[two * n7]))
        out[trees[t, 2]] += node_value[n0]
        out[trees[t + 1, 2]] += node_value[n1]
        out[trees[t + 2, 2]] += node_value[n2]
        out[trees[t + 3, 2]] += node_value[n3]
        out[trees[t + 4, 2]] += node_value[n4]
        out[trees[t + 5, 2]] += node_value[n5]
        out[trees[t + 6, 2]] += node_value[n6]
        out[trees[t + 7, 2]] += node_value[n7]
        t += 8
        g += 1
    while t < T:
        nd = np.uint64(trees[t, 0])
        for _ in range(trees[t, 1]):
            mt = pk[two * nd + one]
            nd = (mt >> sh) + np.uint64(not (xv[mt & low] <= pkf[two * nd]))
        out[trees[t, 2]] += node_value[nd]
        t += 1


# ---------------------------------------------------------------------------------------------
# TreeSHAP
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True)
def shap_tables(leaf_d, leaf_path_off, path_r, leaf_value, leaf_table_off, leaf_fast, table):  # type: ignore[no-untyped-def]
    r"""Fill the Fast TreeSHAP v2 tables: ``table[off + U] = v * G(U)`` for every leaf.

    For a leaf with value ``v`` whose path holds ``d`` distinct features with cover ratios
    ``r_j`` (products over the path's nodes on feature ``j``) and every subset ``U`` of them::

        G(U) = prod_{j not in U} r_j * sum_{S subset of U} w_d(|S|) prod_{j in U \\ S} r_j
        w_d(s) = s! (d - 1 - s)! / d!

    ``sum_{S subset of U} ...`` is ``sum_s w_d(s) [y^s] prod_{j in U} (r_j + y)``; the
    polynomial of ``U`` is the one of ``U`` without its highest member times ``(r_top + y)``, so
    each leaf costs O(2^d d).
    """
    maxd = 0
    for leaf in range(leaf_d.shape[0]):
        if leaf_fast[leaf] and leaf_d[leaf] > maxd:
            maxd = leaf_d[leaf]
    size = 1 << maxd
    poly = np.zeros(size * (maxd + 1))
    prod = np.zeros(size)
    w = np.zeros(maxd + 1)
    for leaf in range(leaf_d.shape[0]):
        if not leaf_fast[leaf]:
            continue
        d = leaf_d[leaf]
        off = leaf_path_off[leaf]
        toff = leaf_table_off[leaf]
        v = leaf_value[leaf]
        if d == 0:
            table[toff] = 0.0
            continue
        # w_d(s) = 1 / (d * C(d-1, s))
        binom = 1.0
        for s in range(d):
            if s > 0:
                binom = binom * (d - s) / s
            w[s] = 1.0 / (d * binom)
        full = (1 << d) - 1
        poly[0] = 1.0
        prod[0] = 1.0
        for u in range(1, full + 1):
            top = _top_bit(u)
            prev = u ^ (1 << top)
            r = path_r[off + top]
            prod[u] = prod[prev] * r
            k_prev = _popcount(prev)
            pb = prev * (maxd + 1)
            ub = u * (maxd + 1)
            poly[ub] = r * poly[pb]
            for s in range(1, k_prev + 1):
                poly[ub + s] = r * poly[pb + s] + poly[pb + s - 1]
            poly[ub + k_prev + 1] = poly[pb + k_prev]
        for u in range(full + 1):
            k = _popcount(u)
            if k == d:
                table[toff + u] = 0.0
                continue
            acc = 0.0
            ub = u * (maxd + 1)
            for s in range(k + 1):
                acc += w[s] * poly[ub + s]
            table[toff + u] = v * prod[full ^ u] * acc


@nb.njit(cache=True, nogil=True)
def _top_bit(u):  # type: ignore[no-untyped-def]
    top = 0
    u >>= 1
    while u:
        u >>= 1
        top += 1
    return top


@nb.njit(cache=True, nogil=True)
def _popcount(u):  # type: ignore[no-untyped-def]
    c = 0
    while u:
        u &= u - 1
        c += 1
    return c


@nb.njit(cache=True, nogil=True)
def _fast_tree(xv, stride, m, root, size, node_thr, node_col,  # type: ignore[no-untyped-def]
               node_left, node_leaf, node_pos, leaf_d, leaf_path_off, path_feat, path_coef,
               leaf_table_off, table, out, r0, poff, mask):
    """Fast TreeSHAP v2 for one tree and the ``m`` prepared rows of a block, into ``out``.

    First, for every row, one pass over the nodes (parents before children) carries the bit set
    of path positions the row still agrees with (``mask[i, node]``). Then leaf by leaf and path
    feature by path feature, the rows of the block are updated in the innermost loop: the rows'
    SHAP vectors are distinct, so the updates do not wait on one another, and the leaf's table
    stays in cache for the whole block.
    """
    for i in range(m):
        mask[i, 0] = -1
        for j in range(size):
            nd = root + j
            if node_leaf[nd] < 0:
                mk = mask[i, j]
                left = node_left[nd] - root
                bit = np.int64(1) << node_pos[nd]
                if xv[node_col[nd] * stride + i] <= node_thr[nd]:
                    mask[i, left] = mk
                    mask[i, left + 1] = mk & ~bit
                else:
                    mask[i, left] = mk & ~bit
                    mask[i, left + 1] = mk
    for j in range(size):
        lf = node_leaf[root + j]
        if lf < 0:
            continue
        d = leaf_d[lf]
        low = (np.int64(1) << d) - 1
        off = leaf_path_off[lf]
        toff = leaf_table_off[lf]
        for p in range(d):
            f = poff + path_feat[off + p]
            c = path_coef[off + p]
            for i in range(m):
                tset = mask[i, j] & low
                inside = (tset >> p) & 1
                # in T: coef_j * H[T - {j}];  not in T: -H[T]  (a select, not a branch)
                coef = c if inside else -1.0
                out[r0 + i, f] += coef * table[toff + (tset ^ (inside << p))]


@nb.njit(cache=True, nogil=True)
def _extend(uf, uz, uo, uw, start, depth, zero, one, feat):  # type: ignore[no-untyped-def]
    uf[start + depth] = feat
    uz[start + depth] = zero
    uo[start + depth] = one
    uw[start + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        uw[start + i + 1] += one * uw[start + i] * (i + 1) / (depth + 1.0)
        uw[start + i] = zero * uw[start + i] * (depth - i) / (depth + 1.0)


@nb.njit(cache=True, nogil=True)
def _unwind(uf, uz, uo, uw, start, depth, path_index):  # type: ignore[no-untyped-def]
    one = uo[start + path_index]
    zero = uz[start + path_index]
    next_one = uw[start + depth]
    for i in range(depth - 1, -1, -1):
        if one != 0:
            tmp = uw[start + i]
            uw[start + i] = next_one * (depth + 1) / ((i + 1) * one)
            next_one = tmp - uw[start + i] * zero * (depth - i) / (depth + 1.0)
        else:
            uw[start + i] = (uw[start + i] * (depth + 1)) / (zero * (depth - i))
    for i in range(path_index, depth):
        uf[start + i] = uf[start + i + 1]
        uz[start + i] = uz[start + i + 1]
        uo[start + i] = uo[start + i + 1]


@nb.njit(cache=True, nogil=True)
def _unwound_sum(uz, uo, uw, start, depth, path_index):  # type: ignore[no-untyped-def]
    one = uo[start + path_index]
    zero = uz[start + path_index]
    next_one = uw[start + depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if one != 0:
            tmp = next_one * (depth + 1) / ((i + 1) * one)
            total += tmp
            next_one = uw[start + i] - tmp * zero * ((depth - i) / (depth + 1.0))
        else:
            total += (uw[start + i] / zero) / ((depth - i) / (depth + 1.0))
    return total


@nb.njit(cache=True, nogil=True)
def _classic(xv, stride, row, root, node_thr, node_col, node_left,  # type: ignore[no-untyped-def]
             node_leaf, node_feat, node_cover, node_value, phi, poff, uf, uz, uo, uw,
             st_node, st_depth, st_pstart, st_zero, st_one, st_feat):
    """Run the classic TreeSHAP (Lundberg et al., Algorithm 2) as LightGBM does, for one tree.

    LightGBM's recursion, with an explicit stack (the recursive version segfaulted when numba
    loaded it from its on-disk cache):
    a frame is (node, unique depth, parent path start, zero fraction, one fraction, feature);
    the hot child is visited before the cold one, as in LightGBM. A frame's path lives at
    ``parent start + depth``, above its parent's, so a pending sibling's parent path is intact.
    """
    top = 0
    st_node[0] = root
    st_depth[0] = 0
    st_pstart[0] = 0
    st_zero[0] = 1.0
    st_one[0] = 1.0
    st_feat[0] = -1
    while top >= 0:
        node = st_node[top]
        depth = st_depth[top]
        pstart = st_pstart[top]
        pzero = st_zero[top]
        pone = st_one[top]
        pfeat = st_feat[top]
        top -= 1
        start = pstart + depth
        for i in range(depth):
            uf[start + i] = uf[pstart + i]
            uz[start + i] = uz[pstart + i]
            uo[start + i] = uo[pstart + i]
            uw[start + i] = uw[pstart + i]
        _extend(uf, uz, uo, uw, start, depth, pzero, pone, pfeat)
        if node_leaf[node] >= 0:
            v = node_value[node]
            for i in range(1, depth + 1):
                w = _unwound_sum(uz, uo, uw, start, depth, i)
                phi[poff + uf[start + i]] += w * (uo[start + i] - uz[start + i]) * v
            continue
        left = node_left[node]
        if xv[node_col[node] * stride + row] <= node_thr[node]:
            hot = left
            cold = left + 1
        else:
            hot = left + 1
            cold = left
        cover = node_cover[node]
        hot_zero = node_cover[hot] / cover
        cold_zero = node_cover[cold] / cover
        in_zero = 1.0
        in_one = 1.0
        feat = node_feat[node]
        path_index = 0
        while path_index <= depth:
            if uf[start + path_index] == feat:
                break
            path_index += 1
        if path_index != depth + 1:
            in_zero = uz[start + path_index]
            in_one = uo[start + path_index]
            _unwind(uf, uz, uo, uw, start, depth, path_index)
            depth -= 1
        # push cold first so that hot is processed first
        top += 1
        st_node[top] = cold
        st_depth[top] = depth + 1
        st_pstart[top] = start
        st_zero[top] = cold_zero * in_zero
        st_one[top] = 0.0
        st_feat[top] = feat
        top += 1
        st_node[top] = hot
        st_depth[top] = depth + 1
        st_pstart[top] = start
        st_zero[top] = hot_zero * in_zero
        st_one[top] = in_one
        st_feat[top] = feat


@nb.njit(cache=True, nogil=True, parallel=True)
def shap_batch(X, colinfo, cat_words,  # type: ignore[no-untyped-def]
               node_thr, node_col, node_left, node_value, node_leaf, node_feat, node_cover,
               node_pos, tree_root, tree_size, tree_depth, tree_class, tree_fast, tree_expected,
               leaf_d, leaf_path_off, path_feat, path_coef, leaf_table_off, table, out):
    """Path-dependent TreeSHAP values of every row of ``X`` into ``out`` (n, n_class * (F+1)).

    Trees flagged in ``tree_fast`` use the precomputed tables (Fast TreeSHAP v2, Yang 2021):
    one pass over the tree's nodes gives, for every leaf, the set ``T`` of its path features the
    row agrees with; then each path feature ``j`` gets ``coef_j * H[T - {j}]`` when it is in
    ``T`` and ``-H[T]`` when it is not. The other trees run the classic algorithm. Rows are
    taken in blocks of ``SHAP_BLOCK`` and the loop runs tree by tree inside a block, so one
    tree's tables stay in cache while the block's rows use them.
    """
    n = X.shape[0]
    F = X.shape[1]
    C = colinfo.shape[0]
    n_trees = tree_root.shape[0]
    max_size = 1
    max_depth = 0
    for t in range(n_trees):
        max_size = max(max_size, tree_size[t])
        max_depth = max(max_depth, tree_depth[t])
    plen = (max_depth + 2) * (max_depth + 3) // 2
    nblocks = (n + SHAP_BLOCK - 1) // SHAP_BLOCK
    for b in nb.prange(nblocks):
        r0 = b * SHAP_BLOCK
        m = min(SHAP_BLOCK, n - r0)
        xv = np.zeros((C + 1) * SHAP_BLOCK)
        fill_block(X, r0, m, colinfo, cat_words, xv, SHAP_BLOCK)
        mask = np.empty((SHAP_BLOCK, max_size), np.int64)
        uf = np.empty(plen, np.int64)
        uz = np.empty(plen)
        uo = np.empty(plen)
        uw = np.empty(plen)
        slen = 2 * (max_depth + 2)
        st_node = np.empty(slen, np.int64)
        st_depth = np.empty(slen, np.int64)
        st_pstart = np.empty(slen, np.int64)
        st_zero = np.empty(slen)
        st_one = np.empty(slen)
        st_feat = np.empty(slen, np.int64)
        for t in range(n_trees):
            poff = tree_class[t] * (F + 1)
            root = tree_root[t]
            for i in range(m):
                out[r0 + i, poff + F] += tree_expected[t]
            if tree_size[t] == 1:
                continue
            if tree_fast[t]:
                _fast_tree(xv, SHAP_BLOCK, m, root, tree_size[t], node_thr, node_col, node_left,
                           node_leaf, node_pos, leaf_d, leaf_path_off, path_feat, path_coef,
                           leaf_table_off, table, out, r0, poff, mask)
            else:
                for i in range(m):
                    _classic(xv, SHAP_BLOCK, i, root, node_thr, node_col, node_left, node_leaf,
                             node_feat, node_cover, node_value, out[r0 + i], poff, uf, uz, uo,
                             uw, st_node, st_depth, st_pstart, st_zero, st_one, st_feat)
