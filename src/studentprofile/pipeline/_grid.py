"""A run's model grid: candidates and baselines on the same splits, the choice, post-modeling.

With ``[model] grid`` (or ``ablation``) a run backtests every candidate, the baselines and the
ablation variants through :func:`studentprofile.evaluation.compare`, chooses the model it ships
with ``[model] select_rule`` among the grid's own candidates, and keeps the post-modeling
(:func:`studentprofile.evaluation.post_modeling`) for the report, the model card and MLflow. The
ABC rule baseline lives in :mod:`studentprofile.warning`, which the pipeline may import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._sections import GridCandidate
from studentprofile.warning._baseline import ABC_DEFAULTS

__all__ = ["ABC_DEFAULTS", "GridRun", "abc_baseline", "grid_card_section", "run_grid"]

logger = logging.getLogger(__name__)

@dataclass
class GridRun:
    """What a run's grid step made.

    Attributes
    ----------
    comparison : Comparison
        Every candidate's backtest.
    post : PostModeling
        Per-split metrics, the selection and regret, lists, crosstabs (and mitigation later).
    chosen : str
        The shipped candidate.
    params : dict of str to dict
        Each grid candidate's RiskModel parameters.
    kinds : dict of str to str
        Each candidate's kind: ``grid``, ``ablation``, ``baseline``.
    abc_rules : dict or None
        The ABC baseline's rules (``ABCRules.to_dict``), when it ran.
    notes : list of str
    """

    comparison: Any
    post: Any
    chosen: str
    params: dict[str, dict[str, Any]]
    kinds: dict[str, str]
    abc_rules: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self, select_rule: str | None = None) -> dict[str, Any]:
        """Return the grid's outcome for ``RunResult.facts["grid"]``, the CLI and ``--json``.

        Parameters
        ----------
        select_rule : str, optional
            The configured rule (default: the one post-modeling used).

        Returns
        -------
        dict
            ``chosen``, ``select_rule``, ``metric``, ``candidates`` (name -> kind),
            ``table`` (one record per candidate: ``candidate``, ``kind`` and the mean over the
            splits of each headline metric: AUC, precision at k, ECE), ``rules`` (one record
            per selection rule: ``rule``, ``chosen`` among every candidate, baselines included,
            ``mean_regret``, ``max_regret``),
            ``baseline_beat`` (the baselines whose mean ``metric`` beat every grid candidate's,
            with the best grid candidate; empty when none did) and ``notes`` (e.g. a baseline a
            rule preferred, a baseline left out). JSON-safe.
        """
        from studentprofile.evaluation import greater_is_better, to_json_safe

        post = self.post
        names = list(self.comparison.candidates)
        table = [{"candidate": name, "kind": self.kinds.get(name, "grid"),
                  **{m: float(t[name].mean()) for m, t in post.per_split.items()
                     if name in t.columns}} for name in names]
        rules = [{"rule": str(rule), "chosen": row["chosen"],
                  "mean_regret": row["mean_regret"], "max_regret": row["max_regret"]}
                 for rule, row in post.audition.summary.iterrows()]
        metric = post.metric
        sign = 1.0 if greater_is_better(metric) else -1.0
        means = {r["candidate"]: r.get(metric) for r in table}
        grid = {n: v for n, v in means.items()
                if self.kinds.get(n) == "grid" and v is not None and v == v}
        beat = []
        if grid:
            best = max(grid, key=lambda n: sign * grid[n])
            for name, v in means.items():
                if self.kinds.get(name) == "baseline" and v is not None and v == v \
                        and sign * v > sign * grid[best]:
                    beat.append({"baseline": name, "metric": metric, "value": v,
                                 "best_grid": best, "best_grid_value": grid[best]})
        return dict(to_json_safe({
            "chosen": self.chosen, "select_rule": select_rule or post.select_rule,
            "metric": metric, "candidates": dict(self.kinds), "table": table, "rules": rules,
            "baseline_beat": beat, "notes": [str(n) for n in post.notes],
        }))


def abc_baseline(cfg: ExperimentConfig, info: Mapping[str, Any]) -> tuple[Any, Any, str | None]:
    """Build the ABC rule baseline as a candidate: ``(RuleScorer, ABCRules, note)``.

    :func:`studentprofile.warning.abc_baseline`, the one Python users call: ``[model] abc``
    gives its ``rules`` (``ABCRules.classic`` keywords, errors keyed ``model.abc.*``); without
    it each classic indicator of :data:`ABC_DEFAULTS` that matches exactly one feature column
    is used. With none, the baseline is left out and the note says why.
    """
    from studentprofile.warning import abc_baseline as make

    given = dict(cfg.model.abc)
    if not given:
        try:
            scorer = make(info)
        except ConfigError:
            return None, None, ("the ABC rule baseline was left out: none of its classic "
                                "indicators (attendance, behaviour, course) matched one "
                                "feature column; name them with [model] abc = {...}")
        return scorer, scorer.score.rules, None
    try:
        scorer = make(info, rules=given)
    except ConfigError as exc:
        key = str(exc.key).replace("rules", "model.abc", 1) if str(exc.key).startswith(
            "rules") else f"model.abc.{exc.key}"
        raise ConfigError(exc.message, key=key, arrived=exc.arrived, hint=exc.hint) from exc
    return scorer, scorer.score.rules, None


def run_grid(
    cfg: ExperimentConfig,
    tables: Any,
    splits: Any,
    *,
    builder: Any,
    info: Mapping[str, Any],
    grid: pd.DataFrame,
    X: pd.DataFrame,
    train_mask: Any,
    test_mask: Any,
    say: Callable[[str], None],
) -> GridRun:
    """Backtest the grid, the baselines and the ablation; choose the shipped candidate."""
    from studentprofile.evaluation import compare, post_modeling
    from studentprofile.evaluation._inputs import k_label
    from studentprofile.models import RiskModel

    m = cfg.model
    base = {"random_state": cfg.seed, **dict(m)}
    entries = m.grid or (GridCandidate(name="lgbm"),)
    params = {c.name: {**base, **dict(c.params)} for c in entries}
    candidates: dict[str, Any] = {name: RiskModel(**p) for name, p in params.items()}
    notes: list[str] = []
    abc_rules = None
    extra: dict[str, Any] = {}
    if "abc_rules" in m.baselines:
        abc, rules, note = abc_baseline(cfg, info)
        if abc is not None:
            extra["abc_rules"] = abc
            abc_rules = rules.to_dict()
        if note:
            notes.append(note)
    others = [b for b in m.baselines if b != "abc_rules"]
    say(f"model grid: {len(entries)} candidate(s), baselines {list(m.baselines)!r}"
        + (f", ablation {list(m.ablation)!r}" if m.ablation else ""))
    comparison = compare(
        candidates, tables, splits, feature_builder=builder, outcome=list(cfg.label.outcome),
        grid=grid, k=list(cfg.evaluation.k), baselines=others, extra_baselines=extra,
        truncate=cfg.splits.truncate,
        train_mask=train_mask, test_mask=test_mask, ablation=m.ablation,
        ablation_of=entries[0].name,
    )
    kinds = {}
    for name in comparison.candidates:
        if name in params:
            kinds[name] = "grid"
        elif name in comparison.baselines or name == "abc_rules":
            kinds[name] = "baseline"
        else:
            kinds[name] = "ablation"
    baselines = [n for n, kind in kinds.items() if kind == "baseline"]
    comparison.baselines = baselines
    k = cfg.evaluation.audit_k
    metric = m.select_metric
    have = set(comparison.metrics["metric"])
    if metric is None:
        metric = f"precision@{k_label(k)}" if f"precision@{k_label(k)}" in have else "roc_auc"
    elif metric not in have:
        raise ConfigError("the selection metric is not one the backtest measures",
                          key="model.select_metric", arrived=repr(metric),
                          hint=f"choose one of {sorted(have)!r} (precision@k needs k in "
                          "evaluation.k)")
    post = post_modeling(comparison, k=k, metric=metric, select_rule=m.select_rule,
                         eligible=list(params), X=X)
    chosen = post.chosen or entries[0].name
    if post.chosen is None:
        notes.append(f"no grid candidate has a value of {metric}: shipping the first, "
                     f"{chosen!r}")
    post.notes.extend(notes)
    return GridRun(comparison=comparison, post=post, chosen=chosen, params=params, kinds=kinds,
                   abc_rules=abc_rules, notes=notes)


def mitigation(cfg: ExperimentConfig, tables: Any, scores: pd.DataFrame) -> tuple[Any, str | None]:
    """Make the opt-in mitigation of the shipped model's backtest: ``(result, note)``."""
    from studentprofile.evaluation import mitigate_over_time

    f = cfg.fairness
    if not f.mitigate or f.attribute is None:
        return None, None
    group = tables.students.set_index("student_id")[f.attribute]
    oc = tables.outcomes
    reached = oc[oc["outcome"].astype(str).isin(cfg.label.outcome)
                 & oc["student_id"].isin(scores["student_id"])]
    try:
        result = mitigate_over_time(scores, group, k=cfg.evaluation.audit_k,
                                    constraint=f.mitigate, tolerance=f.tolerance,
                                    min_group_size=f.min_group_size, attribute=f.attribute,
                                    outcomes=reached)
    except ConfigError as exc:  # an opted-in mitigation that cannot be made is reported
        return None, f"fairness mitigation ({f.mitigate} on {f.attribute!r}) not made: {exc}"
    return result, None


def grid_card_section(grid: GridRun | None, mitigated: Any, mitigation_note: str | None,
                      cfg: ExperimentConfig) -> str:
    """Return Markdown for the model card: the grid, the choice and its regret, the mitigation."""
    lines: list[str] = []
    if grid is not None:
        post = grid.post
        lines += [
            "", "## Model grid and selection", "",
            f"{len(grid.comparison.candidates)} candidates were backtested on the same splits "
            f"and features: grid {[n for n, k in grid.kinds.items() if k == 'grid']}, "
            f"baselines {[n for n, k in grid.kinds.items() if k == 'baseline']}, ablation "
            f"{[n for n, k in grid.kinds.items() if k == 'ablation']}.",
            f"This model is **{grid.chosen}**, chosen by `{post.select_rule}` on "
            f"{post.metric} among the grid candidates.", "",
            f"| candidate | kind | {' | '.join(post.per_split)} |",
            "|---|---|" + "---|" * len(post.per_split),
        ]
        for name in grid.comparison.candidates:
            means = [post.per_split[mt][name].mean() for mt in post.per_split]
            lines.append(f"| {name} | {grid.kinds[name]} | "
                         + " | ".join(f"{v:.3f}" for v in means) + " |")
        lines += ["", "| selection rule | chosen | mean regret | max regret |", "|---|---|---|---|"]
        for rule, row in post.audition.summary.iterrows():
            lines.append(f"| {rule} | {row['chosen']} | {row['mean_regret']:.4f} | "
                         f"{row['max_regret']:.4f} |")
        if post.notes:
            lines += ["", *[f"- {n}" for n in post.notes]]
    if mitigated is not None or mitigation_note:
        f = cfg.fairness
        lines += ["", "## Fairness mitigation (opt-in)", "",
                  f"Configured: `{f.mitigate}` on `{f.attribute}` within {f.tolerance:g}, at the "
                  f"audited caseload (top {cfg.evaluation.audit_k:.0%} per as-of date)."]
        if mitigated is not None:
            gap = mitigated.gap_closed()
            lines += [
                f"Shares fitted on split(s) {mitigated.fitted_on}, judged on split(s) "
                f"{mitigated.judged_on}: constraint {'met' if mitigated.met else 'NOT met'}.",
                "", "| measure | value |", "|---|---|",
                *[f"| {key} | {value:.4f} |" for key, value in gap.items()],
                "", "Shares of the caseload: " + ", ".join(
                    f"{g}: {s:.3f}" for g, s in mitigated.fitted.groups["share"].items()),
                "", f"*{mitigated.notice}*",
            ]
            if mitigated.notes:
                lines += ["", *[f"- {n}" for n in mitigated.notes]]
        if mitigation_note:
            lines.append(f"- {mitigation_note}")
    return "\n".join(lines) + ("\n" if lines else "")
