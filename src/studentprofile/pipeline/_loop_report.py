"""The loop report: what staff made of the alerts, read back from the case store.

:func:`loop_report` reads a case store's cases and staff verdicts and evaluates them with
:func:`~studentprofile.evaluation.judged_outcomes`: judged precision (useful / judged) beside the
statistical precision when outcomes are known, verdict rates per tier, reason family and model
version, time to first contact and overdue cases per advisor and per unit. :class:`LoopReport`
holds it, with a headline over every case, and writes it as JSON and as one small,
self-contained HTML page (every value escaped; no script, no outside asset).

The report carries counts, rates and staff ids, never a student id: it may go to the people who
run the early-warning service as well as to the advisors.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studentprofile._files import atomic_write_json, atomic_write_text
from studentprofile.evaluation import JudgedOutcomes, judged_outcomes
from studentprofile.evaluation._case_frames import case_moment, case_state, check_cases

__all__ = ["LOOP_REPORT_SCHEMA", "LoopReport", "loop_report"]

#: The ``schema`` field of every loop report (bumped when the document's shape changes).
LOOP_REPORT_SCHEMA = "studentprofile.loop_report/1"
#: File names of the report in a folder.
REPORT_JSON = "loop_report.json"
REPORT_HTML = "loop_report.html"

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5rem;"
    "color:#1b1b1b;max-width:72rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}"
    "table{border-collapse:collapse}th,td{border:1px solid #c8c8c8;padding:.25rem .5rem;"
    "text-align:left}th{background:#f1f1f1}p.note{color:#555}"
)
_SECTIONS = (
    ("by_tier", "Verdicts by tier"),
    ("by_reason_family", "Verdicts by reason family"),
    ("by_model_version", "Verdicts by model version"),
    ("contact_by_advisor", "Time to first contact and overdue cases, by advisor"),
    ("contact_by_unit", "Time to first contact and overdue cases, by unit"),
)


def _num(value: Any) -> float | None:
    """Return a float for JSON, ``None`` for a missing one."""
    v = float(value)
    return None if math.isnan(v) else v


@dataclass(frozen=True)
class LoopReport:
    """The closed loop's evaluation over a case store (see :func:`loop_report`).

    Attributes
    ----------
    judged : JudgedOutcomes
        Verdict tables per tier, reason family and model version; contact tables per advisor
        and unit.
    headline : dict
        Over every case opened by the evaluation date: ``cases``, ``judged``,
        ``judged_precision`` (with ``judged_precision_ci``, Wilson 95%), ``observable`` and
        ``statistical_precision`` (``None`` without outcomes, or before any case's horizon
        ended), ``contacted``, ``median_days_to_contact``, ``p90_days_to_contact``,
        ``overdue``.
    counts : dict
        The store's counts (cases by status, verdicts by kind): no identifiers.
    store : str
        The store, with any password masked.
    generated_at : str
        When the report was made (UTC, ISO 8601).
    """

    judged: JudgedOutcomes
    headline: dict[str, Any]
    counts: dict[str, Any]
    store: str
    generated_at: str = ""

    @property
    def as_of(self) -> str:
        """The evaluation date, as people read it."""
        return str(self.judged.params["as_of"])

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data: headline, store counts and every table.

        Returns
        -------
        dict
            ``schema``, ``as_of``, ``store``, ``generated_at``, ``headline``, ``store_counts``
            and the tables of :meth:`~studentprofile.evaluation.JudgedOutcomes.to_dict`
            (``overall``, ``by_tier``, ...).
        """
        return {"schema": LOOP_REPORT_SCHEMA, "as_of": self.as_of, "store": self.store,
                "generated_at": self.generated_at, "headline": self.headline,
                "store_counts": self.counts,
                **self.judged.to_dict()}

    def to_html(self) -> str:
        """Return the report as one self-contained HTML page (escaped; no script).

        Returns
        -------
        str
        """
        e = html.escape
        h = self.headline

        def pct(v: Any) -> str:
            return "–" if v is None else f"{v:.3f}"

        def days(v: Any) -> str:
            return "–" if v is None else f"{v:.1f} days"

        ci = h["judged_precision_ci"]
        rows = [
            ("cases", f"{h['cases']:,}"),
            ("judged by staff", f"{h['judged']:,}"),
            ("judged precision", pct(h["judged_precision"])
             + ("" if ci[0] is None else f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})")),
            ("statistical precision", pct(h["statistical_precision"])
             + (f" ({h['observable']:,} cases whose horizon ended)"
                if h["observable"] is not None else " (no outcomes given)")),
            ("contacted", f"{h['contacted']:,}"),
            ("median time to first contact", days(h["median_days_to_contact"])),
            ("90th percentile time to first contact", days(h["p90_days_to_contact"])),
            ("overdue (no contact, past due)", f"{h['overdue']:,}"),
        ]
        body = [f"<h1>Closed-loop report as of {e(self.as_of)}</h1>",
                f'<p class="note">case store {e(self.store)}</p>',
                "<table>", *(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows),
                "</table>"]
        for name, title in _SECTIONS:
            frame = getattr(self.judged, name)
            body.append(f"<h2>{e(title)}</h2>")
            body.append(frame.to_html(float_format=lambda v: f"{v:.3f}", na_rep="–",
                                      index=False, escape=True, border=0))
        body.extend(f'<p class="note">{e(n)}</p>' for n in self.judged.notes)
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>Closed-loop report {e(self.as_of)}</title><style>{_CSS}</style>",
            "</head><body>", *body, "</body></html>",
        ]) + "\n"

    def save(self, folder: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``loop_report.json`` and ``loop_report.html`` into ``folder`` (atomically).

        Parameters
        ----------
        folder : path
            Created when missing.

        Returns
        -------
        dict
            ``{"loop_report": <html path>, "loop_report_json": <json path>}``.

        Raises
        ------
        OutputError
            A file cannot be written (nothing half-written is left).
        """
        out = Path(folder)
        doc = atomic_write_json(out / REPORT_JSON, self.to_dict(), sort_keys=False)
        page = atomic_write_text(out / REPORT_HTML, self.to_html())
        return {"loop_report": Path(page), "loop_report_json": Path(doc)}

    def __repr__(self) -> str:
        h = self.headline
        jp = "undefined" if h["judged_precision"] is None else f"{h['judged_precision']:.3f}"
        return (f"LoopReport(as of {self.as_of}: {h['cases']} cases, {h['judged']} judged, "
                f"judged precision {jp}, {h['overdue']} overdue)")


def _headline(cases: Any, judged: JudgedOutcomes) -> dict[str, Any]:
    overall = judged.overall.iloc[0]
    frame = check_cases(cases)
    kind = frame.attrs["time_kind"]
    at = case_moment(judged.params["as_of"], kind, "as_of")
    frame = frame[frame["opened_at"].notna()]
    state = case_state(frame, at)
    state = state[state["started"].to_numpy()]
    waited = (state["first_contact"] - state["opened"]).to_numpy(dtype=float)
    waited = waited[np.isfinite(waited)]
    has_outcomes = "statistical_precision" in judged.overall.columns
    return {
        "cases": int(overall["cases"]),
        "judged": int(overall["judged"]),
        "judged_precision": _num(overall["judged_precision"]),
        "judged_precision_ci": [_num(overall["judged_precision_ci_low"]),
                                _num(overall["judged_precision_ci_high"])],
        "observable": int(overall["observable"]) if has_outcomes else None,
        "statistical_precision": (_num(overall["statistical_precision"]) if has_outcomes
                                  else None),
        "contacted": int(len(waited)),
        "median_days_to_contact": float(np.median(waited)) if len(waited) else None,
        "p90_days_to_contact": float(np.quantile(waited, 0.9)) if len(waited) else None,
        "overdue": int(state["overdue"].sum()),
    }


def loop_report(
    store: Any,
    *,
    as_of: Any = None,
    outcomes: Any = None,
    horizon: Any = 90.0,
    outcome: Any = None,
) -> LoopReport:
    """Evaluate the closed loop held in a case store: verdicts, judged precision, contact times.

    Parameters
    ----------
    store : CaseStore, path or URL
        The case store (an open :class:`~studentprofile.warning.CaseStore`, or its target: a
        SQLite path or a SQLAlchemy URL; it must exist).
    as_of : datetime-like, optional
        The evaluation date (default: the latest thing that happened in the store: a case
        opened, contacted or closed, a verdict; not a due date still to come). Cases opened and
        verdicts given after it are left out.
    outcomes : DataFrame, optional
        ``student_id``, ``time``, ``outcome`` (e.g. ``EventTables.outcomes``): with it each
        table also has the statistical precision (cases whose student had an outcome within
        ``horizon`` days, among cases whose horizon ended by ``as_of``).
    horizon : float or Timedelta, default 90
        Days after a case's ``as_of`` in which an outcome counts (the model's label horizon).
    outcome : str or sequence of str, optional
        Count only these outcomes.

    Returns
    -------
    LoopReport

    Raises
    ------
    ConfigError
        No store at the target; a bad date or horizon.
    SchemaError
        An empty store without ``as_of`` (nothing to evaluate); a bad outcomes table.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.warning import CaseStore
    >>> store = CaseStore(":memory:")
    >>> alerts = pd.DataFrame({"alert_id": ["a1", "a2"], "student_id": ["0042", "0043"],
    ...                        "as_of": ["2026-11-09", "2026-11-09"], "score": [0.8, 0.6],
    ...                        "tier": ["high", "medium"]})
    >>> plan = pd.DataFrame({"student_id": ["0042", "0043"], "advisor_id": ["kim", "kim"]})
    >>> ids = store.open_cases(alerts, assignments=plan, time="2026-11-09",
    ...                        first_contact_days=5).case_ids
    >>> store.contact(ids[0], staff="kim", time="2026-11-11 12:00")
    >>> store.record_verdict(ids[0], "useful", staff="kim", time="2026-11-11 12:05")
    >>> report = loop_report(store, as_of="2026-11-16")
    >>> report
    LoopReport(as of 2026-11-16: 2 cases, 1 judged, judged precision 1.000, 1 overdue)
    >>> report.headline["median_days_to_contact"]
    2.5
    """
    from studentprofile.warning import CaseStore

    owned = not isinstance(store, CaseStore)
    opened = CaseStore(store, create=False) if owned else store
    try:
        cases = opened.cases()
        verdicts = opened.verdicts()
        counts = opened.counts()
        shown = shown_target(opened.target)
    finally:
        if owned:
            opened.close()
    if as_of is None:
        as_of = _latest_event(cases, verdicts)
    judged = judged_outcomes(cases, verdicts, as_of=as_of, outcomes=outcomes, horizon=horizon,
                             outcome=outcome)
    return LoopReport(judged=judged, headline=_headline(cases, judged), counts=counts,
                      store=shown,
                      generated_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))


def _latest_event(cases: Any, verdicts: Any) -> Any:
    """Return the latest moment something happened in the store (``None`` when empty)."""
    times = [cases[c] for c in ("opened_at", "first_contact_at", "closed_at")]
    times.append(verdicts["time"])
    return max((t.max() for t in times if len(t) and t.notna().any()), default=None)


def shown_target(target: Any) -> str:
    """Return a store's target as messages and reports may show it (a URL without credentials).

    Examples
    --------
    >>> shown_target("postgresql+psycopg://ews:s3cret@db.campus/ews")
    'postgresql+psycopg://db.campus/ews'
    >>> shown_target("alerts.sqlite")
    'alerts.sqlite'
    """
    from studentprofile.io._sql import safe_url

    text = os.fspath(target) if isinstance(target, os.PathLike) else str(target)
    return safe_url(text) if "://" in text else text
