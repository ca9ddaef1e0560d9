"""SQL sources, for real: a throw-away PostgreSQL server and SQLite files.

The simulated campus is written to each database and read back through ``read_sql``; the tables
and the features built from them must equal those built from the frames themselves.
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import studentprofile as sp
from _pg_server import postgres_server
from studentprofile.errors import ConfigError, SourceError
from studentprofile.features import (
    FeatureBuilder,
    academic_features,
    behavioral_features,
    make_grid,
    participation_features,
)
from studentprofile.io import expand_url, read_sql, safe_url
from studentprofile.labels import make_labels
from studentprofile.tables import EventTables


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def campus():
    tables = sp.datasets.simulate_campus(n_students=60, days=120, seed=5)
    students = tables.students.copy()
    # campus ids are text; give some leading zeros, which a number would lose
    ids = {sid: f"{i:06d}" for i, sid in enumerate(students["student_id"])}
    students["student_id"] = students["student_id"].map(ids)
    events = tables.events.copy()
    events["student_id"] = events["student_id"].map(ids)
    outcomes = tables.outcomes.copy()
    outcomes["student_id"] = outcomes["student_id"].map(ids)
    for frame in (students, events, outcomes):
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(object)
    return students, events, outcomes


def _store(url: str, campus, *, zone: str | None) -> None:
    students, events, outcomes = campus
    engine = sa.create_engine(url)
    try:
        ev = events.copy()
        if zone is not None:
            # timestamptz columns: the same instants, written in a campus's local zone
            for col in ("time", "known_at"):
                ev[col] = ev[col].dt.tz_localize("UTC").dt.tz_convert(zone)
        with engine.begin() as con:
            students.to_sql("students", con, index=False, if_exists="replace")
            ev.to_sql("events", con, index=False, if_exists="replace", chunksize=5000)
            outcomes.to_sql("outcomes", con, index=False, if_exists="replace")
    finally:
        engine.dispose()


def _read(url: str, chunksize: int = 997) -> EventTables:
    students = read_sql("select * from students order by student_id", url, source="sis")
    events = read_sql("select * from events", url, source="lms", chunksize=chunksize)
    outcomes = read_sql("select * from outcomes", url, source="registry")
    return EventTables(students=students, events=events, outcomes=outcomes)


def _features(tables: EventTables) -> pd.DataFrame:
    start = tables.students["term_start"].min()
    grid = make_grid(tables, every=14, start=start + pd.Timedelta(days=14),
                     end=start + pd.Timedelta(days=110))
    spec = academic_features() + behavioral_features() + participation_features()
    return FeatureBuilder(spec).fit_transform(tables, grid)


def _same_tables(got: EventTables, campus) -> None:
    students, events, outcomes = campus
    want = EventTables(students=students, events=events, outcomes=outcomes)
    key = ["student_id", "time", "kind", "value"]
    a = got.events.sort_values(key, kind="stable").reset_index(drop=True)
    b = want.events.sort_values(key, kind="stable").reset_index(drop=True)
    for col in ("student_id", "time", "known_at", "family", "kind", "value", "max_value"):
        assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col
    assert got.students["student_id"].tolist() == sorted(students["student_id"])
    assert got.students["student_id"].iloc[0] == "000000"  # leading zeros kept
    pd.testing.assert_frame_equal(_features(got), _features(want), check_exact=True)


def test_sqlite_source_gives_the_same_tables_and_features(tmp_path, campus):
    url = f"sqlite:///{tmp_path / 'campus.db'}"
    _store(url, campus, zone=None)
    _same_tables(_read(url), campus)


def test_postgres_source_gives_the_same_tables_and_features(pg_url, campus):
    _store(pg_url, campus, zone="Asia/Shanghai")
    engine = sa.create_engine(pg_url)
    with engine.connect() as con:
        kind = con.execute(sa.text(
            "select data_type from information_schema.columns "
            "where table_name = 'events' and column_name = 'time'")).scalar()
    engine.dispose()
    assert kind == "timestamp with time zone"
    got = _read(pg_url, chunksize=1000)
    _same_tables(got, campus)
    # the same model and the same scores from the database as from the frames
    students, events, outcomes = campus
    want = EventTables(students=students, events=events, outcomes=outcomes)
    scores = []
    for tables in (got, want):
        X = _features(tables)
        grid = X.index.to_frame(index=False)
        y = make_labels(tables, grid, outcome="withdrawn", horizon=60)
        keep = y.notna().to_numpy()
        model = sp.RiskModel(random_state=0).fit(X[keep], y[keep].astype(int))
        scores.append(model.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(scores[0], scores[1])


def test_postgres_url_from_environment_never_shown(pg_url, monkeypatch):
    monkeypatch.setenv("SP_TEST_CAMPUS_DB", pg_url)
    got = read_sql("select 1 as one, '007'::text as student_id", "${SP_TEST_CAMPUS_DB}")
    assert got.to_dict("records") == [{"one": 1, "student_id": "007"}]
    # wrong credentials: a typed error that names the source and holds no credential
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    bad = f"postgresql+psycopg://nosuchuser:Hunter2secret@{host_port}/campus"
    monkeypatch.setenv("SP_TEST_BAD_DB", bad)
    with pytest.raises(SourceError) as err:
        read_sql("select 1", "${SP_TEST_BAD_DB}", source="sis")
    text = str(err.value)
    assert "source 'sis'" in text and "cannot connect" in text
    assert "Hunter2secret" not in text and "nosuchuser" not in text


def test_postgres_query_errors_and_huge_results(pg_url):
    with pytest.raises(SourceError, match="the query failed") as err:
        read_sql("select * from no_such_table", pg_url, source="sis")
    assert "no_such_table" in str(err.value)
    with pytest.raises(SourceError, match="more than max_rows=10 rows"):
        read_sql("select g as student_id from generate_series(1, 1000) g", pg_url,
                 max_rows=10, chunksize=7)
    with pytest.raises(SourceError, match="same name"):
        read_sql("select 1 as a, 2 as a", pg_url)


def test_postgres_types_from_the_database(pg_url):
    got = read_sql(
        "select 12345678901234567::bigint as student_id, 1.5::numeric(4,2) as value, "
        "null::numeric as missing, timestamptz '2024-03-02 00:30+02' as time, "
        "timestamp '2024-03-01 22:30' as naive, 'Zoë'::text as name",
        pg_url,
    )
    row = got.iloc[0]
    assert row["student_id"] == "12345678901234567"  # never through a float
    assert got["value"].dtype == np.float64 and row["value"] == 1.5
    assert got["time"].dtype == "datetime64[ns]"
    assert row["time"] == row["naive"] == pd.Timestamp("2024-03-01 22:30")
    assert row["name"] == "Zoë"


def test_unreachable_server_and_bad_urls():
    with pytest.raises(SourceError, match="cannot connect") as err:
        read_sql("select 1", "postgresql+psycopg://u:TopSecret1@127.0.0.1:1/x")
    assert "TopSecret1" not in str(err.value)
    with pytest.raises(SourceError, match="could not be parsed"):
        read_sql("select 1", "not a url at all")
    with pytest.raises(SourceError, match="no SQLAlchemy dialect"):
        read_sql("select 1", "nosuchdb://u:p@h/d")
    os.environ.pop("SP_TEST_UNSET", None)
    with pytest.raises(SourceError, match="SP_TEST_UNSET named in the database URL is not set"):
        expand_url("${SP_TEST_UNSET}")
    with pytest.raises(ConfigError, match="needs a query"):
        read_sql("  ", "sqlite://")
    assert safe_url("postgresql://a:b@h:1/d?x=y") == "postgresql://h:1/d"


def test_sqlite_failure_returns_nothing_half_loaded(tmp_path):
    db = tmp_path / "half.db"
    with sqlite3.connect(db) as con:
        con.execute("create table t (student_id text, v real)")
        con.executemany("insert into t values (?, ?)", [(f"{i:04d}", i) for i in range(50)])
    got = read_sql("select * from t order by student_id", f"sqlite:///{db}", chunksize=8)
    assert len(got) == 50 and got["student_id"].iloc[3] == "0003"
    # abs() of a huge integer overflows on row 30: the whole read fails, nothing is returned
    with pytest.raises(SourceError, match="the query failed|reading the database"):
        read_sql("select student_id, case when v = 30 then abs(-9223372036854775808) "
                 "else v end as v from t", f"sqlite:///{db}", chunksize=8)


TRICKY = """
select * from (values
  ('0007'::text, 1::int, 2.50::numeric(6,2), true, 'plain'::text,
   date '2024-03-01', timestamptz '2024-03-02 00:30+02', timestamp '2024-03-01 22:30'),
  ('0008', null, null, false, '', null, null, null),
  ('0009', -3, 1e-7, null, 'a "quoted", comma
and a newline', date '2023-12-31', timestamptz '2023-12-31 23:59:59.999999-05',
   timestamp '2024-01-01 04:59:59.999999'),
  ('0010', 4, 12345.678, true, 'Zoë 张伟 =HYPERLINK()', date '2024-02-29',
   timestamptz '2024-02-29 12:00+00', timestamp '2024-02-29 12:00')
) as t(student_id, n, x, flag, note, day, at, naive)
"""


def test_postgres_copy_path_equals_the_row_path(pg_url):
    """COPY into Arrow and row-by-row fetching give the same frame, NULL and '' kept apart."""
    rows = read_sql(TRICKY, pg_url, method="rows")
    fast = read_sql(TRICKY, pg_url, method="copy")
    assert fast["student_id"].tolist() == ["0007", "0008", "0009", "0010"]
    assert fast["note"].iloc[1] == "" and fast["note"].iloc[2].endswith("and a newline")
    assert pd.isna(fast["x"].iloc[1]) and fast["x"].iloc[2] == 1e-7
    assert fast["at"].iloc[2] == pd.Timestamp("2024-01-01 04:59:59.999999")
    assert fast["at"].iloc[0] == fast["naive"].iloc[0]
    pd.testing.assert_frame_equal(fast, rows, check_dtype=False)
    for col in ("student_id", "n", "x", "at", "naive"):
        assert fast[col].dtype == rows[col].dtype, col
    with pytest.raises(ConfigError, match="needs PostgreSQL through psycopg"):
        read_sql("select 1", "sqlite://", method="copy")
