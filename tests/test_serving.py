"""REST serving: ``mlflow models serve`` on the studentprofile flavour, for real.

One server for the module: a small model is logged and registered in a temporary MLflow store
(SQLite), ``mlflow models serve -m models:/risk@champion --env-manager local`` runs on a free
port, and the answers are compared with the Python API (``RiskModel.predict_proba`` and
``StudentProfileModel.predict``). Bad payloads must get HTTP 4xx with a message that names the
problem. The JSON shapes tested here are the ones docs/serving.md documents.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from _processes import stop_group
from studentprofile import tracking
from studentprofile.errors import ConfigError, SchemaError

mlflow = pytest.importorskip("mlflow")

TIERS = {"high": 0.5, "medium": 0.3}
FEATURES = ["attendance", "score", "program"]
STARTUP_SECONDS = 180
#: tests that talk to the real server (about 15 s to start on two busy cores)
SERVED = pytest.mark.slow


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"stu-{seed}-{i:04d}" for i in range(n)]
    return pd.DataFrame(
        {"attendance": rng.uniform(0, 1, n), "score": rng.normal(60, 10, n),
         "program": rng.choice(["law", "math", "arts"], n)},
        index=pd.MultiIndex.from_arrays([ids, np.zeros(n)], names=["student_id", "as_of"]),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="GET" if body is None else "POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A model logged and registered as ``models:/risk@champion`` in a temporary store."""
    root = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    X = _frame(300, 0)
    y = (np.random.default_rng(1).uniform(size=len(X))
         < 1 / (1 + np.exp(4 * X["attendance"].to_numpy() - 1))).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=40).fit(X, y)
    rep = tracking.log_experiment(
        tracking_uri=uri, experiment="serving", run_name="r", model=model,
        artifact_location=root / "artifacts", registered_model="risk", alias="champion",
        model_kwargs={"tiers": TIERS, "input_example": tracking.synthetic_example(X)},
    )
    assert rep.complete and rep.registered == "models:/risk@champion", rep.not_logged
    return {"root": root, "uri": uri, "model": model}


def _serve_command(model_uri: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]


def _server_env(registered: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = registered["uri"]
    # MLflow starts `uvicorn` (or gunicorn) by name: the interpreter's own scripts first
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # a service user without a home (docs/serving.md): nothing may need one
    env["HOME"] = str(registered["root"] / "no-such-home")
    # the server's own warnings are read by a test (the CLI quietens MLflow to ERROR)
    env["MLFLOW_LOGGING_LEVEL"] = "INFO"
    return env


@pytest.fixture(scope="module")
def server(registered: dict[str, Any]) -> Any:
    """``mlflow models serve`` of ``models:/risk@champion`` on a free port; its base URL."""
    root: Path = registered["root"]
    port = _free_port()
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        _serve_command("models:/risk@champion", port), cwd=root, env=_server_env(registered),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail("mlflow models serve exited with code "
                            f"{proc.returncode}:\n{(root / 'server.log').read_text()[-3000:]}")
            try:
                if _request(base + "/ping")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on /ping after {STARTUP_SECONDS} s:\n"
                            f"{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture(scope="module")
def reference(registered: dict[str, Any]) -> Any:
    """The Python API's answer: the registered model loaded with tracking.load_model."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", registered["uri"])
        return tracking.load_model("models:/risk@champion")


def _post(server: str, payload: Any) -> tuple[int, Any]:
    status, text = _request(server + "/invocations", json.dumps(payload).encode("utf-8"))
    return status, json.loads(text)


def _assert_equal_to_python(got: list[dict[str, Any]], X: pd.DataFrame, ref: Any,
                            model: Any) -> None:
    want = ref.predict(X)
    assert [list(r) for r in got] == [tracking._flavour.output_columns(3)] * len(X)
    risk = np.array([r["risk"] for r in got])
    np.testing.assert_allclose(risk, model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(risk, want["risk"].to_numpy(), rtol=0, atol=1e-12)
    for col in ["tier", "reason_1", "reason_2", "reason_3", "reasons"]:
        assert [r[col] for r in got] == want[col].tolist(), col
    assert set(want["tier"]) <= {"high", "medium", "none"}


@SERVED
def test_ping_and_version(server):
    assert _request(server + "/ping")[0] == 200
    status, text = _request(server + "/version")
    assert status == 200 and text == mlflow.__version__


@SERVED
def test_dataframe_split_answers_like_the_python_api(server, reference, registered):
    X = _frame(40, 7)
    body = X.reset_index(drop=True).to_dict(orient="split")
    status, doc = _post(server, {"dataframe_split": {"columns": body["columns"],
                                                     "data": body["data"]}})
    assert status == 200, doc
    _assert_equal_to_python(doc["predictions"], X, reference, registered["model"])
    # reasons is JSON text: the top reasons with their signed contributions
    first = json.loads(doc["predictions"][0]["reasons"])
    assert first[0]["sentence"] == doc["predictions"][0]["reason_1"]
    assert {"feature", "phrase", "direction", "contribution", "value"} <= set(first[0])


@SERVED
def test_dataframe_records_in_any_column_order_with_missing_values(server, reference,
                                                                   registered):
    X = _frame(25, 8)
    X.iloc[[0, 3], 0] = np.nan  # attendance unknown
    X.iloc[[1, 3], 2] = None  # programme unknown
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
               for row in X[["program", "score", "attendance"]].to_dict(orient="records")]
    status, doc = _post(server, {"dataframe_records": records})
    assert status == 200, doc
    _assert_equal_to_python(doc["predictions"], X, reference, registered["model"])


@SERVED
def test_a_column_the_signature_does_not_name_is_ignored(server, reference, registered):
    # MLflow's signature convention: columns it does not name are left out (the server log
    # names them); a misspelt feature is refused below because the real one is then missing
    X = _frame(3, 9)
    records = X.reset_index().drop(columns="as_of").to_dict(orient="records")
    status, doc = _post(server, {"dataframe_records": records})
    assert status == 200, doc
    assert [r["risk"] for r in doc["predictions"]] == reference.predict(X)["risk"].tolist()
    log = registered["root"] / "server.log"
    warning = "Found extra inputs in the model input that are not defined in the model " \
        "signature: `['student_id']`. These inputs will be ignored."
    for _ in range(50):
        if warning in log.read_text(errors="replace"):
            break
        time.sleep(0.1)
    assert warning in log.read_text(errors="replace")


ROW = {"attendance": 0.4, "score": 55.0, "program": "law"}


@SERVED
@pytest.mark.parametrize("body, content_type, status, code, match", [
    (b"not json", "application/json", 400, "BAD_REQUEST", r"valid JSON"),
    (b"", "application/json", 400, "BAD_REQUEST", r"valid JSON"),
    (b"{}", "application/json", 400, "BAD_REQUEST",
     r"exactly one of the input fields .*dataframe_split"),
    (b"[1, 2]", "application/json", 400, "BAD_REQUEST", r"Received a list"),
    (json.dumps({"dataframe_records": [ROW], "dataframe_split": {"data": [[0.4, 55.0, "law"]],
                                                                 "columns": FEATURES}}).encode(),
     "application/json", 400, "BAD_REQUEST", r"exactly one of the input fields"),
    (json.dumps({"dataframe_split": {"columns": FEATURES, "data": []}}).encode(),
     "application/json", 400, "INVALID_PARAMETER_VALUE",
     r"input \[rows\]: the request has no rows to score\n  arrived: 0 rows"),
    (json.dumps({"dataframe_records": []}).encode(), "application/json", 400,
     "INVALID_PARAMETER_VALUE", r"missing inputs \['attendance', 'score', 'program'\]"),
    (json.dumps({"dataframe_records": [{"attendance": 0.4, "program": "law"}]}).encode(),
     "application/json", 400, "INVALID_PARAMETER_VALUE", r"missing inputs \['score'\]"),
    (json.dumps({"dataframe_records": [{"attendence": 0.4, "score": 55.0,
                                        "program": "law"}]}).encode(),
     "application/json", 400, "INVALID_PARAMETER_VALUE",
     r"missing inputs \['attendance'\]\. Note that there were extra inputs: \['attendence'\]"),
    (json.dumps({"dataframe_records": [dict(ROW, attendance="high")]}).encode(),
     "application/json", 400, "BAD_REQUEST",
     r"column attendance to type 'float64'.*could not convert string to float: 'high'"),
    (json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[0.4, 55.0]]}}).encode(),
     "application/json", 400, "BAD_REQUEST", r"not a valid dataframe representation"),
    (json.dumps({"dataframe_records": [ROW]}).encode(), "text/plain", 415, None,
     r"only supports the following content types"),
], ids=["not-json", "empty-body", "empty-object", "json-list", "two-formats", "no-rows",
        "no-records", "missing-feature", "unknown-column", "wrong-type", "ragged-row",
        "content-type"])
def test_bad_payloads_get_4xx_naming_the_problem(server, body, content_type, status, code,
                                                 match):
    got, text = _request(server + "/invocations", body, content_type)
    assert got == status, text
    if code is None:
        message = text
    else:
        doc = json.loads(text)
        assert doc["error_code"] == code
        message = doc["message"]
    assert re.search(match, message, flags=re.S), message


def test_pyfunc_raises_typed_errors_as_mlflow_invalid_input(registered, tmp_path):
    """In Python the pyfunc's bad-input error is an MlflowException caused by the typed error."""
    from mlflow.exceptions import MlflowException

    path = tracking.save_model(registered["model"], tmp_path / "m", tiers=TIERS)
    pf = mlflow.pyfunc.load_model(str(path))
    assert isinstance(pf.get_raw_model(), tracking.StudentProfileModel)
    empty = _frame(3, 2).reset_index(drop=True).iloc[:0].astype({"program": object})
    with pytest.raises(MlflowException, match=r"input \[rows\]: the request has no rows") as info:
        pf.predict(empty)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.get_http_status_code() == 400
    assert isinstance(info.value.__cause__, SchemaError) and info.value.__cause__.rule == "rows"
    # studentprofile's own loader answers an empty frame with an empty answer
    out = tracking.load_model(str(path)).predict(empty)
    assert len(out) == 0 and list(out.columns) == tracking._flavour.output_columns(3)


def test_every_saved_model_has_the_feature_signature(registered, tmp_path):
    """No input example needed: the signature comes from the model (features in, answer out)."""
    path = tracking.save_model(registered["model"], tmp_path / "m", top_reasons=1)
    sig = mlflow.models.Model.load(str(path / "MLmodel")).signature
    assert [(c.name, c.type.name, c.required) for c in sig.inputs.inputs] == [
        ("attendance", "double", True), ("score", "double", True), ("program", "string", True)]
    assert [(c.name, c.type.name) for c in sig.outputs.inputs] == [
        ("risk", "double"), ("tier", "string"), ("reason_1", "string"), ("reasons", "string")]


def test_a_model_fitted_without_column_names_is_refused_before_anything_is_written(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(100, 2))
    model = sp.RiskModel(random_state=0, n_estimators=5).fit(X, (X[:, 0] > 0.5).astype(int))
    with pytest.raises(ConfigError, match=r"model: the studentprofile flavour saves a model "
                       r"fitted on a DataFrame(.|\n)*arrived: a RiskModel fitted on an array"):
        tracking.save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()
