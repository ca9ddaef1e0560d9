"""The model card: one Markdown page an auditor can read without running anything."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from studentprofile.pipeline._config import ExperimentConfig

__all__ = ["model_card"]

INTENDED_USE = """\
* **Intended use.** Rank currently enrolled students by their estimated risk of {label} within
  the next {horizon:g} days so that advisors can offer support earlier, together with the
  reasons shown for each student. A person decides what to do; the score only orders the list.
* **Not for.** Admission, grading, sanctions, financial-aid or disciplinary decisions; any
  decision made without a person reviewing it; students or institutions unlike the training
  data (other programmes, periods or delivery modes) without a new backtest; inferring anything
  about a group from the audit attributes.
* **Who reads it.** Advisors see risk, tier and plain-language reasons; audit attributes and
  well-being data never appear in reasons unless allowed by name.
"""

SENSITIVE = """\
* Audit attributes ({attrs}) are kept **only** for the fairness audit below: they are not model
  features (the feature list below is complete) and never appear in reasons.
* Well-being data, when present, is excluded from features and reasons unless allowed by name.
* No raw student identifier is written to the tracking store, the reports or this card; data
  are identified by SHA-256 fingerprints. Per-student artefacts, when asked for, carry a keyed
  pseudonym (HMAC-SHA256), never the identifier.
"""

LIMITATIONS = """\
* Performance is measured by a temporal backtest on past cohorts; a new cohort, curriculum or
  data-collection change can shift it. Rerun the backtest before each term and watch drift.
* The label is what the records say ({label}); students who leave without it being recorded,
  or whose outcome is recorded late, are mislabelled.
* Calibration holds on the backtest period; probabilities on a population with another base
  rate need recalibrating before being read as probabilities.
* Fairness verdicts compare groups on the audited attributes only, with small groups
  suppressed; passing them does not prove the absence of bias on other attributes or their
  intersections beyond pairs.
* Explanations (SHAP values) describe the model, not causes: a reason says what moved the score,
  not what would help the student.
"""


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "n/a"
    if float(f).is_integer():
        return f"{int(f):,}"
    return f"{f:.{digits}f}"


def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_num(row[c]) if not isinstance(row[c], str) else row[c]
                                       for c in cols) + " |")
    return "\n".join(lines)


def model_card(
    cfg: ExperimentConfig,
    *,
    facts: Mapping[str, Any],
    report: Any,
    backtest: Any,
    audit: Any,
    feature_info: Mapping[str, Any],
    model: Any,
    lead: Any = None,
) -> str:
    """Render the model card (Markdown) of a pipeline run.

    Parameters
    ----------
    cfg : ExperimentConfig
        The experiment.
    facts : mapping
        Row counts, period, fingerprints, versions, tiers (from :func:`run`).
    report : EvaluationReport
        The backtest's evaluation.
    backtest : BacktestResult
        Per-split metrics.
    audit : FairnessAudit or None
        The fairness audit.
    feature_info : mapping of str -> FeatureInfo
        The model's features.
    model : RiskModel
        The final model.
    lead : LeadTime, optional
        Lead times.

    Returns
    -------
    str
        Markdown.
    """
    label = " or ".join(cfg.label.outcome)
    out: list[str] = []
    add = out.append
    add(f"# Model card: {cfg.name}")
    add("")
    add(f"Risk of **{label} within {cfg.label.horizon:g} days** of each as-of date, from a "
        f"calibrated LightGBM model (studentprofile {facts['versions']['studentprofile']}).")
    if cfg.description:
        add("")
        add(cfg.description.strip())
    add("")
    add("## Intended use and misuse")
    add("")
    add(INTENDED_USE.format(label=label, horizon=cfg.label.horizon))
    add("## Data")
    add("")
    period = facts.get("period", {})
    add(f"* Source: {facts['dataset']}; period {period.get('first')} to {period.get('last')} "
        f"({period.get('time_kind', '')} times).")
    add(f"* {facts['students']:,} students, {facts['events']:,} events; "
        f"{facts['grid_rows']:,} student x as-of rows every {cfg.grid.every:g} days "
        f"({cfg.grid.per}); {facts['labelled_rows']:,} labelled rows, "
        f"{facts['positive_rate']:.1%} positive.")
    add("* Rows are unlabelled (and unused) when the student had already reached the outcome "
        "or the label window runs past the end of the data.")
    add("* Fingerprints (SHA-256 of each table's contents):")
    for k, v in facts["fingerprints"].items():
        add(f"  * `{k}`: `{v}`")
    add("")
    add("## Features by family")
    add("")
    fams: dict[str, list[str]] = {}
    # audit attributes RiskModel.fit left out of the features (name -> why)
    excluded = dict((getattr(model, "training_info_", {}) or {}).get("excluded_features") or {})
    for name, inf in feature_info.items():
        if name in excluded:
            continue
        fam = getattr(inf, "family", "other") or "other"
        phrase = getattr(inf, "phrase", name) or name
        sens = getattr(inf, "sensitivity", "") or ""
        flag = f" ({sens})" if sens not in ("", "none", "normal", "standard") else ""
        fams.setdefault(str(fam), []).append(f"`{name}`: {phrase}{flag}")
    for fam, items in fams.items():
        add(f"* **{fam}** ({len(items)}): " + "; ".join(items))
    add("")
    add("Every feature at an as-of date uses only records known before that date "
        "(`known_at < as_of`).")
    add("")
    add("## Sensitive data policy")
    add("")
    add(SENSITIVE.format(attrs=", ".join(facts.get("audit_attributes") or []) or "none"))
    if excluded:
        add("Columns left out of the model's features as audit attributes, and why:")
        add("")
        for name, why in excluded.items():
            add(f"* `{name}`: {why}")
        add("")
    add("## Performance")
    add("")
    s = report.summary
    add(f"Temporal backtest ({backtest.params.get('label', label)!s}), pooled test rows: "
        f"n = {_num(s.get('n'))}, prevalence {_num(s.get('prevalence'))}, "
        f"ROC AUC **{_num(s.get('roc_auc'))}**, PR AUC {_num(s.get('pr_auc'))}, "
        f"Brier {_num(s.get('brier'), 4)}.")
    add("")
    add("### By split")
    add("")
    cols = [c for c in ("test_from", "test_until", "n_train", "n_test", "prevalence",
                        "roc_auc", "pr_auc", "brier", "ece", "precision@10%")
            if c in backtest.metrics.reset_index().columns]
    split_tab = backtest.metrics.reset_index()[["split", *cols]].copy()
    for c in ("test_from", "test_until"):
        if c in split_tab:
            split_tab[c] = split_tab[c].astype(str).str.replace(" 00:00:00", "", regex=False)
    add(_table(split_tab))
    add("")
    add("### Caseloads (precision, recall and lift at k)")
    add("")
    rk = report.ranking.reset_index()
    rk = rk[[c for c in rk.columns if c in ("k", "index", "n_flagged", "precision", "recall",
                                             "lift")]]
    add(_table(rk))
    add("")
    if lead is not None:
        ls = lead.summary()
        add(f"Lead time ({ls['rule']}): {ls['n_flagged']:,} of {ls['n_scored']:,} students who "
            f"reached the outcome were flagged before it, median {_num(ls['median_lead_days'], 1)}"
            " days ahead.")
        add("")
    add("## Calibration")
    add("")
    add(f"Expected calibration error **{_num(s.get('ece'), 4)}** "
        f"({len(report.calibration)} bins of the predicted probability; "
        f"calibration: {model.calibration}).")
    add("")
    cal = report.calibration
    show = [c for c in ("lower", "upper", "count", "mean_predicted", "observed_rate")
            if c in cal.columns]
    if show and "count" in cal.columns:
        add(_table(cal.loc[cal["count"] > 0, show]))
        add("")
    add("## Fairness")
    add("")
    if audit is None:
        add("No audit attributes were declared: **no fairness audit was run.**")
    else:
        p = audit.params
        add(f"Audit per tested student: flagged = in the top {cfg.evaluation.audit_k:.0%} of an "
            f"as-of date's scores before the outcome. Parity holds when a group's rate over the "
            f"reference group's is within {p.get('tolerance')}; groups under "
            f"{p.get('min_group_size')} students are suppressed.")
        add("")
        summ = audit.summary()
        grid = summ.pivot(index="attribute", columns="metric", values="verdict")
        grid = grid.reindex(index=list(dict.fromkeys(summ["attribute"])),
                            columns=list(dict.fromkeys(summ["metric"])))
        add("Verdicts (pass: every compared group within the tolerance):")
        add("")
        add(_table(grid.reset_index()))
        add("")
        add("Range of disparities (group rate / reference rate) per attribute and metric:")
        add("")
        add(_table(summ[["attribute", "metric", "groups", "failing", "min_disparity",
                         "max_disparity"]]))
        add("")
        fr = audit.to_frame()
        shown = fr[~fr["suppressed"].astype(bool)]
        keep = [c for c in ("attribute", "group", "size", "prevalence", "selection_rate", "tpr",
                            "fpr", "precision") if c in shown.columns]
        add("### By group")
        add("")
        add(_table(shown[keep]))
        add("")
        for note in audit.notes:
            add(f"* {note}")
        add("")
    add("## Limitations")
    add("")
    add(LIMITATIONS.format(label=label))
    add("## Model and versions")
    add("")
    ti = getattr(model, "training_info_", {}) or {}
    add(f"* LightGBM, {facts.get('best_iteration')} trees (early stopping), calibration "
        f"`{model.calibration}`, trained on {ti.get('n_rows', facts['labelled_rows']):,} rows.")
    add("* Alert tiers (probability thresholds): "
        + ", ".join(f"{k} >= {v:.4f}" for k, v in facts.get("tiers", {}).items()))
    add("* Versions: " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()))
    if facts.get("git_commit"):
        add(f"* Code: git commit `{facts['git_commit']}`")
    add("* The model files carry a SHA-256 manifest (`risk_model/manifest.sha256`; check with "
        "`sha256sum -c`).")
    add("")
    return "\n".join(out)
