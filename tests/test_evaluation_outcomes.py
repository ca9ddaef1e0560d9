"""Intervention outcomes: per student, per platform, per institution, and the observational
comparison (hand-computed; the 'not causal' label present in every rendering)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    OBSERVATIONAL_CAVEAT,
    InterventionOutcomes,
    contact_comparison,
    contact_trajectories,
    platform_outcomes,
    term_outcomes,
)


@pytest.fixture
def contacts():
    return pd.DataFrame(
        {
            "student_id": ["ana", "ana", "ben", "cai"],
            "time": [10.0, 20.0, 3.0, 50.0],
            "action": ["call", "meeting", "email", "call"],
            "staff": ["kim", "kim", "lee", "lee"],
        }
    )


def test_trajectories_by_hand(contacts):
    values = pd.DataFrame(
        {
            "student_id": ["ana"] * 5 + ["ben"] * 2 + ["dan"] * 2,
            "as_of": [0.0, 7.0, 14.0, 21.0, 60.0, 0.0, 7.0, 0.0, 7.0],
            "score": [0.8, 0.7, 0.5, 0.3, 0.1, 0.4, 0.6, 0.9, 0.9],
        }
    )
    t = contact_trajectories(values, contacts, before=14, after=14)
    per = t.per_student.set_index("student_id")
    # ana's first contact is day 10: before = days 0, 7 (-10, -3); after = 14, 21 (+4, +11);
    # day 60 is past the window
    assert per.loc["ana", ["n_before", "n_after"]].tolist() == [2, 2]
    assert per.loc["ana", "mean_before"] == pytest.approx(0.75)
    assert per.loc["ana", "change"] == pytest.approx(0.4 - 0.75)
    assert per.loc["ana", "action"] == "call" and per.loc["ana", "staff"] == "kim"
    # ben contacted day 3: day 0 before, day 7 after
    assert per.loc["ben", "change"] == pytest.approx(0.2)
    # cai has no values; dan was never contacted
    assert per.loc["cai", "n_before"] == 0 and np.isnan(per.loc["cai", "change"])
    assert "dan" not in per.index
    assert t.summary()["students_with_before_and_after"] == 2
    prof = t.profile(bin_days=7)
    assert prof.loc[-14.0, "mean"] == pytest.approx(0.8)  # ana day -10 in (-14, -7]
    only_meetings = contact_trajectories(values, contacts, action="meeting")
    assert only_meetings.per_student["contact_time"].tolist() == [20.0]


def test_trajectory_of_a_feature_from_a_feature_matrix(contacts):
    X = pd.DataFrame(
        {"attendance": [0.9, 0.5, 0.8]},
        index=pd.MultiIndex.from_arrays(
            [["ana", "ana", "ana"], [7.0, 14.0, 21.0]], names=["student_id", "as_of"]
        ),
    )
    t = contact_trajectories(X.reset_index(), contacts, value="attendance")
    assert t.per_student.set_index("student_id").loc["ana", "mean_after"] == pytest.approx(0.65)
    assert t.value == "attendance"


def test_platform_by_hand(contacts):
    alerts = pd.DataFrame(
        {"student_id": ["ana", "ana", "ben", "dan"], "time": [5.0, 1.0, 4.0, 0.0]}
    )
    p = platform_outcomes(alerts, contacts, reach_within=10, capacity={"kim": 2, "lee": 4})
    per = p.per_student.set_index("student_id")
    # ana's first alert is day 1, first contact after it day 10 -> 9 days, reached
    assert per.loc["ana", "days_to_contact"] == 9.0 and per.loc["ana", "reached"]
    # ben alerted day 4; his only contact (day 3) came before the alert
    assert np.isnan(per.loc["ben", "days_to_contact"]) and not per.loc["ben", "reached"]
    assert np.isnan(per.loc["dan", "days_to_contact"])
    s = p.summary()
    assert s["students_flagged"] == 3 and s["students_contacted"] == 1
    assert s["share_reached_within_10d"] == pytest.approx(1 / 3)
    assert p.per_staff.loc["kim", "caseload_use"] == 0.5  # 1 student of 2
    assert p.per_staff.loc["lee", "caseload_use"] == 0.5  # ben and cai of 4
    assert p.per_staff.loc["kim", "contacts"] == 2
    with pytest.raises(ConfigError, match="every staff member"):
        platform_outcomes(alerts, contacts, capacity={"kim": 2})


def test_term_outcomes_by_hand():
    records = pd.DataFrame(
        {
            "term": pd.Categorical(["2014B"] * 3 + ["2013J"] * 4,
                                   categories=["2013J", "2014B"]),
            "result": ["Pass", "Withdrawn", "Withdrawn", "Pass", "Fail", "Distinction", None],
        }
    )
    t = term_outcomes(records)
    assert t.index.tolist() == ["2013J", "2014B"]  # categorical order
    assert t.loc["2013J", "pass_rate"] == 0.5 and t.loc["2013J", "retention_rate"] == 1.0
    assert t.loc["2014B", "pass_rate"] == pytest.approx(1 / 3)
    assert t.loc["2014B", "retention_rate"] == pytest.approx(1 / 3)
    assert t.loc["2014B", "pass_rate_change"] == pytest.approx(1 / 3 - 0.5)
    assert t.loc["2014B", "retention_rate_pvalue"] == pytest.approx(
        fisher_exact([[2, 1], [0, 4]]).pvalue
    )
    assert np.isnan(t.loc["2013J", "pass_rate_change"])
    ordered = term_outcomes(records, order=["2014B", "2013J"])
    assert ordered.index.tolist() == ["2014B", "2013J"]
    with pytest.raises(ConfigError, match="order must list every term"):
        term_outcomes(records, order=["2014B"])
    with pytest.raises(SchemaError, match="every enrolment needs a term"):
        term_outcomes(records.assign(term=[None] + ["x"] * 6))


def test_contact_comparison_by_hand():
    alerts = pd.DataFrame(
        {
            "student_id": list("abcdefgh"),
            "time": [0.0] * 8,
            "score": [0.9, 0.9, 0.8, 0.8, 0.2, 0.2, 0.1, 0.3],
        }
    )
    contacts = pd.DataFrame(
        {
            "student_id": ["a", "c", "e", "f"],
            "time": [1.0, 2.0, 3.0, 30.0],  # f's contact is after the 14-day window
            "action": "call",
            "staff": "kim",
        }
    )
    outcomes = pd.DataFrame(
        {
            "student_id": ["b", "d", "c", "g", "h"],
            "time": [20.0, 50.0, 60.0, 5.0, 200.0],
        }
    )
    cmp = contact_comparison(
        alerts, contacts, outcomes, bands=[0.0, 0.5, 1.0], window=14, horizon=90,
        observed_until=200.0,
    )
    bands = cmp.to_frame().set_index("band")
    # g withdrew on day 5, before its contact window closed: left out
    # low band: e contacted (no outcome), f, h not contacted (h's outcome at 200 is past 104)
    assert bands.loc[0, ["n_contacted", "n_not_contacted"]].tolist() == [1, 2]
    assert bands.loc[0, "outcome_rate_not_contacted"] == 0.0
    # high band: a, c contacted (c withdrew day 60); b, d not (both withdrew within the horizon)
    assert bands.loc[1, ["n_contacted", "n_not_contacted"]].tolist() == [2, 2]
    assert bands.loc[1, "outcome_rate_contacted"] == 0.5
    assert bands.loc[1, "difference"] == -0.5
    assert bands.loc[1, "ci_low"] < -0.5 < bands.loc[1, "ci_high"] <= 1
    # pooled: weights n1 n0 / (n1 + n0) = 2/3 (low), 1 (high)
    expected = (2 / 3 * 0.0 + 1 * -0.5) / (2 / 3 + 1)
    assert cmp.pooled["difference"] == pytest.approx(expected)
    assert any("reached the outcome within 14 days" in n for n in cmp.notes)


def test_comparison_is_labelled_observational_everywhere():
    alerts = pd.DataFrame({"student_id": ["a", "b"], "time": [0.0, 0.0], "score": [0.5, 0.6]})
    contacts = pd.DataFrame({"student_id": ["a"], "time": [1.0], "action": "call", "staff": "k"})
    outcomes = pd.DataFrame({"student_id": ["b"], "time": [30.0]})
    cmp = contact_comparison(alerts, contacts, outcomes, bands=1, observed_until=500.0)
    assert str(cmp).startswith("OBSERVATIONAL COMPARISON - NOT CAUSAL")
    assert OBSERVATIONAL_CAVEAT in str(cmp)
    assert "observational, not causal" in repr(cmp)
    assert "not causal" in cmp._repr_html_()
    d = cmp.to_dict()
    assert d["label"] == "observational, not causal" and d["caveat"] == OBSERVATIONAL_CAVEAT
    json.dumps(InterventionOutcomes(comparison=cmp).to_dict(), allow_nan=False)


def test_follow_up_past_the_end_is_left_out():
    alerts = pd.DataFrame({"student_id": ["a", "b"], "time": [0.0, 100.0], "score": [0.5, 0.6]})
    contacts = pd.DataFrame({"student_id": ["a"], "time": [1.0], "action": "call", "staff": "k"})
    outcomes = pd.DataFrame({"student_id": ["z"], "time": [1.0]})
    cmp = contact_comparison(alerts, contacts, outcomes, bands=1, observed_until=150.0)
    assert cmp.params["students"] == 1
    assert any("not followed for the full" in n for n in cmp.notes)


def test_input_errors(contacts):
    with pytest.raises(SchemaError, match="required column"):
        contact_trajectories(
            pd.DataFrame({"student_id": ["a"], "as_of": [1.0], "score": [0.1]}),
            contacts.drop(columns="staff"),
        )
    with pytest.raises(SchemaError, match="same kind of time"):
        platform_outcomes(
            pd.DataFrame({"student_id": ["ana"], "time": pd.to_datetime(["2024-01-01"])}),
            contacts,
        )
    with pytest.raises(ConfigError, match="band edges must cover every score"):
        contact_comparison(
            pd.DataFrame({"student_id": ["a"], "time": [0.0], "score": [0.9]}),
            contacts, pd.DataFrame({"student_id": ["b"], "time": [90.0]}),
            bands=[0.0, 0.5], observed_until=500.0,
        )
    with pytest.raises(ConfigError, match="window must be a non-negative number of days"):
        contact_comparison(
            pd.DataFrame({"student_id": ["a"], "time": [0.0], "score": [0.9]}),
            contacts, pd.DataFrame({"student_id": ["b"], "time": [90.0]}), window=-1,
        )
