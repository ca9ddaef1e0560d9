"""Post-modeling: everything a model grid's reader looks at after the backtests, in one object.

:func:`post_modeling` takes a :class:`~studentprofile.evaluation.Comparison` and gathers, in
triage's sense of *post-modeling*: the candidates' metrics per split, the selection rules'
choices and regret (:func:`~studentprofile.evaluation.audition`), the overlap of the candidates'
top-k lists and each list's churn between consecutive as-of dates, and, given the features,
crosstabs of flagged vs not flagged and an error analysis (false vs true positives) of one
candidate's caseload; a mitigation result joins when one was made. :class:`PostModeling` renders
as report sections (:meth:`PostModeling.html`), figures and artefact files without student ids.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.evaluation import _inputs
from studentprofile.evaluation._crosstabs import Crosstabs, crosstabs, error_analysis
from studentprofile.evaluation._lists import ListComparison, compare_lists, list_churn
from studentprofile.evaluation._selection import Audition, SelectionRule, audition

__all__ = ["HEADLINE_METRICS", "PostModeling", "post_modeling"]

HEADLINE_METRICS = ("roc_auc", "precision@{k}", "ece")
"""The metrics shown per split and candidate (``{k}`` is the caseload's label)."""

FOCUS_UNKNOWN = "focus must name one of the comparison's candidates"
X_INVALID = "X must be the feature matrix indexed by (student_id, as_of) the candidates read"


@dataclass
class PostModeling:
    """What :func:`post_modeling` returns.

    Attributes
    ----------
    k : float or int
        The caseload of the lists, crosstabs and error analysis.
    metric : str
        The metric the selection rules judged.
    per_split : dict of str to DataFrame
        For each headline metric (AUC, precision at ``k``, ECE): split x candidate.
    summary : DataFrame
        Mean and standard deviation over splits, candidate x metric.
    baselines : list of str
        Which candidates are baselines.
    audition : Audition
        The selection rules' choices and regrets.
    chosen : str or None
        The candidate chosen to ship (``select_rule`` among ``eligible``), if one was asked.
    select_rule : str or None
        The rule that chose it.
    lists : ListComparison or None
        Top-k overlap (Jaccard) and rank correlation between candidates, per as-of date.
    churn : ListComparison or None
        Each candidate's list churn between consecutive as-of dates.
    crosstabs, errors : Crosstabs or None
        Flagged vs not flagged, and false vs true positives, of ``focus``'s caseload.
    focus : str or None
        The candidate the crosstabs and error analysis read.
    mitigation : object or None
        A :class:`~studentprofile.evaluation.MitigationOverTime` (or ``Mitigation``).
    notes : list of str
    """

    k: Any
    metric: str
    per_split: dict[str, pd.DataFrame]
    summary: pd.DataFrame
    baselines: list[str]
    audition: Audition
    chosen: str | None = None
    select_rule: str | None = None
    lists: ListComparison | None = None
    churn: ListComparison | None = None
    crosstabs: Crosstabs | None = None
    errors: Crosstabs | None = None
    focus: str | None = None
    mitigation: Any = None
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------- output
    def selection(self) -> pd.DataFrame:
        """Each rule's final choice and regret (``audition.summary``)."""
        return self.audition.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: aggregates only, no student ids."""
        from studentprofile.evaluation._json import to_json_safe

        out: dict[str, Any] = {
            "k": self.k,
            "metric": self.metric,
            "chosen": self.chosen,
            "select_rule": self.select_rule,
            "baselines": self.baselines,
            "per_split": {m: t.reset_index() for m, t in self.per_split.items()},
            "selection": self.audition.to_dict(),
            "notes": self.notes,
        }
        if self.lists is not None:
            out["list_overlap"] = self.lists.summary.reset_index()
        if self.churn is not None:
            out["list_churn"] = self.churn.summary.reset_index()
        if self.crosstabs is not None:
            out["crosstabs"] = {"focus": self.focus, "notes": self.crosstabs.notes,
                                "caveat": self.crosstabs.caveat,
                                "table": self.crosstabs.frame.reset_index()}
        if self.errors is not None:
            out["error_analysis"] = {"focus": self.focus, "notes": self.errors.notes,
                                     "table": self.errors.frame.reset_index()}
        if self.mitigation is not None:
            out["mitigation"] = self.mitigation.to_dict()
        return dict(to_json_safe(out))

    def figures(self) -> dict[str, Any]:
        """Draw the post-modeling figures: the headline metric per split, the crosstabs.

        Returns
        -------
        dict
            Name -> matplotlib Figure (``candidates``, ``crosstabs``, ``error_analysis``).
        """
        from studentprofile.evaluation._plots import _figure

        figs: dict[str, Any] = {}
        table = self.per_split.get(self.metric)
        if table is not None and len(table):
            fig = _figure(6.4, 3.6)
            ax = fig.add_subplot()
            x = np.arange(len(table))
            for name in table.columns:
                style = "--" if name in self.baselines else "-"
                ax.plot(x, table[name].to_numpy(dtype=float), style, marker="o",
                        label=str(name), linewidth=1.2)
            ax.set_xticks(x, [str(i) for i in table.index])
            ax.set_xlabel("split")
            ax.set_ylabel(self.metric)
            ax.set_title("Candidates per split (baselines dashed)")
            ax.legend(fontsize=7, loc="best")
            figs["candidates"] = fig
        if self.crosstabs is not None and self.crosstabs.frame["rank_biserial"].notna().any():
            figs["crosstabs"] = self.crosstabs.figure()
        if self.errors is not None and self.errors.frame["rank_biserial"].notna().any():
            figs["error_analysis"] = self.errors.figure()
        return figs

    def html(self, imgs: dict[str, str] | None = None) -> list[str]:
        """Return the report's post-modeling sections (HTML fragments, names escaped).

        Parameters
        ----------
        imgs : dict, optional
            Figure name -> ``<img>`` tag (the report embeds the PNGs).
        """
        from studentprofile.evaluation._report import _table

        imgs = imgs or {}
        e = html.escape
        label = _inputs.k_label(self.k)
        parts = [
            "<h2>Model grid: candidates per split</h2>",
            '<p class="note">Every candidate (baselines marked) was backtested on the same '
            "splits and the same features. AUC and ECE over each split's test rows; precision "
            f"at {e(label)} per as-of date, averaged.</p>",
        ]
        for metric, table in self.per_split.items():
            parts += [f"<h3>{e(metric)}</h3>", '<div class="scroll">', _table(table), "</div>"]
        parts.append(imgs.get("candidates", ""))
        chosen = (f" The shipped model is <strong>{e(self.chosen)}</strong>, chosen by "
                  f"<code>{e(str(self.select_rule))}</code>." if self.chosen else "")
        parts += [
            "<h2>Selection over time</h2>",
            f'<p class="note">Each rule chooses on the splits so far ({e(self.metric)}); '
            "regret is how far its choice fell short of the best candidate on the next split "
            f"(lower is better; with few splits, weak evidence).{chosen}</p>",
            _table(self.audition.summary),
            '<div class="scroll">', _table(self.audition.choices), "</div>",
        ]
        if self.lists is not None:
            parts += [
                f"<h2>Top-{e(label)} lists: who the candidates flag</h2>",
                '<p class="note">Per as-of date, averaged: the overlap of two candidates\' '
                "lists (Jaccard) and the rank correlation of their scores over the students on "
                "either list.</p>",
                '<div class="scroll">', _table(self.lists.summary), "</div>",
            ]
        if self.churn is not None:
            parts += [
                "<h2>List churn between consecutive as-of dates</h2>",
                '<p class="note">Students entering and leaving each candidate\'s list from one '
                "as-of date to the next (those who left and were no longer scored counted "
                "apart), averaged.</p>",
                _table(self.churn.summary),
            ]
        for title, part, img in (
            ("Crosstabs: flagged vs not flagged", self.crosstabs, "crosstabs"),
            ("Error analysis: false vs true positives on the caseload", self.errors,
             "error_analysis"),
        ):
            if part is None:
                continue
            parts += [
                f"<h2>{e(title)} ({e(str(self.focus))}, top {e(label)})</h2>",
                f'<p class="note"><em>{e(part.caveat)}</em></p>',
                *[f'<p class="note">{e(n)}</p>' for n in part.notes],
                '<div class="scroll">', _table(part.frame.head(20)), "</div>",
                imgs.get(img, ""),
            ]
        if self.mitigation is not None:
            m = self.mitigation
            parts += m.html() if hasattr(m, "html") else [m._repr_html_()]
        parts += [f'<p class="note">{e(n)}</p>' for n in self.notes]
        return [p for p in parts if p]

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write the artefacts (CSV for people, JSON, PNG figures) into ``folder``.

        Parameters
        ----------
        folder : str or Path
            Created when missing.

        Returns
        -------
        dict of str to Path
            Name -> file (``post_modeling.json``, ``candidates.csv``, ``selection.csv``,
            ``list_overlap.csv``, ``list_churn.csv``, ``crosstabs.csv``,
            ``error_analysis.csv``, ``mitigation.json`` and the figures' PNG).
        """
        from studentprofile._files import atomic_write_bytes, atomic_write_json, write_people_csv
        from studentprofile.evaluation._plots import to_png

        out_dir = Path(folder)
        out_dir.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        files["post_modeling"] = atomic_write_json(out_dir / "post_modeling.json",
                                                   self.to_dict())
        long = pd.concat(
            {m: t.rename_axis("split").reset_index().melt(id_vars="split",
                                                          var_name="candidate")
             for m, t in self.per_split.items()}, names=["metric"]
        ).reset_index(level=0).reset_index(drop=True)
        files["candidates"] = write_people_csv(long, out_dir / "candidates.csv")
        files["selection"] = write_people_csv(self.audition.summary.reset_index(),
                                              out_dir / "selection.csv")
        if self.lists is not None:
            files["list_overlap"] = write_people_csv(self.lists.summary.reset_index(),
                                                     out_dir / "list_overlap.csv")
        if self.churn is not None:
            files["list_churn"] = write_people_csv(self.churn.summary.reset_index(),
                                                   out_dir / "list_churn.csv")
        if self.crosstabs is not None:
            files["crosstabs"] = write_people_csv(self.crosstabs.frame.reset_index(),
                                                  out_dir / "crosstabs.csv")
        if self.errors is not None:
            files["error_analysis"] = write_people_csv(self.errors.frame.reset_index(),
                                                       out_dir / "error_analysis.csv")
        if self.mitigation is not None:
            files["mitigation"] = atomic_write_json(out_dir / "mitigation.json",
                                                    self.mitigation.to_dict())
        for name, fig in self.figures().items():
            files[f"{name}_png"] = atomic_write_bytes(out_dir / f"{name}.png", to_png(fig))
        return files

    def __repr__(self) -> str:
        n = len(next(iter(self.per_split.values())).columns) if self.per_split else 0
        chosen = f", ships {self.chosen!r} ({self.select_rule})" if self.chosen else ""
        return f"PostModeling({n} candidate(s), {self.metric}{chosen})"

    def _repr_html_(self) -> str:
        from studentprofile import _html

        bound: dict[str, Any] = {"max_rows": _html.MAX_ROWS, "max_cols": _html.MAX_COLS}
        label = _inputs.k_label(self.k)
        means = pd.DataFrame({m: t.mean() for m, t in self.per_split.items()})
        if len(means):
            means.insert(0, "baseline", [c in self.baselines for c in means.index])
        parts = [
            _html.note(f"Mean over {len(next(iter(self.per_split.values())))} split(s); "
                       ".per_split has each split, .html() the report's sections.")
            if self.per_split else "",
            _html.table(means.rename_axis("candidate"), **bound),
            _html.heading(f"Selection over time ({self.metric}; regret: lower is better)"),
            _html.note(f"Ships {self.chosen} (chosen by {self.select_rule})."
                       if self.chosen else ""),
            _html.table(self.audition.summary, **bound),
        ]
        for title, part in ((f"Top-{label} list overlap between candidates", self.lists),
                            ("List churn between consecutive as-of dates", self.churn)):
            if part is not None:
                parts += [_html.heading(title), _html.table(part.summary, **bound)]
        for title, tab in (("Crosstabs: flagged vs not flagged", self.crosstabs),
                           ("Error analysis: false vs true positives", self.errors)):
            if tab is not None:
                parts += [_html.heading(f"{title} ({self.focus}, top {label}; descriptive)"),
                          _html.table(tab.frame, **bound)]
        if self.mitigation is not None:
            parts += [_html.heading("Fairness mitigation (opt-in)"),
                      _html.note(repr(self.mitigation))]
        parts += [_html.note(n) for n in self.notes]
        return _html.display(repr(self), parts)


def _rule(name: str, rules: Sequence[SelectionRule]) -> SelectionRule:
    for r in rules:
        if name in (r.name, r.rule):
            return r
    raise ConfigError("select_rule must name one of the rules", key="select_rule",
                      arrived=repr(name), hint=f"choose one of {[r.name for r in rules]!r}")


def post_modeling(
    comparison: Any,
    *,
    k: Any = 0.1,
    metric: str | None = None,
    rules: Sequence[SelectionRule] | None = None,
    select_rule: str | None = None,
    eligible: Sequence[str] | None = None,
    X: pd.DataFrame | None = None,
    focus: str | None = None,
    mitigation: Any = None,
    lists: bool = True,
) -> PostModeling:
    """Gather a comparison's post-modeling: per-split metrics, selection, lists, crosstabs.

    Parameters
    ----------
    comparison : Comparison
        From :func:`~studentprofile.evaluation.compare`.
    k : float or int, default 0.1
        The caseload per as-of date (lists, crosstabs, error analysis).
    metric : str, optional
        The metric the selection rules judge (default ``precision@<k>`` when the comparison
        has it, else ``roc_auc``).
    rules : list of SelectionRule, optional
        Default :func:`~studentprofile.evaluation.default_rules`.
    select_rule : str, optional
        Choose the candidate to ship with this rule (its name or kind, e.g.
        ``"best_average_value"``), among ``eligible``.
    eligible : list of str, optional
        The candidates that may be shipped (default: all that are not baselines).
    X : DataFrame, optional
        The features the candidates read, indexed by (``student_id``, ``as_of``): with it,
        crosstabs and the error analysis of ``focus``'s caseload are added.
    focus : str, optional
        The candidate the crosstabs read (default the chosen one, else the first).
    mitigation : MitigationOverTime or Mitigation, optional
        Shown as its own section when given.
    lists : bool, default True
        Compare the top-k lists between candidates and over time.

    Returns
    -------
    PostModeling

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from studentprofile.evaluation import TemporalSplits, compare
    >>> from studentprofile.tables import EventTables
    >>> students = pd.DataFrame({"student_id": list("abcdefgh"),
    ...                          "engagement": [0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.9, 0.2]})
    >>> outcomes = pd.DataFrame({"student_id": ["b", "d", "f", "h"],
    ...                          "time": [15.0, 25.0, 45.0, 55.0], "outcome": "withdrawn"})
    >>> class Engagement:
    ...     def transform(self, tables, grid):
    ...         e = grid["student_id"].map(tables.students.set_index("student_id")["engagement"])
    ...         index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
    ...         return pd.DataFrame({"engagement": e.to_numpy()}, index=index)
    >>> comparison = compare({"tree": DecisionTreeClassifier(max_depth=1)},
    ...                      EventTables(students=students, outcomes=outcomes),
    ...                      TemporalSplits(test_start=40.0, test_end=60.0, horizon=20, every=10),
    ...                      feature_builder=Engagement(), outcome="withdrawn", k=[2],
    ...                      test_observed_until=100.0)
    >>> post = post_modeling(comparison, k=2, metric="roc_auc", select_rule="best_average_value")
    >>> post.chosen, list(post.per_split)
    ('tree', ['roc_auc', 'precision@2', 'ece'])
    """
    from studentprofile.evaluation._selection import default_rules

    candidates = list(comparison.candidates)
    have = set(comparison.metrics["metric"])
    label = _inputs.k_label(k)
    if metric is None:
        metric = f"precision@{label}" if f"precision@{label}" in have else "roc_auc"
    rules = default_rules() if rules is None else list(rules)
    per_split = {}
    for m in (h.format(k=label) for h in HEADLINE_METRICS):
        if m in have:
            per_split[m] = comparison.table(m)
    if metric not in per_split:
        per_split[metric] = comparison.table(metric)
    result = audition(comparison, metric, rules=rules)
    notes: list[str] = []
    chosen = rule_name = None
    if select_rule is not None:
        rule = _rule(select_rule, rules)
        pool = [c for c in (eligible if eligible is not None else
                            [c for c in candidates if c not in comparison.baselines])
                if c in candidates]
        if not pool:
            raise ConfigError("no eligible candidate to choose from", key="eligible",
                              arrived=repr(eligible), hint=f"choose from {candidates!r}")
        table = comparison.table(metric)[pool]
        times = list(comparison.split_times())
        keep = table.notna().any(axis=1).to_numpy()  # as audition: splits with values only
        if keep.any():
            table, times = table[keep], [t for t, ok in zip(times, keep, strict=True) if ok]
        chosen = rule.pick(table, greater_is_better=result.greater_is_better, times=times)
        rule_name = rule.name
        best_overall = result.summary.loc[rule.name, "chosen"]
        if best_overall is not None and best_overall not in pool:
            notes.append(f"Under {rule.name}, {best_overall!r} (not eligible to ship) beat "
                         f"every eligible candidate on {metric}.")
    out = PostModeling(k=k, metric=metric, per_split=per_split, summary=comparison.summary(),
                       baselines=list(comparison.baselines), audition=result, chosen=chosen,
                       select_rule=rule_name, mitigation=mitigation, notes=notes)
    if lists:
        scores = comparison.scores()
        scores = scores[scores["label"].notna()] if scores["label"].notna().any() else scores
        if len(candidates) > 1:
            out.lists = compare_lists(scores, k=k)
        out.churn = list_churn(scores, k=k)
    if X is not None:
        if not isinstance(X, pd.DataFrame) or list(X.index.names) != ["student_id", "as_of"]:
            raise ConfigError(X_INVALID, key="X", arrived=f"an object of type "
                              f"{type(X).__name__}", hint="pass the builder's output")
        focus = focus or chosen or candidates[0]
        if focus not in candidates:
            raise ConfigError(FOCUS_UNKNOWN, key="focus", arrived=repr(focus),
                              hint=f"choose one of {candidates!r}")
        out.focus = focus
        s = comparison.results[focus].scores
        s = s[s["label"].notna()]
        if len(s):
            rows = X.loc[pd.MultiIndex.from_frame(s[["student_id", "as_of"]])]
            flagged = np.zeros(len(s), dtype=bool)
            score = s["score"].to_numpy(dtype=np.float64)
            for _, idx in s.groupby("as_of", sort=True).indices.items():
                n = _inputs.resolve_k(k, len(idx))
                order = idx[np.argsort(-score[idx], kind="mergesort")]
                flagged[order[:n]] = True
            if 0 < flagged.sum() < len(flagged):
                out.crosstabs = crosstabs(rows, flagged)
            y = s["label"].to_numpy(dtype=np.int64)
            on = flagged.astype(bool)
            if y[on].any() and (~y[on].astype(bool)).any():
                frame = rows.reset_index(level="as_of")
                out.errors = error_analysis(frame, y, score, k=k, by="as_of")
    return out
