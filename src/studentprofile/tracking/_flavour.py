"""The ``studentprofile`` MLflow model flavour, with pyfunc support and no pickle.

An MLflow model directory written by :func:`save_model`::

    MLmodel                      flavours: studentprofile, python_function
    requirements.txt, python_env.yaml
    input_example.json           one synthetic row (column medians; no student, no identifier)
    studentprofile/
        risk_model/              RiskModel.save(): model.txt, metadata.json, SHA-256 manifest
        settings.json            tiers (probability thresholds) and the number of reasons
        model_card.md            the model card, when one was given
        mlmodel.json             MLmodel's flavour sections and signature, as saved
        flavour.sha256           SHA-256 of every file above and of the files MLflow reads
                                 (``cd <model> && sha256sum -c studentprofile/flavour.sha256``)

Loading checks every hash, that MLmodel still says what ``mlmodel.json`` recorded, that the
flavour's data folder is ``studentprofile`` inside the model folder, and that the tiers are
probabilities: anything else is a :class:`~studentprofile.errors.ModelIntegrityError`.

``mlflow.pyfunc.load_model(uri).predict(df)`` returns one row per input row: ``risk`` (the
calibrated probability), ``tier``, ``reason_1`` ... ``reason_k`` (plain sentences) and
``reasons`` (a JSON string of the top reasons with their contributions): every value is a
plain string or float, so the frame goes to JSON as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._files import atomic_write_text
from studentprofile._version import __version__
from studentprofile.errors import (
    ConfigError,
    ModelIntegrityError,
    SchemaError,
    StudentProfileError,
)

__all__ = [
    "FLAVOR_NAME",
    "StudentProfileModel",
    "load_model",
    "log_model",
    "output_columns",
    "save_model",
    "synthetic_example",
]

FLAVOR_NAME = "studentprofile"
DATA_DIR = "studentprofile"
RISK_DIR = "risk_model"
SETTINGS_FILE = "settings.json"
CARD_FILE = "model_card.md"
MLMODEL_COPY = "mlmodel.json"
FLAVOUR_MANIFEST = "flavour.sha256"
#: Files MLflow writes next to MLmodel and reads when it serves the model (hashed when present).
MLFLOW_FILES = ("requirements.txt", "python_env.yaml", "input_example.json",
                "serving_input_example.json")
MAX_TOP_REASONS = 100
NO_TIER = "none"
ID_COLUMNS = ("student_id", "as_of")
NO_ROWS = "the request has no rows to score"


def import_mlflow() -> Any:
    """Import mlflow and mlflow.pyfunc, silencing the one warning mlflow.pyfunc gives at import.

    mlflow.pyfunc (<= 3.17) infers the schemas of its own agent request types when imported and
    warns about an ``Any`` type hint inside them; nothing a caller can act on.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType",
                                category=UserWarning)
        import mlflow
        import mlflow.pyfunc  # noqa: F401

    return mlflow


# ---------------------------------------------------------------------------- the model
@dataclass
class StudentProfileModel:
    """A risk model with its alert tiers and model card, as the flavour stores it.

    Attributes
    ----------
    risk_model : RiskModel
        The calibrated model.
    tiers : dict of str -> float
        Tier name -> probability threshold (a row is in the highest tier whose threshold its
        risk reaches; below every threshold: ``"none"``).
    top_reasons : int
        Reasons returned per row.
    model_card : str or None
        The model card (Markdown).
    path : Path or None
        Where it was loaded from.

    Examples
    --------
    >>> m = StudentProfileModel(risk_model=None, tiers={"high": 0.3, "medium": 0.1})
    >>> m.tier_of(np.array([0.05, 0.1, 0.5])).tolist()
    ['none', 'medium', 'high']
    """

    risk_model: Any
    tiers: dict[str, float] = field(default_factory=dict)
    top_reasons: int = 3
    model_card: str | None = None
    path: Path | None = None

    def tier_of(self, risk: np.ndarray) -> np.ndarray:
        """Return the tier name of each risk value."""
        out = np.full(len(risk), NO_TIER, dtype=object)
        # lowest threshold first, so higher tiers overwrite
        for name, thr in sorted(self.tiers.items(), key=lambda kv: kv[1]):
            out[np.asarray(risk) >= thr] = name
        return out

    def _features(self, df: Any) -> pd.DataFrame:
        if isinstance(df, Mapping):
            df = pd.DataFrame([dict(df)])
        if not isinstance(df, pd.DataFrame):
            raise SchemaError(
                "the model scores a DataFrame of features, one row per student",
                table="input",
                rule="type",
                arrived=f"an object of type {type(df).__name__}",
                hint="pass a pandas DataFrame with the model's feature columns",
            )
        names = list(self.risk_model.feature_names_in_)
        ids = [c for c in ID_COLUMNS if c in df.columns and c not in names]
        if ids:
            df = df.set_index(ids)
        return df

    def predict(self, df: Any) -> pd.DataFrame:
        """Score rows: risk, tier and the top reasons, JSON-safe.

        Parameters
        ----------
        df : DataFrame
            The model's feature columns (any order; extra ``student_id``/``as_of`` columns
            become the index of the answer).

        Returns
        -------
        DataFrame
            ``risk``, ``tier``, ``reason_1`` ... ``reason_k`` and ``reasons`` (JSON text),
            indexed like the input.
        """
        X = self._features(df)
        if len(X) == 0:
            return pd.DataFrame(columns=output_columns(self.top_reasons), index=X.index)
        expl = self.risk_model.explain(X)
        risk = np.asarray(expl.probability, dtype="float64")
        per_row = expl.reasons(top=self.top_reasons)
        out = pd.DataFrame({"risk": risk, "tier": self.tier_of(risk)}, index=X.index)
        for i in range(self.top_reasons):
            out[f"reason_{i + 1}"] = [
                r["reasons"][i]["sentence"] if i < len(r["reasons"]) else "" for r in per_row
            ]
        out["reasons"] = [
            json.dumps(
                [
                    {
                        "feature": x["feature"],
                        "phrase": x["phrase"],
                        "family": x["family"],
                        "direction": x["direction"],
                        "contribution": round(float(x["contribution"]), 6),
                        "value": x["value_text"],
                        "reference": x["reference_text"],
                        "sentence": x["sentence"],
                    }
                    for x in r["reasons"]
                ],
                allow_nan=False,
            )
            for r in per_row
        ]
        return out

    def score_one(self, features: Mapping[str, Any]) -> dict[str, Any]:
        """Score one student from a mapping of feature values with the compiled scorer.

        Parameters
        ----------
        features : mapping
            Feature name -> value (missing names count as missing values).

        Returns
        -------
        dict
            ``{"risk": float, "tier": str}``.
        """
        scorer = self.risk_model._scorer()
        names = list(self.risk_model.feature_names_in_)
        unknown = sorted(set(features) - set(names))
        if unknown:
            raise SchemaError(
                "unknown feature names",
                table="features",
                rule="known-feature",
                arrived=f"{unknown[:5]!r}" + (f" ({len(unknown)} in all)" if len(unknown) > 5
                                              else ""),
                hint="send the model's feature names (risk_model.feature_names_in_)",
            )
        row = {n: features.get(n, np.nan) for n in names}
        risk = float(scorer.predict_one(row))
        return {"risk": risk, "tier": str(self.tier_of(np.array([risk]))[0])}


class _PyFunc:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(df) -> DataFrame``.

    MLflow's face of the model (``mlflow.pyfunc``, ``mlflow models serve``, ``spark_udf``): a
    request with no rows is refused, and a studentprofile error (a bad input) is raised as an
    ``MlflowException`` with ``INVALID_PARAMETER_VALUE`` whose message is the error's text and
    whose ``__cause__`` is the typed error; MLflow's scoring server answers it with HTTP 400 and
    that message, instead of a 400 that hides the reason in a stack trace.
    """

    def __init__(self, model: StudentProfileModel) -> None:
        self.model = model

    # a concrete type hint: MLflow warns about `Any` hints on a pyfunc's predict
    def predict(
        self, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        try:
            if len(model_input) == 0:
                raise SchemaError(
                    NO_ROWS,
                    table="input",
                    rule="rows",
                    arrived="0 rows",
                    hint="send at least one row of the model's features "
                    "(e.g. {\"dataframe_records\": [{...}]})",
                )
            return self.model.predict(model_input)
        except StudentProfileError as exc:
            raise _invalid_input(exc) from exc

    def get_raw_model(self) -> StudentProfileModel:
        return self.model


def _invalid_input(exc: StudentProfileError) -> Exception:
    """Return ``exc`` as the MlflowException MLflow's scoring server turns into HTTP 400."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE)


def _load_pyfunc(path: str) -> _PyFunc:
    """MLflow's loader hook: ``path`` is the flavour's data folder (``<model>/studentprofile``)."""
    data = Path(path)
    if data.name != DATA_DIR or ".." in data.parts:
        raise ModelIntegrityError(
            f"the flavour's data folder must be {DATA_DIR!r} inside the model folder",
            arrived=repr(str(path)),
            hint="MLmodel was edited; log the model again",
        )
    return _PyFunc(_read_model_dir(data.parent))


# ---------------------------------------------------------------------------- files
def _integrity(path: Path, problem: str, arrived: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"{path}: {problem}",
        arrived=arrived,
        hint="the model folder was changed or damaged after it was saved; do not use it: "
        "log the model again from its training run",
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _mlmodel_sections(mlmodel: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parts of MLmodel the flavour and pyfunc act on (not run ids or timestamps)."""
    flavors = mlmodel.get("flavors") or {}
    return {
        "flavors": {k: flavors.get(k) for k in (FLAVOR_NAME, "python_function")},
        "signature": mlmodel.get("signature"),
    }


def _canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)


def _manifest_lines(root: Path) -> list[str]:
    data = root / DATA_DIR
    files = [data / SETTINGS_FILE, data / MLMODEL_COPY]
    if (data / CARD_FILE).is_file():
        files.append(data / CARD_FILE)
    files += sorted(p for p in (data / RISK_DIR).rglob("*") if p.is_file())
    files += [root / n for n in MLFLOW_FILES if (root / n).is_file()]
    return [f"{_sha256(p)}  {p.relative_to(root).as_posix()}\n" for p in files]


_LINE = re.compile(r"([0-9a-f]{64})  (\S[^\n]*)")


def _verify(root: Path) -> None:
    """Check the flavour's manifest, every file in it, and MLmodel against its saved copy."""
    manifest = root / DATA_DIR / FLAVOUR_MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _integrity(manifest, "the flavour's SHA-256 manifest is missing or unreadable",
                         f"{type(exc).__name__}: {exc}") from exc
    listed: dict[str, str] = {}
    real_root = root.resolve()
    for n, line in enumerate(text.splitlines(), 1):
        m = _LINE.fullmatch(line)
        rel = m.group(2) if m else ""
        target = (root / rel).resolve() if m else root
        if m is None or rel.startswith("/") or ".." in Path(rel).parts \
                or not target.is_relative_to(real_root):
            raise _integrity(manifest, "every line must be '<sha256>  <path inside the model "
                             "folder>'", f"line {n}: {line[:120]!r}")
        listed[rel] = m.group(1)
    data = f"{DATA_DIR}/"
    needed = {data + SETTINGS_FILE, data + MLMODEL_COPY}
    needed |= {p.relative_to(root).as_posix() for p in (root / DATA_DIR / RISK_DIR).rglob("*")
               if p.is_file()}
    if (root / DATA_DIR / CARD_FILE).exists():
        needed.add(data + CARD_FILE)
    missing = sorted(needed - set(listed))
    if missing or not any(k.startswith(f"{data}{RISK_DIR}/") for k in listed):
        raise _integrity(manifest, "files the flavour reads are not in its manifest",
                         f"not listed: {missing!r}")
    for rel, sha in listed.items():
        path = root / rel
        try:
            digest = _sha256(path)
        except OSError as exc:
            raise _integrity(path, "a file of the manifest is missing or unreadable",
                             f"{type(exc).__name__}: {exc}") from exc
        if digest != sha:
            raise _integrity(path, "the file's SHA-256 does not match the flavour's manifest "
                             "(tampered or damaged)", f"sha256 {digest}, manifest says {sha}")
    from mlflow.models import Model

    try:
        live = _mlmodel_sections(Model.load(str(root / "MLmodel")).to_dict())
    except Exception as exc:  # noqa: BLE001 - a broken YAML file is a broken model
        raise _integrity(root / "MLmodel", "MLmodel is missing or not valid",
                         f"{type(exc).__name__}: {exc}") from exc
    try:
        saved = json.loads((root / DATA_DIR / MLMODEL_COPY).read_text(encoding="utf-8"))
        changed = _differences(saved, live)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise _integrity(root / DATA_DIR / MLMODEL_COPY, "not the copy of MLmodel's sections "
                         "this version writes", f"{type(exc).__name__}: {exc}") from exc
    if changed:
        raise _integrity(root / "MLmodel", "MLmodel no longer says what it said when the "
                         f"model was saved ({DATA_DIR}/{MLMODEL_COPY})",
                         f"changed: {', '.join(changed)}")
    for section in (FLAVOR_NAME, "python_function"):
        where = (live["flavors"].get(section) or {}).get("data")
        if where != DATA_DIR:
            raise _integrity(root / "MLmodel", f"the {section} flavour's data folder must be "
                             f"{DATA_DIR!r} inside the model folder", repr(where))


def _differences(saved: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Return what differs between two MLmodel section documents (``flavour.key``)."""
    out = []
    for flavour in (FLAVOR_NAME, "python_function"):
        a = saved["flavors"].get(flavour) or {}
        b = live["flavors"].get(flavour) or {}
        out += [f"{flavour}.{k}" for k in sorted(set(a) | set(b))
                if _canonical(a.get(k)) != _canonical(b.get(k))]
    if _canonical(saved.get("signature")) != _canonical(live.get("signature")):
        out.append("signature")
    return out


def _settings(path: Path) -> tuple[dict[str, float], int]:
    """Read and check settings.json: tiers are probabilities, top_reasons a small integer."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _integrity(path, f"the flavour settings file {SETTINGS_FILE} is missing or not "
                         "JSON", f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(settings, dict):
        raise _integrity(path, "the settings must be a JSON object", repr(settings)[:200])
    tiers = settings.get("tiers", {})
    if not isinstance(tiers, dict):
        raise _integrity(path, "tiers must map names to probability thresholds",
                         repr(tiers)[:200])
    out: dict[str, float] = {}
    for name, thr in tiers.items():
        ok = isinstance(thr, int | float) and not isinstance(thr, bool) \
            and math.isfinite(thr) and 0.0 <= thr <= 1.0
        if not (ok and name):
            raise _integrity(path, "every tier must map a name to a probability threshold "
                             "in [0, 1]", f"tiers[{name!r}] = {thr!r}")
        out[str(name)] = float(thr)
    top = settings.get("top_reasons", 3)
    if not (isinstance(top, int) and not isinstance(top, bool) and 0 <= top <= MAX_TOP_REASONS):
        raise _integrity(path, f"top_reasons must be an integer in [0, {MAX_TOP_REASONS}]",
                         repr(top))
    return out, top


def _read_model_dir(root: Path) -> StudentProfileModel:
    """Load a flavour model folder after checking every file it reads."""
    from studentprofile.models import RiskModel

    _verify(root)
    data = root / DATA_DIR
    tiers, top = _settings(data / SETTINGS_FILE)
    card = data / CARD_FILE
    return StudentProfileModel(
        risk_model=RiskModel.load(data / RISK_DIR),
        tiers=tiers,
        top_reasons=top,
        model_card=card.read_text(encoding="utf-8") if card.is_file() else None,
        path=root,
    )


def synthetic_example(X: pd.DataFrame) -> pd.DataFrame:
    """One synthetic input row: each column's median (numbers) or most common value.

    The row is made of per-column summaries, so it describes no real student and carries no
    identifier; it documents the input format in the logged model.

    Parameters
    ----------
    X : DataFrame
        A feature matrix.

    Returns
    -------
    DataFrame
        One row, a plain ``RangeIndex``.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 9.0], "b": ["x", "y", "y"]},
    ...                  index=pd.Index(["s1", "s2", "s3"], name="student_id"))
    >>> synthetic_example(X)
         a  b
    0  2.0  y
    """
    row: dict[str, Any] = {}
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            v = s.astype("float64").median()
            row[c] = float(v) if pd.notna(v) else 0.0
        else:
            mode = s.dropna().astype(str).mode()
            row[c] = str(mode.iloc[0]) if len(mode) else ""
    return pd.DataFrame([row], columns=list(X.columns))


def output_columns(top_reasons: int) -> list[str]:
    """Return the columns the pyfunc answers with, in order.

    Parameters
    ----------
    top_reasons : int
        Reasons per row (the model's ``top_reasons``).

    Returns
    -------
    list of str
        ``risk``, ``tier``, ``reason_1`` ... ``reason_k``, ``reasons``.

    Examples
    --------
    >>> output_columns(2)
    ['risk', 'tier', 'reason_1', 'reason_2', 'reasons']
    """
    return ["risk", "tier", *[f"reason_{i + 1}" for i in range(top_reasons)], "reasons"]


def _signature(model: Any, top_reasons: int) -> Any:
    """Return the MLflow signature of a fitted RiskModel: features in; risk, tier, reasons out.

    A feature whose categories are text is a ``string`` column, every other feature a
    ``double`` (missing values allowed; LightGBM routes them). Every feature is required: a
    request without one is refused (HTTP 400) rather than scored as if the student had none.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    cats = getattr(model, "categories_", {}) or {}
    inputs: list[Any] = []
    for name in model.feature_names_in_:
        text = any(isinstance(v, str) for v in cats.get(name, ()))
        inputs.append(ColSpec("string" if text else "double", str(name)))
    outputs: list[Any] = [
        ColSpec("double" if c == "risk" else "string", c) for c in output_columns(top_reasons)
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _check_tiers(tiers: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, thr in (tiers or {}).items():
        ok = isinstance(thr, int | float | np.floating) and not isinstance(thr, bool)
        if not (isinstance(name, str) and name and ok and 0.0 <= float(thr) <= 1.0):
            raise ConfigError(
                "tiers map a name to a probability threshold in [0, 1]",
                key=f"tiers[{name!r}]",
                arrived=repr(thr),
                hint="e.g. tiers={'high': 0.3, 'medium': 0.15}",
            )
        out[name] = float(thr)
    return out


def _write_env(path: Path) -> None:
    import platform

    reqs = [
        f"studentprofile=={__version__}",
        "mlflow",
        "lightgbm",
        "numba",
        "numpy",
        "pandas",
        "scikit-learn",
        "shap",
    ]
    (path / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
    (path / "python_env.yaml").write_text(
        f"python: {platform.python_version()}\nbuild_dependencies:\n  - pip\n"
        "dependencies:\n  - -r requirements.txt\n",
        encoding="utf-8",
    )


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    tiers: Mapping[str, float] | None = None,
    top_reasons: int = 3,
    model_card: str | None = None,
    input_example: pd.DataFrame | None = None,
    fingerprints: Mapping[str, str] | None = None,
    mlflow_model: Any = None,
) -> Path:
    """Save a fitted RiskModel as an MLflow model directory (flavour ``studentprofile``).

    Parameters
    ----------
    model : RiskModel
        A fitted model.
    path : str or Path
        The new directory (must not exist).
    tiers : mapping of str -> float, optional
        Tier name -> probability threshold.
    top_reasons : int, default 3
        Reasons per row in ``predict``.
    model_card : str, optional
        Markdown model card stored next to the model.
    input_example : DataFrame, optional
        One or a few rows of **synthetic** features (see :func:`synthetic_example`); the
        signature is inferred from it and the model's answer to it.
    fingerprints : mapping, optional
        Data fingerprints recorded in the model's metadata.
    mlflow_model : mlflow.models.Model, optional
        Given by ``Model.log``; a new one otherwise.

    Returns
    -------
    Path
        The directory written.

    Raises
    ------
    ConfigError
        The directory exists, bad tiers, or the model was fitted without column names.
    """
    mlflow = import_mlflow()
    from mlflow.models import Model
    from mlflow.models.utils import _save_example

    from studentprofile.models import RiskModel

    if not isinstance(model, RiskModel):
        raise ConfigError(
            "the studentprofile flavour saves a fitted RiskModel",
            key="model",
            arrived=f"an object of type {type(model).__name__}",
        )
    if not hasattr(model, "feature_names_in_"):
        raise ConfigError(
            "the studentprofile flavour saves a model fitted on a DataFrame: requests, the "
            "signature and the reasons name the feature columns",
            key="model",
            arrived="a RiskModel fitted on an array without column names",
            hint="fit on a DataFrame, e.g. RiskModel().fit(pd.DataFrame(X, columns=names), y)",
        )
    if not isinstance(top_reasons, int) or isinstance(top_reasons, bool) or top_reasons < 0:
        raise ConfigError("top_reasons must be an integer >= 0", key="top_reasons",
                          arrived=repr(top_reasons))
    checked = _check_tiers(tiers)
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise ConfigError(
            "the MLflow model directory already exists",
            key="path",
            arrived=repr(str(target)),
            hint="choose a new path (MLflow model directories are written once)",
        )
    target.mkdir(parents=True, exist_ok=True)
    data = target / DATA_DIR
    data.mkdir()
    model.save(data / RISK_DIR, fingerprints=fingerprints)
    atomic_write_text(
        data / SETTINGS_FILE,
        json.dumps({"tiers": checked, "top_reasons": top_reasons,
                    "studentprofile_version": __version__}, indent=2, sort_keys=True),
    )
    if model_card is not None:
        atomic_write_text(data / CARD_FILE, model_card)
    _write_env(target)

    if mlflow_model is None:
        mlflow_model = Model()
    # the signature comes from the model itself (not from an example), so every logged model has
    # one: MLflow's scoring server and spark_udf check requests against it
    mlflow_model.signature = _signature(model, top_reasons)
    if input_example is not None:
        example = input_example.reset_index(drop=True)
        StudentProfileModel(model, checked, top_reasons).predict(example)  # it must score
        _save_example(mlflow_model, example, str(target))
    mlflow.pyfunc.add_to_model(
        mlflow_model,
        loader_module="studentprofile.tracking._flavour",
        data=DATA_DIR,
        python_env="python_env.yaml",
    )
    mlflow_model.add_flavor(
        FLAVOR_NAME,
        studentprofile_version=__version__,
        data=DATA_DIR,
        risk_model=f"{DATA_DIR}/{RISK_DIR}",
        tiers=checked,
        top_reasons=top_reasons,
        model_card=f"{DATA_DIR}/{CARD_FILE}" if model_card is not None else None,
        python_version=sys.version.split()[0],
    )
    # what MLmodel says, then the hash of every file the flavour (and MLflow) reads; MLmodel
    # itself last (MLflow adds run ids and timestamps to it, so its sections are compared)
    atomic_write_text(data / MLMODEL_COPY, _canonical(_mlmodel_sections(mlflow_model.to_dict())))
    atomic_write_text(data / FLAVOUR_MANIFEST, "".join(_manifest_lines(target)))
    mlflow_model.save(str(target / "MLmodel"))
    return target


def log_model(
    model: Any,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    alias: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """Log a RiskModel to the active (or given) MLflow run; optionally register it.

    Parameters
    ----------
    model : RiskModel
        A fitted model.
    name : str, default "model"
        The logged model's name in the run.
    registered_model_name : str, optional
        Register a new version of this model.
    alias : str, optional
        Point this alias at the new version (``models:/name@alias``).
    run_id : str, optional
        The run (default: the active run).
    **kwargs
        Passed to :func:`save_model` (``tiers``, ``model_card``, ``input_example``, ...).

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri`` and, when registered, ``registered_model_version``.
    """
    import_mlflow()
    from mlflow import MlflowClient
    from mlflow.models import Model

    model_id = None
    if run_id is not None:
        # MLflow 3 files a logged model under the *active* experiment unless told otherwise:
        # create it in the run's own experiment
        client = MlflowClient()
        exp_id = client.get_run(run_id).info.experiment_id
        model_id = client.create_logged_model(
            experiment_id=exp_id, name=name, source_run_id=run_id
        ).model_id
    info = Model.log(
        artifact_path=None,
        name=name,
        model_id=model_id,
        flavor=sys.modules[__name__],
        registered_model_name=registered_model_name,
        run_id=run_id,
        model=model,
        **kwargs,
    )
    if alias and registered_model_name:
        MlflowClient().set_registered_model_alias(
            registered_model_name, alias, str(info.registered_model_version)
        )
    return info


def load_model(model_uri: str, dst_path: str | None = None) -> StudentProfileModel:
    """Load a model logged with the studentprofile flavour (any MLflow model URI).

    Parameters
    ----------
    model_uri : str
        ``runs:/<run_id>/model``, ``models:/<name>@<alias>``, ``models:/<model_id>``, or a
        local directory.
    dst_path : str, optional
        Where to download it.

    Returns
    -------
    StudentProfileModel

    Raises
    ------
    ModelIntegrityError
        A file does not match the flavour's SHA-256 manifest (``settings.json``, the model
        card, the model files, ``mlmodel.json``), MLmodel's flavour sections changed, the data
        folder points outside the model folder, a tier is not a probability, or the directory
        is not a studentprofile model.
    """
    import_mlflow()
    from mlflow.models import Model
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri

    if os.path.isdir(model_uri):
        local = Path(model_uri)
    else:
        local = Path(_download_artifact_from_uri(model_uri, output_path=dst_path))
    from mlflow.exceptions import MlflowException

    try:
        conf = Model.load(str(local / "MLmodel")).flavors[FLAVOR_NAME]
    except (OSError, KeyError, MlflowException) as exc:
        raise ModelIntegrityError(
            "this is not a model saved with the studentprofile flavour",
            arrived=f"{model_uri!r}: {type(exc).__name__}: {exc}",
            hint="log models with studentprofile.tracking.log_model",
        ) from exc
    if conf.get("data") != DATA_DIR:
        raise _integrity(local / "MLmodel", f"the flavour's data folder must be {DATA_DIR!r} "
                         "inside the model folder", repr(conf.get("data")))
    return _read_model_dir(local)
