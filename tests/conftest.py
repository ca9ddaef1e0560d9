"""Shared test set-up: Hypothesis profiles, expensive end-to-end runs, small hand-built tables."""

from __future__ import annotations

import logging
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


# --------------------------------------------------------------------------------------------------
# End-to-end runs shared by several test files (session scope: each runs once per test session).
# Tests that use them are marked `slow`; they must only read what the runs wrote.


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory):
    """The demo config on 4% of OULAD, run twice into one local MLflow store.

    Returns ``(first, second, root, log_lines)``: the two ``RunResult`` objects (paths relative
    to ``root``), the folder both ran in and every log line written during the runs. Used by
    test_pipeline_run.py (tracking, privacy, model card) and test_pipeline_weekly.py (the weekly
    job on the first run's model).
    """
    from studentprofile.pipeline import demo_config, run

    root = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.chdir(root)
    handler = _LogCapture()
    logging.getLogger().addHandler(handler)
    old = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        cfg = demo_config(sample_students=0.04)
        first = run(cfg)
        second = run(cfg)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(old)
        mp.undo()
    return first, second, root, handler.lines


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
