"""Where numba caches the package's compiled kernels: next to the code, or somewhere writable.

The kernels are compiled with ``cache=True``. numba keeps that cache in a ``__pycache__`` folder
next to each source file, else in the user's cache folder (``~/.cache/numba``); when neither is
writable (a read-only install run by a service user without a home, as in most campus
containers) numba refuses to even define the function (``RuntimeError: cannot cache function
'chunk_bounds': no locator available``) and ``import studentprofile`` fails.

:func:`configure` runs once when ``studentprofile`` is imported, before anything imports numba:

1. ``NUMBA_CACHE_DIR`` set and writable: the user's choice, left alone.
2. The package folders are writable (a normal or editable install): nothing to do.
3. Else ``NUMBA_CACHE_DIR`` is pointed at the first writable folder of
   ``$XDG_CACHE_HOME/studentprofile/numba``, ``$HOME/.cache/studentprofile/numba`` (only when
   ``HOME`` is set) and a private per-user folder in the temporary directory
   (``<tmp>/studentprofile-numba-<uid>``, created mode 0700 and used only when it is a real
   folder owned by this user that nobody else can write: numba's cache files are pickles, and a
   folder planted by someone else must never be read). One INFO log line says where.
4. Nothing writable: caching is switched off for the package's own kernels (compiled afresh in
   each process); one WARNING log line says so.

This module imports only the standard library (numba only in case 4, to switch caching off).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

__all__ = ["configure"]

logger = logging.getLogger(__name__)

ENV = "NUMBA_CACHE_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGE = __name__.rpartition(".")[0]


def _writable(folder: Path) -> bool:
    """Return True when ``folder`` exists (or can be made) and a file can be created in it.

    The same test numba makes (``os.makedirs`` then a temporary file); ``os.access`` is not
    enough, it says yes to root on a read-only mount.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _package_writable(package_dir: Path) -> bool:
    """Return True when numba can cache next to every source folder of the package."""
    folders = [package_dir, *sorted(p for p in package_dir.iterdir() if p.is_dir()
                                    and (p / "__init__.py").is_file())]
    return all(_writable(f / "__pycache__") for f in folders)


def _private_temp(base: Path) -> Path | None:
    """``<base>/studentprofile-numba-<uid>``: create it 0700, or accept it only if it is ours."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = base / f"studentprofile-numba-{uid if uid is not None else 'user'}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):  # a symlink or a file planted in its place
        return None
    if uid is not None and (st.st_uid != uid or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    return folder if _writable(folder) else None


def _candidates(environ: MutableMapping[str, str]) -> list[Path]:
    out = []
    if environ.get("XDG_CACHE_HOME"):
        out.append(Path(environ["XDG_CACHE_HOME"]) / "studentprofile" / "numba")
    if environ.get("HOME"):
        out.append(Path(environ["HOME"]) / ".cache" / "studentprofile" / "numba")
    return out


def _set_cache_dir(folder: str, environ: MutableMapping[str, str]) -> None:
    environ[ENV] = folder
    numba_config = sys.modules.get("numba.core.config")
    if environ is os.environ and numba_config is not None:
        # numba was imported before us and has read its config already
        numba_config.CACHE_DIR = folder  # type: ignore[attr-defined]


def _disable_caching() -> None:
    """Compile the package's own kernels without a cache (other numba users are untouched)."""
    from numba.core import dispatcher
    from numba.core.caching import NullCache

    original = dispatcher.Dispatcher.enable_caching
    if getattr(original, "_studentprofile", False):
        return

    def enable_caching(self: Any) -> None:
        module = getattr(self.py_func, "__module__", "") or ""
        if module == _PACKAGE or module.startswith(_PACKAGE + "."):
            self._cache = NullCache()
        else:
            original(self)

    enable_caching._studentprofile = True  # type: ignore[attr-defined]
    dispatcher.Dispatcher.enable_caching = enable_caching  # type: ignore[method-assign]


def configure(
    package_dir: Path = PACKAGE_DIR,
    environ: MutableMapping[str, str] | None = None,
) -> str:
    """Make sure numba can cache the package's kernels, or switch their cache off.

    Parameters
    ----------
    package_dir : Path
        The installed package folder (default: this package's).
    environ : mapping, optional
        The environment to read and set (default: ``os.environ``).

    Returns
    -------
    str
        What was decided: ``"user"`` (``NUMBA_CACHE_DIR`` kept), ``"in-tree"`` (next to the
        code), ``"redirected"`` (``NUMBA_CACHE_DIR`` set to a writable folder) or
        ``"disabled"``.

    Examples
    --------
    >>> env = {"NUMBA_CACHE_DIR": tempfile.gettempdir()}
    >>> configure(environ=env)
    'user'
    """
    env = os.environ if environ is None else environ
    given = env.get(ENV)
    if given and _writable(Path(given)):
        return "user"
    if _package_writable(package_dir):
        return "in-tree"
    folder = next((f for f in _candidates(env) if _writable(f)), None)
    if folder is None:
        try:
            folder = _private_temp(Path(tempfile.gettempdir()))
        except OSError:  # no usable temporary directory at all
            folder = None
    if folder is not None:
        _set_cache_dir(str(folder), env)
        logger.info(
            "the package folder %s is read-only: numba caches studentprofile's kernels in %s "
            "(set %s to choose another folder)", package_dir, folder, ENV,
        )
        return "redirected"
    try:
        _disable_caching()
    except ImportError:  # numba missing: the package's own import will say so
        return "disabled"
    logger.warning(
        "no writable folder for numba's cache (package folder %s read-only, no writable "
        "XDG_CACHE_HOME, HOME or temporary directory): studentprofile's kernels are compiled "
        "in each process; set %s to a writable folder to cache them", package_dir, ENV,
    )
    return "disabled"


configure()
