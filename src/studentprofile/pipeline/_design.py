"""The backtest's design from a config: temporal splits, row filters, the first test date."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.pipeline._config import ExperimentConfig
from studentprofile.tables import EventTables
from studentprofile.tables._time import as_moment, days_delta

__all__ = ["Precomputed", "first_test", "make_splits", "row_mask", "show_moment"]


class Precomputed:
    """A feature builder that answers from a matrix built once (for ``backtest``)."""

    def __init__(self, X: pd.DataFrame, feature_info: Any) -> None:
        self.X = X
        self.feature_info_ = feature_info

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
        return self.X.loc[index]


def row_mask(tables: EventTables, grid: pd.DataFrame, rule: Mapping[str, Any], key: str
           ) -> np.ndarray | None:
    if not rule:
        return None
    st = tables.students.set_index("student_id")
    col = rule["column"]
    if col not in st.columns:
        raise ConfigError("the column is not in the students table", key=f"{key}.column",
                          arrived=repr(col), hint=f"columns: {', '.join(map(str, st.columns))}")
    values = grid["student_id"].map(st[col]).astype(str)
    if "startswith" in rule:
        return values.str.startswith(str(rule["startswith"])).to_numpy()
    return values.isin([str(v) for v in rule["in"]]).to_numpy()


def _moment(tables: EventTables, value: Any, key: str) -> Any:
    """Turn a config date or day count into the tables' time (the one time module's rule)."""
    return None if value is None else as_moment(value, tables.time_kind, key=key)


def make_splits(cfg: ExperimentConfig, tables: EventTables, grid: pd.DataFrame) -> Any:
    from studentprofile.evaluation import TemporalSplits

    s = cfg.splits
    if s.test_start is None:
        dates = np.sort(grid["as_of"].unique())
        if len(dates) < 3:
            raise ConfigError("a backtest needs at least three as-of dates", key="grid",
                              arrived=f"{len(dates)} date(s)",
                              hint="make grid.every smaller or widen grid.start/end")
        start = dates[(2 * len(dates)) // 3]
        step = days_delta(1.0, tables.time_kind)
        end = dates[-1] + step
    else:
        start = _moment(tables, s.test_start, "splits.test_start")
        end = _moment(tables, s.test_end, "splits.test_end")
    try:
        return TemporalSplits(
            test_start=start, test_end=end, horizon=cfg.label.horizon,
            retrain_every=s.retrain_every, gap=s.gap, max_history=s.max_history,
            train_start=_moment(tables, s.train_start, "splits.train_start"),
            every=cfg.grid.every,
        )
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"splits.{exc.key}", arrived=exc.arrived,
                          hint=exc.hint) from exc



def show_moment(value: Any) -> str:
    return str(value).replace(" 00:00:00", "")


def first_test(splits: Any) -> Any:
    d = splits.to_frame()
    first = d["test_from"].iloc[0]
    return pd.Timestamp(first) if splits.time_kind == "datetime" else float(first)

