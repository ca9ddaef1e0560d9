"""The ``studentprofile`` command.

Every command prints a short human summary by default, JSON with ``--json``, nothing but errors
with ``--quiet``; errors print one clear message and exit non-zero without a traceback (unless
``--debug``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from studentprofile._version import __version__
from studentprofile.errors import ConfigError, SchemaError, StudentProfileError

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 2  # a StudentProfileError: bad input, config or model files
EXIT_UNEXPECTED = 3  # a bug: please report it
EXIT_PARTIAL = 4  # the job finished but something (e.g. tracking) was not done
RUNS_DIR = "studentprofile-runs"


class _Out:
    """Where a command writes: text for people, JSON for programs, nothing when quiet."""

    def __init__(self, *, as_json: bool, quiet: bool, stream: TextIO) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.stream = stream

    def line(self, text: str = "") -> None:
        if not self.quiet and not self.as_json:
            self.stream.write(text + "\n")
            self.stream.flush()

    def result(self, payload: dict[str, Any]) -> None:
        if self.as_json:
            self.stream.write(json.dumps(payload, indent=2, default=str) + "\n")
            self.stream.flush()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def _cmd_datasets(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile import datasets

    listing = datasets.list_datasets()
    out.result({"datasets": listing.to_dict(orient="records")})
    out.line("Bundled datasets (no download needed):")
    out.line(listing.to_string(index=False))
    return EXIT_OK


def _progress(out: _Out) -> Callable[[str], None]:
    """Progress lines on stderr (never stdout, so --json output stays clean)."""

    def say(msg: str) -> None:
        if not out.quiet:
            sys.stderr.write(f"  .. {msg}\n")
            sys.stderr.flush()

    return say


def _fmt(v: Any, digits: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if f != f else f"{f:.{digits}f}"


def _summary(result: Any, out: _Out, *, title: str) -> None:
    m = result.metrics
    out.line("")
    out.line(title)
    out.line(f"  test rows             {int(m.get('n', 0)):,} student-weeks, "
             f"{_fmt(m.get('prevalence'), 3)} positive")
    out.line(f"  ROC AUC               {_fmt(m.get('roc_auc'))}")
    out.line(f"  precision at 10%      {_fmt(m.get('precision@10%'))}   "
             f"(lift {_fmt(m.get('lift@10%'), 2)}x over the base rate)")
    out.line(f"  calibration error     {_fmt(m.get('ece'), 4)}   (ECE, 10 bins)")
    if not m.get("n"):
        out.line("  (no labelled test row: nothing to evaluate; check splits.test_where and "
                 "the test period)")
    grid = (getattr(result, "facts", None) or {}).get("grid")
    if grid and grid.get("table"):
        _grid_summary(grid, out)
    if result.fairness:
        by_attr: dict[str, list[str]] = {}
        for rec in result.fairness:
            if "&" in str(rec["attribute"]):
                continue
            fails = by_attr.setdefault(str(rec["attribute"]), [])
            if rec["verdict"] == "fail":
                fails.append(str(rec["metric"]))
        out.line("  fairness verdicts     (top-10% policy; parity when 0.8 <= ratio <= 1.25)")
        for attr, failing in by_attr.items():
            verdict = "pass" if not failing else f"FAIL on {', '.join(failing)}"
            out.line(f"    {attr:<19} {verdict}")
    ew = (getattr(result, "facts", None) or {}).get("early_warning")
    if ew:
        a, pol = ew["alerts"], ew["policy"]
        out.line(f"  alerts                {a['alerts']:,} to {a['students_alerted']:,} students "
                 f"over {a['as_of_dates']} as-of dates; precision {_fmt(a['alert_precision'])}")
        out.line(f"                        (a tier after {pol['enter_after']} dates at or above "
                 f"it, left after {pol['exit_after']} below; {pol['cooldown_days']:g}-day "
                 f"cool-down)")
        if a.get("students_reaching_outcome"):
            out.line(f"                        {_fmt(a['alerted_before_outcome'], 2)} of the "
                     f"{a['students_reaching_outcome']:,} who left were alerted before, "
                     f"median {_fmt(a['median_lead_days'], 0)} days ahead")
        d = ew["drift"]
        score = d.get("score") or {}
        out.line(f"  drift (test vs train) score PSI {_fmt(score.get('psi'), 3)} "
                 f"({score.get('status', 'n/a')}); {len(d['features_drifted'])} feature(s) "
                 f"drifted, {len(d['features_watch'])} to watch")
    if result.example:
        ex = result.example
        tier = f"tier {ex['tier']}" if ex.get("tier") else "below every tier"
        if ex.get("alerted", bool(ex.get("tier"))):
            head = (f"why the highest-risk alerted student of the latest week's explained "
                    f"sample is flagged (risk {_fmt(ex['risk'], 2)}, {tier}")
        else:
            head = (f"nobody in the latest week's explained sample was alerted; what raises "
                    f"the risk of its highest-risk student (risk {_fmt(ex['risk'], 2)}, {tier}")
        out.line(f"  {head}; the id is never printed or tracked):")
        for r in ex["reasons"]:
            out.line(f"    - {r}")
    out.line("")
    out.line(f"  model and reports     {result.run_dir}")
    out.line(f"  model card            {result.files.get('model_card')}")
    out.line(f"  HTML report           {result.files.get('report_html')}")
    if result.files.get("profile_card_html"):
        out.line(f"  profile card          {result.files.get('profile_card_html')}")
    t = result.tracking
    if t is None:
        out.line("  tracking              off")
    else:
        if t.run_id:
            out.line(f"  MLflow run            {t.run_id} (experiment {t.experiment!r})")
        if t.registered:
            out.line(f"  registered model      {t.registered}")
        if t.ui_command() and t.run_id:
            out.line(f"  open it with          {t.ui_command()}")
        if t.not_logged:
            out.line("  NOT tracked (the files above are complete):")
            for x in t.not_logged:
                out.line(f"    - {x['what']}: {x['why']}")
    out.line(f"  time                  {result.seconds.get('total', 0):.0f} s")


def _grid_summary(grid: dict[str, Any], out: _Out) -> None:
    """Print the model grid's outcome: each candidate's means, each rule's choice, regret."""
    table, rules = grid["table"], grid.get("rules") or []
    metrics = [k for k in table[0] if k not in ("candidate", "kind")]
    width = min(28, max(len(_safe(r["candidate"])) for r in table) + 2)
    out.line(f"  model grid            {len(table)} candidates backtested on the same splits "
             "(means over the splits); the figures above are the shipped one's")
    head = "".join(f"{_safe(m)[:13]:>14}" for m in metrics)
    out.line(f"    {'candidate':<{width}}{'kind':<10}{head}")
    for row in table:
        mark = " *" if row["candidate"] == grid.get("chosen") else ""
        name = _safe(row["candidate"])[: width - 2] + mark
        cells = "".join(f"{_fmt(row.get(m), 4 if m == 'ece' else 3):>14}" for m in metrics)
        out.line(f"    {name:<{width}}{_safe(row['kind']):<10}{cells}")
    out.line(f"  shipped               {_safe(grid.get('chosen'))} (*), chosen by "
             f"{_safe(grid.get('select_rule'))} on {_safe(grid.get('metric'))} among the grid "
             "candidates")
    if rules:
        rw = max(len(_safe(r["rule"])) for r in rules) + 2
        out.line(f"  selection rules       on {_safe(grid.get('metric'))} over the splits, among "
                 "every candidate (baselines included):")
        out.line(f"    {'rule':<{rw}}{'chooses':<{width}}{'mean regret':>12}{'max regret':>12}")
        for r in rules:
            out.line(f"    {_safe(r['rule']):<{rw}}{_safe(r['chosen'])[: width - 1]:<{width}}"
                     f"{_fmt(r['mean_regret'], 4):>12}{_fmt(r['max_regret'], 4):>12}")
        out.line("    (regret: how far a rule's choice on the past splits fell short of the best "
                 "candidate on the next split; few splits, weak evidence)")
    for b in grid.get("baseline_beat") or []:
        out.line(f"  NOTE: baseline {_safe(b['baseline'])} beat every grid candidate on "
                 f"{_safe(b['metric'])} ({_fmt(b['value'])} vs {_fmt(b['best_grid_value'])} "
                 f"for {_safe(b['best_grid'])}, the best of the grid)")
    for note in grid.get("notes") or []:
        out.line(f"  note: {_safe(note)}")


def _finish_run(result: Any, out: _Out, title: str) -> int:
    out.result(result.to_dict())
    _summary(result, out, title=title)
    if not result.complete:
        missing = "; ".join(f"{x['what']}: {x['why']}" for x in result.tracking.not_logged)
        sys.stderr.write("warning: the run finished and its files are complete, but it was not "
                         f"fully tracked ({missing[:500]}); exit status {EXIT_PARTIAL}\n")
        return EXIT_PARTIAL
    return EXIT_OK


def _tracking_overrides(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if getattr(args, "tracking_uri", None):
        kw["uri"] = args.tracking_uri
    if getattr(args, "no_tracking", False):
        kw["enabled"] = False
    if getattr(args, "output_dir", None):
        kw["output_dir"] = args.output_dir
    return kw


def _cmd_demo(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile.pipeline import demo_config, run

    cfg = demo_config(sample_students=args.sample, **_tracking_overrides(args))
    out.line("studentprofile demo: weekly risk of withdrawal within 60 days, bundled OULAD")
    out.line("(Open University Learning Analytics Dataset, CC BY 4.0; models trained on the "
             "2013 presentations, tested on 2014)")
    result = run(cfg, progress=_progress(out))
    return _finish_run(result, out, "Result (temporal backtest on the 2014 presentations):")


def _cmd_train(args: argparse.Namespace, out: _Out) -> int:
    import dataclasses

    from studentprofile.pipeline import load_config, run

    cfg = load_config(args.config)
    over = _tracking_overrides(args)
    if "output_dir" in over:
        over["output_dir"] = Path(over["output_dir"])
    if over:
        cfg = cfg.with_overrides(tracking=dataclasses.replace(cfg.tracking, **over))
    out.line(f"studentprofile train: {cfg.name} ({args.config})")
    result = run(cfg, progress=_progress(out))
    how = ("k-fold cross-validation" if cfg.splits.kind == "kfold" else "temporal backtest")
    return _finish_run(result, out, f"Result of {cfg.name} ({how}):")


def _cmd_check(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile.pipeline import load_config
    from studentprofile.pipeline._check import check_sources

    cfg = load_config(args.config)
    report = check_sources(cfg)
    out.result(report)
    out.line(f"studentprofile check: {cfg.name} ({args.config})")
    for s in report["sources"]:
        head = f"  {s['table']:<9} {s['source']:<20} {s.get('kind', ''):<7}"
        if "error" in s:
            out.line(f"{head} ERROR")
            out.line("    " + s["error"].replace("\n", "\n    "))
            continue
        if s.get("kind") == "dataset":
            out.line(f"{head} bundled dataset")
            continue
        parts = [f"{s['rows']:,} rows"]
        if "positives" in s:
            parts.append(f"{s['positives']:,} positive, {s['unlabelled']:,} unlabelled; "
                         f"{len(s['features'])} feature columns, "
                         f"{len(s['audit_attributes'])} audit attributes kept out")
        if "students" in s:
            parts.append(f"{s['students']:,} students")
        if s.get("unknown_ids"):
            parts.append(f"{s['unknown_ids']:,} unknown ids (e.g. {s['unknown_ids_example']})")
        if s.get("time_from") is not None:
            parts.append(f"time {s['time_from']} .. {s['time_until']}")
        rec = s.get("records")
        if rec:
            rejected = sum(rec["rejected"].values())
            parts.append(f"{rec['records']:,} records: {rec['voided']:,} voided, "
                         f"{sum(rec['skipped'].values()):,} skipped, {rejected:,} rejected"
                         + (f" ({', '.join(f'{k} {v}' for k, v in rec['rejected'].items())})"
                            if rejected else ""))
        lag = s.get("known_at_lag_days")
        if lag:
            parts.append(f"known_at lag median {lag['median']:g} d, max {lag['max']:g} d")
        out.line(f"{head} " + "; ".join(parts))
    t = report.get("tables", {})
    if "error" in t:
        out.line("tables: NOT VALID")
        out.line("    " + t["error"].replace("\n", "\n    "))
    else:
        out.line(f"tables: valid ({t['students']:,} students, {t['events']:,} events, "
                 f"{t['outcomes']:,} outcomes; times are {t['time_kind']})")
    return EXIT_OK if report["ok"] else EXIT_ERROR


def _read_frame(path: str, what: str) -> Any:
    import pandas as pd

    from studentprofile.pipeline._sections import ID_COLUMNS

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"the {what} file does not exist", key=f"--{what}", arrived=repr(path))
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        # ids are text exactly as written (000123 is not the number 123)
        return pd.read_csv(p, dtype={c: str for c in ID_COLUMNS})
    except Exception as exc:  # noqa: BLE001 - a bad file is the user's input error
        raise ConfigError(f"the {what} file cannot be read as CSV or Parquet", key=f"--{what}",
                          arrived=f"{p.name}: {type(exc).__name__}: {exc}") from exc


def _write_frame(frame: Any, path: str) -> Path:
    """Write scores for people: CSV with spreadsheet formulas neutralised, or Parquet.

    Both go through the package's one atomic writer (a unique temporary file created with
    ``O_EXCL`` next to the target, then renamed), so a planted file or symlink is never written
    through; a place that cannot hold a file (``/proc``, a folder) is an OutputError.
    """
    from studentprofile._files import atomic_write, write_people_csv

    p = Path(path)
    if p.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ConfigError("the output must be a .csv or .parquet file", key="--output",
                          arrived=repr(path))
    if p.suffix.lower() == ".csv":
        return write_people_csv(frame, p, index=True)
    with atomic_write(p, "wb") as fh:
        frame.to_parquet(fh)
    return p


def _latest_run(runs_dir: str) -> Path:
    root = Path(runs_dir)
    found = sorted(root.glob("*/*/config.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ConfigError("no run found", key="--run", arrived=f"nothing under {str(root)!r}",
                          hint="run `studentprofile demo` or `studentprofile train --config "
                          "FILE` first, or pass --run DIR")
    return found[-1].parent


def _use_tracking(args: argparse.Namespace) -> None:
    if getattr(args, "tracking_uri", None):
        import mlflow

        mlflow.set_tracking_uri(args.tracking_uri)
    elif not os.environ.get("MLFLOW_TRACKING_URI"):
        from studentprofile.tracking import default_tracking_uri

        uri = default_tracking_uri(getattr(args, "runs_dir", RUNS_DIR))
        import mlflow

        mlflow.set_tracking_uri(uri)


def _load_model(ref: str, args: argparse.Namespace) -> Any:
    from studentprofile.tracking import load_model

    p = Path(ref)
    if p.is_dir():
        if (p / "model" / "MLmodel").is_file():
            p = p / "model"  # a run folder
        if not (p / "MLmodel").is_file():
            raise ConfigError("not a studentprofile model directory", key="--model",
                              arrived=repr(ref),
                              hint="pass a run folder, its model/ folder, or a models:/NAME@ALIAS "
                              "URI")
        return load_model(str(p))
    if not ref.startswith(("models:/", "runs:/")) and "://" not in ref:
        raise ConfigError("no such model directory or URI", key="--model", arrived=repr(ref),
                          hint="pass a run folder, its model/ folder, or models:/NAME@ALIAS")
    _use_tracking(args)
    try:
        return load_model(ref)
    except StudentProfileError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow's many failure types, one message
        raise ConfigError("the model could not be loaded from the tracking store",
                          key="--model", arrived=f"{ref!r}: {type(exc).__name__}: {exc}",
                          hint="check the name and alias, and --tracking-uri / "
                          "MLFLOW_TRACKING_URI") from exc


def _cmd_score(args: argparse.Namespace, out: _Out) -> int:
    model = _load_model(args.model, args)
    frame = _read_frame(args.input, "input")
    scored = model.predict(frame)
    counts = {str(k): int(v) for k, v in scored["tier"].value_counts().items()}
    if args.output:
        path = _write_frame(scored, args.output)
        out.result({"rows": len(scored), "output": str(path), "tiers": counts})
        out.line(f"scored {len(scored):,} rows -> {path}")
        out.line("tiers: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    else:
        out.result({"rows": len(scored), "tiers": counts,
                    "scores": scored.reset_index().to_dict("records")})
        out.line(scored.drop(columns=["reasons"]).to_string())
    return EXIT_OK


def _cmd_explain(args: argparse.Namespace, out: _Out) -> int:
    import numpy as np
    import pandas as pd

    from studentprofile.pipeline import config_of_run, student_features

    run_dir = Path(args.run) if args.run else _latest_run(args.runs_dir)
    cfg = config_of_run(run_dir)
    model = _load_model(str(run_dir / "model"), args)
    _progress(out)(f"rebuilding one student's features ({cfg.data.dataset or 'files'})")
    X = student_features(cfg, [args.student])
    if args.as_of:
        when = X.index.get_level_values("as_of")
        at = _moment_arg(args.as_of, "datetime" if pd.api.types.is_datetime64_any_dtype(when)
                         else "float", "--as-of")
        X = X[when <= at]
        if not len(X):
            raise ConfigError("the student has no as-of date on or before this one",
                              key="--as-of", arrived=repr(args.as_of))
    rec = model.risk_model.explain(X.iloc[[-1]]).reasons(top=args.top)[0]
    risk = float(rec["probability"])
    tier = str(model.tier_of(np.array([risk]))[0])
    out.result({"as_of": rec.get("as_of"), "risk": risk, "tier": tier,
                "reasons": rec["reasons"], "run": str(run_dir)})
    out.line(f"as of {rec.get('as_of')}: risk {risk:.3f} (tier {tier})")
    for r in rec["reasons"]:
        out.line(f"  - {r['sentence']}")
    return EXIT_OK


def _moment_arg(text: str, kind: Any, key: str) -> Any:
    """Turn a command-line date (or days, for float-time tables) into the tables' time."""
    from studentprofile.tables._time import as_moment

    value: Any = text
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            pass  # as_moment says what a float-time table needs
    return as_moment(value, kind, key=key)


#: Environment variables the `warn` command reads credentials from (never from the command line).
SMTP_USER_ENV = "STUDENTPROFILE_SMTP_USER"
SMTP_PASSWORD_ENV = "STUDENTPROFILE_SMTP_PASSWORD"
WEBHOOK_SECRET_ENV = "STUDENTPROFILE_WEBHOOK_SECRET"
_SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _host_port(text: str, default: int) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (``[::1]:25`` for IPv6)."""
    host, port = text.strip(), str(default)
    if host.startswith("["):
        end = host.find("]")
        if end > 0:
            host, rest = host[1:end], host[end + 1:]
            port = rest[1:] if rest.startswith(":") else port
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--smtp must be HOST or HOST:PORT", key="--smtp", arrived=repr(text),
                          hint="e.g. --smtp mail.campus.edu:587")
    return host, int(port)


def _notifier(args: argparse.Namespace) -> Any:
    """Return the digests' notifier of `warn` (None without --smtp/--webhook).

    Credentials come from environment variables only, never from the command line.
    """
    from urllib.parse import urlsplit

    from studentprofile.warning import SmtpNotifier, WebhookNotifier

    if args.smtp and args.webhook:
        raise ConfigError("send the digests one way: --smtp or --webhook", key="--smtp",
                          arrived="both --smtp and --webhook")
    if (args.smtp or args.webhook) and not args.store:
        raise ConfigError("digests need the case store: --store (or $STUDENTPROFILE_STORE_URL)",
                          key="--store", arrived="--smtp/--webhook without a store")
    if args.smtp:
        if not args.sender:
            raise ConfigError("--smtp needs --from (the digests' sender address)", key="--from",
                              hint="e.g. --from early-warning@campus.edu")
        host, port = _host_port(args.smtp, _SMTP_PORTS[args.smtp_security])
        login = bool(os.environ.get(SMTP_USER_ENV) or os.environ.get(SMTP_PASSWORD_ENV))
        return SmtpNotifier(host, port, sender=args.sender,
                            allowed_hosts=args.allow_host or [host],
                            security=args.smtp_security,
                            username_env=SMTP_USER_ENV if login else None,
                            password_env=SMTP_PASSWORD_ENV if login else None)
    if args.webhook:
        host = urlsplit(args.webhook).hostname or ""
        secret = WEBHOOK_SECRET_ENV if os.environ.get(WEBHOOK_SECRET_ENV) else None
        return WebhookNotifier(args.webhook, allowed_hosts=args.allow_host or [host],
                               secret_env=secret)
    return None


def _cmd_warn(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile.pipeline import weekly_alerts
    from studentprofile.pipeline._loop import STORE_ENV

    if args.run and args.run_dir and Path(args.run) != Path(args.run_dir):
        raise ConfigError("give the run once: RUN or --run", key="--run",
                          arrived=f"{args.run_dir!r} and --run {args.run!r}")
    chosen = args.run_dir or args.run
    run_dir = Path(chosen) if chosen else _latest_run(args.runs_dir)
    args.store = args.store or os.environ.get(STORE_ENV) or None
    log = args.log if args.log or args.store else "alerts.sqlite"
    result = weekly_alerts(run_dir, args.as_of, log=log, advisors=args.advisors,
                           cards_dir=args.out, programme_column=args.programme_column,
                           top_reasons=args.top, progress=_progress(out), store=args.store,
                           staff=args.staff, routing=args.routing,
                           first_contact_days=args.first_contact_days,
                           notifier=_notifier(args), card_url=args.card_url,
                           digest_retries=args.retries)
    s = result.summary()
    s["run"] = str(run_dir)
    s["log"] = result.log  # the password of a database URL masked
    out.result(s)
    tiers = ", ".join(f"{v:,} {k}" for k, v in s["watch_list_by_tier"].items()) or "none"
    out.line(f"as of {s['as_of']}: {s['students']:,} current students scored "
             f"(in a tier: {tiers})")
    by = ", ".join(f"{v:,} {k}" for k, v in s["alerts_by_tier"].items())
    out.line(f"  new alerts today      {s['alerts']:,}{f' ({by})' if by else ''}")
    out.line(f"  alert log             {s['logged_new']:,} written, {s['logged_already']:,} "
             f"already there ({s['log']})")
    if "caseloads" in s:
        parts = ", ".join(f"{v:,} {k}" for k, v in s["caseloads"].items()) or "nothing to assign"
        out.line(f"  caseloads             {parts}")
    loop = s.get("loop")
    if loop is not None:
        out.line(f"  cases                 {loop['cases_opened']:,} opened, "
                 f"{loop['cases_already_open']:,} already open ({loop['store']})")
        sent = ", ".join(f"{v:,} {k}" for k, v in loop["digests_by_status"].items())
        out.line(f"  digests               {loop['digests']:,} ({loop['digests_new_cases']:,} "
                 f"new and {loop['digests_overdue_cases']:,} overdue cases)"
                 + (f"; {sent or 'nothing to send'} via {_safe(loop['channel'])}"
                    if loop["channel"] else "; not sent (no --smtp or --webhook)"))
        rep = loop["report"]
        jp = "n/a" if rep["judged_precision"] is None else f"{rep['judged_precision']:.3f}"
        wait = ("n/a" if rep["median_days_to_contact"] is None
                else f"{rep['median_days_to_contact']:.1f} days")
        out.line(f"  loop report           judged precision {jp} ({rep['judged']:,} of "
                 f"{rep['cases']:,} cases judged); median time to first contact {wait}; "
                 f"{rep['overdue']:,} overdue")
    for key in ("alerts", "caseloads", "cards", "site", "loop_report"):
        if key in s["files"]:
            out.line(f"  {key.replace('_', ' '):<21} {s['files'][key]}")
    if result.loop is not None and result.loop.failed:
        sys.stderr.write(f"warning: {result.loop.failed:,} digest(s) were not delivered; the "
                         "store's notification ledger records why (the next run retries the "
                         "failed ones)\n")
        return EXIT_PARTIAL
    return EXIT_OK


def _columns(frame: Any, cols: list[str], table: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SchemaError("required columns are missing", table=table, column=missing[0],
                          rule="required-column",
                          arrived=f"columns {list(frame.columns)!r}",
                          hint="name them with --label-column / --score-column / --attributes")


def _cmd_evaluate(args: argparse.Namespace, out: _Out) -> int:
    import json

    import pandas as pd

    from studentprofile.evaluation import evaluate

    if args.scores:
        frame = _read_frame(args.scores, "scores")
        _columns(frame, [args.label_column, args.score_column], "scores")
        # rows without a label are not evaluated; labels and scores go to evaluate as they
        # are, which refuses labels other than 0/1 and scores that are not numbers (exit 2)
        frame = frame[frame[args.label_column].notna()].reset_index(drop=True)
        report = evaluate(y_true=frame[args.label_column], scores=frame[args.score_column],
                          k=args.k, title=f"Evaluation of {Path(args.scores).name}")
        if args.report:
            out.line(f"report: {report.save(args.report)}")
        summary = report.summary
        ranking = report.ranking
        out.result(report.to_dict())
    else:
        run_dir = Path(args.run) if args.run else _latest_run(args.runs_dir)
        doc = json.loads((run_dir / "evaluation.json").read_text(encoding="utf-8"))
        summary = doc["summary"]
        ranking = pd.DataFrame(doc["ranking"])
        ranking = ranking.set_index(ranking.columns[0])
        out.result({"run": str(run_dir), "summary": summary, "ranking": doc["ranking"]})
        out.line(f"run {run_dir} (temporal backtest)")
    for k in ("n", "positives", "prevalence", "roc_auc", "pr_auc", "brier", "ece"):
        if k in summary:
            v = summary[k]
            out.line(f"  {k:<11} {v:,}" if k in ("n", "positives") else f"  {k:<11} {_fmt(v, 4)}")
    cols = [c for c in ("precision", "recall", "lift") if c in ranking.columns]
    out.line(ranking[cols].to_string())
    return EXIT_OK


def _cmd_audit(args: argparse.Namespace, out: _Out) -> int:
    if args.scores:
        from studentprofile.evaluation import fairness_audit

        frame = _read_frame(args.scores, "scores")
        attrs = [a.strip() for a in (args.attributes or "").split(",") if a.strip()]
        if not attrs:
            raise ConfigError("audit --scores needs the attribute columns to audit",
                              key="--attributes", hint="e.g. --attributes gender,disability")
        _columns(frame, [args.label_column, args.score_column, *attrs], "scores")
        frame = frame[frame[args.label_column].notna()].reset_index(drop=True)
        audit = fairness_audit(y_true=frame[args.label_column],
                               scores=frame[args.score_column],
                               attributes=frame[attrs], k=args.k,
                               min_group_size=args.min_group_size, n_boot=args.n_boot)
        summ = audit.summary()
        out.result(audit.to_dict())
        grid = summ.pivot(index="attribute", columns="metric", values="verdict")
        out.line(f"fairness audit: top {args.k:g} flagged; parity when 0.8 <= ratio <= 1.25")
        out.line(grid.to_string())
        return EXIT_OK
    ref = args.model or str(_latest_run(args.runs_dir) / "model")
    model = _load_model(ref, args)  # verifies every file against its SHA-256 manifest
    card = model.model_card or "(this model carries no model card)"
    out.result({"model": ref, "integrity": "verified", "model_card": card,
                "tiers": model.tiers})
    out.line(card)
    out.line(f"integrity: every model file matches its SHA-256 manifest ({ref})")
    return EXIT_OK


def _opts_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", metavar="DIR",
                   help=f"where runs, models and the local tracking store go "
                   f"(default ./{RUNS_DIR})")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else a SQLite store "
                   "in the output folder)")
    p.add_argument("--no-tracking", action="store_true",
                   help="write the model and reports only; log nothing to MLflow")


def _opts_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", type=_fraction, metavar="FRACTION",
                   help="run on a seeded share of the students (e.g. 0.1) for a quick look")
    _opts_run(p)


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]: {text!r}")
    return v


def _opts_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE",
                   help="experiment config (TOML); see examples/oulad_demo.toml")
    _opts_run(p)


def _opts_runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", default=RUNS_DIR, metavar="DIR",
                   help=f"where to look for the latest run (default ./{RUNS_DIR})")


def _opts_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="a run folder, a model folder, or models:/NAME@ALIAS")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="features, one row per student (CSV or Parquet; optional student_id "
                   "and as_of columns are kept)")
    p.add_argument("--output", metavar="FILE", help="write risk, tier and reasons here "
                   "(.csv or .parquet); default: print them")
    p.add_argument("--tracking-uri", metavar="URI", help="tracking store for models:/ URIs")
    _opts_runs_dir(p)


def _opts_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("--student", required=True, metavar="ID", help="the student's id")
    p.add_argument("--run", metavar="DIR", help="a run folder (default: the latest run)")
    p.add_argument("--as-of", metavar="DATE", help="explain as of this date (default: the "
                   "student's latest as-of date)")
    p.add_argument("--top", type=int, default=5, help="reasons to show (default 5)")
    _opts_runs_dir(p)


def _opts_warn(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", nargs="?", metavar="RUN",
                   help="a run folder (default: --run, else the latest run)")
    p.add_argument("--as-of", required=True, metavar="DATE",
                   help="today (a date, or days for float-time tables)")
    p.add_argument("--run", metavar="DIR", help="a run folder (default: the latest run)")
    p.add_argument("--log", default=None, metavar="FILE|URL",
                   help="the alert log: a SQLite file (default: in --store, else alerts.sqlite; "
                        "created when missing) or a database URL, e.g. '${ALERTS_DB_URL}' naming "
                        "an environment variable that holds postgresql+psycopg://...")
    loop = p.add_argument_group(
        "the closed loop (cases, digests, the advisors' site; docs/closed-loop.md)")
    loop.add_argument("--store", metavar="TARGET",
                      help="one database for the alert log, the cases and the notification "
                      "ledger: a SQLite file or a SQLAlchemy URL (default: "
                      "$STUDENTPROFILE_STORE_URL, which keeps a password out of the shell "
                      "history)")
    loop.add_argument("--staff", metavar="FILE",
                      help="CSV: staff_id, role, capacity, optional programmes (';'-separated), "
                      "unit, email (instead of --advisors)")
    loop.add_argument("--routing", metavar="FILE",
                      help="TOML: reason families/kinds -> roles (default: all to advisor)")
    loop.add_argument("--first-contact-days", type=float, default=7.0, metavar="DAYS",
                      help="first contact is due this many days after a case opens (default 7)")
    loop.add_argument("--smtp", metavar="HOST:PORT",
                      help=f"send each advisor's digest by e-mail (login from ${SMTP_USER_ENV} "
                      f"and ${SMTP_PASSWORD_ENV} when set)")
    loop.add_argument("--smtp-security", choices=["starttls", "ssl", "none"],
                      default="starttls", help="default starttls")
    loop.add_argument("--from", dest="sender", metavar="ADDR", help="the digests' sender")
    loop.add_argument("--webhook", metavar="URL",
                      help=f"POST each digest as JSON (signed with ${WEBHOOK_SECRET_ENV} when "
                      "set)")
    loop.add_argument("--allow-host", action="append", metavar="HOST",
                      help="hosts the digests may go to (repeatable; default: the host of "
                      "--smtp/--webhook)")
    loop.add_argument("--retries", type=int, default=3, metavar="N",
                      help="retries of a digest that failed for a passing reason (default 3; "
                      "waits 1, 2, 4, ... s)")
    loop.add_argument("--card-url", metavar="URL",
                      help="base URL where the cards are published (digests link to them)")
    p.add_argument("--advisors", metavar="FILE",
                   help="CSV: advisor_id, capacity, programmes (';'-separated, empty = all)")
    p.add_argument("--programme-column", metavar="COL",
                   help="students' programme column (default: programme or program)")
    p.add_argument("--out", metavar="DIR",
                   help="write alerts.csv, caseloads.csv and one profile card per alert here; "
                   "with --store also the advisors' site (index.html) and the loop report "
                   "(these carry student ids: for the campus system only)")
    p.add_argument("--top", type=int, default=3, help="reasons per alert (default 3)")
    _opts_runs_dir(p)


def _opts_scores(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scores", metavar="FILE", help="a CSV/Parquet file of scores and labels")
    p.add_argument("--label-column", default="label", help="default 'label' (1 = outcome)")
    p.add_argument("--score-column", default="score", help="default 'score'")


def _opts_evaluate(p: argparse.ArgumentParser) -> None:
    _opts_scores(p)
    p.add_argument("--k", type=float, nargs="+", default=[0.05, 0.1, 0.2],
                   help="caseloads (fractions or counts), default 0.05 0.1 0.2")
    p.add_argument("--report", metavar="FILE", help="also write the report (.html or .json)")
    p.add_argument("--run", metavar="DIR", help="show a run's evaluation (default: latest)")
    _opts_runs_dir(p)


def _opts_audit(p: argparse.ArgumentParser) -> None:
    _opts_scores(p)
    p.add_argument("--attributes", metavar="A,B", help="attribute columns to audit")
    p.add_argument("--k", type=float, default=0.1, help="flag the top k (default 0.1)")
    p.add_argument("--min-group-size", type=int, default=20, help="suppress smaller groups")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap draws (0: none)")
    p.add_argument("--model", metavar="MODEL", help="a run/model folder or models:/NAME@ALIAS: "
                   "verify its files and print its model card (default: the latest run)")
    p.add_argument("--tracking-uri", metavar="URI", help="tracking store for models:/ URIs")
    _opts_runs_dir(p)


def _opts_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="experiment config (TOML)")


def _no_opts(p: argparse.ArgumentParser) -> None:
    return None


# --------------------------------------------------------------------------- cases
# `studentprofile cases <action>`: staff act on the case store without Python. Every write
# records the acting staff member (--staff); the store comes from --store or
# $STUDENTPROFILE_CASES_URL (so a password never sits in the shell history).

_CASE_LIST_COLUMNS = ["case_id", "student_id", "tier", "role", "status", "owner", "unit",
                      "due_first_contact"]


def _safe(value: Any) -> str:
    """Text for a terminal: control characters (escape sequences) shown, not obeyed."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _case_store(args: argparse.Namespace) -> Any:
    from studentprofile.pipeline._loop import STORE_ENV
    from studentprofile.warning import CaseStore
    from studentprofile.warning._cases import ENV_URL

    # the weekly job's one database ($STUDENTPROFILE_STORE_URL) holds the cases too
    target = args.store or os.environ.get(ENV_URL) or os.environ.get(STORE_ENV)
    if not target:
        raise ConfigError("no case store was given", key="--store",
                          hint=f"pass --store FILE_OR_URL or set {ENV_URL} (keeps a database "
                               "password out of the shell history)")
    return CaseStore(target, create=False)


def _acting(args: argparse.Namespace) -> str:
    if not args.staff:
        raise ConfigError("this action needs the acting staff member", key="--staff",
                          hint="pass --staff <your staff id>; it is recorded with the action")
    return str(args.staff)


def _cmd_cases(args: argparse.Namespace, out: _Out) -> int:
    action = args.cases_action
    with _case_store(args) as store:
        if action == "list":
            who = args.for_staff or args.staff
            frame = store.cases(staff=who, status=args.status, role=args.role, unit=args.unit,
                                student=args.student, overdue=True if args.overdue else None)
            records = [_json_case(r) for r in frame.to_dict(orient="records")]
            out.result({"cases": records, "count": len(records)})
            if not records:
                out.line("no cases")
            else:
                widths = {c: max(len(c), *(len(_safe(r[c])) for r in records))
                          for c in _CASE_LIST_COLUMNS}
                out.line("  ".join(c.ljust(widths[c]) for c in _CASE_LIST_COLUMNS).rstrip())
                for r in records:
                    out.line("  ".join(_safe(r[c]).ljust(widths[c])
                                       for c in _CASE_LIST_COLUMNS).rstrip())
                out.line(f"{len(records):,} case(s)")
            return EXIT_OK
        if action == "show":
            case = store.show(args.case_id)
            out.result(case)
            for key in ("case_id", "student_id", "as_of", "tier", "risk", "role", "status",
                        "owner", "unit", "due_first_contact", "first_contact_at", "closed_at",
                        "reason_codes"):
                out.line(f"{key:<18} {_safe(case[key])}")
            for person in case["assignees"]:
                out.line(f"{'assignee':<18} {_safe(person['staff_id'])} "
                         f"({_safe(person['role'])})")
            for r in case["reasons"]:
                out.line(f"{'reason':<18} {_safe(r.get('text'))}")
            for h in case["history"]:
                out.line(f"  {h['seq']:>3} {_safe(h['time'])} {_safe(h['staff']):<12} "
                         f"{h['event']:<10} {_safe(json.dumps(h['detail'], ensure_ascii=False))}")
            return EXIT_OK
        if action == "report":
            return _cases_report(args, store, out)
        staff = _acting(args)
        at = getattr(args, "at", None)
        note = getattr(args, "note", None)
        if action == "assign":
            store.assign(args.case_id, args.to, role=args.role, staff=staff, time=at,
                         unit=args.unit, owner=args.owner, note=note)
        elif action == "contact":
            store.contact(args.case_id, staff=staff, time=at, note=note)
        elif action == "start":
            store.start(args.case_id, staff=staff, time=at, note=note)
        elif action == "verdict":
            store.record_verdict(args.case_id, args.verdict, staff=staff, time=at, note=note)
        elif action == "close":
            store.close_case(args.case_id, staff=staff, time=at, note=note, verdict=args.verdict)
        elif action == "reopen":
            store.reopen(args.case_id, staff=staff, time=at, note=note)
        elif action == "note":
            store.add_note(args.case_id, args.text, staff=staff, time=at)
        case = _json_case(store.cases(case_id=args.case_id).to_dict(orient="records")[0])
    out.result({"action": action, "staff": staff, "case": case})
    out.line(f"{action}: case {args.case_id} is {case['status']} (owner "
             f"{_safe(case['owner']) or 'none'}); recorded for {_safe(staff)}")
    return EXIT_OK


def _cases_report(args: argparse.Namespace, store: Any, out: _Out) -> int:
    """`cases report`: the loop report over the store, written as JSON and HTML."""
    from studentprofile.pipeline import config_of_run, load_tables, loop_report

    if args.outcomes and args.run:
        raise ConfigError("give the outcomes once: --outcomes FILE or --run DIR", key="--run",
                          arrived="both --outcomes and --run")
    outcomes, horizon, outcome = None, args.horizon, args.outcome
    if args.outcomes:
        outcomes = _read_frame(args.outcomes, "outcomes")
    elif args.run:
        # the run's data and label: its outcomes table, horizon and outcome kinds
        cfg = config_of_run(Path(args.run))
        outcomes = load_tables(cfg).outcomes
        horizon = args.horizon if args.horizon is not None else cfg.label.horizon
        outcome = args.outcome or list(cfg.label.outcome)
    report = loop_report(store, as_of=args.as_of, outcomes=outcomes,
                         horizon=90.0 if horizon is None else horizon, outcome=outcome)
    files = report.save(args.out)
    out.result({**report.to_dict(), "files": {k: str(v) for k, v in files.items()}})
    h = report.headline

    def num(v: Any, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    out.line(f"loop report as of {report.as_of} ({_safe(report.store)})")
    out.line(f"  cases                 {h['cases']:,} ({h['judged']:,} judged by staff)")
    out.line(f"  judged precision      {num(h['judged_precision'], '.3f')}   (useful / judged)")
    if h["observable"] is not None:
        out.line(f"  statistical precision {num(h['statistical_precision'], '.3f')}   "
                 f"({h['observable']:,} cases whose "
                 f"{report.judged.params['horizon_days']:g}-day horizon ended)")
    out.line(f"  first contact         {h['contacted']:,} contacted; median "
             f"{num(h['median_days_to_contact'], '.1f')} days, 90th percentile "
             f"{num(h['p90_days_to_contact'], '.1f')} days")
    out.line(f"  overdue               {h['overdue']:,}")
    out.line(f"  report                {files['loop_report']}")
    return EXIT_OK


def _json_case(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if v is None or (isinstance(v, float) and v != v) or str(v) == "NaT":
            out[k] = None
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        else:
            out[k] = v.item() if hasattr(v, "item") else v
    return out


def _opts_cases(p: argparse.ArgumentParser) -> None:
    from studentprofile.warning._cases import CASE_STATUSES, VERDICTS

    sub = p.add_subparsers(dest="cases_action", metavar="<action>", required=True)

    def action(name: str, help_text: str, *, case: bool = True, write: bool = True,
               epilog: str = "") -> argparse.ArgumentParser:
        a = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if case:
            a.add_argument("case_id", metavar="CASE", help="the case id (see 'cases list')")
        a.add_argument("--store", metavar="TARGET",
                       help="the case store: a SQLite file or a SQLAlchemy URL (default: "
                            "$STUDENTPROFILE_CASES_URL)")
        a.add_argument("--staff", metavar="ID",
                       help="the acting staff member (required for changes; recorded)")
        if write:
            a.add_argument("--at", metavar="TIME",
                           help="when it happened (default: now; naive times are UTC)")
        # the same switches as on every command, also after the action
        a.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print machine-readable JSON on stdout")
        a.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="print nothing but errors")
        a.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logging")
        return a

    a = action("list", "list cases (of one staff member with --for or --staff)", case=False,
               write=False)
    a.add_argument("--for", dest="for_staff", metavar="ID",
                   help="cases this staff member owns or is assigned to")
    a.add_argument("--status", choices=[*CASE_STATUSES, "active"],
                   help="only this status ('active': not closed)")
    a.add_argument("--role", help="only cases routed to this role")
    a.add_argument("--unit", help="only cases whose owner is in this unit")
    a.add_argument("--student", metavar="ID", help="only this student's cases")
    a.add_argument("--overdue", action="store_true", help="only cases past first-contact due")
    action("show", "one case: facts, people, reasons and its whole history", write=False)
    a = action("assign", "assign a staff member with a role, or make them the owner")
    a.add_argument("--to", required=True, metavar="ID", help="the staff member assigned")
    a.add_argument("--role", required=True, help="their role on the case (tutor, ...)")
    a.add_argument("--owner", action="store_true", help="make them the owner (reassign)")
    a.add_argument("--unit", help="the new owner's unit (college, building)")
    a.add_argument("--note", help="why")
    for name, text in (("contact", "record contact with the student (status: contacted)"),
                       ("start", "mark the case in progress (after contact)"),
                       ("reopen", "reopen a closed case")):
        action(name, text).add_argument("--note", help="free text")
    a = action("verdict", "record your verdict on the alert behind a case",
               epilog="verdicts: " + ", ".join(VERDICTS))
    a.add_argument("verdict", choices=VERDICTS, metavar="VERDICT",
                   help="one of: " + ", ".join(VERDICTS))
    a.add_argument("--note", help="free text")
    a = action("close", "close a case (optionally with a verdict)")
    a.add_argument("--verdict", choices=VERDICTS, help="also record this verdict")
    a.add_argument("--note", help="free text")
    a = action("note", "add a note to a case")
    a.add_argument("text", metavar="TEXT", help="the note")
    a = action("report", "the loop report: judged precision, verdict rates, time to first "
               "contact and overdue cases per advisor and unit (JSON + HTML)", case=False,
               write=False)
    a.add_argument("--as-of", metavar="DATE",
                   help="the evaluation date (default: the latest thing that happened in the "
                   "store: a case opened, a contact, a verdict)")
    a.add_argument("--out", default=".", metavar="DIR",
                   help="write loop_report.json and loop_report.html here (default: .)")
    a.add_argument("--outcomes", metavar="FILE",
                   help="CSV/Parquet of student_id, time, outcome: adds statistical precision")
    a.add_argument("--run", metavar="DIR",
                   help="or take the outcomes, the horizon and the outcome kinds from a run's "
                   "data and label (its config)")
    a.add_argument("--horizon", type=float, default=None, metavar="DAYS",
                   help="days after an alert in which an outcome counts (default: the run's "
                   "label horizon, else 90)")
    a.add_argument("--outcome", action="append", metavar="NAME",
                   help="count only this outcome (repeatable)")


Command = tuple[Callable[[argparse.Namespace, _Out], int], str, str,
                Callable[[argparse.ArgumentParser], None]]

COMMANDS: dict[str, Command] = {
    "demo": (
        _cmd_demo,
        "the whole pipeline on the bundled real data (OULAD), tracked in MLflow",
        "examples:\n"
        "  studentprofile demo                     # ~1 minute on 2 cores\n"
        "  studentprofile demo --sample 0.1        # a 10% sample, seconds\n"
        "  studentprofile demo --json > demo.json\n"
        "  studentprofile demo --tracking-uri http://127.0.0.1:5000\n"
        "then: mlflow ui --backend-store-uri sqlite:///$PWD/studentprofile-runs/mlflow.db",
        _opts_demo,
    ),
    "check": (
        _cmd_check,
        "read and validate every source of a config, without training (per-source report)",
        "examples:\n"
        "  studentprofile check my_campus.toml\n"
        "  studentprofile check my_campus.toml --json\n"
        "exit status 2: a source could not be read or the tables are not valid",
        _opts_check,
    ),
    "train": (
        _cmd_train,
        "run an experiment from a TOML config (backtest, model, audit, tracking)",
        "examples:\n"
        "  studentprofile train --config examples/oulad_demo.toml\n"
        "  studentprofile train --config my_campus.toml --no-tracking\n"
        "exit status 4: the run finished but tracking was incomplete (files are on disk)",
        _opts_train,
    ),
    "score": (
        _cmd_score,
        "score feature rows with a saved or registered model: risk, tier, reasons",
        "examples:\n"
        "  studentprofile score --model studentprofile-runs/oulad-withdrawal-60d/<run> \\\n"
        "      --input features.csv --output risk.csv\n"
        "  studentprofile score --model models:/oulad-withdrawal-60d@candidate \\\n"
        "      --input features.parquet --output risk.parquet",
        _opts_score,
    ),
    "explain": (
        _cmd_explain,
        "one student's risk and reasons, with the model of a run",
        "examples:\n"
        "  studentprofile explain --student 'AAA/2014J/11391'\n"
        "  studentprofile explain --student 'AAA/2014J/11391' --as-of 2014-11-15 --json",
        _opts_explain,
    ),
    "warn": (
        _cmd_warn,
        "the weekly job: score today, raise alerts with reasons, log them, assign caseloads; "
        "with --store open cases, send digests, write the advisors' site and the loop report",
        "examples:\n"
        "  studentprofile warn --as-of 2014-11-08                 # the latest run's model\n"
        "  studentprofile warn --as-of 2014-11-08 --advisors advisors.csv --out week-45\n"
        "  studentprofile warn --as-of 2014-11-08 --log /srv/ews/alerts.sqlite --json\n"
        "  export STUDENTPROFILE_STORE_URL=postgresql+psycopg://ews@db.campus/ews\n"
        "  studentprofile warn RUN --as-of 2014-11-08 --out week-45 --staff staff.csv \\\n"
        "      --routing routing.toml --smtp mail.campus.edu:587 --from ews@campus.edu\n"
        "rerunning a date adds nothing to the log, opens no case and sends no digest twice; "
        "--out files carry student ids; exit status 4: some digests were not delivered",
        _opts_warn,
    ),
    "evaluate": (
        _cmd_evaluate,
        "metrics of a run, or of a scores file (AUC, precision@k, calibration)",
        "examples:\n"
        "  studentprofile evaluate                       # the latest run\n"
        "  studentprofile evaluate --scores scores.csv --k 0.1 --report report.html",
        _opts_evaluate,
    ),
    "audit": (
        _cmd_audit,
        "verify a model and print its model card, or audit a scores file for fairness",
        "examples:\n"
        "  studentprofile audit                          # the latest run's model card\n"
        "  studentprofile audit --model models:/oulad-withdrawal-60d@candidate\n"
        "  studentprofile audit --scores scores.csv --attributes gender,disability --k 0.1",
        _opts_audit,
    ),
    "cases": (
        _cmd_cases,
        "cases for staff: list, show, assign, contact, verdict, close, reopen, note; report",
        "examples:\n"
        "  export STUDENTPROFILE_CASES_URL=postgresql+psycopg://ews@db.campus/ews\n"
        "  studentprofile cases list --for kim --overdue\n"
        "  studentprofile cases show c-2ac63c3d7d3c1a6f --json\n"
        "  studentprofile cases contact c-2ac63c3d7d3c1a6f --staff kim --note 'phoned'\n"
        "  studentprofile cases verdict c-2ac63c3d7d3c1a6f useful --staff kim\n"
        "  studentprofile cases assign c-2ac63c3d7d3c1a6f --to dr_w --role counsellor "
        "--staff kim\n"
        "  studentprofile cases close c-2ac63c3d7d3c1a6f --staff kim --verdict already_known\n"
        "  studentprofile cases report --out reports/ --json\n"
        "every change records --staff and the time; exit status 2: a refused action "
        "(e.g. closing a closed case)",
        _opts_cases,
    ),
    "datasets": (
        _cmd_datasets,
        "list the bundled datasets with their row counts",
        "examples:\n  studentprofile datasets\n  studentprofile datasets --json",
        _no_opts,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="studentprofile",
        description="Student profiling and early warning: features, risk models, reasons, "
        "evaluation and tracking.",
        epilog="Run 'studentprofile <command> --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"studentprofile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (_, help_text, epilog, options) in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        options(p)
        _common(p)
    return parser


def main(argv: Sequence[str] | None = None, *, stream: TextIO | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (defaults to ``sys.argv[1:]``).
    stream : text stream, optional
        Where to write output (defaults to stdout).

    Returns
    -------
    int
        The exit status: 0 success, 2 a usage or data error, 3 an unexpected error, 4 done with
        parts missing.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> main(["datasets", "--json"], stream=out)
    0
    >>> '"name": "oulad"' in out.getvalue()
    True
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    out = _Out(as_json=args.json, quiet=args.quiet, stream=stream or sys.stdout)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.ERROR if args.quiet else logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:
        # MLflow and its database layer talk on the terminal (table creation, registry notes,
        # deprecations of their own dependencies); the command says what matters itself
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"(mlflow|sqlalchemy|alembic)(\.|$)")
    func = COMMANDS[args.command][0]
    try:
        return func(args, out)
    except StudentProfileError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a command-line user
        if args.debug:
            raise
        sys.stderr.write(
            f"unexpected error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in studentprofile; rerun with --debug and report the traceback\n"
        )
        return EXIT_UNEXPECTED
