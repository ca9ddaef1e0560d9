"""The closed loop's parts without a trained model: caseloads by role and load, the inputs the
weekly job checks before writing anything, the loop report's exact figures, the command line."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

from studentprofile import cli
from studentprofile.errors import ConfigError
from studentprofile.pipeline import loop_report
from studentprofile.pipeline._loop import (
    FLOAT_DAYS,
    NOTIFIER_WITHOUT_STORE,
    STAFF_TWICE,
    loop_inputs,
    plan_caseloads,
    read_people,
    routing_of,
)
from studentprofile.warning import CaseStore, Routing
from studentprofile.warning._reasons import reasons_lookup

ROUTING = Routing(families={"academic": "tutor", "wellbeing": "counsellor"})
DAY = pd.Timestamp("2026-11-09")


def _alerts():
    return pd.DataFrame({"student_id": ["0042", "0043", "0044"], "as_of": DAY,
                         "score": [0.9, 0.8, 0.7], "tier": "high",
                         "alert_id": ["a1", "a2", "a3"]})


def _raised():
    """Raised reasons as Explanations.reasons(direction='raised') gives them."""
    rec = {"academic": {"sentence": "Scores fell", "feature": "score_30d", "family": "academic",
                        "kind": "assessment_score"},
           "wellbeing": {"sentence": "Counselling", "feature": "visits_90d",
                         "family": "wellbeing", "kind": "counselling_visit"}}
    return [{"student_id": "0042", "as_of": DAY, "reasons": [rec["academic"], rec["wellbeing"]]},
            {"student_id": "0043", "as_of": DAY, "reasons": [rec["wellbeing"]]},
            {"student_id": "0044", "as_of": DAY, "reasons": []}]


STAFF = pd.DataFrame({"staff_id": ["kim", "lee", "tut", "cou"],
                      "role": ["advisor", "advisor", "tutor", "counsellor"],
                      "capacity": [2, 1, 5, 5], "unit": ["north", "south", "north", "south"]})


def test_each_alert_needs_its_owner_and_the_roles_of_its_raised_reasons():
    plan = plan_caseloads(_alerts(), STAFF, routing=ROUTING, lookup=reasons_lookup(_raised()),
                          programmes=None)
    got = {(r.student_id, r.role): r.staff_id for r in plan.itertuples()}
    # 0044's raised reasons are none: the owner only (the store routes it to the default role)
    assert got == {("0042", "advisor"): "kim", ("0042", "tutor"): "tut",
                   ("0042", "counsellor"): "cou", ("0043", "advisor"): "lee",
                   ("0043", "counsellor"): "cou", ("0044", "advisor"): "kim"}


def test_capacities_are_reduced_by_the_active_cases_in_the_store():
    """kim (capacity 2) already has two active cases: nobody new goes to kim."""
    load = pd.DataFrame({"staff_id": ["kim", "tut"], "role": ["advisor", "tutor"],
                         "active": [2, 5], "overdue": [1, 0]})
    plan = plan_caseloads(_alerts(), STAFF, routing=ROUTING, lookup=reasons_lookup(_raised()),
                          programmes=None, load=load)
    owners = plan[plan["role"] == "advisor"].set_index("student_id")
    assert owners.loc["0042", "staff_id"] == "lee"
    assert owners.loc[["0043", "0044"], "status"].tolist() == ["no capacity left"] * 2
    tutor = plan[plan["role"] == "tutor"].iloc[0]
    # (assign_caseloads reports a role whose staff all have no room left as "no advisor covers
    # the programme": its rule for a capacity of 0)
    assert tutor["staff_id"] is None and tutor["status"] != "assigned"


def test_an_advisors_frame_keeps_working_and_its_load_counts_as_the_owner_role():
    advisors = pd.DataFrame({"advisor_id": ["kim", "lee"], "capacity": [2, 2]})
    load = pd.DataFrame({"staff_id": ["kim"], "role": ["advisor"], "active": [2],
                         "overdue": [0]})
    plan = plan_caseloads(_alerts(), advisors, routing=ROUTING, lookup=None, programmes=None,
                          load=load)
    assert plan["advisor_id"].tolist() == ["lee", "lee", None]


def test_staff_files_keep_ids_as_text(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text("staff_id,role,capacity,programmes,unit,email\n"
                    "007,advisor,3,AAA; BBB,north,a@x.edu\n0100,tutor,2,,,\n", encoding="utf-8")
    frame = read_people(path, key="staff", id_column="staff_id")
    assert frame["staff_id"].tolist() == ["007", "0100"]
    assert frame["programmes"].tolist() == [["AAA", "BBB"], None]
    assert frame["capacity"].tolist() == [3, 2]
    with pytest.raises(ConfigError, match="the staff file does not exist"):
        read_people(tmp_path / "nope.csv", key="staff", id_column="staff_id")


def test_the_loop_inputs_are_checked_before_anything_is_written(tmp_path):
    class Outbox:
        channel = "outbox"

        def send(self, digest):
            pass

    common = dict(routing=Routing(), first_contact_days=7, card_url=None,
                  time_kind="datetime")
    assert loop_inputs(store=None, notifier=None, **common) is None
    with pytest.raises(ConfigError, match=re.escape(NOTIFIER_WITHOUT_STORE)):
        loop_inputs(store=None, notifier=Outbox(), **common)
    with pytest.raises(ConfigError, match=re.escape(FLOAT_DAYS)):
        loop_inputs(store=str(tmp_path / "s.db"), notifier=None,
                    **{**common, "time_kind": "float"})
    for bad in (-1, float("nan"), "7", True):
        with pytest.raises(ConfigError, match="first_contact_days"):
            loop_inputs(store="s.db", notifier=None, **{**common, "first_contact_days": bad})
    with pytest.raises(ConfigError, match="digest_retries"):
        loop_inputs(store="s.db", notifier=None, retries=-1, **common)
    with pytest.raises(ConfigError, match="notifier needs a `channel`"):
        loop_inputs(store="s.db", notifier=object(), **common)
    with pytest.raises(ConfigError, match="routing must be a Routing or a TOML file"):
        routing_of({"academic": "tutor"})
    from studentprofile.pipeline._weekly import _read_staff

    with pytest.raises(ConfigError, match=re.escape(STAFF_TWICE)):
        _read_staff(STAFF, pd.DataFrame({"advisor_id": ["kim"], "capacity": [1]}))
    assert not list(tmp_path.iterdir())
    got = loop_inputs(store="postgresql+psycopg://ews:s3cret@db.campus/ews", notifier=None,
                      **common)
    assert got is not None and got.shown == "postgresql+psycopg://db.campus/ews"
    assert "s3cret" not in repr(got)


@pytest.fixture
def store(tmp_path):
    """Four cases of two advisors: contacts after 1 and 3 days, two verdicts, one overdue."""
    path = str(tmp_path / "ews.sqlite")
    alerts = pd.DataFrame({"alert_id": [f"a{i}" for i in range(4)],
                           "student_id": ["0042", "0043", "0044", "0045"], "as_of": DAY,
                           "score": [0.9, 0.8, 0.6, 0.5],
                           "tier": ["high", "high", "medium", "medium"]})
    plan = pd.DataFrame({"student_id": ["0042", "0043", "0044", "0045"],
                         "staff_id": ["kim", "kim", "lee", "lee"], "role": "advisor",
                         "unit": ["north", "north", "south", "south"], "status": "assigned"})
    with CaseStore(path) as cases:
        ids = cases.open_cases(alerts, assignments=plan, time=DAY, first_contact_days=5,
                               model_version="run-1").case_ids
        cases.contact(ids[0], staff="kim", time=DAY + pd.Timedelta(days=1))
        cases.record_verdict(ids[0], "useful", staff="kim", time=DAY + pd.Timedelta(days=1))
        cases.contact(ids[2], staff="lee", time=DAY + pd.Timedelta(days=3))
        cases.record_verdict(ids[2], "incorrectly_flagged", staff="lee",
                             time=DAY + pd.Timedelta(days=3))
    return path, ids


def test_the_loop_report_says_judged_precision_and_time_to_first_contact(store, tmp_path):
    path, _ = store
    report = loop_report(path, as_of=DAY + pd.Timedelta(days=7))
    h = report.headline
    assert (h["cases"], h["judged"], h["contacted"], h["overdue"]) == (4, 2, 2, 2)
    assert h["judged_precision"] == 0.5
    assert h["median_days_to_contact"] == 2.0 and h["p90_days_to_contact"] == pytest.approx(2.8)
    assert h["statistical_precision"] is None and h["observable"] is None
    tiers = report.judged.by_tier.set_index("tier")
    assert tiers.loc["high", "judged_precision"] == 1.0
    assert tiers.loc["medium", "rate_incorrectly_flagged"] == 1.0
    advisors = report.judged.contact_by_advisor.set_index("advisor")
    assert advisors["median_days_to_contact"].to_dict() == {"kim": 1.0, "lee": 3.0}
    assert advisors["overdue"].to_dict() == {"kim": 1, "lee": 1}
    files = report.save(tmp_path / "out")
    doc = json.loads(files["loop_report_json"].read_text(encoding="utf-8"))
    assert doc["schema"] == "studentprofile.loop_report/1" and doc["as_of"] == "2026-11-16"
    assert doc["by_model_version"][0]["model_version"] == "run-1"
    assert not any(s in files["loop_report_json"].read_text(encoding="utf-8")
                   for s in ("0042", "0043", "0044", "0045"))
    # before anything happened: nothing judged, nothing overdue
    early = loop_report(path, as_of=DAY).headline
    assert (early["judged"], early["contacted"], early["overdue"]) == (0, 0, 0)
    # the default date is the latest thing that happened (a verdict), not a due date to come
    assert loop_report(path).as_of == "2026-11-12"


def test_outcomes_put_statistical_precision_beside_judged_precision(store):
    path, _ = store
    outcomes = pd.DataFrame({"student_id": ["0042", "0044", "0045"],
                             "time": [DAY + pd.Timedelta(days=20), DAY - pd.Timedelta(days=3),
                                      DAY + pd.Timedelta(days=80)],
                             "outcome": "withdrawn"})
    report = loop_report(path, as_of=DAY + pd.Timedelta(days=100), outcomes=outcomes,
                         horizon=60)
    # 0042 withdrew within 60 days; 0044 before the alert and 0045 after the horizon do not count
    assert report.headline["observable"] == 4
    assert report.headline["statistical_precision"] == 0.25
    assert report.headline["judged_precision"] == 0.5


def _cli(*argv):
    out = io.StringIO()
    return cli.main(list(argv), stream=out), out.getvalue()


def test_cases_report_on_the_command_line(store, tmp_path, capsys, monkeypatch):
    path, _ = store
    code, text = _cli("cases", "report", "--store", path, "--as-of", "2026-11-16", "--out",
                      str(tmp_path / "r"), "--json")
    assert code == cli.EXIT_OK
    doc = json.loads(text)
    assert doc["headline"]["judged_precision"] == 0.5
    assert doc["files"]["loop_report"].endswith("loop_report.html")
    # the weekly job's one database variable serves the staff commands too
    monkeypatch.delenv("STUDENTPROFILE_CASES_URL", raising=False)
    monkeypatch.setenv("STUDENTPROFILE_STORE_URL", path)
    code, text = _cli("cases", "report", "--as-of", "2026-11-16", "--out", str(tmp_path / "r"))
    assert code == cli.EXIT_OK
    assert "judged precision      0.500" in text
    assert "median 2.0 days, 90th percentile 2.8 days" in text
    assert "overdue               2" in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--smtp", "mail.campus.edu:587"], "digests need the case store"),
    (["--store", "x.db", "--smtp", "mail.campus.edu:587"], "--smtp needs --from"),
    (["--store", "x.db", "--smtp", "mail.campus.edu:port", "--from", "a@b.c"],
     "--smtp must be HOST or HOST:PORT"),
    (["--store", "x.db", "--smtp", "h:1", "--webhook", "https://h/x", "--from", "a@b.c"],
     "send the digests one way"),
    (["--store", "x.db", "--smtp", "mail.campus.edu", "--from", "a@b.c", "--allow-host",
      "other.edu"], "not in the allow-list|allow"),
])
def test_warn_refuses_a_bad_notifier_before_running(tmp_path, capsys, monkeypatch, extra,
                                                     message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STUDENTPROFILE_STORE_URL", raising=False)
    code, _ = _cli("warn", str(tmp_path / "no-run"), "--as-of", "2014-11-08", *extra)
    assert code == cli.EXIT_ERROR
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "x.db").exists()


def test_smtp_host_and_port():
    assert cli._host_port("mail.campus.edu", 587) == ("mail.campus.edu", 587)
    assert cli._host_port("127.0.0.1:2525", 587) == ("127.0.0.1", 2525)
    assert cli._host_port("[::1]:25", 587) == ("::1", 25)
    assert cli._host_port("[::1]", 465) == ("::1", 465)
    for bad in ("", ":25", "h:0", "h:70000", "h:x"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            cli._host_port(bad, 587)


def test_the_three_stores_share_one_database_and_its_schema_versions(tmp_path):
    """Issue 15 item 4: the case store and the ledger run on warning/_db.py like the alert log
    (they had engine helpers and version tables of their own)."""
    import sqlalchemy as sa

    from studentprofile.errors import DataIntegrityError
    from studentprofile.warning import AlertLog, NotificationLedger

    path = tmp_path / "ews.sqlite"
    with AlertLog(path), CaseStore(path), NotificationLedger(path) as ledger:
        with ledger.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT component, max(version) FROM sp_schema_versions "
                                        "GROUP BY component ORDER BY component").all()
            tables = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert [tuple(r) for r in rows] == [("alert_log", 2), ("case_store", 1),
                                        ("notification_ledger", 1)]
    assert not tables & {"case_schema", "notification_meta"}
    # a second open writes nothing, and a newer case store is refused, the file untouched
    with CaseStore(path, create=False) as again:
        assert again.cases().empty
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sp_schema_versions VALUES ('case_store', 2, 'later', "
                             "'2030-01-01', '9.9')")
    eng.dispose()
    before = path.read_bytes()
    with pytest.raises(DataIntegrityError, match="case_store schema version 2, newer"):
        CaseStore(path)
    assert path.read_bytes() == before


def test_someone_elses_cases_table_is_refused_and_left_alone(tmp_path):
    import sqlalchemy as sa

    from studentprofile.errors import DataIntegrityError
    from studentprofile.warning._cases import FOREIGN_SCHEMA

    path = tmp_path / "crm.sqlite"
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE cases (ticket INTEGER, subject TEXT)")
    eng.dispose()
    before = path.read_bytes()
    with pytest.raises(DataIntegrityError, match=re.escape(FOREIGN_SCHEMA)):
        CaseStore(path)
    assert path.read_bytes() == before


def test_store_engines_keep_student_ids_out_of_driver_errors(tmp_path):
    """The case store's engine came from its own helper without hide_parameters: a failed
    statement's message (and SQLAlchemy's SQL log) carried the rows' student ids."""
    from studentprofile.warning import NotificationLedger

    with CaseStore(tmp_path / "a.sqlite") as cases:
        assert cases._engine.hide_parameters
    with NotificationLedger(tmp_path / "a.sqlite") as ledger:
        assert ledger.engine.hide_parameters


def test_undelivered_digests_count_failed_down_and_in_doubt():
    from types import SimpleNamespace

    from studentprofile.pipeline import LoopResult

    def result(**counts):
        return LoopResult(store="s", opened=None, digests=[], site=None, report=None,
                          sent=SimpleNamespace(counts=counts))

    assert result(sent=3, already_sent=2, claimed_elsewhere=1).failed == 0
    assert result(sent=1, failed=1, channel_down=5, in_doubt=2).failed == 8


def test_a_weekly_result_shows_its_loop_in_a_notebook():
    from types import SimpleNamespace

    from studentprofile.pipeline import LoopResult, WeeklyResult

    report = SimpleNamespace(headline={"cases": 12, "judged": 2, "judged_precision": 0.5,
                                       "statistical_precision": None, "contacted": 2,
                                       "median_days_to_contact": 2.25, "overdue": 5},
                             counts={"by_status": {"open": 10, "contacted": 2}})
    loop = LoopResult(store="ews.sqlite", opened=SimpleNamespace(n_new=5, n_existing=0),
                      digests=[], sent=SimpleNamespace(counts={"sent": 2}), site=None,
                      report=report, channel="smtp://mail:587", files={"site": "w/index.html"})
    week = WeeklyResult(as_of=pd.Timestamp("2014-03-08"), students=674,
                        alerts=pd.DataFrame({"student_id": ["0042"], "score": [0.2],
                                             "tier": ["high"]}),
                        tiers=pd.DataFrame({"tier": ["high"]}),
                        recorded=SimpleNamespace(n_new=1, n_existing=0), loop=loop)
    assert "5 case(s) opened, 0 digest(s)" in repr(week)
    page = week._repr_html_()
    assert "loop: report: judged_precision" in page and "loop: digests_by_status: sent" in page
    assert "{'" not in page and "{&#x27;" not in page  # no dict dumped as text


def test_smtp_credentials_come_from_the_environment_only(monkeypatch):
    parser = cli.build_parser()

    def notifier(*extra):
        args = parser.parse_args(["warn", "--as-of", "2014-03-01", "--store", "x.db", "--smtp",
                                  "mail.campus.edu", "--from", "ews@campus.edu", *extra])
        return cli._notifier(args)

    monkeypatch.delenv("STUDENTPROFILE_SMTP_USER", raising=False)
    monkeypatch.delenv("STUDENTPROFILE_SMTP_PASSWORD", raising=False)
    plain = notifier()
    assert plain.username_env is None and plain.password_env is None
    assert (plain.host, plain.port, plain.security) == ("mail.campus.edu", 587, "starttls")
    monkeypatch.setenv("STUDENTPROFILE_SMTP_USER", "ews")
    monkeypatch.setenv("STUDENTPROFILE_SMTP_PASSWORD", "pa55-word")
    login = notifier("--smtp-security", "ssl")
    assert login.port == 465 and login.password_env == "STUDENTPROFILE_SMTP_PASSWORD"
    assert "pa55-word" not in repr(login) and "pa55-word" not in login.channel
    with pytest.raises(ConfigError, match="security"):  # never a password in clear text
        notifier("--smtp-security", "none")
