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
this one; wrap them in :class:`RuleScorer` and pass them as a candidate.
"""

from __future__ import annotations

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
from studentprofile.evaluation._baselines import (
    OneFeatureRanking,
    logistic_baseline,
)
from studentprofile.evaluation._selection import audition as _audition
from studentprofile.tables import EventTables

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "Comparison",
    "FeatureSubset",
    "ablation_candidates",
    "compare",
]

BASELINES = ("logistic_regression", "best_one_feature")
"""The names of the baselines :func:`compare` adds when ``baselines=True``."""

CANDIDATES_EMPTY = "candidates must name at least one model (or keep baselines=True)"
CANDIDATE_NAME_INVALID = "candidate names must be non-empty text"
CANDIDATE_NAME_TAKEN = "candidate name {name!r} is used twice (baselines are named {baselines!r})"
CANDIDATE_INVALID = "candidate {name!r} must be a classifier with fit() and predict_proba()"
BASELINES_INVALID = "baselines must be True, False or a list of names from {allowed!r}"
METRIC_UNKNOWN = "metric {metric!r} is not in the comparison"
ABLATIONS = ("leave_one_out", "only_one")
"""Feature-group ablation modes: leave one family out, or keep only one family."""
ABLATION_INVALID = "ablation must be a list of modes from {allowed!r}"
ABLATION_NO_FAMILIES = "ablation needs feature families (FeatureInfo.family) for every column"
ABLATION_OF_UNKNOWN = "ablation_of must name one of the candidates"
SUBSET_EMPTY = "FeatureSubset needs at least one column"
SUBSET_MISSING = "columns {missing!r} of the feature subset are not in X"


# --------------------------------------------------------------------------- ablation
class FeatureSubset(ClassifierMixin, BaseEstimator):
    """A classifier that sees only some feature columns (a feature-group ablation candidate).

    Parameters
    ----------
    estimator : classifier
        Fitted on ``X[columns]`` (a fresh ``sklearn.base.clone``), with the matching
        ``feature_info`` records when its ``fit`` takes them.
    columns : list of str
        The columns it may use.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"clicks": [0.0, 1.0, 5.0, 6.0], "age": [30.0, 20.0, 30.0, 20.0]})
    >>> model = FeatureSubset(LogisticRegression(), ["clicks"]).fit(X, [1, 1, 0, 0])
    >>> model.feature_names_in_
    ['clicks']
    >>> model.predict_proba(X).shape
    (4, 2)
    """

    def __init__(self, estimator: Any = None, columns: Sequence[str] = ()) -> None:
        self.estimator = estimator
        self.columns = columns

    def _subset(self, X: Any) -> pd.DataFrame:
        cols = list(self.columns)
        if not cols:
            raise ConfigError(SUBSET_EMPTY, key="columns", arrived=repr(self.columns))
        if not isinstance(X, pd.DataFrame):
            raise SchemaError("FeatureSubset needs a DataFrame with named columns",
                              table="X", rule="type",
                              arrived=f"an object of type {type(X).__name__}")
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise SchemaError(SUBSET_MISSING.format(missing=missing[:5]), table="X",
                              rule="columns", arrived=f"{len(missing)} column(s) absent",
                              hint="fit and score on the same feature builder's output")
        return X[cols]

    def fit(self, X: Any, y: Any, feature_info: Any = None) -> FeatureSubset:
        """Fit a clone of the estimator on the subset.

        Parameters
        ----------
        X : DataFrame
            All features.
        y : array of 0/1
            Labels.
        feature_info : mapping, optional
            Feature records; the subset's are passed on when the estimator's ``fit`` takes
            ``feature_info``.

        Returns
        -------
        FeatureSubset
            ``self``.
        """
        from sklearn.base import clone

        sub = self._subset(X)
        self.estimator_ = clone(self.estimator)
        kwargs: dict[str, Any] = {}
        if feature_info is not None and _accepts_info(self.estimator_.fit):
            kwargs["feature_info"] = {c: feature_info[c] for c in sub.columns
                                      if c in feature_info}
        self.estimator_.fit(sub, y, **kwargs)
        self.classes_ = getattr(self.estimator_, "classes_", np.array([0, 1]))
        self.feature_names_in_ = list(sub.columns)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Score the rows with the subset.

        Parameters
        ----------
        X : DataFrame
            All features (the subset's columns are taken).

        Returns
        -------
        ndarray of shape (n, 2)
        """
        if not hasattr(self, "estimator_"):
            raise ConfigError("FeatureSubset is not fitted: call fit first", key="model")
        return np.asarray(self.estimator_.predict_proba(self._subset(X)))


def _accepts_info(fit: Any) -> bool:
    import inspect

    try:
        return "feature_info" in inspect.signature(fit).parameters
    except (TypeError, ValueError):
        return False


def ablation_candidates(
    name: str,
    model: Any,
    feature_info: Mapping[str, Any],
    modes: Sequence[str] = ABLATIONS,
) -> dict[str, FeatureSubset]:
    """Feature-group ablation of one candidate over the feature families.

    Parameters
    ----------
    name : str
        The candidate's name, the stem of the new names.
    model : classifier
        The candidate.
    feature_info : mapping of str to FeatureInfo
        One record per feature column (``family``: academic, behavioral, participation,
        wellbeing, static).
    modes : list of str, default ("leave_one_out", "only_one")
        ``"leave_one_out"`` adds ``<name>-without-<family>`` (every family but one);
        ``"only_one"`` adds ``<name>-only-<family>``. A subset that would be empty, hold
        every column or repeat an earlier subset (with two families, "only one" is "leave the
        other out") is left out; with a single family there is nothing to ablate.

    Returns
    -------
    dict of str to FeatureSubset
        In family order (sorted), leave-one-out first.

    Raises
    ------
    ConfigError
        An unknown mode, or columns without a family.

    Examples
    --------
    >>> from types import SimpleNamespace as Info
    >>> infos = {"clicks": Info(family="behavioral"), "score": Info(family="academic"),
    ...          "age": Info(family="static")}
    >>> list(ablation_candidates("lgbm", object(), infos, modes=["leave_one_out"]))
    ['lgbm-without-academic', 'lgbm-without-behavioral', 'lgbm-without-static']
    >>> ablation_candidates("lgbm", object(), infos)["lgbm-only-static"].columns
    ['age']
    >>> two = {"clicks": Info(family="behavioral"), "score": Info(family="academic")}
    >>> list(ablation_candidates("lgbm", object(), two))  # "only one" repeats "leave one out"
    ['lgbm-without-academic', 'lgbm-without-behavioral']
    """
    if isinstance(modes, str) or not isinstance(modes, Sequence) or any(
        m not in ABLATIONS for m in modes
    ):
        raise ConfigError(ABLATION_INVALID.format(allowed=ABLATIONS), key="ablation",
                          arrived=repr(modes))
    families: dict[str, list[str]] = {}
    for col, info in (feature_info or {}).items():
        fam = getattr(info, "family", None)
        if not isinstance(fam, str) or not fam:
            raise ConfigError(ABLATION_NO_FAMILIES, key="feature_info",
                              arrived=f"column {col!r} has family {fam!r}",
                              hint="use a FeatureBuilder (its feature_info_ has families)")
        families.setdefault(fam, []).append(str(col))
    all_cols = [c for cols in families.values() for c in cols]
    out: dict[str, FeatureSubset] = {}
    for mode in [m for m in ABLATIONS if m in modes]:
        for fam in sorted(families):
            if mode == "leave_one_out":
                cols = [c for c in all_cols if c not in set(families[fam])]
                label = f"{name}-without-{fam}"
            else:
                cols = list(families[fam])
                label = f"{name}-only-{fam}"
            seen = [list(m.columns) for m in out.values()]
            # with two families, "only academic" is "without static": keep the first name
            if cols and len(cols) < len(all_cols) and cols not in seen:
                out[label] = FeatureSubset(model, cols)
    return out


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
        from studentprofile import _html

        if self.metrics.empty:
            return _html.display(repr(self), [_html.note("No metric was measured.")])
        means = self.metrics.groupby(["candidate", "metric"], sort=False)["value"].mean()
        wide = means.unstack("metric").reindex(self.candidates)
        wide = wide[_headline_first(list(wide.columns))]
        wide.insert(0, "baseline", [c in self.baselines for c in wide.index])
        return _html.display(repr(self), [
            _html.note("Mean over splits; .table(metric) gives each split, .metrics all rows."),
            _html.table(wide, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ])


def _headline_first(metrics: list[str]) -> list[str]:
    """AUC, precision at k and ECE first (what the notebook reader compares), then the rest."""
    def rank(name: str) -> int:
        for i, head in enumerate(("roc_auc", "precision@", "ece", "pr_auc", "brier")):
            if name == head or (head.endswith("@") and name.startswith(head)):
                return i
        return 9

    return sorted(metrics, key=lambda m: (rank(m), metrics.index(m)))


def _named_candidates(candidates: Any, key: str = "candidates") -> dict[str, Any]:
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
            raise ConfigError(CANDIDATE_NAME_INVALID, key=key, arrived=repr(name))
        if name in out or name in BASELINES:
            raise ConfigError(
                CANDIDATE_NAME_TAKEN.format(name=name, baselines=BASELINES),
                key=key,
                arrived=repr(name),
                hint="give each candidate its own name in a dict",
            )
        if not (callable(getattr(model, "fit", None))
                and callable(getattr(model, "predict_proba", None))):
            raise ConfigError(
                CANDIDATE_INVALID.format(name=name),
                key=f"{key}[{name!r}]",
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
    extra_baselines: Mapping[str, Any] | None = None,
    n_bins: int = 10,
    truncate: bool = True,
    train_mask: Any = None,
    test_mask: Any = None,
    test_observed_until: Any = None,
    ablation: Sequence[str] = (),
    ablation_of: str | None = None,
) -> Comparison:
    """Backtest several candidates and the baselines on the same splits and features.

    Parameters
    ----------
    candidates : dict of str to estimator, or list of estimators
        The models to compare, e.g. ``{"lgbm_small": RiskModel(num_leaves=7), ...}`` (a list
        is named ``<class>_<position>``). Any scikit-learn style classifier that
        ``sklearn.base.clone`` copies; wrap a fixed rule in :class:`RuleScorer`. The ABC rule
        baseline a configured run adds is :func:`studentprofile.warning.abc_baseline`: pass it
        as ``extra_baselines={"abc_rules": abc_baseline()}`` (``warning`` sits above this
        layer, so the caller brings it).
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
    extra_baselines : dict of str to estimator, optional
        More baselines, after those: judged like every candidate but listed in
        ``Comparison.baselines`` (so :func:`post_modeling` never ships one), e.g. the ABC
        rules as a configured run adds them:
        ``extra_baselines={"abc_rules": studentprofile.warning.abc_baseline()}``.
    ablation : list of str, default ()
        Feature-group ablation as a grid dimension (:func:`ablation_candidates`):
        ``"leave_one_out"`` and/or ``"only_one"`` over the builder's feature families.
    ablation_of : str, optional
        The candidate ablated (default: the first).

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
    for name, model in _named_candidates(extra_baselines, key="extra_baselines").items():
        if name in named:
            raise ConfigError(
                CANDIDATE_NAME_TAKEN.format(name=name, baselines=BASELINES),
                key="extra_baselines", arrived=repr(name),
                hint="a baseline and a candidate need different names")
        added[name] = model
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
    if ablation:
        own = [n for n in named if n not in added]
        target = ablation_of if ablation_of is not None else (own[0] if own else None)
        if target not in own:
            raise ConfigError(ABLATION_OF_UNKNOWN, key="ablation_of", arrived=repr(target),
                              hint=f"choose one of {own!r}")
        infos = shared.feature_info_
        if not infos:
            raise ConfigError(ABLATION_NO_FAMILIES, key="ablation",
                              arrived=f"a {type(feature_builder).__name__} without "
                              "feature_info_ after fit",
                              hint="use studentprofile.FeatureBuilder, whose records name "
                              "each column's family")
        extra = ablation_candidates(str(target), named[str(target)], infos, ablation)
        for label in extra:
            if label in named:
                raise ConfigError(
                    CANDIDATE_NAME_TAKEN.format(name=label, baselines=BASELINES),
                    key="candidates", arrived=repr(label),
                    hint="rename the candidate: ablation names its variants <name>-without-...")
        # ablation variants follow their candidate; baselines stay last
        merged = {n: m for n, m in named.items() if n not in added}
        merged.update(extra)
        merged.update(added)
        named = merged
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
