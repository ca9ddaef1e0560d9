"""The demo experiment: bundled OULAD, withdrawal within 60 days (``examples/oulad_demo.toml``)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._toml import Source

__all__ = ["DEMO_CONFIG_NAME", "demo_config", "demo_toml"]

DEMO_CONFIG_NAME = "oulad_demo.toml"


def demo_toml() -> str:
    """Return the text of the demo config (the same file as ``examples/oulad_demo.toml``)."""
    return files("studentprofile.pipeline").joinpath(DEMO_CONFIG_NAME).read_text(encoding="utf-8")


def demo_config(
    *,
    sample_students: float | int | None = None,
    output_dir: str | Path | None = None,
    **tracking: Any,
) -> ExperimentConfig:
    """Return the demo config, optionally on a sample of students or with other tracking.

    Parameters
    ----------
    sample_students : float or int, optional
        Run on a seeded share or number of students (quick runs, tests).
    output_dir : str or Path, optional
        Where runs go (default ``./studentprofile-runs``).
    **tracking
        ``[tracking]`` settings to override (``uri=``, ``enabled=``, ...).

    Returns
    -------
    ExperimentConfig

    Examples
    --------
    >>> cfg = demo_config(sample_students=0.05)
    >>> cfg.name, cfg.data.dataset, cfg.data.sample_students, cfg.label.horizon
    ('oulad-withdrawal-60d', 'oulad', 0.05, 60.0)
    """
    data = tomllib.loads(demo_toml())
    if sample_students is not None:
        data["data"]["sample_students"] = sample_students
    if output_dir is not None:
        tracking["output_dir"] = str(output_dir)
    data["tracking"].update({k: v for k, v in tracking.items() if v is not None})
    return ExperimentConfig.from_dict(data, source=Source(DEMO_CONFIG_NAME, demo_toml()))
