"""The baselines every comparison includes, and a wrapper for rule baselines.

* :func:`logistic_baseline`: median imputation, standard scaling, logistic regression;
* :class:`OneFeatureRanking`: the single feature with the best training AUC, as a percentile rank
  (triage's ``PercentileRankOneFeature``, with the feature chosen on the training rows);
* :class:`RuleScorer`: any fixed rule (e.g. the ABC indicators of :mod:`studentprofile.warning`,
  a layer above this one, which the caller brings) as a scikit-learn style candidate.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from studentprofile.errors import ConfigError
from studentprofile.evaluation._metrics import _roc_auc

__all__ = ["OneFeatureRanking", "RuleScorer", "logistic_baseline"]

NO_FEATURES = "the training rows have no feature column to rank on"
NOT_FITTED = "{name} is not fitted: call fit(X, y) first"
SCORER_INVALID = "score must be a callable taking the feature matrix and returning one number a row"
SCORER_OUTPUT = "the rule's score must return one finite number or NaN per row"


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
