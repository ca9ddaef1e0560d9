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
