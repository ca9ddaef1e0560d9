"""The weekly job: idempotent log, no look-ahead, caseloads within capacity, a card per alert."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studentprofile import cli
from studentprofile.errors import ConfigError
from studentprofile.pipeline import demo_config, run, weekly_alerts
from studentprofile.warning import AlertLog

DATES = ("2014-03-08", "2014-11-15")  # both with alerts in the 4% sample


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """A demo run on 4% of OULAD (no tracking), its config and its folder."""
    root = tmp_path_factory.mktemp("weekly")
    cfg = demo_config(sample_students=0.04, enabled=False, output_dir=root / "runs")
    return run(cfg), cfg, root


@pytest.fixture(scope="module")
def trained(demo_run):
    """The demo run's folder, the tables it used and the root folder."""
    from studentprofile.pipeline import load_tables

    result, cfg, root = demo_run
    return result.run_dir, load_tables(cfg), root


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
    # the caseload is recorded in the log, once: a rerun of the week adds nothing
    weekly_alerts(run_dir, DATES[0], log=tmp_path / "a.sqlite", tables=tables, advisors=advisors)
    with AlertLog(tmp_path / "a.sqlite") as lg:
        logged = lg.assignments()
    assigned = plan[plan["status"] == "assigned"]
    assert len(assigned) and len(logged) == len(assigned)
    assert dict(zip(logged["student_id"], logged["staff_id"], strict=True)) == dict(
        zip(assigned["student_id"], assigned["advisor_id"], strict=True))
    ids = dict(zip(got.alerts["student_id"], got.alerts["alert_id"], strict=True))
    assert all(ids[s] == a for s, a in zip(logged["student_id"], logged["alert_id"], strict=True))
    assert (logged["role"] == "advisor").all() and logged["by"].str.startswith(
        "assign_caseloads").all()


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


HOSTILE_IDS = ["Zoë-1", "Zoé-1", "王小明", "李小红", "a/b", "a_b", '=HYPERLINK("http://x","y")',
               "+1-555", "-2", "@SUM(A1)", "\tTAB", "CON", "..", "../up"]


def _renamed(tables, mapping, programme):
    from studentprofile.tables import EventTables

    def rename(frame):
        return frame.assign(student_id=frame["student_id"].astype(object).map(
            lambda s: mapping.get(s, s)))

    students = rename(tables.students)
    # a column the model does not read, so the renamed students are alerted as before
    students["faculty"] = "Arts"
    students.loc[students["student_id"].isin(list(mapping.values())), "faculty"] = programme
    return EventTables(students=students, events=rename(tables.events),
                       outcomes=rename(tables.outcomes),
                       audit_attributes=tables.audit_attributes, time_kind=tables.time_kind)


def test_hostile_ids_get_one_card_each_and_the_csv_files_are_spreadsheet_safe(trained, tmp_path):
    """Issue 12 items 3 and 4: ids that squashed to one file name lost cards; ids, programmes
    and advisor ids beginning with = + - @ or a tab were written into the CSV files as is."""
    run_dir, tables, _ = trained
    # the week with the most alerts: six ids cover the three pairs that used to collide
    weeks = {d: weekly_alerts(run_dir, d, log=tmp_path / f"a{i}.sqlite", tables=tables)
             for i, d in enumerate(DATES)}
    date = max(DATES, key=lambda d: len(weeks[d].alerts))
    alerted = list(weeks[date].alerts["student_id"])[: len(HOSTILE_IDS)]
    assert len(alerted) >= 6
    mapping = dict(zip(alerted, HOSTILE_IDS, strict=False))
    programme = "=cmd|' /C calc'!A0"
    hostile = _renamed(tables, mapping, programme)
    advisors = pd.DataFrame({"advisor_id": ["@advisor", "-kim"], "capacity": [50, 50],
                             "programmes": [[programme], None]})
    out = tmp_path / "week"
    got = weekly_alerts(run_dir, date, log=tmp_path / "b.sqlite", tables=hostile,
                        advisors=advisors, cards_dir=out, programme_column="faculty")
    assert set(mapping.values()) <= set(got.alerts["student_id"])  # ids do not change scores
    # one card per alert, each holding its exact id; nothing written outside the folder
    cards = sorted(out.glob("*.json"))
    assert len(cards) == len(got.alerts)
    held = sorted(json.loads(p.read_text(encoding="utf-8"))["student_id"] for p in cards)
    assert held == sorted(got.alerts["student_id"])
    assert {p.parent for p in out.rglob("*")} == {out}
    assert not (tmp_path / "up.json").exists()
    # the CSV files: formula-like cells get a quote in front, everything else is as it was
    listed = pd.read_csv(out / "alerts.csv", dtype={"student_id": str}, keep_default_na=False)
    expected = [("'" + s) if s.startswith(("=", "+", "-", "@", "\t")) else s
                for s in got.alerts["student_id"]]
    assert list(listed["student_id"]) == expected
    assert {f"{c}" for c in listed["card"]} == {p.with_suffix(".html").name for p in cards}
    plan = pd.read_csv(out / "caseloads.csv", dtype=str, keep_default_na=False)
    assert "@advisor" not in set(plan["advisor_id"]) and "'@advisor" in set(plan["advisor_id"])
    assert not any(str(v).startswith(("=", "+", "-", "@", "\t"))
                   for col in plan.columns for v in plan[col])
    text = (out / "caseloads.csv").read_text(encoding="utf-8")
    assert programme not in text.replace("'" + programme, "")


def test_the_same_instant_in_any_zone_is_the_same_week(trained, tmp_path):
    """Issue 13 item 9: as_of goes through the one time module (an offset crashed the grid
    comparison; a date beyond datetime64[ns] raised OutOfBoundsDatetime)."""
    run_dir, tables, _ = trained
    base = weekly_alerts(run_dir, DATES[1], log=tmp_path / "a.sqlite", tables=tables)
    for same in (f"{DATES[1]}T01:00+01:00", pd.Timestamp(DATES[1], tz="UTC"),
                 pd.Timestamp(f"{DATES[1]} 08:00", tz="Asia/Shanghai")):
        got = weekly_alerts(run_dir, same, log=tmp_path / "a.sqlite", tables=tables)
        assert got.as_of == pd.Timestamp(DATES[1])
        pd.testing.assert_frame_equal(got.tiers, base.tiers)
        assert got.recorded.n_new == 0  # the same alerts, already logged
    for bad in ("2300-01-01", 42.0, None):
        with pytest.raises(ConfigError, match="as_of must be a date"):
            weekly_alerts(run_dir, bad, log=tmp_path / "a.sqlite", tables=tables)


class _Model:
    """Scores each row with its column `p` (the risk is set by hand)."""

    def predict_proba(self, X):
        p = X["p"].to_numpy()
        return np.column_stack([1 - p, p])


class _Expl:
    def __init__(self, rows):
        self.data = rows
        self.probability = rows["p"].to_numpy()

    def reasons(self, top, direction):
        return [{"probability": p, "as_of": a, "reasons": [{"sentence": f"reason of {s}"}]}
                for (s, a), p in zip(self.data.index, self.probability, strict=True)]


def _history():
    idx = pd.MultiIndex.from_product([["ana", "ben", "cai"], [0.0, 7.0, 14.0, 21.0]],
                                     names=["student_id", "as_of"])
    p = [0.1, 0.2, 0.6, 0.7,     # ana: two dates in the tier -> alerted (enter_after=2)
         0.1, 0.1, 0.1, 0.9,     # ben: the highest risk today, one date only -> not alerted
         0.1, 0.1, 0.1, 0.2]     # cai: low
    return pd.DataFrame({"p": p}, index=idx)


@pytest.mark.parametrize(("enter_after", "shown", "alerted", "tier"),
                         [(2, "ana", True, "high"), (3, "ben", False, None)])
def test_the_demo_shows_an_alerted_student_or_says_nobody_was(enter_after, shown, alerted, tier):
    """Issue 13 item 6: the demo showed 'the highest-risk student (risk 0.06, below every
    tier)'; it shows the highest-risk alerted one, and says so when nobody was alerted."""
    from types import SimpleNamespace

    from studentprofile.pipeline._warning import showcase

    X = _history()
    expl = _Expl(X.xs(21.0, level="as_of", drop_level=False))
    cfg = SimpleNamespace(evaluation=SimpleNamespace(enter_after=enter_after, exit_after=1,
                                                     cooldown_days=0.0))
    top, example = showcase(expl, X=X, model=_Model(), tiers={"high": 0.5}, cfg=cfg)
    assert expl.data.index[top][0] == shown
    assert example["alerted"] is alerted and example["tier"] == tier
    assert example["reasons"] == [f"reason of {shown}"]
    assert example["risk"] == X.loc[(shown, 21.0), "p"]
    if alerted:
        assert example["note"].startswith("the highest-risk alerted student")
    else:
        assert example["note"].startswith("no student of the explained sample")
    assert shown not in example["note"]  # no identifier


def test_a_card_without_identifier_says_so_in_its_heading_and_title():
    from studentprofile.warning import render_card_html

    page = render_card_html({"card_version": 1, "student_id": None, "as_of": "2014-11-15",
                             "risk": {"probability": 0.41, "tier": "high"}}, full_page=True)
    assert "<title>Profile card (identifier withheld)</title>" in page
    assert "Student (identifier withheld)" in page
    assert "None" not in page


def test_the_demo_shows_and_cards_an_alerted_student(demo_run):
    """Issue 13 item 6, end to end: the summary's student was alerted, its card agrees, and the
    card is headed 'identifier withheld' (it read 'Profile card: student None')."""
    result, _, _ = demo_run
    ex = result.example
    assert ex["alerted"] is True and ex["tier"] is not None  # the 4% sample has alerts
    card = json.loads((Path(result.run_dir) / "profile_card.json").read_text())
    assert card["student_id"] is None and card["alerts"]
    assert card["risk"]["tier"] == ex["tier"]
    assert card["risk"]["probability"] == pytest.approx(ex["risk"], abs=1e-9)
    page = (Path(result.run_dir) / "profile_card.html").read_text()
    assert "<title>Profile card (identifier withheld)</title>" in page and "None" not in page
    text = io.StringIO()
    cli._summary(result, cli._Out(as_json=False, quiet=False, stream=text), title="demo")
    assert (f"why the highest-risk alerted student of the latest week's explained sample is "
            f"flagged (risk {ex['risk']:.2f}, tier {ex['tier']}") in text.getvalue()


def test_cli_warn_on_a_damaged_log_is_a_typed_error_and_keeps_the_file(trained, tmp_path,
                                                                        monkeypatch, capsys):
    """Issue 12 item 16: a damaged log was a raw sqlite3.DatabaseError ('this is a bug', exit
    3); it is a DataIntegrityError (exit 2) and the file is left as it was."""
    run_dir, _, _ = trained
    monkeypatch.chdir(tmp_path)
    damaged = tmp_path / "alerts.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    before = damaged.read_bytes()
    code = cli.main(["warn", "--as-of", DATES[0], "--run", str(run_dir), "--log",
                     str(damaged), "--out", "week"], stream=io.StringIO())
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR
    assert "the alert log file is damaged or is not an alert log" in err
    assert "this is a bug" not in err
    assert damaged.read_bytes() == before
