"""Threshold-free metrics: ROC AUC, PR AUC, Brier score, log loss, calibration error.

Every function takes ``(y_true, scores, ...)``, validates both (see ``_inputs``) and returns a
float; a metric that is undefined for the data (AUC when only one class is present, anything on
an empty input) is ``nan``, never an exception, so that per-split and per-group tables stay
rectangular.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from studentprofile.errors import ConfigError
from studentprofile.evaluation import _inputs

__all__ = [
    "brier_score",
    "expected_calibration_error",
    "log_loss",
    "pr_auc",
    "pr_curve",
    "reliability_curve",
    "roc_auc",
    "roc_curve",
]


def _roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s, method="average")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve: the chance a random positive outranks a random negative.

    ``AUC = (R+ - P(P+1)/2) / (P N)`` where ``R+`` is the sum of the positives' ranks among all
    scores (ascending, tied scores share their average rank), ``P`` the number of positives and
    ``N`` of negatives. A tie between a positive and a negative counts one half. Equals
    :func:`sklearn.metrics.roc_auc_score`.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; only their order matters.

    Returns
    -------
    float
        In [0, 1]; ``nan`` when ``y_true`` holds only one class.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1], [0.5, 0.5])  # a tie counts one half
    0.5
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    return _roc_auc(y, s)


def _threshold_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct score, highest score first."""
    if not len(s):  # no student: no threshold (the curves are empty, not an error)
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tps = np.cumsum(y_sorted, dtype=np.int64)[last]
    fps = (last + 1) - tps
    return tps, fps, s_sorted[last]


def _pr_auc(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    tps, fps, _ = _threshold_counts(y, s)
    precision = tps / (tps + fps)
    recall = tps / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pr_auc(y_true: Any, scores: Any) -> float:
    """Area under the precision-recall curve, as average precision (no interpolation).

    ``AP = sum_i (R_i - R_{i-1}) P_i`` over the distinct scores from the highest down, where
    ``P_i`` and ``R_i`` are the precision and recall when every student scoring at least the
    ``i``-th distinct score is flagged (tied students enter together). Equals
    :func:`sklearn.metrics.average_precision_score`, except that it is ``nan`` (not 0) when
    there are no positives.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores; only their order matters.

    Returns
    -------
    float
        In [0, 1]; the prevalence is what a random ranking scores on average.

    Examples
    --------
    >>> pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # (1/2)*1 + (1/2)*(2/3)
    0.8333...
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    return _pr_auc(y, s)


def roc_curve(y_true: Any, scores: Any) -> pd.DataFrame:
    """Compute the ROC curve: false and true positive rates at each distinct score.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores.

    Returns
    -------
    DataFrame
        Columns ``threshold`` (flag when score >= threshold; the first row, ``inf``, flags
        no one), ``fpr``, ``tpr``.

    Examples
    --------
    >>> roc_curve([0, 1, 1], [0.2, 0.9, 0.2])
       threshold  fpr  tpr
    0        inf  0.0  0.0
    1        0.9  0.0  0.5
    2        0.2  1.0  1.0
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    tps, fps, thr = _threshold_counts(y, s)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.r_[0, tps] / n_pos if n_pos else np.full(len(tps) + 1, np.nan)
        fpr = np.r_[0, fps] / n_neg if n_neg else np.full(len(fps) + 1, np.nan)
    return pd.DataFrame({"threshold": np.r_[np.inf, thr], "fpr": fpr, "tpr": tpr})


def pr_curve(y_true: Any, scores: Any) -> pd.DataFrame:
    """Compute the precision-recall curve at each distinct score, highest score first.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    scores : array-like of float
        Risk scores.

    Returns
    -------
    DataFrame
        Columns ``threshold`` (flag when score >= threshold), ``precision``, ``recall``.

    Examples
    --------
    >>> pr_curve([0, 1, 1], [0.2, 0.9, 0.2])
       threshold  precision  recall
    0        0.9   1.000000     0.5
    1        0.2   0.666667     1.0
    """
    y, s = _inputs.binary_inputs(y_true, scores)
    tps, fps, thr = _threshold_counts(y, s)
    n_pos = int(y.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tps / n_pos if n_pos else np.full(len(tps), np.nan)
    return pd.DataFrame({"threshold": thr, "precision": tps / (tps + fps), "recall": recall})


def brier_score(y_true: Any, probabilities: Any) -> float:
    """Brier score: the mean squared difference between probability and outcome.

    ``Brier = (1/n) sum_i (p_i - y_i)^2``; 0 is perfect, ``prevalence * (1 - prevalence)`` is
    what always predicting the prevalence scores. Equals
    :func:`sklearn.metrics.brier_score_loss`.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    probabilities : array-like of float in [0, 1]
        Predicted probabilities of the outcome.

    Returns
    -------
    float
        ``nan`` on empty input.

    Examples
    --------
    >>> brier_score([0, 1, 1], [0.2, 0.9, 0.5])  # (0.04 + 0.01 + 0.25) / 3
    0.1
    """
    y, p = _inputs.binary_inputs(y_true, probabilities, probability=True)
    if not len(y):
        return float("nan")
    return float(np.mean((p - y) ** 2))


def log_loss(y_true: Any, probabilities: Any) -> float:
    """Log loss (cross-entropy) of predicted probabilities.

    ``LogLoss = -(1/n) sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]``, with ``p`` clipped to
    ``[eps, 1 - eps]`` (``eps`` the float64 machine epsilon) so a confident mistake costs about
    36 rather than infinity. Equals :func:`sklearn.metrics.log_loss`.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    probabilities : array-like of float in [0, 1]
        Predicted probabilities of the outcome.

    Returns
    -------
    float
        ``nan`` on empty input.

    Examples
    --------
    >>> round(log_loss([0, 1], [0.5, 0.5]), 6)  # log 2
    0.693147
    """
    y, p = _inputs.binary_inputs(y_true, probabilities, probability=True)
    if not len(y):
        return float("nan")
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def _bin_edges(p: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if not len(p):
        return np.linspace(0.0, 1.0, n_bins + 1)
    return np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)


def _reliability(
    y: np.ndarray, p: np.ndarray, n_bins: int, strategy: str
) -> tuple[pd.DataFrame, float]:
    edges = _bin_edges(p, n_bins, strategy)
    # bins closed on the right: (e_i, e_{i+1}]; the first is [0, e_1]
    ids = np.searchsorted(edges[1:-1], p)
    count = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=p, minlength=n_bins)
    sum_y = np.bincount(ids, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / np.maximum(count, 1), np.nan)
        rate = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    frame = pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count.astype(np.int64),
            "mean_predicted": mean_p,
            "observed_rate": rate,
        }
    )
    n = len(y)
    if not n:
        return frame, float("nan")
    nonempty = count > 0
    ece = float(np.sum(count[nonempty] / n * np.abs(rate[nonempty] - mean_p[nonempty])))
    return frame, ece


def _check_bins(n_bins: Any, strategy: Any) -> tuple[int, str]:
    n = _inputs.positive_int(n_bins, "n_bins", _inputs.N_BINS_INVALID)
    if strategy not in ("uniform", "quantile"):
        raise ConfigError(
            _inputs.STRATEGY_INVALID,
            key="strategy",
            arrived=repr(strategy),
            hint="'uniform' bins split [0, 1] evenly; 'quantile' bins hold equal numbers",
        )
    return n, str(strategy)


def reliability_curve(
    y_true: Any,
    probabilities: Any,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> pd.DataFrame:
    """Reliability (calibration) curve: observed outcome rate against mean probability per bin.

    Bins are closed on the right, ``[0, e1], (e1, e2], ..., (e_{B-1}, 1]``, exactly as
    :func:`sklearn.calibration.calibration_curve` draws them; the non-empty rows equal its
    ``(prob_true, prob_pred)``.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    probabilities : array-like of float in [0, 1]
        Predicted probabilities.
    n_bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins over [0, 1], or bins at the quantiles of ``probabilities``.

    Returns
    -------
    DataFrame
        One row per bin: ``bin``, ``lower``, ``upper``, ``count``, ``mean_predicted``,
        ``observed_rate`` (``nan`` for an empty bin).

    Examples
    --------
    >>> reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2)
       bin  lower  upper  count  mean_predicted  observed_rate
    0    0    0.0    0.5      2            0.20            0.0
    1    1    0.5    1.0      2            0.75            1.0
    """
    n, strat = _check_bins(n_bins, strategy)
    y, p = _inputs.binary_inputs(y_true, probabilities, probability=True)
    return _reliability(y, p, n, strat)[0]


def expected_calibration_error(
    y_true: Any,
    probabilities: Any,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """Compute the expected calibration error: the count-weighted calibration gap.

    ``ECE = sum_b (n_b / n) |obs_b - mean_p_b|`` over the non-empty bins of
    :func:`reliability_curve`. 0 means every bin's observed rate equals its mean probability.

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether each student reached the outcome.
    probabilities : array-like of float in [0, 1]
        Predicted probabilities.
    n_bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        How bins are drawn (see :func:`reliability_curve`).

    Returns
    -------
    float
        ``nan`` on empty input.

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2)
    0.225
    """
    n, strat = _check_bins(n_bins, strategy)
    y, p = _inputs.binary_inputs(y_true, probabilities, probability=True)
    return _reliability(y, p, n, strat)[1]
