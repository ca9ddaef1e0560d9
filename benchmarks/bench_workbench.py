"""The workbench on the demo's OULAD backtest: a model grid, baselines, ablation, mitigation.

Runs the bundled demo config (``studentprofile demo``: withdrawal within 60 days, trained on
the 2013 presentations, tested on 2014 with two splits) with a ``[model] grid`` of three
LightGBM settings, the default baselines (logistic regression on the same features, the ABC
rules, the best single feature), feature-group ablation (leave one family out, only one family)
and the opt-in mitigation ``equal_tpr`` on ``age_band`` at the audited caseload (top 10% a
week). It writes every candidate's AUC, precision@10% and ECE per split, each selection rule's
choice and regret, and the gap the mitigation closes and what it costs, as JSON.

The pipeline is the peer of itself here: the comparison *is* the measurement (all candidates
read the same features on the same splits in one process).

Usage::

    PYTHONPATH=src python benchmarks/bench_workbench.py                 # full OULAD
    PYTHONPATH=src python benchmarks/bench_workbench.py --sample 0.1    # 10% of the students
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from studentprofile.pipeline import FairnessConfig, GridCandidate, ModelConfig, demo_config, run

GRID = (
    GridCandidate(name="lgbm", params={}),
    GridCandidate(name="lgbm-small", params={"num_leaves": 7, "min_child_samples": 100}),
    GridCandidate(name="lgbm-slow", params={"learning_rate": 0.03, "n_estimators": 800}),
)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the grid on the demo config and write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=float, default=None,
                        help="a share of the students (default: all)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "bench_workbench.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    cfg = demo_config(sample_students=args.sample) if args.sample else demo_config()
    with tempfile.TemporaryDirectory(prefix="bench-workbench-") as tmp:
        cfg = cfg.with_overrides(
            model=ModelConfig(params=dict(cfg.model), grid=GRID,
                              ablation=("leave_one_out", "only_one")),
            fairness=FairnessConfig(mitigate="equal_tpr", attribute="age_band",
                                    tolerance=0.05,
                                    min_group_size=cfg.evaluation.min_group_size),
            tracking=type(cfg.tracking)(enabled=False, output_dir=Path(tmp)),
        )
        t0 = time.perf_counter()
        result = run(cfg, progress=lambda m: logging.info("%s", m))
        seconds = time.perf_counter() - t0
        post = json.loads(result.files["post_modeling.post_modeling"].read_text())
        mitigation = (json.loads(result.files["mitigation"].read_text())
                      if "mitigation" in result.files else None)
    per_split: dict[str, dict[str, dict[str, float | None]]] = {}
    for metric, rows in post["per_split"].items():
        for row in rows:
            split = str(row["split"])
            for cand, value in row.items():
                if cand != "split":
                    per_split.setdefault(cand, {}).setdefault(split, {})[metric] = value
    selection = {r["rule"]: {"chosen": r["chosen"], "mean_regret": r["mean_regret"],
                             "max_regret": r["max_regret"]}
                 for r in post["selection"]["summary"]}
    out = {
        "config": "studentprofile demo (oulad_demo.toml)",
        "sample_students": args.sample,
        "grid": {c.name: dict(c.params) for c in GRID},
        "candidates": result.facts["grid"]["candidates"],
        "metric": post["metric"],
        "shipped": post["chosen"],
        "select_rule": post["select_rule"],
        "per_candidate_per_split": per_split,
        "selection": selection,
        "list_overlap_with_shipped": [r for r in post.get("list_overlap", [])
                                      if post["chosen"] in (r["candidate_a"], r["candidate_b"])],
        "list_churn": post.get("list_churn"),
        "mitigation": None if mitigation is None else {
            "attribute": mitigation["attribute"], "constraint": mitigation["constraint"],
            "tolerance": mitigation["tolerance"], "fitted_on": mitigation["fitted_on"],
            "judged_on": mitigation["judged_on"], "met": mitigation["met"],
            "cost": mitigation["cost"], "gap_closed": mitigation["gap_closed"],
            "groups": mitigation["groups"], "notes": mitigation["notes"],
        },
        "notes": post["notes"],
        "seconds": {"total": round(seconds, 1), **result.seconds},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    logging.info("wrote %s", args.out)
    return out


if __name__ == "__main__":
    main()
