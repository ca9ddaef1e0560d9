"""OULAD as EventTables: published counts, mapping rules checked by hand on named real rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studentprofile.datasets import list_datasets, load_oulad, presentation_start
from studentprofile.errors import ConfigError

T = pd.Timestamp
SUM_CLICK = 20_298  # total sum_click of sample_studentVLE.csv


@pytest.fixture(scope="module")
def oulad():
    return load_oulad()


def rows(tables, student_id, kind=None):
    ev = tables.events
    sel = ev[ev["student_id"] == student_id]
    if kind is not None:
        sel = sel[sel["kind"] == kind]
    return sel.sort_values(["time", "kind"]).reset_index(drop=True)


# --------------------------------------------------------------------------- published counts
def test_published_counts(oulad):
    assert len(oulad.students) == 32_593
    assert oulad.students["person_id"].nunique() == 28_785
    scores = oulad.events["kind"].isin(["tma_score", "cma_score", "exam_score"])
    assert int(scores.sum()) == 173_912
    assert int(oulad.events["value"][scores].isna().sum()) == 173
    assert oulad.outcomes["outcome"].value_counts().to_dict() == {
        "pass": 12_361,
        "withdrawn": 10_156,
        "fail": 7_052,
        "distinction": 3_024,
    }
    assert len(oulad.outcomes) == 32_593  # exactly one final result per enrolment
    assert oulad.outcomes["student_id"].is_unique
    assert int((oulad.events["kind"] == "lms_click").sum()) == 5_000
    assert int((oulad.events["kind"] == "registration").sum()) == 32_593 - 45
    assert oulad.students["code_presentation"].nunique() == 4
    assert oulad.students.groupby(["code_module", "code_presentation"], observed=True).ngroups == 22


def test_kinds_families_and_audit_attributes(oulad):
    fam = oulad.events.groupby("kind", observed=True)["family"].unique()
    assert {k: list(v) for k, v in fam.items()} == {
        "assessment_missed": ["academic"],
        "cma_score": ["academic"],
        "exam_score": ["academic"],
        "registration": ["academic"],
        "tma_score": ["academic"],
        "lms_click": ["behavioral"],
    }
    assert oulad.audit_attributes == ("gender", "disability", "imd_band", "age_band", "region")
    assert "final_result" not in oulad.students.columns  # an outcome, never a student column
    assert {"num_of_prev_attempts", "studied_credits", "highest_education"} <= set(
        oulad.static_attributes
    )
    assert oulad.time_kind == "datetime"
    assert (oulad.events["known_at"] >= oulad.events["time"]).all()


def test_metadata(oulad):
    md = oulad.metadata
    assert md["licence"] == "CC BY 4.0"
    assert "Kuzilek" in md["citation"] and "10.1038/sdata.2017.171" in md["citation"]
    assert md["presentation_starts"] == {
        "2013B": "2013-02-02",
        "2013J": "2013-10-05",
        "2014B": "2014-02-01",
        "2014J": "2014-10-04",
    }
    assert md["counts"]["withdrawn_without_unregistration_date"] == 93
    assert md["counts"]["unregistration_date_ignored"] == 9
    assert md["counts"]["banked"] == 1_909


# ------------------------------------------------------------------------------ named students
def test_student_11391_aaa_2013j_by_hand(oulad):
    st = oulad.students.set_index("student_id").loc["AAA/2013J/11391"]
    assert st["person_id"] == 11391
    assert (st["program"], st["cohort"], st["code_module"]) == ("AAA", "2013J", "AAA")
    assert st["term_start"] == T("2013-10-05")
    assert st["term_end"] == T("2014-06-30")  # 268 days later
    assert st["entry_date"] == T("2013-04-29")  # registered on day -159
    assert (st["gender"], st["region"], st["age_band"], st["imd_band"]) == (
        "M",
        "East Anglian Region",
        "55<=",
        "90-100%",
    )
    assert (st["num_of_prev_attempts"], st["studied_credits"], st["disability"]) == (0, 240, "N")

    tma = rows(oulad, "AAA/2013J/11391", "tma_score")
    assert tma["value"].tolist() == [78.0, 85.0, 80.0, 85.0, 82.0]
    first = tma.iloc[0]
    # submitted day 18 (cut-off day 19): known after the later day ends plus 14 days of marking
    assert first["time"] == T("2013-10-23")
    assert first["known_at"] == T("2013-11-08")  # day 19 + 1 + 14 = day 34
    assert first["due"] == T("2013-10-24")
    assert (first["max_value"], first["assessment_id"], first["assessment_weight"]) == (
        100.0,
        "1752",
        10.0,
    )
    assert not first["is_banked"]
    assert first["course_id"] == "AAA"
    reg = rows(oulad, "AAA/2013J/11391", "registration")
    assert reg["time"].tolist() == [T("2013-04-29")] and reg["value"].tolist() == [159.0]
    assert reg["known_at"].tolist() == [T("2013-04-30")]
    assert rows(oulad, "AAA/2013J/11391", "assessment_missed").empty
    out = oulad.outcomes.set_index("student_id").loc["AAA/2013J/11391"]
    assert (out["outcome"], out["time"], out["time_source"]) == (
        "pass",
        T("2014-06-30"),
        "final_result",
    )


def test_withdrawal_before_a_deadline_gives_no_missed_event(oulad):
    # 30268 registered on day -92 and unregistered on day 12, before the first cut-off (19)
    out = oulad.outcomes.set_index("student_id").loc["AAA/2013J/30268"]
    assert (out["outcome"], out["time"], out["time_source"]) == (
        "withdrawn",
        T("2013-10-17"),
        "unregistration",
    )
    ev = rows(oulad, "AAA/2013J/30268")
    assert set(ev["kind"]) == {"registration", "lms_click"}  # no scores, nothing missed
    assert ev.loc[ev["kind"] == "registration", "value"].tolist() == [92.0]


def test_missed_assessments_are_derived_at_cutoff_plus_grace(oulad):
    # 74372 (Fail) submitted TMAs 1752-1755 but not 1756 (cut-off day 215)
    missed = rows(oulad, "AAA/2013J/74372", "assessment_missed")
    assert missed["assessment_id"].tolist() == ["1756"]
    assert missed["time"].tolist() == [T("2014-05-16")]  # end of day 215 + 7
    assert missed["known_at"].tolist() == missed["time"].tolist()
    assert missed["due"].tolist() == [T("2014-05-08")]
    assert missed["value"].tolist() == [1.0]
    # 185439 (Fail) submitted only the first TMA: four missed
    assert rows(oulad, "AAA/2013J/185439", "assessment_missed")["assessment_id"].tolist() == [
        "1753",
        "1754",
        "1755",
        "1756",
    ]
    # 32885 (Pass) sent TMA 1753 (cut-off day 54) on day 75 and 1755 (day 166) on day 181: the
    # missed record stands (nothing had arrived when the grace ended); day-7 lateness is fine
    missed = rows(oulad, "AAA/2013J/32885", "assessment_missed")
    assert missed["assessment_id"].tolist() == ["1753", "1755"]
    assert missed["time"].tolist() == [T("2013-12-06"), T("2014-03-28")]  # days 62 and 174
    late = rows(oulad, "AAA/2013J/32885", "tma_score")
    assert late.loc[late["assessment_id"] == "1753", "time"].tolist() == [T("2013-12-19")]
    # 65002 withdrew on day 96: TMA 1754 (day 117) came after the withdrawal -> nothing missed
    assert rows(oulad, "AAA/2013J/65002", "assessment_missed").empty
    # a late submission inside the grace period is not missed: 1008675, CMA due 54, sent day 60
    late = rows(oulad, "BBB/2013B/1008675", "cma_score")
    hit = late[late["assessment_id"] == "14991"].iloc[0]
    assert (hit["time"], hit["known_at"], hit["value"]) == (
        T("2013-04-03"),
        T("2013-04-04"),  # computer-marked: known when the day ends
        40.0,
    )
    missed_ids = rows(oulad, "BBB/2013B/1008675", "assessment_missed")["assessment_id"]
    assert "14991" not in set(missed_ids)


def test_missed_events_use_only_what_was_known(oulad):
    ev = oulad.events[oulad.events["kind"] == "assessment_missed"]
    assert len(ev) == 54_626
    # no submission of that assessment had arrived by the time of the missed record
    subs = oulad.events[oulad.events["kind"].isin(["tma_score", "cma_score"])]
    both = ev.merge(subs, on=["student_id", "assessment_id"], suffixes=("", "_sub"))
    assert (both["time_sub"] >= both["time"]).all()
    assert len(both) == 5_803  # submitted later, after the grace period
    st = oulad.students.set_index("student_id")
    # never before the student registered; never after a withdrawal that had already happened
    entry = st.loc[ev["student_id"], "entry_date"].to_numpy()
    assert not (ev["due"].to_numpy() < entry).any()
    out = oulad.outcomes.set_index("student_id")
    w = out.loc[ev["student_id"]]
    gone_before = (
        (w["outcome"].to_numpy() == "withdrawn")
        & (w["time"].to_numpy() < ev["time"].to_numpy())
        & (w["time_source"].to_numpy() == "unregistration")
    )
    assert not gone_before.any()


def test_banked_results_are_known_before_the_retake(oulad):
    ban = rows(oulad, "AAA/2014J/603861", "tma_score")
    assert ban["is_banked"].all() and len(ban) == 5
    assert set(ban["time"]) == {T("2014-10-03")}  # day -1 of AAA 2014J
    assert set(ban["known_at"]) == {T("2014-10-04")}
    assert ban["value"].tolist() == [61.0, 56.0, 58.0, 69.0, 71.0]
    out = oulad.outcomes.set_index("student_id").loc["AAA/2014J/603861"]
    assert (out["outcome"], out["time"]) == ("withdrawn", T("2015-03-03"))  # day 150
    # the same person's first attempt is a separate enrolment
    assert oulad.outcomes.set_index("student_id").loc["AAA/2013J/603861", "outcome"] == "withdrawn"


def test_exam_scores_are_known_at_the_presentation_end(oulad):
    ex = rows(oulad, "CCC/2014B/558914", "exam_score").iloc[0]
    assert (ex["time"], ex["known_at"], ex["value"]) == (T("2014-09-19"), T("2014-09-30"), 32.0)
    assert ex["due"] == T("2014-09-30")  # exam without a date: end of the presentation
    st = oulad.students.set_index("student_id").loc["CCC/2014B/558914"]
    assert st["imd_band"] == "10-20%"  # the published '10-20' quirk normalised
    exams = oulad.events[oulad.events["kind"] == "exam_score"]
    ends = oulad.students.set_index("student_id").loc[exams["student_id"], "term_end"].to_numpy()
    assert (exams["known_at"].to_numpy() >= ends).all()


def test_special_final_result_cases(oulad):
    out = oulad.outcomes.set_index("student_id")
    # Withdrawn without an unregistration date: withdrawn at the presentation end, flagged
    row = out.loc["BBB/2014B/2512349"]
    assert (row["outcome"], row["time_source"]) == ("withdrawn", "presentation_end_imputed")
    assert (
        row["time"] == oulad.students.set_index("student_id").loc["BBB/2014B/2512349", "term_end"]
    )
    assert int((out["time_source"] == "presentation_end_imputed").sum()) == 93
    # Fail with an unregistration date (day 166): final_result wins; missed events continue
    row = out.loc["BBB/2013J/554243"]
    assert (row["outcome"], row["time_source"]) == ("fail", "final_result")
    # no registration date: no registration event, entry_date empty
    st = oulad.students.set_index("student_id")
    assert pd.isna(st.loc["BBB/2013B/630346", "entry_date"])
    assert rows(oulad, "BBB/2013B/630346", "registration").empty


def test_vle_slice(oulad):
    vle = oulad.events[oulad.events["kind"] == "lms_click"]
    assert set(vle["course_id"]) == {"AAA"}
    assert vle["time"].min() == T("2013-10-03") and vle["time"].max() == T("2013-10-08")
    assert ((vle["known_at"] - vle["time"]) == pd.Timedelta(days=1)).all()
    assert vle["activity_type"].notna().all() and vle["site_id"].notna().all()
    assert vle["value"].sum() == SUM_CLICK
    assert oulad.report.duplicate_events == 201  # exact repeats in the published slice, kept


# ------------------------------------------------------------------------------- behaviour
def test_each_call_returns_fresh_tables():
    a = load_oulad()
    a.students.loc[0, "studied_credits"] = -1
    a.events.loc[0, "value"] = -99.0
    a.metadata["counts"]["enrolments"] = 0
    b = load_oulad()
    assert b.students.loc[0, "studied_credits"] != -1
    assert b.events.loc[0, "value"] != -99.0
    assert b.metadata["counts"]["enrolments"] == 32_593
    assert a is not b and a.events is not b.events


def test_missed_events_can_be_left_out_or_tuned():
    plain = load_oulad(missed_grace_days=None)
    assert "assessment_missed" not in set(plain.events["kind"])
    assert len(plain.events) == 266_086 - 54_626
    strict = load_oulad(missed_grace_days=0)
    n0 = int((strict.events["kind"] == "assessment_missed").sum())
    assert n0 > 54_626  # late submissions within the week now count as missed first


@pytest.mark.parametrize("bad", [-1, 2.5, "7", True])
def test_bad_grace_raises_config_error(bad):
    with pytest.raises(ConfigError, match="missed_grace_days must be a whole number"):
        load_oulad(missed_grace_days=bad)


def test_presentation_start_rules():
    assert presentation_start("2013B") == T("2013-02-02")
    assert presentation_start("2014J").day_name() == "Saturday"
    with pytest.raises(ConfigError, match="year followed by B"):
        presentation_start("2013X")


def test_list_datasets_matches_real_loads(oulad):
    from studentprofile.datasets import load_uci_dropout

    listing = list_datasets().set_index("name")
    uci = load_uci_dropout()
    for name, t in (("oulad", oulad), ("uci_dropout", uci)):
        assert listing.loc[name, "students"] == len(t.students)
        assert listing.loc[name, "events"] == len(t.events)
        assert listing.loc[name, "outcomes"] == len(t.outcomes)
        assert listing.loc[name, "licence"] == t.metadata["licence"]
        assert listing.loc[name, "citation"] == t.metadata["citation"]
    assert np.array_equal(listing.columns[:2], ["loader", "description"])
