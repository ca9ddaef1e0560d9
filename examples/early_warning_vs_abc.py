"""Does a learned risk model warn earlier and more precisely than the ABC rules?

Two data sets, the same protocol:

* **Simulated campus** (``simulate_campus``, known ground truth). Train on one simulated year,
  test on independent years (other seeds): no student, week or event of a test year is seen in
  training. Outcome: withdrawal within ``--horizon`` days of the as-of date.
* **OULAD** (real). Train on the 2013 presentations, test on the 2014 ones. Outcome: withdrawal
  (the OU's unregistration date). The bundled OULAD has assessments but almost no LMS clicks and
  no attendance, so its ABC rules are behaviour (missed assessments) and course performance.

At every weekly as-of date each system ranks the students still enrolled; both flag the same
number of students (a caseload of ``k`` = 2%, 5%, 10% of the cohort on that date). We report

* **precision at k** -- share of the weekly flags that went to a student who withdrew within the
  horizon (true positives over flags, summed over the as-of dates; ties at the cut counted at
  their expected value, ``studentprofile.evaluation.precision_at_k``);
* **lead time** -- for every student who withdrew, days from the first as-of date they were in
  the top ``k`` to the withdrawal day (``studentprofile.evaluation.lead_time``, ties at the cut
  not flagged), with the share caught at least 14 and 30 days ahead; on simulated data also the
  delay from the (latent) shock onset to the first flag.

The ABC baseline ranks by ``abc_score`` (number of indicators off track, then how far past the
thresholds), so it is compared at its best possible ordering, not only at its own flag rule.
Its natural operating point (every student with one flag or more) is reported too, with the
model at the same caseload.

Finally a profile card is rendered for a real OULAD student (JSON + HTML).

Usage::

    PYTHONPATH=src python examples/early_warning_vs_abc.py            # full run
    PYTHONPATH=src python examples/early_warning_vs_abc.py --quick    # small, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.datasets import load_oulad, simulate_campus
from studentprofile.evaluation import lead_time, precision_at_k
from studentprofile.features import (
    FeatureBuilder,
    academic_features,
    behavioral_features,
    make_grid,
    oulad_features,
    participation_features,
)
from studentprofile.labels import make_labels
from studentprofile.models import RiskModel
from studentprofile.tables import EventTables
from studentprofile.warning import (
    ABCRules,
    AlertLog,
    AlertPolicy,
    Dimension,
    DimensionTerm,
    ProfileSpec,
    ProfileTypes,
    abc_flags,
    build_profiles,
    profile_card,
    render_card_html,
)

CASELOADS = (0.02, 0.05, 0.10)
AHEAD = (14, 30)


# ------------------------------------------------------------------------------- helpers


def at_risk_rows(tables: EventTables, X: pd.DataFrame) -> np.ndarray:
    """Rows of students who have not withdrawn before the as-of date."""
    wd = tables.outcomes[tables.outcomes["outcome"] == "withdrawn"]
    first = wd.groupby("student_id")["time"].min()
    ids = X.index.get_level_values("student_id")
    when = X.index.get_level_values("as_of")
    t = pd.Series(ids).map(first).to_numpy(dtype="datetime64[ns]")
    return np.isnat(t) | (when.to_numpy() <= t)


def precision_by_date(y: pd.Series, score: pd.Series, k: float | pd.Series) -> float:
    """Pooled precision of weekly caseloads: true positives over flags, summed over dates.

    ``k`` is a fraction of each date's students, or a Series date -> number of students.
    Only rows with a known label count; ties at the cut count at their expected value.
    """
    frame = pd.DataFrame({"y": y, "s": score}).dropna(subset=["y"])
    hits = flags = 0.0
    for when, g in frame.groupby(level="as_of", sort=True):
        n = int(k.get(when, 0)) if isinstance(k, pd.Series) else int(np.floor(k * len(g) + 1e-9))
        if n < 1:
            continue
        hits += precision_at_k(g["y"].to_numpy(), g["s"].to_numpy(), n, ties="expected") * n
        flags += n
    return hits / flags if flags else float("nan")


def days(values: Any) -> np.ndarray:
    """Datetimes as float days since 1970-01-01."""
    ns = np.asarray(values, dtype="datetime64[ns]")
    out = ns.view("int64").astype("float64") / 86_400e9
    out[np.isnat(ns)] = np.nan
    return out


def lead(score: pd.Series, outcomes: pd.DataFrame, k: float) -> dict[str, Any]:
    # lead_time on float days: with datetimes it fails when nobody is flagged in time (reported)
    idx = score.index
    in_days = pd.Series(score.to_numpy(), name="score", index=pd.MultiIndex.from_arrays(
        [idx.get_level_values("student_id"), days(idx.get_level_values("as_of"))],
        names=["student_id", "as_of"]))
    oc = pd.DataFrame({"student_id": outcomes["student_id"].to_numpy(),
                       "time": days(outcomes["time"])})
    lt = lead_time(in_days, oc, k=k, ties="worst", ahead=AHEAD)
    lead_days = lt.lead_days
    return {
        "n_withdrawn": lt.n_scored,
        "caught": round(lt.share_flagged, 3),
        "median_lead_days": float(np.median(lead_days)) if len(lead_days) else None,
        **{f"caught_{d}d_ahead": round(float(v), 3) for d, v in lt.share_ahead.items()},
        "_per_student": lt.per_student,
    }


def distinct_flagged(score: pd.Series, k: float) -> int:
    """Students ever in the top k of a date (ties at the cut not flagged, as in lead_time)."""
    frame = score.rename("s").reset_index()
    n = frame.groupby("as_of")["s"].transform("size")
    rank = frame.groupby("as_of")["s"].rank(method="max", ascending=False)
    return int(frame.loc[(rank <= np.floor(k * n + 1e-9)).to_numpy(), "student_id"].nunique())


def compare(
    tables: EventTables,
    X: pd.DataFrame,
    y: pd.Series,
    risk: pd.Series,
    abc: pd.DataFrame,
    *,
    truth: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Precision at k and lead time, model vs ABC, on one test set."""
    outcomes = tables.outcomes[tables.outcomes["outcome"] == "withdrawn"][["student_id", "time"]]
    keep = at_risk_rows(tables, X)
    risk, abc_score, y = risk[keep], abc["abc_score"][keep], y[keep]
    out: dict[str, Any] = {"rows": int(keep.sum()), "students": int(X.index.get_level_values(
        "student_id").nunique()), "base_rate": round(float(y.mean()), 4), "by_caseload": []}
    for k in CASELOADS:
        row: dict[str, Any] = {"k": k}
        for name, s in (("model", risk), ("abc", abc_score)):
            row[f"{name}_precision"] = round(precision_by_date(y, s, k), 3)
            lt = lead(s, outcomes, k)
            per = lt.pop("_per_student")
            row.update({f"{name}_{key}": v for key, v in lt.items()})
            row[f"{name}_distinct_students_flagged"] = distinct_flagged(s, k)
            if truth is not None:
                onset = pd.Series(days(truth["shock_onset"]), index=truth["student_id"])
                first = per.set_index("student_id")["first_flag"].dropna()
                delay = (first - onset.reindex(first.index)).dropna()
                row[f"{name}_median_days_from_shock_to_flag"] = (
                    float(np.median(delay)) if len(delay) else None)
        out["by_caseload"].append(row)
    # ABC at its own operating point (one flag or more), the model at the same caseload
    natural = abc["off_track"][keep]
    labelled = y.notna().to_numpy()
    out["abc_off_track_share"] = round(float(natural.mean()), 4)
    out["abc_off_track_precision"] = round(float(y[labelled & natural.to_numpy()].mean()), 3)
    per_date = natural[labelled].groupby(level="as_of").sum()
    out["model_precision_at_abc_caseload"] = round(precision_by_date(y, risk, per_date), 3)
    return out


def fit_model(X: pd.DataFrame, y: pd.Series, builder: FeatureBuilder) -> RiskModel:
    known = y.notna().to_numpy()
    return RiskModel(random_state=0, n_jobs=2).fit(X[known], y[known].astype(int),
                                                   feature_info=builder.feature_info_)


# ---------------------------------------------------------------------------- simulated


def sim_rules() -> ABCRules:
    return ABCRules.classic(
        attendance={"kind": "class_attendance", "aggregate": "mean", "window": "30d"},
        behaviour={"kind": "assessment_missed", "aggregate": "count", "window": "30d"},
        course={"family": "academic", "aggregate": "mean", "window": "30d", "unit": "score"},
        attendance_below=0.9,
        incidents_at_least=2,
        course_below=40.0,
    )


def sim_year(n: int, seed: int, builder: FeatureBuilder | None, horizon: int) -> dict[str, Any]:
    tables, truth = simulate_campus(n_students=n, days=252, seed=seed, return_truth=True)
    grid = make_grid(tables, every=7)
    start = pd.Timestamp(tables.students["term_start"].min())
    grid = grid[grid["as_of"] < start + pd.Timedelta(days=252)]
    if builder is None:
        builder = FeatureBuilder(academic_features() + behavioral_features()
                                 + participation_features())
        builder.fit(tables, grid)
    X = builder.transform(tables, grid)
    y = make_labels(tables, grid, outcome="withdrawn", horizon=horizon)
    y = y.reindex(X.index)
    return {"tables": tables, "truth": truth, "X": X, "y": y, "builder": builder}


def simulated_study(n: int, test_seeds: list[int], horizon: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    train = sim_year(n, 1000, None, horizon)
    model = fit_model(train["X"], train["y"], train["builder"])
    rules = sim_rules()
    results = []
    for seed in test_seeds:
        test = sim_year(n, seed, train["builder"], horizon)
        risk = model.predict_risk(test["X"])
        abc = abc_flags(test["X"], rules, feature_info=train["builder"].feature_info_,
                        reasons=False)
        res = compare(test["tables"], test["X"], test["y"], risk, abc, truth=test["truth"])
        res["seed"] = seed
        results.append(res)
    return {"n_students": n, "train_seed": 1000, "test_seeds": test_seeds, "horizon": horizon,
            "features": len(train["X"].columns), "abc_rules": rules.to_dict(),
            "years": results, "summary": summarise(results),
            "seconds": round(time.perf_counter() - t0, 1)}


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over test years, per caseload."""
    rows = []
    for i, k in enumerate(CASELOADS):
        per = [r["by_caseload"][i] for r in results]
        keys = [key for key in per[0] if key != "k"]
        row: dict[str, Any] = {"k": k}
        for key in keys:
            vals = [p[key] for p in per if p[key] is not None and not (
                isinstance(p[key], float) and np.isnan(p[key]))]
            row[key] = round(float(np.mean(vals)), 3) if vals else None
        rows.append(row)
    return rows


# -------------------------------------------------------------------------------- OULAD


def oulad_profile_spec() -> ProfileSpec:
    """OULAD has marked assessments only: results, and keeping up with the coursework."""
    return ProfileSpec((
        Dimension("results", "Assessment results", "results",
                  (DimensionTerm({"family": "academic", "unit": ["score", "per day"]}),),
                  description="Marks of tutor- and computer-marked assessments, and their trend."),
        Dimension("keeping_up", "Keeping up with coursework", "keeping up",
                  (DimensionTerm({"kind": "assessment_missed", "aggregate": "count"}),
                   DimensionTerm({"family": "academic", "aggregate": "days_since_last",
                                  "higher_is": "worse"}),
                   DimensionTerm({"family": "academic", "aggregate": "count",
                                  "higher_is": "better"})),
                  description="Assessments submitted and missed, days since the last one."),
    ))


def oulad_rules() -> ABCRules:
    return ABCRules.classic(
        behaviour={"kind": "assessment_missed", "aggregate": "count", "window": "30d"},
        course={"family": "academic", "aggregate": "mean", "window": "30d", "unit": "score"},
        incidents_at_least=2,
        course_below=40.0,
    )


def oulad_study(horizon: int, out_dir: Path, max_students: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    tables = load_oulad()
    st = tables.students
    if max_students is not None:
        rng = np.random.default_rng(0)
        groups = st.groupby("code_presentation", observed=True).indices
        picked = np.concatenate([rng.choice(pos, size=min(len(pos), max_students // 4),
                                            replace=False) for pos in groups.values()])
        tables = tables.select(st["student_id"].iloc[np.sort(picked)])
        st = tables.students
    grid = make_grid(tables, every=7, per="enrolment")
    builder = FeatureBuilder(oulad_features())
    train_ids = st.loc[st["code_presentation"].str.startswith("2013"), "student_id"]
    test_ids = st.loc[st["code_presentation"].str.startswith("2014"), "student_id"]
    g_train = grid[grid["student_id"].isin(train_ids)]
    g_test = grid[grid["student_id"].isin(test_ids)]
    builder.fit(tables, g_train)
    X_train = builder.transform(tables, g_train)
    X_test = builder.transform(tables, g_test)
    # training labels may only look as far as the first test presentation starts
    cut = pd.Timestamp(st.loc[st["student_id"].isin(test_ids), "term_start"].min())
    y_train = make_labels(tables, g_train, outcome="withdrawn", horizon=horizon,
                          observed_until=cut)
    y_train = y_train.reindex(X_train.index)
    y_test = make_labels(tables, g_test, outcome="withdrawn", horizon=horizon)
    y_test = y_test.reindex(X_test.index)
    model = fit_model(X_train, y_train, builder)
    risk = model.predict_risk(X_test)
    rules = oulad_rules()
    abc = abc_flags(X_test, rules, feature_info=builder.feature_info_, reasons=False)
    test_tables = tables.select(test_ids)
    res = compare(test_tables, X_test, y_test, risk, abc)
    res.update({"train": "2013B + 2013J", "test": "2014B + 2014J", "horizon": horizon,
                "features": len(X_test.columns), "abc_rules": rules.to_dict(),
                "seconds": round(time.perf_counter() - t0, 1)})
    res["card"] = oulad_card(tables, builder, model, X_test, risk, test_ids, out_dir)
    return res


def oulad_card(
    tables: EventTables,
    builder: FeatureBuilder,
    model: RiskModel,
    X_test: pd.DataFrame,
    risk: pd.Series,
    test_ids: pd.Series,
    out_dir: Path,
) -> dict[str, str]:
    """A profile card for a real OULAD student of the test year, with the closed loop around it."""
    policy = AlertPolicy(tiers={"high": 0.05, "medium": 0.15}, mode="top_fraction",
                         enter_after=2, exit_after=2, cooldown_days=21)
    # percentiles within the student's module presentation (their peer group)
    peers = tables.students.set_index("student_id")["presentation"]
    profiles = build_profiles(X_test, feature_info=builder.feature_info_,
                              spec=oulad_profile_spec(), cohort=peers)
    types = ProfileTypes(n_types=4, random_state=0).fit(profiles)
    tiers = policy.apply(risk)
    # the student, picked by rule (not by hand): alerted while they had at least two marked
    # assessments, withdrew more than 14 days after that alert; the median such alert date
    alerted = tiers[tiers["alert"]].reset_index()
    marked = X_test["assessment_score_count_all"]
    alerted = alerted[marked.reindex(pd.MultiIndex.from_frame(
        alerted[["student_id", "as_of"]])).to_numpy() >= 2]
    wd = tables.outcomes[tables.outcomes["outcome"] == "withdrawn"].groupby("student_id")[
        "time"].min()
    later = alerted["student_id"].map(wd) > alerted["as_of"] + pd.Timedelta(days=14)
    cand = alerted[later.to_numpy()].sort_values(["as_of", "student_id"])
    if cand.empty:
        cand = alerted.sort_values(["as_of", "student_id"])
    pick = cand.iloc[len(cand) // 2]
    student, first_alert = pick["student_id"], pick["as_of"]
    rows = X_test.xs(student, level="student_id", drop_level=False)
    when = rows.index.get_level_values("as_of")
    as_of = when[when >= first_alert + pd.Timedelta(days=7)].min()
    if pd.isna(as_of):
        as_of = first_alert
    explanations = model.explain(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, AlertLog(Path(tmp) / "alerts.sqlite") as log:
        mine = tiers.xs(student, level="student_id", drop_level=False)
        log.record_alerts(mine[mine.index.get_level_values("as_of") <= as_of],
                          source="risk-model")
        for aid, t in zip(log.alerts()["alert_id"], log.alerts()["as_of"], strict=True):
            log.acknowledge(aid, time=t + pd.Timedelta(days=1), staff="advisor-07")
            log.record_action(aid, time=t + pd.Timedelta(days=3), staff="advisor-07",
                              action="phone call")
        card = profile_card(student, as_of, profiles=profiles, types=types, risk=tiers,
                            reasons=explanations, alerts=log,
                            feature_info=builder.feature_info_,
                            risk_label="risk of withdrawal within 8 weeks")
    (out_dir / "oulad_profile_card.json").write_text(json.dumps(card, indent=2,
                                                               allow_nan=False) + "\n")
    (out_dir / "oulad_profile_card.html").write_text(render_card_html(card, full_page=True))
    return {"student_id": str(student), "as_of": str(card["as_of"]),
            "json": str(out_dir / "oulad_profile_card.json"),
            "html": str(out_dir / "oulad_profile_card.html")}


# --------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--test-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--horizon", type=int, default=56)
    parser.add_argument("--skip-oulad", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out_dir = Path(args.out)
    n = 400 if args.quick else args.students
    seeds = args.test_seeds[:1] if args.quick else args.test_seeds
    result: dict[str, Any] = {"simulated": simulated_study(n, seeds, args.horizon)}
    print(json.dumps(result["simulated"]["summary"], indent=1))
    if not args.skip_oulad:
        result["oulad"] = oulad_study(args.horizon, out_dir,
                                      max_students=2000 if args.quick else None)
        print(json.dumps({k: v for k, v in result["oulad"].items() if k != "abc_rules"},
                         indent=1, default=str))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "early_warning_vs_abc.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
