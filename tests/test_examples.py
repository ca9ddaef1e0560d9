"""Every example in examples/ runs, on small data."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("STUDENTPROFILE_SAMPLE", "0.03")
    yield tmp_path
    import mlflow

    mlflow.set_tracking_uri(None)


def test_quickstart_then_auditor_walkthrough(workdir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["quickstart.py", "--sample", "0.03"])
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "AUC" in out and "models:/oulad-withdrawal-60d@candidate" in out and "reason" not in \
        out.split("risk")[0]
    ns = runpy.run_path(str(EXAMPLES / "walkthrough_auditor.py"))
    assert "# Model card" in ns["model"].model_card
    assert set(ns["audit"].summary()["verdict"]) <= {"pass", "fail", "undefined"}


def test_data_scientist_walkthrough(workdir):
    ns = runpy.run_path(str(EXAMPLES / "walkthrough_data_scientist.py"))
    assert ns["run"].complete and len(ns["result"].metrics) == 2
    assert (workdir / "studentprofile-runs" / "mlflow.db").is_file()


def test_campus_integration_answers_json(tmp_path):
    ns = runpy.run_path(str(EXAMPLES / "campus_integration.py"))
    model = ns["small_model"](str(tmp_path / "model"))
    from studentprofile.tracking import load_model

    m = load_model(model)
    name = m.risk_model.feature_names_in_[0]
    reply = json.loads(ns["handle"](m, json.dumps({name: 3.0})))
    assert set(reply) == {"risk", "tier"} and 0 <= reply["risk"] <= 1
    assert reply["risk"] == pytest.approx(
        float(m.risk_model.predict_proba(
            __import__("pandas").DataFrame([{name: 3.0}]).reindex(
                columns=m.risk_model.feature_names_in_))[0, 1]), abs=1e-6)
    assert "error" in json.loads(ns["handle"](m, '{"no_such_feature": 1}'))
    assert "error" in json.loads(ns["handle"](m, "[1, 2]"))
    # and as a program
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    res = subprocess.run([sys.executable, str(EXAMPLES / "campus_integration.py"), model,
                          json.dumps({name: 3.0})], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[0]) == reply


def test_flat_snapshot_example_then_check_and_train(workdir, capsys):
    from studentprofile.cli import main as cli

    ns = runpy.run_path(str(EXAMPLES / "flat_snapshot_uci.py"))
    got = ns["main"](folds=3)
    assert got["auc"] > 0.88
    assert (workdir / "cross_validation.html").exists()
    assert cli(["check", "flat.toml"]) == 0
    assert cli(["train", "--config", "flat.toml", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert abs(result["metrics"]["roc_auc"] - got["pooled_auc"]) < 0.03
