"""Hostile inputs to the closed loop: markup and formulas in staff ids and units, passwords in
store URLs, ids with leading zeros and Chinese names, a store that is not one."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from studentprofile import cli
from studentprofile.errors import ConfigError
from studentprofile.pipeline import loop_report
from studentprofile.pipeline._loop import read_people
from studentprofile.warning import CaseStore

DAY = pd.Timestamp("2026-11-09")
MARKUP = '<script>alert("x")</script>'


@pytest.fixture
def hostile_store(tmp_path):
    path = str(tmp_path / "ews.sqlite")
    alerts = pd.DataFrame({"alert_id": ["a1", "a2"], "student_id": ["0042", "王小明"],
                           "as_of": DAY, "score": [0.9, 0.8], "tier": [MARKUP, "high"]})
    plan = pd.DataFrame({"student_id": ["0042", "王小明"], "staff_id": [MARKUP, "=SUM(A1)"],
                         "role": "advisor", "unit": ["</td><img src=x onerror=1>", "楼"],
                         "status": "assigned"})
    with CaseStore(path) as cases:
        ids = cases.open_cases(alerts, assignments=plan, time=DAY,
                               model_version='v"1<b>').case_ids
        cases.contact(ids[0], staff=MARKUP, time=DAY + pd.Timedelta(days=2))
        cases.record_verdict(ids[0], "useful", staff=MARKUP, note=MARKUP,
                             time=DAY + pd.Timedelta(days=2))
    return path


def test_the_loop_report_page_escapes_every_value(hostile_store, tmp_path):
    report = loop_report(hostile_store, as_of=DAY + pd.Timedelta(days=7))
    page = report.save(tmp_path / "out")["loop_report"].read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "楼" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    doc = json.loads((tmp_path / "out" / "loop_report.json").read_text(encoding="utf-8"))
    assert {r["advisor"] for r in doc["contact_by_advisor"]} == {MARKUP, "=SUM(A1)"}
    # student ids (leading zeros, Chinese) never reach the report
    text = json.dumps(doc, ensure_ascii=False) + page
    assert "0042" not in text and "王小明" not in text


def test_a_store_password_is_never_shown(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "postgresql+psycopg://ews:s3cret-pw@127.0.0.1:1/ews?connect_timeout=1"
    out = io.StringIO()
    code = cli.main(["cases", "report", "--store", url, "--out", "r"], stream=out)
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and "s3cret-pw" not in err + out.getvalue()
    monkeypatch.setenv("STUDENTPROFILE_STORE_URL", url)
    code = cli.main(["warn", str(tmp_path / "no-run"), "--as-of", "2014-11-08", "--smtp",
                     "mail.campus.edu", "--from", "a@b.c", "--allow-host", "x.edu"],
                    stream=out)
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and "s3cret-pw" not in err + out.getvalue()


def test_a_staff_file_keeps_ids_exactly(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text("staff_id,role,capacity,unit,email\n"
                    "0007,advisor,2,北楼,a@x.edu\n=1+1,advisor,1,NA,\nNULL,tutor,1,,\n",
                    encoding="utf-8")
    frame = read_people(path, key="staff", id_column="staff_id")
    assert frame["staff_id"].tolist() == ["0007", "=1+1", "NULL"]
    assert frame["unit"].tolist()[:2] == ["北楼", "NA"]  # "NA" is a unit, not a missing value
    bom = tmp_path / "excel.csv"
    bom.write_bytes("staff_id,role,capacity\n王老师,advisor,2\n".encode("utf-8-sig"))
    assert read_people(bom, key="staff", id_column="staff_id")["staff_id"].tolist() == ["王老师"]
    with pytest.raises(ConfigError, match="staff must be a DataFrame or a CSV file"):
        read_people(42, key="staff", id_column="staff_id")
