"""Learning-record readers: xAPI, IMS Caliper 1.2 and Moodle's standard log.

Fixtures are built from the specifications' own examples; each test cites the section it follows
(xAPI 1.0.3 Part Two "Data"; Caliper Analytics 1.2; Moodle's logstore_standard_log table).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.io import read_caliper, read_moodle_log, read_xapi
from studentprofile.tables import EventTables

ADL = "http://adlnet.gov/expapi/verbs/"

# xAPI 1.0.3, Appendix A, "Completion with Verb named 'attempted'" (scaled score, no stored).
ATTEMPTED = {
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    "timestamp": "2015-12-18T12:17:00+00:00",
    "actor": {"objectType": "Agent", "name": "Example Learner",
              "mbox": "mailto:example.learner@adlnet.gov"},
    "verb": {"id": ADL + "attempted", "display": {"en-US": "attempted"}},
    "object": {"id": "http://example.adlnet.gov/xapi/example/simpleCBT",
               "definition": {"name": {"en-US": "simple CBT course"}}},
    "result": {"score": {"scaled": 0.95}, "success": True, "completion": True,
               "duration": "PT1234S"},
}

# xAPI 1.0.3, Appendix A, the long example: the actor is a Group (Team PB), with context
# activities, timestamp and stored set by the LRS.
TEAM_MEETING = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"name": "Team PB", "mbox": "mailto:teampb@example.com", "objectType": "Group",
              "member": [{"name": "Andrew Downes", "objectType": "Agent",
                          "account": {"homePage": "http://www.example.com", "name": "13936749"}}]},
    "verb": {"id": ADL + "attended", "display": {"en-US": "attended"}},
    "context": {"contextActivities": {
        "parent": [{"id": "http://www.example.com/meetings/series/267", "objectType": "Activity"}],
    }},
    "timestamp": "2013-05-18T05:32:34.804+00:00",
    "stored": "2013-05-18T05:32:34.804+00:00",
    "object": {"id": "http://www.example.com/meetings/occurances/34534", "objectType": "Activity"},
}


def statement(sid: str, *, who: str = "13936749", verb: str = "completed", **extra):
    """An Agent identified by an account (2.4.2.3), with timestamp and stored (2.4.7, 2.4.8)."""
    out = {
        "id": sid,
        "actor": {"objectType": "Agent",
                  "account": {"homePage": "https://lms.example.edu", "name": who}},
        "verb": {"id": ADL + verb},
        "object": {"id": "https://lms.example.edu/quiz/1", "objectType": "Activity"},
        "timestamp": "2024-03-01T10:00:00Z",
        "stored": "2024-03-01T10:05:00Z",
    }
    out.update(extra)
    return out


# ----------------------------------------------------------------------------------- xAPI
def test_xapi_appendix_a_attempted_statement():
    """Appendix A: mbox without mailto: is the student; scaled score (2.4.5.1) is the value."""
    got = read_xapi([ATTEMPTED])
    row = got.events.iloc[0]
    assert row["student_id"] == "example.learner@adlnet.gov"
    assert (row["family"], row["kind"]) == ("behavioral", "xapi_attempted")
    assert row["value"] == 0.95 and row["max_value"] == 1.0
    assert row["time"] == pd.Timestamp("2015-12-18 12:17:00")
    # no "stored" in a statement not yet stored by an LRS: known when it happened, and noted
    assert row["known_at"] == row["time"]
    assert got.report.notes == {"stored missing: known when it happened": 1}
    assert row["record_id"] == ATTEMPTED["id"]
    assert row["object_id"] == "http://example.adlnet.gov/xapi/example/simpleCBT"


def test_xapi_group_actor_is_rejected_not_dropped():
    """Appendix A long example: a Group is not a student (2.4.2.2); counted under a rule."""
    got = read_xapi([TEAM_MEETING, ATTEMPTED])
    assert len(got.events) == 1
    assert got.report.rejected == {"actor-is-group": 1}
    assert got.report.examples["actor-is-group"] == [TEAM_MEETING["id"]]


def test_xapi_timestamp_is_time_and_stored_is_known_at():
    """2.4.7 timestamp -> time, 2.4.8 stored -> known_at; zones are converted to UTC."""
    late = statement("a", timestamp="2024-03-01T12:00:00+02:00", stored="2024-03-08T09:00:00Z")
    got = read_xapi([late])
    row = got.events.iloc[0]
    assert row["time"] == pd.Timestamp("2024-03-01 10:00:00")
    assert row["known_at"] == pd.Timestamp("2024-03-08 09:00:00")


def test_xapi_missing_timestamp_takes_stored_and_clock_skew_is_noted():
    """2.4.7: an LRS sets a missing timestamp to stored; stored before timestamp is noted."""
    no_ts = statement("a")
    del no_ts["timestamp"]
    skew = statement("b", timestamp="2024-03-01T10:10:00Z", stored="2024-03-01T10:05:00Z")
    got = read_xapi([no_ts, skew])
    a, b = got.events.set_index("record_id").loc[["a", "b"]].itertuples()
    assert a.time == a.known_at == pd.Timestamp("2024-03-01 10:05:00")
    assert b.time == b.known_at == pd.Timestamp("2024-03-01 10:10:00")
    assert got.report.notes == {"stored before timestamp: known when it happened": 1}


@pytest.mark.parametrize("voiding_first", [False, True])
def test_xapi_voided_statements_are_honoured(voiding_first):
    """2.3.2 Voiding: the voided statement and the voiding one carry no event, in any order."""
    target = statement("e0d8f5b6-0000-4000-8000-000000000001")
    voiding = {
        "id": "e0d8f5b6-0000-4000-8000-000000000002",
        "actor": {"mbox": "mailto:admin@example.edu"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target["id"].upper()},
        "timestamp": "2024-03-02T00:00:00Z",
    }
    other = statement("e0d8f5b6-0000-4000-8000-000000000003")
    records = [voiding, target, other] if voiding_first else [target, other, voiding]
    got = read_xapi(records)
    assert got.events["record_id"].tolist() == [other["id"]]
    assert (got.report.voided, got.report.voiding) == (1, 1)


def test_xapi_malformed_statements_are_counted_per_rule():
    good = statement("ok")
    no_actor = statement("no-actor")
    del no_actor["actor"]
    bad_time = statement("bad-time", timestamp="yesterday")
    unknown = statement("unknown-verb")
    unknown["verb"] = {"id": "https://example.edu/verbs/daydreamed"}
    bad_score = statement("bad-score", result={"score": {"scaled": 1.5}})
    no_ifi = statement("no-ifi", actor={"objectType": "Agent", "name": "Just A Name"})
    far = statement("far", timestamp="2300-01-01T00:00:00Z")
    got = read_xapi([good, no_actor, bad_time, unknown, bad_score, no_ifi, far, good, 7])
    assert got.events["record_id"].tolist() == ["ok"]
    assert got.report.rejected == {
        "missing-actor": 1, "bad-timestamp": 2, "unknown-verb": 1, "bad-score": 1,
        "actor-without-identifier": 1, "duplicate-id": 1, "not-an-object": 1,
    }
    assert got.report.examples["bad-timestamp"] == ["bad-time", "far"]
    assert "rejected unknown-verb: 1 (e.g. unknown-verb)" in str(got.report)


def test_xapi_inputs_json_array_lrs_page_json_lines_and_files(tmp_path):
    records = [statement("a"), statement("b", who="000123")]
    as_array = read_xapi(json.dumps(records))
    as_page = read_xapi(json.dumps({"statements": records, "more": ""}).encode())
    lines = "\n".join(json.dumps(r) for r in records) + "\n{not json\n"
    path = tmp_path / "lrs-export.jsonl"
    path.write_text(lines, encoding="utf-8")
    as_file = read_xapi(path)
    for got in (as_array, as_page, as_file):
        # ids are text, exactly as the source gives them: the leading zeros stay
        assert got.events["student_id"].tolist() == ["13936749", "000123"]
    assert as_file.report.rejected == {"not-json": 1}
    assert as_file.report.examples["not-json"] == ["line 3"]
    with pytest.raises(ConfigError, match="no such file"):
        read_xapi(str(tmp_path / "missing.json"))


def test_xapi_actor_choice_pseudonyms_and_student_map():
    both = statement("a", actor={"objectType": "Agent", "mbox": "mailto:s1@example.edu",
                                 "account": {"homePage": "https://sis", "name": "S-1"}})
    assert read_xapi([both]).events["student_id"].tolist() == ["S-1"]
    assert read_xapi([both], actor_id="mbox").events["student_id"].tolist() == ["s1@example.edu"]
    hashed = read_xapi([both], hash_key=b"k" * 32).events["student_id"].iloc[0]
    assert len(hashed) == 32 and "S-1" not in hashed
    assert hashed == read_xapi([both], hash_key=b"k" * 32).events["student_id"].iloc[0]
    assert hashed != read_xapi([both], hash_key=b"j" * 32).events["student_id"].iloc[0]
    got = read_xapi([both, statement("b", who="stranger")], student_ids={"S-1": "0042"})
    assert got.events["student_id"].tolist() == ["0042"]
    assert got.report.rejected == {"unknown-actor": 1}
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        read_xapi([both], hash_key=b"short")


def test_xapi_course_from_context_activities():
    """2.4.6.2: grouping (the course) is preferred over parent (the lesson)."""
    ctx = {"contextActivities": {"parent": [{"id": "lesson-3"}], "grouping": [{"id": "MATH101"}]}}
    only_parent = {"contextActivities": {"parent": {"id": "lesson-3"}}}  # 1.0.0 single object
    got = read_xapi([statement("a", context=ctx), statement("b", context=only_parent),
                     statement("c")])
    assert got.events["course_id"].tolist()[:2] == ["MATH101", "lesson-3"]
    assert pd.isna(got.events["course_id"].iloc[2])
    assert read_xapi([statement("a", context=ctx)], course_from=("parent",)).events[
        "course_id"].tolist() == ["lesson-3"]


def test_xapi_verb_map_overrides_skips_and_unknown_kept():
    custom = statement("a")
    custom["verb"] = {"id": "https://campus.example/verbs/checked-in"}
    https_adl = statement("b")
    https_adl["verb"] = {"id": "https://adlnet.gov/expapi/verbs/passed"}
    got = read_xapi([custom, https_adl, statement("c", verb="launched")],
                    verbs={"https://campus.example/verbs/checked-in": ("behavioral", "checkin"),
                           ADL + "launched": None})
    assert got.events[["record_id", "family", "kind"]].values.tolist() == [
        ["a", "behavioral", "checkin"], ["b", "academic", "xapi_passed"]]
    assert got.report.skipped == {f"verb {ADL}launched": 1}
    kept = read_xapi([custom], unknown_verbs="keep")
    assert kept.events["kind"].tolist() == ["xapi_checked-in"]
    with pytest.raises(ConfigError, match="family must be one of"):
        read_xapi([custom], verbs={"x": ("social", "k")})


def test_xapi_raw_score_with_max_and_no_score():
    raw = statement("a", result={"score": {"raw": 7, "min": 0, "max": 10}})
    none = statement("b", result={"success": True})
    got = read_xapi([raw, none])
    assert got.events[["value", "max_value"]].values.tolist()[0] == [7.0, 10.0]
    assert got.events["value"].iloc[1] == 1.0 and np.isnan(got.events["max_value"].iloc[1])


def test_xapi_events_build_valid_tables():
    got = read_xapi([statement("a", who="000123"), statement("b", who="000456",
                                                             verb="passed")])
    tables = got.to_tables()
    assert isinstance(tables, EventTables)
    assert sorted(tables.students["student_id"]) == ["000123", "000456"]
    assert len(tables.events) == 2
    assert (tables.events["known_at"] >= tables.events["time"]).all()


def test_xapi_refuses_deep_json_with_a_typed_error():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_xapi(deep)


_kinds = st.sampled_from(["good", "no-actor", "bad-time", "unknown-verb", "group", "dup",
                          "void", "not-object"])


@settings(max_examples=40, deadline=None)
@given(st.lists(_kinds, max_size=25))
def test_xapi_every_record_is_accounted_for(kinds):
    """Nothing is dropped silently: events + voided + voiding + skipped + rejected = records."""
    records: list = []
    for i, kind in enumerate(kinds):
        s = statement(f"s{i}")
        if kind == "no-actor":
            del s["actor"]
        elif kind == "bad-time":
            s["timestamp"] = "not a time"
        elif kind == "unknown-verb":
            s["verb"] = {"id": "https://x/verbs/unknown"}
        elif kind == "group":
            s = copy.deepcopy(TEAM_MEETING) | {"id": f"s{i}"}
        elif kind == "dup" and records:
            s = copy.deepcopy(records[0])
        elif kind == "void":
            s = {"id": f"v{i}", "actor": {"mbox": "mailto:a@b"}, "verb": {"id": ADL + "voided"},
                 "object": {"objectType": "StatementRef", "id": f"s{max(i - 1, 0)}"}}
        elif kind == "not-object":
            s = [1, 2]
        records.append(s)
    got = read_xapi(records)
    r = got.report
    assert r.records == len(records)
    assert r.events == len(got.events)
    assert r.events + r.voided + r.voiding + sum(r.skipped.values()) + r.n_rejected == r.records


# -------------------------------------------------------------------------------- Caliper
# Caliper 1.2, B.6 GradeEvent (fixture caliperEventGradeGraded): the actor is the autograder.
GRADED = {
    "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "id": "urn:uuid:a50ca17f-5971-47bb-8fca-4e6e6879001d",
    "type": "GradeEvent", "profile": "GradingProfile",
    "actor": {"id": "https://example.edu/autograder", "type": "SoftwareApplication",
              "version": "v2"},
    "action": "Graded",
    "object": {"id": "https://example.edu/terms/201601/courses/7/sections/1/assess/1/users/"
                     "554433/attempts/1", "type": "Attempt",
               "assignee": {"id": "https://example.edu/users/554433", "type": "Person"},
               "assignable": {"id": "https://example.edu/terms/201601/courses/7/sections/1/"
                                    "assess/1", "type": "Assessment"}, "count": 1},
    "eventTime": "2016-11-15T10:57:06.000Z",
    "edApp": "https://example.edu",
    "generated": {"type": "Score", "maxScore": 15.0, "scoreGiven": 10.0,
                  "scoredBy": "https://example.edu/autograder"},
    "group": {"id": "https://example.edu/terms/201601/courses/7/sections/1",
              "type": "CourseSection", "courseNumber": "CPS 435-01"},
}

# Caliper 1.2, B.9 NavigationEvent, thinned (2.2: entities referenced by their IRI).
NAVIGATED_THIN = {
    "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "id": "urn:uuid:71657137-8e6e-44f8-8499-e1c3df6810d2",
    "type": "NavigationEvent", "profile": "ReadingProfile",
    "actor": "https://example.edu/users/554433", "action": "NavigatedTo",
    "object": "https://example.edu/terms/201601/courses/7/sections/1/pages/2",
    "eventTime": "2016-11-15T10:15:00.000Z",
    "group": "https://example.edu/terms/201601/courses/7/sections/1",
}


def test_caliper_grade_event_student_is_the_assignee():
    """B.6 GradeEvent: scoreGiven/maxScore of the generated Score (C.40); group -> course."""
    got = read_caliper([GRADED])
    row = got.events.iloc[0]
    assert row["student_id"] == "https://example.edu/users/554433"
    assert (row["family"], row["kind"]) == ("academic", "caliper_grade_graded")
    assert (row["value"], row["max_value"]) == (10.0, 15.0)
    assert row["course_id"] == "https://example.edu/terms/201601/courses/7/sections/1"
    assert row["time"] == row["known_at"] == pd.Timestamp("2016-11-15 10:57:06")


def test_caliper_envelope_send_time_is_known_at_and_thinned_entities():
    """5.2 Envelope: sendTime is when the events left the sensor; thinned actor (2.2)."""
    envelope = {"sensor": "https://example.edu/sensors/1", "sendTime": "2016-11-15T11:05:01.000Z",
                "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
                "data": [NAVIGATED_THIN, GRADED]}
    got = read_caliper(envelope)
    nav = got.events.iloc[0]
    assert nav["student_id"] == "https://example.edu/users/554433"
    assert nav["kind"] == "caliper_navigation_navigated_to" and nav["family"] == "behavioral"
    assert nav["known_at"] == pd.Timestamp("2016-11-15 11:05:01")
    assert got.events["known_at"].tolist() == [pd.Timestamp("2016-11-15 11:05:01")] * 2
    # a list of envelopes reads the same
    again = read_caliper(json.dumps([envelope]))
    pd.testing.assert_frame_equal(again.events, got.events)


def test_caliper_malformed_events_are_counted():
    robot = dict(NAVIGATED_THIN, id="r",
                 actor={"id": "https://x/bot", "type": "SoftwareApplication"})
    no_time = dict(NAVIGATED_THIN, id="t")
    del no_time["eventTime"]
    bad_score = copy.deepcopy(GRADED) | {"id": "s"}
    bad_score["generated"]["scoreGiven"] = "ten"
    no_assignee = copy.deepcopy(GRADED) | {"id": "a"}
    del no_assignee["object"]["assignee"]
    got = read_caliper([robot, no_time, bad_score, no_assignee, NAVIGATED_THIN])
    assert len(got.events) == 1
    assert got.report.rejected == {"actor-not-a-person": 1, "missing-eventTime": 1,
                                   "bad-score": 1, "graded-without-assignee": 1}


def test_caliper_action_overrides():
    got = read_caliper([NAVIGATED_THIN, GRADED],
                       actions={"NavigationEvent.NavigatedTo": ("behavioral", "page_view"),
                                "Graded": None})
    assert got.events["kind"].tolist() == ["page_view"]
    assert got.report.skipped == {"action GradeEvent.Graded": 1}


# --------------------------------------------------------------------------------- Moodle
def _moodle_log() -> pd.DataFrame:
    """Rows shaped as mdl_logstore_standard_log (Moodle 4.x) exports them."""
    return pd.DataFrame({
        "id": [101, 102, 103, 104, 105, 106, 107, 108],
        "eventname": [r"\core\event\course_viewed", r"\mod_quiz\event\attempt_submitted",
                      r"\mod_forum\event\post_created", r"\core\event\course_viewed",
                      r"\core\event\course_viewed", r"\core\event\course_viewed",
                      r"\core\event\user_loggedin", None],
        "component": ["core", "mod_quiz", "mod_forum", "core", "core", "core", "core", "core"],
        "edulevel": [2, 2, 2, 1, 2, 2, 0, 2],
        "anonymous": [0, 0, 0, 0, 1, 0, 0, 0],
        "realuserid": [None, None, None, None, None, 2.0, None, None],
        "userid": ["0042", "0042", "0042", "7", "0042", "0042", "0042", "0042"],
        "courseid": [12, 12, 12, 12, 12, 12, 1, 12],
        "timecreated": [1700000000, 1700003600, 1700007200, 1700000000, 1700000000,
                        1700000000, 1700000000, 1700000000],
    })


def test_moodle_log_maps_and_accounts_for_every_row():
    got = read_moodle_log(_moodle_log())
    assert got.events[["student_id", "family", "kind"]].values.tolist() == [
        ["0042", "behavioral", "moodle_core_course_viewed"],
        ["0042", "academic", "moodle_mod_quiz_attempt_submitted"],
        ["0042", "participation", "moodle_mod_forum_post_created"],
    ]
    assert got.events["time"].tolist()[0] == pd.Timestamp("2023-11-14 22:13:20")
    assert (got.events["known_at"] == got.events["time"]).all()
    assert got.events["course_id"].tolist() == ["12", "12", "12"]
    r = got.report
    assert r.skipped == {"edulevel not in (2,)": 2, "anonymous": 1,
                         "done by another user logged in as the student": 1}
    assert r.rejected == {"bad-eventname": 1}
    assert r.events + sum(r.skipped.values()) + r.n_rejected == r.records == 8


def test_moodle_log_bad_rows_and_missing_columns():
    log = _moodle_log().iloc[:3].copy()
    log["userid"] = [0, "abc", 1.5]
    log["timecreated"] = ["1700000000", 1700000000, 1e20]
    got = read_moodle_log(log)
    assert got.events.empty
    assert got.report.skipped == {"not logged in (userid 0)": 1}
    assert got.report.rejected == {"bad-userid": 2}
    with pytest.raises(SchemaError, match="timecreated"):
        read_moodle_log(_moodle_log().drop(columns="timecreated"))
    teachers = read_moodle_log(_moodle_log(), edulevels=(1, 2))
    assert "7" in teachers.events["student_id"].tolist()
