"""Logging one experiment run to MLflow, step by step, never losing the run's results.

Every step (parameters, metrics, each artefact, the model, the registry) is tried on its own;
a step that fails is recorded in :attr:`TrackingReport.not_logged` with the reason, and the
others go on. The caller has already written the model and reports to local disk, so a tracking
server that is down or a full disk costs the tracking, never the work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import re
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from studentprofile._files import atomic_write_json, write_people_csv
from studentprofile.errors import ConfigError, TrackingError
from studentprofile.tracking._metrics import (
    FairnessLog,
    _mapping_doc,
    fairness_log,
    metric_name,
    metric_names,
)

__all__ = [
    "TrackingReport",
    "default_tracking_uri",
    "log_experiment",
    "metric_name",
    "metric_names",
    "tracking_error",
]

logger = logging.getLogger(__name__)

#: How long a tracking server gets to answer before the run gives up on tracking: the
#: defaults of MLflow (5 retries with exponential back-off, 120 s timeout) can hold a finished
#: run for minutes. Values the user sets in the environment win.
HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # no progress bars on the user's terminal while artefacts move
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
PROBE_SECONDS = 3.0
NO_RUN = "the MLflow run could not be created (see 'run')"
def default_tracking_uri(output_dir: str | Path) -> str:
    """Return ``MLFLOW_TRACKING_URI`` if set, else a SQLite store in ``output_dir``.

    Parameters
    ----------
    output_dir : str or Path
        The local runs folder (e.g. ``./studentprofile-runs``).

    Returns
    -------
    str

    Examples
    --------
    >>> import os
    >>> saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    >>> default_tracking_uri("/tmp/runs")
    'sqlite:////tmp/runs/mlflow.db'
    >>> if saved is not None: os.environ["MLFLOW_TRACKING_URI"] = saved
    """
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(output_dir).resolve() / 'mlflow.db'}"


@dataclass
class TrackingReport:
    """What tracking did: where the run is, what was logged and what was not (and why).

    Attributes
    ----------
    enabled : bool
        Tracking was asked for.
    uri : str or None
        The tracking URI.
    experiment : str
        The experiment name.
    run_id, experiment_id : str or None
        The MLflow run and experiment (None when the run could not be created).
    model_uri : str or None
        The logged model (``models:/<model_id>``).
    registered : str or None
        ``models:/<name>@<alias>`` (or ``models:/<name>/<version>``) when registered.
    logged : list of str
        Steps that succeeded.
    not_logged : list of dict
        ``{"what": ..., "why": ...}`` for each step that failed.
    """

    enabled: bool
    uri: str | None
    experiment: str
    run_id: str | None = None
    experiment_id: str | None = None
    model_uri: str | None = None
    registered: str | None = None
    logged: list[str] = field(default_factory=list)
    not_logged: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when tracking was enabled and every step was logged."""
        return self.enabled and not self.not_logged

    def ui_command(self) -> str | None:
        """Return the command that opens this store in the MLflow UI (local stores only)."""
        if not self.uri:
            return None
        if self.uri.startswith(("http://", "https://")):
            return None
        return f"mlflow ui --backend-store-uri {self.uri}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "enabled": self.enabled,
            "uri": self.uri,
            "experiment": self.experiment,
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "model_uri": self.model_uri,
            "registered": self.registered,
            "complete": self.complete,
            "logged": list(self.logged),
            "not_logged": list(self.not_logged),
            "ui": self.ui_command(),
        }


def _why(exc: BaseException) -> str:
    if isinstance(exc, TrackingError):
        text = f"{exc.message}: {exc.arrived}; what to do: {exc.hint}"
        return text.replace("\n", " ")
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def _probe(uri: str) -> str | None:
    """For an HTTP(S) tracking URI, check that something listens; return why not, else None."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_SECONDS):
            return None
    except OSError as exc:
        return f"tracking server {parsed.hostname}:{port} unreachable ({_why(exc)})"


@contextlib.contextmanager
def _mlflow_context(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` and keep HTTP retries short; restore afterwards."""
    from studentprofile.tracking._flavour import import_mlflow

    mlflow = import_mlflow()

    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # MLflow keeps the URIs in module globals *and* mirrors them into environment variables;
    # save both and put both back, so a caller's own MLflow setup is left as it was
    env_keys = [*HTTP_ENV_DEFAULTS, "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"]
    saved_env = {k: os.environ.get(k) for k in env_keys}
    saved_globals = (getattr(tracking_utils, "_tracking_uri", None),
                     getattr(registry_utils, "_registry_uri", None))
    for k, v in HTTP_ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    try:
        mlflow.set_tracking_uri(uri)  # may refuse the URI: the finally block still restores
        mlflow.set_registry_uri(uri)
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved_globals
        for k, old in saved_env.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def log_experiment(
    *,
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    step_metrics: Mapping[str, list[tuple[int, float]]] | None = None,
    tags: Mapping[str, str] | None = None,
    artifacts: Mapping[str, str | Path] | None = None,
    model: Any = None,
    model_kwargs: Mapping[str, Any] | None = None,
    registered_model: str | None = None,
    alias: str | None = None,
    artifact_location: str | Path | None = None,
    description: str | None = None,
    fairness: Any = None,
    parent_run_id: str | None = None,
) -> TrackingReport:
    """Log one run: parameters, metrics, tags, artefacts and the model; survive failures.

    Parameters
    ----------
    tracking_uri : str
        Where to track (``sqlite:///...``, ``http://...``, ``file:...``).
    experiment : str
        Experiment name (created when missing).
    run_name : str
        The run's name.
    params : mapping, optional
        Parameters (values turned into strings; MLflow keeps at most 6,000 characters each).
    metrics : mapping of str -> float, optional
        Final metrics (non-finite values are skipped and listed in ``not_logged``).
    step_metrics : mapping of str -> list of (step, value), optional
        Metric histories (e.g. AUC by week).
    tags : mapping, optional
        Tags.
    artifacts : mapping of str -> path, optional
        Where in the run -> local file or folder. A file is logged into the folder part of
        its key under its own name (``{"evaluation/report.html": path}``); a folder's files
        go under the key.
    model : RiskModel, optional
        Logged with the studentprofile flavour (:func:`log_model`).
    model_kwargs : mapping, optional
        Passed to :func:`log_model` (``tiers``, ``model_card``, ``input_example``, ...).
    registered_model, alias : str, optional
        Register the model under this name and point the alias at the new version.
    artifact_location : str or Path, optional
        Artefact root of a new experiment (the default local store puts it next to the
        database).
    description : str, optional
        The run's description.
    fairness : FairnessAudit, optional
        Logged as its verdicts and worst disparity per attribute and compared metric
        (``fairness.<attribute>.<metric>.pass`` / ``.worst_disparity``), plus the full audit
        as ``fairness/fairness_groups.csv`` and ``fairness/fairness_summary.csv`` (readable
        names; suppressed groups never named).
    parent_run_id : str, optional
        Log a child run under this run (tag ``mlflow.parentRunId``, what
        ``mlflow.start_run(nested=True)`` sets): a model grid's candidates under its run.

    Returns
    -------
    TrackingReport
        Never raises for a tracking failure: any MLflow failure (a URI scheme MLflow does not
        know, a file store it refuses, a server that does not answer, a full disk) becomes a
        :class:`~studentprofile.errors.TrackingError` whose text is in ``not_logged``.

    Notes
    -----
    Metric keys MLflow accepts are logged as they are; other keys get unique, stable names
    (:func:`metric_names`), and ``metrics/metric_names.json`` maps every name back.

    Raises
    ------
    ConfigError
        Bad arguments (not a failure of the store).
    """
    if not isinstance(tracking_uri, str) or not tracking_uri:
        raise ConfigError("tracking_uri must be a non-empty string", key="tracking.uri",
                          arrived=repr(tracking_uri))
    report = TrackingReport(enabled=True, uri=tracking_uri, experiment=experiment)
    fair = None if fairness is None else fairness_log(fairness)
    names = metric_names([*(metrics or {}), *(step_metrics or {})])

    def fail(what: str, why: str) -> None:
        report.not_logged.append({"what": what, "why": why})
        logger.warning("not tracked: %s (%s)", what, why)

    def all_steps() -> list[str]:
        steps = ["run", "params", "metrics", "tags", "artifact metrics/metric_names.json"]
        if fair is not None:
            steps += ["artifact fairness/fairness_groups.csv",
                      "artifact fairness/fairness_summary.csv"]
        steps += [f"artifact {k}" for k in (artifacts or {})]
        if model is not None:
            steps.append("model")
            if registered_model:
                steps.append("registry")
        return steps

    def fail_all(why: str) -> TrackingReport:
        first, *rest = all_steps()
        fail(first, why)
        for what in rest:
            report.not_logged.append({"what": what, "why": NO_RUN})
        return report

    unreachable = _probe(tracking_uri)
    if unreachable:
        return fail_all(unreachable)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_mlflow_context(tracking_uri))
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            run_id, report.experiment_id = _start_run(client, experiment, run_name,
                                                      description, artifact_location,
                                                      parent_run_id)
        except Exception as exc:  # noqa: BLE001 - MLflow refused the URI or the store failed
            return fail_all(_why(tracking_error(exc, tracking_uri)))
        report.run_id = run_id
        report.logged.append("run")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="studentprofile-")))
        for what, fn in _steps(client, run_id, params, metrics, step_metrics, tags, artifacts,
                               names, fair, tmp, fail):
            try:
                fn()
                report.logged.append(what)
            except Exception as exc:  # noqa: BLE001 - recorded and reported, run goes on
                fail(what, _why(exc))
        if model is not None:
            _log_model_step(report, client, run_id, model, model_kwargs, registered_model,
                            alias, fail)
        try:
            if report.not_logged:
                client.set_tag(run_id, "studentprofile.incomplete",
                               ", ".join(x["what"] for x in report.not_logged))
            client.set_terminated(run_id, "FINISHED")
        except Exception as exc:  # noqa: BLE001
            fail("run status", _why(exc))
    return report


def tracking_error(exc: BaseException, uri: str) -> TrackingError:
    """Turn any MLflow failure into a TrackingError that says what to do.

    Parameters
    ----------
    exc : BaseException
        What MLflow (or the network, or the disk) raised.
    uri : str
        The tracking URI.

    Returns
    -------
    TrackingError

    Examples
    --------
    >>> err = tracking_error(ValueError("boom"), "bogus://x")
    >>> err.message
    "MLflow could not track to 'bogus://x'"
    """
    if isinstance(exc, TrackingError):
        return exc
    text = str(exc)
    scheme = urlparse(uri).scheme
    if "filesystem tracking backend" in text or (
        scheme in ("", "file") and "maintenance mode" in text
    ):
        hint = ("this MLflow refuses plain file stores: use a SQLite store "
                "(sqlite:///<folder>/mlflow.db, the default) or a tracking server; or set "
                "MLFLOW_ALLOW_FILE_STORE=true")
    elif "unsupported URI" in text or "Could not find a registered" in text:
        hint = ("use a URI scheme MLflow supports (sqlite:///..., http(s)://..., "
                "postgresql://..., databricks)")
    else:
        hint = "check the tracking URI and that the store is reachable and writable"
    # MLflow's first sentence says what went wrong; the rest is advice we replace with ours
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0] if text.strip() else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return TrackingError(
        f"MLflow could not track to {uri!r}",
        arrived=f"{type(exc).__name__}: {first}",
        hint=hint + "; the run's files are complete on local disk",
    )


def _start_run(client: Any, experiment: str, run_name: str, description: str | None,
               artifact_location: str | Path | None,
               parent_run_id: str | None = None) -> tuple[str, str]:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        loc = None
        if artifact_location is not None:
            loc = Path(artifact_location).resolve().as_uri()
        exp_id = client.create_experiment(experiment, artifact_location=loc)
    else:
        exp_id = exp.experiment_id
    tags = {"mlflow.note.content": description or ""}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id  # MLflow's nested-run convention
    run = client.create_run(exp_id, run_name=run_name, tags=tags)
    return str(run.info.run_id), str(exp_id)


def _steps(
    client: Any,
    run_id: str,
    params: Mapping[str, Any] | None,
    metrics: Mapping[str, float] | None,
    step_metrics: Mapping[str, list[tuple[int, float]]] | None,
    tags: Mapping[str, str] | None,
    artifacts: Mapping[str, str | Path] | None,
    names: Mapping[str, str],
    fair: FairnessLog | None,
    tmp: Path,
    fail: Callable[[str, str], None],
) -> list[tuple[str, Callable[[], Any]]]:
    """Return the run's logging steps, each tried on its own: (what, function)."""
    import math
    import time

    from mlflow.entities import Metric, Param, RunTag

    def finite(v: Any) -> bool:
        return v is not None and math.isfinite(float(v))

    def log_params() -> None:
        items = [Param(str(k), str(v)[:6000]) for k, v in (params or {}).items()]
        for i in range(0, len(items), 100):
            client.log_batch(run_id, params=items[i:i + 100])

    def log_metrics() -> None:
        now = int(time.time() * 1000)
        final: dict[str, float] = {}
        for k, v in (metrics or {}).items():
            if finite(v):
                final[names[k]] = float(v)
        for name, v in (fair.metrics if fair is not None else {}).items():
            if name in final:
                fail(f"metric {name}", "the name belongs to the fairness audit's metrics")
            final[name] = v
        items = [Metric(k, v, now, 0) for k, v in final.items()]
        for k, hist in (step_metrics or {}).items():
            items += [Metric(names[k], float(v), now, int(s)) for s, v in hist if finite(v)]
        for i in range(0, len(items), 500):
            client.log_batch(run_id, metrics=items[i:i + 500])

    def log_tags() -> None:
        items = [RunTag(str(k), str(v)[:5000]) for k, v in (tags or {}).items()]
        for i in range(0, len(items), 100):
            client.log_batch(run_id, tags=items[i:i + 100])

    def log_names() -> None:
        path = atomic_write_json(tmp / "metric_names.json", _mapping_doc(names, fair),
                                 indent=2, ensure_ascii=False)
        client.log_artifact(run_id, str(path), artifact_path="metrics")

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("params", log_params), ("metrics", log_metrics), ("tags", log_tags),
        ("artifact metrics/metric_names.json", log_names),
    ]
    if fair is not None:
        for table, frame in (("fairness_groups", fair.groups), ("fairness_summary", fair.summary)):

            def log_table(frame: Any = frame, table: str = table) -> None:
                path = write_people_csv(frame, tmp / f"{table}.csv")
                client.log_artifact(run_id, str(path), artifact_path="fairness")

            steps.append((f"artifact fairness/{table}.csv", log_table))
    for dest, local in (artifacts or {}).items():

        def log_one(p: Path = Path(local), dest: str = dest) -> None:
            if p.is_dir():
                client.log_artifacts(run_id, str(p), artifact_path=dest or None)
            else:
                folder = posixpath.dirname(dest)
                client.log_artifact(run_id, str(p), artifact_path=folder or None)

        steps.append((f"artifact {dest}", log_one))
    return steps


def _log_model_step(report: TrackingReport, client: Any, run_id: str, model: Any,
                    model_kwargs: Mapping[str, Any] | None, registered_model: str | None,
                    alias: str | None, fail: Callable[[str, str], None]) -> None:
    from studentprofile.tracking._flavour import log_model

    try:
        info = log_model(model, "model", run_id=run_id, **dict(model_kwargs or {}))
        report.model_uri = info.model_uri
        report.logged.append("model")
    except Exception as exc:  # noqa: BLE001
        fail("model", _why(exc))
        if registered_model:
            fail("registry", "the model was not logged")
        return
    if registered_model:
        try:
            version = _register(client, info.model_uri, registered_model, alias)
            report.registered = (
                f"models:/{registered_model}@{alias}" if alias
                else f"models:/{registered_model}/{version}"
            )
            report.logged.append("registry")
        except Exception as exc:  # noqa: BLE001
            fail("registry", _why(exc))


def _register(client: Any, model_uri: str, name: str, alias: str | None) -> str:
    import io

    import mlflow

    # MLflow prints registry notes straight to stderr; keep them for the debug log
    with contextlib.redirect_stderr(io.StringIO()) as said:
        mv = mlflow.register_model(model_uri, name)
    logger.debug("%s", said.getvalue().strip())
    if alias:
        client.set_registered_model_alias(name, alias, str(mv.version))
    return str(mv.version)
