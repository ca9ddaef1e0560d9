"""Tracking glue: the run's metrics, tags and artefacts handed to :mod:`studentprofile.tracking`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._version import __version__
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._result import RunResult

__all__ = [
    "CHILD_METRICS",
    "flat_fingerprints",
    "headline_metrics",
    "selection_log",
    "track_candidates",
    "track_run",
    "warning_metrics",
]

#: The metrics each candidate's child run logs per split (``split<i>.<metric>``) and on average;
#: ``precision@{k}`` is the audited caseload's label.
CHILD_METRICS = ("roc_auc", "pr_auc", "precision@{k}", "recall@{k}", "ece", "brier")


def flat_fingerprints(fp: Mapping[str, str]) -> dict[str, str]:
    return {f"data.{k}": v for k, v in fp.items()}


def headline_metrics(report: Any, bt: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ("n", "positives", "prevalence", "roc_auc", "pr_auc", "brier", "log_loss", "ece"):
        v = report.summary.get(k)
        if v is not None:
            out[k] = float(v)
    for label, row in report.ranking.iterrows():
        for col in ("precision", "recall", "lift"):
            if col in row:
                out[f"{col}@{label}"] = float(row[col])
    if report.lead_time is not None:
        s = report.lead_time.summary()
        out["lead_time.share_flagged"] = float(s["share_flagged"])
        out["lead_time.median_days"] = float(s["median_lead_days"])
    return out


def warning_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Turn the early-warning summary into MLflow metrics (``alerts.*``, ``drift.*``)."""
    out: dict[str, float] = {}
    if not summary:  # no test rows: nothing was replayed
        return out
    for k, v in summary["alerts"].items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[f"alerts.{k}"] = float(v)
    drift = summary["drift"]
    out["drift.features_drifted"] = float(len(drift["features_drifted"]))
    out["drift.features_watch"] = float(len(drift["features_watch"]))
    score = drift.get("score") or {}
    for k in ("psi", "ks"):
        if isinstance(score.get(k), int | float):
            out[f"drift.score_{k}"] = float(score[k])
    return out



def selection_log(grid: Any) -> tuple[dict[str, float], dict[str, str]]:
    """Return the parent run's selection: regret per rule as metrics, each rule's choice as tags."""
    post = grid.post
    metrics: dict[str, float] = {}
    tags = {"grid.chosen": str(grid.chosen), "grid.select_rule": str(post.select_rule),
            "grid.metric": str(post.metric),
            "grid.candidates": json.dumps(grid.kinds, sort_keys=True)}
    for rule, row in post.audition.summary.iterrows():
        tags[f"selection.{rule}.chosen"] = str(row["chosen"])
        for col in ("mean_regret", "max_regret"):
            v = row[col]
            if isinstance(v, int | float | np.number) and np.isfinite(v):
                metrics[f"selection.{rule}.{col}"] = float(v)
    return metrics, tags


def track_candidates(cfg: ExperimentConfig, *, uri: str, parent_run_id: str, grid: Any,
                     run_dir: Path) -> list[dict[str, str]]:
    """Log one child run per candidate under the parent (MLflow's nested-run convention).

    Returns what was not logged (``{"what": ..., "why": ...}``), for the parent's report.
    """
    from studentprofile.evaluation._inputs import k_label
    from studentprofile.tracking import log_experiment

    label = k_label(cfg.evaluation.audit_k)
    wanted = [m.format(k=label) for m in CHILD_METRICS]
    metrics_long = grid.comparison.metrics
    not_logged: list[dict[str, str]] = []
    for name in grid.comparison.candidates:
        own = metrics_long[(metrics_long["candidate"] == name)
                           & metrics_long["metric"].isin(wanted)]
        metrics: dict[str, float] = {}
        for _, row in own.iterrows():
            metrics[f"split{int(row['split'])}.{row['metric']}"] = float(row["value"])
        for metric, values in own.groupby("metric")["value"]:
            metrics[str(metric)] = float(values.mean())
        kind = grid.kinds[name]
        params: dict[str, Any] = {"candidate": name, "kind": kind,
                                  "model": type(grid.comparison.results[name].model).__name__
                                  if hasattr(grid.comparison.results[name], "model") else ""}
        if name in grid.params:
            params.update({f"model.{k}": json.dumps(v, sort_keys=True, default=str)
                           if isinstance(v, list | tuple | Mapping) else v
                           for k, v in grid.params[name].items()})
        if kind == "ablation":
            stem, _, rest = name.partition("-")
            params["ablation.of"] = next(iter(grid.params), stem)
            params["ablation.subset"] = rest
        if name == "abc_rules" and grid.abc_rules is not None:
            params["abc_rules"] = json.dumps(grid.abc_rules, sort_keys=True)
        tags = {"studentprofile.version": __version__, "studentprofile.candidate": name,
                "studentprofile.kind": kind,
                "studentprofile.chosen": str(name == grid.chosen).lower()}
        report = log_experiment(
            tracking_uri=uri, experiment=cfg.tracking.experiment,
            run_name=f"{cfg.name}-{run_dir.name}-{name}", params=params, metrics=metrics,
            tags=tags, parent_run_id=parent_run_id,
        )
        not_logged += [{"what": f"child run {name}: {x['what']}", "why": x["why"]}
                       for x in report.not_logged]
    return not_logged


def track_run(cfg: ExperimentConfig, result: RunResult, report: Any, bt: Any, audit: Any,
              model: Any, tiers: dict[str, float], card: str, example_row: pd.DataFrame,
              grid: Any = None) -> Any:
    from studentprofile.tracking import default_tracking_uri, log_experiment

    out_root = Path(cfg.tracking.output_dir)
    uri = cfg.tracking.uri or default_tracking_uri(out_root)
    local_default = cfg.tracking.uri is None and not os.environ.get("MLFLOW_TRACKING_URI")
    params = cfg.flatten()
    tags = {
        "studentprofile.version": __version__,
        "studentprofile.run_dir": str(result.run_dir.resolve()),
        **{f"data.fingerprint.{k}": v for k, v in result.facts["fingerprints"].items()},
        **{f"version.{k}": v for k, v in result.facts["versions"].items()},
        "data.period": json.dumps(result.facts["period"]),
    }
    if result.facts.get("git_commit"):
        tags["git.commit"] = result.facts["git_commit"]
    metrics: dict[str, float] = dict(result.metrics)
    for _, row in bt.metrics.reset_index().iterrows():
        for col, v in row.items():
            if col == "split" or not isinstance(v, int | float | np.number):
                continue
            metrics[f"split{int(row['split'])}.{col}"] = float(v)  # tracking names it
    by_date = bt.metrics_by_as_of(k=[0.1])
    steps = {"by_as_of.roc_auc": [(i, float(v)) for i, v in enumerate(by_date["roc_auc"])]} \
        if len(by_date) else {}
    files = result.files
    artifacts: dict[str, str | Path] = {}
    for name, dest in (("config", "config"), ("feature_info", "features"),
                       ("evaluation_json", "evaluation"), ("report_html", "evaluation"),
                       ("backtest_json", "evaluation"), ("fairness_json", "fairness"),
                       ("shap_summary", "explanations"), ("model_card", "model_card"),
                       ("early_warning", "early_warning"), ("drift", "early_warning"),
                       ("profile_card_json", "early_warning"),
                       ("profile_card_html", "early_warning"), ("scores", "per_student"),
                       ("mitigation", "fairness")):
        if name in files:
            artifacts[f"{dest}/{files[name].name}"] = files[name]
    for name, path in files.items():
        if name.startswith("post_modeling."):
            artifacts[f"post_modeling/{path.name}"] = path
    if grid is not None:
        sel_metrics, sel_tags = selection_log(grid)
        metrics.update(sel_metrics)
        tags.update(sel_tags)
    tracked = log_experiment(
        tracking_uri=uri,
        experiment=cfg.tracking.experiment,
        run_name=f"{cfg.name}-{result.run_dir.name}",
        params=params,
        metrics=metrics,
        step_metrics=steps,
        tags=tags,
        artifacts=artifacts,
        model=model,
        model_kwargs={"tiers": tiers, "model_card": card, "input_example": example_row,
                      "fingerprints": flat_fingerprints(result.facts["fingerprints"])},
        registered_model=cfg.tracking.registered_model,
        alias=cfg.tracking.alias,
        artifact_location=(out_root / "artifacts") if local_default else None,
        description=cfg.description or None,
        fairness=audit,  # verdicts and worst disparities as metrics, the audit as tables
    )
    if grid is not None:
        if tracked.run_id is None:
            tracked.not_logged.append({"what": "child runs", "why": "no parent run"})
        else:
            tracked.not_logged += track_candidates(cfg, uri=uri, parent_run_id=tracked.run_id,
                                                   grid=grid, run_dir=result.run_dir)
    return tracked

