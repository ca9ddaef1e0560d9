"""Campus integration: score one student from a JSON payload, answer in JSON.

The campus system sends the student's current features (by name; missing ones may be left
out); the compiled numba scorer answers in microseconds, with the model's tier.

    python examples/campus_integration.py MODEL_DIR '{"assessment_score_mean_all": 41.0}'

``MODEL_DIR`` is a run folder's ``model/`` (``studentprofile demo`` prints the run folder).
Without arguments it trains a small model on the simulated campus first.
"""

from __future__ import annotations

import json
import sys
import time

import studentprofile as sp


def handle(model: sp.tracking.StudentProfileModel, payload: str) -> str:
    """One request: a JSON object of features in, a JSON object with risk and tier out."""
    try:
        features = json.loads(payload)
        if not isinstance(features, dict):
            raise ValueError("the payload must be a JSON object of feature values")
        unknown = sorted(set(features) - set(model.risk_model.feature_names_in_))
        if unknown:
            raise ValueError(f"unknown features: {unknown}")
        answer = model.score_one(features)
    except (ValueError, sp.errors.StudentProfileError) as exc:
        return json.dumps({"error": str(exc).splitlines()[0]})
    return json.dumps({"risk": round(answer["risk"], 6), "tier": answer["tier"]})


def small_model(path: str) -> str:
    from studentprofile.features import FeatureBuilder, academic_features, make_grid
    from studentprofile.labels import make_labels

    tables = sp.datasets.simulate_campus(n_students=300, seed=0)
    grid = make_grid(tables, every=14)
    y = make_labels(tables, grid, outcome=["withdrawn", "failed"], horizon=60)
    builder = FeatureBuilder(academic_features())
    X = builder.fit_transform(tables, grid)
    keep = y.notna().to_numpy()
    model = sp.RiskModel(n_estimators=100).fit(X[keep], y[keep].astype(int),
                                              feature_info=builder.feature_info_)
    sp.tracking.save_model(model, path, tiers={"high": 0.3, "medium": 0.15})
    return path


if __name__ == "__main__":
    if len(sys.argv) >= 2:
        model_dir = sys.argv[1]
    else:
        import tempfile

        model_dir = small_model(tempfile.mkdtemp() + "/model")
    model = sp.tracking.load_model(model_dir)
    payload = sys.argv[2] if len(sys.argv) >= 3 else json.dumps(
        {model.risk_model.feature_names_in_[0]: 1.0})
    handle(model, payload)  # the first call compiles the scorer
    t0 = time.perf_counter()
    reply = handle(model, payload)
    print(reply)
    print(f"({(time.perf_counter() - t0) * 1e6:.0f} microseconds)", file=sys.stderr)
