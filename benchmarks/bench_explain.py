"""Explanation speed: RiskModel.explain vs shap.TreeExplainer vs LightGBM pred_contrib.

One process, one booster, the same students for every implementation:

* throughput (students per second) explaining a batch of ``--students`` students with a
  ``--trees``-tree model (default: 300 trees, 50,000 students);
* single-student latency (median and 95th percentile of ``--repeats`` calls, milliseconds).

Implementations (all path-dependent TreeSHAP in log-odds; the benchmark first checks they agree
to 1e-9):

* ``studentprofile``: ``model.explain(X)`` from a raw DataFrame (validation, category mapping,
  SHAP values, raw scores and calibrated probabilities), and the same plus ``reasons(top=3)``;
  ``model.explain(X, engine="compiled")`` and the numba scorer's bare
  ``model.compile().shap_values(X)`` (SHAP values only);
* ``shap.TreeExplainer``: ``explainer(X_prepared)`` on the model's booster;
* ``lightgbm.pred_contrib``: ``booster.predict(X_prepared, pred_contrib=True)`` as a user
  would call it, and on the encoded float matrix with one thread (the bare kernel that
  ``model.explain`` runs).

Run::

    PYTHONPATH=src python benchmarks/bench_explain.py --out bench_explain.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.features import FeatureInfo
from studentprofile.models import RiskModel


def make_students(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, dict[str, FeatureInfo]]:
    """A synthetic feature matrix: 16 numeric features (some missing) and 2 categorical."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    infos: dict[str, FeatureInfo] = {}
    for j in range(16):
        v = rng.normal(size=n) * (1 + j % 3)
        v[rng.uniform(size=n) < 0.05] = np.nan
        name = f"f{j:02d}"
        cols[name] = v
        infos[name] = FeatureInfo(name=name, family=["academic", "behavioral"][j % 2],
                                  kind=f"kind{j % 5}", aggregate="mean", window="30d",
                                  phrase=f"feature {j}")
    cols["programme"] = pd.array(rng.choice([f"p{i}" for i in range(12)], n), dtype="str")
    cols["campus"] = pd.array(rng.choice(["north", "south", "city"], n), dtype="str")
    X = pd.DataFrame(cols, index=pd.Index([f"s{i:06d}" for i in range(n)], name="student_id"))
    f = np.nan_to_num(X[[f"f{j:02d}" for j in range(16)]].to_numpy())
    logit = f[:, 0] - 0.5 * f[:, 1] + 0.3 * f[:, 2] * f[:, 3] + 0.4 * (X["programme"] == "p3")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, infos


def implementations(model: RiskModel) -> dict[str, tuple[str, Callable[[Any], np.ndarray]]]:
    """Name -> (input kind, function(input) -> SHAP values (n, p)); shared by the test.

    Input kinds: ``raw`` (the DataFrame as a user has it), ``prepared`` (categoricals with the
    model's levels, what LightGBM's pandas path wants), ``matrix`` (``model.encode(X)``).
    """
    import shap

    explainer = shap.TreeExplainer(model.booster_)
    booster = model.booster_
    all_cores = copy.copy(model).set_params(n_jobs=-1)

    def ours(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.explain(X).values)

    def ours_all_cores(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(all_cores.explain(X).values)

    compiled = model.compile()
    p = model.n_features_in_

    def ours_compiled(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(compiled.shap_values(X))[:, :p]

    def ours_engine_compiled(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.explain(X, engine="compiled").values)

    def ours_reasons(X: pd.DataFrame) -> np.ndarray:
        ex = model.explain(X)
        ex.reasons(top=3)
        return np.asarray(ex.values)

    def tree_explainer(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(explainer(X).values)

    def pred_contrib_frame(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(X, pred_contrib=True))[:, :-1]

    def pred_contrib_matrix(M: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(M, pred_contrib=True, num_threads=1))[:, :-1]

    return {
        "studentprofile.explain": ("raw", ours),
        "studentprofile.explain(n_jobs=-1)": ("raw", ours_all_cores),
        "studentprofile.explain+reasons(top=3)": ("raw", ours_reasons),
        "studentprofile.explain(engine='compiled')": ("raw", ours_engine_compiled),
        "studentprofile.compiled shap_values": ("raw", ours_compiled),
        "shap.TreeExplainer": ("prepared", tree_explainer),
        "lightgbm.pred_contrib(DataFrame)": ("prepared", pred_contrib_frame),
        "lightgbm.pred_contrib(matrix, 1 thread)": ("matrix", pred_contrib_matrix),
    }


def _inputs(model: RiskModel, X: pd.DataFrame) -> dict[str, Any]:
    return {"raw": X, "prepared": model._prepare(X), "matrix": model.encode(X)}


def _rows(data: Any, idx: Any) -> Any:
    return data.iloc[idx] if isinstance(data, pd.DataFrame) else data[idx]


def check_agreement(model: RiskModel, X: pd.DataFrame) -> dict[str, float]:
    """Largest absolute difference of each implementation from ``model.explain``."""
    inputs = _inputs(model, X)
    impls = implementations(model)
    ref = impls["studentprofile.explain"][1](X)
    out = {}
    for name, (kind, fn) in impls.items():
        vals = fn(inputs[kind])
        out[name] = float(np.max(np.abs(vals - ref))) if vals.size else 0.0
    return out


def _time(fn: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def run(n_students: int = 50_000, n_trees: int = 300, repeats: int = 200,
        batch_repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Fit one model, check the implementations agree, then time them; return a JSON document."""
    X, y, infos = make_students(n_students, seed)
    t0 = time.perf_counter()
    model = RiskModel(n_estimators=n_trees, validation_fraction=None, extra_trees=False,
                      random_state=seed).fit(X, y, feature_info=infos)
    fit_s = time.perf_counter() - t0
    agreement = check_agreement(model, X.iloc[:2000])
    inputs = _inputs(model, X)
    impls = implementations(model)
    throughput: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    rng = np.random.default_rng(seed + 1)
    rows = rng.integers(0, n_students, repeats)
    for name, (kind, fn) in impls.items():
        data = inputs[kind]
        fn(_rows(data, slice(0, 100)))  # warm-up
        best = min(_time(lambda fn=fn, data=data: fn(data), batch_repeats))
        throughput[name] = {"seconds": best, "students_per_second": n_students / best}
        singles = [_rows(data, [int(r)]) for r in rows]
        it = iter(singles)
        times = _time(lambda fn=fn, it=it: fn(next(it)), repeats)
        latency[name] = {
            "median_ms": 1e3 * statistics.median(times),
            "p95_ms": 1e3 * float(np.quantile(times, 0.95)),
        }
    base = throughput["lightgbm.pred_contrib(matrix, 1 thread)"]["students_per_second"]
    for name in throughput:
        throughput[name]["relative_to_bare_pred_contrib"] = throughput[name][
            "students_per_second"] / base
    import lightgbm
    import shap

    return {
        "benchmark": "bench_explain",
        "n_students": n_students,
        "n_features": X.shape[1],
        "n_trees": model.booster_.num_trees(),
        "num_leaves": model.num_leaves,
        "fit_seconds": fit_s,
        "max_abs_difference_from_ours": agreement,
        "throughput": throughput,
        "single_student_latency": latency,
        "notes": [
            "throughput: best of batch_repeats runs over the whole batch",
            "studentprofile rows start from the raw DataFrame (validation and category "
            "mapping included) and run LightGBM on one thread (RiskModel n_jobs=1, the "
            "default) or on every core (n_jobs=-1); the shap and pred_contrib(DataFrame) rows "
            "get the already prepared frame and LightGBM's default (OpenMP, every core) "
            "threads; pred_contrib(matrix, 1 thread) is the bare kernel",
            "shap.TreeExplainer on a LightGBM booster calls LightGBM's pred_contrib itself",
        ],
        "environment": {
            "python": platform.python_version(),
            "lightgbm": lightgbm.__version__,
            "shap": shap.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
        },
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="write the JSON here (default: stdout)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        # shap (<= 0.51) warns at import under matplotlib 3.11; not ours (see pyproject)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        result = run(args.students, args.trees, args.repeats, args.batch_repeats)
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
