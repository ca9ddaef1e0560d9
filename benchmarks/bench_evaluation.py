"""Evaluation speed, ours vs the peers, in one process; writes JSON.

Cases (each at every size ``n``):

* ``roc_auc`` and ``pr_auc``: ours vs scikit-learn (``roc_auc_score``, ``average_precision_score``);
* ``group_metrics``: ``fairness_audit`` (no bootstrap, no intersections, two attributes, seven
  group metrics with disparities and Fisher tests) vs fairlearn ``MetricFrame`` with the same seven
  group metrics (rates only);
* ``bootstrap``: ``fairness_audit`` with 200 bootstrap draws vs fairlearn ``MetricFrame`` with
  ``n_boot=200`` (fairlearn redraws rows and recomputes every metric per draw).

Run::

    PYTHONPATH=src python benchmarks/bench_evaluation.py --n 100000 1000000 --json bench.json

``tests/test_bench_evaluation.py`` runs :func:`run_case` at a small size and checks that ours and
the peer agree.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.evaluation import fairness_audit, pr_auc, roc_auc

CASES = ("roc_auc", "pr_auc", "group_metrics", "bootstrap")
N_BOOT = 200


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    attrs = pd.DataFrame(
        {
            "gender": rng.choice(["F", "M"], n),
            "imd_band": rng.choice([f"{i}0-{i + 1}0%" for i in range(10)], n),
        }
    )
    y = (rng.random(n) < 0.2).astype(np.int64)
    scores = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.2, n), 0, 1).round(3)  # ties
    return y, scores, attrs


def _fairlearn_metrics() -> dict[str, Any]:
    from fairlearn.metrics import (
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import precision_score

    def npv(y_true: Any, y_pred: Any) -> float:
        unflagged = np.asarray(y_pred) == 0
        return float((np.asarray(y_true)[unflagged] == 0).mean()) if unflagged.any() else np.nan

    def fdr(y_true: Any, y_pred: Any) -> float:
        return 1.0 - precision_score(y_true, y_pred, zero_division=np.nan)

    return {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "fdr": fdr,
        "precision": functools.partial(precision_score, zero_division=np.nan),
        "npv": npv,
    }


def run_case(case: str, y: np.ndarray, s: np.ndarray, attrs: pd.DataFrame) -> dict[str, Any]:
    """Time ours and the peer on one case; return seconds and both answers."""
    if case in ("roc_auc", "pr_auc"):
        import sklearn.metrics as skm

        ours_fn = roc_auc if case == "roc_auc" else pr_auc
        peer_fn = skm.roc_auc_score if case == "roc_auc" else skm.average_precision_score
        t0 = time.perf_counter()
        ours = ours_fn(y, s)
        t1 = time.perf_counter()
        peer = peer_fn(y, s)
        t2 = time.perf_counter()
        return {"ours_s": t1 - t0, "peer_s": t2 - t1, "peer": "scikit-learn",
                "ours": float(ours), "peer_value": float(peer)}
    from fairlearn.metrics import MetricFrame

    flags = (s >= 0.3).astype(np.int64)
    n_boot = N_BOOT if case == "bootstrap" else 0
    t0 = time.perf_counter()
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.3, intersections=None, n_boot=n_boot,
        min_group_size=5,  # the smallest allowed; the data's groups are all larger
    )
    t1 = time.perf_counter()
    frames = []
    for column in attrs.columns:
        kwargs: dict[str, Any] = {}
        if n_boot:
            kwargs = {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975], "random_state": 0}
        mf = MetricFrame(
            metrics=_fairlearn_metrics(), y_true=y, y_pred=flags,
            sensitive_features=attrs[column], **kwargs,
        )
        frames.append(mf.by_group.assign(attribute=column))
    t2 = time.perf_counter()
    peer = pd.concat(frames)
    ours_frame = audit.to_frame()
    diffs = []
    for metric in _fairlearn_metrics():
        for column in attrs.columns:
            sub = ours_frame[ours_frame["attribute"] == column].set_index("group")[metric]
            theirs = peer[peer["attribute"] == column][metric]
            theirs.index = theirs.index.astype(str)
            diffs.append(float(np.nanmax(np.abs(sub.loc[theirs.index].to_numpy()
                                                - theirs.to_numpy(dtype=float)))))
    return {"ours_s": t1 - t0, "peer_s": t2 - t1, "peer": "fairlearn MetricFrame",
            "max_abs_diff": max(diffs)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--bootstrap-max-n", type=int, default=100_000,
                        help="skip the bootstrap case above this size (fairlearn's is slow)")
    args = parser.parse_args(argv)
    results = []
    for n in args.n:
        y, s, attrs = make_data(n)
        for case in args.cases:
            if case == "bootstrap" and n > args.bootstrap_max_n:
                continue
            row = {"n": n, "case": case, **run_case(case, y, s, attrs)}
            row["ratio_peer_over_ours"] = row["peer_s"] / row["ours_s"]
            results.append(row)
            print(f"n={n:>9,} {case:<14} ours {row['ours_s']:8.3f} s   {row['peer']:<22} "
                  f"{row['peer_s']:8.3f} s   x{row['ratio_peer_over_ours']:.1f}", flush=True)
    out = {
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "system": platform.system()},
        "n_boot": N_BOOT,
        "results": results,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
