"""Capacity-limited caseload assignment: which alerted students get an advisor, and which one.

The problem
-----------
Students ``i`` carry a priority (their risk) and a programme; advisors ``a`` carry a capacity
``c_a`` and, optionally, the programmes they cover. An advisor may take a student when they cover
the student's programme (``affinity="strict"``) or always (``affinity="prefer"``, where covering
is only preferred). We want

1. **coverage first** -- the set of students who get an advisor is the one that a "highest risk
   first" rule would pick *if it were allowed to move earlier students between advisors*: go down
   the list by risk and keep a student whenever the kept set can still be fully assigned. Plain
   first-come assignment (give each student the first advisor with room) can strand a high-risk
   student because an earlier, more flexible student took the only advisor who covers them.
2. **best fit second** -- among all assignments of that set, the one with the least total cost:
   ``out_of_programme_cost`` for an advisor outside the student's programmes (``prefer`` mode),
   minus ``continuity_bonus`` for the student's current advisor, plus a load term
   ``balance * j / c_a`` for the ``j``-th student (from 0) an advisor takes, which spreads
   students across advisors in proportion to capacity.

Why this formulation is exact
-----------------------------
The sets of students that can be assigned at once form a *transversal matroid* (independent
sets of a bipartite b-matching). For a matroid the greedy rule in (1) yields a maximum-weight
basis for *every* weight that decreases with the priority order; in particular it maximises the
number of students covered and, among those, is lexicographically best by risk. We run it as
max-flow with augmenting paths on a network source -> programme -> advisor -> sink, where a
student is kept iff one more unit of flow fits from their programme (earlier students may be
re-routed, never dropped). Its cost is ``O(n * P * A)`` for ``n`` students, ``P`` programmes and
``A`` advisors.

Step (2) is a rectangular linear assignment problem: rows are the kept students, columns are
advisor *slots* (advisor ``a`` expanded into ``min(c_a, n)`` slots, the ``j``-th slot costing the
load term), forbidden pairs cost ``inf``; ``scipy.optimize.linear_sum_assignment`` solves it
exactly. Because every kept student must be placed, this is the min-cost flow of (1)'s value, i.e.
the lexicographic optimum. ``tests/test_warning_caseload.py`` checks both steps against brute
force on small cases.
"""

from __future__ import annotations

import logging
import warnings
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables._checks import require_columns, require_frame, show_values

__all__ = ["assign_caseloads"]

logger = logging.getLogger(__name__)

ASSIGNED = "assigned"
NO_ROOM = "no capacity left"
NO_ADVISOR = "no advisor covers the programme"
NO_STAFF = "no staff in this role"


def _programme_sets(advisors: pd.DataFrame) -> list[frozenset[str] | None]:
    """Each advisor's programmes (None = covers all)."""
    if "programmes" not in advisors.columns:
        return [None] * len(advisors)
    out: list[frozenset[str] | None] = []
    for i, v in enumerate(advisors["programmes"].tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        items = [v] if isinstance(v, str) else list(v) if isinstance(v, Iterable) else None
        if items is None or not all(isinstance(p, str) for p in items):
            raise SchemaError(
                "programmes must be text (a programme, a list of programmes, or empty)",
                table="advisors",
                column="programmes",
                rule="text",
                arrived=f"row {i}: {v!r}",
                hint="leave the cell empty for an advisor who covers every programme",
            )
        out.append(frozenset(items) if items else None)
    return out


def _check_inputs(students: Any, advisors: Any, table: str = "advisors",
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    students = require_frame(students, "students")
    advisors = require_frame(advisors, table)
    require_columns(students, "students", ["student_id", "score"])
    require_columns(advisors, table, ["advisor_id", "capacity"])
    if students["student_id"].isna().any() or students["student_id"].duplicated().any():
        dup = students["student_id"][students["student_id"].duplicated()].unique()
        raise SchemaError(
            "each student appears once, with an id",
            table="students",
            column="student_id",
            rule="unique",
            arrived=f"repeated or empty ids ({len(dup)} repeated)",
            hint="assign caseloads for one as-of date at a time",
        )
    score = pd.to_numeric(students["score"], errors="coerce")
    bad = score.isna() | ~np.isfinite(score.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        raise SchemaError(
            "`score` must be a finite number for every student",
            table="students",
            column="score",
            rule="finite",
            arrived=f"{int(bad.sum())} bad value(s): {show_values(students['score'][bad])}",
            n_bad=int(bad.sum()),
            hint="assign only students with a risk score",
        )
    if advisors["advisor_id"].isna().any() or advisors["advisor_id"].duplicated().any():
        raise SchemaError(
            "each advisor appears once, with an id",
            table=table,
            column="advisor_id" if table == "advisors" else "staff_id",
            rule="unique",
            arrived=show_values(advisors["advisor_id"][advisors["advisor_id"].duplicated()]),
        )
    cap = pd.to_numeric(advisors["capacity"], errors="coerce")
    capf = cap.to_numpy(dtype="float64", na_value=np.nan)
    bad_cap = ~np.isfinite(capf) | (capf < 0) | (capf != np.round(capf))
    if bad_cap.any():
        raise SchemaError(
            "`capacity` must be a whole number >= 0",
            table=table,
            column="capacity",
            rule="non-negative-integer",
            arrived=show_values(advisors["capacity"][bad_cap]),
            n_bad=int(bad_cap.sum()),
        )
    return students, advisors


def assign_caseloads(
    students: pd.DataFrame,
    staff: pd.DataFrame | None = None,
    *,
    roles: Iterable[str] | None = None,
    affinity: str = "strict",
    out_of_programme_cost: float = 1.0,
    continuity_bonus: float = 0.5,
    balance: float = 0.1,
    advisors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assign the highest-risk students to staff, within each role's capacities and programmes.

    See the module documentation (and ``docs/early-warning.md``) for the exact objective: the
    covered set is the lexicographic "highest risk first" optimum (students already placed may be
    moved to make room, never dropped), then the assignment of that set minimises the fit cost.
    With roles, each role's staff are one pool, assigned the same way to the students who need
    that role.

    Parameters
    ----------
    students : DataFrame
        ``student_id``, ``score`` (priority, e.g. calibrated risk; ties keep the input order),
        optional ``programme`` (text; a student without one can only go to staff who cover
        every programme), optional ``current_advisor`` (or ``current_staff``) and, with a staff
        frame, optional ``roles`` (a list of roles or ``;``-separated text: the roles this
        student needs, e.g. from :meth:`Routing.roles_of` plus the owner role) or ``role``.
    staff : DataFrame
        Either today's advisors frame -- ``advisor_id``, ``capacity`` (whole number >= 0),
        optional ``programmes`` (a programme, a list of programmes, or empty for "covers every
        programme") -- or a staff frame: ``staff_id``, ``role``, ``capacity`` (per role: one row
        per person and role), optional ``programmes`` and ``unit`` (college, building, ...).
    roles : iterable of str, optional
        Staff frame only: the roles every student needs when ``students`` has no ``roles`` or
        ``role`` column (default: every role of the staff frame).
    affinity : {"strict", "prefer"}, default "strict"
        ``strict``: staff only take students of programmes they cover. ``prefer``: anyone may
        take any student, at ``out_of_programme_cost``.
    out_of_programme_cost : float, default 1.0
        Cost of staff outside the student's programme (``prefer`` mode only).
    continuity_bonus : float, default 0.5
        Cost reduction for keeping a student's ``current_advisor``.
    balance : float, default 0.1
        Load cost: the ``j``-th student (from 0) given to a person of capacity ``c`` costs
        ``balance * j / c``; 0 leaves the load split to the other costs.
    advisors : DataFrame, optional
        Deprecated keyword name of ``staff`` (FutureWarning; removed in the next release).

    Returns
    -------
    DataFrame
        Advisors frame: one row per student, highest priority first: ``student_id``, ``score``,
        ``priority`` (1 = highest), ``programme``, ``advisor_id`` (None when not assigned),
        ``status`` (``"assigned"``, ``"no capacity left"`` or ``"no advisor covers the
        programme"``) and ``cost`` (the fit cost, NaN when unassigned).
        Staff frame: one row per student and needed role, highest priority first, then role:
        ``student_id``, ``score``, ``priority``, ``programme``, ``role``, ``staff_id``, ``unit``,
        ``status`` (also ``"no staff in this role"``) and ``cost``.

    Raises
    ------
    SchemaError
        Missing columns, repeated ids, non-finite scores, bad capacities, programmes or roles.
    ConfigError
        Bad ``affinity``, costs or ``roles``.

    Examples
    --------
    >>> import pandas as pd
    >>> students = pd.DataFrame({"student_id": ["ana", "ben", "cai"],
    ...                          "score": [0.9, 0.8, 0.7],
    ...                          "programme": ["law", "maths", "maths"]})
    >>> advisors = pd.DataFrame({"advisor_id": ["kim", "lee"], "capacity": [1, 1],
    ...                          "programmes": [["law", "maths"], ["maths"]]})
    >>> out = assign_caseloads(students, advisors)
    >>> out[["student_id", "advisor_id", "status"]]
      student_id advisor_id            status
    0        ana        kim          assigned
    1        ben        lee          assigned
    2        cai       None  no capacity left

    With roles: everyone needs an advisor; ``ana`` also needs a counsellor.

    >>> staff = pd.DataFrame({"staff_id": ["kim", "lee", "mo"],
    ...                       "role": ["advisor", "advisor", "counsellor"],
    ...                       "capacity": [2, 1, 5], "unit": ["north", "south", "north"]})
    >>> need = students.assign(roles=["advisor;counsellor", "advisor", "advisor"])
    >>> assign_caseloads(need, staff)[["student_id", "role", "staff_id", "unit", "status"]]
      student_id        role staff_id   unit    status
    0        ana     advisor      kim  north  assigned
    1        ana  counsellor       mo  north  assigned
    2        ben     advisor      lee  south  assigned
    3        cai     advisor      kim  north  assigned
    """
    if advisors is not None:
        warnings.warn("assign_caseloads(advisors=...) is deprecated; pass the frame as `staff` "
                      "(the first positional argument after students)", FutureWarning,
                      stacklevel=2)
        if staff is not None:
            raise ConfigError("give the staff frame once: `staff` or the deprecated `advisors`",
                              key="advisors", arrived="both")
        staff = advisors
    if staff is None:
        raise ConfigError("assign_caseloads needs a staff (or advisors) frame", key="staff",
                          arrived="None", hint="staff_id, role, capacity[, programmes, unit]")
    if affinity not in ("strict", "prefer"):
        raise ConfigError("affinity must be 'strict' or 'prefer'", key="affinity",
                          arrived=repr(affinity))
    for key, v in (("out_of_programme_cost", out_of_programme_cost),
                   ("continuity_bonus", continuity_bonus), ("balance", balance)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
            raise ConfigError(f"{key} must be a finite number >= 0", key=key, arrived=repr(v))
    opts: dict[str, Any] = {"affinity": affinity, "out_of_programme_cost": out_of_programme_cost,
                            "continuity_bonus": continuity_bonus, "balance": balance}
    staff = require_frame(staff, "staff")
    if "staff_id" not in staff.columns:
        if roles is not None:
            raise ConfigError("roles need a staff frame (staff_id, role, capacity)",
                              key="roles", arrived=repr(roles),
                              hint="rename advisor_id to staff_id and add a role column")
        return _assign_pool(students, staff, **opts)
    return _assign_roles(students, staff, roles, opts)


def _split_roles(value: Any, row: int) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(r, str) for r in items):
        raise SchemaError("roles must be text (a role, a list of roles or ';'-separated text)",
                          table="students", column="roles", rule="text",
                          arrived=f"row {row}: {value!r}")
    out: list[str] = []
    for r in (r.strip() for r in items):
        if r and r not in out:
            out.append(r)
    return out


def _assign_roles(students: Any, staff: pd.DataFrame, roles: Iterable[str] | None,
                  opts: dict[str, Any]) -> pd.DataFrame:
    """One exact assignment per role pool; one output row per (student, needed role)."""
    require_columns(staff, "staff", ["staff_id", "role", "capacity"])
    bad_role = staff["role"].map(lambda r: not isinstance(r, str) or not r.strip())
    if bad_role.any():
        raise SchemaError("every staff row needs a role (text)", table="staff", column="role",
                          rule="text", arrived=show_values(staff["role"][bad_role]),
                          n_bad=int(bad_role.sum()),
                          hint="one row per person and role, e.g. role = 'advisor'")
    pair = staff[["staff_id", "role"]].astype(str)
    if pair.duplicated().any():
        raise SchemaError("each (staff_id, role) appears once", table="staff",
                          column="staff_id", rule="unique",
                          arrived=show_values(staff["staff_id"][pair.duplicated()]),
                          hint="give a person one row per role, with that role's capacity")
    students = require_frame(students, "students")
    require_columns(students, "students", ["student_id", "score"])
    staff_roles = list(dict.fromkeys(staff["role"].tolist()))
    if "roles" in students.columns or "role" in students.columns:
        col = "roles" if "roles" in students.columns else "role"
        needs = [_split_roles(v, i) for i, v in enumerate(students[col].tolist())]
    else:
        wanted = staff_roles if roles is None else [roles] if isinstance(roles, str) \
            else list(roles)
        if not wanted or not all(isinstance(r, str) and r for r in wanted):
            raise ConfigError("roles must be a non-empty list of role names", key="roles",
                              arrived=repr(roles), hint=f"the staff roles: {staff_roles!r}")
        needs = [list(wanted)] * len(students)
    base = students.drop(columns=[c for c in ("roles", "role") if c in students.columns])
    if "current_staff" in base.columns and "current_advisor" not in base.columns:
        base = base.rename(columns={"current_staff": "current_advisor"})
    order_of = {r: i for i, r in enumerate(staff_roles)}
    all_roles = list(dict.fromkeys([*staff_roles, *(r for n in needs for r in n)]))
    unit = (staff.assign(role=staff["role"].astype(str)).set_index(["staff_id", "role"])["unit"]
            if "unit" in staff.columns else None)
    parts = []
    # the whole frame once: validates ids and scores, and gives the global priority
    ranked = _assign_pool(base, pd.DataFrame({"advisor_id": pd.Series([], dtype=object),
                                              "capacity": pd.Series([], dtype="int64")}),
                          table="staff", **opts)
    priority = dict(zip(ranked["student_id"], ranked["priority"], strict=True))
    for role in all_roles:
        rows = [i for i, n in enumerate(needs) if role in n]
        if not rows:
            continue
        pool = staff[staff["role"] == role].rename(columns={"staff_id": "advisor_id"})
        if len(pool):
            got = _assign_pool(base.iloc[rows], pool.drop(columns=["role"]), table="staff",
                               **opts)
        else:
            got = _assign_pool(base.iloc[rows], pool.drop(columns=["role"]).iloc[0:0],
                               table="staff", **opts)
            got["status"] = NO_STAFF
        got = got.rename(columns={"advisor_id": "staff_id"})
        got.insert(4, "role", role)
        got["unit"] = (None if unit is None else
                       [None if s is None else unit.get((s, role)) for s in got["staff_id"]])
        parts.append(got)
    cols = ["student_id", "score", "priority", "programme", "role", "staff_id", "unit",
            "status", "cost"]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    out = pd.concat(parts, ignore_index=True)
    out["priority"] = out["student_id"].map(priority).astype("int64")
    out["_r"] = out["role"].map(lambda r: order_of.get(r, len(order_of)))
    out = out.sort_values(["priority", "_r"], kind="stable").reset_index(drop=True)
    for col in ("staff_id", "unit"):  # missing is None, as in the advisors frame's advisor_id
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out[cols]


def _assign_pool(
    students: pd.DataFrame,
    advisors: pd.DataFrame,
    *,
    affinity: str,
    out_of_programme_cost: float,
    continuity_bonus: float,
    balance: float,
    table: str = "advisors",
) -> pd.DataFrame:
    """Assign one pool of advisors (one role) exactly: see the module documentation."""
    students, advisors = _check_inputs(students, advisors, table)

    n, n_adv = len(students), len(advisors)
    score = pd.to_numeric(students["score"]).to_numpy(dtype="float64")
    order = np.argsort(-score, kind="stable")  # ties keep the input order
    programme = (students["programme"].to_numpy(dtype=object) if "programme" in students
                 else np.full(n, None, dtype=object))
    programme = np.array([None if (p is None or (isinstance(p, float) and np.isnan(p)))
                          else str(p) for p in programme], dtype=object)
    current = (students["current_advisor"].to_numpy(dtype=object)
               if "current_advisor" in students else np.full(n, None, dtype=object))
    capacity = pd.to_numeric(advisors["capacity"]).to_numpy().astype("int64")
    covers = _programme_sets(advisors)
    advisor_ids = advisors["advisor_id"].to_numpy(dtype=object)

    # programme classes: students of one programme have the same eligible advisors
    codes, progs = pd.factorize(pd.Series(programme, dtype=object), use_na_sentinel=False)
    eligible = np.zeros((len(progs), n_adv), dtype=bool)
    for t, p in enumerate(progs):
        for a in range(n_adv):
            if affinity == "prefer":
                eligible[t, a] = True
            else:
                cov = covers[a]
                eligible[t, a] = cov is None or (p is not None and p in cov)

    kept = _greedy_cover(codes[order], eligible, capacity)
    kept_rows = order[kept]

    status = np.full(n, NO_ROOM, dtype=object)
    no_adv = ~(eligible[codes] & (capacity > 0)[None, :]).any(axis=1)
    status[no_adv] = NO_ADVISOR
    advisor = np.full(n, None, dtype=object)
    cost = np.full(n, np.nan)
    if len(kept_rows):
        slot_adv, slot_cost = _slots(capacity, len(kept_rows), balance)
        fit = np.zeros((len(kept_rows), n_adv))
        if affinity == "prefer":
            for a in range(n_adv):
                cov = covers[a]
                if cov is None:
                    continue
                outside = np.array([p is None or p not in cov for p in programme[kept_rows]])
                fit[outside, a] += out_of_programme_cost
        if continuity_bonus:
            for a in range(n_adv):
                same = np.array([c is not None and c == advisor_ids[a]
                                 for c in current[kept_rows]], dtype=bool)
                fit[same, a] -= continuity_bonus
        fit[~eligible[codes[kept_rows]]] = np.inf
        matrix = fit[:, slot_adv] + slot_cost[None, :]
        from scipy.optimize import linear_sum_assignment

        rows, picked = linear_sum_assignment(matrix)
        chosen = slot_adv[picked]
        advisor[kept_rows[rows]] = advisor_ids[chosen]
        status[kept_rows[rows]] = ASSIGNED
        cost[kept_rows[rows]] = matrix[rows, picked]
    priority = np.empty(n, dtype="int64")
    priority[order] = np.arange(1, n + 1)
    out = pd.DataFrame({
        "student_id": students["student_id"].to_numpy(),
        "score": score,
        "priority": priority,
        "programme": programme,
        "advisor_id": pd.Series(advisor, dtype=object),
        "status": status,
        "cost": cost,
    }).iloc[order].reset_index(drop=True)
    logger.info(
        "caseloads: %d students, %d advisors (capacity %d): %d assigned, %d without room, "
        "%d without a covering advisor",
        n, n_adv, int(capacity.sum()), int((status == ASSIGNED).sum()),
        int((status == NO_ROOM).sum()), int((status == NO_ADVISOR).sum()),
    )
    return out


def _greedy_cover(types: np.ndarray, eligible: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Matroid greedy by augmenting paths: which students (in the given order) are kept.

    ``flow[t, a]`` is how many kept students of class ``t`` go to advisor ``a``. A new student
    of class ``t`` is kept iff an augmenting path exists from ``t`` to an advisor with room,
    alternating forward edges (class -> eligible advisor) and backward edges (advisor -> a class
    that sends it flow). A class found blocked stays blocked: flow only grows, and the advisors
    it can reach stay full.
    """
    n_types, n_adv = eligible.shape
    flow = np.zeros((n_types, n_adv), dtype="int64")
    load = np.zeros(n_adv, dtype="int64")
    kept = np.zeros(len(types), dtype=bool)
    blocked: set[int] = set()
    for i, t in enumerate(types.tolist()):
        if t in blocked:
            continue
        found = _augmenting_path(t, eligible, flow, load, capacity)
        if found is None:
            blocked.add(t)
            continue
        edges, end = found
        for forward, cls, adv in edges:
            flow[cls, adv] += 1 if forward else -1
        load[end] += 1
        kept[i] = True
    return kept


def _augmenting_path(
    start: int,
    eligible: np.ndarray,
    flow: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
) -> tuple[list[tuple[bool, int, int]], int] | None:
    """Breadth-first search for a path from class ``start`` to an advisor with room.

    Returns the edges as (forward, class, advisor) and the advisor with room, or None.
    """
    n_types, n_adv = eligible.shape
    seen_type = np.zeros(n_types, dtype=bool)
    seen_adv = np.zeros(n_adv, dtype=bool)
    via_class = np.full(n_adv, -1, dtype="int64")  # class whose forward edge reached the advisor
    via_adv = np.full(n_types, -1, dtype="int64")  # advisor whose backward edge reached the class
    seen_type[start] = True
    queue: deque[int] = deque([start])
    while queue:
        t = queue.popleft()
        for a in np.flatnonzero(eligible[t] & ~seen_adv).tolist():
            seen_adv[a] = True
            via_class[a] = t
            if load[a] < capacity[a]:
                edges: list[tuple[bool, int, int]] = []
                cur = a
                while True:
                    cls = int(via_class[cur])
                    edges.append((True, cls, cur))
                    if cls == start:
                        return edges, a
                    prev = int(via_adv[cls])
                    edges.append((False, cls, prev))
                    cur = prev
            for t2 in np.flatnonzero((flow[:, a] > 0) & ~seen_type).tolist():
                seen_type[t2] = True
                via_adv[t2] = a
                queue.append(t2)
    return None


def _slots(capacity: np.ndarray, n_rows: int, balance: float) -> tuple[np.ndarray, np.ndarray]:
    """Advisor slots: the advisor of each slot and its load cost."""
    per = np.minimum(capacity, n_rows)
    slot_adv = np.repeat(np.arange(len(capacity)), per)
    within = np.concatenate([np.arange(k) for k in per]) if len(per) else np.zeros(0)
    denom = np.maximum(capacity[slot_adv], 1).astype("float64")
    slot_cost = balance * within.astype("float64") / denom
    return slot_adv, slot_cost
