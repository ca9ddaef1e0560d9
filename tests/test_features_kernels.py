"""Numba kernels of the feature builder against slow references, on generated inputs."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features_reference import (
    _to_float,
    exact_mean,
    exact_std,
    exact_sum,
    ref_cohort,
    ref_entropy,
    ref_lz_entropy,
)
from studentprofile.features import _kernels as K
from studentprofile.features import _layout
from studentprofile.features._layout import build_layout
from studentprofile.tables import EventTables


def lz(seq: list[int]) -> float:
    arr = np.asarray(seq, dtype=np.int64)
    return float(K.lz_entropy_rate(arr, len(arr), np.empty(len(arr) + 1, np.int64)))


# ------------------------------------------------------------------------ Lempel-Ziv estimator
def test_lz_by_hand():
    # a b a b a b: L = 1, 1, 3, 3, 3 (rest "ab" seen, +1), 2 -> 13
    assert lz([0, 1, 0, 1, 0, 1]) == pytest.approx(6 * math.log2(6) / 13, rel=1e-15)
    # a a a a: L = 1; 2 ("a" seen); 3 (the rest "aa" seen in "aa", +1); 2 -> 8
    assert lz([5] * 4) == pytest.approx(4 * 2 / 8, rel=1e-15)
    assert math.isnan(lz([]))
    assert lz([3]) == 0.0


def test_lz_orderly_is_lower_than_random():
    rng = np.random.default_rng(1)
    regular = [20, 21] * 60
    noisy = rng.integers(0, 48, 120).tolist()
    assert lz(regular) < 0.5 * lz(noisy)


@given(st.lists(st.integers(0, 3), max_size=40))
def test_lz_matches_literal_definition(seq):
    ours, ref = lz(seq), ref_lz_entropy(seq)
    assert (math.isnan(ours) and math.isnan(ref)) or ours == pytest.approx(ref, rel=1e-12)


# ------------------------------------------------------------------------- Shannon entropy
@given(st.lists(st.integers(0, 50), max_size=30))
def test_entropy_matches_scipy(counts):
    ours = K.entropy_bits(np.asarray(counts, dtype=np.float64))
    ref = ref_entropy(counts)
    assert (math.isnan(ours) and math.isnan(ref)) or ours == pytest.approx(ref, rel=1e-12,
                                                                             abs=1e-15)


def test_entropy_by_hand():
    assert K.entropy_bits(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(2.0)
    assert K.entropy_bits(np.array([0.0, 7.0, 0.0])) == 0.0
    assert math.isnan(K.entropy_bits(np.zeros(3)))


# ------------------------------------------------------------------------ cohort transforms
values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan),
                   st.integers(-3, 3).map(float), st.sampled_from([math.inf, -math.inf]))


@given(
    st.lists(st.tuples(st.sampled_from(["x", "y", "z", None]), values), min_size=1,
             max_size=30),
    st.sampled_from(["mean", "zscore", "percentile", "ratio"]),
)
def test_cohort_transform_matches_pandas(rows, how):
    groups = pd.Series([g for g, _ in rows], dtype=object)
    x = np.array([v for _, v in rows], dtype=np.float64)
    codes, _ = pd.factorize(groups, use_na_sentinel=True)
    keep = np.flatnonzero(codes >= 0)
    order = keep[np.argsort(codes[keep], kind="stable")]
    gs = codes[order]
    change = np.ones(len(order), bool)
    change[1:] = gs[1:] != gs[:-1]
    seg = np.append(np.flatnonzero(change), len(order)).astype(np.int64)
    mode = {"mean": K.COHORT_MEAN, "zscore": K.COHORT_ZSCORE,
            "percentile": K.COHORT_PERCENTILE, "ratio": K.COHORT_RATIO}[how]
    ref = ref_cohort(pd.Series(x), groups, how).to_numpy()
    # two columns (the values and their negation) in one call, parallel and serial
    x2 = np.stack([x, -x])
    modes = np.array([mode, mode], dtype=np.int64)
    ref_neg = ref_cohort(pd.Series(-x), groups, how).to_numpy()
    for kernel in (K.cohort_transform, K.cohort_transform_serial):
        out = np.full(x2.shape, np.nan)
        kernel(seg, order.astype(np.int64), x2, modes, out)
        np.testing.assert_allclose(out[0], ref, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(out[1], ref_neg, rtol=1e-9, atol=1e-9)


# -------------------------------------------------------------- window kernel, inf included
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.one_of(
            st.floats(-1e3, 1e3, allow_nan=False), st.just(math.nan),
            st.sampled_from([math.inf, -math.inf]))),
        max_size=25,
    ),
    st.integers(1, 35),
)
def test_window_kernel_with_inf_and_nan(rows, as_of):
    """Straight at the kernel (tables refuse inf; the kernel must still follow IEEE rules)."""
    rows = sorted(rows, key=lambda r: r[0])
    t = np.array([float(r[0]) for r in rows])
    v = np.array([r[1] for r in rows])
    aggs = [K.AGG_COUNT, K.AGG_SUM, K.AGG_MEAN, K.AGG_MIN, K.AGG_MAX, K.AGG_STD, K.AGG_FIRST,
            K.AGG_LAST]
    cols = np.full((2, K.N_AGG), -1, np.int64)
    for w in range(2):
        for j, a in enumerate(aggs):
            cols[w, a] = w * len(aggs) + j
    out = np.full((2 * len(aggs), 1), -7.0)
    for kernel in (K.window_features, K.window_features_serial):
        kernel(np.array([0]), np.array([len(t)]), t, t, v, np.empty(0), t,
               np.array([0, 1]), np.array([float(as_of)]), np.zeros(1), np.zeros(1, bool),
               np.array([K.WIN_FIXED, K.WIN_ALL]), np.array([7.0, 0.0]), cols, 1.0, 24, 48, 0,
               out)
        for w, lo in enumerate((as_of - 7.0, -np.inf)):
            inside = (t >= lo) & (t < as_of)
            x = v[inside & ~np.isnan(v)]
            n = int(inside.sum())
            with np.errstate(invalid="ignore", over="ignore"):
                ref = [n, x.sum(), x.mean() if len(x) else np.nan,
                       x.min() if len(x) else np.nan, x.max() if len(x) else np.nan,
                       x.std(ddof=1) if len(x) > 1 else np.nan,
                       x[0] if len(x) else np.nan, x[-1] if len(x) else np.nan]
            got = out[w * len(aggs):(w + 1) * len(aggs), 0]
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9, equal_nan=True)


# ------------------------------------------------- huge values: finite answers stay finite
HUGE = [1e308, -1e308, 1.7976931348623157e308, -1.7976931348623157e308, 1e200, -1e200, 1.5e154,
        1e-100, 0.0]
# values below 1e-150 are flushed to 0: their squares underflow (as in numpy), which is not
# what these tests are about
huge_values = st.one_of(
    st.sampled_from(HUGE),
    st.floats(-1.7976931348623157e308, 1.7976931348623157e308, allow_nan=False).map(
        lambda x: 0.0 if abs(x) < 1e-150 else x),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.just(math.nan),
)


def _window_run(t, v, mx, as_of, aggs):
    cols = np.full((2, K.N_AGG), -1, np.int64)
    for w in range(2):
        for j, a in enumerate(aggs):
            cols[w, a] = w * len(aggs) + j
    outs = []
    for kernel in (K.window_features, K.window_features_serial):
        out = np.full((2 * len(aggs), 1), -7.0)
        kernel(np.array([0]), np.array([len(t)]), t, t, v, mx, t,
               np.array([0, 1]), np.array([float(as_of)]), np.zeros(1), np.zeros(1, bool),
               np.array([K.WIN_FIXED, K.WIN_ALL]), np.array([7.0, 0.0]), cols, 1.0, 24, 48, 0,
               out)
        outs.append(out)
    return outs


@given(
    st.lists(st.tuples(st.integers(0, 30), st.one_of(huge_values,
                                                      st.sampled_from([math.inf, -math.inf]))),
             max_size=25),
    st.integers(1, 35),
)
def test_window_sums_means_and_spreads_of_huge_values(rows, as_of):
    """Events of 1e308 gave a mean of inf (the sum overflowed): the mean and spread of finite
    values are finite, equal to exact arithmetic; the sum is inf only when it truly overflows;
    inf and NaN follow IEEE rules."""
    rows = sorted(rows, key=lambda r: r[0])
    t = np.array([float(r[0]) for r in rows])
    v = np.array([r[1] for r in rows])
    aggs = [K.AGG_SUM, K.AGG_MEAN, K.AGG_STD]
    for out in _window_run(t, v, np.empty(0), as_of, aggs):
        for w, lo in enumerate((as_of - 7.0, -np.inf)):
            inside = (t >= lo) & (t < as_of)
            x = v[inside & ~np.isnan(v)]
            ref = [exact_sum(x), exact_mean(x), exact_std(x)]
            got = out[w * len(aggs):(w + 1) * len(aggs), 0]
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0, equal_nan=True)
            if len(x) and np.isfinite(x).all():
                assert np.isfinite(got[1])  # a mean of finite values is finite


@given(
    st.lists(st.tuples(st.integers(0, 30), huge_values,
                       st.sampled_from([1.0, 1e308, 1.7976931348623157e308, 20.0])),
             max_size=20),
)
def test_window_share_of_huge_values(rows):
    rows = sorted(rows, key=lambda r: r[0])
    t = np.array([float(r[0]) for r in rows])
    v = np.array([r[1] for r in rows])
    mx = np.array([r[2] for r in rows])
    ok = ~np.isnan(v)
    ref = math.nan
    if ok.any():
        q = sum(map(Fraction, v[ok].tolist()), Fraction(0)) / sum(
            map(Fraction, mx[ok].tolist()), Fraction(0))
        ref = _to_float(q)
    for out in _window_run(t, v, mx, 40, [K.AGG_SHARE]):
        np.testing.assert_allclose(out[1, 0], ref, rtol=1e-9, atol=0, equal_nan=True)


def test_mean_of_1e308_events_is_1e308():
    t = np.arange(5, dtype=float)
    v = np.full(5, 1e308)
    for out in _window_run(t, v, np.empty(0), 10, [K.AGG_MEAN, K.AGG_STD, K.AGG_SUM]):
        assert out[0, 0] == 1e308 and out[1, 0] == 0.0 and out[2, 0] == math.inf  # 7 days
        assert out[3, 0] == 1e308 and out[4, 0] == 0.0 and out[5, 0] == math.inf  # all
    v = np.array([1e308, -1e308, 1e308, -1e308, 0.0])
    for out in _window_run(t, v, np.empty(0), 10, [K.AGG_MEAN, K.AGG_STD, K.AGG_SUM]):
        # rows 3-5: the window of all events (rows 0-2: the last 7 days, days 3 and 4)
        assert out[3, 0] == 0.0 and out[5, 0] == 0.0
        assert out[4, 0] == pytest.approx(exact_std(v), rel=1e-12)
        assert out[0, 0] == -5e307 and out[2, 0] == -1e308


@given(
    st.lists(st.tuples(st.sampled_from(["x", "y", None]), huge_values), min_size=1, max_size=20),
    st.sampled_from(["mean", "zscore", "ratio"]),
)
def test_cohort_transform_of_huge_values(rows, how):
    groups = pd.Series([g for g, _ in rows], dtype=object)
    x = np.array([v for _, v in rows], dtype=np.float64)
    codes, _ = pd.factorize(groups, use_na_sentinel=True)
    keep = np.flatnonzero(codes >= 0)
    order = keep[np.argsort(codes[keep], kind="stable")]
    gs = codes[order]
    change = np.ones(len(order), bool)
    change[1:] = gs[1:] != gs[:-1]
    seg = np.append(np.flatnonzero(change), len(order)).astype(np.int64)
    mode = {"mean": K.COHORT_MEAN, "zscore": K.COHORT_ZSCORE, "ratio": K.COHORT_RATIO}[how]
    ref = ref_cohort(pd.Series(x), groups, how).to_numpy()
    for kernel in (K.cohort_transform, K.cohort_transform_serial):
        out = np.full((1, len(x)), np.nan)
        kernel(seg, order.astype(np.int64), x[None, :], np.array([mode], np.int64), out)
        np.testing.assert_allclose(out[0], ref, rtol=1e-9, atol=1e-300)


# ----------------------------------------------------------------------------------- layout
def source_frame(src) -> pd.DataFrame:
    rows = []
    for s, (a, b) in enumerate(zip(src.starts, src.ends, strict=True)):
        rows += [(s, src.t[i], src.k[i], src.v[i]) for i in range(a, b)]
    return pd.DataFrame(rows, columns=["_s", "time", "known_at", "value"])


def expected_order(tables: EventTables, kinds) -> pd.DataFrame:
    ev = tables.events.assign(_s=tables.student_codes())
    ev = ev[ev["kind"].astype(str).isin(kinds)]
    ev["_v"] = ev["value"].fillna(np.inf)
    ev["_kind"] = ev["kind"].cat.codes
    return ev.sort_values(["_s", "time", "known_at", "_v", "_kind"], kind="stable")


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),  # student
            st.integers(0, 6).map(float),  # time (many ties)
            st.integers(0, 3).map(float),  # delay
            st.one_of(st.just(math.nan), st.integers(-2, 2).map(float)),
            st.sampled_from(["a", "b", "c"]),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_layout_sources_are_in_canonical_order(rows, parallel):
    students = pd.DataFrame({"student_id": [f"s{i}" for i in range(5)]})
    events = pd.DataFrame(
        {
            "student_id": [f"s{r[0]}" for r in rows],
            "time": [r[1] for r in rows],
            "known_at": [r[1] + r[2] for r in rows],
            "family": "behavioral",
            "kind": [r[4] for r in rows],
            "value": [r[3] for r in rows],
        }
    )
    tables = EventTables(students=students, events=events, check_duplicates=False)
    with pytest.MonkeyPatch.context() as mp:
        if parallel:  # the chunked parallel counting sort, even for a few rows
            mp.setattr(_layout, "PARALLEL_MIN", 0)
        lay = build_layout(tables)
        sources = {
            ("a",): lay.source(family=None, kinds=["a"]),  # one kind: a view
            ("a", "c"): lay.source(family="behavioral", kinds=["a", "c", "zzz"]),  # gathered
            ("a", "b", "c"): lay.source(family="behavioral", kinds=None),  # everything
        }
    for kinds, src in sources.items():
        got = source_frame(src)
        ref = expected_order(tables, kinds)
        np.testing.assert_array_equal(got["_s"], ref["_s"])
        np.testing.assert_array_equal(got["time"], ref["time"])
        np.testing.assert_array_equal(got["known_at"], ref["known_at"])
        np.testing.assert_array_equal(got["value"], ref["value"])
    empty = lay.source(family="academic", kinds=None)
    assert empty.n_events == 0


def test_layout_sorts_only_blocks_that_need_it():
    students = pd.DataFrame({"student_id": ["a", "b", "c"]})
    events = pd.DataFrame(
        {
            "student_id": ["a", "b", "a", "c", "b", "a"],
            "time": [1.0, 5.0, 2.0, 1.0, 4.0, 0.5],  # b's quizzes out of order
            "family": "academic",
            "kind": ["quiz", "quiz", "quiz", "quiz", "quiz", "exam"],
            "value": 1.0,
        }
    )
    lay = build_layout(EventTables(students=students, events=events))
    assert lay.n_sorted == 1  # only b's quiz block; a's exam came last but is its own block
    quiz = lay.source(family=None, kinds=["quiz"])
    assert [lay.t[i] for i in range(quiz.starts[1], quiz.ends[1])] == [4.0, 5.0]
    both = lay.source(family="academic", kinds=None)
    assert [both.t[i] for i in range(both.starts[0], both.ends[0])] == [0.5, 1.0, 2.0]


def test_layout_many_chunks_keeps_order(rng):
    # more rows than one chunk, so the parallel scatter runs with several chunks
    n = 300_000
    students = pd.DataFrame({"student_id": np.arange(50)})
    t = np.sort(rng.random(n) * 100)
    events = pd.DataFrame({"student_id": rng.integers(0, 50, n), "time": t,
                           "family": "behavioral", "kind": rng.choice(["x", "y"], n),
                           "value": rng.random(n)})
    tables = EventTables(students=students, events=events, check_duplicates=False)
    lay = build_layout(tables)
    assert lay.n_sorted == 0  # chronological input: nothing to sort
    order = np.lexsort((events["kind"].to_numpy(), tables.student_codes()))
    np.testing.assert_array_equal(lay.v, events["value"].to_numpy()[order])
