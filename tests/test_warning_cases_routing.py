"""Routing by reason (TOML -> roles) and caseloads with roles and capacities per role."""

from __future__ import annotations

import pandas as pd
import pytest

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.warning import Routing, assign_caseloads
from studentprofile.warning._routing import BAD_ROLE, UNKNOWN_FAMILY, UNKNOWN_KEY

TOML = """
[routing]
default = "advisor"
owner_role = "advisor"

[routing.families]
academic = "tutor"
wellbeing = "counsellor"
participation = "community_officer"

[routing.kinds]
library_entry = "librarian"
"""


def test_routing_from_toml_kind_overrides_family(tmp_path):
    path = tmp_path / "routing.toml"
    path.write_text(TOML, encoding="utf-8")
    r = Routing.from_toml(path)
    assert r.role_of({"family": "academic", "kind": "assessment_score"}) == "tutor"
    assert r.role_of({"family": "behavioral", "kind": "library_entry"}) == "librarian"
    assert r.role_of({"family": "behavioral", "kind": "lms_click"}) == "advisor"
    assert r.role_of({"text": "a sentence only"}) == "advisor"
    assert r.roles_of([{"family": "wellbeing"}, {"family": "participation"},
                       {"family": "wellbeing"}]) == ["counsellor", "community_officer"]
    assert r.roles_of([]) == ["advisor"]
    assert Routing.from_dict(r.to_dict()) == Routing.from_dict(r.to_dict())
    assert Routing.from_dict(r.to_dict()).to_dict() == r.to_dict()


@pytest.mark.parametrize(("data", "match"), [
    ({"families": {"well-being": "counsellor"}}, UNKNOWN_FAMILY),
    ({"families": {"academic": "Tutor"}}, BAD_ROLE),
    ({"families": {"academic": ""}}, BAD_ROLE),
    ({"default": 3}, BAD_ROLE),
    ({"owner_role": "head of year"}, BAD_ROLE),
    ({"families": ["academic"]}, "must be a table"),
    ({"familes": {"academic": "tutor"}}, UNKNOWN_KEY),
])
def test_routing_errors_are_typed(data, match):
    with pytest.raises(ConfigError, match=match):
        Routing.from_dict(data)


def test_routing_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        Routing.from_toml(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        Routing.from_toml(tmp_path / "missing.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text('[routing.families]\n"well-being" = "counsellor"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{typo}.*routing.families: {UNKNOWN_FAMILY}"):
        Routing.from_toml(typo)


STUDENTS = pd.DataFrame({"student_id": ["ana", "ben", "cai", "dan"],
                         "score": [0.9, 0.8, 0.7, 0.6],
                         "programme": ["law", "law", "maths", "law"],
                         "roles": ["advisor;counsellor", "advisor;tutor", ["advisor"],
                                   "advisor;counsellor"]})
STAFF = pd.DataFrame({"staff_id": ["kim", "lee", "kim", "dr_w", "tom"],
                      "role": ["advisor", "advisor", "tutor", "counsellor", "tutor"],
                      "capacity": [2, 1, 1, 1, 0],
                      "programmes": [None, ["maths"], None, None, None],
                      "unit": ["north", "south", "north", "health", "north"]})


def test_caseloads_per_role_with_capacities_and_units():
    out = assign_caseloads(STUDENTS, STAFF)
    assert list(out.columns) == ["student_id", "score", "priority", "programme", "role",
                                 "staff_id", "unit", "status", "cost"]
    got = {(r.student_id, r.role): (r.staff_id, r.unit, r.status) for r in out.itertuples()}
    assert got == {
        ("ana", "advisor"): ("kim", "north", "assigned"),
        ("ana", "counsellor"): ("dr_w", "health", "assigned"),
        ("ben", "advisor"): ("kim", "north", "assigned"),
        ("ben", "tutor"): ("kim", "north", "assigned"),
        ("cai", "advisor"): ("lee", "south", "assigned"),  # lee covers maths only
        ("dan", "advisor"): (None, None, "no capacity left"),
        ("dan", "counsellor"): (None, None, "no capacity left"),  # dr_w has room for one
    }
    assert out["priority"].tolist() == [1, 1, 2, 2, 3, 4, 4]


def test_every_student_needs_the_given_roles_and_a_role_without_staff():
    plain = STUDENTS.drop(columns="roles")
    out = assign_caseloads(plain, STAFF, roles=["advisor", "librarian"])
    assert set(out["role"]) == {"advisor", "librarian"}
    assert (out.loc[out["role"] == "librarian", "status"] == "no staff in this role").all()
    default = assign_caseloads(plain, STAFF)  # every role of the staff frame
    assert sorted(set(default["role"])) == ["advisor", "counsellor", "tutor"]


def test_the_advisors_frame_still_works_and_advisors_keyword_is_deprecated():
    advisors = pd.DataFrame({"advisor_id": ["kim"], "capacity": [1]})
    old = assign_caseloads(STUDENTS.drop(columns="roles"), advisors)
    assert list(old.columns) == ["student_id", "score", "priority", "programme", "advisor_id",
                                 "status", "cost"]
    with pytest.warns(FutureWarning, match=r"advisors=\.\.\.\) is deprecated"):
        again = assign_caseloads(STUDENTS.drop(columns="roles"), advisors=advisors)
    pd.testing.assert_frame_equal(old, again)


def test_staff_frame_errors():
    with pytest.raises(SchemaError, match=r"each \(staff_id, role\) appears once"):
        assign_caseloads(STUDENTS, pd.concat([STAFF, STAFF.iloc[:1]]))
    with pytest.raises(SchemaError, match="every staff row needs a role"):
        assign_caseloads(STUDENTS, STAFF.assign(role=["advisor", None, "tutor", "x", "y"]))
    with pytest.raises(SchemaError, match="staff.capacity"):
        assign_caseloads(STUDENTS, STAFF.assign(capacity=[1, 1, -1, 1, 1]))
    with pytest.raises(SchemaError, match="roles must be text"):
        assign_caseloads(STUDENTS.assign(roles=[1, 2, 3, 4]), STAFF)
    with pytest.raises(ConfigError, match="roles need a staff frame"):
        assign_caseloads(STUDENTS.drop(columns="roles"),
                         pd.DataFrame({"advisor_id": ["kim"], "capacity": [1]}),
                         roles=["advisor"])
