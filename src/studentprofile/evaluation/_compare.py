"""Model grids: several candidates and the baselines every comparison includes, one backtest each.

:func:`compare` runs :func:`~studentprofile.evaluation.backtest` once per candidate on the same
splits, the same grid and the same features (built once and shared), and returns a tidy frame
``candidate x split x metric``. Two baselines join by default:

* ``logistic_regression``: median imputation, standard scaling and a logistic regression on the
  same features (:func:`logistic_baseline`);
* ``best_one_feature``: the single feature with the best training AUC, scored as a percentile
  rank (triage's ``PercentileRankOneFeature``, with the feature chosen on the training rows:
  :class:`OneFeatureRanking`).

Rule baselines such as the ABC indicators live in :mod:`studentprofile.warning`, a layer above
this one; wrap them in :class:`RuleScorer` and pass them as a candidate (the pipeline does).
"""

from __future__ import annotations

import html
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation._backtest import (
    BacktestResult,
    TemporalSplits,
    _check_builder,
    _prepared_builder,
    backtest,
)
from studentprofile.evaluation._metrics import _roc_auc
from studentprofile.evaluation._selection import audition as _audition
from studentprofile.tables import EventTables

__all__ = [
    "BASELINES",
    "Comparison",
    "OneFeatureRanking",
    "RuleScorer",
    "compare",
    "logistic_baseline",
]

BASELINES = ("logistic_regression", "best_one_feature")
"""The names of the baselines :func:`compare` adds when ``baselines=True``."""

CANDIDATES_EMPTY = "candidates must name at least one model (or keep baselines=True)"
CANDIDATE_NAME_INVALID = "candidate names must be non-empty text"
CANDIDATE_NAME_TAKEN = "candidate name {name!r} is used twice (baselines are named {baselines!r})"
CANDIDATE_INVALID = "candidate {name!r} must be a classifier with fit() and predict_proba()"
BASELINES_INVALID = "baselines must be True, False or a list of names from {allowed!r}"
NO_FEATURES = "the training rows have no feature column to rank on"
NOT_FITTED = "{name} is not fitted: call fit(X, y) first"
SCORER_INVALID = "score must be a callable taking the feature matrix and returning one number a row"
SCORER_OUTPUT = "the rule's score must return one finite number or NaN per row"
METRIC_UNKNOWN = "metric {metric!r} is not in the comparison"


# ------------------------------------------------------------------------------- baselines
def logistic_baseline(*, C: float = 1.0, max_iter: int = 1000) -> Any:
    """Build the logistic-regression baseline: median imputation, scaling, logistic regression.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength.
    max_iter : int, default 1000
        Solver iterations.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; missing values are imputed with the training median (a column that is all
        missing in training is kept and imputed as 0).

    Examples
    --------
    >>> import numpy as np
    >>> model = logistic_baseline().fit(np.array([[0.0], [np.nan], [2.0], [3.0]]), [0, 0, 1, 1])
    >>> model.predict_proba(np.array([[3.0]]))[:, 1].round(2)
    array([0.69])
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=max_iter),
    )


def _columns(X: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        values = X.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        return values, [str(c) for c in X.columns]
    values = np.asarray(X, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    return values, [f"x{j}" for j in range(values.shape[1])]


def _percentile(sorted_train: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of ``values`` among the sorted training values, in [0, 1]."""
    n = len(sorted_train)
    if n == 0:
        return np.full(len(values), 0.5)
    lo = np.searchsorted(sorted_train, values, side="left")
    hi = np.searchsorted(sorted_train, values, side="right")
    return (lo + hi) / (2.0 * n)


class OneFeatureRanking(ClassifierMixin, BaseEstimator):
    """Baseline: rank students by the one feature with the best training AUC.

    ``fit`` measures each feature's AUC on the training rows (missing values at the median)
    and keeps the feature and the direction (higher or lower = more risk) with the largest AUC;
    ``predict_proba`` returns the percentile of the feature value among the training values
    (mid-rank, in [0, 1]; a missing value scores 0.5). It is a ranking, not a probability:
    read its AUC and precision at k, not its calibration.

    Parameters
    ----------
    feature : str, optional
        Use this feature instead of choosing one.

    Attributes
    ----------
    feature_ : str
        The chosen feature.
    higher_is_riskier_ : bool
        Whether larger values rank higher.
    training_auc_ : dict of str to float
        Each feature's training AUC in its better direction.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"clicks": [9.0, 8.0, 1.0, 2.0], "noise": [1.0, 0.0, 1.0, 0.0]})
    >>> model = OneFeatureRanking().fit(X, [0, 0, 1, 1])
    >>> model.feature_, model.higher_is_riskier_
    ('clicks', False)
    >>> model.predict_proba(pd.DataFrame({"clicks": [0.0, 10.0], "noise": [0.0, 0.0]}))[:, 1]
    array([1., 0.])
    """

    def __init__(self, *, feature: str | None = None) -> None:
        self.feature = feature

    def fit(self, X: Any, y: Any) -> OneFeatureRanking:
        """Choose the feature and direction on the training rows.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Training features.
        y : array of 0/1
            Training labels.

        Returns
        -------
        OneFeatureRanking
            ``self``.
        """
        values, names = _columns(X)
        if values.shape[1] == 0:
            raise ConfigError(NO_FEATURES, key="X", arrived=f"shape {values.shape}")
        labels = np.asarray(y).astype(np.float64) == 1
        self.classes_ = np.array([0, 1])
        aucs: dict[str, float] = {}
        directions: dict[str, bool] = {}
        for j, name in enumerate(names):
            col = values[:, j]
            med = np.nanmedian(col) if np.isfinite(col).any() else 0.0
            auc = _roc_auc(labels, np.where(np.isnan(col), med, col))
            if not np.isfinite(auc):
                auc = 0.5
            directions[name] = auc >= 0.5
            aucs[name] = max(auc, 1.0 - auc)
        if self.feature is not None:
            if self.feature not in names:
                raise ConfigError(
                    "feature must be a column of X",
                    key="feature",
                    arrived=repr(self.feature),
                    hint=f"choose one of {names[:10]!r}",
                )
            best = self.feature
        else:
            best = max(names, key=lambda n: (aucs[n], -names.index(n)))
        j = names.index(best)
        col = values[:, j]
        self.feature_ = best
        self.higher_is_riskier_ = bool(directions[best])
        self.training_auc_ = aucs
        self.n_features_in_ = len(names)
        self._column = j
        self._sorted = np.sort(col[np.isfinite(col)])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Percentile of the chosen feature among the training values.

        Parameters
        ----------
        X : DataFrame or array
            Features with the training columns.

        Returns
        -------
        ndarray of shape (n, 2)
            Column 1 is the risk rank in [0, 1].
        """
        if not hasattr(self, "feature_"):
            raise ConfigError(NOT_FITTED.format(name="OneFeatureRanking"), key="model")
        values, names = _columns(X)
        j = names.index(self.feature_) if isinstance(X, pd.DataFrame) else self._column
        col = values[:, j]
        p = _percentile(self._sorted, np.where(np.isfinite(col), col, 0.0))
        if not self.higher_is_riskier_:
            p = 1.0 - p
        p = np.where(np.isnan(col), 0.5, p)
        return np.column_stack([1.0 - p, p])


def _squash(raw: np.ndarray) -> np.ndarray:
    """Map any real scores into (0, 1) preserving their order, row by row."""
    return 0.5 + np.arctan(raw) / math.pi


class RuleScorer(ClassifierMixin, BaseEstimator):
    """Wrap a fixed rule (no training) as a candidate, e.g. the ABC indicators.

    Parameters
    ----------
    score : callable
        ``score(X)`` (or ``score(X, feature_info=...)`` when it takes that keyword) returns one
        number a row; larger = more at risk.
    probability : bool, default False
        ``True``: the scores are probabilities in [0, 1] and are used as they are. ``False``:
        each score is mapped into (0, 1) by ``0.5 + arctan(s) / pi``, which keeps the order
        (a ranking, not a probability: read its AUC and precision at k, not its calibration).
        A missing score ranks lowest (0) either way.
    name : str, optional
        For display.

    Examples
    --------
    The ABC rule baseline (``studentprofile.warning`` sits above the evaluation layer, so the
    caller brings it):

    >>> from studentprofile.warning import ABCRules, abc_flags
    >>> rules = ABCRules.classic(attendance="att")
    >>> abc = RuleScorer(lambda X, feature_info=None: abc_flags(
    ...     X, rules, feature_info=feature_info, reasons=False)["abc_score"], name="ABC")
    >>> import pandas as pd
    >>> X = pd.DataFrame({"att": [0.95, 0.5]},
    ...                  index=pd.MultiIndex.from_tuples([("a", 1.0), ("b", 1.0)],
    ...                                                  names=["student_id", "as_of"]))
    >>> abc.fit(X, [0, 1]).predict_proba(X)[:, 1].round(3)
    array([0.5  , 0.813])
    """

    def __init__(
        self,
        score: Callable[..., Any] | None = None,
        *,
        probability: bool = False,
        name: str | None = None,
    ) -> None:
        self.score = score
        self.probability = probability
        self.name = name

    def fit(self, X: Any, y: Any = None, feature_info: Any = None) -> RuleScorer:
        """Check the rule; nothing is learned.

        Parameters
        ----------
        X : DataFrame
            Training features (unused but for the feature infos).
        y : ignored
        feature_info : mapping, optional
            The builder's feature records, passed on to ``score`` when it accepts them.

        Returns
        -------
        RuleScorer
            ``self``.
        """
        if not callable(self.score):
            raise ConfigError(SCORER_INVALID, key="score", arrived=repr(self.score))
        self.feature_info_ = feature_info
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Score the rows.

        Parameters
        ----------
        X : DataFrame
            Features.

        Returns
        -------
        ndarray of shape (n, 2)
            Column 1 is the rule's score mapped into [0, 1].
        """
        if not hasattr(self, "classes_"):
            raise ConfigError(NOT_FITTED.format(name="RuleScorer"), key="model")
        score = self.score
        if not callable(score):
            raise ConfigError(SCORER_INVALID, key="score", arrived=repr(score))
        try:
            takes_info = "feature_info" in inspect.signature(score).parameters
        except (TypeError, ValueError):
            takes_info = False
        out = score(X, feature_info=self.feature_info_) if takes_info else score(X)
        try:
            raw = np.asarray(out, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                SCORER_OUTPUT,
                key="score",
                arrived=f"values that are not numbers ({exc})",
                hint="return e.g. abc_flags(X, rules)['abc_score']",
            ) from exc
        if len(raw) != len(X) or np.isinf(raw).any():
            raise ConfigError(
                SCORER_OUTPUT,
                key="score",
                arrived=f"{len(raw)} value(s) for {len(X)} row(s)"
                + (", some infinite" if np.isinf(raw).any() else ""),
            )
        if self.probability:
            bad = (raw < 0) | (raw > 1)
            if bad.any():
                raise ConfigError(
                    SCORER_OUTPUT.replace("finite number", "probability in [0, 1]"),
                    key="score",
                    arrived=f"{int(bad.sum())} value(s) outside, e.g. {raw[bad][:3].tolist()!r}",
                    hint="pass probability=False to rank any numbers",
                )
            p = raw
        else:
            p = _squash(raw)
        p = np.where(np.isnan(p), 0.0, p)
        return np.column_stack([1.0 - p, p])


# --------------------------------------------------------------------------- shared features
class _SharedFeatures:
    """A prepared feature builder whose outputs are remembered.

    Every candidate of a comparison reads the very same features (built once per as-of date).
    """

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self._cache: dict[tuple[int, bytes], pd.DataFrame] = {}

    @property
    def feature_info_(self) -> Any:
        return getattr(self.builder, "feature_info_", None)

    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        keys = pd.util.hash_pandas_object(grid[["student_id", "as_of"]], index=False)
        key = (len(grid), keys.to_numpy().tobytes())
        if key not in self._cache:
            self._cache[key] = self.builder.transform(tables, grid)
        return self._cache[key]


# ------------------------------------------------------------------------------ comparison
@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes
    ----------
    metrics : DataFrame
        Tidy: one row per candidate, split and metric (``candidate``, ``split``, ``test_from``,
        ``metric``, ``value``).
    results : dict of str to BacktestResult
        Each candidate's backtest (fitted models, per-row scores).
    baselines : list of str
        Which candidates are baselines.
    params : dict
        The shared settings.

    Examples
    --------
    See :func:`compare`.
    """

    metrics: pd.DataFrame
    results: dict[str, BacktestResult]
    baselines: list[str]
    params: dict[str, Any]

    @property
    def candidates(self) -> list[str]:
        """Candidate names in the order given (baselines last)."""
        return list(self.results)

    def table(self, metric: str) -> pd.DataFrame:
        """One metric as a split x candidate table (the input of the selection rules).

        Parameters
        ----------
        metric : str
            E.g. ``"roc_auc"`` or ``"precision@10%"``.

        Returns
        -------
        DataFrame
            Indexed by ``split``, one column per candidate.
        """
        sub = self.metrics[self.metrics["metric"] == metric]
        if sub.empty:
            raise ConfigError(
                METRIC_UNKNOWN.format(metric=metric),
                key="metric",
                arrived=repr(metric),
                hint=f"choose one of {sorted(self.metrics['metric'].unique())!r}",
            )
        wide = sub.pivot(index="split", columns="candidate", values="value")
        return wide[self.candidates]

    def split_times(self) -> pd.Series:
        """Return the first test as-of date of each split."""
        first = next(iter(self.results.values()))
        return first.metrics["test_from"]

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over splits, candidate x metric.

        Returns
        -------
        DataFrame
            Indexed by ``candidate``; columns ``(metric, "mean")`` and ``(metric, "std")``.
        """
        agg = self.metrics.groupby(["candidate", "metric"], sort=False)["value"].agg(
            ["mean", "std"]
        )
        wide = pd.DataFrame(agg.unstack("metric"))
        pairs = [tuple(c) for c in wide.columns.to_list()]
        wide.columns = pd.MultiIndex.from_tuples([(c[1], c[0]) for c in pairs])
        order = list(dict.fromkeys(self.metrics["metric"]))
        wide = wide[[(m, stat) for m in order for stat in ("mean", "std")]]
        return pd.DataFrame(wide.loc[self.candidates])

    def scores(self) -> pd.DataFrame:
        """Return every candidate's test scores, long.

        Columns ``candidate``, ``split``, ``student_id``, ``as_of``, ``score``, ``label`` (the
        input of :func:`compare_lists` and :func:`list_churn`).
        """
        frames = [r.scores.assign(candidate=name) for name, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["candidate", "split", "student_id", "as_of", "score", "label"]]

    def audition(self, metric: str, **kwargs: Any) -> Any:
        """Apply selection rules to one metric over the splits.

        Parameters
        ----------
        metric : str
            E.g. ``"precision@10%"``.
        **kwargs
            Passed to :func:`~studentprofile.evaluation.audition` (``rules``, ...).

        Returns
        -------
        Audition
        """
        return _audition(self, metric, **kwargs)

    def compare_lists(self, k: Any, **kwargs: Any) -> Any:
        """Compare the candidates' top-k lists (:func:`~studentprofile.evaluation.compare_lists`).

        Parameters
        ----------
        k : float or int
            The caseload per as-of date.
        **kwargs
            Passed on (``candidates``).

        Returns
        -------
        ListComparison
        """
        from studentprofile.evaluation._lists import compare_lists

        return compare_lists(self.scores(), k=k, **kwargs)

    def list_churn(self, k: Any, **kwargs: Any) -> Any:
        """Churn of each candidate's top-k list (:func:`~studentprofile.evaluation.list_churn`).

        Parameters
        ----------
        k : float or int
            The caseload per as-of date.
        **kwargs
            Passed on (``candidate``).

        Returns
        -------
        ListComparison
        """
        from studentprofile.evaluation._lists import list_churn

        return list_churn(self.scores(), k=k, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the params and the metrics."""
        from studentprofile.evaluation._json import to_json_safe

        return to_json_safe(
            {"params": self.params, "baselines": self.baselines, "metrics": self.metrics}
        )

    def __repr__(self) -> str:
        n_splits = self.metrics["split"].nunique()
        return (
            f"Comparison({len(self.results)} candidate(s) incl. {len(self.baselines)} "
            f"baseline(s), {n_splits} split(s))"
        )

    def _repr_html_(self) -> str:
        from studentprofile.evaluation._report import _table

        means = self.metrics.groupby(["candidate", "metric"], sort=False)["value"].mean()
        wide = means.unstack("metric").loc[self.candidates]
        wide.insert(0, "baseline", [c in self.baselines for c in wide.index])
        return (
            f"<div><strong>{html.escape(repr(self))}</strong>"
            "<p>Mean over splits; <code>.table(metric)</code> gives each split.</p>"
            f"{_table(wide)}</div>"
        )


def _named_candidates(candidates: Any) -> dict[str, Any]:
    if candidates is None:
        return {}
    if isinstance(candidates, Mapping):
        items = list(candidates.items())
    elif isinstance(candidates, Sequence) and not isinstance(candidates, str):
        items = []
        for i, model in enumerate(candidates):
            items.append((f"{type(model).__name__}_{i}", model))
    else:
        items = [(type(candidates).__name__, candidates)]
    out: dict[str, Any] = {}
    for name, model in items:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(CANDIDATE_NAME_INVALID, key="candidates", arrived=repr(name))
        if name in out or name in BASELINES:
            raise ConfigError(
                CANDIDATE_NAME_TAKEN.format(name=name, baselines=BASELINES),
                key="candidates",
                arrived=repr(name),
                hint="give each candidate its own name in a dict",
            )
        if not (callable(getattr(model, "fit", None))
                and callable(getattr(model, "predict_proba", None))):
            raise ConfigError(
                CANDIDATE_INVALID.format(name=name),
                key=f"candidates[{name!r}]",
                arrived=f"an object of type {type(model).__name__}",
                hint="pass e.g. studentprofile.RiskModel(), or wrap a rule in RuleScorer",
            )
        out[name] = model
    return out


def _baseline_models(baselines: Any) -> dict[str, Any]:
    if baselines is True:
        names: list[str] = list(BASELINES)
    elif baselines is False or baselines is None:
        names = []
    elif isinstance(baselines, Sequence) and not isinstance(baselines, str) and all(
        b in BASELINES for b in baselines
    ):
        names = list(baselines)
    else:
        raise ConfigError(
            BASELINES_INVALID.format(allowed=BASELINES), key="baselines", arrived=repr(baselines)
        )
    makers: dict[str, Callable[[], Any]] = {
        "logistic_regression": logistic_baseline,
        "best_one_feature": OneFeatureRanking,
    }
    return {name: makers[name]() for name in names}


def compare(
    candidates: Any,
    tables: EventTables,
    splits: TemporalSplits,
    *,
    feature_builder: Any,
    outcome: str | Sequence[str],
    grid: pd.DataFrame | None = None,
    k: Any = (0.05, 0.1, 0.2),
    baselines: bool | Sequence[str] = True,
    n_bins: int = 10,
    truncate: bool = True,
    train_mask: Any = None,
    test_mask: Any = None,
    test_observed_until: Any = None,
) -> Comparison:
    """Backtest several candidates and the baselines on the same splits and features.

    Parameters
    ----------
    candidates : dict of str to estimator, or list of estimators
        The models to compare, e.g. ``{"lgbm_small": RiskModel(num_leaves=7), ...}`` (a list
        is named ``<class>_<position>``). Any scikit-learn style classifier that
        ``sklearn.base.clone`` copies; wrap a fixed rule (the ABC indicators) in
        :class:`RuleScorer`.
    tables, splits
        As for :func:`~studentprofile.evaluation.backtest`.
    feature_builder : object
        As for :func:`~studentprofile.evaluation.backtest`; fitted once on the tables known
        before the first split and shared, so every candidate reads the same features.
    outcome : str or list of str
        The outcome(s) counted as positive.
    grid, k, n_bins, truncate, train_mask, test_mask, test_observed_until
        As for :func:`~studentprofile.evaluation.backtest`.
    baselines : bool or list of str, default True
        Add the baselines (``"logistic_regression"``, ``"best_one_feature"``); ``False`` adds
        none, a list adds those named.

    Returns
    -------
    Comparison
        ``metrics`` is tidy: candidate x split x metric (``roc_auc``, ``pr_auc``, ``brier``,
        ``log_loss``, ``ece``, ``precision@k``, ``recall@k``, ``lift@k``).

    Raises
    ------
    ConfigError
        No candidate, a name used twice (or a baseline's name), an object that is not a
        classifier; anything :func:`~studentprofile.evaluation.backtest` refuses.

    Examples
    --------
    Eight students, the withdrawals of the less engaged ones; two candidates and the baselines:

    >>> import pandas as pd
    >>> from sklearn.tree import DecisionTreeClassifier
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
    >>> result = compare({"tree": DecisionTreeClassifier(max_depth=1)}, tables, splits,
    ...                  feature_builder=Engagement(), outcome="withdrawn", k=[2],
    ...                  test_observed_until=100.0)
    >>> result.candidates
    ['tree', 'logistic_regression', 'best_one_feature']
    >>> result.table("roc_auc")
    candidate  tree  logistic_regression  best_one_feature
    split
    0           0.5                  1.0               1.0
    """
    named = _named_candidates(candidates)
    added = _baseline_models(baselines)
    named.update(added)
    if not named:
        raise ConfigError(CANDIDATES_EMPTY, key="candidates", arrived=repr(candidates))
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
    _check_builder(feature_builder)
    first_test = next(iter(splits)).test_from
    shared = _SharedFeatures(_prepared_builder(feature_builder, tables, first_test))
    results: dict[str, BacktestResult] = {}
    rows = []
    for name, model in named.items():
        result = backtest(
            tables,
            splits,
            feature_builder=shared,
            model=model,
            outcome=outcome,
            grid=grid,
            k=k,
            n_bins=n_bins,
            truncate=truncate,
            train_mask=train_mask,
            test_mask=test_mask,
            test_observed_until=test_observed_until,
        )
        result.params["feature_builder"] = type(feature_builder).__name__
        results[name] = result
        m = result.metrics
        skip = {"train_from", "train_until", "label_cutoff", "test_from", "test_until",
                "n_train", "n_train_positive", "n_test", "n_test_positive", "prevalence"}
        metric_cols = [c for c in m.columns if c not in skip]
        long = m[["test_from", *metric_cols]].reset_index().melt(
            id_vars=["split", "test_from"], var_name="metric", value_name="value"
        )
        long.insert(0, "candidate", name)
        rows.append(long)
    metrics = pd.concat(rows, ignore_index=True)
    metrics["value"] = metrics["value"].astype(np.float64)
    first = next(iter(results.values()))
    params = {key: value for key, value in first.params.items() if key != "model"}
    params["candidates"] = {name: type(m).__name__ for name, m in named.items()}
    return Comparison(
        metrics=metrics,
        results=results,
        baselines=list(added),
        params=params,
    )
