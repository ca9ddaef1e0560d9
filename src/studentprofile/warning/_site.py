"""The advisor's weekly page: a self-contained static site of the cases, one page per advisor.

:func:`write_advisor_site` writes ``index.html`` (every advisor with their open, new and overdue
counts) and ``advisors/<name>.html`` per advisor (their cases with tier, reasons, due date and
status, overdue marked, each linking to the student's profile card). Plain HTML with inline CSS,
no script and no external asset; a Content-Security-Policy forbids both, so a value that slipped
through escaping still could not run. Every value is HTML-escaped; every file is written
atomically.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._files import atomic_write_text
from studentprofile.errors import ConfigError
from studentprofile.evaluation._case_frames import (
    case_moment,
    case_state,
    check_cases,
    moment_text,
    moment_texts,
)
from studentprofile.tables._time import as_days
from studentprofile.warning._cards import card_file_stem

__all__ = ["AdvisorSite", "write_advisor_site"]

#: The policy every page carries: no script, no outside resource, inline styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
UNASSIGNED = "(unassigned)"
# the file names card_file_stem gives, with .html
_PAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,56}-[0-9a-f]{16}\.html")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:1.5rem;
color:#1b1b1b;background:#fff;max-width:72rem}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
p.meta{color:#555;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #c8c8c8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f1f1}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.overdue td{background:#fdecee}
.flag{color:#b00020;font-weight:600}
.tier-high{color:#b00020;font-weight:600}.tier-medium{color:#8a5a00}.tier-low{color:#2f5d2f}
a{color:#0b57d0}nav{margin-bottom:1rem}
"""


@dataclass(frozen=True)
class AdvisorSite:
    """What :func:`write_advisor_site` wrote.

    Attributes
    ----------
    index : pathlib.Path
        ``index.html``.
    pages : dict of str to pathlib.Path
        Each advisor's page (``"(unassigned)"`` for cases without an owner).
    cards_linked, cards_missing : int
        Cases linked to a profile card, and cases whose card file was not found (shown without
        a link).
    """

    index: Path
    pages: dict[str, Path] = field(default_factory=dict)
    cards_linked: int = 0
    cards_missing: int = 0


def _page(title: str, body: list[str]) -> str:
    e = html.escape
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        *body,
        "</body></html>",
    ]) + "\n"


def write_advisor_site(
    cases: Any,
    out_dir: str | os.PathLike[str],
    *,
    as_of: Any,
    cards_dir: str | os.PathLike[str] | None = None,
    title: str = "Early-warning cases",
    window: Any = 7.0,
) -> AdvisorSite:
    """Write the weekly static site: an index of advisors and one page of cases per advisor.

    Each advisor's page lists their open cases (and those closed in the last ``window`` days):
    student (a link to the profile card), case, tier, risk, reasons, opened, first contact due,
    first contact and status. A case is **overdue** when it is open, has no first contact by
    ``as_of`` and its due date has passed; overdue rows are marked (a red row and the word
    "overdue" with the number of days) and listed first.

    Parameters
    ----------
    cases : DataFrame
        The cases frame (:data:`studentprofile.evaluation.CASE_COLUMNS`).
    out_dir : path
        The site's folder (created when missing): ``index.html`` and ``advisors/*.html``.
    as_of : datetime-like or float
        The site's date.
    cards_dir : path, optional
        The folder holding the profile cards (``<card_file_stem(student_id)>.html``, as
        ``studentprofile warn --out`` writes them). Links are relative, so keep the site and the
        cards together (e.g. the site in ``week-45/site`` and the cards in ``week-45``). A case
        whose card file is missing is shown without a link.
    title : str, default "Early-warning cases"
        The site's title.
    window : float or Timedelta, default 7
        Days back from ``as_of``: cases opened in it are marked new, cases closed in it are
        still listed.

    Returns
    -------
    AdvisorSite
        The files written and how many cards were linked or missing.

    Raises
    ------
    SchemaError
        The cases frame breaks its contract.
    ConfigError
        ``as_of`` or ``window`` is not a date / duration of the frame's kind; ``title`` is not
        text.
    OutputError
        A file cannot be written (nothing half-written is left).

    Notes
    -----
    Writing again into the same folder replaces the pages; an advisor page from an earlier run
    whose advisor has nothing to show now is removed (only files named as this function names
    them, in ``advisors/``), so no stale student data stays behind.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from studentprofile.evaluation import CASE_COLUMNS
    >>> cases = pd.DataFrame({c: [None, None] for c in CASE_COLUMNS}).assign(
    ...     case_id=["c1", "c2"], student_id=["s1", "<s2>"], as_of="2026-11-09",
    ...     opened_at="2026-11-09", tier="high", risk=0.8, owner=["kim", "lee"],
    ...     reason_codes="attendance_drop", status="open",
    ...     due_first_contact=["2026-11-16", "2026-11-12"])
    >>> site = write_advisor_site(cases, pathlib.Path(tempfile.mkdtemp()) / "site",
    ...                           as_of="2026-11-14")
    >>> sorted(site.pages), site.index.name
    (['kim', 'lee'], 'index.html')
    >>> page = site.pages["lee"].read_text()
    >>> "&lt;s2&gt;" in page, "<s2>" in page, "2 days overdue" in page
    (True, False, True)
    """
    frame = check_cases(cases)
    kind = frame.attrs["time_kind"]
    at = case_moment(as_of, kind, "as_of")
    window_days = float(as_days(window, key="window"))
    if not isinstance(title, str):
        raise ConfigError("title must be text", key="title", arrived=repr(title),
                          hint="e.g. title='Week 45'")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError("out_dir must be a folder", key="out_dir", arrived=repr(str(out)),
                          hint="give a folder name, e.g. 'week-45/site'")
    pages_dir = out / "advisors"
    cards = None if cards_dir is None else Path(cards_dir)
    if cards is not None and not cards.is_dir():
        raise ConfigError("cards_dir must be an existing folder of profile cards",
                          key="cards_dir", arrived=repr(str(cards)),
                          hint="pass the folder `studentprofile warn --out` wrote")

    state = case_state(frame, at, window=window_days)
    shown = state["started"] & (~state["closed"] | (state["closed_at"] > at - window_days))
    frame = frame.assign(_opened=state["opened"], _due=state["due"],
                         _first=state["first_contact"], _overdue=state["overdue"],
                         _closed=state["closed"], _new=state["new"],
                         _advisor=frame["owner"].replace("", UNASSIGNED))
    frame = frame[shown.to_numpy()]
    frame = frame.assign(_opened_t=moment_texts(frame["_opened"], kind),
                         _due_t=moment_texts(frame["_due"], kind),
                         _first_t=moment_texts(frame["_first"], kind))
    at_text = moment_text(at, kind)

    # distinct, safe file names for advisors (the same rule as the cards')
    advisors = sorted(frame["_advisor"].unique(), key=lambda a: (a == UNASSIGNED, a))
    files = {a: pages_dir / f"{card_file_stem(a)}.html" for a in advisors}
    linked = missing = 0
    pages: dict[str, Path] = {}
    summary = []
    # one sort for everyone (overdue first, then open by due date, recently closed last), then
    # each advisor's rows in that order; only the columns the pages show
    keep = ["_advisor", "case_id", "student_id", "tier", "risk", "reason_codes",
            "reason_families", "status", "_overdue", "_new", "_closed", "_due", "_first",
            "_opened_t", "_due_t", "_first_t"]
    ordered = frame[keep].sort_values(["_overdue", "_closed", "_due", "risk", "case_id"],
                                      ascending=[False, True, True, False, True],
                                      kind="mergesort")
    groups = dict(list(ordered.groupby("_advisor", sort=False)))
    for advisor in advisors:
        own = groups[advisor]
        card_links: dict[str, str | None] = {}
        for sid in own["student_id"].map(str).unique():
            card_links[sid] = None
            if cards is not None:
                card = cards / f"{card_file_stem(sid)}.html"
                if card.is_file():
                    card_links[sid] = Path(os.path.relpath(card, pages_dir)).as_posix()
        n_linked = int(own["student_id"].map(str).map(card_links).notna().sum())
        linked += n_linked
        missing += (len(own) - n_linked) if cards is not None else 0
        body = _advisor_body(advisor, own, kind, at, at_text, title, card_links)
        pages[advisor] = atomic_write_text(
            files[advisor], _page(f"{title}: {advisor} ({at_text})", body))
        open_ = own[~own["_closed"]]
        summary.append({
            "advisor": advisor, "file": f"advisors/{files[advisor].name}",
            "open": len(open_), "new": int(open_["_new"].sum()),
            "overdue": int(open_["_overdue"].sum()),
            "next_due": moment_text(float(open_.loc[~open_["_first"].notna(), "_due"].min())
                              if (~open_["_first"].notna()).any() else np.nan, kind),
        })
    # a page from an earlier run of an advisor with no case now would show stale student data:
    # remove the pages this function wrote before (its own name pattern) and did not write now
    written = {p.name for p in pages.values()}
    if pages_dir.is_dir():
        for old in pages_dir.iterdir():
            if _PAGE_NAME.fullmatch(old.name) and old.name not in written and old.is_file():
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
    index = atomic_write_text(out / "index.html",
                              _page(f"{title} ({at_text})", _index_body(summary, title,
                                                                        at_text)))
    return AdvisorSite(index=index, pages=pages, cards_linked=linked, cards_missing=missing)


def _index_body(summary: Sequence[Mapping[str, Any]], title: str, at_text: str) -> list[str]:
    e = html.escape
    total_open = sum(int(s["open"]) for s in summary)
    total_overdue = sum(int(s["overdue"]) for s in summary)
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="meta">As of {e(at_text)}: {total_open} open case(s), '
            f"{total_overdue} overdue, {len(summary)} caseload(s).</p>"]
    if not summary:
        body.append("<p>No cases.</p>")
        return body
    body.append('<table id="advisors"><thead><tr><th>advisor</th><th>open</th><th>new</th>'
                "<th>overdue</th><th>next first contact due</th></tr></thead><tbody>")
    for s in summary:
        flag = (f'<span class="flag">{int(s["overdue"])}</span>' if s["overdue"]
                else "0")
        body.append(
            f'<tr><td><a href="{e(str(s["file"]), quote=True)}">{e(str(s["advisor"]))}</a></td>'
            f'<td class="num">{int(s["open"])}</td><td class="num">{int(s["new"])}</td>'
            f'<td class="num">{flag}</td><td>{e(str(s["next_due"]))}</td></tr>')
    body.append("</tbody></table>")
    return body


def _reasons(row: Mapping[Any, Any]) -> str:
    codes = [r.strip() for r in str(row["reason_codes"]).split(";") if r.strip()]
    families = [r.strip() for r in str(row["reason_families"]).split(";") if r.strip()]
    return "; ".join(codes) or "; ".join(families)


def _advisor_body(advisor: str, own: pd.DataFrame, kind: str, at: float, at_text: str,
                  title: str, card_links: Mapping[str, str | None]) -> list[str]:
    e = html.escape
    n_open = int((~own["_closed"]).sum())
    n_overdue = int(own["_overdue"].sum())
    body = ['<nav><a href="../index.html">&larr; all advisors</a></nav>',
            f"<h1>{e(advisor)}</h1>",
            f'<p class="meta">{e(title)}, as of {e(at_text)}: {n_open} open case(s), '
            f"{n_overdue} overdue.</p>",
            '<table id="cases"><thead><tr><th>student</th><th>case</th><th>tier</th>'
            "<th>risk</th><th>reasons</th><th>opened</th><th>first contact due</th>"
            "<th>first contact</th><th>status</th></tr></thead><tbody>"]
    for row in own.to_dict("records"):
        sid = str(row["student_id"])
        link = card_links.get(sid)
        student = (f'<a href="{e(link, quote=True)}">{e(sid)}</a>' if link else e(sid))
        status = e(row["status"] or "")
        due_text = e(row["_due_t"])
        if row["_overdue"]:
            days = int(np.floor(at - row["_due"]))
            due_text += (f' <span class="flag">({days} day{"s" if days != 1 else ""} '
                         "overdue)</span>")
            status += ' <span class="flag">OVERDUE</span>'
        elif row["_new"]:
            status += " (new)"
        tier = str(row["tier"])
        risk = "" if not np.isfinite(row["risk"]) else f"{row['risk']:.0%}"
        cls = ' class="overdue"' if row["_overdue"] else ""
        body.append(
            f'<tr{cls} data-case="{e(str(row["case_id"]), quote=True)}">'
            f"<td>{student}</td><td>{e(str(row['case_id']))}</td>"
            f'<td><span class="tier-{e(tier.lower().replace(" ", "-"), quote=True)}">'
            f"{e(tier)}</span></td><td class=\"num\">{risk}</td><td>{e(_reasons(row))}</td>"
            f"<td>{e(row['_opened_t'])}</td><td>{due_text}</td>"
            f"<td>{e(row['_first_t'])}</td><td>{status}</td></tr>")
    body.append("</tbody></table>")
    return body
