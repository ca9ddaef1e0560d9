"""Campus sources -> canonical tables: flat snapshots, SQL databases, learning records.

:func:`from_snapshot` reads a one-row-per-student table (attributes and a final outcome) as
tables, a feature matrix and labels, without inventing times.

Each reader returns :class:`LearningRecords`: the events, in the canonical ``events`` columns
(``student_id`` as text, naive UTC times, ``known_at``), and a :class:`RecordReport` that counts
every record as an event, a voided or skipped record, or a rejection under a named rule; nothing
is dropped silently. ``LearningRecords.to_tables()`` builds validated ``EventTables``.

:func:`read_sql` runs a query through SQLAlchemy (SQLite built in; PostgreSQL with the
``postgres`` extra) in chunks, with the URL taken from an environment variable and never shown.

This layer sits above :mod:`studentprofile.tables` and below :mod:`studentprofile.features`.
"""

from studentprofile.io._caliper import read_caliper
from studentprofile.io._moodle import read_moodle_log
from studentprofile.io._records import LearningRecords, RecordReport
from studentprofile.io._snapshot import Snapshot, from_snapshot, outcome_rule
from studentprofile.io._sql import expand_url, read_sql, safe_url
from studentprofile.io._xapi import ADL_VERBS, read_xapi

__all__ = [
    "ADL_VERBS",
    "LearningRecords",
    "RecordReport",
    "Snapshot",
    "expand_url",
    "from_snapshot",
    "outcome_rule",
    "read_caliper",
    "read_moodle_log",
    "read_sql",
    "read_xapi",
    "safe_url",
]


def __dir__() -> list[str]:
    return list(__all__)
