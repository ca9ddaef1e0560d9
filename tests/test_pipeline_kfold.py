"""Flat snapshots and k-fold cross-validation from a TOML config, through the CLI."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile.cli import main
from studentprofile.errors import ConfigError
from studentprofile.pipeline import ExperimentConfig, load_config


def _flat(path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    credits = rng.integers(0, 60, n)
    frame = pd.DataFrame({
        "student_no": [f"{i:06d}" for i in range(n)],
        "credits": credits,
        "absences": rng.poisson(4, n),
        "school": rng.choice(["GP", "MS"], n),
        "sex": rng.choice(["F", "M"], n),
        "G3": np.clip(np.round(credits / 4 + rng.normal(0, 3, n)), 0, 20).astype(int),
    })
    frame.to_csv(path, sep=";", index=False)
    return frame


# the "10-line TOML" (the snapshot line is one TOML inline table)
SNAPSHOT = ('snapshot = { path = "flat.csv", sep = ";", student_id = "student_no", '
            'outcome = { column = "G3", positive = "G3 < 10" }, audit_attributes = ["sex"] }')
TOML = """
name = "flat-snapshot"
[data]
""" + SNAPSHOT + """
[splits]
kind = "kfold"
folds = 4
[tracking]
enabled = false
output_dir = "runs"
"""


def test_train_on_a_flat_table_from_a_ten_line_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _flat(tmp_path / "flat.csv")
    (tmp_path / "flat.toml").write_text(textwrap.dedent(TOML))
    assert main(["train", "--config", "flat.toml", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["roc_auc"] > 0.75
    run_dir = tmp_path / out["run_dir"]  # absolute paths stay absolute
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Cross-validation" in text and "4 student-disjoint" in text
    backtest = json.loads((run_dir / "backtest.json").read_text())
    assert backtest["params"]["kind"] == "kfold" and len(backtest["metrics"]) == 4
    model = sp.RiskModel.load(run_dir / "model" / "studentprofile" / "risk_model")
    assert "sex" not in list(model.feature_names_in_)  # the audit attribute is not a feature
    assert "G3" not in list(model.feature_names_in_)  # nor the outcome's column


def test_snapshot_and_kfold_config_rules(tmp_path):
    _flat(tmp_path / "flat.csv")
    cfg_path = tmp_path / "flat.toml"
    cfg_path.write_text(textwrap.dedent(TOML))
    cfg = load_config(cfg_path)
    assert cfg.data.snapshot.positive == "G3 < 10" and cfg.splits.kind == "kfold"
    assert cfg.label.outcome == ("positive",)
    again = ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.data == cfg.data and again.splits == cfg.splits
    temporal = tmp_path / "temporal.toml"
    temporal.write_text(textwrap.dedent(TOML).replace('kind = "kfold"\nfolds = 4\n', ""))
    with pytest.raises(ConfigError, match="needs k-fold cross-validation"):
        load_config(temporal)
    folds_only = tmp_path / "folds.toml"
    folds_only.write_text('name = "x"\n[splits]\nfolds = 3\n')
    with pytest.raises(ConfigError, match="folds is a k-fold setting"):
        load_config(folds_only)
    bad_rule = tmp_path / "rule.toml"
    bad_rule.write_text(textwrap.dedent(TOML).replace('"G3 < 10"', '"G3 <<< 10"'))
    with pytest.raises(ConfigError, match="one comparison"):
        load_config(bad_rule)


def test_kfold_on_event_tables(tmp_path):
    tables = sp.datasets.simulate_campus(n_students=120, days=150, seed=4)
    cfg = ExperimentConfig.from_dict({
        "name": "sim-kfold",
        "data": {"dataset": "simulated", "simulate": {"n_students": 120, "days": 150}},
        "grid": {"every": 28},
        "label": {"outcome": ["withdrawn"], "horizon": 90},
        "features": {"presets": ["academic", "behavioral"]},
        "splits": {"kind": "kfold", "folds": 3},
        "tracking": {"enabled": False, "output_dir": str(tmp_path)},
    })
    result = sp.pipeline.run(cfg, tables=tables)
    bt = json.loads((result.run_dir / "backtest.json").read_text())
    assert bt["params"]["kind"] == "kfold" and len(bt["metrics"]) == 3
    scores = pd.read_parquet(result.run_dir / "scores.parquet") \
        if (result.run_dir / "scores.parquet").exists() else None
    assert scores is None or scores["split"].nunique() == 3
    assert 0.0 <= result.metrics["roc_auc"] <= 1.0
