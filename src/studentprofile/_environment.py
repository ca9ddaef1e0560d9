"""Facts about the environment a run or a model was made in: package versions, the git commit.

The package's one place for them: the model file (``models``) and the run's facts and MLflow
tags (``pipeline``) record the same versions. This module sits at the bottom of the layers with
:mod:`studentprofile.errors`: it imports nothing else from the package but ``_version``.

Examples
--------
>>> v = package_versions()
>>> sorted(v)[:3], v["studentprofile"] == __version__
(['lightgbm', 'mlflow', 'numba'], True)
"""

from __future__ import annotations

import importlib.metadata as _md
import platform
import subprocess
from pathlib import Path

from studentprofile._version import __version__

__all__ = ["VERSIONED_PACKAGES", "git_commit", "package_versions"]

#: The packages whose versions a model file and a run record (with Python and studentprofile).
VERSIONED_PACKAGES = ("numpy", "pandas", "scikit-learn", "lightgbm", "shap", "numba", "mlflow")


def package_versions() -> dict[str, str]:
    """Return the versions of Python, studentprofile and :data:`VERSIONED_PACKAGES`.

    A package that is not installed is recorded as ``"not installed"``.

    Returns
    -------
    dict of str -> str

    Examples
    --------
    >>> package_versions()["python"].count(".")
    2
    """
    out = {"python": platform.python_version(), "studentprofile": __version__}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit(where: str | Path) -> str | None:
    """Return the git commit checked out at ``where``, or None (no git, not a repository).

    Parameters
    ----------
    where : str or Path
        A folder inside the repository.

    Returns
    -------
    str or None

    Examples
    --------
    >>> import tempfile
    >>> git_commit(tempfile.mkdtemp()) is None
    True
    """
    try:
        res = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (res.stdout.strip() or None) if res.returncode == 0 else None
