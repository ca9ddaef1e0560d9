"""FeatureBuilder: known answers, equivalence with the slow reference, leakage, order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features_reference import (
    assert_frames_identical,
    build,
    feature_case,
)
from studentprofile.errors import ConfigError, NotFittedError, SchemaError
from studentprofile.features import (
    EventFeatures,
    FeatureBuilder,
    FeatureSpec,
    StaticFeatures,
)
from studentprofile.labels import check_grid
from studentprofile.tables import EventTables


# ------------------------------------------------------------------------------ known answers
@pytest.fixture
def campus() -> EventTables:
    """Ana attends 3 of 4 classes and has a late-published mark; Ben attends once; Cai nothing."""
    students = pd.DataFrame(
        {
            "student_id": ["ana", "ben", "cai"],
            "cohort": ["2024", "2024", "2024"],
            "program": ["law", "law", "art"],
            "term_start": [0.0, 0.0, 2.0],
            "gender": ["F", "M", "F"],
        }
    )
    events = pd.DataFrame(
        {
            "student_id": ["ana", "ana", "ana", "ana", "ben", "ana"],
            "time": [1.25, 2.25, 8.25, 9.75, 2.5, 5.0],
            "known_at": [1.25, 2.25, 8.25, 9.75, 2.5, 12.0],
            "family": ["behavioral"] * 5 + ["academic"],
            "kind": ["class_attendance"] * 5 + ["assessment_score"],
            "value": [1.0, 0.0, 1.0, 1.0, 1.0, 64.0],
        }
    )
    return EventTables(students=students, events=events, audit_attributes=["gender"])


def test_known_answers(campus):
    spec = FeatureSpec(
        [
            EventFeatures(
                "class_attendance",
                aggregates=["count", "mean", "last", "days_since_last", "longest_gap",
                            "active_days"],
                windows=[7, "all"],
            ),
            EventFeatures("assessment_score", aggregates=["count", "mean"], windows=["all"]),
        ]
    )
    grid = pd.DataFrame({"student_id": ["ana", "ana", "ben", "cai"],
                         "as_of": [10.0, 13.0, 10.0, 10.0]})
    X = FeatureBuilder(spec).fit_transform(campus, grid)
    assert list(X.index) == [("ana", 10.0), ("ana", 13.0), ("ben", 10.0), ("cai", 10.0)]
    ana, ana13, ben, cai = (X.iloc[i] for i in range(4))
    # ana at day 10: the 7-day window [3, 10) holds the classes at 8.25 and 9.75
    assert ana["class_attendance_count_7d"] == 2
    assert ana["class_attendance_mean_7d"] == 1.0
    assert ana["class_attendance_count_all"] == 4
    assert ana["class_attendance_mean_all"] == 0.75
    assert ana["class_attendance_last_all"] == 1.0
    assert ana["class_attendance_days_since_last_all"] == pytest.approx(0.25)
    assert ana["class_attendance_longest_gap_all"] == pytest.approx(6.0)  # 2.25 -> 8.25
    assert ana["class_attendance_active_days_all"] == 4
    # the mark of day 5 was published on day 12: unknown at day 10, known at day 13
    assert ana["assessment_score_count_all"] == 0 and math.isnan(ana["assessment_score_mean_all"])
    assert ana13["assessment_score_mean_all"] == 64.0
    assert ben["class_attendance_count_7d"] == 0 and math.isnan(ben["class_attendance_mean_7d"])
    assert ben["class_attendance_days_since_last_all"] == pytest.approx(7.5)
    assert ben["class_attendance_longest_gap_all"] == pytest.approx(7.5)
    assert cai["class_attendance_count_all"] == 0
    assert math.isnan(cai["class_attendance_days_since_last_all"])
    assert cai["class_attendance_active_days_all"] == 0


def test_feature_infos_describe_every_column(campus):
    spec = FeatureSpec(
        [
            EventFeatures("class_attendance", aggregates=["mean", "count"], windows=[30],
                          mean_phrase="class attendance rate", unit="share",
                          higher_is="better", relative="zscore", by="program",
                          flag_missing=True),
            StaticFeatures(["program", "term_start"]),
        ]
    )
    b = FeatureBuilder(spec).fit(campus)
    infos = b.feature_info_
    assert list(infos) == b.feature_names_out_
    mean = infos["class_attendance_mean_30d"]
    assert mean.phrase == "class attendance rate over the last 30 days"
    assert (mean.family, mean.kind, mean.aggregate, mean.window, mean.unit, mean.higher_is) == (
        "behavioral", "class_attendance", "mean", "30d", "share", "better")
    z = infos["class_attendance_mean_30d_zscore_program"]
    assert z.transform == "zscore" and "relative to the program" in z.phrase
    assert infos["class_attendance_count_30d"].unit == "count"
    assert infos["class_attendance_mean_30d_missing"].phrase.startswith("no data for")
    assert infos["program"].family == "static" and infos["program"].unit == "category"
    assert infos["program"].extra["categories"] == ["art", "law"]
    assert infos["term_start"].unit == "days"
    for info in infos.values():
        assert info.phrase and info.sensitivity == "normal"


def test_missing_rules(campus):
    grid = pd.DataFrame({"student_id": ["ana", "ben", "cai"], "as_of": [10.0] * 3})
    mk = dict(kinds="class_attendance", aggregates=["mean"], windows=[7])
    spec = FeatureSpec([
        EventFeatures(**mk, name="nan_rule"),
        EventFeatures(**mk, name="zero_rule", missing="zero", flag_missing=True),
        EventFeatures(**mk, name="const_rule", missing="constant", fill_value=-1.0),
        EventFeatures(**mk, name="cohort_rule", missing="cohort_mean", by="program"),
    ])
    X = FeatureBuilder(spec).fit_transform(campus, grid)
    # ana 1.0 (two classes, both attended); ben and cai have no classes in [3, 10)
    assert X["nan_rule_mean_7d"].tolist()[0] == 1.0
    assert np.isnan(X["nan_rule_mean_7d"].to_numpy()[1:]).all()
    assert X["zero_rule_mean_7d"].tolist() == [1.0, 0.0, 0.0]
    assert X["zero_rule_mean_7d_missing"].tolist() == [0.0, 1.0, 1.0]
    assert X["const_rule_mean_7d"].tolist() == [1.0, -1.0, -1.0]
    # ben's program (law) mean is ana's 1.0; cai is alone in art with nothing: stays NaN
    assert X["cohort_rule_mean_7d"].tolist()[:2] == [1.0, 1.0]
    assert np.isnan(X["cohort_rule_mean_7d"].iloc[2])


def test_cohort_includes_students_outside_the_grid(campus):
    spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["count"], windows=["all"],
                                      relative=["zscore", "percentile"])])
    full = pd.DataFrame({"student_id": ["ana", "ben", "cai"], "as_of": [10.0] * 3})
    one = full.iloc[[1]]
    X_full = FeatureBuilder(spec).fit_transform(campus, full)
    X_one = FeatureBuilder(spec).fit_transform(campus, one)
    assert_frames_identical(X_one, X_full.iloc[[1]])
    # counts 4, 1, 0: ben is the middle one
    assert X_one["class_attendance_count_all_percentile_cohort"].iloc[0] == pytest.approx(0.5)


# --------------------------------------------------------------------------------- properties
def rebuild(tables: EventTables, events: pd.DataFrame, students=None) -> EventTables:
    return EventTables(students=tables.students if students is None else students,
                       events=events, check_duplicates=False)


@given(feature_case(), st.data())
def test_future_events_change_nothing(case, data):
    """(a) adding, removing or changing any event with known_at >= as_of changes nothing."""
    tables, grid = case
    X = build(tables, grid)
    kind = tables.time_kind
    g = check_grid(grid, tables)
    cut = data.draw(st.sampled_from(sorted(g["as_of"].unique())), label="as_of")
    rows = (g["as_of"] <= cut).to_numpy()  # rows that must not see anything we touch
    ev = tables.events.copy()
    future = (ev["known_at"] >= cut).to_numpy()
    # remove some future events, change the rest (value, time earlier but still known late)
    drop = np.array(data.draw(st.lists(st.booleans(), min_size=len(ev), max_size=len(ev))),
                    dtype=bool) & future
    changed = ev.loc[~drop].copy()
    fut = (changed["known_at"] >= cut).to_numpy()
    changed.loc[fut, "value"] = changed.loc[fut, "value"].fillna(0.0) * -3 + 1
    shift = pd.Timedelta(days=2) if kind == "datetime" else 2.0
    changed.loc[fut, "time"] = changed.loc[fut, "time"] - shift
    # add future events for every student, at a time inside every window, known at the cut
    hour = pd.Timedelta(hours=1) if kind == "datetime" else 1 / 24
    new = pd.DataFrame({
        "student_id": tables.students["student_id"],
        "time": cut - hour,
        "known_at": cut,
        "family": "behavioral",
        "kind": "a",
        "value": 99.0,
        "max_value": 100.0,
    })
    after = rebuild(tables, pd.concat([changed, new], ignore_index=True))
    assert_frames_identical(build(after, grid)[rows], X[rows])


@given(feature_case(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(case, random):
    """(b) shuffling the rows of events and students changes nothing, bit for bit."""
    tables, grid = case
    X = build(tables, grid)
    ev = tables.events.sample(frac=1.0, random_state=random.randint(0, 2**31))
    stu = tables.students.sample(frac=1.0, random_state=random.randint(0, 2**31))
    shuffled = rebuild(tables, ev.reset_index(drop=True), stu.reset_index(drop=True))
    assert_frames_identical(build(shuffled, grid), X)


@given(feature_case())
def test_students_are_independent(case):
    """(c) a student's own features ignore other students; cohort ones need only the cohort."""
    tables, grid = case
    X = build(tables, grid)
    relative = [c for c in X.columns if c.endswith("_cohort") or c.startswith("a_b_")]
    own = [c for c in X.columns if c not in relative]
    sid = grid["student_id"].iloc[0]
    mine = (grid["student_id"] == sid).to_numpy()
    alone = tables.select([sid])
    X_alone = build(alone, grid[mine].reset_index(drop=True))
    assert_frames_identical(X_alone[own], X[own][mine])
    # cohort-relative values do not depend on which other rows are in the grid
    X_rows = build(tables, grid[mine].reset_index(drop=True))
    assert_frames_identical(X_rows, X[mine])


def test_cohort_features_depend_on_what_the_cohort_knew(campus):
    spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["count"],
                                      windows=["all"], relative="zscore")])
    grid = pd.DataFrame({"student_id": ["cai"], "as_of": [10.0]})
    before = FeatureBuilder(spec).fit_transform(campus, grid).iloc[0, 1]
    ev = campus.events.copy()
    # ben attends one more class at day 4 (known then): cai's z-score moves
    extra = ev.iloc[[4]].assign(time=4.0, known_at=4.0)
    more = rebuild(campus, pd.concat([ev, extra], ignore_index=True))
    assert FeatureBuilder(spec).fit_transform(more, grid).iloc[0, 1] != before
    # the same class published only at day 10 (as_of): nothing moves
    late = rebuild(campus, pd.concat([ev, extra.assign(known_at=10.0)], ignore_index=True))
    assert FeatureBuilder(spec).fit_transform(late, grid).iloc[0, 1] == before


# ----------------------------------------------------------------------- output and manners
def test_output_follows_grid_order_with_repeats(campus):
    spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["count"],
                                      windows=["all"])])
    grid = pd.DataFrame({"student_id": ["cai", "ana", "ana", "cai"],
                         "as_of": [5.0, 10.0, 2.0, 5.0]})
    X = FeatureBuilder(spec).fit_transform(campus, grid)
    assert list(X.index) == list(zip(grid["student_id"], grid["as_of"], strict=True))
    assert X.index.names == ["student_id", "as_of"]
    assert X.iloc[:, 0].tolist() == [0.0, 4.0, 1.0, 0.0]
    assert (X.dtypes == "float64").all()


def test_empty_grid_and_empty_events(campus):
    spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["count", "mean"],
                                      windows=[7])])
    empty = pd.DataFrame({"student_id": pd.Series([], dtype=object),
                          "as_of": pd.Series([], dtype=float)})
    X = FeatureBuilder(spec).fit_transform(campus, empty)
    assert X.shape == (0, 2) and (X.dtypes == "float64").all()
    no_events = EventTables(students=campus.students)
    b = FeatureBuilder(spec, on_absent_kind="keep")
    X = b.fit_transform(no_events, pd.DataFrame({"student_id": ["ana"], "as_of": [3.0]}))
    assert X.iloc[0].tolist()[0] == 0.0 and math.isnan(X.iloc[0].tolist()[1])


def test_columns_are_fixed_at_fit(campus):
    spec = FeatureSpec([
        EventFeatures("class_attendance", aggregates=["count"], windows=[7]),
        EventFeatures("library_entry", aggregates=["count"], windows=[7]),
    ])
    b = FeatureBuilder(spec).fit(campus)
    assert b.get_feature_names_out() == ["class_attendance_count_7d"]
    assert b.skipped_ == {"library_entry": "no events of kinds ['library_entry']"}
    later = EventTables(students=campus.students)  # no events at all now
    X = b.transform(later, pd.DataFrame({"student_id": ["ana"], "as_of": [3.0]}))
    assert list(X.columns) == ["class_attendance_count_7d"] and X.iloc[0, 0] == 0.0


def test_wellbeing_kinds_are_always_sensitive():
    students = pd.DataFrame({"student_id": ["ana"]})
    events = pd.DataFrame({"student_id": "ana", "time": [1.0, 2.0],
                           "family": ["wellbeing", "academic"],
                           "kind": ["counselling_visit", "quiz"], "value": 1.0})
    t = EventTables(students=students, events=events)
    # the entry does not say "wellbeing", but the data does
    spec = FeatureSpec([EventFeatures(["counselling_visit", "quiz"], name="mixed"),
                        EventFeatures("quiz")])
    infos = FeatureBuilder(spec).fit(t).feature_info_
    assert infos["mixed_count_30d"].sensitivity == "sensitive"
    assert infos["mixed_count_30d"].family == "academic+wellbeing"
    assert infos["quiz_count_30d"].sensitivity == "normal"


def test_feature_info_names_the_kinds_found(campus):
    spec = FeatureSpec([EventFeatures(["class_attendance", "lecture_scan"], name="presence")])
    info = FeatureBuilder(spec).fit(campus).feature_info_["presence_count_30d"]
    assert info.kind == "class_attendance"
    assert info.extra["kinds"] == ["class_attendance", "lecture_scan"]
    assert info.extra["kinds_at_fit"] == ["class_attendance"]


def test_clone_and_params(campus):
    from sklearn.base import clone

    spec = FeatureSpec([EventFeatures("class_attendance")])
    b = FeatureBuilder(spec, on_absent_kind="raise").fit(campus)
    c = clone(b)
    assert c.get_params() == b.get_params() and not hasattr(c, "feature_info_")
    with pytest.raises(NotFittedError, match="not fitted"):
        c.get_feature_names_out()


def test_static_features(campus):
    spec = FeatureSpec([StaticFeatures(["program", "term_start"]),
                        StaticFeatures("gender", allow_audit=["gender"])])
    grid = pd.DataFrame({"student_id": ["cai", "ana"], "as_of": [10.0, 4.0]})
    b = FeatureBuilder(spec)
    X = b.fit_transform(campus, grid)
    assert X["program"].tolist() == [0.0, 1.0]  # art, law
    assert X["term_start"].tolist() == [8.0, 4.0]  # days since term start
    assert X["gender"].tolist() == [0.0, 0.0]
    assert b.feature_info_["gender"].sensitivity == "audit"
    # a category unseen at fit time becomes NaN
    st2 = campus.students.assign(program=["law", "law", "music"])
    later = EventTables(students=st2, events=campus.events, audit_attributes=["gender"])
    assert math.isnan(b.transform(later, grid)["program"].iloc[0])


# ---------------------------------------------------------------------------------- errors
def test_audit_attribute_needs_opt_in(campus):
    with pytest.raises(ConfigError, match=r"(?s)'gender' is an audit attribute.*allow_audit"):
        FeatureBuilder(FeatureSpec([StaticFeatures(["gender"])])).fit(campus)


def test_term_window_needs_term_start(campus):
    tables = EventTables(students=campus.students.drop(columns="term_start"),
                         events=campus.events)
    spec = FeatureSpec([EventFeatures("class_attendance", windows=["term"])])
    with pytest.raises(SchemaError, match=r"students.term_start \[required-column\]: a term "
                                          r"window needs the students' term_start"):
        FeatureBuilder(spec).fit(tables)


def test_term_window_without_a_start_is_nan():
    students = pd.DataFrame({"student_id": ["a", "b"], "term_start": [2.0, np.nan]})
    events = pd.DataFrame({"student_id": ["a", "a", "b"], "time": [1.0, 3.0, 3.0],
                           "family": "academic", "kind": "quiz", "value": 1.0})
    t = EventTables(students=students, events=events)
    X = FeatureBuilder(FeatureSpec([EventFeatures("quiz", windows=["term"])])).fit_transform(
        t, pd.DataFrame({"student_id": ["a", "b"], "as_of": [5.0, 5.0]}))
    assert X.iloc[0, 0] == 1.0 and math.isnan(X.iloc[1, 0])


def test_share_needs_max_value(campus):
    spec = FeatureSpec([EventFeatures("assessment_score", aggregates=["share"])])
    with pytest.raises(SchemaError, match=r"events.max_value .*share aggregate needs"):
        FeatureBuilder(spec).fit(campus)


def test_relative_needs_by_column(campus):
    spec = FeatureSpec([EventFeatures("class_attendance", relative="zscore", by="house")])
    with pytest.raises(SchemaError, match=r"students.house .*cohort-relative features need"):
        FeatureBuilder(spec).fit(campus)


def test_absent_kind_raise(campus):
    spec = FeatureSpec([EventFeatures("gym_entry")])
    with pytest.raises(SchemaError, match=r"no events of kinds \['gym_entry'\]"):
        FeatureBuilder(spec, on_absent_kind="raise").fit(campus)
    with pytest.raises(ConfigError, match="on_absent_kind must be one of"):
        FeatureBuilder(spec, on_absent_kind="ignore").fit(campus)


def test_transform_before_fit_is_not_fitted_like_scikit_learn(campus):
    # regression (issue 13.12): transform fitted an unfitted builder silently, on whatever
    # tables it got (test-period tables included); now it refuses, as a scikit-learn
    # transformer does, and the error is also scikit-learn's NotFittedError
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    b = FeatureBuilder(FeatureSpec([EventFeatures("class_attendance")]))
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [3.0]})
    with pytest.raises(NotFittedError, match=r"(?s)not fitted yet.*fit_transform"):
        b.transform(campus, grid)
    with pytest.raises(SkNotFittedError):
        b.transform(campus, grid)
    assert not hasattr(b, "feature_names_out_")
    assert b.fit_transform(campus, grid).shape == (1, len(b.feature_names_out_))


def test_bad_inputs(campus):
    b = FeatureBuilder(FeatureSpec([EventFeatures("class_attendance")])).fit(campus)
    with pytest.raises(SchemaError, match="features are built from an EventTables"):
        b.transform(campus.events, pd.DataFrame())
    with pytest.raises(SchemaError, match=r"grid.student_id \[membership\]"):
        b.transform(campus, pd.DataFrame({"student_id": ["zoe"], "as_of": [1.0]}))
    with pytest.raises(ConfigError, match="spec must be a FeatureSpec"):
        FeatureBuilder(["count"]).fit(campus)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        1e9 + np.random.default_rng(0).normal(0, 1e-3, 2000),  # big offset, tiny spread
        np.r_[np.random.default_rng(1).normal(0, 1, 3000), 1e7],  # the latest value an outlier
        np.r_[1e16, 1.0, -1e16, 3.0, 2.5] * np.ones(1),  # cancellation in the sum
        np.tile([0.1, 0.2, 0.3], 700),  # decimal fractions, no exact binary value
    ],
)
def test_sums_and_spread_are_accurate(values):
    from statistics import fmean, stdev

    n = len(values)
    students = pd.DataFrame({"student_id": ["ana"]})
    events = pd.DataFrame({"student_id": "ana", "time": np.arange(n) / n * 10.0,
                           "family": "academic", "kind": "quiz", "value": values})
    spec = FeatureSpec([EventFeatures("quiz", aggregates=["sum", "mean", "std"],
                                      windows=["all", 5])])
    t = EventTables(students=students, events=events, check_duplicates=False)
    X = FeatureBuilder(spec).fit_transform(
        t, pd.DataFrame({"student_id": ["ana"], "as_of": [11.0]})
    )
    half = values[events["time"].to_numpy() >= 6.0]
    for window, vals in (("all", values), ("5d", half)):
        assert X[f"quiz_sum_{window}"].iloc[0] == pytest.approx(math.fsum(vals), rel=1e-12)
        assert X[f"quiz_mean_{window}"].iloc[0] == pytest.approx(fmean(vals), rel=1e-12)
        assert X[f"quiz_std_{window}"].iloc[0] == pytest.approx(stdev(vals), rel=1e-9)
