"""`studentprofile cases ...`: staff act on the case store from the shell (SQLite, PostgreSQL)."""

from __future__ import annotations

import io
import json

import pytest

from _pg_server import postgres_server
from studentprofile.cli import main
from studentprofile.warning import CaseStore
from test_warning_cases import ROUTING, T0, staff_assignments, weekly_alerts


def run(*argv, env_store=None):
    out = io.StringIO()
    code = main(list(argv), stream=out)
    return code, out.getvalue()


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "cases.sqlite"
    with CaseStore(path) as s:
        ids = s.open_cases(weekly_alerts(), routing=ROUTING, assignments=staff_assignments(),
                           time=T0).case_ids
    return str(path), ids


def test_the_staff_loop_from_the_shell(store_path, capsys):
    path, ids = store_path
    code, text = run("cases", "list", "--store", path, "--for", "kim", "--json")
    assert code == 0
    listed = json.loads(text)
    assert listed["count"] == 1 and listed["cases"][0]["case_id"] == ids[0]
    assert listed["cases"][0]["due_first_contact"] == "2026-11-16T08:00:00"
    # --json before the action works too
    code, text = run("cases", "--json", "list", "--store", path)
    assert code == 0 and json.loads(text)["count"] == 3
    steps = [
        ("contact", ids[0], "--at", "2026-11-10 09:00", "--note", "phoned, no answer"),
        ("start", ids[0], "--at", "2026-11-11 10:00"),
        ("verdict", ids[0], "useful", "--note", "she had stopped coming", "--at",
         "2026-11-11 10:05"),
        ("assign", ids[0], "--to", "dr_w", "--role", "counsellor", "--at", "2026-11-11 10:06"),
        ("note", ids[0], "referred to counselling", "--at", "2026-11-11 10:07"),
        ("close", ids[0], "--verdict", "already_known", "--at", "2026-11-20 16:00"),
        ("reopen", ids[0], "--note", "came back", "--at", "2026-11-25 09:00"),
    ]
    for step in steps:
        code, text = run("cases", *step, "--store", path, "--staff", "kim", "--json")
        assert code == 0, capsys.readouterr().err
        assert json.loads(text)["staff"] == "kim"
    code, text = run("cases", "show", ids[0], "--store", path, "--json")
    case = json.loads(text)
    assert case["status"] == "reopened" and case["first_contact_at"] == "2026-11-10T09:00:00"
    assert case["assignees"] == [{"staff_id": "tutor1", "role": "tutor"},
                                 {"staff_id": "dr_w", "role": "counsellor"}]
    assert [h["event"] for h in case["history"]][4:] == [
        "status", "note", "status", "verdict", "assigned", "note", "status", "verdict",
        "status", "note"]
    assert {h["staff"] for h in case["history"][4:]} == {"kim"}
    with CaseStore(path) as s:
        assert s.verdicts()["verdict"].tolist() == ["useful", "already_known"]
    # people-readable output too
    code, text = run("cases", "show", ids[0], "--store", path)
    assert code == 0 and "referred to counselling" in text and "reopened" in text


def test_refusals_exit_2_with_the_reason(store_path, capsys, tmp_path):
    path, ids = store_path
    code, _ = run("cases", "contact", ids[0], "--store", path)
    assert code == 2
    assert "needs the acting staff member" in capsys.readouterr().err
    code, _ = run("cases", "start", ids[0], "--store", path, "--staff", "kim")
    err = capsys.readouterr().err
    assert code == 2
    assert "is 'open'; it cannot move to 'in_progress'" in err
    assert "allowed from 'open': ['contacted', 'closed']" in err
    code, _ = run("cases", "show", "c-0000", "--store", path)
    assert code == 2 and "no case with this id" in capsys.readouterr().err
    missing = tmp_path / "typo.sqlite"
    code, _ = run("cases", "list", "--store", str(missing))
    assert code == 2 and "holds no case store yet" in capsys.readouterr().err
    assert not missing.exists()
    with pytest.raises(SystemExit) as info:
        run("cases", "verdict", ids[0], "brilliant", "--store", path, "--staff", "kim")
    assert info.value.code == 2
    assert "invalid choice: 'brilliant'" in capsys.readouterr().err


def test_store_from_the_environment(store_path, monkeypatch, capsys):
    path, ids = store_path
    monkeypatch.delenv("STUDENTPROFILE_CASES_URL", raising=False)
    code, _ = run("cases", "list")
    assert code == 2 and "STUDENTPROFILE_CASES_URL" in capsys.readouterr().err
    monkeypatch.setenv("STUDENTPROFILE_CASES_URL", path)
    code, text = run("cases", "list", "--overdue", "--json")
    assert code == 0 and json.loads(text)["count"] == 3  # due 2026-11-16, long past


def test_on_postgresql(monkeypatch):
    with postgres_server() as url:
        with CaseStore(url) as s:
            ids = s.open_cases(weekly_alerts(), routing=ROUTING,
                               assignments=staff_assignments(), time=T0).case_ids
        monkeypatch.setenv("STUDENTPROFILE_CASES_URL", url)
        assert run("cases", "contact", ids[1], "--staff", "lee")[0] == 0
        assert run("cases", "close", ids[1], "--staff", "lee", "--verdict",
                   "incorrectly_flagged")[0] == 0
        code, text = run("cases", "list", "--for", "lee", "--status", "closed", "--json")
        assert code == 0
        assert [c["case_id"] for c in json.loads(text)["cases"]] == [ids[1]]
