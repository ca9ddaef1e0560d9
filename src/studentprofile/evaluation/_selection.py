"""Choosing a candidate over time: triage's audition selection rules, and their regret.

A *metric table* has one row per split (in time order) and one column per candidate, e.g.
``Comparison.table("precision@10%")``. A rule looks only at the splits up to now and names a
candidate; its *regret* at split ``t`` is how far the candidate it chose on splits ``<= t`` falls
short of the best candidate on split ``t + 1`` (``|best - chosen|``, as triage's
``dist_from_best_case_next_time``).

The rules follow ``dssg/triage`` (``src/triage/component/audition/selection_rules.py``) with two
deliberate differences: ties go to the first candidate in the table's column order (triage
shuffles), and where a standard deviation is undefined (one split) the variance rules fall back to
the best average value (triage picks at random). Missing values (``nan``, e.g. an AUC on a split
without positives) are skipped; a candidate with no value is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError

__all__ = [
    "LOWER_IS_BETTER",
    "RULES",
    "Audition",
    "SelectionRule",
    "audition",
    "default_rules",
    "greater_is_better",
]

LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})
"""Metrics of a backtest where a smaller value is better (all others: larger is better)."""


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of a backtest metric is better.

    Parameters
    ----------
    metric : str
        A metric column of :attr:`BacktestResult.metrics`, e.g. ``"roc_auc"``, ``"ece"``.

    Returns
    -------
    bool
        ``False`` for ``brier``, ``log_loss`` and ``ece``; ``True`` otherwise.

    Examples
    --------
    >>> greater_is_better("precision@10%"), greater_is_better("ece")
    (True, False)
    """
    return metric not in LOWER_IS_BETTER


_direction = greater_is_better  # audition's keyword of the same name hides the function


RULES: dict[str, tuple[str, ...]] = {
    "best_current_value": (),
    "best_average_value": (),
    "lowest_metric_variance": (),
    "best_avg_var_penalized": ("stdev_penalty",),
    "best_avg_recency_weight": ("curr_weight", "decay_type"),
    "most_frequent_best_dist": ("dist_from_best_case",),
}
"""The selection rules and the parameters each needs."""

RULE_UNKNOWN = "rule must be one of {rules!r}"
RULE_PARAMS = "rule {rule!r} takes exactly the parameters {params!r}"
PARAM_INVALID = "{param} must be {what}"
TABLE_INVALID = (
    "the metric table must be a DataFrame of numbers: one row per split, one column per candidate"
)
TABLE_EMPTY = "the metric table needs at least one split and one candidate"
TIMES_INVALID = "times must hold one increasing time per split (dates or numbers)"


@dataclass(frozen=True)
class SelectionRule:
    """One of triage's selection rules with its parameters.

    Parameters
    ----------
    rule : str
        ``"best_current_value"`` (best on the latest split), ``"best_average_value"`` (best
        mean), ``"lowest_metric_variance"`` (smallest standard deviation),
        ``"best_avg_var_penalized"`` (mean minus ``stdev_penalty`` times the standard deviation in
        excess of the smallest one), ``"best_avg_recency_weight"`` (weighted mean; the latest
        split weighs ``curr_weight`` times the first, ``decay_type`` ``"linear"`` or
        ``"exponential"`` in time between), ``"most_frequent_best_dist"`` (most often within
        ``dist_from_best_case`` of the best candidate).
    params : mapping, optional
        The rule's parameters (see :data:`RULES`).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"a": [0.70, 0.72, 0.60], "b": [0.65, 0.66, 0.67]})
    >>> SelectionRule("best_current_value").pick(table)
    'b'
    >>> SelectionRule("best_average_value").pick(table)
    'a'
    >>> SelectionRule("best_avg_var_penalized", {"stdev_penalty": 1.0}).name
    'best_avg_var_penalized_1.0'
    """

    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(
                RULE_UNKNOWN.format(rules=list(RULES)), key="rule", arrived=repr(self.rule)
            )
        wanted = RULES[self.rule]
        params = dict(self.params)
        if set(params) != set(wanted):
            raise ConfigError(
                RULE_PARAMS.format(rule=self.rule, params=list(wanted)),
                key=f"{self.rule}.params",
                arrived=repr(params),
            )
        for name, value in params.items():
            _check_param(name, value)
        object.__setattr__(self, "params", params)

    @property
    def name(self) -> str:
        """Triage's descriptive name: the rule and its parameter values."""
        return "_".join([self.rule] + [str(self.params[p]) for p in RULES[self.rule]])

    def pick(
        self,
        table: pd.DataFrame,
        *,
        greater_is_better: bool = True,
        times: Sequence[Any] | None = None,
    ) -> str | None:
        """Choose a candidate from the splits of ``table`` (all of them are "the past").

        Parameters
        ----------
        table : DataFrame
            One row per split in time order, one column per candidate.
        greater_is_better : bool, default True
            The metric's direction (``False`` for ECE, Brier, log loss).
        times : sequence, optional
            Each split's time (for the recency weights); default the split positions.

        Returns
        -------
        str or None
            The chosen candidate; ``None`` when no candidate has a value.
        """
        values = _values(table)
        days = _days(times, len(table))
        return _pick(self, values, list(table.columns), greater_is_better, days)

    def __str__(self) -> str:
        return self.name


def default_rules() -> list[SelectionRule]:
    """Return one of each rule with triage's usual parameters.

    Returns
    -------
    list of SelectionRule
        ``best_current_value``, ``best_average_value``, ``lowest_metric_variance``,
        ``best_avg_var_penalized`` (penalty 0.5), ``best_avg_recency_weight`` (the latest
        split weighs 1.5 times the first, linear), ``most_frequent_best_dist`` (within 0.05).

    Examples
    --------
    >>> [r.name for r in default_rules()][-1]
    'most_frequent_best_dist_0.05'
    """
    return [
        SelectionRule("best_current_value"),
        SelectionRule("best_average_value"),
        SelectionRule("lowest_metric_variance"),
        SelectionRule("best_avg_var_penalized", {"stdev_penalty": 0.5}),
        SelectionRule("best_avg_recency_weight", {"curr_weight": 1.5, "decay_type": "linear"}),
        SelectionRule("most_frequent_best_dist", {"dist_from_best_case": 0.05}),
    ]


def _check_param(name: str, value: Any) -> None:
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    if name == "decay_type":
        if value not in ("linear", "exponential"):
            raise ConfigError(
                PARAM_INVALID.format(param=name, what="'linear' or 'exponential'"),
                key=name,
                arrived=repr(value),
            )
    elif name == "curr_weight":
        if not number or not math.isfinite(value) or value <= 0:
            raise ConfigError(
                PARAM_INVALID.format(param=name, what="a positive number"),
                key=name,
                arrived=repr(value),
                hint="e.g. 2.0: the latest split weighs twice the first",
            )
    elif not number or not math.isfinite(value) or value < 0:
        raise ConfigError(
            PARAM_INVALID.format(param=name, what="a number >= 0"), key=name, arrived=repr(value)
        )


def _values(table: Any) -> np.ndarray:
    if not isinstance(table, pd.DataFrame):
        raise ConfigError(
            TABLE_INVALID, key="table", arrived=f"an object of type {type(table).__name__}",
            hint="pass Comparison.table('roc_auc')",
        )
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise ConfigError(TABLE_EMPTY, key="table", arrived=f"shape {table.shape}")
    try:
        values = table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            TABLE_INVALID, key="table", arrived=f"dtypes {sorted(set(map(str, table.dtypes)))}"
        ) from exc
    if np.isinf(values).any():
        raise ConfigError(TABLE_INVALID, key="table", arrived="infinite values")
    return values


def _days(times: Sequence[Any] | None, n: int) -> np.ndarray:
    if times is None:
        return np.arange(n, dtype=np.float64)
    arr = pd.Series(list(times))
    if len(arr) != n:
        raise ConfigError(
            TIMES_INVALID, key="times", arrived=f"{len(arr)} time(s) for {n} split(s)"
        )
    if pd.api.types.is_datetime64_any_dtype(arr) or isinstance(arr.iloc[0], pd.Timestamp):
        days = (pd.to_datetime(arr) - pd.to_datetime(arr).iloc[0]).dt.total_seconds() / 86400.0
        out = days.to_numpy(dtype=np.float64)
    else:
        try:
            out = arr.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(TIMES_INVALID, key="times", arrived=repr(list(times)[:3])) from exc
    if not np.isfinite(out).all() or (np.diff(out) <= 0).any():
        raise ConfigError(TIMES_INVALID, key="times", arrived=repr(list(times)[:5]))
    return out - out[0]


def _best(scores: np.ndarray, names: list[str], greater: bool) -> str | None:
    """Return the candidate with the best finite score; ties to the first."""
    ok = np.isfinite(scores)
    if not ok.any():
        return None
    signed = np.where(ok, scores if greater else -scores, -np.inf)
    return names[int(np.argmax(signed))]


def _nanmean(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    ok = np.isfinite(values)
    w = np.ones_like(values) if weights is None else np.broadcast_to(weights[:, None], values.shape)
    w = np.where(ok, w, 0.0)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (np.where(ok, values, 0.0) * w).sum(axis=0) / total, np.nan)


def _nanstd(values: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof=1, as pandas), nan with fewer than two values."""
    ok = np.isfinite(values)
    n = ok.sum(axis=0)
    mean = _nanmean(values)
    sq = np.where(ok, (values - mean) ** 2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, np.sqrt(sq / (n - 1)), np.nan)


def _pick(
    rule: SelectionRule, values: np.ndarray, names: list[str], greater: bool, days: np.ndarray
) -> str | None:
    p = rule.params
    if rule.rule == "best_current_value":
        return _best(values[-1], names, greater)
    mean = _nanmean(values)
    if rule.rule == "best_average_value":
        return _best(mean, names, greater)
    if rule.rule in ("lowest_metric_variance", "best_avg_var_penalized"):
        std = _nanstd(values)
        if not np.isfinite(std).any():
            return _best(mean, names, greater)
        if rule.rule == "lowest_metric_variance":
            return _best(std, names, greater=False)
        penalty = float(p["stdev_penalty"]) if greater else -float(p["stdev_penalty"])
        penalised = mean - penalty * (std - np.nanmin(std))
        return _best(penalised, names, greater)
    if rule.rule == "best_avg_recency_weight":
        tmax = days[-1] if len(days) else 0.0
        w = float(p["curr_weight"])
        if tmax == 0:
            weights = np.ones(len(days))
        elif p["decay_type"] == "linear":
            weights = (w - 1.0) * (days / tmax) + 1.0
        else:
            weights = np.exp(math.log(w) * days / tmax)
        return _best(_nanmean(values, weights), names, greater)
    # most_frequent_best_dist
    signed = np.where(np.isfinite(values), values if greater else -values, -np.inf)
    best = signed.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        within = (best - signed) <= float(p["dist_from_best_case"]) + 1e-12
    within &= np.isfinite(values)
    share = within.mean(axis=0)
    share = np.where(np.isfinite(values).any(axis=0), share, np.nan)
    return _best(share, names, greater=True)


@dataclass
class Audition:
    """What :func:`audition` returns.

    Attributes
    ----------
    metric : str
        The metric the rules judged.
    greater_is_better : bool
        Its direction.
    choices : DataFrame
        Indexed by rule name, one column per split: the candidate the rule chose using the
        splits up to and including that one (the last column is the rule's final choice).
    regrets : DataFrame
        Tidy, one row per rule and split ``t`` (but the last): ``rule``, ``split``, ``chosen``,
        ``next_split``, ``value_next`` (the chosen candidate on split ``t + 1``),
        ``best_next`` (the best candidate's value there), ``regret`` (``|best_next -
        value_next|``).
    summary : DataFrame
        Indexed by rule: ``chosen`` (on all splits), ``mean_regret``, ``max_regret``,
        ``n_regrets``.

    Examples
    --------
    See :func:`audition`.
    """

    metric: str
    greater_is_better: bool
    choices: pd.DataFrame
    regrets: pd.DataFrame
    summary: pd.DataFrame

    def chosen(self, rule: str | SelectionRule) -> str | None:
        """Return the final choice of a rule (by name or rule).

        Parameters
        ----------
        rule : str or SelectionRule
            E.g. ``"best_average_value"``.

        Returns
        -------
        str or None
        """
        name = rule.name if isinstance(rule, SelectionRule) else rule
        if name not in self.summary.index:
            raise ConfigError(
                "rule was not part of this audition",
                key="rule",
                arrived=repr(name),
                hint=f"choose one of {self.summary.index.tolist()!r}",
            )
        value = self.summary.loc[name, "chosen"]
        return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(
            value
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the choices, regrets and summary."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {
                "metric": self.metric,
                "greater_is_better": self.greater_is_better,
                "summary": self.summary.reset_index(),
                "regrets": self.regrets,
            }
        )

    def __repr__(self) -> str:
        return (
            f"Audition({self.metric!r}: {len(self.summary)} rule(s) over "
            f"{self.choices.shape[1]} split(s))"
        )

    def _repr_html_(self) -> str:
        from studentprofile import _html

        return _html.display(repr(self), [
            _html.note("Regret: how far the candidate a rule chose on the past splits fell "
                       "short of the best candidate on the next split (lower is better); "
                       ".choices has each split's choice."),
            _html.table(self.summary, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ])


def audition(
    table: Any,
    metric: str | None = None,
    *,
    rules: Sequence[SelectionRule] | None = None,
    greater_is_better: bool | None = None,
    times: Sequence[Any] | None = None,
) -> Audition:
    """Apply selection rules over the splits and measure their regret.

    Parameters
    ----------
    table : DataFrame or Comparison
        A metric table (one row per split in time order, one column per candidate), or a
        :class:`~studentprofile.evaluation.Comparison` together with ``metric``.
    metric : str, optional
        The metric's name (required with a Comparison; for a table, used for the direction).
    rules : list of SelectionRule, optional
        Default :func:`default_rules`.
    greater_is_better : bool, optional
        The metric's direction; default from its name
        (:func:`~studentprofile.evaluation.greater_is_better`).
    times : sequence, optional
        Each split's time for the recency weights; default the Comparison's ``test_from``, or
        the split positions for a table.

    Returns
    -------
    Audition

    Examples
    --------
    Candidate ``a`` was best early and fades; ``b`` improves:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"a": [0.80, 0.75, 0.60, 0.55],
    ...                       "b": [0.70, 0.72, 0.74, 0.76]}).rename_axis("split")
    >>> result = audition(table, "precision@10%", rules=[SelectionRule("best_current_value"),
    ...                                                  SelectionRule("best_average_value")])
    >>> result.choices
                        0  1  2  3
    rule
    best_current_value  a  a  b  b
    best_average_value  a  a  b  b
    >>> result.summary[["chosen", "mean_regret"]]
                       chosen  mean_regret
    rule
    best_current_value      b     0.046...
    best_average_value      b     0.046...
    """
    if not isinstance(table, pd.DataFrame) and callable(getattr(table, "table", None)):
        # a Comparison (duck-typed: _compare imports this module)
        if metric is None:
            raise ConfigError(
                "metric is required with a Comparison", key="metric", arrived="None",
                hint="e.g. audition(comparison, 'precision@10%')",
            )
        if times is None:
            times = list(table.split_times())
        table = table.table(metric)
    values = _values(table)
    greater = (
        bool(greater_is_better)
        if greater_is_better is not None
        else (_direction(metric) if metric is not None else True)
    )
    rules = default_rules() if rules is None else list(rules)
    for r in rules:
        if not isinstance(r, SelectionRule):
            raise ConfigError(
                "rules must be SelectionRule objects", key="rules", arrived=repr(r),
                hint="e.g. rules=[SelectionRule('best_average_value')]",
            )
    names = [str(c) for c in table.columns]
    days = _days(times, len(table))
    # a split where no candidate has a value (no labelled test row yet) says nothing: skip it,
    # so "the latest split" is the latest one with values
    informative = np.isfinite(values).any(axis=1)
    if informative.any() and not informative.all():
        table, values, days = table[informative], values[informative], days[informative]
    splits = list(table.index)
    choice_rows = {}
    regret_rows = []
    summary_rows = []
    for rule in rules:
        picks = [
            _pick(rule, values[: t + 1], names, greater, days[: t + 1]) for t in range(len(splits))
        ]
        choice_rows[rule.name] = picks
        regrets = []
        for t in range(len(splits) - 1):
            nxt = values[t + 1]
            best_name = _best(nxt, names, greater)
            best = nxt[names.index(best_name)] if best_name is not None else np.nan
            pick = picks[t]
            value = nxt[names.index(pick)] if pick is not None else np.nan
            regret = abs(best - value) if np.isfinite(best) and np.isfinite(value) else np.nan
            regrets.append(regret)
            regret_rows.append(
                {
                    "rule": rule.name,
                    "split": splits[t],
                    "chosen": picks[t],
                    "next_split": splits[t + 1],
                    "value_next": value,
                    "best_next": best,
                    "regret": regret,
                }
            )
        arr = np.array(regrets, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        summary_rows.append(
            {
                "rule": rule.name,
                "chosen": picks[-1],
                "mean_regret": float(finite.mean()) if len(finite) else np.nan,
                "max_regret": float(finite.max()) if len(finite) else np.nan,
                "n_regrets": len(finite),
            }
        )
    choices = pd.DataFrame.from_dict(choice_rows, orient="index", columns=splits)
    choices.index.name = "rule"
    regret_frame = pd.DataFrame(
        regret_rows,
        columns=["rule", "split", "chosen", "next_split", "value_next", "best_next", "regret"],
    )
    summary = pd.DataFrame(summary_rows).set_index("rule")
    return Audition(
        metric=metric or "metric",
        greater_is_better=greater,
        choices=choices,
        regrets=regret_frame,
        summary=summary,
    )
