"""``run(config)``: the whole experiment, from tables to a tracked, audited model.

:func:`run` is its list of steps; each step is one function below that reads what earlier steps
left in a :class:`_Run` and adds its own part. Table I/O lives in ``_tables``, the backtest's
design in ``_design``, the audit in ``_audit``, the local files in ``_outputs``, the tracking
glue in ``_tracking`` and the reuse of a saved run in ``_saved_run``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._environment import git_commit, package_versions
from studentprofile._files import atomic_write_text
from studentprofile.errors import ConfigError, TrackingError
from studentprofile.pipeline._audit import student_audit
from studentprofile.pipeline._config import ExperimentConfig, load_config
from studentprofile.pipeline._design import (
    Precomputed,
    first_test,
    make_splits,
    row_mask,
    show_moment,
)
from studentprofile.pipeline._outputs import per_student_scores, period, write_csv, write_json
from studentprofile.pipeline._result import RunResult
from studentprofile.pipeline._saved_run import config_of_run, student_features
from studentprofile.pipeline._tables import load_tables
from studentprofile.pipeline._tracking import (
    flat_fingerprints,
    headline_metrics,
    track_run,
    warning_metrics,
)
from studentprofile.tables import EventTables

__all__ = ["RunResult", "config_of_run", "load_tables", "run", "student_features"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class _Run:
    """What the steps of one run have made so far (each step fills its own part)."""

    cfg: ExperimentConfig
    say: Progress
    tables: EventTables | None = None
    key: bytes | None = None
    audit_attrs: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    grid: Any = None
    y: Any = None
    splits: Any = None
    builder: Any = None
    X: Any = None
    info: Any = None
    bt: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    keep: Any = None
    model: Any = None
    tiers: dict[str, float] = field(default_factory=dict)
    lead: Any = None
    audit: Any = None
    report: Any = None
    test_rows: Any = None
    pick: Any = None
    expl: Any = None
    top: int | None = None
    example: dict[str, Any] | None = None
    warning_summary: dict[str, Any] = field(default_factory=dict)
    drift_table: Any = None
    profile: dict[str, Any] | None = None
    snapshot: Any = None
    gridrun: Any = None
    mitigated: Any = None
    mitigation_note: str | None = None


class _Clock:
    """Seconds per step."""

    def __init__(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self.last, 2)
        self.last = now

    def total(self) -> None:
        self.seconds["total"] = round(time.perf_counter() - self.t0, 2)


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
    evaluate and audit the backtest scores; explain a sample; replay the alert policy;
    write the model, the reports and the model card to
    ``<tracking.output_dir>/<name>/<timestamp>/``; then track it all in MLflow. Tracking
    failures never raise: the model and reports stay on disk and
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
    cfg = config if isinstance(config, ExperimentConfig) else load_config(Path(config))
    r = _Run(cfg=cfg, say=progress or (lambda msg: logger.info("%s", msg)), tables=tables)
    clock = _Clock()
    r.key = _pseudonym_key(cfg)  # fail before any work
    _load(r)
    clock.lap("load")
    if cfg.splits.kind == "kfold":
        _kfold_design(r)
        clock.lap("features")
        _kfold(r)
        clock.lap("backtest")
    else:
        _grid_and_labels(r)
        clock.lap("grid_labels")
        _features(r)
        clock.lap("features")
        _backtest(r)
        clock.lap("backtest")
    _final_model(r)
    clock.lap("final_model")
    _evaluate(r)
    clock.lap("evaluate")
    _explain(r)
    clock.lap("explain")
    _early_warning(r)
    clock.lap("early_warning")
    result, card, example_row = _write(r, clock.seconds)
    clock.lap("write")
    if cfg.tracking.enabled:
        r.say("tracking the run in MLflow")
        result.tracking = _track(r, result, card, example_row)
        clock.lap("track")
    clock.total()
    write_json(result.run_dir / "run.json", result.to_dict())
    return result


# ---------------------------------------------------------------------------- steps
def _pseudonym_key(cfg: ExperimentConfig) -> bytes | None:
    if not (cfg.tracking.enabled and cfg.tracking.per_student):
        return None
    from studentprofile.tracking import pseudonym_key

    key: bytes = pseudonym_key(cfg.tracking.pseudonym_key_env)
    return key


def _load(r: _Run) -> None:
    cfg = r.cfg
    if r.tables is None and cfg.data.snapshot is not None:
        from studentprofile.pipeline._tables import load_snapshot

        r.say("loading the snapshot (one row per student)")
        r.snapshot = load_snapshot(cfg)
        r.tables = r.snapshot.tables
    if r.tables is None:
        r.say(f"loading data ({cfg.data.dataset or 'files'})")
        r.tables = load_tables(cfg)
    tables = r.tables
    r.audit_attrs = list(cfg.evaluation.audit_attributes
                         if cfg.evaluation.audit_attributes is not None
                         else tables.audit_attributes)
    unknown = [a for a in r.audit_attrs if a not in tables.students.columns]
    if unknown:
        raise ConfigError("audit attributes must be columns of the students table",
                          key="evaluation.audit_attributes", arrived=repr(unknown),
                          hint=f"declared audit attributes: {list(tables.audit_attributes)!r}")
    attribute = cfg.fairness.attribute
    if cfg.fairness.mitigate and attribute not in tables.students.columns:
        raise ConfigError("the mitigation attribute must be a column of the students table",
                          key="fairness.attribute", arrived=repr(attribute),
                          hint=f"audit attributes: {list(tables.audit_attributes)!r}")
    r.fingerprints = tables.fingerprint()


def _grid_and_labels(r: _Run) -> None:
    from studentprofile.features import make_grid
    from studentprofile.labels import make_labels

    cfg, tables = r.cfg, _tables(r)
    r.say("building the as-of grid and labels")
    r.grid = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                       end=cfg.grid.end)
    if not len(r.grid):
        raise ConfigError("the as-of grid is empty", key="grid",
                          hint="check grid.start/end and that students have term dates")
    try:
        r.y = make_labels(tables, r.grid, outcome=list(cfg.label.outcome),
                          horizon=cfg.label.horizon, observed_until=cfg.label.observed_until)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"label.{exc.key}", arrived=exc.arrived,
                          hint=exc.hint) from exc
    r.splits = make_splits(cfg, tables, r.grid)


def _features(r: _Run) -> None:
    from studentprofile.features import FeatureBuilder
    from studentprofile.pipeline._presets import build_spec

    tables = _tables(r)
    spec = build_spec(r.cfg.features)
    r.builder = FeatureBuilder(spec)
    r.say(f"building {len(spec.column_names())} feature columns for {len(r.grid):,} "
          "student-dates (the first run compiles the numba kernels)")
    # the builder learns its categories and kinds from what was known before the first test
    # date, as a model deployed then would have
    r.builder.fit(tables.known_before(first_test(r.splits)), r.grid)
    r.X = r.builder.transform(tables, r.grid)
    r.info = r.builder.feature_info_


def _backtest(r: _Run) -> None:
    from studentprofile.evaluation import backtest
    from studentprofile.models import RiskModel

    cfg, tables, grid = r.cfg, _tables(r), r.grid
    r.params = {"random_state": cfg.seed, **dict(cfg.model)}
    train_mask = row_mask(tables, grid, cfg.splits.train_where, "splits.train_where")
    test_mask = row_mask(tables, grid, cfg.splits.test_where, "splits.test_where")
    sf = r.splits.to_frame()
    r.say(f"temporal backtest: {len(sf)} split(s), test as-of dates from "
          f"{show_moment(sf['test_from'].iloc[0])} to {show_moment(sf['test_until'].iloc[-1])}")
    if cfg.model.is_grid:
        from studentprofile.pipeline._grid import run_grid

        r.gridrun = run_grid(
            cfg, tables, r.splits,
            builder=r.builder if cfg.splits.truncate else Precomputed(r.X, r.info),
            info=r.info, grid=grid, X=r.X, train_mask=train_mask, test_mask=test_mask,
            say=r.say)
        # the shipped model is the chosen candidate: its backtest is the run's backtest
        r.bt = r.gridrun.comparison.results[r.gridrun.chosen]
        r.params = dict(r.gridrun.params[r.gridrun.chosen])
        r.say(f"shipping grid candidate {r.gridrun.chosen!r} "
              f"({cfg.model.select_rule} on {r.gridrun.post.metric})")
        return
    r.bt = backtest(
        tables, r.splits,
        feature_builder=r.builder if cfg.splits.truncate else Precomputed(r.X, r.info),
        model=RiskModel(**r.params), outcome=list(cfg.label.outcome), grid=grid,
        k=list(cfg.evaluation.k), truncate=cfg.splits.truncate,
        train_mask=train_mask, test_mask=test_mask,
    )


def _kfold_design(r: _Run) -> None:
    """Grid, labels and features for k-fold cross-validation (no temporal splits)."""
    from studentprofile.features import FeatureBuilder, infer_feature_infos, snapshot_matrix
    from studentprofile.labels import make_labels
    from studentprofile.pipeline._presets import build_spec

    cfg, tables = r.cfg, _tables(r)
    if r.snapshot is not None:
        r.grid, r.y = r.snapshot.grid, r.snapshot.y
        r.say(f"building {len(r.snapshot.attributes)} attribute features for "
              f"{len(r.grid):,} students")
        r.X = snapshot_matrix(r.snapshot)
        r.info = infer_feature_infos(r.X)
        return
    from studentprofile.features import make_grid

    r.say("building the as-of grid, labels and features")
    r.grid = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                       end=cfg.grid.end)
    r.y = make_labels(tables, r.grid, outcome=list(cfg.label.outcome),
                      horizon=cfg.label.horizon, observed_until=cfg.label.observed_until)
    # without a temporal split the builder learns its categories from every row (documented)
    r.builder = FeatureBuilder(build_spec(cfg.features))
    r.X = r.builder.fit_transform(tables, r.grid)
    r.info = r.builder.feature_info_


def _kfold(r: _Run) -> None:
    """Student-disjoint, label-stratified k-fold cross-validation, read as a backtest."""
    from studentprofile.evaluation import cross_validate
    from studentprofile.models import RiskModel

    cfg = r.cfg
    r.params = {"random_state": cfg.seed, **dict(cfg.model)}
    seed = cfg.splits.seed if cfg.splits.seed is not None else cfg.seed
    r.say(f"{cfg.splits.folds}-fold cross-validation (student-disjoint, stratified)")
    cv = cross_validate(RiskModel(**r.params), r.X, r.y, cv=cfg.splits.folds,
                        shuffle=cfg.splits.shuffle, random_state=seed, reasons=0,
                        k=list(cfg.evaluation.k), fit_params={"feature_info": r.info})
    r.bt = cv.to_backtest(k=list(cfg.evaluation.k), feature_info=r.info,
                          params={"outcome": list(cfg.label.outcome), "seed": seed,
                                  "shuffle": cfg.splits.shuffle})


def _final_model(r: _Run) -> None:
    from studentprofile.models import RiskModel

    r.keep = r.y.notna().to_numpy()
    r.say(f"fitting the final model on {int(r.keep.sum()):,} labelled rows")
    r.model = RiskModel(**r.params).fit(r.X[r.keep], r.y[r.keep].astype(int),
                                        feature_info=r.info)
    risk_train = r.model.predict_proba(r.X[r.keep])[:, 1]
    r.tiers = {name: float(np.quantile(risk_train, 1.0 - frac))
               for name, frac in r.cfg.evaluation.tiers.items()}


def _evaluate(r: _Run) -> None:
    from studentprofile.evaluation import lead_time

    cfg, tables = r.cfg, _tables(r)
    r.say("evaluating and auditing the backtest scores")
    scores = r.bt.scores
    labelled = scores[scores["label"].notna()]
    if len(labelled):
        oc = tables.outcomes
        reached = oc[oc["outcome"].astype(str).isin(cfg.label.outcome)
                     & oc["student_id"].isin(scores["student_id"])]
        r.lead = (None if r.snapshot is not None  # one as-of: there is no "before"
                  else lead_time(labelled, reached, k=cfg.evaluation.audit_k))
        r.audit = student_audit(cfg, tables, scores, r.audit_attrs) if r.audit_attrs else None
    else:  # nothing to evaluate is a result: the report and the card say so
        r.say("no labelled test row: the backtest has nothing to evaluate")
        r.lead = r.audit = None
    r.report = r.bt.report(
        k=list(cfg.evaluation.k), fairness=r.audit, lead_time=r.lead,
        title=(f"{cfg.name}: {r.snapshot.outcome} ({cfg.splits.folds}-fold cross-validation)"
               if r.snapshot is not None else
               f"{cfg.name}: {' or '.join(cfg.label.outcome)} within "
               f"{cfg.label.horizon:g} days "
               + (f"({cfg.splits.folds}-fold cross-validation)"
                  if cfg.splits.kind == "kfold" else "(temporal backtest)")),
        metadata={"experiment": cfg.name, "dataset": cfg.data.dataset or "files",
                  "label": list(cfg.label.outcome), "horizon_days": cfg.label.horizon},
    )
    if r.audit is not None:
        r.report.notes.append(
            f"The fairness audit is per tested student: reached the outcome vs flagged "
            f"(top {cfg.evaluation.audit_k:.0%} of an as-of date's scores) before it.")
    if r.gridrun is not None:
        r.report.post_modeling = r.gridrun.post
    if cfg.fairness.mitigate:
        from studentprofile.pipeline._grid import mitigation

        r.say(f"fairness mitigation ({cfg.fairness.mitigate} on {cfg.fairness.attribute!r})")
        r.mitigated, r.mitigation_note = mitigation(cfg, tables, scores)
        r.report.mitigation = r.mitigated
        if r.mitigation_note:
            r.report.notes.append(r.mitigation_note)


def _explain(r: _Run) -> None:
    """Explain a seeded sample of the latest test rows; the example is an alerted student.

    With no labelled test row (a test period without labels, or a ``test_where`` no student
    matches) there is no example: the SHAP summary explains the final model's latest
    training rows instead, and the run says so.
    """
    r.say("explaining a sample of the latest scores")
    scores = r.bt.scores
    r.test_rows = test_rows = scores[scores["label"].notna()]
    if len(test_rows):
        pool = test_rows[["student_id", "as_of"]]
    else:
        rows = r.X.index[r.keep].to_frame(index=False)
        pool = rows[["student_id", "as_of"]]
    latest = pool[pool["as_of"] == pool["as_of"].max()]
    pool = latest if len(latest) >= 50 else pool
    n_ex = min(r.cfg.evaluation.explain_rows, len(pool))
    rng = np.random.default_rng(r.cfg.seed)
    r.pick = pick = pool.iloc[np.sort(rng.choice(len(pool), size=n_ex, replace=False))]
    X_ex = r.X.loc[pd.MultiIndex.from_frame(pick[["student_id", "as_of"]])]
    r.expl = expl = r.model.explain(X_ex)
    if not len(test_rows):
        r.top = r.example = None
        r.report.notes.append("No labelled test row: the backtest has no scores to evaluate "
                              "and the run shows no example student.")
        return
    from studentprofile.pipeline._warning import showcase

    # the highest-risk student the alert policy alerted (else the highest-risk, said so)
    r.top, r.example = showcase(expl, X=r.X, model=r.model, tiers=r.tiers, cfg=r.cfg)


def _early_warning(r: _Run) -> None:
    """Replay the alert policy over the test period, check drift, build the example's card."""
    from studentprofile.pipeline._warning import early_warning

    scores, test_rows = r.bt.scores, r.test_rows
    if not len(scores):  # no test row at all: no alerts to replay, no period to compare
        r.say("no test rows: no alert policy to replay, no drift to check")
        r.warning_summary, r.drift_table, r.profile = {}, None, None
        return
    r.say("replaying the alert policy over the test period and checking drift")
    first = test_rows["as_of"].min() if len(test_rows) else scores["as_of"].min()
    reference = r.keep & (r.X.index.get_level_values("as_of") < first)
    if not reference.any():  # no labelled row before the test period: all labelled rows
        reference = r.keep
    ex_key = (None if r.top is None
              else (r.pick["student_id"].iloc[r.top], r.pick["as_of"].iloc[r.top]))
    r.warning_summary, r.drift_table, r.profile = early_warning(
        cfg=r.cfg, tables=_tables(r), scores=scores, tiers=r.tiers, X=r.X, info=r.info,
        model=r.model, reference=reference, expl=r.expl, example_key=ex_key)
    if r.example is not None:
        r.example["tier"] = (r.profile or {}).get("risk", {}).get("tier")


def _write(r: _Run, seconds: dict[str, float]) -> tuple[RunResult, str, pd.DataFrame]:
    """Write the model, the reports and the model card locally (before any tracking)."""
    from studentprofile.pipeline._model_card import model_card
    from studentprofile.tracking import save_model, synthetic_example

    cfg, tables = r.cfg, _tables(r)
    run_dir = _new_run_dir(cfg)
    r.say(f"writing the model and reports to {run_dir}")
    files: dict[str, Path] = {}
    files["config"] = write_json(run_dir / "config.json", cfg.to_dict())
    files["feature_info"] = write_json(run_dir / "feature_info.json",
                                       {k: v.to_dict() for k, v in r.info.items()})
    files["backtest_json"] = write_json(run_dir / "backtest.json", r.bt.to_dict())
    files["evaluation_json"] = r.report.save(run_dir / "evaluation.json")
    files["report_html"] = r.report.save(run_dir / "report.html")
    if r.audit is not None:
        files["fairness_json"] = write_json(run_dir / "fairness.json", r.audit.to_dict())
    files["shap_summary"] = r.expl.plot_summary(run_dir / "shap_summary.png")
    files["early_warning"] = write_json(run_dir / "early_warning.json", r.warning_summary)
    if r.drift_table is not None:
        files["drift"] = write_csv(run_dir / "drift.csv", r.drift_table)
    if r.profile is not None:
        from studentprofile.warning import render_card_html

        files["profile_card_json"] = write_json(run_dir / "profile_card.json", r.profile)
        files["profile_card_html"] = atomic_write_text(
            run_dir / "profile_card.html", render_card_html(r.profile, full_page=True))
    facts = {
        "dataset": cfg.data.dataset or "files",
        "students": int(len(tables.students)),
        "events": int(len(tables.events)),
        "grid_rows": int(len(r.grid)),
        "labelled_rows": int(r.keep.sum()),
        "positive_rate": float(np.mean(r.y[r.keep])) if r.keep.any() else None,
        "features": int(r.X.shape[1]),
        "period": period(tables),
        "fingerprints": r.fingerprints,
        "versions": package_versions(),
        "git_commit": git_commit(Path(cfg.source).parent if cfg.source != "<dict>"
                                 else Path.cwd()),
        "tiers": r.tiers,
        "early_warning": r.warning_summary,
        "audit_attributes": r.audit_attrs,
        "best_iteration": int(getattr(r.model, "best_iteration_", 0) or 0),
    }
    metrics = headline_metrics(r.report, r.bt)
    metrics.update(warning_metrics(r.warning_summary))
    fairness = [] if r.audit is None else r.audit.summary().to_dict(orient="records")
    card = model_card(cfg, facts=facts, report=r.report, backtest=r.bt, audit=r.audit,
                      feature_info=r.info, model=r.model, lead=r.lead)
    if r.gridrun is not None or cfg.fairness.mitigate:
        from studentprofile.pipeline._grid import grid_card_section

        card += grid_card_section(r.gridrun, r.mitigated, r.mitigation_note, cfg)
    files["model_card"] = atomic_write_text(run_dir / "model_card.md", card)
    example_row = synthetic_example(r.X[r.keep])
    model_dir = save_model(r.model, run_dir / "model", tiers=r.tiers, model_card=card,
                           input_example=example_row,
                           fingerprints=flat_fingerprints(r.fingerprints))
    if r.gridrun is not None:
        for name, path in r.gridrun.post.save(run_dir / "post_modeling").items():
            files[f"post_modeling.{name}"] = path
        facts["grid"] = r.gridrun.summary(cfg.model.select_rule)
    if r.mitigated is not None:
        files["mitigation"] = write_json(run_dir / "mitigation.json", r.mitigated.to_dict())
        facts["mitigation"] = r.mitigated.gap_closed()
    if r.key is not None:
        files["scores"] = per_student_scores(run_dir, r.bt.scores, r.key)
    result = RunResult(name=cfg.name, run_dir=run_dir, model_dir=model_dir, files=files,
                       metrics=metrics, fairness=fairness, example=r.example, seconds=seconds,
                       facts=facts)
    return result, card, example_row


def _track(r: _Run, result: RunResult, card: str, example_row: pd.DataFrame) -> Any:
    """Track the run in MLflow; a failure is reported in ``not_logged``, never raised.

    The model and every report are already on disk. ``tracking`` turns MLflow's failures into
    :class:`~studentprofile.errors.TrackingError`; any that still escapes (or any other
    exception from the tracking store) becomes a ``not_logged`` entry, so the CLI exits 4 with
    the run's files complete.
    """
    from studentprofile.tracking import TrackingReport

    cfg = r.cfg
    try:
        return track_run(cfg, result, r.report, r.bt, r.audit, r.model, r.tiers, card,
                         example_row, grid=r.gridrun)
    except TrackingError as exc:
        why = str(exc)
    except Exception as exc:  # noqa: BLE001 - "tracking failures never raise" (docs/tracking.md)
        logger.debug("tracking failed", exc_info=True)
        why = f"{type(exc).__name__}: {exc}"
    return TrackingReport(enabled=True, uri=cfg.tracking.uri, experiment=cfg.tracking.experiment,
                          not_logged=[{"what": "run", "why": why[:1000]}])


# ---------------------------------------------------------------------------- helpers
def _tables(r: _Run) -> EventTables:
    if r.tables is None:  # pragma: no cover - _load runs first
        raise RuntimeError("the tables are not loaded yet")
    return r.tables


def _new_run_dir(cfg: ExperimentConfig) -> Path:
    """``<output_dir>/<name>/<timestamp>[-n]``: a new folder, never an existing one."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_root = Path(cfg.tracking.output_dir)
    run_dir = out_root / cfg.name / stamp
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = out_root / cfg.name / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir
