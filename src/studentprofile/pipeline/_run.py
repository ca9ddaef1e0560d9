"""``run(config)``: the whole experiment, from tables to a tracked, audited model."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._version import __version__
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.pipeline._config import ExperimentConfig, TableSource
from studentprofile.tables import EventTables

__all__ = ["RunResult", "run"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


# ---------------------------------------------------------------------------- result
@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    name : str
        The experiment name.
    run_dir : Path
        The local folder holding the model and every report (written before tracking).
    model_dir : Path
        The saved model (an MLflow model directory of the studentprofile flavour; its
        ``studentprofile/risk_model`` folder is a plain :class:`RiskModel` directory).
    files : dict of str -> Path
        Every report written: ``report_html``, ``evaluation_json``, ``fairness_json``,
        ``model_card``, ``feature_info``, ``shap_summary``, ``config``, ``backtest_json``, ...
    metrics : dict of str -> float
        Headline metrics of the backtest (pooled test rows): ``roc_auc``, ``pr_auc``, ``brier``,
        ``ece``, ``precision@10%``, ...
    fairness : list of dict
        Verdicts per (attribute, metric): ``attribute``, ``metric``, ``verdict``, ...
    example : dict or None
        The reasons of the highest-risk student of the explained sample (no identifier).
    tracking : TrackingReport or None
        What was and was not tracked (None when tracking was disabled).
    seconds : dict of str -> float
        Time per step.
    facts : dict
        Row counts, data period, fingerprints, versions.
    """

    name: str
    run_dir: Path
    model_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    fairness: list[dict[str, Any]] = field(default_factory=list)
    example: dict[str, Any] | None = None
    tracking: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True unless tracking was asked for and something was not logged."""
        return self.tracking is None or self.tracking.complete

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (non-finite numbers as None)."""
        from studentprofile.evaluation import to_json_safe

        return to_json_safe(
            {
                "name": self.name,
                "complete": self.complete,
                "run_dir": str(self.run_dir),
                "model_dir": str(self.model_dir),
                "files": {k: str(v) for k, v in self.files.items()},
                "metrics": self.metrics,
                "fairness": self.fairness,
                "example": self.example,
                "tracking": None if self.tracking is None else self.tracking.to_dict(),
                "seconds": self.seconds,
                "facts": self.facts,
            }
        )


# ---------------------------------------------------------------------------- data
def _read_table(src: TableSource, table: str) -> pd.DataFrame:
    path = src.path
    if not path.is_file():
        raise ConfigError(
            f"the {table} file does not exist",
            key=f"data.{table}.path",
            arrived=repr(str(path)),
            hint="paths are relative to the config file's folder",
        )
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise SchemaError(
            "the file cannot be read",
            table=table,
            rule="readable",
            arrived=f"{path.name}: {type(exc).__name__}: {exc}",
            hint="check the format (CSV with a header row, or Parquet)",
        ) from exc
    rename = {}
    for canon, col in src.columns.items():
        if col not in frame.columns:
            raise SchemaError(
                f"the column mapping names a column the file does not have: {col!r}",
                table=table,
                column=canon,
                rule="mapped-column",
                arrived=f"columns of {path.name}: {list(frame.columns)!r}",
                hint=f"fix data.{table}.columns.{canon}",
            )
        rename[col] = canon
    frame = frame.rename(columns=rename)
    for col in src.parse_dates:
        if col not in frame.columns:
            raise ConfigError(f"parse_dates names a missing column {col!r}",
                              key=f"data.{table}.parse_dates", arrived=repr(col))
        try:
            frame[col] = pd.to_datetime(frame[col])
        except (ValueError, TypeError) as exc:
            raise SchemaError("a date column holds values that are not dates", table=table,
                              column=col, rule="date", arrived=str(exc)[:200],
                              hint="fix the values or leave the column out of parse_dates"
                              ) from exc
    return frame


def load_tables(cfg: ExperimentConfig) -> EventTables:
    """Load (and sample) the tables a config names.

    Parameters
    ----------
    cfg : ExperimentConfig
        The config.

    Returns
    -------
    EventTables
    """
    from studentprofile import datasets

    d = cfg.data
    if d.dataset == "oulad":
        tables = datasets.load_oulad()
    elif d.dataset == "uci_dropout":
        tables = datasets.load_uci_dropout()
    elif d.dataset == "simulated":
        try:
            tables = datasets.simulate_campus(**{"seed": cfg.seed, **dict(d.simulate)})
        except TypeError as exc:
            raise ConfigError("unknown simulate_campus setting", key="data.simulate",
                              arrived=str(exc)) from exc
    else:
        if d.students is None or d.outcomes is None:  # load_config checks this; a hand-built
            raise ConfigError(                          # ExperimentConfig may not
                "table files need at least [data.students] and [data.outcomes]",
                key="data.students" if d.students is None else "data.outcomes",
                hint="give both table files, or a bundled dataset",
            )
        students = _read_table(d.students, "students")
        events = _read_table(d.events, "events") if d.events is not None else None
        outcomes = _read_table(d.outcomes, "outcomes")
        missing = [a for a in d.audit_attributes if a not in students.columns]
        if missing:
            raise ConfigError(
                "audit attributes must be columns of the students table",
                key="data.audit_attributes",
                arrived=f"missing {missing!r}; students has {list(students.columns)!r}",
            )
        tables = EventTables(students=students, events=events, outcomes=outcomes,
                             audit_attributes=d.audit_attributes, time_origin=d.time_origin)
    if d.sample_students is not None:
        ids = tables.students["student_id"].to_numpy()
        n = (int(d.sample_students) if isinstance(d.sample_students, int)
             else max(1, round(d.sample_students * len(ids))))
        rng = np.random.default_rng(cfg.seed)
        keep = np.sort(rng.choice(len(ids), size=min(n, len(ids)), replace=False))
        tables = tables.select(ids[keep])
    return tables


def _known_before(tables: EventTables, cut: Any) -> EventTables:
    ev = tables.events
    oc = tables.outcomes
    return EventTables(
        students=tables.students,
        events=ev[ev["known_at"] < cut],
        outcomes=oc[oc["time"] < cut],
        audit_attributes=tables.audit_attributes,
        time_origin=tables.time_origin,
        check_duplicates=False,
        metadata=tables.metadata,
        time_kind=tables.time_kind,
    )


class _Precomputed:
    """A feature builder that answers from a matrix built once (for ``backtest``)."""

    def __init__(self, X: pd.DataFrame, feature_info: Any) -> None:
        self.X = X
        self.feature_info_ = feature_info

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
        return self.X.loc[index]


def _where(tables: EventTables, grid: pd.DataFrame, rule: Mapping[str, Any], key: str
           ) -> np.ndarray | None:
    if not rule:
        return None
    st = tables.students.set_index("student_id")
    col = rule["column"]
    if col not in st.columns:
        raise ConfigError("the column is not in the students table", key=f"{key}.column",
                          arrived=repr(col), hint=f"columns: {', '.join(map(str, st.columns))}")
    values = grid["student_id"].map(st[col]).astype(str)
    if "startswith" in rule:
        return values.str.startswith(str(rule["startswith"])).to_numpy()
    return values.isin([str(v) for v in rule["in"]]).to_numpy()


def _moment(tables: EventTables, value: Any) -> Any:
    if value is None:
        return None
    if tables.time_kind == "datetime":
        if isinstance(value, int | float):
            raise ConfigError("these tables hold calendar dates: give a date",
                              key="splits", arrived=repr(value))
        return pd.Timestamp(value)
    if isinstance(value, str):
        raise ConfigError("these tables hold float days: give a number of days",
                          key="splits", arrived=repr(value))
    return float(value)


def _splits(cfg: ExperimentConfig, tables: EventTables, grid: pd.DataFrame) -> Any:
    from studentprofile.evaluation import TemporalSplits

    s = cfg.splits
    if s.test_start is None:
        dates = np.sort(grid["as_of"].unique())
        if len(dates) < 3:
            raise ConfigError("a backtest needs at least three as-of dates", key="grid",
                              arrived=f"{len(dates)} date(s)",
                              hint="make grid.every smaller or widen grid.start/end")
        start = dates[(2 * len(dates)) // 3]
        step = pd.Timedelta(days=1) if tables.time_kind == "datetime" else 1.0
        end = dates[-1] + step
    else:
        start, end = _moment(tables, s.test_start), _moment(tables, s.test_end)
    try:
        return TemporalSplits(
            test_start=start, test_end=end, horizon=cfg.label.horizon,
            retrain_every=s.retrain_every, gap=s.gap, max_history=s.max_history,
            train_start=_moment(tables, s.train_start), every=cfg.grid.every,
        )
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"splits.{exc.key}", arrived=exc.arrived,
                          hint=exc.hint) from exc


def _top_flags(frame: pd.DataFrame, k: float) -> np.ndarray:
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


def _student_audit(cfg: ExperimentConfig, tables: EventTables, scores: pd.DataFrame,
                   attributes: list[str]) -> Any:
    """Per tested student: reached the outcome (after being scored) vs flagged before it."""
    from studentprofile.evaluation import fairness_audit

    sc = scores[scores["label"].notna()].reset_index(drop=True)
    sc["flag"] = _top_flags(sc, cfg.evaluation.audit_k)
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


# ---------------------------------------------------------------------------- environment
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "studentprofile": __version__}
    for pkg in ("numpy", "pandas", "scikit-learn", "lightgbm", "shap", "numba", "mlflow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _git_commit(where: Path) -> str | None:
    try:
        res = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def _atomic_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def _json(path: Path, data: Any) -> Path:
    from studentprofile.evaluation import to_json_safe

    return _atomic_text(path, json.dumps(to_json_safe(data), indent=2, allow_nan=False) + "\n")


def _period(tables: EventTables) -> dict[str, Any]:
    ev, oc = tables.events, tables.outcomes
    times = pd.concat([ev["time"], oc["time"]]) if len(ev) else oc["time"]
    if not len(times):
        return {"first": None, "last": None}
    lo, hi = times.min(), times.max()
    fmt = (lambda t: pd.Timestamp(t).date().isoformat()) if tables.time_kind == "datetime" \
        else (lambda t: float(t))
    return {"first": fmt(lo), "last": fmt(hi), "time_kind": tables.time_kind}


# ---------------------------------------------------------------------------- run
def run(
    config: ExperimentConfig | str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    tables: EventTables | None = None,
) -> RunResult:
    """Run an experiment end to end and track it.

    Steps: load and validate the tables; build the as-of grid, labels and features; run the
    temporal backtest; fit the final model on every labelled row; set the alert tiers;
    explain a sample; evaluate and audit the backtest scores; write the model, the reports
    and the model card to ``<tracking.output_dir>/<name>/<timestamp>/``; then track it all in
    MLflow. Tracking failures never raise: the model and reports stay on disk and
    :attr:`RunResult.tracking` lists what was not logged.

    Parameters
    ----------
    config : ExperimentConfig or path
        The config (a TOML path is read with :func:`load_config`).
    progress : callable, optional
        Called with a short message before each long step (the CLI prints them to stderr).
    tables : EventTables, optional
        Use these tables instead of loading ``config.data`` (notebooks, tests).

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError, SchemaError
        Bad config or data (before anything is written).
    """
    from studentprofile.features import FeatureBuilder, make_grid
    from studentprofile.labels import make_labels
    from studentprofile.models import RiskModel
    from studentprofile.pipeline._config import load_config
    from studentprofile.pipeline._model_card import model_card
    from studentprofile.pipeline._presets import build_spec

    cfg = config if isinstance(config, ExperimentConfig) else load_config(Path(config))
    say = progress or (lambda msg: logger.info("%s", msg))
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    clock = [t0]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = round(now - clock[0], 2)
        clock[0] = now

    key = None
    if cfg.tracking.enabled and cfg.tracking.per_student:
        from studentprofile.tracking import pseudonym_key

        key = pseudonym_key(cfg.tracking.pseudonym_key_env)  # fail before any work

    # ---- data
    if tables is None:
        say(f"loading data ({cfg.data.dataset or 'files'})")
        tables = load_tables(cfg)
    audit_attrs = list(cfg.evaluation.audit_attributes
                       if cfg.evaluation.audit_attributes is not None
                       else tables.audit_attributes)
    unknown = [a for a in audit_attrs if a not in tables.students.columns]
    if unknown:
        raise ConfigError("audit attributes must be columns of the students table",
                          key="evaluation.audit_attributes", arrived=repr(unknown),
                          hint=f"declared audit attributes: {list(tables.audit_attributes)!r}")
    fingerprints = tables.fingerprint()
    lap("load")

    # ---- grid, labels, features
    say("building the as-of grid and labels")
    grid = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                     end=cfg.grid.end)
    if not len(grid):
        raise ConfigError("the as-of grid is empty", key="grid",
                          hint="check grid.start/end and that students have term dates")
    try:
        y = make_labels(tables, grid, outcome=list(cfg.label.outcome), horizon=cfg.label.horizon)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"label.{exc.key}", arrived=exc.arrived,
                          hint=exc.hint) from exc
    splits = _splits(cfg, tables, grid)
    spec = build_spec(cfg.features)
    builder = FeatureBuilder(spec)
    lap("grid_labels")
    say(f"building {len(spec.column_names())} feature columns for {len(grid):,} "
        "student-dates (the first run compiles the numba kernels)")
    # the builder learns its categories and kinds from what was known before the first test
    # date, as a model deployed then would have
    builder.fit(_known_before(tables, _first_test(splits)), grid)
    X = builder.transform(tables, grid)
    info = builder.feature_info_
    lap("features")

    # ---- backtest
    params = {"random_state": cfg.seed, **dict(cfg.model)}
    train_mask = _where(tables, grid, cfg.splits.train_where, "splits.train_where")
    test_mask = _where(tables, grid, cfg.splits.test_where, "splits.test_where")
    sf = splits.to_frame()
    say(f"temporal backtest: {len(sf)} split(s), test as-of dates from "
        f"{_show(sf['test_from'].iloc[0])} to {_show(sf['test_until'].iloc[-1])}")
    from studentprofile.evaluation import backtest, lead_time

    bt = backtest(
        tables, splits,
        feature_builder=builder if cfg.splits.truncate else _Precomputed(X, info),
        model=RiskModel(**params), label=list(cfg.label.outcome), grid=grid,
        k=list(cfg.evaluation.k), truncate=cfg.splits.truncate,
        train_mask=train_mask, test_mask=test_mask,
    )
    lap("backtest")

    # ---- final model
    keep = y.notna().to_numpy()
    say(f"fitting the final model on {int(keep.sum()):,} labelled rows")
    model = RiskModel(**params).fit(X[keep], y[keep].astype(int), feature_info=info)
    risk_train = model.predict_proba(X[keep])[:, 1]
    tiers = {name: float(np.quantile(risk_train, 1.0 - frac))
             for name, frac in cfg.evaluation.tiers.items()}
    lap("final_model")

    # ---- evaluation and audit
    say("evaluating and auditing the backtest scores")
    scores = bt.scores
    oc = tables.outcomes
    reached = oc[oc["outcome"].astype(str).isin(cfg.label.outcome)
                 & oc["student_id"].isin(scores["student_id"])]
    lt = lead_time(scores[scores["label"].notna()], reached, k=cfg.evaluation.audit_k)
    audit = _student_audit(cfg, tables, scores, audit_attrs) if audit_attrs else None
    report = bt.report(
        k=list(cfg.evaluation.k), fairness=audit, lead_time=lt,
        title=f"{cfg.name}: {' or '.join(cfg.label.outcome)} within "
              f"{cfg.label.horizon:g} days (temporal backtest)",
        metadata={"experiment": cfg.name, "dataset": cfg.data.dataset or "files",
                  "label": list(cfg.label.outcome), "horizon_days": cfg.label.horizon},
    )
    if audit is not None:
        report.notes.append(
            f"The fairness audit is per tested student: reached the outcome vs flagged "
            f"(top {cfg.evaluation.audit_k:.0%} of an as-of date's scores) before it.")
    lap("evaluate")

    # ---- explain
    say("explaining a sample of the latest scores")
    test_rows = scores[scores["label"].notna()]
    latest = test_rows[test_rows["as_of"] == test_rows["as_of"].max()]
    pool = latest if len(latest) >= 50 else test_rows
    n_ex = min(cfg.evaluation.explain_rows, len(pool))
    rng = np.random.default_rng(cfg.seed)
    pick = pool.iloc[np.sort(rng.choice(len(pool), size=n_ex, replace=False))]
    X_ex = X.loc[pd.MultiIndex.from_frame(pick[["student_id", "as_of"]])]
    expl = model.explain(X_ex)
    top = int(np.argmax(np.asarray(expl.probability)))
    # an advisor asks "why is this student flagged?": show what raised the estimate
    top_reasons = expl.reasons(top=3, direction="raised")[top]
    example = {
        "risk": float(top_reasons["probability"]),
        "as_of": top_reasons.get("as_of"),
        "reasons": [r["sentence"] for r in top_reasons["reasons"]],
        "note": "the highest-risk student of the explained sample (identifier not shown)",
    }
    lap("explain")

    # ---- early warning: the alert policy over the test period, drift, the example's card
    say("replaying the alert policy over the test period and checking drift")
    from studentprofile.pipeline._warning import early_warning

    first_test = test_rows["as_of"].min() if len(test_rows) else scores["as_of"].min()
    reference = keep & (X.index.get_level_values("as_of") < first_test)
    if not reference.any():  # no labelled row before the test period: all labelled rows
        reference = keep
    ex_key = (pick["student_id"].iloc[top], pick["as_of"].iloc[top])
    warning_summary, drift_table, profile = early_warning(
        cfg=cfg, tables=tables, scores=scores, tiers=tiers, X=X, info=info, model=model,
        reference=reference, expl=expl, example_key=ex_key)
    example["tier"] = (profile or {}).get("risk", {}).get("tier")
    lap("early_warning")

    # ---- write everything locally (before tracking)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_root = Path(cfg.tracking.output_dir)
    run_dir = out_root / cfg.name / stamp
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = out_root / cfg.name / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    say(f"writing the model and reports to {run_dir}")
    files: dict[str, Path] = {}
    files["config"] = _json(run_dir / "config.json", cfg.to_dict())
    files["feature_info"] = _json(run_dir / "feature_info.json",
                                  {k: v.to_dict() for k, v in info.items()})
    files["backtest_json"] = _json(run_dir / "backtest.json", bt.to_dict())
    files["evaluation_json"] = report.save(run_dir / "evaluation.json")
    files["report_html"] = report.save(run_dir / "report.html")
    if audit is not None:
        files["fairness_json"] = _json(run_dir / "fairness.json", audit.to_dict())
    files["shap_summary"] = expl.plot_summary(run_dir / "shap_summary.png")
    files["early_warning"] = _json(run_dir / "early_warning.json", warning_summary)
    files["drift"] = _atomic_text(run_dir / "drift.csv", drift_table.to_csv(index=False))
    if profile is not None:
        from studentprofile.warning import render_card_html

        files["profile_card_json"] = _json(run_dir / "profile_card.json", profile)
        files["profile_card_html"] = _atomic_text(run_dir / "profile_card.html",
                                                  render_card_html(profile, full_page=True))
    facts = {
        "dataset": cfg.data.dataset or "files",
        "students": int(len(tables.students)),
        "events": int(len(tables.events)),
        "grid_rows": int(len(grid)),
        "labelled_rows": int(keep.sum()),
        "positive_rate": float(np.mean(y[keep])),
        "features": int(X.shape[1]),
        "period": _period(tables),
        "fingerprints": fingerprints,
        "versions": _versions(),
        "git_commit": _git_commit(Path(cfg.source).parent if cfg.source != "<dict>"
                                  else Path.cwd()),
        "tiers": tiers,
        "early_warning": warning_summary,
        "audit_attributes": audit_attrs,
        "best_iteration": int(getattr(model, "best_iteration_", 0) or 0),
    }
    metrics = _headline(report, bt)
    metrics.update(_warning_metrics(warning_summary))
    fairness = [] if audit is None else audit.summary().to_dict(orient="records")
    card = model_card(cfg, facts=facts, report=report, backtest=bt, audit=audit,
                      feature_info=info, model=model, lead=lt)
    files["model_card"] = _atomic_text(run_dir / "model_card.md", card)
    from studentprofile.tracking import save_model, synthetic_example

    example_row = synthetic_example(X[keep])
    model_dir = save_model(model, run_dir / "model", tiers=tiers, model_card=card,
                           input_example=example_row, fingerprints=_flat_fp(fingerprints))
    if key is not None:
        files["scores"] = _per_student(run_dir, scores, key)
    lap("write")

    result = RunResult(name=cfg.name, run_dir=run_dir, model_dir=model_dir, files=files,
                       metrics=metrics, fairness=fairness, example=example, seconds=seconds,
                       facts=facts)
    # ---- track
    if cfg.tracking.enabled:
        say("tracking the run in MLflow")
        result.tracking = _track(cfg, result, report, bt, audit, model, tiers, card,
                                 example_row)
        lap("track")
    seconds["total"] = round(time.perf_counter() - t0, 2)
    _json(run_dir / "run.json", result.to_dict())
    return result


def _show(value: Any) -> str:
    return str(value).replace(" 00:00:00", "")


def _first_test(splits: Any) -> Any:
    d = splits.to_frame()
    first = d["test_from"].iloc[0]
    return pd.Timestamp(first) if splits.time_kind == "datetime" else float(first)


def _flat_fp(fp: Mapping[str, str]) -> dict[str, str]:
    return {f"data.{k}": v for k, v in fp.items()}


def _headline(report: Any, bt: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ("n", "positives", "prevalence", "roc_auc", "pr_auc", "brier", "log_loss", "ece"):
        v = report.summary.get(k)
        if v is not None:
            out[k] = float(v)
    for label, row in report.ranking.iterrows():
        for col in ("precision", "recall", "lift"):
            if col in row:
                out[f"{col}@{label}"] = float(row[col])
    if report.lead_time is not None:
        s = report.lead_time.summary()
        out["lead_time.share_flagged"] = float(s["share_flagged"])
        out["lead_time.median_days"] = float(s["median_lead_days"])
    return out


def _warning_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Turn the early-warning summary into MLflow metrics (``alerts.*``, ``drift.*``)."""
    out: dict[str, float] = {}
    for k, v in summary["alerts"].items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[f"alerts.{k}"] = float(v)
    drift = summary["drift"]
    out["drift.features_drifted"] = float(len(drift["features_drifted"]))
    out["drift.features_watch"] = float(len(drift["features_watch"]))
    score = drift.get("score") or {}
    for k in ("psi", "ks"):
        if isinstance(score.get(k), int | float):
            out[f"drift.score_{k}"] = float(score[k])
    return out


def _per_student(run_dir: Path, scores: pd.DataFrame, key: bytes) -> Path:
    from studentprofile.tracking import pseudonymize

    out = scores[["student_id", "as_of", "score", "label"]].copy()
    out.insert(0, "pseudonym", pseudonymize(out.pop("student_id"), key))
    path = run_dir / "scores_pseudonymised.csv"
    out.to_csv(path, index=False)
    return path


def _track(cfg: ExperimentConfig, result: RunResult, report: Any, bt: Any, audit: Any,
           model: Any, tiers: dict[str, float], card: str, example_row: pd.DataFrame) -> Any:
    from studentprofile.tracking import default_tracking_uri, log_experiment

    out_root = Path(cfg.tracking.output_dir)
    uri = cfg.tracking.uri or default_tracking_uri(out_root)
    local_default = cfg.tracking.uri is None and not os.environ.get("MLFLOW_TRACKING_URI")
    params = cfg.flatten()
    tags = {
        "studentprofile.version": __version__,
        "studentprofile.run_dir": str(result.run_dir.resolve()),
        **{f"data.fingerprint.{k}": v for k, v in result.facts["fingerprints"].items()},
        **{f"version.{k}": v for k, v in result.facts["versions"].items()},
        "data.period": json.dumps(result.facts["period"]),
    }
    if result.facts.get("git_commit"):
        tags["git.commit"] = result.facts["git_commit"]
    metrics: dict[str, float] = dict(result.metrics)
    for _, row in bt.metrics.reset_index().iterrows():
        for col, v in row.items():
            if col == "split" or not isinstance(v, int | float | np.number):
                continue
            metrics[f"split{int(row['split'])}.{col}"] = float(v)  # tracking names it
    by_date = bt.metrics_by_as_of(k=[0.1])
    steps = {"by_as_of.roc_auc": [(i, float(v)) for i, v in enumerate(by_date["roc_auc"])]} \
        if len(by_date) else {}
    files = result.files
    artifacts: dict[str, str | Path] = {}
    for name, dest in (("config", "config"), ("feature_info", "features"),
                       ("evaluation_json", "evaluation"), ("report_html", "evaluation"),
                       ("backtest_json", "evaluation"), ("fairness_json", "fairness"),
                       ("shap_summary", "explanations"), ("model_card", "model_card"),
                       ("early_warning", "early_warning"), ("drift", "early_warning"),
                       ("profile_card_json", "early_warning"),
                       ("profile_card_html", "early_warning"), ("scores", "per_student")):
        if name in files:
            artifacts[f"{dest}/{files[name].name}"] = files[name]
    return log_experiment(
        tracking_uri=uri,
        experiment=cfg.tracking.experiment,
        run_name=f"{cfg.name}-{result.run_dir.name}",
        params=params,
        metrics=metrics,
        step_metrics=steps,
        tags=tags,
        artifacts=artifacts,
        model=model,
        model_kwargs={"tiers": tiers, "model_card": card, "input_example": example_row,
                      "fingerprints": _flat_fp(result.facts["fingerprints"])},
        registered_model=cfg.tracking.registered_model,
        alias=cfg.tracking.alias,
        artifact_location=(out_root / "artifacts") if local_default else None,
        description=cfg.description or None,
        fairness=audit,  # verdicts and worst disparities as metrics, the audit as tables
    )


def config_of_run(run_dir: str | os.PathLike[str]) -> ExperimentConfig:
    """Read back the config a run used (its ``config.json``).

    Parameters
    ----------
    run_dir : str or Path
        A folder written by :func:`run`.

    Returns
    -------
    ExperimentConfig
    """
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError("this folder holds no readable run config", key="run",
                          arrived=f"{str(path)!r}: {type(exc).__name__}",
                          hint="pass a folder written by `studentprofile train` or `demo`"
                          ) from exc
    data.pop("source", None)

    def drop_none(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: drop_none(v) for k, v in d.items() if v is not None}
        return d

    return ExperimentConfig.from_dict(drop_none(data))


def student_features(
    cfg: ExperimentConfig, student_ids: Any, *, tables: EventTables | None = None
) -> pd.DataFrame:
    """Rebuild the feature rows of some students exactly as :func:`run` built them.

    The builder is fitted as in the run (on what was known before the first test date) and
    only the named students' grid rows are transformed.

    Parameters
    ----------
    cfg : ExperimentConfig
        The run's config (see :func:`config_of_run`).
    student_ids : sequence
        The students.
    tables : EventTables, optional
        The tables (default: loaded from ``cfg.data``).

    Returns
    -------
    DataFrame
        Indexed by (``student_id``, ``as_of``).

    Raises
    ------
    SchemaError
        A student with no grid rows (unknown, or never enrolled in the grid's period).
    """
    from studentprofile.features import make_grid

    if tables is None:
        tables = load_tables(cfg)
    ids = [student_ids] if isinstance(student_ids, str | int) else list(student_ids)
    grid = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                     end=cfg.grid.end)
    known = set(tables.students["student_id"].astype(str))
    sid = tables.students["student_id"]
    wanted = [i for i in sid if str(i) in {str(x) for x in ids}]
    missing = [x for x in ids if str(x) not in known]
    if missing:
        raise SchemaError(
            "no such student in the tables",
            table="students",
            column="student_id",
            rule="known-student",
            arrived=f"{len(missing)} unknown id(s)",
            hint="check the id (as written in the students table)",
        )
    sub = grid[grid["student_id"].isin(wanted)].reset_index(drop=True)
    if not len(sub):
        raise SchemaError("the student has no as-of dates in the grid", table="grid",
                          rule="rows", hint="the student was not enrolled in the grid's period")
    return fitted_builder(cfg, tables, grid).transform(tables, sub)


def fitted_builder(cfg: ExperimentConfig, tables: EventTables, grid: pd.DataFrame) -> Any:
    """Fit the run's feature builder as :func:`run` fitted it.

    On what was known before the first test date, so rebuilt rows match the model's columns
    and categories.
    """
    from studentprofile.features import FeatureBuilder
    from studentprofile.pipeline._presets import build_spec

    builder = FeatureBuilder(build_spec(cfg.features))
    builder.fit(_known_before(tables, _first_test(_splits(cfg, tables, grid))), grid)
    return builder
