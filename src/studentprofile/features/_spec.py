"""Feature specifications: which aggregates of which events over which windows.

A :class:`FeatureSpec` is a list of entries. An :class:`EventFeatures` entry selects events by
family and kind and asks for aggregates over windows, with a missing-value rule and optional
cohort-relative transforms; a :class:`StaticFeatures` entry passes columns of the students table
through. Specs are plain, immutable data: they validate themselves on construction, compose with
``+`` and round-trip through JSON-ready dictionaries. Nothing here touches event data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.features._info import FeatureInfo

__all__ = [
    "AGGREGATES",
    "MISSING_RULES",
    "TRANSFORMS",
    "EventFeatures",
    "FeatureSpec",
    "PlannedColumn",
    "StaticFeatures",
]

#: Every aggregate an :class:`EventFeatures` entry can ask for, with its plain-language meaning.
AGGREGATES: dict[str, str] = {
    "count": "number of events",
    "sum": "sum of the values",
    "mean": "mean of the values",
    "min": "smallest value",
    "max": "largest value",
    "std": "sample standard deviation of the values",
    "first": "value of the earliest event",
    "last": "value of the latest event",
    "slope": "least-squares trend of the values per day",
    "days_since_last": "days from the latest event to the as-of date",
    "active_days": "number of distinct local calendar days with events",
    "longest_gap": "longest time between consecutive events (or the last one and the as-of date)",
    "share": "sum of values over sum of max_value",
    "tod_entropy": "Shannon entropy (bits) of the local time of day of events",
    "dow_entropy": "Shannon entropy (bits) of the local day of week of events",
    "lz_entropy": "Lempel-Ziv entropy rate (bits per day) of the daily first-event time bins",
}

#: How a missing feature value (NaN) is handled.
MISSING_RULES: tuple[str, ...] = ("nan", "zero", "constant", "cohort_mean")

#: Cohort-relative transforms.
TRANSFORMS: tuple[str, ...] = ("zscore", "percentile", "ratio")

_DIRECTIONS = ("better", "worse", "neutral")
_FAMILIES = ("academic", "behavioral", "participation", "wellbeing")
_DIMENSIONS = ("moral", "intellectual", "physical", "aesthetic", "labour")
_VALUE_UNITS = ("", "share", "percent", "count", "days", "per day", "score", "bits")
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*d\s*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")

# aggregates whose value on an empty window is 0 rather than NaN
COUNT_LIKE: frozenset[str] = frozenset({"count", "sum", "active_days"})
# aggregates that need each event's local wall-clock time
CLOCK_AGGREGATES: frozenset[str] = frozenset(
    {"active_days", "tod_entropy", "dow_entropy", "lz_entropy"}
)


def _seq(value: Any, key: str, what: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int | float):
        return (value,)
    try:
        return tuple(value)
    except TypeError as exc:
        raise ConfigError(
            f"{what} must be a list",
            key=key,
            arrived=repr(value),
            hint=f"pass a list, e.g. {key.rsplit('.', 1)[-1]}=[...]",
        ) from exc


def window_label(window: Any, key: str = "windows") -> str:
    """Normalise a window to its label: ``"7d"``, ``"all"`` or ``"term"``.

    Parameters
    ----------
    window : int, float or str
        A number of days (``7``, ``"7d"``, ``"7"``, ``0.5``), ``"all"`` (all history) or
        ``"term"`` (term to date).
    key : str
        The parameter name for error messages.

    Returns
    -------
    str

    Examples
    --------
    >>> window_label(30), window_label("7d"), window_label("all")
    ('30d', '7d', 'all')
    """
    if isinstance(window, str):
        w = window.strip().lower()
        if w in ("all", "term"):
            return w
        m = _WINDOW_RE.match(w) or re.match(r"^\s*(\d+(?:\.\d+)?)\s*$", w)
        if m:
            window = float(m.group(1))
    if isinstance(window, bool) or not isinstance(window, int | float):
        raise ConfigError(
            "a window must be a number of days, 'all' or 'term'",
            key=key,
            arrived=repr(window),
            hint="use e.g. windows=[7, 30, 'all', 'term'] or ['7d', '30d']",
        )
    days = float(window)
    if not math.isfinite(days) or days <= 0:
        raise ConfigError(
            "a window must be a positive number of days",
            key=key,
            arrived=repr(window),
            hint="use e.g. windows=[7, 30, 90]",
        )
    return f"{days:g}d"


def window_days(label: str) -> float | None:
    """Days of a fixed window label, or ``None`` for ``all`` and ``term``."""
    if label in ("all", "term"):
        return None
    return float(label[:-1])


def _window_phrase(label: str) -> str:
    if label == "all":
        return "to date"
    if label == "term":
        return "this term so far"
    days = window_days(label)
    if days == 1:
        return "over the last day"
    return f"over the last {label[:-1]} days"


def _check_choice(value: Any, allowed: Sequence[str], key: str, hint: str) -> None:
    if value not in allowed:
        raise ConfigError(
            f"must be one of {list(allowed)!r}",
            key=key,
            arrived=repr(value),
            hint=hint,
        )


def _check_name(value: Any, key: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ConfigError(
            "names used in feature columns must be letters, digits and underscores",
            key=key,
            arrived=repr(value),
            hint="choose a short snake_case name, e.g. 'lms'",
        )


@dataclass(frozen=True)
class EventFeatures:
    """Aggregates of one family or kind of events over windows before each as-of date.

    Parameters
    ----------
    kinds : str or sequence of str, optional
        Event kinds to select (``"class_attendance"``); ``None`` selects every kind of ``family``.
    family : str, optional
        ``academic``, ``behavioral``, ``participation`` or ``wellbeing``; with ``kinds`` it
        restricts them to that family.
    aggregates : sequence of str, default ("count",)
        Names from :data:`AGGREGATES`.
    windows : sequence, default (30,)
        Windows: numbers of days (``7``, ``"30d"``), ``"all"`` (all history) and ``"term"``
        (from the student's ``term_start``).
    name : str, optional
        Column prefix; defaults to the kinds joined by ``_`` (or the family).
    event, events, value : str, optional
        Wording for phrases: one event (``"class session"``), several (``"class sessions"``),
        and what the value measures (``"attendance"``). Default from the kind name.
    mean_phrase : str, optional
        The noun phrase for the mean (``"class attendance rate"``), instead of
        ``"average <value>"``.
    unit : str, default ""
        Unit of the values (``share``, ``percent``, ``count``, ``score``, ...), see
        :class:`FeatureInfo`.
    higher_is : {"better", "worse", "neutral"}, default "neutral"
        Direction of the values for a student's success (mean, min, max, first, last, slope,
        share inherit it).
    activity_is : {"better", "worse", "neutral"}, default "neutral"
        Direction of more events (count, sum, active days; days since last and longest gap get the
        opposite).
    regularity_is : {"better", "worse", "neutral"}, default "neutral"
        Direction of regular timing: the entropies get the opposite.
    missing : {"nan", "zero", "constant", "cohort_mean"}, default "nan"
        What a missing value becomes: left NaN (LightGBM handles it), 0, ``fill_value``, or the
        mean of the student's cohort (``by``) at the same as-of date.
    fill_value : float, optional
        The constant for ``missing="constant"``.
    flag_missing : bool, default False
        Add a ``<column>_missing`` column, 1.0 where the value was missing before imputation.
    relative : sequence of str, default ()
        Cohort-relative transforms to add for every column: ``zscore``, ``percentile``,
        ``ratio`` (see the feature docs for formulas).
    by : str, default "cohort"
        The students-table column that defines a cohort for ``relative`` and ``cohort_mean``.
    sensitivity : {"normal", "sensitive", "audit"}, optional
        Defaults to ``sensitive`` for the well-being family, ``normal`` otherwise. Well-being
        features are always ``sensitive``.
    dimension : str, optional
        The education dimension (moral, intellectual, physical, aesthetic, labour).
    tod_bins : int, default 24
        Time-of-day bins for ``tod_entropy``.
    lz_bins : int, default 48
        Time-of-day bins (48 = half hours) of the daily sequence for ``lz_entropy``.

    Examples
    --------
    >>> entry = EventFeatures("lms_click", aggregates=["sum", "active_days"], windows=[7, 30])
    >>> entry.windows, entry.column_names()
    (('7d', '30d'), ['lms_click_sum_7d', 'lms_click_active_days_7d', 'lms_click_sum_30d', \
'lms_click_active_days_30d'])
    """

    kinds: tuple[str, ...] | None = None
    family: str | None = None
    aggregates: tuple[str, ...] = ("count",)
    windows: tuple[str, ...] = ("30d",)
    name: str | None = None
    event: str | None = None
    events: str | None = None
    value: str | None = None
    mean_phrase: str | None = None
    unit: str = ""
    higher_is: str = "neutral"
    activity_is: str = "neutral"
    regularity_is: str = "neutral"
    missing: str = "nan"
    fill_value: float | None = None
    flag_missing: bool = False
    relative: tuple[str, ...] = ()
    by: str = "cohort"
    sensitivity: str | None = None
    dimension: str | None = None
    tod_bins: int = 24
    lz_bins: int = 48

    def __init__(
        self,
        kinds: str | Sequence[str] | None = None,
        *,
        family: str | None = None,
        aggregates: str | Sequence[str] = ("count",),
        windows: Any = (30,),
        name: str | None = None,
        event: str | None = None,
        events: str | None = None,
        value: str | None = None,
        mean_phrase: str | None = None,
        unit: str = "",
        higher_is: str = "neutral",
        activity_is: str = "neutral",
        regularity_is: str = "neutral",
        missing: str = "nan",
        fill_value: float | None = None,
        flag_missing: bool = False,
        relative: str | Sequence[str] = (),
        by: str = "cohort",
        sensitivity: str | None = None,
        dimension: str | None = None,
        tod_bins: int = 24,
        lz_bins: int = 48,
    ) -> None:
        label = repr(kinds if kinds is not None else family)
        where = f"EventFeatures({label})"
        kinds_t: tuple[str, ...] | None
        if kinds is None:
            kinds_t = None
        else:
            kinds_t = _seq(kinds, f"{where}.kinds", "kinds")
            if not kinds_t or not all(isinstance(x, str) and x for x in kinds_t):
                raise ConfigError(
                    "kinds must be one or more non-empty event kind names",
                    key=f"{where}.kinds",
                    arrived=repr(kinds),
                    hint="e.g. kinds='class_attendance' or kinds=['gym_entry', 'sport']",
                )
            kinds_t = tuple(dict.fromkeys(kinds_t))
        if family is not None:
            _check_choice(family, _FAMILIES, f"{where}.family", "pick the events' family")
        if kinds_t is None and family is None:
            raise ConfigError(
                "an EventFeatures entry must select events by kinds, family or both",
                key=where,
                arrived="kinds=None, family=None",
                hint="pass kinds='lms_click' or family='behavioral'",
            )
        aggs = _seq(aggregates, f"{where}.aggregates", "aggregates")
        if not aggs:
            raise ConfigError(
                "at least one aggregate is needed",
                key=f"{where}.aggregates",
                arrived=repr(aggregates),
                hint=f"choose from {list(AGGREGATES)!r}",
            )
        for a in aggs:
            if a not in AGGREGATES:
                close = [x for x in AGGREGATES if isinstance(a, str) and a.lower() in x]
                raise ConfigError(
                    f"unknown aggregate; the aggregates are {list(AGGREGATES)!r}",
                    key=f"{where}.aggregates",
                    arrived=repr(a),
                    hint=f"did you mean {close[0]!r}?" if close else "pick one from the list",
                )
        wins = tuple(window_label(w, f"{where}.windows") for w in
                     _seq(windows, f"{where}.windows", "windows"))
        if not wins:
            raise ConfigError(
                "at least one window is needed",
                key=f"{where}.windows",
                arrived=repr(windows),
                hint="e.g. windows=[7, 30, 'all']",
            )
        if name is not None:
            _check_name(name, f"{where}.name")
        for key, val in (("event", event), ("events", events), ("value", value),
                         ("mean_phrase", mean_phrase)):
            if val is not None and (not isinstance(val, str) or not val.strip()):
                raise ConfigError(
                    f"{key} must be a non-empty phrase",
                    key=f"{where}.{key}",
                    arrived=repr(val),
                )
        _check_choice(unit, _VALUE_UNITS, f"{where}.unit", "use a unit FeatureInfo knows")
        for key, val in (("higher_is", higher_is), ("activity_is", activity_is),
                         ("regularity_is", regularity_is)):
            _check_choice(val, _DIRECTIONS, f"{where}.{key}", "use 'better', 'worse' or 'neutral'")
        _check_choice(missing, MISSING_RULES, f"{where}.missing",
                      "use 'nan' (LightGBM handles it), 'zero', 'constant' or 'cohort_mean'")
        if missing == "constant":
            if isinstance(fill_value, bool) or not isinstance(fill_value, int | float) or not \
                    math.isfinite(fill_value):
                raise ConfigError(
                    "missing='constant' needs a finite fill_value",
                    key=f"{where}.fill_value",
                    arrived=repr(fill_value),
                    hint="pass e.g. fill_value=0.0",
                )
            fill_value = float(fill_value)
        elif fill_value is not None:
            raise ConfigError(
                "fill_value applies only with missing='constant'",
                key=f"{where}.fill_value",
                arrived=f"fill_value={fill_value!r} with missing={missing!r}",
                hint="add missing='constant' or drop fill_value",
            )
        if not isinstance(flag_missing, bool):
            raise ConfigError("flag_missing must be True or False", key=f"{where}.flag_missing",
                              arrived=repr(flag_missing))
        rel = _seq(relative, f"{where}.relative", "relative")
        for r in rel:
            _check_choice(r, TRANSFORMS, f"{where}.relative",
                          "use 'zscore', 'percentile' or 'ratio'")
        rel = tuple(dict.fromkeys(rel))
        if not isinstance(by, str) or not by:
            raise ConfigError("by must name a column of the students table", key=f"{where}.by",
                              arrived=repr(by), hint="e.g. by='cohort' or by='program'")
        if sensitivity is not None:
            _check_choice(sensitivity, ("normal", "sensitive", "audit"), f"{where}.sensitivity",
                          "use 'normal' or 'sensitive'")
        if family == "wellbeing" and sensitivity not in (None, "sensitive"):
            raise ConfigError(
                "well-being features are always sensitive",
                key=f"{where}.sensitivity",
                arrived=repr(sensitivity),
                hint="leave sensitivity unset for the wellbeing family",
            )
        if dimension is not None:
            _check_choice(dimension, _DIMENSIONS, f"{where}.dimension",
                          "use one of the five education dimensions")
        for key, bins in (("tod_bins", tod_bins), ("lz_bins", lz_bins)):
            if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1440:
                raise ConfigError(f"{key} must be a whole number of bins per day from 2 to 1440",
                                  key=f"{where}.{key}", arrived=repr(bins),
                                  hint="e.g. 24 (hours) or 48 (half hours)")
        values = {
            "kinds": kinds_t,
            "family": family,
            "aggregates": tuple(dict.fromkeys(aggs)),
            "windows": tuple(dict.fromkeys(wins)),
            "name": name,
            "event": event,
            "events": events,
            "value": value,
            "mean_phrase": mean_phrase,
            "unit": unit,
            "higher_is": higher_is,
            "activity_is": activity_is,
            "regularity_is": regularity_is,
            "missing": missing,
            "fill_value": fill_value,
            "flag_missing": flag_missing,
            "relative": rel,
            "by": by,
            "sensitivity": sensitivity,
            "dimension": dimension,
            "tod_bins": int(tod_bins),
            "lz_bins": int(lz_bins),
        }
        for key, setting in values.items():
            object.__setattr__(self, key, setting)

    # ----------------------------------------------------------------------------- wording
    @property
    def prefix(self) -> str:
        """The column prefix: ``name``, else the kinds joined by ``_``, else the family."""
        if self.name:
            return self.name
        if self.kinds is not None:
            return "_".join(self.kinds)
        return str(self.family)

    def _words(self) -> tuple[str, str, str]:
        base = (
            " or ".join(k.replace("_", " ") for k in self.kinds)
            if self.kinds is not None
            else f"{self.family}"
        )
        event = self.event or f"{base} event"
        events = self.events or (f"{base} events" if self.event is None else f"{self.event}s")
        value = self.value or f"{base} value"
        return event, events, value

    def phrase(self, aggregate: str, window: str) -> str:
        """Return the plain-language phrase of one column (see :class:`FeatureInfo`)."""
        event, events, value = self._words()
        w = _window_phrase(window)
        text = {
            "count": f"number of {events} {w}",
            "sum": f"total {value} {w}",
            "mean": f"{self.mean_phrase or 'average ' + value} {w}",
            "min": f"lowest {value} {w}",
            "max": f"highest {value} {w}",
            "std": f"variability of {value} {w}",
            "first": f"first {value} {w}",
            "last": f"latest {value} {w}",
            "slope": f"trend in {value} per day {w}",
            "active_days": f"days with {events} {w}",
            "longest_gap": f"longest gap between {events} {w}",
            "share": f"share of the maximum {value} obtained {w}",
            "tod_entropy": f"spread of the time of day of {events} {w}",
            "dow_entropy": f"spread of the day of week of {events} {w}",
            "lz_entropy": f"irregularity of the daily timing of {events} {w}",
        }.get(aggregate)
        if aggregate == "days_since_last":
            if window == "all":
                return f"days since the last {event}"
            if window == "term":
                return f"days since the last {event} this term"
            return f"days since the last {event} (looking back {window[:-1]} days)"
        return str(text)

    def unit_of(self, aggregate: str) -> str:
        """Return the :class:`FeatureInfo` unit of one aggregate's column."""
        if aggregate in ("count", "active_days"):
            return "count"
        if aggregate in ("days_since_last", "longest_gap"):
            return "days"
        if aggregate == "slope":
            return "per day"
        if aggregate == "share":
            return "share"
        if aggregate in ("tod_entropy", "dow_entropy", "lz_entropy"):
            return "bits"
        if aggregate in ("sum", "std") and self.unit in ("share", "percent"):
            return "" if aggregate == "std" or self.unit == "percent" else "count"
        return self.unit

    def direction_of(self, aggregate: str) -> str:
        """Return the ``higher_is`` direction of one aggregate's column."""
        flip = {"better": "worse", "worse": "better", "neutral": "neutral"}
        if aggregate in ("count", "sum", "active_days"):
            return self.activity_is if aggregate != "sum" or self.unit in ("", "count") \
                else self.higher_is
        if aggregate in ("days_since_last", "longest_gap"):
            return flip[self.activity_is]
        if aggregate in ("tod_entropy", "dow_entropy", "lz_entropy"):
            return flip[self.regularity_is]
        if aggregate == "std":
            return "neutral"
        return self.higher_is

    def column_names(self) -> list[str]:
        """Return the base column names, window by window (transforms and flags not included)."""
        return [f"{self.prefix}_{a}_{w}" for w in self.windows for a in self.aggregates]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (only the fields that differ from the defaults)."""
        default = _EVENT_DEFAULTS
        out: dict[str, Any] = {"type": "events"}
        for f in fields(self):
            val = getattr(self, f.name)
            if val != default[f.name]:
                out[f.name] = list(val) if isinstance(val, tuple) else val
        return out

    def __repr__(self) -> str:
        parts = []
        d = self.to_dict()
        d.pop("type")
        kinds = d.pop("kinds", None)
        if kinds is not None:
            parts.append(repr(kinds[0] if len(kinds) == 1 else kinds))
        parts += [f"{k}={v!r}" for k, v in d.items()]
        return f"EventFeatures({', '.join(parts)})"


_EVENT_DEFAULTS: dict[str, Any] = {}


@dataclass(frozen=True)
class StaticFeatures:
    """Columns of the students table passed through as features (``family="static"``).

    Numbers and booleans become floats; text or categorical columns become category codes (the
    categories are fixed when the builder is fitted and recorded in the column's
    ``FeatureInfo.extra["categories"]``; unseen categories become NaN); date columns become the
    number of days from that date to the as-of date (e.g. days since ``entry_date``).

    Audit attributes (``tables.audit_attributes``) are refused unless named in ``allow_audit``;
    allowed ones are marked ``sensitivity="audit"``.

    Parameters
    ----------
    columns : str or sequence of str
        Columns of ``tables.students``.
    allow_audit : sequence of str, default ()
        Audit attributes that may be used as features, by name.
    phrases : mapping, optional
        Column -> plain-language phrase (default: the column name in words).
    units : mapping, optional
        Column -> unit.
    higher_is : mapping, optional
        Column -> ``better``/``worse``/``neutral``.

    Examples
    --------
    >>> StaticFeatures(["prior_attempts", "program"]).columns
    ('prior_attempts', 'program')
    """

    columns: tuple[str, ...] = ()
    allow_audit: tuple[str, ...] = ()
    phrases: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    higher_is: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        columns: str | Sequence[str],
        *,
        allow_audit: str | Sequence[str] = (),
        phrases: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        higher_is: Mapping[str, str] | None = None,
    ) -> None:
        cols = _seq(columns, "StaticFeatures.columns", "columns")
        if not cols or not all(isinstance(c, str) and c for c in cols):
            raise ConfigError(
                "StaticFeatures needs one or more column names of the students table",
                key="StaticFeatures.columns",
                arrived=repr(columns),
                hint="e.g. StaticFeatures(['prior_attempts', 'program'])",
            )
        if "student_id" in cols:
            raise ConfigError(
                "student_id cannot be a feature",
                key="StaticFeatures.columns",
                arrived=repr(list(cols)),
                hint="remove 'student_id'",
            )
        allow = _seq(allow_audit, "StaticFeatures.allow_audit", "allow_audit")
        phrases = dict(phrases or {})
        units = dict(units or {})
        higher = dict(higher_is or {})
        for key, mapping in (("phrases", phrases), ("units", units), ("higher_is", higher)):
            extra = [c for c in mapping if c not in cols]
            if extra:
                raise ConfigError(
                    f"{key} names columns that are not in columns",
                    key=f"StaticFeatures.{key}",
                    arrived=repr(extra),
                    hint="add them to columns or remove them",
                )
        for c, u in units.items():
            _check_choice(u, (*_VALUE_UNITS, "category"), f"StaticFeatures.units[{c!r}]",
                          "use a unit FeatureInfo knows")
        for c, d in higher.items():
            _check_choice(d, _DIRECTIONS, f"StaticFeatures.higher_is[{c!r}]",
                          "use 'better', 'worse' or 'neutral'")
        object.__setattr__(self, "columns", tuple(dict.fromkeys(cols)))
        object.__setattr__(self, "allow_audit", tuple(dict.fromkeys(allow)))
        object.__setattr__(self, "phrases", phrases)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "higher_is", higher)

    def __hash__(self) -> int:
        return hash((self.columns, self.allow_audit))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        out: dict[str, Any] = {"type": "static", "columns": list(self.columns)}
        if self.allow_audit:
            out["allow_audit"] = list(self.allow_audit)
        for key in ("phrases", "units", "higher_is"):
            if getattr(self, key):
                out[key] = dict(getattr(self, key))
        return out


Entry = EventFeatures | StaticFeatures


@dataclass(frozen=True)
class PlannedColumn:
    """One output column of a spec: where it comes from and what it means (internal)."""

    name: str
    entry: int  # position of the entry in the spec
    aggregate: str  # an aggregate, "value" for static columns
    window: str
    transform: str | None = None  # zscore / percentile / ratio
    flag_of: str | None = None  # for a missing-value flag: the column it flags
    info: FeatureInfo | None = None


class FeatureSpec:
    """A list of feature entries: the definition of a feature matrix.

    Parameters
    ----------
    entries : sequence of EventFeatures or StaticFeatures
        The entries, in column order.

    Raises
    ------
    ConfigError
        An entry of the wrong type, or two entries producing the same column name with different
        definitions (the message names both).

    Examples
    --------
    >>> spec = FeatureSpec([EventFeatures("lms_click", aggregates="sum", windows=[7])])
    >>> spec = spec + FeatureSpec([StaticFeatures("prior_attempts")])
    >>> len(spec), spec.column_names()
    (2, ['lms_click_sum_7d', 'prior_attempts'])
    """

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        if isinstance(entries, EventFeatures | StaticFeatures):
            entries = [entries]
        try:
            items = list(entries)
        except TypeError as exc:
            raise ConfigError(
                "a FeatureSpec takes a list of EventFeatures / StaticFeatures entries",
                key="FeatureSpec.entries",
                arrived=repr(entries),
            ) from exc
        kept: list[Entry] = []
        for i, e in enumerate(items):
            if not isinstance(e, EventFeatures | StaticFeatures):
                raise ConfigError(
                    "every entry must be an EventFeatures or StaticFeatures",
                    key=f"FeatureSpec.entries[{i}]",
                    arrived=f"an object of type {type(e).__name__}: {e!r}",
                    hint="wrap dictionaries with FeatureSpec.from_dict",
                )
            if e not in kept:  # identical entries (e.g. from two presets) count once
                kept.append(e)
        self._entries: tuple[Entry, ...] = tuple(kept)
        self.plan()  # validates column names

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The entries, in column order."""
        return self._entries

    def __add__(self, other: object) -> FeatureSpec:
        if isinstance(other, EventFeatures | StaticFeatures):
            return FeatureSpec([*self._entries, other])
        if not isinstance(other, FeatureSpec):
            return NotImplemented
        return FeatureSpec([*self._entries, *other._entries])

    def __radd__(self, other: object) -> FeatureSpec:
        if other == 0:  # sum([spec1, spec2])
            return self
        if isinstance(other, EventFeatures | StaticFeatures):
            return FeatureSpec([other, *self._entries])
        return NotImplemented

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureSpec):
            return NotImplemented
        return self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._entries)

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {e!r}" for e in self._entries)
        return f"FeatureSpec([\n{inner}\n])" if self._entries else "FeatureSpec([])"

    # ---------------------------------------------------------------------------- editing
    def select(
        self,
        *,
        families: str | Sequence[str] | None = None,
        kinds: str | Sequence[str] | None = None,
        static: bool = True,
    ) -> FeatureSpec:
        """Keep the entries of some families or kinds.

        Parameters
        ----------
        families, kinds : str or sequence of str, optional
            Keep event entries whose family / any kind is listed.
        static : bool, default True
            Keep the static entries.

        Returns
        -------
        FeatureSpec
        """
        fam = set(_seq(families, "families", "families")) if families is not None else None
        kin = set(_seq(kinds, "kinds", "kinds")) if kinds is not None else None
        kept: list[Entry] = []
        for e in self._entries:
            if isinstance(e, StaticFeatures):
                if static:
                    kept.append(e)
                continue
            if fam is not None and e.family not in fam:
                continue
            if kin is not None and not (e.kinds and kin.intersection(e.kinds)):
                continue
            kept.append(e)
        return FeatureSpec(kept)

    def without(self, *names: str) -> FeatureSpec:
        """Drop the entries whose column prefix (or static column) is among ``names``."""
        drop = set(names)
        kept = [
            e
            for e in self._entries
            if not (isinstance(e, EventFeatures) and e.prefix in drop)
            and not (isinstance(e, StaticFeatures) and drop.issuperset(e.columns))
        ]
        return FeatureSpec(kept)

    # ----------------------------------------------------------------------------- columns
    def plan(self) -> list[PlannedColumn]:
        """Every column this spec can produce, in order, before looking at any data.

        Event columns come window by window, aggregate by aggregate; each is followed by its
        cohort-relative transforms and its missing-value flag.

        Returns
        -------
        list of PlannedColumn
        """
        out: list[PlannedColumn] = []
        owner: dict[str, int] = {}
        for i, e in enumerate(self._entries):
            if isinstance(e, StaticFeatures):
                names = [(c, PlannedColumn(c, i, "value", "static")) for c in e.columns]
            else:
                names = []
                for w in e.windows:
                    for a in e.aggregates:
                        base = f"{e.prefix}_{a}_{w}"
                        names.append((base, PlannedColumn(base, i, a, w)))
                        for r in e.relative:
                            col = f"{base}_{r}_{e.by}"
                            names.append((col, PlannedColumn(col, i, a, w, transform=r)))
                        if e.flag_missing:
                            col = f"{base}_missing"
                            names.append((col, PlannedColumn(col, i, a, w, flag_of=base)))
            for col, planned in names:
                if col in owner:
                    j = owner[col]
                    raise ConfigError(
                        "two entries produce the same column",
                        key=f"FeatureSpec.entries[{i}]",
                        arrived=f"{col!r} from entries[{j}] {self._entries[j]!r} and "
                        f"entries[{i}] {e!r}",
                        hint="give one of them another name=... or remove the overlap",
                    )
                owner[col] = i
                out.append(planned)
        return out

    def column_names(self) -> list[str]:
        """Return the names of every column the spec can produce, in order."""
        return [p.name for p in self.plan()]

    def describe(self) -> pd.DataFrame:
        """One row per event column: entry, family, kinds, aggregate, window, phrase.

        Returns
        -------
        DataFrame
        """
        rows = []
        for p in self.plan():
            e = self._entries[p.entry]
            if isinstance(e, StaticFeatures):
                rows.append({"column": p.name, "entry": p.entry, "family": "static",
                             "kinds": p.name, "aggregate": "value", "window": "static",
                             "transform": None, "phrase": e.phrases.get(p.name, p.name)})
                continue
            rows.append(
                {
                    "column": p.name,
                    "entry": p.entry,
                    "family": e.family,
                    "kinds": None if e.kinds is None else "|".join(e.kinds),
                    "aggregate": p.aggregate,
                    "window": p.window,
                    "transform": p.transform if p.flag_of is None else "missing flag",
                    "phrase": e.phrase(p.aggregate, p.window),
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (``{"entries": [...]}``).

        Examples
        --------
        >>> spec = FeatureSpec([EventFeatures("quiz", aggregates=["mean"], windows=["all"])])
        >>> spec.to_dict()
        {'entries': [{'type': 'events', 'kinds': ['quiz'], 'aggregates': ['mean'], \
'windows': ['all']}]}
        >>> FeatureSpec.from_dict(spec.to_dict()) == spec
        True
        """
        return {"entries": [e.to_dict() for e in self._entries]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Rebuild a spec from :meth:`to_dict` output (e.g. read from a config file).

        Parameters
        ----------
        data : mapping
            ``{"entries": [{"type": "events", ...}, {"type": "static", ...}]}``.

        Returns
        -------
        FeatureSpec
        """
        if not isinstance(data, Mapping) or "entries" not in data:
            raise ConfigError(
                "a spec dictionary needs an 'entries' list",
                key="spec",
                arrived=repr(data)[:200],
                hint="use FeatureSpec.to_dict() output as the template",
            )
        entries: list[Entry] = []
        for i, raw in enumerate(data["entries"]):
            if not isinstance(raw, Mapping):
                raise ConfigError("every entry must be a dictionary", key=f"spec.entries[{i}]",
                                  arrived=repr(raw))
            d = dict(raw)
            typ = d.pop("type", "events")
            try:
                if typ == "events":
                    kinds = d.pop("kinds", None)
                    entries.append(EventFeatures(kinds, **d))
                elif typ == "static":
                    cols = d.pop("columns", None)
                    entries.append(StaticFeatures(cols, **d))
                else:
                    raise ConfigError(
                        "an entry's type must be 'events' or 'static'",
                        key=f"spec.entries[{i}].type",
                        arrived=repr(typ),
                    )
            except TypeError as exc:
                raise ConfigError(
                    "unknown field in a spec entry",
                    key=f"spec.entries[{i}]",
                    arrived=str(exc),
                    hint="check the field names against EventFeatures / StaticFeatures",
                ) from exc
        return cls(entries)


def _event_defaults() -> dict[str, Any]:
    probe = EventFeatures("x")
    out = {f.name: getattr(probe, f.name) for f in fields(probe)}
    out["kinds"] = None
    return out


_EVENT_DEFAULTS.update(_event_defaults())
