"""Shared test set-up: Hypothesis profiles and small hand-built tables."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

# numba compiles on first call, so the first example of a test is slow: no per-example deadline.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
