"""``RunResult``: what a run produced (paths, metrics, verdicts, tracking, timings, facts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["RunResult"]


@dataclass(repr=False)
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

    @property
    def grid(self) -> dict[str, Any] | None:
        """The model grid's outcome when a grid ran (``facts["grid"]``), else None.

        ``chosen``, ``select_rule``, ``metric``, ``candidates`` (name -> kind), ``table``
        (each candidate's mean AUC, precision at k and ECE over the splits), ``rules`` (each
        selection rule's choice and regret) and ``baseline_beat`` (baselines that beat every
        grid candidate on the selection metric).
        """
        grid = self.facts.get("grid")
        return grid if isinstance(grid, dict) else None

    def __repr__(self) -> str:
        m = self.metrics
        parts = [f"ROC AUC {_num(m.get('roc_auc'))}",
                 f"precision@10% {_num(m.get('precision@10%'))}"]
        fails = sum(1 for f in self.fairness if f.get("verdict") == "fail")
        if self.fairness:
            parts.append(f"{fails} fairness FAIL" if fails else "fairness pass")
        if self.grid:
            parts.append(f"grid of {len(self.grid.get('candidates') or {})} shipped "
                         f"{self.grid.get('chosen')!r}")
        if not self.complete:
            parts.append("NOT fully tracked")
        return f"RunResult({self.name!r}: {', '.join(parts)}; {self.run_dir})"

    def _repr_html_(self) -> str:
        from studentprofile import _html

        bound: dict[str, Any] = {"max_rows": _html.MAX_ROWS, "max_cols": _html.MAX_COLS}
        head: dict[str, Any] = {k: self.metrics[k] for k in ("n", "prevalence", "roc_auc", "pr_auc",
                                              "precision@10%", "lift@10%", "ece", "brier")
                if k in self.metrics}
        if isinstance(head.get("n"), float) and float(head["n"]).is_integer():
            head["n"] = int(head["n"])
        parts = [_html.heading("Backtest of the shipped model (pooled test rows)"),
                 _html.kv_table(head)]
        grid = self.grid
        if grid and grid.get("table"):
            parts += [
                _html.heading(f"Model grid: ships {grid.get('chosen')} "
                              f"({grid.get('select_rule')} on {grid.get('metric')})"),
                _html.table(pd.DataFrame(grid["table"]), **bound),
                _html.heading("Selection rules over the splits (every candidate, baselines "
                              "included; regret: lower is better)") if grid.get("rules") else "",
                _html.table(pd.DataFrame(grid.get("rules") or []), **bound),
                *(_html.note(f"Baseline {b['baseline']} beat every grid candidate on "
                             f"{b['metric']} ({_num(b['value'])} vs "
                             f"{_num(b['best_grid_value'])} for {b['best_grid']}).")
                  for b in grid.get("baseline_beat") or []),
            ]
        if self.fairness:
            frame = pd.DataFrame(self.fairness)
            if {"attribute", "metric", "verdict"} <= set(frame.columns):
                wide = frame.pivot_table(index="attribute", columns="metric", values="verdict",
                                         aggfunc="first", sort=False)
                flags = {"pass": True, "fail": False}
                wide = wide.rename_axis(columns=None).astype(object).apply(
                    lambda col: col.map(lambda v: flags.get(v, v)))
                parts += [_html.heading("Fairness verdicts (attribute x metric)"),
                          _html.table(wide, verdicts=list(wide.columns), **bound)]
        if self.example:
            parts += [_html.heading(f"Why the example student is flagged (risk "
                                    f"{_num(self.example.get('risk'))}; no identifier)"),
                      *(_html.note(str(r)) for r in self.example.get("reasons") or [])]
        files = {k: str(v) for k, v in self.files.items()}
        shown = dict(list(files.items())[:_html.MAX_ROWS])
        parts += [_html.heading("Files"), _html.kv_table(shown, key="what", value="path")]
        if len(files) > len(shown):
            parts.append(_html.note(f"... {len(files) - len(shown)} more files in .files"))
        if self.tracking is not None:
            parts.append(_html.note(f"MLflow run {self.tracking.run_id}" if self.tracking.run_id
                                    else "not tracked"))
            parts += [_html.note(f"NOT tracked: {x['what']}: {x['why']}")
                      for x in self.tracking.not_logged[:_html.MAX_ROWS]]
        return _html.display(repr(self), parts)

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


def _num(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:.3f}"
