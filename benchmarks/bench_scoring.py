"""Batch and single-row scoring: studentprofile.compiled vs LightGBM vs lleaves, in one run.

The model and data are the issue's: a binary LightGBM model with 300 trees of 31 leaves on 60
features, scored on 200,000 rows with 5% NaN. Every engine is timed in the same run, in rounds
that interleave the engines (the machine is shared, so ratios measured side by side are what
count); the JSON keeps every round and the median.

lleaves needs an llvmlite older than the one numba uses, so it runs in its own virtual
environment (``benchmarks/.lleaves-venv``, built on first use with ``pip install lleaves
"llvmlite<0.44"``) through a subprocess that writes its timings and a sample of its predictions
back as JSON.

    python benchmarks/bench_scoring.py                 # full size, writes benchmarks/results/
    python benchmarks/bench_scoring.py --rows 20000 --trees 50 --rounds 1   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CACHE = HERE / ".cache"
LLEAVES_VENV = HERE / ".lleaves-venv"

if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


# --------------------------------------------------------------------------------- model, data
def make_data(n_rows: int, n_features: int = 60, nan_rate: float = 0.05, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic rows with a non-linear binary target and ``nan_rate`` NaN."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    w = rng.normal(size=n_features)
    logit = X @ w * 0.3 + np.sin(X[:, 0] * 2) + X[:, 1] * X[:, 2]
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    X[rng.random(X.shape) < nan_rate] = np.nan
    return X, y


def train_model(X: np.ndarray, y: np.ndarray, n_trees: int = 300, num_leaves: int = 31) -> str:
    """Train (or load from ``benchmarks/.cache``) the benchmark model; return its path."""
    import lightgbm as lgb

    CACHE.mkdir(exist_ok=True)
    key = f"model_{X.shape[0]}x{X.shape[1]}_{n_trees}t_{num_leaves}l.txt"
    path = CACHE / key
    if not path.exists():
        booster = lgb.train(
            {"objective": "binary", "num_leaves": num_leaves, "verbose": -1, "seed": 1,
             "deterministic": True},
            lgb.Dataset(X, y),
            num_boost_round=n_trees,
        )
        tmp = path.with_suffix(".tmp")
        booster.save_model(str(tmp))
        os.replace(tmp, path)
    return str(path)


def _best(fn: Any, repeat: int, clock: Any = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def _single_row_us(call: Any, rows: list[np.ndarray], repeat: int = 3,
                   clock: Any = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        for row in rows:
            call(row)
        best = min(best, (clock() - start) / len(rows) * 1e6)
    return best


def _mappings(X: np.ndarray, n: int) -> list[dict[str, float]]:
    """Rows as mappings of feature name -> Python float, as a JSON request would give them."""
    names = [f"Column_{j}" for j in range(X.shape[1])]
    return [dict(zip(names, map(float, X[i]), strict=True)) for i in range(n)]


# On a shared machine wall time includes waiting for a core; the process's CPU time
# (time.process_time) does not, so single-thread figures are reported both ways.
CPU = time.process_time


# --------------------------------------------------------------------------------- engines
def run_ours(model_path: str, X: np.ndarray, threads: tuple[int, ...], n_single: int,
             repeat: int) -> tuple[dict[str, float], np.ndarray]:
    import numba

    from studentprofile.compiled import compile

    start = time.perf_counter()
    scorer = compile(model_path, warm=False)
    model_s = time.perf_counter() - start
    scorer.predict_raw(X[:8])
    scorer.predict_one(np.ascontiguousarray(X[0]))
    res: dict[str, float] = {"model_to_arrays_s": model_s}
    for n in threads:
        numba.set_num_threads(n)
        res[f"rows_per_s_{n}t"] = X.shape[0] / _best(lambda: scorer.predict_raw(X), repeat)
    numba.set_num_threads(1)
    res["rows_per_cpu_s_1t"] = X.shape[0] / _best(lambda: scorer.predict_raw(X), repeat, CPU)
    numba.set_num_threads(max(threads))
    rows = [np.ascontiguousarray(X[i]) for i in range(n_single)]
    res["single_row_us"] = _single_row_us(lambda r: scorer.predict_one(r, raw=True), rows)
    res["single_row_cpu_us"] = _single_row_us(lambda r: scorer.predict_one(r, raw=True), rows,
                                              clock=CPU)
    res["single_row_proba_us"] = _single_row_us(scorer.predict_one, rows)
    # the campus-system path: one student's features as a mapping by name (a JSON object)
    mappings = _mappings(X, n_single)
    res["single_row_mapping_us"] = _single_row_us(lambda m: scorer.predict_one(m, raw=True),
                                                  mappings)
    return res, scorer.predict_raw(X)


def ours_compile_times(model_path: str) -> dict[str, float]:
    """compile() in fresh processes: with an empty numba cache (cold) and a primed one (warm)."""
    code = (
        "import sys, time, json; sys.path.insert(0, sys.argv[2]);"
        "t = time.perf_counter();"
        "from studentprofile.compiled import compile;"
        "s = compile(sys.argv[1]);"
        "print(json.dumps(time.perf_counter() - t))"
    )
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("compile_cold_jit_s", "compile_s"):
            proc = subprocess.run(
                [sys.executable, "-c", code, model_path, str(ROOT / "src")],
                env=env, capture_output=True, text=True, check=True,
            )
            out[label] = float(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def run_lightgbm(model_path: str, X: np.ndarray, threads: tuple[int, ...], n_single: int,
                 repeat: int) -> tuple[dict[str, float], np.ndarray]:
    import lightgbm as lgb
    import pandas as pd

    start = time.perf_counter()
    booster = lgb.Booster(model_file=model_path)
    res: dict[str, float] = {"compile_s": time.perf_counter() - start}
    for n in threads:
        res[f"rows_per_s_{n}t"] = X.shape[0] / _best(
            lambda n=n: booster.predict(X, raw_score=True, num_threads=n), repeat
        )
    res["rows_per_cpu_s_1t"] = X.shape[0] / _best(
        lambda: booster.predict(X, raw_score=True, num_threads=1), repeat, CPU
    )
    rows = [X[i : i + 1] for i in range(n_single)]
    res["single_row_us"] = _single_row_us(
        lambda r: booster.predict(r, raw_score=True, num_threads=1), rows
    )
    res["single_row_cpu_us"] = _single_row_us(
        lambda r: booster.predict(r, raw_score=True, num_threads=1), rows, clock=CPU
    )
    # the same request with LightGBM alone: a one-row DataFrame from the mapping
    names = booster.feature_name()
    mappings = [dict(zip(names, m.values(), strict=True)) for m in _mappings(X, n_single)]
    res["single_row_mapping_us"] = _single_row_us(
        lambda m: booster.predict(pd.DataFrame([m]), raw_score=True, num_threads=1), mappings
    )
    return res, booster.predict(X, raw_score=True)


# lleaves has no raw-score switch: it returns the transformed output (the probability), and is
# compared with Booster.predict(X) for agreement.
_LLEAVES_RUNNER = r"""
import json, sys, time
import numpy as np
import lleaves
model_path, data_path, out_path, n_single, repeat = sys.argv[1:6]
n_single, repeat = int(n_single), int(repeat)
X = np.load(data_path)
start = time.perf_counter()
model = lleaves.Model(model_file=model_path)
model.compile()
res = {"compile_s": time.perf_counter() - start}
for n in (1, 2):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter(); model.predict(X, n_jobs=n)
        best = min(best, time.perf_counter() - t)
    res[f"rows_per_s_{n}t"] = X.shape[0] / best
best = float("inf")
for _ in range(repeat):
    t = time.process_time(); model.predict(X, n_jobs=1)
    best = min(best, time.process_time() - t)
res["rows_per_cpu_s_1t"] = X.shape[0] / best
rows = [np.ascontiguousarray(X[i:i + 1]) for i in range(n_single)]
for key, clock in (("single_row_us", time.perf_counter), ("single_row_cpu_us", time.process_time)):
    best = float("inf")
    for _ in range(3):
        t = clock()
        for r in rows:
            model.predict(r, n_jobs=1)
        best = min(best, (clock() - t) / len(rows) * 1e6)
    res[key] = best
np.save(out_path + ".npy", model.predict(X, n_jobs=2))
with open(out_path, "w") as fh:
    json.dump(res, fh)
"""


def ensure_lleaves_venv() -> Path:
    """Build ``benchmarks/.lleaves-venv`` (lleaves + an llvmlite it works with) if missing."""
    python = LLEAVES_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LLEAVES_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "lleaves", "llvmlite<0.44", "numpy"],
            check=True,
        )
    return python


def run_lleaves(model_path: str, X: np.ndarray, n_single: int, repeat: int
                ) -> tuple[dict[str, Any], np.ndarray | None]:
    try:
        python = ensure_lleaves_venv()
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"error": f"could not build the lleaves environment: {exc}"}, None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "X.npy"
        np.save(data, X)
        runner = Path(tmp) / "runner.py"
        runner.write_text(_LLEAVES_RUNNER)
        out = Path(tmp) / "out.json"
        proc = subprocess.run(
            [str(python), str(runner), model_path, str(data), str(out), str(n_single),
             str(repeat)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1:]}, None
        return json.loads(out.read_text()), np.load(str(out) + ".npy")


# --------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of all engines")
    parser.add_argument("--repeat", type=int, default=3, help="best-of repeats inside a round")
    parser.add_argument("--single", type=int, default=20_000, help="rows for single-row latency")
    parser.add_argument("--no-lleaves", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "bench_scoring.json"))
    args = parser.parse_args(argv)

    X, y = make_data(args.rows, args.features)
    model_path = train_model(X, y, args.trees, args.leaves)
    rounds: list[dict[str, dict[str, Any]]] = []
    agreement: dict[str, float] = {}
    for i in range(args.rounds):
        engines: dict[str, dict[str, Any]] = {}
        ours, p_ours = run_ours(model_path, X, (1, 2), args.single, args.repeat)
        engines["studentprofile"] = ours
        lgbm, p_lgb = run_lightgbm(model_path, X, (1, 2), min(args.single, 5000), args.repeat)
        engines["lightgbm"] = lgbm
        agreement["studentprofile_vs_lightgbm_max_abs"] = float(np.abs(p_ours - p_lgb).max())
        if not args.no_lleaves:
            ll, p_ll = run_lleaves(model_path, X, min(args.single, 5000), args.repeat)
            engines["lleaves"] = ll
            if p_ll is not None:
                p_prob = 1.0 / (1.0 + np.exp(-p_lgb))
                agreement["lleaves_vs_lightgbm_proba_max_abs"] = float(np.abs(p_ll - p_prob).max())
        rounds.append(engines)
        print(f"round {i + 1}/{args.rounds}: " + json.dumps(engines))
    compile_times = ours_compile_times(model_path)

    def median(engine: str, key: str) -> float | None:
        values = [r[engine][key] for r in rounds if key in r.get(engine, {})]
        return statistics.median(values) if values else None

    summary: dict[str, dict[str, Any]] = {}
    for engine in rounds[0]:
        keys = {k for r in rounds for k in r.get(engine, {}) if k != "error"}
        summary[engine] = {k: median(engine, k) for k in sorted(keys)}
        errors = [r[engine]["error"] for r in rounds if "error" in r.get(engine, {})]
        if errors:
            summary[engine]["error"] = errors[0]
    summary["studentprofile"].update(compile_times)
    ratios: dict[str, list[float]] = {}
    for peer in ("lightgbm", "lleaves"):
        for key in ("rows_per_s_1t", "rows_per_s_2t", "rows_per_cpu_s_1t"):
            vals = [
                r["studentprofile"][key] / r[peer][key]
                for r in rounds if key in r.get(peer, {})
            ]
            if vals:
                ratios[f"{key}_vs_{peer}"] = vals
        vals = [
            r[peer]["single_row_us"] / r["studentprofile"]["single_row_us"]
            for r in rounds if "single_row_us" in r.get(peer, {})
        ]
        if vals:
            ratios[f"single_row_speedup_vs_{peer}"] = vals
        vals = [
            r[peer]["single_row_cpu_us"] / r["studentprofile"]["single_row_cpu_us"]
            for r in rounds if "single_row_cpu_us" in r.get(peer, {})
        ]
        if vals:
            ratios[f"single_row_cpu_speedup_vs_{peer}"] = vals
        vals = [
            r[peer]["single_row_mapping_us"] / r["studentprofile"]["single_row_mapping_us"]
            for r in rounds if "single_row_mapping_us" in r.get(peer, {})
        ]
        if vals:
            ratios[f"single_row_mapping_speedup_vs_{peer}"] = vals
    result = {
        "engines": summary,
        "ratios_per_round": ratios,
        "agreement": agreement,
        "rounds": rounds,
        "setup": {
            "rows": args.rows, "trees": args.trees, "leaves": args.leaves,
            "features": args.features, "nan_rate": 0.05, "rounds": args.rounds,
            "repeat": args.repeat, "machine": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
            "python": platform.python_version(),
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
