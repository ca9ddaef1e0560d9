"""The one disaggregation engine: groups of students and confusion counts per group.

A :class:`GroupAxis` is one way of cutting the students into groups: an audit attribute
(``gender``) or an intersection of attributes (``gender & disability``). Missing attribute
values form their own visible group (``"missing"`` by default); nothing is dropped.

Counts per group are kept by *cell*: label (0/1) times flag weight (0, the tie fraction ``p``,
1). At a top-k cut with ties, each student tied at the cut carries flag weight ``p = m / t``
(places left over tied students), which makes every count an expected value over a random order
of the tied students. The six cells are also exactly what a stratified bootstrap needs: drawing
a group's students with replacement is a multinomial draw over its cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables._checks import show_values

__all__ = ["GroupAxis", "cell_counts", "confusion_from_cells", "group_axes", "rates"]

INTERSECTION_SEPARATOR = " & "
MISSING_COLLIDES = (
    "the label for missing attribute values is also a real value of the attribute"
)
INTERSECTIONS_INVALID = (
    "intersections must be 'pairs', 'all', None or a list of tuples of attribute names"
)

#: Rates computed for every group, in the order of the audit's columns.
RATE_METRICS: tuple[str, ...] = (
    "prevalence",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "fdr",
    "precision",
    "npv",
)


@dataclass(frozen=True)
class GroupAxis:
    """One partition of the students into groups.

    Attributes
    ----------
    attribute : str
        ``"gender"``, or ``"gender & disability"`` for an intersection.
    columns : tuple of str
        The attribute columns it is built from.
    labels : tuple of str
        The group labels, in display order.
    codes : ndarray of int64
        Each student's group, an index into ``labels``.
    """

    attribute: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    codes: np.ndarray


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_axis(name: str, series: pd.Series, missing_label: str) -> GroupAxis:
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        codes = series.cat.codes.to_numpy().astype(np.int64)
        labels = [_label(c) for c in categories]
    else:
        values = series[~missing]
        try:
            uniques = sorted(pd.unique(values.to_numpy(dtype=object)))
        except TypeError:  # values of mixed types: order by their text
            uniques = sorted(pd.unique(values.to_numpy(dtype=object)), key=_label)
        labels = [_label(u) for u in uniques]
        lookup = {u: i for i, u in enumerate(uniques)}
        codes = np.full(len(series), -1, dtype=np.int64)
        codes[~missing] = [lookup[v] for v in values.to_numpy(dtype=object)]
    if len(set(labels)) != len(labels):
        seen = [lab for lab in labels if labels.count(lab) > 1]
        raise SchemaError(
            "two different values of an audit attribute print the same",
            table="attributes",
            column=name,
            rule="distinct-labels",
            arrived=f"values printing as {show_values(sorted(set(seen)))}",
            hint="convert the column to strings (or clean it) before the audit",
        )
    if missing.any():
        if missing_label in labels:
            raise ConfigError(
                MISSING_COLLIDES,
                key="missing_label",
                arrived=f"{missing_label!r} is a value of {name!r}, which also has "
                f"{int(missing.sum()):,} missing value(s)",
                hint="pass another missing_label, e.g. missing_label='(not recorded)'",
            )
        codes = codes.copy()
        codes[missing] = len(labels)
        labels.append(missing_label)
    return GroupAxis(attribute=name, columns=(name,), labels=tuple(labels), codes=codes)


def _intersect(axes: Sequence[GroupAxis]) -> GroupAxis:
    codes = np.zeros(len(axes[0].codes), dtype=np.int64)
    for axis in axes:
        codes = codes * len(axis.labels) + axis.codes
    observed, inverse = np.unique(codes, return_inverse=True)
    labels = []
    for combined in observed:
        parts = []
        rest = int(combined)
        for axis in reversed(axes):
            rest, idx = divmod(rest, len(axis.labels))
            parts.append(axis.labels[idx])
        labels.append(INTERSECTION_SEPARATOR.join(reversed(parts)))
    return GroupAxis(
        attribute=INTERSECTION_SEPARATOR.join(a.attribute for a in axes),
        columns=tuple(c for a in axes for c in a.columns),
        labels=tuple(labels),
        codes=inverse.astype(np.int64).reshape(-1),
    )


def _intersection_sets(intersections: Any, names: list[str]) -> list[tuple[str, ...]]:
    if intersections is None or intersections is False:
        return []
    if intersections == "pairs":
        return list(combinations(names, 2))
    if intersections == "all":
        return [
            combo for size in range(2, len(names) + 1) for combo in combinations(names, size)
        ]
    if isinstance(intersections, str) or not isinstance(intersections, Sequence):
        raise ConfigError(INTERSECTIONS_INVALID, key="intersections", arrived=repr(intersections))
    out = []
    for combo in intersections:
        if isinstance(combo, str) or not isinstance(combo, Sequence) or len(combo) < 2:
            raise ConfigError(
                INTERSECTIONS_INVALID,
                key="intersections",
                arrived=repr(intersections),
                hint="e.g. intersections=[('gender', 'disability')]",
            )
        unknown = [c for c in combo if c not in names]
        if unknown:
            raise ConfigError(
                "intersections must name audit attributes",
                key="intersections",
                arrived=f"unknown attribute(s) {show_values(unknown)}; attributes {names!r}",
            )
        out.append(tuple(combo))
    return out


def group_axes(
    attributes: pd.DataFrame, *, intersections: Any = "pairs", missing_label: str = "missing"
) -> list[GroupAxis]:
    """Build one axis per attribute column and one per requested intersection.

    Parameters
    ----------
    attributes : DataFrame
        One column per audit attribute, one row per student.
    intersections : {"pairs", "all"}, None or list of tuples, default "pairs"
        Which intersections to add: every pair of attributes, every combination of two or
        more, none, or the listed ones.
    missing_label : str, default "missing"
        The group label of missing values.

    Returns
    -------
    list of GroupAxis
    """
    names = [str(c) for c in attributes.columns]
    singles = {
        name: _column_axis(name, attributes[col], missing_label)
        for name, col in zip(names, attributes.columns, strict=True)
    }
    axes = list(singles.values())
    for combo in _intersection_sets(intersections, names):
        axes.append(_intersect([singles[c] for c in combo]))
    return axes


def cell_counts(codes: np.ndarray, n_groups: int, y: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Count students per group and cell.

    Parameters
    ----------
    codes : ndarray of int64
        Group of each student.
    n_groups : int
        Number of groups.
    y : ndarray of bool
        Labels.
    cell : ndarray of int64
        Flag class of each student: 0 not flagged, 1 tied at the cut (weight ``p``), 2 flagged.

    Returns
    -------
    ndarray of int64, shape (n_groups, 6)
        Columns: (y=0, not), (y=0, tied), (y=0, flagged), (y=1, not), (y=1, tied),
        (y=1, flagged).
    """
    key = codes * 6 + y.astype(np.int64) * 3 + cell
    return np.bincount(key, minlength=n_groups * 6).reshape(n_groups, 6)


def confusion_from_cells(
    cells: np.ndarray, p: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return expected (tp, fp, fn, tn) from cell counts ``(..., 6)`` and the tie fraction ``p``."""
    c = cells.astype(np.float64)
    tp = c[..., 5] + p * c[..., 4]
    fn = c[..., 3] + (1.0 - p) * c[..., 4]
    fp = c[..., 2] + p * c[..., 1]
    tn = c[..., 0] + (1.0 - p) * c[..., 1]
    return tp, fp, fn, tn


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def rates(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> dict[str, np.ndarray]:
    """Every rate of :data:`RATE_METRICS` from confusion counts (``nan`` where undefined).

    ``prevalence = (tp+fn)/n``, ``selection_rate = (tp+fp)/n``, ``tpr = tp/(tp+fn)``,
    ``fpr = fp/(fp+tn)``, ``fnr = fn/(tp+fn)``, ``fdr = fp/(tp+fp)``, ``precision = tp/(tp+fp)``,
    ``npv = tn/(tn+fn)``.
    """
    n = tp + fp + fn + tn
    pos = tp + fn
    neg = fp + tn
    flagged = tp + fp
    unflagged = tn + fn
    return {
        "prevalence": _ratio(pos, n),
        "selection_rate": _ratio(flagged, n),
        "tpr": _ratio(tp, pos),
        "fpr": _ratio(fp, neg),
        "fnr": _ratio(fn, pos),
        "fdr": _ratio(fp, flagged),
        "precision": _ratio(tp, flagged),
        "npv": _ratio(tn, unflagged),
    }
