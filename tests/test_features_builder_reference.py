"""FeatureBuilder equals the slow reference (tests/features_reference.py) on generated campuses.

The heaviest Hypothesis properties of the builder, in a file of their own so that pytest-xdist
(`--dist loadfile`) runs them beside, not after, the rest of tests/test_features_builder.py.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings

from features_reference import (
    ALL_AGGS,
    PROP_SPEC,
    WINDOWS,
    Reference,
    assert_frames_identical,
    assert_same,
    build,
    feature_case,
    ref_cohort,
)
from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec, _builder, _layout
from studentprofile.tables import EventTables

# --------------------------------------------------------------- equivalence with reference
ENTRIES = [
    EventFeatures(("a", "b"), family="behavioral", aggregates=ALL_AGGS, windows=WINDOWS,
                  tod_bins=6, lz_bins=4),
    EventFeatures(family="academic", aggregates=ALL_AGGS, windows=["all", 10]),
    EventFeatures("a", aggregates=ALL_AGGS, windows=[1, "all"]),
    # subsets of the clock aggregates take other paths through the kernel
    EventFeatures("b", name="b_days", aggregates=["active_days", "dow_entropy"],
                  windows=[5, "all"]),
    EventFeatures(("b", "c"), name="b_c_lz", aggregates=["lz_entropy", "count"], windows=[12],
                  lz_bins=3),
]


def check_against_reference(tables, grid):
    spec = FeatureSpec(ENTRIES)
    X = FeatureBuilder(spec, on_absent_kind="keep").fit_transform(tables, grid)
    ref = Reference(tables)
    assert len(X) == len(grid)
    for entry in ENTRIES:
        expected = ref.entry_frame(entry, grid)
        for col in expected.columns:
            assert_same(X[col].to_numpy(), expected[col].to_numpy(), col)


@given(feature_case(time_kind="float"))
def test_matches_reference_float_times(case):
    check_against_reference(*case)


@given(feature_case(time_kind="datetime"))
def test_matches_reference_datetime(case):
    check_against_reference(*case)


@settings(max_examples=20)
@given(feature_case())
def test_parallel_kernels_match_reference(case):
    # the builder runs small inputs on one thread; force the parallel kernels here
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_layout, "PARALLEL_MIN", 0)
        mp.setattr(_builder, "PARALLEL_MIN", 0)
        check_against_reference(*case)
        X = FeatureBuilder(PROP_SPEC, on_absent_kind="keep").fit_transform(*case)
    assert_frames_identical(X, build(*case))


@given(feature_case(time_kind="datetime", timezone="Europe/London"))
def test_matches_reference_local_clock(case):
    # aware times are stored as naive UTC; clock aggregates read the local wall clock
    tables, grid = case
    if len(tables.events):
        assert tables.report.timezone == "Europe/London"
    check_against_reference(tables, grid)


def test_hour_of_day_uses_local_time():
    students = pd.DataFrame({"student_id": ["ana"]})
    # 08:30 local every day; in summer that is 07:30 UTC, in winter 08:30 UTC
    local = pd.to_datetime(["2024-03-28 08:30", "2024-03-29 08:30", "2024-04-02 08:30",
                            "2024-04-03 08:30"]).tz_localize("Europe/London")
    events = pd.DataFrame({"student_id": "ana", "time": local, "family": "behavioral",
                           "kind": "canteen_swipe", "value": 1.0})
    tables = EventTables(students=students, events=events)
    spec = FeatureSpec([EventFeatures("canteen_swipe", aggregates=["tod_entropy", "lz_entropy"],
                                      windows=["all"])])
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [pd.Timestamp("2024-04-10")]})
    X = FeatureBuilder(spec).fit_transform(tables, grid)
    assert X["canteen_swipe_tod_entropy_all"].iloc[0] == 0.0  # one local hour only
    # a constant daily sequence of 4 symbols: L = 1, 2, 3, 2 -> 4 log2(4) / 8
    assert X["canteen_swipe_lz_entropy_all"].iloc[0] == 1.0
    # read as UTC the swipes would fall in two different hours
    utc = local.tz_convert("UTC").tz_localize(None)
    naive = EventTables(students=students, events=events.assign(time=utc))
    X = FeatureBuilder(spec).fit_transform(naive, grid)
    assert X["canteen_swipe_tod_entropy_all"].iloc[0] == 1.0


# ------------------------------------------------------------------ cohort-relative features
REL_ENTRY = EventFeatures(("a", "b"), family="behavioral", aggregates=["count", "mean"],
                          windows=[10, "all"], relative=["zscore", "percentile", "ratio"],
                          missing="cohort_mean", flag_missing=True)


def ref_relative(tables, grid, entry):
    """Cohort statistics from the reference: every cohort member at each row's as_of."""
    ref = Reference(tables)
    st_ = tables.students
    cohort_of = dict(zip(st_["student_id"], st_["cohort"], strict=True))
    out = {}
    for w in entry.windows:
        for agg in entry.aggregates:
            base = f"{entry.prefix}_{agg}_{w}"
            cols = {r: [] for r in entry.relative}
            filled = []
            for s, a in zip(grid["student_id"], grid["as_of"], strict=True):
                own = ref.aggregate(entry, agg, s, a, w)
                g = cohort_of[s]
                if g is None or (isinstance(g, float) and math.isnan(g)):
                    for r in entry.relative:
                        cols[r].append(math.nan)
                    filled.append(own)
                    continue
                members = [m for m, c in cohort_of.items() if c == g]
                vals = pd.Series([ref.aggregate(entry, agg, m, a, w) for m in members])
                groups = pd.Series([g] * len(members))
                me = members.index(s)
                for r in entry.relative:
                    cols[r].append(ref_cohort(vals, groups, r).iloc[me])
                mean = ref_cohort(vals, groups, "mean").iloc[me]
                filled.append(mean if math.isnan(own) else own)
            for r in entry.relative:
                out[f"{base}_{r}_{entry.by}"] = cols[r]
            out[base] = filled
    return pd.DataFrame(out)


@settings(max_examples=40)
@given(feature_case())
def test_relative_features_match_reference(case):
    tables, grid = case
    X = FeatureBuilder(FeatureSpec([REL_ENTRY]), on_absent_kind="keep").fit_transform(tables, grid)
    expected = ref_relative(tables, grid, REL_ENTRY)
    for col in expected.columns:
        assert_same(X[col].to_numpy(), expected[col].to_numpy(), col)


