"""The warning layer's numba kernels against slow, obvious references (Hypothesis, NaN and inf)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.warning import _kernels

# ----------------------------------------------------------------------------------- ABC


def abc_reference(values, thresholds, ops, scales, missing):
    """One row at a time, written the obvious way."""
    n, k = values.shape
    flags = np.zeros((n, k), dtype=np.uint8)
    count = np.zeros(n, dtype=np.int64)
    score = np.zeros(n)
    compare = {
        _kernels.OP_LT: lambda v, t: v < t,
        _kernels.OP_LE: lambda v, t: v <= t,
        _kernels.OP_GT: lambda v, t: v > t,
        _kernels.OP_GE: lambda v, t: v >= t,
    }
    for i in range(n):
        sev_total = 0.0
        for j in range(k):
            v = float(values[i, j])
            if math.isnan(v):
                flagged = bool(missing[j])
                sev = 0.0
            else:
                flagged = compare[int(ops[j])](v, thresholds[j])
                distance = (thresholds[j] - v) if ops[j] in (_kernels.OP_LT, _kernels.OP_LE) \
                    else (v - thresholds[j])
                sev = min(1.0, max(0.0, distance / scales[j])) if flagged else 0.0
            if flagged:
                flags[i, j] = 1
                count[i] += 1
                sev_total += sev
        score[i] = count[i] + sev_total / (k + 1)
    return flags, count, score


def run_abc(values, thresholds, ops, scales, missing):
    n, k = values.shape
    flags = np.empty((n, k), dtype=np.uint8)
    count = np.empty(n, dtype=np.int64)
    score = np.empty(n)
    _kernels.abc_kernel(np.ascontiguousarray(values, dtype=np.float64),
                        np.asarray(thresholds, dtype=np.float64), np.asarray(ops, dtype=np.int64),
                        np.asarray(scales, dtype=np.float64), np.asarray(missing, dtype=np.uint8),
                        flags, count, score)
    return flags, count, score


special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 0.9, 2.0, 40.0])
value = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), special)


@st.composite
def abc_case(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 30))
    values = np.array(draw(st.lists(st.lists(value, min_size=k, max_size=k), min_size=n,
                                    max_size=n)), dtype=np.float64).reshape(n, k)
    thresholds = draw(st.lists(st.floats(-100, 100, allow_nan=False, allow_infinity=False)
                               | st.sampled_from([0.0, 0.9, 2.0, 40.0]), min_size=k, max_size=k))
    ops = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    scales = draw(st.lists(st.floats(1e-6, 1e6), min_size=k, max_size=k))
    missing = draw(st.lists(st.integers(0, 1), min_size=k, max_size=k))
    return values, thresholds, ops, scales, missing


@given(abc_case())
def test_abc_kernel_matches_reference(case):
    got = run_abc(*case)
    want = abc_reference(*case)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12)
    # the score orders by the number of flags first
    assert np.all(np.floor(got[2] + 1e-12) == got[1])


def test_abc_kernel_by_hand():
    # attendance < 0.9 (scale 0.3), incidents >= 2 (scale 4), missing attendance flagged
    values = np.array([[0.6, 3.0], [0.95, 0.0], [np.nan, 2.0], [-np.inf, np.inf]])
    flags, count, score = run_abc(values, [0.9, 2.0], [_kernels.OP_LT, _kernels.OP_GE],
                                  [0.3, 4.0], [1, 0])
    assert flags.tolist() == [[1, 1], [0, 0], [1, 1], [1, 1]]
    assert count.tolist() == [2, 0, 2, 2]
    # row 0: severities 0.3/0.3 = 1 and 1/4 -> 2 + 1.25/3
    assert score[0] == pytest.approx(2 + 1.25 / 3)
    assert score[1] == 0.0
    # row 2: the missing flag adds no severity; 2 >= 2 at distance 0
    assert score[2] == pytest.approx(2.0)
    # row 3: infinite distances are clipped to full severity
    assert score[3] == pytest.approx(2 + 2 / 3)


# --------------------------------------------------------------------------- alert state


def state_reference(raw, days, offsets, n_levels, enter, exit_, cooldown, alert_from, bypass):
    """Per-level switches and the alert rules, spelled out row by row."""
    n = len(raw)
    level_out = np.zeros(n, dtype=np.int64)
    alert_out = np.zeros(n, dtype=np.uint8)
    for s in range(len(offsets) - 1):
        on = {k: False for k in range(1, n_levels + 1)}
        above = {k: 0 for k in on}
        below = {k: 0 for k in on}
        alerted, last_day, last_level = 0, None, 0
        for r in range(offsets[s], offsets[s + 1]):
            for k in on:
                if raw[r] >= k:
                    above[k], below[k] = above[k] + 1, 0
                else:
                    above[k], below[k] = 0, below[k] + 1
                if not on[k] and above[k] >= enter:
                    on[k] = True
                elif on[k] and below[k] >= exit_:
                    on[k] = False
            level = max([k for k in on if on[k]], default=0)
            level_out[r] = level
            if level < alert_from:
                alerted = 0
            alerted = min(alerted, level)
            wants = level >= alert_from and level > alerted
            allowed = (last_day is None or days[r] - last_day >= cooldown
                       or (bypass and level > last_level))
            if wants and allowed:
                alert_out[r] = 1
                alerted, last_day, last_level = level, days[r], level
    return level_out, alert_out


def run_state(raw, days, offsets, n_levels, enter, exit_, cooldown, alert_from, bypass):
    level = np.empty(len(raw), dtype=np.int64)
    alert = np.empty(len(raw), dtype=np.uint8)
    _kernels.alert_state_kernel(np.asarray(raw, dtype=np.int64), np.asarray(days, dtype=float),
                                np.asarray(offsets, dtype=np.int64), n_levels, enter, exit_,
                                float(cooldown), alert_from, bypass, level, alert)
    return level, alert


@st.composite
def state_case(draw):
    n_levels = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(0, 15), min_size=0, max_size=5))
    raw, days = [], []
    for size in sizes:
        raw += draw(st.lists(st.integers(0, n_levels), min_size=size, max_size=size))
        steps = draw(st.lists(st.sampled_from([0.0, 1.0, 3.5, 7.0, 14.0]), min_size=size,
                              max_size=size))
        days += list(np.cumsum(steps) + 100.0)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    params = (
        n_levels,
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.sampled_from([0.0, 7.0, 10.0, 30.0])),
        draw(st.integers(1, n_levels)),
        draw(st.booleans()),
    )
    return (np.array(raw, dtype=np.int64), np.array(days, dtype=float), offsets, *params)


@given(state_case())
def test_alert_state_kernel_matches_reference(case):
    got = run_state(*case)
    want = state_reference(*case)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@given(state_case())
def test_alert_state_invariants(case):
    raw, days, offsets, n_levels, enter, exit_, cooldown, alert_from, bypass = case
    level, alert = run_state(*case)
    assert ((level >= 0) & (level <= n_levels)).all()
    # an alert only ever fires at a tier that raises alerts
    assert (level[alert == 1] >= alert_from).all()
    for s in range(len(offsets) - 1):
        lo, hi = offsets[s], offsets[s + 1]
        if hi == lo:
            continue
        r = raw[lo:hi]
        lv = level[lo:hi]
        # hysteresis: the smoothed tier never exceeds the highest raw tier of the last
        # `enter` rows when it has just risen
        rises = np.flatnonzero(np.diff(np.r_[0, lv]) > 0)
        for i in rises:
            window = r[max(0, i - enter + 1): i + 1]
            assert len(window) == enter and (window >= lv[i]).all()
        # without bypass, two alerts of one student are at least `cooldown` days apart
        if not bypass:
            d = days[lo:hi][alert[lo:hi] == 1]
            assert (np.diff(d) >= cooldown - 1e-9).all()


def test_alert_state_by_hand():
    # one student, two tiers; enter after 2, exit after 2, cool-down 10 days, alert from tier 1
    raw = [0, 2, 2, 1, 0, 0, 2, 2, 2]
    days = [0, 7, 14, 21, 28, 35, 42, 49, 56]
    level, alert = run_state(raw, days, [0, 9], 2, 2, 2, 10.0, 1, True)
    #                     0  2  2  1  0  0  2  2  2
    assert level.tolist() == [0, 0, 2, 2, 1, 0, 0, 2, 2]
    # day 14: enters tier 2 -> alert; day 28-35 falls, episode ends at 35; day 49 re-enters
    assert alert.tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0]


def test_cooldown_holds_an_alert_back_until_it_expires():
    # enter/exit after 1; the student leaves and re-enters 3 days later: no new alert until the
    # 10-day cool-down has passed, then it is raised (still in the tier)
    raw = [1, 0, 1, 1, 1]
    days = [0, 3, 6, 9, 12]
    level, alert = run_state(raw, days, [0, 5], 1, 1, 1, 10.0, 1, True)
    assert level.tolist() == [1, 0, 1, 1, 1]
    assert alert.tolist() == [1, 0, 0, 0, 1]


def test_escalation_bypasses_cooldown_only_when_asked():
    raw = [1, 2]
    days = [0, 1]
    _, with_bypass = run_state(raw, days, [0, 2], 2, 1, 1, 30.0, 1, True)
    _, without = run_state(raw, days, [0, 2], 2, 1, 1, 30.0, 1, False)
    assert with_bypass.tolist() == [1, 1]
    assert without.tolist() == [1, 0]
