"""The ABC early-warning rules: Attendance, Behaviour, Course performance.

The classic indicator system from US secondary schools (Balfanz, Herzog and Mac Iver, 2007;
Allensworth and Easton, 2007): a student is *off track* when attendance falls below a threshold,
behaviour incidents pass a count, or course performance falls below a pass mark. It needs no
trained model, so a campus without one can start here; and it is the baseline a learned risk
model has to beat (``examples/early_warning_vs_abc.py``).

Here each indicator reads one feature column, found through its
:class:`~studentprofile.features.FeatureInfo` record (or named directly), and the thresholds are
configuration. The work is one numba kernel (``_kernels.abc_kernel``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning import _kernels
from studentprofile.warning._inputs import (
    describe_selector,
    infos_for,
    keyed_frame,
    keyword_only,
    numeric_column,
    select_features,
)

__all__ = ["ABCIndicator", "ABCRules", "abc_flags"]

_OPS = {"<": _kernels.OP_LT, "<=": _kernels.OP_LE, ">": _kernels.OP_GT, ">=": _kernels.OP_GE}
_OP_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


@keyword_only
@dataclass(frozen=True, kw_only=True)
class ABCIndicator:
    """One early-warning indicator: a feature, a comparison and a threshold.

    Parameters are keyword-only (positional use still works, with a FutureWarning, for one
    release).

    Parameters
    ----------
    name : str
        Short name, e.g. ``"attendance"``; the output column of :func:`abc_flags`.
    feature : str or mapping
        The feature column: its name, or FeatureInfo fields that pick exactly one column, e.g.
        ``{"kind": "class_attendance", "aggregate": "mean", "window": "30d"}``.
    op : {"<", "<=", ">", ">="}
        The student is off track on this indicator when ``value <op> threshold``.
    threshold : float
        The threshold, in the feature's units.
    scale : float, default 1.0
        How far past the threshold counts as fully severe (severity is the distance divided by
        ``scale``, clipped to [0, 1]); it only orders students with the same number of flags.
    missing : {"ignore", "flag"}, default "ignore"
        Whether a missing value (no data yet) counts as off track.
    label : str, optional
        Plain-language name for reasons, e.g. ``"class attendance over the last 30 days"``;
        defaults to the feature's FeatureInfo phrase.

    Examples
    --------
    >>> ABCIndicator(name="attendance", feature="att_30d", op="<", threshold=0.9, scale=0.3).op
    '<'
    """

    name: str
    feature: str | Mapping[str, Any]
    op: str
    threshold: float
    scale: float = 1.0
    missing: str = "ignore"
    label: str | None = None

    def __post_init__(self) -> None:
        key = f"ABCIndicator({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("an indicator needs a non-empty name", key=key,
                              arrived=repr(self.name))
        if self.op not in _OPS:
            raise ConfigError(
                "op must be one of '<', '<=', '>', '>='",
                key=f"{key}.op",
                arrived=repr(self.op),
                hint="'<' flags values below the threshold (attendance), '>=' counts (incidents)",
            )
        for attr in ("threshold", "scale"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) \
                    or not np.isfinite(v):
                raise ConfigError(f"{attr} must be a finite number", key=f"{key}.{attr}",
                                  arrived=repr(v))
        if self.scale <= 0:
            raise ConfigError("scale must be positive", key=f"{key}.scale",
                              arrived=repr(self.scale))
        if self.missing not in ("ignore", "flag"):
            raise ConfigError("missing must be 'ignore' or 'flag'", key=f"{key}.missing",
                              arrived=repr(self.missing))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        feature = self.feature if isinstance(self.feature, str) else dict(self.feature)
        return {"name": self.name, "feature": feature, "op": self.op,
                "threshold": float(self.threshold), "scale": float(self.scale),
                "missing": self.missing, "label": self.label}


@dataclass(frozen=True)
class ABCRules:
    """A set of ABC indicators and how many flags make a student off track.

    Parameters
    ----------
    indicators : sequence of ABCIndicator
        The indicators (usually attendance, behaviour and course performance).
    min_flags : int, default 1
        A student is off track when at least this many indicators are flagged.

    Examples
    --------
    >>> rules = ABCRules.classic(attendance="att", behaviour="incidents", course="score")
    >>> [(i.name, i.op, i.threshold) for i in rules.indicators]
    [('attendance', '<', 0.9), ('behaviour', '>=', 2.0), ('course', '<', 40.0)]
    """

    indicators: tuple[ABCIndicator, ...]
    min_flags: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        inds = tuple(self.indicators)
        object.__setattr__(self, "indicators", inds)
        if not inds or not all(isinstance(i, ABCIndicator) for i in inds):
            raise ConfigError("ABCRules needs at least one ABCIndicator", key="indicators",
                              arrived=repr(self.indicators))
        names = [i.name for i in inds]
        if len(set(names)) != len(names):
            raise ConfigError("indicator names must be unique", key="indicators",
                              arrived=repr(names))
        reserved = {"n_flags", "off_track", "abc_score", "reasons", "student_id", "as_of"}
        if reserved & set(names):
            raise ConfigError("indicator names must not clash with output columns",
                              key="indicators", arrived=repr(sorted(reserved & set(names))))
        if isinstance(self.min_flags, bool) or not isinstance(self.min_flags, int | np.integer) \
                or not 1 <= self.min_flags <= len(inds):
            raise ConfigError(
                f"min_flags must be an integer between 1 and {len(inds)}",
                key="min_flags",
                arrived=repr(self.min_flags),
            )

    @classmethod
    def classic(
        cls,
        *,
        attendance: str | Mapping[str, Any] | None = None,
        behaviour: str | Mapping[str, Any] | None = None,
        course: str | Mapping[str, Any] | None = None,
        attendance_below: float = 0.9,
        incidents_at_least: float = 2.0,
        course_below: float = 40.0,
        min_flags: int = 1,
    ) -> ABCRules:
        """Build the classic thresholds for the features you name.

        Attendance below 90% (a share), two or more behaviour incidents, course performance
        below a pass mark of 40 (percent). Leave out an indicator your data lacks.

        Parameters
        ----------
        attendance, behaviour, course : str or mapping, optional
            Feature selectors (column name or FeatureInfo fields) for each indicator.
        attendance_below, incidents_at_least, course_below : float
            The thresholds.
        min_flags : int, default 1
            Flags needed to be off track.

        Returns
        -------
        ABCRules
        """
        inds = []
        if attendance is not None:
            inds.append(ABCIndicator(name="attendance", feature=attendance, op="<",
                                     threshold=float(attendance_below),
                                     scale=max(float(attendance_below), 1e-9) / 3))
        if behaviour is not None:
            inds.append(ABCIndicator(name="behaviour", feature=behaviour, op=">=",
                                     threshold=float(incidents_at_least),
                                     scale=max(float(incidents_at_least), 1.0) * 2))
        if course is not None:
            inds.append(ABCIndicator(name="course", feature=course, op="<",
                                     threshold=float(course_below),
                                     scale=max(float(course_below), 1e-9) / 2))
        if not inds:
            raise ConfigError(
                "name at least one of attendance, behaviour, course",
                key="ABCRules.classic",
                arrived="no feature selectors",
                hint="e.g. ABCRules.classic(attendance={'kind': 'class_attendance', ...})",
            )
        return cls(tuple(inds), min_flags=min_flags)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"indicators": [i.to_dict() for i in self.indicators],
                "min_flags": int(self.min_flags)}


def _resolve(
    indicator: ABCIndicator, infos: Mapping[str, FeatureInfo]
) -> tuple[str, FeatureInfo]:
    cols = select_features(infos, indicator.feature, key=f"ABCIndicator({indicator.name!r})")
    if len(cols) != 1:
        what = "no column" if not cols else f"{len(cols)} columns ({cols[:5]!r})"
        raise ConfigError(
            f"indicator {indicator.name!r} must select exactly one feature column",
            key=f"ABCIndicator({indicator.name!r}).feature",
            arrived=f"{describe_selector(indicator.feature)} matches {what}",
            hint="name the column, or add FeatureInfo fields (aggregate, window) to narrow it",
        )
    return cols[0], infos[cols[0]]


def abc_flags(
    X: pd.DataFrame,
    rules: ABCRules,
    *,
    feature_info: Any = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """Apply ABC rules to a feature matrix: flags, their count, off-track and a ranking score.

    Parameters
    ----------
    X : DataFrame
        Feature matrix indexed by (``student_id``, ``as_of``) (or with those columns).
    rules : ABCRules
        The indicators and thresholds.
    feature_info : mapping of FeatureInfo or a fitted FeatureBuilder, optional
        Records used to resolve selectors and word the reasons (defaults to plain records).
    reasons : bool, default True
        Add a ``reasons`` column: for each row, a list of plain-language texts, one per flag.

    Returns
    -------
    DataFrame
        Indexed by (``student_id``, ``as_of``) in the order of ``X``: one boolean column per
        indicator, ``n_flags`` (int), ``off_track`` (bool, ``n_flags >= rules.min_flags``),
        ``abc_score`` (float: ``n_flags`` plus a severity fraction below 1, for ranking at a
        fixed caseload) and ``reasons``.

    Raises
    ------
    ConfigError
        A selector that does not match exactly one column.
    SchemaError
        A selected column that is not numeric, or rows not keyed by student and as-of date.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [30.0, 30.0],
    ...                   "att": [0.95, 0.60], "incidents": [0.0, 3.0], "score": [70.0, 35.0]})
    >>> rules = ABCRules.classic(attendance="att", behaviour="incidents", course="score")
    >>> out = abc_flags(X, rules)
    >>> out[["attendance", "behaviour", "course", "n_flags", "off_track"]]
                      attendance  behaviour  course  n_flags  off_track
    student_id as_of
    ana        30.0        False      False   False        0      False
    ben        30.0         True       True    True        3       True
    >>> out.loc[("ben", 30.0), "reasons"][0]
    'att was 0.6 (below the threshold 0.9)'
    """
    if not isinstance(rules, ABCRules):
        raise ConfigError("rules must be an ABCRules", key="rules",
                          arrived=f"an object of type {type(rules).__name__}",
                          hint="build one with ABCRules.classic(...) or ABCRules([...])")
    frame = keyed_frame(X, table="features")
    infos = infos_for(frame.drop(columns=["student_id", "as_of"]), feature_info)
    n, k = len(frame), len(rules.indicators)
    values = np.empty((n, k), dtype="float64")
    resolved: list[tuple[str, FeatureInfo]] = []
    for j, ind in enumerate(rules.indicators):
        col, info = _resolve(ind, infos)
        resolved.append((col, info))
        values[:, j] = numeric_column(frame, col, table="features")
    thresholds = np.array([i.threshold for i in rules.indicators], dtype="float64")
    ops = np.array([_OPS[i.op] for i in rules.indicators], dtype="int64")
    scales = np.array([i.scale for i in rules.indicators], dtype="float64")
    missing = np.array([i.missing == "flag" for i in rules.indicators], dtype="uint8")
    flags = np.empty((n, k), dtype="uint8")
    count = np.empty(n, dtype="int64")
    score = np.empty(n, dtype="float64")
    if n:
        _kernels.abc_kernel(np.ascontiguousarray(values), thresholds, ops, scales, missing,
                            flags, count, score)
    index = pd.MultiIndex.from_arrays(
        [frame["student_id"].to_numpy(), frame["as_of"].to_numpy()], names=["student_id", "as_of"]
    )
    out = pd.DataFrame({ind.name: flags[:, j].astype(bool)
                        for j, ind in enumerate(rules.indicators)}, index=index)
    out["n_flags"] = count
    out["off_track"] = count >= rules.min_flags
    out["abc_score"] = score
    if reasons:
        out["reasons"] = _reasons(values, flags, rules, resolved)
    return out


def _reasons(
    values: np.ndarray,
    flags: np.ndarray,
    rules: ABCRules,
    resolved: Sequence[tuple[str, FeatureInfo]],
) -> list[list[str]]:
    texts: list[list[str]] = [[] for _ in range(values.shape[0])]
    for j, (ind, (_, info)) in enumerate(zip(rules.indicators, resolved, strict=True)):
        label = ind.label or info.phrase
        threshold = info.format_value(ind.threshold)
        word = _OP_WORDS[ind.op]
        for i in np.flatnonzero(flags[:, j]):
            v = values[i, j]
            if np.isnan(v):
                texts[i].append(f"{label} is missing (counted as off track)")
            else:
                texts[i].append(
                    f"{label} was {info.format_value(v)} ({word} the threshold {threshold})"
                )
    return texts
