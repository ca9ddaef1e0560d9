"""The experiment configuration: a typed, validated object read from TOML (or a dictionary).

Every section is a frozen dataclass; :func:`load_config` reads a file, refuses unknown keys and
bad values with a :class:`~studentprofile.errors.ConfigError` that names the dotted key and the
``file:line`` it was written on, and resolves data paths relative to the file.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studentprofile.errors import ConfigError
from studentprofile.pipeline._presets import build_spec
from studentprofile.pipeline._sections import (
    ABLATIONS,
    CANONICAL_COLUMNS,
    DATASETS,
    GRID_BASELINES,
    NAME_MAX_LENGTH,
    NAME_RULE,
    PRESETS,
    DataConfig,
    EvaluationConfig,
    FairnessConfig,
    FeaturesConfig,
    GridCandidate,
    GridConfig,
    LabelConfig,
    ModelConfig,
    SnapshotSource,
    SplitsConfig,
    TableSource,
    TrackingConfig,
)
from studentprofile.pipeline._toml import Source, check_depth, read_toml
from studentprofile.tables import FAMILIES
from studentprofile.tables._time import as_days, as_moment

__all__ = [
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "FairnessConfig",
    "FeaturesConfig",
    "GridConfig",
    "LabelConfig",
    "ModelConfig",
    "SplitsConfig",
    "TableSource",
    "TrackingConfig",
    "load_config",
]

# ---------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: data, grid, features, label, model, splits, evaluation, tracking.

    Build one with :func:`load_config` (a TOML file) or :meth:`from_dict`.

    Attributes
    ----------
    name : str
        Run name (also the folder under ``tracking.output_dir``).
    description : str
        Free text, logged with the run.
    seed : int
        Seed for sampling, the model and the bootstrap.
    model : ModelConfig
        :class:`~studentprofile.models.RiskModel` parameters (reads as a dict of them), and
        optionally a model grid with baselines and ablation (``[model] grid = [...]``).
    fairness : FairnessConfig
        Opt-in fairness mitigation (``[fairness] mitigate = "equal_tpr"``).
    source : str
        Where the config came from (file name or ``"<dict>"``).

    Examples
    --------
    >>> cfg = ExperimentConfig.from_dict({"name": "quick", "data": {"sample_students": 0.05},
    ...                                   "model": {"learning_rate": 0.1}})
    >>> cfg.data.dataset, cfg.label.horizon, cfg.model["learning_rate"]
    ('oulad', 60.0, 0.1)
    >>> ExperimentConfig.from_dict({"modle": {}})
    Traceback (most recent call last):
    ...
    studentprofile.errors.ConfigError: <dict> modle: unknown key
      arrived: 'modle'
      what to do: did you mean 'model'? Known keys here: name, description, seed, data, grid, \
features, label, model, splits, evaluation, fairness, tracking
    """

    name: str = "experiment"
    description: str = ""
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    source: str = "<dict>"

    def __post_init__(self) -> None:
        # ExperimentConfig(model={...}) (a plain dict of RiskModel parameters) still works
        if not isinstance(self.model, ModelConfig):
            object.__setattr__(self, "model", ModelConfig(params=dict(self.model or {})))

    # -------------------------------------------------------------------------- building
    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: Source | None = None,
        base_dir: str | Path | None = None,
    ) -> ExperimentConfig:
        """Validate a nested dictionary (as TOML would give) into a config.

        Parameters
        ----------
        data : mapping
            Sections as nested dictionaries; anything left out keeps its default.
        source : Source, optional
            For errors with ``file:line`` (set by :func:`load_config`).
        base_dir : str or Path, optional
            Relative data paths are resolved against it (default: the working directory).

        Returns
        -------
        ExperimentConfig
        """
        source = source or Source("<dict>")
        check_depth(data, source.name)
        return _Reader(source, Path(base_dir or ".")).experiment(data)

    def with_overrides(self, **changes: Any) -> ExperimentConfig:
        """Return a copy with some sections or fields replaced (``tracking=...``).

        Returns
        -------
        ExperimentConfig
        """
        return dataclasses.replace(self, **changes)

    # -------------------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON/TOML-ready nested dictionary (paths as strings).

        Returns
        -------
        dict
        """
        out = _plain(dataclasses.asdict(self))
        out["model"] = _plain(self.model.to_dict())  # the [model] table as it is written
        return dict(out)

    def flatten(self) -> dict[str, str]:
        """Flatten to dotted keys with string values (MLflow parameters).

        Returns
        -------
        dict of str -> str

        Examples
        --------
        >>> flat = ExperimentConfig().flatten()
        >>> flat["label.horizon"], flat["features.presets"]
        ('60.0', '["oulad"]')
        """
        import json

        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, Mapping) and value and prefix not in _LEAF_MAPPINGS:
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            elif isinstance(value, list | tuple | Mapping):
                out[prefix] = json.dumps(value, sort_keys=True, default=str)
            else:
                out[prefix] = "" if value is None else str(value)

        d = self.to_dict()
        d.pop("source", None)
        walk("", d)
        return out


_LEAF_MAPPINGS = {"features.add", "model.abc"}
_CANDIDATE = re.compile(r"[^\W_][\w.-]{0,59}")
# letters of any script, digits and '_' (\w), then also '-', '.' and spaces; no trailing ' ' / '.'
_NAME = re.compile(rf"\w(?:[\w .-]{{0,{NAME_MAX_LENGTH - 2}}}[\w-])?")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    return value


def load_config(path: str | Path, **overrides: Any) -> ExperimentConfig:
    r"""Read and validate an experiment config file (TOML).

    Parameters
    ----------
    path : str or Path
        The TOML file; data paths in it are relative to its folder.
    **overrides
        Sections to replace after reading (e.g. ``tracking=TrackingConfig(enabled=False)``).

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        Not TOML, an unknown key or a bad value; the message names the dotted key and the
        ``file:line``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "x.toml").write_text('name = "x"\n[label]\nhorizon = -3\n')
    >>> load_config(d / "x.toml")
    Traceback (most recent call last):
    ...
    studentprofile.errors.ConfigError: x.toml:3 label.horizon: must be a positive number of days ...
      arrived: -3
      what to do: write it in days, e.g. horizon = 28
    """
    data, source = read_toml(path)
    cfg = ExperimentConfig.from_dict(data, source=source, base_dir=Path(path).resolve().parent)
    return cfg.with_overrides(**overrides) if overrides else cfg


# ---------------------------------------------------------------------------------- reader
class _Reader:
    """Turns nested dictionaries into the dataclasses, checking every key and value."""

    def __init__(self, source: Source, base: Path) -> None:
        self.src = source
        self.base = base

    # ---- primitives
    def section(self, data: Any, key: str, allowed: Sequence[str]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise self.src.error("must be a table of settings", key, arrived=repr(data),
                                 hint=f"write it as [{key}] with key = value lines")
        for k in data:
            if k not in allowed:
                import difflib

                close = difflib.get_close_matches(str(k), list(allowed), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.src.error(
                    "unknown key", f"{key}.{k}" if key else str(k), arrived=repr(k),
                    hint=f"{hint}Known keys here: {', '.join(allowed)}",
                )
        # None (JSON null, from to_dict) means "not set": the default (TOML has no null)
        return {k: v for k, v in data.items() if v is not None}

    def days(self, value: Any, key: str, *, positive: bool = True) -> float:
        """Check a number of days with the tables' one rule (bounded: nothing overflows)."""
        try:
            days: float = as_days(value, key=key, positive=positive)
        except ConfigError as exc:
            message = exc.message.removeprefix(f"{key} ")
            name = key.rpartition(".")[2]
            raise self.src.error(message, key, arrived=exc.arrived,
                                 hint=f"write it in days, e.g. {name} = 28") from exc
        return days

    def number(self, value: Any, key: str, *, lo: float | None = None, lo_open: bool = False,
               hi: float | None = None, integer: bool = False) -> Any:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integer and not isinstance(value, int):
            ok = False
        if ok and not math.isfinite(float(value)):
            ok = False
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value <= hi
        if not ok:
            what = "an integer" if integer else "a number"
            rule = ""
            if lo is not None:
                rule = f" {'>' if lo_open else '>='} {lo:g}"
            if hi is not None:
                rule += f"{' and' if rule else ''} <= {hi:g}"
            raise self.src.error(f"must be {what}{rule}", key, arrived=repr(value))
        return value

    def text(self, value: Any, key: str, *, choices: Sequence[str] | None = None,
             allow_none: bool = False) -> Any:
        if value is None and allow_none:
            return None
        if not isinstance(value, str) or not value:
            raise self.src.error("must be a non-empty string", key, arrived=repr(value))
        if choices is not None and value not in choices:
            raise self.src.error(f"must be one of {list(choices)!r}", key, arrived=repr(value))
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.src.error("must be true or false", key, arrived=repr(value))
        return value

    def strings(self, value: Any, key: str, *, choices: Sequence[str] | None = None
                ) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise self.src.error("must be a list of strings", key, arrived=repr(value))
        for i, v in enumerate(value):
            self.text(v, f"{key}[{i}]" if self.src.text is None else key, choices=choices)
        return tuple(value)

    def moment(self, value: Any, key: str) -> Any:
        """Check a date (TOML date, ISO string) or a number of days; None stays None.

        The value is kept as written (a date as ISO text) so the config reads back the same;
        it becomes the tables' time type where it is used (``tables._time.as_moment``).
        """
        if value is None:
            return None
        if isinstance(value, _dt.datetime | _dt.date):
            value = value.isoformat()
        try:
            as_moment(value, key=key)
        except ConfigError as exc:
            message = exc.message.removeprefix(f"{key} ")
            raise self.src.error(message, key, arrived=exc.arrived, hint=exc.hint) from exc
        return value

    def name(self, value: Any) -> str:
        """Check the experiment's name: it becomes folder and MLflow run names."""
        text = self.text(value, "name")
        if not _NAME.fullmatch(text):
            shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
            raise self.src.error(f"must be {NAME_RULE}", "name", arrived=repr(shown),
                                 hint="it names a folder under tracking.output_dir and the "
                                 "MLflow run")
        return str(text)

    # ---- sections
    def experiment(self, d: Mapping[str, Any]) -> ExperimentConfig:
        names = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source"]
        if isinstance(d, Mapping) and "source" in d:
            # ``source`` in to_dict's output says where a config came from; reading sets its own
            d = {k: v for k, v in d.items() if k != "source"}
        d = self.section(d, "", names)
        kw: dict[str, Any] = {"source": self.src.name}
        if "name" in d:
            kw["name"] = self.name(d["name"])
        if "description" in d:
            if not isinstance(d["description"], str):
                raise self.src.error("must be a string", "description",
                                     arrived=repr(d["description"]))
            kw["description"] = d["description"]
        if "seed" in d:
            kw["seed"] = self.number(d["seed"], "seed", lo=0, integer=True)
        kw["data"] = self.data(d.get("data"))
        kw["grid"] = self.grid(d.get("grid"))
        kw["features"] = self.features(d.get("features"))
        kw["label"] = self.label(d.get("label"))
        kw["model"] = self.model(d.get("model"))
        kw["splits"] = self.splits(d.get("splits"))
        kw["evaluation"] = self.evaluation(d.get("evaluation"))
        kw["fairness"] = self.fairness(d.get("fairness"))
        kw["tracking"] = self.tracking(d.get("tracking"))
        if kw["data"].snapshot is not None:
            # a snapshot's outcomes table holds its positive students under one name
            kw["label"] = dataclasses.replace(kw["label"], outcome=("positive",))
        if kw["model"].is_grid and kw["splits"].kind != "temporal":
            raise self.src.error(
                "a model grid is compared on temporal splits (selection over time needs them)",
                "model.grid" if kw["model"].grid else "model.ablation",
                arrived=f"splits.kind = {kw['splits'].kind!r}",
                hint='use [splits] kind = "temporal", or leave out the grid for k-fold runs')
        if kw["data"].snapshot is not None and kw["splits"].kind != "kfold":
            raise self.src.error(
                "a snapshot has no time axis to split on: it needs k-fold cross-validation",
                "splits.kind", arrived=repr(kw["splits"].kind),
                hint='add [splits] kind = "kfold" (folds = 5 by default)',
            )
        return ExperimentConfig(**kw)

    def table(self, d: Any, key: str) -> TableSource:
        if isinstance(d, str):
            d = {"path": d}
        if isinstance(d, Mapping):  # to_dict writes every field; null means "not set"
            d = {k: v for k, v in d.items() if v is not None}
        table = key.split(".")[1] if key.count(".") >= 1 else key
        if table == "snapshot":
            table = "students"  # a snapshot's columns are the students table's
        is_events = table == "events"
        allowed = ["path", "columns", "parse_dates", "sep", "encoding", "decimal", "dtype",
                   "sheet", "sql", "url"]
        if is_events:
            allowed += ["name", "family", "kind", "value", "known_at_delay", "format",
                        "hash_key_env"]
        d = self.section(d, key, allowed)
        if ("path" in d) == ("sql" in d):
            raise self.src.error("a table needs a path or a sql query (one of them)",
                                 f"{key}.path", hint='e.g. path = "students.csv", or sql = '
                                 '"select ..." with url = "${CAMPUS_DB_URL}"')
        kw: dict[str, Any] = {}
        if "path" in d:
            raw = self.text(d["path"], f"{key}.path")
            path = Path(os.path.expanduser(raw))
            if not path.is_absolute():
                path = self.base / path
            kw["path"] = path
            for opt in ("sep", "encoding", "decimal"):
                if opt in d:
                    kw[opt] = self.text(d[opt], f"{key}.{opt}")
            if "sheet" in d:
                sheet = d["sheet"]
                if not isinstance(sheet, str | int) or isinstance(sheet, bool):
                    raise self.src.error("must be a sheet name or position", f"{key}.sheet",
                                         arrived=repr(sheet))
                kw["sheet"] = sheet
            if "url" in d:
                raise self.src.error("url belongs to a sql source", f"{key}.url")
        else:
            kw["sql"] = self.text(d["sql"], f"{key}.sql")
            if "url" not in d:
                raise self.src.error("a sql source needs a url", f"{key}.url",
                                     hint='url = "${CAMPUS_DB_URL}" (the URL in that '
                                          "environment variable)")
            url = self.text(d["url"], f"{key}.url")
            if "${" not in url:
                from studentprofile.io import safe_url

                if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
                    raise self.src.error(
                        "a database password must not be written in the config",
                        f"{key}.url", arrived=repr(safe_url(url)),
                        hint='put the URL in an environment variable: url = "${CAMPUS_DB_URL}"',
                    )
            kw["url"] = url
        cols = d.get("columns", {})
        if not isinstance(cols, Mapping):
            raise self.src.error("must be a table: canonical name = source column",
                                 f"{key}.columns", arrived=repr(cols))
        for canon, src_col in cols.items():
            if table != "students" and canon not in CANONICAL_COLUMNS[table]:
                raise self.src.error(
                    f"unknown canonical column of the {table} table", f"{key}.columns.{canon}",
                    arrived=repr(canon),
                    hint=f"map onto {', '.join(CANONICAL_COLUMNS[table])}",
                )
            self.text(src_col, f"{key}.columns.{canon}")
        kw["columns"] = dict(cols)
        kw["parse_dates"] = self.strings(d.get("parse_dates", []), f"{key}.parse_dates")
        dtype = d.get("dtype", {})
        if not isinstance(dtype, Mapping):
            raise self.src.error("must be a table: column = type", f"{key}.dtype",
                                 arrived=repr(dtype))
        kw["dtype"] = {str(c): self.text(t, f"{key}.dtype.{c}",
                                         choices=["str", "text", "string", "float", "int",
                                                  "bool", "category"])
                       for c, t in dtype.items()}
        if is_events:
            if "name" in d:
                kw["name"] = self.text(d["name"], f"{key}.name")
            for rule in ("family", "kind"):
                if rule in d:
                    kw[rule] = self.event_rule(d[rule], f"{key}.{rule}", cols)
            if "value" in d:
                if "value" in cols:
                    raise self.src.error("value is a constant or a mapped column, not both",
                                         f"{key}.value")
                kw["value"] = self.number(d["value"], f"{key}.value")
            if "format" in d:
                kw["format"] = self.text(d["format"], f"{key}.format",
                                         choices=["xapi", "caliper", "moodle_log"])
                if "path" not in d:
                    raise self.src.error("a learning-record source reads a file (path)",
                                         f"{key}.path")
            if "hash_key_env" in d:
                kw["hash_key_env"] = self.text(d["hash_key_env"], f"{key}.hash_key_env")
            if "known_at_delay" in d:
                if "known_at" in cols:
                    raise self.src.error("known_at is a column or a delay, not both",
                                         f"{key}.known_at_delay")
                kw["known_at_delay"] = self.number(d["known_at_delay"], f"{key}.known_at_delay",
                                                   lo=0, hi=36500)
        return TableSource(**kw)

    def snapshot_data(self, d: Mapping[str, Any]) -> DataConfig:
        others = [k for k in ("dataset", "students", "events", "outcomes", "audit_attributes",
                              "time_origin", "simulate") if d.get(k) not in (None, [], {}, ())]
        if others:
            raise self.src.error("a snapshot is the whole data: no other tables or dataset",
                                 "data.snapshot", arrived=repr(others))
        snap = d["snapshot"]
        if isinstance(snap, str):
            snap = {"path": snap}
        if isinstance(snap, Mapping):
            snap = {k: v for k, v in snap.items() if v is not None}
            if isinstance(snap.get("table"), Mapping):  # to_dict's nested form
                snap = {**{k: v for k, v in snap["table"].items() if v is not None},
                        **{k: v for k, v in snap.items() if k != "table"}}
        own = ["student_id", "outcome", "positive", "audit_attributes", "allow_audit", "drop"]
        snap = self.section(snap, "data.snapshot",
                            own + ["path", "columns", "parse_dates", "sep", "encoding",
                                   "decimal", "dtype", "sheet", "sql", "url"])
        table = self.table({k: v for k, v in snap.items() if k not in own}, "data.snapshot")
        kw: dict[str, Any] = {"table": table}
        if "student_id" in snap:
            kw["student_id"] = self.text(snap["student_id"], "data.snapshot.student_id")
        outcome = snap.get("outcome")
        if isinstance(outcome, Mapping):  # outcome = { column = "G3", positive = "G3 < 10" }
            o = self.section(outcome, "data.snapshot.outcome", ["column", "positive"])
            if "column" not in o:
                raise self.src.error("the outcome needs its column",
                                     "data.snapshot.outcome.column")
            kw["outcome"] = self.text(o["column"], "data.snapshot.outcome.column")
            if "positive" in o:
                kw["positive"] = o["positive"]
        elif outcome is not None:
            kw["outcome"] = self.text(outcome, "data.snapshot.outcome")
        if "positive" in snap:
            kw["positive"] = snap["positive"]
        if "positive" in kw:
            pos = kw["positive"]
            ok = isinstance(pos, str | int | float | bool) or (
                isinstance(pos, list) and all(isinstance(v, str | int | float) for v in pos))
            if not ok:
                raise self.src.error("positive is a value, a list of values or a rule",
                                     "data.snapshot.positive", arrived=repr(pos))
            if isinstance(pos, str) and any(op in pos for op in "<>=!"):
                from studentprofile.io import outcome_rule

                try:
                    outcome_rule(pos)
                except ConfigError as exc:
                    raise self.src.error(exc.message, "data.snapshot.positive",
                                         arrived=exc.arrived, hint=exc.hint) from exc
            kw["positive"] = tuple(pos) if isinstance(pos, list) else pos
        for k in ("audit_attributes", "allow_audit", "drop"):
            if k in snap:
                kw[k] = self.strings(snap[k], f"data.snapshot.{k}")
        out: dict[str, Any] = {"dataset": None, "snapshot": SnapshotSource(**kw)}
        if "sample_students" in d:
            out["sample_students"] = self.number(d["sample_students"], "data.sample_students",
                                                 lo=0, lo_open=True)
        if "ids_as_text" in d:
            out["ids_as_text"] = self.boolean(d["ids_as_text"], "data.ids_as_text")
        return DataConfig(**out)

    def event_rule(self, rule: Any, key: str, cols: Mapping[str, Any]) -> Any:
        """Read a family/kind rule: a constant, or {column = ..., map = {...}}."""
        name = key.rsplit(".", 1)[1]
        if isinstance(rule, str):
            if name == "family":
                self.text(rule, key, choices=list(FAMILIES))
            elif not rule.strip():
                raise self.src.error("must not be empty", key)
            if name in cols:
                raise self.src.error(f"{name} is a constant or a mapped column, not both", key)
            return rule
        rule = self.section(rule, key, ["column", "map"])
        if "column" not in rule:
            raise self.src.error("a column rule needs column = ...", f"{key}.column",
                                 hint=f'{name} = {{ column = "type", map = {{ A = "..." }} }}')
        out: dict[str, Any] = {"column": self.text(rule["column"], f"{key}.column")}
        if "map" in rule:
            mapping = rule["map"]
            if not isinstance(mapping, Mapping) or not mapping:
                raise self.src.error("must be a table: source value = " + name, f"{key}.map",
                                     arrived=repr(mapping))
            for k, v in mapping.items():
                self.text(v, f"{key}.map.{k}",
                          choices=list(FAMILIES) if name == "family" else None)
            out["map"] = {str(k): str(v) for k, v in mapping.items()}
        return out

    def data(self, d: Any) -> DataConfig:
        d = self.section(d, "data", ["dataset", "students", "events", "outcomes",
                                     "audit_attributes", "time_origin", "sample_students",
                                     "simulate", "ids_as_text", "snapshot"])
        if d.get("snapshot") is not None:
            return self.snapshot_data(d)
        files = [t for t in ("students", "events", "outcomes")
                 if d.get(t) is not None and d.get(t) != []]
        dataset = d.get("dataset", None if files else "oulad")
        if dataset is not None:
            self.text(dataset, "data.dataset", choices=DATASETS)
            if files:
                raise self.src.error(
                    "give either a bundled dataset or table files, not both", "data.dataset",
                    arrived=f"dataset={dataset!r} and {', '.join(files)}",
                    hint="remove data.dataset to read your own files",
                )
        else:
            for t in ("students", "outcomes"):
                if t not in d:
                    raise self.src.error(f"reading files needs a {t} table", f"data.{t}",
                                         hint=f'add [data.{t}] with path = "{t}.csv"')
        kw: dict[str, Any] = {"dataset": dataset}
        for t in files:
            if t == "events":
                entries = d[t] if isinstance(d[t], list) else [d[t]]
                if not entries:
                    continue
                sources = tuple(self.table(e, f"data.events.{i}" if len(entries) > 1
                                           else "data.events") for i, e in enumerate(entries))
                names = [s.name or f"events.{i}" for i, s in enumerate(sources)]
                if len(set(names)) != len(names):
                    raise self.src.error("every events source needs its own name",
                                         "data.events", arrived=repr(names))
                kw[t] = sources
            else:
                kw[t] = self.table(d[t], f"data.{t}")
        if d.get("audit_attributes"):
            if dataset is not None:
                raise self.src.error("bundled datasets declare their own audit attributes",
                                     "data.audit_attributes",
                                     hint="choose what to audit with evaluation.audit_attributes")
            kw["audit_attributes"] = self.strings(d["audit_attributes"], "data.audit_attributes")
        if "time_origin" in d:
            kw["time_origin"] = self.moment(d["time_origin"], "data.time_origin")
        if "sample_students" in d:
            v = d["sample_students"]
            if isinstance(v, int) and not isinstance(v, bool):
                kw["sample_students"] = self.number(v, "data.sample_students", lo=1, integer=True)
            else:
                kw["sample_students"] = self.number(v, "data.sample_students", lo=0,
                                                    lo_open=True, hi=1)
        if d.get("simulate"):
            sim = d["simulate"]
            if dataset != "simulated" or not isinstance(sim, Mapping):
                raise self.src.error("simulate settings need dataset = 'simulated' and a table",
                                     "data.simulate", arrived=repr(sim))
            kw["simulate"] = dict(sim)
        if "ids_as_text" in d:
            kw["ids_as_text"] = self.boolean(d["ids_as_text"], "data.ids_as_text")
        return DataConfig(**kw)

    def grid(self, d: Any) -> GridConfig:
        d = self.section(d, "grid", ["every", "per", "start", "end"])
        kw: dict[str, Any] = {}
        if "every" in d:
            kw["every"] = self.days(d["every"], "grid.every")
        if "per" in d:
            kw["per"] = self.text(d["per"], "grid.per", choices=("cohort", "enrolment"))
        for k in ("start", "end"):
            if k in d:
                kw[k] = self.moment(d[k], f"grid.{k}")
        return GridConfig(**kw)

    def features(self, d: Any) -> FeaturesConfig:
        d = self.section(d, "features", ["presets", "drop", "add"])
        kw: dict[str, Any] = {}
        if "presets" in d:
            kw["presets"] = self.strings(d["presets"], "features.presets", choices=PRESETS)
        if "drop" in d:
            kw["drop"] = self.strings(d["drop"], "features.drop")
        if "add" in d:
            add = d["add"]
            if isinstance(add, Mapping):
                add = [add]
            if not isinstance(add, list) or not all(isinstance(a, Mapping) for a in add):
                raise self.src.error("must be a list of entries ([[features.add]] tables)",
                                     "features.add", arrived=repr(add))
            kw["add"] = tuple(dict(a) for a in add)
        cfg = FeaturesConfig(**kw)
        if not cfg.presets and not cfg.add:
            raise self.src.error("the spec is empty", "features.presets",
                                 hint="name a preset or add [[features.add]] entries")
        # build once now, so a bad entry is reported with its line before any data is read
        self.spec(cfg)
        return cfg

    def spec(self, cfg: FeaturesConfig) -> Any:
        try:
            return build_spec(cfg)
        except ConfigError as exc:
            key = exc.key or "features"
            if not key.startswith("features"):
                key = f"features.{key}"
            raise self.src.error(exc.message, key, arrived=exc.arrived, hint=exc.hint) from exc

    def label(self, d: Any) -> LabelConfig:
        d = self.section(d, "label", ["outcome", "horizon", "observed_until"])
        kw: dict[str, Any] = {}
        if "outcome" in d:
            kw["outcome"] = self.strings(d["outcome"], "label.outcome")
        if "horizon" in d:
            kw["horizon"] = self.days(d["horizon"], "label.horizon")
        if "observed_until" in d:
            kw["observed_until"] = self.moment(d["observed_until"], "label.observed_until")
        return LabelConfig(**kw)

    def model(self, d: Any) -> ModelConfig:
        from studentprofile.models import RiskModel

        allowed = list(RiskModel().get_params())
        grid_keys = ["grid", "ablation", "baselines", "select_rule", "select_metric", "abc"]
        d = self.section(d, "model", [*allowed, *grid_keys])
        params = {k: v for k, v in d.items() if k not in grid_keys}
        self.risk_params(params, "model")
        kw: dict[str, Any] = {"params": params}
        if "grid" in d:
            kw["grid"] = self.model_grid(d["grid"], params, allowed)
        if "ablation" in d:
            kw["ablation"] = self.strings(d["ablation"], "model.ablation", choices=ABLATIONS)
            if len(set(kw["ablation"])) != len(kw["ablation"]):
                raise self.src.error("each ablation mode once", "model.ablation",
                                     arrived=repr(list(kw["ablation"])))
        if "baselines" in d:
            b = d["baselines"]
            if b is True:
                b = list(GRID_BASELINES)
            elif b is False:
                b = []
            kw["baselines"] = self.strings(b, "model.baselines", choices=GRID_BASELINES) \
                if b else ()
            if len(set(kw["baselines"])) != len(kw["baselines"]):
                raise self.src.error("each baseline once", "model.baselines",
                                     arrived=repr(list(kw["baselines"])))
        if "select_rule" in d:
            from studentprofile.evaluation import RULES

            kw["select_rule"] = self.text(d["select_rule"], "model.select_rule",
                                          choices=list(RULES))
        if "select_metric" in d:
            kw["select_metric"] = self.text(d["select_metric"], "model.select_metric")
        if "abc" in d:
            kw["abc"] = self.abc(d["abc"])
        return ModelConfig(**kw)

    def risk_params(self, params: Mapping[str, Any], key: str) -> None:
        from studentprofile.models import RiskModel

        try:
            RiskModel(**params)._check_params()
        except ConfigError as exc:
            raise self.src.error(exc.message, f"{key}.{exc.key}", arrived=exc.arrived,
                                 hint=exc.hint) from exc

    def model_grid(self, grid: Any, base: Mapping[str, Any], allowed: Sequence[str]
                   ) -> tuple[GridCandidate, ...]:
        """Read ``[model] grid``: inline tables of RiskModel parameters, each with a name."""
        if isinstance(grid, Mapping):
            grid = [grid]
        if not isinstance(grid, list) or not grid:
            raise self.src.error(
                "must be a non-empty list of candidates", "model.grid", arrived=repr(grid),
                hint='e.g. grid = [{name = "small", num_leaves = 7}, {name = "large"}]')
        out: list[GridCandidate] = []
        for i, entry in enumerate(grid):
            key = f"model.grid[{i}]"
            if not isinstance(entry, Mapping):
                raise self.src.error("must be an inline table {name = ..., <parameter> = ...}",
                                     key, arrived=repr(entry))
            entry = self.section(entry, key, ["name", *allowed])
            if "name" not in entry:
                raise self.src.error("every candidate needs a name", f"{key}.name",
                                     hint=f'e.g. {{name = "lgbm-{i}", num_leaves = 15}}')
            name = self.text(entry["name"], f"{key}.name")
            if not _CANDIDATE.fullmatch(name):
                raise self.src.error(
                    "must be 1 to 60 letters, digits, '_', '-' or '.', starting with a letter "
                    "or digit", f"{key}.name", arrived=repr(name),
                    hint="it names the MLflow child run and the report's columns")
            taken = [c.name for c in out] + list(GRID_BASELINES)
            if name in taken:
                raise self.src.error(
                    "candidate names must be unique (and not a baseline's name)",
                    f"{key}.name", arrived=repr(name),
                    hint=f"names so far: {[c.name for c in out]!r}; baselines: "
                    f"{list(GRID_BASELINES)!r}")
            params = {k: v for k, v in entry.items() if k != "name"}
            self.risk_params({**base, **params}, key)
            out.append(GridCandidate(name=name, params=params))
        return tuple(out)

    def abc(self, d: Any) -> dict[str, Any]:
        allowed = ["attendance", "behaviour", "course", "attendance_below",
                   "incidents_at_least", "course_below", "min_flags"]
        d = self.section(d, "model.abc", allowed)
        for k in ("attendance", "behaviour", "course"):
            if k in d and not (isinstance(d[k], str) and d[k]
                               or isinstance(d[k], Mapping) and d[k]):
                raise self.src.error("must be a column name or a table of FeatureInfo fields",
                                     f"model.abc.{k}", arrived=repr(d[k]),
                                     hint='e.g. course = {family = "academic", aggregate = '
                                     '"mean", window = "30d", unit = "score"}')
        for k in ("attendance_below", "incidents_at_least", "course_below"):
            if k in d:
                self.number(d[k], f"model.abc.{k}")
        if "min_flags" in d:
            self.number(d["min_flags"], "model.abc.min_flags", lo=1, hi=3, integer=True)
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in d.items()}

    def fairness(self, d: Any) -> FairnessConfig:
        d = self.section(d, "fairness", [f.name for f in dataclasses.fields(FairnessConfig)])
        kw: dict[str, Any] = {}
        if "mitigate" in d:
            from studentprofile.evaluation import CONSTRAINTS

            kw["mitigate"] = self.text(d["mitigate"], "fairness.mitigate", choices=CONSTRAINTS)
        if "attribute" in d:
            kw["attribute"] = self.text(d["attribute"], "fairness.attribute")
        if "tolerance" in d:
            kw["tolerance"] = float(self.number(d["tolerance"], "fairness.tolerance", lo=0,
                                                hi=1))
        if "min_group_size" in d:
            kw["min_group_size"] = self.number(d["min_group_size"], "fairness.min_group_size",
                                               lo=1, integer=True)
        if kw.get("mitigate") and not kw.get("attribute"):
            raise self.src.error(
                "mitigation needs the attribute whose groups get their own shares",
                "fairness.attribute",
                hint='name it, e.g. attribute = "age_band" (and read docs/workbench.md on when '
                "using it at decision time is lawful)")
        return FairnessConfig(**kw)

    def splits(self, d: Any) -> SplitsConfig:
        d = self.section(d, "splits", [f.name for f in dataclasses.fields(SplitsConfig)])
        kw: dict[str, Any] = {}
        for k in ("test_start", "test_end", "train_start"):
            if k in d:
                kw[k] = self.moment(d[k], f"splits.{k}")
        for k in ("retrain_every", "max_history"):
            if k in d:
                kw[k] = self.days(d[k], f"splits.{k}")
        if "gap" in d:
            kw["gap"] = self.days(d["gap"], "splits.gap", positive=False)
        for k in ("train_where", "test_where"):
            if k in d:
                kw[k] = self.where(d[k], f"splits.{k}")
        if "truncate" in d:
            kw["truncate"] = self.boolean(d["truncate"], "splits.truncate")
        if "kind" in d:
            kw["kind"] = self.text(d["kind"], "splits.kind", choices=["temporal", "kfold"])
        if "folds" in d:
            kw["folds"] = int(self.number(d["folds"], "splits.folds", lo=2, hi=100,
                                          integer=True))
        if "shuffle" in d:
            kw["shuffle"] = self.boolean(d["shuffle"], "splits.shuffle")
        if "seed" in d:
            kw["seed"] = int(self.number(d["seed"], "splits.seed", lo=0, integer=True))
        if kw.get("kind", "temporal") == "temporal":
            defaults = SplitsConfig()
            for k in ("folds", "shuffle", "seed"):
                if k in kw and kw[k] != getattr(defaults, k):  # to_dict writes the defaults
                    raise self.src.error(f"{k} is a k-fold setting", f"splits.{k}",
                                         hint='add kind = "kfold"')
        if ("test_start" in kw) != ("test_end" in kw):
            missing = "test_end" if "test_start" in kw else "test_start"
            raise self.src.error("test_start and test_end go together", f"splits.{missing}",
                                 hint="give both, or neither for the last third of the dates")
        return SplitsConfig(**kw)

    def where(self, d: Any, key: str) -> dict[str, Any]:
        d = self.section(d, key, ["column", "startswith", "in"])
        if not d:  # {} (what to_dict writes for "no filter"): every row
            return {}
        if "column" not in d or (("startswith" in d) == ("in" in d)):
            raise self.src.error("needs a column and one of startswith / in", key,
                                 arrived=repr(d),
                                 hint='e.g. {column = "code_presentation", startswith = "2013"}')
        self.text(d["column"], f"{key}.column")
        if "startswith" in d:
            self.text(d["startswith"], f"{key}.startswith")
        else:
            if not isinstance(d["in"], list) or not d["in"]:
                raise self.src.error("must be a non-empty list", f"{key}.in", arrived=repr(d["in"]))
        return d

    def evaluation(self, d: Any) -> EvaluationConfig:
        d = self.section(d, "evaluation", [f.name for f in dataclasses.fields(EvaluationConfig)])
        kw: dict[str, Any] = {}
        if "k" in d:
            ks = d["k"] if isinstance(d["k"], list) else [d["k"]]
            if not ks:
                raise self.src.error("must list at least one caseload", "evaluation.k")
            kw["k"] = tuple(self.number(v, "evaluation.k", lo=0, lo_open=True) for v in ks)
        if "audit_attributes" in d:
            kw["audit_attributes"] = self.strings(d["audit_attributes"],
                                                  "evaluation.audit_attributes")
        if "audit_k" in d:
            kw["audit_k"] = float(self.number(d["audit_k"], "evaluation.audit_k", lo=0,
                                              lo_open=True, hi=1))
        if "min_group_size" in d:
            kw["min_group_size"] = self.number(d["min_group_size"], "evaluation.min_group_size",
                                               lo=0, integer=True)
        if "n_boot" in d:
            kw["n_boot"] = self.number(d["n_boot"], "evaluation.n_boot", lo=0, integer=True)
        if "explain_rows" in d:
            kw["explain_rows"] = self.number(d["explain_rows"], "evaluation.explain_rows", lo=1,
                                             integer=True)
        for k in ("enter_after", "exit_after"):
            if k in d:
                kw[k] = self.number(d[k], f"evaluation.{k}", lo=1, integer=True)
        if "cooldown_days" in d:
            kw["cooldown_days"] = self.days(d["cooldown_days"], "evaluation.cooldown_days",
                                            positive=False)
        if "tiers" in d:
            tiers = d["tiers"]
            if not isinstance(tiers, Mapping) or not tiers:
                raise self.src.error("must be a table: tier name = top fraction",
                                     "evaluation.tiers", arrived=repr(tiers),
                                     hint="e.g. tiers = { high = 0.05, medium = 0.15 }")
            for name, v in tiers.items():
                self.number(v, f"evaluation.tiers.{name}", lo=0, lo_open=True, hi=1)
            if len(set(tiers.values())) != len(tiers):
                raise self.src.error("tier fractions must differ", "evaluation.tiers",
                                     arrived=repr(dict(tiers)))
            kw["tiers"] = dict(sorted(tiers.items(), key=lambda kv: kv[1]))
        return EvaluationConfig(**kw)

    def tracking(self, d: Any) -> TrackingConfig:
        d = self.section(d, "tracking", [f.name for f in dataclasses.fields(TrackingConfig)])
        kw: dict[str, Any] = {}
        for k in ("enabled", "per_student"):
            if k in d:
                kw[k] = self.boolean(d[k], f"tracking.{k}")
        for k in ("uri", "registered_model"):
            if k in d:
                kw[k] = self.text(d[k], f"tracking.{k}")
        for k in ("experiment", "alias", "pseudonym_key_env"):
            if k in d:
                kw[k] = self.text(d[k], f"tracking.{k}")
        if "alias" in kw and (not kw["alias"].replace("_", "").replace("-", "").isalnum()
                              or kw["alias"].lower() == "latest"):
            raise self.src.error("an alias is letters, digits, '-' and '_', and not 'latest'",
                                 "tracking.alias", arrived=repr(kw["alias"]))
        if "output_dir" in d:
            kw["output_dir"] = Path(self.text(d["output_dir"], "tracking.output_dir"))
        return TrackingConfig(**kw)
