"""Probability calibration on raw LightGBM scores: pure numpy at predict time.

A :class:`Calibrator` maps raw scores (log-odds for a binary model, one score per class for a
multi-class model) to probabilities. It is fitted once, on a held-out slice, and afterwards needs
nothing but numpy: its parameters are a few floats (sigmoid) or two short arrays per output
(isotonic), stored as JSON in the model's ``metadata.json``. The compiled scorer calls the same
:meth:`Calibrator.transform` on its own raw scores, so every path gives the same probabilities.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from studentprofile.errors import ConfigError, ModelIntegrityError

logger = logging.getLogger(__name__)

__all__ = ["CALIBRATION_METHODS", "Calibrator"]

#: ``none`` keeps LightGBM's own link (logistic / softmax), ``sigmoid`` is Platt scaling of the
#: raw score, ``isotonic`` a monotone step fit (needs a few hundred held-out rows to be stable).
CALIBRATION_METHODS: tuple[str, ...] = ("none", "sigmoid", "isotonic")


def _expit(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -z))
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _fit_platt(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Fit ``p = expit(a * f + b)`` by Newton's method on Platt's smoothed targets.

    Platt (2000) replaces the 0/1 targets by ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, which
    keeps the fit finite when the slice separates perfectly.
    """
    pos = y > 0
    prior1 = float(w[pos].sum())
    prior0 = float(w[~pos].sum())
    t = np.where(pos, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))

    def loss(a: float, b: float) -> float:
        z = a * f + b
        # -[t log p + (1 - t) log(1 - p)] with log p = -log(1 + e^-z), log(1-p) = -log(1 + e^z)
        return float(np.sum(w * (t * np.logaddexp(0.0, -z) + (1 - t) * np.logaddexp(0.0, z))))

    starts = [(1.0, 0.0), (0.0, math.log((prior1 + 1.0) / (prior0 + 1.0)))]
    a, b = min(starts, key=lambda ab: loss(*ab))
    current = loss(a, b)
    for _ in range(200):
        p = _expit(a * f + b)
        r = w * (p - t)
        g = np.array([float(np.sum(r * f)), float(np.sum(r))])
        h = w * p * (1 - p)
        hf = float(np.sum(h * f))
        hess = np.array([[float(np.sum(h * f * f)), hf], [hf, float(h.sum())]])
        hess += np.eye(2) * 1e-12 * max(1.0, float(np.trace(hess)))
        try:
            step = np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:  # pragma: no cover - the ridge above keeps it invertible
            break
        scale = 1.0
        while scale > 1e-10:
            na, nb = a - scale * float(step[0]), b - scale * float(step[1])
            new = loss(na, nb)
            if new <= current:
                break
            scale /= 2
        else:
            break
        done = current - new <= 1e-14 * max(1.0, abs(current))
        a, b, current = na, nb, new
        if done:
            break
    if a <= 0:
        # The slice ranks the other way round (or not at all): a calibration must never reverse
        # the model's order. Keep the model's slope and fit only the intercept.
        logger.warning(
            "sigmoid calibration: the held-out slice gives a non-increasing map (slope %.3g); "
            "kept slope 1 and fitted the intercept only",
            a,
        )
        a, b = 1.0, 0.0
        for _ in range(100):
            q = _expit(f + b)
            grad = float(np.sum(w * (q - t)))
            curv = float(np.sum(w * q * (1 - q))) + 1e-12
            b -= grad / curv
            if abs(grad / curv) < 1e-12:
                break
    return a, b


def _fit_isotonic(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn is only needed while fitting; predicting is np.interp on the thresholds.
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(f, (y > 0).astype("float64"), sample_weight=w)
    return (
        np.asarray(iso.X_thresholds_, dtype="float64"),
        np.asarray(iso.y_thresholds_, dtype="float64"),
    )


def _positional(
    args: tuple[Any, ...], method: Any, n_classes: Any, params: Any
) -> tuple[Any, Any, Any]:
    """Map the deprecated positional form ``Calibrator(method, n_classes, params)``."""
    names = ("method", "n_classes", "params")
    if len(args) > len(names):
        raise TypeError(
            f"Calibrator() takes at most {len(names)} arguments ({len(args)} given)"
        )
    warnings.warn(
        "Calibrator(method, n_classes, params) with positional arguments is deprecated and "
        "will stop working in the next release; pass them by name: "
        "Calibrator(method=..., n_classes=..., params=...)",
        FutureWarning,
        stacklevel=3,
    )
    given = {"method": method, "n_classes": n_classes, "params": params}
    for name, value in zip(names, args, strict=False):
        default = () if name == "params" else None
        if given[name] is not default and given[name] != default:
            raise TypeError(f"Calibrator() got multiple values for argument {name!r}")
        given[name] = value
    return given["method"], given["n_classes"], given["params"]


class Calibrator:
    """Map raw scores to calibrated probabilities; numpy only, JSON-serialisable.

    Build one with :meth:`fit` or :meth:`identity`; :class:`~studentprofile.models.RiskModel`
    does this for you and exposes it as ``model.calibrator_``.

    Parameters
    ----------
    method : {"none", "sigmoid", "isotonic"}
        ``none``: the model's own link (logistic for binary, softmax for multi-class).
        ``sigmoid``: Platt scaling, ``p = 1 / (1 + exp(-(a * raw + b)))``.
        ``isotonic``: a non-decreasing piecewise-linear map of the raw score, clipped at the ends.
        For multi-class models each class's raw score is calibrated one-vs-rest and the row is then
        normalised to sum to one (as scikit-learn's ``CalibratedClassifierCV`` does).
    n_classes : int
        2 for a binary model, k for a k-class model.
    params : sequence of dict
        One dict per calibrated output (1 for binary, k for multi-class): ``{"a", "b"}`` for
        sigmoid, ``{"x", "y"}`` (thresholds) for isotonic, empty for none.

    Examples
    --------
    >>> import numpy as np
    >>> cal = Calibrator.identity(2)
    >>> cal.transform(np.array([0.0, 2.0])).round(3)
    array([[0.5  , 0.5  ],
           [0.119, 0.881]])
    >>> cal = Calibrator(method="sigmoid", n_classes=2, params=[{"a": 0.5, "b": -1.0}])
    >>> cal.transform(np.array([2.0]))[:, 1]
    array([0.5])
    >>> Calibrator.from_dict(cal.to_dict()) == cal
    True
    """

    def __init__(
        self,
        *args: Any,
        method: str | None = None,
        n_classes: int | None = None,
        params: Any = (),
    ):
        if args:
            method, n_classes, params = _positional(args, method, n_classes, params)
        if method is None or n_classes is None:
            raise TypeError("Calibrator() needs the keyword arguments method= and n_classes=")
        if method not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibration method must be one of {list(CALIBRATION_METHODS)!r}",
                key="calibration",
                arrived=repr(method),
                hint="use 'sigmoid' (default), 'isotonic' or 'none'",
            )
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or (
            n_classes < 2
        ):
            raise ConfigError(
                "n_classes must be an integer >= 2",
                key="n_classes",
                arrived=repr(n_classes),
            )
        self.method = method
        self.n_classes = int(n_classes)
        n_out = 1 if self.n_classes == 2 else self.n_classes
        plist = [dict(p) for p in params]
        if method == "none":
            plist = []
        elif len(plist) != n_out:
            raise ConfigError(
                f"{method} calibration of a {self.n_classes}-class model needs {n_out} parameter "
                "set(s)",
                key="calibration.params",
                arrived=f"{len(plist)} parameter set(s)",
            )
        self.params: list[dict[str, Any]] = plist
        self._slopes = np.zeros(n_out)
        self._intercepts = np.zeros(n_out)
        self._x: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        if method == "sigmoid":
            for j, p in enumerate(plist):
                try:
                    self._slopes[j] = float(p["a"])
                    self._intercepts[j] = float(p["b"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ConfigError(
                        "sigmoid calibration parameters must be {'a': float, 'b': float}",
                        key="calibration.params",
                        arrived=repr(p),
                    ) from exc
        elif method == "isotonic":
            for p in plist:
                try:
                    x = np.asarray(p["x"], dtype="float64")
                    y = np.asarray(p["y"], dtype="float64")
                except (KeyError, TypeError, ValueError) as exc:
                    raise ConfigError(
                        "isotonic calibration parameters must be {'x': [...], 'y': [...]}",
                        key="calibration.params",
                        arrived=repr(p)[:200],
                    ) from exc
                if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or np.any(np.diff(x) < 0):
                    raise ConfigError(
                        "isotonic thresholds must be two equally long, non-empty 1-d lists with "
                        "x sorted",
                        key="calibration.params",
                        arrived=f"x of shape {x.shape}, y of shape {y.shape}",
                    )
                self._x.append(x)
                self._y.append(y)

    # ------------------------------------------------------------------------------ building
    @classmethod
    def identity(cls, n_classes: int) -> Calibrator:
        """Return the calibrator that applies the model's own link (no calibration).

        Parameters
        ----------
        n_classes : int
            2 for binary, k for multi-class.

        Returns
        -------
        Calibrator
        """
        return cls(method="none", n_classes=n_classes)

    @classmethod
    def fit(
        cls,
        raw: np.ndarray,
        y: np.ndarray,
        *,
        method: str,
        n_classes: int,
        sample_weight: np.ndarray | None = None,
    ) -> Calibrator:
        """Fit a calibrator on held-out raw scores.

        Parameters
        ----------
        raw : ndarray of shape (n,) or (n, k)
            Raw scores of held-out rows (log-odds for binary).
        y : ndarray of int, shape (n,)
            Class codes ``0 .. n_classes - 1``.
        method : {"none", "sigmoid", "isotonic"}
            See the class docstring.
        n_classes : int
            Number of classes.
        sample_weight : ndarray, optional
            Row weights.

        Returns
        -------
        Calibrator

        Examples
        --------
        >>> import numpy as np
        >>> raw = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
        >>> cal = Calibrator.fit(raw, np.array([0, 0, 1, 0, 1, 1]), method="sigmoid", n_classes=2)
        >>> bool(np.all(np.diff(cal.transform(raw)[:, 1]) > 0))
        True
        """
        if method == "none":
            return cls.identity(n_classes)
        raw = np.asarray(raw, dtype="float64")
        y = np.asarray(y)
        w = (
            np.ones(len(y), dtype="float64")
            if sample_weight is None
            else np.asarray(sample_weight, dtype="float64")
        )
        outputs = [raw.reshape(-1)] if n_classes == 2 else [raw[:, j] for j in range(n_classes)]
        targets = [y == 1] if n_classes == 2 else [y == j for j in range(n_classes)]
        params: list[dict[str, Any]] = []
        for f, t in zip(outputs, targets, strict=True):
            if method == "sigmoid":
                a, b = _fit_platt(f, t, w)
                params.append({"a": a, "b": b})
            elif method == "isotonic":
                xs, ys = _fit_isotonic(f, t, w)
                params.append({"x": xs.tolist(), "y": ys.tolist()})
            else:
                cls(method=method, n_classes=n_classes)  # the ConfigError for a bad method
        return cls(method=method, n_classes=n_classes, params=params)

    # ------------------------------------------------------------------------------ predicting
    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Map raw scores to probabilities.

        Parameters
        ----------
        raw : ndarray of shape (n,) for binary (``(n, 1)`` accepted) or (n, k)
            Raw scores, as ``RiskModel.predict_raw`` returns them.

        Returns
        -------
        ndarray of shape (n, n_classes)
            Probabilities; rows sum to one. For binary, column 1 is the positive class.
        """
        z = np.asarray(raw, dtype="float64")
        k = self.n_classes
        if k == 2:
            if z.ndim == 2 and z.shape[1] == 1:
                z = z[:, 0]
            if z.ndim != 1:
                raise ConfigError(
                    "a binary calibrator takes raw scores of shape (n,)",
                    key="raw",
                    arrived=f"shape {z.shape}",
                )
            if self.method == "none":
                p1 = _expit(z)
            elif self.method == "sigmoid":
                p1 = _expit(self._slopes[0] * z + self._intercepts[0])
            else:
                p1 = np.interp(z, self._x[0], self._y[0])
            return np.column_stack([1.0 - p1, p1])
        if z.ndim != 2 or z.shape[1] != k:
            raise ConfigError(
                f"a {k}-class calibrator takes raw scores of shape (n, {k})",
                key="raw",
                arrived=f"shape {z.shape}",
            )
        if self.method == "none":
            return _softmax(z)
        if self.method == "sigmoid":
            p = _expit(z * self._slopes + self._intercepts)
        else:
            p = np.column_stack([np.interp(z[:, j], self._x[j], self._y[j]) for j in range(k)])
        total = p.sum(axis=1, keepdims=True)
        flat = total[:, 0] <= 0
        total[flat] = 1.0
        out: np.ndarray = p / total
        out[flat] = 1.0 / k
        return out

    # ------------------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (floats are exact under ``json``)."""
        return {"method": self.method, "n_classes": self.n_classes, "params": self.params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        """Rebuild from :meth:`to_dict` output.

        Parameters
        ----------
        data : mapping
            The dictionary.

        Returns
        -------
        Calibrator

        Raises
        ------
        ModelIntegrityError
            When the dictionary is malformed.
        """
        try:
            return cls(
                method=str(data["method"]),
                n_classes=int(data["n_classes"]),
                params=list(data.get("params", [])),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelIntegrityError(
                "the calibration parameters are malformed",
                arrived=repr(dict(data))[:300] if isinstance(data, Mapping) else repr(data)[:300],
                hint="the artefact was edited or written by an incompatible version; retrain",
            ) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calibrator):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Calibrator(method={self.method!r}, n_classes={self.n_classes})"
