"""Student-disjoint k-fold cross-validation: out-of-fold scores, reasons, metrics, a report.

For data without a time axis (a flat snapshot, one row per student) a temporal backtest has
nothing to split on; k-fold cross-validation is the honest estimate. Folds never share a
student (rows of one student stay together), are stratified by the label, and every row's
score comes from the one model that did not see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation._metrics import (
    brier_score,
    expected_calibration_error,
    pr_auc,
    roc_auc,
)
from studentprofile.evaluation._ranking import precision_at_k

__all__ = ["CrossValidation", "cross_validate"]


@dataclass
class CrossValidation:
    """The result of :func:`cross_validate`.

    Attributes
    ----------
    scores : pandas.Series
        Out-of-fold probabilities, indexed like the labelled rows of ``X``.
    fold : pandas.Series
        Each row's fold (0-based), same index.
    y : pandas.Series
        The labels of the scored rows.
    folds : pandas.DataFrame
        One row per fold: sizes, positives, ``auc``, ``pr_auc``, ``precision_at_k``
        (at the first ``k``), ``brier`` and ``ece``.
    reasons : list of dict
        Per scored row, the top reasons from the fold's model (empty when ``reasons=0``).
    report : EvaluationReport
        :func:`studentprofile.evaluate` on the out-of-fold scores (fairness when
        ``attributes`` were given).
    models : list
        The fitted model of each fold.
    unlabelled : int
        Rows of ``X`` with a missing label, left out.
    """

    scores: pd.Series
    fold: pd.Series
    y: pd.Series
    folds: pd.DataFrame
    reasons: list[dict[str, Any]]
    report: Any
    models: list[Any] = field(repr=False)
    unlabelled: int = 0

    def to_backtest(self, *, k: Any = (0.1,), n_bins: int = 10, feature_info: Any = None,
                    params: Mapping[str, Any] | None = None) -> Any:
        """Return the folds as a :class:`BacktestResult` (one split per fold).

        The pipeline, the model card and tracking read backtests; a fold's metrics are the
        same per-split metrics a temporal backtest reports, its scores the same long frame.

        Parameters
        ----------
        k : float, int or sequence, default (0.1,)
            Caseloads for precision at k per fold.
        n_bins : int, default 10
            Bins of the calibration error.
        feature_info : dict, optional
            Recorded as the result's ``feature_info``.
        params : mapping, optional
            Extra parameters to record (``kind`` is ``"kfold"``).

        Returns
        -------
        BacktestResult
        """
        from studentprofile.evaluation import _inputs
        from studentprofile.evaluation._backtest import BacktestResult, _split_metrics

        ks = [k] if isinstance(k, int | float) else list(k)
        index = self.scores.index
        ids = (index.get_level_values("student_id") if "student_id" in (index.names or [])
               else index)
        as_of = (index.get_level_values("as_of") if "as_of" in (index.names or [])
                 else np.zeros(len(index)))
        scores = pd.DataFrame({
            "split": self.fold.to_numpy(), "student_id": np.asarray(ids),
            "as_of": np.asarray(as_of), "score": self.scores.to_numpy(),
            "label": self.y.to_numpy(),
        })
        rows = []
        for fold, sub in scores.groupby("split", sort=True):
            y = sub["label"].to_numpy() == 1
            row: dict[str, Any] = {
                "split": int(np.asarray(fold).item()), "n_train": int(len(scores) - len(sub)),
                "n_train_positive": int((scores["label"] == 1).sum() - y.sum()),
                "n_test": len(sub), "n_test_positive": int(y.sum()),
                "prevalence": float(y.mean()) if len(y) else float("nan"),
            }
            row.update(_split_metrics(y, sub["score"].to_numpy(dtype=np.float64),
                                      sub["as_of"].to_numpy(), ks, n_bins))
            rows.append(row)
        metrics = pd.DataFrame(rows).set_index("split")
        splits = metrics[["n_train", "n_test"]].reset_index()
        info = {"kind": "kfold", "folds": len(self.folds),
                "k": [_inputs.k_label(one) for one in ks], **dict(params or {})}
        return BacktestResult(metrics=metrics, scores=scores, splits=splits,
                              models=list(self.models), feature_info=feature_info, params=info)

    def summary(self) -> dict[str, Any]:
        """Return the mean and standard deviation of each fold metric, and the pooled AUC."""
        out: dict[str, Any] = {"folds": len(self.folds), "rows": len(self.scores),
                               "unlabelled": self.unlabelled,
                               "pooled_auc": roc_auc(self.y.to_numpy(),
                                                     self.scores.to_numpy())}
        for col in ("auc", "pr_auc", "precision_at_k", "brier", "ece"):
            values = self.folds[col].to_numpy(dtype=float)
            out[col] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
        return out

    def __repr__(self) -> str:
        return (
            f"CrossValidation({len(self.folds)} fold(s), {len(self.scores):,} scored row(s), "
            f"pooled roc_auc={roc_auc(self.y.to_numpy(), self.scores.to_numpy()):.3f})"
        )

    def _repr_html_(self) -> str:
        """Compact notebook display: the pooled summary and the per-fold metrics."""
        from studentprofile import _html

        summary = self.summary()
        flat = {k: (f"{v['mean']:.3f} ± {v['std']:.3f}" if isinstance(v, dict) else v)
                for k, v in summary.items()}
        parts = [
            _html.kv_table(flat),
            _html.heading("Per fold"),
            _html.table(self.folds, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
            _html.note("Out-of-fold scores: .scores; the evaluation: .report; as a backtest: "
                       ".to_backtest()."),
        ]
        return _html.display(repr(self), parts)


def _groups_of(X: pd.DataFrame, groups: Any) -> np.ndarray:
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        if len(g) != len(X):
            raise ConfigError("groups must have one entry per row of X", key="groups",
                              arrived=f"{len(g)} entries for {len(X)} rows")
        return g
    if isinstance(X.index, pd.MultiIndex) and "student_id" in X.index.names:
        return np.asarray(X.index.get_level_values("student_id"), dtype=object)
    if X.index.name == "student_id":
        return np.asarray(X.index, dtype=object)
    return np.arange(len(X))  # one row per student: each row is its own group


def cross_validate(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    cv: int = 5,
    groups: Any = None,
    shuffle: bool = True,
    random_state: int = 0,
    attributes: pd.DataFrame | None = None,
    k: float | int | Sequence[float | int] = (0.05, 0.1, 0.2),
    reasons: int = 3,
    fit_params: Mapping[str, Any] | None = None,
    audit_options: Mapping[str, Any] | None = None,
) -> CrossValidation:
    """Cross-validate a model with student-disjoint, label-stratified folds.

    Parameters
    ----------
    model : estimator
        A scikit-learn classifier with ``predict_proba`` (a :class:`~studentprofile.RiskModel`,
        whose ``explain`` then gives each row's reasons); cloned for every fold.
    X : pandas.DataFrame
        The feature matrix.
    y : array-like of 0/1
        Labels aligned with ``X`` (a Series must have ``X``'s index); rows with a missing
        label are left out and counted.
    cv : int, default 5
        Number of folds (at least 2).
    groups : array-like, optional
        The group of each row (rows of a group share a fold). Default: the ``student_id``
        level of ``X``'s index, else one group per row.
    shuffle : bool, default True
        Shuffle students before cutting folds.
    random_state : int, default 0
        Seed of the shuffle (the same seed gives the same folds).
    attributes : pandas.DataFrame, optional
        Audit attributes indexed like ``X``: the report then holds a fairness audit.
    k : float, int or sequence, default (0.05, 0.1, 0.2)
        Caseload sizes for the ranking metrics (the first one for the per-fold column).
    reasons : int, default 3
        Reasons per row from the fold's model (0 for none).
    fit_params : mapping, optional
        Extra keyword arguments for ``fit``.
    audit_options : mapping, optional
        Passed to the report's fairness audit.

    Returns
    -------
    CrossValidation
        Out-of-fold scores, folds, per-fold metrics, reasons and the report.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=200)})
    >>> y = pd.Series((X["x"] + rng.normal(scale=0.5, size=200) > 0).astype(float))
    >>> result = cross_validate(LogisticRegression(), X, y, cv=4, reasons=0)
    >>> len(result.folds), round(result.summary()["auc"]["mean"], 2) > 0.8
    (4, True)
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    from studentprofile.evaluation._report import evaluate

    if not isinstance(X, pd.DataFrame):
        raise ConfigError("X must be a pandas DataFrame", key="X", arrived=type(X).__name__)
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ConfigError("cv must be a whole number of folds >= 2", key="cv", arrived=repr(cv))
    if isinstance(y, pd.Series):
        if not y.index.equals(X.index):
            raise SchemaError("y's index must equal X's index", table="labels",
                              rule="aligned-index",
                              hint="build y from the same grid as X, or pass y.to_numpy()")
        labels = y.to_numpy(dtype="float64")
    else:
        labels = np.asarray(y, dtype="float64")
    if labels.shape != (len(X),):
        raise SchemaError("y must have one label per row of X", table="labels",
                          rule="length", arrived=f"{labels.shape} for {len(X)} rows")
    known = ~np.isnan(labels)
    if not np.isin(labels[known], (0.0, 1.0)).all():
        raise SchemaError("labels must be 0 or 1 (or missing)", table="labels", rule="binary",
                          arrived=repr(sorted(set(labels[known].tolist()))[:6]))
    if attributes is not None and not (isinstance(attributes, pd.DataFrame)
                                       and attributes.index.equals(X.index)):
        raise SchemaError("attributes must be a DataFrame indexed like X", table="attributes",
                          rule="aligned-index", hint="e.g. snapshot.audit_frame()")
    g_all = _groups_of(X, groups)
    Xl, yl, gl = X[known], labels[known], g_all[known]
    n_pos = int(yl.sum())
    n_groups = len(pd.unique(gl))
    if n_pos < cv or len(yl) - n_pos < cv or n_groups < cv:
        raise SchemaError(
            f"{cv} folds need at least {cv} positive and {cv} negative labels and {cv} groups",
            table="labels", rule="enough-labels",
            arrived=f"{n_pos} positive, {len(yl) - n_pos} negative, {n_groups} groups",
            hint="use fewer folds or more labelled students",
        )
    splitter = StratifiedGroupKFold(n_splits=cv, shuffle=shuffle,
                                    random_state=random_state if shuffle else None)
    oof = np.full(len(yl), np.nan)
    fold_of = np.full(len(yl), -1, dtype=int)
    models: list[Any] = []
    rows: list[dict[str, Any]] = []
    reason_rows: list[dict[str, Any] | None] = [None] * len(yl)
    ks = [k] if isinstance(k, int | float) else list(k)
    first_k = ks[0]
    for i, (train, test) in enumerate(splitter.split(Xl, yl, gl)):
        fitted = clone(model).fit(Xl.iloc[train], yl[train], **dict(fit_params or {}))
        proba = np.asarray(fitted.predict_proba(Xl.iloc[test]))
        p = proba[:, 1] if proba.ndim == 2 else proba
        oof[test] = p
        fold_of[test] = i
        models.append(fitted)
        if reasons and hasattr(fitted, "explain"):
            for j, rec in zip(test, fitted.explain(Xl.iloc[test]).reasons(top=reasons),
                              strict=True):
                reason_rows[j] = rec
        yt = yl[test]
        both = 0 < yt.sum() < len(yt)
        rows.append({
            "fold": i, "n_train": len(train), "n_test": len(test),
            "positives_test": int(yt.sum()),
            "auc": roc_auc(yt, p) if both else np.nan,
            "pr_auc": pr_auc(yt, p) if both else np.nan,
            "precision_at_k": precision_at_k(yt, p, first_k) if yt.sum() else np.nan,
            "brier": brier_score(yt, p),
            "ece": expected_calibration_error(yt, p),
        })
    scores = pd.Series(oof, index=Xl.index, name="risk")
    report = evaluate(
        y_true=yl, scores=oof, k=tuple(ks),
        attributes=None if attributes is None else attributes.iloc[np.flatnonzero(known)],
        audit_options=audit_options,
        title=f"Cross-validation ({cv} student-disjoint folds)",
    )
    return CrossValidation(
        scores=scores, fold=pd.Series(fold_of, index=Xl.index, name="fold"),
        y=pd.Series(yl, index=Xl.index, name="y"), folds=pd.DataFrame(rows),
        reasons=[r for r in reason_rows if r is not None], report=report, models=models,
        unlabelled=int((~known).sum()),
    )
