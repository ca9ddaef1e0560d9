"""Canonical tables: students, events and outcomes, validated against the data contract.

See ``docs/data-contracts.md`` for every rule.
"""

from studentprofile.tables._checks import TimeKind
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
