"""The alert log: idempotent, atomic, append-only, crash-safe, concurrent; lifecycle rules;
assignments; migrations; exports. On SQLite and on a real PostgreSQL server (one per module, a
fresh schema per test)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _pg_server import postgres_server
from studentprofile.errors import ConfigError, DataIntegrityError, SchemaError
from studentprofile.warning import AlertLog, AlertPolicy
from studentprofile.warning._db import Migration, engine_for, ensure_schema

SRC = str(Path(__file__).resolve().parents[1] / "src")
LEGACY = Path(__file__).resolve().parent / "data" / "alert_log_v0_1.sqlite"


def batch(as_of, students, score=0.8, tier="high"):
    return pd.DataFrame({
        "student_id": list(students),
        "as_of": [as_of] * len(students),
        "tier": [tier] * len(students),
        "score": [score] * len(students),
        "reasons": [[f"reason for {s}"] for s in students],
    })


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A new, empty alert log: a SQLite file, or a fresh schema of the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "alerts.sqlite")
    url = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with raw_connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.commit()
    return f"{url}?options=-csearch_path%3D{schema}"


def raw_connect(target):
    """The database driver itself, bypassing the library."""
    if "://" not in target:
        return sqlite3.connect(target)
    import psycopg
    import sqlalchemy as sa

    url = sa.engine.make_url(target)
    return psycopg.connect(host=url.host, port=url.port, user=url.username,
                           dbname=url.database, **dict(url.query))


@pytest.fixture
def log(target):
    with AlertLog(target) as lg:
        yield lg


def test_same_as_of_twice_adds_nothing(log):
    first = log.record_alerts(batch(30.0, ["ana", "ben", "cai"]))
    again = log.record_alerts(batch(30.0, ["ana", "ben", "cai"]))
    assert (first.n_new, first.n_existing) == (3, 0)
    assert (again.n_new, again.n_existing, again.n_conflicts) == (0, 3, 0)
    assert first.alert_ids == again.alert_ids
    assert len(log.alerts()) == 3
    assert len(log.history()) == 3  # one raised event each
    assert log.runs()["n_new"].tolist() == [3, 0]
    assert log.verify() == {"alerts": 3, "events": 3}


def test_a_partly_repeated_batch_adds_only_the_new_alerts(log):
    log.record_alerts(batch(30.0, ["ana", "ben"]))
    res = log.record_alerts(batch(30.0, ["ben", "cai"]))
    assert (res.n_new, res.n_existing) == (1, 1)
    assert sorted(log.alerts()["student_id"]) == ["ana", "ben", "cai"]


def test_policy_output_records_only_alert_rows_and_reasons(log):
    scores = pd.Series([0.9, 0.1], index=pd.MultiIndex.from_tuples(
        [("ana", 7.0), ("ben", 7.0)], names=["student_id", "as_of"]))
    out = AlertPolicy(tiers={"high": 0.5}).apply(
        scores, reasons=pd.Series([["low attendance"], ["x"]], index=scores.index))
    res = log.record_alerts(out)
    assert res.n_new == 1
    row = log.alerts().iloc[0]
    assert (row["student_id"], row["tier"], row["score"]) == ("ana", "high", 0.9)
    assert row["reasons"] == ["low attendance"]
    assert row["status"] == "raised"


@st.composite
def repeated_batches(draw):
    students = ["ana", "ben", "cai", "dan"]
    batches = []
    for _ in range(draw(st.integers(1, 6))):
        as_of = draw(st.sampled_from([0.0, 7.0, 14.0]))
        who = draw(st.lists(st.sampled_from(students), unique=True, max_size=4))
        batches.append((as_of, who))
        if draw(st.booleans()):
            batches.append((as_of, who))  # a re-run
    return batches


@given(repeated_batches())
def test_never_lost_never_duplicated(batches):
    with AlertLog(":memory:") as log:
        for as_of, who in batches:
            # the score is a function of (student, date): re-runs agree with earlier runs
            b = batch(as_of, who)
            b["score"] = [hash((s, as_of)) % 97 / 100 for s in who]
            log.record_alerts(b)
        expected = {(s, a) for a, who in batches for s in who}
        got = log.alerts()
        assert len(got) == len(expected)
        assert set(zip(got["student_id"], got["as_of"], strict=True)) == expected
        log.verify()


def test_conflicting_rerun_is_refused_whole(log):
    log.record_alerts(batch(30.0, ["ana"], score=0.8))
    changed = pd.concat([batch(30.0, ["ana"], score=0.6), batch(30.0, ["ben"])],
                        ignore_index=True)
    with pytest.raises(DataIntegrityError, match="already holds different alerts"):
        log.record_alerts(changed)
    # nothing of the refused batch was written, not even ben
    assert log.alerts()["student_id"].tolist() == ["ana"]
    assert len(log.runs()) == 1
    kept = log.record_alerts(changed, on_conflict="keep")
    assert (kept.n_new, kept.n_conflicts) == (1, 1)
    assert log.alerts().set_index("student_id").loc["ana", "score"] == 0.8
    # another source is another alert
    assert log.record_alerts(batch(30.0, ["ana"]), source="abc").n_new == 1


def test_lifecycle_in_order_and_retries_are_idempotent(log):
    aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
    log.acknowledge(aid, time=31.0, staff="kim")
    log.acknowledge(aid, time=31.0, staff="kim")  # a retried call
    log.record_action(aid, time=32.0, staff="kim", action="call")
    log.record_action(aid, time=35.0, staff="kim", action="meeting", note="plan agreed")
    log.resolve(aid, time=50.0, staff="kim", resolution="back on track")
    hist = log.history()
    assert hist["status"].tolist() == ["raised", "acknowledged", "action", "action", "resolved"]
    assert log.alerts()["status"].tolist() == ["resolved"]
    iv = log.interventions()
    assert iv[["student_id", "time", "action", "staff"]].values.tolist() == [
        ["ana", 32.0, "call", "kim"], ["ana", 35.0, "meeting", "kim"]]
    assert log.verify() == {"alerts": 1, "events": 5}


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ([("action", 31.0, "call")], "an alert that is 'raised' can move to acknowledged"),
        ([("resolved", 31.0, None)], "an alert that is 'raised' can move to acknowledged"),
        ([("acknowledged", 31.0, None), ("resolved", 32.0, None), ("action", 33.0, "call")],
         r"can move to nothing \(the alert is resolved\)"),
        ([("acknowledged", 29.0, None)], "cannot be earlier than the alert's previous event"),
        ([("acknowledged", 31.0, None), ("action", 32.0, None)], "needs the action's name"),
        ([("raised", 31.0, None)], "status must be 'acknowledged', 'action' or 'resolved'"),
    ],
)
def test_lifecycle_rules(log, events, match):
    aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
    rows = [{"alert_id": aid, "status": s, "time": t, "staff": "kim", "action": a}
            for s, t, a in events]
    with pytest.raises(ConfigError, match=match):
        log.record_events(rows)
    # the batch is atomic: nothing of it was written
    assert log.history()["status"].tolist() == ["raised"]


def test_unknown_alert_and_bad_inputs(log):
    with pytest.raises(ConfigError, match="no such alert in the log"):
        log.acknowledge("nope", time=1.0, staff="kim")
    with pytest.raises(SchemaError, match="need alert_id, status, time and staff"):
        log.record_events([{"alert_id": "x", "status": "action"}])
    with pytest.raises(SchemaError, match="keyed by `student_id` and `as_of`"):
        log.record_alerts(pd.DataFrame({"student_id": ["a"]}))
    with pytest.raises(ConfigError, match="on_conflict must be"):
        log.record_alerts(batch(1.0, ["a"]), on_conflict="overwrite")


def test_one_kind_of_time_and_id_per_log(log):
    log.record_alerts(batch(30.0, ["ana"]))
    with pytest.raises(SchemaError, match="holds one kind of time"):
        log.record_alerts(batch(pd.Timestamp("2024-01-01"), ["ben"]))
    with pytest.raises(SchemaError, match="holds one type of student id"):
        log.record_alerts(batch(31.0, [7]))


def test_datetimes_round_trip(target):
    with AlertLog(target) as log:
        when = pd.Timestamp("2024-03-04 09:30")
        aid = log.record_alerts(batch(when, [11, 12])).alert_ids[0]
        log.acknowledge(aid, time=pd.Timestamp("2024-03-05"), staff="kim")
        log.record_action(aid, time="2024-03-06T10:00", staff="kim", action="email")
        alerts = log.alerts()
        assert alerts["as_of"].tolist() == [when, when]
        assert alerts["time"].dtype.kind == "M"
        assert alerts["student_id"].tolist() == [11, 12]
        assert log.interventions()["time"].tolist() == [pd.Timestamp("2024-03-06 10:00")]
        with pytest.raises(ConfigError, match="earlier than"):
            log.acknowledge(log.alerts()["alert_id"].iloc[1], time=pd.Timestamp("2024-03-01"),
                            staff="kim")


def test_the_same_alert_has_the_same_id_on_every_database(target):
    with AlertLog(":memory:") as mem, AlertLog(target) as log:
        assert (log.record_alerts(batch(30.0, ["ana", "007"])).alert_ids
                == mem.record_alerts(batch(30.0, ["ana", "007"])).alert_ids)
        pd.testing.assert_frame_equal(log.alerts().drop(columns="run_id"),
                                      mem.alerts().drop(columns="run_id"))


APPEND_ONLY_SQL = ("UPDATE alerts SET score = 0.1", "DELETE FROM alerts",
                   "UPDATE lifecycle SET status = 'resolved'", "DELETE FROM lifecycle",
                   "DELETE FROM runs", "UPDATE meta SET value = 'float'",
                   "UPDATE assignments SET staff_id = 'eve'", "DELETE FROM assignments",
                   "DELETE FROM sp_schema_versions")


def test_the_database_refuses_updates_and_deletes(target):
    with AlertLog(target) as log:
        aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
        log.record_assignments([{"alert_id": aid, "staff_id": "kim"}], time=30.0)
    sql = list(APPEND_ONLY_SQL)
    if "://" in target:
        sql += ["TRUNCATE alerts CASCADE", "TRUNCATE sp_schema_versions"]
    conn = raw_connect(target)  # the driver itself: no library code between us and the table
    try:
        for stmt in sql:
            with pytest.raises(Exception, match="append-only") as err:
                conn.execute(stmt)
            assert type(err.value).__name__ in ("IntegrityError", "IntegrityConstraintViolation")
            conn.rollback()
    finally:
        conn.close()
    with AlertLog(target) as log:  # reopening keeps everything
        assert len(log.alerts()) == 1 and len(log.assignments()) == 1
        assert log.verify() == {"alerts": 1, "events": 1}


def test_verify_names_a_dropped_trigger(target):
    AlertLog(target).close()
    conn = raw_connect(target)
    conn.execute("DROP TRIGGER lifecycle_no_update" if "://" not in target
                 else "DROP TRIGGER lifecycle_no_change ON lifecycle")
    conn.commit()
    conn.close()
    with AlertLog(target) as log, pytest.raises(DataIntegrityError,
                                                match="append-only triggers are missing"):
        log.verify()


def test_reopened_log_keeps_idempotence(target):
    with AlertLog(target) as log:
        log.record_alerts(batch(30.0, ["ana", "ben"]))
    with AlertLog(target) as log:
        assert log.record_alerts(batch(30.0, ["ana", "ben"])).n_new == 0


def test_schema_version_is_checked(tmp_path):
    path = tmp_path / "a.sqlite"
    AlertLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER meta_no_delete")
    conn.execute("DELETE FROM meta WHERE key = 'schema_version'")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    conn.commit()
    conn.close()
    with pytest.raises(DataIntegrityError, match="incompatible version"):
        AlertLog(path)


def test_a_newer_schema_version_is_refused_and_left_alone(target):
    AlertLog(target).close()
    conn = raw_connect(target)
    conn.execute("INSERT INTO sp_schema_versions VALUES ('alert_log', 3, 'from the future', "
                 "'2030-01-01', '9.0')")
    conn.commit()
    conn.close()
    with pytest.raises(DataIntegrityError, match="written by a newer version") as err:
        AlertLog(target)
    assert "schema version 3" in str(err.value) and "knows 2" in str(err.value)


# ------------------------------------------------------------------------- assignments

def test_assignments_are_recorded_idempotent_and_kept_as_history(log):
    ids = log.record_alerts(batch(30.0, ["ana", "ben"])).alert_ids
    caseload = pd.DataFrame({"alert_id": ids, "advisor_id": ["kim", "lee"],
                             "status": ["assigned", "assigned"]})  # assign_caseloads' names
    assert log.record_assignments(caseload, time=30.0, by="weekly") == 2
    assert log.record_assignments(caseload, time=30.0, by="weekly") == 0  # a retry
    # ana moves to lee, and gets a tutor; the first assignment stays in the history
    assert log.record_assignments(
        [{"alert_id": ids[0], "staff_id": "lee", "time": 32.0, "by": "kim"},
         {"alert_id": ids[0], "staff_id": "tom", "role": "tutor", "time": 32.0}]) == 2
    every = log.assignments()
    assert every[["student_id", "staff_id", "role", "time", "by"]].values.tolist() == [
        ["ana", "kim", "advisor", 30.0, "weekly"], ["ben", "lee", "advisor", 30.0, "weekly"],
        ["ana", "lee", "advisor", 32.0, "kim"], ["ana", "tom", "tutor", 32.0, None]]
    now = log.assignments(current=True)
    assert sorted(zip(now["student_id"], now["role"], now["staff_id"], strict=True)) == [
        ("ana", "advisor", "lee"), ("ana", "tutor", "tom"), ("ben", "advisor", "lee")]


def test_assignment_errors_write_nothing(log):
    aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
    with pytest.raises(ConfigError, match="no such alert in the log"):
        log.record_assignments([{"alert_id": aid, "staff_id": "kim"},
                                {"alert_id": "nope", "staff_id": "kim"}], time=30.0)
    with pytest.raises(SchemaError, match="every assignment names a staff member"):
        log.record_assignments(pd.DataFrame({"alert_id": [aid], "advisor_id": [None]}),
                               time=30.0)
    with pytest.raises(SchemaError, match="every assignment has a time"):
        log.record_assignments([{"alert_id": aid, "staff_id": "kim"}])
    with pytest.raises(ConfigError, match="cannot be assigned before it was raised"):
        log.record_assignments([{"alert_id": aid, "staff_id": "kim"}], time=29.0)
    with pytest.raises(SchemaError, match="need alert_id and staff_id"):
        log.record_assignments(pd.DataFrame({"student_id": ["ana"], "staff_id": ["kim"]}))
    assert log.assignments().empty


# ------------------------------------------------------------------------- migrations

def _rows(path, table):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_a_0_1_file_opens_and_is_migrated_in_one_step(tmp_path):
    """tests/data/alert_log_v0_1.sqlite was written by studentprofile 0.1 (main at 86849ee)."""
    path = tmp_path / "alerts.sqlite"
    shutil.copy(LEGACY, path)
    before = {t: _rows(path, t) for t in ("meta", "alerts", "lifecycle", "runs")}
    with AlertLog(path) as log:
        alerts = log.alerts()
        assert alerts["student_id"].tolist() == ["000123", "王小明", "ana", "000123"]
        assert alerts["status"].tolist() == ["action", "acknowledged", "raised", "raised"]
        assert alerts["alert_id"].iloc[0] == "5c4a1d2c8deaac579d873a14"  # ids unchanged
        assert log.verify() == {"alerts": 4, "events": 7}
        # the same alert again is recognised: idempotence survives the migration
        again = batch(30.0, ["ana"], score=0.7, tier="high")
        again["reasons"] = [[]]
        assert log.record_alerts(again).n_existing == 1
        assert log.record_assignments([{"alert_id": alerts["alert_id"].iloc[0],
                                        "staff_id": "kim"}], time=30.0) == 1
    assert {t: _rows(path, t) for t in ("meta", "alerts", "lifecycle")} == {
        t: before[t] for t in ("meta", "alerts", "lifecycle")}  # nothing existing changed
    assert _rows(path, "runs")[:2] == before["runs"]
    versions = _rows(path, "sp_schema_versions")
    assert [(c, v) for c, v, *_ in versions] == [("alert_log", 1), ("alert_log", 2)]
    with AlertLog(path) as log:  # opening a migrated file writes nothing more
        assert len(_rows(path, "sp_schema_versions")) == 2
        assert len(log.assignments()) == 1


def test_a_0_1_file_opened_read_only_is_read_and_not_migrated(tmp_path):
    path = tmp_path / "alerts.sqlite"
    shutil.copy(LEGACY, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with AlertLog(path, read_only=True) as log:
        assert len(log.alerts()) == 4 and log.verify() == {"alerts": 4, "events": 7}
        assert log.assignments().empty
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_stores_share_one_database_and_one_version_table(target):
    engine = engine_for(target)
    try:
        # a sibling store (e.g. the cases) creates its tables first, through the same runner
        steps = [Migration(1, "cases", lambda c: c.exec_driver_sql(
            "CREATE TABLE cases (case_id TEXT PRIMARY KEY)"))]
        assert ensure_schema(engine, "cases", steps) == 1
        with AlertLog(engine) as log:
            assert log.engine is engine
            log.record_alerts(batch(30.0, ["ana"]))
        with engine.connect() as conn:  # the log left the shared engine open
            rows = conn.exec_driver_sql(
                "SELECT component, version FROM sp_schema_versions ORDER BY component, version")
            assert [tuple(r) for r in rows] == [("alert_log", 1), ("alert_log", 2), ("cases", 1)]
    finally:
        engine.dispose()


def test_url_masks_the_password(pg_url):
    with_pw = pg_url.replace("://sp@", "://sp:s3cret-pw@")  # trust auth ignores it
    with AlertLog(with_pw) as log:
        assert log.url == pg_url.replace("://sp@", "://sp:***@")
        assert "s3cret-pw" not in log.url + log.path + repr(log.engine.url)


def test_path_is_a_deprecated_alias_of_target(tmp_path):
    with pytest.warns(FutureWarning, match="renamed AlertLog"):
        log = AlertLog(path=tmp_path / "a.sqlite")
    log.close()
    assert log.url == f"sqlite:///{tmp_path / 'a.sqlite'}"


def test_exports_fit_the_evaluation_tables(log):
    aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
    log.acknowledge(aid, time=31.0, staff="kim")
    log.record_action(aid, time=33.0, staff="kim", action="call")
    iv = log.interventions()
    assert list(iv.columns[:4]) == ["student_id", "time", "action", "staff"]
    al = log.alerts()
    assert {"student_id", "time", "score"} <= set(al.columns)
    try:
        from studentprofile.evaluation import platform_outcomes
    except ImportError:  # evaluation not merged yet: the column check above stands
        return
    p = platform_outcomes(al[["student_id", "time", "score"]], iv)
    assert p.per_student["days_to_contact"].tolist() == [3.0]


# ------------------------------------------------------------------------- crash safety

CRASH_SCRIPT = textwrap.dedent("""
    import os, sys
    import pandas as pd
    sys.path.insert(0, {src!r})
    import studentprofile.warning._alert_log as m

    original = m._alert_rows

    def dying(*args, **kwargs):
        for i, row in enumerate(original(*args, **kwargs)):
            if i == {die_after}:
                os._exit(17)  # the process dies half-way through the batch
            yield row

    m._alert_rows = dying
    m._CHUNK = 10  # rows go to the database 10 at a time: two chunks are written, then death
    log = m.AlertLog({path!r})
    frame = pd.DataFrame({{"student_id": [f"s{{i}}" for i in range(50)], "as_of": 60.0,
                          "tier": "high", "score": 0.9, "reasons": [["r"]] * 50}})
    log.record_alerts(frame)
""")


def test_a_writer_killed_mid_batch_leaves_no_trace(target):
    path = target
    with AlertLog(path) as log:
        log.record_alerts(batch(30.0, ["ana", "ben"]))
    script = CRASH_SCRIPT.format(src=SRC, path=path, die_after=25)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 17, proc.stderr
    with AlertLog(path) as log:
        assert log.verify() == {"alerts": 2, "events": 2}  # the half batch was rolled back
        frame = pd.DataFrame({"student_id": [f"s{i}" for i in range(50)], "as_of": 60.0,
                              "tier": "high", "score": 0.9, "reasons": [["r"]] * 50})
        assert log.record_alerts(frame).n_new == 50  # the re-run completes it
        assert log.record_alerts(frame).n_new == 0
        assert log.verify() == {"alerts": 52, "events": 52}


LOOP_SCRIPT = textwrap.dedent("""
    import sys
    import pandas as pd
    sys.path.insert(0, {src!r})
    from studentprofile.warning import AlertLog
    log = AlertLog({path!r})
    for day in range(10_000):
        frame = pd.DataFrame({{"student_id": [f"s{{i}}" for i in range(40)],
                              "as_of": float(day), "tier": "high", "score": 0.5,
                              "reasons": [["r"]] * 40}})
        log.record_alerts(frame)
        print(day, flush=True)
""")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_at_an_arbitrary_moment_keeps_every_batch_whole(target):
    path = target
    with subprocess.Popen([sys.executable, "-c", LOOP_SCRIPT.format(src=SRC, path=path)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            for _ in range(5):  # let a few batches commit, then kill it while it writes more
                proc.stdout.readline()
            time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
    with AlertLog(path) as log:
        counts = log.alerts().groupby("as_of").size()
        assert len(counts) >= 5
        assert (counts == 40).all()  # every batch is all or nothing
        log.verify()
        runs = log.runs()
        assert runs["n_new"].sum() == counts.sum()


def test_reasons_are_stored_as_json_text(target):
    with AlertLog(target) as log:
        log.record_alerts(batch(1.0, ["ana"]))
    conn = raw_connect(target)
    (text,) = conn.execute("SELECT reasons FROM alerts").fetchone()
    conn.close()
    assert json.loads(text) == ["reason for ana"]


def test_no_student_ids_in_logs(log, caplog):
    caplog.set_level("DEBUG", logger="studentprofile")
    aid = log.record_alerts(batch(1.0, ["secret-student-42"])).alert_ids[0]
    log.acknowledge(aid, time=2.0, staff="kim")
    assert caplog.records
    assert all("secret-student-42" not in r.getMessage() for r in caplog.records)
    assert np.all([aid not in r.getMessage() for r in caplog.records])


# ------------------------------------------------------------------------- concurrency

def test_concurrent_writers_lose_nothing_and_duplicate_nothing(target):
    """Four writers, each with its own connection, open a new log at once, record overlapping
    batches and race to acknowledge the same alerts."""
    n_writers, days, students = 4, 3, [f"s{i:03d}" for i in range(30)]
    barrier = threading.Barrier(n_writers)
    results, errors = [], []

    def writer(k):
        try:
            barrier.wait()
            with AlertLog(target) as log:
                for day in range(days):
                    # writer k offers a shifted half of the students: batches overlap
                    who = students[(k * 7) % 30:] + students[:(k * 7) % 30]
                    results.append(log.record_alerts(batch(float(day), who[:20])))
                    barrier.wait()  # everyone has written this day: race on the acks
                    raised = log.alerts(status="raised")
                    for aid in raised.loc[raised["as_of"] == day, "alert_id"]:
                        try:
                            log.acknowledge(aid, time=day + 0.5, staff=f"staff{k}")
                        except ConfigError as exc:  # another writer acknowledged it first
                            assert "can move to" in str(exc)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    with AlertLog(target) as log:
        alerts, hist, runs = log.alerts(), log.history(), log.runs()
        expected = {(s, float(d)) for d in range(days) for k in range(n_writers)
                    for s in (students[(k * 7) % 30:] + students[:(k * 7) % 30])[:20]}
        assert len(alerts) == len(expected)
        assert set(zip(alerts["student_id"], alerts["as_of"], strict=True)) == expected
        assert runs["n_new"].sum() == len(alerts) == sum(r.n_new for r in results)
        assert sum(r.n_existing for r in results) == sum(r.n_rows for r in results) - len(alerts)
        acks = hist[hist["status"] == "acknowledged"]
        assert not acks["alert_id"].duplicated().any()  # exactly one writer won each race
        assert set(acks["alert_id"]) == set(alerts["alert_id"])
        assert log.verify() == {"alerts": len(alerts), "events": 2 * len(alerts)}
    conn = raw_connect(target)
    try:
        versions = conn.execute("SELECT component, version FROM sp_schema_versions").fetchall()
    finally:
        conn.close()
    assert sorted(versions) == [("alert_log", 1), ("alert_log", 2)]  # created once


# ------------------------------------------------------------------------- the database refuses

def test_a_write_the_database_refuses_as_read_only_is_an_output_error(target):
    """Not the library's own read_only guard: the database's (SQLite mode=ro, PostgreSQL
    read-only transactions) refusal arrives typed, and nothing is written."""
    from studentprofile.errors import OutputError
    from studentprofile.warning._alert_log import READ_ONLY

    with AlertLog(target) as log:
        log.record_alerts(batch(30.0, ["ana"]))
        log.engine.dispose()
        log.engine = engine_for(target, read_only=True)
        with pytest.raises(OutputError, match=READ_ONLY) as err:
            log.record_alerts(batch(31.0, ["ben"]))
        assert ("SQLITE_READONLY" if "://" not in target else "25006") in str(err.value)
        assert log.alerts()["student_id"].tolist() == ["ana"]


def test_a_campus_table_in_the_way_is_refused_and_left_alone(pg_url):
    """A shared campus database whose schema already has a table called `alerts`."""
    from studentprofile.warning._alert_log import NOT_A_LOG

    schema = f"t_{uuid.uuid4().hex[:12]}"
    target = f"{pg_url}?options=-csearch_path%3D{schema}"
    with raw_connect(pg_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.alerts (id int, message text)")
        conn.execute(f"INSERT INTO {schema}.alerts VALUES (1, 'fire drill at 10')")
        conn.commit()
    with pytest.raises(DataIntegrityError, match=NOT_A_LOG) as err:
        AlertLog(target)
    assert "already exists" in str(err.value)
    with raw_connect(pg_url) as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = %s", (schema,)).fetchall()
        rows = conn.execute(f"SELECT * FROM {schema}.alerts").fetchall()
    assert tables == [("alerts",)]  # the whole schema creation was rolled back
    assert rows == [(1, "fire drill at 10")]


def test_wal_is_opt_in_through_a_shared_engine(tmp_path):
    path = tmp_path / "alerts.sqlite"
    with AlertLog(path) as log:  # the default keeps 0.1's rollback journal
        log.record_alerts(batch(30.0, ["ana"]))
    assert _rows(path, "pragma_journal_mode") == [("delete",)]
    engine = engine_for(path, wal=True)
    try:
        with AlertLog(engine) as log:
            log.record_alerts(batch(31.0, ["ana"]))
            assert len(log.alerts()) == 2
    finally:
        engine.dispose()
    assert _rows(path, "pragma_journal_mode") == [("wal",)]


def test_a_service_role_with_select_and_insert_only(pg_url):
    """The deployment the docs advise: the owner creates the log once; the service writes as a
    role that may SELECT and INSERT, and can neither change a row nor drop a trigger."""
    from studentprofile.errors import OutputError
    from studentprofile.warning._alert_log import READ_ONLY

    schema, role = f"t_{uuid.uuid4().hex[:12]}", f"svc_{uuid.uuid4().hex[:8]}"
    owner = f"{pg_url}?options=-csearch_path%3D{schema}"
    service = owner.replace("://sp@", f"://{role}@")
    with raw_connect(pg_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.commit()
    with pytest.raises(OutputError, match=READ_ONLY) as err:  # the service cannot create it
        AlertLog(service)
    assert "open it once as the owner" in str(err.value)
    AlertLog(owner).close()
    with raw_connect(pg_url) as conn:
        conn.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
        conn.commit()
    with AlertLog(service) as log:
        aid = log.record_alerts(batch(30.0, ["ana"])).alert_ids[0]
        log.record_assignments([{"alert_id": aid, "staff_id": "kim"}], time=30.0)
        log.acknowledge(aid, time=31.0, staff="kim")
        assert log.verify() == {"alerts": 1, "events": 2}
    conn = raw_connect(service)
    try:
        for stmt in ("UPDATE alerts SET score = 0", "DELETE FROM lifecycle",
                     "DROP TRIGGER alerts_no_change ON alerts", "DROP TABLE runs"):
            with pytest.raises(Exception, match="permission denied|must be owner"):
                conn.execute(stmt)
            conn.rollback()
    finally:
        conn.close()


def test_a_writer_held_up_too_long_gets_a_typed_error_and_writes_nothing(target, monkeypatch):
    """Another process holds the log's write lock (SQLite's, or the PostgreSQL advisory lock)
    for longer than the busy timeout (30 s; 1 s here)."""
    from studentprofile.errors import OutputError
    from studentprofile.warning import _db
    from studentprofile.warning._alert_log import NOT_WRITTEN

    monkeypatch.setattr(_db, "_BUSY_SECONDS", 1.0)
    with AlertLog(target) as log:
        log.record_alerts(batch(30.0, ["ana"]))
        holder = raw_connect(target)
        try:
            if "://" not in target:
                holder.isolation_level = None
                holder.execute("BEGIN IMMEDIATE")
            else:
                holder.execute("SELECT pg_advisory_xact_lock(%s)", (_db._lock_key("alert_log"),))
            with pytest.raises(OutputError, match=NOT_WRITTEN) as err:
                log.record_alerts(batch(31.0, ["ben"]))
            assert ("SQLITE_BUSY" if "://" not in target else "55P03") in str(err.value)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert log.alerts()["student_id"].tolist() == ["ana"]
        assert log.record_alerts(batch(31.0, ["ben"])).n_new == 1  # the lock is free again


def test_connections_the_server_dropped_are_replaced(pg_url):
    """A database restart between two weekly runs of a long-lived service."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with raw_connect(pg_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.commit()
    with AlertLog(f"{pg_url}?options=-csearch_path%3D{schema}") as log:
        log.record_alerts(batch(30.0, ["ana"]))
        with raw_connect(pg_url) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> "
                "pg_backend_pid() AND datname = current_database() AND "
                "backend_type = 'client backend'").fetchone()[0]
        assert killed >= 1
        assert log.record_alerts(batch(31.0, ["ben"])).n_new == 1
        assert len(log.alerts()) == 2


def test_a_nul_character_is_kept_by_sqlite_and_refused_typed_by_postgresql(target):
    """PostgreSQL's text type cannot hold NUL; SQLite stores ids exactly as given."""
    odd = "ana\x00x"
    with AlertLog(target) as log:
        if "://" not in target:
            aid = log.record_alerts(batch(30.0, [odd])).alert_ids[0]
            log.acknowledge(aid, time=31.0, staff="k\x00m")
            assert log.alerts()["student_id"].tolist() == [odd]
            assert log.history()["staff"].iloc[-1] == "k\x00m"
            return
        with pytest.raises(SchemaError, match=r"alerts.student_id \[no-nul\]"):
            log.record_alerts(batch(30.0, ["ben", odd]))
        aid = log.record_alerts(batch(30.0, ["ben"])).alert_ids[0]
        with pytest.raises(SchemaError, match=r"lifecycle.staff \[no-nul\]"):
            log.acknowledge(aid, time=31.0, staff="k\x00m")
        with pytest.raises(SchemaError, match=r"assignments.staff_id \[no-nul\]"):
            log.record_assignments([{"alert_id": aid, "staff_id": "k\x00m"}], time=30.0)
        assert log.verify() == {"alerts": 1, "events": 1}  # nothing of the refused calls
        # reasons are JSON text: a NUL in a reason is escaped, and comes back as it was
        b = batch(31.0, ["cai"])
        b["reasons"] = [["fell\x00off"]]
        log.record_alerts(b)
        assert log.alerts()["reasons"].iloc[-1] == ["fell\x00off"]
