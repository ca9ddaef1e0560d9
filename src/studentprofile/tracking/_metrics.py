"""MLflow metric names that are valid, readable, unique and reversible; fairness as a few metrics.

MLflow accepts letters, digits, ``_ - . /``, spaces (and ``:`` off Windows) in a metric name;
anything else used to become ``_``, so ``income <30k`` and ``income >30k`` both became
``income__30k`` and one group's numbers were lost. Here a name part that is already valid stays
as it is; any other part becomes a readable slug (``<`` -> ``lt``, ``%`` -> ``pct``, ...) plus
``-`` and the first 8 hex digits of the SHA-256 of the exact original text, so two different
parts never share a name, and the same part gets the same name in every run. The mapping (name
-> original) is logged with the run (``metrics/metric_names.json``).

Fairness is logged as its verdicts and the worst disparity per attribute and compared metric
(a handful of numbers an auditor can chart across runs); the full audit, group by group, goes
to a table artefact with readable names. Group names never enter a metric name.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = ["FairnessLog", "fairness_log", "metric_name", "metric_names"]

#: A name part kept as it is: ASCII letters, digits, ``_``, ``-`` and inner spaces.
_PLAIN_PART = re.compile(r"[A-Za-z0-9_\-]+(?: +[A-Za-z0-9_\-]+)*")
#: What an escaped part ends with; a plain part that looks like it is escaped too.
_HASHED = re.compile(r"-[0-9a-f]{8}$")
_WORDS = {"<": "lt", ">": "gt", "%": "pct", "@": "_at_", "&": "and", "=": "eq", "+": "plus",
          "#": "no", "|": "or", "~": "approx"}
_OTHER = re.compile(r"[^A-Za-z0-9_\- ]+")
MAX_SLUG = 60
MAX_NAME = 250  # MLflow's limit for a metric key


def _hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def _part(text: str) -> str:
    if _PLAIN_PART.fullmatch(text) and not _HASHED.search(text) and len(text) <= MAX_SLUG:
        return text
    slug = "".join(_WORDS.get(ch, ch) for ch in text)
    slug = _OTHER.sub("_", slug).strip()
    slug = re.sub(r"_{2,}", "_", slug)[:MAX_SLUG].strip() or "_"
    return f"{slug}-{_hash(text)}"


def metric_name(*parts: Any) -> str:
    """Join parts into a valid, unique MLflow metric name (``.`` between parts).

    A part made only of ASCII letters, digits, ``_``, ``-`` and inner spaces is kept; any other
    part becomes a readable slug plus ``-`` and 8 hex digits of the SHA-256 of the exact part,
    so different parts never collide and the same part always gets the same name.

    Parameters
    ----------
    *parts : Any
        The name's parts (turned into text with ``str``).

    Returns
    -------
    str

    Examples
    --------
    >>> metric_name("fairness", "gender", "tpr", "pass")
    'fairness.gender.tpr.pass'
    >>> metric_name("fairness", "income <30k", "tpr"), metric_name("fairness", "income >30k", "tpr")
    ('fairness.income lt30k-23ed5576.tpr', 'fairness.income gt30k-9970857b.tpr')
    """
    return ".".join(_part(str(p)) for p in parts)


def metric_names(keys: Iterable[str]) -> dict[str, str]:
    """Map metric keys to valid MLflow names, one distinct name per key.

    A key MLflow accepts as it is (ASCII letters, digits, ``_ - . /`` and spaces; no empty
    part) is kept; any other key is escaped part by part (parts split on ``.``), as in
    :func:`metric_name`.

    Parameters
    ----------
    keys : iterable of str
        The metric keys as the caller named them.

    Returns
    -------
    dict of str -> str
        Key -> MLflow name.

    Examples
    --------
    >>> names = metric_names(["roc_auc", "split0.roc_auc", "precision@10%"])
    >>> names["split0.roc_auc"], names["precision@10%"]
    ('split0.roc_auc', 'precision_at_10pct-8f983127')
    """
    out: dict[str, str] = {}
    for key in keys:
        text = str(key)
        parts = text.split(".")
        if all(_part(p) == p for p in parts) and len(text) <= MAX_NAME:
            name = text
        else:
            name = metric_name(*parts)
            if len(name) > MAX_NAME:
                name = f"{name[:MAX_NAME - 17]}-{_hash(text, 16)}"
        out[key] = name
    seen: dict[str, str] = {}
    for key, name in out.items():
        if name in seen:  # a 32-bit hash collision: give the later key a longer hash
            name = f"{name[:MAX_NAME - 17]}-{_hash(str(key), 16)}"
            out[key] = name
        seen[name] = key
    return out


# ------------------------------------------------------------------------------ fairness
class FairnessLog:
    """What tracking logs of a fairness audit.

    Attributes
    ----------
    metrics : dict of str -> float
        ``fairness.<attribute>.<metric>.pass`` (1 pass, 0 fail; undefined verdicts are not
        logged) and ``fairness.<attribute>.<metric>.worst_disparity`` (of the groups shown,
        the disparity furthest from 1), names made with :func:`metric_name`.
    names : dict of str -> dict
        Metric name -> ``{"attribute", "metric", "statistic"}`` (the exact, readable texts).
    groups : DataFrame
        The full audit, one row per (attribute, group), readable names; suppressed groups are
        counted, never named.
    summary : DataFrame
        The verdicts per (attribute, metric) with the worst disparity.
    """

    def __init__(self, metrics: dict[str, float], names: dict[str, dict[str, str]],
                 groups: pd.DataFrame, summary: pd.DataFrame) -> None:
        self.metrics = metrics
        self.names = names
        self.groups = groups
        self.summary = summary


def _worst(low: float, high: float) -> float:
    """Return the disparity further from parity (1) on a log scale; NaN when none is."""
    vals = [v for v in (low, high) if v is not None and not math.isnan(v)]
    if not vals:
        return math.nan

    def distance(v: float) -> float:
        return math.inf if v <= 0 or math.isinf(v) else abs(math.log(v))

    return max(vals, key=distance)


SUPPRESSED = "(suppressed)"


def fairness_log(audit: Any) -> FairnessLog:
    """Verdict and worst-disparity metrics, and readable tables, of a fairness audit.

    Parameters
    ----------
    audit : FairnessAudit
        From :func:`studentprofile.evaluation.fairness_audit` (anything with ``to_frame()``
        and ``summary()`` in that form).

    Returns
    -------
    FairnessLog

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.evaluation import fairness_audit
    >>> audit = fairness_audit(y_true=[1, 0, 1, 0] * 5, scores=[0.9, 0.8, 0.3, 0.2] * 5,
    ...                        attributes=pd.DataFrame({"income": ["<30k"] * 10 + [">30k"] * 10}),
    ...                        k=0.5, min_group_size=5, n_boot=0)
    >>> log = fairness_log(audit)
    >>> sorted(log.metrics)[:2]
    ['fairness.income.fdr.pass', 'fairness.income.fdr.worst_disparity']
    """
    summary = audit.summary().copy()
    summary["worst_disparity"] = [
        _worst(float(lo), float(hi))
        for lo, hi in zip(summary["min_disparity"], summary["max_disparity"], strict=True)
    ]
    metrics: dict[str, float] = {}
    names: dict[str, dict[str, str]] = {}

    def put(attribute: Any, metric: Any, statistic: str, value: float) -> None:
        if value is None or math.isnan(value):
            return
        name = metric_name("fairness", attribute, metric, statistic)
        metrics[name] = float(value)
        names[name] = {"attribute": str(attribute), "metric": str(metric),
                       "statistic": statistic}

    for row in summary.itertuples(index=False):
        if row.verdict in ("pass", "fail"):
            put(row.attribute, row.metric, "pass", 1.0 if row.verdict == "pass" else 0.0)
        put(row.attribute, row.metric, "worst_disparity", float(row.worst_disparity))
    groups = audit.to_frame()
    if "suppressed" in groups.columns:
        # the evaluation already labels them "(3 suppressed group(s))"; any other name of a
        # suppressed group (an older or foreign audit) is never published
        hidden = groups["suppressed"].fillna(False).astype(bool)
        named = ~groups["group"].astype(str).str.fullmatch(r"\(\d+ suppressed group\(s\)\)")
        groups = groups.astype({"group": object})
        groups.loc[hidden & named, "group"] = SUPPRESSED
    return FairnessLog(metrics, names, groups.reset_index(drop=True),
                       summary.reset_index(drop=True))


def _mapping_doc(names: Mapping[str, str], fairness: FairnessLog | None) -> dict[str, Any]:
    """Return the ``metrics/metric_names.json`` document: MLflow name -> what it means."""
    doc: dict[str, Any] = {
        "about": "MLflow metric name -> the original metric key (or, for fairness, the "
                 "attribute, compared metric and statistic); see docs/tracking.md",
        "metrics": {name: key for key, name in names.items()},
    }
    if fairness is not None:
        doc["fairness"] = fairness.names
    return doc
