"""Quickstart: the whole pipeline on the bundled OULAD, then score with the registered model.

    python examples/quickstart.py              # all students, about a minute
    python examples/quickstart.py --sample 0.05
"""

from __future__ import annotations

import argparse

import mlflow

import studentprofile as sp

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--sample", type=float, default=None, help="share of students to use")
args = parser.parse_args()

# 1. the demo experiment (examples/oulad_demo.toml), optionally on a sample of students
config = sp.pipeline.demo_config(sample_students=args.sample)
result = sp.pipeline.run(config)
print(f"AUC {result.metrics['roc_auc']:.3f}, precision@10% {result.metrics['precision@10%']:.3f}")
print("files:", result.run_dir)
print("MLflow:", result.tracking.run_id, result.tracking.registered)

# 2. the registered model through MLflow's own API: risk, tier and reasons per row
mlflow.set_tracking_uri(result.tracking.uri)
model = mlflow.pyfunc.load_model(result.tracking.registered)
example = sp.tracking.load_model(str(result.model_dir))
features = example.risk_model.feature_names_in_
import json  # noqa: E402 - kept next to its use in this walk-through

row = json.loads((result.model_dir / "input_example.json").read_text())
answer = model.predict(__import__("pandas").DataFrame(row["data"], columns=row["columns"]))
print(answer[["risk", "tier", "reason_1"]].to_string())
