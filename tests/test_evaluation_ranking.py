"""Caseload metrics: ties at the cut against brute force, hand examples, capacity, errors."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    _inputs,
    _ranking,
    capacity_report,
    lift_at_k,
    precision_at_capacity,
    precision_at_k,
    ranking_at_k,
    recall_at_k,
)


def brute_force_true_positives(y, s, k):
    """Every order of the students consistent with the scores (ties in any order): TPs in top k."""
    n = len(y)
    counts = []
    for order in itertools.permutations(range(n)):
        if all(s[order[i]] >= s[order[i + 1]] for i in range(n - 1)):
            counts.append(sum(y[j] for j in order[:k]))
    return min(counts), max(counts), Fraction(sum(counts), len(counts))


@st.composite
def small_ranking(draw):
    n = draw(st.integers(1, 6))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    s = draw(st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.9]), min_size=n, max_size=n))
    k = draw(st.integers(1, n))
    return y, s, k


@given(small_ranking())
def test_ties_match_brute_force_over_every_order(case):
    y, s, k = case
    worst, best, expected = brute_force_true_positives(y, s, k)
    assert precision_at_k(y, s, k, ties="worst") == pytest.approx(worst / k, abs=1e-12)
    assert precision_at_k(y, s, k, ties="best") == pytest.approx(best / k, abs=1e-12)
    assert precision_at_k(y, s, k, ties="expected") == pytest.approx(
        float(expected) / k, abs=1e-12
    )
    assert precision_at_k(y, s, k) == precision_at_k(y, s, k, ties="worst")  # the one default
    if sum(y):
        assert recall_at_k(y, s, k, ties="expected") == pytest.approx(
            float(expected) / sum(y), abs=1e-12
        )
        assert recall_at_k(y, s, k) == pytest.approx(worst / sum(y), abs=1e-12)
        assert lift_at_k(y, s, k, ties="expected") == pytest.approx(
            float(expected) / k / (sum(y) / len(y)), abs=1e-12
        )


@st.composite
def ranking(draw):
    n = draw(st.integers(1, 60))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    s = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.2, 0.2, 0.5, 0.8, 1.0]), min_size=n, max_size=n))
    )
    k = draw(st.one_of(st.integers(0, n + 5), st.floats(0.01, 1.0)))
    return y, s, k


@given(ranking())
def test_precision_at_k_bounds(case):
    y, s, k = case
    table = ranking_at_k(y, s, [k])
    row = table.iloc[0]
    if row["n_flagged"] == 0:
        assert np.isnan(row["precision"])
        return
    assert 0 <= row["precision_worst"] <= row["precision"] <= row["precision_best"] <= 1
    assert row["recall_worst"] <= row["recall"] <= row["recall_best"] or y.sum() == 0
    # precision never drops below what flagging everyone tied or above would give in the worst case
    prevalence = y.mean()
    if row["n_flagged"] == len(y):
        assert row["precision"] == pytest.approx(prevalence)
        assert row["precision_worst"] == row["precision_best"]


@given(ranking())
def test_without_ties_the_three_cases_agree(case):
    y, _, k = case
    s = np.arange(len(y), dtype=float)[::-1] / len(y)  # distinct scores
    row = ranking_at_k(y, s, [k]).iloc[0]
    if row["n_flagged"]:
        assert row["precision_worst"] == row["precision"] == row["precision_best"]
        assert row["precision"] == pytest.approx(y[: int(row["n_flagged"])].mean())


def test_hand_example_with_ties():
    # scores: 0.9 (pos), 0.8 (neg), then 0.5 twice (one pos, one neg) share the 3rd place
    y = [1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.5, 0.5, 0.1]
    row = ranking_at_k(y, s, [3]).iloc[0]
    assert row["tied_at_cut"] == 2 and row["tied_places"] == 1
    assert row["cut_score"] == 0.5
    assert row["precision"] == pytest.approx(1.5 / 3)
    assert row["precision_worst"] == pytest.approx(1 / 3)
    assert row["precision_best"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(0.75)
    assert row["lift"] == pytest.approx(0.5 / 0.4)


def test_fraction_k_is_floored():
    y = np.zeros(100, dtype=int)
    assert _inputs.resolve_k(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996 in floats
    assert _inputs.resolve_k(0.1, 1005) == 100
    assert _inputs.resolve_k(0.004, 100) == 0
    assert np.isnan(precision_at_k(y, np.linspace(0, 1, 100), 0.004))
    assert _inputs.resolve_k(500, 100) == 100
    assert _inputs.resolve_k(1.0, 7) == 7
    assert ranking_at_k(y, np.zeros(100), [0.1, 50]).index.tolist() == ["10%", "50"]


@pytest.mark.parametrize("bad", [-1, 0.0, 1.5, float("nan"), True, "10%", None])
def test_bad_k(bad):
    with pytest.raises(ConfigError, match=re.escape(_inputs.K_INVALID)):
        precision_at_k([0, 1], [0.1, 0.2], bad)


def test_float_count_gets_a_hint():
    with pytest.raises(ConfigError, match="pass an int: k=5"):
        precision_at_k([0, 1], [0.1, 0.2], 5.0)


def test_bad_ties():
    with pytest.raises(ConfigError, match=re.escape(_inputs.TIES_INVALID.format(
        allowed=list(_inputs.TIE_RULES)))):
        precision_at_k([0, 1], [0.1, 0.2], 1, ties="random")


# ------------------------------------------------------------------------------- capacity
def test_capacity_by_hand():
    y = [1, 0, 0, 1, 1, 0]
    s = [0.9, 0.8, 0.7, 0.2, 0.1, 0.05]
    groups = ["a", "a", "a", "b", "b", "c"]
    # a takes 2: 0.9 (pos), 0.8 (neg); b takes 1: 0.2 (pos); c takes 0
    table = capacity_report(y, s, groups, {"a": 2, "b": 1, "c": 0})
    assert table["n_flagged"].to_dict() == {"a": 2, "b": 1, "c": 0}
    assert table["true_positives"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert np.isnan(table.loc["c", "precision"])  # an empty caseload
    assert precision_at_capacity(y, s, groups, {"a": 2, "b": 1, "c": 0}) == pytest.approx(2 / 3)
    # a global top-3 would take a's three students instead
    assert precision_at_k(y, s, 3) == pytest.approx(1 / 3)


def test_capacity_larger_than_group_flags_everyone_in_it():
    table = capacity_report([1, 0], [0.3, 0.2], ["a", "a"], 10)
    assert table.loc["a", "n_flagged"] == 2


def test_capacity_ties_inside_a_group():
    y = [1, 0, 0]
    s = [0.5, 0.5, 0.5]
    assert precision_at_capacity(y, s, ["a"] * 3, 1, ties="expected") == pytest.approx(1 / 3)
    assert precision_at_capacity(y, s, ["a"] * 3, 1) == 0.0  # the default: worst case
    assert precision_at_capacity(y, s, ["a"] * 3, 1, ties="best") == 1.0


@given(ranking(), st.integers(0, 5))
def test_one_group_capacity_equals_precision_at_k(case, cap):
    y, s, _ = case
    groups = ["all"] * len(y)
    for rule in ("expected", "worst", "best"):
        a = precision_at_capacity(y, s, groups, cap, ties=rule)
        b = precision_at_k(y, s, cap, ties=rule)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)


def test_capacity_errors():
    with pytest.raises(SchemaError, match=re.escape(_ranking.GROUPS_MISSING)):
        precision_at_capacity([0, 1], [0.1, 0.2], ["a", None], 1)
    with pytest.raises(ConfigError, match=re.escape(_ranking.CAPACITY_MISSING_GROUP)) as info:
        precision_at_capacity([0, 1], [0.1, 0.2], ["a", "b"], {"a": 1})
    assert "'b'" in str(info.value)
    with pytest.raises(ConfigError, match=re.escape(_ranking.CAPACITY_INVALID)):
        precision_at_capacity([0, 1], [0.1, 0.2], ["a", "b"], -1)
    message = _inputs.LENGTHS_DIFFER.format(a="y_true", b="groups")
    with pytest.raises(SchemaError, match=re.escape(message)):
        precision_at_capacity([0, 1], [0.1, 0.2], ["a"], 1)
