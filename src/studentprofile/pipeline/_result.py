"""``RunResult``: what a run produced (paths, metrics, verdicts, tracking, timings, facts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    name : str
        The experiment name.
    run_dir : Path
        The local folder holding the model and every report (written before tracking).
    model_dir : Path
        The saved model (an MLflow model directory of the studentprofile flavour; its
        ``studentprofile/risk_model`` folder is a plain :class:`RiskModel` directory).
    files : dict of str -> Path
        Every report written: ``report_html``, ``evaluation_json``, ``fairness_json``,
        ``model_card``, ``feature_info``, ``shap_summary``, ``config``, ``backtest_json``, ...
    metrics : dict of str -> float
        Headline metrics of the backtest (pooled test rows): ``roc_auc``, ``pr_auc``, ``brier``,
        ``ece``, ``precision@10%``, ...
    fairness : list of dict
        Verdicts per (attribute, metric): ``attribute``, ``metric``, ``verdict``, ...
    example : dict or None
        The reasons of the highest-risk student of the explained sample whom the alert policy
        alerted (``alerted`` True, with its ``tier``), else of the highest-risk one
        (``alerted`` False); never an identifier. None when there was no labelled test row.
    tracking : TrackingReport or None
        What was and was not tracked (None when tracking was disabled).
    seconds : dict of str -> float
        Time per step.
    facts : dict
        Row counts, data period, fingerprints, versions.
    """

    name: str
    run_dir: Path
    model_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    fairness: list[dict[str, Any]] = field(default_factory=list)
    example: dict[str, Any] | None = None
    tracking: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True unless tracking was asked for and something was not logged."""
        return self.tracking is None or self.tracking.complete

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (non-finite numbers as None)."""
        from studentprofile.evaluation import to_json_safe

        return to_json_safe(
            {
                "name": self.name,
                "complete": self.complete,
                "run_dir": str(self.run_dir),
                "model_dir": str(self.model_dir),
                "files": {k: str(v) for k, v in self.files.items()},
                "metrics": self.metrics,
                "fairness": self.fairness,
                "example": self.example,
                "tracking": None if self.tracking is None else self.tracking.to_dict(),
                "seconds": self.seconds,
                "facts": self.facts,
            }
        )
