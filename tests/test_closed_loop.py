"""Issue 15, "Done when": the demo's weekly job, run for two consecutive weeks, closes the loop.

A small trained demo run (4% of OULAD), a case store (SQLite here; a real PostgreSQL server in the
slow variant) and a real local SMTP server (aiosmtpd). Week 1 opens cases routed by reason and
mails each advisor a digest; staff record contacts and verdicts with ``studentprofile cases``;
week 2 opens the new cases, mails digests with the overdue ones, sends nothing twice, and the
loop report shows judged precision and time to first contact with the values the staff's
actions imply. Everything goes through the command line, as a campus would run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import http.server
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _pg_server import postgres_server
from studentprofile import cli
from studentprofile.pipeline import demo_config, load_tables, loop_report, run
from studentprofile.warning import AlertLog, CaseStore, NotificationLedger, Routing

try:  # the `test` extra installs it; in CI its absence fails, elsewhere it skips
    from aiosmtpd import controller as aiosmtpd_controller
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("needs aiosmtpd (pip install -e '.[test]')", allow_module_level=True)

WEEK1, WEEK2 = "2014-03-01", "2014-03-08"  # both weeks have alerts in the 4% sample
FIRST_CONTACT_DAYS = 5
STAFF_CSV = (
    "staff_id,role,capacity,unit,email\n"
    "kim,advisor,10,north,kim@campus.edu\n"
    "lee,advisor,10,south,lee@campus.edu\n"
    "tut,tutor,30,north,tut@campus.edu\n"
    "cou,counsellor,30,south,\n"
)
ROUTING_TOML = (
    "[routing]\n"
    'default = "advisor"\n'
    'owner_role = "advisor"\n'
    "[routing.families]\n"
    'academic = "tutor"\n'
    'behavioral = "counsellor"\n'
)


# ------------------------------------------------------------------------------ servers
class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        await asyncio.sleep(0)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(port: int | None = None):
    box = Mailbox()
    controller = aiosmtpd_controller.Controller(box, hostname="127.0.0.1",
                                                port=port or _free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A demo run on 4% of OULAD (no tracking), its tables and its folder."""
    root = tmp_path_factory.mktemp("loop")
    cfg = demo_config(sample_students=0.04, enabled=False, output_dir=root / "runs")
    result = run(cfg)
    return Path(result.run_dir), load_tables(cfg), cfg


# ------------------------------------------------------------------------------ the story
def sh(*argv: str) -> dict:
    """Run ``studentprofile ARGV --json`` in this process; return its JSON."""
    out = io.StringIO()
    code = cli.main([*argv, "--json"], stream=out)
    assert code == cli.EXIT_OK, (argv, code)
    return json.loads(out.getvalue())


def warn(run_dir: Path, day: str, out: Path, store: str, folder: Path, port: int) -> dict:
    return sh("warn", str(run_dir), "--as-of", day, "--out", str(out), "--store", store,
              "--staff", str(folder / "staff.csv"), "--routing", str(folder / "routing.toml"),
              "--first-contact-days", str(FIRST_CONTACT_DAYS), "--smtp", f"127.0.0.1:{port}",
              "--smtp-security", "none", "--from", "early-warning@campus.edu")


def story(trained, tmp_path: Path, store: str, caplog, *, subprocess_verdict: bool = False):
    """Two weeks of the closed loop against ``store``; checks every promise on the way."""
    run_dir, tables, cfg = trained
    (tmp_path / "staff.csv").write_text(STAFF_CSV, encoding="utf-8")
    (tmp_path / "routing.toml").write_text(ROUTING_TOML, encoding="utf-8")
    routing = Routing.from_toml(tmp_path / "routing.toml")
    caplog.set_level(logging.INFO)  # every logger: ours, the drivers', the servers'
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQL, as when debugging a store
    caplog.set_level(logging.DEBUG, logger="studentprofile")
    with smtp_server() as (box, port):
        # ---- week 1: alerts become cases, routed by reason, owned and assigned; digests out
        w1 = warn(run_dir, WEEK1, tmp_path / "week-1", store, tmp_path, port)
        loop1 = w1["loop"]
        assert w1["alerts"] > 0 and loop1["cases_opened"] == w1["alerts"]
        with CaseStore(store, create=False) as cases:
            week1 = cases.cases()
            helpers = cases.assignees()
        assert len(week1) == w1["alerts"] and (week1["status"] == "open").all()
        assert set(week1["owner"]) <= {"kim", "lee"} and (week1["owner"] != "").all()
        assert set(week1["unit"]) <= {"north", "south"}
        assert (week1["due_first_contact"] == pd.Timestamp(WEEK1)
                + pd.Timedelta(days=FIRST_CONTACT_DAYS)).all()
        for fams, role in zip(week1["reason_families"], week1["role"], strict=True):
            first = fams.split(";")[0] if fams else None
            assert role == routing.role_of({"family": first} if first else None)
        tutored = set(week1.loc[week1["reason_families"].str.contains("academic"), "case_id"])
        assert tutored  # the demo's reasons are mostly academic: the tutor helps
        assert set(helpers.loc[helpers["role"] == "tutor", "case_id"]) == tutored
        assert set(helpers.loc[helpers["role"] == "tutor", "staff_id"]) == {"tut"}
        # the caseload is recorded in the alert log too, owners and helpers by role
        with AlertLog(store) as log:
            given = log.assignments(current=True)
        owned = dict(zip(week1["alert_id"], week1["owner"], strict=True))
        mine = given[given["role"] == "advisor"]
        assert dict(zip(mine["alert_id"], mine["staff_id"], strict=True)) == owned
        assert (given.loc[given["role"] == "tutor", "staff_id"] == "tut").all()
        # one digest per owner, delivered to the SMTP server, holding their new cases
        owners = sorted(set(week1["owner"]))
        assert loop1["digests_by_status"] == {"sent": len(owners)}
        assert sorted(to[0] for to, _ in box.messages) == [f"{o}@campus.edu" for o in owners]
        for to, msg in box.messages:
            owner = to[0].split("@")[0]
            text = msg.get_body(("plain",)).get_content()
            mine = week1[week1["owner"] == owner]
            assert all(c in text for c in mine["case_id"])
            assert not any(c in text for c in week1.loc[week1["owner"] != owner, "case_id"])
            assert msg["Subject"].endswith(f"{len(mine)} new case{'s' if len(mine) > 1 else ''}"
                                           ", 0 overdue")
        assert (tmp_path / "week-1" / "index.html").is_file()
        assert (tmp_path / "week-1" / "loop_report.html").is_file()

        # ---- staff act through the command line (contacts, verdicts), the acting staff recorded
        ids = sorted(week1["case_id"])
        assert len(ids) >= 4
        owner_of = dict(zip(week1["case_id"], week1["owner"], strict=True))
        acted = {ids[0]: ("2014-03-02 12:00", "useful"),          # 1.5 days to first contact
                 ids[1]: ("2014-03-04 00:00", "not_useful"),      # 3.0 days
                 ids[2]: ("2014-03-03 06:00", "useful")}          # 2.25 days
        for cid, (when, verdict) in acted.items():
            who = owner_of[cid]
            sh("cases", "contact", cid, "--store", store, "--staff", who, "--at", when,
               "--note", "phoned")
            if subprocess_verdict and cid == ids[0]:
                env = {**os.environ, "STUDENTPROFILE_STORE_URL": store,
                       "PYTHONPATH": os.pathsep.join(sys.path)}
                proc = subprocess.run(
                    [sys.executable, "-m", "studentprofile", "cases", "verdict", cid, verdict,
                     "--staff", who, "--at", when, "--json"],
                    env=env, capture_output=True, text=True, timeout=120)
                assert proc.returncode == 0, proc.stderr
                assert json.loads(proc.stdout)["staff"] == who
            else:
                sh("cases", "verdict", cid, verdict, "--store", store, "--staff", who, "--at",
                   when)
        silent = sorted(set(ids) - set(acted))   # never contacted: overdue in week 2

        # ---- week 2: new cases, the overdue ones in the digests, nothing sent twice
        box.messages.clear()
        w2 = warn(run_dir, WEEK2, tmp_path / "week-2", store, tmp_path, port)
        loop2 = w2["loop"]
        with CaseStore(store, create=False) as cases:
            every = cases.cases()
            verdicts = cases.verdicts()
        new2 = every[~every["case_id"].isin(ids)]
        assert loop2["cases_opened"] == w2["alerts"] == len(new2) > 0
        assert loop2["digests_overdue_cases"] == len(silent)
        assert loop2["digests_new_cases"] == int((new2["owner"] != "").sum())
        got_overdue = {}
        for to, msg in box.messages:
            owner = to[0].split("@")[0]
            text = msg.get_body(("plain",)).get_content()
            got_overdue[owner] = {c for c in silent if c in text}
            assert not any(c in text for c in acted)  # contacted cases are not chased
        assert got_overdue == {o: {c for c in silent if owner_of[c] == o}
                               for o in sorted({owner_of[c] for c in silent}
                                               | set(new2["owner"]) - {""})}
        assert loop2["digests_by_status"] == {"sent": len(box.messages)}
        again = warn(run_dir, WEEK2, tmp_path / "week-2", store, tmp_path, port)
        assert again["loop"]["cases_opened"] == 0 and again["logged_new"] == 0
        assert again["loop"]["digests_by_status"] == {"already_sent": len(box.messages)}
        assert len(box.messages) == loop2["digests"]  # the rerun mailed nothing
    with NotificationLedger(store.replace("sqlite:///", "")) as ledger:
        sent = ledger.sent()
    assert len(sent) == loop1["digests"] + loop2["digests"]
    assert sent["digest_key"].is_unique

    # ---- the loop report: judged precision and time to first contact, exactly
    report = json.loads((tmp_path / "week-2" / "loop_report.json").read_text(encoding="utf-8"))
    head = report["headline"]
    assert report["as_of"] == WEEK2
    assert (head["cases"], head["judged"], head["contacted"]) == (len(every), 3, 3)
    assert head["judged_precision"] == pytest.approx(2 / 3)
    assert head["median_days_to_contact"] == pytest.approx(2.25)
    assert head["overdue"] == len(silent)
    assert head["statistical_precision"] is None  # no case's 60-day horizon has ended
    by_advisor = {r["advisor"]: r for r in report["contact_by_advisor"]}
    for owner in {owner_of[c] for c in acted}:
        waits = [(pd.Timestamp(acted[c][0]) - pd.Timestamp(WEEK1)) / pd.Timedelta(days=1)
                 for c in acted if owner_of[c] == owner]
        assert by_advisor[owner]["contacted"] == len(waits)
        assert by_advisor[owner]["median_days_to_contact"] == pytest.approx(np.median(waits))
        assert by_advisor[owner]["overdue"] == sum(owner_of[c] == owner for c in silent)
    html_page = (tmp_path / "week-2" / "loop_report.html").read_text(encoding="utf-8")
    assert "judged precision" in html_page and "0.667" in html_page and "<script" not in html_page
    assert list(verdicts["staff"]) == [owner_of[c] for c in acted]

    # later, outcomes known: statistical precision beside judged precision, from the CLI
    outcomes = tmp_path / "outcomes.csv"
    tables.outcomes.to_csv(outcomes, index=False)
    later = sh("cases", "report", "--store", store, "--as-of", "2014-05-15", "--out",
               str(tmp_path / "report"), "--outcomes", str(outcomes), "--horizon",
               str(cfg.label.horizon), "--outcome", "withdrawn")
    out = tables.outcomes[tables.outcomes["outcome"] == "withdrawn"]
    hits = [bool(((out["student_id"] == s) & (out["time"] > a)
                  & (out["time"] <= a + pd.Timedelta(days=cfg.label.horizon))).any())
            for s, a in zip(every["student_id"], every["as_of"], strict=True)]
    assert later["headline"]["observable"] == len(every)
    assert later["headline"]["statistical_precision"] == pytest.approx(np.mean(hits))
    assert later["headline"]["judged_precision"] == pytest.approx(2 / 3)
    # the same from the run's own data and label (no outcomes file to export)
    from_run = sh("cases", "report", "--store", store, "--as-of", "2014-05-15", "--out",
                  str(tmp_path / "report-run"), "--run", str(run_dir))
    assert from_run["params"]["horizon_days"] == cfg.label.horizon
    assert from_run["headline"] == {**later["headline"]}
    assert (tmp_path / "report" / "loop_report.html").is_file()
    # the library's report agrees with the command's
    assert loop_report(store, as_of=WEEK2).headline["judged_precision"] == pytest.approx(2 / 3)

    # privacy: nothing logged a student id (the SMTP test server's own log prints the mail)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert logged  # the job did log (counts)
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # SQL was logged
    assert not any(str(s) in logged for s in every["student_id"])
    return every


def test_two_weeks_of_the_closed_loop_on_sqlite(trained, tmp_path, caplog):
    every = story(trained, tmp_path, str(tmp_path / "ews.sqlite"), caplog)
    # one file: the alert log, the cases and the notification ledger share it
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "ews.sqlite")) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"alerts", "cases", "case_events", "notification_attempts"} <= names
    assert len(every) > 0


@pytest.mark.slow
def test_two_weeks_of_the_closed_loop_on_postgresql(trained, tmp_path, caplog):
    with postgres_server() as url:
        story(trained, tmp_path, url, caplog, subprocess_verdict=True)


def test_a_mail_server_that_is_down_fails_the_digests_and_the_next_run_sends_them(
        trained, tmp_path, capsys):
    """Exit status 4 and the failures in the ledger; nothing is lost: the rerun delivers."""
    run_dir, _, _ = trained
    (tmp_path / "staff.csv").write_text(STAFF_CSV, encoding="utf-8")
    (tmp_path / "routing.toml").write_text(ROUTING_TOML, encoding="utf-8")
    store, port = str(tmp_path / "ews.sqlite"), _free_port()  # nothing listens there yet
    argv = ["warn", str(run_dir), "--as-of", WEEK1, "--store", store, "--staff",
            str(tmp_path / "staff.csv"), "--smtp", f"127.0.0.1:{port}", "--smtp-security",
            "none", "--from", "early-warning@campus.edu", "--retries", "0", "--json"]
    out = io.StringIO()
    assert cli.main(argv, stream=out) == cli.EXIT_PARTIAL
    down = json.loads(out.getvalue())["loop"]
    assert down["digests_by_status"] == {"failed": down["digests"]} and down["digests"] > 0
    assert "digest(s) were not delivered" in capsys.readouterr().err
    with NotificationLedger(store) as ledger:
        failures = ledger.failures()
    assert len(failures) == down["digests"]
    assert set(failures["error_class"]) == {"NotificationError"}
    with smtp_server(port) as (box, _):
        up = sh(*argv[:-1])["loop"]
        assert up["digests_by_status"] == {"sent": down["digests"]}
        assert up["cases_opened"] == 0  # the cases were opened by the first run
        assert len(box.messages) == down["digests"]
        assert sh(*argv[:-1])["loop"]["digests_by_status"] == {"already_sent": down["digests"]}
        assert len(box.messages) == down["digests"]



class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.arrivals.append((self.headers, body))  # names case-insensitive
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):  # keep the test output clean
        pass


def test_the_weekly_job_posts_signed_digests_to_a_webhook(trained, tmp_path, monkeypatch):
    """--webhook with the secret from STUDENTPROFILE_WEBHOOK_SECRET (never on the command line)."""
    from studentprofile.warning import SIGNATURE_HEADER, sign_body

    run_dir, _, _ = trained
    (tmp_path / "staff.csv").write_text(STAFF_CSV, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.arrivals = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STUDENTPROFILE_WEBHOOK_SECRET", "sh4red")
    monkeypatch.setenv("STUDENTPROFILE_STORE_URL", str(tmp_path / "ews.sqlite"))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/digests"
        argv = ["warn", str(run_dir), "--as-of", WEEK1, "--staff", str(tmp_path / "staff.csv"),
                "--webhook", url]
        got = sh(*argv)["loop"]
        assert got["digests_by_status"] == {"sent": got["digests"]} and got["digests"] > 0
        assert got["channel"] == url and "sh4red" not in json.dumps(got)
        assert len(server.arrivals) == got["digests"]
        for headers, body in server.arrivals:
            payload = json.loads(body)
            assert payload["schema"] == "studentprofile.digest/1" and payload["new"]
            stamp = headers["X-StudentProfile-Timestamp"]
            assert headers[SIGNATURE_HEADER] == sign_body("sh4red", stamp, body)
        assert sh(*argv)["loop"]["digests_by_status"] == {"already_sent": got["digests"]}
        assert len(server.arrivals) == got["digests"]
    finally:
        server.shutdown()
        server.server_close()
