"""Hostile inputs and environments for tracking/ and the read-only install (issue 12: 8, 11, 12,
13, 15): tampered flavour files, ids the privacy scan must see through escapes, metric names
that collide or carry ids, tracking stores MLflow refuses, a package nobody may write into."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp

PACKAGE = Path(sp.__file__).resolve().parent


# ------------------------------------------------------------------ 12.13 read-only install
def _read_only_runner():
    """A preexec_fn under which chmod'ed folders are really read-only, or a reason why not.

    Root ignores permission bits through CAP_DAC_OVERRIDE; dropping it (and
    CAP_DAC_READ_SEARCH) from the child's bounding set makes root obey them, while everything
    root owns (the interpreter under /root) stays readable through the owner bits.
    """
    if not hasattr(os, "geteuid"):
        return None, "needs POSIX permissions"
    if os.geteuid() != 0:
        return (lambda: None), None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        return None, f"no libc: {exc}"

    def drop() -> None:
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop, None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the read-only install test must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def read_only_install(tmp_path_factory):
    """The package copied into a folder nobody may write, a read-only XDG cache, no HOME."""
    pre, why = _read_only_runner()
    if pre is None:
        _skip_or_fail(why)
    base = tmp_path_factory.mktemp("ro")
    site = base / "site"
    shutil.copytree(PACKAGE, site / "studentprofile",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    xdg = base / "xdg"
    xdg.mkdir()
    tmp = base / "tmp"
    tmp.mkdir()
    for folder in [xdg, *(Path(r) for r, _, _ in os.walk(site))]:
        folder.chmod(0o555)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOME", "NUMBA_CACHE_DIR", "PYTHONPATH", "XDG_CACHE_HOME", "TMPDIR")}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(xdg), TMPDIR=str(tmp))

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *argv], env=env, cwd=base, preexec_fn=pre,
                              capture_output=True, text=True, timeout=600)

    probe = run("-c", f"open({str(site / 'probe')!r}, 'w')")
    if probe.returncode == 0:
        _skip_or_fail("a chmod'ed folder is still writable here")
    yield run, site, tmp
    for folder in [xdg, *(Path(r) for r, _, _ in os.walk(site))]:
        folder.chmod(0o755)


def _written_into(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*")
                  if p.suffix in (".nbi", ".nbc", ".pyc") or p.name == "__pycache__")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    pytest.importorskip("mlflow")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"attendance": rng.uniform(size=200), "score": rng.normal(60, 10, 200)})
    y = (rng.uniform(size=200) < 1 - X["attendance"]).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=20).fit(X, y)
    root = tmp_path_factory.mktemp("model")
    d = sp.tracking.save_model(model, root / "model", tiers={"high": 0.5})
    X.head(5).to_csv(root / "features.csv", index=False)
    return d, root / "features.csv", model.predict_proba(X.head(5))[:, 1]


def test_read_only_install_without_home_imports_and_scores(read_only_install, saved_model):
    run, site, tmp = read_only_install
    model_dir, features, expected = saved_model
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout);"
        "import studentprofile; print('FILE', studentprofile.__file__);"
        "from studentprofile.cli import main;"
        f"code = main(['score', '--model', {str(model_dir)!r}, '--input', {str(features)!r}, "
        "'--json']);"
        # and one cached kernel for sure (the one the bug report named)
        "from studentprofile.features._kernels import chunk_bounds; chunk_bounds(10, 3);"
        "sys.exit(code)"
    )
    r = run("-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"FILE {site}" in r.stdout
    doc = json.loads(r.stdout[r.stdout.index("{"):])
    assert [s["risk"] for s in doc["scores"]] == pytest.approx(expected, abs=1e-9)
    cache = tmp / f"studentprofile-numba-{os.getuid()}"
    assert f"numba caches studentprofile's kernels in {cache}" in r.stdout
    assert any(cache.rglob("*.nbi")), "the kernels were cached in the private temp folder"
    assert _written_into(site) == []


def test_read_only_install_with_no_writable_folder_compiles_without_cache(read_only_install):
    run, site, tmp = read_only_install
    code = (
        "import logging, sys, tempfile; logging.basicConfig(level=logging.INFO, stream=sys.stdout);"
        f"tempfile.tempdir = {str(site)!r};"  # the temporary directory is read-only too
        "import studentprofile.features._kernels as k;"
        "print('BOUNDS', k.chunk_bounds(10, 3).tolist())"
    )
    r = run("-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    from studentprofile.features._kernels import chunk_bounds

    assert f"BOUNDS {chunk_bounds(10, 3).tolist()}" in r.stdout
    assert "WARNING:studentprofile._numba_cache:no writable folder for numba's cache" in r.stdout
    assert _written_into(site) == []


# ------------------------------------------------------------------ 12.12 / 13.5 metric names
IDS = [f"{i:06d}" for i in range(1, 41)] + ["Zoë-1", "Zoé-1", "王小明", "a/b", "a_b"]


class _IdLikeAudit:
    """A fairness audit of an attribute that is unique per student, as an audit at
    ``min_group_size=1`` would give (the evaluation now refuses that; tracking must not rely
    on it): every group is a student id, each group shown."""

    def __init__(self, ids: list[str], suppressed: bool) -> None:
        from studentprofile.evaluation import fairness_audit

        n = len(ids)
        rng = np.random.default_rng(0)
        base = fairness_audit(y_true=rng.integers(0, 2, 2 * n), scores=rng.uniform(size=2 * n),
                              attributes=pd.DataFrame({"student_number": ["a", "b"] * n}),
                              k=0.3, min_group_size=5, n_boot=0)
        frame = base.to_frame()
        rows = pd.concat([frame.iloc[[i % len(frame)]] for i in range(n)], ignore_index=True)
        rows["group"] = ids
        rows["suppressed"] = suppressed
        self._frame, self._summary = rows, base.summary()

    def to_frame(self) -> pd.DataFrame:
        return self._frame.copy()

    def summary(self) -> pd.DataFrame:
        return self._summary.copy()


@pytest.fixture()
def store(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path


@pytest.mark.parametrize("suppressed", [False, True])
def test_no_student_id_in_a_metric_name_from_an_id_like_audit_attribute(store, suppressed):
    from mlflow import MlflowClient

    uri, tmp = store
    rep = sp.tracking.log_experiment(tracking_uri=uri, experiment="t", run_name="r",
                                     fairness=_IdLikeAudit(IDS, suppressed),
                                     artifact_location=tmp / "a")
    assert rep.complete, rep.not_logged
    names = list(MlflowClient(tracking_uri=uri).get_run(rep.run_id).data.metrics)
    assert names and all(n.startswith("fairness.student_number.") for n in names)
    assert sp.tracking.find_identifiers(tmp / "a", []) == {}
    hits = sp.tracking.scan_run(uri, rep.run_id, IDS)
    assert not any(where.startswith("metric") for where in hits)
    if suppressed:  # suppressed groups are counted, never named, anywhere in the run
        assert hits == {}
    else:  # shown groups are named in the audit table only, never in a metric name
        assert set(hits) == {"artifact fairness/fairness_groups.csv"}


def test_hostile_metric_keys_never_collide_or_break_the_run(store):
    from mlflow import MlflowClient

    uri, tmp = store
    keys = {"income.<30k": 1.0, "income.>30k": 2.0, "income._30k": 3.0, "a b": 4.0, "a_b": 5.0,
            "=HYPERLINK(\"x\")": 6.0, "../../etc": 7.0, "": 8.0, "性别.F": 9.0, "x" * 400: 10.0,
            "ok.name": 11.0}
    rep = sp.tracking.log_experiment(tracking_uri=uri, experiment="t", run_name="r",
                                     metrics=keys, artifact_location=tmp / "a")
    assert rep.complete, rep.not_logged
    logged = MlflowClient(tracking_uri=uri).get_run(rep.run_id).data.metrics
    assert sorted(logged.values()) == sorted(keys.values())  # none lost to a collision
    assert logged["ok.name"] == 11.0
    doc = json.loads(next((tmp / "a").rglob("metric_names.json")).read_text(encoding="utf-8"))
    assert {doc["metrics"][name]: v for name, v in logged.items()} == keys  # reversible


# ------------------------------------------------------------------ 12.11 the privacy scan
HOSTILE_IDS = ["Ana Maria 2019", 'O"Brien-77', "Smith, Ann 42", "Tom & Jerry 9", "Zoë-Müller-1",
               "王小明-2023", "O'Neil 5"]


def _writers():
    import html

    def as_json(ids):  # json.dumps escapes every non-ASCII character as \uXXXX
        return json.dumps({"students": ids})

    def as_pandas_json(ids):  # pandas escapes "/" too
        return pd.DataFrame({"id": ids}).to_json(orient="records")

    def as_html(ids):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in ids) + "</ul>"

    def as_html_entities(ids):  # every character a numeric entity
        return "".join(f"<td>{''.join(f'&#{ord(c)};' for c in i)}</td>" for i in ids)

    def as_csv(ids):
        return pd.DataFrame({"id": ids, "x": range(len(ids))}).to_csv(index=False)

    def as_json_in_html(ids):
        return f"<script>var d = {html.escape(json.dumps(ids))};</script>"

    def as_url(ids):
        from urllib.parse import quote

        return " ".join(f"https://x/students/{quote(i)}/card" for i in ids)

    return [as_json, as_pandas_json, as_html, as_html_entities, as_csv, as_json_in_html, as_url]


@pytest.mark.parametrize("write", _writers(), ids=lambda f: f.__name__)
def test_scan_finds_every_hostile_id_however_the_file_escapes_it(write, tmp_path):
    text = write(HOSTILE_IDS)
    assert sp.tracking.scan_text(text, set(HOSTILE_IDS)) == sorted(HOSTILE_IDS)
    (tmp_path / "f.txt").write_text(text, encoding="utf-8")
    assert sp.tracking.find_identifiers(tmp_path, HOSTILE_IDS) == {"f.txt": sorted(HOSTILE_IDS)}


@pytest.mark.parametrize("text, found", [
    ("id 12345 here", []),                      # a longer number
    ("ratio 0.1234 and 1234.5", []),            # digits of a decimal
    ("x1234 and 1234x", []),                    # inside a longer word
    ("A-12345", []),                            # a longer id
    ("1234", ["1234"]),
    ("id=1234, next", ["1234"]),
    ("students/1234/card.json", ["1234"]),
    ('{"id": 1234.0}', ["1234"]),               # an integer id written as a float
    ("card_1234.html", ["1234"]),               # "_" separates words in file names
])
def test_scan_matches_whole_ids_only(text, found):
    assert sp.tracking.scan_text(text, {"1234", "A-123"}) == found


# ------------------------------------------------------------------ 12.8 tampered flavour files
@pytest.fixture(scope="module")
def flavour_model(tmp_path_factory):
    pytest.importorskip("mlflow")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"attendance": rng.uniform(size=200), "score": rng.normal(60, 10, 200)})
    y = (rng.uniform(size=200) < 1 - X["attendance"]).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=20).fit(X, y)
    root = tmp_path_factory.mktemp("flavour")
    return sp.tracking.save_model(model, root / "model", tiers={"high": 0.19},
                                  model_card="# Card\n", input_example=X.head(1))


@pytest.fixture()
def copy(flavour_model, tmp_path):
    return Path(shutil.copytree(flavour_model, tmp_path / "model"))


def _rehash(model_dir: Path) -> None:
    """Re-write the flavour manifest over the current files (a careful attacker)."""
    from studentprofile.tracking import _flavour

    (model_dir / "studentprofile" / "flavour.sha256").write_text(
        "".join(_flavour._manifest_lines(model_dir)))


def _load_both_ways(model_dir: Path, match: str) -> None:
    import mlflow

    from studentprofile.errors import ModelIntegrityError

    with pytest.raises(ModelIntegrityError, match=match):
        sp.tracking.load_model(str(model_dir))
    with pytest.raises(ModelIntegrityError, match=match):
        mlflow.pyfunc.load_model(str(model_dir))


def _edit_json(path: Path, **changes) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


def test_the_untouched_model_loads_and_passes_sha256sum(copy):
    assert sp.tracking.load_model(str(copy)).tiers == {"high": 0.19}
    if shutil.which("sha256sum"):
        r = subprocess.run(["sha256sum", "-c", "studentprofile/flavour.sha256"], cwd=copy,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("edit, match", [
    (lambda d: _edit_json(d / "studentprofile" / "settings.json", tiers={"high": 0.01}),
     r"settings\.json: the file's SHA-256 does not match the flavour's manifest"),
    (lambda d: _edit_json(d / "studentprofile" / "settings.json", top_reasons=50),
     r"settings\.json: the file's SHA-256 does not match"),
    (lambda d: (d / "studentprofile" / "model_card.md").write_text("# All fair\n"),
     r"model_card\.md: the file's SHA-256 does not match"),
    (lambda d: (d / "studentprofile" / "risk_model" / "metadata.json").write_text("{}"),
     r"metadata\.json: the file's SHA-256 does not match"),
    (lambda d: (d / "studentprofile" / "flavour.sha256").unlink(),
     "the flavour's SHA-256 manifest is missing"),
    (lambda d: (d / "studentprofile" / "flavour.sha256").write_text(
        "0" * 64 + "  ../outside.json\n"), "path inside the model folder"),
    (lambda d: (d / "studentprofile" / "flavour.sha256").write_text(
        "0" * 64 + "  studentprofile/settings.json\n"), "files the flavour reads are not in"),
    (lambda d: (d / "MLmodel").write_text((d / "MLmodel").read_text().replace(
        "high: 0.19", "high: 0.01")),
     r"(?s)MLmodel no longer says .*changed: studentprofile\.tiers"),
    (lambda d: (d / "MLmodel").write_text((d / "MLmodel").read_text().replace(
        "data: studentprofile", "data: ../tiers/studentprofile")),
     "data folder must be 'studentprofile' inside the model folder|MLmodel no longer says"),
])
def test_a_tampered_flavour_file_is_refused(copy, edit, match):
    edit(copy)
    _load_both_ways(copy, match)


def test_a_model_card_added_after_saving_is_refused(flavour_model, tmp_path):
    from studentprofile.errors import ModelIntegrityError

    model = sp.RiskModel.load(flavour_model / "studentprofile" / "risk_model")
    d = sp.tracking.save_model(model, tmp_path / "m")  # no card
    (d / "studentprofile" / "model_card.md").write_text("# Approved by the ethics board\n")
    with pytest.raises(ModelIntegrityError, match="not listed: .*model_card.md"):
        sp.tracking.load_model(str(d))


@pytest.mark.parametrize("settings, match", [
    ({"tiers": {"high": "abc"}}, r"tiers\['high'\] = 'abc'"),
    ({"tiers": {"high": 1.5}}, r"tiers\['high'\] = 1\.5"),
    ({"tiers": {"high": -0.1}}, r"tiers\['high'\] = -0\.1"),
    ({"tiers": {"high": float("nan")}}, r"tiers\['high'\] = nan"),
    ({"tiers": {"high": True}}, r"tiers\['high'\] = True"),
    ({"tiers": {"": 0.2}}, r"tiers\[''\] = 0\.2"),
    ({"tiers": ["high", 0.2]}, "tiers must map names"),
    ({"tiers": {}, "top_reasons": "3"}, r"top_reasons must be an integer in \[0, 100\]"),
    ({"tiers": {}, "top_reasons": 10**9}, r"top_reasons must be an integer"),
])
def test_bad_settings_are_refused_even_with_a_rehashed_manifest(copy, settings, match):
    (copy / "studentprofile" / "settings.json").write_text(json.dumps(settings))
    _rehash(copy)
    _load_both_ways(copy, match)


def test_audit_reports_the_tampering_instead_of_every_file_matches(copy, capsys):
    from studentprofile import cli

    _edit_json(copy / "studentprofile" / "settings.json", tiers={"high": 0.01})
    code = cli.main(["audit", "--model", str(copy)])
    err = capsys.readouterr()
    assert code == cli.EXIT_ERROR == 2
    assert "every model file matches" not in err.out
    assert "settings.json: the file's SHA-256 does not match the flavour's manifest" in err.err


# ------------------------------------------------------------------ 12.15 end to end (slow)
@pytest.fixture(scope="module")
def tiny_campus(tmp_path_factory):
    root = tmp_path_factory.mktemp("campus")
    t = sp.datasets.simulate_campus(n_students=120, seed=3)
    t.students.to_csv(root / "students.csv", index=False)
    t.events[t.events["family"] == "academic"].to_parquet(root / "events.parquet")
    t.outcomes.to_csv(root / "outcomes.csv", index=False)
    (root / "campus.toml").write_text(
        'name = "campus"\n'
        '[data]\naudit_attributes = ["gender"]\n'
        '[data.students]\npath = "students.csv"\n'
        'parse_dates = ["entry_date", "term_start", "term_end"]\n'
        '[data.events]\npath = "events.parquet"\n'
        '[data.outcomes]\npath = "outcomes.csv"\nparse_dates = ["time"]\n'
        '[grid]\nevery = 28\nper = "cohort"\n'
        '[features]\npresets = ["academic"]\n'
        '[label]\noutcome = ["withdrawn", "failed"]\nhorizon = 30\n'
        "[model]\nn_estimators = 20\n"
        "[evaluation]\nmin_group_size = 5\nn_boot = 0\nexplain_rows = 20\n"
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("uri", ["bogus://x", "./mlruns"])
def test_train_with_a_store_mlflow_refuses_exits_4_and_keeps_the_run(tiny_campus, uri,
                                                                     monkeypatch, capsys):
    from studentprofile import cli

    monkeypatch.chdir(tiny_campus)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    code = cli.main(["train", "--config", "campus.toml", "--tracking-uri", uri, "--json",
                     "--quiet"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_PARTIAL == 4, err[-2000:]
    assert "Traceback" not in err and f"MLflow could not track to {uri!r}" in err
    doc = json.loads(out)
    assert doc["complete"] is False and doc["tracking"]["run_id"] is None
    assert doc["tracking"]["not_logged"][0]["what"] == "run"
    run_dir = tiny_campus / doc["run_dir"]
    assert (run_dir / "model" / "MLmodel").is_file() and (run_dir / "run.json").is_file()
    assert sp.tracking.load_model(str(run_dir / "model")).tiers
