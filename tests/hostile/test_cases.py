"""Hostile inputs for cases: ids, notes and staff names from the real world; zones; BOMs."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from studentprofile.cli import main
from studentprofile.warning import CaseStore, Routing

IDS = ["0042", "张伟", "=HYPERLINK(\"http://x\")", "O'Brien; DROP TABLE cases; --", "\x1b[2Jevil"]


@pytest.fixture
def store(tmp_path):
    alerts = pd.DataFrame({"alert_id": [f"a{i}" for i in range(len(IDS))], "student_id": IDS,
                           "as_of": pd.Timestamp("2026-11-09 00:00", tz="Asia/Shanghai"),
                           "score": 0.8, "reasons": [["r"]] * len(IDS)})
    path = tmp_path / "cases.sqlite"
    with CaseStore(path) as s:
        s.open_cases(alerts, time="2026-11-09T08:00+08:00")
        yield s, str(path)


def test_ids_and_text_round_trip_exactly(store):
    s, _ = store
    cases = s.cases()
    assert cases["student_id"].tolist() == IDS  # leading zeros, CJK, formulas, quotes kept
    # an aware as-of and opening time are stored as UTC
    assert (cases["as_of"] == pd.Timestamp("2026-11-08 16:00")).all()
    assert (cases["opened_at"] == pd.Timestamp("2026-11-09 00:00")).all()
    cid = cases["case_id"].iloc[3]
    nasty = "Robert'); DROP TABLE case_events; -- \u202e 备注 " + "x" * 100_000
    s.add_note(cid, nasty, staff="o'neil\"; --", time="2026-11-10T09:00+01:00")
    hist = s.history(cid)
    assert json.loads(hist["detail"].iloc[-1])["text"] == nasty
    assert hist["staff"].iloc[-1] == "o'neil\"; --"
    assert hist["time"].iloc[-1] == pd.Timestamp("2026-11-10 08:00")
    assert len(s.cases()) == len(IDS)  # nothing dropped


def test_terminal_escapes_are_shown_not_obeyed(store):
    s, path = store
    cid = s.cases()["case_id"].iloc[4]
    s.add_note(cid, "\x1b]0;pwned\x07 hi", staff="kim")
    out = io.StringIO()
    assert main(["cases", "show", cid, "--store", path], stream=out) == 0
    assert "\x1b" not in out.getvalue() and "\\x1b[2Jevil" in out.getvalue()
    out = io.StringIO()
    assert main(["cases", "list", "--store", path], stream=out) == 0
    assert "\x1b" not in out.getvalue()
    out = io.StringIO()
    assert main(["cases", "show", cid, "--store", path, "--json"], stream=out) == 0
    assert "\x1b" not in out.getvalue()
    assert json.loads(out.getvalue())["student_id"] == "\x1b[2Jevil"  # exact in JSON


def test_routing_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "routing.toml"
    path.write_bytes("\ufeff[routing.families]\nacademic = \"tutor\"\n".encode())
    assert Routing.from_toml(path).families == {"academic": "tutor"}
