"""Reusing a saved run: its config, its fitted feature builder, one student's feature rows.

The CLI's ``explain`` and the weekly job (``warn``) rebuild what a run built from its folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.pipeline._design import first_test, make_splits
from studentprofile.pipeline._tables import load_tables
from studentprofile.pipeline._toml import Source
from studentprofile.tables import EventTables

__all__ = ["builder_tables", "config_of_run", "fitted_builder", "student_features"]


def config_of_run(run_dir: str | os.PathLike[str]) -> ExperimentConfig:
    """Read back the config a run used (its ``config.json``).

    Parameters
    ----------
    run_dir : str or Path
        A folder written by :func:`run`.

    Returns
    -------
    ExperimentConfig
    """
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError("this folder holds no readable run config", key="run",
                          arrived=f"{str(path)!r}: {type(exc).__name__}",
                          hint="pass a folder written by `studentprofile train` or `demo`"
                          ) from exc
    if not isinstance(data, dict):
        raise ConfigError("the run config is not a JSON object", key="run",
                          arrived=f"{str(path)!r}: {type(data).__name__}",
                          hint="pass a folder written by `studentprofile train` or `demo`")
    # paths in a saved config are absolute; None (null) means the default
    return ExperimentConfig.from_dict(data, source=Source(str(path)))


def student_features(
    cfg: ExperimentConfig, student_ids: Any, *, tables: EventTables | None = None
) -> pd.DataFrame:
    """Rebuild the feature rows of some students exactly as :func:`run` built them.

    The builder is fitted as in the run (on what was known before the first test date) and
    only the named students' grid rows are transformed.

    Parameters
    ----------
    cfg : ExperimentConfig
        The run's config (see :func:`config_of_run`).
    student_ids : sequence
        The students.
    tables : EventTables, optional
        The tables (default: loaded from ``cfg.data``).

    Returns
    -------
    DataFrame
        Indexed by (``student_id``, ``as_of``).

    Raises
    ------
    SchemaError
        A student with no grid rows (unknown, or never enrolled in the grid's period).
    """
    from studentprofile.features import make_grid

    if tables is None:
        tables = load_tables(cfg)
    ids = [student_ids] if isinstance(student_ids, str | int) else list(student_ids)
    grid = make_grid(tables, every=cfg.grid.every, per=cfg.grid.per, start=cfg.grid.start,
                     end=cfg.grid.end)
    known = set(tables.students["student_id"].astype(str))
    sid = tables.students["student_id"]
    wanted = [i for i in sid if str(i) in {str(x) for x in ids}]
    missing = [x for x in ids if str(x) not in known]
    if missing:
        raise SchemaError(
            "no such student in the tables",
            table="students",
            column="student_id",
            rule="known-student",
            arrived=f"{len(missing)} unknown id(s)",
            hint="check the id (as written in the students table)",
        )
    sub = grid[grid["student_id"].isin(wanted)].reset_index(drop=True)
    if not len(sub):
        raise SchemaError("the student has no as-of dates in the grid", table="grid",
                          rule="rows", hint="the student was not enrolled in the grid's period")
    return fitted_builder(cfg, tables, grid).transform(tables, sub)


def builder_tables(cfg: ExperimentConfig, tables: EventTables,
                   grid: pd.DataFrame) -> EventTables:
    """Return what the run's feature builder was fitted on.

    What was known before the first test date.
    """
    return tables.known_before(first_test(make_splits(cfg, tables, grid)))


def fitted_builder(cfg: ExperimentConfig, tables: EventTables, grid: pd.DataFrame,
                   fit_tables: EventTables | None = None) -> Any:
    """Fit the run's feature builder as :func:`run` fitted it.

    On what was known before the first test date (:func:`builder_tables`, or ``fit_tables``
    when the caller has them already), so rebuilt rows match the model's columns and
    categories.
    """
    from studentprofile.features import FeatureBuilder
    from studentprofile.pipeline._presets import build_spec

    builder = FeatureBuilder(build_spec(cfg.features))
    fit_on = builder_tables(cfg, tables, grid) if fit_tables is None else fit_tables
    builder.fit(fit_on, grid)
    return builder
