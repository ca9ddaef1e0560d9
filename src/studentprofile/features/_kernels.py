"""Numba kernels of the feature builder: event layout, windowed aggregates, cohort statistics.

The kernels are pure typed loops. They never validate and never raise: the wrappers in
``_layout.py``, ``_builder.py`` and ``_cohort.py`` shape every input into contiguous arrays of the
right dtype first. Times arrive either as ``int64`` nanoseconds (datetime tables) or as ``float64``
days (float tables); the kernels are generic over the two and take ``day``, the length of one day in
the same unit. Every kernel has a slow reference in ``tests/test_features_kernels.py``.

This module imports only numpy and numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

# aggregate ids: the column order of the per-window scratch vector
AGG_COUNT = 0
AGG_SUM = 1
AGG_MEAN = 2
AGG_MIN = 3
AGG_MAX = 4
AGG_STD = 5
AGG_FIRST = 6
AGG_LAST = 7
AGG_SLOPE = 8
AGG_DAYS_SINCE_LAST = 9
AGG_ACTIVE_DAYS = 10
AGG_LONGEST_GAP = 11
AGG_SHARE = 12
AGG_TOD_ENTROPY = 13
AGG_DOW_ENTROPY = 14
AGG_LZ_ENTROPY = 15
N_AGG = 16

# window kinds
WIN_FIXED = 0
WIN_ALL = 1
WIN_TERM = 2

# cohort transforms
COHORT_MEAN = 0
COHORT_ZSCORE = 1
COHORT_PERCENTILE = 2
COHORT_RATIO = 3


# ------------------------------------------------------------------------------------- layout
@njit(cache=True, nogil=True)
def chunk_bounds(n: int, n_chunks: int) -> np.ndarray:
    """Split ``range(n)`` into ``n_chunks`` contiguous pieces; return the ``n_chunks + 1`` edges."""
    edges = np.empty(n_chunks + 1, np.int64)
    size = (n + n_chunks - 1) // n_chunks if n_chunks > 0 else 0
    for c in range(n_chunks + 1):
        e = c * size
        edges[c] = e if e < n else n
    return edges


@njit(parallel=True, cache=True, nogil=True)
def counting_offsets(codes: np.ndarray, n_students: int, n_chunks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Count events per student (counting sort, first half): offsets and chunk starts.

    Rows are split into ``n_chunks`` contiguous chunks. Student ``s`` occupies
    ``offsets[s]:offsets[s + 1]`` of the sorted order; within it, chunk ``c`` writes from
    ``starts[c, s]`` on, so a stable scatter in parallel keeps the input order of every student.
    """
    n = codes.shape[0]
    edges = chunk_bounds(n, n_chunks)
    counts = np.zeros((n_chunks, n_students), np.int64)
    for c in prange(n_chunks):
        for i in range(edges[c], edges[c + 1]):
            counts[c, codes[i]] += 1
    starts = np.empty((n_chunks, n_students), np.int64)
    offsets = np.empty(n_students + 1, np.int64)
    pos = 0
    for s in range(n_students):
        offsets[s] = pos
        for c in range(n_chunks):
            starts[c, s] = pos
            pos += counts[c, s]
    offsets[n_students] = pos
    return offsets, starts


@njit(parallel=True, cache=True, nogil=True)
def pair_counts(fam: np.ndarray, kind: np.ndarray, n_kinds: int, n_pairs: int,
                n_chunks: int) -> np.ndarray:
    """Count events per (family, kind) code ``fam * n_kinds + kind``."""
    n = fam.shape[0]
    edges = chunk_bounds(n, n_chunks)
    counts = np.zeros((n_chunks, n_pairs), np.int64)
    for c in prange(n_chunks):
        for i in range(edges[c], edges[c + 1]):
            counts[c, np.int64(fam[i]) * n_kinds + np.int64(kind[i])] += 1
    return counts.sum(axis=0)


@njit(parallel=True, cache=True, nogil=True)
def scatter_events(codes: np.ndarray, starts: np.ndarray, t: np.ndarray, k: np.ndarray,
                   v: np.ndarray, mx: np.ndarray, fam: np.ndarray, kind: np.ndarray,
                   n_kinds: int, lut: np.ndarray, t_out: np.ndarray, k_out: np.ndarray,
                   v_out: np.ndarray, mx_out: np.ndarray, pair_out: np.ndarray) -> None:
    """Write each event (counting sort, second half) to its student's next slot (stable).

    ``pair_out`` receives ``lut[fam * n_kinds + kind]``, the compact code of the event's
    (family, kind) pair. ``mx`` may be empty (no ``max_value`` column); then ``mx_out`` is left
    alone.
    """
    n = codes.shape[0]
    n_chunks = starts.shape[0]
    edges = chunk_bounds(n, n_chunks)
    has_mx = mx.shape[0] == n
    for c in prange(n_chunks):
        nxt = starts[c].copy()
        for i in range(edges[c], edges[c + 1]):
            s = codes[i]
            p = nxt[s]
            nxt[s] = p + 1
            t_out[p] = t[i]
            k_out[p] = k[i]
            v_out[p] = v[i]
            if has_mx:
                mx_out[p] = mx[i]
            pair_out[p] = lut[np.int64(fam[i]) * n_kinds + np.int64(kind[i])]


@njit(cache=True, nogil=True, inline="always")
def _cmp_float(a: float, b: float) -> int:
    # NaN sorts after every number; two NaNs are equal
    if a != a:
        return 0 if b != b else 1
    if b != b:
        return -1
    if a < b:
        return -1
    if a > b:
        return 1
    return 0


@njit(cache=True, nogil=True)
def _event_less(t: np.ndarray, k: np.ndarray, v: np.ndarray, mx: np.ndarray, pair: np.ndarray,
                i: int, j: int) -> bool:
    """Canonical event order: time, known_at, value (NaN last), max_value, (family, kind)."""
    if t[i] != t[j]:
        return t[i] < t[j]
    if k[i] != k[j]:
        return k[i] < k[j]
    c = _cmp_float(v[i], v[j])
    if c != 0:
        return c < 0
    if mx.shape[0] > 0:
        c = _cmp_float(mx[i], mx[j])
        if c != 0:
            return c < 0
    return pair[i] < pair[j]


@njit(cache=True, nogil=True)
def _sort_range(t: np.ndarray, k: np.ndarray, v: np.ndarray, mx: np.ndarray, pair: np.ndarray,
                lo: int, hi: int) -> int:
    """Put events ``lo:hi`` in canonical order; return 1 if they had to move, else 0.

    A natural merge sort: the sorted runs already present (one per kind block when a source
    gathers several kinds) are merged pairwise, so nearly ordered data costs little.
    """
    m = hi - lo
    bounds = np.empty(m + 1, np.int64)
    n_runs = 0
    bounds[0] = 0
    for i in range(1, m):
        if _event_less(t, k, v, mx, pair, lo + i, lo + i - 1):
            n_runs += 1
            bounds[n_runs] = i
    if n_runs == 0:
        return 0
    n_runs += 1
    bounds[n_runs] = m
    idx = np.empty(m, np.int64)
    tmp = np.empty(m, np.int64)
    for i in range(m):
        idx[i] = lo + i
    while n_runs > 1:
        new_runs = 0
        r = 0
        while r < n_runs:
            a = bounds[r]
            if r + 1 == n_runs:  # an odd run out: copy it
                for o in range(a, bounds[r + 1]):
                    tmp[o] = idx[o]
                bounds[new_runs] = a
                new_runs += 1
                r += 1
                continue
            mid = bounds[r + 1]
            b = bounds[r + 2]
            i = a
            j = mid
            o = a
            while i < mid and j < b:
                if _event_less(t, k, v, mx, pair, idx[j], idx[i]):
                    tmp[o] = idx[j]
                    j += 1
                else:
                    tmp[o] = idx[i]
                    i += 1
                o += 1
            while i < mid:
                tmp[o] = idx[i]
                i += 1
                o += 1
            while j < b:
                tmp[o] = idx[j]
                j += 1
                o += 1
            bounds[new_runs] = a
            new_runs += 1
            r += 2
        bounds[new_runs] = m
        n_runs = new_runs
        for i in range(m):
            idx[i] = tmp[i]
    tt = t[idx]
    kk = k[idx]
    vv = v[idx]
    pp = pair[idx]
    t[lo:hi] = tt
    k[lo:hi] = kk
    v[lo:hi] = vv
    pair[lo:hi] = pp
    if mx.shape[0] == t.shape[0]:
        mm = mx[idx]
        mx[lo:hi] = mm
    return 1


@njit(cache=True, nogil=True)
def _group_one(offsets: np.ndarray, t: np.ndarray, k: np.ndarray, v: np.ndarray,
               mx: np.ndarray, pair: np.ndarray, blocks: np.ndarray, s: int) -> int:
    """Group student ``s``'s events by pair code (stable), then order each block canonically."""
    lo = offsets[s]
    hi = offsets[s + 1]
    n_pp = blocks.shape[1] - 1
    counts = np.zeros(n_pp, np.int64)
    grouped = True
    for i in range(lo, hi):
        counts[pair[i]] += 1
        if i > lo and pair[i] < pair[i - 1]:
            grouped = False
    pos = lo
    for p in range(n_pp):
        blocks[s, p] = pos
        pos += counts[p]
    blocks[s, n_pp] = hi
    if not grouped:  # stable counting sort of the segment by pair code
        m = hi - lo
        nxt = blocks[s, :n_pp].copy()
        dest = np.empty(m, np.int64)
        for i in range(lo, hi):
            dest[i - lo] = nxt[pair[i]]
            nxt[pair[i]] += 1
        tt = t[lo:hi].copy()
        kk = k[lo:hi].copy()
        vv = v[lo:hi].copy()
        pp = pair[lo:hi].copy()
        for i in range(m):
            d = dest[i]
            t[d] = tt[i]
            k[d] = kk[i]
            v[d] = vv[i]
            pair[d] = pp[i]
        if mx.shape[0] == t.shape[0]:
            mm = mx[lo:hi].copy()
            for i in range(m):
                mx[dest[i]] = mm[i]
    n_sorted = 0
    for p in range(n_pp):
        if blocks[s, p + 1] - blocks[s, p] > 1:
            n_sorted += _sort_range(t, k, v, mx, pair, blocks[s, p], blocks[s, p + 1])
    return n_sorted


@njit(parallel=True, cache=True, nogil=True)
def group_blocks(offsets: np.ndarray, t: np.ndarray, k: np.ndarray, v: np.ndarray,
                 mx: np.ndarray, pair: np.ndarray, blocks: np.ndarray) -> int:
    """Per student: events grouped by (family, kind) code, each block in canonical order.

    ``blocks[s, p]:blocks[s, p + 1]`` are student ``s``'s events of pair ``p`` afterwards.
    Returns how many blocks had to be sorted (none for a chronological log).
    """
    n_students = offsets.shape[0] - 1
    flags = np.zeros(n_students, np.int64)
    for s in prange(n_students):
        flags[s] = _group_one(offsets, t, k, v, mx, pair, blocks, s)
    return flags.sum()


@njit(cache=True, nogil=True)
def group_blocks_serial(offsets: np.ndarray, t: np.ndarray, k: np.ndarray, v: np.ndarray,
                        mx: np.ndarray, pair: np.ndarray, blocks: np.ndarray) -> int:
    """:func:`group_blocks` on one thread (small inputs)."""
    n = 0
    for s in range(offsets.shape[0] - 1):
        n += _group_one(offsets, t, k, v, mx, pair, blocks, s)
    return n


@njit(cache=True, nogil=True)
def _gather_one(blocks: np.ndarray, selected: np.ndarray, new_offsets: np.ndarray,
                t: np.ndarray, k: np.ndarray, v: np.ndarray, mx: np.ndarray, pair: np.ndarray,
                t_out: np.ndarray, k_out: np.ndarray, v_out: np.ndarray, mx_out: np.ndarray,
                pair_out: np.ndarray, s: int) -> None:
    o = new_offsets[s]
    has_mx = mx.shape[0] == t.shape[0]
    for p in range(blocks.shape[1] - 1):
        if not selected[p]:
            continue
        for i in range(blocks[s, p], blocks[s, p + 1]):
            t_out[o] = t[i]
            k_out[o] = k[i]
            v_out[o] = v[i]
            pair_out[o] = pair[i]
            if has_mx:
                mx_out[o] = mx[i]
            o += 1
    if new_offsets[s + 1] - new_offsets[s] > 1:
        _sort_range(t_out, k_out, v_out, mx_out, pair_out, new_offsets[s], new_offsets[s + 1])


@njit(parallel=True, cache=True, nogil=True)
def gather_blocks(blocks: np.ndarray, selected: np.ndarray, new_offsets: np.ndarray,
                  t: np.ndarray, k: np.ndarray, v: np.ndarray, mx: np.ndarray, pair: np.ndarray,
                  t_out: np.ndarray, k_out: np.ndarray, v_out: np.ndarray, mx_out: np.ndarray,
                  pair_out: np.ndarray) -> None:
    """Copy each student's blocks of the selected pairs together and merge them in order."""
    for s in prange(blocks.shape[0]):
        _gather_one(blocks, selected, new_offsets, t, k, v, mx, pair, t_out, k_out, v_out,
                    mx_out, pair_out, s)


@njit(cache=True, nogil=True)
def gather_blocks_serial(blocks: np.ndarray, selected: np.ndarray, new_offsets: np.ndarray,
                         t: np.ndarray, k: np.ndarray, v: np.ndarray, mx: np.ndarray,
                         pair: np.ndarray, t_out: np.ndarray, k_out: np.ndarray,
                         v_out: np.ndarray, mx_out: np.ndarray, pair_out: np.ndarray) -> None:
    """:func:`gather_blocks` on one thread (small inputs)."""
    for s in range(blocks.shape[0]):
        _gather_one(blocks, selected, new_offsets, t, k, v, mx, pair, t_out, k_out, v_out,
                    mx_out, pair_out, s)


# --------------------------------------------------------------------------- small estimators
@njit(cache=True, nogil=True)
def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram of counts (NaN when empty)."""
    total = 0.0
    for c in counts:
        total += c
    if total <= 0:
        return np.nan
    h = 0.0
    for c in counts:
        if c > 0:
            p = c / total
            h -= p * np.log2(p)
    if h < 0.0:  # -0.0 for a single bin
        h = 0.0
    return h


@njit(cache=True, nogil=True)
def lz_entropy_rate(seq: np.ndarray, n: int, lcp: np.ndarray) -> float:
    """Lempel-Ziv entropy-rate estimate, in bits per symbol, of ``seq[:n]``.

    ``S = n log2(n) / sum_i L_i`` with ``L_i = 1 + max_{j < i} min(lcp(i, j), i - j)``: one more
    than the longest prefix of ``seq[i:]`` that also occurs entirely inside ``seq[:i]`` (the
    increasing-window estimator of Kontoyiannis et al., 1998, as used by Song et al., 2010 and Cao
    et al., 2018). ``lcp`` is a scratch array of length ``n + 1``. NaN when ``n == 0``; O(n^2).
    """
    if n == 0:
        return np.nan
    if n == 1:
        return 0.0
    # lcp(i, j) = lcp(i + 1, j + 1) + 1 when seq[i] == seq[j], else 0; rows i = n - 1 .. 0 kept
    # in place: after row i, lcp[j] holds lcp(i, j) for j < i (row n is all zeros)
    for j in range(n + 1):
        lcp[j] = 0
    total = 0.0
    for i in range(n - 1, -1, -1):
        best = 0
        si = seq[i]
        for j in range(i):
            if seq[j] == si:
                m = lcp[j + 1] + 1
            else:
                m = 0
            lcp[j] = m
            if m > i - j:
                m = i - j
            if m > best:
                best = m
        total += 1.0 + best
    return n * np.log2(n) / total


@njit(cache=True, nogil=True, inline="always")
def _total(s: float, c: float) -> float:
    # a compensated sum's value; once the sum is infinite (or NaN) the compensation is noise
    return s + c if np.isfinite(s) else s


@njit(cache=True, nogil=True, inline="always")
def _two_sum(s: float, c: float, x: float) -> tuple[float, float]:
    # compensated summation step (Knuth's branch-free TwoSum): returns (sum, compensation)
    t = s + x
    bp = t - s
    c += (s - (t - bp)) + (x - bp)
    return t, c


# Sums of huge values (1e308) overflow although their mean or spread is finite. The sums below
# switch, on the first overflow, to units of 2**540: scaling by a power of two is exact, and
# in those units n values or squared deviations of any finite size cannot overflow. Values
# so small that they vanish in those units are below the rounding of a sum that overflowed.
_DOWN = 2.0 ** -540
_UP = 2.0 ** 540
#: Cohort statistics work in units of 2**540 when a value exceeds this (squares then cannot
#: overflow in the usual units).
_BIG = 2.0 ** 480


@njit(cache=True, nogil=True, inline="always")
def _add_big(s: float, c: float, big: bool, x: float) -> tuple[float, float, bool]:
    # add x to a compensated sum that moves to units of 2**540 when it would overflow
    if not big:
        t, c2 = _two_sum(s, c, x)
        if np.isfinite(t) or not (np.isfinite(s) and np.isfinite(x)):
            return t, c2, False  # finite, or a genuine inf / NaN among the values
        s = s * _DOWN
        c = c * _DOWN
    t, c = _two_sum(s, c, x * _DOWN)
    return t, c, True


@njit(cache=True, nogil=True, inline="always")
def _big_value(s: float, c: float, big: bool) -> float:
    # the value of a sum kept by _add_big, in the usual units (inf when it truly overflows)
    return _total(s, c) * _UP if big else _total(s, c)


@njit(cache=True, nogil=True, inline="always")
def _add_dev(d1: float, d1c: float, d2: float, d2c: float, big: bool, x: float, shift: float
             ) -> tuple[float, float, float, float, bool]:
    # add x - shift and its square to compensated sums; on overflow move to units of 2**540
    # (squares: 2**1080) so the spread of finite values stays finite
    if not big:
        d = x - shift
        n1, c1 = _two_sum(d1, d1c, d)
        n2, c2 = _two_sum(d2, d2c, d * d)
        if np.isfinite(n2) or not (np.isfinite(x) and np.isfinite(shift) and np.isfinite(d2)):
            return n1, c1, n2, c2, False
        d1 = d1 * _DOWN
        d1c = d1c * _DOWN
        d2 = d2 * _DOWN * _DOWN
        d2c = d2c * _DOWN * _DOWN
    ds = x * _DOWN - shift * _DOWN
    d1, d1c = _two_sum(d1, d1c, ds)
    d2, d2c = _two_sum(d2, d2c, ds * ds)
    return d1, d1c, d2, d2c, True


# ------------------------------------------------------------------------ windowed aggregates
@njit(cache=True, nogil=True)
def _clock_stats(
    clock: np.ndarray, n: int, day: Any, want: np.ndarray, tod_bins: int, lz_bins: int,
    dow_shift: int, res: np.ndarray, seq: np.ndarray, hist_tod: np.ndarray,
    hist_dow: np.ndarray, lz_scratch: np.ndarray,
) -> None:
    """Local-clock aggregates of ``clock[:n]`` (events' wall-clock times, any order)."""
    ordered = True
    for i in range(1, n):
        if clock[i] < clock[i - 1]:
            ordered = False
            break
    if not ordered:
        clock[:n] = np.sort(clock[:n])
    want_tod = want[AGG_TOD_ENTROPY]
    want_dow = want[AGG_DOW_ENTROPY]
    want_lz = want[AGG_LZ_ENTROPY]
    for b in range(tod_bins):
        hist_tod[b] = 0.0
    for b in range(7):
        hist_dow[b] = 0.0
    n_days = 0
    prev_day = clock[0] // day
    for i in range(n):
        c = clock[i]
        d = c // day
        if n_days == 0 or d != prev_day:
            if want_lz:
                # integer arithmetic for nanoseconds: an event at 09:00:00 is in the 09:00 bin
                b = int(((c - d * day) * lz_bins) // day)
                if b >= lz_bins:
                    b = lz_bins - 1
                seq[n_days] = b
            n_days += 1
            prev_day = d
        if want_tod:
            b = int(((c - d * day) * tod_bins) // day)
            if b >= tod_bins:
                b = tod_bins - 1
            hist_tod[b] += 1.0
        if want_dow:
            hist_dow[(int(d) + dow_shift) % 7] += 1.0
    res[AGG_ACTIVE_DAYS] = n_days
    if want[AGG_TOD_ENTROPY]:
        res[AGG_TOD_ENTROPY] = entropy_bits(hist_tod[:tod_bins])
    if want[AGG_DOW_ENTROPY]:
        res[AGG_DOW_ENTROPY] = entropy_bits(hist_dow)
    if want[AGG_LZ_ENTROPY]:
        res[AGG_LZ_ENTROPY] = lz_entropy_rate(seq, n_days, lz_scratch)


@njit(cache=True, nogil=True)
def _features_one(
    starts: np.ndarray, ends: np.ndarray, t: np.ndarray, k: np.ndarray, v: np.ndarray,
    mx: np.ndarray, tloc: np.ndarray, q_offsets: np.ndarray, q_time: np.ndarray,
    term_start: np.ndarray, has_term: np.ndarray, win_kind: np.ndarray, win_len: np.ndarray,
    cols: np.ndarray, day: Any, tod_bins: int, lz_bins: int, dow_shift: int, out: np.ndarray,
    s: int,
) -> None:
    """Every window of every as-of date of student ``s``.

    All windows of one as-of date end at ``as_of``, so they are nested suffixes of the events
    before it: one backward scan from the latest event serves them all, taking a snapshot of the
    running statistics each time it passes a window's first event. The spread uses compensated
    sums of deviations from the latest value and the trend Welford's online updates, so no
    second pass is needed.
    """
    q0 = q_offsets[s]
    q1 = q_offsets[s + 1]
    if q1 == q0:
        return
    e0 = starts[s]
    e1 = ends[s]
    m = e1 - e0
    n_win = win_kind.shape[0]
    want_any = np.zeros(N_AGG, np.bool_)
    wants = np.zeros((n_win, N_AGG), np.bool_)
    for w in range(n_win):
        for j in range(N_AGG):
            if cols[w, j] >= 0:
                wants[w, j] = True
                want_any[j] = True
    need_std = want_any[AGG_STD]
    need_slope = want_any[AGG_SLOPE]
    need_share = want_any[AGG_SHARE] and mx.shape[0] > 0
    need_clock = (want_any[AGG_ACTIVE_DAYS] or want_any[AGG_TOD_ENTROPY]
                  or want_any[AGG_DOW_ENTROPY] or want_any[AGG_LZ_ENTROPY])
    res = np.empty(N_AGG, np.float64)
    lo_w = np.empty(n_win, np.int64)
    order = np.empty(n_win, np.int64)
    mc = m if need_clock else 0
    clock = np.empty(mc, tloc.dtype)
    clock_fwd = np.empty(mc, tloc.dtype)
    seq = np.empty(mc, np.int64)
    hist_tod = np.empty(tod_bins, np.float64)
    hist_dow = np.empty(7, np.float64)
    lz_scratch = np.empty(mc + 1, np.int64)
    times = t[e0:e1]
    for q in range(q0, q1):
        a = q_time[q]
        hi = e0 + np.searchsorted(times, a)
        # first event of each window; windows nested by their start, latest start first
        n_valid = 0
        for w in range(n_win):
            kind = win_kind[w]
            if kind == WIN_TERM and not has_term[s]:
                for j in range(N_AGG):
                    if wants[w, j]:
                        out[cols[w, j], q] = np.nan
                continue
            if kind == WIN_FIXED:
                lo = e0 + np.searchsorted(times[: hi - e0], a - win_len[w])
            elif kind == WIN_TERM:
                lo = e0 + np.searchsorted(times[: hi - e0], term_start[s])
            else:
                lo = e0
            p = n_valid
            while p > 0 and lo_w[p - 1] < lo:
                lo_w[p] = lo_w[p - 1]
                order[p] = order[p - 1]
                p -= 1
            lo_w[p] = lo
            order[p] = w
            n_valid += 1
        # running statistics of the events i+1..hi-1 known before a
        n = 0
        nv = 0
        total = 0.0
        comp = 0.0
        tbig = False
        vmin = np.inf
        vmax = -np.inf
        first = np.nan
        last = np.nan
        last_t = a
        prev_t = a
        gap = a - a  # zero of the time type
        shift = 0.0  # the window's latest value: in every nested window, near its data
        d1 = 0.0
        d1c = 0.0
        d2 = 0.0
        d2c = 0.0
        dbig = False
        s_mx = 0.0
        s_my = 0.0
        s_cxy = 0.0
        s_m2x = 0.0
        sv = 0.0
        svc = 0.0
        svbig = False
        sm = 0.0
        smc = 0.0
        smbig = False
        ns = 0
        i = hi - 1
        for pos in range(n_valid):
            stop = lo_w[pos]
            while i >= stop:
                if k[i] < a:
                    ti = t[i]
                    if n == 0:
                        last_t = ti
                    elif prev_t - ti > gap:
                        gap = prev_t - ti
                    prev_t = ti
                    if need_clock:
                        clock[n] = tloc[i]
                    n += 1
                    x = v[i]
                    if x == x:
                        if nv == 0:
                            last = x
                            shift = x
                        first = x
                        nv += 1
                        total, comp, tbig = _add_big(total, comp, tbig, x)
                        vmin = min(vmin, x)
                        vmax = max(vmax, x)
                        if need_std:
                            d1, d1c, d2, d2c, dbig = _add_dev(d1, d1c, d2, d2c, dbig, x, shift)
                        if need_slope:
                            xt = (ti - a) / day
                            dx = xt - s_mx
                            s_mx += dx / nv
                            s_my += (x - s_my) / nv
                            s_cxy += dx * (x - s_my)
                            s_m2x += dx * (xt - s_mx)
                        if need_share:
                            mxi = mx[i]
                            if mxi == mxi:
                                sv, svc, svbig = _add_big(sv, svc, svbig, x)
                                sm, smc, smbig = _add_big(sm, smc, smbig, mxi)
                                ns += 1
                i -= 1
            # snapshot for the window that starts at `stop`
            w = order[pos]
            res[AGG_COUNT] = n
            res[AGG_SUM] = _big_value(total, comp, tbig)
            if nv == 0:
                res[AGG_MEAN] = np.nan
            elif tbig:  # divide in the scaled units, then scale back: finite if the mean is
                res[AGG_MEAN] = _total(total, comp) / nv * _UP
            else:
                res[AGG_MEAN] = _total(total, comp) / nv
            res[AGG_MIN] = vmin if nv > 0 else np.nan
            res[AGG_MAX] = vmax if nv > 0 else np.nan
            res[AGG_FIRST] = first
            res[AGG_LAST] = last
            if nv >= 2:
                # sum((x - mean)^2) = sum((x - K)^2) - (sum(x - K))^2 / n, K = shift; both sums
                # compensated, and |mean - K| is bounded by the spread since K is a data value
                dd = _total(d1, d1c)
                var = (_total(d2, d2c) - dd * dd / nv) / (nv - 1)
                if var > 0.0:
                    res[AGG_STD] = np.sqrt(var) * _UP if dbig else np.sqrt(var)
                else:  # rounding below zero -> 0; an infinite value makes it undefined
                    res[AGG_STD] = 0.0 if (var == var and np.isfinite(dd)) else np.nan
            else:
                res[AGG_STD] = np.nan
            res[AGG_SLOPE] = s_cxy / s_m2x if (nv >= 2 and s_m2x > 0.0) else np.nan
            if ns > 0:
                share = _total(sv, svc) / _total(sm, smc)
                if svbig and not smbig:
                    share = share * _UP
                elif smbig and not svbig:
                    share = share * _DOWN
                res[AGG_SHARE] = share
            else:
                res[AGG_SHARE] = np.nan
            if n > 0:
                tail = a - last_t
                res[AGG_DAYS_SINCE_LAST] = tail / day
                res[AGG_LONGEST_GAP] = (tail if tail > gap else gap) / day
            else:
                res[AGG_DAYS_SINCE_LAST] = np.nan
                res[AGG_LONGEST_GAP] = np.nan
            res[AGG_ACTIVE_DAYS] = 0.0
            res[AGG_TOD_ENTROPY] = np.nan
            res[AGG_DOW_ENTROPY] = np.nan
            res[AGG_LZ_ENTROPY] = np.nan
            if n > 0 and (wants[w, AGG_ACTIVE_DAYS] or wants[w, AGG_TOD_ENTROPY]
                          or wants[w, AGG_DOW_ENTROPY] or wants[w, AGG_LZ_ENTROPY]):
                for j in range(n):  # the scan ran backwards: restore time order
                    clock_fwd[j] = clock[n - 1 - j]
                _clock_stats(clock_fwd, n, day, wants[w], tod_bins, lz_bins, dow_shift, res,
                             seq, hist_tod, hist_dow, lz_scratch)
            for j in range(N_AGG):
                if wants[w, j]:
                    out[cols[w, j], q] = res[j]


@njit(parallel=True, cache=True, nogil=True)
def window_features(starts: np.ndarray, ends: np.ndarray, t: np.ndarray, k: np.ndarray,
                    v: np.ndarray, mx: np.ndarray, tloc: np.ndarray, q_offsets: np.ndarray,
                    q_time: np.ndarray, term_start: np.ndarray, has_term: np.ndarray,
                    win_kind: np.ndarray, win_len: np.ndarray, cols: np.ndarray, day: Any,
                    tod_bins: int, lz_bins: int, dow_shift: int, out: np.ndarray) -> None:
    """Windowed aggregates for every student x as-of date x window, in one pass per student.

    Parameters
    ----------
    starts, ends : int64[n_students]
        Student ``s`` owns events ``starts[s]:ends[s]``, in canonical time order.
    t, k : int64 or float64[n_events]
        Event time and ``known_at``.
    v, mx : float64[n_events]
        Values and maxima (``mx`` empty when there is no ``max_value``).
    tloc : like ``t``
        Local wall-clock time of each event (``t`` itself when times are local already).
    q_offsets : int64[n_students + 1]; q_time : like ``t``
        Student ``s`` is asked at ``q_time[q_offsets[s]:q_offsets[s + 1]]`` (ascending).
    term_start : like ``t``; has_term : bool[n_students]
        Start of each student's term, for term windows.
    win_kind, win_len : int64[n_windows], like ``t``
        Window kinds (fixed, all, term) and fixed lengths.
    cols : int64[n_windows, N_AGG]
        Output row of each (window, aggregate), -1 when not wanted.
    day : scalar like ``t``
        One day in time units. ``tod_bins``, ``lz_bins``: bins per day; ``dow_shift``: weekday of
        day 0.
    out : float64[n_columns, n_queries]
        Filled in place.
    """
    for s in prange(starts.shape[0]):
        _features_one(starts, ends, t, k, v, mx, tloc, q_offsets, q_time, term_start, has_term,
                      win_kind, win_len, cols, day, tod_bins, lz_bins, dow_shift, out, s)


@njit(cache=True, nogil=True)
def window_features_serial(starts: np.ndarray, ends: np.ndarray, t: np.ndarray, k: np.ndarray,
                           v: np.ndarray, mx: np.ndarray, tloc: np.ndarray,
                           q_offsets: np.ndarray, q_time: np.ndarray, term_start: np.ndarray,
                           has_term: np.ndarray, win_kind: np.ndarray, win_len: np.ndarray,
                           cols: np.ndarray, day: Any, tod_bins: int, lz_bins: int,
                           dow_shift: int, out: np.ndarray) -> None:
    """:func:`window_features` on one thread (small inputs)."""
    for s in range(starts.shape[0]):
        _features_one(starts, ends, t, k, v, mx, tloc, q_offsets, q_time, term_start, has_term,
                      win_kind, win_len, cols, day, tod_bins, lz_bins, dow_shift, out, s)


# ----------------------------------------------------------------------------- cohort statistics
@njit(cache=True, nogil=True)
def _cohort_one(seg_offsets: np.ndarray, order: np.ndarray, x: np.ndarray, mode: int,
    out: np.ndarray, g: int
) -> None:
    a = seg_offsets[g]
    b = seg_offsets[g + 1]
    # the segment's non-NaN values, sorted: sums in a canonical order, so the result does not
    # depend on the order of the students table
    nv = 0
    for i in range(a, b):
        xi = x[order[i]]
        if xi == xi:
            nv += 1
    vals = np.empty(nv, np.float64)
    p = 0
    for i in range(a, b):
        xi = x[order[i]]
        if xi == xi:
            vals[p] = xi
            p += 1
    vals = np.sort(vals)
    # huge finite values: work in units of 2**540 (exact scaling) so sums and squares of
    # values whose mean and spread are finite cannot overflow
    scale = 1.0
    if nv > 0:
        top = max(abs(vals[0]), abs(vals[nv - 1]))
        if np.isfinite(top) and top > _BIG:
            scale = _DOWN
    s = 0.0
    c = 0.0
    for j in range(nv):
        s, c = _two_sum(s, c, vals[j] * scale)
    mean_s = _total(s, c) / nv if nv > 0 else np.nan  # in scaled units
    mean = mean_s / scale
    if mode == COHORT_MEAN:
        for i in range(a, b):
            out[order[i]] = mean
        return
    if mode == COHORT_RATIO:
        for i in range(a, b):
            xi = x[order[i]]
            out[order[i]] = xi * scale / mean_s if (nv > 0 and mean_s != 0.0) else np.nan
        return
    if mode == COHORT_ZSCORE:
        ss = 0.0
        for j in range(nv):
            d = vals[j] * scale - mean_s
            ss += d * d
        sd_s = np.sqrt(ss / (nv - 1)) if nv >= 2 else np.nan
        for i in range(a, b):
            xi = x[order[i]]
            if xi != xi or nv < 2:
                out[order[i]] = np.nan
            elif sd_s != sd_s:  # undefined spread (an infinite value)
                out[order[i]] = np.nan
            elif sd_s > 0.0:
                out[order[i]] = (xi * scale - mean_s) / sd_s
            else:
                out[order[i]] = 0.0
        return
    # percentile (mid-rank)
    for i in range(a, b):
        xi = x[order[i]]
        if xi != xi:
            out[order[i]] = np.nan
        else:
            below = np.searchsorted(vals, xi, side="left")
            upto = np.searchsorted(vals, xi, side="right")
            out[order[i]] = (below + 0.5 * (upto - below)) / nv


@njit(parallel=True, cache=True, nogil=True)
def cohort_transform(seg_offsets: np.ndarray, order: np.ndarray, x: np.ndarray, modes: np.ndarray,
    out: np.ndarray
) -> None:
    """Values against their cohort at the same as-of date, for several columns at once.

    ``order[seg_offsets[g]:seg_offsets[g + 1]]`` are the queries of cohort-date ``g``; ``x`` and
    ``out`` are ``(n_columns, n_queries)`` and ``modes[c]`` says what column ``c`` becomes. For a
    query with value ``x`` and ``V`` the non-NaN values of its segment:
    ``COHORT_MEAN``: mean(V); ``COHORT_ZSCORE``: (x - mean) / std (ddof 1; 0 when std is 0);
    ``COHORT_PERCENTILE``: (#{V < x} + #{V == x} / 2) / |V|; ``COHORT_RATIO``: x / mean(V).
    NaN where ``x`` is NaN (except ``COHORT_MEAN``) or the statistic is undefined.
    """
    n_seg = seg_offsets.shape[0] - 1
    n_cols = x.shape[0]
    for job in prange(n_seg * n_cols):
        c = job // n_seg
        g = job - c * n_seg
        _cohort_one(seg_offsets, order, x[c], modes[c], out[c], g)


@njit(cache=True, nogil=True)
def cohort_transform_serial(seg_offsets: np.ndarray, order: np.ndarray, x: np.ndarray,
    modes: np.ndarray, out: np.ndarray
) -> None:
    """:func:`cohort_transform` on one thread (small inputs)."""
    n_seg = seg_offsets.shape[0] - 1
    for c in range(x.shape[0]):
        for g in range(n_seg):
            _cohort_one(seg_offsets, order, x[c], modes[c], out[c], g)
