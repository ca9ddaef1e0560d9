"""Caseload assignment: exact against brute force on small cases; capacity and affinity."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.warning import assign_caseloads

PROGRAMMES = ["law", "maths", "art"]


def brute_force(students, advisors, affinity, out_cost, bonus, balance):
    """Every feasible assignment; the lexicographic optimum (coverage by priority, then cost)."""
    n = len(students)
    order = np.argsort(-students["score"].to_numpy(), kind="stable")
    caps = advisors["capacity"].tolist()
    covers = [None if p is None else set(p) for p in advisors["programmes"]]
    ids = advisors["advisor_id"].tolist()

    def allowed(i, a):
        prog = students["programme"].iloc[i]
        inside = covers[a] is None or (prog is not None and prog in covers[a])
        return inside or affinity == "prefer"

    def fit(i, a):
        prog = students["programme"].iloc[i]
        c = 0.0
        if affinity == "prefer" and covers[a] is not None and (prog is None
                                                               or prog not in covers[a]):
            c += out_cost
        if students["current_advisor"].iloc[i] == ids[a]:
            c -= bonus
        return c

    best = None
    for choice in itertools.product([None, *range(len(ids))], repeat=n):
        loads = [0] * len(ids)
        ok = True
        for i, a in enumerate(choice):
            if a is None:
                continue
            if not allowed(i, a):
                ok = False
                break
            loads[a] += 1
        if not ok or any(lo > c for lo, c in zip(loads, caps, strict=True)):
            continue
        coverage = tuple(choice[i] is not None for i in order)
        cost = sum(fit(i, a) for i, a in enumerate(choice) if a is not None)
        cost += sum(balance * sum(range(lo)) / max(c, 1) for lo, c in zip(loads, caps,
                                                                           strict=True))
        key = (coverage, -cost)
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] > best[1] + 1e-12):
            best = key
    return best


@st.composite
def small_case(draw):
    n = draw(st.integers(1, 6))
    n_adv = draw(st.integers(1, 3))
    scores = draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n, unique=True))
    students = pd.DataFrame({
        "student_id": [f"s{i}" for i in range(n)],
        "score": [s / 1000 for s in scores],
        "programme": draw(st.lists(st.sampled_from([*PROGRAMMES, None]), min_size=n,
                                   max_size=n)),
        "current_advisor": draw(st.lists(st.sampled_from([None, "a0", "a1", "a2"]), min_size=n,
                                         max_size=n)),
    })
    programmes = []
    for _ in range(n_adv):
        if draw(st.booleans()):
            programmes.append(None)
        else:
            programmes.append(draw(st.lists(st.sampled_from(PROGRAMMES), min_size=1,
                                            max_size=2, unique=True)))
    advisors = pd.DataFrame({
        "advisor_id": [f"a{i}" for i in range(n_adv)],
        "capacity": draw(st.lists(st.integers(0, 3), min_size=n_adv, max_size=n_adv)),
        "programmes": pd.Series(programmes, dtype=object),
    })
    affinity = draw(st.sampled_from(["strict", "prefer"]))
    costs = (draw(st.sampled_from([0.0, 1.0, 2.5])), draw(st.sampled_from([0.0, 0.5, 3.0])),
             draw(st.sampled_from([0.0, 0.1, 1.0])))
    return students, advisors, affinity, costs


@settings(max_examples=150)
@given(small_case())
def test_assignment_is_the_lexicographic_optimum(case):
    students, advisors, affinity, (out_cost, bonus, balance) = case
    got = assign_caseloads(students, advisors, affinity=affinity,
                           out_of_programme_cost=out_cost, continuity_bonus=bonus,
                           balance=balance)
    coverage, neg_cost = brute_force(students, advisors, affinity, out_cost, bonus, balance)
    assigned = got["status"].eq("assigned").tolist()  # rows come in priority order
    assert tuple(assigned) == coverage
    assert got.loc[got["status"] == "assigned", "cost"].sum() == pytest.approx(-neg_cost,
                                                                               abs=1e-9)
    # feasibility, checked directly
    loads = got["advisor_id"].value_counts()
    caps = advisors.set_index("advisor_id")["capacity"]
    assert all(loads[a] <= caps[a] for a in loads.index)
    if affinity == "strict":
        covers = dict(zip(advisors["advisor_id"], advisors["programmes"], strict=True))
        for prog, adv in zip(got["programme"], got["advisor_id"], strict=True):
            if adv is not None and covers[adv] is not None:
                assert prog in covers[adv]


def test_first_come_would_strand_a_student_the_assignment_does_not():
    # kim covers law and maths, lee only maths. First-come gives ana (maths) to kim and leaves
    # ben (law) without an advisor; the assignment moves ana to lee.
    students = pd.DataFrame({"student_id": ["ana", "ben"], "score": [0.9, 0.8],
                             "programme": ["maths", "law"]})
    advisors = pd.DataFrame({"advisor_id": ["kim", "lee"], "capacity": [1, 1],
                             "programmes": [["law", "maths"], ["maths"]]})
    out = assign_caseloads(students, advisors)
    assert dict(zip(out["student_id"], out["advisor_id"], strict=True)) == {"ana": "lee",
                                                                          "ben": "kim"}


def test_highest_risk_first_when_capacity_runs_out():
    students = pd.DataFrame({"student_id": list("abcde"),
                             "score": [0.2, 0.9, 0.5, 0.7, 0.5],
                             "programme": ["law"] * 5})
    advisors = pd.DataFrame({"advisor_id": ["kim", "lee"], "capacity": [2, 1]})
    out = assign_caseloads(students, advisors)
    assert out["student_id"].tolist() == ["b", "d", "c", "e", "a"]  # ties keep input order
    assert out["priority"].tolist() == [1, 2, 3, 4, 5]
    assert out["status"].tolist() == ["assigned"] * 3 + ["no capacity left"] * 2
    assert out["advisor_id"].iloc[3:].isna().all()


def test_no_covering_advisor_is_reported_as_such():
    students = pd.DataFrame({"student_id": [1, 2, 3], "score": [0.9, 0.8, 0.7],
                             "programme": ["art", "law", None]})
    advisors = pd.DataFrame({"advisor_id": ["kim"], "capacity": [5], "programmes": ["law"]})
    out = assign_caseloads(students, advisors).set_index("student_id")
    assert out.loc[1, "status"] == "no advisor covers the programme"
    assert out.loc[2, "status"] == "assigned"
    assert out.loc[3, "status"] == "no advisor covers the programme"
    # with preference instead of strict affinity, everyone fits
    out = assign_caseloads(students, advisors, affinity="prefer")
    assert (out["status"] == "assigned").all()
    # two students outside kim's programme (cost 1 each) plus the load term 0.1 * (0+1+2) / 5
    assert out["cost"].sum() == pytest.approx(2.0 + 0.1 * 3 / 5)


def test_continuity_and_balance():
    students = pd.DataFrame({"student_id": list("abcd"), "score": [0.9, 0.8, 0.7, 0.6],
                             "current_advisor": ["lee", None, None, None]})
    advisors = pd.DataFrame({"advisor_id": ["kim", "lee"], "capacity": [4, 4]})
    out = assign_caseloads(students, advisors, balance=1.0, continuity_bonus=0.5)
    got = dict(zip(out["student_id"], out["advisor_id"], strict=True))
    assert got["a"] == "lee"
    assert sorted(got.values()) == ["kim", "kim", "lee", "lee"]  # balanced 2/2


def test_empty_and_zero_capacity():
    students = pd.DataFrame({"student_id": ["a"], "score": [0.5]})
    out = assign_caseloads(students, pd.DataFrame({"advisor_id": ["kim"], "capacity": [0]}))
    assert out["status"].tolist() == ["no advisor covers the programme"]
    empty = assign_caseloads(students.iloc[0:0], pd.DataFrame({"advisor_id": ["kim"],
                                                               "capacity": [3]}))
    assert len(empty) == 0


def test_caseload_errors():
    good_s = pd.DataFrame({"student_id": ["a"], "score": [0.5]})
    good_a = pd.DataFrame({"advisor_id": ["kim"], "capacity": [1]})
    with pytest.raises(SchemaError, match="score"):
        assign_caseloads(good_s.drop(columns="score"), good_a)
    with pytest.raises(SchemaError, match="`score` must be a finite number"):
        assign_caseloads(good_s.assign(score=[np.nan]), good_a)
    with pytest.raises(SchemaError, match="each student appears once"):
        assign_caseloads(pd.concat([good_s, good_s]), good_a)
    with pytest.raises(SchemaError, match="`capacity` must be a whole number >= 0"):
        assign_caseloads(good_s, good_a.assign(capacity=[1.5]))
    with pytest.raises(SchemaError, match="`capacity` must be a whole number >= 0"):
        assign_caseloads(good_s, good_a.assign(capacity=[-1]))
    with pytest.raises(SchemaError, match="programmes must be text"):
        assign_caseloads(good_s, good_a.assign(programmes=[[1, 2]]))
    with pytest.raises(ConfigError, match="affinity must be 'strict' or 'prefer'"):
        assign_caseloads(good_s, good_a, affinity="loose")
    with pytest.raises(ConfigError, match="balance must be a finite number >= 0"):
        assign_caseloads(good_s, good_a, balance=-1.0)


def test_scales_to_a_campus_term():
    rng = np.random.default_rng(3)
    n = 1500
    students = pd.DataFrame({"student_id": np.arange(n), "score": rng.random(n),
                             "programme": rng.choice(PROGRAMMES, n)})
    advisors = pd.DataFrame({"advisor_id": [f"a{i}" for i in range(30)],
                             "capacity": rng.integers(10, 40, 30),
                             "programmes": [list(rng.choice(PROGRAMMES, 2, replace=False))
                                            for _ in range(30)]})
    out = assign_caseloads(students, advisors)
    loads = out["advisor_id"].value_counts()
    caps = advisors.set_index("advisor_id")["capacity"]
    assert (loads <= caps[loads.index]).all()
    # coverage is maximal: every programme whose advisors still have room has no one waiting
    waiting = out[out["status"] == "no capacity left"]
    room = caps - loads.reindex(caps.index, fill_value=0)
    for prog in waiting["programme"].unique():
        can = advisors["programmes"].apply(lambda p, prog=prog: prog in p).to_numpy()
        assert room[can].sum() == 0
