"""score on Spark: the compiled scorer and compiled TreeSHAP inside ``mapInPandas``.

The model travels as its artefact files (the LightGBM text model, the JSON document and the
SHA-256 manifest; no pickle), broadcast once. Each Python worker writes them to a private
temporary folder once, loads them with :meth:`RiskModel.load` (which verifies the manifest) and
compiles the model once; every later batch in that worker reuses the compiled scorer, whose numba
kernels are cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.models import RiskModel
from studentprofile.spark._schema import check_positive_int
from studentprofile.spark._shards import use_task_cores
from studentprofile.warning import AlertPolicy

__all__ = ["score"]

_KEYS = ("student_id", "as_of")
_CACHE: dict[str, tuple[RiskModel, Any]] = {}  # per worker process: fingerprint -> model
_LOCK = threading.Lock()


def score(
    sdf: DataFrame,
    model: RiskModel,
    *,
    reasons: int = 3,
    tiers: Mapping[str, float] | None = None,
    allow: Sequence[str] = (),
    keep: Sequence[str] = _KEYS,
) -> DataFrame:
    """Score and explain every row of a Spark feature frame with a fitted RiskModel.

    Each row gets the calibrated risk of ``model.compile().predict_proba`` and its ``reasons``
    from the compiled TreeSHAP (``model.explain(X, engine="compiled").reasons(...)``), equal to
    the single-machine calls on the same rows.

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        Rows to score: every feature the model was fitted on (by name, as
        ``model.feature_names_in_``), usually ``build_features(...).features``; other columns are
        ignored except those in ``keep``.
    model : RiskModel
        A fitted binary model.
    reasons : int, default 3
        Most reasons per row; 0 leaves the ``reasons`` column out.
    tiers : mapping of str to float, optional
        Tier name -> risk threshold, as ``AlertPolicy(tiers=...)`` in probability mode: a row
        reaches the highest tier whose threshold its risk is at least. Adds a ``tier`` column
        (null below every tier).
    allow : sequence of str, default ()
        Sensitive or audit features let into the reasons, by name (as ``Explanations.reasons``).
    keep : sequence of str, default ("student_id", "as_of")
        Columns of ``sdf`` copied to the output (those present).

    Returns
    -------
    pyspark.sql.DataFrame
        ``keep`` columns, ``risk`` (double), ``tier`` (string, with ``tiers``) and ``reasons``
        (JSON text: a list of reason records with ``feature``, ``phrase``, ``value``,
        ``reference``, ``direction``, ``contribution``, ``sentence``, ...; NaN as null).

    Raises
    ------
    SchemaError
        ``sdf`` lacks a feature the model needs, or holds it as a non-numeric type (before any
        job starts).
    ConfigError
        An unfitted or non-binary model, bad ``reasons``, ``tiers`` or ``keep``.

    Examples
    --------
    >>> from studentprofile import spark as sps  # doctest: +SKIP
    >>> scored = sps.score(features_sdf, model, reasons=3, tiers={"high": 0.5})  # doctest: +SKIP
    >>> scored.columns  # doctest: +SKIP
    ['student_id', 'as_of', 'risk', 'tier', 'reasons']
    """
    from studentprofile.spark._schema import check_frame

    if not isinstance(model, RiskModel) or not hasattr(model, "booster_"):
        raise ConfigError("score needs a fitted RiskModel", key="model",
                          arrived=f"an object of type {type(model).__name__}",
                          hint="fit one (RiskModel().fit(X, y)) or load one (RiskModel.load)")
    if len(model.classes_) != 2:
        raise ConfigError("score explains binary models only", key="model",
                          arrived=f"classes {list(model.classes_)!r}",
                          hint="train the model on a 0/1 label")
    if reasons != 0:
        reasons = check_positive_int(reasons, "reasons", "e.g. reasons=3, or 0 for none")
    names = [str(c) for c in getattr(model, "feature_names_in_", [])]
    if not names:
        raise ConfigError("score needs a model fitted on a DataFrame with named features",
                          key="model", arrived="a model without feature_names_in_",
                          hint="fit the model on the feature matrix (a DataFrame)")
    if not isinstance(sdf, DataFrame):
        check_frame(sdf, "features")  # raises the type error
    types = {f.name: f.dataType for f in sdf.schema.fields}
    missing = [c for c in names if c not in types]
    if missing:
        raise SchemaError(
            f"the features table lacks {len(missing)} feature(s) the model was fitted on",
            table="features",
            column=missing[0],
            rule="required-column",
            arrived=f"missing {missing[:10]!r}",
            hint="build the features with the spec the model was trained with",
        )
    numeric = (T.NumericType, T.BooleanType)
    wrong = [c for c in names if not isinstance(types[c], numeric)]
    if wrong:
        raise SchemaError(
            "model features must be numeric columns",
            table="features",
            column=wrong[0],
            rule="spark-type",
            arrived=f"Spark type {types[wrong[0]].simpleString()!r}",
            hint="cast the column to double",
        )
    if isinstance(keep, str):
        raise ConfigError("keep must be a list of column names", key="keep", arrived=repr(keep),
                          hint=f"wrap it in a list: keep=[{keep!r}]")
    kept = [c for c in keep if c in types]
    thresholds: list[tuple[str, float]] = []
    if tiers is not None:
        policy = AlertPolicy(tiers=tiers)  # the same validation as the alert policy
        thresholds = [(n, float(policy.tiers[n])) for n in policy.tier_names]
        thresholds.sort(key=lambda nt: nt[1])

    files = _artefact(model)
    fingerprint = hashlib.sha256(
        b"".join(k.encode() + v for k, v in sorted(files.items()))).hexdigest()
    shipped = sdf.sparkSession.sparkContext.broadcast(files)
    fields = [T.StructField(c, types[c]) for c in kept]
    fields.append(T.StructField("risk", T.DoubleType()))
    if thresholds:
        fields.append(T.StructField("tier", T.StringType()))
    if reasons:
        fields.append(T.StructField("reasons", T.StringType()))
    schema = T.StructType(fields)
    columns = list(dict.fromkeys([*kept, *names]))
    index = [c for c in _KEYS if c in types]

    def batches(it: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        use_task_cores()
        loaded, scorer = _worker_model(fingerprint, shipped.value)
        for pdf in it:
            yield _score_batch(pdf, loaded, scorer, names, kept, index, reasons, thresholds,
                               allow)

    return sdf.select(*columns).mapInPandas(batches, schema)


def _artefact(model: RiskModel) -> dict[str, bytes]:
    """Return the model's saved files, relative path -> bytes (what the executors load)."""
    folder = Path(tempfile.mkdtemp(prefix="sp-spark-model-"))
    try:
        target = folder / "model"
        model.save(target)
        return {
            str(p.relative_to(target)): p.read_bytes()
            for p in sorted(target.rglob("*")) if p.is_file()
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _worker_model(fingerprint: str, files: dict[str, bytes]) -> tuple[RiskModel, Any]:
    """Load and compile the broadcast model once per worker process."""
    with _LOCK:
        if fingerprint not in _CACHE:
            folder = Path(tempfile.mkdtemp(prefix="sp-spark-model-"))
            try:
                for rel, data in files.items():
                    path = folder / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                model = RiskModel.load(folder)  # verifies the SHA-256 manifest
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            _CACHE[fingerprint] = (model, model.compile())
        return _CACHE[fingerprint]


def _score_batch(
    pdf: pd.DataFrame,
    model: RiskModel,
    scorer: Any,
    names: list[str],
    kept: list[str],
    index: list[str],
    reasons: int,
    thresholds: list[tuple[str, float]],
    allow: Sequence[str],
) -> pd.DataFrame:
    X = pdf[names].astype("float64")
    if index:
        X.index = pd.MultiIndex.from_frame(pdf[index]) if len(index) > 1 else pd.Index(
            pdf[index[0]])
    out = pdf[kept].reset_index(drop=True)
    risk = scorer.predict_proba(X)[:, 1] if len(X) else np.zeros(0)
    out["risk"] = risk
    if thresholds:
        cut = np.array([t for _, t in thresholds])
        level = np.searchsorted(cut, risk, side="right")
        level[np.isnan(risk)] = 0
        labels = np.array([None, *[n for n, _ in thresholds]], dtype=object)
        out["tier"] = labels[level]
    if reasons:
        records = model.explain(X, engine="compiled").reasons(reasons, allow=allow) \
            if len(X) else []
        out["reasons"] = [json.dumps(_plain(r["reasons"]), allow_nan=False) for r in records]
    return out


def _plain(v: Any) -> Any:
    """JSON-ready values: NaN and infinities as None, numpy scalars as Python ones."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v

