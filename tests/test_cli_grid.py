"""``studentprofile train`` / ``demo`` print the model grid's outcome, and ``--json`` carries it."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from studentprofile import cli
from studentprofile.pipeline import RunResult

TINY_GRID = """
name = "tiny-grid"
[data]
dataset = "simulated"
simulate = {n_students = 200, days = 240}
[grid]
every = 14
[label]
outcome = ["withdrawn"]
horizon = 45
[features]
presets = ["academic", "behavioral"]
[model]
n_estimators = 20
grid = [{name = "lgbm", num_leaves = 7}, {name = "lgbm-tiny", num_leaves = 3}]
baselines = ["logistic_regression", "abc_rules", "best_one_feature"]
select_rule = "best_average_value"
select_metric = "roc_auc"
[splits]
test_start = "2024-12-16"
test_end = "2025-04-28"
retrain_every = 56
[evaluation]
n_boot = 0
explain_rows = 30
min_group_size = 5
"""


@pytest.fixture(scope="module")
def grid_json(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-grid")
    config = root / "grid.toml"
    config.write_text(textwrap.dedent(TINY_GRID), encoding="utf-8")
    stream = io.StringIO()
    code = cli.main(["train", "--config", str(config), "--no-tracking", "--output-dir",
                     str(root / "runs"), "--json"], stream=stream)
    assert code == cli.EXIT_OK
    return json.loads(stream.getvalue())


@pytest.mark.slow
def test_json_carries_the_grid_outcome(grid_json):
    grid = grid_json["facts"]["grid"]
    names = ["lgbm", "lgbm-tiny", "logistic_regression", "best_one_feature", "abc_rules"]
    assert [r["candidate"] for r in grid["table"]] == names
    assert {r["candidate"]: r["kind"] for r in grid["table"]} == grid["candidates"]
    for row in grid["table"]:
        assert set(row) == {"candidate", "kind", "roc_auc", "precision@10%", "ece"}
        assert 0.0 <= row["roc_auc"] <= 1.0
    assert grid["chosen"] in ("lgbm", "lgbm-tiny")
    assert (grid["select_rule"], grid["metric"]) == ("best_average_value", "roc_auc")
    assert [r["rule"] for r in grid["rules"]][:2] == ["best_current_value", "best_average_value"]
    assert all(r["chosen"] in names and r["mean_regret"] >= 0 for r in grid["rules"])
    # a baseline is reported as beating the grid exactly when its mean beats every grid entry
    best_grid = max(r["roc_auc"] for r in grid["table"] if r["kind"] == "grid")
    beaten_by = {r["candidate"] for r in grid["table"]
                 if r["kind"] == "baseline" and r["roc_auc"] > best_grid}
    assert {b["baseline"] for b in grid["baseline_beat"]} == beaten_by
    for b in grid["baseline_beat"]:
        assert b["best_grid_value"] == best_grid and b["metric"] == "roc_auc"
    # run.json, the saved record of the run, is the same payload
    saved = json.loads((Path(grid_json["run_dir"]) / "run.json").read_text(encoding="utf-8"))
    assert saved["facts"]["grid"] == grid


@pytest.mark.slow
def test_the_summary_prints_the_table_the_choice_the_regret_and_a_beaten_grid(grid_json):
    fields = ("name", "run_dir", "model_dir", "files", "metrics", "fairness", "example",
              "seconds", "facts")
    result = RunResult(**{k: grid_json[k] for k in fields})
    stream = io.StringIO()
    cli._summary(result, cli._Out(as_json=False, quiet=False, stream=stream), title="Result:")
    text = stream.getvalue()
    grid = grid_json["facts"]["grid"]
    assert "model grid            5 candidates backtested on the same splits" in text
    assert "candidate            kind             roc_auc precision@10%           ece" in text
    chosen = next(r for r in grid["table"] if r["candidate"] == grid["chosen"])
    assert (f"{grid['chosen'] + ' *':<21}grid      {chosen['roc_auc']:>14.3f}"
            f"{chosen['precision@10%']:>14.3f}{chosen['ece']:>14.4f}") in text
    assert (f"shipped               {grid['chosen']} (*), chosen by best_average_value on "
            "roc_auc among the grid candidates") in text
    rw = max(len(r["rule"]) for r in grid["rules"]) + 2
    assert "selection rules       on roc_auc over the splits, among every candidate" in text
    for r in grid["rules"]:
        assert f"    {r['rule']:<{rw}}{r['chosen']:<21}{r['mean_regret']:>12.4f}" in text
    for b in grid["baseline_beat"]:
        assert (f"NOTE: baseline {b['baseline']} beat every grid candidate on roc_auc "
                f"({b['value']:.3f} vs {b['best_grid_value']:.3f}") in text
    assert ("beat every grid candidate" in text) == bool(grid["baseline_beat"])


def test_the_summary_prints_nothing_of_a_grid_when_none_ran(tmp_path):
    result = RunResult(name="x", run_dir=tmp_path, model_dir=tmp_path,
                       metrics={"n": 10, "roc_auc": 0.7}, seconds={"total": 1.0})
    stream = io.StringIO()
    cli._summary(result, cli._Out(as_json=False, quiet=False, stream=stream), title="Result:")
    assert "model grid" not in stream.getvalue() and "ROC AUC               0.700" in \
        stream.getvalue()
