"""Alert policy: risk tiers, hysteresis and cool-down, so that alerts do not flap.

A score series (one calibrated risk per student and as-of date) becomes

1. a *raw tier* per row, from probability thresholds or from top-k fractions of each date's
   cohort;
2. a *tier* per row, smoothed by hysteresis: a student enters a tier after ``enter_after``
   consecutive as-of dates at or above it and leaves after ``exit_after`` consecutive dates below;
3. *alerts*: a row raises an alert when the student's tier rises to ``alert_from`` or above,
   unless the student's previous alert is less than ``cooldown_days`` old (an escalation to a
   higher tier may skip the cool-down).

The state machine is one numba kernel (``_kernels.alert_state_kernel``); its rules are spelled out
in its docstring and in ``docs/early-warning.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.warning import _kernels
from studentprofile.warning._inputs import (
    days_of,
    keyed_frame,
    keyword_only,
    numeric_column,
    raise_repeated,
)
from studentprofile.warning._reasons import reasons_lookup

__all__ = ["AlertPolicy"]

logger = logging.getLogger(__name__)

_MODES = ("probability", "top_fraction")


@keyword_only
@dataclass(frozen=True, kw_only=True)
class AlertPolicy:
    """Tiers, hysteresis and cool-down that turn risk scores into alerts.

    Parameters are keyword-only (positional use still works, with a FutureWarning, for one
    release).

    Parameters
    ----------
    tiers : mapping of str to float
        Tier name -> threshold. With ``mode="probability"`` a row reaches a tier when its score is
        at least the threshold (higher threshold = higher tier); with ``mode="top_fraction"``
        when it is among the top ``fraction`` of that as-of date's scores (smaller fraction =
        higher tier; ties at the cut-off all reach the tier).
    mode : {"probability", "top_fraction"}, default "probability"
        How thresholds are read.
    enter_after : int, default 1
        Consecutive as-of dates at or above a tier needed to enter it.
    exit_after : int, default 1
        Consecutive as-of dates below a tier needed to leave it.
    cooldown_days : float, default 0
        Minimum days between two alerts for one student.
    alert_from : str, optional
        The lowest tier that raises alerts (default: the lowest tier).
    escalation_bypasses_cooldown : bool, default True
        An alert at a higher tier than the student's previous alert is raised even inside the
        cool-down.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.Series(
    ...     [0.2, 0.7, 0.3, 0.8, 0.9],
    ...     index=pd.MultiIndex.from_tuples(
    ...         [("ana", 0.0), ("ana", 7.0), ("ana", 14.0), ("ana", 21.0), ("ana", 28.0)],
    ...         names=["student_id", "as_of"]), name="score")
    >>> policy = AlertPolicy(tiers={"high": 0.6}, enter_after=2)
    >>> policy.apply(scores)[["score", "raw_tier", "tier", "alert"]]
                      score raw_tier  tier  alert
    student_id as_of
    ana        0.0      0.2      NaN   NaN  False
               7.0      0.7     high   NaN  False
               14.0     0.3      NaN   NaN  False
               21.0     0.8     high   NaN  False
               28.0     0.9     high  high   True
    """

    tiers: Mapping[str, float]
    mode: str = "probability"
    enter_after: int = 1
    exit_after: int = 1
    cooldown_days: float = 0.0
    alert_from: str | None = None
    escalation_bypasses_cooldown: bool = True

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ConfigError("mode must be 'probability' or 'top_fraction'", key="mode",
                              arrived=repr(self.mode))
        if not isinstance(self.tiers, Mapping) or not self.tiers:
            raise ConfigError(
                "tiers must be a non-empty mapping of tier name -> threshold",
                key="tiers",
                arrived=repr(self.tiers),
                hint="e.g. tiers={'high': 0.5, 'medium': 0.25}",
            )
        for name, thr in self.tiers.items():
            if not isinstance(name, str) or not name:
                raise ConfigError("tier names must be non-empty strings", key="tiers",
                                  arrived=repr(name))
            bad = isinstance(thr, bool) or not isinstance(thr, int | float | np.number) \
                or not math.isfinite(float(thr))
            lo_ok = 0.0 <= float(thr) <= 1.0 if not bad else False
            if self.mode == "top_fraction" and not bad:
                lo_ok = 0.0 < float(thr) <= 1.0
            if bad or not lo_ok:
                rng = "in (0, 1]" if self.mode == "top_fraction" else "in [0, 1]"
                raise ConfigError(
                    f"tier thresholds must be numbers {rng} in mode {self.mode!r}",
                    key=f"tiers[{name!r}]",
                    arrived=repr(thr),
                )
        values = list(self.tiers.values())
        if len(set(values)) != len(values):
            raise ConfigError("two tiers share a threshold", key="tiers",
                              arrived=repr(dict(self.tiers)))
        for attr in ("enter_after", "exit_after"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"{attr} must be an integer >= 1", key=attr, arrived=repr(v))
        cd = self.cooldown_days
        if isinstance(cd, bool) or not isinstance(cd, int | float | np.number) \
                or not math.isfinite(float(cd)) or cd < 0:
            raise ConfigError("cooldown_days must be a finite number >= 0", key="cooldown_days",
                              arrived=repr(cd))
        if self.alert_from is not None and self.alert_from not in self.tiers:
            raise ConfigError("alert_from must name one of the tiers", key="alert_from",
                              arrived=repr(self.alert_from),
                              hint=f"use one of {list(self.tiers)!r}")

    @property
    def tier_names(self) -> list[str]:
        """Tier names from the lowest to the highest."""
        items = sorted(self.tiers.items(), key=lambda kv: float(kv[1]),
                       reverse=self.mode == "top_fraction")
        return [name for name, _ in items]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "tiers": {k: float(v) for k, v in self.tiers.items()},
            "mode": self.mode,
            "enter_after": int(self.enter_after),
            "exit_after": int(self.exit_after),
            "cooldown_days": float(self.cooldown_days),
            "alert_from": self.alert_from or self.tier_names[0],
            "escalation_bypasses_cooldown": bool(self.escalation_bypasses_cooldown),
        }

    def raw_levels(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw tier level (0 = none, 1 = lowest tier, ...) of each row of a keyed score frame."""
        score = frame["score"].to_numpy(dtype="float64")
        names = self.tier_names
        thr = np.array([float(self.tiers[n]) for n in names])
        level = np.zeros(len(frame), dtype="int64")
        finite = np.isfinite(score) | (score == np.inf)
        if self.mode == "probability":
            for k, t in enumerate(thr, start=1):
                level[finite & (score >= t)] = k
            return level
        # top fraction: rank within each as-of date, ties share the better rank (method="min")
        s = pd.Series(np.where(np.isnan(score), -np.inf, score))
        ranks = s.groupby(frame["as_of"].to_numpy(), sort=False).rank(
            method="min", ascending=False).to_numpy()
        n_valid = pd.Series((~np.isnan(score)).astype("int64")).groupby(
            frame["as_of"].to_numpy(), sort=False).transform("sum").to_numpy()
        for k, frac in enumerate(thr, start=1):
            cut = np.ceil(frac * n_valid - 1e-9)
            level[~np.isnan(score) & (ranks <= cut)] = k
        return level

    def apply(self, scores: Any, *, reasons: Any = None, top_reasons: int = 3) -> pd.DataFrame:
        """Tiers and alerts for every (student, as-of date) row of ``scores``.

        Parameters
        ----------
        scores : Series or DataFrame
            Calibrated risk keyed by (``student_id``, ``as_of``): a Series, or a DataFrame with
            a ``score`` column (as index levels or columns). NaN scores reach no tier.
        reasons : optional
            Reasons to attach to alerts: a Series or mapping keyed by (student_id, as_of) whose
            values are lists of texts, a DataFrame with a ``reasons`` column, or an object with
            a ``reasons(top=...)`` method (such as :class:`~studentprofile.explain.Explanations`).
        top_reasons : int, default 3
            How many reasons to keep per alert.

        Returns
        -------
        DataFrame
            Indexed by (``student_id``, ``as_of``), sorted by student then date: ``score``,
            ``raw_tier`` and ``tier`` (ordered categoricals of the tier names from the lowest,
            NaN for no tier), ``level`` (0 = none), ``alert``
            (bool) and, when ``reasons`` is given, ``reasons`` (list of str on alert rows, empty
            elsewhere). Other columns of a score DataFrame are kept.
        """
        frame = keyed_frame(scores, table="scores", value="score", unique=False)
        if "score" not in frame.columns:
            cols = [c for c in frame.columns if c not in ("student_id", "as_of")]
            if len(cols) != 1:
                raise SchemaError(
                    "a score frame needs a `score` column",
                    table="scores",
                    column="score",
                    rule="required-column",
                    arrived=f"columns {cols!r}",
                    hint="name the risk column `score`",
                )
            frame = frame.rename(columns={cols[0]: "score"})
        frame["score"] = numeric_column(frame, "score", table="scores")
        days = days_of(frame["as_of"].to_numpy())
        codes, _ = pd.factorize(frame["student_id"], sort=True)
        dc, dd = np.diff(codes), np.diff(days)
        if not ((dc > 0) | ((dc == 0) & (dd >= 0))).all():  # not yet by student, then date
            order = np.lexsort((days, codes))
            frame = frame.iloc[order].reset_index(drop=True)
            days = days[order]
            codes = codes[order]
        same = np.zeros(len(frame), dtype=bool)
        if len(frame) > 1:
            same[1:] = (np.diff(codes) == 0) & (np.diff(days) == 0)
            same[:-1] |= same[1:]
        if same.any():  # sorted, so repeated pairs sit next to each other
            raise_repeated(frame, same, "scores")
        raw = self.raw_levels(frame)
        bounds = np.flatnonzero(np.diff(codes)) + 1
        offsets = np.concatenate([[0], bounds, [len(frame)]]).astype("int64")
        if len(frame) == 0:
            offsets = np.zeros(1, dtype="int64")
        names = self.tier_names
        alert_from = names.index(self.alert_from) + 1 if self.alert_from else 1
        level = np.zeros(len(frame), dtype="int64")
        alert = np.zeros(len(frame), dtype="uint8")
        _kernels.alert_state_kernel(
            raw, days, offsets, len(names), int(self.enter_after), int(self.exit_after),
            float(self.cooldown_days), int(alert_from), bool(self.escalation_bypasses_cooldown),
            level, alert,
        )
        frame["raw_tier"] = _tier_column(raw, names)
        frame["tier"] = _tier_column(level, names)
        frame["level"] = level
        frame["alert"] = alert.astype(bool)
        if reasons is not None:
            found = reasons_lookup(reasons, top=top_reasons)
            keys = zip(frame["student_id"].tolist(), days.tolist(), strict=True)
            frame["reasons"] = [
                [r["text"] for r in found.get(key, ())][:top_reasons] if a else []
                for key, a in zip(keys, frame["alert"].tolist(), strict=True)
            ]
        logger.info(
            "alert policy: %d rows, %d students, %d alerts",
            len(frame), int(offsets.shape[0] - 1), int(alert.sum()),
        )
        return frame.set_index(["student_id", "as_of"])


def _tier_column(level: np.ndarray, names: list[str]) -> pd.Categorical:
    """Levels (0 = none) as an ordered categorical of tier names (NaN for none)."""
    dtype = pd.CategoricalDtype(categories=names, ordered=True)
    return pd.Categorical.from_codes(np.asarray(level - 1, dtype="int64"), dtype=dtype)
