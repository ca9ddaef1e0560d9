"""The held-out slice: later in time than every training row, no student on both sides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.models import holdout_split


@st.composite
def grids(draw):
    n_students = draw(st.integers(1, 25))
    rows_student, rows_time = [], []
    for s in range(n_students):
        times = draw(st.lists(st.integers(0, 12), min_size=1, max_size=8, unique=True))
        rows_student += [f"s{s}"] * len(times)
        rows_time += times
    order = draw(st.permutations(range(len(rows_time))))
    student = np.array(rows_student, dtype=object)[list(order)]
    time = np.array(rows_time, dtype=float)[list(order)]
    return student, time


@given(grids(), st.sampled_from([0.1, 0.2, 0.35]), st.integers(0, 3))
def test_holdout_is_later_and_student_disjoint(grid, fraction, seed):
    student, time = grid
    n = len(student)
    split = holdout_split(n, student=student, time=time, fraction=fraction, random_state=seed)
    train, hold = split.train, split.holdout
    assert len(np.intersect1d(train, hold)) == 0
    assert len(train) + len(hold) + split.n_unused == n
    assert set(student[train]).isdisjoint(set(student[hold]))
    if split.strategy == "temporal":
        assert len(hold) > 0
        assert time[hold].min() >= split.cutoff
        if len(train):
            assert time[train].max() < split.cutoff
    # reproducible
    again = holdout_split(n, student=student, time=time, fraction=fraction, random_state=seed)
    assert np.array_equal(again.train, train) and np.array_equal(again.holdout, hold)


@given(grids(), st.integers(0, 3))
def test_held_out_students_are_the_latest_entrants_then_random(grid, seed):
    """H is a prefix of one fixed order: by first as-of date (latest first), then a shuffle."""
    student, time = grid
    split = holdout_split(len(student), student=student, time=time, fraction=0.3,
                          random_state=seed)
    if split.strategy != "temporal":
        return
    first = pd.Series(time).groupby(student).min()
    held = set(student[split.holdout])
    eligible = set(student[time >= split.cutoff])
    # every eligible student who entered strictly later than some held-out student is held out
    latest_held_entry = min(first[s] for s in held)
    assert {s for s in eligible if first[s] > latest_held_entry} <= held


def test_held_out_slice_is_not_filled_with_students_who_stay():
    """Withdrawn students leave the grid early; the held-out slice must still contain them."""
    rng = np.random.default_rng(0)
    student, time, leaver = [], [], {}
    for s in range(400):
        leaves = rng.uniform() < 0.4
        last = int(rng.integers(12, 18)) if leaves else 29  # leavers stop after the midpoint
        leaver[s] = leaves
        student += [s] * (last + 1)
        time += list(range(last + 1))
    student, time = np.array(student), np.array(time, dtype=float)
    split = holdout_split(len(student), student=student, time=time, fraction=0.2)
    held = sorted(set(student[split.holdout]))
    eligible = sorted(set(student[time >= split.cutoff]))
    share_held = np.mean([leaver[s] for s in held])
    share_eligible = np.mean([leaver[s] for s in eligible])
    assert len(held) >= 40
    assert abs(share_held - share_eligible) < 0.12


def test_latest_intake_is_held_out():
    # two cohorts: 2023 entrants (weeks 0-9), 2024 entrants (weeks 10-19), 10 students each
    student = np.repeat([f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)], 10)
    time = np.concatenate([np.tile(np.arange(10), 10), np.tile(np.arange(10, 20), 10)]) * 7.0
    split = holdout_split(len(student), student=student, time=time, fraction=0.2)
    assert split.strategy == "temporal"
    # held out: late weeks of some 2024 entrants; trained: all of 2023 plus the other 2024
    # entrants' weeks before the cutoff (more than the 100 rows a whole-cohort split keeps)
    assert set(student[split.holdout]) <= {f"b{i}" for i in range(10)}
    assert len(split.holdout) >= 40
    assert set(student[split.train]) >= {f"a{i}" for i in range(10)}
    assert len(split.train) > 100


def test_single_as_of_splits_by_student():
    student = np.repeat(np.arange(50), 2)
    split = holdout_split(100, student=student, time=np.zeros(100), fraction=0.2)
    assert split.strategy == "student" and split.cutoff is None
    assert len(split.holdout) == 20 and split.n_unused == 0
    assert set(student[split.holdout]).isdisjoint(student[split.train])


def test_no_students_means_rows_are_students():
    split = holdout_split(10, fraction=0.3)
    assert split.strategy == "row"
    assert len(split.holdout) == 3 and len(split.train) == 7


def test_datetime_times_and_summary():
    time = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"] * 5)
    student = np.repeat(np.arange(5), 4)
    split = holdout_split(20, student=student, time=time.to_numpy(), fraction=0.2)
    summary = split.to_dict()
    assert summary["strategy"] == "temporal"
    assert isinstance(summary["cutoff"], str) and summary["cutoff"].startswith("2024-")
    assert summary["n_train"] + summary["n_holdout"] + summary["n_unused"] == 20


def test_bad_inputs():
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        holdout_split(10, fraction=1.5)
    with pytest.raises(SchemaError, match="one value per row"):
        holdout_split(10, student=np.arange(9))
    with pytest.raises(SchemaError, match="must not be empty"):
        holdout_split(3, student=np.arange(3), time=np.array([1.0, np.nan, 2.0]))
