"""Benchmark: the warning layer's hot paths against their peers, in one process.

* ``abc``: the ABC rule kernel (numba) against the same rules in vectorised numpy, on ``n`` rows
  of three indicators with missing values;
* ``policy``: ``AlertPolicy.apply`` (numba state machine) against the row-by-row Python
  reference of the tests, on students x weekly as-of dates;
* ``caseload``: ``assign_caseloads`` (matroid greedy by augmenting paths + linear assignment of
  the selected students) against one dense linear assignment over students x (slots + students)
  with rank weights (the textbook formulation, the same covered set), and against first-come
  (fast, but strands students: the count is recorded).

Every pair is checked for agreement in the same run (``agree``). The machine is shared and noisy:
compare the ratios within one run, not absolute times across runs.

Usage::

    PYTHONPATH=src python benchmarks/bench_warning.py                    # default sizes
    PYTHONPATH=src python benchmarks/bench_warning.py --scale 0.1 --out x.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from studentprofile import __version__
from studentprofile.warning import (
    ABCIndicator,
    ABCRules,
    AlertPolicy,
    _kernels,
    abc_flags,
    assign_caseloads,
)

# ----------------------------------------------------------------------------- implementations


def abc_numpy(values: np.ndarray, thresholds, ops, scales, missing):
    """The ABC rules in vectorised numpy (the peer of the kernel)."""
    k = values.shape[1]
    nan = np.isnan(values)
    below = np.isin(ops, [_kernels.OP_LT, _kernels.OP_LE])
    with np.errstate(invalid="ignore"):
        flag = np.select(
            [ops == _kernels.OP_LT, ops == _kernels.OP_LE, ops == _kernels.OP_GT],
            [values < thresholds, values <= thresholds, values > thresholds],
            values >= thresholds,
        )
        dist = np.where(below, thresholds - values, values - thresholds)
        sev = np.clip(dist / scales, 0.0, 1.0)
    flag = np.where(nan, missing.astype(bool), flag)
    sev = np.where(flag & ~nan, sev, 0.0)
    count = flag.sum(axis=1)
    return flag.astype(np.uint8), count, count + sev.sum(axis=1) / (k + 1)


def policy_python(raw, days, offsets, n_levels, enter, exit_, cooldown, alert_from, bypass):
    """The row-by-row reference of tests/test_warning_kernels.py."""
    n = len(raw)
    level_out = np.zeros(n, dtype=np.int64)
    alert_out = np.zeros(n, dtype=np.uint8)
    for s in range(len(offsets) - 1):
        on = dict.fromkeys(range(1, n_levels + 1), False)
        above = dict.fromkeys(on, 0)
        below = dict.fromkeys(on, 0)
        alerted, last_day, last_level = 0, None, 0
        for r in range(offsets[s], offsets[s + 1]):
            for k in on:
                if raw[r] >= k:
                    above[k], below[k] = above[k] + 1, 0
                else:
                    above[k], below[k] = 0, below[k] + 1
                if not on[k] and above[k] >= enter:
                    on[k] = True
                elif on[k] and below[k] >= exit_:
                    on[k] = False
            level = max([k for k in on if on[k]], default=0)
            level_out[r] = level
            if level < alert_from:
                alerted = 0
            alerted = min(alerted, level)
            allowed = (last_day is None or days[r] - last_day >= cooldown
                       or (bypass and level > last_level))
            if level >= alert_from and level > alerted and allowed:
                alert_out[r] = 1
                alerted, last_day, last_level = level, days[r], level
    return level_out, alert_out


def caseload_dense_lsa(students: pd.DataFrame, advisors: pd.DataFrame) -> np.ndarray:
    """Covered set by one dense assignment with rank weights (strict affinity, no fit costs)."""
    n = len(students)
    order = np.argsort(-students["score"].to_numpy(), kind="stable")
    weight = np.empty(n)
    weight[order] = np.arange(n, 0, -1, dtype=float)
    caps = advisors["capacity"].to_numpy()
    slot_adv = np.repeat(np.arange(len(advisors)), np.minimum(caps, n))
    covers = [set(p) for p in advisors["programmes"]]
    prog = students["programme"].to_numpy()
    ok = np.array([[p in covers[a] for a in slot_adv] for p in prog], dtype=bool)
    cost = np.where(ok, -weight[:, None], np.inf)
    cost = np.hstack([cost, np.zeros((n, n))])  # one "unassigned" column per student
    rows, cols = linear_sum_assignment(cost)
    covered = np.zeros(n, dtype=bool)
    covered[rows[cols < len(slot_adv)]] = True
    return covered


def caseload_first_come(students: pd.DataFrame, advisors: pd.DataFrame) -> np.ndarray:
    """Highest risk first, each to the first advisor with room who covers the programme."""
    order = np.argsort(-students["score"].to_numpy(), kind="stable")
    room = advisors["capacity"].to_numpy().copy()
    covers = [set(p) for p in advisors["programmes"]]
    prog = students["programme"].to_numpy()
    covered = np.zeros(len(students), dtype=bool)
    for i in order:
        for a in range(len(room)):
            if room[a] > 0 and prog[i] in covers[a]:
                room[a] -= 1
                covered[i] = True
                break
    return covered


# ---------------------------------------------------------------------------------- cases


def timed(fn, *args, repeat: int = 3) -> tuple[Any, float]:
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def bench_abc(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    values = np.column_stack([rng.beta(8, 2, n), rng.poisson(1, n).astype(float),
                              rng.normal(55, 15, n)])
    values[rng.random(values.shape) < 0.05] = np.nan
    thresholds = np.array([0.9, 2.0, 40.0])
    ops = np.array([_kernels.OP_LT, _kernels.OP_GE, _kernels.OP_LT], dtype=np.int64)
    scales = np.array([0.3, 4.0, 20.0])
    missing = np.array([1, 0, 0], dtype=np.uint8)

    def kernel():
        f = np.empty(values.shape, dtype=np.uint8)
        c = np.empty(n, dtype=np.int64)
        s = np.empty(n)
        _kernels.abc_kernel(values, thresholds, ops, scales, missing, f, c, s)
        return f, c, s

    kernel()  # compile outside the timing
    ours, t_ours = timed(kernel)
    peer, t_peer = timed(abc_numpy, values, thresholds, ops, scales, missing)
    agree = (np.array_equal(ours[0], peer[0]) and np.array_equal(ours[1], peer[1])
             and np.allclose(ours[2], peer[2], rtol=1e-12, atol=1e-12))
    # the public wrapper (frame in, frame out, reasons off) for the end-to-end cost
    X = pd.DataFrame(values, columns=["att", "missed", "score"])
    X.insert(0, "as_of", 0.0)
    X.insert(0, "student_id", np.arange(n))
    rules = ABCRules((ABCIndicator(name="a", feature="att", op="<", threshold=0.9, scale=0.3,
                                   missing="flag"),
                      ABCIndicator(name="b", feature="missed", op=">=", threshold=2.0, scale=4.0),
                      ABCIndicator(name="c", feature="score", op="<", threshold=40.0, scale=20.0)))
    _, t_public = timed(lambda: abc_flags(X, rules, reasons=False), repeat=1)
    return {"case": "abc", "n_rows": n, "numba_s": t_ours, "numpy_s": t_peer,
            "public_abc_flags_s": t_public, "speedup_vs_numpy": t_peer / t_ours,
            "agree": bool(agree)}


def bench_policy(n_students: int, n_dates: int, seed: int = 0,
                 reference: bool = True) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    base = rng.beta(2, 6, n_students)
    walk = np.clip(base[:, None] + rng.normal(0, 0.08, (n_students, n_dates)).cumsum(axis=1),
                   0, 1)
    index = pd.MultiIndex.from_product([np.arange(n_students), np.arange(n_dates) * 7.0],
                                       names=["student_id", "as_of"])
    scores = pd.Series(walk.ravel(), index=index)
    policy = AlertPolicy(tiers={"high": 0.5, "medium": 0.3}, enter_after=2, exit_after=2,
                         cooldown_days=21)
    policy.apply(scores.iloc[:10])  # compile
    out, t_public = timed(policy.apply, scores, repeat=1)
    rec: dict[str, Any] = {"case": "policy", "n_students": n_students, "n_dates": n_dates,
                           "rows": len(scores), "alert_policy_apply_s": t_public,
                           "alerts": int(out["alert"].sum())}
    if reference:
        frame = out.reset_index()
        raw = policy.raw_levels(frame)
        offsets = np.arange(0, len(frame) + 1, n_dates)
        days = frame["as_of"].to_numpy(dtype=float)
        (lv, al), t_ref = timed(policy_python, raw, days, offsets, 2, 2, 2, 21.0, 1, True,
                                repeat=1)
        rec.update({"python_reference_s": t_ref, "speedup_vs_python": t_ref / t_public,
                    "agree": bool(np.array_equal(lv, out["level"].to_numpy())
                                  and np.array_equal(al.astype(bool), out["alert"].to_numpy()))})
    return rec


def caseload_instance(n: int, n_adv: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    progs = [f"P{i}" for i in range(8)]
    students = pd.DataFrame({"student_id": np.arange(n), "score": rng.random(n),
                             "programme": rng.choice(progs, n, p=np.linspace(2, 1, 8) / 12)})
    advisors = pd.DataFrame({
        "advisor_id": [f"a{i}" for i in range(n_adv)],
        "capacity": rng.integers(5, 25, n_adv),
        "programmes": [list(rng.choice(progs, rng.integers(1, 4), replace=False))
                       for _ in range(n_adv)],
    })
    return students, advisors


def bench_caseload(n: int, n_adv: int, seed: int = 0, dense: bool = True) -> dict[str, Any]:
    students, advisors = caseload_instance(n, n_adv, seed)
    ours, t_ours = timed(lambda: assign_caseloads(students, advisors, balance=0.0,
                                                  continuity_bonus=0.0), repeat=1)
    covered = ours.sort_values("student_id")["status"].eq("assigned").to_numpy()
    naive, t_naive = timed(caseload_first_come, students, advisors, repeat=1)
    rec: dict[str, Any] = {"case": "caseload", "n_students": n, "n_advisors": n_adv,
                           "capacity": int(advisors["capacity"].sum()),
                           "assign_caseloads_s": t_ours, "first_come_s": t_naive,
                           "covered": int(covered.sum()),
                           "first_come_covered": int(naive.sum())}
    if dense:
        peer, t_peer = timed(caseload_dense_lsa, students, advisors, repeat=1)
        rec.update({"dense_lsa_s": t_peer, "speedup_vs_dense_lsa": t_peer / t_ours,
                    "agree": bool(np.array_equal(covered, peer))})
    return rec


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    s = max(scale, 1e-3)
    out = [
        bench_abc(int(2_000_000 * s)),
        bench_policy(int(20_000 * s) or 10, 30, reference=True),
        bench_policy(int(200_000 * s) or 10, 30, reference=False),
    ]
    for n, n_adv in ((200, 15), (1000, 60), (3000, 180)):
        out.append(bench_caseload(max(int(n * min(s * 10, 1)), 20), max(int(n_adv *
                                  min(s * 10, 1)), 3), dense=True))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size multiplier")
    parser.add_argument("--out", default="benchmarks/results/bench_warning.json")
    args = parser.parse_args(argv)
    results = run(args.scale)
    payload = {
        "benchmark": "bench_warning",
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, out)
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
