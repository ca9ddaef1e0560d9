"""Flat tables: one row per student (a snapshot) -> tables, a feature matrix and labels.

Many first projects start from a flat export: grades, demographics and a final outcome, one row
per student, no times. :func:`from_snapshot` takes such a table as it is: every column but the
id and the outcome is a static attribute; the outcome column becomes the label directly (no
invented outcome dates, no horizon); audit attributes are kept for fairness audits and never
become features unless allowed by name.
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, DataQualityWarning, SchemaError
from studentprofile.tables import EventTables
from studentprofile.tables._time import as_moment

__all__ = ["Snapshot", "from_snapshot", "outcome_rule"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
_RULE = re.compile(
    r"""^\s*(?:`(?P<qcol>[^`]+)`|(?P<col>[^\s<>=!]+))\s*(?P<op><=|>=|==|!=|<|>)\s*
        (?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|'(?P<s1>[^']*)'|"(?P<s2>[^"]*)")\s*$""",
    re.X,
)


def outcome_rule(rule: str) -> tuple[str, Callable[[pd.Series], pd.Series]]:
    """Parse a positive-outcome rule such as ``"G3 < 10"`` or ``"Target == 'Dropout'"``.

    The rule is one comparison of a column (in backquotes when its name has spaces) with a
    number or a quoted text; nothing is evaluated as code.

    Parameters
    ----------
    rule : str
        The rule.

    Returns
    -------
    tuple
        The column and a function from that column to a boolean mask.

    Examples
    --------
    >>> import pandas as pd
    >>> column, test = outcome_rule("G3 < 10")
    >>> column, test(pd.Series([8, 10, 15])).tolist()
    ('G3', [True, False, False])
    >>> outcome_rule("`Final grade` >= 9.5")[0]
    'Final grade'
    """
    m = _RULE.match(rule) if isinstance(rule, str) else None
    if m is None:
        raise ConfigError(
            "a positive-outcome rule is one comparison: <column> <op> <number or 'text'>",
            key="outcome.positive", arrived=repr(rule),
            hint="e.g. \"G3 < 10\", \"Target == 'Dropout'\"; quote column names with spaces "
                 "in backquotes",
        )
    column = m.group("qcol") or m.group("col")
    op = _OPS[m.group("op")]
    if m.group("num") is not None:
        value: Any = float(m.group("num"))

        def test(s: pd.Series) -> pd.Series:
            num = pd.to_numeric(s, errors="coerce")
            return op(num, value).where(num.notna())

    else:
        value = m.group("s1") if m.group("s1") is not None else m.group("s2")

        def test(s: pd.Series) -> pd.Series:
            text = s.astype("string")
            return op(text, value).astype("boolean").where(s.notna())

    return column, test


@dataclass
class Snapshot:
    """A flat table read as tables, features and labels.

    Attributes
    ----------
    tables : EventTables
        ``students`` (every attribute), no events, and outcomes for students whose outcome is
        positive (at the snapshot's as-of).
    grid : pandas.DataFrame
        One as-of row per student (``student_id``, ``as_of``).
    y : pandas.Series
        Indexed by (``student_id``, ``as_of``): 1.0 for a positive outcome, 0.0 for another,
        NaN where the outcome is missing.
    attributes : tuple of str
        The columns that are features (every attribute but the outcome, ``drop`` and audit
        attributes not allowed by name); build them with
        :func:`studentprofile.features.snapshot_matrix`.
    allow_audit : tuple of str
        Audit attributes allowed as features.
    outcome : str
        The outcome's name (used in reasons and reports).
    """

    tables: EventTables
    grid: pd.DataFrame
    y: pd.Series
    attributes: tuple[str, ...]
    allow_audit: tuple[str, ...]
    outcome: str

    def audit_frame(self) -> pd.DataFrame:
        """Return the audit attributes, indexed like ``y`` (for fairness audits)."""
        cols = list(self.tables.audit_attributes)
        frame = self.tables.students.set_index("student_id").loc[
            self.grid["student_id"], cols]
        frame.index = self.y.index
        return frame


def from_snapshot(
    frame: pd.DataFrame,
    *,
    student_id: str | None,
    outcome: str | None = None,
    positive: Any = None,
    as_of: Any = None,
    audit_attributes: Sequence[str] = (),
    allow_audit: Sequence[str] = (),
    drop: Sequence[str] = (),
    outcome_name: str | None = None,
) -> Snapshot:
    """Read a flat, one-row-per-student table as tables, a feature matrix and labels.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per student.
    student_id : str or None
        The id column (kept as text exactly as given); ``None`` numbers the rows ``"1"``,
        ``"2"``, ... (for public sets without ids).
    outcome : str, optional
        The outcome column; without it there are no labels (scoring only).
    positive : object, optional
        Which outcomes count as positive: a value or a list of values of the outcome column
        (e.g. ``"Dropout"``), or a rule such as ``"G3 < 10"`` (see :func:`outcome_rule`; its
        column may be any column, which is then dropped from the features). Required with
        ``outcome`` unless the column is already 0/1 or boolean.
    as_of : date or number, optional
        When the snapshot was taken; needed only when attributes are dates (they become days
        from that date to ``as_of``). Default: no calendar; ``as_of`` is day 0.
    audit_attributes : sequence of str, default ()
        Columns kept for fairness audits and never used as features unless in ``allow_audit``.
    allow_audit : sequence of str, default ()
        Audit attributes that may be features, by name.
    drop : sequence of str, default ()
        Columns that are neither features nor audit attributes (e.g. grades that leak the
        outcome).
    outcome_name : str, optional
        The outcome's name in reports (default: the positive value or the rule, in words).

    Returns
    -------
    Snapshot
        ``tables``, ``grid``, ``y``, ``attributes`` and ``outcome``; the feature matrix is
        ``studentprofile.features.snapshot_matrix(snapshot)``.

    Raises
    ------
    SchemaError
        Missing or duplicated ids, a missing column, an outcome column that is not 0/1 and no
        ``positive`` given.
    ConfigError
        An invalid rule or option.

    Examples
    --------
    >>> import pandas as pd
    >>> flat = pd.DataFrame({"id": ["007", "008", "009"], "credits": [60, 12, 48],
    ...                      "sex": ["F", "M", "F"], "status": ["Graduate", "Dropout", "Enrolled"]})
    >>> snap = from_snapshot(flat, student_id="id", outcome="status", positive="Dropout",
    ...                      audit_attributes=["sex"])
    >>> snap.y.tolist(), snap.attributes
    ([0.0, 1.0, 0.0], ('credits',))
    >>> snap.y.index.get_level_values("student_id").tolist()
    ['007', '008', '009']
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError("from_snapshot expects a DataFrame", key="frame",
                          arrived=type(frame).__name__)
    if frame.empty:
        raise SchemaError("the snapshot has no rows", table="snapshot", rule="not-empty",
                          hint="read the file again; check the separator and the encoding")
    data = frame.copy()
    data.columns = [str(c) for c in data.columns]
    known = set(data.columns)

    def need(col: str, key: str) -> None:
        if col not in known:
            raise SchemaError(
                f"column {col!r} is not in the snapshot", table="snapshot", column=col,
                rule="required-column", arrived=repr(sorted(known))[:300],
                hint=f"check {key} (names are case-sensitive; the separator may be wrong)",
            )

    if student_id is None:
        ids = pd.Series([str(i) for i in range(1, len(data) + 1)], index=data.index)
        id_col = "student_id"
    else:
        need(student_id, "student_id")
        raw = data.pop(student_id)
        if raw.isna().any():
            raise SchemaError("student ids must not be missing", table="snapshot",
                              column=student_id, rule="not-null",
                              n_bad=int(raw.isna().sum()))
        if pd.api.types.is_float_dtype(raw.dtype):
            raise SchemaError(
                "student ids were read as decimals, which loses leading zeros and long ids",
                table="snapshot", column=student_id, rule="id-as-text",
                hint="read the file with dtype={...: str} (studentprofile's readers do)",
            )
        ids = raw.astype(str)
        id_col = "student_id"
    dup = ids[ids.duplicated()]
    if len(dup):
        raise SchemaError("a snapshot has one row per student; ids repeat", table="snapshot",
                          column=student_id or "student_id", rule="unique",
                          arrived=repr(dup.head(5).tolist()), n_bad=len(dup))
    for named in (*audit_attributes, *allow_audit, *drop):
        need(named, "audit_attributes / allow_audit / drop")

    y: pd.Series | None = None
    label_cols: set[str] = set()
    name = outcome_name
    if outcome is not None:
        need(outcome, "outcome")
        col: pd.Series = data[outcome]
        mask: pd.Series
        label_cols.add(outcome)
        if isinstance(positive, str) and _RULE.match(positive):
            rule_col, test = outcome_rule(positive)
            need(rule_col, "outcome.positive")
            mask = test(data[rule_col])
            label_cols.add(rule_col)
            name = name or positive
        elif positive is not None:
            values = list(positive) if isinstance(positive, list | tuple | set) else [positive]
            mask = col.isin(values).astype(float).where(col.notna())
            name = name or " or ".join(str(v) for v in values)
        else:
            num = (pd.Series(pd.to_numeric(col, errors="coerce"), index=col.index)
                   if col.dtype != bool else col.astype(float))
            if not num.dropna().isin([0, 1]).all() or num.notna().sum() != col.notna().sum():
                raise SchemaError(
                    "the outcome column is not 0/1; say which outcomes are positive",
                    table="snapshot", column=outcome, rule="binary-outcome",
                    arrived=repr(sorted(map(str, col.dropna().unique()))[:8]),
                    hint='e.g. positive = "Dropout" or positive = "G3 < 10"',
                )
            mask = num
            name = name or outcome
        y = pd.Series(np.asarray(mask, dtype="float64"), index=data.index)
        n_missing = int(y.isna().sum())
        if n_missing:
            warnings.warn(
                f"{n_missing:,} of {len(y):,} students have no outcome in {outcome!r}; "
                "they are kept, unlabelled (NaN)", DataQualityWarning, stacklevel=2,
            )
        if y.notna().any() and y.dropna().nunique() < 2:
            warnings.warn(
                f"every labelled student has the same outcome ({y.dropna().iloc[0]:.0f}); "
                "a model cannot learn from one class", DataQualityWarning, stacklevel=2,
            )
    features = [c for c in data.columns
                if c not in label_cols and c not in set(drop)
                and (c not in set(audit_attributes) or c in set(allow_audit))]
    students = data.drop(columns=sorted(label_cols)).copy()
    students.insert(0, id_col, ids.to_numpy(dtype=object))
    has_dates = any(pd.api.types.is_datetime64_any_dtype(students[c]) for c in features)
    if as_of is None:
        if has_dates:
            raise ConfigError(
                "date attributes need the snapshot's as_of date (they become days to as_of)",
                key="as_of", hint='e.g. as_of="2024-09-01"')
        moment: Any = 0.0
        kind = "float"
    else:
        moment = as_moment(as_of, key="as_of")
        kind = "float" if isinstance(moment, float) else "datetime"
    if y is not None:
        positive_ids = ids[y.to_numpy() == 1.0]
        outcomes = pd.DataFrame({"student_id": positive_ids.to_numpy(dtype=object),
                                 "time": moment, "outcome": "positive"})
    else:
        outcomes = None
    tables = EventTables(
        students=students, outcomes=outcomes,
        audit_attributes=[c for c in audit_attributes if c in students.columns],
        time_kind=kind,  # type: ignore[arg-type]
    )
    grid = pd.DataFrame({"student_id": students[id_col].to_numpy(dtype=object),
                         "as_of": moment})
    if not features:
        raise SchemaError("the snapshot has no feature columns left", table="snapshot",
                          rule="no-features",
                          hint="audit attributes, drop and the outcome took every column")
    index = pd.MultiIndex.from_arrays([grid["student_id"], grid["as_of"]],
                                      names=["student_id", "as_of"])
    labels = pd.Series(np.nan if y is None else y.to_numpy(), index=index, name="y",
                       dtype="float64")
    return Snapshot(tables=tables, grid=grid, y=labels, attributes=tuple(features),
                    allow_audit=tuple(allow_audit), outcome=name or "the outcome")
