"""make_grid: per-cohort and per-enrolment as-of grids."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features import make_grid
from studentprofile.labels import check_grid
from studentprofile.tables import EventTables


@pytest.fixture
def enrolments() -> EventTables:
    students = pd.DataFrame(
        {
            "student_id": ["ana", "ben", "cai"],
            "term_start": pd.to_datetime(["2024-02-05", "2024-02-05", "2024-10-07"]),
            "term_end": pd.to_datetime(["2024-02-26", "2024-03-01", None]),
        }
    )
    events = pd.DataFrame({"student_id": ["cai"], "time": pd.to_datetime(["2024-10-20 10:00"]),
                           "known_at": pd.to_datetime(["2024-10-28"]),
                           "family": "academic", "kind": "quiz", "value": 1.0})
    return EventTables(students=students, events=events)


def dates(grid: pd.DataFrame, sid: str) -> list[str]:
    return [d.strftime("%m-%d") for d in grid.loc[grid["student_id"] == sid, "as_of"]]


def test_per_enrolment(enrolments):
    g = make_grid(enrolments, every=7, per="enrolment")
    assert dates(g, "ana") == ["02-05", "02-12", "02-19", "02-26"]
    assert dates(g, "ben") == ["02-05", "02-12", "02-19", "02-26"]
    # cai has no term_end: up to the latest known_at
    assert dates(g, "cai") == ["10-07", "10-14", "10-21", "10-28"]
    assert list(g["student_id"].unique()) == ["ana", "ben", "cai"]
    assert g["as_of"].dtype == "datetime64[ns]"
    check_grid(g, enrolments)


def test_per_enrolment_clipped_keeps_rhythm(enrolments):
    g = make_grid(enrolments, every=7, per="enrolment", start="2024-02-10", end="2024-02-20")
    assert dates(g, "ana") == ["02-12", "02-19"]
    assert dates(g, "cai") == []


def test_per_cohort(enrolments):
    g = make_grid(enrolments, start="2024-01-01", end="2024-01-15", every=7, per="cohort")
    assert len(g) == 9 and dates(g, "ben") == ["01-01", "01-08", "01-15"]
    default = make_grid(enrolments, every=30, per="cohort")
    assert default["as_of"].min() == pd.Timestamp("2024-02-05")  # earliest term_start
    assert default["as_of"].max() <= pd.Timestamp("2024-03-01")  # latest term_end
    one = make_grid(enrolments, start="2024-01-01", end="2024-01-15", students=["cai"],
                    per="cohort")
    assert set(one["student_id"]) == {"cai"}


def test_float_tables():
    students = pd.DataFrame({"student_id": [1, 2], "entry_date": [0.0, 10.0]})
    t = EventTables(students=students)
    g = make_grid(t, every=5, per="enrolment", end=20.0)
    assert g.groupby("student_id")["as_of"].apply(list).to_dict() == {
        1: [0.0, 5.0, 10.0, 15.0, 20.0], 2: [10.0, 15.0, 20.0]}
    assert g["as_of"].dtype == np.float64


def test_events_only_default_starts_at_midnight():
    students = pd.DataFrame({"student_id": ["a"]})
    events = pd.DataFrame({"student_id": ["a", "a"],
                           "time": pd.to_datetime(["2024-01-03 14:00", "2024-01-20 09:00"]),
                           "family": "behavioral", "kind": "lms_click", "value": 1.0})
    g = make_grid(EventTables(students=students, events=events), every=7, per="cohort")
    assert list(g["as_of"]) == list(pd.to_datetime(["2024-01-03", "2024-01-10", "2024-01-17"]))


def test_errors(enrolments):
    with pytest.raises(ConfigError, match="every must be a positive number of days"):
        make_grid(enrolments, every=0)
    with pytest.raises(ConfigError, match="per must be 'cohort' or 'enrolment'"):
        make_grid(enrolments, per="student")
    with pytest.raises(ConfigError, match="start must be a date for tables with datetime"):
        make_grid(enrolments, start=3.0)
    for per in ("cohort", "enrolment"):
        with pytest.raises(ConfigError, match="end must not be before start"):
            make_grid(enrolments, start="2024-03-01", end="2024-02-01", per=per)
    with pytest.raises(SchemaError, match=r"students.student_id \[membership\]"):
        make_grid(enrolments, students=["zoe"])
    plain = EventTables(students=pd.DataFrame({"student_id": ["a"]}))
    with pytest.raises(SchemaError, match=r"per='enrolment' needs each student's term_start"):
        make_grid(plain, per="enrolment", end="2024-03-01")
    with pytest.raises(ConfigError, match="start and end are needed"):
        make_grid(plain, per="cohort")
    with pytest.raises(SchemaError, match="a grid is built from an EventTables"):
        make_grid(pd.DataFrame())


def test_default_per_is_the_configs(enrolments):
    from studentprofile.features._grid import PER_DEFAULT_CHANGED
    from studentprofile.pipeline._config import GridConfig

    assert GridConfig().per == "enrolment"
    assert inspect.signature(make_grid).parameters["per"].default is None  # "enrolment"
    expected = make_grid(enrolments, every=7, per="enrolment")
    with pytest.warns(FutureWarning, match=re.escape(PER_DEFAULT_CHANGED)):
        got = make_grid(enrolments, every=7)
    assert got.equals(expected)


def test_default_per_is_silent_when_the_grid_is_unchanged():
    students = pd.DataFrame({"student_id": ["a", "b"], "term_start": [0.0, 0.0],
                             "term_end": [14.0, 14.0]})
    t = EventTables(students=students)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_grid(t, every=7).equals(make_grid(t, every=7, per="enrolment"))


def test_default_per_without_start_dates_keeps_the_cohort_grid():
    from studentprofile.features._grid import PER_DEFAULT_NO_STARTS

    plain = EventTables(students=pd.DataFrame({"student_id": ["a"]}), time_kind="float")
    with pytest.warns(FutureWarning, match=re.escape(PER_DEFAULT_NO_STARTS)):
        g = make_grid(plain, start=0.0, end=14.0)
    assert g.equals(make_grid(plain, start=0.0, end=14.0, per="cohort"))
