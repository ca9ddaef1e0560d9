"""Lead time: hand-computed examples (threshold, top-k with ties, datetimes) and errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs, _lead_time, lead_time


@pytest.fixture
def weekly():
    scores = pd.DataFrame(
        {
            "student_id": ["ana"] * 4 + ["ben"] * 4 + ["cai"] * 4 + ["dan"] * 4,
            "as_of": [0.0, 7.0, 14.0, 21.0] * 4,
            "score": [
                0.2, 0.6, 0.9, 0.9,   # ana: crosses 0.5 at day 7
                0.1, 0.1, 0.3, 0.7,   # ben: crosses at day 21, after his outcome at 20
                0.8, 0.8, 0.8, 0.8,   # cai: flagged from day 0, never reaches the outcome
                0.4, 0.55, 0.2, 0.2,  # dan: flagged once at day 7
            ],
        }
    )
    outcomes = pd.DataFrame(
        {"student_id": ["ana", "ben", "dan", "eve"], "time": [30.0, 20.0, 9.0, 5.0]}
    )
    return scores, outcomes


def test_threshold_by_hand(weekly):
    scores, outcomes = weekly
    lt = lead_time(scores, outcomes, threshold=0.5, ahead=[1, 7, 23])
    per = lt.per_student.set_index("student_id")
    assert per.loc["ana", "first_flag"] == 7.0 and per.loc["ana", "lead_days"] == 23.0
    assert np.isnan(per.loc["ben", "lead_days"])  # flagged only after the outcome
    assert per.loc["dan", "lead_days"] == 2.0
    assert not per.loc["eve", "scored"]  # no score at all
    assert (lt.n_reached, lt.n_scored, lt.n_flagged) == (4, 3, 2)
    assert lt.share_flagged == pytest.approx(2 / 3)
    # at least 1 day: ana, dan; 7 days: ana; 23 days: ana
    assert lt.share_ahead.tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    s = lt.summary()
    assert s["median_lead_days"] == 12.5 and s["share_flagged_7d_ahead"] == pytest.approx(1 / 3)
    assert "1 student(s) reached the outcome with no score" in lt.notes[0]
    json.dumps(lt.to_dict(), allow_nan=False)


def test_flag_at_the_outcome_date_counts_as_zero_days():
    scores = pd.DataFrame({"student_id": [1, 1], "as_of": [0.0, 10.0], "score": [0.1, 0.9]})
    outcomes = pd.DataFrame({"student_id": [1], "time": [10.0]})
    lt = lead_time(scores, outcomes, threshold=0.5, ahead=[0, 1])
    assert lt.per_student["lead_days"].tolist() == [0.0]
    assert lt.share_ahead.tolist() == [1.0, 0.0]


def test_top_k_per_as_of_date_with_ties():
    # at day 0 the top 1 of {a 0.9, b 0.9, c 0.1} is a tie between a and b
    scores = pd.DataFrame(
        {
            "student_id": ["a", "b", "c", "a", "b", "c"],
            "as_of": [0.0, 0.0, 0.0, 7.0, 7.0, 7.0],
            "score": [0.9, 0.9, 0.1, 0.2, 0.8, 0.3],
        }
    )
    outcomes = pd.DataFrame({"student_id": ["a", "b"], "time": [20.0, 20.0]})
    worst = lead_time(scores, outcomes, k=1, ties="worst").per_student.set_index("student_id")
    best = lead_time(scores, outcomes, k=1, ties="best").per_student.set_index("student_id")
    assert np.isnan(worst.loc["a", "lead_days"]) and worst.loc["b", "lead_days"] == 13.0
    assert best.loc["a", "lead_days"] == 20.0 and best.loc["b", "lead_days"] == 20.0
    frac = lead_time(scores, outcomes, k=0.34).per_student.set_index("student_id")  # 1 of 3
    assert frac.loc["b", "lead_days"] == 13.0


def test_datetimes_and_series_input_and_outcome_filter():
    idx = pd.MultiIndex.from_arrays(
        [["a", "a"], pd.to_datetime(["2024-01-01", "2024-01-15"])], names=["student_id", "as_of"]
    )
    scores = pd.Series([0.7, 0.9], index=idx)
    outcomes = pd.DataFrame(
        {
            "student_id": ["a", "a"],
            "time": pd.to_datetime(["2024-02-10 12:00", "2024-01-20 00:00"]),
            "outcome": ["withdrawn", "passed"],
        }
    )
    lt = lead_time(scores, outcomes, threshold=0.5, outcome="withdrawn")
    assert lt.per_student["first_flag"].iloc[0] == pd.Timestamp("2024-01-01")
    assert lt.per_student["lead_days"].iloc[0] == 40.5
    # without the filter the earliest outcome (passed, Jan 20) counts
    assert lead_time(scores, outcomes, threshold=0.5).per_student["lead_days"].iloc[0] == 19.0


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10), st.floats(0, 1)), max_size=40),
       st.floats(0.05, 0.95))
def test_lower_threshold_never_flags_later(rows, t):
    scores = pd.DataFrame(rows, columns=["student_id", "as_of", "score"]).drop_duplicates(
        ["student_id", "as_of"]
    )
    scores["as_of"] = scores["as_of"].astype(float) * 7
    outcomes = pd.DataFrame({"student_id": range(6), "time": [80.0] * 6})
    high = lead_time(scores, outcomes, threshold=t).per_student["lead_days"].fillna(-1)
    low = lead_time(scores, outcomes, threshold=t / 2).per_student["lead_days"].fillna(-1)
    assert (low >= high).all()


def test_errors(weekly):
    scores, outcomes = weekly
    with pytest.raises(ConfigError, match=re.escape(_inputs.K_AND_THRESHOLD)):
        lead_time(scores, outcomes)
    with pytest.raises(ConfigError, match=re.escape(_inputs.K_AND_THRESHOLD)):
        lead_time(scores, outcomes, k=0.1, threshold=0.5)
    with pytest.raises(ConfigError, match=re.escape(_lead_time.AHEAD_INVALID)):
        lead_time(scores, outcomes, threshold=0.5, ahead=[-1])
    dated = outcomes.assign(time=pd.to_datetime("2024-01-01"))
    with pytest.raises(SchemaError, match=re.escape(
        _lead_time.TIME_KINDS_DIFFER.format(a="scores", b="outcomes"))):
        lead_time(scores, dated, threshold=0.5)
    numeric_ids = outcomes.assign(student_id=range(4))
    with pytest.raises(SchemaError, match="same type in both tables"):
        lead_time(scores, numeric_ids, threshold=0.5)
    with pytest.raises(SchemaError, match=re.escape(_inputs.SCORES_NOT_FINITE)):
        lead_time(scores.assign(score=np.nan), outcomes, threshold=0.5)
    with pytest.raises(SchemaError, match="required column"):
        lead_time(scores.drop(columns="as_of"), outcomes, threshold=0.5)


# ---------------------------------------------- empty results are results (issue 12, item 5)
DAY0 = pd.Timestamp("2024-01-01")


def _datetime_weekly(scores: pd.DataFrame, outcomes: pd.DataFrame):
    def to_dt(days: pd.Series) -> pd.Series:
        return DAY0 + pd.to_timedelta(days, unit="D")

    return (
        scores.assign(as_of=to_dt(scores["as_of"])),
        outcomes.assign(time=to_dt(outcomes["time"])),
    )


def test_nobody_flagged_with_datetimes_is_an_empty_result(weekly):
    scores, outcomes = _datetime_weekly(*weekly)
    lt = lead_time(scores, outcomes, threshold=0.99)  # nobody scores that high
    per = lt.per_student
    assert per["first_flag"].dtype.kind == "M" and per["first_flag"].isna().all()
    assert per["lead_days"].isna().all()
    s = lt.summary()
    assert (s["n_reached"], s["n_scored"], s["n_flagged"]) == (4, 3, 0)
    assert s["share_flagged"] == 0.0 and np.isnan(s["median_lead_days"])
    assert lt.share_ahead.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert lt.notes[0] == _lead_time.NONE_FLAGGED.format(n=3, rule="score >= 0.99")
    assert lt.notes[1].startswith("1 student(s) reached the outcome with no score")  # eve
    assert "no lead time" in repr(lt)
    d = json.loads(json.dumps(lt.to_dict(), allow_nan=False))
    assert d["summary"]["median_lead_days"] is None and d["lead_days"] == []
    assert d["notes"] == list(lt.notes)


def test_datetimes_flagged_and_missed_students(weekly):
    scores, outcomes = _datetime_weekly(*weekly)
    lt = lead_time(scores, outcomes, threshold=0.5)
    per = lt.per_student.set_index("student_id")
    assert per.loc["ana", "first_flag"] == DAY0 + pd.Timedelta(days=7)
    assert per.loc["ana", "lead_days"] == 23.0
    assert pd.isna(per.loc["ben", "first_flag"]) and np.isnan(per.loc["ben", "lead_days"])


@pytest.mark.parametrize("datetimes", [False, True])
def test_nobody_reached_or_nobody_scored(weekly, datetimes):
    scores, outcomes = _datetime_weekly(*weekly) if datetimes else weekly
    none_reached = lead_time(scores, outcomes.iloc[0:0], threshold=0.5)
    assert none_reached.n_reached == 0 and np.isnan(none_reached.share_flagged)
    assert none_reached.notes == (_lead_time.NONE_REACHED,)
    none_scored = lead_time(scores.iloc[0:0], outcomes, k=1)
    assert (none_scored.n_reached, none_scored.n_scored, none_scored.n_flagged) == (4, 0, 0)
    assert none_scored.notes == (_lead_time.NONE_SCORED.format(n=4),)


def test_report_says_nobody_was_flagged(weekly):
    from studentprofile.evaluation import evaluate

    scores, outcomes = _datetime_weekly(*weekly)
    lt = lead_time(scores, outcomes, threshold=0.99)
    report = evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], lead_time=lt)
    assert report.to_dict()["lead_time"]["notes"] == list(lt.notes)
    assert "none of the 3 student(s) who reached the outcome after being scored" in (
        report.to_html()
    )
