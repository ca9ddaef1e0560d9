# ruff: noqa: B018 - a cell's last expression is what a notebook shows
# %% [markdown]
# # From OULAD tables to a backtest, explanations and an MLflow run
#
# A notebook in percent format (Jupyter, VS Code and jupytext open it as cells). Set
# `STUDENTPROFILE_SAMPLE=0.05` to run on 5% of the students.

# %%
import os

import numpy as np

import studentprofile as sp
from studentprofile.evaluation import TemporalSplits, backtest
from studentprofile.features import FeatureBuilder, make_grid
from studentprofile.labels import make_labels

sample = float(os.environ.get("STUDENTPROFILE_SAMPLE", "1.0"))
tables = sp.datasets.load_oulad()
if sample < 1:
    ids = tables.students["student_id"].to_numpy()
    keep = np.random.default_rng(0).choice(len(ids), round(sample * len(ids)), replace=False)
    tables = tables.select(ids[np.sort(keep)])
tables

# %% [markdown]
# ## As-of grid, labels and features
# One row per student and week of their module; the label asks "withdrawn within 60 days?";
# features use only what was known before each as-of date.

# %%
grid = make_grid(tables, every=7, per="enrolment")
y = make_labels(tables, grid, outcome="withdrawn", horizon=60)
builder = FeatureBuilder(sp.features.oulad_features())
X = builder.fit(tables, grid).transform(tables, grid)
X.shape, float(y.mean())

# %% [markdown]
# ## A temporal backtest: train on 2013, test on 2014

# %%
presentation = grid["student_id"].map(
    tables.students.set_index("student_id")["code_presentation"]).astype(str)
splits = TemporalSplits(test_start="2014-02-01", test_end="2015-06-06", horizon=60,
                        retrain_every=245)
result = backtest(tables, splits, feature_builder=builder, model=sp.RiskModel(random_state=0),
                  outcome="withdrawn", grid=grid, truncate=False,
                  train_mask=presentation.str.startswith("2013").to_numpy(),
                  test_mask=presentation.str.startswith("2014").to_numpy())
result.metrics[["n_train", "n_test", "roc_auc", "pr_auc", "ece", "precision@10%"]]

# %% [markdown]
# ## The final model and its explanations

# %%
keep = y.notna().to_numpy()
model = sp.RiskModel(random_state=0).fit(X[keep], y[keep].astype(int),
                                         feature_info=builder.feature_info_)
latest = X[keep].groupby(level="student_id").tail(1).iloc[:500]
explanations = model.explain(latest)
explanations.reasons(top=3)[0]["reasons"][0]["sentence"]

# %%
explanations.by_family().abs().mean()

# %% [markdown]
# ## Track it in MLflow (a local SQLite store; no server)

# %%
report = result.report(k=[0.05, 0.1, 0.2])
run = sp.tracking.log_experiment(
    tracking_uri=sp.tracking.default_tracking_uri("studentprofile-runs"),
    experiment="walkthrough",
    run_name="oulad-backtest",
    params={"horizon": 60, "spec": "oulad", "sample": sample},
    metrics={k: v for k, v in report.summary.items() if isinstance(v, float)},
    tags={f"data.fingerprint.{k}": v for k, v in tables.fingerprint().items()},
    model=model,
    model_kwargs={"input_example": sp.tracking.synthetic_example(X[keep])},
    artifact_location="studentprofile-runs/artifacts",
)
run.run_id, run.logged, run.ui_command()
