"""Cases on SQLite and a real PostgreSQL: opening, routing, the status machine, verdicts,
reassignment, the evaluation's column contracts, append-only enforcement, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import threading
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from _pg_server import postgres_server
from studentprofile.errors import ConfigError, DataIntegrityError, SchemaError, StateError
from studentprofile.warning import (
    CASE_COLUMNS,
    HISTORY_COLUMNS,
    VERDICT_COLUMNS,
    AlertLog,
    CaseStore,
    Routing,
    open_cases,
)
from studentprofile.warning._cases import ILLEGAL_TRANSITION, case_id_of

ROUTING = Routing(families={"academic": "tutor", "wellbeing": "counsellor",
                            "participation": "community_officer"},
                  kinds={"library_entry": "librarian"})
T0 = "2026-11-09 08:00"


def _reason(feature, family, kind, text="a sentence"):
    return {"sentence": text, "feature": feature, "family": family, "kind": kind,
            "contribution": 0.3}


def weekly_alerts(n=3, week=0):
    """The weekly job's alert frame: student_id, as_of, score, tier, reasons, alert_id."""
    ids = ["0042", "张伟", "=cmd()"][:n]
    return pd.DataFrame({
        "student_id": ids,
        "as_of": pd.Timestamp("2026-11-09") + pd.Timedelta(days=7 * week),
        "score": [0.91, 0.77, 0.55][:n],
        "tier": pd.Categorical(["high", "high", "medium"][:n],
                               categories=["medium", "high"], ordered=True),
        "reasons": [
            [_reason("score_mean_30d", "academic", "assessment_score"),
             _reason("counselling_90d", "wellbeing", "counselling_visit")],
            [_reason("library_30d", "behavioral", "library_entry")],
            ["Only a sentence, no code"],
        ][:n],
        "alert_id": [f"a-{week}-{i}" for i in range(n)],
    })


def staff_assignments():
    return pd.DataFrame({
        "student_id": ["0042", "0042", "张伟", "=cmd()"],
        "role": ["advisor", "tutor", "advisor", "advisor"],
        "staff_id": ["kim", "tutor1", "lee", None],
        "unit": ["north", "north", "south", None],
        "status": ["assigned", "assigned", "assigned", "no capacity left"],
    })


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A fresh, empty store target on each database."""
    if request.param == "sqlite":
        return str(tmp_path / "cases.sqlite")
    base = request.getfixturevalue("pg_url")
    name = "t" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    eng.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def store(target):
    with CaseStore(target) as s:
        yield s


def test_open_is_idempotent_routed_and_owned(store):
    res = store.open_cases(weekly_alerts(), routing=ROUTING, assignments=staff_assignments(),
                           first_contact_days=3, time=T0, model_version="run-45")
    assert (res.n_new, res.n_existing) == (3, 0)
    assert res.case_ids == [case_id_of(f"a-0-{i}") for i in range(3)]
    again = store.open_cases(weekly_alerts(), routing=ROUTING, assignments=staff_assignments())
    assert (again.n_new, again.n_existing, again.case_ids) == (0, 3, res.case_ids)
    cases = store.cases()
    assert tuple(cases.columns) == CASE_COLUMNS
    assert cases["student_id"].tolist() == ["0042", "张伟", "=cmd()"]  # ids as text, exactly
    assert cases["role"].tolist() == ["tutor", "librarian", "advisor"]  # kind beats family
    assert cases["owner"].tolist() == ["kim", "lee", None]
    assert cases["unit"].tolist() == ["north", "south", None]
    assert cases["reason_families"].tolist() == ["academic;wellbeing", "behavioral", ""]
    assert cases["reason_codes"].tolist() == ["score_mean_30d;counselling_90d", "library_30d", ""]
    assert cases["tier"].tolist() == ["high", "high", "medium"]
    assert cases["risk"].tolist() == [0.91, 0.77, 0.55]
    assert set(cases["model_version"]) == {"run-45"}
    assert (cases["status"] == "open").all()
    assert (cases["due_first_contact"] == pd.Timestamp("2026-11-12 08:00")).all()
    assert cases["first_contact_at"].isna().all() and cases["closed_at"].isna().all()
    assert cases["as_of"].tolist() == [pd.Timestamp("2026-11-09")] * 3
    # the tutor is an assignee of the first case (its first reason is academic)
    people = store.assignees(res.case_ids[0])
    assert people[["staff_id", "role", "as"]].values.tolist() == [
        ["kim", "advisor", "owner"], ["tutor1", "tutor", "assignee"]]
    assert store.for_staff("tutor1")["case_id"].tolist() == [res.case_ids[0]]
    hist = store.history(res.case_ids[0])
    assert tuple(hist.columns) == HISTORY_COLUMNS
    assert hist["seq"].tolist() == [1, 2, 3, 4]
    assert hist["event"].tolist() == ["opened", "assigned", "assigned", "due"]
    assert json.loads(hist["detail"].iloc[1]) == {"as": "owner", "previous": None,
                                                  "role": "advisor", "staff_id": "kim",
                                                  "unit": "north"}


def test_status_machine_and_illegal_transitions(store):
    cid = store.open_cases(weekly_alerts(1), time=T0).case_ids[0]
    with pytest.raises(StateError, match=r"case 'c-\w+' is 'open'; it cannot move to "
                                         r"'in_progress'(.|\n)*allowed from 'open': "
                                         r"\['contacted', 'closed'\]"):
        store.start(cid, staff="kim")
    store.contact(cid, staff="kim", time="2026-11-10 09:00", note="phoned")
    store.start(cid, staff="kim", time="2026-11-11")
    store.close_case(cid, staff="kim", time="2026-11-20")
    with pytest.raises(StateError, match="allowed from 'closed': \\['reopened'\\]"):
        store.contact(cid, staff="kim")
    store.reopen(cid, staff="lee", time="2026-11-25", note="missed the exam")
    store.contact(cid, staff="lee", time="2026-11-26")
    row = store.cases().iloc[0]
    assert row["status"] == "contacted"
    assert row["first_contact_at"] == pd.Timestamp("2026-11-10 09:00")  # the first, kept
    assert pd.isna(row["closed_at"])  # reopened
    store.close_case(cid, staff="lee", time="2026-11-30", verdict="useful", note="helped")
    row = store.cases().iloc[0]
    assert (row["status"], row["closed_at"]) == ("closed", pd.Timestamp("2026-11-30"))
    events = store.history(cid)
    assert events["event"].tolist() == ["opened", "due", "status", "note", "status", "status",
                                        "status", "note", "status", "status", "verdict"]
    assert events["staff"].tolist()[-4:] == ["lee", "lee", "lee", "lee"]
    assert ILLEGAL_TRANSITION.format(case_id=cid, status="open", to="x").startswith("case ")


def test_actions_need_staff_a_known_case_and_a_sane_time(store):
    cid = store.open_cases(weekly_alerts(1), time=T0).case_ids[0]
    with pytest.raises(ConfigError, match="acting staff member"):
        store.contact(cid, staff="  ")
    with pytest.raises(ConfigError, match="no case with this id"):
        store.contact("c-nope", staff="kim")
    with pytest.raises(ConfigError, match="before its case was opened"):
        store.contact(cid, staff="kim", time="2026-11-01")
    with pytest.raises(ConfigError, match="time must be a date and time"):
        store.contact(cid, staff="kim", time="next tuesday-ish")
    with pytest.raises(ConfigError, match="unknown verdict"):
        store.record_verdict(cid, "great", staff="kim")
    assert store.history(cid)["event"].tolist() == ["opened", "due"]  # nothing written


def test_verdicts_counted_and_a_retried_call_adds_nothing(store):
    ids = store.open_cases(weekly_alerts(), routing=ROUTING, time=T0).case_ids
    store.record_verdict(ids[0], "useful", staff="kim", time="2026-11-10", note="thanks")
    store.record_verdict(ids[0], "useful", staff="kim", time="2026-11-10", note="thanks")
    store.record_verdict(ids[1], "incorrectly_flagged", staff="lee", time="2026-11-10")
    store.record_verdict(ids[2], "student_declined", staff="lee", time="2026-11-11")
    v = store.verdicts()
    assert tuple(v.columns) == VERDICT_COLUMNS
    assert v["verdict"].tolist() == ["useful", "incorrectly_flagged", "student_declined"]
    assert v["note"].tolist() == ["thanks", None, None]
    assert store.counts()["verdicts"] == {"useful": 1, "not_useful": 0,
                                          "incorrectly_flagged": 1, "already_known": 0,
                                          "student_declined": 1}


def test_reassignment_keeps_the_history(store):
    cid = store.open_cases(weekly_alerts(1), assignments=staff_assignments(),
                           routing=ROUTING, time=T0).case_ids[0]
    store.assign(cid, "mo", role="advisor", owner=True, unit="south", staff="head",
                 time="2026-11-10", note="kim on leave")
    store.assign(cid, "dr_w", role="counsellor", staff="mo", time="2026-11-11")
    with pytest.raises(StateError, match="already assigned"):
        store.assign(cid, "dr_w", role="counsellor", staff="mo", time="2026-11-12")
    store.unassign(cid, "tutor1", staff="mo", time="2026-11-12")
    row = store.cases().iloc[0]
    assert (row["owner"], row["unit"]) == ("mo", "south")
    assert store.for_staff("kim").empty and store.for_staff("tutor1").empty
    assert store.for_staff("mo")["case_id"].tolist() == [cid]
    assert store.for_staff("dr_w")["case_id"].tolist() == [cid]
    hist = store.history(cid)
    owners = [json.loads(d) for e, d in zip(hist["event"], hist["detail"], strict=True)
              if e == "assigned" and json.loads(d)["as"] == "owner"]
    assert [(o["staff_id"], o["previous"]) for o in owners] == [("kim", None), ("mo", "kim")]
    assert "kim on leave" in hist["detail"].tolist()[-3]


def test_filters_overdue_and_status(store):
    ids = store.open_cases(weekly_alerts(), routing=ROUTING, assignments=staff_assignments(),
                           first_contact_days=2, time=T0).case_ids
    store.contact(ids[0], staff="kim", time="2026-11-10")
    late = store.cases(overdue=True, now="2026-11-12")
    assert late["case_id"].tolist() == ids[1:]
    assert store.cases(overdue=True, now="2026-11-10").empty
    assert store.cases(status="contacted")["case_id"].tolist() == [ids[0]]
    assert len(store.cases(status="active")) == 3
    assert store.cases(role="librarian")["case_id"].tolist() == [ids[1]]
    assert store.cases(unit="north", staff="kim")["case_id"].tolist() == [ids[0]]
    with pytest.raises(ConfigError, match="status must name case statuses"):
        store.cases(status="opne")


def test_the_database_refuses_update_and_delete(store, target):
    store.open_cases(weekly_alerts(1), time=T0)
    url = target if "://" in target else f"sqlite:///{target}"
    eng = sa.create_engine(url)
    try:
        for sql in ("UPDATE cases SET student_id = 'x'", "DELETE FROM case_events",
                    "UPDATE case_events SET staff = 'x'", "DELETE FROM cases"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), eng.begin() as conn:
                conn.exec_driver_sql(sql)
        if eng.dialect.name == "postgresql":
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), eng.begin() as conn:
                conn.exec_driver_sql("TRUNCATE case_events")
    finally:
        eng.dispose()
    assert store.history()["event"].tolist() == ["opened", "due"]


def _verdict_worker(args):
    target, case_ids, writer, n = args
    with CaseStore(target) as s:
        for i in range(n):
            s.record_verdict(case_ids[i % len(case_ids)], "useful", staff=f"w{writer}",
                             note=f"{writer}-{i}")
    return n


def test_concurrent_writers_lose_and_duplicate_nothing(store, target):
    ids = store.open_cases(weekly_alerts(), time=T0).case_ids
    n_threads, per = 8, 15
    errors: list[BaseException] = []

    def work(w):
        try:
            _verdict_worker((target, ids, w, per))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _assert_all_verdicts(store, range(n_threads), per)


def _assert_all_verdicts(store, writers, per):
    v = store.verdicts()
    expected = {f"{w}-{i}" for w in writers for i in range(per)}
    assert len(v) == len(expected) and set(v["note"]) == expected
    hist = store.history()
    assert not hist.duplicated(["case_id", "seq"]).any()
    for _, g in hist.groupby("case_id"):
        assert g["seq"].tolist() == list(range(1, len(g) + 1))  # no gaps, no repeats


def _verdicts_on_both(args):
    targets, case_ids, writer, n = args
    return [_verdict_worker((t, case_ids, writer, n)) for t in targets]


@pytest.mark.slow
def test_concurrent_processes_lose_and_duplicate_nothing(tmp_path, pg_url):
    """Processes (spawned: own interpreters, own connections) writing to SQLite and PostgreSQL."""
    targets = [str(tmp_path / "cases.sqlite"), pg_url]
    stores = [CaseStore(t) for t in targets]
    ids = [s.open_cases(weekly_alerts(), time=T0).case_ids for s in stores]
    assert ids[0] == ids[1]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        done = pool.map(_verdicts_on_both, [(targets, ids[0], w, 10) for w in range(3)])
    assert done == [[10, 10]] * 3
    for s in stores:
        _assert_all_verdicts(s, range(3), 10)
        s.close()


def test_racing_transitions_only_one_wins(store):
    cid = store.open_cases(weekly_alerts(1), time=T0).case_ids[0]
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def work(w):
        barrier.wait()
        try:
            store.contact(cid, staff=f"s{w}")
            outcomes.append("ok")
        except StateError:
            outcomes.append("refused")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    assert store.history(cid)["event"].tolist().count("status") == 1


def test_alerts_input_errors(store):
    good = weekly_alerts(1)
    with pytest.raises(SchemaError, match="alerts need alert_id"):
        store.open_cases(good.drop(columns="alert_id"))
    with pytest.raises(SchemaError, match="each alert_id appears once"):
        store.open_cases(pd.concat([good, good]))
    with pytest.raises(SchemaError, match="every alert needs an alert_id"):
        store.open_cases(good.assign(alert_id=[None]))
    with pytest.raises(SchemaError, match="`score` must be a number"):
        store.open_cases(good.assign(score=["high"]))
    store.open_cases(good, time=T0)
    with pytest.raises(DataIntegrityError, match="another student"):
        store.open_cases(good.assign(student_id=["someone else"]))
    assert len(store.cases()) == 1


def test_structured_reasons_from_explanations_shape(store):
    """Sentences in the frame, records passed apart (Explanations.reasons()' list of dicts)."""
    alerts = weekly_alerts(1).assign(reasons=[["Marks fell"]])
    records = [{"student_id": "0042", "as_of": pd.Timestamp("2026-11-09"),
                "reasons": [_reason("score_mean_30d", "academic", "assessment_score")]}]
    store.open_cases(alerts, routing=ROUTING, reasons=records, time=T0)
    row = store.cases().iloc[0]
    assert (row["role"], row["reason_codes"]) == ("tutor", "score_mean_30d")
    shown = store.show(row["case_id"])
    assert shown["reasons"][0]["feature"] == "score_mean_30d"


def test_float_day_alerts_and_the_alert_log_in_the_same_file(tmp_path):
    path = tmp_path / "ews.sqlite"
    log = AlertLog(path)
    alerts = pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [30.0, 30.0],
                           "tier": ["high", "high"], "score": [0.8, 0.6],
                           "reasons": [["Attendance fell"], ["Marks fell"]]})
    rec = log.record_alerts(alerts)
    logged = log.alerts()
    log.close()
    res = open_cases(path, logged, time=T0)
    assert res.n_new == 2 and rec.n_new == 2
    with CaseStore(path) as s:
        assert s.cases()["as_of"].tolist() == [30.0, 30.0]
    with AlertLog(path) as again:  # the alert log still opens the shared file
        assert len(again.alerts()) == 2


def test_store_targets(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no case store was given"):
        monkeypatch.delenv("STUDENTPROFILE_CASES_URL", raising=False)
        CaseStore()
    monkeypatch.setenv("STUDENTPROFILE_CASES_URL", str(tmp_path / "env.sqlite"))
    with CaseStore() as s:
        assert s.dialect == "sqlite"
    assert (tmp_path / "env.sqlite").is_file()
    with pytest.raises(ConfigError, match="holds no case store yet"):
        CaseStore(tmp_path / "typo.sqlite", create=False)
    assert not (tmp_path / "typo.sqlite").exists()
    foreign = tmp_path / "foreign.sqlite"
    eng = sa.create_engine(f"sqlite:///{foreign}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE cases (id INTEGER)")
        conn.exec_driver_sql("CREATE TABLE case_events (id INTEGER)")
        conn.exec_driver_sql("CREATE TABLE case_schema (key TEXT, value TEXT)")
    eng.dispose()
    with pytest.raises(DataIntegrityError, match="cannot read"):
        CaseStore(foreign)


def test_unreachable_server_hides_the_password():
    from studentprofile.errors import SourceError

    with pytest.raises(SourceError, match="cannot be reached") as info:
        CaseStore("postgresql+psycopg://ews:s3cret-pw@127.0.0.1:1/ews")
    assert "s3cret-pw" not in str(info.value)
    assert "***" in str(info.value)


def test_read_only_store_is_an_output_error(tmp_path):
    from studentprofile.errors import OutputError

    path = tmp_path / "ro.sqlite"
    with CaseStore(path) as s:
        cid = s.open_cases(weekly_alerts(1), time=T0).case_ids[0]
    before = path.read_bytes()
    with CaseStore(f"sqlite:///file:{path}?mode=ro&uri=true") as s:
        assert len(s.cases()) == 1  # reads work
        with pytest.raises(OutputError, match="could not be written(.|\n)*readonly"):
            s.contact(cid, staff="kim")
    assert path.read_bytes() == before


def test_due_dates_move_and_set_status(store):
    cid = store.open_cases(weekly_alerts(1), first_contact_days=1, time=T0).case_ids[0]
    assert len(store.cases(overdue=True, now="2026-11-11")) == 1
    store.set_due(cid, "2026-11-20", staff="head", time="2026-11-10")
    assert store.cases(overdue=True, now="2026-11-11").empty
    assert store.cases().iloc[0]["due_first_contact"] == pd.Timestamp("2026-11-20")
    store.set_status(cid, "contacted", staff="kim", time="2026-11-12")
    with pytest.raises(ConfigError, match="status must be a status a case can move to"):
        store.set_status(cid, "open", staff="kim")
    assert store.cases().iloc[0]["status"] == "contacted"


def test_racing_openers_open_each_case_once(target):
    """Two weekly jobs at once: unique alert ids decide; the loser retries and finds them."""
    stores = [CaseStore(target) for _ in range(4)]
    barrier = threading.Barrier(4)
    results = []

    def work(s):
        barrier.wait()
        results.append(s.open_cases(weekly_alerts(), routing=ROUTING, time=T0).n_new)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0, 3]
    hist = stores[0].history()
    assert len(stores[0].cases()) == 3 and len(hist) == 3 * 2
    for s in stores:
        s.close()


def test_load_is_what_next_weeks_capacities_subtract(store):
    ids = store.open_cases(weekly_alerts(), routing=ROUTING, assignments=staff_assignments(),
                           first_contact_days=2, time=T0).case_ids
    store.contact(ids[0], staff="kim", time="2026-11-10")
    store.close_case(ids[1], staff="lee", time="2026-11-10")
    load = store.load(now="2026-11-20")
    assert load.values.tolist() == [["kim", "advisor", 1, 0], ["tutor1", "tutor", 1, 0]]
    staff = pd.DataFrame({"staff_id": ["kim", "lee"], "role": "advisor", "capacity": [3, 3]})
    left = staff.merge(load, on=["staff_id", "role"], how="left").fillna({"active": 0})
    assert (left["capacity"] - left["active"]).tolist() == [2, 3]
