"""The experiment pipeline: a config file in, a tracked, evaluated, audited model out.

- :func:`load_config` / :class:`ExperimentConfig`: the TOML experiment config, typed and
  validated (errors name the dotted key and ``file:line``);
- :func:`run`: load, validate, build features and labels, backtest, fit the final model,
  explain, evaluate, audit, save the model locally, then track in MLflow;
- ``[model] grid``: several candidates, the baselines and feature-group ablation compared on
  the same splits, the shipped one chosen by a selection rule (``docs/workbench.md``);
- :class:`RunResult`: what a run produced (paths, metrics, run ids, what was and was not
  tracked);
- :func:`build_spec`: feature specs from presets plus edits (:func:`oulad_spec` is a
  deprecated alias of :func:`studentprofile.features.oulad_features`);
- :func:`demo_config`: the config of ``studentprofile demo``;
- :func:`weekly_alerts` -> :class:`WeeklyResult`: the weekly job of a trained run (score today,
  alerts with hysteresis and reasons, the alert log, caseloads, profile cards; with
  ``store=`` the closed loop: cases, digests, the advisors' site, :class:`LoopResult`);
- :func:`loop_report` -> :class:`LoopReport`: staff verdicts and contact times read back from
  the case store (judged precision beside statistical precision).

See ``docs/quickstart.md``, ``docs/tracking.md`` and ``docs/closed-loop.md``.
"""

from studentprofile.pipeline._config import ExperimentConfig, load_config
from studentprofile.pipeline._demo import demo_config, demo_toml
from studentprofile.pipeline._loop import LoopResult
from studentprofile.pipeline._loop_report import LOOP_REPORT_SCHEMA, LoopReport, loop_report
from studentprofile.pipeline._presets import build_spec, oulad_spec
from studentprofile.pipeline._result import RunResult
from studentprofile.pipeline._run import run
from studentprofile.pipeline._saved_run import config_of_run, student_features
from studentprofile.pipeline._sections import (
    DataConfig,
    EvaluationConfig,
    FairnessConfig,
    FeaturesConfig,
    GridCandidate,
    GridConfig,
    LabelConfig,
    ModelConfig,
    SplitsConfig,
    TableSource,
    TrackingConfig,
)
from studentprofile.pipeline._tables import load_tables
from studentprofile.pipeline._weekly import WeeklyResult, weekly_alerts

__all__ = [
    "LOOP_REPORT_SCHEMA",
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "FairnessConfig",
    "FeaturesConfig",
    "GridCandidate",
    "GridConfig",
    "LabelConfig",
    "LoopReport",
    "LoopResult",
    "ModelConfig",
    "RunResult",
    "SplitsConfig",
    "TableSource",
    "TrackingConfig",
    "WeeklyResult",
    "build_spec",
    "config_of_run",
    "demo_config",
    "demo_toml",
    "load_config",
    "load_tables",
    "loop_report",
    "oulad_spec",
    "run",
    "student_features",
    "weekly_alerts",
]


def __dir__() -> list[str]:
    return sorted(__all__)
