"""The weekly early-warning job: score today, raise alerts, log them, assign caseloads, cards.

:func:`weekly_alerts` is what a campus system runs each week with a trained run: it rebuilds
every current student's features up to the date (as the run built them: only what was known
before each as-of date), scores them with the run's model, replays the alert policy over each
student's dates so far (hysteresis and cool-down need the history; features are rebuilt, not
stored), explains today's alerts, records them in the append-only alert log (idempotent: a
rerun of the same date adds nothing), assigns them to advisors within capacity and programme,
and writes a profile card per alerted student. With ``store=`` it closes the loop
(:mod:`._loop`): caseloads by role, cases routed by reason, digests to the advisors, their
weekly site and the loop report, in one database with the alert log.

Unlike a run folder, this output is for the advisors: it carries student identifiers. Keep it
inside the campus system; nothing here is sent to MLflow.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._files import atomic_write_json, atomic_write_text, write_people_csv
from studentprofile.errors import ConfigError
from studentprofile.pipeline._loop import STAFF_TWICE, LoopResult, read_people
from studentprofile.tables import EventTables
from studentprofile.tables._time import as_moment, days_delta

__all__ = ["WeeklyResult", "weekly_alerts"]

logger = logging.getLogger(__name__)

#: As-of dates of history on a card's dimension trends.
_CARD_DATES = 6


@dataclass
class WeeklyResult:
    """What one weekly job did.

    Attributes
    ----------
    as_of : Timestamp or float
        The date asked for.
    students : int
        Students with a current as-of date (their latest grid date within one grid step of
        ``as_of``).
    alerts : DataFrame
        Today's alerts, highest risk first: ``student_id``, ``as_of``, ``score``, ``tier``,
        ``reasons`` (list of sentences), ``alert_id``.
    tiers : DataFrame
        Every current student's tier today (``student_id``, ``as_of``, ``score``, ``tier``,
        ``alert``): the watch list.
    recorded : RecordResult
        What the alert log took: new alerts, alerts already logged, conflicts.
    caseloads : DataFrame or None
        :func:`~studentprofile.warning.assign_caseloads` of today's alerts, when staff or
        advisors were given.
    files : dict of str -> Path
        What was written (``alerts``, ``caseloads``, ``cards``; with a store also ``site``,
        ``loop_report`` and ``loop_report_json``).
    loop : LoopResult or None
        With ``store=``: cases opened, digests and what was sent, the site, the loop report.
    log : str
        The alert log's file or URL, the password masked (safe to print).
    """

    as_of: Any
    students: int
    alerts: pd.DataFrame
    tiers: pd.DataFrame
    recorded: Any
    caseloads: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    loop: LoopResult | None = None
    log: str = ""

    def summary(self) -> dict[str, Any]:
        """Return the counts only (no identifiers): for logs and ``--json``."""
        out: dict[str, Any] = {
            "as_of": str(self.as_of.date()) if isinstance(self.as_of, pd.Timestamp)
            else self.as_of,
            "students": self.students,
            "alerts": int(len(self.alerts)),
            "alerts_by_tier": {str(k): int(v) for k, v in
                               self.alerts["tier"].astype(str).value_counts().items()},
            "watch_list_by_tier": {str(k): int(v) for k, v in
                                   self.tiers["tier"].dropna().astype(str).value_counts().items()},
            "logged_new": int(self.recorded.n_new),
            "logged_already": int(self.recorded.n_existing),
        }
        if self.caseloads is not None:
            out["caseloads"] = {str(k): int(v) for k, v in
                                self.caseloads["status"].value_counts().items()}
        out["files"] = {k: str(v) for k, v in self.files.items()}
        if self.loop is not None:
            out["loop"] = self.loop.summary()
        return out

    def __repr__(self) -> str:
        s = self.summary()
        tiers = ", ".join(f"{k} {v}" for k, v in (s.get("alerts_by_tier") or {}).items())
        return (f"WeeklyResult(as of {s.get('as_of')}: {s.get('students')} student(s), "
                f"{len(self.alerts)} alert(s)" + (f" ({tiers})" if tiers else "")
                + f", {s.get('logged_new', 0)} new in the log"
                + (f", {s['loop']['cases_opened']} case(s) opened, {s['loop']['digests']} "
                   "digest(s)" if "loop" in s else "")
                + f", {len(self.files)} file(s))")

    def _repr_html_(self) -> str:
        from studentprofile import _html

        counts: dict[str, Any] = {}
        def flat(prefix: str, value: Any) -> None:
            if isinstance(value, dict):  # the loop's summary nests a level deeper
                for k, v in value.items():
                    if k != "files":
                        flat(f"{prefix}: {k}" if prefix else str(k), v)
            else:
                counts[prefix] = value

        flat("", self.summary())
        alerts = self.alerts.copy()
        if "reasons" in alerts:
            alerts["reasons"] = [
                "; ".join(map(str, r)) if isinstance(r, list | tuple) else r
                for r in alerts["reasons"]]
        keep = [c for c in ("student_id", "score", "tier", "reasons", "alert_id") if c in alerts]
        parts = [_html.kv_table(counts, key="count"),
                 _html.heading("Today's alerts, highest risk first (identifiers: keep inside "
                               "the campus system)"),
                 _html.table(alerts[keep], index=False, max_rows=_html.MAX_ROWS,
                             max_cols=_html.MAX_COLS)]
        if self.files:
            files = [(k, str(v)) for k, v in self.files.items()]
            parts += [_html.heading("Files"), _html.kv_table(
                dict(files[:_html.MAX_ROWS]), key="what", value="path")]
            if len(files) > _html.MAX_ROWS:
                parts.append(_html.note(f"... {len(files) - _html.MAX_ROWS} more files in "
                                        ".files"))
        parts.append(_html.note(f"Alert log: {self.log}") if self.log else "")
        return _html.display(repr(self), parts)


def _as_of_value(tables: EventTables, as_of: Any) -> Any:
    """Today as the tables' time (the one time module: the same instant in any zone is one)."""
    return as_moment(as_of, tables.time_kind, key="as_of")


def _programmes(tables: EventTables, column: str | None) -> pd.Series | None:
    st = tables.students
    if column is None:
        column = next((c for c in ("programme", "program") if c in st.columns), None)
        if column is None:
            return None
    elif column not in st.columns:
        raise ConfigError("the programme column is not in the students table",
                          key="programme_column", arrived=repr(column),
                          hint=f"students columns: {list(st.columns)!r}")
    return st.set_index("student_id")[column].astype("string")


def _read_staff(staff: Any, advisors: Any) -> pd.DataFrame | None:
    """Return the staff frame (``staff=``) or the advisors frame (``advisors=``), or ``None``."""
    if staff is not None and advisors is not None:
        raise ConfigError(STAFF_TWICE, key="staff", arrived="both staff= and advisors=",
                          hint="a staff frame with role advisor covers what advisors= did")
    if staff is not None:
        return read_people(staff, key="staff", id_column="staff_id")
    if advisors is not None:
        return read_people(advisors, key="advisors", id_column="advisor_id")
    return None


def weekly_alerts(
    run_dir: str | os.PathLike[str],
    as_of: Any,
    *,
    log: str | os.PathLike[str] | None = None,
    advisors: Any = None,
    cards_dir: str | os.PathLike[str] | None = None,
    tables: EventTables | None = None,
    programme_column: str | None = None,
    top_reasons: int = 3,
    progress: Callable[[str], None] | None = None,
    store: str | os.PathLike[str] | None = None,
    staff: Any = None,
    routing: Any = None,
    first_contact_days: float = 7.0,
    notifier: Any = None,
    card_url: str | None = None,
    digest_retries: int = 3,
    engine: str = "pandas",
    spark: Any = None,
) -> WeeklyResult:
    """Run the weekly early-warning job of a trained run for one date.

    Parameters
    ----------
    run_dir : path
        A run folder written by :func:`run` (its ``config.json`` and ``model/``).
    as_of : date or float
        Today: a date (naive, or with a UTC offset or zone: converted to UTC, as the tables'
        times are) or float days for float-day tables. Each current student is scored at their
        latest grid date on or before it (within one grid step); features use only what was
        known before that date.
    log : path or URL, optional
        The alert log: a SQLite file (created when missing) or a database URL (see
        :class:`~studentprofile.warning.AlertLog`). Rerunning a date adds nothing. With staff
        or advisors, the caseload is recorded in it too (``AlertLog.assignments()``). Default:
        in ``store``; one of the two is needed.
    advisors : DataFrame or path, optional
        ``advisor_id``, ``capacity``, optional ``programmes`` (list, or ``;``-separated text
        in a CSV): today's alerts are assigned highest risk first.
    cards_dir : path, optional
        Write the profile cards of today's alerts here, ``<stem>.json`` and ``<stem>.html``
        with one distinct, safe file name per student
        (:func:`~studentprofile.warning.card_file_stem`: a readable slug and a hash of the
        exact id; the JSON keeps the exact id), and ``alerts.csv`` (with a ``card`` column
        naming each card's HTML file) and ``caseloads.csv``. The CSV files are for people:
        text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return) get a single quote in front.
    tables : EventTables, optional
        The tables (default: loaded as the run's config says).
    programme_column : str, optional
        Students' programme column for caseloads (default: ``programme`` or ``program``).
    top_reasons : int, default 3
        Reasons per alert.
    progress : callable, optional
        Called with a short message before each step.
    store : path or URL, optional
        Close the loop in this database (a SQLite file, or a SQLAlchemy URL such as
        ``postgresql+psycopg://ews@db.campus/ews``; ``${VAR}`` is read from the environment):
        it holds the alert log (unless ``log`` says otherwise), the cases and the notification
        ledger. Today's alerts become cases (idempotent), routed by reason, owned and assigned
        as the caseloads say (recorded in the store); each owner's digest of new and overdue
        cases is built and, with a ``notifier``, sent at most once; with ``cards_dir`` the
        advisors' site (``index.html``) and the loop report (``loop_report.json`` and
        ``.html``) are written beside the cards. See ``docs/closed-loop.md``.
    staff : DataFrame or path, optional
        The staff frame (or CSV): ``staff_id``, ``role``, ``capacity`` (one row per person and
        role), optional ``programmes``, ``unit`` and ``email`` (where digests go). Each alert
        needs the routing's owner role plus the roles its reasons call for; with a store the
        capacities are reduced by each person's active cases. Instead of ``advisors``.
    routing : Routing or path, optional
        Reason families/kinds -> roles (a :class:`~studentprofile.warning.Routing` or its
        TOML file). Default: every case to the ``advisor`` role.
    first_contact_days : float, default 7
        With a store: first contact with the student is due this many days after the case
        opens.
    notifier : Notifier, optional
        With a store: send the digests through it (:class:`~studentprofile.warning.SmtpNotifier`,
        :class:`~studentprofile.warning.WebhookNotifier`); every attempt is recorded in the
        ledger and a digest is never sent twice.
    card_url : str, optional
        Base URL where the cards are published: digests link each case to its card.
    digest_retries : int, default 3
        Retries of a digest whose delivery failed for a passing reason (waits 1, 2, 4, ...
        seconds); a digest still undelivered is recorded as failed and sent by the next run.
    engine : {"pandas", "spark"}, default "pandas"
        Where the features of the current students' history and their risk are computed.
        ``"spark"`` runs them on ``spark`` (:func:`studentprofile.spark.build_features` with
        the run's builder fit, :func:`studentprofile.spark.score`); the alert policy, the log,
        caseloads and cards run on the driver as with ``"pandas"``, with the same result. The
        tables are still loaded on the driver (``docs/scaling.md`` has the recipe for tables
        that live only on the platform).
    spark : SparkSession, optional
        The session for ``engine="spark"``.

    Returns
    -------
    WeeklyResult

    Raises
    ------
    ConfigError
        A bad date, no student with an as-of date near it, a missing advisors or staff file,
        neither ``log`` nor ``store``, a bad routing file, a notifier without a store.
    SchemaError, ModelIntegrityError
        Bad tables or advisors; tampered model files.
    DataIntegrityError
        Today's alerts differ from alerts already logged for the same date (another model or
        other data): nothing is written.

    Examples
    --------
    >>> from studentprofile.pipeline import weekly_alerts
    >>> result = weekly_alerts("studentprofile-runs/oulad-withdrawal-60d/20261130-101500",
    ...                        "2014-11-01", log="alerts.sqlite",
    ...                        advisors="advisors.csv", cards_dir="cards")  # doctest: +SKIP
    >>> result.summary()["alerts"]  # doctest: +SKIP
    212
    """
    from studentprofile.features import make_grid
    from studentprofile.pipeline._loop import WeeklyLoop, loop_inputs, plan_caseloads, routing_of
    from studentprofile.pipeline._saved_run import builder_tables, config_of_run, fitted_builder
    from studentprofile.pipeline._tables import load_tables
    from studentprofile.pipeline._warning import card_profiles, risk_label
    from studentprofile.pipeline._weekly_spark import check_engine, history_rows
    from studentprofile.tracking import load_model
    from studentprofile.warning import (
        AlertLog,
        AlertPolicy,
        card_file_stem,
        profile_card,
        reasons_lookup,
        render_card_html,
    )

    say = progress or (lambda msg: logger.info("%s", msg))
    if isinstance(top_reasons, bool) or not isinstance(top_reasons, int) or top_reasons < 1:
        raise ConfigError("top_reasons must be a positive integer", key="top_reasons",
                          arrived=repr(top_reasons))
    check_engine(engine, spark)
    if log is None and store is None:
        raise ConfigError("the weekly job needs an alert log: log= or store=", key="log",
                          arrived="neither",
                          hint="e.g. log='alerts.sqlite', or store= a database that holds the "
                               "alert log, the cases and the notification ledger")
    run_dir = Path(run_dir)
    cfg = config_of_run(run_dir)
    model = load_model(str(run_dir / "model"))
    if tables is None:
        say(f"loading data ({cfg.data.dataset or 'files'})")
        tables = load_tables(cfg)
    at = _as_of_value(tables, as_of)
    with_staff = advisors is not None or staff is not None
    programmes = _programmes(tables, programme_column) if with_staff else None
    people = _read_staff(staff, advisors)
    route = routing_of(routing)
    inputs = loop_inputs(store=store, routing=route, first_contact_days=first_contact_days,
                         notifier=notifier, card_url=card_url, time_kind=tables.time_kind,
                         retries=digest_retries)
    if log is None:
        log = inputs.target if inputs is not None else log

    # ---- who is current, and their dates so far
    full = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                     end=cfg.grid.end)
    step = days_delta(cfg.grid.every, tables.time_kind)
    grid = full[full["as_of"] <= at]
    last = grid.groupby("student_id", sort=False)["as_of"].transform("max")
    current = grid.loc[(grid["as_of"] == last) & (last > at - step), "student_id"]
    if not len(current):
        first: Any = full["as_of"].min() if len(full) else None
        if isinstance(first, pd.Timestamp):
            first = first.date().isoformat()
        raise ConfigError("no student has an as-of date within one grid step before as_of",
                          key="as_of", arrived=repr(as_of),
                          hint=f"the grid's dates start at {first} and step "
                               f"{cfg.grid.every:g} days")
    history = grid[grid["student_id"].isin(current)].reset_index(drop=True)
    say(f"building features for {current.nunique():,} current students "
        f"({len(history):,} student-dates so far)")
    fit_tables = builder_tables(cfg, tables, full)
    builder = fitted_builder(cfg, tables, full, fit_tables)
    risk_model = model.risk_model
    rows = history_rows(engine, spark, tables=tables, history=history, builder=builder,
                        fit_tables=fit_tables, model=risk_model)
    info = rows.info

    # ---- scores, tiers, today's alerts with reasons
    risk = rows.risk
    ev = cfg.evaluation
    policy = AlertPolicy(tiers=model.tiers, enter_after=ev.enter_after, exit_after=ev.exit_after,
                         cooldown_days=ev.cooldown_days)
    states = policy.apply(risk)
    dates = states.index.get_level_values("as_of")
    newest = pd.Series(dates, index=states.index).groupby(level="student_id").transform("max")
    today_mask = np.asarray(dates == newest.to_numpy())
    today = states[today_mask]
    raised = today[today["alert"].to_numpy()]
    expl = risk_model.explain(rows.at(raised.index)) if len(raised) else None
    if expl is not None:
        states = policy.apply(risk, reasons=expl, top_reasons=top_reasons)
        today = states[today_mask]
        raised = today[today["alert"].to_numpy()]
    with AlertLog(log, time_kind=tables.time_kind) as alert_log:
        # the masked URL: a database URL given here may hold a password
        shown_log = alert_log.path if alert_log.url.startswith("sqlite") else alert_log.url
        say(f"{len(raised):,} alert(s) today; recording them in {shown_log}")
        recorded = alert_log.record_alerts(raised, source="risk-model", run_id=run_dir.name)
        logged = alert_log.alerts(source="risk-model")
    ids = dict(zip(zip(raised.index.get_level_values("student_id"),
                       raised.index.get_level_values("as_of"), strict=True),
                   recorded.alert_ids, strict=True)) if len(raised) else {}
    alerts = raised.reset_index()
    alerts["alert_id"] = [ids.get((s, a)) for s, a in zip(alerts["student_id"], alerts["as_of"],
                                                          strict=True)]
    keep = [c for c in ("student_id", "as_of", "score", "tier", "reasons", "alert_id")
            if c in alerts.columns]
    alerts = alerts[keep].sort_values("score", ascending=False, kind="stable")
    alerts = alerts.reset_index(drop=True)
    watch = today.reset_index()[["student_id", "as_of", "score", "tier", "alert"]]
    result = WeeklyResult(as_of=at, students=int(current.nunique()), alerts=alerts,
                          tiers=watch, recorded=recorded, log=shown_log)

    # ---- caseloads by role and, with a store, the cases (the closed loop: _loop.py)
    # routing reads the reasons that raised the risk
    raised_reasons = (expl.reasons(top=top_reasons, direction="raised")
                      if expl is not None and (people is not None or inputs is not None)
                      else None)
    opened = None
    with (WeeklyLoop(inputs, say=say) if inputs is not None
          else contextlib.nullcontext()) as loop:
        if people is not None:
            lookup = reasons_lookup(raised_reasons) if raised_reasons is not None else None
            result.caseloads = plan_caseloads(alerts, people, routing=route, lookup=lookup,
                                              programmes=programmes,
                                              load=loop.load(at) if loop is not None else None)
        if loop is not None:
            opened = loop.open(alerts, result.caseloads, reasons=raised_reasons, at=at,
                               model_version=run_dir.name)
        if result.caseloads is not None:
            # the caseload is history too: recorded in the log (a rerun of the week adds nothing)
            _record_caseload(log, tables.time_kind, result.caseloads, alerts, at=at,
                             by=f"assign_caseloads (run {run_dir.name})")

    # ---- cards and the files for people
    if cards_dir is not None:
        out = Path(cards_dir)
        stems: list[str] = []
        if len(alerts):
            # each current student's last dates: the cohort of a date is everyone scored on it
            recent = rows.recent(_CARD_DATES)
            profiles, types = card_profiles(recent, info, tables, cfg.seed)
            label = risk_label(cfg)
            say(f"writing {len(alerts):,} profile card(s) to {out}")
            for sid, when in zip(alerts["student_id"], alerts["as_of"], strict=True):
                card = profile_card(sid, when, profiles=profiles, types=types, risk=states,
                                    reasons=expl, alerts=logged, feature_info=info,
                                    top_reasons=top_reasons, risk_label=label)
                stems.append(card_file_stem(sid))
                _write_card(out / stems[-1], card, render_card_html(card, full_page=True))
            result.files["cards"] = out
        result.files.update(_write_tables(out, alerts, result.caseloads, stems))
    rows.release()
    if inputs is not None:
        # digests (sent once), the advisors' site beside the cards, the loop report
        with WeeklyLoop(inputs, say=say) as loop:
            result.loop = loop.finish(
                opened=opened, at=at, window=step, people=people,
                out=Path(cards_dir) if cards_dir is not None else None,
                outcomes=tables.outcomes, horizon=cfg.label.horizon, outcome=cfg.label.outcome)
        result.files.update(result.loop.files)
    return result


def _record_caseload(log: Any, time_kind: str, caseloads: pd.DataFrame, alerts: pd.DataFrame,
                     *, at: Any, by: str) -> None:
    """Record the assigned rows of the caseload in the alert log (owners and helpers by role)."""
    from studentprofile.warning import AlertLog

    plan = caseloads[caseloads["status"] == "assigned"]
    if not len(plan):
        return
    alert_of = dict(zip(alerts["student_id"], alerts["alert_id"], strict=True))
    with AlertLog(log, time_kind=time_kind) as alert_log:
        alert_log.record_assignments(
            plan.assign(alert_id=[alert_of[s] for s in plan["student_id"]]), time=at, by=by)


def _write_tables(out: Path, alerts: pd.DataFrame, caseloads: pd.DataFrame | None,
                  stems: list[str]) -> dict[str, Path]:
    """Write ``alerts.csv`` (with each alert's card) and ``caseloads.csv`` for advisors.

    Spreadsheet formulas in ids, advisor ids, programmes and reasons are neutralised
    (OWASP's rule, :func:`~studentprofile._files.write_people_csv`); written atomically.
    """
    reasons: Any = alerts["reasons"] if "reasons" in alerts.columns else [[]] * len(alerts)
    flat = alerts.assign(reasons=[" | ".join(map(str, r)) if isinstance(r, list) else ""
                                  for r in reasons],
                         card=[f"{stem}.html" for stem in stems] if stems else None)
    # CRLF rows (RFC 4180): a cell holding a carriage return is then quoted, so a reader that
    # ends rows at CR cannot be made to start a new row (and a formula) inside a cell
    files = {"alerts": write_people_csv(flat, out / "alerts.csv", lineterminator="\r\n")}
    if caseloads is not None:
        files["caseloads"] = write_people_csv(caseloads, out / "caseloads.csv",
                                              lineterminator="\r\n")
    return files


def _write_card(stem: Path, card: dict[str, Any], html_text: str) -> None:
    # the card is plain JSON types already (profile_card); keep its order for readers
    atomic_write_json(stem.with_name(stem.name + ".json"), card, sort_keys=False)
    atomic_write_text(stem.with_name(stem.name + ".html"), html_text)
