"""Canonical tables: students, events and outcomes, validated against the data contract.

See ``docs/data-contracts.md`` for every rule. Every conversion of a user's date, duration or time
column to the tables' time type lives in one module, ``studentprofile.tables._time``.
"""

from studentprofile.tables._event_tables import (
    EVENT_COLUMNS,
    EVENT_OPTIONAL,
    FAMILIES,
    OUTCOME_COLUMNS,
    STUDENT_TIME_COLUMNS,
    EventTables,
    ValidationReport,
    frame_fingerprint,
    to_days,
)
from studentprofile.tables._time import TimeKind

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_OPTIONAL",
    "FAMILIES",
    "OUTCOME_COLUMNS",
    "STUDENT_TIME_COLUMNS",
    "EventTables",
    "TimeKind",
    "ValidationReport",
    "frame_fingerprint",
    "to_days",
]
