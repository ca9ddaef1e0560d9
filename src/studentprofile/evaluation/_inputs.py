"""Input checks shared by the evaluation module, with every error text as a module constant.

Each check turns one argument into a typed, contiguous numpy array or raises a
:class:`~studentprofile.errors.SchemaError` (bad arrays: wrong shape, NaN, labels not 0/1,
lengths that differ) or :class:`~studentprofile.errors.ConfigError` (bad parameters: ``k``,
``threshold``, ``n_bins``, ...). The messages are constants so that tests check them exactly.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.tables import _checks
from studentprofile.tables._checks import show_values

# ---------------------------------------------------------------------------- error texts
LABELS_NOT_BINARY = "labels must be 0 or 1 (or False/True)"
LABELS_MISSING = "labels must not be missing"
SCORES_NOT_NUMERIC = "scores must be numbers"
SCORES_NOT_FINITE = "scores must be finite numbers (no NaN or infinity)"
PROBABILITIES_OUT_OF_RANGE = "probabilities must lie in [0, 1]"
NOT_ONE_DIMENSIONAL = "expected one value per student (a 1-D array)"
LENGTHS_DIFFER = "`{a}` and `{b}` must have the same length"
INDEXES_DIFFER = "`{a}` and `{b}` are pandas objects with different indexes"
K_INVALID = (
    "k must be a fraction of students in (0, 1] (a float) or a number of students >= 0 (an int)"
)
K_AND_THRESHOLD = "pass exactly one of k= and threshold="
THRESHOLD_INVALID = "threshold must be a finite number"
TIES_INVALID = "ties must be one of {allowed!r}"
N_BINS_INVALID = "n_bins must be an integer >= 1"
STRATEGY_INVALID = "strategy must be 'uniform' or 'quantile'"

#: The tie rules of the ranking metrics: a student tied with the last flagged one.
TIE_RULES: tuple[str, ...] = ("expected", "worst", "best")
#: The one default tie rule of the ranking metrics, :func:`lead_time` and
#: :func:`flags_from_scores`: students tied at the cut count as not flagged unless all of them
#: fit (never more than ``k`` flagged; precision and recall are lower bounds).
DEFAULT_TIES: Final = "worst"

RENAMED_TWICE = "`{old}` is the old name of `{new}`: pass only `{new}`"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def renamed_keyword(old: str, new: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Keep a renamed keyword working for one release, with a FutureWarning.

    Parameters
    ----------
    old, new : str
        The old and the new keyword.

    Returns
    -------
    decorator

    Examples
    --------
    >>> import warnings
    >>> @renamed_keyword("scores", "score_frame")
    ... def f(score_frame):
    ...     return score_frame
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(scores=1), caught[0].category.__name__
    (1, 'FutureWarning')
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if old in kwargs:
                if new in kwargs:
                    raise ConfigError(
                        RENAMED_TWICE.format(old=old, new=new),
                        key=old,
                        arrived=f"{old}= and {new}=",
                        hint=f"drop {old}=",
                    )
                warnings.warn(
                    f"{func.__name__}({old}=...) is deprecated and will be removed in the next "
                    f"release; pass {new}=... instead",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


def _squeeze(values: Any, name: str) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise SchemaError(
                NOT_ONE_DIMENSIONAL,
                table=name,
                rule="one-dimensional",
                arrived=f"a DataFrame with {values.shape[1]} columns",
                hint="pass one column, e.g. df['risk']"
                + ("; for predict_proba output use [:, 1]" if values.shape[1] == 2 else ""),
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        series = _checks.plain(values)
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        return series.to_numpy()
    if isinstance(values, str | bytes) or np.isscalar(values) or values is None:
        raise SchemaError(
            NOT_ONE_DIMENSIONAL,
            table=name,
            rule="one-dimensional",
            arrived=f"a single value {values!r}",
            hint="pass a list, array or Series with one value per student",
        )
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = "pass a 1-D array with one value per student"
        if arr.ndim == 2 and arr.shape[1] == 2:
            hint = "for predict_proba output pass the positive-class column, proba[:, 1]"
        raise SchemaError(
            NOT_ONE_DIMENSIONAL,
            table=name,
            rule="one-dimensional",
            arrived=f"an array of shape {arr.shape!r}",
            hint=hint,
        )
    return arr


def _column_name(values: Any) -> str | None:
    """Return the column a Series or one-column DataFrame came from (named in errors)."""
    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        return str(values.columns[0])
    if isinstance(values, pd.Series) and values.name is not None:
        return str(values.name)
    return None


def _bad_positions(mask: np.ndarray) -> str:
    pos = np.flatnonzero(mask)
    return show_values(pos.tolist())


def _refuse_missing(missing: np.ndarray, name: str, column: str | None = None) -> None:
    if missing.any():
        raise SchemaError(
            LABELS_MISSING,
            table=name,
            column=column,
            rule="not-null",
            arrived=f"{int(missing.sum()):,} missing label(s) at positions "
            f"{_bad_positions(missing)}",
            hint="drop rows whose label is unknown (censored) before evaluating",
        )


def labels(y: Any, name: str = "y_true") -> np.ndarray:
    """Return ``y`` as a boolean array, refusing missing values and anything but 0/1.

    Parameters
    ----------
    y : array-like
        Labels.
    name : str
        The parameter name, used in error messages.

    Returns
    -------
    ndarray of bool
    """
    arr = _squeeze(y, name)
    column = _column_name(y)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iu":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            raise SchemaError(
                LABELS_NOT_BINARY,
                table=name,
                column=column,
                rule="binary-labels",
                arrived=f"values {show_values(np.unique(arr[bad]).tolist())} at positions "
                f"{_bad_positions(bad)}",
                hint="map the outcome to 1 (reached) and 0 (not reached), e.g. "
                "(final_result == 'Withdrawn').astype(int)",
            )
        return arr.astype(bool)
    if arr.dtype.kind == "f":
        missing = np.isnan(arr)
        _refuse_missing(missing, name, column)
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            raise SchemaError(
                LABELS_NOT_BINARY,
                table=name,
                column=column,
                rule="binary-labels",
                arrived=f"values {show_values(np.unique(arr[bad]).tolist())} at positions "
                f"{_bad_positions(bad)}",
                hint="map the outcome to 1 (reached) and 0 (not reached); for scores, pass them "
                "as scores=",
            )
        return arr == 1
    # object arrays: None/NaN, Python bools and ints are fine, text is not
    obj = arr.astype(object)
    missing = pd.isna(obj)
    _refuse_missing(missing, name, column)
    ok = np.fromiter(
        (
            (isinstance(v, bool | np.bool_))
            or (isinstance(v, int | float | np.integer | np.floating) and v in (0, 1))
            for v in obj
        ),
        dtype=bool,
        count=len(obj),
    )
    if not ok.all():
        raise SchemaError(
            LABELS_NOT_BINARY,
            table=name,
            column=column,
            rule="binary-labels",
            arrived=f"values {show_values(pd.unique(obj[~ok]).tolist())} at positions "
            f"{_bad_positions(~ok)}",
            hint="map the outcome to 1 (reached) and 0 (not reached), e.g. "
            "(final_result == 'Withdrawn').astype(int)",
        )
    return np.array([bool(v) for v in obj], dtype=bool)


def scores(s: Any, name: str = "scores", *, probability: bool = False) -> np.ndarray:
    """Return ``s`` as a finite float64 array (in [0, 1] when ``probability``).

    Parameters
    ----------
    s : array-like
        Scores.
    name : str
        The parameter name, used in error messages.
    probability : bool
        Also require values in [0, 1].

    Returns
    -------
    ndarray of float64
    """
    arr = _squeeze(s, name)
    column = _column_name(s)
    if arr.dtype.kind not in "biuf":
        obj = arr.astype(object)
        is_num = np.fromiter(
            (isinstance(v, int | float | np.integer | np.floating) or v is None for v in obj),
            dtype=bool,
            count=len(obj),
        )
        if not is_num.all():
            raise SchemaError(
                SCORES_NOT_NUMERIC,
                table=name,
                column=column,
                rule="numeric",
                arrived=f"values {show_values(pd.unique(obj[~is_num]).tolist())} at positions "
                f"{_bad_positions(~is_num)}",
                hint="pass the model's risk scores as numbers",
            )
        arr = np.array([np.nan if v is None else float(v) for v in obj], dtype="float64")
    out = np.ascontiguousarray(arr, dtype="float64")
    bad = ~np.isfinite(out)
    if bad.any():
        raise SchemaError(
            SCORES_NOT_FINITE,
            table=name,
            column=column,
            rule="finite",
            arrived=f"{int(bad.sum()):,} value(s) such as "
            f"{show_values(np.unique(out[bad]).tolist())} at positions {_bad_positions(bad)}",
            hint="score every student (impute features upstream) or drop unscored rows from "
            "both y_true and scores",
        )
    if probability:
        out_of_range = (out < 0) | (out > 1)
        if out_of_range.any():
            raise SchemaError(
                PROBABILITIES_OUT_OF_RANGE,
                table=name,
                column=column,
                rule="probability",
                arrived=f"values such as {show_values(np.unique(out[out_of_range]).tolist())} at "
                f"positions {_bad_positions(out_of_range)}",
                hint="pass calibrated probabilities (predict_proba(X)[:, 1]); ranking metrics "
                "(AUC, precision@k) accept any real scores",
            )
    return out


def same_length(named: Sequence[tuple[str, Any, np.ndarray]]) -> None:
    """Check that all arrays have the length of the first, and that pandas indexes agree.

    Parameters
    ----------
    named : sequence of (name, original, array)
        The parameter name, the object that arrived and its array form.
    """
    first_name, first_obj, first = named[0]
    for name, obj, arr in named[1:]:
        if len(arr) != len(first):
            raise SchemaError(
                LENGTHS_DIFFER.format(a=first_name, b=name),
                table=name,
                rule="same-length",
                arrived=f"{len(first):,} value(s) in {first_name}, {len(arr):,} in {name}",
                hint="pass one value per student in every argument, in the same order",
            )
        if isinstance(first_obj, pd.Series | pd.DataFrame) and isinstance(
            obj, pd.Series | pd.DataFrame
        ):
            if not first_obj.index.equals(obj.index):
                raise SchemaError(
                    INDEXES_DIFFER.format(a=first_name, b=name),
                    table=name,
                    rule="same-index",
                    arrived=f"index of {first_name} starts {show_values(first_obj.index[:3])}; "
                    f"index of {name} starts {show_values(obj.index[:3])}",
                    hint=f"align them first, e.g. {name} = {name}.reindex({first_name}.index), "
                    "or pass .to_numpy() if the order is already right",
                )


def binary_inputs(
    y_true: Any, scores_: Any, *, probability: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(y_true, scores)``; return (bool labels, float64 scores)."""
    y = labels(y_true, "y_true")
    s = scores(scores_, "scores", probability=probability)
    same_length([("y_true", y_true, y), ("scores", scores_, s)])
    return y, s


def resolve_k(k: Any, n: int, *, name: str = "k") -> int:
    """Turn ``k`` (a fraction in (0, 1] or a count) into a number of students in [0, n].

    A fraction ``f`` flags ``floor(f * n)`` students (the caseload never exceeds the
    fraction; a tolerance of 1e-9 absorbs float error such as ``0.29 * 100``). A count larger
    than ``n`` flags everyone.
    """
    if isinstance(k, bool | np.bool_):
        raise ConfigError(K_INVALID, key=name, arrived=repr(k), hint="pass e.g. k=0.1 or k=50")
    if isinstance(k, int | np.integer):
        if k < 0:
            raise ConfigError(K_INVALID, key=name, arrived=repr(k), hint="pass e.g. k=50")
        return int(min(int(k), n))
    if isinstance(k, float | np.floating):
        if not math.isfinite(k) or not 0 < k <= 1:
            hint = "pass a fraction such as k=0.1"
            if math.isfinite(k) and k > 1 and float(k).is_integer():
                hint = f"for a number of students pass an int: k={int(k)}"
            raise ConfigError(K_INVALID, key=name, arrived=repr(k), hint=hint)
        return int(math.floor(float(k) * n + 1e-9))
    raise ConfigError(K_INVALID, key=name, arrived=repr(k), hint="pass e.g. k=0.1 or k=50")


def k_label(k: Any) -> str:
    """Return a short label for ``k``: ``'10%'`` for 0.1, ``'50'`` for 50."""
    if isinstance(k, float | np.floating) and not isinstance(k, bool):
        return f"{float(k) * 100:g}%"
    return str(int(k))


def threshold(t: Any, name: str = "threshold") -> float:
    """Validate a score threshold."""
    if isinstance(t, bool | np.bool_) or not isinstance(
        t, int | float | np.integer | np.floating
    ):
        raise ConfigError(THRESHOLD_INVALID, key=name, arrived=repr(t), hint="pass e.g. 0.5")
    if not math.isfinite(float(t)):
        raise ConfigError(THRESHOLD_INVALID, key=name, arrived=repr(t), hint="pass e.g. 0.5")
    return float(t)


def ties(t: Any, allowed: Sequence[str] = TIE_RULES) -> str:
    """Validate a tie rule."""
    if t not in allowed:
        raise ConfigError(
            TIES_INVALID.format(allowed=list(allowed)),
            key="ties",
            arrived=repr(t),
            hint=f"pass ties={allowed[0]!r}",
        )
    return str(t)


def positive_int(value: Any, name: str, message: str, *, minimum: int = 1) -> int:
    """Validate an integer parameter ``>= minimum``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ConfigError(message, key=name, arrived=repr(value))
    if value < minimum:
        raise ConfigError(message, key=name, arrived=repr(value))
    return int(value)
