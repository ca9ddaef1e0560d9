"""Exact path-dependent TreeSHAP: studentprofile.compiled vs LightGBM pred_contrib vs shap.

Same model and data as ``bench_scoring.py`` (300 trees, 31 leaves, 60 features, 5% NaN).
LightGBM's ``pred_contrib`` explains about 500 rows a second on one thread, so the engines are
timed on the first ``--rows`` rows (2,000 by default) rather than all 200,000; every engine gets
the same rows. Rounds interleave the engines; the JSON keeps every round and the median.

    python benchmarks/bench_treeshap.py
    python benchmarks/bench_treeshap.py --rows 500 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_scoring import make_data, train_model  # noqa: E402

RESULTS = HERE / "results"


def _best(fn: Any, repeat: int, clock: Any = time.perf_counter) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = clock()
        value = fn()
        best = min(best, clock() - start)
    return best, value


# On a shared machine wall time includes waiting for a core; the process's CPU time does not,
# so the single-thread figures are also reported in rows per CPU second.
CPU = time.process_time


def run_ours(model_path: str, X: np.ndarray, repeat: int) -> tuple[dict[str, Any], np.ndarray]:
    import numba

    from studentprofile.compiled import compile

    scorer = compile(model_path)
    start = time.perf_counter()
    scorer.shap_values(X[:4])  # builds the Fast TreeSHAP v2 tables
    res: dict[str, Any] = {"tables_s": time.perf_counter() - start,
                           "table_bytes": scorer.shap_table_bytes,
                           "trees_fast": scorer.n_trees_fast_shap, "trees": scorer.n_trees}
    values = None
    for n in (1, 2):
        numba.set_num_threads(n)
        t, values = _best(lambda: scorer.shap_values(X), repeat)
        res[f"rows_per_s_{n}t"] = X.shape[0] / t
    numba.set_num_threads(1)
    t, _ = _best(lambda: scorer.shap_values(X), repeat, CPU)
    res["rows_per_cpu_s_1t"] = X.shape[0] / t
    assert values is not None
    return res, values


def run_lightgbm(model_path: str, X: np.ndarray, repeat: int) -> tuple[dict[str, Any], np.ndarray]:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=model_path)
    res: dict[str, Any] = {}
    values = None
    for n in (1, 2):
        t, values = _best(lambda n=n: booster.predict(X, pred_contrib=True, num_threads=n),
                          repeat)
        res[f"rows_per_s_{n}t"] = X.shape[0] / t
    t, _ = _best(lambda: booster.predict(X, pred_contrib=True, num_threads=1), repeat, CPU)
    res["rows_per_cpu_s_1t"] = X.shape[0] / t
    assert values is not None
    return res, values


def run_shap(model_path: str, X: np.ndarray, repeat: int) -> tuple[dict[str, Any], np.ndarray]:
    import lightgbm as lgb

    with warnings.catch_warnings():
        # shap (<= 0.51) touches deprecated matplotlib colormap setters at import
        warnings.simplefilter("ignore")
        import shap

    booster = lgb.Booster(model_file=model_path)
    explainer = shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")
    with warnings.catch_warnings():
        # shap announces (UserWarning) that LightGBM binary output changed to a list in the past
        warnings.simplefilter("ignore", UserWarning)
        t, values = _best(lambda: np.asarray(explainer.shap_values(X)), repeat)
        t_cpu, _ = _best(lambda: np.asarray(explainer.shap_values(X)), repeat, CPU)
    rate = X.shape[0] / t
    # shap's tree explainer runs its C++ loop on one thread whatever the machine has
    base = float(np.ravel(explainer.expected_value)[-1])
    stats = {"rows_per_s_1t": rate, "rows_per_s_2t": rate,
             "rows_per_cpu_s_1t": X.shape[0] / t_cpu, "threads_note": "single-threaded"}
    return stats, np.column_stack([values, np.full(X.shape[0], base)])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--data-rows", type=int, default=200_000,
                        help="rows the model is trained on (the scoring benchmark's data)")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="best-of repeats inside a round")
    parser.add_argument("--no-shap", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "bench_treeshap.json"))
    args = parser.parse_args(argv)

    X_all, y = make_data(args.data_rows, args.features)
    model_path = train_model(X_all, y, args.trees, args.leaves)
    X = np.ascontiguousarray(X_all[: args.rows])
    rounds: list[dict[str, dict[str, Any]]] = []
    agreement: dict[str, float] = {}
    for i in range(args.rounds):
        engines: dict[str, dict[str, Any]] = {}
        engines["studentprofile"], ours = run_ours(model_path, X, args.repeat)
        engines["lightgbm_pred_contrib"], ref = run_lightgbm(model_path, X, args.repeat)
        agreement["studentprofile_vs_pred_contrib_max_abs"] = float(np.abs(ours - ref).max())
        if not args.no_shap:
            engines["shap"], sv = run_shap(model_path, X, args.repeat)
            agreement["shap_vs_pred_contrib_max_abs"] = float(np.abs(sv - ref).max())
        rounds.append(engines)
        print(f"round {i + 1}/{args.rounds}: " + json.dumps(engines))

    summary: dict[str, dict[str, Any]] = {}
    for engine in rounds[0]:
        summary[engine] = {}
        for key, value in rounds[0][engine].items():
            if isinstance(value, (int, float)):
                summary[engine][key] = statistics.median(r[engine][key] for r in rounds)
            else:
                summary[engine][key] = value
    ratios = {
        f"{key}_vs_{peer}": [r["studentprofile"][key] / r[peer][key] for r in rounds]
        for peer in rounds[0] if peer != "studentprofile"
        for key in ("rows_per_s_1t", "rows_per_s_2t", "rows_per_cpu_s_1t")
    }
    result = {
        "engines": summary,
        "ratios_per_round": ratios,
        "agreement": agreement,
        "rounds": rounds,
        "setup": {
            "rows_explained": args.rows, "data_rows": args.data_rows, "trees": args.trees,
            "leaves": args.leaves, "features": args.features, "nan_rate": 0.05,
            "rounds": args.rounds, "repeat": args.repeat,
            "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(), "python": platform.python_version(),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    print(json.dumps({"engines": summary, "ratios_per_round": ratios}, indent=2))
    return result


if __name__ == "__main__":
    main()
