"""Model directories: round trips are exact; damaged or foreign artefacts are refused."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, ModelIntegrityError, OutputError
from studentprofile.features._info import FeatureInfo
from studentprofile.models import FORMAT_VERSION, RiskModel


def _data(seed=0, n_students=120, n_weeks=4):
    rng = np.random.default_rng(seed)
    sid = np.repeat([f"s{i:03d}" for i in range(n_students)], n_weeks)
    as_of = np.tile(np.arange(n_weeks) * 7.0, n_students)
    n = len(sid)
    X = pd.DataFrame(
        {
            "att_rate_30d": rng.uniform(0, 1, n),
            "score_mean": rng.normal(60, 15, n),
            "programme": pd.array(rng.choice(["arts", "law", "science"], n), dtype="str"),
            "counselling_visits": rng.poisson(0.5, n).astype(float),
        },
        index=pd.MultiIndex.from_arrays([sid, as_of], names=["student_id", "as_of"]),
    )
    logit = 1.5 - 3 * X["att_rate_30d"] - 0.02 * (X["score_mean"] - 60) + 0.5 * (
        X["programme"] == "arts"
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, pd.Series(y.to_numpy(), index=X.index)


INFO = {
    "counselling_visits": FeatureInfo(
        name="counselling_visits", family="wellbeing", kind="counselling", aggregate="count",
        window="all", phrase="counselling visits", unit="count", sensitivity="sensitive",
    )
}


@pytest.fixture(scope="module")
def model_and_data():
    X, y = _data()
    model = RiskModel(
        calibration="isotonic", class_weight={0: 1.0, 1: 2.0}, monotone_constraints={
            "att_rate_30d": -1}
    ).fit(X, y, feature_info=INFO)
    return model, X


@pytest.fixture
def saved(model_and_data, tmp_path):
    model, _ = model_and_data
    return model.save(tmp_path / "model", fingerprints={"events": "ab" * 32})


def test_round_trip_is_exact(model_and_data, saved):
    model, X = model_and_data
    back = RiskModel.load(saved)
    assert back.get_params() == model.get_params()
    assert back.booster_.model_to_string() == model.booster_.model_to_string()
    np.testing.assert_array_equal(back.predict_raw(X), model.predict_raw(X))
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.calibrator_ == model.calibrator_
    assert back.feature_info_ == model.feature_info_
    assert back.categories_ == model.categories_
    assert back.reference_values_ == model.reference_values_
    assert back.holdout_ == model.holdout_ and back.training_info_ == model.training_info_
    assert list(back.feature_names_in_) == list(model.feature_names_in_)
    assert back.classes_.dtype == model.classes_.dtype
    assert back.metadata_["fingerprints"] == {"events": "ab" * 32}
    a, b = model.explain(X), back.explain(X)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.base_value == b.base_value
    assert a.reasons() == b.reasons()


def test_string_classes_and_multiclass_round_trip(tmp_path):
    X, y = _data(seed=1)
    labels = np.array(["graduate", "dropout", "enrolled"])[(y.to_numpy() + (X["score_mean"] > 70)
                                                           .to_numpy()).astype(int)]
    m = RiskModel().fit(X, pd.Series(labels, index=X.index, dtype="str"))
    back = RiskModel.load(m.save(tmp_path / "m"))
    assert list(back.classes_) == ["dropout", "enrolled", "graduate"]
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    assert (back.predict(X) == m.predict(X)).all()


def test_array_fitted_model_round_trip(tmp_path):
    X, y = _data(seed=2)
    arr = X.drop(columns="programme").to_numpy()
    m = RiskModel().fit(arr, y.to_numpy())
    back = RiskModel.load(m.save(tmp_path / "m"))
    assert not hasattr(back, "feature_names_in_")
    np.testing.assert_array_equal(back.predict_proba(arr), m.predict_proba(arr))


def test_layout_is_plain_files_and_sha256sum_checks_it(saved):
    assert sorted(p.name for p in saved.iterdir()) == [
        "MANIFEST.json", "manifest.sha256", "metadata.json", "model.txt"]
    meta = json.loads((saved / "metadata.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["calibration"]["method"] == "isotonic"
    assert meta["params"]["class_weight"] == {"__pairs__": [[0, 1.0], [1, 2.0]]}
    assert set(meta["versions"]) >= {"studentprofile", "lightgbm", "numpy", "pandas"}
    assert "s000" not in (saved / "metadata.json").read_text()  # no student identifiers
    assert (saved / "model.txt").read_text().startswith("tree\n")
    for p in saved.iterdir():  # no pickle anywhere: every file is text
        p.read_bytes().decode("utf-8")
    done = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=saved,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _rewrite_hashes(root, name):
    """An attacker who rewrites the manifest too: only the cross-checks can notice."""
    data = (root / name).read_bytes()
    manifest = json.loads((root / "MANIFEST.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    lines = []
    for n in ("model.txt", "metadata.json", "MANIFEST.json"):
        lines.append(f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n")
    (root / "manifest.sha256").write_text("".join(lines))


def test_flipped_byte_in_model_is_refused(saved):
    path = saved / "model.txt"
    data = bytearray(path.read_bytes())
    i = data.index(b"leaf_value=") + len(b"leaf_value=") + 1
    data[i] = ord("7") if data[i] != ord("7") else ord("3")
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"model\.txt: the file's SHA-256 does not match"):
        RiskModel.load(saved)


def test_truncated_metadata_is_refused(saved):
    path = saved / "metadata.json"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelIntegrityError, match=r"metadata\.json: the file is truncated"):
        RiskModel.load(saved)


@pytest.mark.parametrize("name", ["model.txt", "metadata.json", "MANIFEST.json",
                                  "manifest.sha256"])
def test_missing_file_is_refused(saved, name):
    (saved / name).unlink()
    with pytest.raises(ModelIntegrityError, match="is missing"):
        RiskModel.load(saved)


def test_edited_manifest_is_refused(saved):
    path = saved / "MANIFEST.json"
    path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 1 '))
    with pytest.raises(ModelIntegrityError, match=r"MANIFEST\.json: the file's SHA-256"):
        RiskModel.load(saved)


def test_malformed_checksum_file_is_refused(saved):
    (saved / "manifest.sha256").write_text("not a checksum line\n")
    with pytest.raises(ModelIntegrityError, match="line 1 is not"):
        RiskModel.load(saved)


def test_newer_format_is_refused_as_incompatible(saved):
    path = saved / "MANIFEST.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(manifest))
    _rewrite_hashes(saved, "model.txt")
    with pytest.raises(ModelIntegrityError, match="upgrade studentprofile"):
        RiskModel.load(saved)


def test_rehashed_but_inconsistent_model_is_refused(saved, model_and_data):
    """Even with recomputed hashes, a model that disagrees with its metadata is refused."""
    model, _ = model_and_data
    cut = model.booster_.model_to_string(num_iteration=max(1, model.best_iteration_ - 1))
    (saved / "model.txt").write_text(cut)
    _rewrite_hashes(saved, "model.txt")
    with pytest.raises(ModelIntegrityError, match="tree count differs"):
        RiskModel.load(saved)


def test_rehashed_garbage_model_text_is_refused(saved):
    (saved / "model.txt").write_text("tree\nversion=v4\nnum_class=oops\n")
    _rewrite_hashes(saved, "model.txt")
    with pytest.raises(ModelIntegrityError, match=r"model\.txt: not a well-formed LightGBM model"):
        RiskModel.load(saved)


def test_model_text_is_checked_before_lightgbm_reads_it(saved, monkeypatch):
    """A re-hashed model.txt that LightGBM would misread never reaches lightgbm.Booster."""
    import lightgbm

    text = (saved / "model.txt").read_text()
    bad = text.replace("num_tree_per_iteration=1", "num_tree_per_iteration=3")
    (saved / "model.txt").write_text(bad)
    _rewrite_hashes(saved, "model.txt")
    called = []
    monkeypatch.setattr(lightgbm, "Booster", lambda **kw: called.append(kw))
    with pytest.raises(ModelIntegrityError, match="num_tree_per_iteration must equal num_class"):
        RiskModel.load(saved)
    assert called == []


def test_rehashed_malformed_metadata_is_refused(saved):
    path = saved / "metadata.json"
    meta = json.loads(path.read_text())
    del meta["calibration"]
    path.write_text(json.dumps(meta))
    _rewrite_hashes(saved, "metadata.json")
    with pytest.raises(ModelIntegrityError, match="malformed metadata"):
        RiskModel.load(saved)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelIntegrityError, match="no model directory here"):
        RiskModel.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelIntegrityError, match="checksum file is missing"):
        RiskModel.load(tmp_path / "empty")


def test_overwrite_rules_and_atomicity(model_and_data, tmp_path):
    model, X = model_and_data
    target = model.save(tmp_path / "m")
    with pytest.raises(ConfigError, match="already exists"):
        model.save(target)
    other = tmp_path / "notes"
    other.mkdir()
    with pytest.raises(ConfigError, match="not a saved model"):
        model.save(other, overwrite=True)
    model.save(target, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "notes"]  # no temp dirs left
    RiskModel.load(target)


def test_failed_write_leaves_old_model_intact(model_and_data, tmp_path, monkeypatch):
    model, X = model_and_data
    target = model.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    import studentprofile._files as files

    def boom(fd):
        raise OSError("disk full")

    # the files go through the package's one atomic writer; its fsync fails as on a full disk
    monkeypatch.setattr(files.os, "fsync", boom)
    with pytest.raises(OutputError, match=r"(?s)could not be written.*disk full"):
        model.save(target, overwrite=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_save_creates_files_with_the_atomic_writer_only(model_and_data, tmp_path, monkeypatch):
    """No file of a model directory is opened for writing except by _files.atomic_write."""
    import studentprofile._files as files
    import studentprofile.models._persistence as persistence

    written = []
    real = files.atomic_write_bytes

    def spy(path, data):
        written.append(path.name)
        return real(path, data)

    monkeypatch.setattr(persistence, "atomic_write_bytes", spy)
    model, _ = model_and_data
    target = model.save(tmp_path / "m")
    assert sorted(written) == sorted(p.name for p in target.iterdir())


def test_unwritable_folder_is_an_output_error(model_and_data, tmp_path):
    model, _ = model_and_data
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="model directory could not be created"):
        model.save(blocker / "m")


def test_save_unfitted_and_bad_fingerprints(tmp_path, model_and_data):
    from studentprofile.errors import NotFittedError

    with pytest.raises(NotFittedError):
        RiskModel().save(tmp_path / "x")
    model, _ = model_and_data
    with pytest.raises(ConfigError, match="fingerprints must map names to text"):
        model.save(tmp_path / "y", fingerprints={"events": 3})
    assert not (tmp_path / "y").exists()
