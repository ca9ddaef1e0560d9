"""Shared test set-up: Hypothesis profiles, the `slow` end-to-end tests, small hand-built tables."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

# numba compiles on first call, so the first example of a test is slow: no per-example deadline.
_UNHURRIED = {"deadline": None,
              "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
# "dev", the default on a developer's machine: enough examples to catch a broken kernel while
# keeping `python -m pytest -m "not slow"` short (docs/contributing.md has the timings).
settings.register_profile("dev", max_examples=20, **_UNHURRIED)
# "ci", the default when the CI variable is set (as `.ci/run` is run): three times as many.
settings.register_profile("ci", max_examples=60, **_UNHURRIED)
settings.register_profile("thorough", max_examples=1000, **_UNHURRIED)
_DEFAULT_PROFILE = "ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _DEFAULT_PROFILE))


# Fixtures that run the pipeline or the demo on a sample of OULAD (module-scoped in their files).
# Every test that uses one is marked `slow` here, so a new test that uses one is slow too; a test
# that runs the pipeline itself carries `@pytest.mark.slow`.
END_TO_END_FIXTURES = frozenset({"two_runs", "demo_run", "trained", "demo_dir"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def tiny_frames() -> dict[str, pd.DataFrame]:
    """Three students with a handful of events and one withdrawal; every answer known by hand."""
    students = pd.DataFrame(
        {
            "student_id": ["ana", "ben", "cai"],
            "cohort": ["2024", "2024", "2024"],
            "gender": ["F", "M", "F"],
        }
    )
    events = pd.DataFrame(
        {
            "student_id": ["ana", "ana", "ben", "ben", "cai"],
            "time": pd.to_datetime(
                ["2024-09-02 09:00", "2024-09-09 09:00", "2024-09-02 09:00", "2024-09-20 12:30",
                 "2024-10-01 08:00"]
            ),
            "family": ["behavioral", "behavioral", "academic", "academic", "participation"],
            "kind": ["class_attendance", "class_attendance", "assessment_score",
                     "assessment_score", "club_activity"],
            "value": [1.0, 0.0, 71.0, 48.0, 1.0],
        }
    )
    outcomes = pd.DataFrame(
        {
            "student_id": ["ben"],
            "time": pd.to_datetime(["2024-11-01"]),
            "outcome": ["withdrawn"],
        }
    )
    return {"students": students, "events": events, "outcomes": outcomes}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241130)


_MLFLOW_URI_GLOBALS = (("mlflow.tracking._tracking_service.utils", "_tracking_uri"),
                       ("mlflow.tracking._model_registry.utils", "_registry_uri"))


@pytest.fixture(autouse=True)
def _mlflow_uris_as_they_were():
    """Put MLflow's process-wide tracking and registry URIs back after each test.

    The CLI (run in-process by the tests) sets them with ``mlflow.set_tracking_uri``, as a
    command should; MLflow keeps them in module globals, which outrank ``MLFLOW_TRACKING_URI``,
    and mirrors them into the environment (which servers started by later tests inherit), so a
    URI left behind by one test (a deleted temporary store) would send a later test in the same
    worker to the wrong store (the CLI also quietens MLflow's logging through
    ``MLFLOW_LOGGING_LEVEL``, which servers started later would inherit). Only touches
    MLflow's globals when MLflow has been imported.
    """
    import sys

    env_keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_LOGGING_LEVEL")
    saved_env = {k: os.environ.get(k) for k in env_keys}
    saved = {(mod, name): getattr(sys.modules[mod], name, None)
             for mod, name in _MLFLOW_URI_GLOBALS if mod in sys.modules}
    yield
    for mod, name in _MLFLOW_URI_GLOBALS:
        if mod in sys.modules:
            setattr(sys.modules[mod], name, saved.get((mod, name)))
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
