"""Hostile inputs for the early-warning layer: damaged and read-only alert logs, ids that make
unsafe or colliding file names, spreadsheet formulas in the CSV files advisors open."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import DataIntegrityError, OutputError
from studentprofile.warning import AlertLog, card_file_stem
from studentprofile.warning._alert_log import DAMAGED, READ_ONLY

SRC = str(Path(__file__).resolve().parents[2] / "src")
PAGE = 4096


# ---------------------------------------------------------------------------- card file names
SAFE_STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,56}")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                    *(f"LPT{i}" for i in range(10))}


def _assert_safe(stem: str) -> None:
    assert SAFE_STEM.fullmatch(stem), stem  # no separator, no leading dot or dash, bounded
    assert stem.split(".")[0].upper() not in WINDOWS_RESERVED
    assert not stem.endswith((".", " "))


# pairs that the old `re.sub(r"[^A-Za-z0-9._-]+", "_", id)` squashed to one file name
COLLIDING = [("Zoë-1", "Zoé-1"), ("王小明", "李小红"), ("a/b", "a_b"), ("a b", "a_b"),
             ("Ana", "ana"), ("..", "."), ("x" * 300 + "1", "x" * 300 + "2"),
             ("CON", "con"), ("../etc/passwd", "_etc_passwd")]


@pytest.mark.parametrize(("a", "b"), COLLIDING)
def test_ids_the_old_names_squashed_get_distinct_safe_card_names(a, b):
    sa, sb = card_file_stem(a), card_file_stem(b)
    _assert_safe(sa)
    _assert_safe(sb)
    assert sa.lower() != sb.lower()  # distinct on case-insensitive file systems too


def test_a_card_name_is_readable_and_stable():
    assert card_file_stem("AAA/2014J/11391").startswith("AAA_2014J_11391-")
    assert card_file_stem("Zoë-1").startswith("Zoe-1-")
    assert card_file_stem(123) == card_file_stem("123")  # ids compare as text
    assert card_file_stem("王小明") == card_file_stem("王小明")


ids = st.one_of(st.text(min_size=0, max_size=80), st.integers().map(str),
                st.text(alphabet="aAéeÉ/._- \\:*?<>|\x00王", max_size=12))


@given(a=ids, b=ids)
def test_distinct_ids_give_distinct_safe_card_names(a, b):
    sa, sb = card_file_stem(a), card_file_stem(b)
    _assert_safe(sa)
    if a != b:
        assert sa.lower() != sb.lower()
    else:
        assert sa == sb


# ---------------------------------------------------------------------------- the alert log
def _alerts(n: int, as_of: float = 30.0) -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": [f"s{i:05d}" for i in range(n)],
        "as_of": [as_of] * n,
        "tier": ["high"] * n,
        "score": [0.7] * n,
        "reasons": [["attendance fell " * 4]] * n,
    })


@pytest.fixture
def good_log(tmp_path) -> Path:
    """A log of 600 alerts: many pages, so damage can hit data, index and header pages."""
    path = tmp_path / "alerts.sqlite"
    with AlertLog(path) as log:
        log.record_alerts(_alerts(600))
    assert path.stat().st_size > 40 * PAGE
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _garbage(b: bytes) -> bytes:
    return bytes((i * 131 + 7) % 256 for i in range(len(b)))


def _truncated(b: bytes) -> bytes:
    return b[: len(b) // 2]


def _bit_flipped_pages(b: bytes) -> bytes:
    out = bytearray(b)
    for off in range(3 * PAGE, len(out), PAGE):  # a bit in the cell area of every later page
        out[off + 100] ^= 0x10
    return bytes(out)


def _bit_flipped_header(b: bytes) -> bytes:
    out = bytearray(b)
    out[16] ^= 0x01  # the page size
    return bytes(out)


DAMAGE = {"garbage": _garbage, "truncated": _truncated, "bit-flipped pages": _bit_flipped_pages,
          "bit-flipped header": _bit_flipped_header}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_log_is_refused_typed_and_left_as_it_was(good_log, damage):
    good_log.write_bytes(DAMAGE[damage](good_log.read_bytes()))
    before = _sha(good_log)
    with pytest.raises(DataIntegrityError, match=DAMAGED) as err:
        AlertLog(good_log)
    assert not isinstance(err.value, sqlite3.Error)
    with pytest.raises(DataIntegrityError, match=DAMAGED):
        AlertLog(good_log, read_only=True)
    assert _sha(good_log) == before  # nothing rewritten, repaired or replaced
    assert sorted(p.name for p in good_log.parent.iterdir()) == ["alerts.sqlite"]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_and_reads_of_a_log_damaged_while_open_raise_data_integrity_error(
        good_log, damage):
    data = bytearray(DAMAGE[damage](good_log.read_bytes()))
    if len(data) > 28 and damage != "garbage":  # bump the change counter: SQLite re-reads pages
        data[24:28] = (int.from_bytes(data[24:28], "big") + 1).to_bytes(4, "big")
    with AlertLog(good_log) as log:
        with open(good_log, "r+b") as fh:  # damaged under the open log (disk, other program)
            fh.write(bytes(data))
            fh.truncate(len(data))
        with pytest.raises(DataIntegrityError, match=DAMAGED):
            log.verify()
        # a read or a write may or may not touch a damaged page; if it does, the error is typed
        for call in (log.alerts, lambda: log.record_alerts(_alerts(3, as_of=31.0))):
            try:
                call()
            except (DataIntegrityError, OutputError):
                pass


def test_a_sqlite_file_of_something_else_is_refused_not_extended(tmp_path):
    other = tmp_path / "grades.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE grades (student TEXT, grade REAL)")
        conn.execute("INSERT INTO grades VALUES ('ana', 71.0)")
    conn.close()
    before = _sha(other)
    with pytest.raises(DataIntegrityError, match="not the alert log's"):
        AlertLog(other)
    assert _sha(other) == before  # no alert tables were added to someone else's database


def test_a_read_only_log_reads_and_refuses_writes_typed(good_log):
    before = _sha(good_log)
    with AlertLog(good_log, read_only=True) as log:
        assert len(log.alerts()) == 600 and log.verify() == {"alerts": 600, "events": 600}
        with pytest.raises(OutputError, match=READ_ONLY):
            log.record_alerts(_alerts(3, as_of=31.0))
        aid = log.alerts()["alert_id"].iloc[0]
        with pytest.raises(OutputError, match=READ_ONLY):
            log.acknowledge(aid, time=31.0, staff="kim")
        assert len(log.alerts()) == 600
    assert _sha(good_log) == before


def test_sqlite_itself_refusing_a_write_is_an_output_error(good_log):
    # what a read-only file gives: SQLITE_READONLY from SQLite, whatever the cause
    from studentprofile.warning._db import engine_for

    with AlertLog(good_log) as log:
        log.engine.dispose()
        log.engine = engine_for(good_log, read_only=True)  # SQLite's mode=ro under the log
        with pytest.raises(OutputError, match=READ_ONLY) as err:
            log.record_alerts(_alerts(3, as_of=31.0))
        assert "SQLITE_READONLY" in str(err.value)
        assert len(log.alerts()) == 600


_AS_NOBODY = textwrap.dedent("""
    import sys
    from studentprofile.errors import OutputError
    from studentprofile.warning import AlertLog
    from studentprofile.warning._alert_log import READ_ONLY
    import pandas as pd
    log = AlertLog(sys.argv[1])
    n = len(log.alerts())
    try:
        log.record_alerts(pd.DataFrame({"student_id": ["x"], "as_of": [31.0]}))
    except OutputError as exc:
        assert READ_ONLY in str(exc), str(exc)
        print("refused", n)
    else:
        print("written")
""")


def _without_permission_override() -> list[str] | None:
    """A command prefix under which file permissions apply (None: they cannot be made to)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    # root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys file permissions like any user
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_a_log_file_without_write_permission_reads_and_refuses_writes(good_log, tmp_path):
    """The real thing: a file and folder the process may not write (root ignores permissions,
    so the check runs without root's permission override)."""
    prefix = _without_permission_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: file permissions cannot be enforced")
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "alerts.sqlite"
    shutil.copy(good_log, path)
    before = _sha(path)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        env = {**os.environ, "PYTHONPATH": SRC, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
        done = subprocess.run([*prefix, sys.executable, "-c", _AS_NOBODY, str(path)], env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["refused", "600"]
    assert _sha(path) == before


# ---------------------------------------------------------------------------- CSV for people
FORMULAS = ['=HYPERLINK("http://evil.example","open")', "+1-555-0100", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def test_the_weekly_csv_files_neutralise_formulas_and_keep_everything_else(tmp_path):
    from studentprofile.pipeline._weekly import _write_tables

    ids = [*FORMULAS, "007", "Zoë-1"]
    alerts = pd.DataFrame({
        "student_id": ids,
        "as_of": pd.Timestamp("2014-11-15"),
        "score": [-0.5 + i / 10 for i in range(len(ids))],  # numbers stay numbers
        "tier": "high",
        "reasons": [["=cmd|' /C calc'!A0", "attendance fell"]] * len(ids),
        "alert_id": [f"a{i}" for i in range(len(ids))],
    })
    caseloads = pd.DataFrame({"student_id": ids, "advisor_id": ["@kim"] * len(ids),
                              "programme": ["=1+2"] * len(ids), "status": "assigned"})
    stems = [card_file_stem(s) for s in ids]
    files = _write_tables(tmp_path, alerts, caseloads, stems)
    got = pd.read_csv(files["alerts"], dtype=str, keep_default_na=False)
    assert list(got["student_id"]) == ["'" + f for f in FORMULAS] + ["007", "Zoë-1"]
    assert set(got["reasons"]) == {"'=cmd|' /C calc'!A0 | attendance fell"}
    assert list(got["card"]) == [f"{s}.html" for s in stems]
    assert got["score"].iloc[0] == "-0.5"  # a number, not text: unchanged
    plan = pd.read_csv(files["caseloads"], dtype=str, keep_default_na=False)
    assert set(plan["advisor_id"]) == {"'@kim"} and set(plan["programme"]) == {"'=1+2"}
    for path in files.values():  # no cell of either file starts a formula
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert not frame.map(lambda v: v.startswith(("=", "+", "@", "\t", "\r"))).any().any()


# ---------------------------------------------------------------------------- dates in any zone
def test_a_card_date_is_the_same_instant_in_any_zone_or_form():
    from studentprofile.warning import profile_card

    days = pd.to_datetime(["2014-11-08", "2014-11-15"])
    risk = pd.Series([0.2, 0.6], index=pd.MultiIndex.from_arrays(
        [["Zoë-1", "Zoë-1"], days], names=["student_id", "as_of"]))
    reasons = {("Zoë-1", days[0]): ["attendance fell"]}
    for same in ("2014-11-08", "2014-11-08T08:00+08:00", pd.Timestamp("2014-11-07 19:00",
                 tz="America/New_York"), days[0].to_datetime64(), days[0].to_pydatetime()):
        card = profile_card("Zoë-1", same, risk=risk, reasons=reasons)
        assert card["as_of"] == "2014-11-08" and card["risk"]["probability"] == 0.2
        assert [r["text"] for r in card["reasons"]] == ["attendance fell"]
