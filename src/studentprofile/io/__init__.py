"""Campus sources -> canonical events: learning-record standards (xAPI, Caliper, Moodle logs).

Each reader returns :class:`LearningRecords`: the events, in the canonical ``events`` columns
(``student_id`` as text, naive UTC times, ``known_at``), and a :class:`RecordReport` that counts
every record as an event, a voided or skipped record, or a rejection under a named rule; nothing
is dropped silently. ``LearningRecords.to_tables()`` builds validated ``EventTables``.

This layer sits above :mod:`studentprofile.tables` and below :mod:`studentprofile.features`.
"""

from studentprofile.io._caliper import read_caliper
from studentprofile.io._moodle import read_moodle_log
from studentprofile.io._records import LearningRecords, RecordReport
from studentprofile.io._xapi import ADL_VERBS, read_xapi

__all__ = [
    "ADL_VERBS",
    "LearningRecords",
    "RecordReport",
    "read_caliper",
    "read_moodle_log",
    "read_xapi",
]


def __dir__() -> list[str]:
    return list(__all__)
