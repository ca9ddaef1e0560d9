"""The MLflow layer: the studentprofile flavour, run logging, failure paths, privacy helpers."""

from __future__ import annotations

import errno
import json

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile import tracking
from studentprofile.errors import ConfigError, ModelIntegrityError

mlflow = pytest.importorskip("mlflow")

IDS = [f"stu-{i:05d}" for i in range(300)]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = len(IDS)
    X = pd.DataFrame(
        {"attendance": rng.uniform(0, 1, n), "score": rng.normal(60, 10, n),
         "program": rng.choice(["law", "math", "arts"], n)},
        index=pd.MultiIndex.from_arrays([IDS, np.zeros(n)], names=["student_id", "as_of"]),
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(4 * X["attendance"] - 1))).astype(int)
    return sp.RiskModel(random_state=0, n_estimators=50).fit(X, y), X


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    yield uri, tmp_path
    mlflow.set_tracking_uri(None) if hasattr(mlflow, "set_tracking_uri") else None


def _log(fitted, uri, tmp_path, **kw):
    model, X = fitted
    return tracking.log_experiment(
        tracking_uri=uri, experiment="t", run_name="r", params={"model.lr": 0.05},
        metrics={"roc_auc": 0.7, "fairness.gender.F.tpr": 0.5, "bad": float("nan")},
        model=model, artifact_location=tmp_path / "artifacts",
        model_kwargs={"tiers": {"high": 0.5, "medium": 0.3},
                      "input_example": tracking.synthetic_example(X), "model_card": "# Card"},
        **kw,
    )


def test_flavour_round_trip_through_mlflow_pyfunc_and_registry(fitted, store):
    model, X = fitted
    uri, tmp = store
    rep = _log(fitted, uri, tmp, registered_model="risk", alias="champion")
    assert rep.complete and rep.registered == "models:/risk@champion"
    assert rep.logged == ["run", "params", "metrics", "tags", "model", "registry"]
    mlflow.set_tracking_uri(uri)
    expected = model.predict_proba(X.iloc[:20])[:, 1]
    for model_uri in (rep.model_uri, "models:/risk@champion"):
        pf = mlflow.pyfunc.load_model(model_uri)
        out = pf.predict(X.iloc[:20].reset_index(drop=True))
        np.testing.assert_allclose(out["risk"].to_numpy(), expected, rtol=0, atol=1e-12)
        assert list(out.columns) == ["risk", "tier", "reason_1", "reason_2", "reason_3",
                                     "reasons"]
        tiers = np.where(expected >= 0.5, "high", np.where(expected >= 0.3, "medium", "none"))
        assert out["tier"].tolist() == tiers.tolist()
        # JSON-safe: every cell a str or float, reasons parse and add up to the raw score
        json.dumps(out.to_dict(orient="records"), allow_nan=False)
        first = json.loads(out["reasons"].iloc[0])
        assert first[0]["sentence"] == out["reason_1"].iloc[0]
        assert {"feature", "contribution", "direction"} <= set(first[0])
    loaded = tracking.load_model("models:/risk@champion")
    assert loaded.model_card == "# Card" and loaded.tiers == {"high": 0.5, "medium": 0.3}
    one = loaded.score_one(X.iloc[0].to_dict())
    assert one["risk"] == pytest.approx(expected[0], abs=1e-9)


def test_logged_model_has_no_pickle_and_an_example_without_ids(fitted, store):
    uri, tmp = store
    rep = _log(fitted, uri, tmp)
    mlflow.set_tracking_uri(uri)
    local = mlflow.artifacts.download_artifacts(rep.model_uri, dst_path=str(tmp / "dl"))
    files = [p for p in __import__("pathlib").Path(local).rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert not any(n.endswith((".pkl", ".pickle", ".cloudpickle")) for n in names), names
    for p in files:
        assert b"cloudpickle" not in p.read_bytes() or p.name in {"requirements.txt"}
    assert {"MLmodel", "model.txt", "metadata.json", "manifest.sha256", "input_example.json",
            "settings.json", "model_card.md"} <= names
    mlmodel = (__import__("pathlib").Path(local) / "MLmodel").read_text()
    assert "studentprofile:" in mlmodel and "loader_module: studentprofile.tracking._flavour" \
        in mlmodel and "signature:" in mlmodel
    assert tracking.scan_run(uri, rep.run_id, IDS) == {}


def test_unreachable_server_is_reported_not_raised(fitted, tmp_path):
    rep = _log(fitted, "http://127.0.0.1:9", tmp_path, registered_model="risk", alias="x")
    assert not rep.complete and rep.run_id is None
    assert [x["what"] for x in rep.not_logged] == ["run", "params", "metrics", "tags", "model",
                                                  "registry"]
    assert "unreachable" in rep.not_logged[0]["why"]
    assert rep.ui_command() is None


def test_disk_full_on_artifacts_keeps_the_rest(fitted, store, monkeypatch, tmp_path):
    uri, tmp = store
    from mlflow import MlflowClient

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(MlflowClient, "log_artifact", full)
    note = tmp_path / "note.txt"
    note.write_text("x")
    rep = _log(fitted, uri, tmp, artifacts={"notes/note.txt": note})
    assert rep.run_id is not None and "model" in rep.logged and "metrics" in rep.logged
    assert rep.not_logged == [{"what": "artifact notes/note.txt",
                               "why": "OSError: [Errno 28] No space left on device"}]
    run = MlflowClient(tracking_uri=uri).get_run(rep.run_id)
    assert run.data.tags["studentprofile.incomplete"] == "artifact notes/note.txt"
    assert run.data.metrics["roc_auc"] == 0.7 and "bad" not in run.data.metrics
    assert run.data.metrics["fairness.gender.F.tpr"] == 0.5


def test_save_model_refuses_existing_dir_and_bad_tiers(fitted, tmp_path):
    model, _ = fitted
    tracking.save_model(model, tmp_path / "m")
    with pytest.raises(ConfigError, match="already exists"):
        tracking.save_model(model, tmp_path / "m")
    with pytest.raises(ConfigError, match=r"tiers\['high'\].*\n.*arrived: 1.5"):
        tracking.save_model(model, tmp_path / "m2", tiers={"high": 1.5})
    with pytest.raises(ConfigError, match="fitted RiskModel"):
        tracking.save_model(object(), tmp_path / "m3")


def test_tampered_model_is_refused(fitted, tmp_path):
    model, _ = fitted
    d = tracking.save_model(model, tmp_path / "m")
    meta = d / "studentprofile" / "risk_model" / "metadata.json"
    meta.write_text(meta.read_text().replace('"', "'", 1))
    with pytest.raises(ModelIntegrityError):
        tracking.load_model(str(d))
    with pytest.raises(ModelIntegrityError, match="not a model saved with the studentprofile"):
        tracking.load_model(str(tmp_path))


def test_pseudonyms_are_keyed_and_stable(monkeypatch):
    a = tracking.pseudonymize(["s1", "s2"], "k" * 32)
    assert a.tolist() == tracking.pseudonymize(["s1", "s2"], b"k" * 32).tolist()
    assert a.tolist() != tracking.pseudonymize(["s1", "s2"], "j" * 32).tolist()
    assert all(len(x) == 16 and "s1" not in x for x in a)
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        tracking.pseudonymize(["s1"], "short")
    monkeypatch.delenv("SP_KEY", raising=False)
    with pytest.raises(ConfigError, match="SP_KEY is not set"):
        tracking.pseudonym_key("SP_KEY")
    monkeypatch.setenv("SP_KEY", "x" * 20)
    assert tracking.pseudonym_key("SP_KEY") == b"x" * 20


def test_scan_text_finds_ids_inside_tokens_and_skips_short_ones():
    ids = {"AAA/2013J/11391", "42", "stu-00007"}
    text = 'path "runs/AAA/2013J/11391.csv" and x=stu-00007, value 42'
    assert tracking.scan_text(text, ids) == ["AAA/2013J/11391", "stu-00007"]
    assert tracking.scan_text("nothing here", ids) == []


def test_metric_names_are_valid_for_mlflow():
    assert tracking.metric_name("fairness", "imd_band", "0-10%", "tpr") == \
        "fairness.imd_band.0-10_.tpr"
    assert tracking.metric_name("a", "b&c (x)") == "a.b_c _x_"
