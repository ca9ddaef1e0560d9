"""The MLflow layer: the studentprofile flavour, run logging, failure paths, privacy helpers."""

from __future__ import annotations

import errno
import json
from pathlib import Path

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
    assert rep.logged == ["run", "params", "metrics", "tags",
                          "artifact metrics/metric_names.json", "model", "registry"]
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
    assert [x["what"] for x in rep.not_logged] == [
        "run", "params", "metrics", "tags", "artifact metrics/metric_names.json", "model",
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
    full_disk = "OSError: [Errno 28] No space left on device"
    assert rep.not_logged == [{"what": "artifact metrics/metric_names.json", "why": full_disk},
                              {"what": "artifact notes/note.txt", "why": full_disk}]
    run = MlflowClient(tracking_uri=uri).get_run(rep.run_id)
    assert run.data.tags["studentprofile.incomplete"] == \
        "artifact metrics/metric_names.json, artifact notes/note.txt"
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


def test_scan_text_finds_whole_ids_and_skips_short_ones():
    ids = {"AAA/2013J/11391", "42", "stu-00007", "AAA/2013J/1"}
    text = 'path "runs/AAA/2013J/11391.csv" and x=stu-00007, value 42'
    # "AAA/2013J/1" is only the start of a longer id: not found
    assert tracking.scan_text(text, ids) == ["AAA/2013J/11391", "stu-00007"]
    assert tracking.scan_text("nothing here", ids) == []


def test_metric_names_are_valid_unique_and_stable():
    from mlflow.utils.validation import _validate_metric_name

    # valid parts stay as they are
    assert tracking.metric_name("fairness", "imd_band", "tpr", "pass") == \
        "fairness.imd_band.tpr.pass"
    # other parts: a readable slug and 8 hex digits of the exact part's SHA-256
    import hashlib

    h = hashlib.sha256(b"0-10%").hexdigest()[:8]
    assert tracking.metric_name("fairness", "imd_band", "0-10%", "tpr") == \
        f"fairness.imd_band.0-10pct-{h}.tpr"
    parts = ["<30k", ">30k", "_30k", "a b", "a_b", "a.b", "a/b", "../x", "", " ", "性别",
             "Zoë", "Zoé", "x-" + h, "a" * 300, "=HYPERLINK(1)", "a\nb", "..", "/"]
    names = [tracking.metric_name("fairness", p, "tpr") for p in parts]
    assert len(set(names)) == len(parts)  # unique
    assert names == [tracking.metric_name("fairness", p, "tpr") for p in parts]  # stable
    for n in names:
        _validate_metric_name(n)
        assert n.isascii() and len(n) <= 250


def test_metric_keys_keep_valid_names_and_map_the_rest_uniquely():
    from mlflow.utils.validation import _validate_metric_name

    keys = ["roc_auc", "split0.roc_auc", "precision@10%", "precision@10", "precision_10_",
            "fairness.income.<30k.tpr", "fairness.income.>30k.tpr", "a..b", "x" * 400]
    names = tracking.metric_names(keys)
    assert names["roc_auc"] == "roc_auc" and names["split0.roc_auc"] == "split0.roc_auc"
    assert names["precision_10_"] == "precision_10_"
    assert names["precision@10%"].startswith("precision_at_10pct-")
    assert len(set(names.values())) == len(keys)
    for n in names.values():
        _validate_metric_name(n)
        assert len(n) <= 250


def _audit(n=240, seed=1):
    from studentprofile.evaluation import fairness_audit

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + rng.uniform(size=n), 0, 1)
    attrs = pd.DataFrame({"income <30k": rng.choice(["yes", "no"], n),
                          "income >30k": rng.choice(["yes", "no"], n),
                          "band": rng.choice(["<30k", ">30k", "30-60k"], n)})
    return fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.2, min_group_size=5,
                          n_boot=0, intersections=None)


def test_fairness_is_logged_as_verdicts_and_worst_disparity_with_tables(fitted, store):
    from mlflow import MlflowClient

    from studentprofile.evaluation import DISPARITY_METRICS

    model, X = fitted
    uri, tmp = store
    audit = _audit()
    rep = tracking.log_experiment(tracking_uri=uri, experiment="t", run_name="r",
                                  metrics={"roc_auc": 0.7}, fairness=audit,
                                  artifact_location=tmp / "artifacts")
    assert rep.complete and "artifact fairness/fairness_groups.csv" in rep.logged
    client = MlflowClient(tracking_uri=uri)
    metrics = client.get_run(rep.run_id).data.metrics
    fair = {k: v for k, v in metrics.items() if k.startswith("fairness.")}
    # at most a verdict and a worst disparity per attribute and compared metric
    assert 0 < len(fair) <= 3 * len(DISPARITY_METRICS) * 2
    summary = audit.summary()
    for row in summary.itertuples():
        verdict = fair.get(tracking.metric_name("fairness", row.attribute, row.metric, "pass"))
        assert verdict == {"pass": 1.0, "fail": 0.0, "undefined": None}[row.verdict]
        worst = fair[tracking.metric_name("fairness", row.attribute, row.metric,
                                          "worst_disparity")]
        assert worst in (pytest.approx(row.min_disparity), pytest.approx(row.max_disparity))
        assert abs(np.log(worst)) == pytest.approx(
            max(abs(np.log(row.min_disparity)), abs(np.log(row.max_disparity))))
    # "<30k" and ">30k" attributes get two names; group names never enter a metric name
    lt = tracking.metric_name("fairness", "income <30k", "tpr", "pass")
    gt = tracking.metric_name("fairness", "income >30k", "tpr", "pass")
    assert lt != gt and lt in fair and gt in fair
    assert not any("30-60k" in k or "yes" in k for k in fair)
    # the mapping and the readable tables
    local = Path(mlflow.artifacts.download_artifacts(run_id=rep.run_id, dst_path=str(tmp / "d"),
                                                     tracking_uri=uri))
    doc = json.loads((local / "metrics" / "metric_names.json").read_text())
    assert doc["fairness"][lt] == {"attribute": "income <30k", "metric": "tpr",
                                   "statistic": "pass"}
    assert doc["metrics"] == {"roc_auc": "roc_auc"}
    groups = pd.read_csv(local / "fairness" / "fairness_groups.csv")
    assert set(groups.loc[groups["attribute"] == "band", "group"]) == {"<30k", ">30k", "30-60k"}
    assert len(pd.read_csv(local / "fairness" / "fairness_summary.csv")) == len(summary)


@pytest.mark.parametrize("uri, hint", [
    ("bogus://x", "use a URI scheme MLflow supports"),
    ("./mlruns", "this MLflow refuses plain file stores"),
    ("file:./mlruns-file", "this MLflow refuses plain file stores"),
])
def test_a_store_mlflow_refuses_is_reported_as_a_tracking_error(fitted, tmp_path, monkeypatch,
                                                                uri, hint):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mine.db'}")
    rep = _log(fitted, uri, tmp_path, registered_model="risk", alias="x")
    # the caller's own MLflow set-up is left as it was
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'mine.db'}"
    assert not rep.complete and rep.run_id is None and rep.logged == []
    first = rep.not_logged[0]
    assert first["what"] == "run"
    assert first["why"].startswith(f"MLflow could not track to {uri!r}: ")
    assert hint in first["why"] and "the run's files are complete on local disk" in first["why"]
    assert [x["what"] for x in rep.not_logged[1:]] == [
        "params", "metrics", "tags", "artifact metrics/metric_names.json", "model", "registry"]
    assert {x["why"] for x in rep.not_logged[1:]} == {tracking._runs.NO_RUN}


def test_tracking_error_keeps_a_tracking_error_and_explains_the_rest():
    from studentprofile.errors import TrackingError

    err = tracking.tracking_error(RuntimeError("Connection refused. Retry later."), "http://h:1")
    assert isinstance(err, TrackingError)
    assert str(err) == ("MLflow could not track to 'http://h:1'\n"
                        "  arrived: RuntimeError: Connection refused.\n"
                        "  what to do: check the tracking URI and that the store is reachable "
                        "and writable; the run's files are complete on local disk")
    assert tracking.tracking_error(err, "x") is err


def test_fairness_table_counts_suppressed_groups_and_never_names_them():
    from studentprofile.evaluation import fairness_audit
    from studentprofile.tracking._metrics import fairness_log

    rng = np.random.default_rng(3)
    groups = ["north"] * 60 + ["south"] * 60 + ["Zoë-Müller-0001"] * 3
    audit = fairness_audit(y_true=rng.integers(0, 2, 123), scores=rng.uniform(size=123),
                           attributes=pd.DataFrame({"region": groups}), k=0.2,
                           min_group_size=5, n_boot=0)
    table = fairness_log(audit).groups
    assert "Zoë-Müller-0001" not in set(table["group"])
    hidden = table.loc[table["suppressed"].astype(bool), "group"].tolist()
    assert hidden == ["(1 suppressed group(s))"]  # the evaluation's counted label is kept
