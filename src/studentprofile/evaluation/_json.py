"""Turn evaluation results into JSON-safe Python objects.

The rule, used by every ``to_dict()`` in this package: a float that is not finite (``nan``,
``inf``, ``-inf``) becomes ``None`` (JSON ``null``), meaning "undefined for this data" (AUC with
one class, precision of a group no one was flagged in, a suppressed group) — JSON has no NaN,
and ``json.dumps(..., allow_nan=False)`` must accept every report. Missing values (``pd.NA``,
``NaT``) also become ``None``; timestamps become ISO 8601 strings; numpy scalars and arrays
become Python numbers and lists; DataFrames become lists of row records.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["to_json_safe"]


def to_json_safe(obj: Any) -> Any:
    """Return ``obj`` converted to plain JSON-safe Python objects.

    Parameters
    ----------
    obj : object
        Dicts, lists, tuples, numbers, strings, numpy and pandas objects, nested.

    Returns
    -------
    object
        Made of ``dict`` (string keys), ``list``, ``str``, ``int``, ``float`` (finite only),
        ``bool`` and ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> to_json_safe({"auc": np.float64("nan"), "n": np.int64(3), "lift": float("inf")})
    {'auc': None, 'n': 3, 'lift': None}
    """
    if obj is None or isinstance(obj, str | bool):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.Timestamp | _dt.datetime | _dt.date):
        return obj.isoformat()
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else pd.Timestamp(obj).isoformat()
    if isinstance(obj, pd.Timedelta | np.timedelta64):
        td = pd.Timedelta(obj)
        return None if pd.isna(td) else td.total_seconds() / 86_400.0
    if isinstance(obj, pd.DataFrame):
        frame = obj.reset_index() if _has_named_index(obj) else obj
        return [
            {str(k): to_json_safe(v) for k, v in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)
        ]
    if isinstance(obj, pd.Series):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_json_safe(v) for v in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json_safe(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_json_safe(obj.to_dict())
    return str(obj)


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)
