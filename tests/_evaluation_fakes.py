"""Small stand-ins for the feature builder and synthetic campus tables, for evaluation tests.

The real ``FeatureBuilder`` and ``RiskModel`` are built on other branches; the backtest only
needs ``.transform(tables, grid)`` and a scikit-learn classifier, so these fakes are enough.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studentprofile.tables import EventTables

ORIGIN = pd.Timestamp("2020-01-06")


def synthetic_tables(
    n_students: int = 300, days: float = 400.0, seed: int = 0, datetimes: bool = False
) -> EventTables:
    """Float-time tables (or datetimes from ORIGIN): weekly LMS clicks that fade before a
    student withdraws."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i:04d}" for i in range(n_students)], dtype=object)
    risk = rng.random(n_students)
    start = rng.uniform(0, days / 2, n_students)
    withdraws = rng.random(n_students) < 0.15 + 0.5 * risk
    t_wd = np.where(withdraws, start + rng.uniform(20, days / 2, n_students), np.nan)
    rows = []
    for i in range(n_students):
        end = t_wd[i] if withdraws[i] else days
        t = start[i]
        while t < min(end, days):
            # engagement falls in the 40 days before withdrawal
            fade = 1.0
            if withdraws[i] and t_wd[i] - t < 40:
                fade = max(0.1, (t_wd[i] - t) / 40)
            n_click = rng.poisson(5 * (1.2 - risk[i]) * fade)
            rows.append((ids[i], t, float(n_click)))
            t += 7.0
    events = pd.DataFrame(rows, columns=["student_id", "time", "value"])
    events["family"] = "behavioral"
    events["kind"] = "lms_click"
    events["known_at"] = events["time"] + 1.0
    outcomes = pd.DataFrame(
        {
            "student_id": ids[withdraws],
            "time": t_wd[withdraws],
            "outcome": "withdrawn",
        }
    )
    students = pd.DataFrame(
        {
            "student_id": ids,
            "gender": rng.choice(["F", "M"], n_students),
            "disability": rng.choice(["N", "N", "N", "Y", None], n_students),
            "start": start,
        }
    )
    if datetimes:
        for frame, cols in ((events, ["time", "known_at"]), (outcomes, ["time"]),
                            (students, ["start"])):
            for col in cols:
                frame[col] = ORIGIN + pd.to_timedelta(frame[col], unit="D")
    return EventTables(
        students=students,
        events=events,
        outcomes=outcomes,
        audit_attributes=["gender", "disability"],
    )


def grid_for(tables: EventTables, every: float = 7.0, until: float = 400.0) -> pd.DataFrame:
    """Every student every ``every`` days from their start to ``until``."""
    st = tables.students
    starts = tables.to_days(st["start"]) - (
        tables.to_days(pd.Series([ORIGIN])) if tables.time_kind == "datetime" else 0.0
    )
    rows = []
    for sid, start in zip(st["student_id"], starts, strict=True):
        for t in np.arange(np.ceil(start / every) * every, until, every):
            rows.append((sid, float(t)))
    grid = pd.DataFrame(rows, columns=["student_id", "as_of"])
    if tables.time_kind == "datetime":
        grid["as_of"] = ORIGIN + pd.to_timedelta(grid["as_of"], unit="D")
    return grid


class CausalBuilder:
    """Clicks known before as_of: total over the last 14 days, weeks active, and days since last."""

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        ev = tables.events[["student_id", "known_at", "value"]].copy()
        ev["known_at"] = tables.to_days(ev["known_at"])
        out = []
        for as_of_value, part in grid.groupby("as_of", sort=False):
            as_of = float(tables.to_days(pd.Series([as_of_value]))[0])
            known = ev[ev["known_at"] < as_of]
            recent = known[known["known_at"] >= as_of - 14]
            g_recent = recent.groupby("student_id")["value"].sum()
            g_all = known.groupby("student_id")["value"].agg(["count", "mean"])
            last = known.groupby("student_id")["known_at"].max()
            ids = part["student_id"]
            frame = pd.DataFrame(
                {
                    "clicks_14d": ids.map(g_recent).fillna(0.0).to_numpy(),
                    "weeks_active": ids.map(g_all["count"]).fillna(0.0).to_numpy(),
                    "mean_clicks": ids.map(g_all["mean"]).fillna(0.0).to_numpy(),
                    "days_since_last": (as_of - ids.map(last)).fillna(99.0).to_numpy(),
                },
                index=pd.MultiIndex.from_arrays(
                    [ids.to_numpy(), part["as_of"].to_numpy()], names=["student_id", "as_of"]
                ),
            )
            out.append(frame)
        return pd.concat(out)


class LeakyBuilder:
    """Deliberately looks ahead: counts every event ever, and whether the student ever withdrew."""

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        counts = tables.events.groupby("student_id")["value"].sum()
        withdrew = set(tables.outcomes["student_id"])
        ids = grid["student_id"]
        return pd.DataFrame(
            {
                "all_clicks": ids.map(counts).fillna(0.0).to_numpy(),
                "ever_withdrew": ids.isin(withdrew).astype(float).to_numpy(),
            },
            index=pd.MultiIndex.from_arrays(
                [ids.to_numpy(), grid["as_of"].to_numpy()], names=["student_id", "as_of"]
            ),
        )


class FittingBuilder(CausalBuilder):
    """A builder with sklearn manners whose fit records what it saw (like FeatureBuilder)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def get_params(self, deep: bool = True) -> dict:
        return {"scale": self.scale}

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, tables: EventTables, grid=None):
        self.fitted_on_until_ = float(tables.to_days(tables.events["known_at"]).max())
        self.feature_names_out_ = ["clicks_14d", "weeks_active", "mean_clicks", "days_since_last"]
        self.feature_info_ = {name: name for name in self.feature_names_out_}
        return self


class CohortBuilder(CausalBuilder):
    """Adds a cohort-relative feature: clicks over the last 14 days as a z-score among the grid
    rows of the same as-of date."""

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        X = super().transform(tables, grid)
        g = X.groupby(level="as_of")["clicks_14d"]
        X["clicks_z"] = ((X["clicks_14d"] - g.transform("mean")) / g.transform("std")).fillna(0)
        return X
