"""judged_outcomes: staff verdicts per tier / reason family / model version, contact times."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    CASE_COLUMNS,
    VERDICTS,
    JudgedOutcomes,
    _case_frames,
    check_cases,
    check_verdicts,
    judged_outcomes,
)

D = pd.Timestamp


def make_cases(rows: list[dict]) -> pd.DataFrame:
    base = {c: None for c in CASE_COLUMNS}
    base.update(alert_id="a", as_of=D("2026-11-02"), opened_at=D("2026-11-02"), tier="high",
                risk=0.7, model_version="v1", reason_families="academic", reason_codes="",
                owner="kim", unit="North", role="advisor", status="open",
                due_first_contact=D("2026-11-09"), first_contact_at=pd.NaT, closed_at=pd.NaT)
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(CASE_COLUMNS))


@pytest.fixture
def loop():
    cases = make_cases([
        # kim: contacted after 1 day, judged useful
        dict(case_id="c1", student_id="s1", tier="high", reason_families="academic;behavioral",
             first_contact_at=D("2026-11-03"), status="contacted"),
        # kim: contacted after 3 days, judged not useful then corrected to useful (latest wins)
        dict(case_id="c2", student_id="s2", tier="high", reason_families="academic",
             first_contact_at=D("2026-11-05"), status="closed", closed_at=D("2026-11-06")),
        # kim: never contacted, open, due 11-09 -> overdue on 11-16
        dict(case_id="c3", student_id="s3", tier="medium", reason_families="behavioral",
             model_version="v2"),
        # lee (South): contacted late (10 days, due after 7), incorrectly flagged
        dict(case_id="c4", student_id="s4", tier="medium", reason_families="participation",
             owner="lee", unit="South", model_version="v2",
             first_contact_at=D("2026-11-12"), status="closed", closed_at=D("2026-11-13")),
        # lee: closed without contact: not overdue; verdict already known
        dict(case_id="c5", student_id="s5", tier="low", reason_families="",
             owner="lee", unit="South", status="closed", closed_at=D("2026-11-04")),
        # unassigned, opened after the evaluation date: left out
        dict(case_id="c6", student_id="s6", owner=None, unit=None,
             opened_at=D("2026-11-20"), as_of=D("2026-11-20"),
             due_first_contact=D("2026-11-27")),
    ])
    verdicts = pd.DataFrame({
        "case_id": ["c1", "c2", "c2", "c4", "c5", "c3"],
        "time": [D("2026-11-04"), D("2026-11-06"), D("2026-11-08"), D("2026-11-13"),
                 D("2026-11-04"), D("2026-11-30")],  # c3's verdict comes after the date
        "staff": ["kim", "kim", "kim", "lee", "lee", "kim"],
        "verdict": ["useful", "not_useful", "useful", "incorrectly_flagged", "already_known",
                    "useful"],
        "note": ["", "", "on second thought", "", "", ""],
    })
    return cases, verdicts


def test_verdict_tables_exact(loop):
    cases, verdicts = loop
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    assert isinstance(r, JudgedOutcomes)
    o = r.overall.iloc[0]
    assert (o["cases"], o["judged"]) == (5, 4)
    assert o["coverage"] == pytest.approx(0.8)
    assert (o["useful"], o["not_useful"], o["incorrectly_flagged"], o["already_known"]) == (
        2, 0, 1, 1)
    assert o["judged_precision"] == pytest.approx(0.5)
    assert o["rate_already_known"] == pytest.approx(0.25)
    tier = r.by_tier.set_index("tier")
    assert tier.loc["high", ["cases", "judged", "useful"]].tolist() == [2, 2, 2]
    assert tier.loc["high", "judged_precision"] == 1.0
    assert tier.loc["medium", ["cases", "judged", "incorrectly_flagged"]].tolist() == [2, 1, 1]
    assert tier.loc["medium", "judged_precision"] == 0.0
    assert tier.loc["low", "rate_already_known"] == 1.0
    fam = r.by_reason_family.set_index("reason_family")
    # c1 counts in academic and in behavioral; c5 has no family
    assert fam.index.tolist() == ["academic", "behavioral", "participation"]
    assert fam["cases"].tolist() == [2, 2, 1]
    assert fam.loc["academic", "judged_precision"] == 1.0
    assert fam.loc["behavioral", "coverage"] == 0.5
    mv = r.by_model_version.set_index("model_version")
    assert mv.loc["v1", ["cases", "judged", "useful"]].tolist() == [3, 3, 2]
    assert mv.loc["v2", ["cases", "judged"]].tolist() == [2, 1]
    assert mv.loc["v2", "rate_useful"] == 0.0
    assert any("opened after the evaluation date" in n for n in r.notes)
    assert any("1 verdict(s) given after" in n for n in r.notes)


def test_contact_tables_exact(loop):
    cases, verdicts = loop
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    adv = r.contact_by_advisor.set_index("advisor")
    assert adv.loc["kim", ["cases", "contacted", "overdue", "contacted_late"]].tolist() == [
        3, 2, 1, 0]
    assert adv.loc["kim", "median_days_to_contact"] == 2.0  # 1 and 3 days
    assert adv.loc["kim", "p90_days_to_contact"] == pytest.approx(2.8)  # linear: 1 + 0.9 * 2
    assert adv.loc["lee", ["cases", "contacted", "overdue", "contacted_late"]].tolist() == [
        2, 1, 0, 1]
    assert adv.loc["lee", "median_days_to_contact"] == 10.0
    assert adv.loc["kim", "overdue_rate"] == pytest.approx(1 / 3)
    unit = r.contact_by_unit.set_index("unit")
    assert unit.loc["North", "overdue"] == 1 and unit.loc["South", "overdue"] == 0
    # a day earlier nothing is overdue yet: c3 was due 11-09
    early = judged_outcomes(cases, verdicts, as_of="2026-11-09")
    assert early.contact_by_advisor["overdue"].sum() == 0
    # contact recorded after the date did not happen yet: c4 contacted 11-12
    mid = judged_outcomes(cases, verdicts, as_of="2026-11-10").contact_by_advisor
    assert mid.set_index("advisor").loc["lee", "contacted"] == 0
    assert mid.set_index("advisor").loc["lee", "overdue"] == 1


def test_default_date_is_latest_time_and_reopened_counts_as_open(loop):
    cases, verdicts = loop
    r = judged_outcomes(cases, verdicts)
    assert r.params["as_of"] == "2026-11-30"
    assert r.overall.iloc[0]["cases"] == 6
    reopened = cases.assign(status=["contacted", "reopened", "open", "closed", "closed", "open"])
    adv = judged_outcomes(reopened, verdicts, as_of="2026-11-16").contact_by_advisor
    assert adv.set_index("advisor").loc["kim", "overdue"] == 1  # c2 was contacted: not overdue


def test_statistical_precision_beside_judged(loop):
    cases, verdicts = loop
    outcomes = pd.DataFrame({
        "student_id": ["s1", "s3", "s4", "s2"],
        "time": [D("2026-12-01"), D("2027-01-10"), D("2026-10-01"), D("2027-06-01")],
        "outcome": ["withdrawn", "failed", "withdrawn", "withdrawn"],
    })
    r = judged_outcomes(cases, verdicts, as_of="2027-03-01", outcomes=outcomes, horizon=90)
    o = r.overall.iloc[0]
    # c6 (as_of 11-20) horizon ends 2027-02-18: observable too; s4's outcome was before
    assert o["observable"] == 6 and o["with_outcome"] == 2
    assert o["statistical_precision"] == pytest.approx(2 / 6)
    assert o["judged_precision"] == pytest.approx(3 / 5)  # c3's late verdict now counts
    only_withdrawn = judged_outcomes(cases, verdicts, as_of="2027-03-01", outcomes=outcomes,
                                     outcome="withdrawn")
    assert only_withdrawn.overall.iloc[0]["with_outcome"] == 1
    short = judged_outcomes(cases, verdicts, as_of="2027-02-05", outcomes=outcomes)
    # c1-c5's 90 days ended 2027-01-31; c6's end 2027-02-18: not observable yet
    assert short.overall.iloc[0][["observable", "with_outcome"]].tolist() == [5, 2]
    assert any("horizon has not ended" in n for n in short.notes)


def test_float_days_work_like_datetimes(loop):
    cases, verdicts = loop
    origin = D("2026-11-01")
    to_days = {c: (lambda s: (pd.to_datetime(s) - origin) / pd.Timedelta(days=1))
               for c in _case_frames.CASE_TIME_COLUMNS}
    fc = cases.assign(**{c: f(cases[c]) for c, f in to_days.items()})
    fv = verdicts.assign(time=(verdicts["time"] - origin) / pd.Timedelta(days=1))
    a = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    b = judged_outcomes(fc, fv, as_of=15.0)
    pd.testing.assert_frame_equal(a.contact_by_advisor, b.contact_by_advisor)
    pd.testing.assert_frame_equal(a.by_tier, b.by_tier)


def test_to_dict_and_html(loop):
    cases, verdicts = loop
    cases = cases.assign(owner=["<script>alert(1)</script>", "kim", "kim", "lee", "lee", None])
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["overall"][0]["judged_precision"] == 0.5
    assert d["params"]["as_of"] == "2026-11-16"
    page = r._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert repr(r) == "JudgedOutcomes(5 cases, 4 judged, judged precision 0.500, 1 overdue)"


# ----------------------------------------------------------------------- the contracts
def test_missing_column_named(loop):
    cases, verdicts = loop
    with pytest.raises(SchemaError, match=r"cases.owner \[required-column\]"):
        judged_outcomes(cases.drop(columns="owner"), verdicts)
    with pytest.raises(SchemaError, match=r"verdicts.verdict \[required-column\]"):
        judged_outcomes(cases, verdicts.drop(columns="verdict"))
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        judged_outcomes(cases.to_dict(), verdicts)


def test_unknown_verdict_and_unknown_case(loop):
    cases, verdicts = loop
    bad = verdicts.assign(verdict=["useful", "meh", "useful", "useful", "useful", "useful"])
    with pytest.raises(SchemaError, match=re.escape(
            _case_frames.UNKNOWN_VERDICT.format(allowed=list(VERDICTS)))) as info:
        judged_outcomes(cases, bad)
    assert "'meh'" in str(info.value)
    orphan = verdicts.assign(case_id=["c1", "c2", "c2", "c4", "zz", "c3"])
    with pytest.raises(SchemaError, match=_case_frames.UNKNOWN_CASE) as info:
        judged_outcomes(cases, orphan)
    assert "'zz'" in str(info.value)


def test_duplicate_case_empty_times_and_kinds(loop):
    cases, verdicts = loop
    with pytest.raises(SchemaError, match=re.escape(_case_frames.DUPLICATE_CASE)):
        check_cases(cases.assign(case_id=["c1", "c1", "c3", "c4", "c5", "c6"]))
    with pytest.raises(SchemaError, match=r"cases.due_first_contact \[not-null\]"):
        check_cases(cases.assign(due_first_contact=[None] + [D("2026-11-09")] * 5))
    mixed = cases.assign(closed_at=[1.0] * 6)
    with pytest.raises(SchemaError, match=re.escape(_case_frames.TIME_KINDS)):
        check_cases(mixed)
    with pytest.raises(SchemaError, match=re.escape(_case_frames.TIME_KINDS)):
        check_verdicts(verdicts.assign(time=1.0), check_cases(cases))
    with pytest.raises(SchemaError, match=re.escape(_case_frames.RISK_RANGE)):
        check_cases(cases.assign(risk=[0.1, 0.2, 1.5, 0.1, 0.1, 0.1]))
    with pytest.raises(SchemaError, match=r"cases.risk \[numeric\]"):
        check_cases(cases.assign(risk=["0.1", "x", 0.1, 0.1, 0.1, 0.1]))
    with pytest.raises(ConfigError, match="as_of"):
        judged_outcomes(cases, verdicts, as_of="not a date")


def test_integer_case_ids_join_text_ones(loop):
    cases, verdicts = loop
    cases = cases.assign(case_id=range(1, 7))
    verdicts = verdicts.assign(case_id=["1", "2", "2", "4", "5", "3"])
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    assert r.overall.iloc[0]["judged"] == 4


# ------------------------------------------------------------------------- properties
@settings(deadline=None)
@given(st.lists(st.sampled_from(VERDICTS + ("",)), min_size=1, max_size=30),
       st.lists(st.sampled_from(["high", "medium", "low"]), min_size=30, max_size=30))
def test_counts_add_up(verdict_list, tiers):
    n = len(verdict_list)
    cases = make_cases([dict(case_id=f"c{i}", student_id=f"s{i}", tier=tiers[i])
                        for i in range(n)])
    given_ = [(f"c{i}", v) for i, v in enumerate(verdict_list) if v]
    verdicts = pd.DataFrame({"case_id": [c for c, _ in given_],
                             "time": [D("2026-11-05")] * len(given_),
                             "staff": "kim", "verdict": [v for _, v in given_], "note": ""})
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    o = r.overall.iloc[0]
    assert o["cases"] == n and o["judged"] == len(given_)
    assert sum(o[v] for v in VERDICTS) == o["judged"]
    assert r.by_tier["cases"].sum() == n and r.by_tier["judged"].sum() == len(given_)
    for v in VERDICTS:
        assert r.by_tier[v].sum() == o[v]
    if len(given_):
        assert o["judged_precision"] == pytest.approx(verdict_list.count("useful") / len(given_))
        rates = [o[f"rate_{v}"] for v in VERDICTS]
        assert sum(rates) == pytest.approx(1.0)
    else:
        assert np.isnan(o["judged_precision"])


def test_wilson_intervals_and_tiers_riskiest_first(loop):
    cases, verdicts = loop
    cases = cases.assign(risk=[0.9, 0.8, 0.5, 0.4, 0.2, 0.9])
    r = judged_outcomes(cases, verdicts, as_of="2026-11-16")
    assert r.by_tier["tier"].tolist() == ["high", "medium", "low"]
    o = r.overall.iloc[0]  # 2 useful of 4 judged: Wilson's 95% interval is 0.150 to 0.850
    assert o["judged_precision_ci_low"] == pytest.approx(0.150, abs=5e-4)
    assert o["judged_precision_ci_high"] == pytest.approx(0.850, abs=5e-4)
    high = r.by_tier.set_index("tier").loc["high"]  # 2 of 2
    assert high["judged_precision_ci_low"] == pytest.approx(0.342, abs=5e-4)
    assert high["judged_precision_ci_high"] == pytest.approx(1.0)


def test_no_cases_and_no_verdicts(loop):
    cases, _ = loop
    none = pd.DataFrame({c: [] for c in ("case_id", "time", "staff", "verdict", "note")})
    r = judged_outcomes(cases, none, as_of="2026-11-16")
    assert repr(r) == "JudgedOutcomes(5 cases, 0 judged, judged precision undefined, 1 overdue)"
    empty = judged_outcomes(cases.iloc[:0], none, as_of="2026-11-16")
    assert empty.overall[["cases", "judged"]].values.tolist() == [[0, 0]]
    assert len(empty.by_tier) == 0 and len(empty.contact_by_advisor) == 0
    assert repr(empty).startswith("JudgedOutcomes(0 cases, 0 judged")
    with pytest.raises(SchemaError, match="nothing to evaluate"):
        judged_outcomes(cases.iloc[:0], none)
