"""What the learning-record readers share: reading JSON records, counting rejections, the result.

A reader turns each record (an xAPI statement, a Caliper event, a Moodle log row) into at most one
canonical event, or rejects it under a named rule. Nothing is dropped silently: every record is
either an event, a voided/voiding record, a record skipped by a documented choice, or a rejection,
and the :class:`RecordReport` counts each, per rule, with the first few record ids.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.tables._time import naive_utc, out_of_range

__all__ = ["EVENT_COLUMNS_OUT", "LearningRecords", "RecordReport"]

#: Columns of :attr:`LearningRecords.events`, in order (the canonical events columns first).
EVENT_COLUMNS_OUT = (
    "student_id", "time", "known_at", "family", "kind", "value", "max_value", "course_id",
    "source", "record_id", "object_id",
)
_EXAMPLES = 3
_MAX_DEPTH = 64


@dataclass
class RecordReport:
    """How a learning-record export was read: counts per outcome and per rejection rule.

    Attributes
    ----------
    source : str
        ``"xapi"``, ``"caliper"`` or ``"moodle"``.
    records : int
        Records read.
    events : int
        Events produced.
    voided : int
        Records voided by a later record (xAPI voiding), not turned into events.
    voiding : int
        Voiding records themselves (they carry no learning event).
    skipped : dict of str to int
        Records left out by a documented, configurable choice (e.g. teachers' actions in a
        Moodle log), per reason.
    rejected : dict of str to int
        Malformed or unusable records, per rule.
    examples : dict of str to list of str
        Up to three record ids (or positions) per rule, to find them in the source.
    notes : dict of str to int
        Events kept with a correction, per kind (e.g. ``stored-before-timestamp``).
    """

    source: str
    records: int = 0
    events: int = 0
    voided: int = 0
    voiding: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def n_rejected(self) -> int:
        """Records rejected under any rule."""
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "source": self.source, "records": self.records, "events": self.events,
            "voided": self.voided, "voiding": self.voiding, "skipped": dict(self.skipped),
            "rejected": dict(self.rejected), "examples": {k: list(v) for k, v in
                                                          self.examples.items()},
            "notes": dict(self.notes),
        }

    def __str__(self) -> str:
        lines = [
            f"{self.source}: {self.records:,} records -> {self.events:,} events"
            f" ({self.voided:,} voided, {self.voiding:,} voiding, "
            f"{sum(self.skipped.values()):,} skipped, {self.n_rejected:,} rejected)"
        ]
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"  skipped  {reason}: {n:,}")
        for rule, n in sorted(self.rejected.items()):
            shown = ", ".join(self.examples.get(rule, []))
            lines.append(f"  rejected {rule}: {n:,}" + (f" (e.g. {shown})" if shown else ""))
        for note, n in sorted(self.notes.items()):
            lines.append(f"  note     {note}: {n:,}")
        return "\n".join(lines)

    # -- bookkeeping used by the readers
    def reject(self, rule: str, record_id: str) -> None:
        """Count one rejected record under ``rule``."""
        self.rejected[rule] = self.rejected.get(rule, 0) + 1
        shown = self.examples.setdefault(rule, [])
        if len(shown) < _EXAMPLES:
            shown.append(record_id)

    def reject_many(self, rule: str, record_ids: Sequence[str]) -> None:
        """Count several rejected records under ``rule``."""
        if len(record_ids):
            self.rejected[rule] = self.rejected.get(rule, 0) + len(record_ids)
            shown = self.examples.setdefault(rule, [])
            shown.extend(str(r) for r in record_ids[: max(0, _EXAMPLES - len(shown))])

    def skip(self, reason: str, n: int = 1) -> None:
        """Count ``n`` records left out by a documented choice."""
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(n)

    def note(self, what: str) -> None:
        """Count one event kept with a correction."""
        self.notes[what] = self.notes.get(what, 0) + 1


@dataclass
class LearningRecords:
    """Events read from a learning-record export, with the report of how they were read.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per event, columns :data:`EVENT_COLUMNS_OUT`: the canonical events columns
        (``student_id`` as text, ``time`` and ``known_at`` as naive UTC ``datetime64[ns]``,
        ``family``, ``kind``, ``value``, optional ``max_value`` and ``course_id``) plus
        ``source``, ``record_id`` and ``object_id`` for tracing an event back to its record.
    report : RecordReport
        Counts per outcome and per rejection rule.
    """

    events: pd.DataFrame
    report: RecordReport

    def to_tables(
        self,
        students: pd.DataFrame | None = None,
        outcomes: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build validated :class:`~studentprofile.tables.EventTables` from these events.

        Parameters
        ----------
        students : pandas.DataFrame, optional
            The students table; default: one row per student seen in the events.
        outcomes : pandas.DataFrame, optional
            The outcomes table; default: none.
        **kwargs
            Passed to :class:`~studentprofile.tables.EventTables`.

        Returns
        -------
        EventTables
            The validated tables.
        """
        from studentprofile.tables import EventTables

        if students is None:
            students = pd.DataFrame(
                {"student_id": pd.unique(self.events["student_id"]).astype(object)}
            )
        return EventTables(students=students, events=self.events, outcomes=outcomes, **kwargs)


# ------------------------------------------------------------------------------------ input
def load_records(records: Any, *, what: str, envelope_keys: tuple[str, ...]) -> list[Any]:
    """Return a list of records from a list, JSON text/bytes, a path or a file object.

    JSON may be one array, one object wrapping an array under one of ``envelope_keys`` (an LRS
    page ``{"statements": [...]}``, a Caliper envelope ``{"data": [...]}``), one record, or JSON
    Lines (one record per line; ``.jsonl``/``.ndjson`` files are always read so).
    """
    if isinstance(records, pd.DataFrame):
        raise ConfigError(
            f"{what}: expected JSON records, got a DataFrame",
            key="records", arrived="DataFrame",
            hint="pass the list of records, the JSON text or the export's path",
        )
    text: str | None = None
    lines_hint = False
    if isinstance(records, os.PathLike) or (
        isinstance(records, str) and not records.lstrip().startswith(("[", "{"))
    ):
        path = Path(records)
        if not path.is_file():
            raise ConfigError(
                f"{what}: no such file", key="records", arrived=repr(str(records)),
                hint="give the path of the export (JSON array or JSON Lines) or the JSON itself",
            )
        lines_hint = path.suffix.lower() in (".jsonl", ".ndjson")
        raw = path.read_bytes()
        text = _decode(raw, what)
    elif isinstance(records, bytes | bytearray):
        text = _decode(bytes(records), what)
    elif isinstance(records, str):
        text = records
    elif isinstance(records, io.IOBase) or hasattr(records, "read"):
        data = records.read()
        text = _decode(data, what) if isinstance(data, bytes) else str(data)
    if text is None:
        if isinstance(records, Mapping):
            return _unwrap(records, envelope_keys)
        if isinstance(records, Iterable):
            return list(records)
        raise ConfigError(
            f"{what}: expected records as a list, JSON text, a path or a file",
            key="records", arrived=type(records).__name__,
        )
    return _parse_json(text, what=what, envelope_keys=envelope_keys, lines=lines_hint)


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what}: the export is not UTF-8 text (JSON must be UTF-8)",
            key="records", arrived=str(exc), hint="re-export the records as UTF-8 JSON",
        ) from exc


def _unwrap(obj: Mapping[str, Any], envelope_keys: tuple[str, ...]) -> list[Any]:
    for key in envelope_keys:
        if key in obj and isinstance(obj[key], list):
            return list(obj[key])
    return [obj]


def _parse_json(text: str, *, what: str, envelope_keys: tuple[str, ...], lines: bool) -> list[Any]:
    stripped = text.strip()
    if not stripped:
        return []
    if not lines:
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            lines = True  # maybe JSON Lines
        except RecursionError as exc:
            raise _too_deep(what) from exc
        else:
            if isinstance(obj, list):
                return obj
            if isinstance(obj, dict):
                return _unwrap(obj, envelope_keys)
            raise ConfigError(
                f"{what}: expected a JSON array or object", key="records",
                arrived=type(obj).__name__,
            )
    out: list[Any] = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            # a line that is not JSON is a malformed record, kept as such (counted later)
            out.append(_Unreadable(number))
        except RecursionError as exc:
            raise _too_deep(what) from exc
    return out


def _too_deep(what: str) -> ConfigError:
    return ConfigError(
        f"{what}: the JSON is nested too deeply to be a learning record", key="records",
        hint="check the export; records nest a few levels, not hundreds",
    )


@dataclass(frozen=True)
class _Unreadable:
    """A JSON Lines line that was not JSON (rejected as ``not-json``)."""

    line: int


# ------------------------------------------------------------------------------------ helpers
def pseudonymiser(key: bytes | str | None) -> Callable[[str], str]:
    """Return the identity, or a keyed pseudonym (HMAC-SHA256, 32 hex digits) when ``key``."""
    if key is None:
        return lambda s: s
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or len(key) < 16:
        raise ConfigError(
            "hash_key must be at least 16 bytes", key="hash_key",
            arrived=f"{len(key) if isinstance(key, bytes) else type(key).__name__}",
            hint="use a long random secret kept outside the code, e.g. os.urandom(32)",
        )
    k = key

    def pseudonym(s: str) -> str:
        return hmac.new(k, s.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def text_or_none(value: Any) -> str | None:
    """Return a non-empty string, else ``None``."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def finite_number(value: Any) -> float | None:
    """Return a finite float for a JSON number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if np.isfinite(out) else None


def parse_times(values: list[Any]) -> tuple[pd.Series, np.ndarray]:
    """Parse ISO 8601 strings (any zone; naive read as UTC) -> naive UTC, and which are bad.

    Missing values stay NaT and are not bad; text that does not parse, or a date outside the
    tables' range, is bad.
    """
    s = pd.Series(values, dtype=object)
    present = s.map(lambda v: isinstance(v, str) and bool(v.strip())).to_numpy(dtype=bool)
    not_text = s.map(lambda v: v is not None and not isinstance(v, str)).to_numpy(dtype=bool)
    parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if present.any():
        texts = s[present].astype(str).str.strip()
        got = pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")
        far = out_of_range(got)  # before any cast to nanoseconds, which would overflow
        got = got.mask(pd.Series(far, index=got.index))
        parsed.loc[present] = naive_utc(got)
    bad = not_text | (present & parsed.isna().to_numpy())
    parsed[bad] = pd.NaT
    return parsed, bad


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Return the events frame in the documented column order and dtypes."""
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS_OUT))
    frame["student_id"] = frame["student_id"].astype(object)
    for col in ("time", "known_at"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    for col in ("value", "max_value"):
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    for col in ("family", "kind", "course_id", "source", "record_id", "object_id"):
        frame[col] = frame[col].astype(object)
    return frame


def depth_ok(obj: Any, limit: int = _MAX_DEPTH) -> bool:
    """Return whether ``obj`` nests at most ``limit`` levels (iteratively, no recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        cur, d = stack.pop()
        if d > limit:
            return False
        if isinstance(cur, dict):
            stack.extend((v, d + 1) for v in cur.values())
        elif isinstance(cur, list):
            stack.extend((v, d + 1) for v in cur)
    return True


def iter_records(records: list[Any]) -> Iterator[tuple[int, Any]]:
    """Enumerate records with their position (1-based)."""
    return enumerate(records, start=1)


def unreadable(record: Any) -> bool:
    """Whether a record is a JSON Lines line that was not JSON."""
    return isinstance(record, _Unreadable)


def finish(rows: list[dict[str, Any]], times_raw: list[Any], known_raw: list[Any],
           report: RecordReport, *, time_name: str, known_name: str,
           time_fallback: bool) -> LearningRecords:
    """Parse the rows' times, apply the time rules, count, and return the result.

    With ``time_fallback``, a missing ``time`` takes ``known_at`` (an LRS sets a missing xAPI
    timestamp to stored); else it is rejected under ``missing-<time_name>``. ``known_at``
    missing, or earlier than ``time``, becomes ``time`` (counted as a note).
    """
    times, bad_t = parse_times(times_raw)
    known, bad_k = parse_times(known_raw)
    kept: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if bad_t[i]:
            report.reject(f"bad-{time_name}", row["record_id"])
            continue
        if bad_k[i]:
            report.reject(f"bad-{known_name}", row["record_id"])
            continue
        t, k = times.iloc[i], known.iloc[i]
        if pd.isna(t):
            if pd.isna(k) or not time_fallback:
                report.reject(f"missing-{time_name}", row["record_id"])
                continue
            t = k
        if pd.isna(k):
            k = t
            report.note(f"{known_name} missing: known when it happened")
        elif k < t:
            k = t
            report.note(f"{known_name} before {time_name}: known when it happened")
        row["time"], row["known_at"] = t, k
        kept.append(row)
    report.events = len(kept)
    return LearningRecords(frame_of(kept), report)


def screen(record: Any, pos: int, report: RecordReport) -> tuple[
        dict[str, Any] | None, str]:
    """Reject what no reader can use (not JSON, not an object, nested too deeply).

    Returns the record (None when rejected) and its id (its ``id``, else ``#<position>``).
    """
    rid = f"#{pos}"
    if unreadable(record):
        report.reject("not-json", f"line {record.line}")
        return None, rid
    if not isinstance(record, dict):
        report.reject("not-an-object", rid)
        return None, rid
    if not depth_ok(record):
        report.reject("nested-too-deeply", rid)
        return None, rid
    own = text_or_none(record.get("id"))
    return record, own or rid


def first_time(record_id: str, seen: set[str], report: RecordReport) -> bool:
    """Whether a record id is new (a repeated one is rejected as ``duplicate-id``)."""
    key = record_id.lower()
    if not record_id.startswith("#") and key in seen:
        report.reject("duplicate-id", record_id)
        return False
    seen.add(key)
    return True


def campus_id(who: str, student_ids: Any, report: RecordReport, record_id: str) -> str | None:
    """Map an actor to a campus student id (``student_ids``: mapping or callable, or None)."""
    if student_ids is None:
        return who
    mapped = student_ids(who) if callable(student_ids) else student_ids.get(who)
    if mapped is None:
        report.reject("unknown-actor", record_id)
        return None
    return str(mapped)
