"""Hostile inputs for the tables, labels and grids: dates in any zone or form, out-of-range
dates and durations, identifiers and values that used to break or fool EventTables.

Every date a public function takes goes through ``studentprofile.tables._time``; the property
below checks that the same instant, written in any zone or form, gives the same answer everywhere.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import TemporalSplits
from studentprofile.features import make_grid
from studentprofile.labels import make_labels
from studentprofile.tables import EventTables, _checks, _time

BASE = pd.Timestamp("2024-03-01")
ZONES = ["UTC", "Europe/London", "Asia/Shanghai", "America/Los_Angeles", "Asia/Kolkata",
         "Pacific/Chatham", "America/St_Johns"]


def _tables() -> EventTables:
    """Events and outcomes every 30 minutes around BASE, so a shift of any zone offset shows."""
    times = BASE + pd.to_timedelta(np.arange(0, 5 * 48) * 30, unit="min")
    ids = np.where(np.arange(len(times)) % 2 == 0, "ana", "ben")
    events = pd.DataFrame({"student_id": ids, "time": times, "family": "academic",
                           "kind": "quiz", "value": np.arange(len(times), dtype=float)})
    outcomes = pd.DataFrame({"student_id": ["ana", "ben"],
                             "time": [BASE + pd.Timedelta(hours=47, minutes=15),
                                      BASE + pd.Timedelta(hours=70, minutes=45)],
                             "outcome": ["withdrawn", "withdrawn"]})
    return EventTables(students=pd.DataFrame({"student_id": ["ana", "ben"]}), events=events,
                       outcomes=outcomes)


TABLES = _tables()


def _forms(instant_utc: pd.Timestamp, zone: str) -> list[object]:
    """The same instant as text with an offset, 'Z' text, aware Timestamps and datetimes,
    numpy datetime64 (UTC by definition) and a naive UTC Timestamp."""
    aware = instant_utc.tz_localize("UTC").tz_convert(zone)
    return [
        aware,
        aware.isoformat(),
        instant_utc.isoformat() + "Z",
        aware.to_pydatetime(),
        np.datetime64(instant_utc.to_datetime64(), "ns"),
        instant_utc,
        instant_utc.tz_localize("UTC"),
    ]


instants = st.integers(min_value=0, max_value=5 * 24 * 4).map(
    lambda q: BASE + pd.Timedelta(minutes=15 * q)
)


# tiny grids are often one class: the labels' DataQualityWarning is tested in test_labels.py
ONE_CLASS_OK = pytest.mark.filterwarnings("ignore::studentprofile.errors.DataQualityWarning")


@ONE_CLASS_OK
@settings(max_examples=25)
@given(instant=instants, zone=st.sampled_from(ZONES))
def test_same_instant_in_any_zone_or_form_gives_the_same_answer(instant, zone):
    grid = pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [BASE, BASE]})
    labels, grids, cuts, splits, moments = [], [], [], [], []
    for form in _forms(instant, zone):
        y = make_labels(TABLES, grid, outcome="withdrawn", horizon=6, observed_until=form)
        labels.append(y.fillna(-1).tolist())
        g = make_grid(TABLES, start=BASE, end=form, every=0.25, per="cohort")
        grids.append(g["as_of"].tolist())
        cut = TABLES.known_before(form)
        cuts.append((len(cut.events), len(cut.outcomes)))
        splits.append(list(TemporalSplits(test_start=form, test_end=BASE + pd.Timedelta(days=9),
                                          horizon=1)))
        moments.append(_time.as_moment(form, "datetime", key="when"))
    for seen in (labels, grids, cuts, splits, moments):
        assert all(s == seen[0] for s in seen), seen
    assert moments[0] == instant


@ONE_CLASS_OK
@settings(max_examples=15)
@given(instant=instants, zone=st.sampled_from(ZONES))
def test_same_instant_in_a_time_column_is_the_same_time(instant, zone):
    stored = []
    for form in _forms(instant, zone):
        events = pd.DataFrame({"student_id": ["a"], "time": pd.Series([form]),
                               "family": "academic", "kind": "quiz", "value": 1.0})
        t = EventTables(students=pd.DataFrame({"student_id": ["a"]}), events=events)
        stored.append(t.events["time"].iloc[0])
    assert all(x == instant for x in stored), stored


@ONE_CLASS_OK
def test_observed_until_with_an_offset_is_the_utc_instant():
    # the bug: labels.py kept the local clock time of an offset, so 00:30+02:00 counted an
    # outcome at 23:00 UTC (after the real end of observation, 22:30 UTC) as seen
    tables = EventTables(
        students=pd.DataFrame({"student_id": ["a"]}),
        outcomes=pd.DataFrame({"student_id": ["a"], "time": pd.to_datetime(["2024-03-01T23:00"]),
                               "outcome": ["w"]}))
    grid = pd.DataFrame({"student_id": ["a"], "as_of": pd.to_datetime(["2024-02-01"])})
    local = make_labels(tables, grid, outcome="w", horizon=40,
                        observed_until="2024-03-02T00:30+02:00")
    utc = make_labels(tables, grid, outcome="w", horizon=40, observed_until="2024-03-01T22:30Z")
    assert local.isna().all() and utc.isna().all()


@ONE_CLASS_OK
def test_as_of_column_in_several_zones_is_one_instant():
    tables = EventTables(students=pd.DataFrame({"student_id": ["a"]}), time_kind="datetime")
    grid = pd.DataFrame({"student_id": ["a", "a"],
                         "as_of": ["2024-03-02T00:30+02:00", "2024-03-01T22:30Z"]})
    out = make_labels(tables, grid, outcome="w", horizon=1, observed_until="2024-04-01")
    assert out.index.get_level_values("as_of").nunique() == 1


# ---------------------------------------------------------------- one validator of "days"
@pytest.mark.parametrize("value", [0, -1, np.nan, np.inf, -np.inf, True, "7", "7d", None,
                                   pd.NaT, pd.Timedelta(0), pd.Timedelta(days=-1),
                                   36_526, 1e300, 1e-9, [7]])
def test_positive_days_refuses(value):
    with pytest.raises(ConfigError, match=re.escape(_time.DAYS_POSITIVE.format(key="every"))):
        _time.as_days(value, key="every")


@pytest.mark.parametrize(("value", "days"), [
    (7, 7.0), (np.int32(7), 7.0), (np.float32(0.5), 0.5), (pd.Timedelta(hours=12), 0.5),
    (dt.timedelta(days=3), 3.0), (np.timedelta64(2, "D"), 2.0), (36_525, 36_525.0),
])
def test_days_accepts_numbers_and_timedeltas_alike(value, days):
    assert _time.as_days(value, key="every") == days


def test_non_negative_days_accept_zero_only_when_asked():
    assert _time.as_days(0, key="gap", positive=False) == 0.0
    assert _time.as_days(pd.Timedelta(0), key="gap", positive=False) == 0.0
    assert _time.as_days(None, key="gap", allow_none=True) is None
    with pytest.raises(ConfigError, match=re.escape(_time.DAYS_NON_NEGATIVE.format(key="gap"))):
        _time.as_days(-0.5, key="gap", positive=False)


@ONE_CLASS_OK
@pytest.mark.parametrize("horizon", [7, 7.0, pd.Timedelta(days=7), dt.timedelta(days=7)])
def test_every_function_reads_days_and_timedeltas_alike(horizon):
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [BASE]})
    ref = make_labels(TABLES, grid, outcome="withdrawn", horizon=7, observed_until=BASE
                      + pd.Timedelta(days=30))
    got = make_labels(TABLES, grid, outcome="withdrawn", horizon=horizon,
                      observed_until=BASE + pd.Timedelta(days=30))
    assert got.equals(ref)
    two_weeks = {"start": BASE, "end": BASE + pd.Timedelta(days=14), "per": "cohort"}
    assert make_grid(TABLES, every=horizon, **two_weeks).equals(
        make_grid(TABLES, every=7, **two_weeks))
    assert TemporalSplits(test_start=BASE, test_end=BASE + pd.Timedelta(days=9),
                          horizon=horizon).horizon_days == 7.0


# ------------------------------------------------------------------ dates out of range
@pytest.mark.parametrize("when", ["2300-01-01", "1700-01-01", "9999-12-31", "1899-12-30",
                                  pd.Timestamp("2300-01-01"), dt.datetime(1600, 1, 1),
                                  np.datetime64("2262-04-11")])
def test_dates_out_of_range_are_config_errors(when):
    msg = re.escape(_time.DATE_OUT_OF_RANGE.format(key="start"))
    with pytest.raises(ConfigError, match=msg):
        make_grid(TABLES, start=when, per="cohort")
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [BASE]})
    with pytest.raises(ConfigError, match=re.escape(
            _time.DATE_OUT_OF_RANGE.format(key="observed_until"))):
        make_labels(TABLES, grid, outcome="withdrawn", horizon=7, observed_until=when)
    with pytest.raises(ConfigError, match=re.escape(_time.DATE_OUT_OF_RANGE.format(key="cut"))):
        TABLES.known_before(when)


@pytest.mark.parametrize("when", ["soon", "", "NaT", None, np.nan, True, [BASE], pd.NaT,
                                  pd.Timedelta(days=1)])
def test_dates_that_are_not_dates_are_config_errors(when):
    with pytest.raises(ConfigError, match=re.escape(_time.DATE_FOR_DATETIME.format(key="cut"))):
        TABLES.known_before(when)


@pytest.mark.parametrize("horizon", [86_000, 90_000, 36_526])
def test_horizon_too_long_to_add_is_a_config_error(horizon):
    # 86,000 days gave 26 positives and 90,000 none on OULAD: as_of + horizon wrapped around
    grid = pd.DataFrame({"student_id": ["ana"], "as_of": [BASE]})
    with pytest.raises(ConfigError, match=re.escape(_time.DAYS_POSITIVE.format(key="horizon"))):
        make_labels(TABLES, grid, outcome="withdrawn", horizon=horizon)


# ------------------------------------------------ 12.17: tables that used to break or lie
def _events(**cols):
    base = {"student_id": ["a"], "time": [1.0], "family": "academic", "kind": "quiz",
            "value": [1.0]}
    base.update(cols)
    n = max(len(v) for v in base.values() if isinstance(v, list))
    base = {k: (v * n if isinstance(v, list) and len(v) == 1 else v) for k, v in base.items()}
    return pd.DataFrame(base)


STUDENTS = pd.DataFrame({"student_id": ["a"]})


@pytest.mark.parametrize("column", ["time", "known_at"])
@pytest.mark.parametrize("when", ["2300-01-01", pd.Timestamp("2300-01-01"),
                                  dt.datetime(2300, 1, 1), "1800-06-01T00:00+01:00",
                                  pd.Timestamp("2300-01-01", tz="Asia/Shanghai")])
def test_year_2300_in_a_time_column_is_a_schema_error(column, when):
    cols = {"time": ["2024-01-01"], column: [when]}
    if column == "known_at" and getattr(when, "tzinfo", None) is not None:
        cols["time"] = [pd.Timestamp("2024-01-01", tz="UTC")]
    if column == "known_at" and isinstance(when, str) and "+" in when:
        cols["time"] = ["2024-01-01T00:00Z"]
    with pytest.raises(SchemaError, match=rf"events\.{column} \[time-range\].*1900-01-01 up to "
                       r"\(not including\) 2150-01-01"):
        EventTables(students=STUDENTS, events=_events(**cols))


def test_a_datetime64_column_of_another_unit_out_of_range_is_a_schema_error():
    times = pd.Series(np.array(["2300-01-01"], dtype="datetime64[s]"))
    with pytest.raises(SchemaError, match=r"outcomes\.time \[time-range\]"):
        EventTables(students=STUDENTS, outcomes=pd.DataFrame(
            {"student_id": ["a"], "time": times, "outcome": ["w"]}))


@pytest.mark.parametrize("ids", [
    [2**64], [2**63], [-(2**63) - 1],
    np.array([2**64 - 1], dtype="uint64"),  # used to become -1 silently
    pd.array([2**64 - 1], dtype="UInt64"),
])
def test_ids_beyond_int64_are_schema_errors(ids):
    with pytest.raises(SchemaError, match=re.escape(_checks.ID_RANGE)):
        EventTables(students=pd.DataFrame({"student_id": ids}))


def test_float_ids_beyond_exact_integers_are_schema_errors():
    with pytest.raises(SchemaError, match=re.escape(_checks.ID_FLOAT_RANGE)):
        EventTables(students=pd.DataFrame({"student_id": [1e17]}))


def test_largest_int64_id_is_kept_exactly():
    t = EventTables(students=pd.DataFrame({"student_id": np.array([2**63 - 1], dtype="uint64")}))
    assert t.students["student_id"].tolist() == [2**63 - 1]


@pytest.mark.parametrize("ids", [[""], ["  "], ["a", ""], ["\t"]])
def test_empty_text_ids_are_schema_errors(ids):
    with pytest.raises(SchemaError, match=r"students\.student_id \[not-empty\]"):
        EventTables(students=pd.DataFrame({"student_id": ids}))
    events = _events(student_id=ids)
    with pytest.raises(SchemaError, match=r"\[not-empty\]"):
        EventTables(students=pd.DataFrame({"student_id": ["a", *ids]}).drop_duplicates(),
                    events=events)


@pytest.mark.parametrize("values", [[[1], 2], [{"a": 1}], [1 + 2j], [complex(1, 0), 2.0],
                                    np.array([1 + 0j, 2 + 0j]), [(1, 2)], [{1}]])
def test_values_that_are_not_real_numbers_are_schema_errors(values):
    with pytest.raises(SchemaError, match=r"events\.value \[numeric\]: `value` must hold real"):
        EventTables(students=STUDENTS, events=_events(value=list(values)))


def test_real_values_in_any_form_are_kept():
    t = EventTables(students=STUDENTS, events=_events(
        value=["3.5", 2, None, np.float32(0.5), True, decimal.Decimal("1.25")]))
    assert t.events["value"].tolist()[:2] == [3.5, 2.0]
    assert np.isnan(t.events["value"].iloc[2])
    assert t.events["value"].tolist()[3:] == [0.5, 1.0, 1.25]


# ------------------------------------------------------- 12.18: grids and horizons in range
def test_grid_from_1700_or_to_2300_names_the_allowed_range():
    for key, kw in (("start", {"start": "1700-01-01"}), ("end", {"end": "2300-01-01"})):
        with pytest.raises(ConfigError, match=re.escape(_time.DATE_OUT_OF_RANGE.format(key=key))):
            make_grid(TABLES, per="cohort", **kw)


@pytest.mark.parametrize("per", ["cohort", "enrolment"])
def test_a_grid_too_large_to_allocate_is_a_config_error(per):
    tables = EventTables(students=pd.DataFrame({"student_id": ["a", "b"],
                                                "term_start": [0.0, 0.0],
                                                "term_end": [1e12, 1e12]}))
    with pytest.raises(ConfigError, match=r"every: the grid would have [\d,]+ rows, more than"):
        make_grid(tables, start=0.0, end=1e12, every=1, per=per)
    dates = EventTables(students=pd.DataFrame({"student_id": ["a"]}), time_kind="datetime")
    with pytest.raises(ConfigError, match="the grid would have"):
        make_grid(dates, start="1900-01-01", end="2149-12-31", every=pd.Timedelta(seconds=1),
                  per="cohort")


# ------------------------------------------------------ 12.20: events of 1e308 (features part)
def test_events_of_1e308_give_a_finite_mean_and_spread():
    from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec

    events = _events(time=[1.0, 2.0, 3.0], value=[1e308, 1e308, -1e308])
    tables = EventTables(students=STUDENTS, events=events)
    spec = FeatureSpec([EventFeatures(kinds="quiz", aggregates=("mean", "std", "sum"),
                                      windows=("all",))])
    grid = pd.DataFrame({"student_id": ["a"], "as_of": [10.0]})
    X = FeatureBuilder(spec).fit_transform(tables, grid)
    row = X.iloc[0]
    mean = next(c for c in X.columns if "mean" in c)
    std = next(c for c in X.columns if "std" in c)
    total = next(c for c in X.columns if "sum" in c)
    assert row[mean] == pytest.approx(1e308 / 3, rel=1e-12)  # was inf: the sum overflowed
    assert np.isfinite(row[std]) and row[std] == pytest.approx(1.1547005383792515e308, rel=1e-12)
    assert row[total] == 1e308


def test_simulated_campus_start_out_of_range_is_a_config_error():
    from studentprofile.datasets import simulate_campus

    with pytest.raises(ConfigError, match=re.escape(_time.DATE_OUT_OF_RANGE.format(key="start"))):
        simulate_campus(n_students=5, days=30, start="2300-01-01")
