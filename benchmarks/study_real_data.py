"""RiskModel on the bundled real data, with baselines measured in the same run.

Three studies, each writing its part of one JSON document and printing Markdown tables:

* ``uci``: UCI dropout, dropout vs not, stratified 5-fold cross-validated AUC / PR-AUC / Brier,
  at three as-of dates (enrolment, after semester 1, after semester 2); RiskModel with default
  parameters vs logistic regression on the same features (and a 500-tree random forest and
  LightGBM's own defaults as further peers).
* ``small``: "defaults that hold up on small tables": training sets of 150 / 300 / 600 students
  drawn from the UCI data (after semester 1), tested on 1,500 other students, 40 draws each;
  RiskModel defaults vs a 500-tree random forest, LightGBM defaults and logistic regression.
* ``oulad``: OULAD, withdrawal within the next 60 days at weekly as-of dates, features from
  ``FeatureBuilder``; train on the 2013 presentations, test on the 2014 ones; AUC and PR-AUC by
  week of the presentation, RiskModel vs logistic regression on the same features.

Run::

    PYTHONPATH=src python benchmarks/study_real_data.py uci small oulad \
        --out benchmarks/results/study_real_data.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import studentprofile as sp
from studentprofile.models import RiskModel

# --------------------------------------------------------------------------------- baselines


def logistic_baseline(X: pd.DataFrame, seed: int = 0) -> Any:
    """Logistic regression on the same columns: impute (+ indicators), scale, one-hot.

    Pass ``X`` through :func:`_as_text` first: text columns are one-hot encoded.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                keep_empty_features=True),
                                  StandardScaler()), nums),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), cats),
        ]
    )
    return make_pipeline(pre, LogisticRegression(C=1.0, max_iter=5000))


def _as_text(X: pd.DataFrame, codes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Categoricals (and the numeric code columns ``codes``) as plain text for scikit-learn."""
    out = X.copy()
    for c in out.columns:
        if c in codes:
            out[c] = out[c].map(lambda v: "missing" if pd.isna(v) else f"code {v:g}").astype(
                object)
        elif not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), "missing")
    return out


def _numeric_codes(X: pd.DataFrame) -> pd.DataFrame:
    """Random forest input: categories as integer codes, missing as -1."""
    out = X.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = pd.Categorical(out[c].astype(object)).codes
    return out.fillna(-1)


def peers(
    seed: int, *, variants: bool = False
) -> dict[str, Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]]:
    """Name -> fit_predict(X_train, y_train, X_test) -> probability of the positive class.

    ``variants`` adds RiskModel with ``refit=False`` (what ``refit="auto"`` buys).
    """
    import lightgbm as lgb
    from sklearn.ensemble import RandomForestClassifier

    def ours(Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame) -> np.ndarray:
        return RiskModel(random_state=seed).fit(Xtr, ytr).predict_proba(Xte)[:, 1]

    def logreg(Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame) -> np.ndarray:
        text = _as_text(Xtr)
        return logistic_baseline(text).fit(text, ytr).predict_proba(_as_text(Xte))[:, 1]

    def forest(Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame) -> np.ndarray:
        rf = RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=1)
        return rf.fit(_numeric_codes(Xtr), ytr).predict_proba(_numeric_codes(Xte))[:, 1]

    def lgbm_defaults(Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame) -> np.ndarray:
        def cat(X: pd.DataFrame) -> pd.DataFrame:
            return X.astype({c: "category" for c in X.columns
                             if not pd.api.types.is_numeric_dtype(X[c])})

        m = lgb.LGBMClassifier(random_state=seed, verbosity=-1, n_jobs=1)
        return m.fit(cat(Xtr), ytr).predict_proba(cat(Xte))[:, 1]

    def ours_no_refit(Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame) -> np.ndarray:
        return RiskModel(random_state=seed, refit=False).fit(Xtr, ytr).predict_proba(Xte)[:, 1]

    extra = {"RiskModel (refit=False)": ours_no_refit} if variants else {}
    return {
        "RiskModel (defaults)": ours,
        **extra,
        "logistic regression": logreg,
        "random forest (500 trees)": forest,
        "LightGBM (LGBMClassifier defaults)": lgbm_defaults,
    }


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the predicted probability."""
    order = np.argsort(p, kind="stable")
    err = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            err += len(chunk) * abs(float(p[chunk].mean()) - float(y[chunk].mean()))
    return err / len(y)


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    return {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": _ece(y, p),
    }


# --------------------------------------------------------------------------------- UCI

UCI_AS_OF = {"enrolment (day 0)": 0.0, "after semester 1 (day 151)": 151.0,
             "after semester 2 (day 301)": 301.0}


def uci_features(tables: sp.EventTables, as_of: float) -> pd.DataFrame:
    """One row per student as of ``as_of``: static attributes and semester results known then.

    Audit attributes are left out; so are the dates and ``course`` (the integer code of
    ``program``).
    """
    st = tables.students.set_index("student_id")
    drop = set(tables.audit_attributes) | {"entry_date", "term_start", "term_end", "course"}
    static = st[[c for c in st.columns if c not in drop]]
    ev = tables.events
    ev = ev[ev["known_at"] < as_of]
    if len(ev):
        wide = ev.pivot_table(index="student_id", columns=["semester", "kind"], values="value",
                              aggfunc="first", observed=True, dropna=False)
        wide.columns = [f"sem{s}_{k}" for s, k in wide.columns]
        static = static.join(wide, how="left")
    static.index = pd.MultiIndex.from_arrays(
        [static.index, np.full(len(static), as_of)], names=["student_id", "as_of"])
    return static


def study_uci(seed: int = 0) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    tables = sp.datasets.load_uci_dropout()
    outcome = tables.outcomes.set_index("student_id")["outcome"]
    out: dict[str, Any] = {}
    for label, as_of in UCI_AS_OF.items():
        X = uci_features(tables, as_of)
        y = (outcome.reindex(X.index.get_level_values("student_id")) == "dropout").to_numpy(int)
        folds = StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
        per_model: dict[str, list[dict[str, float]]] = {}
        for tr, te in folds:
            for name, fit_predict in peers(seed, variants=True).items():
                p = fit_predict(X.iloc[tr], y[tr], X.iloc[te])
                per_model.setdefault(name, []).append(_metrics(y[te], p))
        out[label] = {
            "n_students": int(len(y)),
            "n_features": int(X.shape[1]),
            "dropout_rate": float(y.mean()),
            "models": {
                name: {
                    **{f"{k}_mean": float(np.mean([f[k] for f in fs])) for k in fs[0]},
                    **{f"{k}_sd": float(np.std([f[k] for f in fs], ddof=1)) for k in fs[0]},
                }
                for name, fs in per_model.items()
            },
        }
        logging.info("uci %s done", label)
    return out


def study_small(seed: int = 0, draws: int = 40, sizes: tuple[int, ...] = (150, 300, 600)
                ) -> dict[str, Any]:
    tables = sp.datasets.load_uci_dropout()
    outcome = tables.outcomes.set_index("student_id")["outcome"]
    X = uci_features(tables, 151.0)
    y = (outcome.reindex(X.index.get_level_values("student_id")) == "dropout").to_numpy(int)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for n in sizes:
        aucs: dict[str, list[float]] = {}
        for draw in range(draws):
            perm = rng.permutation(len(y))
            tr, te = perm[:n], perm[n:n + 1500]
            for name, fit_predict in peers(draw).items():
                p = fit_predict(X.iloc[tr], y[tr], X.iloc[te])
                aucs.setdefault(name, []).append(_metrics(y[te], p)["auc"])
        ref = np.array(aucs["random forest (500 trees)"])
        out[str(n)] = {
            name: {
                "auc_mean": float(np.mean(v)),
                "auc_sd": float(np.std(v, ddof=1)),
                "wins_vs_random_forest": int(np.sum(np.array(v) > ref)),
                "draws": draws,
            }
            for name, v in aucs.items()
        }
        logging.info("small n=%d done", n)
    return out


# --------------------------------------------------------------------------------- OULAD


def oulad_spec() -> Any:
    """The OULAD feature spec: :func:`studentprofile.features.oulad_features`."""
    from studentprofile.features import oulad_features

    return oulad_features()


def study_oulad(seed: int = 0, horizon: float = 60.0) -> dict[str, Any]:
    """Withdrawal within ``horizon`` days at weekly as-of dates; train 2013, test 2014."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from studentprofile.features import FeatureBuilder, make_grid
    from studentprofile.labels import make_labels

    t0 = time.perf_counter()
    tables = sp.datasets.load_oulad()
    grid = make_grid(tables, every=7, per="enrolment")
    labels = make_labels(tables, grid, outcome="withdrawn", horizon=horizon)
    keep = labels.notna().to_numpy()
    grid = grid[keep].reset_index(drop=True)
    y = labels.to_numpy()[keep].astype(int)
    builder = FeatureBuilder(oulad_spec())
    X = builder.fit(tables, grid).transform(tables, grid)
    feature_seconds = time.perf_counter() - t0
    students = tables.students.set_index("student_id")
    pres = students["code_presentation"].astype(str).reindex(grid["student_id"]).to_numpy()
    start = students["term_start"].reindex(grid["student_id"]).to_numpy()
    week = ((grid["as_of"].to_numpy() - start) / np.timedelta64(7, "D")).astype(int)
    train = np.char.startswith(pres.astype(str), "2013")
    test = ~train
    fits: dict[str, Any] = {}
    probs: dict[str, np.ndarray] = {}
    for name, params in (("RiskModel", {}), ("RiskModel (refit=True)", {"refit": True})):
        t1 = time.perf_counter()
        model = RiskModel(random_state=seed, n_jobs=-1, **params).fit(
            X[train], y[train], feature_info=builder.feature_info_)
        fits[name] = {"seconds": time.perf_counter() - t1, "holdout": model.holdout_,
                      "best_iteration": model.best_iteration_,
                      "holdout_metrics": model.training_info_.get("holdout_metrics")}
        probs[name] = model.predict_proba(X[test])[:, 1]
    # the builder's category-code columns are one-hot encoded for the logistic regression
    codes = tuple(n for n, i in builder.feature_info_.items() if i.extra.get("categories"))
    t1 = time.perf_counter()
    x_train = _as_text(X[train], codes)
    lr = logistic_baseline(x_train).fit(x_train, y[train])
    fits["logistic regression"] = {"seconds": time.perf_counter() - t1}
    probs["logistic regression"] = lr.predict_proba(_as_text(X[test], codes))[:, 1]
    weeks_test, y_test = week[test], y[test]
    by_week = []
    for w in sorted(set(weeks_test.tolist())):
        m = weeks_test == w
        if y_test[m].min() == y_test[m].max():
            continue
        row: dict[str, Any] = {"week": int(w), "n": int(m.sum()),
                               "positives": int(y_test[m].sum())}
        for name in ("RiskModel", "logistic regression"):
            row[f"auc {name}"] = float(roc_auc_score(y_test[m], probs[name][m]))
            row[f"pr_auc {name}"] = float(average_precision_score(y_test[m], probs[name][m]))
        by_week.append(row)
    return {
        "horizon_days": horizon,
        "grid": "make_grid(tables, every=7, per='enrolment'); rows with a NaN label dropped",
        "n_train_rows": int(train.sum()), "n_test_rows": int(test.sum()),
        "n_train_students": int(grid.loc[train, "student_id"].nunique()),
        "n_test_students": int(grid.loc[test, "student_id"].nunique()),
        "positive_rate_train": float(y[train].mean()), "positive_rate_test": float(y_test.mean()),
        "n_features": int(X.shape[1]), "features": list(X.columns),
        "feature_and_label_seconds": feature_seconds,
        "fits": fits,
        "overall": {name: _metrics(y_test, p) for name, p in probs.items()},
        "by_week": by_week,
    }


# --------------------------------------------------------------------------------- output


def markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "uci" in result:
        lines.append("UCI dropout, dropout vs not, stratified 5-fold CV (mean ± sd over folds)\n")
        lines.append("| as of | model | AUC | PR-AUC | Brier | ECE |")
        lines.append("|---|---|---|---|---|---|")
        for label, block in result["uci"].items():
            for name, m in block["models"].items():
                lines.append(
                    f"| {label} | {name} | {m['auc_mean']:.3f} ± {m['auc_sd']:.3f} | "
                    f"{m['pr_auc_mean']:.3f} ± {m['pr_auc_sd']:.3f} | "
                    f"{m['brier_mean']:.3f} ± {m['brier_sd']:.3f} | "
                    f"{m['ece_mean']:.3f} ± {m['ece_sd']:.3f} |")
        lines.append("")
    if "small" in result:
        lines.append("Small tables (UCI after semester 1): AUC on 1,500 other students\n")
        lines.append("| training students | model | AUC (mean ± sd) | draws beating the forest |")
        lines.append("|---|---|---|---|")
        for n, block in result["small"].items():
            for name, m in block.items():
                wins = "—" if name.startswith("random forest") else (
                    f"{m['wins_vs_random_forest']}/{m['draws']}")
                lines.append(f"| {n} | {name} | {m['auc_mean']:.4f} ± {m['auc_sd']:.4f} | "
                             f"{wins} |")
        lines.append("")
    if "oulad" in result:
        o = result["oulad"]
        lines.append(f"OULAD, withdrawal within {o['horizon_days']:.0f} days, train 2013 / test "
                     "2014\n")
        lines.append("| week | rows | withdrawals | AUC RiskModel | AUC logistic | "
                     "PR-AUC RiskModel | PR-AUC logistic |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in o["by_week"]:
            lines.append(f"| {r['week']} | {r['n']:,} | {r['positives']:,} | "
                         f"{r['auc RiskModel']:.3f} | {r['auc logistic regression']:.3f} | "
                         f"{r['pr_auc RiskModel']:.3f} | "
                         f"{r['pr_auc logistic regression']:.3f} |")
        lines.append("")
        lines.append("| model | AUC | PR-AUC | Brier | ECE |")
        lines.append("|---|---|---|---|---|")
        for name, m in o["overall"].items():
            lines.append(f"| {name} | {m['auc']:.3f} | {m['pr_auc']:.3f} | {m['brier']:.4f} | "
                         f"{m['ece']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", choices=["uci", "small", "oulad"])
    parser.add_argument("--out", default=None, help="write (merge into) this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # the small-table draws and folds are big enough for a held-out slice; keep logs quiet
    logging.getLogger("studentprofile.models._risk_model").setLevel(logging.ERROR)
    result: dict[str, Any] = {}
    if args.out and os.path.exists(args.out):
        with open(args.out) as fh:
            result = json.load(fh)
    runners = {"uci": study_uci, "small": study_small, "oulad": study_oulad}
    for name in args.studies:
        t0 = time.perf_counter()
        result[name] = runners[name](seed=args.seed)
        result.setdefault("seconds", {})[name] = time.perf_counter() - t0
    import lightgbm
    import sklearn

    result["environment"] = {
        "python": platform.python_version(), "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__, "pandas": pd.__version__,
        "studentprofile": sp.__version__, "cpu_count": os.cpu_count(),
        "command": " ".join(["python", *sys.argv]),
    }
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
