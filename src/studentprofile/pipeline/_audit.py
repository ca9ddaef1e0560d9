"""The run's fairness audit: per tested student, reached the outcome vs flagged before it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.tables import EventTables

__all__ = ["student_audit", "top_flags"]


def top_flags(frame: pd.DataFrame, k: float) -> np.ndarray:
    """Flag the top ``k`` share of each as-of date's scores (ties at the cut: not flagged)."""
    flags = np.zeros(len(frame), dtype=bool)
    for _, idx in frame.groupby("as_of", sort=False).indices.items():
        s = frame["score"].to_numpy()[idx]
        n = int(math.floor(k * len(s)))
        if n <= 0:
            continue
        order = np.argsort(-s, kind="stable")
        cut = s[order[n - 1]]
        above = s > cut
        at = s == cut
        # ties at the cut all fit, or none is flagged (never more than k)
        flags[idx] = above | (at if above.sum() + at.sum() <= n else False)
    return flags


def student_audit(cfg: ExperimentConfig, tables: EventTables, scores: pd.DataFrame,
                   attributes: list[str]) -> Any:
    """Per tested student: reached the outcome (after being scored) vs flagged before it."""
    from studentprofile.evaluation import fairness_audit

    sc = scores[scores["label"].notna()].reset_index(drop=True)
    sc["flag"] = top_flags(sc, cfg.evaluation.audit_k)
    oc = tables.outcomes
    oc = oc[oc["outcome"].astype(str).isin(cfg.label.outcome)]
    first = oc.groupby("student_id")["time"].min()
    t_out = sc["student_id"].map(first)
    before = t_out.isna().to_numpy() | (sc["as_of"] <= t_out).to_numpy()
    g = sc.assign(flag=sc["flag"] & before, pos=sc["label"] == 1).groupby("student_id")
    per = pd.DataFrame({"flagged": g["flag"].any(), "reached": g["pos"].any(),
                        "score": g["score"].max()})
    st = tables.students.set_index("student_id")
    attrs = st.loc[per.index, attributes].reset_index(drop=True)
    return fairness_audit(
        y_true=per["reached"].to_numpy(), scores=per["score"].to_numpy(), attributes=attrs,
        flags=per["flagged"].to_numpy(), min_group_size=cfg.evaluation.min_group_size,
        n_boot=cfg.evaluation.n_boot, random_state=cfg.seed,
    )

