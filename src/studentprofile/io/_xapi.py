"""xAPI (Experience API 1.0.3 and 2.0) statements -> canonical events.

The mapping (section numbers of the xAPI 1.0.3 specification, Part Two "Data"):

============================================  ==============================================
xAPI (section)                                event column
============================================  ==============================================
``actor`` Agent IFI (2.4.2.1, 2.4.2.3)        ``student_id`` (account name, else mbox
                                              without ``mailto:``, else mbox_sha1sum, else
                                              openid; keyed pseudonym with ``hash_key``)
``verb.id`` (2.4.3)                           ``family`` and ``kind`` through the verb map
``result.score.scaled`` / ``raw`` (2.4.5.1)   ``value`` (``max_value`` from ``score.max``);
                                              1.0 when the statement has no score
``timestamp`` (2.4.7)                         ``time`` (when it happened)
``stored`` (2.4.8)                            ``known_at`` (when the LRS knew it)
``context.contextActivities`` (2.4.6.2)       ``course_id`` (first ``grouping``, else first
                                              ``parent`` activity id)
``object.id`` (2.4.4)                         ``object_id``
``id`` (2.4.1)                                ``record_id``
============================================  ==============================================

Voiding (2.3.2) is honoured: a statement with verb ``http://adlnet.gov/expapi/verbs/voided``
whose object is a ``StatementRef`` voids the statement it names, wherever the two stand in the
export; neither becomes an event. A statement without ``timestamp`` takes ``stored`` (as an LRS
does, 2.4.7); one without ``stored`` is known when it happened. ``stored`` earlier than
``timestamp`` (a provider's clock ahead of the LRS's) is kept with ``known_at = time`` and
counted as a note. Timestamps without a zone are read as UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from studentprofile.errors import ConfigError
from studentprofile.tables import FAMILIES

from ._records import (
    LearningRecords,
    RecordReport,
    campus_id,
    finish,
    finite_number,
    first_time,
    iter_records,
    load_records,
    pseudonymiser,
    screen,
    text_or_none,
)

__all__ = ["ADL_VERBS", "read_xapi"]

VOIDED = "http://adlnet.gov/expapi/verbs/voided"

_ADL = "http://adlnet.gov/expapi/verbs/"
_ADL_W3ID = "https://w3id.org/xapi/adl/verbs/"

#: The default verb map: ADL verb ids -> (family, kind). Academic verbs judge work (a score or a
#: pass); behavioral verbs record use of the learning system; participation verbs record
#: contributions to others. Override or extend it with ``read_xapi(verbs=...)``.
ADL_VERBS: dict[str, tuple[str, str]] = {
    **{_ADL + v: ("academic", f"xapi_{v}") for v in (
        "answered", "completed", "failed", "mastered", "passed", "scored", "responded",
    )},
    **{_ADL + v: ("behavioral", f"xapi_{v}") for v in (
        "attempted", "attended", "exited", "experienced", "initialized", "interacted",
        "launched", "progressed", "registered", "resumed", "suspended", "terminated",
    )},
    **{_ADL + v: ("participation", f"xapi_{v}") for v in (
        "asked", "commented", "shared", "imported",
    )},
    **{_ADL_W3ID + v: ("academic", f"xapi_{v.replace('-', '_')}") for v in (
        "satisfied", "waived",
    )},
    **{_ADL_W3ID + v: ("behavioral", f"xapi_{v.replace('-', '_')}") for v in (
        "abandoned", "logged-in", "logged-out",
    )},
}


def _verb_key(verb_id: str) -> str:
    # the ADL registry is written with http; providers also send https: one key for both
    if verb_id.startswith("https://adlnet.gov/"):
        return "http://" + verb_id[len("https://"):]
    return verb_id


def _verb_map(verbs: Mapping[str, Any] | None, replace: bool) -> dict[str, tuple[str, str] | None]:
    table: dict[str, tuple[str, str] | None] = {} if replace else dict(ADL_VERBS)
    for verb, target in (verbs or {}).items():
        if not isinstance(verb, str) or not verb:
            raise ConfigError("verb ids must be non-empty text", key="verbs", arrived=repr(verb))
        if target is None:
            table[_verb_key(verb)] = None  # a verb to skip on purpose
            continue
        if isinstance(target, str):
            family, kind = "behavioral", target
        elif isinstance(target, tuple | list) and len(target) == 2:
            family, kind = target
        else:
            raise ConfigError(
                "a verb maps to a kind, a (family, kind) pair, or None to skip it",
                key=f"verbs[{verb!r}]", arrived=repr(target),
            )
        if family not in FAMILIES:
            raise ConfigError(
                f"family must be one of {', '.join(FAMILIES)}", key=f"verbs[{verb!r}]",
                arrived=repr(family),
            )
        if not isinstance(kind, str) or not kind.strip():
            raise ConfigError("kind must be non-empty text", key=f"verbs[{verb!r}]",
                              arrived=repr(kind))
        table[_verb_key(verb)] = (family, kind)
    return table


def _actor_id(actor: Any, how: str) -> tuple[str | None, str | None]:
    """Return (identifier, rejection rule)."""
    if not isinstance(actor, dict):
        return None, "missing-actor"
    if actor.get("objectType") == "Group":
        return None, "actor-is-group"
    account = actor.get("account")
    name = text_or_none(account.get("name")) if isinstance(account, dict) else None
    mbox = text_or_none(actor.get("mbox"))
    if mbox is not None and mbox.lower().startswith("mailto:"):
        mbox = mbox[len("mailto:"):]
    order = {
        "auto": (name, mbox, text_or_none(actor.get("mbox_sha1sum")),
                 text_or_none(actor.get("openid"))),
        "account": (name,),
        "mbox": (mbox,),
    }[how]
    for value in order:
        if value:
            return value, None
    return None, "actor-without-identifier"


def _course(context: Any, order: tuple[str, ...]) -> str | None:
    if not isinstance(context, dict):
        return None
    activities = context.get("contextActivities")
    if not isinstance(activities, dict):
        return None
    for key in order:
        found = activities.get(key)
        if isinstance(found, dict):  # 1.0.0 allowed a single activity instead of an array
            found = [found]
        if isinstance(found, list):
            for act in found:
                if isinstance(act, dict) and text_or_none(act.get("id")):
                    return str(act["id"])
    return None


def _score(result: Any) -> tuple[float | None, float | None, bool]:
    """Return (value, max_value, ok)."""
    if not isinstance(result, dict) or "score" not in result:
        return None, None, True
    score = result["score"]
    if not isinstance(score, dict):
        return None, None, False
    scaled = score.get("scaled")
    raw = score.get("raw")
    top = score.get("max")
    if scaled is not None:
        v = finite_number(scaled)
        if v is None or not -1.0 <= v <= 1.0:  # 2.4.5.1: between -1 and 1 inclusive
            return None, None, False
        return v, 1.0, True
    if raw is not None:
        v = finite_number(raw)
        m = finite_number(top) if top is not None else None
        if v is None or (top is not None and m is None):
            return None, None, False
        return v, m, True
    return None, None, True


def read_xapi(
    statements: Any,
    *,
    verbs: Mapping[str, Any] | None = None,
    replace_verbs: bool = False,
    unknown_verbs: Literal["reject", "keep"] = "reject",
    actor_id: Literal["auto", "account", "mbox"] = "auto",
    hash_key: bytes | str | None = None,
    student_ids: Mapping[str, str] | Callable[[str], str | None] | None = None,
    course_from: tuple[str, ...] = ("grouping", "parent"),
) -> LearningRecords:
    """Read xAPI statements (an LRS export) into canonical events.

    Parameters
    ----------
    statements : list, str, bytes, path or file
        The statements: a list of dicts; JSON text (an array, one statement, an LRS page
        ``{"statements": [...]}``) or JSON Lines; or the path of such a file (``.jsonl`` and
        ``.ndjson`` are read as JSON Lines).
    verbs : mapping, optional
        Extra or overriding verb ids -> ``(family, kind)``, a kind (family ``behavioral``), or
        ``None`` to skip that verb on purpose (counted as skipped).
    replace_verbs : bool, default False
        Use only ``verbs``, not :data:`ADL_VERBS` plus ``verbs``.
    unknown_verbs : {"reject", "keep"}, default "reject"
        A verb outside the map is rejected (counted under ``unknown-verb``), or kept as a
        ``behavioral`` event whose kind is ``xapi_`` plus the verb id's last segment.
    actor_id : {"auto", "account", "mbox"}, default "auto"
        Which identifier of the actor is the student: ``auto`` takes the account name, else the
        mbox, else mbox_sha1sum, else openid.
    hash_key : bytes or str, optional
        When given, student ids are keyed pseudonyms (HMAC-SHA256) of the actor identifier.
    student_ids : mapping or callable, optional
        Maps an actor identifier (before hashing) to the campus student id; actors it does not
        know are rejected under ``unknown-actor``.
    course_from : tuple of str, default ("grouping", "parent")
        Which context activities give ``course_id``, in order.

    Returns
    -------
    LearningRecords
        ``events`` and the ``report`` (records, events, voided, skipped and rejected per rule).

    Raises
    ------
    ConfigError
        Unreadable input or an invalid option.

    Examples
    --------
    >>> statement = {
    ...     "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    ...     "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.edu"},
    ...     "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
    ...     "object": {"id": "http://example.edu/course/cbt"},
    ...     "result": {"score": {"scaled": 0.95}},
    ...     "timestamp": "2015-12-18T12:17:00+00:00",
    ...     "stored": "2015-12-18T12:20:00+00:00",
    ... }
    >>> got = read_xapi([statement])
    >>> got.events[["student_id", "kind", "value", "time", "known_at"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'student_id': 'learner@example.edu', 'kind': 'xapi_attempted', 'value': 0.95,
      'time': Timestamp('2015-12-18 12:17:00'), 'known_at': Timestamp('2015-12-18 12:20:00')}]
    >>> print(got.report)
    xapi: 1 records -> 1 events (0 voided, 0 voiding, 0 skipped, 0 rejected)
    """
    if unknown_verbs not in ("reject", "keep"):
        raise ConfigError("unknown_verbs must be 'reject' or 'keep'", key="unknown_verbs",
                          arrived=repr(unknown_verbs))
    if actor_id not in ("auto", "account", "mbox"):
        raise ConfigError("actor_id must be 'auto', 'account' or 'mbox'", key="actor_id",
                          arrived=repr(actor_id))
    bad_course = [k for k in course_from if k not in ("grouping", "parent", "category", "other")]
    if bad_course or isinstance(course_from, str):
        raise ConfigError(
            "course_from names context activities: grouping, parent, category, other",
            key="course_from", arrived=repr(course_from),
        )
    table = _verb_map(verbs, replace_verbs)
    pseudonym = pseudonymiser(hash_key)
    records = load_records(statements, what="xAPI", envelope_keys=("statements",))
    report = RecordReport("xapi", records=len(records))

    # voiding first: a voiding statement may come before or after the one it voids (2.3.2)
    voided_ids: set[str] = set()
    for _, st in iter_records(records):
        if isinstance(st, dict) and isinstance(st.get("verb"), dict) \
                and st["verb"].get("id") == VOIDED:
            obj = st.get("object")
            if isinstance(obj, dict) and obj.get("objectType") == "StatementRef" \
                    and text_or_none(obj.get("id")):
                voided_ids.add(str(obj["id"]).lower())

    rows: list[dict[str, Any]] = []
    stamps: list[Any] = []
    stores: list[Any] = []
    seen: set[str] = set()
    for pos, raw in iter_records(records):
        st, rid = screen(raw, pos, report)
        if st is None:
            continue
        sid = text_or_none(st.get("id"))
        verb = st.get("verb")
        verb_id = text_or_none(verb.get("id")) if isinstance(verb, dict) else None
        if verb_id == VOIDED:
            obj = st.get("object")
            if isinstance(obj, dict) and obj.get("objectType") == "StatementRef":
                report.voiding += 1
            else:
                report.reject("voiding-without-statementref", rid)
            continue
        if sid is not None and sid.lower() in voided_ids:
            report.voided += 1
            continue
        if not first_time(rid, seen, report):
            continue
        who, rule = _actor_id(st.get("actor"), actor_id)
        if rule is not None or who is None:
            report.reject(rule or "missing-actor", rid)
            continue
        who = campus_id(who, student_ids, report, rid)
        if who is None:
            continue
        if verb_id is None:
            report.reject("missing-verb", rid)
            continue
        key = _verb_key(verb_id)
        if key in table:
            target = table[key]
            if target is None:
                report.skip(f"verb {verb_id}")
                continue
            family, kind = target
        elif unknown_verbs == "keep":
            tail = key.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or "verb"
            family, kind = "behavioral", f"xapi_{tail}"
        else:
            report.reject("unknown-verb", rid)
            continue
        value, top, ok = _score(st.get("result"))
        if not ok:
            report.reject("bad-score", rid)
            continue
        obj = st.get("object")
        rows.append({
            "student_id": pseudonym(who),
            "family": family,
            "kind": kind,
            "value": 1.0 if value is None else value,
            "max_value": top,
            "course_id": _course(st.get("context"), course_from),
            "source": "xapi",
            "record_id": rid,
            "object_id": text_or_none(obj.get("id")) if isinstance(obj, dict) else None,
        })
        stamps.append(st.get("timestamp"))
        stores.append(st.get("stored"))
    return finish(rows, stamps, stores, report, time_name="timestamp", known_name="stored",
                  time_fallback=True)
