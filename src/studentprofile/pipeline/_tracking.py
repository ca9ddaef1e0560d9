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

__all__ = ["flat_fingerprints", "headline_metrics", "track_run", "warning_metrics"]


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



def track_run(cfg: ExperimentConfig, result: RunResult, report: Any, bt: Any, audit: Any,
           model: Any, tiers: dict[str, float], card: str, example_row: pd.DataFrame) -> Any:
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
                       ("profile_card_html", "early_warning"), ("scores", "per_student")):
        if name in files:
            artifacts[f"{dest}/{files[name].name}"] = files[name]
    return log_experiment(
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

