"""The sections of an experiment config: frozen dataclasses with their defaults.

A leaf module: it imports nothing from the pipeline, so the config reader (``_config``) and the
feature presets (``_presets``) can both import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CANONICAL_COLUMNS",
    "DATASETS",
    "DEFAULT_TRACKING_DIR",
    "ID_COLUMNS",
    "NAME_MAX_LENGTH",
    "NAME_RULE",
    "PRESETS",
    "ABLATIONS",
    "GRID_BASELINES",
    "DataConfig",
    "EvaluationConfig",
    "FairnessConfig",
    "GridCandidate",
    "FeaturesConfig",
    "GridConfig",
    "LabelConfig",
    "ModelConfig",
    "SplitsConfig",
    "TableSource",
    "TrackingConfig",
]

PRESETS = ("oulad", "academic", "behavioral", "participation", "wellbeing")
DATASETS = ("oulad", "uci_dropout", "simulated")
CANONICAL_COLUMNS = {
    "students": ("student_id",),
    "events": ("student_id", "time", "family", "kind", "value", "known_at", "course_id",
               "max_value"),
    "outcomes": ("student_id", "time", "outcome"),
}
#: Id columns (canonical names), read as text from CSV files unless ``data.ids_as_text = false``.
ID_COLUMNS = ("student_id", "course_id")
DEFAULT_TRACKING_DIR = "studentprofile-runs"
#: An experiment's name becomes folder and MLflow run names.
NAME_MAX_LENGTH = 100
#: Feature-group ablation modes of ``[model] ablation`` (a grid dimension over feature families).
ABLATIONS = ("leave_one_out", "only_one")
#: The baselines a model grid compares with by default (``[model] baselines``).
GRID_BASELINES = ("logistic_regression", "abc_rules", "best_one_feature")
NAME_RULE = (f"1 to {NAME_MAX_LENGTH} characters: letters (any script), digits, '_', '-', '.' "
             "and spaces; starting with a letter, digit or '_', not ending with a space or '.'")


# ---------------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class TableSource:
    """One input table: a file (CSV, Parquet, Excel) or a SQL query.

    Attributes
    ----------
    path : Path or None
        The file or Parquet folder, resolved against the config's folder (``.csv``, ``.tsv``,
        ``.txt``, compressed with ``.gz``/``.bz2``/``.zip``/``.xz``/``.zst``; ``.parquet`` or a
        folder of Parquet files; ``.xlsx``/``.xls``). None for a SQL source.
    columns : dict of str -> str
        Canonical column name -> the source's column name (``{"student_id": "StudentNo"}``);
        columns not named here keep their own names.
    parse_dates : tuple of str
        Canonical columns to parse as dates (text columns; typed sources keep their types).
    sep, encoding, decimal : str or None
        CSV reading options (default ``,``, UTF-8, ``.``).
    dtype : dict of str -> str
        Source column -> ``str``/``float``/``int``/``bool``/``category``.
    sheet : str or int or None
        Excel sheet (default the first).
    sql, url : str or None
        A query and the database URL (``"${CAMPUS_DB_URL}"``: an environment variable; a URL
        with a password written in the config is refused) for a SQL source.
    name : str or None
        The source's name (events sources): recorded in the events' ``source`` column.
    family, kind : str or dict or None
        Events sources: a constant (``family = "behavioral"``), or ``{column = "...", map =
        {...}}`` (a column's values, mapped when ``map`` is given; unmapped values are an
        error).
    value : float or None
        Events sources: a constant value for every event (e.g. 1.0 for a swipe).
    known_at_delay : float or None
        Events sources: ``known_at`` = ``time`` plus this many days ("grades are known 7 days
        after the exam"), when the source has no ``known_at`` column.
    format : str or None
        Events sources in a learning-record standard: ``"xapi"`` (statements, JSON or JSON
        Lines, as an LRS exports them), ``"caliper"`` (IMS Caliper 1.2 events or envelopes) or
        ``"moodle_log"`` (an export of Moodle's ``logstore_standard_log``); None for a plain
        events table.
    hash_key_env : str or None
        Learning-record sources: the environment variable holding the key of the actors'
        keyed pseudonyms (HMAC-SHA256); None keeps actor ids as they are.
    """

    path: Path | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    parse_dates: tuple[str, ...] = ()
    sep: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    dtype: Mapping[str, str] = field(default_factory=dict)
    sheet: str | int | None = None
    sql: str | None = None
    url: str | None = None
    name: str | None = None
    family: str | Mapping[str, Any] | None = None
    kind: str | Mapping[str, Any] | None = None
    value: float | None = None
    known_at_delay: float | None = None
    format: str | None = None
    hash_key_env: str | None = None


@dataclass(frozen=True)
class SnapshotSource:
    """A flat table, one row per student (see :func:`studentprofile.io.from_snapshot`).

    Attributes
    ----------
    table : TableSource
        Where the table is (a file with its reading options, or a SQL query).
    student_id : str or None
        The id column; None numbers the rows.
    outcome : str or None
        The outcome column.
    positive : object
        The positive outcome: a value, a list of values, or a rule such as ``"G3 < 10"``.
    audit_attributes, allow_audit, drop : tuple of str
        As in :func:`~studentprofile.io.from_snapshot`.
    """

    table: TableSource
    student_id: str | None = None
    outcome: str | None = None
    positive: Any = None
    audit_attributes: tuple[str, ...] = ()
    allow_audit: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataConfig:
    """Where the tables come from: a bundled dataset or three files.

    Attributes
    ----------
    dataset : str or None
        ``"oulad"``, ``"uci_dropout"`` or ``"simulated"`` (bundled / generated), or None for files.
    students, outcomes : TableSource or None
        The sources when ``dataset`` is None (both required).
    events : tuple of TableSource
        The events sources (``[data.events]`` for one, ``[[data.events]]`` for several, one per
        source system); their events are concatenated, each recording its ``source``.
    audit_attributes : tuple of str
        Columns of the students table kept for fairness audits and never used as features
        (files only; bundled datasets declare their own).
    time_origin : str or None
        Date of day 0 when file times are float days.
    sample_students : float or int or None
        Keep a seeded random share (a float in (0, 1]) or number (an int) of students: quick
        runs and tests.
    simulate : dict
        Keyword arguments of :func:`studentprofile.datasets.simulate_campus` (``dataset =
        "simulated"``).
    snapshot : SnapshotSource or None
        A flat, one-row-per-student table instead of the three tables (``[data.snapshot]``);
        it needs ``splits.kind = "kfold"`` (a snapshot has no time axis to split on).
    ids_as_text : bool
        Id columns (:data:`ID_COLUMNS`, found through the column mapping) are text: CSV files
        are read as written (``000123`` stays ``000123``, never the number 123) and integer
        ids of Parquet files become their exact decimal text (``123`` -> ``"123"``). False
        lets pandas guess CSV types and keeps Parquet's (numbers lose leading zeros; not
        recommended).
    """

    dataset: str | None = "oulad"
    students: TableSource | None = None
    events: tuple[TableSource, ...] = ()
    outcomes: TableSource | None = None
    audit_attributes: tuple[str, ...] = ()
    time_origin: str | None = None
    sample_students: float | int | None = None
    simulate: Mapping[str, Any] = field(default_factory=dict)
    snapshot: SnapshotSource | None = None
    ids_as_text: bool = True


@dataclass(frozen=True)
class GridConfig:
    """The as-of grid: when predictions would have been made (see ``make_grid``)."""

    every: float = 7.0
    per: str = "enrolment"
    start: Any = None
    end: Any = None


@dataclass(frozen=True)
class FeaturesConfig:
    """The feature spec: named presets, minus dropped entries, plus custom entries.

    Attributes
    ----------
    presets : tuple of str
        Any of ``"oulad"`` (the OULAD spec of the models study), ``"academic"``,
        ``"behavioral"``, ``"participation"``, ``"wellbeing"`` (the generic presets).
    drop : tuple of str
        Entries to remove, by column prefix (event entries) or static column.
    add : tuple of dict
        Custom entries in :meth:`FeatureSpec.to_dict` form (``type = "events"`` or
        ``"static"``).
    """

    presets: tuple[str, ...] = ("oulad",)
    drop: tuple[str, ...] = ()
    add: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class LabelConfig:
    """What is predicted: one of ``outcome`` within ``horizon`` days of the as-of date.

    Attributes
    ----------
    outcome : tuple of str
        The outcomes that count.
    horizon : float
        Days after the as-of date (at most 100 years).
    observed_until : date or float or None
        When the outcomes table was last complete (``make_labels(observed_until=)``): rows
        whose window reaches past it are censored (no label) instead of counted as negatives.
        None: the latest time in the tables.
    """

    outcome: tuple[str, ...] = ("withdrawn",)
    horizon: float = 60.0
    observed_until: Any = None


@dataclass(frozen=True)
class SplitsConfig:
    """How a run splits its rows: a temporal backtest (``TemporalSplits``) or k folds.

    Attributes
    ----------
    test_start, test_end : date or float or None
        The test period; None: the last third of the as-of dates (one split).
    retrain_every, gap, max_history, train_start : optional
        As in ``TemporalSplits``.
    train_where, test_where : dict
        Restrict training / test rows by a students-table column: ``{column = "cohort",
        startswith = "2013"}`` or ``{column = "cohort", in = ["2014B", "2014J"]}``.
    truncate : bool
        Rebuild features from truncated tables per as-of date (slow; the builder is already
        leakage-safe, so the default is False).
    kind : {"temporal", "kfold"}
        ``"temporal"``: the backtest above; ``"kfold"``: student-disjoint, label-stratified
        k-fold cross-validation (:func:`studentprofile.evaluation.cross_validate`), for flat
        snapshots and data without a useful time axis.
    folds, shuffle, seed : int, bool, int or None
        The k-fold settings (``seed`` None: the experiment's seed).
    """

    test_start: Any = None
    test_end: Any = None
    retrain_every: float | None = None
    gap: float = 0.0
    max_history: float | None = None
    train_start: Any = None
    train_where: Mapping[str, Any] = field(default_factory=dict)
    test_where: Mapping[str, Any] = field(default_factory=dict)
    truncate: bool = False
    kind: str = "temporal"
    folds: int = 5
    shuffle: bool = True
    seed: int | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation and fairness audit settings.

    Attributes
    ----------
    k : tuple
        Caseloads for precision / recall / lift at k (fractions or counts).
    audit_attributes : tuple of str or None
        Attributes to audit; None: the tables' declared audit attributes.
    audit_k : float
        The flagging policy audited: the top ``audit_k`` of each as-of date's scores.
    min_group_size : int
        Smaller groups are suppressed in the audit.
    n_boot : int
        Bootstrap draws for the audit's confidence intervals.
    tiers : dict of str -> float
        Tier name -> top fraction of the final model's training scores that reaches the tier;
        turned into probability thresholds stored with the model.
    explain_rows : int
        Rows explained for the SHAP summary (a seeded sample of the latest as-of date).
    enter_after, exit_after : int
        Alert policy hysteresis: a student enters a tier after ``enter_after`` consecutive
        as-of dates at or above it and leaves after ``exit_after`` below.
    cooldown_days : float
        No new alert for a student within this many days of the last (escalations excepted).
    """

    k: tuple[float, ...] = (0.05, 0.1, 0.2)
    audit_attributes: tuple[str, ...] | None = None
    audit_k: float = 0.1
    min_group_size: int = 20
    n_boot: int = 200
    tiers: Mapping[str, float] = field(default_factory=lambda: {"high": 0.05, "medium": 0.15})
    explain_rows: int = 2000
    enter_after: int = 2
    exit_after: int = 2
    cooldown_days: float = 21.0


@dataclass(frozen=True)
class TrackingConfig:
    """Where and how runs are tracked in MLflow.

    Attributes
    ----------
    enabled : bool
        Track at all (the model and reports are written to ``output_dir`` either way).
    uri : str or None
        Tracking URI; None: ``MLFLOW_TRACKING_URI`` if set, else a local SQLite store
        ``sqlite:///<output_dir>/mlflow.db`` (artefacts next to it).
    experiment : str
        MLflow experiment name.
    registered_model : str or None
        Register the logged model under this name.
    alias : str
        Alias given to the new model version (``models:/name@alias``).
    per_student : bool
        Also log per-student scores and reasons, with student ids replaced by a keyed pseudonym
        (needs the key in the environment variable ``pseudonym_key_env``).
    pseudonym_key_env : str
        Environment variable holding the pseudonym key.
    output_dir : Path
        Where models, reports and the default tracking store go (relative: to the working
        directory).
    """

    enabled: bool = True
    uri: str | None = None
    experiment: str = "studentprofile"
    registered_model: str | None = None
    alias: str = "candidate"
    per_student: bool = False
    pseudonym_key_env: str = "STUDENTPROFILE_PSEUDONYM_KEY"
    output_dir: Path = Path(DEFAULT_TRACKING_DIR)


@dataclass(frozen=True)
class GridCandidate:
    """One candidate of a model grid: a name and its RiskModel parameters.

    Attributes
    ----------
    name : str
        The candidate's name (letters, digits, ``_``, ``-``, ``.``): MLflow child runs and the
        report's tables use it.
    params : dict
        RiskModel parameters; they override ``[model]``'s own parameters for this candidate.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the inline-table form ``{name = ..., <param> = ...}``."""
        return {"name": self.name, **dict(self.params)}


@dataclass(frozen=True)
class ModelConfig(Mapping[str, Any]):
    """The ``[model]`` section: RiskModel parameters, and optionally a model grid.

    Reads as a mapping of the RiskModel parameters (``RiskModel(**cfg.model)``), so a config
    without a grid behaves exactly as before.

    Attributes
    ----------
    params : dict
        RiskModel parameters (the single model, or what every grid candidate starts from).
    grid : tuple of GridCandidate
        Candidates backtested on the same splits (``grid = [{name = "small", num_leaves =
        7}, ...]``); empty: one model, no comparison.
    ablation : tuple of str
        Feature-group ablation of the first candidate over the feature families:
        ``"leave_one_out"`` (``<name>-without-<family>``) and ``"only_one"``
        (``<name>-only-<family>``).
    baselines : tuple of str
        Baselines compared with the grid: any of ``"logistic_regression"``, ``"abc_rules"``,
        ``"best_one_feature"`` (all by default; ``[]`` or ``false`` for none).
    select_rule : str
        The selection rule that chooses the shipped model among the grid candidates.
    select_metric : str or None
        The metric it judges (None: ``precision@<evaluation.audit_k>`` when that caseload is in
        ``evaluation.k``, else ``roc_auc``).
    abc : dict
        ``ABCRules.classic`` keywords for the ABC baseline (feature selectors and thresholds);
        empty: the classic indicators found among the features.
    """

    params: Mapping[str, Any] = field(default_factory=dict)
    grid: tuple[GridCandidate, ...] = ()
    ablation: tuple[str, ...] = ()
    baselines: tuple[str, ...] = GRID_BASELINES
    select_rule: str = "best_average_value"
    select_metric: str | None = None
    abc: Mapping[str, Any] = field(default_factory=dict)

    # a Mapping of the RiskModel parameters
    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def __iter__(self) -> Any:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    @property
    def is_grid(self) -> bool:
        """True when the run compares candidates (a grid or an ablation)."""
        return bool(self.grid or self.ablation)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``[model]`` table: the parameters, then the grid keys that are set."""
        out: dict[str, Any] = dict(self.params)
        defaults = ModelConfig()
        if self.grid:
            out["grid"] = [c.to_dict() for c in self.grid]
        for name in ("ablation", "baselines", "select_rule", "select_metric", "abc"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class FairnessConfig:
    """Opt-in fairness mitigation by post-processing (``[fairness]``).

    Attributes
    ----------
    mitigate : str or None
        ``"equal_tpr"`` or ``"equal_selection_rate"``; None (the default): no mitigation.
    attribute : str or None
        The one audit attribute whose groups get their own shares of the caseload (required
        with ``mitigate``: using a protected attribute at decision time is a decision someone
        names).
    tolerance : float
        Largest allowed difference between the groups' rates.
    min_group_size : int
        Smaller groups are refused (merge them first).
    """

    mitigate: str | None = None
    attribute: str | None = None
    tolerance: float = 0.05
    min_group_size: int = 20
