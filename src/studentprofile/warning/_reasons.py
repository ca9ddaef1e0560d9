"""Reasons attached to alerts and cards, whatever shape they arrive in.

Reasons come from ``RiskModel.explain(X).reasons(top=...)`` (a list of dicts with the index keys
and a ``reasons`` list of records carrying a ``sentence``), from its ``as_frame=True`` form (one
row per reason), from the ABC baseline (a ``reasons`` column of texts), or from a caller's own
Series or mapping. They are normalised to ``{(student_id, as_of_days): [record, ...]}`` where
each record has at least a ``text``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError
from studentprofile.tables._time import moment_days
from studentprofile.warning._inputs import days_of, keyed_frame

__all__ = ["day_key", "reasons_lookup"]

Key = tuple[Any, float]


def day_key(as_of: Any) -> float:
    """Convert an as-of value (Timestamp, datetime64, ISO text or float days) to float days.

    Through the one time module: the same instant in any zone or form is the same day key.
    """
    return moment_days(as_of, key="as_of")[0]


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _record(item: Any) -> dict[str, Any] | None:
    if item is None:
        return None
    if isinstance(item, str):
        return {"text": item} if item else None
    if isinstance(item, float) and math.isnan(item):
        return None
    if isinstance(item, Mapping):
        text = item.get("sentence") or item.get("text") or item.get("phrase")
        if not text:
            return None
        rec = {k: _plain(v) for k, v in item.items() if k != "sentence"}
        rec["text"] = str(text)
        return rec
    return {"text": str(item)}


def _records(value: Any) -> list[dict[str, Any]]:
    if value is None or isinstance(value, str | Mapping):
        rec = _record(value)
        return [rec] if rec else []
    if isinstance(value, float) and math.isnan(value):
        return []
    out = []
    for item in value:
        rec = _record(item)
        if rec:
            out.append(rec)
    return out


def reasons_lookup(reasons: Any, *, top: int = 3) -> dict[Key, list[dict[str, Any]]]:
    """Normalise reasons into ``{(student_id, as_of_days): [record, ...]}``.

    Parameters
    ----------
    reasons : object with ``reasons(top=...)``, list of dict, Series, DataFrame or mapping
        * an :class:`~studentprofile.explain.Explanations` (its ``reasons`` method is called);
        * a list of dicts with ``student_id``, ``as_of`` and ``reasons`` (what that returns);
        * a Series keyed by (``student_id``, ``as_of``) whose values are lists of texts;
        * a DataFrame keyed the same way with a ``reasons`` column, or a long frame with one
          row per reason and a ``sentence`` or ``text`` column (ordered by ``rank`` if present);
        * a mapping (student_id, as_of) -> list of texts.
    top : int, default 3
        Passed to a ``reasons`` method.

    Returns
    -------
    dict
        Keys use float days for ``as_of``; records carry ``text`` and whatever else arrived
        (``feature``, ``family``, ``direction``, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> key = pd.MultiIndex.from_tuples([("ana", 7.0)], names=["student_id", "as_of"])
    >>> r = pd.Series([["low attendance"]], index=key)
    >>> reasons_lookup(r)
    {('ana', 7.0): [{'text': 'low attendance'}]}
    """
    if hasattr(reasons, "reasons") and callable(reasons.reasons):
        reasons = reasons.reasons(top=top)
    out: dict[Key, list[dict[str, Any]]] = {}
    if isinstance(reasons, pd.Series):
        frame = keyed_frame(reasons.rename("reasons"), table="reasons")
        days = days_of(frame["as_of"].to_numpy())
        for s, d, r in zip(frame["student_id"], days, frame["reasons"], strict=True):
            out[(_plain(s), float(d))] = _records(r)
        return out
    if isinstance(reasons, pd.DataFrame):
        frame = keyed_frame(reasons, table="reasons") if not _is_long(reasons) else _long(reasons)
        days = days_of(frame["as_of"].to_numpy())
        if "reasons" in frame.columns:
            for s, d, r in zip(frame["student_id"], days, frame["reasons"], strict=True):
                out[(_plain(s), float(d))] = _records(r)
            return out
        col = "sentence" if "sentence" in frame.columns else "text"
        if col not in frame.columns:
            raise SchemaError(
                "a reasons frame needs a `reasons`, `sentence` or `text` column",
                table="reasons",
                rule="required-column",
                arrived=f"columns {list(frame.columns)!r}",
                hint="pass explanations.reasons(as_frame=True) or a `reasons` column of lists",
            )
        extra = [c for c in frame.columns if c not in ("student_id", "as_of", "rank")]
        for i, (s, d) in enumerate(zip(frame["student_id"], days, strict=True)):
            rec = _record({c: frame[c].iat[i] for c in extra})
            bucket = out.setdefault((_plain(s), float(d)), [])
            if rec:
                bucket.append(rec)
        return out
    if isinstance(reasons, Mapping):
        return {(_plain(k[0]), day_key(k[1])): _records(v) for k, v in reasons.items()}
    if isinstance(reasons, Sequence) and all(isinstance(r, Mapping) for r in reasons):
        for r in reasons:
            if "student_id" not in r or "as_of" not in r:
                raise SchemaError(
                    "each reasons record needs `student_id` and `as_of`",
                    table="reasons",
                    rule="required-column",
                    arrived=f"keys {sorted(r)!r}",
                    hint="explain the feature matrix indexed by (student_id, as_of)",
                )
            out[(_plain(r["student_id"]), day_key(r["as_of"]))] = _records(r.get("reasons"))
        return out
    raise SchemaError(
        "reasons must be Explanations, a list of dicts, a Series, a DataFrame or a mapping",
        table="reasons",
        rule="dataframe",
        arrived=f"an object of type {type(reasons).__name__}",
        hint="pass model.explain(X) or a Series of lists keyed by (student_id, as_of)",
    )


def _is_long(frame: pd.DataFrame) -> bool:
    return "reasons" not in frame.columns and ("sentence" in frame.columns or "rank" in frame)


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    keyed = frame.reset_index() if "student_id" not in frame.columns else frame
    if "rank" in keyed.columns:
        keyed = keyed.sort_values(["student_id", "as_of", "rank"], kind="stable")
    return keyed.reset_index(drop=True)
