"""Hostile targets for the alert store: bad URLs, a server that is not there, passwords that
must never reach a message. (Damaged and read-only SQLite files: tests/hostile/test_warning.py;
a campus table in the way on PostgreSQL: tests/test_warning_alert_log.py.)"""

from __future__ import annotations

import socket

import pytest

from studentprofile.errors import ConfigError, SourceError, StudentProfileError
from studentprofile.warning import AlertLog
from studentprofile.warning._alert_log import UNREACHABLE
from studentprofile.warning._db import engine_for, masked_url

SECRET = "s3cret-pw"


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("nosuchdialect://x/y", ConfigError, "run on SQLite or PostgreSQL"),
        (f"mysql://kim:{SECRET}@db.campus.edu/ew", ConfigError, "run on SQLite or PostgreSQL"),
        (f"postgresql+nosuchdriver://kim:{SECRET}@h/db", ConfigError, "no SQLAlchemy dialect"),
        (f"postgresql+psycopg://kim:{SECRET}@[::1/db", ConfigError, "not a database URL"),
        ("sqlite:///file:x.db?mode=ro&uri=true", ConfigError, "named by its path"),
        ("${SP_TEST_UNSET_ALERT_DB}", SourceError, "SP_TEST_UNSET_ALERT_DB .* is not set"),
        ("", ConfigError, "needs a file path, a database URL or an Engine"),
        (42, ConfigError, "needs a file path, a database URL or an Engine"),
    ],
)
def test_a_bad_target_is_a_typed_error_without_the_password(target, error, match):
    with pytest.raises(error, match=match) as err:
        AlertLog(target)
    assert SECRET not in str(err.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def test_an_unreachable_server_is_named_by_host_and_port_never_the_password(caplog):
    caplog.set_level("DEBUG")
    port = _closed_port()
    with pytest.raises(StudentProfileError, match=UNREACHABLE) as err:
        AlertLog(f"postgresql+psycopg://advisor:{SECRET}@127.0.0.1:{port}/campus")
    text = str(err.value)
    assert "127.0.0.1" in text and str(port) in text
    assert type(err.value).__name__ == "OutputError"
    assert SECRET not in text and SECRET not in caplog.text
    assert "advisor:***@127.0.0.1" in text  # the masked URL says which log it was


def test_an_unreachable_server_through_an_environment_variable(monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("SP_TEST_ALERT_DB", f"postgresql+psycopg://kim:{SECRET}@127.0.0.1:{port}/x")
    with pytest.raises(StudentProfileError, match=UNREACHABLE) as err:
        AlertLog("${SP_TEST_ALERT_DB}")
    assert SECRET not in str(err.value)


def test_masked_url_hides_passwords_in_the_url_and_the_query():
    engine = engine_for(f"postgresql+psycopg://kim:{SECRET}@h:5432/db?sslpassword={SECRET}"
                        "&sslmode=require")
    try:
        shown = masked_url(engine)
    finally:
        engine.dispose()
    assert SECRET not in shown
    assert shown == "postgresql+psycopg://kim:***@h:5432/db?sslmode=require&sslpassword=***"


def test_a_foreign_sqlite_engine_is_refused(tmp_path):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    try:
        with pytest.raises(ConfigError, match="must be made by engine_for"):
            AlertLog(engine)
    finally:
        engine.dispose()


def test_a_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot open the alert log"):
        AlertLog(tmp_path / "no" / "such" / "folder" / "alerts.sqlite")


def test_a_driver_error_carries_no_student_id_in_its_traceback(tmp_path):
    """SQLAlchemy prints a failed statement's parameters in its errors; the stores' engines hide
    them, so the chained traceback of a refused write holds no student id."""
    import traceback

    import pandas as pd

    from studentprofile.errors import OutputError

    path = tmp_path / "alerts.sqlite"
    with AlertLog(path) as log:
        log.record_alerts(pd.DataFrame({"student_id": ["ana"], "as_of": [1.0]}))
        log.engine.dispose()
        log.engine = engine_for(path, read_only=True)
        with pytest.raises(OutputError) as err:
            log.record_alerts(pd.DataFrame({"student_id": ["secret-student-42"],
                                            "as_of": [2.0]}))
    chain, exc = [], err.value
    while exc is not None:  # every message of the chain, as a traceback would print them
        chain.append("".join(traceback.format_exception_only(exc)))
        exc = exc.__cause__ or exc.__context__
    text = "\n".join(chain)
    assert len(chain) >= 2 and "INSERT INTO alerts" in text  # the statement, for the developer
    assert "secret-student-42" not in text


def test_a_read_only_log_in_a_folder_with_spaces_and_chinese_names(tmp_path):
    import pandas as pd

    folder = tmp_path / "预警 logs #1"
    folder.mkdir()
    path = folder / "alerts 2026?.sqlite"
    with AlertLog(path) as log:
        log.record_alerts(pd.DataFrame({"student_id": ["王小明"], "as_of": [1.0]}))
    with AlertLog(path, read_only=True) as log:
        assert log.alerts()["student_id"].tolist() == ["王小明"]
        assert log.path == str(path) and log.url == f"sqlite:///{path}"
