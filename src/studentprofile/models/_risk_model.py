"""RiskModel: a calibrated LightGBM classifier with SHAP explanations and safe model files."""

from __future__ import annotations

import difflib
import functools
import logging
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from studentprofile.errors import ConfigError, DataQualityWarning, NotFittedError, SchemaError
from studentprofile.features._info import FeatureInfo, infer_feature_infos
from studentprofile.models import _frame
from studentprofile.models._calibration import CALIBRATION_METHODS, Calibrator
from studentprofile.models._governance import detect_protected, names_param
from studentprofile.models._persistence import load_model, save_model
from studentprofile.models._split import HoldoutSplit, holdout_split

if TYPE_CHECKING:  # type names only, never executed: the layering test allows them
    from pathlib import Path

    from studentprofile.compiled import CompiledScorer
    from studentprofile.explain import Explanations

logger = logging.getLogger(__name__)

__all__ = ["RiskModel"]

#: LightGBM parameters RiskModel sets itself; ``lgb_params`` may not override them.
_RESERVED = frozenset(
    {
        "objective",
        "num_class",
        "seed",
        "random_state",
        "deterministic",
        "num_iterations",
        "n_estimators",
        "num_boost_round",
        "early_stopping_round",
        "early_stopping_rounds",
        "monotone_constraints",
        "categorical_feature",
        "is_unbalance",
        "extra_trees",
        "scale_pos_weight",
    }
)



class _NotFittedError(NotFittedError, _SklearnNotFittedError):
    """Our NotFittedError that is also scikit-learn's, so both ``except`` clauses catch it."""


#: Who computes SHAP values in ``explain``.
ENGINES: tuple[str, ...] = ("lightgbm", "compiled")

#: The smallest held-out slice early stopping and calibration are fitted on.
MIN_HOLDOUT_ROWS = 20
MIN_HOLDOUT_PER_CLASS = 5


class RiskModel(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM risk model for binary and multi-outcome targets.

    A scikit-learn classifier: keyword-only parameters stored as given, ``fit`` returns ``self``,
    fitted state ends in ``_``, ``clone()`` works. ``fit`` holds out a slice that is *later in
    time* than every training row and shares *no student* with them (read from the
    (``student_id``, ``as_of``) index of a feature matrix, or from ``groups=``/``time=``), stops
    boosting early on it and fits the probability calibration on it. ``predict_proba`` returns
    calibrated probabilities, ``predict_raw`` the raw log-odds the SHAP values add up to.

    Parameters
    ----------
    n_estimators : int, default 1000
        Most boosting rounds; early stopping usually stops well before.
    learning_rate : float, default 0.05
        Shrinkage per round.
    num_leaves : int, default 15
        Most leaves per tree.
    max_depth : int, default -1
        Most depth per tree (-1: no limit beyond ``num_leaves``).
    min_child_samples : int, default 5
        Fewest rows in a leaf (also the fewest rows per category in a categorical split).
    subsample : float, default 0.8
        Share of rows bagged for each tree.
    colsample_bytree : float, default 0.5
        Share of features sampled for each tree.
    reg_lambda : float, default 5.0
        L2 penalty on leaf values.
    reg_alpha : float, default 0.0
        L1 penalty on leaf values.
    extra_trees : bool, default True
        Draw one random threshold per feature at each split (LightGBM's ``extra_trees``), a
        strong regulariser on small tables. The defaults were chosen on subsamples of the UCI
        dropout data (150 to 3,000 students), where they beat a 500-tree random forest; see
        ``docs/models.md``.
    class_weight : {"balanced"}, dict or None, default None
        Weights by class while training; ``"balanced"`` weights classes inversely to their
        frequency. Calibration is always fitted without class weights, so the probabilities
        stay on the true scale (the raw log-odds move with the weights).
    monotone_constraints : dict or "auto" or None, default None
        Feature name -> ``+1`` (risk must not fall as the feature rises), ``-1`` (must not rise)
        or ``0``. ``"auto"`` derives them from ``FeatureInfo.higher_is`` (``"worse"`` -> +1,
        ``"better"`` -> -1). Binary models only; numeric features only.
    categorical_features : "auto" or list of str, default "auto"
        Text and category columns are always categorical, and so are code columns whose
        ``FeatureInfo.extra["categories"]`` lists their levels (what ``FeatureBuilder`` makes of
        a text column of the students table); list other numeric columns that are codes (e.g.
        a programme code) to treat them as categories too.
    calibration : {"sigmoid", "isotonic", "none"}, default "sigmoid"
        How raw scores become probabilities on the held-out slice (see :class:`Calibrator`).
    validation_fraction : float or None, default 0.2
        Target share of rows in the held-out slice. ``None`` trains on every row for
        ``n_estimators`` rounds with no calibration.
    early_stopping_rounds : int, default 50
        Stop when the held-out log-loss has not improved for this many rounds.
    refit : bool or "auto", default "auto"
        After early stopping and calibration on the held-out slice, train the final booster on
        every row with the chosen number of rounds, keeping the calibration fitted on the
        held-out predictions. ``"auto"`` refits when the slice was chosen by student only (one
        as-of date, or no time information: the slice is like the training rows, and the refit
        model gains accuracy with unchanged calibration) and not when it is later in time
        (there the refit model would see another period and often twice the rows, and the
        calibration fitted for the early-stopped model no longer fits it). See
        ``docs/models.md`` for the measurements behind the rule.
    random_state : int, default 0
        Seed for LightGBM's bagging and feature sampling and for the split's tie-breaking.
    n_jobs : int, default 1
        LightGBM threads; -1 uses every core. One thread is the fastest choice for tables up to
        ~10^5 rows and on busy shared machines; use -1 for large tables. Models are
        bit-identical for the same data, ``random_state`` and ``n_jobs``.
    lgb_params : dict or None, default None
        Further LightGBM parameters (e.g. ``{"max_bin": 63}``); the ones RiskModel manages
        (objective, seed, monotone constraints, ...) are refused.
    audit_attributes : list of str or None, default None
        Columns that are audit attributes (protected characteristics kept for fairness audits):
        left out of the model's features. Columns whose name or values match a protected
        characteristic (sex, gender, race, ethnicity, nationality, religion, disability, age,
        marital status, pregnancy, sexual orientation; English, pinyin and Chinese; see
        ``docs/models.md``) and columns whose ``FeatureInfo`` says ``sensitivity="audit"`` are
        audit attributes too. Names that ``X`` does not have are ignored (a campus policy).
    allow_features : list of str or None, default None
        Audit attributes to keep as features anyway, by name (e.g. ``["age_band"]``). They
        stay ``sensitivity="audit"``: reasons cite them only when ``reasons(allow=...)`` names
        them. Columns a ``FeatureBuilder`` built with ``StaticFeatures(allow_audit=...)`` are
        allowed already.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted booster, cut at ``best_iteration_``.
    calibrator_ : Calibrator
        Maps raw scores to calibrated probabilities (numpy only).
    classes_ : ndarray
        Class labels; for binary, ``classes_[1]`` is the risk class (raw score = its log-odds).
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (only when ``X`` had string column names).
    n_features_in_ : int
        Number of features.
    feature_info_ : dict of str -> FeatureInfo
        What every feature means (from ``fit(feature_info=...)`` or inferred).
    categories_ : dict of str -> list
        Category levels per categorical feature; LightGBM's category code ``i`` is level ``i``.
    reference_values_ : dict of str -> float or category
        Median (numeric) or most frequent level (categorical) of each feature over the rows
        ``fit`` saw: the "cohort median" quoted in reasons.
    best_iteration_ : int
        Boosting rounds kept.
    holdout_ : dict
        How the held-out slice was chosen (strategy, cutoff, row counts), no identifiers.
    training_info_ : dict
        Row, student and class counts, held-out metrics, LightGBM parameters: for the model card.
    excluded_features_ : dict of str -> str
        Columns of ``X`` left out of the features as audit attributes, with the reason (also
        in ``training_info_["excluded_features"]`` and the saved model). ``predict`` and
        ``explain`` accept ``X`` with or without them.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from studentprofile.models import RiskModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"attendance": rng.uniform(0, 1, 400),
    ...                   "programme": rng.choice(["arts", "science"], 400)})
    >>> y = (rng.uniform(0, 1, 400) > X["attendance"]).astype(int)
    >>> model = RiskModel(random_state=0).fit(X, y)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    >>> bool(np.allclose(model.explain(X.head(2)).values.sum(1)
    ...                  + model.explain(X.head(2)).base_value, model.predict_raw(X.head(2))))
    True
    """

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        max_depth: int = -1,
        min_child_samples: int = 5,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 5.0,
        reg_alpha: float = 0.0,
        extra_trees: bool = True,
        class_weight: str | Mapping[Any, float] | None = None,
        monotone_constraints: Mapping[str, int] | str | None = None,
        categorical_features: str | Sequence[str] = "auto",
        calibration: str = "sigmoid",
        validation_fraction: float | None = 0.2,
        early_stopping_rounds: int = 50,
        refit: bool | str = "auto",
        random_state: int = 0,
        n_jobs: int = 1,
        lgb_params: Mapping[str, Any] | None = None,
        audit_attributes: Sequence[str] | None = None,
        allow_features: Sequence[str] | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.extra_trees = extra_trees
        self.class_weight = class_weight
        self.monotone_constraints = monotone_constraints
        self.categorical_features = categorical_features
        self.calibration = calibration
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.lgb_params = lgb_params
        self.audit_attributes = audit_attributes
        self.allow_features = allow_features

    # ------------------------------------------------------------------------------ sklearn
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------------------ params
    def _check_params(self) -> None:
        def number(key: str, lo: float, hi: float, *, integer: bool, lo_open: bool = False) -> None:
            v = getattr(self, key)
            kind = numbers.Integral if integer else numbers.Real
            ok = isinstance(v, kind) and not isinstance(v, bool)
            if ok:
                ok = (v > lo if lo_open else v >= lo) and v <= hi and math.isfinite(float(v))
            if not ok:
                bounds = f"{'(' if lo_open else '['}{lo}, {hi}]"
                raise ConfigError(
                    f"{key} must be {'an integer' if integer else 'a number'} in {bounds}",
                    key=key,
                    arrived=repr(v),
                    hint=f"the default is {type(self)().get_params()[key]!r}",
                )

        number("n_estimators", 1, 1e6, integer=True)
        number("learning_rate", 0, 1, integer=False, lo_open=True)
        number("num_leaves", 2, 131072, integer=True)
        number("max_depth", -1, 1e4, integer=True)
        number("min_child_samples", 1, 1e9, integer=True)
        number("subsample", 0, 1, integer=False, lo_open=True)
        number("colsample_bytree", 0, 1, integer=False, lo_open=True)
        number("reg_lambda", 0, math.inf, integer=False)
        number("reg_alpha", 0, math.inf, integer=False)
        number("early_stopping_rounds", 1, 1e6, integer=True)
        if not isinstance(self.extra_trees, bool | np.bool_):
            raise ConfigError(
                "extra_trees must be True or False",
                key="extra_trees",
                arrived=repr(self.extra_trees),
            )
        if not (isinstance(self.refit, bool | np.bool_) or self.refit == "auto"):
            raise ConfigError(
                "refit must be True, False or 'auto'", key="refit", arrived=repr(self.refit)
            )
        if self.calibration not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibration must be one of {list(CALIBRATION_METHODS)!r}",
                key="calibration",
                arrived=repr(self.calibration),
                hint="use 'sigmoid' (default), 'isotonic' or 'none'",
            )
        if self.validation_fraction is not None:
            number("validation_fraction", 0, 0.9, integer=False, lo_open=True)
        if not (isinstance(self.random_state, numbers.Integral) and self.random_state >= 0):
            raise ConfigError(
                "random_state must be a non-negative integer",
                key="random_state",
                arrived=repr(self.random_state),
                hint="models are reproducible only with a fixed seed, e.g. random_state=0",
            )
        if not (
            isinstance(self.n_jobs, numbers.Integral)
            and not isinstance(self.n_jobs, bool)
            and (self.n_jobs >= 1 or self.n_jobs == -1)
        ):
            raise ConfigError(
                "n_jobs must be a positive integer or -1 (every core)",
                key="n_jobs",
                arrived=repr(self.n_jobs),
            )
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, Mapping)):
            raise ConfigError(
                "class_weight must be None, 'balanced' or a dict class -> weight",
                key="class_weight",
                arrived=repr(cw),
            )
        if isinstance(cw, Mapping):
            bad_w = {
                c: w for c, w in cw.items()
                if isinstance(w, bool | np.bool_)
                or not isinstance(w, numbers.Real)
                or not (math.isfinite(float(w)) and float(w) > 0)
            }
            if bad_w:
                raise ConfigError(
                    "a class weight must be a finite number above 0",
                    key="class_weight",
                    arrived=repr(bad_w),
                    hint="e.g. {1: 5.0} weighs the risk class five times; leave a class out "
                    "for weight 1, or use 'balanced'",
                )
        mc = self.monotone_constraints
        if not (mc is None or mc == "auto" or isinstance(mc, Mapping)):
            raise ConfigError(
                "monotone_constraints must be None, 'auto' or a dict feature name -> -1/0/+1",
                key="monotone_constraints",
                arrived=repr(mc),
                hint="e.g. {'absences_30d': 1}: risk must not fall as absences rise",
            )
        cf = self.categorical_features
        if not (cf == "auto" or (isinstance(cf, Sequence) and not isinstance(cf, str))):
            raise ConfigError(
                "categorical_features must be 'auto' or a list of column names",
                key="categorical_features",
                arrived=repr(cf),
            )
        names_param(self.audit_attributes, "audit_attributes")
        names_param(self.allow_features, "allow_features")
        if self.lgb_params is not None:
            if not isinstance(self.lgb_params, Mapping):
                raise ConfigError(
                    "lgb_params must be a dict of LightGBM parameters",
                    key="lgb_params",
                    arrived=repr(self.lgb_params),
                )
            not_text = [k for k in self.lgb_params if not isinstance(k, str)]
            if not_text:
                raise ConfigError(
                    "lgb_params keys must be LightGBM parameter names (text)",
                    key="lgb_params",
                    arrived=repr(not_text),
                )
            unknown = [k for k in self.lgb_params if k not in _lgb_parameter_names()]
            if unknown and _lgb_parameter_names():
                close = difflib.get_close_matches(unknown[0], sorted(_lgb_parameter_names()), 3)
                raise ConfigError(
                    "lgb_params names parameters LightGBM does not have (LightGBM would "
                    "ignore them silently)",
                    key=f"lgb_params.{unknown[0]}",
                    arrived=repr(unknown),
                    hint=(f"did you mean {close!r}? " if close else "")
                    + "see https://lightgbm.readthedocs.io/en/latest/Parameters.html",
                )
            bad = sorted(
                k for k in self.lgb_params if k in _RESERVED or _canonical(k) in _RESERVED
            )
            if bad:
                raise ConfigError(
                    "lgb_params may not set parameters RiskModel manages",
                    key="lgb_params",
                    arrived=repr(bad),
                    hint="use RiskModel's own parameters (random_state, n_estimators, "
                    "early_stopping_rounds, monotone_constraints, class_weight, ...)",
                )

    def _lgb_params(self, n_classes: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "max_depth": int(self.max_depth),
            "min_data_in_leaf": int(self.min_child_samples),
            "min_data_per_group": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l2": float(self.reg_lambda),
            "lambda_l1": float(self.reg_alpha),
            "extra_trees": bool(self.extra_trees),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            "num_threads": 0 if self.n_jobs == -1 else int(self.n_jobs),
        }
        if n_classes == 2:
            params.update(objective="binary", metric="binary_logloss")
        else:
            params.update(objective="multiclass", num_class=n_classes, metric="multi_logloss")
        params.update(dict(self.lgb_params or {}))
        return params

    def _check_lgb_params(self, params: Mapping[str, Any], k: int, p: int) -> None:
        """Let LightGBM read ``params`` on a tiny table; a refusal names the culprit.

        LightGBM checks its parameters (types, ranges, a GPU device that is not there) only
        when it builds a booster; this probe makes that happen before the real training, so a
        bad ``lgb_params`` entry is a :class:`ConfigError` naming it, with LightGBM's message as
        ``arrived``, never a raw ``LightGBMError`` from deep inside ``fit``.
        """
        user = dict(self.lgb_params or {})
        if not user:
            return
        problem = _lgb_refusal(params, k, p)
        if problem is None:
            return
        ours = {key: v for key, v in params.items() if key not in user}
        culprits = [key for key in user if _lgb_refusal({**ours, key: user[key]}, k, p)]
        culprit = culprits[0] if culprits else sorted(user)[0]
        raise ConfigError(
            f"LightGBM refused lgb_params[{culprit!r}] = {user[culprit]!r}",
            key=f"lgb_params.{culprit}",
            arrived=problem,
            hint="fix or drop that parameter"
            + (
                " (device_type='gpu' or 'cuda' needs a LightGBM built with GPU support and a "
                "GPU on this machine; the default 'cpu' always works)"
                if _canonical(culprit) in ("device_type", "gpu_platform_id", "gpu_device_id")
                else ""
            ),
        )

    # ------------------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        sample_weight: Any = None,
        feature_info: Mapping[str, FeatureInfo] | Iterable[FeatureInfo] | None = None,
        groups: Any = None,
        time: Any = None,
        audit_attributes: Sequence[str] | None = None,
    ) -> RiskModel:
        """Fit the booster, stop early on a later, student-disjoint slice, calibrate on it.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Features. A feature matrix indexed by (``student_id``, ``as_of``) gives the split
            its students and times; numeric, text, category and boolean columns are accepted.
        y : array-like of shape (n,)
            Labels (two or more classes, no missing values).
        sample_weight : array-like of shape (n,), optional
            Row weights, used in training, early stopping and calibration.
        feature_info : mapping or iterable of FeatureInfo, optional
            What each column means (e.g. ``builder.feature_info_``); the others are inferred.
        groups : array-like of shape (n,), optional
            Student of each row, when ``X`` has no ``student_id`` index level.
        time : array-like of shape (n,), optional
            As-of time of each row, when ``X`` has no ``as_of`` index level.
        audit_attributes : list of str, optional
            More audit attributes for this fit (added to the constructor's); see the class
            docstring. Audit attributes are left out of the features unless ``allow_features``
            names them.

        Returns
        -------
        RiskModel
            ``self``.

        Raises
        ------
        SchemaError
            Bad ``X`` or ``y`` (missing labels, one class, mismatched lengths, ...), or no
            feature left once the audit attributes are left out.
        ConfigError
            Bad parameters (unknown feature in ``monotone_constraints``, ...).

        Warns
        -----
        DataQualityWarning
            Once, naming the columns left out because their name or values look like a
            protected characteristic (declared ones are left out without a warning).
        """
        self._check_params()
        frame, named = _frame.as_frame(X)
        y_arr = _frame.check_target(
            y, frame, index=X.index if isinstance(X, pd.DataFrame) else None
        )
        extra_audit = names_param(audit_attributes, "audit_attributes")
        frame, infos, excluded = self._govern(frame, feature_info, extra_audit)
        n, p = frame.shape
        if n == 0:
            raise SchemaError(
                "X must have at least one row", table="X", rule="non-empty", arrived="0 rows"
            )
        try:
            classes, y_codes = np.unique(y_arr, return_inverse=True)
        except TypeError as exc:
            raise SchemaError(
                "Unknown label type: labels must be all numbers or all text",
                table="y",
                rule="label-type",
                arrived=f"mixed types {sorted({type(v).__name__ for v in y_arr})!r}",
            ) from exc
        if y_arr.dtype.kind == "f" and len(classes) > max(50, n // 2):
            raise SchemaError(
                "Unknown label type: y looks continuous (a regression target), not classes",
                table="y",
                rule="label-type",
                arrived=f"{len(classes):,} distinct float values",
                hint="pass class labels, e.g. 0/1 for not at risk / at risk",
            )
        if len(classes) < 2:
            raise SchemaError(
                "y must hold at least two classes (got 1 class)",
                table="y",
                rule="classes",
                arrived=f"only the class {classes.tolist()!r} in {n:,} row(s)",
                hint="check the label window and the outcome names",
            )
        k = len(classes)
        weights = self._row_weights(sample_weight, n)

        cat_extra: list[str] = [] if self.categorical_features == "auto" else [
            str(c) for c in self.categorical_features if str(c) not in excluded
        ]
        unknown = sorted(set(cat_extra) - set(frame.columns))
        if unknown:
            raise ConfigError(
                "categorical_features names columns that X does not have",
                key="categorical_features",
                arrived=repr(unknown),
                hint=f"X's columns are {list(frame.columns)[:20]!r}",
            )
        # columns the feature builder already coded as categories (FeatureInfo.extra lists
        # the levels) stay categorical: a programme code is not a number
        cat_extra += [
            name for name, info in infos.items()
            if info.extra.get("categories") and name not in cat_extra
        ]
        categories = _frame.learn_categories(frame, cat_extra)
        prepared = _frame.apply_categories(frame, categories)
        monotone = self._monotone_vector(list(frame.columns), infos, categories, k)

        student, when = _frame.row_keys(frame)
        if groups is not None:
            student = groups
        if time is not None:
            when = time
        split, why_not = self._choose_split(n, student, when, y_codes, k)

        params = self._lgb_params(k)
        self._check_lgb_params(params, k, p)
        if monotone is not None:
            params["monotone_constraints"] = monotone
        rounds = int(self.n_estimators)
        metrics: dict[str, Any] = {}
        refitted = False
        if split is None:
            booster = _train(params, prepared, y_codes, weights, classes, self, None, None, rounds)
            best = booster.current_iteration()
            calibrator = Calibrator.identity(k)
        else:
            booster = _train(
                params, prepared, y_codes, weights, classes, self, split.train, split.holdout,
                rounds,
            )
            best = booster.best_iteration or booster.current_iteration()
            booster = _cut(booster, best)
            # the same path as predict_raw: the encoded matrix, the model's thread count
            held_matrix = _frame.encode_numeric(prepared.iloc[split.holdout])
            raw_hold = np.asarray(
                booster.predict(held_matrix, raw_score=True, num_threads=self._threads())
            )
            hold_y = y_codes[split.holdout]
            hold_w = None if sample_weight is None else weights[split.holdout]
            if self.calibration == "none":
                calibrator = Calibrator.identity(k)
            else:
                calibrator = Calibrator.fit(
                    raw_hold, hold_y, method=self.calibration, n_classes=k, sample_weight=hold_w
                )
            metrics = _holdout_metrics(raw_hold, hold_y, hold_w, calibrator, k)
            refitted = bool(
                self.refit is True
                or (self.refit == "auto" and split.strategy != "temporal")
            )
            if refitted:
                booster = _train(
                    params, prepared, y_codes, weights, classes, self, None, None, best
                )
        # keep exactly the trees that are used: text file, SHAP and compiled scorer agree
        booster = _cut(booster, best)
        # LightGBM drops a round whose trees could not split (rare, with extra_trees on tiny
        # slices), so count the rounds actually kept
        best = booster.num_trees() // (1 if k == 2 else k)

        self.booster_ = booster
        self.calibrator_ = calibrator
        self.classes_ = classes
        self.n_features_in_ = p
        if named:
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._feature_names = [str(c) for c in frame.columns]
        self._named = named
        self.feature_info_ = infos
        self.categories_ = categories
        self.reference_values_ = _frame.reference_values(prepared)
        self.best_iteration_ = int(best)
        self.holdout_ = (
            {"strategy": "none", "reason": why_not} if split is None else split.to_dict()
        )
        self.training_info_ = self._training_info(
            n, student, y_codes, classes, params, prepared, calibrator, metrics
        )
        self.training_info_["refit"] = refitted
        self.training_info_["excluded_features"] = dict(excluded)
        return self

    @property
    def excluded_features_(self) -> dict[str, str]:
        """Columns left out of the features as audit attributes, with the reason."""
        self._check_fitted()
        return dict(getattr(self, "training_info_", {}).get("excluded_features", {}))

    def _govern(
        self,
        frame: pd.DataFrame,
        feature_info: Mapping[str, FeatureInfo] | Iterable[FeatureInfo] | None,
        extra_audit: Sequence[str],
    ) -> tuple[pd.DataFrame, dict[str, FeatureInfo], dict[str, str]]:
        """Leave audit attributes out of the features (see ``models/_governance.py``).

        Returns the frame of features, their infos (allowed audit attributes marked
        ``sensitivity="audit"``) and the excluded columns with the reason.
        """
        infos = infer_feature_infos(frame, feature_info)
        declared = set(names_param(self.audit_attributes, "audit_attributes")) | set(extra_audit)
        allowed = set(names_param(self.allow_features, "allow_features"))
        excluded: dict[str, str] = {}
        detected: list[str] = []
        for name, info in infos.items():
            builder_allowed = info.sensitivity == "audit" and bool(
                info.extra.get("allowed_as_feature")
            )
            if name in declared:
                why: str | None = "declared an audit attribute (audit_attributes)"
            elif info.sensitivity == "audit":
                why = "its FeatureInfo marks it an audit attribute (sensitivity='audit')"
            else:
                why = detect_protected(name, frame[name])
                if why is not None and name not in allowed:
                    detected.append(name)
            if why is None:
                continue
            if name in allowed or builder_allowed:
                if info.sensitivity != "audit":
                    infos[name] = replace(info, sensitivity="audit")
                continue
            excluded[name] = why
        if detected:
            warnings.warn(
                DataQualityWarning(
                    f"RiskModel.fit: {len(detected)} column(s) look like protected "
                    f"characteristics and are left out of the model's features as audit "
                    f"attributes: {detected!r} ("
                    + "; ".join(f"{c}: {excluded[c]}" for c in detected[:5])
                    + "). Keep one as a feature with RiskModel(allow_features=[...]) (reasons "
                    "still leave it out unless reasons(allow=[...]) names it); declare audit "
                    "attributes with audit_attributes=[...] to silence this warning.",
                ),
                stacklevel=3,
            )
        if excluded:
            if len(excluded) == frame.shape[1]:
                raise SchemaError(
                    "every column of X is an audit attribute: no feature is left to train on",
                    table="X",
                    rule="features",
                    arrived=f"excluded {sorted(excluded)!r}",
                    hint="add real features, or keep some with allow_features=[...]",
                )
            logger.info("RiskModel: audit attributes left out of the features: %s", excluded)
            keep = [c for c in frame.columns if c not in excluded]
            frame = frame[keep]
            infos = {c: infos[c] for c in keep}
        return frame, infos, excluded

    def _row_weights(self, sample_weight: Any, n: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n, dtype="float64")
        w = np.asarray(sample_weight, dtype="float64").reshape(-1)
        if len(w) != n or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise SchemaError(
                "sample_weight must hold one finite, non-negative weight per row, not all zero",
                table="sample_weight",
                rule="weights",
                arrived=f"{len(w):,} values for {n:,} rows; min "
                f"{float(np.nanmin(w)) if len(w) else None!r}",
            )
        return w

    def _class_weights(self, classes: np.ndarray, y_codes: np.ndarray) -> np.ndarray:
        k = len(classes)
        cw = self.class_weight
        if cw is None:
            return np.ones(k)
        if cw == "balanced":
            counts = np.bincount(y_codes, minlength=k).astype("float64")
            return np.where(counts > 0, len(y_codes) / (k * np.maximum(counts, 1)), 1.0)
        cw = cast(Mapping[Any, float], cw)
        unknown = [c for c in cw if c not in set(classes.tolist())]
        if unknown:
            raise ConfigError(
                "class_weight names classes that y does not have",
                key="class_weight",
                arrived=repr(unknown),
                hint=f"the classes are {classes.tolist()!r}",
            )
        return np.array([float(cw.get(c, 1.0)) for c in classes.tolist()])

    def _monotone_vector(
        self,
        names: list[str],
        infos: Mapping[str, FeatureInfo],
        categories: Mapping[str, list[Any]],
        k: int,
    ) -> list[int] | None:
        mc = self.monotone_constraints
        if mc is None:
            return None
        if mc == "auto":
            wanted = {
                name: (1 if info.higher_is == "worse" else -1)
                for name, info in infos.items()
                if info.higher_is in ("better", "worse") and name not in categories
            }
        else:
            wanted = dict(cast(Mapping[str, int], mc))
            unknown = sorted(set(wanted) - set(names))
            if unknown:
                raise ConfigError(
                    "monotone_constraints names features that X does not have",
                    key="monotone_constraints",
                    arrived=repr(unknown),
                    hint=f"X's columns are {names[:20]!r}",
                )
            bad = {f: v for f, v in wanted.items() if v not in (-1, 0, 1) or isinstance(v, bool)}
            if bad:
                raise ConfigError(
                    "a monotone constraint must be -1, 0 or +1",
                    key="monotone_constraints",
                    arrived=repr(bad),
                    hint="+1: risk must not fall as the feature rises; -1: must not rise",
                )
            cats = sorted(set(wanted) & set(categories))
            if cats and any(wanted[c] for c in cats):
                raise ConfigError(
                    "monotone constraints apply to numeric features only",
                    key="monotone_constraints",
                    arrived=f"categorical features {cats!r}",
                    hint="drop them from monotone_constraints",
                )
        if not any(wanted.values()):
            return None
        if k != 2:
            raise ConfigError(
                "monotone constraints are supported for binary models only",
                key="monotone_constraints",
                arrived=f"{k} classes",
                hint="with several outcomes a constraint on each class score does not constrain "
                "the probabilities; model one outcome against the rest instead",
            )
        return [int(wanted.get(name, 0)) for name in names]

    def _choose_split(
        self, n: int, student: Any, when: Any, y_codes: np.ndarray, k: int
    ) -> tuple[HoldoutSplit | None, str]:
        if self.validation_fraction is None:
            return None, "validation_fraction=None"
        split = holdout_split(
            n,
            student=student,
            time=when,
            fraction=float(self.validation_fraction),
            random_state=int(self.random_state),
        )
        hold = np.bincount(y_codes[split.holdout], minlength=k)
        train = np.bincount(y_codes[split.train], minlength=k)
        problem = ""
        if len(split.holdout) < MIN_HOLDOUT_ROWS:
            problem = f"the held-out slice would hold {len(split.holdout)} rows"
        elif hold.min() < MIN_HOLDOUT_PER_CLASS:
            problem = f"the held-out slice would hold {hold.tolist()} rows per class"
        elif train.min() < 1:
            problem = f"the training slice would hold {train.tolist()} rows per class"
        if problem:
            logger.warning(
                "RiskModel: no early stopping and no calibration: %s (need >= %d rows and >= %d "
                "per class); training on all %d rows for n_estimators=%d rounds",
                problem,
                MIN_HOLDOUT_ROWS,
                MIN_HOLDOUT_PER_CLASS,
                n,
                self.n_estimators,
            )
            return None, problem
        return split, ""

    def _training_info(
        self,
        n: int,
        student: Any,
        y_codes: np.ndarray,
        classes: np.ndarray,
        params: Mapping[str, Any],
        prepared: pd.DataFrame,
        calibrator: Calibrator,
        metrics: Mapping[str, Any],
    ) -> dict[str, Any]:
        from studentprofile.tables import frame_fingerprint

        counts = np.bincount(y_codes, minlength=len(classes))
        info: dict[str, Any] = {
            "n_rows": int(n),
            "n_students": None if student is None else int(pd.Series(student).nunique()),
            "class_counts": {str(c): int(v) for c, v in zip(classes.tolist(), counts, strict=True)},
            "lightgbm_params": {k: _jsonable(v) for k, v in params.items()},
            "calibration": calibrator.method,
            "X_fingerprint": frame_fingerprint(prepared),
        }
        if metrics:
            info["holdout_metrics"] = dict(metrics)
        return info

    # ------------------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise _NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet",
                hint="call fit(X, y) first, or RiskModel.load(path)",
            )

    def _prepare(self, X: Any) -> pd.DataFrame:
        """Validate ``X`` and return the LightGBM-ready frame (categoricals with fit's levels)."""
        return _frame.apply_categories(self._columns(X), self.categories_)

    def _columns(self, X: Any) -> pd.DataFrame:
        """Validate ``X`` against what ``fit`` saw; return it with fit's columns, in fit's order."""
        self._check_fitted()
        frame, named = _frame.as_frame(X)
        names = self._feature_names
        left_out = [c for c in self.excluded_features_ if c in frame.columns and c not in names]
        if left_out:
            # audit attributes fit left out may come along (the same frame); they are not read
            frame = frame.drop(columns=left_out)
        if self._named:
            if not named:
                raise SchemaError(
                    "X must be a DataFrame with the columns the model was fitted on",
                    table="X",
                    rule="feature-names",
                    arrived=f"{type(X).__name__} without column names",
                    hint=f"pass a DataFrame with columns {names[:10]!r}"
                    + ("..." if len(names) > 10 else ""),
                )
            cols = list(frame.columns)
            if cols != names:
                missing = [c for c in names if c not in set(cols)]
                extra = [c for c in cols if c not in set(names)]
                if missing or extra:
                    lines = ["The feature names should match those that were passed during fit."]
                    if extra:
                        lines.append(
                            "Feature names unseen at fit time:\n"
                            + "".join(f"- {c}\n" for c in extra[:10])
                        )
                    if missing:
                        lines.append(
                            "Feature names seen at fit time, yet now missing:\n"
                            + "".join(f"- {c}\n" for c in missing[:10])
                        )
                    raise SchemaError(
                        "\n".join(lines),
                        table="X",
                        rule="feature-names",
                        arrived=f"{len(extra)} unexpected, {len(missing)} missing column(s)",
                        hint="pass the columns the model was fitted on (model.feature_names_in_)",
                    )
                # the same names in another order: match by name
                frame = frame[names]
        elif frame.shape[1] != self.n_features_in_:
            raise SchemaError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input",
                table="X",
                rule="n-features",
                arrived=f"shape {frame.shape}",
            )
        return frame

    def _threads(self) -> int:
        return 0 if self.n_jobs == -1 else int(self.n_jobs)

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        k = len(self.classes_)
        if len(matrix) == 0:
            return np.empty((0,) if k == 2 else (0, k), dtype="float64")
        raw = self.booster_.predict(matrix, raw_score=True, num_threads=self._threads())
        return np.asarray(raw, dtype="float64")

    def predict_raw(self, X: Any) -> np.ndarray:
        """Raw scores: log-odds of ``classes_[1]`` (binary) or per-class scores (multi-class).

        Parameters
        ----------
        X : DataFrame or array
            Features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n,) or (n, k)
            What the SHAP values of :meth:`explain` add up to, before calibration.
        """
        return self._raw(self.encode(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities.

        Parameters
        ----------
        X : DataFrame or array
            Features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n, n_classes)
            Columns in the order of ``classes_``.
        """
        raw = self.predict_raw(X)
        return self.calibrator_.transform(raw)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class (by calibrated probability).

        Parameters
        ----------
        X : DataFrame or array
            Features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def predict_risk(self, X: Any) -> pd.Series | pd.DataFrame:
        """Calibrated probabilities with ``X``'s index: pandas in, pandas out.

        Parameters
        ----------
        X : DataFrame
            Features, as in ``fit``.

        Returns
        -------
        Series or DataFrame
            Binary: a Series named ``risk`` (probability of ``classes_[1]``). Multi-class: a
            DataFrame with one column per class.
        """
        proba = self.predict_proba(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        if len(self.classes_) == 2:
            return pd.Series(proba[:, 1], index=index, name="risk")
        return pd.DataFrame(proba, index=index, columns=list(self.classes_))

    def encode(self, X: Any) -> np.ndarray:
        """Return the float64 matrix the trees split on: category codes as numbers, missing as NaN.

        Useful for scorers outside LightGBM (the compiled scorer): category ``categories_[f][i]``
        becomes ``i``; unknown levels and missing values become NaN.

        Parameters
        ----------
        X : DataFrame or array
            Features, as in ``fit``.

        Returns
        -------
        ndarray of shape (n, n_features_in_)
        """
        self._check_fitted()
        return _frame.encode_matrix(self._columns(X), self.categories_)

    # ------------------------------------------------------------------------------ explain
    def explain(
        self, X: Any, *, reference: str = "training", engine: str = "lightgbm"
    ) -> Explanations:
        """SHAP values (path-dependent TreeSHAP, log-odds) and plain-language reasons.

        Parameters
        ----------
        X : DataFrame or array
            The students to explain.
        reference : {"training", "batch"}, default "training"
            Where the "cohort median" in reasons comes from: the rows ``fit`` saw (stored in the
            model) or the explained batch itself.
        engine : {"lightgbm", "compiled"}, default "lightgbm"
            Who computes the SHAP values: LightGBM's ``pred_contrib`` (the reference, identical
            to ``shap.TreeExplainer``) or the numba scorer of :meth:`compile` (equal to it within
            1e-9, several times faster on large batches; compiled once per model).

        Returns
        -------
        Explanations
        """
        # explain/ sits above models/ in the layers; this is the one call upward, kept lazy.
        from studentprofile.explain import Explanations

        return Explanations.from_model(self, X, reference=reference, engine=engine)

    def _contributions(
        self, matrix: np.ndarray, engine: str = "lightgbm"
    ) -> tuple[np.ndarray, np.ndarray]:
        """SHAP values and base values (path-dependent TreeSHAP).

        ``matrix`` is :meth:`encode`'s output; ``engine`` is ``"lightgbm"`` (``pred_contrib``)
        or ``"compiled"`` (the numba scorer of :meth:`compile`). Returns ``values`` (n, p) or
        (n, p, k) and ``base`` () or (k,).
        """
        if engine not in ENGINES:
            raise ConfigError(
                f"engine must be one of {list(ENGINES)!r}",
                key="engine",
                arrived=repr(engine),
                hint="'lightgbm' (the reference) or 'compiled' (numba, faster on big batches)",
            )
        n, p = matrix.shape
        k = len(self.classes_)
        if n == 0:
            # the expected value does not depend on the row: explain one all-missing row
            _, base = self._contributions(np.full((1, p), np.nan), engine)
            return np.zeros((0, p) if k == 2 else (0, p, k)), base
        if engine == "compiled":
            contrib = np.asarray(self._scorer().shap_values(matrix), dtype="float64")
        else:
            contrib = np.asarray(
                self.booster_.predict(matrix, pred_contrib=True, num_threads=self._threads()),
                dtype="float64",
            )
        if k == 2:
            return contrib[:, :p], np.asarray(contrib[0, p])
        c3 = contrib.reshape(n, k, p + 1)
        return np.ascontiguousarray(c3[:, :, :p].transpose(0, 2, 1)), c3[0, :, p].copy()

    def _scorer(self) -> CompiledScorer:
        """Return the compiled scorer of this booster (compiled once, kept while the booster is)."""
        cached = self.__dict__.get("_compiled_cache")
        if cached is not None and cached[0] is self.booster_:
            return cached[1]
        scorer = self.compile()
        self.__dict__["_compiled_cache"] = (self.booster_, scorer)
        return scorer

    # ------------------------------------------------------------------------------ files
    def save(
        self,
        path: Any,
        *,
        fingerprints: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the model to a directory of plain files, atomically, with a SHA-256 manifest.

        Parameters
        ----------
        path : str or Path
            Target directory (created; must not exist unless ``overwrite=True``).
        fingerprints : dict of str -> str, optional
            Data fingerprints to record (e.g. ``{"events": tables.fingerprint()}``).
        overwrite : bool, default False
            Replace an existing model directory.

        Returns
        -------
        Path
            The directory written.
        """
        self._check_fitted()
        return save_model(self, path, fingerprints=fingerprints, overwrite=overwrite)

    @classmethod
    def load(cls, path: Any) -> RiskModel:
        """Load a model written by :meth:`save`, verifying every file against the manifest.

        Parameters
        ----------
        path : str or Path
            The model directory.

        Returns
        -------
        RiskModel

        Raises
        ------
        ModelIntegrityError
            A missing, truncated, tampered or incompatible file; the message names it and why.
        """
        return load_model(path, cls)

    def compile(self) -> CompiledScorer:
        """Return a numba ``CompiledScorer`` for fast scoring (``studentprofile.compiled``).

        Returns
        -------
        CompiledScorer
            Scores and explains like this model (probabilities equal to ``predict_proba``).
        """
        self._check_fitted()
        # compiled/ sits above models/ in the layers; this facade is the one other call upward,
        # kept lazy (a plain import inside the method, so the layering test can see it).
        from studentprofile.compiled import compile as _compile

        return _compile(self)


def _train(
    params: Mapping[str, Any],
    prepared: pd.DataFrame,
    y_codes: np.ndarray,
    weights: np.ndarray,
    classes: np.ndarray,
    model: RiskModel,
    rows: np.ndarray | None,
    valid_rows: np.ndarray | None,
    rounds: int,
) -> Any:
    """Train one booster on ``rows`` (all when None), early-stopping on ``valid_rows``."""
    import lightgbm as lgb

    train_rows = np.arange(len(prepared)) if rows is None else rows
    class_w = model._class_weights(classes, y_codes[train_rows])
    # LightGBM-safe names (JSON characters, spaces, collisions); readable names elsewhere. The
    # frame gets them too: LightGBM lists a pandas categorical by its column name, and must
    # find that name among feature_name (a categorical named "专业" or "a b" failed in fit)
    lgb_frame = prepared.set_axis(_frame.lgb_feature_names(prepared.columns), axis=1)
    train_set = lgb.Dataset(
        lgb_frame.iloc[train_rows],
        label=y_codes[train_rows],
        weight=weights[train_rows] * class_w[y_codes[train_rows]],
        feature_name=list(lgb_frame.columns),
        categorical_feature="auto",
        params={"verbosity": -1},
        free_raw_data=True,
    )
    try:
        return _boost(params, train_set, lgb_frame, y_codes, weights, class_w, model,
                      valid_rows, rounds)
    except lgb.basic.LightGBMError as exc:
        if not model.lgb_params:
            raise  # our own parameters: a bug, not the caller's input
        raise ConfigError(
            "LightGBM could not train with these lgb_params",
            key="lgb_params",
            arrived=str(exc).strip(),
            hint=f"check or drop the LightGBM parameters {sorted(model.lgb_params)!r}",
        ) from exc


def _boost(
    params: Mapping[str, Any],
    train_set: Any,
    lgb_frame: pd.DataFrame,
    y_codes: np.ndarray,
    weights: np.ndarray,
    class_w: np.ndarray,
    model: RiskModel,
    valid_rows: np.ndarray | None,
    rounds: int,
) -> Any:
    import lightgbm as lgb

    if valid_rows is None:
        return lgb.train(dict(params), train_set, num_boost_round=rounds)
    valid_set = lgb.Dataset(
        lgb_frame.iloc[valid_rows],
        label=y_codes[valid_rows],
        weight=weights[valid_rows] * class_w[y_codes[valid_rows]],
        feature_name=list(lgb_frame.columns),  # already LightGBM's names
        reference=train_set,
    )
    return lgb.train(
        dict(params),
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        valid_names=["holdout"],
        callbacks=[
            lgb.early_stopping(int(model.early_stopping_rounds), first_metric_only=True,
                               verbose=False)
        ],
    )


def _lgb_parameter_names() -> frozenset[str]:
    """Every LightGBM parameter name and alias (empty when this LightGBM cannot list them)."""
    aliases = _lgb_aliases()
    return frozenset(aliases) | frozenset(a for names in aliases.values() for a in names)


@functools.cache
def _lgb_aliases() -> dict[str, list[str]]:
    try:
        import lightgbm as lgb

        table = lgb.basic._ConfigAliases._get_all_param_aliases()
    except Exception:  # a LightGBM without the (private) alias table: skip the name check
        return {}
    return {str(k): [str(a) for a in v] for k, v in dict(table).items()}


def _canonical(name: str) -> str:
    """Return the parameter an alias stands for (``num_round`` -> ``num_iterations``)."""
    for canonical, aliases in _lgb_aliases().items():
        if name == canonical or name in aliases:
            return canonical
    return name


def _lgb_refusal(params: Mapping[str, Any], k: int, p: int) -> str | None:
    """LightGBM's message when it refuses ``params`` on a tiny table of ``p`` columns."""
    import lightgbm as lgb

    rows = 2 * k
    x = np.tile((np.arange(rows) % 2).astype("float64")[:, None], (1, p))
    y = np.arange(rows) % k
    try:
        data = lgb.Dataset(x, label=y, params={"verbosity": -1}, free_raw_data=True)
        lgb.train({**params, "verbosity": -1}, data, num_boost_round=1)
    except lgb.basic.LightGBMError as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _cut(booster: Any, rounds: int) -> Any:
    """Return a booster holding exactly the first ``rounds`` boosting rounds."""
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))


def _holdout_metrics(
    raw: np.ndarray, y: np.ndarray, w: np.ndarray | None, calibrator: Calibrator, k: int
) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    proba = calibrator.transform(raw)
    out: dict[str, Any] = {
        "n_rows": int(len(y)),
        "log_loss": float(log_loss(y, proba, labels=list(range(k)), sample_weight=w)),
    }
    if k == 2:
        out["auc"] = float(roc_auc_score(y, proba[:, 1], sample_weight=w))
        out["brier"] = float(brier_score_loss(y, proba[:, 1], sample_weight=w))
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v
