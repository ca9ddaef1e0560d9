"""IMS Caliper Analytics 1.2 events -> canonical events.

The mapping (sections of the Caliper Analytics 1.2 specification):

=========================================  ==================================================
Caliper (section)                          event column
=========================================  ==================================================
``actor`` Person ``id`` (2.1, C.36)       ``student_id``; for ``Graded`` events (B.6) the
                                           actor is the grader, so the student is the graded
                                           Attempt's ``assignee`` (C.6)
``type`` + ``action`` (2.1, Appendix B)    ``family`` and ``kind`` (``caliper_<type>_<action>``
                                           in snake case; academic for grade, assessment,
                                           assignable and outcome events; participation for
                                           message, forum, thread, feedback and survey events;
                                           behavioral otherwise)
``generated`` Score ``scoreGiven`` (C.40)  ``value`` (``max_value`` from ``maxScore``); 1.0
                                           when the event generates no score
``eventTime``                              ``time``
envelope ``sendTime`` (5.2 Envelope)       ``known_at`` when the events come in an envelope
                                           (never before ``time``); else ``eventTime``
``group`` ``id`` (CourseSection)           ``course_id``
``object.id`` / ``id``                     ``object_id`` / ``record_id``
=========================================  ==================================================

Entities may be "thinned" to their IRI (2.2: a string instead of an object); an actor given so
is taken as the person it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

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

__all__ = ["read_caliper"]

_ACADEMIC = {"GradeEvent", "AssessmentEvent", "AssessmentItemEvent", "AssignableEvent",
             "OutcomeEvent"}
_PARTICIPATION = {"MessageEvent", "ForumEvent", "ThreadEvent", "FeedbackEvent", "SurveyEvent",
                  "SurveyInvitationEvent", "QuestionnaireEvent", "QuestionnaireItemEvent"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def default_kind(event_type: str, action: str) -> tuple[str, str]:
    """Return the default (family, kind) of a Caliper event type and action.

    Examples
    --------
    >>> default_kind("GradeEvent", "Graded")
    ('academic', 'caliper_grade_graded')
    >>> default_kind("NavigationEvent", "NavigatedTo")
    ('behavioral', 'caliper_navigation_navigated_to')
    """
    family = ("academic" if event_type in _ACADEMIC
              else "participation" if event_type in _PARTICIPATION else "behavioral")
    stem = event_type[: -len("Event")] if event_type.endswith("Event") else event_type
    return family, f"caliper_{_snake(stem or 'event')}_{_snake(action)}"


def _entity_id(entity: Any) -> tuple[str | None, str | None]:
    """Return (id, type) of an entity or a thinned entity (an IRI string)."""
    if isinstance(entity, str):
        return text_or_none(entity), None
    if isinstance(entity, dict):
        return text_or_none(entity.get("id")), text_or_none(entity.get("type"))
    return None, None


def read_caliper(
    events: Any,
    *,
    actions: Mapping[str, Any] | None = None,
    hash_key: bytes | str | None = None,
    student_ids: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> LearningRecords:
    """Read IMS Caliper 1.2 events (or envelopes of them) into canonical events.

    Parameters
    ----------
    events : list, str, bytes, path or file
        Events as a list of dicts, a Caliper envelope ``{"sensor", "sendTime", "data": [...]}``,
        a list of envelopes, JSON text or JSON Lines, or the path of such a file.
    actions : mapping, optional
        Overrides of the default kinds: ``"GradeEvent.Graded"`` (or just ``"Graded"``) ->
        ``(family, kind)``, or ``None`` to skip such events on purpose.
    hash_key : bytes or str, optional
        Student ids become keyed pseudonyms (HMAC-SHA256) of the person IRI.
    student_ids : mapping or callable, optional
        Maps a person IRI to the campus student id; persons it does not know are rejected
        under ``unknown-actor``.

    Returns
    -------
    LearningRecords
        ``events`` and the ``report``.

    Examples
    --------
    >>> graded = {
    ...     "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    ...     "id": "urn:uuid:a50ca17f-5971-47bb-8fca-4e6e6879001d",
    ...     "type": "GradeEvent", "action": "Graded",
    ...     "actor": {"id": "https://example.edu/autograder", "type": "SoftwareApplication"},
    ...     "object": {"id": "https://example.edu/attempts/1", "type": "Attempt",
    ...                "assignee": {"id": "https://example.edu/users/554433", "type": "Person"}},
    ...     "generated": {"type": "Score", "scoreGiven": 10.0, "maxScore": 15.0},
    ...     "eventTime": "2016-11-15T10:57:06.000Z",
    ...     "group": {"id": "https://example.edu/courses/7/sections/1", "type": "CourseSection"},
    ... }
    >>> got = read_caliper([graded])
    >>> got.events[["student_id", "kind", "value", "max_value"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'student_id': 'https://example.edu/users/554433', 'kind': 'caliper_grade_graded',
      'value': 10.0, 'max_value': 15.0}]
    """
    table: dict[str, tuple[str, str] | None] = {}
    for key, target in (actions or {}).items():
        if target is None:
            table[key] = None
            continue
        if not (isinstance(target, tuple | list) and len(target) == 2
                and target[0] in FAMILIES and isinstance(target[1], str) and target[1].strip()):
            raise ConfigError(
                "an action maps to a (family, kind) pair or None to skip it",
                key=f"actions[{key!r}]", arrived=repr(target),
                hint=f"family is one of {', '.join(FAMILIES)}",
            )
        table[key] = (target[0], target[1])
    pseudonym = pseudonymiser(hash_key)
    raw = load_records(events, what="Caliper", envelope_keys=("data",))
    # envelopes inside a list: unwrap, remembering each envelope's sendTime
    flat: list[tuple[Any, Any]] = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("data"), list) and "sensor" in item:
            flat.extend((ev, item.get("sendTime")) for ev in item["data"])
        else:
            flat.append((item, None))
    envelope_time = None
    if isinstance(events, dict) and "sendTime" in events:
        envelope_time = events.get("sendTime")
    report = RecordReport("caliper", records=len(flat))
    rows: list[dict[str, Any]] = []
    times: list[Any] = []
    knowns: list[Any] = []
    seen: set[str] = set()
    for pos, (raw, sent) in iter_records(flat):
        ev, rid = screen(raw, pos, report)
        if ev is None or not first_time(rid, seen, report):
            continue
        etype = text_or_none(ev.get("type"))
        action = text_or_none(ev.get("action"))
        if etype is None or action is None:
            report.reject("missing-type-or-action", rid)
            continue
        obj = ev.get("object")
        if action == "Graded":
            who, _ = _entity_id(obj.get("assignee") if isinstance(obj, dict) else None)
            rule = "graded-without-assignee"
        else:
            who, wtype = _entity_id(ev.get("actor"))
            rule = "missing-actor"
            if who is not None and wtype not in (None, "Person"):
                report.reject("actor-not-a-person", rid)
                continue
        if who is None:
            report.reject(rule, rid)
            continue
        who = campus_id(who, student_ids, report, rid)
        if who is None:
            continue
        key = f"{etype}.{action}"
        if key in table or action in table:
            target = table[key] if key in table else table[action]
            if target is None:
                report.skip(f"action {key}")
                continue
            family, kind = target
        else:
            family, kind = default_kind(etype, action)
        value, top = 1.0, None
        generated = ev.get("generated")
        if isinstance(generated, dict) and generated.get("type") == "Score":
            given = finite_number(generated.get("scoreGiven"))
            if given is None:
                report.reject("bad-score", rid)
                continue
            value = given
            if generated.get("maxScore") is not None:
                top = finite_number(generated.get("maxScore"))
                if top is None:
                    report.reject("bad-score", rid)
                    continue
        course, _ = _entity_id(ev.get("group"))
        obj_id, _ = _entity_id(obj)
        rows.append({
            "student_id": pseudonym(who), "family": family, "kind": kind, "value": value,
            "max_value": top, "course_id": course, "source": "caliper", "record_id": rid,
            "object_id": obj_id,
        })
        times.append(ev.get("eventTime"))
        knowns.append(sent if sent is not None else envelope_time)
    return finish(rows, times, knowns, report, time_name="eventTime", known_name="sendTime",
                  time_fallback=False)
