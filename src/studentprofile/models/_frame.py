"""Turning what users pass (DataFrames, arrays, labels) into what LightGBM reads.

Numeric columns become float64 (nullable integers and booleans included, missing -> NaN).
Text and category columns (object, pandas 3 ``str``, ``category``) become pandas categoricals with
the categories learnt in ``fit``; a value unseen in ``fit`` becomes missing at predict time,
which LightGBM sends down the side its trees learnt for missing values. LightGBM's own
``pandas_categorical`` machinery then maps categories to codes, in the order stored in
``categories_``: code ``i`` is ``categories_[name][i]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import SchemaError

__all__ = [
    "ALIGN_MESSAGE",
    "apply_categories",
    "as_frame",
    "check_target",
    "decode_matrix",
    "encode_matrix",
    "encode_numeric",
    "learn_categories",
    "lgb_feature_names",
    "reference_values",
    "row_keys",
]

_JSON_SCALARS = (str, int, float, bool)
_NUMERIC_INFERRED = {"floating", "integer", "mixed-integer-float", "decimal", "empty"}


def as_frame(X: Any, *, table: str = "X") -> tuple[pd.DataFrame, bool]:
    """Return ``X`` as a DataFrame with string column names, and whether it had real names.

    Arrays get positional names ``x0, x1, ...`` (and ``False``).
    """
    if isinstance(X, pd.DataFrame):
        frame = X
        named = all(isinstance(c, str) for c in frame.columns)
        if not named:
            frame = frame.set_axis([f"x{i}" for i in range(frame.shape[1])], axis=1)
        if frame.columns.has_duplicates:
            dup = frame.columns[frame.columns.duplicated()].unique().tolist()
            raise SchemaError(
                "column names must be unique",
                table=table,
                rule="unique-columns",
                arrived=f"repeated columns {dup!r}",
                hint="rename or drop the repeated columns",
            )
    else:
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise SchemaError(
                "sparse matrices are not supported",
                table=table,
                rule="dense",
                arrived=type(X).__name__,
                hint="pass a DataFrame or a dense array (X.toarray())",
            )
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                "X must be a DataFrame or a 2-d array",
                table=table,
                rule="2d",
                arrived=type(X).__name__,
            ) from exc
        if arr.ndim != 2:
            raise SchemaError(
                "X must be 2-d (rows x features)",
                table=table,
                rule="2d",
                arrived=f"an array of shape {arr.shape}",
                hint="Reshape your data: X.reshape(-1, 1) for a single feature, "
                "X.reshape(1, -1) for a single row",
            )
        named = False
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])], copy=False)
    if frame.shape[1] == 0:
        raise SchemaError(
            f"X has 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.",
            table=table,
            rule="non-empty",
            arrived=f"shape {frame.shape}",
        )
    dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
    objects = [c for c, d in dtypes.items() if pd.api.types.is_object_dtype(d)]
    numeric_objects = []
    for col in objects:
        inferred = pd.api.types.infer_dtype(frame[col], skipna=True)
        if inferred in ("mixed", "unknown-array"):
            odd = [v for v in frame[col].dropna() if not isinstance(v, str | int | float | bool)]
            if odd:
                raise SchemaError(
                    "feature values must be numbers or text",
                    table=table,
                    column=col,
                    rule="dtype",
                    arrived=f"{type(odd[0]).__name__} value {odd[0]!r}",
                    hint="flatten nested values into their own columns",
                )
        elif inferred in _NUMERIC_INFERRED:
            numeric_objects.append(col)
    if numeric_objects:
        # an object column holding only numbers (e.g. np.asarray of mixed input) is numeric
        frame = frame.assign(
            **{
                c: pd.to_numeric(frame[c], errors="raise").astype("float64")
                for c in numeric_objects
            }
        )
    for col, dtype in dtypes.items():
        kind = getattr(dtype, "kind", "O")
        if kind == "c":
            raise SchemaError(
                "Complex data not supported",
                table=table,
                column=col,
                rule="dtype",
                arrived=str(dtype),
                hint="pass real numbers",
            )
        if kind in "mM":
            raise SchemaError(
                "date and time columns are not model features",
                table=table,
                column=col,
                rule="dtype",
                arrived=str(dtype),
                hint="turn them into numbers first (e.g. days since entry)",
            )
    return frame, named


_LGB_SAFE = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


def lgb_feature_name(name: str) -> str:
    """Return the name LightGBM gets for a feature column: the name itself when plain.

    LightGBM refuses JSON characters in feature names (``"``, ``,``, ``:``, ``{``, ...) and
    turns spaces into ``_``, so ``a b`` and ``a_b`` collide. A plain name (ASCII letters and
    digits, single underscores between them) is kept as it is, so the usual feature names read
    the same in ``model.txt``; any other name becomes ``"__"`` followed by its characters, each
    ASCII letter or digit as itself and any other character as ``_x<hex code>_``. Plain names
    never start with ``_`` and the escaped body parses one way only, so two different names
    never get the same LightGBM name. The readable names stay everywhere else (``X``'s
    columns, ``feature_names_in_``, feature infos, explanations, reasons, ``metadata.json``).

    Examples
    --------
    >>> lgb_feature_name("absences_30d")
    'absences_30d'
    >>> lgb_feature_name("a b"), lgb_feature_name("a_b"), lgb_feature_name("a__b")
    ('__a_x20_b', 'a_b', '__a_x5f__x5f_b')
    >>> lgb_feature_name('quiz "final": score')
    '__quiz_x20__x22_final_x22__x3a__x20_score'
    """
    if _LGB_SAFE.fullmatch(name):
        return name
    return "__" + "".join(
        c if c.isascii() and c.isalnum() else f"_x{ord(c):x}_" for c in name
    )


def lgb_feature_names(names: Iterable[Any]) -> list[str]:
    """:func:`lgb_feature_name` of every column (distinct names stay distinct)."""
    return [lgb_feature_name(str(n)) for n in names]


def _is_text_dtype(dtype: Any) -> bool:
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
        return True
    return bool(pd.api.types.is_string_dtype(dtype))


def _is_text(s: pd.Series) -> bool:
    return _is_text_dtype(s.dtype)


def _json_value(v: Any, column: str) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return v
    if isinstance(v, _JSON_SCALARS):
        if isinstance(v, float) and not np.isfinite(v):
            raise SchemaError(
                "a category must be a finite value",
                table="X",
                column=column,
                rule="category",
                arrived=repr(v),
            )
        return v
    raise SchemaError(
        "category values must be text or numbers",
        table="X",
        column=column,
        rule="category",
        arrived=f"{type(v).__name__} value {v!r}",
        hint="convert the column to str before fitting",
    )


def learn_categories(frame: pd.DataFrame, extra: Sequence[str] = ()) -> dict[str, list[Any]]:
    """Learn the category levels of every text/category column (and of ``extra`` columns).

    A ``category`` column keeps its declared categories in their order; a text column gets its
    distinct values sorted (so the levels do not depend on row order).
    """
    cats: dict[str, list[Any]] = {}
    for col in frame.columns:
        s = frame[col]
        if not (_is_text(s) or col in extra):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = list(s.cat.categories)
        else:
            values = pd.unique(s.dropna())
            kinds = {type(v.item() if isinstance(v, np.generic) else v) for v in values}
            if len(kinds) > 1 and not kinds <= {int, float}:
                raise SchemaError(
                    "a category column must not mix text and numbers",
                    table="X",
                    column=col,
                    rule="category",
                    arrived=f"value types {sorted(k.__name__ for k in kinds)!r}",
                    hint=f"convert it with X[{col!r}].astype(str) (missing values stay missing)",
                )
            levels = sorted(values)
        cats[col] = [_json_value(v, col) for v in levels]
    return cats


def _codes(s: pd.Series, levels: pd.Index) -> np.ndarray:
    """Codes of ``s`` in the learnt ``levels``; unknown levels and missing values get -1."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        # map the categories, not every row
        own = levels.get_indexer(pd.Index(s.cat.categories, dtype=object))
        raw = s.cat.codes.to_numpy()
        return np.where(raw >= 0, own[np.maximum(raw, 0)], -1)
    return np.asarray(levels.get_indexer(pd.Index(s.to_numpy(dtype=object), dtype=object)))


def encode_matrix(frame: pd.DataFrame, categories: Mapping[str, list[Any]]) -> np.ndarray:
    """Return the float64 matrix the trees split on.

    Numbers stay as they are; a category becomes its code (code ``i`` is level
    ``categories[name][i]``); missing values and unknown levels become NaN.
    """
    n, p = frame.shape
    out = np.empty((n, p), dtype="float64")
    cols = list(frame.columns)
    numeric = [j for j, c in enumerate(cols) if c not in categories]
    dtypes = frame.dtypes.tolist()
    for j in numeric:
        if _is_text_dtype(dtypes[j]):
            s = frame.iloc[:, j]
            raise SchemaError(
                "this column held numbers when the model was fitted and holds text now",
                table="X",
                column=cols[j],
                rule="dtype",
                arrived=f"dtype {s.dtype}, e.g. {s.dropna().iloc[:3].tolist()!r}",
                hint="pass the same column types as in fit",
            )
    if numeric:
        block = frame if len(numeric) == p else frame.iloc[:, numeric]
        try:
            out[:, numeric] = block.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                "feature columns must be numeric, text or category",
                table="X",
                rule="dtype",
                arrived=f"dtypes {sorted({str(d) for d in block.dtypes})!r}",
            ) from exc
    for j, col in enumerate(cols):
        if col in categories:
            codes = _codes(frame.iloc[:, j], pd.Index(categories[col], dtype=object))
            out[:, j] = np.where(codes >= 0, codes, np.nan)
    return out


def decode_matrix(
    matrix: np.ndarray,
    columns: Sequence[str],
    categories: Mapping[str, list[Any]],
    index: pd.Index,
) -> pd.DataFrame:
    """Inverse of :func:`encode_matrix`: float64 columns and categoricals with the learnt levels."""
    out: dict[str, Any] = {}
    for j, col in enumerate(columns):
        if col in categories:
            v = matrix[:, j]
            codes = np.where(np.isnan(v), -1, np.nan_to_num(v, nan=-1.0)).astype("int64")
            dtype = pd.CategoricalDtype(pd.Index(categories[col], dtype=object))
            out[col] = pd.Categorical.from_codes(codes, dtype=dtype)
        else:
            out[col] = matrix[:, j]
    return pd.DataFrame(out, index=index, columns=list(columns), copy=False)


def apply_categories(frame: pd.DataFrame, categories: Mapping[str, list[Any]]) -> pd.DataFrame:
    """Return a LightGBM-ready frame: float64 numbers, categoricals with the learnt levels."""
    return decode_matrix(
        encode_matrix(frame, categories), list(frame.columns), categories, frame.index
    )


def encode_numeric(prepared: pd.DataFrame) -> np.ndarray:
    """Return the float64 matrix of a frame made by :func:`apply_categories`."""
    n, p = prepared.shape
    out = np.empty((n, p), dtype="float64")
    for j, col in enumerate(prepared.columns):
        s = prepared[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype("float64")
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            out[:, j] = s.to_numpy(dtype="float64")
    return out


def check_target(y: Any, X: pd.DataFrame, *, index: pd.Index | None = None) -> np.ndarray:
    """Validate labels: 1-d, one per row, no missing values; return them as an array.

    ``index`` is the index of the ``X`` the caller passed when it was a pandas object (``None``
    for an array): a pandas ``y`` must then carry exactly that index, whatever its type (a
    ``RangeIndex`` included), because labels are matched to rows by position and a different
    index means they were filtered, sorted or built apart from ``X``.
    """
    if y is None:
        raise SchemaError(
            "RiskModel requires y to be passed, but the target y is None",
            table="y",
            rule="required",
            arrived="None",
            hint="pass the labels, e.g. from studentprofile.labels.make_labels",
        )
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise SchemaError(
                "y must be one column of labels",
                table="y",
                rule="1d",
                arrived=f"a DataFrame with {y.shape[1]} columns",
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        if index is not None and not _same_index(y.index, index):
            raise SchemaError(
                ALIGN_MESSAGE,
                table="y",
                rule="aligned",
                arrived=_index_difference(y.index, index),
                hint="align them first: y = y.loc[X.index] (or X = X.loc[y.index]); pass "
                "y.to_numpy() only if the rows are already in the same order",
            )
        arr: np.ndarray = np.asarray(y.to_numpy())
        missing = y.isna().to_numpy()
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise SchemaError(
                "y must be 1-d (one label per row)",
                table="y",
                rule="1d",
                arrived=f"an array of shape {arr.shape}",
            )
        missing = pd.isna(arr)
    if len(arr) != len(X):
        raise SchemaError(
            "y must have one label per row of X",
            table="y",
            rule="length",
            arrived=f"{len(arr):,} labels for {len(X):,} rows",
        )
    if missing.any():
        raise SchemaError(
            "y must not have missing labels",
            table="y",
            rule="not-null",
            arrived=f"{int(missing.sum()):,} missing label(s)",
            hint="drop censored or not-at-risk rows first: keep = y.notna(); X, y = X[keep], "
            "y[keep]",
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise SchemaError(
            "y must be finite", table="y", rule="finite", arrived="inf in the labels"
        )
    return arr


#: The rule a pandas ``y`` breaks when its index is not ``X``'s.
ALIGN_MESSAGE = "y's index must equal X's index (same rows, same order)"


def _same_index(a: pd.Index, b: pd.Index) -> bool:
    return len(a) == len(b) and a.nlevels == b.nlevels and bool(a.equals(b))


def _index_difference(y_index: pd.Index, x_index: pd.Index) -> str:
    """Say where the two indexes part: their lengths, or the first differing position."""
    if len(y_index) != len(x_index):
        return (
            f"y has {len(y_index):,} rows ({type(y_index).__name__}), X has {len(x_index):,} "
            f"({type(x_index).__name__})"
        )
    if y_index.nlevels != x_index.nlevels:
        return (
            f"y's index has {y_index.nlevels} level(s) {list(y_index.names)!r}, X's has "
            f"{x_index.nlevels} {list(x_index.names)!r}"
        )
    ya = y_index.to_numpy()
    xa = x_index.to_numpy()
    at = next((i for i in range(len(ya)) if not ya[i] == xa[i]), 0)
    def plain(v: Any) -> Any:
        return v.item() if isinstance(v, np.generic) else v

    return (
        f"row {at:,}: y's index has {plain(ya[at])!r}, X's has {plain(xa[at])!r} "
        f"(y: {type(y_index).__name__}, X: {type(x_index).__name__})"
    )


def row_keys(X: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Student and as-of time of each row, read from X's index when it carries them."""
    names = list(X.index.names)
    student = X.index.get_level_values("student_id").to_numpy() if "student_id" in names else None
    time = X.index.get_level_values("as_of").to_numpy() if "as_of" in names else None
    return student, time


def reference_values(prepared: pd.DataFrame) -> dict[str, Any]:
    """Median of each numeric feature and most frequent level of each categorical one."""
    out: dict[str, Any] = {}
    for col in prepared.columns:
        s = prepared[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            counts = s.value_counts(sort=False)
            out[col] = None if counts.sum() == 0 else _json_value(counts.idxmax(), str(col))
        else:
            v = s.to_numpy(dtype="float64")
            v = v[~np.isnan(v)]
            out[col] = float(np.median(v)) if len(v) else None
    return out
