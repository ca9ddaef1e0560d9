# ruff: noqa: B018 - a cell's last expression is what a notebook shows
# %% [markdown]
# # An auditor's walk-through
#
# Load a registered model, read its model card, check its files, rerun the fairness audit on
# fresh scores, and inspect one student's explanation. It audits
# `models:/oulad-withdrawal-60d@candidate` in the local store (run `studentprofile demo`
# first; with `STUDENTPROFILE_SAMPLE=0.05` this script runs a small demo itself if there is
# no such model yet).

# %%
import os

import mlflow
import numpy as np

import studentprofile as sp

uri = sp.tracking.default_tracking_uri("studentprofile-runs")
client = mlflow.MlflowClient(tracking_uri=uri)
name, alias = "oulad-withdrawal-60d", "candidate"
try:
    version = client.get_model_version_by_alias(name, alias)
except mlflow.exceptions.MlflowException:
    sample = float(os.environ.get("STUDENTPROFILE_SAMPLE", "1.0"))
    sp.pipeline.run(sp.pipeline.demo_config(sample_students=sample))
    version = client.get_model_version_by_alias(name, alias)
mlflow.set_tracking_uri(uri)
model = sp.tracking.load_model(f"models:/{name}@{alias}")  # verifies every SHA-256
print(model.model_card[:1500])

# %% [markdown]
# ## Which run, which data?

# %%
run = client.get_run(version.run_id)
{k: v for k, v in run.data.tags.items() if k.startswith(("data.", "version.", "git."))}

# %% [markdown]
# ## Rerun the fairness audit on fresh scores
# Rebuild the features of the 2014 students with the run's own config, score them with the
# registered model, flag the top 10% of each week, and audit by the declared attributes.

# %%
import tempfile  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    path = mlflow.artifacts.download_artifacts(run_id=version.run_id,
                                               artifact_path="config/config.json", dst_path=tmp)
    config_dir = os.path.dirname(path)
    cfg = sp.pipeline.config_of_run(config_dir)
tables = sp.pipeline.load_tables(cfg)
st = tables.students
tested = st.loc[st["code_presentation"].astype(str).str.startswith("2014"), "student_id"]
X = sp.pipeline.student_features(cfg, tested.iloc[:2000].tolist(), tables=tables)
scores = model.risk_model.predict_risk(X).rename("score").reset_index()
scores["flag"] = scores.groupby("as_of")["score"].rank(ascending=False, pct=True) <= 0.1
per = scores.groupby("student_id").agg(flagged=("flag", "any"), score=("score", "max"))
withdrew = tables.outcomes.query("outcome == 'withdrawn'")["student_id"]
attrs = st.set_index("student_id").loc[per.index, list(cfg.evaluation.audit_attributes)]
audit = sp.evaluation.fairness_audit(
    y_true=per.index.isin(withdrew), scores=per["score"].to_numpy(),
    attributes=attrs.reset_index(drop=True), flags=per["flagged"].to_numpy(),
    min_group_size=20, n_boot=0)
audit.summary().pivot(index="attribute", columns="metric", values="verdict")

# %% [markdown]
# ## One student's explanation (the SHAP values add up to the raw score exactly)

# %%
one = X.iloc[[int(np.argmax(model.risk_model.predict_proba(X)[:, 1]))]]
explanation = model.risk_model.explain(one)
assert abs(explanation.values.sum() + float(explanation.base_value)
           - float(explanation.raw[0])) < 1e-9
[r["sentence"] for r in explanation.reasons(top=3)[0]["reasons"]]
