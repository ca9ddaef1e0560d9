"""Drift monitoring: population stability index and Kolmogorov-Smirnov per feature and score.

A model trained on last year's students scores this year's. When the features or the score move
away from what the model saw, its calibration and ranking can silently decay. The
:class:`DriftMonitor` compares the current as-of date with the reference (training) period:

* **PSI** (population stability index) over ``bins`` quantile bins of the reference, plus one bin
  for missing values: ``sum((c - r) * ln(c / r))`` over bin shares ``r`` (reference) and ``c``
  (current), shares floored at ``1e-4`` so an empty bin does not give an infinite index. The usual
  reading: below 0.1 stable, 0.1-0.25 a moderate shift worth watching, above 0.25 a major shift.
  Text and categorical columns use one bin per reference category (plus "other" and "missing").
* **KS** (two-sample Kolmogorov-Smirnov) on the non-missing values: the largest distance between
  the two empirical distribution functions, with the asymptotic two-sided p-value (Smirnov's
  limit distribution, as ``scipy.stats.ks_2samp(method="asymp")``).

A row's ``status`` is ``"drift"`` when PSI passes the upper threshold or KS passes its threshold
with a p-value below ``ks_alpha``; ``"watch"`` when PSI passes the lower one; else ``"stable"``.
A :class:`~studentprofile.errors.DataQualityWarning` names the drifting columns.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, DataQualityWarning, NotFittedError, SchemaError
from studentprofile.warning._inputs import infos_for

__all__ = ["DriftMonitor", "ks_2sample", "psi"]

logger = logging.getLogger(__name__)

_FLOOR = 1e-4


def _as_float(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return arr.astype("float64")
    if arr.dtype.kind not in "iuf":
        try:
            arr = pd.to_numeric(pd.Series(arr), errors="raise").to_numpy(dtype="float64")
        except (ValueError, TypeError) as exc:
            raise SchemaError(
                f"{what} must be numeric",
                table="drift",
                column=what,
                rule="numeric",
                arrived=f"dtype {arr.dtype}",
                hint="drift of text columns is measured by DriftMonitor (by category)",
            ) from exc
    return np.asarray(arr, dtype="float64").ravel()


def _quantile_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges: distinct quantiles of the finite reference values."""
    finite = ref[np.isfinite(ref)]
    if finite.size == 0:
        return np.zeros(0)
    qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1], method="linear")
    return np.unique(qs)


def _bin_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of ``x`` in bins (-inf, e1], (e1, e2], ..., (ek, inf] and a last bin for NaN."""
    n = x.size
    out = np.zeros(edges.size + 2)
    if n == 0:
        return out
    nan = np.isnan(x)
    idx = np.searchsorted(edges, x[~nan], side="left")
    out[: edges.size + 1] = np.bincount(idx, minlength=edges.size + 1)
    out[-1] = nan.sum()
    return out / n


def _psi_from_shares(r: np.ndarray, c: np.ndarray) -> float:
    r = np.maximum(r, _FLOOR)
    c = np.maximum(c, _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: Any, current: Any, *, bins: int = 10) -> float:
    """Compute the population stability index of ``current`` against ``reference``.

    Parameters
    ----------
    reference, current : array-like of float
        The two samples. NaN counts in a bin of its own; -inf and inf fall in the end bins.
    bins : int, default 10
        Quantile bins of the finite reference values (fewer when quantiles repeat).

    Returns
    -------
    float
        0 for identical distributions; larger is more shifted.

    Raises
    ------
    SchemaError
        Non-numeric or empty samples.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=5000)
    >>> round(psi(ref, rng.normal(size=5000)), 3) < 0.01
    True
    >>> psi(ref, rng.normal(loc=1.0, size=5000)) > 0.25
    True
    """
    _check_bins(bins)
    r = _as_float(reference, "reference")
    c = _as_float(current, "current")
    _non_empty(r, c)
    edges = _quantile_edges(r, bins)
    return _psi_from_shares(_bin_shares(r, edges), _bin_shares(c, edges))


def ks_2sample(reference: Any, current: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic two-sided p-value.

    Missing values are dropped; -inf and inf are kept (they sit at the ends of both empirical
    distribution functions).

    Parameters
    ----------
    reference, current : array-like of float
        The two samples.

    Returns
    -------
    statistic : float
        ``max |F_ref(x) - F_cur(x)|`` over all ``x``.
    pvalue : float
        From Smirnov's limit distribution with ``n = round(n_ref * n_cur / (n_ref + n_cur))``;
        NaN when either sample has no non-missing value.

    Examples
    --------
    >>> ks_2sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])[0]
    0.5
    """
    r = _as_float(reference, "reference")
    c = _as_float(current, "current")
    r = np.sort(r[~np.isnan(r)])
    c = np.sort(c[~np.isnan(c)])
    return _ks_sorted(r, c)


def _ks_sorted(r: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    if r.size == 0 or c.size == 0:
        return math.nan, math.nan
    points = np.concatenate([r, c])
    f_r = np.searchsorted(r, points, side="right") / r.size
    f_c = np.searchsorted(c, points, side="right") / c.size
    d = float(np.max(np.abs(f_r - f_c)))
    from scipy.stats import kstwo

    m, n = max(r.size, c.size), min(r.size, c.size)
    en = round(m * n / (m + n))
    p = float(np.clip(kstwo.sf(d, en), 0.0, 1.0)) if en >= 1 else 1.0
    return d, p


def _check_bins(bins: Any) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ConfigError("bins must be an integer >= 2", key="bins", arrived=repr(bins))


def _non_empty(r: np.ndarray, c: np.ndarray) -> None:
    if r.size == 0 or c.size == 0:
        raise SchemaError(
            "drift needs values in both samples",
            table="drift",
            rule="non-empty",
            arrived=f"{r.size} reference and {c.size} current value(s)",
            hint="check the as-of dates selected for the reference and current periods",
        )


class DriftMonitor:
    """PSI and KS per feature (and for the score) against a reference period.

    Parameters
    ----------
    bins : int, default 10
        Quantile bins of the reference for PSI.
    psi_thresholds : tuple of float, default (0.1, 0.25)
        PSI at or above the first is ``"watch"``, at or above the second ``"drift"``.
    ks_threshold : float, default 0.1
        KS statistic at or above which (with ``p < ks_alpha``) a column is ``"drift"``.
    ks_alpha : float, default 0.01
        Significance level for the KS test.
    warn : bool, default True
        Emit a :class:`~studentprofile.errors.DataQualityWarning` when a column drifts.

    Attributes
    ----------
    columns_ : list of str
        The monitored columns (plus ``"score"`` when scores were given to ``fit``).
    reference_ : dict
        Per column: bin edges or categories, reference bin shares, sorted reference values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"attendance": rng.beta(8, 2, 2000), "clicks": rng.poisson(5, 2000)})
    >>> cur = pd.DataFrame({"attendance": rng.beta(4, 3, 500), "clicks": rng.poisson(5, 500)})
    >>> monitor = DriftMonitor(warn=False).fit(ref)
    >>> monitor.check(cur)[["column", "status"]]
           column  status
    0  attendance   drift
    1      clicks  stable
    """

    def __init__(
        self,
        *,
        bins: int = 10,
        psi_thresholds: tuple[float, float] = (0.1, 0.25),
        ks_threshold: float = 0.1,
        ks_alpha: float = 0.01,
        warn: bool = True,
    ):
        self.bins = bins
        self.psi_thresholds = psi_thresholds
        self.ks_threshold = ks_threshold
        self.ks_alpha = ks_alpha
        self.warn = warn

    def _check_params(self) -> None:
        _check_bins(self.bins)
        t = self.psi_thresholds
        if (not isinstance(t, tuple | list) or len(t) != 2
                or not all(isinstance(v, int | float) and math.isfinite(v) for v in t)
                or not 0 < t[0] <= t[1]):
            raise ConfigError("psi_thresholds must be two numbers 0 < watch <= drift",
                              key="psi_thresholds", arrived=repr(t), hint="e.g. (0.1, 0.25)")
        for key, v, hi in (("ks_threshold", self.ks_threshold, 1.0),
                           ("ks_alpha", self.ks_alpha, 1.0)):
            if not isinstance(v, int | float) or not 0 < v <= hi:
                raise ConfigError(f"{key} must be in (0, 1]", key=key, arrived=repr(v))

    def fit(self, X: pd.DataFrame, scores: Any = None, *, feature_info: Any = None
            ) -> DriftMonitor:
        """Remember the reference period.

        Parameters
        ----------
        X : DataFrame
            Feature rows of the reference (training) period; any index.
        scores : array-like, optional
            Risk scores of the same rows, monitored as the column ``"score"``.
        feature_info : mapping or fitted FeatureBuilder, optional
            Adds family and phrase to the report.

        Returns
        -------
        DriftMonitor
        """
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            raise SchemaError("X must be a pandas DataFrame", table="features",
                              rule="dataframe", arrived=type(X).__name__)
        if len(X) == 0:
            raise SchemaError("the reference period has no rows", table="features",
                              rule="non-empty", arrived="0 rows",
                              hint="select the training period's as-of dates")
        infos = infos_for(X, feature_info)
        self.reference_: dict[str, dict[str, Any]] = {}
        self.columns_: list[str] = []
        self.info_: dict[str, tuple[str, str]] = {}
        for col in X.columns:
            name = str(col)
            self.reference_[name] = self._profile(X[col])
            self.columns_.append(name)
            info = infos.get(name)
            self.info_[name] = (info.family, info.phrase) if info else ("", name)
        self.has_score_ = scores is not None
        if scores is not None:
            if "score" in self.reference_:
                raise SchemaError("X has a `score` column and scores were given",
                                  table="features", column="score", rule="unique-columns",
                                  arrived="a feature named 'score'",
                                  hint="rename the feature, or leave the scores out")
            s = _as_float(scores, "scores")
            if s.size != len(X):
                raise SchemaError("scores must have one value per row of X", table="scores",
                                  rule="length", arrived=f"{s.size} scores for {len(X)} rows")
            self.reference_["score"] = self._profile(pd.Series(s))
            self.columns_.append("score")
            self.info_["score"] = ("score", "risk score")
        self.n_reference_ = len(X)
        return self

    def _profile(self, col: pd.Series) -> dict[str, Any]:
        if _is_categorical(col):
            values = col.astype(object).where(col.notna(), None).to_numpy()
            cats = sorted({str(v) for v in values if v is not None})
            return {"kind": "category", "categories": cats,
                    "shares": _cat_shares(values, cats)}
        x = _as_float(col.to_numpy(dtype="float64", na_value=np.nan)
                      if col.dtype.kind != "b" else col.to_numpy(), str(col.name))
        edges = _quantile_edges(x, self.bins)
        return {"kind": "number", "edges": edges, "shares": _bin_shares(x, edges),
                "sorted": np.sort(x[~np.isnan(x)]), "missing": float(np.isnan(x).mean())}

    def check(self, X: pd.DataFrame, scores: Any = None) -> pd.DataFrame:
        """Compare current rows with the reference.

        Parameters
        ----------
        X : DataFrame
            Feature rows of the current as-of date, with the reference's columns.
        scores : array-like, optional
            Their risk scores (needed when ``fit`` saw scores).

        Returns
        -------
        DataFrame
            One row per column: ``column``, ``family``, ``phrase``, ``psi``, ``ks``,
            ``ks_pvalue``, ``missing_reference``, ``missing_current``, ``n_current`` and
            ``status`` (``"stable"``, ``"watch"``, ``"drift"``), in the order of ``columns_``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        SchemaError
            Missing columns, no rows, or scores missing when the reference had them.
        """
        if not hasattr(self, "reference_"):
            raise NotFittedError("this DriftMonitor is not fitted yet",
                                 hint="call fit(X_reference) first")
        if not isinstance(X, pd.DataFrame):
            raise SchemaError("X must be a pandas DataFrame", table="features",
                              rule="dataframe", arrived=type(X).__name__)
        feats = self.columns_[:-1] if self.has_score_ else self.columns_
        missing = [c for c in feats if c not in X.columns]
        if missing:
            raise SchemaError("the current rows lack monitored columns", table="features",
                              rule="required-column", arrived=repr(missing[:5]),
                              hint="build the current features with the same spec")
        if len(X) == 0:
            raise SchemaError("the current period has no rows", table="features",
                              rule="non-empty", arrived="0 rows")
        rows = []
        for col in self.columns_:
            if self.has_score_ and col == "score":
                if scores is None:
                    raise SchemaError("scores are needed: the reference had them",
                                      table="scores", rule="required-column",
                                      arrived="scores=None",
                                      hint="pass the current scores, or fit without scores")
                values = pd.Series(_as_float(scores, "scores"))
                if values.size != len(X):
                    raise SchemaError("scores must have one value per row of X",
                                      table="scores", rule="length",
                                      arrived=f"{values.size} scores for {len(X)} rows")
            else:
                values = X[col]
            rows.append(self._compare(col, values))
        report = pd.DataFrame(rows)
        drifting = report.loc[report["status"] == "drift", "column"].tolist()
        logger.info("drift: %d column(s) checked, %d drifting, %d to watch", len(report),
                    len(drifting), int((report["status"] == "watch").sum()))
        if drifting and self.warn:
            warnings.warn(
                f"{len(drifting)} of {len(report)} monitored column(s) drifted from the "
                f"reference period: {drifting[:5]!r}{' ...' if len(drifting) > 5 else ''}; "
                "check the data feed, and consider recalibrating or retraining the model",
                DataQualityWarning,
                stacklevel=2,
            )
        return report

    def _compare(self, col: str, values: pd.Series) -> dict[str, Any]:
        ref = self.reference_[col]
        family, phrase = self.info_[col]
        if ref["kind"] == "category":
            vals = values.astype(object).where(values.notna(), None).to_numpy()
            cur = _cat_shares(vals, ref["categories"])
            p = _psi_from_shares(ref["shares"], cur)
            d, pv = math.nan, math.nan
            miss_ref, miss_cur = float(ref["shares"][-1]), float(cur[-1])
        else:
            x = _as_float(values.to_numpy(dtype="float64", na_value=np.nan)
                          if values.dtype.kind != "b" else values.to_numpy(), col)
            p = _psi_from_shares(ref["shares"], _bin_shares(x, ref["edges"]))
            d, pv = _ks_sorted(ref["sorted"], np.sort(x[~np.isnan(x)]))
            miss_ref, miss_cur = ref["missing"], float(np.isnan(x).mean())
        watch, alert = self.psi_thresholds
        ks_flag = not math.isnan(d) and d >= self.ks_threshold and pv < self.ks_alpha
        status = "drift" if (p >= alert or ks_flag) else "watch" if p >= watch else "stable"
        return {"column": col, "family": family, "phrase": phrase, "psi": p, "ks": d,
                "ks_pvalue": pv, "missing_reference": miss_ref, "missing_current": miss_cur,
                "n_current": int(len(values)), "status": status}

    def check_dates(self, X: pd.DataFrame, scores: Any = None) -> pd.DataFrame:
        """:meth:`check` for every as-of date of a feature matrix indexed by (student, as_of).

        Parameters
        ----------
        X : DataFrame
            Feature matrix with an ``as_of`` index level.
        scores : array-like, optional
            Scores of its rows.

        Returns
        -------
        DataFrame
            The :meth:`check` rows with an ``as_of`` column first.
        """
        if not isinstance(X, pd.DataFrame) or "as_of" not in X.index.names:
            raise SchemaError("X needs an `as_of` index level", table="features",
                              rule="required-column",
                              arrived=repr(getattr(X, "index", None) and X.index.names))
        s = None if scores is None else _as_float(scores, "scores")
        dates = X.index.get_level_values("as_of")
        parts = []
        with warnings.catch_warnings():
            # one warning for the whole run (below), not one per date
            warnings.simplefilter("ignore", DataQualityWarning)
            for d in pd.unique(dates):
                mask = np.asarray(dates == d)
                rep = self.check(X[mask], None if s is None else s[mask])
                rep.insert(0, "as_of", d)
                parts.append(rep)
        out = pd.concat(parts, ignore_index=True)
        if self.warn and (out["status"] == "drift").any():
            n = int(out.loc[out["status"] == "drift", "as_of"].nunique())
            warnings.warn(
                f"monitored columns drifted from the reference period on {n} as-of date(s)",
                DataQualityWarning,
                stacklevel=2,
            )
        return out


def _is_categorical(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype))


def _cat_shares(values: np.ndarray, cats: list[str]) -> np.ndarray:
    """Shares per reference category, then "other" (unseen categories), then missing."""
    n = len(values)
    out = np.zeros(len(cats) + 2)
    if n == 0:
        return out
    pos = {c: i for i, c in enumerate(cats)}
    for v in values:
        if v is None:
            out[-1] += 1
        else:
            out[pos.get(str(v), len(cats))] += 1
    return out / n
