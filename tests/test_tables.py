"""EventTables: the data contract, the bad-input catalogue, and a fuzz test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError, StudentProfileError
from studentprofile.tables import FAMILIES, EventTables, frame_fingerprint, to_days


def build(frames: dict[str, pd.DataFrame], **kwargs: object) -> EventTables:
    return EventTables(**frames, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ valid input
def test_valid_tables_are_normalised_without_losing_rows(tiny_frames):
    t = build(tiny_frames, audit_attributes=["gender"])
    assert len(t.students) == 3 and len(t.events) == 5 and len(t.outcomes) == 1
    assert t.time_kind == "datetime"
    assert t.events["family"].dtype.name == "category"
    assert t.events["kind"].dtype.name == "category"
    assert t.events["value"].dtype == np.float64
    assert t.events["time"].dtype == "datetime64[ns]"
    assert (t.events["known_at"] == t.events["time"]).all()
    assert t.outcomes["outcome"].dtype.name == "category"
    assert t.audit_attributes == ("gender",)
    assert t.static_attributes == ["cohort"]
    assert t.report.duplicate_events == 0
    # values arrive unchanged, in order
    assert t.events["value"].tolist() == [1.0, 0.0, 71.0, 48.0, 1.0]
    assert t.events["student_id"].tolist() == ["ana", "ana", "ben", "ben", "cai"]


def test_input_frames_are_not_modified(tiny_frames):
    before = {k: v.copy(deep=True) for k, v in tiny_frames.items()}
    build(tiny_frames)
    for k in before:
        pd.testing.assert_frame_equal(tiny_frames[k], before[k])


def test_student_codes_point_at_student_rows(tiny_frames):
    t = build(tiny_frames)
    codes = t.student_codes()
    assert codes.tolist() == [0, 0, 1, 1, 2]
    assert (t.students["student_id"].to_numpy()[codes] == t.events["student_id"].to_numpy()).all()


def test_float_days_tables_and_time_origin():
    students = pd.DataFrame({"student_id": [1, 2]})
    events = pd.DataFrame(
        {"student_id": [1, 2], "time": [0.5, 3], "family": "academic", "kind": "quiz",
         "value": [3, 4]}
    )
    t = EventTables(students=students, events=events, time_origin="2024-09-01")
    assert t.time_kind == "float"
    assert t.events["time"].dtype == np.float64
    assert t.time_origin == pd.Timestamp("2024-09-01")
    assert t.to_days(t.events["time"]).tolist() == [0.5, 3.0]


def test_to_days_datetime_and_nat():
    s = pd.Series(pd.to_datetime(["1970-01-01 00:00", None, "1970-01-03 06:00"]))
    out = to_days(s, "datetime")
    assert out[0] == 0.0 and np.isnan(out[1]) and out[2] == 2.25


def test_known_at_defaults_to_time_and_empty_known_at_is_filled(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["known_at"] = [ev["time"][0] + pd.Timedelta(days=3), pd.NaT, pd.NaT, pd.NaT, pd.NaT]
    t = build({**tiny_frames, "events": ev})
    assert t.events["known_at"][0] == ev["time"][0] + pd.Timedelta(days=3)
    assert (t.events["known_at"][1:] == t.events["time"][1:]).all()
    assert t.report.known_at_filled == 4
    assert "known_at" in " ".join(t.report.notes)


def test_numeric_text_in_value_is_converted_losslessly(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["value"] = ["1", "0.5", "71", None, "1e2"]
    t = build({**tiny_frames, "events": ev})
    assert t.events["value"].tolist()[:3] == [1.0, 0.5, 71.0]
    assert np.isnan(t.events["value"][3]) and t.events["value"][4] == 100.0


def test_aware_times_become_naive_utc_and_zone_is_reported(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["time"] = ev["time"].dt.tz_localize("Europe/London")
    oc = tiny_frames["outcomes"].copy()
    oc["time"] = oc["time"].dt.tz_localize("Europe/London")
    t = build({**tiny_frames, "events": ev, "outcomes": oc})
    assert t.report.timezone == "Europe/London"
    # 09:00 London summer time is 08:00 UTC
    assert t.events["time"][0] == pd.Timestamp("2024-09-02 08:00")
    assert t.events["time"].dtype == "datetime64[ns]"


def test_iso_text_times_are_parsed(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["time"] = ev["time"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    t = build({**tiny_frames, "events": ev})
    assert t.events["time"][3] == pd.Timestamp("2024-09-20 12:30")


def test_python_datetimes_are_accepted(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["time"] = [dt.datetime(2024, 9, d) for d in (2, 3, 4, 5, 6)]
    ev["time"] = ev["time"].astype(object)
    t = build({**tiny_frames, "events": ev})
    assert t.events["time"].dtype == "datetime64[ns]"


def test_exact_duplicate_events_are_kept_counted_and_reported(tiny_frames):
    ev = pd.concat([tiny_frames["events"], tiny_frames["events"].iloc[[2, 2]]], ignore_index=True)
    t = build({**tiny_frames, "events": ev})
    assert len(t.events) == 7  # kept
    assert t.report.duplicate_events == 2  # counted
    assert "assessment_score" in t.report.duplicate_examples  # reported


def test_duplicate_check_can_be_switched_off(tiny_frames):
    t = build(tiny_frames, check_duplicates=False)
    assert t.report.duplicate_events is None


def test_empty_tables_are_valid():
    t = EventTables(students=pd.DataFrame({"student_id": pd.Series([], dtype="int64")}))
    assert len(t.students) == len(t.events) == len(t.outcomes) == 0
    assert t.time_kind == "datetime"
    assert list(t.events.columns)[:6] == ["student_id", "time", "known_at", "family", "kind",
                                          "value"]
    assert t.describe().empty


def test_students_without_events_are_valid(tiny_frames):
    st_ = pd.concat(
        [tiny_frames["students"], pd.DataFrame({"student_id": ["dee"], "cohort": ["2024"],
                                                "gender": ["M"]})],
        ignore_index=True,
    )
    t = build({**tiny_frames, "students": st_})
    assert len(t.students) == 4


@pytest.mark.parametrize("backend", ["nullable", "pyarrow"])
def test_nullable_and_pyarrow_dtypes_are_accepted(tiny_frames, backend):
    frames = {k: v.convert_dtypes(dtype_backend="numpy_nullable" if backend == "nullable"
                                  else "pyarrow") for k, v in tiny_frames.items()}
    frames["events"]["value"] = frames["events"]["value"].astype(
        "Float64" if backend == "nullable" else "double[pyarrow]"
    )
    frames["events"].loc[1, "value"] = None
    t = build(frames, audit_attributes=["gender"])
    ref = build(tiny_frames, audit_attributes=["gender"])
    assert t.events["value"].dtype == np.float64
    assert np.isnan(t.events["value"][1])
    assert t.events["time"].dtype == "datetime64[ns]"
    assert (t.events["time"] == ref.events["time"]).all()
    assert t.events["family"].tolist() == ref.events["family"].tolist()
    assert t.student_codes().tolist() == ref.student_codes().tolist()


def test_nullable_integer_ids_are_accepted():
    students = pd.DataFrame({"student_id": pd.array([10, 11], dtype="Int64")})
    events = pd.DataFrame(
        {"student_id": pd.array([11], dtype="Int64"), "time": [1.0], "family": ["academic"],
         "kind": ["quiz"], "value": pd.array([7], dtype="Int64")}
    )
    t = EventTables(students=students, events=events)
    assert t.students["student_id"].dtype == np.int64
    assert t.events["value"].tolist() == [7.0]


def test_fingerprint_changes_with_content(tiny_frames):
    a = build(tiny_frames)
    ev = tiny_frames["events"].copy()
    ev.loc[0, "value"] = 0.5
    b = build({**tiny_frames, "events": ev})
    assert a.fingerprint()["events"] != b.fingerprint()["events"]
    assert a.fingerprint()["students"] == b.fingerprint()["students"]
    assert a == build(tiny_frames)
    assert frame_fingerprint(a.events) == a.fingerprint()["events"]


def test_select_keeps_only_the_chosen_students(tiny_frames):
    t = build(tiny_frames).select(["ben"])
    assert t.students["student_id"].tolist() == ["ben"]
    assert t.events["student_id"].unique().tolist() == ["ben"]
    assert len(t.outcomes) == 1
    assert t.student_codes().tolist() == [0, 0]
    with pytest.raises(SchemaError, match="unknown identifiers 'zed'"):
        build(tiny_frames).select(["zed"])


def test_describe_counts_events_per_kind(tiny_frames):
    d = build(tiny_frames).describe()
    assert d.loc[("behavioral", "class_attendance"), "events"] == 2
    assert d.loc[("academic", "assessment_score"), "students"] == 1


def test_repr_names_the_sizes(tiny_frames):
    assert "events=5" in repr(build(tiny_frames))


# ---------------------------------------------------------------------------- bad-input catalogue
def _events_with(tiny_frames, **cols):
    ev = tiny_frames["events"].copy()
    for k, v in cols.items():
        ev[k] = v
    return {**tiny_frames, "events": ev}


def test_missing_required_column_names_it_and_suggests_a_rename(tiny_frames):
    ev = tiny_frames["events"].rename(columns={"value": "valeu"})
    with pytest.raises(SchemaError) as info:
        build({**tiny_frames, "events": ev})
    err = info.value
    assert (err.table, err.column, err.rule) == ("events", "value", "required-column")
    assert "rename 'valeu' to 'value'" in str(err)


@pytest.mark.parametrize("table", ["students", "outcomes"])
def test_missing_required_column_in_other_tables(tiny_frames, table):
    frames = dict(tiny_frames)
    frames[table] = frames[table].drop(columns=["student_id"])
    with pytest.raises(SchemaError, match=rf"^{table}\.student_id \[required-column\]"):
        build(frames)


def test_text_in_value_is_refused_with_the_offending_rows(tiny_frames):
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, value=["1", "absent", 71, "n/a", 1]))
    err = info.value
    assert (err.table, err.column, err.rule, err.n_bad) == ("events", "value", "numeric", 2)
    text = str(err)
    assert "'absent'" in text and "'n/a'" in text
    assert "offending rows (2 in all" in text
    assert "what to do:" in text


def test_at_most_five_offending_rows_are_shown(tiny_frames):
    ev = pd.concat([tiny_frames["events"]] * 4, ignore_index=True)
    ev["value"] = "x"
    with pytest.raises(SchemaError) as info:
        build({**tiny_frames, "events": ev})
    assert info.value.n_bad == 20
    assert info.value.rows is not None
    assert len(info.value.rows.splitlines()) == 1 + 5  # header + five rows


def test_infinite_value_is_refused(tiny_frames):
    with pytest.raises(SchemaError, match=r"events\.value \[finite\]"):
        build(_events_with(tiny_frames, value=[1.0, np.inf, 2.0, 3.0, 4.0]))


def test_non_positive_max_value_is_refused(tiny_frames):
    with pytest.raises(SchemaError, match=r"events\.max_value \[positive\]"):
        build(_events_with(tiny_frames, max_value=[100.0, 0.0, 100.0, np.nan, 100.0]))


def test_unparseable_time_is_refused(tiny_frames):
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, time=["2024-09-02", "2024-09-31", "2024-10-01", "soon",
                                              "2024-10-02"]))
    err = info.value
    assert (err.column, err.rule, err.n_bad) == ("time", "parseable-time", 2)
    assert "'2024-09-31'" in str(err) and "'soon'" in str(err)


def test_empty_time_is_refused(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev.loc[3, "time"] = pd.NaT
    with pytest.raises(SchemaError, match=r"events\.time \[not-null\]"):
        build({**tiny_frames, "events": ev})


def test_null_student_id_is_refused(tiny_frames):
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, student_id=["ana", None, "ben", "ben", "cai"]))
    assert (info.value.table, info.value.column, info.value.rule) == (
        "events", "student_id", "not-null")


def test_null_student_id_in_students_is_refused(tiny_frames):
    st_ = tiny_frames["students"].copy()
    st_.loc[1, "student_id"] = None
    with pytest.raises(SchemaError, match=r"students\.student_id \[not-null\]"):
        build({**tiny_frames, "students": st_})


def test_unknown_family_is_refused_with_a_suggestion(tiny_frames):
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, family=["behavioural", "behavioral", "academic",
                                                "academic", "sport"]))
    err = info.value
    assert (err.column, err.rule, err.n_bad) == ("family", "allowed-values", 2)
    assert "'behavioural' -> 'behavioral'" in str(err)
    assert all(f in str(err) for f in FAMILIES)


def test_known_at_before_time_is_refused(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["known_at"] = ev["time"] - pd.Timedelta(hours=1)
    with pytest.raises(SchemaError) as info:
        build({**tiny_frames, "events": ev})
    assert (info.value.column, info.value.rule, info.value.n_bad) == (
        "known_at", "known-after-time", 5)
    assert "swapped" in str(info.value)


def test_aware_mixed_with_naive_in_one_column_is_refused(tiny_frames):
    times = list(tiny_frames["events"]["time"])
    times[1] = times[1].tz_localize("UTC")
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, time=pd.Series(times, dtype=object)))
    assert (info.value.column, info.value.rule, info.value.n_bad) == ("time", "timezone-mix", 1)


def test_aware_mixed_with_naive_text_is_refused(tiny_frames):
    texts = ["2024-09-02 09:00", "2024-09-02 09:00+02:00", "2024-09-03", "2024-09-04",
             "2024-09-05"]
    with pytest.raises(SchemaError, match=r"events\.time \[timezone-mix\]"):
        build(_events_with(tiny_frames, time=texts))


def test_aware_mixed_with_naive_across_tables_is_refused(tiny_frames):
    oc = tiny_frames["outcomes"].copy()
    oc["time"] = oc["time"].dt.tz_localize("UTC")
    with pytest.raises(SchemaError, match=r"timezone-aware and naive times cannot be mixed"):
        build({**tiny_frames, "outcomes": oc})


def test_float_days_mixed_with_datetimes_is_refused(tiny_frames):
    oc = tiny_frames["outcomes"].copy()
    oc["time"] = [40.0]
    with pytest.raises(SchemaError, match=r"outcomes\.time \[time-kind\]"):
        build({**tiny_frames, "outcomes": oc})


def test_events_for_unknown_students_are_refused(tiny_frames):
    with pytest.raises(SchemaError) as info:
        build(_events_with(tiny_frames, student_id=["ana", "ana", "zed", "ben", "yan"]))
    err = info.value
    assert (err.table, err.column, err.rule, err.n_bad) == ("events", "student_id",
                                                            "membership", 2)
    assert "'zed'" in str(err) and "never dropped" in str(err)


def test_outcomes_for_unknown_students_are_refused(tiny_frames):
    oc = tiny_frames["outcomes"].assign(student_id=["zed"])
    with pytest.raises(SchemaError, match=r"outcomes\.student_id \[membership\]"):
        build({**tiny_frames, "outcomes": oc})


def test_id_type_mismatch_between_tables_is_refused():
    students = pd.DataFrame({"student_id": [1, 2]})
    events = pd.DataFrame({"student_id": ["1"], "time": [1.0], "family": ["academic"],
                           "kind": ["quiz"], "value": [1.0]})
    with pytest.raises(SchemaError, match=r"same type in every table"):
        EventTables(students=students, events=events)


def test_mixed_id_types_in_one_column_are_refused():
    students = pd.DataFrame({"student_id": pd.Series(["a", 2], dtype=object)})
    with pytest.raises(SchemaError, match=r"all integers or all strings"):
        EventTables(students=students)


def test_duplicate_student_id_is_refused(tiny_frames):
    st_ = tiny_frames["students"].copy()
    st_.loc[2, "student_id"] = "ana"
    with pytest.raises(SchemaError) as info:
        build({**tiny_frames, "students": st_})
    assert (info.value.table, info.value.rule, info.value.n_bad) == ("students", "unique", 2)
    assert "per enrolment" in str(info.value)


def test_empty_outcome_is_refused(tiny_frames):
    oc = tiny_frames["outcomes"].assign(outcome=[None])
    with pytest.raises(SchemaError, match=r"outcomes\.outcome \[not-null\]"):
        build({**tiny_frames, "outcomes": oc})


def test_non_text_kind_is_refused(tiny_frames):
    with pytest.raises(SchemaError, match=r"events\.kind \[text\]"):
        build(_events_with(tiny_frames, kind=[1, 2, 3, 4, 5]))


def test_not_a_dataframe_is_refused(tiny_frames):
    with pytest.raises(SchemaError, match=r"must be a pandas DataFrame"):
        EventTables(students={"student_id": [1]})  # type: ignore[arg-type]


def test_repeated_column_names_are_refused(tiny_frames):
    st_ = tiny_frames["students"].copy()
    st_.columns = ["student_id", "cohort", "cohort"]
    with pytest.raises(SchemaError, match=r"column names must be unique"):
        build({**tiny_frames, "students": st_})


def test_unknown_audit_attribute_is_refused(tiny_frames):
    with pytest.raises(SchemaError, match=r"students\.disability \[audit-attribute\]"):
        build(tiny_frames, audit_attributes=["disability"])


def test_audit_attributes_as_a_string_is_a_config_error(tiny_frames):
    with pytest.raises(ConfigError, match=r"audit_attributes=\['gender'\]"):
        build(tiny_frames, audit_attributes="gender")


def test_time_origin_with_datetimes_is_a_config_error(tiny_frames):
    with pytest.raises(ConfigError, match=r"time_origin applies only"):
        build(tiny_frames, time_origin="2024-01-01")


# ------------------------------------------------------------------------------------- fuzz test
_cells = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["academic", "behavioral", "participation", "wellbeing", "ana", "ben",
                     "2024-09-01", "2024-13-01", "2024-09-01T10:00+02:00"]),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1),
                 timezones=st.just(dt.UTC)),
    st.booleans(),
)


@st.composite
def malformed_frame(draw: st.DrawFn, columns: tuple[str, ...]) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    cols = draw(st.lists(st.sampled_from([*columns, "extra", "known_at", "max_value"]),
                         unique=True, max_size=len(columns) + 2))
    if draw(st.booleans()):
        cols = list(dict.fromkeys([*columns, *cols]))
    data = {c: draw(st.lists(_cells, min_size=n, max_size=n)) for c in cols}
    frame = pd.DataFrame(data, columns=cols)
    for c in cols:  # sometimes give a column a proper dtype
        if draw(st.booleans()):
            try:
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
            except (TypeError, ValueError):
                pass
    return frame


@given(
    students=malformed_frame(("student_id",)),
    events=malformed_frame(("student_id", "time", "family", "kind", "value")),
    outcomes=malformed_frame(("student_id", "time", "outcome")),
)
def test_fuzz_only_valid_tables_or_typed_errors_come_out(students, events, outcomes):
    try:
        t = EventTables(students=students, events=events, outcomes=outcomes)
    except StudentProfileError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event(f"accepted with {min(len(events), 1)}+ events")
    # a valid result keeps every row and honours the contract
    assert len(t.students) == len(students)
    assert len(t.events) == len(events)
    assert len(t.outcomes) == len(outcomes)
    assert set(t.events["family"].astype(str)) <= set(FAMILIES)
    assert t.events["value"].dtype == np.float64
    assert not np.isinf(t.events["value"]).any()
    assert (t.events["known_at"] >= t.events["time"]).all()
    assert t.events["student_id"].isin(t.students["student_id"]).all()
    assert t.students["student_id"].is_unique


@st.composite
def corrupted_tables(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Valid tables with a few random corruptions: cells, columns, dtypes, extra rows."""
    n_st = draw(st.integers(1, 4))
    ids = [f"s{i}" for i in range(n_st)]
    n_ev = draw(st.integers(0, 8))
    base = pd.Timestamp("2024-09-01")
    events = pd.DataFrame(
        {
            "student_id": draw(st.lists(st.sampled_from(ids), min_size=n_ev, max_size=n_ev)),
            "time": pd.Series([base + pd.Timedelta(hours=h) for h in
                               draw(st.lists(st.integers(0, 2000), min_size=n_ev,
                                             max_size=n_ev))], dtype="datetime64[ns]"),
            "family": draw(st.lists(st.sampled_from(FAMILIES), min_size=n_ev, max_size=n_ev)),
            "kind": draw(st.lists(st.sampled_from(["quiz", "swipe"]), min_size=n_ev,
                                  max_size=n_ev)),
            "value": draw(st.lists(st.floats(-5, 5) | st.just(np.nan), min_size=n_ev,
                                   max_size=n_ev)),
        }
    )
    if draw(st.booleans()):
        events["known_at"] = events["time"] + pd.Timedelta(days=1)
    frames = {
        "students": pd.DataFrame({"student_id": ids, "grp": ["a"] * n_st}),
        "events": events,
        "outcomes": pd.DataFrame({"student_id": ids[:1], "time": [base + pd.Timedelta(days=9)],
                                  "outcome": ["withdrawn"]}),
    }
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(frames)))
        frame = frames[name]
        if frame.empty or not len(frame.columns):
            continue
        col = draw(st.sampled_from(list(frame.columns)))
        action = draw(st.sampled_from(["cell", "drop", "object", "arrow", "tz"]))
        if action == "cell":
            row = draw(st.integers(0, len(frame) - 1))
            frame[col] = frame[col].astype(object)
            frame.iat[row, frame.columns.get_loc(col)] = draw(_cells)
        elif action == "drop":
            frames[name] = frame.drop(columns=[col])
        elif action == "object":
            frame[col] = frame[col].astype(object)
        elif action == "arrow":
            try:
                frames[name] = frame.convert_dtypes(dtype_backend="pyarrow")
            except (TypeError, ValueError):
                pass
        elif action == "tz" and frame[col].dtype == "datetime64[ns]":
            frame[col] = frame[col].dt.tz_localize("UTC")
    return frames


@given(frames=corrupted_tables())
def test_fuzz_corrupted_valid_tables(frames):
    sizes = {k: len(v) for k, v in frames.items()}
    try:
        t = EventTables(**frames)
    except StudentProfileError as exc:
        event(f"refused: {getattr(exc, 'rule', None)}")
        return
    event("accepted")
    assert (len(t.students), len(t.events), len(t.outcomes)) == (
        sizes["students"], sizes["events"], sizes["outcomes"])
    assert (t.events["known_at"] >= t.events["time"]).all()
    assert t.events["value"].dtype == np.float64
    assert t.events["student_id"].isin(t.students["student_id"]).all()


def test_time_kind_can_be_declared_for_empty_tables():
    t = EventTables(students=pd.DataFrame({"student_id": [1]}), time_kind="float")
    assert t.time_kind == "float" and t.events["time"].dtype == np.float64


def test_declared_time_kind_must_match_the_data(tiny_frames):
    with pytest.raises(SchemaError, match=r"time_kind='float' was declared"):
        build(tiny_frames, time_kind="float")
    with pytest.raises(ConfigError, match=r"time_kind must be 'datetime' or 'float'"):
        build(tiny_frames, time_kind="days")


def test_known_before_keeps_only_what_was_known(tiny_frames):
    ev = tiny_frames["events"].copy()
    ev["known_at"] = ev["time"] + pd.Timedelta(days=10)
    t = build({**tiny_frames, "events": ev})
    cut = pd.Timestamp("2024-09-19 09:00")
    past = t.known_before(cut)
    assert len(past.students) == 3
    # known 2024-09-12 09:00 (x2) and 2024-09-19 09:00 (not strictly before the cut)
    assert past.events["known_at"].max() < cut and len(past.events) == 2
    assert len(past.outcomes) == 0
    assert past.student_codes().tolist() == [0, 1]
    full = t.known_before("2030-01-01")
    assert len(full.events) == 5 and len(full.outcomes) == 1
    with pytest.raises(ConfigError, match="cut must be a date"):
        t.known_before("later")
