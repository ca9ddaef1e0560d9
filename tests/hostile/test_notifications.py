"""Hostile inputs for what goes out to people: digests, e-mail headers, webhooks, the weekly site.

Names and reasons with markup, quotes, spreadsheet formulas, newlines and non-Latin text; a
script that must stay text in a real browser; an address that tries to add headers; a host
outside the allow-list reached through a redirect or an IP spelling.
"""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from _case_frames import AS_OF, D, make_cases
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import judged_outcomes
from studentprofile.warning import (
    SmtpNotifier,
    WebhookNotifier,
    _notifiers,
    build_digests,
    card_file_stem,
    render_card_html,
    write_advisor_site,
)

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '"><img src=x onerror="window.__pwned = 2">'
QUOTES = "O'Neil \"quoted\" & <b>bold</b>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
CHINESE = "王小明"


def hostile_cases() -> pd.DataFrame:
    return make_cases([
        dict(case_id=SCRIPT, student_id=IMG, owner=SCRIPT, reason_codes=QUOTES,
             reason_families="academic", tier="<i>high</i>", opened_at=D("2026-11-12")),
        dict(case_id="c2", student_id=CHINESE, owner=SCRIPT, reason_codes=FORMULA,
             due_first_contact=D("2026-11-10"), opened_at=D("2026-11-03")),
        dict(case_id="c3", student_id="S\r\nBcc: all@campus.edu", owner="kim\r\nBcc: x@y.z",
             opened_at=D("2026-11-12")),
    ])


def test_digest_html_escapes_everything_and_text_keeps_it_exact():
    digests = build_digests(hostile_cases(), as_of=AS_OF,
                            card_url='https://cards.campus.edu/"onmouseover="x')
    by = {d.advisor: d for d in digests}
    d = by[SCRIPT]
    for raw in (SCRIPT, IMG, "<b>bold</b>", "<i>high</i>"):
        assert raw not in d.html
    assert html.escape(IMG) in d.html and html.escape(QUOTES) in d.html
    assert '"onmouseover="' not in d.html
    assert IMG in d.text and CHINESE in d.text and FORMULA in d.text
    payload = json.loads(d.to_json())
    assert payload["advisor"] == SCRIPT
    assert {c["student_id"] for c in payload["new"] + payload["overdue"]} == {IMG, CHINESE}
    # the subject says only counts and the date: nothing a name could inject
    assert all("\n" not in x.subject and "\r" not in x.subject for x in digests)


def test_a_recipient_cannot_add_headers():
    notifier = SmtpNotifier("mail.campus.edu", sender="warn@campus.edu",
                            allowed_hosts=["mail.campus.edu"])
    (d,) = [x for x in build_digests(hostile_cases(), as_of=AS_OF,
                                     staff={"kim\r\nBcc: x@y.z": "kim@campus.edu\r\nBcc: all@x"})
            if x.advisor.startswith("kim")]
    with pytest.raises(ConfigError, match=re.escape(_notifiers.NO_RECIPIENT)):
        notifier.message(d)
    ok = [x for x in build_digests(hostile_cases(), as_of=AS_OF,
                                   staff={"kim\r\nBcc: x@y.z": "kim@campus.edu"})
          if x.advisor.startswith("kim")][0]
    msg = notifier.message(ok)
    assert msg["To"] == "kim@campus.edu" and msg["Bcc"] is None
    with pytest.raises(ConfigError, match="sender"):
        SmtpNotifier("mail.campus.edu", sender="a@b.c\r\nBcc: z@z.z",
                     allowed_hosts=["mail.campus.edu"])


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "2130706433", "LOCALHOST.",
                                  "127.0.0.1.evil.example", "[::1]"])
def test_host_spellings_are_not_a_way_around_the_allow_list(host):
    with pytest.raises(ConfigError, match=re.escape(_notifiers.HOST_REFUSED)):
        WebhookNotifier(f"https://{host}/hook", allowed_hosts=["127.0.0.1", "hooks.campus.edu"])
    # the same address spelled the canonical way is allowed, IPv6 included
    assert WebhookNotifier("http://[::1]:8080/x", allowed_hosts=["::1"]).host == "::1"
    with pytest.raises(ConfigError, match=re.escape(_notifiers.URL_CREDENTIALS)) as info:
        WebhookNotifier("https://user:pw@hooks.campus.edu/x", allowed_hosts=["hooks.campus.edu"])
    assert "pw" not in str(info.value)
    with pytest.raises(ConfigError, match="port"):
        WebhookNotifier("https://hooks.campus.edu:99999/x", allowed_hosts=["hooks.campus.edu"])
    with pytest.raises(ConfigError, match="port"):
        SmtpNotifier("mail.campus.edu", "25", sender="a@campus.edu",
                     allowed_hosts=["mail.campus.edu"])


def test_verdict_texts_stay_data():
    cases = hostile_cases()
    verdicts = pd.DataFrame({"case_id": [SCRIPT], "time": [D("2026-11-13")], "staff": [FORMULA],
                             "verdict": ["useful"], "note": [SCRIPT]})
    r = judged_outcomes(cases, verdicts, as_of=AS_OF)
    assert r.overall.iloc[0]["judged"] == 1
    assert SCRIPT not in r._repr_html_()
    with pytest.raises(SchemaError, match="'<script>'"):
        judged_outcomes(cases, verdicts.assign(verdict="<script>"))


def test_the_site_shows_hostile_values_as_text_in_a_browser(tmp_path):
    from _chromium import Browser

    cases = hostile_cases()
    week_dir = tmp_path / "wk"
    week_dir.mkdir()
    for sid in (IMG, CHINESE):
        card = {"card_version": 1, "student_id": sid, "as_of": 60.0,
                "risk": {"probability": 0.5, "tier": "high"}}
        (week_dir / f"{card_file_stem(sid)}.html").write_text(
            render_card_html(card, full_page=True), encoding="utf-8")
    site = write_advisor_site(cases, week_dir / "site", as_of=AS_OF, cards_dir=week_dir,
                              title=f"Week {SCRIPT}")
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(site.index.as_uri())
        assert browser.js("document.title") == f"Week {SCRIPT} (2026-11-16)"
        names = browser.js("[...document.querySelectorAll('#advisors a')]"
                           ".map(a => a.textContent)")
        assert names == [SCRIPT, "kim\nBcc: x@y.z"]  # HTML reads CR LF as LF
        browser.click(f"a[href='advisors/{card_file_stem(SCRIPT)}.html']")
        cells = browser.js("[...document.querySelectorAll('#cases tbody tr')]"
                           ".map(tr => [...tr.children].map(td => td.innerText))")
        assert {c[0] for c in cells} == {IMG, CHINESE}
        assert {c[1] for c in cells} == {SCRIPT, "c2"}
        assert QUOTES in {c[4] for c in cells} and FORMULA in {c[4] for c in cells}
        assert "<i>high</i>" in {c[2] for c in cells}
        assert browser.js("document.querySelector('h1').innerText") == SCRIPT
        assert browser.js("document.scripts.length") == 0
        assert browser.js("document.images.length") == 0
        assert browser.js("typeof window.__pwned") == "undefined"
        browser.click("tr[data-case='c2'] td a")
        assert CHINESE in browser.js("document.body.innerText")
        assert browser.js("typeof window.__pwned") == "undefined"
        assert browser.problems() == []
        # the probe does see problems: a page that logs an error and loads a missing image
        bad = tmp_path / "bad.html"
        bad.write_text("<html><body><img src='missing.png'>"
                       "<script>console.error('boom')</script></body></html>")
        browser.goto(bad.as_uri())
        kinds = {ev["method"] for ev in browser.problems()}
        assert "Runtime.consoleAPICalled" in kinds
    finally:
        browser.close()
