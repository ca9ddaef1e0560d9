"""The privacy scan of a tracked run: look for raw student identifiers everywhere MLflow keeps."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from typing import Any

from studentprofile.tracking._privacy import find_identifiers, scan_text
from studentprofile.tracking._runs import _mlflow_context

__all__ = ["scan_run"]


def scan_run(tracking_uri: str, run_id: str, identifiers: Iterable[Any]) -> dict[str, list[str]]:
    """Search a run for raw student identifiers: names, params, tags, metrics, every artefact.

    Looks at the run's name, parameter names and values, tag names and values, metric names,
    every file of the run's artefacts, and every file of the models logged from the run (MLflow
    3 keeps those apart from the run's artefacts). Binary files (PNG) are searched as bytes.

    Parameters
    ----------
    tracking_uri : str
        The tracking store.
    run_id : str
        The run.
    identifiers : iterable
        The raw student identifiers to look for.

    Returns
    -------
    dict of str -> list of str
        Where (``"param <name>"``, ``"artifact <path>"``, ...) -> identifiers found there;
        empty when the run is clean.
    """
    with _mlflow_context(tracking_uri):
        return _scan(tracking_uri, run_id, identifiers)


def _scan(tracking_uri: str, run_id: str, identifiers: Iterable[Any]) -> dict[str, list[str]]:
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    ids = {str(i) for i in identifiers}
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    found: dict[str, list[str]] = {}

    def check(where: str, text: str) -> None:
        hits = scan_text(text, ids)
        if hits:
            found[where] = hits

    check("run name", run.info.run_name or "")
    for k, v in run.data.params.items():
        check(f"param {k}", f"{k} {v}")
    for k, v in run.data.tags.items():
        check(f"tag {k}", f"{k} {v}")
    for k in run.data.metrics:
        check(f"metric {k}", k)
    with tempfile.TemporaryDirectory() as tmp:
        local = download_artifacts(run_id=run_id, dst_path=f"{tmp}/run",
                                   tracking_uri=tracking_uri)
        for path, hits in find_identifiers(local, ids).items():
            found[f"artifact {path}"] = hits
        models = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
        )
        for m in models:
            check(f"model {m.model_id} name", m.name or "")
            for k, v in (m.tags or {}).items():
                check(f"model {m.model_id} tag {k}", f"{k} {v}")
            mdir = download_artifacts(artifact_uri=m.artifact_location,
                                      dst_path=f"{tmp}/{m.model_id}", tracking_uri=tracking_uri)
            for path, hits in find_identifiers(mdir, ids).items():
                found[f"model {m.model_id} {path}"] = hits
    return found
