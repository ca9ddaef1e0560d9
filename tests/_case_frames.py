"""Small hand-made cases frames (the case store's contract) for the notification and site tests."""

from __future__ import annotations

import pandas as pd

from studentprofile.evaluation import CASE_COLUMNS

D = pd.Timestamp
AS_OF = D("2026-11-16")


def make_cases(rows: list[dict]) -> pd.DataFrame:
    """A cases frame: every contract column, defaults for what a row leaves out."""
    base = {c: None for c in CASE_COLUMNS}
    base.update(alert_id="a", as_of=D("2026-11-09"), opened_at=D("2026-11-09"), tier="high",
                risk=0.7, model_version="v1", reason_families="academic",
                reason_codes="attendance_drop", owner="kim", unit="North", role="advisor",
                status="open", due_first_contact=D("2026-11-16"), first_contact_at=pd.NaT,
                closed_at=pd.NaT)
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(CASE_COLUMNS))


def week() -> pd.DataFrame:
    """Two advisors' week: new, overdue, contacted, closed, unassigned and future cases."""
    return make_cases([
        # kim: new this week (opened 11-12, due 11-19)
        dict(case_id="k-new", student_id="S-001", opened_at=D("2026-11-12"),
             as_of=D("2026-11-12"), due_first_contact=D("2026-11-19"), risk=0.91,
             reason_families="academic;behavioral",
             reason_codes="attendance_drop;late_submissions"),
        # kim: overdue (due 11-10, never contacted)
        dict(case_id="k-late", student_id="S-002", opened_at=D("2026-11-03"),
             as_of=D("2026-11-03"), due_first_contact=D("2026-11-10"), tier="medium",
             risk=0.55, reason_families="participation", reason_codes="club_dropout"),
        # kim: old, contacted in time: neither new nor overdue
        dict(case_id="k-done", student_id="S-003", opened_at=D("2026-10-20"),
             as_of=D("2026-10-20"), due_first_contact=D("2026-10-27"),
             first_contact_at=D("2026-10-22"), status="contacted"),
        # kim: overdue but closed: not listed
        dict(case_id="k-closed", student_id="S-004", opened_at=D("2026-11-01"),
             due_first_contact=D("2026-11-08"), status="closed", closed_at=D("2026-11-05")),
        # lee: overdue
        dict(case_id="l-late", student_id="S-101", owner="lee", unit="South",
             opened_at=D("2026-11-01"), as_of=D("2026-11-01"),
             due_first_contact=D("2026-11-08"), risk=0.8),
        # lee: new, low tier
        dict(case_id="l-new", student_id="S-102", owner="lee", unit="South", tier="low",
             risk=0.3, opened_at=D("2026-11-15"), as_of=D("2026-11-15"),
             due_first_contact=D("2026-11-22")),
        # nobody's: no digest
        dict(case_id="x-none", student_id="S-201", owner=None, opened_at=D("2026-11-14")),
        # opened after the digest's date: not listed
        dict(case_id="k-future", student_id="S-005", opened_at=D("2026-11-20"),
             as_of=D("2026-11-20"), due_first_contact=D("2026-11-27")),
    ])
