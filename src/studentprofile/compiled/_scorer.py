"""``compile()`` and :class:`CompiledScorer`: the public face over the layout and the kernels."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.compiled import _kernels as K
from studentprofile.compiled._layout import Layout, ShapLayout, build_layout, build_shap_layout
from studentprofile.errors import ConfigError, ModelIntegrityError, SchemaError
from studentprofile.models._lgb_text import ParsedModel, objective_name, parse_model_text

__all__ = ["CompiledScorer", "compile"]

_DEFAULT_SHAP_MEMORY = 512 * 1024 * 1024
_F64 = np.dtype(np.float64)
_DEFAULT_FAST_DEPTH = 16

# objectives whose raw score is turned into an output by LightGBM's ConvertOutput
_SIGMOID = {"binary", "cross_entropy", "xentropy"}
_SOFTMAX = {"multiclass", "softmax"}
_OVA = {"multiclassova", "multiclass_ova", "ova", "ovr"}
_EXP = {"poisson", "gamma", "tweedie"}
_REGRESSION = {
    "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root",
    "root_mean_squared_error", "rmse", "regression_l1", "l1", "mean_absolute_error", "mae",
    "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error",
}
_CLASSIFIERS = _SIGMOID | _SOFTMAX | _OVA


def _is_risk_model(obj: Any) -> bool:
    # a RiskModel fitted on a plain array has no feature_names_in_ (scikit-learn's convention),
    # so the booster, the calibrator and the categories are what identify one
    return all(hasattr(obj, name) for name in ("booster_", "calibrator_", "categories_"))


def _model_text(obj: Any) -> tuple[str, Any, int | None]:
    """Return the LightGBM text of ``obj``, the RiskModel (or None), the best iteration."""
    if _is_risk_model(obj):
        booster = obj.booster_
        return booster.model_to_string(num_iteration=-1), obj, _best_iteration(booster)
    if hasattr(obj, "model_to_string"):
        return obj.model_to_string(num_iteration=-1), None, _best_iteration(obj)
    if hasattr(obj, "booster_") and hasattr(obj.booster_, "model_to_string"):
        booster = obj.booster_  # a fitted lightgbm scikit-learn estimator
        return booster.model_to_string(num_iteration=-1), None, _best_iteration(booster)
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        try:
            # newline="": the text exactly as LightGBM would read it (no newline translation)
            with open(path, encoding="utf-8", newline="") as handle:
                return handle.read(), None, None
        except OSError as exc:
            raise ConfigError(
                "the model file could not be read",
                arrived=f"{path!r} ({exc.strerror or exc})",
                hint="pass the path of a LightGBM text model written by Booster.save_model",
            ) from None
        except UnicodeDecodeError:
            raise ModelIntegrityError(
                "a LightGBM text model is UTF-8 text",
                arrived=f"{path!r} holds binary data",
                hint="pass the path of a LightGBM text model written by Booster.save_model",
            ) from None
    raise ConfigError(
        "compile() takes a RiskModel, a lightgbm.Booster (or fitted LGBM estimator) "
        "or the path of a LightGBM text model",
        arrived=type(obj).__name__,
        hint="fit the model first, or save the booster with save_model and pass the path",
    )


def _best_iteration(booster: Any) -> int | None:
    best = getattr(booster, "best_iteration", None)
    return int(best) if isinstance(best, (int, np.integer)) and best > 0 else None


def _cat_lists(
    model: ParsedModel, risk_model: Any, names: Sequence[str]
) -> dict[int, list[Any]]:
    """Feature index -> the category list used to turn text / categorical values into codes."""
    out: dict[int, list[Any]] = {}
    if risk_model is not None:
        cats = risk_model.categories_
        if isinstance(cats, Mapping):
            for name, values in cats.items():
                if name in names:
                    out[names.index(name)] = list(values)
            return out
    pc = model.pandas_categorical
    if pc and len(pc) == len(model.categorical_features):
        for feature, values in zip(model.categorical_features, pc, strict=True):
            out[feature] = list(values)
    return out


class CompiledScorer:
    """A LightGBM model compiled to flat arrays and scored by numba kernels.

    Build one with :func:`compile`. Scores equal LightGBM's (raw scores bit for bit in the
    tests, and within 1e-12 by contract); SHAP values equal ``pred_contrib`` within 1e-9.
    The object holds only read-only numpy arrays, so it is safe to share between threads.

    Attributes
    ----------
    feature_names : list of str
        The model's input columns, in order.
    n_features : int
        Number of input columns.
    n_classes : int
        Number of raw scores per row (1 for binary and regression models).
    objective : str
        LightGBM's objective line, e.g. ``"binary sigmoid:1"``.
    num_iteration : int
        Boosting iterations used.
    source : str
        ``"risk_model"``, ``"booster"`` or ``"file"``.

    Examples
    --------
    >>> import numpy as np, lightgbm as lgb
    >>> from studentprofile.compiled import compile
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4},
    ...                     lgb.Dataset(X, y), num_boost_round=5)
    >>> scorer = compile(booster)
    >>> bool(np.array_equal(scorer.predict_raw(X), booster.predict(X, raw_score=True)))
    True
    >>> scorer.predict_proba(X[:2]).shape, scorer.shap_values(X[:2]).shape
    ((2, 2), (2, 4))
    """

    def __init__(
        self,
        model: ParsedModel,
        layout: Layout,
        *,
        num_iteration: int,
        risk_model: Any = None,
        source: str = "booster",
        shap_memory_limit: int = _DEFAULT_SHAP_MEMORY,
        max_fast_depth: int = _DEFAULT_FAST_DEPTH,
    ):
        self._model = model
        self._layout = layout
        self._risk_model = risk_model
        self.source = source
        self.num_iteration = num_iteration
        self.objective = model.objective
        self._obj_name, self._obj_options, self._obj_flags = objective_name(model.objective)
        self.n_classes = model.num_tree_per_iteration
        if risk_model is not None and hasattr(risk_model, "feature_names_in_"):
            names = [str(n) for n in risk_model.feature_names_in_]
            if len(names) != model.num_features:
                raise ModelIntegrityError(
                    "the RiskModel's feature_names_in_ must match its booster's features",
                    arrived=f"{len(names)} names for {model.num_features} features",
                    hint="refit the RiskModel",
                )
            self.feature_names = names
        else:
            self.feature_names = list(model.feature_names)
        self.n_features = model.num_features
        self._name_index = {name: i for i, name in enumerate(self.feature_names)}
        self._categories = _cat_lists(model, risk_model, self.feature_names)
        self._scale = 1.0 / num_iteration if model.average_output and num_iteration else 1.0
        self._sigmoid = float(self._obj_options.get("sigmoid", 1.0))
        self._plain_binary = (
            self.n_classes == 1 and self._obj_name == "binary" and self._scale == 1.0
            and risk_model is None
        )
        self._shap_memory_limit = int(shap_memory_limit)
        self._max_fast_depth = int(max_fast_depth)
        self._shap: ShapLayout | None = None
        self._lock = threading.Lock()
        lay = layout
        self._pk_batch_f = lay.pack_batch.view(np.float64)
        self._pk_row_f = lay.pack_row.view(np.float64)
        self._batch_args = (
            lay.colinfo, lay.cat_words, lay.pack_batch, self._pk_batch_f, lay.node_value,
            lay.trees_batch, self.n_classes,
        )
        self._row_args = (
            lay.colinfo, lay.cat_words, lay.pack_row, self._pk_row_f, lay.node_value,
            lay.trees_batch, lay.group_depth,
        )
        self._row_kernel: Any = K.predict_row
        self._row_shape = (self.n_features,)

    # ------------------------------------------------------------------ introspection
    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The flat arrays the kernels walk (read-only views), by name.

        ``colinfo`` (prepared columns: feature, kind, bitset start, bitset length),
        ``cat_words`` (categorical bitsets), ``node_thr``, ``node_col``, ``node_left``
        (right child is ``left + 1``), ``node_value`` (leaf values), ``node_leaf``,
        ``node_feat``, ``node_cover``, ``tree_root``, ``tree_depth``, ``tree_class``,
        ``tree_expected`` (each tree's expected value, the SHAP base).
        """
        lay = self._layout
        names = (
            "colinfo", "cat_words", "node_thr", "node_col", "node_left", "node_value",
            "node_leaf", "node_feat", "node_cover", "tree_root", "tree_size", "tree_depth",
            "tree_class", "tree_expected",
        )
        return {name: getattr(lay, name) for name in names}

    @property
    def n_trees(self) -> int:
        """Number of trees scored."""
        return self._layout.n_trees

    @property
    def is_classifier(self) -> bool:
        """Whether ``predict_proba`` is available (binary or multiclass objective)."""
        return self._obj_name in _CLASSIFIERS

    def __repr__(self) -> str:
        return (
            f"CompiledScorer(objective={self.objective!r}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, n_trees={self.n_trees}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ inputs
    def _matrix(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return self._from_frame(X)
        if isinstance(X, pd.Series):
            raise SchemaError(
                "X must be two-dimensional (rows x features)",
                table="X",
                rule="shape",
                arrived="a pandas Series",
                hint="pass a DataFrame (X.to_frame().T for one row), or use predict_one",
            )
        try:
            arr = np.asarray(X)
        except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is a bad input
            raise SchemaError(
                "X must be a numeric array or a DataFrame",
                table="X",
                rule="numeric",
                arrived=f"{type(X).__name__} ({exc})",
                hint="pass a float array of shape (n_rows, n_features) or a DataFrame",
            ) from None
        if arr.ndim != 2:
            raise SchemaError(
                "X must be two-dimensional (rows x features)",
                table="X",
                rule="shape",
                arrived=f"an array of shape {arr.shape!r}",
                hint="reshape to (n_rows, n_features), or use predict_one for a single row",
            )
        if arr.shape[1] != self.n_features:
            raise SchemaError(
                f"X must have {self.n_features} columns, one per model feature",
                table="X",
                rule="n-columns",
                arrived=f"{arr.shape[1]} columns",
                hint=f"pass the columns {self.feature_names[:5]!r}... in the model's order, "
                "or a DataFrame with those column names",
            )
        if arr.dtype.kind not in "fiub":
            raise SchemaError(
                "X must hold numbers (float, int or bool)",
                table="X",
                rule="numeric",
                arrived=f"dtype {arr.dtype!r}",
                hint="pass a DataFrame so categorical and text columns can be mapped by name",
            )
        return np.ascontiguousarray(arr, dtype=np.float64)

    def _from_frame(self, frame: pd.DataFrame) -> np.ndarray:
        columns = [str(c) for c in frame.columns]
        present = set(columns)
        missing = [name for name in self.feature_names if name not in present]
        if missing:
            raise SchemaError(
                "X is missing model features",
                table="X",
                column=missing[0],
                rule="required-column",
                arrived=f"missing {missing[:10]!r} ({len(missing)} in all)",
                hint="build X with the same feature builder / columns the model was trained on",
            )
        if len(present) != len(columns):
            dup = sorted({c for c in columns if columns.count(c) > 1})
            raise SchemaError(
                "X has duplicate column names",
                table="X",
                column=dup[0],
                rule="unique-columns",
                arrived=repr(dup[:5]),
                hint="drop or rename the duplicate columns",
            )
        n = len(frame)
        out = np.empty((self.n_features, n), dtype=np.float64)
        position = {name: i for i, name in enumerate(columns)}
        # LightGBM pairs the frame's categorical columns, in order, with pandas_categorical
        positional: list[list[Any]] = []
        pc = self._model.pandas_categorical or []
        if pc and not self._categories:
            positional = list(pc)
        for j, name in enumerate(self.feature_names):
            col = frame.iloc[:, position[name]]
            dtype = col.dtype
            cats = self._categories.get(j)
            if isinstance(dtype, pd.CategoricalDtype):
                if cats is None and positional:
                    cats = positional.pop(0)
                if cats is None:
                    out[j] = _codes(col, list(dtype.categories))
                else:
                    out[j] = _codes(col, cats)
            elif cats is not None and (dtype.kind == "O" or pd.api.types.is_string_dtype(dtype)):
                out[j] = _codes(col, cats)
            elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
                try:
                    out[j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError):
                    raise SchemaError(
                        "a model feature must be numeric, boolean or categorical",
                        table="X",
                        column=name,
                        rule="numeric",
                        arrived=f"dtype {dtype!r}",
                        hint="convert the column to numbers before scoring",
                    ) from None
            else:
                raise SchemaError(
                    "a model feature must be numeric, boolean or categorical",
                    table="X",
                    column=name,
                    rule="numeric",
                    arrived=f"dtype {str(dtype)!r}",
                    hint="convert the column to numbers, or to a pandas Categorical when the "
                    "model was trained on it as a category",
                )
        return np.ascontiguousarray(out.T)

    # ------------------------------------------------------------------ scoring
    def predict_raw(self, X: Any) -> np.ndarray:
        """Raw scores (log-odds for binary models), as ``Booster.predict(raw_score=True)``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features) or DataFrame
            Numeric rows; a DataFrame is matched to the model's features by column name and
            its categorical / text columns are mapped to LightGBM's category codes.

        Returns
        -------
        ndarray
            ``(n_rows,)`` for binary and regression models, ``(n_rows, n_classes)`` otherwise.
        """
        raw = self._raw(self._matrix(X))
        return raw[:, 0] if self.n_classes == 1 else raw

    def _raw(self, mat: np.ndarray) -> np.ndarray:
        out = np.empty((mat.shape[0], self.n_classes))
        if mat.shape[0]:
            K.predict_batch(mat, *self._batch_args, out)
        return out

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Apply the objective's output transform (sigmoid, softmax, exp, ...) to raw scores.

        This is LightGBM's own transform; a RiskModel's calibration is applied by
        :meth:`predict_proba`, not here. For random forests (``average_output``) the raw sum is
        first divided by the number of iterations, as ``Booster.predict`` does (its
        ``raw_score`` and ``pred_contrib`` outputs are the undivided sums, and so are ours).
        """
        raw = np.asarray(raw, dtype=np.float64)
        if self._scale != 1.0:
            raw = raw / self.num_iteration
        name = self._obj_name
        # exp may overflow to inf, which gives the right limit (0.0 or inf) without a warning
        with np.errstate(over="ignore"):
            if name == "binary" or name in _OVA:
                return 1.0 / (1.0 + np.exp(-self._sigmoid * raw))
            if name in ("cross_entropy", "xentropy"):
                return 1.0 / (1.0 + np.exp(-raw))
            if name in ("cross_entropy_lambda", "xentlambda"):
                return np.log1p(np.exp(raw))
            if name in _SOFTMAX:
                z = raw - raw.max(axis=-1, keepdims=True)
                e = np.exp(z)
                return e / e.sum(axis=-1, keepdims=True)
            if name in _EXP:
                return np.exp(raw)
        if name in _REGRESSION and "sqrt" in self._obj_flags:
            return np.sign(raw) * raw * raw
        return raw

    def _proba_from_raw(self, raw: np.ndarray) -> np.ndarray:
        if self._risk_model is not None:
            proba = np.asarray(self._risk_model.calibrator_.transform(raw), dtype=np.float64)
        else:
            proba = self.transform(raw)
        if proba.ndim == 1:
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_rows, n_classes)`` (two columns for binary).

        For a scorer compiled from a RiskModel these are the model's calibrated
        probabilities (``calibrator_.transform(raw)``); otherwise LightGBM's own transform.

        Raises
        ------
        ConfigError
            For a regression (or ranking) model.
        """
        self._require_classifier("predict_proba")
        raw = self.predict_raw(X)
        return self._proba_from_raw(raw)

    def predict(self, X: Any) -> np.ndarray:
        """Predict as the compiled object's own ``predict`` does.

        For a Booster or a model file: ``Booster.predict(X)`` (the transformed output:
        probabilities of the positive class for binary, ``(n, k)`` for multiclass, values for
        regression). For a RiskModel: class labels (``classes_`` at the highest calibrated
        probability).
        """
        if self._risk_model is not None:
            proba = self.predict_proba(X)
            classes = getattr(self._risk_model, "classes_", None)
            idx = np.argmax(proba, axis=1)
            return np.asarray(classes)[idx] if classes is not None else idx
        return self.transform(self.predict_raw(X))

    def _require_classifier(self, what: str) -> None:
        if not self.is_classifier and self._risk_model is None:
            raise ConfigError(
                f"{what} needs a classification model",
                arrived=f"objective {self.objective!r}",
                hint="use predict() or predict_raw() for regression models",
            )

    # ------------------------------------------------------------------ single row
    def predict_one(self, x: Any, *, raw: bool = False) -> Any:
        """Score one row with minimal overhead (the campus-system path).

        Parameters
        ----------
        x : 1-d float array of length n_features, or a mapping / Series by feature name
            A float64 contiguous array takes the fast path (no copy).
        raw : bool, default False
            Return the raw score instead of the probability / transformed output.

        Returns
        -------
        float or ndarray
            Binary: the probability of the positive class (calibrated for a RiskModel);
            regression: the prediction; multiclass: an array of ``n_classes`` probabilities.
            With ``raw=True``: the raw score(s).
        """
        if (
            type(x) is not np.ndarray
            or x.dtype is not _F64
            or x.shape != self._row_shape
            or not x.flags.c_contiguous
        ):
            x = self._one_row(x)
        out = np.empty(self.n_classes)
        self._row_kernel(x, *self._row_args, out)
        if raw:
            return float(out[0]) if self.n_classes == 1 else out
        if self._plain_binary:
            # the same operations as transform(), in the same order, with numpy's exp (whose
            # results differ from math.exp in the last bit): equal to predict_proba bit for bit
            z = -self._sigmoid * float(out[0])
            if z < 709.0:
                return float(1.0 / (1.0 + np.exp(z)))
            with np.errstate(over="ignore"):
                return float(1.0 / (1.0 + np.exp(z)))
        if self._risk_model is not None:
            proba = self._proba_from_raw(out.reshape(1, -1) if self.n_classes > 1 else out)
            return float(proba[0, 1]) if self.n_classes == 1 else proba[0]
        res = self.transform(out)
        return float(res[0]) if self.n_classes == 1 else res

    def _one_row(self, x: Any) -> np.ndarray:
        if isinstance(x, (Mapping, pd.Series)):
            fast = self._plain_numbers(x)
            if fast is not None:
                return fast
            frame = pd.DataFrame([dict(x)])
            return self._from_frame(frame)[0]
        arr = np.asarray(x)
        if arr.ndim == 2 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 1 or arr.shape[0] != self.n_features:
            raise SchemaError(
                f"one row must hold {self.n_features} values, one per model feature",
                table="x",
                rule="shape",
                arrived=f"an array of shape {arr.shape!r}",
                hint="pass a 1-d array in the model's feature order, or a mapping by name",
            )
        if arr.dtype.kind not in "fiub":
            raise SchemaError(
                "one row must hold numbers",
                table="x",
                rule="numeric",
                arrived=f"dtype {arr.dtype!r}",
                hint="pass a mapping by feature name so categories can be mapped",
            )
        return np.ascontiguousarray(arr, dtype=np.float64)

    def _plain_numbers(self, x: Mapping[Any, Any] | pd.Series) -> np.ndarray | None:
        """One row straight from a mapping of plain numbers, without a one-row DataFrame.

        Only for models without categorical features, and only when every feature is present
        and holds a Python or numpy number or bool (ints within int64): exactly the values a
        one-row frame would turn into float64 the same way. Anything else (a missing name,
        text, ``None``, a category) returns None, and the frame path answers, with its errors.
        """
        if self._categories or self._model.pandas_categorical:
            return None
        out = np.empty(self.n_features, dtype=np.float64)
        for j, name in enumerate(self.feature_names):
            try:
                v = x[name]
            except (KeyError, IndexError, TypeError):
                return None
            if isinstance(v, (float, bool, np.floating, np.bool_)):
                out[j] = v
            elif isinstance(v, (int, np.integer)) and -(2**63) <= v < 2**63:
                out[j] = v
            else:
                return None
        return out

    # ------------------------------------------------------------------ TreeSHAP
    def _shap_layout(self) -> ShapLayout:
        if self._shap is None:
            with self._lock:
                if self._shap is None:
                    self._shap = build_shap_layout(
                        self._layout,
                        max_fast_depth=self._max_fast_depth,
                        memory_limit=self._shap_memory_limit,
                    )
        return self._shap

    @property
    def shap_table_bytes(self) -> int:
        """Memory taken by the Fast TreeSHAP v2 tables (built on the first SHAP call)."""
        return self._shap_layout().table_bytes

    @property
    def n_trees_fast_shap(self) -> int:
        """Trees explained with precomputed tables; the rest use the classic algorithm."""
        return int(np.count_nonzero(self._shap_layout().tree_fast))

    def shap_values(self, X: Any) -> np.ndarray:
        """Exact path-dependent TreeSHAP values, as ``Booster.predict(pred_contrib=True)``.

        Returns
        -------
        ndarray
            Binary / regression: ``(n_rows, n_features + 1)``, the last column the base value.
            Multiclass: ``(n_rows, n_classes * (n_features + 1))`` exactly as LightGBM lays it
            out (class ``k`` in columns ``k*(F+1) .. k*(F+1)+F``, its base last); reshape to
            ``(n_rows, n_classes, n_features + 1)`` for a per-class view. Each row adds up to
            :meth:`predict_raw` (per class). For random forests both are LightGBM's undivided
            sums over the trees.
        """
        mat = self._matrix(X)
        shap = self._shap_layout()
        lay = self._layout
        width = self.n_classes * (self.n_features + 1)
        out = np.zeros((mat.shape[0], width))
        if mat.shape[0]:
            K.shap_batch(
                mat, lay.colinfo, lay.cat_words, lay.node_thr, lay.node_col, lay.node_left,
                lay.node_value, lay.node_leaf, lay.node_feat, lay.node_cover, lay.node_pos,
                lay.tree_root, lay.tree_size, lay.tree_depth, lay.tree_class, shap.tree_fast,
                lay.tree_expected, shap.leaf_d, shap.leaf_path_off, shap.path_feat,
                shap.path_coef, shap.leaf_table_off, shap.table, out,
            )
        return out


def _codes(col: pd.Series, categories: list[Any]) -> np.ndarray:
    """LightGBM's pandas mapping: position in the training categories, NaN when unknown."""
    values = pd.Index(col.to_numpy(dtype=object), dtype=object)
    codes = pd.Index(categories, dtype=object).get_indexer(values).astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


def compile(  # noqa: A001 - the public name the issue asks for
    obj: Any,
    *,
    num_iteration: int | None = None,
    shap_memory_limit: int = _DEFAULT_SHAP_MEMORY,
    max_fast_depth: int = _DEFAULT_FAST_DEPTH,
    warm: bool = True,
) -> CompiledScorer:
    """Compile a LightGBM model into a :class:`CompiledScorer`.

    Parameters
    ----------
    obj : RiskModel, lightgbm.Booster, fitted LGBM estimator, str or PathLike
        The model, or the path of a LightGBM text model file. A RiskModel (anything with
        ``booster_``, ``calibrator_`` and ``categories_``; ``feature_names_in_`` when it was
        fitted on a DataFrame) brings its calibration, feature names and categories along.
    num_iteration : int, optional
        Use the first ``num_iteration`` boosting iterations. ``None`` uses the booster's
        ``best_iteration`` when it has one, else all; values ``<= 0`` or above the total use
        all, as ``Booster.predict`` does.
    shap_memory_limit : int, default 512 MiB
        Bound, in bytes, on the Fast TreeSHAP v2 tables; trees beyond it are explained with
        the classic algorithm (same values, slower).
    max_fast_depth : int, default 16
        Leaves with more distinct features on their path use the classic algorithm (a leaf's
        table has ``2**depth`` entries).
    warm : bool, default True
        Run the prediction kernels once on a dummy row, so that the first real call does not
        pay numba's (disk-cached) compilation.

    Returns
    -------
    CompiledScorer

    Raises
    ------
    ConfigError
        An object of the wrong kind, an unreadable path, a bad ``num_iteration``.
    ModelIntegrityError
        A malformed model text, or one the scorer cannot reproduce exactly (linear trees).

    Examples
    --------
    >>> import numpy as np, lightgbm as lgb
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 4)); y = X[:, 0] + 0.1 * rng.normal(size=300)
    >>> booster = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, y), 10)
    >>> scorer = compile(booster, num_iteration=5)
    >>> scorer.n_trees
    5
    >>> bool(np.allclose(scorer.predict(X), booster.predict(X, num_iteration=5), atol=1e-12))
    True
    """
    if num_iteration is not None and (
        isinstance(num_iteration, bool) or not isinstance(num_iteration, (int, np.integer))
    ):
        raise ConfigError(
            "num_iteration must be an integer or None",
            key="num_iteration",
            arrived=repr(num_iteration),
            hint="pass e.g. num_iteration=100, or None for all iterations",
        )
    limits = (("shap_memory_limit", shap_memory_limit), ("max_fast_depth", max_fast_depth))
    for key, value in limits:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(
                f"{key} must be a non-negative integer",
                key=key,
                arrived=repr(value),
                hint="pass e.g. 512 * 2**20 bytes / 16",
            )
    if max_fast_depth > 30:
        raise ConfigError(
            "max_fast_depth must be at most 30 (a leaf's table has 2**depth entries)",
            key="max_fast_depth",
            arrived=repr(max_fast_depth),
            hint="keep the default 16",
        )
    text, risk_model, best = _model_text(obj)
    source = (
        "risk_model" if risk_model is not None
        else "file" if isinstance(obj, (str, os.PathLike)) else "booster"
    )
    model = parse_model_text(text)
    if model.has_linear_trees:
        raise ModelIntegrityError(
            "linear trees (linear_tree=True) are not supported by the compiled scorer",
            arrived=f"{sum(t.is_linear for t in model.trees)} of {len(model.trees)} trees "
            "have is_linear=1",
            hint="score this model with lightgbm itself, or retrain it with linear_tree=False",
        )
    total = model.num_iterations
    wanted = best if num_iteration is None else int(num_iteration)
    n_iter = total if wanted is None or wanted <= 0 or wanted > total else wanted
    layout = build_layout(model, n_iter * model.num_tree_per_iteration)
    scorer = CompiledScorer(
        model,
        layout,
        num_iteration=n_iter,
        risk_model=risk_model,
        source=source,
        shap_memory_limit=int(shap_memory_limit),
        max_fast_depth=int(max_fast_depth),
    )
    if warm:
        dummy = np.zeros((1, model.num_features))
        scorer._raw(dummy)
        out = np.empty(scorer.n_classes)
        K.predict_row(dummy[0], *scorer._row_args, out)
        scorer._row_kernel = _entry_point(K.predict_row, (dummy[0], *scorer._row_args, out))
    return scorer


def _entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Any:
    """Return the compiled function behind ``dispatcher`` for these argument types.

    Falls back to the dispatcher itself. Calling the compiled function skips numba's per-call
    type dispatch (about 0.4 us of the single-row path); the caller guarantees the argument
    types (``predict_one`` checks the row, the rest is fixed).
    """
    try:
        import numba

        sig = tuple(numba.typeof(a) for a in args)
        return dispatcher.overloads[sig].entry_point
    except (AttributeError, KeyError, TypeError, ValueError):  # pragma: no cover - numba internals
        return dispatcher
