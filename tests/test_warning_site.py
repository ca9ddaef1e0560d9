"""The advisor's weekly site: pages, links to the cards, and a click-through in a real browser."""

from __future__ import annotations

import re

import pytest

from _case_frames import AS_OF, D, make_cases, week
from studentprofile.errors import ConfigError, OutputError, SchemaError
from studentprofile.warning import (
    AdvisorSite,
    _site,
    card_file_stem,
    render_card_html,
    write_advisor_site,
)


def write_cards(folder, student_ids, as_of=60.0):
    folder.mkdir(parents=True, exist_ok=True)
    for sid in student_ids:
        card = {"card_version": 1, "student_id": sid, "as_of": as_of,
                "risk": {"probability": 0.41, "tier": "high"}}
        (folder / f"{card_file_stem(sid)}.html").write_text(
            render_card_html(card, full_page=True), encoding="utf-8")


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-case="([^"]+)"', page)


def test_pages_list_each_advisors_cases(tmp_path):
    site = write_advisor_site(week(), tmp_path / "site", as_of=AS_OF, title="Week 47")
    assert isinstance(site, AdvisorSite)
    assert list(site.pages) == ["kim", "lee", "(unassigned)"]
    kim = site.pages["kim"].read_text(encoding="utf-8")
    # overdue first, then the open ones by due date; closed 11 days ago and future cases hidden
    assert rows_of(kim) == ["k-late", "k-done", "k-new"]
    assert re.search(r'<tr class="overdue" data-case="k-late">', kim)
    assert "2026-11-10 <span class=\"flag\">(6 days overdue)</span>" in kim
    assert "open (new)" in kim and "contacted</td>" in kim
    assert "attendance_drop; late_submissions" in kim and "91%" in kim
    assert "S-101" not in kim and "k-closed" not in kim
    index = site.index.read_text(encoding="utf-8")
    assert "Week 47" in index and "As of 2026-11-16: 6 open case(s), 2 overdue" in index
    links = re.findall(r'<a href="(advisors/[^"]+)">([^<]+)</a>', index)
    assert [text for _, text in links] == ["kim", "lee", "(unassigned)"]
    assert links[0][0] == f"advisors/{card_file_stem('kim')}.html"
    for page in [index, *(p.read_text(encoding="utf-8") for p in site.pages.values())]:
        assert "<script" not in page and "http://" not in page and "https://" not in page
        assert f'content="{_site.CONTENT_SECURITY_POLICY}"' in page
    # a recently closed case stays listed for a week
    recent = week()
    recent.loc[recent["case_id"] == "k-closed", "closed_at"] = D("2026-11-12")
    page = write_advisor_site(recent, tmp_path / "s2", as_of=AS_OF).pages["kim"].read_text()
    assert rows_of(page)[-1] == "k-closed"


def test_cards_are_linked_relatively_and_missing_cards_counted(tmp_path):
    week_dir = tmp_path / "week-47"
    write_cards(week_dir, ["S-001", "S-002", "S-101"])  # S-003, S-102, S-201 have no card
    site = write_advisor_site(week(), week_dir / "site", as_of=AS_OF, cards_dir=week_dir)
    assert (site.cards_linked, site.cards_missing) == (3, 3)
    kim = site.pages["kim"].read_text()
    assert f'<a href="../../{card_file_stem("S-001")}.html">S-001</a>' in kim
    assert "<td>S-003</td>" in kim
    # the links resolve to the card files
    for href in re.findall(r'href="(\.\./\.\./[^"]+)"', kim):
        assert (site.pages["kim"].parent / href).resolve().is_file()


def test_float_day_cases_and_rewrites(tmp_path):
    cases = make_cases([dict(case_id="c1", student_id=7, as_of=1.0, opened_at=1.0,
                             due_first_contact=3.0, first_contact_at=None, closed_at=None)])
    site = write_advisor_site(cases, tmp_path, as_of=5.0)
    page = site.pages["kim"].read_text()
    assert "day 3 <span class=\"flag\">(2 days overdue)</span>" in page
    again = write_advisor_site(cases, tmp_path, as_of=2.0)  # rewritten in place
    assert "overdue" not in again.pages["kim"].read_text().split("<tbody>")[1]
    assert not list(tmp_path.rglob("*.tmp"))
    # an advisor with nothing now: last run's page (and its student data) is gone; other files
    # in the folder are left alone
    (tmp_path / "advisors" / "notes.html").write_text("mine")
    moved = write_advisor_site(cases.assign(owner="lee"), tmp_path, as_of=5.0)
    names = sorted(p.name for p in (tmp_path / "advisors").iterdir())
    assert names == sorted([moved.pages["lee"].name, "notes.html"])


def test_arguments_are_checked(tmp_path):
    with pytest.raises(SchemaError, match=r"cases.status \[required-column\]"):
        write_advisor_site(week().drop(columns="status"), tmp_path, as_of=AS_OF)
    with pytest.raises(ConfigError, match="cards_dir"):
        write_advisor_site(week(), tmp_path, as_of=AS_OF, cards_dir=tmp_path / "nope")
    with pytest.raises(ConfigError, match="as_of"):
        write_advisor_site(week(), tmp_path, as_of=5.0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="out_dir must be a folder"):
        write_advisor_site(week(), tmp_path / "file", as_of=AS_OF)
    with pytest.raises(OutputError):
        write_advisor_site(week(), tmp_path / "file" / "site", as_of=AS_OF)
    empty = write_advisor_site(week().iloc[:0], tmp_path / "empty", as_of=AS_OF)
    assert "No cases." in empty.index.read_text() and empty.pages == {}


# ------------------------------------------------------------------ in a real browser
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from _chromium import Browser

    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


def test_click_through_index_advisor_card_in_a_browser(browser, tmp_path):
    week_dir = tmp_path / "week-47"
    write_cards(week_dir, ["S-001", "S-002", "S-003", "S-101", "S-102"])
    site = write_advisor_site(week(), week_dir / "site", as_of=AS_OF, cards_dir=week_dir)
    browser.events.clear()
    browser.goto(site.index.as_uri())
    assert browser.js("document.title") == "Early-warning cases (2026-11-16)"
    table = browser.js("[...document.querySelectorAll('#advisors tbody tr')]"
                       ".map(tr => [...tr.children].map(td => td.innerText))")
    assert table == [["kim", "3", "1", "1", "2026-11-10"], ["lee", "2", "1", "1", "2026-11-08"],
                     ["(unassigned)", "1", "1", "0", "2026-11-16"]]
    # index -> lee's page, by a mouse click on the link
    browser.click("#advisors tbody tr:nth-child(2) a")
    assert browser.js("location.href") == site.pages["lee"].as_uri()
    rows = browser.js("[...document.querySelectorAll('#cases tbody tr')].map(tr => "
                      "({cls: tr.className, cells: [...tr.children].map(td => td.innerText)}))")
    assert [r["cells"][1] for r in rows] == ["l-late", "l-new"]
    assert rows[0]["cls"] == "overdue" and rows[1]["cls"] == ""
    assert rows[0]["cells"][6] == "2026-11-08 (8 days overdue)"
    assert rows[0]["cells"][8] == "open OVERDUE" and rows[1]["cells"][8] == "open (new)"
    colour = browser.js("getComputedStyle(document.querySelector('tr.overdue td'))"
                        ".backgroundColor")
    assert colour == "rgb(253, 236, 238)"
    # advisor -> the student's profile card
    browser.click("tr[data-case='l-late'] td a")
    assert browser.js("location.href") == (week_dir / f"{card_file_stem('S-101')}.html").as_uri()
    assert "S-101" in browser.js("document.body.innerText")
    # and back to the index from an advisor page
    browser.goto(site.pages["kim"].as_uri())
    browser.click("nav a")
    assert browser.js("location.href") == site.index.as_uri()
    assert browser.problems() == []
