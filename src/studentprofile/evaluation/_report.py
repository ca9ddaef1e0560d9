"""EvaluationReport and ``evaluate``: the one-call evaluation a data scientist or auditor reads.

A report holds only aggregates (metrics, group tables, distributions): no student identifier
reaches its dictionary, JSON or HTML.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studentprofile import _html
from studentprofile._files import atomic_write_text
from studentprofile._html import table as _table
from studentprofile._version import __version__
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs
from studentprofile.evaluation._fairness import (
    DISPARITY_METRICS,
    FairnessAudit,
    fairness_audit,
)
from studentprofile.evaluation._fairness import verdict_table as _verdict_table
from studentprofile.evaluation._groups import rates
from studentprofile.evaluation._json import to_json_safe
from studentprofile.evaluation._lead_time import LeadTime
from studentprofile.evaluation._metrics import (
    _pr_auc,
    _reliability,
    _roc_auc,
    pr_curve,
    roc_curve,
)
from studentprofile.evaluation._outcomes import OBSERVATIONAL_CAVEAT, InterventionOutcomes
from studentprofile.evaluation._ranking import _Cut, capacity_report, ranking_at_k

if TYPE_CHECKING:  # the backtest module builds reports: it imports this one, not the reverse
    from studentprofile.evaluation._backtest import BacktestResult

__all__ = ["EvaluationReport", "evaluate"]

SAVE_SUFFIX = "the report file must end in .html or .json"
AUDIT_K_TWICE = "the audit's caseload is given twice: audit_k= and audit_options k/threshold"

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:12px}.figs img{border:1px solid #eee;max-width:100%}
.note{color:#555;font-size:.9em}
.caveat{background:#fff4e5;border-left:5px solid #ff9800;padding:.6em 1em;margin:1em 0}
.fail{color:#b00020;font-weight:600}.pass{color:#1b7a1b}
.scroll{overflow-x:auto}
"""


@dataclass
class EvaluationReport:
    """Everything :func:`evaluate` measured, with tables, a JSON-safe dictionary and HTML.

    Attributes
    ----------
    title : str
        Shown at the top of the HTML.
    summary : dict
        Overall metrics: ``n``, ``positives``, ``prevalence``, ``roc_auc``, ``pr_auc``,
        ``brier``, ``log_loss``, ``ece`` (and, with a threshold, ``precision``, ``recall``,
        ``selection_rate`` at it).
    ranking : DataFrame
        :func:`ranking_at_k` at the requested ``k``.
    calibration : DataFrame
        :func:`reliability_curve` bins.
    capacity : DataFrame or None
        :func:`capacity_report`, when groups and capacity were given.
    fairness : FairnessAudit or None
    lead_time : LeadTime or None
    backtest : BacktestResult or None
    interventions : InterventionOutcomes or None
    post_modeling : PostModeling or None
        A model grid's candidates, selection, lists, crosstabs and mitigation
        (:func:`~studentprofile.evaluation.post_modeling`).
    mitigation : MitigationOverTime or None
        An opt-in fairness mitigation and what it costs
        (:func:`~studentprofile.evaluation.mitigate_over_time`).
    notes : list of str
        Things the reader should know.
    metadata : dict
        Version, creation time, and anything the caller added.

    Examples
    --------
    >>> report = evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
    >>> report.to_frame().query("name == 'roc_auc'")["value"].item()
    1.0
    >>> sorted(report.to_dict())[:3]
    ['calibration', 'metadata', 'notes']
    """

    title: str
    summary: dict[str, Any]
    ranking: pd.DataFrame
    calibration: pd.DataFrame
    capacity: pd.DataFrame | None = None
    fairness: FairnessAudit | None = None
    lead_time: LeadTime | None = None
    backtest: BacktestResult | None = None
    interventions: InterventionOutcomes | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    post_modeling: Any = None
    mitigation: Any = None
    _y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    _s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _k: list[Any] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ tables and dict
    def to_frame(self) -> pd.DataFrame:
        """Return the headline numbers in long format.

        Returns
        -------
        DataFrame
            Columns ``section`` (overall, ranking, capacity, lead_time, fairness, backtest,
            interventions), ``name`` and ``value`` (float; ``nan`` when undefined).
        """
        rows: list[tuple[str, str, float]] = []

        def add(section: str, name: str, value: Any) -> None:
            if isinstance(value, bool | np.bool_):
                value = float(value)
            if isinstance(value, int | float | np.integer | np.floating):
                rows.append((section, name, float(value)))

        for name, value in self.summary.items():
            add("overall", name, value)
        for label, r in self.ranking.iterrows():
            for metric in ("precision", "recall", "lift"):
                add("ranking", f"{metric}@{label}", r[metric])
                add("ranking", f"{metric}@{label} worst", r[f"{metric}_worst"])
                add("ranking", f"{metric}@{label} best", r[f"{metric}_best"])
        if self.capacity is not None:
            flagged = self.capacity["n_flagged"].sum()
            add("capacity", "students flagged", flagged)
            if flagged:
                add("capacity", "precision at capacity",
                    self.capacity["true_positives"].sum() / flagged)
        if self.lead_time is not None:
            for name, value in self.lead_time.summary().items():
                add("lead_time", name, value)
        if self.fairness is not None:
            for _, r in self.fairness.summary().iterrows():
                stem = f"{r['attribute']}: {r['metric']}"
                add("fairness", f"{stem} groups failing parity", r["failing"])
                add("fairness", f"{stem} min disparity", r["min_disparity"])
                add("fairness", f"{stem} max disparity", r["max_disparity"])
        if self.backtest is not None:
            for split, r in self.backtest.metrics.iterrows():
                for col in self.backtest.metrics.columns:
                    add("backtest", f"split {split} {col}", r[col])
        if self.interventions is not None:
            iv = self.interventions
            if iv.per_student is not None:
                for name, value in iv.per_student.summary().items():
                    add("interventions", f"per student: {name}", value)
            if iv.platform is not None:
                for name, value in iv.platform.summary().items():
                    add("interventions", f"platform: {name}", value)
            if iv.comparison is not None:
                add("interventions", "observational difference (contacted - not)",
                    iv.comparison.pooled["difference"])
        return pd.DataFrame(rows, columns=["section", "name", "value"])

    def to_dict(self) -> dict[str, Any]:
        """Return the whole report as JSON-safe Python objects.

        Non-finite floats (undefined metrics) become ``None``; see
        :func:`studentprofile.evaluation.to_json_safe`.

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {
            "title": self.title,
            "metadata": self.metadata,
            "summary": self.summary,
            "ranking": self.ranking,
            "calibration": {"ece": self.summary.get("ece"), "bins": self.calibration},
            "notes": list(self.notes),
        }
        if self.capacity is not None:
            out["capacity"] = self.capacity
        if self.fairness is not None:
            out["fairness"] = self.fairness.to_dict()
        if self.lead_time is not None:
            out["lead_time"] = self.lead_time.to_dict()
        if self.backtest is not None:
            out["backtest"] = self.backtest.to_dict()
        if self.interventions is not None:
            out["interventions"] = self.interventions.to_dict()
        if self.post_modeling is not None:
            out["post_modeling"] = self.post_modeling.to_dict()
        if self.mitigation is not None:
            out["mitigation"] = self.mitigation.to_dict()
        return to_json_safe(out)

    def to_json(self, indent: int | None = 2) -> str:
        """Return the dictionary as strict JSON text (``allow_nan=False``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    # --------------------------------------------------------------------------- figures
    def figures(self) -> dict[str, Any]:
        """Draw the report's matplotlib figures (ROC, PR, calibration, precision@k, ...).

        Returns
        -------
        dict
            Name -> :class:`matplotlib.figure.Figure`. ``fairness``, ``lead_time``,
            ``backtest`` and ``trajectory`` appear when those parts are present.
        """
        from studentprofile.evaluation import _plots

        figs: dict[str, Any] = {}
        y, s = self._y, self._s
        if len(y) and 0 < y.sum() < len(y):
            figs["roc"] = _plots.roc_figure(roc_curve(y, s), self.summary["roc_auc"])
            figs["pr"] = _plots.pr_figure(
                pr_curve(y, s), self.summary["pr_auc"], self.summary["prevalence"]
            )
        if len(y) and np.isfinite(self.summary.get("ece", np.nan)):
            figs["calibration"] = _plots.calibration_figure(
                self.calibration, s, self.summary["ece"]
            )
        if len(y) and y.sum() > 0:
            figs["precision_at_k"] = _plots.precision_at_k_figure(
                _precision_curve(y, s), self.summary["prevalence"], _marks(self.ranking, len(y))
            )
        if self.fairness is not None and (~self.fairness.frame["suppressed"]).any():
            figs["fairness"] = _plots.fairness_figure(self.fairness)
        if self.lead_time is not None:
            figs["lead_time"] = _plots.lead_time_figure(self.lead_time)
        if self.backtest is not None and len(self.backtest.scores):
            figs["backtest"] = _plots.backtest_figure(
                self.backtest, self._k[0] if self._k else 0.1
            )
        if self.interventions is not None and self.interventions.per_student is not None:
            figs["trajectory"] = _plots.trajectory_figure(self.interventions.per_student)
        if self.post_modeling is not None:
            for name, fig in self.post_modeling.figures().items():
                figs[f"grid_{name}"] = fig
        return figs

    def to_html(self) -> str:
        """One self-contained HTML page: tables and figures (PNG embedded as base64).

        Returns
        -------
        str
        """
        from studentprofile.evaluation import _plots

        imgs: dict[str, str] = {}
        for name, fig in self.figures().items():
            data = base64.b64encode(_plots.to_png(fig)).decode("ascii")
            imgs[name] = (
                f'<img alt="{name} figure" id="fig-{name}" src="data:image/png;base64,{data}">'
            )
        e = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
            f'<p class="meta">studentprofile {e(str(self.metadata.get("version", "")))} &middot; '
            f"created {e(str(self.metadata.get('created', '')))} &middot; "
            f"{int(self.summary.get('n', 0)):,} scored rows, prevalence "
            f"{_fmt(self.summary.get('prevalence'))}</p>",
            "<h2>Overall</h2>",
            _table(_kv(self.summary)),
            '<div class="figs">',
            imgs.get("roc", ""),
            imgs.get("pr", ""),
            imgs.get("calibration", ""),
            imgs.get("precision_at_k", ""),
            "</div>",
            "<h2>Caseload metrics at k</h2>",
            '<p class="note">k is a share of students (10% flags the floor of 0.1 n) or a '
            "number. Students tied with the last flagged one are counted three ways: the "
            "expected value over a random order of the tied students, and the worst and best "
            "case.</p>",
            _table(self.ranking),
        ]
        if self.capacity is not None:
            parts += [
                "<h2>Precision at capacity</h2>",
                '<p class="note">Each group (advisor) contacts its own highest-risk students up '
                "to its capacity.</p>",
                _table(self.capacity),
            ]
        if self.lead_time is not None:
            lt = self.lead_time
            parts += [
                "<h2>Lead time</h2>",
                f'<p class="note">Flag rule: {e(lt.rule)}. Among students who reached the '
                "outcome and were scored before it: days between the first flag and the "
                "outcome.</p>",
                _table(_kv(lt.summary())),
                imgs.get("lead_time", ""),
            ]
            parts += [f'<p class="note">{e(n)}</p>' for n in lt.notes]
        if self.fairness is not None:
            parts += _fairness_html(self.fairness, imgs.get("fairness", ""))
        if self.backtest is not None:
            bt = self.backtest
            if bt.params.get("kind") == "kfold":
                head = [
                    "<h2>Cross-validation</h2>",
                    f'<p class="note">{bt.params.get("folds")} student-disjoint, '
                    "label-stratified folds: every row is scored by the one model that did not "
                    "see it (no student is in the training and the test rows of a fold).</p>",
                ]
            else:
                head = [
                    "<h2>Temporal backtest</h2>",
                    f'<p class="note">{e(bt.params.get("splits", ""))}; outcome '
                    f'{e(str(bt.params.get("outcome")))} within '
                    f'{bt.params.get("horizon_days"):g} days. Training labels close before '
                    "each split's cutoff; each as-of date's features use only what was known "
                    "before it. Caseload metrics are computed per as-of date and averaged.</p>",
                ]
            parts += [
                *head,
                '<div class="scroll">',
                _table(bt.metrics),
                "</div>",
                imgs.get("backtest", ""),
            ]
        if self.interventions is not None:
            parts += _interventions_html(self.interventions, imgs.get("trajectory", ""))
        if self.post_modeling is not None:
            parts += self.post_modeling.html(
                {k.removeprefix("grid_"): v for k, v in imgs.items() if k.startswith("grid_")})
        if self.mitigation is not None:
            parts += self.mitigation.html()
        if self.notes:
            parts.append("<h2>Notes</h2><ul>")
            parts += [f"<li>{e(n)}</li>" for n in self.notes]
            parts.append("</ul>")
        parts.append(
            '<p class="note">Definitions: docs/evaluation.md. This report contains aggregates '
            "only, no student identifiers.</p></body></html>"
        )
        return "\n".join(p for p in parts if p)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically: ``.html`` (self-contained page) or ``.json``.

        Parameters
        ----------
        path : str or PathLike
            Target file; its suffix chooses the format.

        Returns
        -------
        Path
            The written file.

        Raises
        ------
        ConfigError
            The suffix is not ``.html``, ``.htm`` or ``.json``.
        OutputError
            The file cannot be written (a read-only folder, ``/proc``, a folder's name); the
            old file, if any, is left as it was.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> report = evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
        >>> path = report.save(pathlib.Path(tempfile.mkdtemp()) / "report.json")
        >>> path.name, path.read_text(encoding="utf-8").startswith("{")
        ('report.json', True)
        """
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".html", ".htm", ".json"):
            raise ConfigError(
                SAVE_SUFFIX,
                key="path",
                arrived=repr(str(path)),
                hint="e.g. report.save('evaluation.html') or report.save('evaluation.json')",
            )
        text = self.to_json() if suffix == ".json" else self.to_html()
        return atomic_write_text(target, text)

    def _repr_html_(self) -> str:
        """Compact notebook display: headline numbers, caseload table, verdicts, no figures.

        Bounded whatever the data (long tables show their first rows); the full page with
        figures is :meth:`to_html` / :meth:`save`.
        """
        keep = ("n", "positives", "prevalence", "roc_auc", "pr_auc", "brier", "ece",
                "precision", "recall", "selection_rate")
        parts = [
            _html.kv_table({k: self.summary[k] for k in keep if k in self.summary}),
            _html.heading("Caseload metrics at k"),
            _table(self.ranking, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ]
        if self.fairness is not None:
            parts += [_html.heading(audit_heading(self.fairness.params)),
                      _verdict_table(self.fairness.summary(), max_rows=_html.MAX_ROWS)]
        if self.lead_time is not None:
            parts += [_html.heading("Lead time"), _html.kv_table(self.lead_time.summary())]
        if self.backtest is not None:
            parts += [_html.heading("Backtest (per split)"),
                      split_metrics_html(self.backtest.metrics)]
        parts += [_html.note(n) for n in self.notes[: _html.MAX_ROWS]]
        if len(self.notes) > _html.MAX_ROWS:
            parts.append(_html.note(f"... {len(self.notes) - _html.MAX_ROWS} more notes"))
        parts.append(_html.note("Figures and every table: report.save('report.html') or "
                                "report.to_html()."))
        return _html.display(repr(self), parts)

    def __repr__(self) -> str:
        s = self.summary
        parts = [
            f"n={int(s.get('n', 0)):,}",
            f"prevalence={_fmt(s.get('prevalence'))}",
            f"roc_auc={_fmt(s.get('roc_auc'))}",
            f"pr_auc={_fmt(s.get('pr_auc'))}",
        ]
        extra = [
            name
            for name, part in (
                ("fairness", self.fairness),
                ("lead_time", self.lead_time),
                ("backtest", self.backtest),
                ("interventions", self.interventions),
            )
            if part is not None
        ]
        if extra:
            parts.append(f"with {', '.join(extra)}")
        return f"EvaluationReport({self.title!r}: {', '.join(parts)})"


# -------------------------------------------------------------------------- HTML helpers
#: Split columns a notebook display leaves out (the windows' other edges, training positives).
_SPLIT_HIDDEN = ("train_from", "train_until", "label_cutoff", "test_until", "n_train_positive")


def split_metrics_html(metrics: pd.DataFrame) -> str:
    """Render per-split metrics for a notebook: the first splits, then their mean.

    The mean row averages the metric columns (floats; not the counts or the test start) over
    every split, shown or not.

    Examples
    --------
    >>> frame = pd.DataFrame({"n_test": [10, 12], "roc_auc": [0.6, 0.8]},
    ...                      index=pd.Index([0, 1], name="split"))
    >>> '<td>mean</td><td>–</td><td class="n">0.700</td>' in split_metrics_html(frame)
    True
    """
    shown = metrics[[c for c in metrics.columns if c not in _SPLIT_HIDDEN]]
    averaged = [c for c in shown.columns
                if pd.api.types.is_float_dtype(shown[c]) and c != "test_from"]
    mean = shown[averaged].mean()
    table = shown.iloc[: _html.MAX_ROWS].astype(object)
    table.index = table.index.astype(object)
    table.loc["mean"] = [mean[c] if c in averaged else None for c in shown.columns]
    out = _table(table, max_cols=_html.MAX_COLS)
    if len(shown) > _html.MAX_ROWS:
        out += _html.note(f"... {len(shown) - _html.MAX_ROWS} more splits (in the mean)")
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        return "–" if not np.isfinite(value) else f"{value:.3f}"
    return str(value)


def _kv(mapping: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {"value": pd.Series(dict(mapping), dtype=object)}
    ).rename_axis("metric")


def _fairness_html(audit: FairnessAudit, img: str) -> list[str]:
    p = audit.params
    low, high = p["tolerance"]
    e = html.escape
    groups = audit.frame
    cols = ["attribute", "group", "size", "prevalence", "selection_rate", "tpr", "fpr", "fnr",
            "precision", "npv"]
    for m in DISPARITY_METRICS:
        cols += [f"{m}_disparity", f"{m}_parity"]
    shown = groups[cols].copy()
    shown["suppressed"] = groups["suppressed"]
    pv = groups[["attribute", "group"] + [f"{m}_pvalue" for m in DISPARITY_METRICS]]
    cis = groups[
        ["attribute", "group"]
        + [c for m in DISPARITY_METRICS for c in (f"{m}_disparity_ci_low",
                                                  f"{m}_disparity_ci_high")]
    ]
    return [
        f"<h2>{e(audit_heading(p))}</h2>",
        f'<p class="note">Flags: {e(p["rule"])}. Disparity = a group\'s metric divided by the '
        f'reference group\'s ({e(str(p["reference"]))}); parity holds within {low:g}-{high:g}. '
        f"Groups under {p['min_group_size']} students are suppressed: counted in one row per "
        "attribute, never named, no numbers shown. "
        f"Intervals: {p['ci']:.0%} {e(p['bootstrap'])}, {p['n_boot']} draws. "
        f"p-values: {e(p['test'])}. A failed verdict with a wide interval or a large p-value "
        "may be noise; a passed verdict on a small group is weak evidence.</p>",
        "<h3>Verdicts</h3>",
        '<p class="note">Per attribute and metric: <em>pass</em> when every compared group is '
        "within the tolerance, else FAIL with the number of groups outside it.</p>",
        _verdict_table(audit.summary()),
        img,
        "<h3>Groups</h3>",
        '<div class="scroll">',
        _table(shown, index=False, verdicts=[f"{m}_parity" for m in DISPARITY_METRICS]),
        "</div>",
        "<h3>Disparity confidence intervals</h3>",
        '<div class="scroll">',
        _table(cis, index=False),
        "</div>",
        "<h3>Significance (p-values)</h3>",
        '<div class="scroll">',
        _table(pv, index=False),
        "</div>",
    ] + [f'<p class="note">{e(n)}</p>' for n in audit.notes]


def audit_heading(params: Mapping[str, Any]) -> str:
    """Return the fairness section's heading, saying which flags were audited.

    Examples
    --------
    >>> audit_heading({"k": 0.05, "threshold": None, "rule": "top 5% (20 of 400 students)"})
    'Fairness audit at k = 5% (the top 5% of scores flagged)'
    >>> audit_heading({"k": None, "threshold": 0.4, "rule": "score >= 0.4"})
    'Fairness audit at threshold 0.4 (score >= 0.4 flagged)'
    """
    k, t = params.get("k"), params.get("threshold")
    if k is not None:
        label = _inputs.k_label(k)
        what = f"the top {label} of scores" if label.endswith("%") else f"the top {label} scores"
        return f"Fairness audit at k = {label} ({what} flagged)"
    if isinstance(t, Mapping):
        return "Fairness audit at per-group thresholds"
    if t is not None:
        return f"Fairness audit at threshold {float(t):g} (score >= {float(t):g} flagged)"
    return "Fairness audit of the flags given"


def _interventions_html(iv: InterventionOutcomes, img: str) -> list[str]:
    out = ["<h2>Intervention outcomes</h2>"]
    if iv.per_student is not None:
        out += [
            "<h3>Per student: before and after first contact</h3>",
            _table(_kv(iv.per_student.summary())),
            img,
        ]
    if iv.platform is not None:
        out += [
            "<h3>Platform: reach and caseloads</h3>",
            _table(_kv(iv.platform.summary())),
            _table(iv.platform.per_staff),
        ]
    if iv.institution is not None:
        out += ["<h3>Institution: pass and retention per term</h3>", _table(iv.institution)]
    if iv.comparison is not None:
        c = iv.comparison
        out += [
            "<h3>Contacted vs not contacted, same risk band</h3>",
            '<div class="caveat"><strong>Observational comparison &mdash; not causal.</strong> '
            f"{html.escape(OBSERVATIONAL_CAVEAT)}</div>",
            _table(c.bands, index=False),
            f'<p class="note">Weighted difference (contacted &minus; not): '
            f"{_fmt(c.pooled['difference'])} (approx. 95% CI {_fmt(c.pooled['ci_low'])} to "
            f"{_fmt(c.pooled['ci_high'])}): an association, not an effect.</p>",
        ] + [f'<p class="note">{html.escape(n)}</p>' for n in c.notes]
    return out


# ------------------------------------------------------------------------------- curves
def _precision_curve(y: np.ndarray, s: np.ndarray, points: int = 200) -> pd.DataFrame:
    n = len(y)
    counts = np.unique(np.round(np.linspace(1, n, min(n, points))).astype(np.int64))
    cut = _Cut(y, s, counts)
    out = {"share_flagged": counts / n}
    for rule in ("expected", "worst", "best"):
        suffix = "" if rule == "expected" else f"_{rule}"
        out[f"precision{suffix}"] = cut.precision(rule)
        out[f"recall{suffix}"] = cut.recall(rule)
    return pd.DataFrame(out)


def _marks(ranking: pd.DataFrame, n: int) -> pd.DataFrame:
    marks = ranking[ranking["n_flagged"] > 0][["n_flagged", "precision"]].copy()
    marks["share_flagged"] = marks["n_flagged"] / n
    return marks


# ------------------------------------------------------------------------------- evaluate
def evaluate(
    *,
    y_true: Any,
    scores: Any,
    k: Any = (0.05, 0.1, 0.2),
    threshold: float | None = None,
    n_bins: int = 10,
    attributes: Any = None,
    audit_k: float | int | None = None,
    audit_options: Mapping[str, Any] | None = None,
    fairness: FairnessAudit | None = None,
    groups: Any = None,
    capacity: int | Mapping[Any, int] | None = None,
    lead_time: LeadTime | None = None,
    backtest: BacktestResult | None = None,
    interventions: InterventionOutcomes | None = None,
    title: str = "Evaluation report",
    metadata: Mapping[str, Any] | None = None,
) -> EvaluationReport:
    """Evaluate risk scores in one call: metrics, caseload metrics, calibration, fairness, ...

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; probabilities in [0, 1] for the calibration metrics (other scores get the
        ranking metrics only, with a note).
    k : float, int or sequence, default (0.05, 0.1, 0.2)
        Caseloads for precision, recall and lift at k.
    threshold : float, optional
        Also report precision, recall and selection rate at ``score >= threshold``.
    n_bins : int, default 10
        Calibration bins.
    attributes : DataFrame, optional
        Audit attributes, one row per student: adds a :func:`fairness_audit` flagging the top
        ``audit_k``; without it, at ``threshold`` when given, else at the first ``k`` (with a
        note). The report's fairness heading says which.
    audit_k : float or int, optional
        The caseload the fairness audit flags (a fraction or a count), e.g. ``audit_k=0.1``
        with ``k=[0.05, 0.1, 0.2]``.
    audit_options : mapping, optional
        More keyword arguments for :func:`fairness_audit` (``min_group_size``,
        ``max_distinct_share``, ``reference``, ``intersections``, ``k``/``threshold``, ...).
    fairness : FairnessAudit, optional
        An audit already run (instead of ``attributes``).
    groups, capacity : optional
        Advisor group of each student and capacity per group: adds precision at capacity.
    lead_time : LeadTime, optional
        From :func:`lead_time` (it needs long-format scores over time).
    backtest : BacktestResult, optional
        From :func:`backtest`.
    interventions : InterventionOutcomes, optional
        Intervention outcomes to include.
    title : str, default "Evaluation report"
        Report title.
    metadata : mapping, optional
        JSON-ready facts to record (model name, data period, ...).

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> import studentprofile as sp
    >>> report = sp.evaluate(y_true=[0, 0, 1, 1, 0, 1], scores=[0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
    ...                      k=[2])
    >>> round(report.summary["roc_auc"], 3), float(report.ranking.loc["2", "precision"])
    (0.889, 1.0)
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    ks = list(k) if isinstance(k, Sequence) and not isinstance(k, str) else [k]
    n_b = _inputs.positive_int(n_bins, "n_bins", _inputs.N_BINS_INVALID)
    notes: list[str] = []
    n = len(y)
    pos = int(y.sum())
    summary: dict[str, Any] = {
        "n": n,
        "positives": pos,
        "prevalence": pos / n if n else float("nan"),
        "roc_auc": _roc_auc(y, s),
        "pr_auc": _pr_auc(y, s),
    }
    is_prob = bool(n) and float(s.min()) >= 0.0 and float(s.max()) <= 1.0
    if is_prob:
        eps = np.finfo(np.float64).eps
        p = np.clip(s, eps, 1 - eps)
        calibration, ece = _reliability(y, s, n_b, "uniform")
        summary["brier"] = float(np.mean((s - y) ** 2))
        summary["log_loss"] = float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))
        summary["ece"] = ece
    else:
        calibration, _ = _reliability(y, np.clip(s, 0, 1), n_b, "uniform")
        calibration = calibration.iloc[0:0]
        summary.update(brier=float("nan"), log_loss=float("nan"), ece=float("nan"))
        if n:
            notes.append(
                "scores are not probabilities in [0, 1]: Brier score, log loss and calibration "
                "are left out"
            )
    if threshold is not None:
        t = _inputs.threshold(threshold)
        flagged = s >= t
        r = rates(
            np.array([float((flagged & y).sum())]),
            np.array([float((flagged & ~y).sum())]),
            np.array([float((~flagged & y).sum())]),
            np.array([float((~flagged & ~y).sum())]),
        )
        summary["threshold"] = t
        summary["selection_rate"] = float(r["selection_rate"][0])
        summary["precision"] = float(r["precision"][0])
        summary["recall"] = float(r["tpr"][0])
        summary["fpr"] = float(r["fpr"][0])
    ranking = ranking_at_k(y, s, ks)
    capacity_table = None
    if (groups is None) != (capacity is None):
        raise ConfigError(
            "precision at capacity needs both groups= and capacity=",
            key="capacity" if capacity is None else "groups",
            arrived=f"groups={'given' if groups is not None else None}, capacity={capacity!r}",
        )
    if groups is not None and capacity is not None:
        capacity_table = capacity_report(y, s, groups, capacity)
    audit = fairness
    if audit_k is not None and attributes is None:
        raise ConfigError(
            "audit_k= sets the caseload of the fairness audit that attributes= runs",
            key="audit_k",
            arrived=f"audit_k={audit_k!r} without attributes=",
            hint="pass attributes= too (an audit given as fairness= was already run at its k)",
        )
    if attributes is not None:
        if fairness is not None:
            raise ConfigError(
                "pass attributes= or fairness=, not both",
                key="fairness",
                arrived="both",
                hint="fairness= takes an audit already run; attributes= runs one",
            )
        opts = dict(audit_options or {})
        if audit_k is not None:
            if "k" in opts or "threshold" in opts or "flags" in opts:
                raise ConfigError(
                    AUDIT_K_TWICE,
                    key="audit_k",
                    arrived=f"audit_k={audit_k!r} and audit_options keys {sorted(opts)!r}",
                    hint="pass the audit's caseload once, as audit_k=",
                )
            _inputs.resolve_k(audit_k, n, name="audit_k")
            opts["k"] = audit_k
        elif "k" not in opts and "threshold" not in opts and "flags" not in opts:
            if threshold is not None:
                opts["threshold"] = threshold
            else:
                opts["k"] = ks[0]
                if len(ks) > 1:
                    notes.append(
                        f"the fairness audit flags the top {_inputs.k_label(ks[0])}, the first "
                        f"of k={[_inputs.k_label(one) for one in ks]}; pass audit_k= to choose"
                    )
        if isinstance(attributes, pd.DataFrame | pd.Series) and isinstance(
            y_true, pd.Series
        ) and not attributes.index.equals(y_true.index):
            raise SchemaError(
                _inputs.INDEXES_DIFFER.format(a="y_true", b="attributes"),
                table="attributes",
                rule="same-index",
                arrived="different indexes",
                hint="align them first",
            )
        audit = fairness_audit(
            y_true=y,
            scores=s,
            attributes=attributes.reset_index(drop=True)
            if isinstance(attributes, pd.DataFrame | pd.Series)
            else attributes,
            **opts,
        )
    meta = {
        "version": __version__,
        "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        **dict(metadata or {}),
    }
    return EvaluationReport(
        title=title,
        summary=summary,
        ranking=ranking,
        calibration=calibration,
        capacity=capacity_table,
        fairness=audit,
        lead_time=lead_time,
        backtest=backtest,
        interventions=interventions,
        notes=notes,
        metadata=meta,
        _y=y,
        _s=s,
        _k=ks,
    )
