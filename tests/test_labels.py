"""Labels: the one door to the future, checked by hand and against a slow reference."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, DataQualityWarning, SchemaError
from studentprofile.labels import (
    LABELS_ALL_MISSING,
    LABELS_ONE_CLASS,
    check_grid,
    final_outcome,
    make_labels,
)
from studentprofile.tables import EventTables


@pytest.fixture
def tables() -> EventTables:
    students = pd.DataFrame({"student_id": ["ana", "ben", "cai"]})
    outcomes = pd.DataFrame(
        {
            "student_id": ["ana", "ben", "ben"],
            "time": [40.0, 10.0, 90.0],
            "outcome": ["withdrawn", "failed", "withdrawn"],
        }
    )
    return EventTables(students=students, outcomes=outcomes)


# one- or two-row grids are one class by construction; the warning has its own tests below
ONE_CLASS_OK = pytest.mark.filterwarnings("ignore::studentprofile.errors.DataQualityWarning")


def test_labels_by_hand(tables):
    grid = pd.DataFrame(
        {
            "student_id": ["ana", "ana", "ana", "ana", "ben", "ben", "cai", "cai"],
            "as_of": [0.0, 20.0, 40.0, 41.0, 0.0, 75.0, 0.0, 85.0],
        }
    )
    y = make_labels(tables, grid, outcome="withdrawn", horizon=20, observed_until=100)
    # ana: window [0,20) no; [20,40) excludes 40 -> 0; [40,60) contains 40 -> 1;
    # at 41 ana already withdrew -> NaN. ben: [75,95) contains 90 -> 1. cai: [85,105) runs past
    # 100 with nothing seen -> censored NaN.
    assert y.tolist()[:3] == [0.0, 0.0, 1.0]
    assert np.isnan(y.iloc[3])
    assert y.tolist()[4:6] == [0.0, 1.0]
    assert y.iloc[6] == 0.0 and np.isnan(y.iloc[7])
    assert y.index.names == ["student_id", "as_of"]
    assert y.index[2] == ("ana", 40.0)


@ONE_CLASS_OK
def test_several_outcomes_count_as_positive(tables):
    grid = pd.DataFrame({"student_id": ["ben"], "as_of": [0.0]})
    y = make_labels(tables, grid, outcome=["withdrawn", "failed"], horizon=20,
                    observed_until=100)
    assert y.tolist() == [1.0]
    y2 = make_labels(tables, grid, outcome="withdrawn", horizon=20, observed_until=100)
    assert y2.tolist() == [0.0]


@ONE_CLASS_OK
def test_observed_until_hides_later_outcomes(tables):
    """A backtest passes the test as-of date: outcomes at or after it are not seen."""
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [30.0]})
    seen = make_labels(tables, grid, outcome="withdrawn", horizon=20, observed_until=100)
    hidden = make_labels(tables, grid, outcome="withdrawn", horizon=20, observed_until=40)
    assert seen.tolist() == [1.0]
    assert np.isnan(hidden.iloc[0])  # the window [30,50) is not fully observed by 40


@ONE_CLASS_OK
def test_prior_outcomes_can_be_kept(tables):
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [50.0]})
    y = make_labels(tables, grid, outcome="withdrawn", horizon=10, observed_until=100,
                    exclude_prior=False)
    assert y.tolist() == [0.0]


def test_datetime_tables_and_default_observation_end():
    students = pd.DataFrame({"student_id": [1, 2]})
    outcomes = pd.DataFrame(
        {"student_id": [1, 2], "time": pd.to_datetime(["2024-10-15", "2025-01-31"]),
         "outcome": ["withdrawn", "pass"]}
    )
    t = EventTables(students=students, outcomes=outcomes)
    grid = pd.DataFrame({"student_id": [1, 2], "as_of": pd.to_datetime(["2024-10-01"] * 2)})
    y = make_labels(t, grid, outcome="withdrawn", horizon=30)
    assert y.tolist() == [1.0, 0.0]


def test_final_outcome_multiclass(tables):
    grid = pd.DataFrame({"student_id": ["ana", "ben", "ben", "cai"],
                         "as_of": [0.0, 0.0, 20.0, 0.0]})
    y = final_outcome(tables, grid, outcomes=["withdrawn", "failed"], default="enrolled")
    assert y.tolist() == ["withdrawn", "failed", "withdrawn", "enrolled"]
    assert list(y.cat.categories) == ["withdrawn", "failed", "enrolled"]
    y2 = final_outcome(tables, grid, outcomes=["withdrawn", "failed"])
    assert pd.isna(y2.iloc[3])


def test_bad_parameters_are_config_errors(tables):
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [0.0]})
    with pytest.raises(ConfigError, match="horizon must be a positive number of days"):
        make_labels(tables, grid, outcome="withdrawn", horizon=0)
    with pytest.raises(ConfigError, match="horizon"):
        make_labels(tables, grid, outcome="withdrawn", horizon="60d")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="outcome must be an outcome name"):
        make_labels(tables, grid, outcome=[], horizon=10)
    with pytest.raises(ConfigError, match="observed_until must be a number of days"):
        make_labels(tables, grid, outcome="withdrawn", horizon=10, observed_until="soon")


def test_bad_grids_are_schema_errors(tables):
    with pytest.raises(SchemaError, match=r"grid\.as_of \[required-column\]"):
        check_grid(pd.DataFrame({"student_id": ["ana"]}), tables)
    with pytest.raises(SchemaError, match=r"grid\.student_id \[membership\]"):
        check_grid(pd.DataFrame({"student_id": ["zed"], "as_of": [1.0]}), tables)
    with pytest.raises(SchemaError, match=r"grid\.as_of \[time-kind\]"):
        check_grid(pd.DataFrame({"student_id": ["ana"], "as_of": ["2024-01-01"]}), tables)
    with pytest.raises(SchemaError, match=r"grid\.as_of \[not-null\]"):
        check_grid(pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [1.0, None]}), tables)


def _slow_label(oc: pd.DataFrame, sid: str, as_of: float, horizon: float, end: float) -> float:
    mine = oc[(oc["student_id"] == sid) & (oc["time"] < end)]
    if (mine["time"] < as_of).any():
        return np.nan
    if ((mine["time"] >= as_of) & (mine["time"] < as_of + horizon)).any():
        return 1.0
    return 0.0 if as_of + horizon <= end else np.nan


@ONE_CLASS_OK  # generated grids are often one class
@given(
    times=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 30)), max_size=6),
    grid=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 30)), min_size=1,
                  max_size=8),
    horizon=st.integers(1, 10),
    end=st.integers(5, 40),
)
def test_labels_equal_a_slow_reference(times, grid, horizon, end):
    students = pd.DataFrame({"student_id": ["a", "b", "c"]})
    oc = pd.DataFrame(
        {"student_id": [s for s, _ in times], "time": [float(t) for _, t in times],
         "outcome": ["withdrawn"] * len(times)}
    )
    t = EventTables(students=students, outcomes=oc, time_kind="float")
    g = pd.DataFrame({"student_id": [s for s, _ in grid], "as_of": [float(a) for _, a in grid]})
    y = make_labels(t, g, outcome="withdrawn", horizon=horizon, observed_until=end)
    expected = [_slow_label(t.outcomes, s, float(a), horizon, end) for s, a in grid]
    np.testing.assert_array_equal(y.to_numpy(), np.array(expected))


# ---------------------------------------------------- labels a model cannot learn from (12.6)
def _static(n_drop: int = 3, n_grad: int = 4) -> tuple[EventTables, pd.DataFrame]:
    """Static data as in the issue: every outcome at t=300, one as-of date at 0."""
    ids = [f"s{i}" for i in range(n_drop + n_grad)]
    oc = pd.DataFrame({"student_id": ids, "time": 300.0,
                       "outcome": ["dropout"] * n_drop + ["graduate"] * n_grad})
    t = EventTables(students=pd.DataFrame({"student_id": ids}), outcomes=oc)
    return t, pd.DataFrame({"student_id": ids, "as_of": 0.0})


def test_outcomes_at_the_latest_time_are_seen_by_default():
    t, g = _static()
    y = make_labels(t, g, outcome="dropout", horizon=400, observed_until=400)
    with pytest.warns(DataQualityWarning, match=re.escape(LABELS_ONE_CLASS.format(value=1))):
        y_default = make_labels(t, g, outcome="dropout", horizon=301)
    # the default end of observation is just after t=300: the dropouts at 300 are seen (1), the
    # graduates' windows run past it (NaN); it used to hide every outcome at the latest time
    assert y_default.iloc[:3].eq(1).all() and y_default.iloc[3:].isna().all()
    assert y.iloc[:3].eq(1).all() and y.iloc[3:].eq(0).all()


def test_all_zero_labels_warn_and_say_why():
    t, g = _static()
    with pytest.warns(DataQualityWarning) as caught:
        y = make_labels(t, g, outcome="dropout", horizon=300)
    assert y.eq(0).all()
    text = str(caught[0].message)
    assert text.startswith(LABELS_ONE_CLASS.format(value=0))
    assert "no ['dropout'] outcome falls within horizon=300 days" in text
    assert "what to do: use a longer horizon" in text


def test_all_missing_labels_warn_and_name_the_censoring():
    t, g = _static()
    with pytest.warns(DataQualityWarning) as caught:
        y = make_labels(t, g, outcome="dropout", horizon=301, observed_until=250)
    assert y.isna().all()
    text = str(caught[0].message)
    assert text.startswith(LABELS_ALL_MISSING)
    assert "7 row(s) censored" in text and "observed_until=250.0" in text
    assert "pass a later observed_until" in text


def test_unknown_outcome_name_is_said():
    t, g = _static()
    with pytest.warns(DataQualityWarning, match=r"no outcome named \['droppout'\] in the tables "
                      r"\(they hold \['dropout', 'graduate'\]\)"):
        make_labels(t, g, outcome="droppout", horizon=10, observed_until=400)


def test_outcomes_after_observed_until_are_said():
    t, g = _static()
    with pytest.warns(DataQualityWarning, match=r"every \['dropout'\] outcome is at or after "
                      r"observed_until=200\.0"):
        make_labels(t, g, outcome="dropout", horizon=100, observed_until=200)


def test_prior_outcomes_are_said():
    t, _ = _static()
    g = pd.DataFrame({"student_id": ["s0", "s1"], "as_of": [310.0, 320.0]})
    with pytest.warns(DataQualityWarning, match=r"2 row\(s\) left out: the student had reached"):
        make_labels(t, g, outcome="dropout", horizon=5, observed_until=400)


def test_both_classes_do_not_warn():
    t, g = _static()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = make_labels(t, g, outcome="dropout", horizon=350, observed_until=400)
    assert set(y.tolist()) == {0.0, 1.0}
