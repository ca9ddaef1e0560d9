"""One TOML file pointing at a campus's own sources: a database, Parquet, compressed CSV.

The simulated campus is cut into the systems a campus runs (the student information system's
semicolon CSV, the card system's database, the LMS's partitioned Parquet export, the registry's
grades as compressed CSV) and read back through the config: the same tables as the frames.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile.cli import main
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.pipeline import load_config
from studentprofile.pipeline._tables import load_tables


@pytest.fixture(scope="module")
def campus(tmp_path_factory):
    root = tmp_path_factory.mktemp("campus")
    tables = sp.datasets.simulate_campus(n_students=50, days=100, seed=11)
    ids = {sid: f"{i:05d}" for i, sid in enumerate(tables.students["student_id"])}
    students = tables.students.copy()
    students["student_id"] = students["student_id"].map(ids)
    events = tables.events.copy()
    events["student_id"] = events["student_id"].map(ids)
    for col in ("family", "kind", "course_id", "dimension"):
        events[col] = events[col].astype(object)
    outcomes = tables.outcomes.copy()
    outcomes["student_id"] = outcomes["student_id"].map(ids)
    # the student information system: ';'-separated, Latin-1, decimal commas
    sis = students.copy()
    sis["program"] = sis["program"].astype(str) + np.where(np.arange(len(sis)) % 2, "", " é")
    sis.to_csv(root / "sis.csv", sep=";", decimal=",", index=False, encoding="latin-1")
    # the card system's database
    cards = events[events["kind"].isin(["canteen_swipe", "library_entry"])]
    with sqlite3.connect(root / "cards.db") as con:
        pd.DataFrame({
            "holder": cards["student_id"], "swiped_at": cards["time"].astype(str),
            "terminal": cards["kind"].map({"canteen_swipe": "CANTEEN",
                                           "library_entry": "LIB"}),
            "amount": cards["value"],
        }).to_sql("swipes", con, index=False)
    # the LMS's clicks, a partitioned Parquet export
    lms = events[events["kind"] == "lms_click"]
    lms_out = pd.DataFrame({"user": lms["student_id"], "ts": lms["time"],
                            "clicks": lms["value"], "month": lms["time"].dt.month})
    lms_out.to_parquet(root / "lms", partition_cols=["month"], index=False)
    # everything else as it is, compressed
    rest = events[~events["kind"].isin(["canteen_swipe", "library_entry", "lms_click"])]
    rest.to_csv(root / "other.csv.gz", index=False)
    outcomes.to_csv(root / "outcomes.csv", index=False)
    config = root / "campus.toml"
    config.write_text(textwrap.dedent("""
        name = "campus-sources"
        [data]
        outcomes = { path = "outcomes.csv", parse_dates = ["time"] }
        audit_attributes = ["gender", "disability", "age_band"]

        [data.students]
        path = "sis.csv"
        sep = ";"
        decimal = ","
        encoding = "latin-1"
        parse_dates = ["entry_date", "term_start", "term_end"]

        [[data.events]]
        name = "card_system"
        sql = "select holder, swiped_at, terminal, amount from swipes"
        url = "${SP_TEST_CARDS_DB}"
        columns = { student_id = "holder", time = "swiped_at", value = "amount" }
        parse_dates = ["time"]
        family = "behavioral"
        kind = { column = "terminal", map = { CANTEEN = "canteen_swipe", LIB = "library_entry" } }

        [[data.events]]
        name = "lms"
        path = "lms"
        columns = { student_id = "user", time = "ts", value = "clicks" }
        family = "behavioral"
        kind = "lms_click"

        [[data.events]]
        name = "registry"
        path = "other.csv.gz"
        parse_dates = ["time", "known_at"]
    """), encoding="utf-8")
    return root, config, students, events, outcomes


def test_one_config_reads_every_source_into_the_same_tables(campus, monkeypatch):
    root, config, students, events, outcomes = campus
    monkeypatch.setenv("SP_TEST_CARDS_DB", f"sqlite:///{root / 'cards.db'}")
    cfg = load_config(config)
    assert [s.name for s in cfg.data.events] == ["card_system", "lms", "registry"]
    tables = load_tables(cfg)
    got = tables.events
    assert sorted(got["source"].unique()) == ["card_system", "lms", "registry"]
    assert got["student_id"].str.len().eq(5).all()  # ids as text, zeros kept
    key = ["student_id", "time", "kind", "value"]
    a = got.sort_values(key, kind="stable").reset_index(drop=True)
    b = events.sort_values(key, kind="stable").reset_index(drop=True)
    assert len(a) == len(b)
    for col in ("student_id", "time", "family", "kind", "value"):
        assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col
    assert tables.students["program"].str.endswith(" é").sum() == len(students) // 2
    per_source = tables.describe(by="source")
    assert per_source["events"].sum() == len(events)
    assert per_source.loc["lms", "kinds"] == 1 and per_source.loc["card_system", "kinds"] == 2
    assert (per_source["known_at_lag_max"] >= 0).all()
    # the config round-trips with its sources (the URL stays a variable's name)
    again = type(cfg).from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.data.events == cfg.data.events
    assert "${SP_TEST_CARDS_DB}" in json.dumps(cfg.to_dict())


def test_check_reports_every_source_and_exits_0_or_2(campus, monkeypatch, capsys):
    root, config, *_ = campus
    monkeypatch.setenv("SP_TEST_CARDS_DB", f"sqlite:///{root / 'cards.db'}")
    assert main(["check", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by = {s["source"]: s for s in report["sources"]}
    assert set(by) == {"students", "card_system", "lms", "registry", "outcomes"}
    assert by["card_system"]["kind"] == "sql" and by["card_system"]["unknown_ids"] == 0
    assert by["registry"]["known_at_lag_days"]["max"] >= 0
    assert report["ok"] and report["tables"]["students"] == 50
    # a broken source: check says which, exit 2, and the others are still reported
    broken = root / "broken.toml"
    broken.write_text(config.read_text().replace('value = "clicks"', 'value = "klicks"'))
    assert main(["check", str(broken)]) == 2
    text = capsys.readouterr().out
    assert "lms" in text and "ERROR" in text and "klicks" in text
    assert "card_system" in text and "registry" in text


def test_source_rules_and_secrets(campus, monkeypatch, tmp_path):
    root, config, *_ = campus
    monkeypatch.setenv("SP_TEST_CARDS_DB", f"sqlite:///{root / 'cards.db'}")
    text = config.read_text()
    unmapped = tmp_path / "unmapped.toml"
    unmapped.write_text(text.replace(', LIB = "library_entry"', "").replace(
        'path = "', f'path = "{root}/'))
    with pytest.raises(SchemaError, match="the kind map does not name"):
        load_tables(load_config(unmapped))
    secret = tmp_path / "secret.toml"
    secret.write_text(text.replace('"${SP_TEST_CARDS_DB}"',
                                   '"postgresql://advisor:hunter2@db.campus/sis"'))
    with pytest.raises(ConfigError, match="password must not be written") as err:
        load_config(secret)
    assert "hunter2" not in str(err.value)
    both = tmp_path / "both.toml"
    both.write_text(text.replace('kind = "lms_click"', 'kind = "lms_click"\nsql = "select 1"'))
    with pytest.raises(ConfigError, match="a path or a sql query"):
        load_config(both)


def test_an_lrs_export_is_an_events_source(tmp_path, monkeypatch, capsys):
    students = pd.DataFrame({"student_id": ["000123", "000456"]})
    students.to_csv(tmp_path / "students.csv", index=False)
    pd.DataFrame({"student_id": ["000456"], "time": ["2024-06-01"], "outcome": ["withdrawn"]}
                 ).to_csv(tmp_path / "outcomes.csv", index=False)
    adl = "http://adlnet.gov/expapi/verbs/"
    statements = [
        {"id": f"s{i}", "actor": {"account": {"homePage": "https://lms", "name": who}},
         "verb": {"id": adl + verb}, "object": {"id": "https://lms/quiz/1"},
         "result": {"score": {"scaled": score}} if score is not None else {},
         "timestamp": f"2024-03-0{i + 1}T10:00:00+08:00", "stored": f"2024-03-0{i + 2}T00:00:00Z"}
        for i, (who, verb, score) in enumerate([("000123", "passed", 0.9),
                                                ("000456", "failed", 0.2),
                                                ("000456", "launched", None)])
    ]
    statements.append({"id": "bad", "verb": {"id": adl + "passed"}})  # no actor
    (tmp_path / "lrs.jsonl").write_text("\n".join(json.dumps(s) for s in statements))
    (tmp_path / "campus.toml").write_text(textwrap.dedent("""
        name = "lrs-source"
        [data]
        students = "students.csv"
        outcomes = { path = "outcomes.csv", parse_dates = ["time"] }
        [[data.events]]
        name = "lrs"
        path = "lrs.jsonl"
        format = "xapi"
        hash_key_env = "SP_TEST_NO_SUCH_KEY"
    """))
    monkeypatch.delenv("SP_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="SP_TEST_NO_SUCH_KEY is not set"):
        load_tables(load_config(tmp_path / "campus.toml"))
    text = (tmp_path / "campus.toml").read_text().replace(
        'hash_key_env = "SP_TEST_NO_SUCH_KEY"\n', "")
    (tmp_path / "campus.toml").write_text(text)
    tables = load_tables(load_config(tmp_path / "campus.toml"))
    ev = tables.events.sort_values("time")
    assert ev["kind"].tolist() == ["xapi_passed", "xapi_failed", "xapi_launched"]
    assert ev["student_id"].tolist() == ["000123", "000456", "000456"]
    assert ev["time"].iloc[0] == pd.Timestamp("2024-03-01 02:00")  # +08:00 -> UTC
    assert ev["known_at"].iloc[0] == pd.Timestamp("2024-03-02 00:00")  # stored
    assert (ev["source"] == "lrs").all()
    assert main(["check", str(tmp_path / "campus.toml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    lrs = next(s for s in report["sources"] if s["source"] == "lrs")
    assert lrs["records"]["rejected"] == {"missing-actor": 1}


@pytest.mark.slow
def test_check_train_warn_from_one_toml_without_python(campus, monkeypatch, capsys, tmp_path):
    """Issue 14's "done when": one TOML over a database, Parquet and CSV; check, train, warn."""
    root, config, *_ = campus
    monkeypatch.setenv("SP_TEST_CARDS_DB", f"sqlite:///{root / 'cards.db'}")
    monkeypatch.chdir(tmp_path)
    text = config.read_text().replace('name = "campus-sources"', textwrap.dedent(f"""\
        name = "campus-sources"
        [grid]
        every = 14
        [label]
        outcome = ["withdrawn"]
        horizon = 45
        [features]
        presets = ["academic", "behavioral"]
        [tracking]
        enabled = false
        output_dir = "{tmp_path / 'runs'}"
        """))
    cfg = tmp_path / "campus.toml"
    cfg.write_text(text.replace('path = "', f'path = "{root}/'))
    assert main(["check", str(cfg)]) == 0
    assert main(["train", "--config", str(cfg), "--json"]) == 0
    out = capsys.readouterr().out
    run = json.loads(out[out.index("{"):])
    as_of = str(pd.Timestamp(run["facts"]["period"]["last"]).date())
    assert main(["warn", "--as-of", as_of, "--run", run["run_dir"], "--log",
                 str(tmp_path / "alerts.sqlite"), "--out", str(tmp_path / "week"),
                 "--json"]) == 0
    week = json.loads(capsys.readouterr().out)
    assert week["students"] > 0
