"""Fairness audit: group metrics, disparity ratios, parity verdicts, bootstrap CIs and tests.

Definitions (per group ``g`` of an audit attribute, with flags from a threshold or a top-k cut):

* ``size`` students, ``positives`` who reached the outcome, ``flagged`` who were flagged;
* ``prevalence = positives / size``, ``selection_rate = flagged / size``,
  ``flagged_share = flagged / (all flagged students)``;
* ``tpr = tp / positives``, ``fnr = fn / positives``, ``fpr = fp / negatives``,
  ``fdr = fp / flagged``, ``precision = tp / flagged``, ``npv = tn / not flagged``;
* ``<metric>_disparity = metric(g) / metric(reference group)`` (equal values, 0 and 0
  included, give exactly 1; a positive value over a reference of 0 gives ``inf``); a group
  passes parity for that metric when the ratio lies within the tolerance (default
  ``[0.8, 1.25]``, the four-fifths rule and its inverse);
* ``<metric>_pvalue``: two-sided Fisher exact test of the group's proportion against the
  reference group's (e.g. for ``tpr``: true positives out of positives, in ``g`` vs the
  reference), ``scipy.stats.fisher_exact``; optionally Holm-adjusted over the whole audit;
* ``_ci_low`` / ``_ci_high``: percentile bootstrap intervals, resampling students with
  replacement within each group (a stratified bootstrap; group sizes and who is flagged held
  fixed), ``n_boot`` draws.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs
from studentprofile.evaluation._groups import (
    RATE_METRICS,
    GroupAxis,
    cell_counts,
    confusion_from_cells,
    group_axes,
    rates,
)
from studentprofile.evaluation._ranking import _Cut
from studentprofile.tables._checks import show_values

__all__ = ["DISPARITY_METRICS", "FairnessAudit", "fairness_audit"]

#: Metrics compared between groups, and whether a higher value is the favourable one.
#: Selection rate counts as favourable when higher: an early-warning flag brings support.
DISPARITY_METRICS: dict[str, bool] = {
    "selection_rate": True,
    "tpr": True,
    "fpr": False,
    "fnr": False,
    "fdr": False,
    "precision": True,
    "npv": True,
}

ATTRIBUTES_INVALID = "attributes must be a DataFrame (or Series) with one row per student"
REFERENCE_INVALID = (
    "reference must be 'majority', 'most_favourable' or a mapping {attribute: group}"
)
REFERENCE_UNKNOWN_GROUP = "the named reference group is not a group of the attribute"
TOLERANCE_INVALID = (
    "tolerance must be (low, high) with 0 < low <= 1 <= high, or one number in (0, 1]"
)
#: The smallest ``min_group_size`` accepted: numbers about fewer students identify them.
MIN_GROUP_SIZE_FLOOR = 5
MIN_GROUP_SIZE_INVALID = (
    f"min_group_size must be an integer >= {MIN_GROUP_SIZE_FLOOR} (numbers about a smaller group "
    "identify its students)"
)
MAX_DISTINCT_SHARE_INVALID = "max_distinct_share must be a number in (0, 1]"
TOO_MANY_DISTINCT = (
    "an audit attribute must group students, not (nearly) identify them: its share of distinct "
    "values is above max_distinct_share"
)
#: The group label of one attribute's suppressed groups: counted, never named.
SUPPRESSED_GROUPS = "({n} suppressed group(s))"
#: What a suppressed group's name becomes where a caller named it (a reference, a threshold).
SUPPRESSED_NAME = "(suppressed)"
N_BOOT_INVALID = "n_boot must be an integer >= 0 (0 skips the bootstrap)"
CI_INVALID = "ci must be a confidence level in (0, 1), e.g. 0.95"
P_ADJUST_INVALID = "p_adjust must be None or 'holm'"
FLAG_RULES = "pass exactly one of k=, threshold= and flags="
GROUP_THRESHOLDS_INVALID = (
    "per-group thresholds must be {attribute: {group: threshold}} for one audit attribute, "
    "with a threshold for every group"
)

#: Columns of :meth:`FairnessAudit.summary` (also when there is nothing to summarise).
SUMMARY_COLUMNS = [
    "attribute", "metric", "groups", "compared", "failing", "min_disparity", "max_disparity",
    "verdict",
]

_FAVOURABLE_ALIASES = ("most_favourable", "most_favorable")

#: The proportion behind each compared metric: (numerator, denominator) as confusion names.
_TEST_COUNTS: dict[str, tuple[str, str]] = {
    "selection_rate": ("flagged", "size"),
    "tpr": ("tp", "positives"),
    "fnr": ("fn", "positives"),
    "fpr": ("fp", "negatives"),
    "fdr": ("fp", "flagged"),
    "precision": ("tp", "flagged"),
    "npv": ("tn", "unflagged"),
}


@dataclass(frozen=True)
class FairnessAudit:
    """The result of :func:`fairness_audit`.

    Attributes
    ----------
    frame : DataFrame
        One row per (attribute, group); see :meth:`to_frame`.
    overall : Series
        The rates over all students.
    params : dict
        How the audit was run: flag rule, reference, tolerance, minimum group size, bootstrap,
        test.
    notes : tuple of str
        Things a reader should know (suppressed groups, references that fell back).

    Examples
    --------
    >>> import pandas as pd
    >>> audit = fairness_audit(y_true=[1, 0, 1, 0] * 5, scores=[0.9, 0.8, 0.3, 0.2] * 5,
    ...                        attributes=pd.DataFrame({"g": ["a", "a", "b", "b"] * 5}), k=10,
    ...                        min_group_size=5, n_boot=0)
    >>> audit.summary().loc[0, ["attribute", "metric", "verdict"]].tolist()
    ['g', 'selection_rate', 'fail']
    """

    frame: pd.DataFrame
    overall: pd.Series
    params: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """One row per (attribute, group), lower-case metric columns.

        Columns: ``attribute``, ``group``, ``reference`` (the reference group of the row's
        attribute, or ``"(most favourable per metric)"``), ``suppressed``, ``size``,
        ``positives``, ``flagged``, ``tp``, ``fp``, ``fn``, ``tn``, the rates ``prevalence``,
        ``selection_rate``, ``flagged_share``, ``tpr``, ``fpr``, ``fnr``, ``fdr``,
        ``precision``, ``npv``; for each compared metric ``<m>_disparity``, ``<m>_parity``
        (boolean, missing when undefined) and ``<m>_pvalue``; bootstrap intervals
        ``<rate>_ci_low``/``_ci_high`` and ``<m>_disparity_ci_low``/``_ci_high``. Suppressed
        groups are counted, not named: one row per attribute, ``group`` reading
        ``"(3 suppressed group(s))"``, ``suppressed`` true and every number missing.

        Returns
        -------
        DataFrame
        """
        return self.frame.copy()

    def disparities(self) -> pd.DataFrame:
        """Long format: one row per (attribute, group, compared metric).

        Returns
        -------
        DataFrame
            ``attribute``, ``group``, ``metric``, ``value``, ``reference``,
            ``reference_value``, ``disparity``, ``ci_low``, ``ci_high`` (of the disparity),
            ``pvalue``, ``parity``.
        """
        rows = []
        refs: dict[tuple[str, str], str] = self.params["references"]
        f = self.frame
        for metric in DISPARITY_METRICS:
            for attribute, sub in f.groupby("attribute", sort=False):
                ref = refs.get((str(attribute), metric))
                ref_value = np.nan
                if ref is not None:
                    hit = sub.loc[sub["group"] == ref, metric]
                    ref_value = float(hit.iloc[0]) if len(hit) else np.nan
                for _, r in sub.iterrows():
                    rows.append(
                        {
                            "attribute": attribute,
                            "group": r["group"],
                            "metric": metric,
                            "value": r[metric],
                            "reference": ref,
                            "reference_value": ref_value,
                            "disparity": r[f"{metric}_disparity"],
                            "ci_low": r[f"{metric}_disparity_ci_low"],
                            "ci_high": r[f"{metric}_disparity_ci_high"],
                            "pvalue": r[f"{metric}_pvalue"],
                            "parity": r[f"{metric}_parity"],
                        }
                    )
        out = pd.DataFrame(rows)
        if len(out):
            out["parity"] = out["parity"].astype("boolean")
        return out

    def summary(self) -> pd.DataFrame:
        """Verdicts per (attribute, compared metric).

        Returns
        -------
        DataFrame
            ``attribute``, ``metric``, ``groups`` (shown, not suppressed), ``compared``
            (disparity defined), ``failing`` (outside the tolerance), ``min_disparity``,
            ``max_disparity``, ``verdict`` (``"pass"`` when every compared group is within the
            tolerance, ``"fail"`` when any is not, ``"undefined"`` when none could be compared).
        """
        rows = []
        f = self.frame[~self.frame["suppressed"]]
        for attribute in self.frame["attribute"].unique():
            sub = f[f["attribute"] == attribute]
            for metric in DISPARITY_METRICS:
                d = sub[f"{metric}_disparity"].to_numpy(dtype=np.float64)
                parity = sub[f"{metric}_parity"]
                compared = int(parity.notna().sum())
                failing = int((parity == False).sum())  # noqa: E712 (nullable boolean)
                finite = d[~np.isnan(d)]
                rows.append(
                    {
                        "attribute": attribute,
                        "metric": metric,
                        "groups": len(sub),
                        "compared": compared,
                        "failing": failing,
                        "min_disparity": float(finite.min()) if len(finite) else np.nan,
                        "max_disparity": float(finite.max()) if len(finite) else np.nan,
                        "verdict": "undefined"
                        if compared <= 1
                        else ("fail" if failing else "pass"),
                    }
                )
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: params, overall, groups (records), summary, notes."""
        from studentprofile.evaluation._json import to_json_safe

        params = {k: v for k, v in self.params.items() if k != "references"}
        params["references"] = [
            {"attribute": a, "metric": m, "group": g}
            for (a, m), g in self.params["references"].items()
        ]
        return to_json_safe(
            {
                "params": params,
                "overall": self.overall,
                "groups": self.frame,
                "summary": self.summary(),
                "notes": list(self.notes),
            }
        )

    def __repr__(self) -> str:
        s = self.summary()
        failing = s[s["verdict"] == "fail"]
        shown = int((~self.frame["suppressed"]).sum())
        return (
            f"FairnessAudit({self.params['rule']}; {self.frame['attribute'].nunique()} "
            f"attribute(s), {shown} group(s) shown, "
            f"{sum(self.params.get('suppressed_groups', {}).values())} "
            f"suppressed; {len(failing)} of {len(s)} attribute-metric verdicts fail at "
            f"tolerance {tuple(self.params['tolerance'])})"
        )

    def _repr_html_(self) -> str:
        """Compact notebook display: verdicts per attribute and metric, the first groups."""
        from studentprofile import _html

        cols = ["attribute", "group", "size", "prevalence", "selection_rate", "tpr", "fpr",
                "precision"]
        for m in DISPARITY_METRICS:
            cols += [f"{m}_disparity", f"{m}_parity"]
        low, high = self.params["tolerance"]
        notes = list(self.notes)
        parts = [
            _html.note(f"Flags: {self.params['rule']}; reference: "
                       f"{self.params.get('reference')}; parity within {low:g}-{high:g}."),
            _html.heading("Verdicts"),
            verdict_table(self.summary(), max_rows=_html.MAX_ROWS),
            _html.heading("Groups"),
            _html.table(self.frame[[c for c in cols if c in self.frame.columns]], index=False,
                        verdicts=[f"{m}_parity" for m in DISPARITY_METRICS],
                        max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
            *(_html.note(n) for n in notes[:3]),
            _html.note(f"... {len(notes) - 3} more notes: audit.notes") if len(notes) > 3 else "",
            _html.note("All columns: audit.to_frame(); long format: audit.disparities()."),
        ]
        return _html.display(repr(self), parts)


def verdict_table(summary: pd.DataFrame, *, max_rows: int | None = None) -> str:
    """Render verdicts as attributes x metrics: ``pass``, ``FAIL 2/11`` or ``–``.

    Parameters
    ----------
    summary : DataFrame
        :meth:`FairnessAudit.summary`.
    max_rows : int, optional
        Show at most this many attributes, then a "... n more attributes" line.

    Returns
    -------
    str
        An HTML table; attribute names are escaped.

    Examples
    --------
    >>> s = pd.DataFrame({"attribute": ["<g>"] * 7, "metric": list(DISPARITY_METRICS),
    ...                   "verdict": ["pass", "fail"] + ["undefined"] * 5,
    ...                   "failing": [0, 1, 0, 0, 0, 0, 0], "compared": [2] * 7})
    >>> html_text = verdict_table(s)
    >>> "&lt;g&gt;" in html_text, "FAIL 1/2" in html_text
    (True, True)
    """
    head = "".join(f"<th>{html.escape(m)}</th>" for m in DISPARITY_METRICS)
    rows = []
    attributes = list(dict.fromkeys(summary["attribute"]))
    for attribute in attributes[:max_rows]:
        sub = summary[summary["attribute"] == attribute]
        cells = []
        for metric in DISPARITY_METRICS:
            r = sub[sub["metric"] == metric].iloc[0]
            if r["verdict"] == "pass":
                cells.append('<td><span class="pass">pass</span></td>')
            elif r["verdict"] == "fail":
                cells.append(
                    f'<td><span class="fail">FAIL {int(r["failing"])}/{int(r["compared"])}'
                    "</span></td>"
                )
            else:
                cells.append("<td>–</td>")
        rows.append(f"<tr><td>{html.escape(str(attribute))}</td>{''.join(cells)}</tr>")
    if max_rows is not None and len(attributes) > max_rows:
        rows.append(f'<tr><td class="more" colspan="{len(DISPARITY_METRICS) + 1}">... '
                    f"{len(attributes) - max_rows} more attributes</td></tr>")
    return (
        f"<table><thead><tr><th>attribute</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# ----------------------------------------------------------------------------- validation
def _attributes(attributes: Any, n: int, y_true: Any) -> pd.DataFrame:
    if isinstance(attributes, pd.Series):
        attributes = attributes.to_frame(name=attributes.name or "attribute")
    if not isinstance(attributes, pd.DataFrame):
        raise SchemaError(
            ATTRIBUTES_INVALID,
            table="attributes",
            rule="dataframe",
            arrived=f"an object of type {type(attributes).__name__}",
            hint="pass e.g. attributes=students[['gender', 'disability']]",
        )
    if attributes.shape[1] == 0:
        raise SchemaError(
            "attributes must have at least one column",
            table="attributes",
            rule="columns",
            arrived="a DataFrame with no columns",
            hint="pass e.g. attributes=students[['gender']]",
        )
    dup = attributes.columns[attributes.columns.duplicated()].tolist()
    if dup:
        raise SchemaError(
            "attribute column names must be unique",
            table="attributes",
            rule="unique-columns",
            arrived=f"repeated {show_values(dup)}",
        )
    if len(attributes) != n:
        raise SchemaError(
            _inputs.LENGTHS_DIFFER.format(a="y_true", b="attributes"),
            table="attributes",
            rule="same-length",
            arrived=f"{n:,} value(s) in y_true, {len(attributes):,} rows in attributes",
            hint="pass one row of attributes per student, in the same order",
        )
    if isinstance(y_true, pd.Series) and not y_true.index.equals(attributes.index):
        raise SchemaError(
            _inputs.INDEXES_DIFFER.format(a="y_true", b="attributes"),
            table="attributes",
            rule="same-index",
            arrived=f"index of y_true starts {show_values(y_true.index[:3])}; index of "
            f"attributes starts {show_values(attributes.index[:3])}",
            hint="align them, e.g. attributes = attributes.reindex(y_true.index)",
        )
    return attributes


def _distinct_share(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise ConfigError(MAX_DISTINCT_SHARE_INVALID, key="max_distinct_share", arrived=repr(value))
    if not (np.isfinite(value) and 0 < value <= 1):
        raise ConfigError(
            MAX_DISTINCT_SHARE_INVALID,
            key="max_distinct_share",
            arrived=repr(value),
            hint="the default 0.5 refuses columns with more distinct values than half the "
            "students",
        )
    return float(value)


def _refuse_identifying(attrs: pd.DataFrame, max_share: float) -> None:
    """Refuse an attribute with (nearly) one value per student: it would publish identifiers."""
    n = len(attrs)
    if n == 0:
        return
    for column in attrs.columns:
        try:
            distinct = int(attrs[column].nunique(dropna=True))
        except TypeError:  # unhashable values: count their text
            distinct = int(attrs[column].dropna().astype(str).nunique())
        share = distinct / n
        if share > max_share:
            raise ConfigError(
                TOO_MANY_DISTINCT,
                key=f"attributes[{str(column)!r}]",
                arrived=f"{distinct:,} distinct values among {n:,} students: share "
                f"{share:.2f} > max_distinct_share={max_share:g}",
                hint="audit a coarser grouping (e.g. age bands instead of birth dates), drop "
                "the column, or raise max_distinct_share= if the groups are meant to be that "
                "fine (small groups are still suppressed)",
            )


def _redacted(group: Any, hidden: set[str]) -> Any:
    return SUPPRESSED_NAME if str(group) in hidden else group


def _tolerance(tolerance: Any) -> tuple[float, float]:
    try:
        if isinstance(tolerance, int | float | np.integer | np.floating) and not isinstance(
            tolerance, bool
        ):
            low, high = float(tolerance), 1.0 / float(tolerance)
        else:
            low, high = (float(v) for v in tolerance)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ConfigError(TOLERANCE_INVALID, key="tolerance", arrived=repr(tolerance)) from exc
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= 1 <= high):
        raise ConfigError(
            TOLERANCE_INVALID,
            key="tolerance",
            arrived=repr(tolerance),
            hint="the default (0.8, 1.25) is the four-fifths rule and its inverse",
        )
    return low, high


def _ci(ci: Any) -> float:
    if isinstance(ci, bool) or not isinstance(ci, float | int | np.floating) or not 0 < ci < 1:
        raise ConfigError(CI_INVALID, key="ci", arrived=repr(ci))
    return float(ci)


# ------------------------------------------------------------------------------- the audit
def _group_thresholds(
    s: np.ndarray,
    threshold: Mapping[Any, Any],
    attrs: pd.DataFrame,
    missing_label: str,
    min_size: int,
) -> tuple[np.ndarray, str]:
    """Flag with one threshold per group of one attribute: ``{attribute: {group: t}}``."""
    names = [str(c) for c in attrs.columns]
    if len(threshold) != 1 or str(next(iter(threshold))) not in names:
        raise ConfigError(
            GROUP_THRESHOLDS_INVALID,
            key="threshold",
            arrived=f"keys {list(threshold)!r}; attributes {names!r}",
            hint="e.g. threshold={'gender': {'F': 0.30, 'M': 0.35}}",
        )
    attribute, per_group = next(iter(threshold.items()))
    if not isinstance(per_group, Mapping):
        raise ConfigError(
            GROUP_THRESHOLDS_INVALID,
            key=f"threshold[{attribute!r}]",
            arrived=repr(per_group),
            hint="e.g. threshold={'gender': {'F': 0.30, 'M': 0.35}}",
        )
    column = attrs.columns[names.index(str(attribute))]
    axis = group_axes(attrs[[column]], intersections=None, missing_label=missing_label)[0]
    given = {str(g): v for g, v in per_group.items()}
    missing = [g for g in axis.labels if g not in given]
    unknown = [g for g in given if g not in axis.labels]
    if missing or unknown:
        raise ConfigError(
            GROUP_THRESHOLDS_INVALID,
            key=f"threshold[{attribute!r}]",
            arrived=f"no threshold for {show_values(missing)}" if missing
            else f"unknown group(s) {show_values(unknown)}; groups {list(axis.labels)!r}",
            hint="give one threshold per group, the missing group included",
        )
    cuts = np.array(
        [_inputs.threshold(given[g], f"threshold[{attribute!r}][{g!r}]") for g in axis.labels]
    )
    flags = np.where(s >= cuts[axis.codes], 2, 0).astype(np.int64)
    # the rule is published: it names the shown groups only, and counts the suppressed ones
    sizes = np.bincount(axis.codes, minlength=len(axis.labels))
    parts = [
        f"{g} >= {c:g}"
        for g, c, n in zip(axis.labels, cuts, sizes, strict=True)
        if n >= min_size
    ]
    n_hidden = int((sizes < min_size).sum())
    if n_hidden:
        parts.append(f"{n_hidden} suppressed group(s) with their own")
    return flags, f"per-group thresholds on {attribute}: {', '.join(parts)}"


def _flag_cells(
    y: np.ndarray,
    s: np.ndarray,
    k: Any,
    threshold: Any,
    attrs: pd.DataFrame,
    missing_label: str,
    min_size: int,
) -> tuple[np.ndarray, float, str]:
    """Flag class of every student (0 not, 1 tied at the cut, 2 flagged) and the tie fraction."""
    if (k is None) == (threshold is None):
        raise ConfigError(
            _inputs.K_AND_THRESHOLD,
            key="k" if k is not None else "threshold",
            arrived=f"k={k!r}, threshold={threshold!r}",
            hint="audit the flags at a risk threshold (threshold=0.5) or a caseload (k=0.1)",
        )
    if isinstance(threshold, Mapping):
        flags, rule = _group_thresholds(s, threshold, attrs, missing_label, min_size)
        return flags, 0.0, rule
    if threshold is not None:
        t = _inputs.threshold(threshold)
        return np.where(s >= t, 2, 0).astype(np.int64), 0.0, f"score >= {t:g}"
    kk = _inputs.resolve_k(k, len(y))
    rule = f"top {_inputs.k_label(k)} ({kk:,} of {len(y):,} students)"
    cells = np.zeros(len(y), dtype=np.int64)
    if kk == 0:
        return cells, 0.0, rule
    cut = _Cut(y, s, np.array([kk]))
    cut_score = float(cut.cut_score[0])
    tied = int(cut.tied[0])
    slots = int(cut.slots[0])
    cells[s > cut_score] = 2
    if slots == tied:
        cells[s == cut_score] = 2
        return cells, 0.0, rule
    cells[s == cut_score] = 1
    rule += f"; {tied:,} tied at the cut share {slots:,} place(s), counted as expected values"
    return cells, slots / tied, rule


def _ratio(values: np.ndarray, reference: np.ndarray | float) -> np.ndarray:
    """Return ``values / reference``, with equal values (0/0 included) giving exactly 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(values / reference, dtype=np.float64)
    out = np.where(values == reference, 1.0, out)
    return np.asarray(out, dtype=np.float64)


def _holm(p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    flat = p.reshape(-1)
    ok = np.flatnonzero(~np.isnan(flat))
    if not len(ok):
        return out
    order = ok[np.argsort(flat[ok], kind="mergesort")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * flat[order]))
    res = out.reshape(-1)
    res[order] = adjusted
    return res.reshape(p.shape)


def _reference_for(
    axis: GroupAxis,
    metric: str,
    values: np.ndarray,
    sizes: np.ndarray,
    shown: np.ndarray,
    reference: Any,
    notes: list[str],
) -> int | None:
    """Index of the reference group of ``axis`` for ``metric`` (None when there is none)."""
    candidates = np.flatnonzero(shown)
    if isinstance(reference, Mapping) and axis.attribute in reference:
        wanted = str(reference[axis.attribute])
        if wanted not in axis.labels:
            raise ConfigError(
                REFERENCE_UNKNOWN_GROUP,
                key=f"reference[{axis.attribute!r}]",
                arrived=f"{reference[axis.attribute]!r}; groups {list(axis.labels)!r}",
                hint="name one of the groups listed",
            )
        idx = axis.labels.index(wanted)
        return idx if shown[idx] else None
    if not len(candidates):
        return None
    if reference in _FAVOURABLE_ALIASES:
        vals = values[candidates]
        defined = candidates[~np.isnan(vals)]
        if not len(defined):
            return None
        v = values[defined]
        best = v.max() if DISPARITY_METRICS[metric] else v.min()
        tied = defined[v == best]
        return int(tied[np.argmax(sizes[tied])])
    return int(candidates[np.argmax(sizes[candidates])])


def _percentiles(draws: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring nan draws; nan where no draw is defined."""
    low = np.full(draws.shape[1:], np.nan)
    high = np.full(draws.shape[1:], np.nan)
    any_defined = (~np.isnan(draws)).any(axis=0)
    if any_defined.any():
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        sub = draws[:, any_defined]
        lo, hi = np.nanpercentile(sub, q, axis=0)
        low[any_defined] = lo
        high[any_defined] = hi
    return low, high


def _audit_axis(
    axis: GroupAxis,
    y: np.ndarray,
    cells_flag: np.ndarray,
    p: float,
    *,
    reference: Any,
    tolerance: tuple[float, float],
    min_group_size: int,
    n_boot: int,
    ci: float,
    rng: np.random.Generator,
    notes: list[str],
    references: dict[tuple[str, str], str],
    hidden_names: dict[str, set[str]],
) -> pd.DataFrame:
    n_groups = len(axis.labels)
    cells = cell_counts(axis.codes, n_groups, y, cells_flag)
    tp, fp, fn, tn = confusion_from_cells(cells, p)
    size = cells.sum(axis=1)
    shown = size >= min_group_size
    point = rates(tp, fp, fn, tn)
    total_flagged = float((tp + fp).sum())
    point["flagged_share"] = (
        (tp + fp) / total_flagged if total_flagged > 0 else np.full(n_groups, np.nan)
    )
    counts = {
        "size": size.astype(np.float64),
        "positives": tp + fn,
        "negatives": fp + tn,
        "flagged": tp + fp,
        "unflagged": tn + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }

    # bootstrap: a multinomial draw over each group's six cells is a draw of its students
    boot: dict[str, np.ndarray] = {}
    if n_boot > 0:
        draws = np.zeros((n_boot, n_groups, 6), dtype=np.int64)
        for g in range(n_groups):
            if size[g] > 0:
                draws[:, g, :] = rng.multinomial(int(size[g]), cells[g] / size[g], size=n_boot)
        btp, bfp, bfn, btn = confusion_from_cells(draws, p)
        boot = rates(btp, bfp, bfn, btn)

    out: dict[str, Any] = {
        "attribute": axis.attribute,
        "group": list(axis.labels),
        "suppressed": ~shown,
        "size": pd.array(np.where(shown, size, 0), dtype="Int64"),
        "positives": counts["positives"],
        "flagged": counts["flagged"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }
    for m in RATE_METRICS:
        out[m] = point[m]
        if m == "selection_rate":
            out["flagged_share"] = point["flagged_share"]

    ref_labels = set()
    for metric in DISPARITY_METRICS:
        ref = _reference_for(axis, metric, point[metric], size, shown, reference, notes)
        if ref is None:
            ratio = np.full(n_groups, np.nan)
            pvals = np.full(n_groups, np.nan)
            notes.append(
                f"{axis.attribute}: no reference group for {metric} (suppressed or undefined); "
                "its disparities are left empty"
            )
        else:
            references[(axis.attribute, metric)] = axis.labels[ref]
            ref_labels.add(axis.labels[ref])
            ratio = _ratio(point[metric], point[metric][ref])
            num, den = _TEST_COUNTS[metric]
            a = np.rint(counts[num]).astype(np.int64)
            b = np.rint(counts[den]).astype(np.int64) - a
            pvals = np.full(n_groups, np.nan)
            for g in range(n_groups):
                if g == ref or not shown[g]:
                    continue
                if counts[den][g] <= 0 or counts[den][ref] <= 0:
                    continue
                table = np.array([[a[g], b[g]], [a[ref], b[ref]]])
                pvals[g] = float(fisher_exact(table, alternative="two-sided").pvalue)
        parity = pd.array(
            np.where(np.isnan(ratio), False, (ratio >= tolerance[0]) & (ratio <= tolerance[1])),
            dtype="boolean",
        )
        parity[np.isnan(ratio)] = pd.NA
        out[f"{metric}_disparity"] = ratio
        out[f"{metric}_parity"] = parity
        out[f"{metric}_pvalue"] = pvals
        if n_boot > 0 and ref is not None:
            bratio = _ratio(boot[metric], boot[metric][:, [ref]])
            bratio[~np.isfinite(bratio)] = np.nan
            low, high = _percentiles(bratio, ci)
            low[ref] = high[ref] = 1.0 if not np.isnan(ratio[ref]) else np.nan
        else:
            low = high = np.full(n_groups, np.nan)
        out[f"{metric}_disparity_ci_low"] = low
        out[f"{metric}_disparity_ci_high"] = high
    for m in RATE_METRICS:
        if n_boot > 0:
            low, high = _percentiles(boot[m], ci)
        else:
            low = high = np.full(n_groups, np.nan)
        out[f"{m}_ci_low"] = low
        out[f"{m}_ci_high"] = high
    if reference in _FAVOURABLE_ALIASES:
        out["reference"] = "(most favourable per metric)"
    else:
        out["reference"] = next(iter(ref_labels)) if len(ref_labels) == 1 else None
    frame = pd.DataFrame(out)
    # suppressed groups: no number (and, below, not even their name)
    kept = ("attribute", "group", "reference", "suppressed")
    hidden = [c for c in frame.columns if c not in kept]
    for col in hidden:
        if col == "size":
            frame.loc[frame["suppressed"], col] = pd.NA
        elif frame[col].dtype == "boolean":
            frame.loc[frame["suppressed"], col] = pd.NA
        else:
            frame.loc[frame["suppressed"], col] = np.nan
    n_hidden = int((~shown).sum())
    if n_hidden:
        # suppressed groups are counted, never named: one row per attribute stands for them all
        hidden_names[axis.attribute] = {axis.labels[g] for g in np.flatnonzero(~shown)}
        stand_in = frame[frame["suppressed"]].iloc[[0]].copy()
        stand_in["group"] = SUPPRESSED_GROUPS.format(n=n_hidden)
        frame = pd.concat([frame[~frame["suppressed"]], stand_in], ignore_index=True)
        notes.append(
            f"{axis.attribute}: {n_hidden} group(s) with fewer than {min_group_size} students "
            "suppressed"
        )
    return frame


def _column_order() -> list[str]:
    cols = [
        "attribute",
        "group",
        "reference",
        "suppressed",
        "size",
        "positives",
        "flagged",
        "tp",
        "fp",
        "fn",
        "tn",
        "prevalence",
        "selection_rate",
        "flagged_share",
        "tpr",
        "fpr",
        "fnr",
        "fdr",
        "precision",
        "npv",
    ]
    for m in DISPARITY_METRICS:
        cols += [f"{m}_disparity", f"{m}_parity", f"{m}_pvalue"]
    for m in RATE_METRICS:
        cols += [f"{m}_ci_low", f"{m}_ci_high"]
    for m in DISPARITY_METRICS:
        cols += [f"{m}_disparity_ci_low", f"{m}_disparity_ci_high"]
    return cols


def fairness_audit(
    *,
    y_true: Any,
    scores: Any,
    attributes: Any,
    k: float | int | None = None,
    threshold: float | Mapping[str, Mapping[Any, float]] | None = None,
    flags: Any = None,
    intersections: Any = "pairs",
    reference: Literal["majority", "most_favourable"] | Mapping[str, Any] = "majority",
    tolerance: tuple[float, float] | float = (0.8, 1.25),
    min_group_size: int = 10,
    max_distinct_share: float = 0.5,
    n_boot: int = 1000,
    ci: float = 0.95,
    p_adjust: Literal["holm"] | None = None,
    missing_label: str = "missing",
    random_state: int | None = 0,
) -> FairnessAudit:
    """Audit flags (at a threshold, a top-k caseload, or any rule) group by group.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float or None
        Risk scores (``None`` only with ``flags``).
    attributes : DataFrame or Series
        One column per audit attribute (gender, disability, ...), one row per student. Missing
        values form their own group, labelled ``missing_label``.
    k : float or int, optional
        Flag the top ``k`` students (a fraction or a count). Students tied at the cut share the
        places left, each counted as flagged with probability ``places / tied`` (expected
        values).
    threshold : float or mapping, optional
        Flag when ``score >= threshold``. Exactly one of ``k`` and ``threshold``. Per-group
        thresholds audit a policy with one cut per group of one attribute:
        ``{"gender": {"F": 0.30, "M": 0.35}}`` (every group needs one, ``"missing"`` included).
    flags : array-like of bool, optional
        Flags from any other rule (an alert policy with hysteresis, a rule baseline, "ever
        flagged before the outcome"). Exactly one of ``k``, ``threshold`` and ``flags``.
    intersections : {"pairs", "all"}, None or list of tuples, default "pairs"
        Intersections of attributes to audit as well (``gender & disability``).
    reference : {"majority", "most_favourable"} or mapping, default "majority"
        The group each disparity is measured against: the largest shown group of the
        attribute; the group with the most favourable value of each metric (higher
        ``selection_rate``, ``tpr``, ``precision``, ``npv``; lower ``fpr``, ``fnr``, ``fdr``);
        or ``{attribute: group}`` (attributes left out use the majority).
    tolerance : (float, float) or float, default (0.8, 1.25)
        Parity holds when ``low <= disparity <= high``; one number ``t`` means ``(t, 1/t)``.
    min_group_size : int, default 10
        Groups with fewer students are suppressed (privacy, and too small to read): counted,
        never named, no number shown. Each attribute's suppressed groups become one row whose
        group reads ``"(3 suppressed group(s))"``; a reference or per-group threshold naming a
        suppressed group is shown as ``"(suppressed)"``. At least 5.
    max_distinct_share : float, default 0.5
        Refuse (:class:`~studentprofile.errors.ConfigError`) an audit attribute whose number of
        distinct values is more than this share of the students: such a column (an id, a
        birth date, a postcode) identifies students instead of grouping them. In (0, 1].
    n_boot : int, default 1000
        Bootstrap draws for the confidence intervals; 0 skips them.
    ci : float, default 0.95
        Confidence level of the intervals.
    p_adjust : {None, "holm"}, default None
        Adjust the Fisher test p-values for multiple comparisons over the whole audit.
    missing_label : str, default "missing"
        Group label of missing attribute values.
    random_state : int or None, default 0
        Seed of the bootstrap.

    Returns
    -------
    FairnessAudit

    Examples
    --------
    >>> import pandas as pd
    >>> y = [1, 0, 1, 0, 1, 0, 0, 0] * 3
    >>> s = [0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.2, 0.3] * 3
    >>> attrs = pd.DataFrame({"gender": ["F", "F", "F", "F", "M", "M", "M", "M"] * 3})
    >>> audit = fairness_audit(y_true=y, scores=s, attributes=attrs, threshold=0.55,
    ...                        min_group_size=5, n_boot=0)
    >>> audit.to_frame()[["group", "size", "selection_rate", "tpr", "selection_rate_disparity"]]
      group  size  selection_rate  tpr  selection_rate_disparity
    0     F    12            0.75  1.0                  1.000000
    1     M    12            0.25  1.0                  0.333333

    A column that identifies students is refused, and small groups are counted, not named:

    >>> ids = pd.DataFrame({"student": [f"s{i}" for i in range(24)]})
    >>> fairness_audit(y_true=y, scores=s, attributes=ids, threshold=0.55)
    Traceback (most recent call last):
    ...
    studentprofile.errors.ConfigError: attributes['student']: an audit attribute must group ...
    >>> few = attrs.assign(gender=["F"] * 20 + ["X"] * 4)
    >>> fairness_audit(y_true=y, scores=s, attributes=few, threshold=0.55,
    ...                n_boot=0).to_frame()["group"].tolist()
    ['F', '(1 suppressed group(s))']
    """
    if flags is not None:
        if k is not None or threshold is not None:
            raise ConfigError(
                FLAG_RULES,
                key="flags",
                arrived=f"k={k!r}, threshold={threshold!r} and flags",
                hint="pass flags alone when they come from another rule",
            )
        y = _inputs.labels(y_true)
        flagged = _inputs.labels(flags, "flags")
        _inputs.same_length([("y_true", y_true, y), ("flags", flags, flagged)])
        s = flagged.astype(np.float64) if scores is None else _inputs.scores(scores)
        _inputs.same_length([("y_true", y_true, y), ("scores", scores, s)])
        threshold = None
    else:
        y, s = _inputs.binary_inputs(y_true, scores)
    attrs = _attributes(attributes, len(y), y_true)
    tol = _tolerance(tolerance)
    min_size = _inputs.positive_int(
        min_group_size,
        "min_group_size",
        MIN_GROUP_SIZE_INVALID,
        minimum=MIN_GROUP_SIZE_FLOOR,
    )
    _refuse_identifying(attrs, _distinct_share(max_distinct_share))
    boots = _inputs.positive_int(n_boot, "n_boot", N_BOOT_INVALID, minimum=0)
    level = _ci(ci)
    if p_adjust not in (None, "holm"):
        raise ConfigError(P_ADJUST_INVALID, key="p_adjust", arrived=repr(p_adjust))
    if not (
        reference == "majority"
        or reference in _FAVOURABLE_ALIASES
        or isinstance(reference, Mapping)
    ):
        raise ConfigError(REFERENCE_INVALID, key="reference", arrived=repr(reference))
    if isinstance(reference, Mapping):
        names = [str(c) for c in attrs.columns]
        unknown = [a for a in reference if a not in names and "&" not in str(a)]
        if unknown:
            raise ConfigError(
                REFERENCE_INVALID,
                key="reference",
                arrived=f"unknown attribute(s) {show_values(unknown)}; attributes {names!r}",
            )
    if not isinstance(missing_label, str):
        raise ConfigError(
            "missing_label must be a string", key="missing_label", arrived=repr(missing_label)
        )
    if flags is not None:
        flag_cells, p, rule = np.where(flagged, 2, 0).astype(np.int64), 0.0, "flags given"
    else:
        flag_cells, p, rule = _flag_cells(y, s, k, threshold, attrs, missing_label, min_size)
    axes = group_axes(attrs, intersections=intersections, missing_label=missing_label)
    rng = np.random.default_rng(random_state)
    notes: list[str] = []
    references: dict[tuple[str, str], str] = {}
    hidden_names: dict[str, set[str]] = {}
    if isinstance(reference, Mapping):
        covered = {str(a) for a in reference}
        left = [a.attribute for a in axes if a.attribute not in covered]
        if left:
            notes.append(
                f"no named reference for {show_values(left, n=20)}: the majority group is used"
            )
    frames = [
        _audit_axis(
            axis,
            y,
            flag_cells,
            p,
            reference=reference,
            tolerance=tol,
            min_group_size=min_size,
            n_boot=boots,
            ci=level,
            rng=rng,
            notes=notes,
            references=references,
            hidden_names=hidden_names,
        )
        for axis in axes
    ]
    frame = pd.concat(frames, ignore_index=True)[_column_order()]
    if p_adjust == "holm":
        cols = [f"{m}_pvalue" for m in DISPARITY_METRICS]
        frame[cols] = _holm(frame[cols].to_numpy(dtype=np.float64))
    ctp, cfp, cfn, ctn = confusion_from_cells(
        cell_counts(np.zeros(len(y), dtype=np.int64), 1, y, flag_cells), p
    )
    overall = pd.Series(
        {"size": float(len(y)), **{m: float(v[0]) for m, v in rates(ctp, cfp, cfn, ctn).items()}},
        name="overall",
    )
    params = {
        "rule": rule,
        "k": k,
        "threshold": threshold if not isinstance(threshold, Mapping) else {
            str(a): {
                str(g): v for g, v in m.items() if str(g) not in hidden_names.get(str(a), set())
            }
            for a, m in threshold.items()
        },
        "reference": reference
        if isinstance(reference, str)
        else {a: _redacted(g, hidden_names.get(str(a), set())) for a, g in reference.items()},
        "references": references,
        "tolerance": tol,
        "min_group_size": min_size,
        "max_distinct_share": float(max_distinct_share),
        "suppressed_groups": {a: len(names) for a, names in hidden_names.items()},
        "n_boot": boots,
        "ci": level,
        "bootstrap": "percentile, students resampled within each group (flags held fixed)",
        "test": "two-sided Fisher exact test of each proportion against the reference group"
        + (", Holm-adjusted over the audit" if p_adjust == "holm" else ", unadjusted"),
        "p_adjust": p_adjust,
        "random_state": random_state,
        "missing_label": missing_label,
        "intersections": intersections if isinstance(intersections, str | None) else [
            list(c) for c in intersections
        ],
    }
    return FairnessAudit(frame=frame, overall=overall, params=params, notes=tuple(notes))
