"""[model] grid in the config, and a grid run end to end: MLflow parent and child runs."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

import studentprofile as sp
from studentprofile.errors import ConfigError
from studentprofile.pipeline import ExperimentConfig, config_of_run, load_config, run

GRID_TOML = """
name = "grid"
[model]
learning_rate = 0.1
grid = [
  {name = "lgbm", num_leaves = 15},
  {name = "lgbm-small", num_leaves = 4, min_child_samples = 50},
]
ablation = ["leave_one_out"]
baselines = ["logistic_regression", "abc_rules"]
select_rule = "best_avg_var_penalized"
select_metric = "roc_auc"
[fairness]
mitigate = "equal_tpr"
attribute = "age_band"
tolerance = 0.1
"""


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ config
def test_grid_config_is_read_and_keeps_the_model_a_mapping(tmp_path):
    cfg = load_config(write(tmp_path, GRID_TOML))
    m = cfg.model
    assert dict(m) == {"learning_rate": 0.1} and m["learning_rate"] == 0.1  # RiskModel(**m)
    assert [(c.name, dict(c.params)) for c in m.grid] == [
        ("lgbm", {"num_leaves": 15}), ("lgbm-small", {"num_leaves": 4, "min_child_samples": 50})]
    assert m.ablation == ("leave_one_out",) and m.is_grid
    assert m.baselines == ("logistic_regression", "abc_rules")
    assert (m.select_rule, m.select_metric) == ("best_avg_var_penalized", "roc_auc")
    assert (cfg.fairness.mitigate, cfg.fairness.attribute, cfg.fairness.tolerance) == (
        "equal_tpr", "age_band", 0.1)
    assert json.loads(cfg.flatten()["model.grid"])[1]["name"] == "lgbm-small"
    # without a grid, to_dict()["model"] is the parameters exactly as before
    plain = ExperimentConfig.from_dict({"model": {"learning_rate": 0.2}})
    assert plain.to_dict()["model"] == {"learning_rate": 0.2} and not plain.model.is_grid
    assert ExperimentConfig(model={"num_leaves": 3}).model["num_leaves"] == 3


@pytest.mark.parametrize(("snippet", "match"), [
    ('grid = [{name = "a"}, {name = "a"}]',
     r"c.toml:3 model.grid\[1\].name: candidate names must be unique"),
    ('grid = [{name = "logistic_regression"}]',
     r"model.grid\[0\].name: candidate names must be unique \(and not a baseline's name\)"),
    ('grid = [{name = "a", num_leaf = 3}]',
     r"model.grid\[0\].num_leaf: unknown key(.|\n)*did you mean 'num_leaves'"),
    ('grid = [{num_leaves = 3}]', r"model.grid\[0\].name: every candidate needs a name"),
    ('grid = [{name = "a", num_leaves = -3}]', r"model.grid\[0\].num_leaves"),
    ('grid = [{name = "=cmd|x"}]', r"model.grid\[0\].name: must be 1 to 60 letters"),
    ("grid = []", r"model.grid: must be a non-empty list of candidates"),
    ('ablation = ["leave_two_out"]', r"c.toml:3 model.ablation: must be one of"),
    ('baselines = ["abc"]', r"c.toml:3 model.baselines: must be one of"),
    ('select_rule = "best_guess"', r"model.select_rule: must be one of"),
    ('abc = {course = 3}', r"model.abc.course: must be a column name or a table"),
])
def test_grid_errors_are_typed_and_name_the_key(tmp_path, snippet, match):
    path = write(tmp_path, f'name = "x"\n[model]\n{snippet}\n')
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_fairness_and_kfold_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"fairness.attribute: mitigation needs the attribute"):
        load_config(write(tmp_path, '[fairness]\nmitigate = "equal_tpr"\n'))
    with pytest.raises(ConfigError, match=r"fairness.mitigate: must be one of"):
        load_config(write(tmp_path, '[fairness]\nmitigate = "fair"\nattribute = "x"\n'))
    with pytest.raises(ConfigError, match=r"model.grid: a model grid is compared on temporal "
                       r"splits(.|\n)*kfold"):
        load_config(write(tmp_path, '[model]\ngrid = [{name = "a"}]\n[splits]\nkind = "kfold"\n'))


_params = st.fixed_dictionaries({}, optional={"num_leaves": st.integers(2, 64),
                                              "learning_rate": st.floats(0.01, 0.5)})
_grid = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), min_size=1,
                 max_size=3, unique=True).flatmap(
    lambda names: st.tuples(*[_params.map(lambda p, n=n: {"name": n, **p}) for n in names]))
_model = st.fixed_dictionaries({}, optional={
    "n_estimators": st.integers(1, 500),
    "grid": _grid.map(list),
    "ablation": st.lists(st.sampled_from(["leave_one_out", "only_one"]), unique=True),
    "baselines": st.lists(st.sampled_from(["logistic_regression", "abc_rules",
                                           "best_one_feature"]), unique=True),
    "select_rule": st.sampled_from(["best_average_value", "best_current_value"]),
    "select_metric": st.sampled_from(["roc_auc", "precision@10%"]),
})
_fairness = st.one_of(st.just({}), st.fixed_dictionaries(
    {"mitigate": st.sampled_from(["equal_tpr", "equal_selection_rate"]),
     "attribute": st.sampled_from(["age_band", "gender"])},
    optional={"tolerance": st.floats(0, 1), "min_group_size": st.integers(1, 50)}))


@given(_model, _fairness)
def test_every_grid_config_survives_to_dict_and_from_dict(model, fairness):
    cfg = ExperimentConfig.from_dict({"model": model, "fairness": fairness})
    again = ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_grid_config_round_trips_through_a_saved_run(tmp_path):
    cfg = load_config(write(tmp_path, GRID_TOML))
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    back = config_of_run(tmp_path)
    assert back.with_overrides(source=cfg.source) == cfg


# ------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    """A small simulated campus with a two-candidate grid, ablation and mitigation."""
    root = tmp_path_factory.mktemp("grid-runs")
    tables = sp.datasets.simulate_campus(n_students=300, days=240, seed=4)
    cfg = ExperimentConfig.from_dict({
        "name": "sim-grid",
        "data": {"dataset": "simulated"},
        "grid": {"every": 14},
        "label": {"outcome": ["withdrawn"], "horizon": 45},
        "features": {"presets": ["academic", "behavioral"]},
        "model": {"n_estimators": 40,
                  "grid": [{"name": "lgbm", "num_leaves": 15},
                           {"name": "lgbm-small", "num_leaves": 4}],
                  "ablation": ["leave_one_out"]},
        "splits": {"test_start": "2024-12-16", "test_end": "2025-04-28",
                   "retrain_every": 56},
        "evaluation": {"n_boot": 10, "explain_rows": 100, "min_group_size": 10},
        "fairness": {"mitigate": "equal_selection_rate", "attribute": "gender",
                     "min_group_size": 5},
        "tracking": {"output_dir": str(root / "runs"), "experiment": "grid",
                     "uri": f"sqlite:///{root / 'mlflow.db'}"},
    })
    # MLflow puts a sqlite store's artifacts in ./mlruns: keep them in the test's folder
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        return run(cfg, tables=tables), tables


@pytest.mark.slow
def test_grid_run_ships_the_chosen_candidate_and_reports_the_grid(grid_run):
    result, _ = grid_run
    grid = result.facts["grid"]
    assert grid["candidates"] == {
        "lgbm": "grid", "lgbm-small": "grid", "abc_rules": "baseline",
        "lgbm-without-academic": "ablation", "lgbm-without-behavioral": "ablation",
        "logistic_regression": "baseline", "best_one_feature": "baseline"}
    post = json.loads(result.files["post_modeling.post_modeling"].read_text())
    assert grid["chosen"] == post["chosen"] in ("lgbm", "lgbm-small")
    # the shipped model's backtest is the chosen candidate's: the same per-split AUC
    bt = json.loads(result.files["backtest_json"].read_text())
    chosen_auc = [r[grid["chosen"]] for r in post["per_split"]["roc_auc"]]
    assert [m["roc_auc"] for m in bt["metrics"]] == pytest.approx(chosen_auc)
    html = result.files["report_html"].read_text(encoding="utf-8")
    for heading in ("Model grid: candidates per split", "Selection over time", "List churn",
                    "Crosstabs: flagged vs not flagged", "Fairness mitigation (opt-in)"):
        assert heading in html
    card = result.files["model_card"].read_text(encoding="utf-8")
    assert "## Model grid and selection" in card and f"**{grid['chosen']}**" in card
    assert "## Fairness mitigation (opt-in)" in card and "equal_selection_rate" in card
    assert result.facts["mitigation"]["selection_rate_difference_mitigated"] <= \
        result.facts["mitigation"]["selection_rate_difference_unmitigated"]


@pytest.mark.slow
def test_grid_run_logs_a_parent_and_one_child_per_candidate(grid_run):
    mlflow = pytest.importorskip("mlflow")
    result, tables = grid_run
    assert result.tracking.complete, result.tracking.not_logged
    client = mlflow.MlflowClient(tracking_uri=result.tracking.uri)
    parent = client.get_run(result.tracking.run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    names = {c.data.tags["studentprofile.candidate"]: c for c in children}
    assert set(names) == set(result.facts["grid"]["candidates"])
    lgbm = names["lgbm"].data
    assert {"split0.roc_auc", "split1.roc_auc", "roc_auc", "ece"} <= set(lgbm.metrics)
    assert any(k.startswith("split0.precision") for k in lgbm.metrics)
    assert lgbm.params["model.num_leaves"] == "15" and lgbm.tags["studentprofile.kind"] == "grid"
    assert names["lgbm-without-academic"].data.params["ablation.subset"] == "without-academic"
    chosen = result.facts["grid"]["chosen"]
    assert names[chosen].data.tags["studentprofile.chosen"] == "true"
    tags, metrics = parent.data.tags, parent.data.metrics
    assert tags["grid.chosen"] == chosen
    assert tags["selection.best_average_value.chosen"] in names
    assert "selection.best_average_value.mean_regret" in metrics
    arts = {a.path for a in client.list_artifacts(parent.info.run_id, "post_modeling")}
    assert {"post_modeling/post_modeling.json", "post_modeling/selection.csv",
            "post_modeling/list_churn.csv", "post_modeling/crosstabs.png"} <= arts
    # no raw student id in the parent's or any child's artefacts, params or tags
    from studentprofile.tracking import scan_run

    ids = list(tables.students["student_id"].astype(str))
    for run_id in [parent.info.run_id, *(c.info.run_id for c in children)]:
        assert scan_run(result.tracking.uri, run_id, ids) == {}


def test_log_experiment_nests_a_child_run_under_its_parent(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from studentprofile.tracking import log_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent = log_experiment(tracking_uri=uri, experiment="nest", run_name="parent",
                            metrics={"selection.best_average_value.mean_regret": 0.01})
    child = log_experiment(tracking_uri=uri, experiment="nest", run_name="parent-lgbm",
                           metrics={"split0.roc_auc": 0.7}, parent_run_id=parent.run_id)
    assert parent.complete and child.complete
    client = mlflow.MlflowClient(tracking_uri=uri)
    tags = client.get_run(child.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.run_id  # what start_run(nested=True) sets
    assert "mlflow.parentRunId" not in client.get_run(parent.run_id).data.tags
