"""Input checks shared by the warning layer: keyed score frames, times, feature selection."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features._info import FeatureInfo, infer_feature_infos
from studentprofile.tables._checks import show_values
from studentprofile.tables._time import naive_utc, to_days

KEY = ["student_id", "as_of"]

_Cls = TypeVar("_Cls", bound=type)


def keyword_only(cls: _Cls) -> _Cls:
    """Let a ``kw_only`` dataclass still take positional arguments, with a FutureWarning.

    The constructor's signature is keyword-only; for one release a positional call is mapped
    onto the fields in their declared order and warns that it will stop working.
    """
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    names = [f.name for f in dataclasses.fields(cls) if f.init]

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(names):
                raise TypeError(f"{cls.__name__}() takes at most {len(names)} arguments, "
                                f"got {len(args)} positional")
            given = dict(zip(names, args, strict=False))
            twice = sorted(set(given) & set(kwargs))
            if twice:
                raise TypeError(f"{cls.__name__}() got multiple values for {twice!r}")
            shown = ", ".join(f"{n}=..." for n in given)
            warnings.warn(
                f"{cls.__name__} takes keyword arguments only; positional arguments will stop "
                f"working in the next release: write {cls.__name__}({shown})",
                FutureWarning,
                stacklevel=2,
            )
            kwargs = {**given, **kwargs}
        init(self, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


def keyed_frame(
    obj: Any, *, table: str, value: str | None = None, unique: bool = True
) -> pd.DataFrame:
    """Return ``obj`` as a DataFrame with ``student_id`` and ``as_of`` columns and a RangeIndex.

    ``obj`` may be a DataFrame with those columns, or a DataFrame/Series indexed by them (a
    feature matrix or a score series). A Series becomes a column named ``value``.
    """
    if isinstance(obj, pd.Series):
        name = value or (str(obj.name) if obj.name is not None else "value")
        obj = obj.rename(name).to_frame()
    if not isinstance(obj, pd.DataFrame):
        raise SchemaError(
            f"`{table}` must be a pandas DataFrame or Series",
            table=table,
            rule="dataframe",
            arrived=f"an object of type {type(obj).__name__}",
            hint="pass a frame with student_id and as_of (as columns or as the index)",
        )
    names = [n for n in obj.index.names if n is not None]
    if set(KEY) <= set(names):
        extra = [n for n in names if n not in KEY]
        frame = obj.reset_index(level=KEY, drop=False)
        if extra:
            frame = frame.reset_index(drop=True)
        frame = frame.reset_index(drop=True)
    elif set(KEY) <= set(map(str, obj.columns)):
        frame = obj.reset_index(drop=True)
    else:
        raise SchemaError(
            "rows must be keyed by `student_id` and `as_of`",
            table=table,
            rule="required-column",
            arrived=f"columns {show_values(list(obj.columns))}; index levels {names!r}",
            hint="use the (student_id, as_of) index of a feature matrix, or add both columns",
        )
    null = frame["student_id"].isna().to_numpy() | pd.isna(frame["as_of"]).to_numpy()
    if null.any():
        raise SchemaError(
            "`student_id` and `as_of` must not be empty",
            table=table,
            rule="not-null",
            arrived=f"{int(null.sum()):,} row(s) with an empty key",
            n_bad=int(null.sum()),
            hint="drop or fill those rows first",
        )
    if unique and frame.duplicated(KEY).any():
        raise_repeated(frame, frame.duplicated(KEY, keep=False).to_numpy(), table)
    return frame


def raise_repeated(frame: pd.DataFrame, repeated: np.ndarray, table: str) -> None:
    """Raise the error for repeated (student_id, as_of) pairs (``repeated`` marks them all)."""
    raise SchemaError(
        "each (student_id, as_of) pair must appear once",
        table=table,
        rule="unique",
        arrived=f"{int(repeated.sum()):,} rows share their (student_id, as_of) with another",
        rows=frame.loc[repeated, KEY].head(5).to_string(),
        hint="aggregate or drop the repeated rows",
    )


def numeric_column(frame: pd.DataFrame, column: str, *, table: str) -> np.ndarray:
    """Return ``frame[column]`` as float64, refusing text and missing columns."""
    if column not in frame.columns:
        raise SchemaError(
            f"a `{column}` column is required",
            table=table,
            column=column,
            rule="required-column",
            arrived=f"columns {show_values(list(frame.columns), 8)}",
            hint=f"add `{column}` or name the column to use",
        )
    col = frame[column]
    if col.dtype == bool or pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype="float64")
    if not pd.api.types.is_numeric_dtype(col.dtype):
        raise SchemaError(
            f"`{column}` must be numeric",
            table=table,
            column=column,
            rule="numeric",
            arrived=f"dtype {col.dtype}",
            hint="convert the column to numbers first",
        )
    return col.to_numpy(dtype="float64", na_value=np.nan)


def days_of(values: Any) -> np.ndarray:
    """Convert times (datetime64 or float days) to float64 days (datetimes: from 1970-01-01)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return to_days(arr, "datetime")
    if arr.dtype.kind in "iufb":
        return to_days(arr, "float")
    converted = pd.to_datetime(pd.Series(arr), errors="coerce", utc=True)
    if converted.notna().all():
        return to_days(naive_utc(converted), "datetime")
    raise SchemaError(
        "`as_of` must hold datetimes or float days",
        table="as_of",
        column="as_of",
        rule="time-type",
        arrived=f"values such as {show_values(arr[:3])}",
        hint="use the as_of values of the feature matrix",
    )


def infos_for(X: pd.DataFrame, feature_info: Any) -> dict[str, FeatureInfo]:
    """Return a FeatureInfo for every column of ``X``.

    ``feature_info`` (mapping, iterable, or object with ``feature_info_``) where it has one,
    plain records for the rest.
    """
    if feature_info is not None and hasattr(feature_info, "feature_info_"):
        feature_info = feature_info.feature_info_
    if feature_info is None:
        feature_info = X.attrs.get("feature_info")
    return infer_feature_infos(X, feature_info)


def select_features(
    infos: Mapping[str, FeatureInfo], selector: str | Mapping[str, Any], *, key: str
) -> list[str]:
    """Columns whose FeatureInfo matches ``selector`` (a column name or field -> value(s))."""
    if isinstance(selector, str):
        return [selector] if selector in infos else []
    if not isinstance(selector, Mapping) or not selector:
        raise ConfigError(
            "a feature selector is a column name or a mapping of FeatureInfo fields",
            key=key,
            arrived=repr(selector),
            hint="e.g. {'family': 'behavioral', 'kind': 'class_attendance', 'aggregate': 'mean'}",
        )
    fields = set(FeatureInfo.__dataclass_fields__)
    unknown = sorted(set(selector) - fields)
    if unknown:
        raise ConfigError(
            "unknown FeatureInfo field(s) in a selector",
            key=key,
            arrived=repr(unknown),
            hint=f"use fields among {sorted(fields)!r}",
        )
    out = []
    for name, info in infos.items():
        ok = True
        for field_name, wanted in selector.items():
            have = getattr(info, field_name)
            if isinstance(wanted, list | tuple | set | frozenset):
                ok = have in wanted
            else:
                ok = have == wanted
            if not ok:
                break
        if ok:
            out.append(name)
    return out


def describe_selector(selector: str | Mapping[str, Any]) -> str:
    """Describe a selector in a few words, for messages."""
    if isinstance(selector, str):
        return repr(selector)
    return ", ".join(f"{k}={v!r}" for k, v in selector.items())
