"""The weekly job: idempotent log, no look-ahead, caseloads within capacity, a card per alert."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from studentprofile import cli
from studentprofile.errors import ConfigError
from studentprofile.pipeline import demo_config, weekly_alerts
from studentprofile.warning import AlertLog

DATES = ("2014-03-08", "2014-11-15")  # both with alerts in the 4% sample


# every test here uses the demo run on 4% of OULAD: end to end on real data
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(two_runs):
    """The first demo run of conftest's `two_runs` (4% of OULAD) and the tables it used."""
    from studentprofile.pipeline import load_tables

    first, _, root, _ = two_runs
    return root / first.run_dir, load_tables(demo_config(sample_students=0.04)), root


@pytest.fixture()
def advisors():
    return pd.DataFrame({"advisor_id": ["a1", "a2", "a3"], "capacity": [2, 1, 1],
                         "programmes": [["AAA", "BBB"], ["CCC", "DDD", "EEE"], None]})


def test_rerunning_a_date_adds_nothing_to_the_log(trained, tmp_path):
    run_dir, tables, _ = trained
    log = tmp_path / "alerts.sqlite"
    first = weekly_alerts(run_dir, DATES[0], log=log, tables=tables)
    assert len(first.alerts) > 0 and first.recorded.n_new == len(first.alerts)
    second = weekly_alerts(run_dir, DATES[0], log=log, tables=tables)
    assert second.recorded.n_new == 0 and second.recorded.n_existing == len(first.alerts)
    assert list(second.alerts["alert_id"]) == list(first.alerts["alert_id"])
    with AlertLog(log) as lg:
        logged = lg.alerts()
    assert len(logged) == len(first.alerts)
    assert set(logged["alert_id"]) == set(first.alerts["alert_id"])


@pytest.mark.parametrize("day", DATES)
def test_nothing_known_from_the_date_on_changes_the_output(trained, tmp_path, day):
    run_dir, tables, _ = trained
    full = weekly_alerts(run_dir, day, log=tmp_path / "a.sqlite", tables=tables)
    cut = tables.known_before(pd.Timestamp(day) + pd.Timedelta(days=1))
    assert len(cut.events) < len(tables.events)  # the cut removes something
    past = weekly_alerts(run_dir, day, log=tmp_path / "b.sqlite", tables=cut)
    pd.testing.assert_frame_equal(full.tiers, past.tiers)
    pd.testing.assert_frame_equal(full.alerts, past.alerts)


def test_alerts_are_today_highest_first_and_carry_reasons(trained, tmp_path):
    run_dir, tables, _ = trained
    got = weekly_alerts(run_dir, DATES[1], log=tmp_path / "a.sqlite", tables=tables, top_reasons=2)
    at = pd.Timestamp(DATES[1])
    a = got.alerts
    assert (a["as_of"] <= at).all() and (a["as_of"] > at - pd.Timedelta(days=7)).all()
    assert a["score"].is_monotonic_decreasing
    assert all(len(r) == 2 and all(isinstance(x, str) and x for x in r) for r in a["reasons"])
    # alerts are a subset of today's watch list, which has one row per current student
    assert got.tiers["student_id"].is_unique and len(got.tiers) == got.students
    alerted = got.tiers[got.tiers["alert"]]
    assert set(alerted["student_id"]) == set(a["student_id"])
    assert alerted["tier"].notna().all()


def test_caseloads_respect_capacity_and_programmes(trained, tmp_path, advisors):
    run_dir, tables, _ = trained
    got = weekly_alerts(run_dir, DATES[0], log=tmp_path / "a.sqlite", tables=tables,
                        advisors=advisors)
    plan = got.caseloads
    assert plan is not None and len(plan) == len(got.alerts)
    load = plan["advisor_id"].value_counts()
    cap = advisors.set_index("advisor_id")["capacity"]
    assert (load <= cap.reindex(load.index)).all()
    prog = tables.students.set_index("student_id")["program"].astype(str)
    covers = dict(zip(advisors["advisor_id"], advisors["programmes"], strict=True))
    for sid, adv in zip(plan["student_id"], plan["advisor_id"], strict=True):
        if adv is not None:
            assert covers[adv] is None or prog[sid] in covers[adv]
    # a3 covers every programme: with its room used or nobody refused, coverage is maximal
    refused = plan["status"] == "no capacity left"
    assert not refused.any() or load.get("a3", 0) == cap["a3"]


def test_cards_and_files_for_the_campus_system(trained, tmp_path, advisors):
    run_dir, tables, _ = trained
    out = tmp_path / "week"
    got = weekly_alerts(run_dir, DATES[0], log=tmp_path / "a.sqlite", tables=tables,
                        advisors=advisors, cards_dir=out)
    cards = sorted(out.glob("*.json"))
    assert len(cards) == len(got.alerts)
    by_id = {str(r.student_id): r for r in got.alerts.itertuples()}
    for path in cards:
        card = json.loads(path.read_text())
        row = by_id[card["student_id"]]
        assert card["risk"]["probability"] == pytest.approx(row.score, abs=1e-12)
        assert card["risk"]["tier"] == row.tier
        assert [r["text"] for r in card["reasons"]][:1] == row.reasons[:1]
        assert path.with_suffix(".html").is_file()
    listed = pd.read_csv(got.files["alerts"])
    assert list(listed["student_id"]) == list(got.alerts["student_id"])
    assert len(pd.read_csv(got.files["caseloads"])) == len(got.alerts)
    # the summary has counts only
    text = json.dumps(got.summary())
    assert not any(str(s) in text for s in got.alerts["student_id"])


def test_bad_inputs_name_what_to_fix(trained, tmp_path):
    run_dir, tables, _ = trained
    with pytest.raises(ConfigError, match="as_of must be a date"):
        weekly_alerts(run_dir, "next week", log=tmp_path / "a.sqlite", tables=tables)
    with pytest.raises(ConfigError, match="no student has an as-of date") as err:
        weekly_alerts(run_dir, "2001-01-01", log=tmp_path / "a.sqlite", tables=tables)
    assert "2013-" in str(err.value)
    with pytest.raises(ConfigError, match="advisors file does not exist"):
        weekly_alerts(run_dir, DATES[0], log=tmp_path / "a.sqlite", tables=tables,
                      advisors=tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="programme column"):
        weekly_alerts(run_dir, DATES[0], log=tmp_path / "a.sqlite", tables=tables,
                      advisors=tmp_path / "nope.csv", programme_column="faculty")
    assert not (tmp_path / "a.sqlite").exists()  # nothing written on bad input


def test_cli_warn_twice(trained, tmp_path, monkeypatch):
    run_dir, _, root = trained
    monkeypatch.chdir(tmp_path)
    (tmp_path / "advisors.csv").write_text("advisor_id,capacity,programmes\n"
                                           "a1,3,AAA;BBB\na2,2,\n")
    args = ["warn", "--as-of", DATES[0], "--run", str(run_dir), "--advisors", "advisors.csv",
            "--out", "week"]
    out = io.StringIO()
    assert cli.main(args, stream=out) == cli.EXIT_OK
    text = out.getvalue()
    assert "current students scored" in text and "new alerts today" in text
    assert "caseloads" in text and (tmp_path / "week" / "alerts.csv").is_file()
    again = io.StringIO()
    assert cli.main([*args, "--json"], stream=again) == cli.EXIT_OK
    doc = json.loads(again.getvalue())
    assert doc["logged_new"] == 0 and doc["logged_already"] == doc["alerts"] > 0
    assert doc["students"] > 0
