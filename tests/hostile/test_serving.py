"""Hostile requests and environments for serving the flavour (issue 17, REST serving).

The payload tests call ``mlflow.pyfunc.scoring_server.invocations``, the function behind the
server's ``POST /invocations``, in process (tests/test_serving.py does the same over HTTP); the
last test starts the real server from a read-only install, as a service user without a home.
"""

from __future__ import annotations

import json
import os
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

from .test_tracking import _read_only_runner, _skip_or_fail, _written_into

mlflow = pytest.importorskip("mlflow")

PACKAGE = Path(sp.__file__).resolve().parent
# Chinese feature names and category levels, as a campus system sends them
ATT, PROG = "出勤率", "专业"
LEVELS = ["法学", "数学", "艺术"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame({ATT: rng.uniform(0, 1, n), "score": rng.normal(60, 10, n),
                      PROG: rng.choice(LEVELS, n).astype(object)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(4 * X[ATT].to_numpy() - 1))).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=30).fit(X, y)
    root = tmp_path_factory.mktemp("hostile_serving")
    path = tracking.save_model(model, root / "model", tiers={"high": 0.5},
                               input_example=tracking.synthetic_example(X))
    pf = mlflow.pyfunc.load_model(str(path))
    return {"model": model, "path": path, "pf": pf, "ref": tracking.load_model(str(path)),
            "root": root}


def _invoke(served: dict[str, Any], body: str | bytes) -> tuple[int, dict[str, Any]]:
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    pf = served["pf"]
    try:
        r = scoring_server.invocations(body, "application/json", pf,
                                       pf.metadata.get_input_schema())
    except MlflowException as e:
        return e.get_http_status_code(), json.loads(e.serialize_as_json())
    return r.status, json.loads(r.response)


@pytest.mark.parametrize("name", ["专业", "pro gram", "prog:ram"])
def test_a_categorical_feature_whose_name_lightgbm_escapes_fits(name):
    # RiskModel.fit raised LightGBM's raw TypeError ("unknown name(专业) in
    # categorical_feature"): LightGBM listed the categorical by its column name, absent from
    # the escaped feature_name list
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"attendance": rng.uniform(0, 1, 200),
                      name: rng.choice(LEVELS, 200).astype(object)})
    y = (rng.uniform(size=200) < np.where(X[name] == "法学", 0.7, 0.1)).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=10).fit(X, y)
    assert model.categories_ == {name: sorted(LEVELS)}
    assert "[categorical_feature: 1]" in model.booster_.model_to_string()
    risk = model.predict_proba(pd.DataFrame({"attendance": [0.5, 0.5], name: ["法学", "数学"]}))
    assert risk[0, 1] > risk[1, 1]


def test_chinese_names_and_levels_score_like_the_python_api(served):
    rows = [{ATT: 0.2, "score": 50.0, PROG: "法学"}, {ATT: 0.9, "score": 70.0, PROG: "艺术"}]
    status, doc = _invoke(served, json.dumps({"dataframe_records": rows}, ensure_ascii=False))
    assert status == 200, doc
    want = served["ref"].predict(pd.DataFrame(rows))
    assert [p["risk"] for p in doc["predictions"]] == want["risk"].tolist()
    assert [p["reasons"] for p in doc["predictions"]] == want["reasons"].tolist()
    assert any("法学" in p["reason_1"] + p["reason_2"] + p["reason_3"]
               for p in doc["predictions"])


def test_nan_and_infinity_literals_score_like_the_python_api(served):
    # Python's json (and so the server) reads NaN and Infinity; the answer stays valid JSON
    body = (f'{{"dataframe_split": {{"columns": ["{ATT}", "score", "{PROG}"], '
            '"data": [[NaN, Infinity, "数学"], [-Infinity, NaN, null]]}}')
    status, doc = _invoke(served, body)
    assert status == 200, doc
    X = pd.DataFrame({ATT: [np.nan, -np.inf], "score": [np.inf, np.nan],
                      PROG: ["数学", None]})
    want = served["ref"].predict(X)
    np.testing.assert_allclose([p["risk"] for p in doc["predictions"]],
                               served["model"].predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert [p["tier"] for p in doc["predictions"]] == want["tier"].tolist()


def test_a_level_never_seen_in_training_counts_as_missing(served):
    rows = [{ATT: 0.3, "score": 61.0, PROG: "=HYPERLINK(\"http://x\")"},
            {ATT: 0.3, "score": 61.0, PROG: None}]
    status, doc = _invoke(served, json.dumps({"dataframe_records": rows}))
    assert status == 200, doc
    a, b = doc["predictions"]
    assert a == b  # the formula is neither scored as a level nor echoed into a reason
    assert "HYPERLINK" not in json.dumps(doc)


@pytest.mark.parametrize("body, match", [
    (b"\xff\xfe{not utf-8", r"valid JSON"),
    (json.dumps({"dataframe_records": [{ATT: {"nested": 1}, "score": 1.0, PROG: "法学"}]}),
     rf"column {ATT}"),
    (json.dumps({"dataframe_records": [{ATT: [0.1, 0.2], "score": 1.0, PROG: "法学"}]}),
     rf"column {ATT}"),
    (json.dumps({"dataframe_records": [{ATT: "0.5", "score": "abc", PROG: "法学"}]}),
     r"could not convert string to float: 'abc'"),
    (json.dumps({"dataframe_split": {"columns": [ATT, "score", PROG],
                                     "data": [[0.1, 2.0, "法学"]], "extra": 1}}),
     r"must have 'data' field and optionally 'columns' and 'index'"),
], ids=["not-utf8", "nested-object", "list-in-a-cell", "text-in-a-number", "split-extra-key"])
def test_malformed_cells_get_400_naming_the_problem(served, body, match):
    import re

    status, doc = _invoke(served, body)
    assert status == 400, doc
    assert re.search(match, doc["message"], flags=re.S), doc["message"]


# -------------------------------------------------- the real server from a read-only install
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, payload: Any) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.slow
def test_the_server_runs_from_a_read_only_install_without_home(served, tmp_path):
    """Package and model folder read-only, no HOME, no NUMBA_CACHE_DIR: serves, writes nothing."""
    pre, why = _read_only_runner()
    if pre is None:
        _skip_or_fail(why)
    import shutil

    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "studentprofile",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    model = Path(shutil.copytree(served["path"], tmp_path / "model"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    locked = [*(Path(r) for r, _, _ in os.walk(site)), *(Path(r) for r, _, _ in os.walk(model))]
    for folder in locked:
        folder.chmod(0o555)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOME", "NUMBA_CACHE_DIR", "PYTHONPATH", "XDG_CACHE_HOME", "TMPDIR",
                        "MLFLOW_TRACKING_URI")}
    env.update(PYTHONPATH=str(site), TMPDIR=str(tmp),
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    probe = subprocess.run([sys.executable, "-c", f"open({str(site / 'probe')!r}, 'w')"],
                           preexec_fn=pre, capture_output=True)
    if probe.returncode == 0:
        for folder in locked:
            folder.chmod(0o755)
        _skip_or_fail("a chmod'ed folder is still writable here")
    files_before = sorted(p.relative_to(model) for p in model.rglob("*"))
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model), "--env-manager",
         "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=site, env=env, preexec_fn=pre, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        rows = [{ATT: 0.2, "score": 50.0, PROG: "法学"}]
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            try:
                status, doc = _post(f"http://127.0.0.1:{port}/invocations",
                                    {"dataframe_records": rows})
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("no answer after 180 s:\n"
                                f"{(tmp_path / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        assert status == 200, doc
        assert doc["predictions"][0]["risk"] == served["ref"].predict(
            pd.DataFrame(rows))["risk"].iloc[0]
        assert _written_into(site) == []
        assert sorted(p.relative_to(model) for p in model.rglob("*")) == files_before
    finally:
        stop_group(proc)
        log.close()
        for folder in locked:
            folder.chmod(0o755)
