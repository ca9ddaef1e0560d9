"""studentprofile: leakage-safe student profiling and early warning for universities.

The public surface, imported lazily so that ``import studentprofile`` stays fast:

>>> import studentprofile as sp
>>> sp.__version__  # doctest: +ELLIPSIS
'...'

- ``sp.tables.EventTables``: the canonical, validated tables;
- ``sp.datasets``: bundled real data (OULAD, UCI dropout) and ``simulate_campus``;
- ``sp.FeatureBuilder``, ``sp.FeatureSpec``, ``sp.make_grid``: leakage-safe features as of any date;
- ``sp.RiskModel``: calibrated LightGBM risk with SHAP explanations;
- ``sp.evaluate``, ``sp.evaluation``: metrics, backtests, fairness audits, reports;
- ``sp.tracking``: MLflow runs and the ``studentprofile`` model flavour.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from studentprofile import (
    _numba_cache,  # noqa: F401 - first: settles numba's cache folder before any kernel exists
    errors,
)
from studentprofile._version import __version__
from studentprofile.tables import EventTables

# a library logs; the application decides where logs go
logging.getLogger(__name__).addHandler(logging.NullHandler())

_SUBMODULES = {
    "compiled",
    "datasets",
    "evaluation",
    "explain",
    "features",
    "labels",
    "models",
    "pipeline",
    "tables",
    "tracking",
    "warning",
}

# public name -> module that defines it
_LAZY_NAMES = {
    "FeatureBuilder": "studentprofile.features",
    "FeatureSpec": "studentprofile.features",
    "FeatureInfo": "studentprofile.features",
    "make_grid": "studentprofile.features",
    "RiskModel": "studentprofile.models",
    "Explanations": "studentprofile.explain",
    "evaluate": "studentprofile.evaluation",
}

__all__ = [
    "EventTables",
    "__version__",
    "errors",
    *sorted(_SUBMODULES),
    *sorted(_LAZY_NAMES),
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"studentprofile.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'studentprofile' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public surface, what tab completion and dir() show (private names stay reachable)
    return sorted(__all__)
