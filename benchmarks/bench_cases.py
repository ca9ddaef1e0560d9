"""Benchmark: the case store on PostgreSQL at campus scale, against its plain peers, in one process.

* ``open``: 200 advisors (10 units, a staff frame with roles) take 20,000 alerts through
  ``assign_caseloads`` and ``CaseStore.open_cases`` (one transaction, idempotent on alert_id);
  a second ``open_cases`` of the same alerts must add nothing.
* ``list``: ``cases list`` for one advisor -- ``CaseStore.for_staff`` (an index on assignments,
  then the fold of that advisor's cases only), and the whole command line (``studentprofile
  cases list --for ID --json``, opening the store each time) -- p50/p95 over advisors, against
  the peer "fold every case, then filter" (what the store would cost without the index).
* ``verdicts``: 8 concurrent writers (threads, one ``CaseStore`` each) record verdicts on random
  cases: every write reads the case, locks it and appends with the next per-case number. Checked
  afterwards: zero lost, zero duplicated rows, per-case numbers without gaps. Peer: the same
  rows as bare INSERTs into a table without guarantees (the cost of the guarantees).

Digest generation (the notifiers) is added by the lead. The machine is shared and noisy:
compare ratios within one run, not absolute times across runs.

Usage::

    PYTHONPATH=src python benchmarks/bench_cases.py                      # a local PostgreSQL
    PYTHONPATH=src python benchmarks/bench_cases.py --url postgresql+psycopg://u@h/db
    PYTHONPATH=src python benchmarks/bench_cases.py --scale 0.01 --url /tmp/c.sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from studentprofile import __version__
from studentprofile.cli import main as cli_main
from studentprofile.warning import CaseStore, Routing, assign_caseloads

ROUTING = Routing(families={"academic": "tutor", "wellbeing": "counsellor",
                            "participation": "community_officer"})
FAMILIES = [("academic", "assessment_score"), ("behavioral", "class_attendance"),
            ("participation", "club_activity"), ("wellbeing", "counselling_visit")]


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given URL, or a throw-away PostgreSQL server (the tests' set-up)."""
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _pg_server import postgres_server

    with postgres_server() as started:
        yield started


def campus(n_cases: int, n_advisors: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alerts as the weekly job writes them, and a staff frame (advisors and helpers)."""
    rng = np.random.default_rng(seed)
    fam = rng.integers(0, len(FAMILIES), size=(n_cases, 2))
    alerts = pd.DataFrame({
        "student_id": [f"s{i:06d}" for i in range(n_cases)],
        "as_of": pd.Timestamp("2026-11-09"),
        "score": rng.uniform(0.3, 1.0, n_cases).round(4),
        "tier": rng.choice(["high", "medium"], n_cases),
        "reasons": [[{"sentence": "…", "feature": f"f_{FAMILIES[a][1]}",
                      "family": FAMILIES[a][0], "kind": FAMILIES[a][1]},
                     {"sentence": "…", "feature": f"g_{FAMILIES[b][1]}",
                      "family": FAMILIES[b][0], "kind": FAMILIES[b][1]}] for a, b in fam],
        "alert_id": [f"alert-{i:06d}" for i in range(n_cases)],
    })
    cap = int(np.ceil(n_cases / n_advisors * 1.1))
    staff = pd.DataFrame({
        "staff_id": [f"adv{i:03d}" for i in range(n_advisors)],
        "role": "advisor", "capacity": cap,
        "unit": [f"college-{i % 10}" for i in range(n_advisors)],
    })
    helpers = pd.DataFrame({
        "staff_id": [f"{r}{i:02d}" for r in ("tutor", "couns", "comm") for i in range(20)],
        "role": [r for r in ("tutor", "counsellor", "community_officer") for _ in range(20)],
        "capacity": n_cases, "unit": "services",
    })
    return alerts, pd.concat([staff, helpers], ignore_index=True)


def round_robin(alerts: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """An assignment frame (assign_caseloads' shape): an advisor and one helper per student."""
    parts = []
    for role in ("advisor", "tutor", "counsellor", "community_officer"):
        pool = staff[staff["role"] == role].reset_index(drop=True)
        pick = pool.iloc[np.arange(len(alerts)) % len(pool)]
        parts.append(pd.DataFrame({"student_id": alerts["student_id"].to_numpy(), "role": role,
                                   "staff_id": pick["staff_id"].to_numpy(),
                                   "unit": pick["unit"].to_numpy(), "status": "assigned"}))
    return pd.concat(parts, ignore_index=True)


def pcts(times: list[float]) -> dict[str, float]:
    a = np.asarray(times) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2),
            "p95_ms": round(float(np.percentile(a, 95)), 2), "n": len(times)}


def run(url: str, scale: float, picks: int = 40) -> list[dict[str, Any]]:
    n_cases = max(50, int(20_000 * scale))
    n_adv = max(5, int(200 * scale))
    alerts, staff = campus(n_cases, n_adv)
    out: list[dict[str, Any]] = []
    store = CaseStore(url)

    # ---- open
    # caseloads: assign_caseloads on one week's share (its exact assignment is quadratic in
    # students x slots, a weekly job's size), then the same round-robin shape for all cases
    week = max(20, n_cases // 20)
    needs = alerts[["student_id", "score"]].iloc[:week].assign(
        roles=[";".join(dict.fromkeys(["advisor", *ROUTING.roles_of(r)]))
               for r in alerts["reasons"].iloc[:week]])
    t0 = time.perf_counter()
    weekly = assign_caseloads(needs, staff)
    t_assign = time.perf_counter() - t0
    assignments = round_robin(alerts, staff)
    t0 = time.perf_counter()
    res = store.open_cases(alerts, routing=ROUTING, assignments=assignments,
                           time="2026-11-09 06:00", model_version="bench")
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = store.open_cases(alerts, routing=ROUTING, assignments=assignments)
    t_again = time.perf_counter() - t0
    out.append({"bench": "open", "cases": n_cases, "advisors": n_adv,
                "assign_caseloads_one_week": {"students": week, "rows": len(weekly),
                                              "seconds": round(t_assign, 3)},
                "open_cases_s": round(t_open, 3),
                "cases_per_s": round(n_cases / t_open), "reopen_same_alerts_s": round(t_again, 3),
                "agree": res.n_new == n_cases and again.n_new == 0})

    # ---- list for one advisor
    rng = np.random.default_rng(3)
    advisors = staff.loc[staff["role"] == "advisor", "staff_id"].tolist()
    chosen = [advisors[i] for i in rng.integers(0, len(advisors), picks)]
    ours, cli, agree = [], [], True
    for adv in chosen:
        t0 = time.perf_counter()
        mine = store.for_staff(adv)
        ours.append(time.perf_counter() - t0)
        buf = io.StringIO()
        t0 = time.perf_counter()
        code = cli_main(["cases", "list", "--store", url, "--for", adv, "--json"], stream=buf)
        cli.append(time.perf_counter() - t0)
        agree &= code == 0 and json.loads(buf.getvalue())["count"] == len(mine)
    peer = []
    for adv in chosen[:5]:
        t0 = time.perf_counter()
        every = store.cases()
        theirs = every[every["owner"] == adv]
        peer.append(time.perf_counter() - t0)
        agree &= set(theirs["case_id"]) <= set(store.for_staff(adv)["case_id"])
    out.append({"bench": "list_one_advisor", "cases_in_store": n_cases,
                "cases_per_advisor": round(n_cases / n_adv, 1),
                "for_staff": pcts(ours), "cli_cases_list": pcts(cli),
                "peer_fold_all_then_filter": pcts(peer),
                "speedup_p50_vs_peer": round(float(np.median(peer) / np.median(ours)), 1),
                "agree": bool(agree)})

    # ---- 8 concurrent verdict writers
    writers, per = 8, max(10, int(100 * min(1.0, scale * 5)))
    ids = res.case_ids
    plan = [[(ids[int(j)], f"w{w}-{k}") for k, j in
             enumerate(np.random.default_rng(w).integers(0, len(ids), per))]
            for w in range(writers)]
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            with CaseStore(url) as s:
                for cid, note in plan[w]:
                    s.record_verdict(cid, "useful", staff=f"adv-w{w}", note=note)
        except BaseException as exc:  # noqa: BLE001 - reported in the JSON
            errors.append(exc)

    before = len(store.verdicts())
    t0 = time.perf_counter()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_ours = time.perf_counter() - t0
    v = store.verdicts()
    got = v["note"].iloc[before:].tolist()
    want = [note for p in plan for _, note in p]
    lost = len(set(want) - set(got))
    dup = len(got) - len(set(got))
    hist = store.history()
    gaps = int((hist.groupby("case_id")["seq"].agg(lambda s: s.max() - len(s))).abs().sum())

    # peer: bare inserts, no read, no lock, no sequence, no idempotency key
    eng = sa.create_engine(url if "://" in url else f"sqlite:///{Path(url).resolve()}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_bare (case_id TEXT, staff TEXT, "
                             "verdict TEXT, note TEXT, time TEXT)")

    def bare(w: int) -> None:
        for cid, note in plan[w]:
            with eng.begin() as conn:
                conn.execute(sa.text("INSERT INTO bench_bare VALUES (:c, :s, 'useful', :n, :t)"),
                             {"c": cid, "s": f"adv-w{w}", "n": note,
                              "t": pd.Timestamp.now().isoformat()})

    t0 = time.perf_counter()
    threads = [threading.Thread(target=bare, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_bare = time.perf_counter() - t0
    eng.dispose()
    n = writers * per
    out.append({"bench": "concurrent_verdicts", "writers": writers, "verdicts": n,
                "seconds": round(t_ours, 3), "verdicts_per_s": round(n / t_ours, 1),
                "lost": lost, "duplicated": dup, "seq_gaps": gaps, "errors": len(errors),
                "peer_bare_insert_s": round(t_bare, 3),
                "cost_of_guarantees_x": round(t_ours / t_bare, 2),
                "agree": lost == 0 and dup == 0 and gaps == 0 and not errors})
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size multiplier")
    parser.add_argument("--url", help="store URL or SQLite path (default: start a PostgreSQL)")
    parser.add_argument("--out", default="benchmarks/results/bench_cases.json")
    args = parser.parse_args()
    with database(args.url) as url:
        dialect = "sqlite" if "://" not in url or url.startswith("sqlite") else \
            url.split("+", 1)[0].split(":", 1)[0]
        results = run(url, args.scale)
    payload = {
        "benchmark": "bench_cases", "version": __version__, "scale": args.scale,
        "database": dialect, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "results": results,
    }
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    for r in results:
        sys.stdout.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
