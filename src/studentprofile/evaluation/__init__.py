"""Evaluation: outcome metrics, caseload metrics, temporal backtests, fairness audits, reports.

Plain metric functions take ``(y_true, scores, ...)`` and return a float (``nan`` when the
metric is undefined for the data):

>>> import studentprofile as sp
>>> sp.evaluation.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
>>> sp.evaluation.precision_at_k([1, 0, 1, 0, 0], [0.9, 0.8, 0.5, 0.5, 0.1], k=3, ties="worst")
0.333...

- metrics: :func:`roc_auc`, :func:`pr_auc`, :func:`brier_score`, :func:`log_loss`,
  :func:`expected_calibration_error`, :func:`reliability_curve`, :func:`roc_curve`,
  :func:`pr_curve`;
- caseloads: :func:`precision_at_k`, :func:`recall_at_k`, :func:`lift_at_k`,
  :func:`ranking_at_k` (ties at the cut: expected, worst, best), :func:`precision_at_capacity`,
  :func:`capacity_report`;
- :func:`lead_time` (days from first flag to outcome);
- :class:`TemporalSplits` and :func:`backtest`;
- :func:`fairness_audit` (group metrics, disparities, parity verdicts, bootstrap CIs, Fisher
  tests, suppression of small groups);
- intervention outcomes: :func:`contact_trajectories`, :func:`platform_outcomes`,
  :func:`term_outcomes`, :func:`contact_comparison` (observational, not causal);
- :func:`evaluate` and :class:`EvaluationReport` (``to_frame``, ``to_dict``, ``to_html``,
  ``save``);
- the workbench: :func:`compare` (candidates and baselines on the same splits:
  :func:`logistic_baseline`, :class:`OneFeatureRanking`, :class:`RuleScorer` for rules such as
  ABC); :func:`audition` with :class:`SelectionRule` (triage's selection rules over splits, and
  their regret); top-k lists: :func:`top_k`, :func:`compare_lists`, :func:`list_churn`;
  :func:`crosstabs` and :func:`error_analysis` (descriptive feature contrasts);
  :func:`mitigate` (opt-in per-group shares of a caseload for equal TPR or selection rate);
- the closed loop: :func:`judged_outcomes` (staff verdicts per tier, reason family and model
  version, judged beside statistical precision, time to first contact and overdue cases per
  advisor and unit) and the case and verdict contracts (:func:`check_cases`,
  :func:`check_verdicts`).

Definitions, tie handling and how to read an audit: ``docs/evaluation.md``; the workbench:
``docs/workbench.md``.
"""

from studentprofile.evaluation._backtest import BacktestResult, Split, TemporalSplits, backtest
from studentprofile.evaluation._baselines import OneFeatureRanking, RuleScorer, logistic_baseline
from studentprofile.evaluation._case_frames import (
    CASE_COLUMNS,
    VERDICT_COLUMNS,
    VERDICTS,
    check_cases,
    check_verdicts,
)
from studentprofile.evaluation._compare import (
    ABLATIONS,
    BASELINES,
    Comparison,
    FeatureSubset,
    ablation_candidates,
    compare,
)
from studentprofile.evaluation._crosstabs import (
    DESCRIPTIVE_CAVEAT,
    Crosstabs,
    crosstabs,
    error_analysis,
)
from studentprofile.evaluation._cv import CrossValidation, cross_validate
from studentprofile.evaluation._fairness import DISPARITY_METRICS, FairnessAudit, fairness_audit
from studentprofile.evaluation._json import to_json_safe
from studentprofile.evaluation._lead_time import LeadTime, flags_from_scores, lead_time, long_scores
from studentprofile.evaluation._lists import ListComparison, compare_lists, list_churn, top_k
from studentprofile.evaluation._metrics import (
    brier_score,
    expected_calibration_error,
    log_loss,
    pr_auc,
    pr_curve,
    reliability_curve,
    roc_auc,
    roc_curve,
)
from studentprofile.evaluation._mitigation import (
    CONSTRAINTS,
    MITIGATION_NOTICE,
    Mitigation,
    MitigationOverTime,
    mitigate,
    mitigate_over_time,
)
from studentprofile.evaluation._outcomes import (
    OBSERVATIONAL_CAVEAT,
    ContactComparison,
    InterventionOutcomes,
    PlatformOutcomes,
    Trajectories,
    contact_comparison,
    contact_trajectories,
    platform_outcomes,
    term_outcomes,
)
from studentprofile.evaluation._postmodeling import PostModeling, post_modeling
from studentprofile.evaluation._ranking import (
    capacity_report,
    lift_at_k,
    precision_at_capacity,
    precision_at_k,
    ranking_at_k,
    recall_at_k,
)
from studentprofile.evaluation._report import EvaluationReport, evaluate
from studentprofile.evaluation._selection import (
    LOWER_IS_BETTER,
    RULES,
    Audition,
    SelectionRule,
    audition,
    default_rules,
    greater_is_better,
)
from studentprofile.evaluation._verdicts import JUDGED_PRECISION, JudgedOutcomes, judged_outcomes

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "CASE_COLUMNS",
    "CONSTRAINTS",
    "DESCRIPTIVE_CAVEAT",
    "DISPARITY_METRICS",
    "JUDGED_PRECISION",
    "LOWER_IS_BETTER",
    "MITIGATION_NOTICE",
    "OBSERVATIONAL_CAVEAT",
    "RULES",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "Audition",
    "BacktestResult",
    "CrossValidation",
    "Comparison",
    "ContactComparison",
    "Crosstabs",
    "EvaluationReport",
    "FairnessAudit",
    "FeatureSubset",
    "InterventionOutcomes",
    "JudgedOutcomes",
    "LeadTime",
    "ListComparison",
    "Mitigation",
    "MitigationOverTime",
    "OneFeatureRanking",
    "PlatformOutcomes",
    "PostModeling",
    "RuleScorer",
    "SelectionRule",
    "Split",
    "TemporalSplits",
    "Trajectories",
    "ablation_candidates",
    "audition",
    "backtest",
    "brier_score",
    "capacity_report",
    "check_cases",
    "check_verdicts",
    "compare",
    "compare_lists",
    "contact_comparison",
    "contact_trajectories",
    "cross_validate",
    "crosstabs",
    "default_rules",
    "error_analysis",
    "evaluate",
    "expected_calibration_error",
    "fairness_audit",
    "flags_from_scores",
    "greater_is_better",
    "judged_outcomes",
    "lead_time",
    "lift_at_k",
    "list_churn",
    "log_loss",
    "logistic_baseline",
    "long_scores",
    "mitigate",
    "mitigate_over_time",
    "platform_outcomes",
    "post_modeling",
    "pr_auc",
    "pr_curve",
    "precision_at_capacity",
    "precision_at_k",
    "ranking_at_k",
    "recall_at_k",
    "reliability_curve",
    "roc_auc",
    "roc_curve",
    "term_outcomes",
    "to_json_safe",
    "top_k",
]
