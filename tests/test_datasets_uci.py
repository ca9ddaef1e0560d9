"""UCI dropout as EventTables: published counts and the mapping checked on named rows."""

from __future__ import annotations

import numpy as np
import pytest

from studentprofile.datasets import load_uci_dropout


@pytest.fixture(scope="module")
def uci():
    return load_uci_dropout()


def test_published_counts(uci):
    assert len(uci.students) == 4_424
    assert uci.outcomes["outcome"].value_counts().to_dict() == {
        "graduate": 2_209,
        "dropout": 1_421,
        "enrolled": 794,
    }
    assert len(uci.events) == 4_424 * 2 * 6
    assert uci.time_kind == "float"


def test_static_columns_are_clean_snake_case(uci):
    cols = list(uci.students.columns)
    assert all(c == c.strip() and c.replace("_", "").isalnum() and c == c.lower() for c in cols)
    assert "daytime_evening_attendance" in cols and "nationality" in cols
    # 24 static attributes from the file; the 12 first-year result columns are events only
    derived = {"student_id", "program", "age_band", "entry_date", "term_start", "term_end"}
    assert len(set(cols) - derived) == 24
    assert not [c for c in cols if "curricular" in c]
    assert uci.audit_attributes == (
        "gender",
        "age_band",
        "age_at_enrollment",
        "marital_status",
        "nationality",
        "international",
        "educational_special_needs",
    )
    assert (uci.students["international"] == 1).sum() == 110
    assert (uci.students["nationality"] != "Portuguese").sum() == 110


def test_first_two_rows_by_hand(uci):
    st = uci.students.set_index("student_id")
    one = st.loc[1]
    assert (one["program"], one["course"], one["gender"], one["age_at_enrollment"]) == (
        "Animation and Multimedia Design",
        171,
        "M",
        20,
    )
    assert (one["age_band"], one["marital_status"], one["nationality"]) == (
        "17-20",
        "single",
        "Portuguese",
    )
    assert one["admission_grade"] == pytest.approx(127.3)
    two = st.loc[2]
    assert (two["program"], two["gender"], two["age_band"]) == ("Tourism", "M", "17-20")

    ev = uci.events.set_index(["student_id", "semester", "kind"])["value"]
    # row 1 enrolled in no unit: counts 0 and no average grade
    assert ev.loc[(1, 1, "curricular_units_enrolled")] == 0.0
    assert np.isnan(ev.loc[(1, 1, "curricular_units_grade")])
    # row 2: 6 enrolled, 6 evaluated, 6 approved, mean grade 14.0, then 13.67 in semester 2
    assert ev.loc[(2, 1, "curricular_units_enrolled")] == 6.0
    assert ev.loc[(2, 1, "curricular_units_approved")] == 6.0
    assert ev.loc[(2, 1, "curricular_units_grade")] == 14.0
    assert ev.loc[(2, 2, "curricular_units_grade")] == pytest.approx(13.666666666666666)
    out = uci.outcomes.set_index("student_id")["outcome"]
    assert (out.loc[1], out.loc[2]) == ("dropout", "graduate")


def test_event_times_and_grades(uci):
    ev = uci.events
    assert set(ev["family"]) == {"academic"}
    assert ev.groupby("semester")["time"].unique().map(list).to_dict() == {1: [150.0], 2: [300.0]}
    assert (ev["known_at"] == ev["time"]).all()
    grade = ev[ev["kind"] == "curricular_units_grade"]
    assert (grade["max_value"] == 20.0).all()
    assert grade["value"].dropna().between(0, 20).all()
    # grades are missing exactly where no unit was approved (718 + 870 semesters)
    assert int(grade["value"].isna().sum()) == 718 + 870
    approved = ev[ev["kind"] == "curricular_units_approved"].set_index(["student_id", "semester"])
    g = grade.set_index(["student_id", "semester"])["value"]
    assert (g.isna() == (approved["value"].loc[g.index] == 0)).all()
    assert set(uci.outcomes["time"]) == {3 * 365.0}
    assert uci.metadata["licence"] == "CC BY 4.0" and "Realinho" in uci.metadata["citation"]


def test_each_call_returns_fresh_tables():
    a = load_uci_dropout()
    a.students.loc[0, "admission_grade"] = -1.0
    a.metadata["counts"]["students"] = 0
    b = load_uci_dropout()
    assert b.students.loc[0, "admission_grade"] == pytest.approx(127.3)
    assert b.metadata["counts"]["students"] == 4_424
