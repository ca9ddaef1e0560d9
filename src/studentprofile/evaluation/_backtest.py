"""Temporal backtests: train on the past, test on the future, as a campus would have.

A split ``i`` is anchored at its *split time* ``T_i`` (the first test as-of date):

* test rows: grid rows with ``T_i <= as_of < T_{i+1}`` (the last split ends at ``test_end``,
  exclusive);
* training labels are observed until the *label cutoff* ``C_i = T_i - gap``;
* training rows: grid rows with ``as_of + horizon <= C_i`` (so every training label window
  ``[as_of, as_of + horizon)`` closes before the cutoff, and no label is censored or reaches past
  ``T_i``), and ``as_of >= C_i - horizon - max_history`` when ``max_history`` is set;
* split times follow each other every ``retrain_every`` days (one split when ``None``).

:func:`backtest` builds features, labels, fits a fresh clone of the model and scores the test rows
per split; each as-of date's features are built from the tables *truncated* to what was known
before that date, so even a builder that looked ahead could not leak.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs
from studentprofile.evaluation._metrics import _pr_auc, _reliability, _roc_auc
from studentprofile.evaluation._ranking import _Cut
from studentprofile.evaluation._report import EvaluationReport, evaluate, split_metrics_html
from studentprofile.tables import EventTables
from studentprofile.tables._checks import show_values
from studentprofile.tables._time import (
    DAYS_NON_NEGATIVE,
    DAYS_POSITIVE,
    MOMENT_INVALID,
    NS_PER_DAY,
    as_days,
    as_moment,
    to_days,
)

logger = logging.getLogger(__name__)

__all__ = ["BacktestResult", "Split", "TemporalSplits", "backtest"]

_NS_PER_DAY = NS_PER_DAY

# the time rules are the tables' (studentprofile.tables._time); format them with key=<name>
DAYS_INVALID = DAYS_POSITIVE
DAYS_INVALID_OR_ZERO = DAYS_NON_NEGATIVE
DATE_INVALID = MOMENT_INVALID
DATES_MIXED = "test_start, test_end and train_start must be the same kind of time"
EMPTY_WINDOW = "test_end must be later than test_start"
NO_AS_OF = "X must have an `as_of` column or index level"
KIND_MISMATCH = "the splits' dates and the tables' times must be the same kind"
NO_TRAINING_ROWS = "split {index} has no labelled training rows"
ONE_CLASS = "split {index} has training labels of one class only"
GRID_DUPLICATES = "the grid must not repeat a (student_id, as_of) pair"
MODEL_NOT_CLONEABLE = (
    "model must be a scikit-learn style classifier that sklearn.base.clone can copy"
)
BUILDER_INVALID = "feature_builder must have a .transform(tables, grid) method"
FEATURES_MISSING_ROWS = "the feature builder returned no row for some grid rows"
FEATURES_COLUMNS_DIFFER = (
    "the feature builder returned different columns for different as-of dates"
)
MASK_INVALID = "`{name}` must be a boolean array with one value per grid row"


def _days_param(value: Any, name: str, *, minimum: float = 0.0, allow_none: bool = False) -> Any:
    """Check a duration in days (number or Timedelta); ``minimum > 0``: strictly positive."""
    return as_days(value, key=name, positive=minimum > 0, allow_none=allow_none)


def _date_param(value: Any, name: str) -> tuple[float, str, Any]:
    """Return (days, kind, display value) of a date parameter."""
    moment = as_moment(value, key=name)
    if isinstance(moment, pd.Timestamp):
        return moment.value / _NS_PER_DAY, "datetime", moment
    return float(moment), "float", float(moment)


def _show(days: float | None, kind: str) -> Any:
    if days is None or (isinstance(days, float) and not np.isfinite(days)):
        return None
    if kind == "datetime":
        return pd.Timestamp(int(round(days * _NS_PER_DAY)), unit="ns")
    return float(days)


@dataclass(frozen=True)
class Split:
    """The time windows of one split (dates as the tables' kind of time).

    Attributes
    ----------
    index : int
        Position of the split.
    train_from : date or None
        Earliest training as-of date (inclusive); ``None`` when unbounded.
    train_until : date
        Latest training as-of date (inclusive): ``label_cutoff - horizon``.
    label_cutoff : date
        Training labels are observed until this moment (``test_from - gap``).
    test_from, test_until : date
        Test as-of dates ``test_from <= as_of < test_until``.

    Examples
    --------
    >>> split = next(iter(TemporalSplits(test_start=100.0, test_end=130.0, horizon=30)))
    >>> split.train_until, split.label_cutoff, split.test_from, split.test_until
    (70.0, 100.0, 100.0, 130.0)
    """

    index: int
    train_from: Any
    train_until: Any
    label_cutoff: Any
    test_from: Any
    test_until: Any
    _days: tuple[float, float, float, float, float] = field(repr=False, compare=False)

    def train_mask(self, as_of_days: np.ndarray) -> np.ndarray:
        """Which as-of dates (float days) fall in the training window."""
        lo, hi = self._days[0], self._days[1]
        return (as_of_days >= lo) & (as_of_days <= hi)

    def test_mask(self, as_of_days: np.ndarray) -> np.ndarray:
        """Which as-of dates (float days) fall in the test window."""
        return (as_of_days >= self._days[3]) & (as_of_days < self._days[4])


class TemporalSplits:
    """Rolling-origin temporal splits for a backtest.

    Parameters
    ----------
    test_start : date or float
        The first split time: test as-of dates start here. A date (``'2014-02-01'``) for
        datetime tables, a number of days for float-time tables.
    test_end : date or float
        Test as-of dates are before this (exclusive).
    horizon : float or Timedelta
        The label horizon in days: a label asks whether the outcome happens within
        ``[as_of, as_of + horizon)``.
    retrain_every : float or Timedelta, optional
        Days between split times (how often the model is retrained); ``None`` (default) is one
        split covering ``[test_start, test_end)``.
    gap : float or Timedelta, default 0
        Days between the training label cutoff and the split time (e.g. the time it takes
        outcomes to be recorded, or to retrain and deploy).
    max_history : float or Timedelta, optional
        Training as-of dates go back at most this many days before the latest one; ``None``
        uses all history.
    train_start : date or float, optional
        No training as-of date before this.
    every : float or Timedelta, default 7
        Spacing of the as-of dates :func:`backtest` generates when it is given no grid (all
        students at every date ``test_start + j * every``).

    Examples
    --------
    >>> splits = TemporalSplits(test_start=100.0, test_end=160.0, horizon=30,
    ...                         retrain_every=30, gap=2)
    >>> splits.to_frame()
           train_from  train_until  label_cutoff  test_from  test_until
    split
    0            None         68.0          98.0      100.0       130.0
    1            None         98.0         128.0      130.0       160.0
    >>> import pandas as pd
    >>> X = pd.DataFrame({"as_of": [50.0, 70.0, 100.0, 129.0, 130.0, 200.0]})
    >>> [(tr.tolist(), te.tolist()) for tr, te in splits.split(X)]
    [([0], [2, 3]), ([0, 1], [4])]
    """

    def __init__(
        self,
        *,
        test_start: Any,
        test_end: Any,
        horizon: float | pd.Timedelta,
        retrain_every: float | pd.Timedelta | None = None,
        gap: float | pd.Timedelta = 0.0,
        max_history: float | pd.Timedelta | None = None,
        train_start: Any = None,
        every: float | pd.Timedelta = 7.0,
    ) -> None:
        self.test_start = test_start
        self.test_end = test_end
        self.horizon = horizon
        self.retrain_every = retrain_every
        self.gap = gap
        self.max_history = max_history
        self.train_start = train_start
        self.every = every
        start, kind, _ = _date_param(test_start, "test_start")
        end, kind_end, _ = _date_param(test_end, "test_end")
        kinds = {kind, kind_end}
        train0 = None
        if train_start is not None:
            train0, kind_train, _ = _date_param(train_start, "train_start")
            kinds.add(kind_train)
        if len(kinds) != 1:
            raise ConfigError(
                DATES_MIXED,
                key="test_end",
                arrived=f"test_start={test_start!r}, test_end={test_end!r}, "
                f"train_start={train_start!r}",
                hint="use dates for datetime tables, numbers of days for float-time tables",
            )
        if end <= start:
            raise ConfigError(
                EMPTY_WINDOW, key="test_end", arrived=f"test_start={test_start!r}, "
                f"test_end={test_end!r}"
            )
        self._kind = kind
        self._start = start
        self._end = end
        self._train0 = train0
        self._horizon = _days_param(horizon, "horizon", minimum=1e-12)
        self._retrain = _days_param(retrain_every, "retrain_every", minimum=1e-12, allow_none=True)
        self._gap = _days_param(gap, "gap")
        self._history = _days_param(max_history, "max_history", allow_none=True)
        self._every = _days_param(every, "every", minimum=1e-12)

    @property
    def time_kind(self) -> str:
        """``"datetime"`` or ``"float"``: the kind of time the dates are given in."""
        return self._kind

    @property
    def horizon_days(self) -> float:
        """The label horizon in days."""
        return self._horizon

    @property
    def every_days(self) -> float:
        """Spacing of generated as-of dates in days."""
        return self._every

    def _windows(self) -> list[Split]:
        times = [self._start]
        if self._retrain is not None:
            while times[-1] + self._retrain < self._end:
                times.append(times[-1] + self._retrain)
        out = []
        for i, t in enumerate(times):
            until = times[i + 1] if i + 1 < len(times) else self._end
            cutoff = t - self._gap
            train_until = cutoff - self._horizon
            lows = [v for v in (self._train0,) if v is not None]
            if self._history is not None:
                lows.append(train_until - self._history)
            train_from = max(lows) if lows else -np.inf
            k = self._kind
            out.append(
                Split(
                    index=i,
                    train_from=_show(train_from, k),
                    train_until=_show(train_until, k),
                    label_cutoff=_show(cutoff, k),
                    test_from=_show(t, k),
                    test_until=_show(until, k),
                    _days=(train_from, train_until, cutoff, t, until),
                )
            )
        return out

    def __iter__(self) -> Iterator[Split]:
        return iter(self._windows())

    def __len__(self) -> int:
        return len(self._windows())

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splits (scikit-learn's splitter protocol)."""
        return len(self)

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_positions, test_positions)`` per split, as scikit-learn splitters do.

        Parameters
        ----------
        X : DataFrame
            Rows with an ``as_of`` column or index level (a grid or a feature matrix).
        y, groups : ignored
            For the scikit-learn protocol.

        Yields
        ------
        train, test : ndarray of int
            Row positions. Training rows satisfy ``as_of + horizon <= label_cutoff``.
        """
        days = self._as_of_days(X)
        for window in self._windows():
            yield (
                np.flatnonzero(window.train_mask(days)),
                np.flatnonzero(window.test_mask(days)),
            )

    def _as_of_days(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame) and "as_of" in X.columns:
            values = X["as_of"]
        elif isinstance(X, pd.DataFrame | pd.Series) and "as_of" in (X.index.names or []):
            values = X.index.get_level_values("as_of").to_series()
        else:
            raise SchemaError(
                NO_AS_OF,
                table="X",
                rule="as-of",
                arrived=f"an object of type {type(X).__name__}",
                hint="pass the grid, or a feature matrix indexed by (student_id, as_of)",
            )
        kind = "datetime" if values.dtype.kind == "M" else "float"
        if values.dtype.kind not in "Miuf":
            raise SchemaError(
                NO_AS_OF,
                table="X",
                column="as_of",
                rule="as-of",
                arrived=f"as_of of dtype {values.dtype}",
                hint="convert as_of to datetimes or float days",
            )
        if kind != self._kind:
            raise SchemaError(
                KIND_MISMATCH,
                table="X",
                column="as_of",
                rule="time-kind",
                arrived=f"{kind} as-of dates; splits given as {self._kind}",
                hint="give test_start/test_end as dates for datetime tables, numbers otherwise",
            )
        return to_days(values.to_numpy(), "datetime" if kind == "datetime" else "float")

    def as_of_dates(
        self, window: Split, earliest: float | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Return the generated (training, test) as-of dates of a split, ``every`` days apart.

        Parameters
        ----------
        window : Split
            One of the splits.
        earliest : float, optional
            Float days before which no training date is generated (when ``train_from`` is
            unbounded), e.g. the first event time.

        Returns
        -------
        (list, list)
            Training and test dates, in the tables' kind of time.
        """
        train_from, train_until, _, test_from, test_until = window._days
        lo = train_from if np.isfinite(train_from) else (earliest if earliest is not None else
                                                          train_until)
        j_lo = int(np.ceil((lo - self._start) / self._every - 1e-9))
        j_hi = int(np.floor((train_until - self._start) / self._every + 1e-9))
        train = [self._start + j * self._every for j in range(j_lo, j_hi + 1)]
        j_lo = int(np.ceil((test_from - self._start) / self._every - 1e-9))
        test = []
        j = j_lo
        while self._start + j * self._every < test_until:
            test.append(self._start + j * self._every)
            j += 1
        return [_show(d, self._kind) for d in train], [_show(d, self._kind) for d in test]

    def to_frame(self, X: Any = None) -> pd.DataFrame:
        """Return the windows, one row per split; with ``X``, also the rows in each window.

        Parameters
        ----------
        X : DataFrame, optional
            A grid or feature matrix (see :meth:`split`).

        Returns
        -------
        DataFrame
            Indexed by ``split``: ``train_from``, ``train_until`` (inclusive),
            ``label_cutoff``, ``test_from``, ``test_until`` (exclusive) and, with ``X``,
            ``n_train`` and ``n_test``.
        """
        rows = [
            {
                "split": w.index,
                "train_from": w.train_from,
                "train_until": w.train_until,
                "label_cutoff": w.label_cutoff,
                "test_from": w.test_from,
                "test_until": w.test_until,
            }
            for w in self._windows()
        ]
        frame = pd.DataFrame(rows).set_index("split")
        if frame["train_from"].isna().all():
            frame["train_from"] = frame["train_from"].astype(object).where(
                frame["train_from"].notna(), None
            )
        if X is not None:
            pairs = list(self.split(X))
            frame["n_train"] = [len(tr) for tr, _ in pairs]
            frame["n_test"] = [len(te) for _, te in pairs]
        return frame

    def __repr__(self) -> str:
        parts = [
            f"test_start={self.test_start!r}",
            f"test_end={self.test_end!r}",
            f"horizon={self.horizon!r}",
        ]
        for name in ("retrain_every", "gap", "max_history", "train_start"):
            value = getattr(self, name)
            if value is not None and not (name == "gap" and value == 0):
                parts.append(f"{name}={value!r}")
        return f"TemporalSplits({', '.join(parts)})"


# ------------------------------------------------------------------------------ backtest
@dataclass
class BacktestResult:
    """What :func:`backtest` returns.

    Attributes
    ----------
    metrics : DataFrame
        One row per split (see :func:`backtest`).
    scores : DataFrame
        One row per scored test row: ``split``, ``student_id``, ``as_of``, ``score``,
        ``label`` (``nan`` when unknown: censored, or the outcome was reached before).
    splits : DataFrame
        The windows and row counts of each split.
    models : list
        The fitted model of each split.
    feature_info : dict or None
        The feature builder's ``feature_info_`` after the last transform, when it has one.
    params : dict
        Outcome, horizon, k values and other settings.

    Examples
    --------
    See :func:`backtest`.
    """

    metrics: pd.DataFrame
    scores: pd.DataFrame
    splits: pd.DataFrame
    models: list[Any]
    feature_info: Any
    params: dict[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """Return the per-split metrics table (a copy)."""
        return self.metrics.copy()

    def metrics_by_as_of(self, k: Any = (0.1,)) -> pd.DataFrame:
        """Metrics per test as-of date, pooling splits (e.g. AUC by week).

        Parameters
        ----------
        k : float, int or sequence, default (0.1,)
            Caseloads for precision at k.

        Returns
        -------
        DataFrame
            Indexed by ``as_of``: ``n``, ``positives``, ``roc_auc``, ``pr_auc`` and
            ``precision@<k>`` (expected value over ties).
        """
        ks = list(k) if isinstance(k, Sequence) and not isinstance(k, str) else [k]
        labelled = self.scores[self.scores["label"].notna()]
        rows = []
        for as_of, sub in labelled.groupby("as_of", sort=True):
            y = sub["label"].to_numpy() == 1
            s = sub["score"].to_numpy(dtype=np.float64)
            row: dict[str, Any] = {
                "as_of": as_of,
                "n": len(sub),
                "positives": int(y.sum()),
                "roc_auc": _roc_auc(y, s),
                "pr_auc": _pr_auc(y, s),
            }
            counts = np.array([_inputs.resolve_k(one, len(y)) for one in ks])
            prec = _Cut(y, s, counts).precision("expected")
            for one, value in zip(ks, prec, strict=True):
                row[f"precision@{_inputs.k_label(one)}"] = float(value)
            rows.append(row)
        columns = ["as_of", "n", "positives", "roc_auc", "pr_auc"] + [
            f"precision@{_inputs.k_label(one)}" for one in ks
        ]
        return pd.DataFrame(rows, columns=columns).set_index("as_of")

    def report(self, **kwargs: Any) -> EvaluationReport:
        """Build an :class:`EvaluationReport` of the pooled labelled test rows.

        Parameters
        ----------
        **kwargs
            Passed to :func:`studentprofile.evaluation.evaluate` (``k``, ``attributes``,
            ``lead_time``, ``title``, ...).

        Returns
        -------
        EvaluationReport
        """
        labelled = self.scores[self.scores["label"].notna()]
        kwargs.setdefault("backtest", self)
        return evaluate(
            y_true=labelled["label"].to_numpy() == 1,
            scores=labelled["score"].to_numpy(dtype=np.float64),
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the params, splits and metrics (not the scores)."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {
                "params": self.params,
                "splits": self.splits.reset_index(),
                "metrics": self.metrics.reset_index(),
            }
        )

    def __repr__(self) -> str:
        kind = "k-fold" if self.params.get("kind") == "kfold" else "temporal"
        auc = self.metrics["roc_auc"].mean() if "roc_auc" in self.metrics else float("nan")
        return (
            f"BacktestResult({kind}: {len(self.metrics)} split(s), {len(self.scores):,} scored "
            f"row(s), outcome={self.params.get('outcome')!r}, mean roc_auc={auc:.3f})"
        )

    def _repr_html_(self) -> str:
        """Compact notebook display: settings and the per-split metrics with their mean."""
        from studentprofile import _html

        settings = {k: self.params[k] for k in ("splits", "outcome", "horizon_days", "k",
                                                "folds", "model") if k in self.params}
        parts = [
            _html.kv_table({k: str(v) for k, v in settings.items()}, key="setting"),
            _html.heading("Per split"),
            split_metrics_html(self.metrics),
            _html.note("Per-row test scores: .scores; by as-of date: .metrics_by_as_of(); "
                       "the full evaluation: .report()."),
        ]
        return _html.display(repr(self), parts)


def _known_before(tables: EventTables, cut: Any) -> EventTables:
    """Return the tables as they stood just before ``cut`` (events known, outcomes happened)."""
    return tables.known_before(cut)


def _check_builder(builder: Any) -> None:
    if not callable(getattr(builder, "transform", None)):
        raise ConfigError(
            BUILDER_INVALID,
            key="feature_builder",
            arrived=f"an object of type {type(builder).__name__}",
            hint="pass studentprofile.features.FeatureBuilder(spec)",
        )


def _prepared_builder(builder: Any, tables: EventTables, first_test: Any) -> Any:
    """Return a builder ready to transform: a fitting one is fitted on the past.

    A builder with ``fit`` (e.g. ``FeatureBuilder``) is cloned and fitted on the tables as
    known before the first test as-of date; any other object is returned as it is. Fitting
    fixes which columns exist (and static categories); doing it once, on the past, keeps the
    columns the same for every as-of date and uses nothing from the test period. A builder
    that is already fitted (has ``feature_names_out_``) is used as it is.
    """
    if hasattr(builder, "feature_names_out_") or not callable(getattr(builder, "fit", None)):
        return builder
    from sklearn.base import clone

    try:
        fresh = clone(builder)
    except (TypeError, RuntimeError, AttributeError):
        fresh = builder
    fresh.fit(_known_before(tables, first_test))
    return fresh


def _clone(model: Any) -> Any:
    from sklearn.base import clone

    try:
        return clone(model)
    except (TypeError, RuntimeError, AttributeError) as exc:
        raise ConfigError(
            MODEL_NOT_CLONEABLE,
            key="model",
            arrived=f"an object of type {type(model).__name__} ({exc})",
            hint="pass an unfitted estimator with get_params(), e.g. studentprofile.RiskModel() "
            "or sklearn's LogisticRegression()",
        ) from exc


def _accepts(method: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _positive_column(model: Any, proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba)
    if proba.ndim == 1:
        return proba.astype(np.float64)
    classes = list(getattr(model, "classes_", range(proba.shape[1])))
    col = classes.index(1) if 1 in classes else proba.shape[1] - 1
    return proba[:, col].astype(np.float64)


def _mask(value: Any, name: str, n: int) -> np.ndarray:
    if value is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(value)
    if arr.dtype != bool or arr.ndim != 1 or len(arr) != n:
        raise SchemaError(
            MASK_INVALID.format(name=name),
            table=name,
            rule="mask",
            arrived=f"an array of dtype {arr.dtype} and shape {arr.shape}",
            hint=f"pass e.g. {name}=(grid['cohort'] == '2013J').to_numpy()",
        )
    return arr


def _generated_grid(tables: EventTables, splits: TemporalSplits) -> pd.DataFrame:
    times = [t for t in (tables.events["time"], tables.outcomes["time"]) if len(t)]
    earliest = None
    if times:
        earliest = float(np.nanmin([np.nanmin(tables.to_days(t)) for t in times]))
    dates: set[Any] = set()
    for window in splits:
        train, test = splits.as_of_dates(window, earliest)
        dates.update(train)
        dates.update(test)
    ordered = sorted(dates)
    ids = tables.students["student_id"].to_numpy()
    return pd.DataFrame(
        {
            "student_id": np.repeat(ids, len(ordered)),
            "as_of": np.tile(np.array(ordered), len(ids)),
        }
    )


def _build_features(
    tables: EventTables,
    grid: pd.DataFrame,
    rows: np.ndarray,
    builder: Any,
    truncate: bool,
) -> pd.DataFrame:
    """Features of ``grid.iloc[rows]``, in that order, indexed by (student_id, as_of).

    The builder sees every grid row of each needed as-of date (not only the needed rows), so a
    feature never depends on which rows a split happens to use (cohort-relative features
    compare a student with the cohort at the same date).
    """
    sub = grid.iloc[rows][["student_id", "as_of"]].reset_index(drop=True)
    dates = pd.unique(sub["as_of"])
    full = grid.loc[grid["as_of"].isin(dates).to_numpy(), ["student_id", "as_of"]]
    chunks: list[pd.DataFrame] = []
    if truncate:
        for as_of, part in full.groupby("as_of", sort=True):
            known = _known_before(tables, as_of)
            chunks.append(builder.transform(known, part.reset_index(drop=True)))
    else:
        chunks.append(builder.transform(tables, full.reset_index(drop=True)))
    columns = list(chunks[0].columns)
    for chunk in chunks[1:]:
        if list(chunk.columns) != columns:
            raise ConfigError(
                FEATURES_COLUMNS_DIFFER,
                key="feature_builder",
                arrived=f"columns {show_values(columns)} and {show_values(list(chunk.columns))}",
                hint="make the feature spec produce a fixed set of columns",
            )
    X = pd.concat(chunks) if len(chunks) > 1 else chunks[0]
    wanted = pd.MultiIndex.from_frame(sub, names=["student_id", "as_of"])
    if not isinstance(X.index, pd.MultiIndex) or list(X.index.names)[:2] != [
        "student_id",
        "as_of",
    ]:
        raise SchemaError(
            "the feature builder must return a DataFrame indexed by (student_id, as_of)",
            table="features",
            rule="index",
            arrived=f"index names {list(X.index.names)!r}",
            hint="return builder output as studentprofile.features.FeatureBuilder does",
        )
    pos = X.index.get_indexer(wanted)
    if (pos < 0).any():
        missing = wanted[pos < 0]
        raise SchemaError(
            FEATURES_MISSING_ROWS,
            table="features",
            rule="rows",
            arrived=f"{int((pos < 0).sum()):,} row(s) missing, e.g. {show_values(missing[:3])}",
            hint="the builder must return one row per grid row",
        )
    return X.iloc[pos]


def _split_metrics(
    y: np.ndarray, s: np.ndarray, as_of: np.ndarray, ks: list[Any], n_bins: int
) -> dict[str, float]:
    out: dict[str, float] = {
        "roc_auc": _roc_auc(y, s),
        "pr_auc": _pr_auc(y, s),
        "brier": float(np.mean((s - y) ** 2)) if len(y) else float("nan"),
    }
    if len(y):
        eps = np.finfo(np.float64).eps
        p = np.clip(s, eps, 1 - eps)
        out["log_loss"] = float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))
    else:
        out["log_loss"] = float("nan")
    out["ece"] = _reliability(y, s, n_bins, "uniform")[1]
    # caseload metrics are per as-of date (a caseload is drawn each date), then averaged
    per_date: dict[str, list[float]] = {}
    for date in pd.unique(as_of):
        m = as_of == date
        yd, sd = y[m], s[m]
        counts = np.array([_inputs.resolve_k(one, len(yd)) for one in ks])
        cut = _Cut(yd, sd, counts)
        for name in ("precision", "recall", "lift"):
            values = getattr(cut, name)("expected")
            for one, v in zip(ks, values, strict=True):
                per_date.setdefault(f"{name}@{_inputs.k_label(one)}", []).append(float(v))
    for name in ("precision", "recall", "lift"):
        for one in ks:
            key = f"{name}@{_inputs.k_label(one)}"
            vals = np.array(per_date.get(key, []), dtype=np.float64)
            vals = vals[~np.isnan(vals)]
            out[key] = float(vals.mean()) if len(vals) else float("nan")
    return out


@_inputs.renamed_keyword("label", "outcome")
def backtest(
    tables: EventTables,
    splits: TemporalSplits,
    *,
    feature_builder: Any,
    model: Any,
    outcome: str | Sequence[str],
    grid: pd.DataFrame | None = None,
    k: Any = (0.05, 0.1, 0.2),
    n_bins: int = 10,
    truncate: bool = True,
    train_mask: Any = None,
    test_mask: Any = None,
    test_observed_until: Any = None,
) -> BacktestResult:
    """Run feature building, training and scoring per temporal split; measure each split.

    Parameters
    ----------
    tables : EventTables
        The data.
    splits : TemporalSplits
        The splits (their ``horizon`` is the label horizon).
    feature_builder : object
        Anything with ``.transform(tables, grid)`` returning a DataFrame indexed by
        (``student_id``, ``as_of``), such as :class:`studentprofile.features.FeatureBuilder`.
    model : estimator
        A scikit-learn style classifier (``fit(X, y)``, ``predict_proba(X)``), e.g.
        :class:`studentprofile.models.RiskModel`; a fresh ``sklearn.base.clone`` is fitted per
        split.
    outcome : str or list of str
        The outcome(s) counted as positive, e.g. ``"withdrawn"`` (as in
        :func:`studentprofile.labels.make_labels`). ``label=`` is the deprecated old name.
    grid : DataFrame, optional
        Candidate rows (``student_id``, ``as_of``), e.g. from
        :func:`studentprofile.features.make_grid`; each split uses the rows in its windows.
        Default: every student at every ``splits.every`` days.
    k : float, int or sequence, default (0.05, 0.1, 0.2)
        Caseloads for precision, recall and lift at k.
    n_bins : int, default 10
        Bins of the expected calibration error.
    truncate : bool, default True
        Build each as-of date's features from the tables truncated to events known
        (``known_at``) and outcomes happened before that date, so no builder can look ahead.
        Costs one ``transform`` per distinct as-of date; ``False`` trusts the builder and runs
        one ``transform`` for all rows.
    train_mask, test_mask : array of bool, optional
        Restrict which grid rows may train or be tested (e.g. train on the 2013 cohorts only).
    test_observed_until : date or float, optional
        End of observation for test labels; default the latest time in the tables. Test rows
        whose label window runs past it are left unlabelled (``nan``), positive or not.

    Returns
    -------
    BacktestResult
        ``metrics`` has one row per split: the windows, ``n_train``, ``n_train_positive``,
        ``n_test`` (labelled), ``n_test_positive``, ``prevalence``, ``roc_auc``, ``pr_auc``,
        ``brier``, ``log_loss``, ``ece``, and ``precision@k``, ``recall@k``, ``lift@k`` per
        ``k`` (computed per test as-of date, expected value over ties, then averaged).

    Raises
    ------
    ConfigError
        A bad model, builder or parameter; a split without labelled training rows or with one
        class only.
    SchemaError
        A bad grid, or features that do not match it.

    Examples
    --------
    Eight students, four withdrawals; a builder that reads one static attribute; a model
    trained on as-of dates whose 20-day label windows close by day 40, tested at days 40 and 50:

    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from studentprofile.tables import EventTables
    >>> students = pd.DataFrame({"student_id": list("abcdefgh"),
    ...                          "engagement": [0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.9, 0.2]})
    >>> outcomes = pd.DataFrame({"student_id": ["b", "d", "f", "h"],
    ...                          "time": [15.0, 25.0, 45.0, 55.0], "outcome": "withdrawn"})
    >>> tables = EventTables(students=students, outcomes=outcomes)
    >>> class Engagement:
    ...     def transform(self, tables, grid):
    ...         e = grid["student_id"].map(tables.students.set_index("student_id")["engagement"])
    ...         index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
    ...         return pd.DataFrame({"engagement": e.to_numpy()}, index=index)
    >>> splits = TemporalSplits(test_start=40.0, test_end=60.0, horizon=20, every=10)
    >>> result = backtest(tables, splits, feature_builder=Engagement(),
    ...                   model=LogisticRegression(), outcome="withdrawn", k=[2],
    ...                   test_observed_until=100.0)
    >>> result.metrics[["n_train", "n_test", "n_test_positive", "roc_auc", "precision@2"]]
           n_train  n_test  n_test_positive  roc_auc  precision@2
    split
    0            7      11                3      1.0         0.75

    ``docs/evaluation.md`` and ``examples/oulad_backtest.py`` show a real one.
    """
    from studentprofile.labels import _end_of_observation, _labels, check_grid

    if not isinstance(tables, EventTables):
        raise SchemaError(
            "tables must be EventTables",
            table="tables",
            rule="type",
            arrived=f"an object of type {type(tables).__name__}",
            hint="build them with studentprofile.tables.EventTables(...)",
        )
    if not isinstance(splits, TemporalSplits):
        raise ConfigError(
            "splits must be TemporalSplits",
            key="splits",
            arrived=f"an object of type {type(splits).__name__}",
        )
    if splits.time_kind != tables.time_kind:
        raise SchemaError(
            KIND_MISMATCH,
            table="tables",
            rule="time-kind",
            arrived=f"{tables.time_kind} tables; splits given as {splits.time_kind}",
            hint="give test_start/test_end as dates for datetime tables, numbers otherwise",
        )
    _check_builder(feature_builder)
    _clone(model)  # fail early
    ks = list(k) if isinstance(k, Sequence) and not isinstance(k, str) else [k]
    for one in ks:
        _inputs.resolve_k(one, 1)
    n_bins = _inputs.positive_int(n_bins, "n_bins", _inputs.N_BINS_INVALID)

    grid = _generated_grid(tables, splits) if grid is None else check_grid(grid, tables)
    dup = grid.duplicated(["student_id", "as_of"]).to_numpy()
    if dup.any():
        raise SchemaError(
            GRID_DUPLICATES,
            table="grid",
            rule="unique",
            arrived=f"{int(dup.sum()):,} repeated row(s)",
            hint="drop duplicates: grid.drop_duplicates(['student_id', 'as_of'])",
        )
    train_ok = _mask(train_mask, "train_mask", len(grid))
    test_ok = _mask(test_mask, "test_mask", len(grid))
    horizon = splits.horizon_days
    end = _end_of_observation(tables, test_observed_until)
    end_days = float(tables.to_days(pd.Series([end]))[0])
    as_of_days = tables.to_days(grid["as_of"])
    windows = list(splits)
    pairs = list(splits.split(grid))

    # labels per split (training labels observed only until the cutoff)
    plans = []
    needed = np.zeros(len(grid), dtype=bool)
    for window, (tr, te) in zip(windows, pairs, strict=True):
        tr = tr[train_ok[tr]]
        te = te[test_ok[te]]
        y_tr = np.zeros(0)
        if len(tr):
            y_tr = _labels(  # no DataQualityWarning per split: degenerate splits raise below
                tables,
                grid.iloc[tr],
                outcome=outcome,
                horizon=horizon,
                observed_until=window.label_cutoff,
            )[0].to_numpy()
        keep = ~np.isnan(y_tr)
        tr, y_tr = tr[keep], y_tr[keep]
        y_te = np.zeros(0)
        if len(te):
            y_te = _labels(
                tables,
                grid.iloc[te],
                outcome=outcome,
                horizon=horizon,
                observed_until=end,
            )[0].to_numpy(copy=True)
            # a window that runs past the end of observation is unknown even when an outcome
            # was seen in it: keeping only those positives would inflate the prevalence
            y_te[as_of_days[te] + horizon > end_days] = np.nan
        if not len(tr):
            raise ConfigError(
                NO_TRAINING_ROWS.format(index=window.index),
                key="splits",
                arrived=f"training as-of window [{window.train_from}, {window.train_until}] "
                f"holds no grid row with a known label",
                hint="start testing later, shorten the horizon or the gap, or widen the grid",
            )
        if len(np.unique(y_tr)) < 2:
            raise ConfigError(
                ONE_CLASS.format(index=window.index),
                key="splits",
                arrived=f"{len(y_tr):,} training row(s), all labelled {int(y_tr[0])}",
                hint="start testing later so that some outcomes are observed before the cutoff",
            )
        needed[tr] = True
        needed[te] = True
        plans.append((window, tr, y_tr, te, y_te))

    rows = np.flatnonzero(needed)
    builder = _prepared_builder(feature_builder, tables, windows[0].test_from)
    X_all = _build_features(tables, grid, rows, builder, truncate)
    where = np.full(len(grid), -1, dtype=np.int64)
    where[rows] = np.arange(len(rows))
    feature_info = getattr(builder, "feature_info_", None)

    metric_rows = []
    score_frames = []
    models = []
    for window, tr, y_tr, te, y_te in plans:
        fitted = _clone(model)
        extra = {}
        if feature_info is not None and _accepts(fitted.fit, "feature_info"):
            extra["feature_info"] = feature_info  # e.g. RiskModel: phrases, monotone "auto"
        fitted.fit(X_all.iloc[where[tr]], y_tr.astype(np.int64), **extra)
        models.append(fitted)
        s_te = (
            _positive_column(fitted, fitted.predict_proba(X_all.iloc[where[te]]))
            if len(te)
            else np.zeros(0)
        )
        s_te = _inputs.scores(s_te, "model scores", probability=True)
        score_frames.append(
            pd.DataFrame(
                {
                    "split": window.index,
                    "student_id": grid["student_id"].to_numpy()[te],
                    "as_of": grid["as_of"].to_numpy()[te],
                    "score": s_te,
                    "label": y_te,
                }
            )
        )
        known = ~np.isnan(y_te)
        y_known = y_te[known] == 1
        row: dict[str, Any] = {
            "split": window.index,
            "train_from": window.train_from,
            "train_until": window.train_until,
            "label_cutoff": window.label_cutoff,
            "test_from": window.test_from,
            "test_until": window.test_until,
            "n_train": len(tr),
            "n_train_positive": int(y_tr.sum()),
            "n_test": int(known.sum()),
            "n_test_positive": int(y_known.sum()),
            "prevalence": float(y_known.mean()) if known.any() else float("nan"),
        }
        row.update(
            _split_metrics(
                y_known, s_te[known], grid["as_of"].to_numpy()[te][known], ks, n_bins
            )
        )
        metric_rows.append(row)
        logger.info(
            "backtest split %d: %d training rows, %d test rows, AUC %.3f",
            window.index,
            len(tr),
            int(known.sum()),
            row["roc_auc"],
        )
    metrics = pd.DataFrame(metric_rows).set_index("split")
    splits_frame = splits.to_frame()
    splits_frame["n_train"] = [len(p[1]) for p in plans]
    splits_frame["n_test"] = [len(p[3]) for p in plans]
    params = {
        "outcome": outcome if isinstance(outcome, str) else list(outcome),
        "horizon_days": horizon,
        "gap_days": splits._gap,
        "k": [_inputs.k_label(one) for one in ks],
        "truncate": truncate,
        "splits": repr(splits),
        "model": type(model).__name__,
        "feature_builder": type(feature_builder).__name__,
    }
    return BacktestResult(
        metrics=metrics,
        scores=pd.concat(score_frames, ignore_index=True),
        splits=splits_frame,
        models=models,
        feature_info=feature_info,
        params=params,
    )
