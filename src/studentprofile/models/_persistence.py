"""Model directories: plain files, written atomically, verified by SHA-256 on load. No pickle.

Layout of a saved :class:`~studentprofile.models.RiskModel`::

    model/
      model.txt         LightGBM's own text format (the trees, cut at best_iteration_)
      metadata.json     parameters, classes, feature infos, categories, calibration, reference
                        values, training summary, package versions, data fingerprints
      MANIFEST.json     format name and version; SHA-256 and size of model.txt and metadata.json
      manifest.sha256   ``sha256sum -c`` lines for all three files above

An auditor can read every file and check the hashes with ``sha256sum -c manifest.sha256``.
The hashes prove integrity (nothing changed since saving), not authorship: anyone who can edit
the files can also rewrite the hashes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from studentprofile._environment import package_versions
from studentprofile._files import atomic_write_bytes, fsync_dir
from studentprofile.errors import ConfigError, ModelIntegrityError, OutputError
from studentprofile.models._frame import lgb_feature_names
from studentprofile.models._lgb_text import parse_model_text

if TYPE_CHECKING:
    from studentprofile.models._risk_model import RiskModel

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT_NAME = "studentprofile.risk-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "MANIFEST.json"
CHECKSUM_FILE = "manifest.sha256"
_PAYLOAD = (MODEL_FILE, METADATA_FILE)
_CHECK_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([A-Za-z0-9_.\-]+)$")


# ---------------------------------------------------------------------------------- encoding
def _encode(value: Any) -> Any:
    """JSON-ready form of a parameter value; dicts with non-text keys keep their key types."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"__pairs__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ConfigError(
        "model parameters must be plain values (numbers, text, lists, dicts) to be saved",
        key="params",
        arrived=f"{type(value).__name__} value {value!r}",
    )


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__pairs__"}:
            return {_decode(k): _decode(v) for k, v in value["__pairs__"]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata(model: RiskModel, fingerprints: Mapping[str, str] | None) -> dict[str, Any]:
    fp = {} if fingerprints is None else dict(fingerprints)
    bad = {k: v for k, v in fp.items() if not (isinstance(k, str) and isinstance(v, str))}
    if bad:
        raise ConfigError(
            "fingerprints must map names to text (e.g. SHA-256 hex digests)",
            key="fingerprints",
            arrived=repr(bad)[:200],
        )
    classes = model.classes_
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "estimator": type(model).__name__,
        "params": _encode(model.get_params(deep=False)),
        "classes": _encode(classes.tolist()),
        "classes_dtype": str(classes.dtype),
        "feature_names": list(model._feature_names),
        "named_features": bool(model._named),
        "feature_info": {k: v.to_dict() for k, v in model.feature_info_.items()},
        "categories": _encode(model.categories_),
        "reference_values": _encode(model.reference_values_),
        "calibration": model.calibrator_.to_dict(),
        "best_iteration": int(model.best_iteration_),
        "holdout": _encode(model.holdout_),
        "training": _encode(model.training_info_),
        "versions": package_versions(),
        "fingerprints": fp,
    }


# ---------------------------------------------------------------------------------- saving
def save_model(
    model: RiskModel,
    path: Any,
    *,
    fingerprints: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` to the directory ``path`` (see the module docstring for the layout)."""
    target = Path(path)
    if target.exists():
        if not overwrite:
            raise ConfigError(
                "the model directory already exists",
                key="path",
                arrived=repr(str(target)),
                hint="pass overwrite=True to replace it, or choose a new path",
            )
        if not (target.is_dir() and (target / MANIFEST_FILE).is_file()):
            raise ConfigError(
                "refusing to overwrite something that is not a saved model",
                key="path",
                arrived=repr(str(target)),
                hint="choose a new path; overwrite=True only replaces a model directory",
            )
    payload = {
        MODEL_FILE: model.booster_.model_to_string().encode("utf-8"),
        METADATA_FILE: json.dumps(
            _metadata(model, fingerprints), indent=2, sort_keys=True, allow_nan=False
        ).encode("utf-8"),
    }
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "files": {
            name: {"sha256": _sha256(data), "bytes": len(data)} for name, data in payload.items()
        },
    }
    payload[MANIFEST_FILE] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    payload[CHECKSUM_FILE] = "".join(
        f"{_sha256(payload[name])}  {name}\n" for name in (*_PAYLOAD, MANIFEST_FILE)
    ).encode("ascii")

    parent = target.parent if str(target.parent) else Path(".")
    tag = f"{os.getpid()}-{uuid.uuid4().hex}"
    tmp = parent / f".{target.name}.tmp-{tag}"
    old = parent / f".{target.name}.old-{tag}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # a new, private directory with a unique name: mkdir fails rather than follow anything
        # planted at that name, and every file inside is created by the package's one atomic
        # writer (O_EXCL temp file, fsync, rename)
        tmp.mkdir(mode=0o777)
    except OSError as exc:
        raise OutputError(
            f"{target}: the model directory could not be created",
            arrived=f"{type(exc).__name__}: {exc}",
            hint="save the model to a folder you can write to, on a disk with space",
        ) from exc
    try:
        for name, data in payload.items():
            atomic_write_bytes(tmp / name, data)
        fsync_dir(tmp)
        try:
            if target.exists():
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except OSError as exc:
            if old.exists() and not target.exists():
                os.replace(old, target)  # put the previous model back
            raise OutputError(
                f"{target}: the model directory could not be put in place",
                arrived=f"{type(exc).__name__}: {exc}",
                hint="save the model to a folder you can write to",
            ) from exc
        fsync_dir(parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------------- loading
def _fail(
    path: Path, reason: str, *, arrived: str | None = None, hint: str | None = None
) -> NoReturn:
    raise ModelIntegrityError(
        f"{path}: {reason}",
        arrived=arrived,
        hint=hint
        or "the artefact was changed, truncated or damaged after it was saved; restore it from "
        "its source or retrain",
    )


def _read_checksums(root: Path) -> dict[str, str]:
    path = root / CHECKSUM_FILE
    if not path.is_file():
        _fail(path, "the checksum file is missing")
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, f"the checksum file cannot be read ({exc})")
    sums: dict[str, str] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        m = _CHECK_LINE.match(line)
        if not m:
            _fail(path, f"line {i} is not '<sha256>  <file name>'", arrived=repr(line[:120]))
        else:
            sums[m.group(2)] = m.group(1)
    missing = [n for n in (*_PAYLOAD, MANIFEST_FILE) if n not in sums]
    if missing:
        _fail(path, f"the checksum file does not list {missing!r}")
    return sums


def _read_verified(root: Path, name: str, sha: str, size: int | None) -> bytes:
    path = root / name
    if not path.is_file():
        _fail(path, "the file is missing")
    data = path.read_bytes()
    if size is not None and len(data) != size:
        _fail(
            path,
            "the file is truncated or changed in size"
            if len(data) < size
            else "the file has grown since it was saved",
            arrived=f"{len(data):,} bytes, manifest says {size:,}",
        )
    digest = _sha256(data)
    if digest != sha:
        _fail(
            path,
            "the file's SHA-256 does not match the manifest (tampered or damaged)",
            arrived=f"sha256 {digest}, manifest says {sha}",
        )
    return data


def _json(path: Path, data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(path, f"not valid JSON ({exc})")
    if not isinstance(obj, dict):
        _fail(path, "the JSON document must be an object", arrived=type(obj).__name__)
    return obj


def _check_format(path: Path, doc: Mapping[str, Any]) -> None:
    if doc.get("format") != FORMAT_NAME:
        _fail(
            path,
            f"not a studentprofile risk model (format {doc.get('format')!r}, expected "
            f"{FORMAT_NAME!r})",
            hint="load it with the tool that wrote it",
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        _fail(path, "format_version is missing or not an integer", arrived=repr(version))
    elif version > FORMAT_VERSION:
        _fail(
            path,
            f"written in format version {version}; this studentprofile reads versions up to "
            f"{FORMAT_VERSION}",
            hint="upgrade studentprofile to load this model",
        )
    elif version < 1:
        _fail(path, "format_version must be at least 1", arrived=repr(version))


def _check_model_text(
    path: Path, data: bytes, names: list[str], named: bool, n_classes: int, best: int
) -> str:
    """Check model.txt with the package's own reader before LightGBM sees it.

    LightGBM trusts its text: a re-hashed file with a wrong array length, child index or
    ``num_class`` aborts the interpreter inside LightGBM instead of raising. Every structural
    rule of :func:`~studentprofile.models._lgb_text.parse_model_text` is checked first, then the
    text is held against metadata.json: features, classes and iterations.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(path, f"the model text is not UTF-8 ({exc})")
    try:
        parsed = parse_model_text(text)
    except ModelIntegrityError as exc:
        _fail(path, f"not a well-formed LightGBM model: {exc.message}", arrived=exc.arrived)
    if parsed.num_features != len(names):
        _fail(
            path,
            "the model's feature count differs from metadata.json",
            arrived=f"{parsed.num_features} features, metadata.json lists {len(names)}",
        )
    # LightGBM holds the escaped, safe names (models._frame.lgb_feature_names); metadata the
    # readable ones
    if named and parsed.feature_names != lgb_feature_names(names):
        _fail(path, "the model's feature names differ from metadata.json")
    per_round = 1 if n_classes == 2 else n_classes
    if parsed.num_class != per_round:
        _fail(
            path,
            "the model's num_class does not fit the classes in metadata.json",
            arrived=f"num_class={parsed.num_class} for {n_classes} classes",
        )
    if best < 1 or len(parsed.trees) != best * per_round:
        _fail(
            path,
            "the model's tree count differs from metadata.json",
            arrived=f"{len(parsed.trees)} trees, expected {best} iterations x {per_round}",
        )
    return text


def load_model(path: Any, cls: type[RiskModel]) -> RiskModel:
    """Load and verify a model directory written by :func:`save_model`.

    ``cls`` is the estimator class to rebuild (``RiskModel``): passed in, so that this module
    never imports the estimator's and the two cannot form an import cycle.
    """
    import lightgbm as lgb

    from studentprofile.features._info import FeatureInfo
    from studentprofile.models._calibration import Calibrator

    root = Path(path)
    if not root.is_dir():
        _fail(root, "no model directory here", hint="pass the directory RiskModel.save wrote")
    sums = _read_checksums(root)
    manifest_bytes = _read_verified(root, MANIFEST_FILE, sums[MANIFEST_FILE], None)
    manifest = _json(root / MANIFEST_FILE, manifest_bytes)
    _check_format(root / MANIFEST_FILE, manifest)
    files = manifest.get("files")
    if not isinstance(files, dict) or any(n not in files for n in _PAYLOAD):
        _fail(root / MANIFEST_FILE, f"the manifest must list {list(_PAYLOAD)!r}")
    data: dict[str, bytes] = {}
    for name in _PAYLOAD:
        entry = files[name]
        if not isinstance(entry, dict) or entry.get("sha256") != sums[name]:
            _fail(
                root / MANIFEST_FILE,
                f"the manifest and {CHECKSUM_FILE} disagree about {name}",
                arrived=f"{entry!r} vs {sums[name]}",
            )
        size = entry.get("bytes")
        data[name] = _read_verified(
            root, name, sums[name], size if isinstance(size, int) else None
        )

    meta_path = root / METADATA_FILE
    meta = _json(meta_path, data[METADATA_FILE])
    _check_format(meta_path, meta)
    try:
        params = _decode(meta["params"])
        classes = np.asarray(_decode(meta["classes"]), dtype=np.dtype(meta["classes_dtype"]))
        names = [str(n) for n in meta["feature_names"]]
        infos = {k: FeatureInfo.from_dict(v) for k, v in meta["feature_info"].items()}
        categories = _decode(meta["categories"])
        reference = _decode(meta["reference_values"])
        calibrator = Calibrator.from_dict(meta["calibration"])
        best = int(meta["best_iteration"])
        named = bool(meta["named_features"])
        holdout = _decode(meta["holdout"])
        training = _decode(meta["training"])
        model = cls(**params)
    except ModelIntegrityError:
        raise
    except Exception as exc:  # any malformed field: report it as what it is
        _fail(meta_path, f"malformed metadata ({type(exc).__name__}: {exc})")
    if set(infos) != set(names) or set(categories) - set(names) or set(reference) != set(names):
        _fail(meta_path, "feature names, feature infos, categories and reference values disagree")
    # JSON objects are written with sorted keys: restore the column order
    infos = {name: infos[name] for name in names}
    reference = {name: reference[name] for name in names}
    categories = {name: categories[name] for name in names if name in categories}
    if calibrator.n_classes != len(classes):
        _fail(meta_path, "the calibration does not match the number of classes")

    model_path = root / MODEL_FILE
    text = _check_model_text(model_path, data[MODEL_FILE], names, named, len(classes), best)
    try:
        booster = lgb.Booster(model_str=text)
    except Exception as exc:  # LightGBM raises its own error type for a bad model text
        _fail(model_path, f"LightGBM cannot read the model ({exc})")

    model.booster_ = booster
    model.calibrator_ = calibrator
    model.classes_ = classes
    model.n_features_in_ = len(names)
    if named:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    model._feature_names = names
    model._named = named
    model.feature_info_ = infos
    model.categories_ = categories
    model.reference_values_ = reference
    model.best_iteration_ = best
    model.holdout_ = holdout
    model.training_info_ = training
    model.metadata_ = {
        k: meta.get(k) for k in ("created_utc", "versions", "fingerprints", "format_version")
    }
    return model
