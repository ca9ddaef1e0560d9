"""Where numba caches the kernels (studentprofile._numba_cache): each decision, in-process.

The real read-only install (a copied package made read-only, no HOME, import and score in a
subprocess) is in tests/hostile/test_tracking.py.
"""

from __future__ import annotations

import logging
import os
import stat

import pytest

from studentprofile import _numba_cache as nc


@pytest.fixture()
def ro(monkeypatch, tmp_path):
    """Every folder under tmp_path/'ro' counts as read-only, whoever runs the tests (root too)."""
    real = nc._writable
    ro_root = tmp_path / "ro"
    ro_root.mkdir()

    def writable(folder):
        return not str(folder).startswith(str(ro_root)) and real(folder)

    monkeypatch.setattr(nc, "_writable", writable)
    pkg = ro_root / "studentprofile"
    (pkg / "features").mkdir(parents=True)
    (pkg / "features" / "__init__.py").write_text("")
    return pkg


def test_writable_package_keeps_numba_in_tree(tmp_path):
    pkg = tmp_path / "studentprofile"
    (pkg / "features").mkdir(parents=True)
    (pkg / "features" / "__init__.py").write_text("")
    env: dict[str, str] = {}
    assert nc.configure(pkg, env) == "in-tree" and env == {}
    assert (pkg / "features" / "__pycache__").is_dir()


def test_users_own_cache_dir_is_kept(tmp_path, ro):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    assert nc.configure(ro, env) == "user" and env["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_read_only_package_goes_to_xdg_cache_then_home(tmp_path, ro, caplog):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    with caplog.at_level(logging.INFO, logger="studentprofile._numba_cache"):
        assert nc.configure(ro, env) == "redirected"
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "xdg" / "studentprofile" / "numba")
    assert len(caplog.records) == 1 and "read-only" in caplog.records[0].getMessage()
    # a read-only XDG_CACHE_HOME: HOME is next
    env = {"XDG_CACHE_HOME": str(ro.parent / "xdg"), "HOME": str(tmp_path / "home")}
    assert nc.configure(ro, env) == "redirected"
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "home" / ".cache" / "studentprofile" / "numba")


def test_no_home_goes_to_a_private_temp_folder(tmp_path, ro, monkeypatch):
    monkeypatch.setattr(nc.tempfile, "tempdir", str(tmp_path))
    env: dict[str, str] = {}  # no HOME, no XDG_CACHE_HOME
    assert nc.configure(ro, env) == "redirected"
    folder = tmp_path / f"studentprofile-numba-{os.getuid()}"
    assert env["NUMBA_CACHE_DIR"] == str(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership")
@pytest.mark.parametrize("plant", ["symlink", "group-writable", "file"])
def test_a_planted_temp_folder_is_never_used(tmp_path, plant):
    """numba's cache files are pickles: a folder someone else controls must not be read."""
    target = tmp_path / f"studentprofile-numba-{os.getuid()}"
    if plant == "symlink":
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    elif plant == "group-writable":
        target.mkdir()
        target.chmod(0o777)
    else:
        target.write_text("x")
    assert nc._private_temp(tmp_path) is None


def test_nothing_writable_switches_the_package_cache_off(ro, monkeypatch, caplog):
    monkeypatch.setattr(nc, "_private_temp", lambda base: None)
    calls = []
    monkeypatch.setattr(nc, "_disable_caching", lambda: calls.append(1))
    env: dict[str, str] = {}
    with caplog.at_level(logging.INFO, logger="studentprofile._numba_cache"):
        assert nc.configure(ro, env) == "disabled"
    assert calls == [1] and "NUMBA_CACHE_DIR" not in env
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "compiled in each process" in caplog.records[0].getMessage()


def test_numba_imported_before_us_gets_the_folder_too(tmp_path, ro, monkeypatch):
    import numba.core.config as numba_config

    monkeypatch.setattr(numba_config, "CACHE_DIR", numba_config.CACHE_DIR)  # restored after
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)  # restored after
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert nc.configure(ro) == "redirected"
    folder = str(tmp_path / "xdg" / "studentprofile" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == numba_config.CACHE_DIR == folder
