"""FeatureBuilder: a spec + tables + an as-of grid -> a leakage-safe feature matrix."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from studentprofile.errors import ConfigError, NotFittedError, SchemaError
from studentprofile.features import _kernels as K
from studentprofile.features._info import FEATURE_INFO_ATTR, FeatureInfo
from studentprofile.features._layout import (
    NS_PER_DAY,
    PARALLEL_MIN,
    build_layout,
    time_values,
)
from studentprofile.features._spec import (
    CLOCK_AGGREGATES,
    EventFeatures,
    FeatureSpec,
    PlannedColumn,
    StaticFeatures,
    window_days,
)
from studentprofile.labels import check_grid
from studentprofile.tables import STUDENT_TIME_COLUMNS, EventTables

logger = logging.getLogger(__name__)


class _NotFittedError(NotFittedError, _SklearnNotFittedError):
    """Our NotFittedError that is also scikit-learn's, so both ``except`` clauses catch it."""

__all__ = ["FeatureBuilder"]

_AGG_IDS = {
    "count": K.AGG_COUNT,
    "sum": K.AGG_SUM,
    "mean": K.AGG_MEAN,
    "min": K.AGG_MIN,
    "max": K.AGG_MAX,
    "std": K.AGG_STD,
    "first": K.AGG_FIRST,
    "last": K.AGG_LAST,
    "slope": K.AGG_SLOPE,
    "days_since_last": K.AGG_DAYS_SINCE_LAST,
    "active_days": K.AGG_ACTIVE_DAYS,
    "longest_gap": K.AGG_LONGEST_GAP,
    "share": K.AGG_SHARE,
    "tod_entropy": K.AGG_TOD_ENTROPY,
    "dow_entropy": K.AGG_DOW_ENTROPY,
    "lz_entropy": K.AGG_LZ_ENTROPY,
}
_TRANSFORM_IDS = {
    "zscore": K.COHORT_ZSCORE,
    "percentile": K.COHORT_PERCENTILE,
    "ratio": K.COHORT_RATIO,
}
_ABSENT_MODES = ("skip", "keep", "raise")
_TZ_UTC = {"UTC", "utc", "Etc/UTC", "Z", "GMT"}


@dataclass
class _StaticPlan:
    column: str
    how: str  # number / category / date
    categories: list[Any] = field(default_factory=list)


@dataclass
class _Fitted:
    columns: list[PlannedColumn]  # kept columns, in output order
    entries: dict[int, EventFeatures]  # kept event entries by position
    statics: dict[str, _StaticPlan]


def _source_key(e: EventFeatures) -> tuple[Any, ...]:
    return (e.family, e.kinds, e.tod_bins, e.lz_bins)


class FeatureBuilder:
    """Build leakage-safe features as of each row of an as-of grid.

    A feature at ``as_of`` uses only events with ``known_at < as_of``; a window of ``w`` days
    holds the events with ``as_of - w <= time < as_of`` (and ``known_at < as_of``); ``"all"`` holds
    every earlier event, ``"term"`` those from the student's ``term_start``. See
    ``docs/features.md`` for each aggregate's formula and its NaN and empty-window rules.

    Parameters
    ----------
    spec : FeatureSpec
        What to build (see the presets, e.g. ``academic_features() + behavioral_features()``).
    on_absent_kind : {"skip", "keep", "raise"}, default "skip"
        What :meth:`fit` does with an event entry whose kinds do not occur in the tables: leave
        its columns out (listed in ``skipped_`` and logged), keep them (counts 0, the rest NaN),
        or raise a ``SchemaError``.

    Attributes
    ----------
    feature_info_ : dict of str -> FeatureInfo
        One record per output column, in column order.
    feature_names_out_ : list of str
        The output columns.
    skipped_ : dict of str -> str
        Column prefixes left out at fit time, with the reason.

    Examples
    --------
    >>> import pandas as pd
    >>> import studentprofile as sp
    >>> from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec
    >>> tables = sp.EventTables(
    ...     students=pd.DataFrame({"student_id": ["ana", "ben"]}),
    ...     events=pd.DataFrame({
    ...         "student_id": ["ana", "ana", "ben"],
    ...         "time": [1.0, 5.0, 2.0], "family": "behavioral", "kind": "class_attendance",
    ...         "value": [1.0, 0.0, 1.0]}))
    >>> spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["mean", "count"],
    ...                                   windows=[7], mean_phrase="class attendance rate")])
    >>> grid = pd.DataFrame({"student_id": ["ana", "ben"], "as_of": [6.0, 6.0]})
    >>> builder = FeatureBuilder(spec).fit(tables)
    >>> builder.transform(tables, grid)
                     class_attendance_mean_7d  class_attendance_count_7d
    student_id as_of
    ana        6.0                        0.5                        2.0
    ben        6.0                        1.0                        1.0
    >>> builder.feature_info_["class_attendance_mean_7d"].phrase
    'class attendance rate over the last 7 days'
    """

    def __init__(self, spec: FeatureSpec, *, on_absent_kind: str = "skip") -> None:
        self.spec = spec
        self.on_absent_kind = on_absent_kind

    # ------------------------------------------------------------------ estimator manners
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters (scikit-learn convention, so ``clone`` works)."""
        return {"spec": self.spec, "on_absent_kind": self.on_absent_kind}

    def set_params(self, **params: Any) -> FeatureBuilder:
        """Set constructor parameters; forgets any fitted state."""
        for key, value in params.items():
            if key not in ("spec", "on_absent_kind"):
                raise ConfigError(
                    "unknown FeatureBuilder parameter",
                    key=key,
                    arrived=repr(value),
                    hint="the parameters are spec and on_absent_kind",
                )
            setattr(self, key, value)
        for attr in ("feature_info_", "feature_names_out_", "skipped_", "_fitted"):
            self.__dict__.pop(attr, None)
        return self

    def __repr__(self) -> str:
        return f"FeatureBuilder(<FeatureSpec of {len(self._spec())} entries>, " \
               f"on_absent_kind={self.on_absent_kind!r})"

    def get_feature_names_out(self) -> list[str]:
        """Return the output column names (after :meth:`fit`)."""
        self._check_fitted()
        return list(self.feature_names_out_)

    def _check_fitted(self) -> None:
        if "_fitted" not in self.__dict__:
            raise _NotFittedError(
                "This FeatureBuilder instance is not fitted yet",
                hint="call builder.fit(tables) first (e.g. on the training tables), or "
                "builder.fit_transform(tables, grid)",
            )

    def _spec(self) -> FeatureSpec:
        spec = self.spec
        if isinstance(spec, EventFeatures | StaticFeatures):
            return FeatureSpec([spec])
        if not isinstance(spec, FeatureSpec):
            raise ConfigError(
                "spec must be a FeatureSpec",
                key="spec",
                arrived=f"an object of type {type(spec).__name__}",
                hint="build one with FeatureSpec([...]) or a preset such as academic_features()",
            )
        return spec

    # ------------------------------------------------------------------------------- fit
    def fit(self, tables: EventTables, grid: pd.DataFrame | None = None) -> FeatureBuilder:
        """Resolve the spec against the tables: which columns exist and what they mean.

        Checks that every requirement of the spec is met (``term_start`` for term windows,
        ``max_value`` for ``share``, the ``by`` column for cohort transforms, static columns),
        decides which entries apply (``on_absent_kind``) and fixes static categories, so that
        later calls to :meth:`transform` return the same columns.

        Parameters
        ----------
        tables : EventTables
            The tables (usually the training tables).
        grid : DataFrame, optional
            Ignored; accepted for symmetry with :meth:`transform`.

        Returns
        -------
        FeatureBuilder
            ``self``.

        Raises
        ------
        SchemaError
            A column the spec needs is missing from the tables.
        ConfigError
            A bad spec or parameter, or an audit attribute requested without ``allow_audit``.
        """
        _require_tables(tables)
        spec = self._spec()
        if self.on_absent_kind not in _ABSENT_MODES:
            raise ConfigError(
                f"on_absent_kind must be one of {list(_ABSENT_MODES)!r}",
                key="on_absent_kind",
                arrived=repr(self.on_absent_kind),
                hint="use 'skip' (default), 'keep' or 'raise'",
            )
        present = _present_pairs(tables)
        skipped: dict[str, str] = {}
        entries: dict[int, EventFeatures] = {}
        statics: dict[str, _StaticPlan] = {}
        fam_of: dict[int, str] = {}
        kinds_of: dict[int, list[str]] = {}
        sens_of: dict[int, str] = {}
        for i, e in enumerate(spec.entries):
            if isinstance(e, StaticFeatures):
                for col in e.columns:
                    statics[col] = _plan_static(tables, e, col)
                continue
            matched = [
                (f, x) for f, x in present
                if (e.family is None or f == e.family) and (e.kinds is None or x in e.kinds)
            ]
            if not matched:
                what = f"kinds {list(e.kinds)!r}" if e.kinds else f"family {e.family!r}"
                if self.on_absent_kind == "raise":
                    raise SchemaError(
                        f"no events of {what} for the spec entry {e.prefix!r}",
                        table="events",
                        column="kind",
                        rule="absent-kind",
                        arrived=f"kinds present: {sorted({x for _, x in present})!r}"[:400],
                        hint="remove the entry, rename kinds to match the data, or use "
                        "FeatureBuilder(on_absent_kind='skip' or 'keep')",
                    )
                if self.on_absent_kind == "skip":
                    skipped[e.prefix] = f"no events of {what}"
                    logger.info("feature entry %r skipped: no events of %s", e.prefix, what)
                    continue
            _check_requirements(tables, e)
            families = sorted({f for f, _ in matched}) or ([e.family] if e.family else [])
            fam_of[i] = e.family or ("+".join(families) if families else "unknown")
            kinds_of[i] = sorted({x for _, x in matched})
            sens = e.sensitivity or "normal"
            if "wellbeing" in families or e.family == "wellbeing":
                sens = "sensitive"
            sens_of[i] = sens
            entries[i] = e
        columns: list[PlannedColumn] = []
        for p in spec.plan():
            e = spec.entries[p.entry]
            if isinstance(e, StaticFeatures):
                columns.append(replace(p, info=_static_info(e, statics[p.name], tables)))
            elif p.entry in entries:
                columns.append(replace(p, info=_event_info(e, p, fam_of[p.entry],
                                                           sens_of[p.entry],
                                                           kinds_of[p.entry])))
        self._fitted = _Fitted(columns=columns, entries=entries, statics=statics)
        self.feature_info_: dict[str, FeatureInfo] = {
            c.name: c.info for c in columns if c.info is not None
        }
        self.feature_names_out_: list[str] = [c.name for c in columns]
        self.skipped_: dict[str, str] = skipped
        return self

    def fit_transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        """Fit on ``tables`` and build the features for ``grid``."""
        return self.fit(tables).transform(tables, grid)

    # ------------------------------------------------------------------------- transform
    def transform(self, tables: EventTables, grid: pd.DataFrame) -> pd.DataFrame:
        """Build the feature matrix for every row of ``grid``.

        The builder must be fitted first (:meth:`fit` or :meth:`fit_transform`), as a
        scikit-learn transformer must: the columns and static categories are fixed by ``fit``,
        and every call returns the same columns, whatever tables it gets.

        Parameters
        ----------
        tables : EventTables
            Validated tables.
        grid : DataFrame
            As-of grid with ``student_id`` and ``as_of`` (see :func:`make_grid`).

        Returns
        -------
        DataFrame
            Indexed by (``student_id``, ``as_of``) in grid row order, one float64 column per
            feature, named as in ``feature_names_out_``. ``X.attrs["feature_info"]`` holds each
            column's :class:`FeatureInfo` (as ``to_dict()``), so ``RiskModel().fit(X, y)`` words
            reasons with the builder's phrases without a ``feature_info=`` keyword.

        Raises
        ------
        NotFittedError
            The builder was not fitted (also scikit-learn's ``NotFittedError``).
        SchemaError
            A bad grid (see :func:`studentprofile.labels.check_grid`) or tables missing a column
            the spec needs.
        """
        self._check_fitted()
        _require_tables(tables)
        fitted = self._fitted
        for e in fitted.entries.values():
            _check_requirements(tables, e)
        for col in fitted.statics:
            if col not in tables.students.columns:
                raise SchemaError(
                    "a static feature column is missing from the students table",
                    table="students",
                    column=col,
                    rule="required-column",
                    arrived=f"columns {list(tables.students.columns)!r}",
                    hint="use tables with the same students columns as at fit time",
                )
        g = check_grid(grid, tables)
        kind = tables.time_kind
        n_rows = len(g)
        ids = pd.Index(tables.students["student_id"])
        grid_pos = np.asarray(ids.get_indexer(g["student_id"]), dtype=np.int64)
        grid_t = time_values(g["as_of"], kind)
        q = _Queries.build(tables, grid_pos, grid_t, fitted)
        columns = fitted.columns
        col_index = {c.name: j for j, c in enumerate(columns)}
        out_q = np.full((len(columns), q.n), np.nan)
        if fitted.entries:
            self._event_columns(tables, fitted, q, out_q, col_index)
        result = out_q[:, q.grid_to_q] if not q.identity else out_q
        for col, plan in fitted.statics.items():
            result[col_index[col]] = _static_values(tables, plan, grid_pos, grid_t)
        index = _grid_index(tables, g, grid_pos, grid_t)
        frame = pd.DataFrame(result.T, index=index, columns=[c.name for c in columns],
                             copy=False)
        if n_rows == 0:
            frame = frame.astype("float64")
        # the matrix carries what its columns mean, so fit(X, y) and reasons find it
        frame.attrs[FEATURE_INFO_ATTR] = {
            c.name: c.info.to_dict() for c in columns if c.info is not None
        }
        return frame

    def _event_columns(
        self,
        tables: EventTables,
        fitted: _Fitted,
        q: _Queries,
        out_q: np.ndarray,
        col_index: dict[str, int],
    ) -> None:
        kind = tables.time_kind
        need_mx = any("share" in e.aggregates for e in fitted.entries.values())
        layout = build_layout(tables, with_max_value=need_mx)
        # group entries by the events they select, so each selection is scanned once
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, e in fitted.entries.items():
            groups.setdefault(_source_key(e), []).append(i)
        day: Any = np.int64(NS_PER_DAY) if kind == "datetime" else 1.0
        term_start, has_term = _term_starts(tables)
        dow_shift = _dow_shift(tables)
        raw: dict[tuple[int, str, str], np.ndarray] = {}
        for members in groups.values():
            first = fitted.entries[members[0]]
            src = layout.source(family=first.family, kinds=first.kinds)
            windows: list[str] = []
            for i in members:
                for w in fitted.entries[i].windows:
                    if w not in windows:
                        windows.append(w)
            cols = np.full((len(windows), K.N_AGG), -1, np.int64)
            base_cols: list[tuple[int, str, str]] = []  # (row in block, window, aggregate)
            for wi, w in enumerate(windows):
                for i in members:
                    e = fitted.entries[i]
                    if w not in e.windows:
                        continue
                    for a in e.aggregates:
                        aid = _AGG_IDS[a]
                        if cols[wi, aid] < 0:
                            cols[wi, aid] = len(base_cols)
                            base_cols.append((len(base_cols), w, a))
            block = np.empty((len(base_cols), q.n), np.float64)
            win_kind = np.array(
                [K.WIN_ALL if w == "all" else K.WIN_TERM if w == "term" else K.WIN_FIXED
                 for w in windows],
                dtype=np.int64,
            )
            lengths = [window_days(w) or 0.0 for w in windows]
            if kind == "datetime":
                win_len = np.array([round(d * NS_PER_DAY) for d in lengths], dtype=np.int64)
            else:
                win_len = np.array(lengths, dtype=np.float64)
            needs_clock = any(
                CLOCK_AGGREGATES.intersection(fitted.entries[i].aggregates) for i in members
            )
            tloc = _local_clock(tables, src.t) if needs_clock else src.t
            kernel = (
                K.window_features if src.n_events + q.n >= PARALLEL_MIN
                else K.window_features_serial
            )
            kernel(
                src.starts, src.ends, src.t, src.k, src.v, src.mx, tloc, q.offsets, q.time,
                term_start, has_term, win_kind, win_len, cols, day, first.tod_bins,
                first.lz_bins, dow_shift, block,
            )
            del src, tloc
            by_wa = {(w, a): row for row, w, a in base_cols}
            for i in members:
                e = fitted.entries[i]
                for w in e.windows:
                    for a in e.aggregates:
                        raw[(i, w, a)] = block[by_wa[(w, a)]]
        self._finish_columns(fitted, raw, q, out_q, col_index)

    @staticmethod
    def _finish_columns(
        fitted: _Fitted,
        raw: dict[tuple[int, str, str], np.ndarray],
        q: _Queries,
        out_q: np.ndarray,
        col_index: dict[str, int],
    ) -> None:
        """Cohort transforms, missing-value flags and imputation of the raw event columns."""
        # every cohort statistic of one `by` column in one kernel launch
        jobs: dict[str, list[tuple[tuple[int, str, str], int, str]]] = {}
        for (i, w, a) in raw:
            e = fitted.entries[i]
            base = f"{e.prefix}_{a}_{w}"
            for r in e.relative:
                jobs.setdefault(e.by, []).append(((i, w, a), _TRANSFORM_IDS[r],
                                                  f"{base}_{r}_{e.by}"))
            if e.missing == "cohort_mean" and np.isnan(raw[(i, w, a)]).any():
                jobs.setdefault(e.by, []).append(((i, w, a), K.COHORT_MEAN, ""))
        cohort_means: dict[tuple[int, str, str], np.ndarray] = {}
        for by, todo in jobs.items():
            values = np.stack([raw[key] for key, _, _ in todo])
            modes = np.array([mode for _, mode, _ in todo], dtype=np.int64)
            result = q.cohort(by, values, modes)
            for j, (key, mode, target) in enumerate(todo):
                if mode == K.COHORT_MEAN:
                    cohort_means[key] = result[j]
                else:
                    out_q[col_index[target]] = result[j]
        for (i, w, a), values in raw.items():
            e = fitted.entries[i]
            base = f"{e.prefix}_{a}_{w}"
            missing = np.isnan(values)
            if e.flag_missing:
                out_q[col_index[f"{base}_missing"]] = missing
            out_q[col_index[base]] = values
            if e.missing != "nan" and missing.any():
                row = out_q[col_index[base]]
                if e.missing == "zero":
                    row[missing] = 0.0
                elif e.missing == "constant":
                    row[missing] = float(e.fill_value)  # type: ignore[arg-type]
                else:
                    row[missing] = cohort_means[(i, w, a)][missing]


# ----------------------------------------------------------------------------- queries
class _Queries:
    """The distinct (student, as_of) pairs to compute, sorted by student then as_of.

    Includes every grid row and, for cohort transforms, every member of the row's cohort at the
    same as_of (a cohort statistic must not depend on which students are in the grid).
    """

    def __init__(
        self,
        offsets: np.ndarray,
        student: np.ndarray,
        time: np.ndarray,
        grid_to_q: np.ndarray,
        identity: bool,
        group_codes: dict[str, np.ndarray],
    ) -> None:
        self.offsets = offsets
        self.student = student
        self.time = time
        self.grid_to_q = grid_to_q
        self.identity = identity
        self.n = len(student)
        self._group_codes = group_codes
        self._segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(
        cls, tables: EventTables, grid_pos: np.ndarray, grid_t: np.ndarray, fitted: _Fitted
    ) -> _Queries:
        n_students = len(tables.students)
        bys = sorted(
            {e.by for e in fitted.entries.values() if e.relative or e.missing == "cohort_mean"}
        )
        group_codes: dict[str, np.ndarray] = {}
        all_s = [grid_pos]
        all_t = [grid_t]
        for by in bys:
            codes, _ = pd.factorize(tables.students[by], use_na_sentinel=True)
            codes = np.asarray(codes, dtype=np.int64)
            group_codes[by] = codes
            s_extra, t_extra = _cohort_members(codes, grid_pos, grid_t)
            all_s.append(s_extra)
            all_t.append(t_extra)
        s_all = np.concatenate(all_s) if len(all_s) > 1 else grid_pos
        t_all = np.concatenate(all_t) if len(all_t) > 1 else grid_t
        n_grid = len(grid_pos)
        if len(s_all) == 0:
            return cls(np.zeros(n_students + 1, np.int64), s_all, t_all,
                       np.zeros(0, np.int64), True, group_codes)
        # fast path: a grid already sorted by (student, as_of) without repeats and no extras
        if len(s_all) == n_grid and _strictly_sorted(grid_pos, grid_t):
            offsets = np.searchsorted(grid_pos, np.arange(n_students + 1)).astype(np.int64)
            return cls(offsets, grid_pos, grid_t, np.arange(n_grid), True, group_codes)
        uniq_t, t_rank = np.unique(t_all, return_inverse=True)
        key = s_all * len(uniq_t) + t_rank
        uniq_key, inverse = np.unique(key, return_inverse=True)
        student = uniq_key // len(uniq_t)
        time = uniq_t[uniq_key % len(uniq_t)]
        offsets = np.searchsorted(student, np.arange(n_students + 1)).astype(np.int64)
        grid_to_q = inverse[:n_grid].astype(np.int64)
        identity = len(student) == n_grid and bool(
            np.array_equal(grid_to_q, np.arange(n_grid))
        )
        return cls(offsets, student, np.ascontiguousarray(time), grid_to_q, identity,
                   group_codes)

    def cohort(self, by: str, x: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """Cohort statistics of the rows of ``x`` (one value per query) at each query's as_of."""
        if by not in self._segments:
            g = self._group_codes[by][self.student]
            keep = np.flatnonzero(g >= 0)
            order = keep[np.lexsort((self.time[keep], g[keep]))]
            gs = g[order]
            ts = self.time[order]
            change = np.ones(len(order), dtype=bool)
            if len(order) > 1:
                change[1:] = (gs[1:] != gs[:-1]) | (ts[1:] != ts[:-1])
            seg = np.append(np.flatnonzero(change), len(order)).astype(np.int64)
            self._segments[by] = (seg, order.astype(np.int64))
        seg, order = self._segments[by]
        out = np.full(x.shape, np.nan)
        kernel = K.cohort_transform if x.size >= PARALLEL_MIN else K.cohort_transform_serial
        kernel(seg, order, np.ascontiguousarray(x, dtype=np.float64), modes, out)
        return out


def _strictly_sorted(s: np.ndarray, t: np.ndarray) -> bool:
    if len(s) < 2:
        return True
    ds = np.diff(s)
    if (ds < 0).any():
        return False
    same = ds == 0
    return bool((t[1:][same] > t[:-1][same]).all())


def _cohort_members(
    codes: np.ndarray, grid_pos: np.ndarray, grid_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (student, as_of) with the student in the cohort of some grid row at that as_of."""
    g = codes[grid_pos]
    ok = g >= 0
    if not ok.any():
        return np.zeros(0, np.int64), grid_t[:0]
    keys = pd.DataFrame({"g": g[ok], "t": grid_t[ok]}).drop_duplicates()
    kg = keys["g"].to_numpy()
    kt = keys["t"].to_numpy()
    members = np.flatnonzero(codes >= 0)
    order = members[np.argsort(codes[members], kind="stable")]
    n_groups = int(codes.max()) + 1
    size = np.bincount(codes[members], minlength=n_groups)
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    sizes = size[kg]
    total = int(sizes.sum())
    first = np.repeat(start[kg] - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    idx = first + np.arange(total)
    return order[idx].astype(np.int64), np.repeat(kt, sizes)


# ---------------------------------------------------------------------------- helpers
def _require_tables(tables: Any) -> None:
    if not isinstance(tables, EventTables):
        raise SchemaError(
            "features are built from an EventTables",
            table="tables",
            rule="type",
            arrived=f"an object of type {type(tables).__name__}",
            hint="wrap the frames: EventTables(students=..., events=..., outcomes=...)",
        )


def _present_pairs(tables: EventTables) -> list[tuple[str, str]]:
    """Return the (family, kind) pairs that occur in the events."""
    ev = tables.events
    if not len(ev):
        return []
    fam = ev["family"].cat
    kin = ev["kind"].cat
    n_fam, n_kinds = len(fam.categories), len(kin.categories)
    n_chunks = max(1, min(8, len(ev) // 1_000_000))
    counts = K.pair_counts(np.ascontiguousarray(fam.codes.to_numpy()),
                           np.ascontiguousarray(kin.codes.to_numpy()), n_kinds,
                           n_fam * n_kinds, n_chunks)
    return [
        (str(fam.categories[p // n_kinds]), str(kin.categories[p % n_kinds]))
        for p in np.flatnonzero(counts).tolist()
    ]


def _check_requirements(tables: EventTables, e: EventFeatures) -> None:
    if "term" in e.windows and "term_start" not in tables.students.columns:
        raise SchemaError(
            "a term window needs the students' term_start",
            table="students",
            column="term_start",
            rule="required-column",
            arrived=f"entry {e.prefix!r} asks for windows {list(e.windows)!r}; students columns "
            f"{list(tables.students.columns)!r}",
            hint="add term_start (when each student's current term began) to the students "
            "table, or use fixed windows (e.g. 90) or 'all'",
        )
    if "share" in e.aggregates and "max_value" not in tables.events.columns:
        raise SchemaError(
            "the share aggregate needs the events' max_value",
            table="events",
            column="max_value",
            rule="required-column",
            arrived=f"entry {e.prefix!r}; events columns {list(tables.events.columns)!r}",
            hint="add max_value (the most a value could be, e.g. 100 for a score out of 100) or "
            "drop 'share' from the entry's aggregates",
        )
    if (e.relative or e.missing == "cohort_mean") and e.by not in tables.students.columns:
        raise SchemaError(
            f"cohort-relative features need the students column {e.by!r}",
            table="students",
            column=e.by,
            rule="required-column",
            arrived=f"entry {e.prefix!r}; students columns {list(tables.students.columns)!r}",
            hint="add the column, or set by= to an existing column such as 'program'",
        )


def _term_starts(tables: EventTables) -> tuple[np.ndarray, np.ndarray]:
    st = tables.students
    n = len(st)
    if "term_start" not in st.columns:
        dtype = np.int64 if tables.time_kind == "datetime" else np.float64
        return np.zeros(n, dtype), np.zeros(n, bool)
    col = st["term_start"]
    has = col.notna().to_numpy()
    values = time_values(col, tables.time_kind).copy()
    if tables.time_kind == "float":
        values[~has] = 0.0
    else:
        values[~has] = 0
    return values, has


def _dow_shift(tables: EventTables) -> int:
    if tables.time_kind == "datetime":
        return 3  # 1970-01-01 was a Thursday; Monday = 0
    if tables.time_origin is not None:
        return int(tables.time_origin.weekday())
    return 0


def _local_clock(tables: EventTables, t: np.ndarray) -> np.ndarray:
    """Local wall-clock times: the stored naive UTC converted back to the source timezone."""
    tz = tables.report.timezone
    if tables.time_kind != "datetime" or tz is None or tz in _TZ_UTC or not len(t):
        return t
    utc = pd.DatetimeIndex(t.view("datetime64[ns]")).tz_localize("UTC")
    local = utc.tz_convert(tz).tz_localize(None)
    return np.ascontiguousarray(local.asi8)


def _grid_index(
    tables: EventTables, g: pd.DataFrame, grid_pos: np.ndarray, grid_t: np.ndarray
) -> pd.MultiIndex:
    ids = tables.students["student_id"]
    as_of = g["as_of"].to_numpy()
    uniq, codes = np.unique(as_of, return_inverse=True)
    return pd.MultiIndex(
        levels=[pd.Index(ids.to_numpy(), name="student_id"), pd.Index(uniq, name="as_of")],
        codes=[grid_pos, codes.astype(np.int64)],  # type: ignore[list-item]  # arrays work
        names=["student_id", "as_of"],
        verify_integrity=False,
    )


# -------------------------------------------------------------------------- feature infos
def _event_info(
    e: EventFeatures, p: PlannedColumn, family: str, sensitivity: str, found: list[str]
) -> FeatureInfo:
    # `kind` names the kinds the column was built from when fitted; `extra["kinds"]` the spec's
    if found:
        kind = "|".join(found)
    else:
        kind = "|".join(e.kinds) if e.kinds else f"{family}:*"
    phrase = e.phrase(p.aggregate, p.window)
    extra: dict[str, Any] = {"kinds": list(e.kinds) if e.kinds else None,
                             "kinds_at_fit": found}
    days = window_days(p.window)
    if days is not None:
        extra["window_days"] = days
    if p.flag_of is not None:
        return FeatureInfo(
            name=p.name, family=family, kind=kind, aggregate=p.aggregate, window=p.window,
            phrase=f"no data for {phrase}", unit="", sensitivity=sensitivity,
            dimension=e.dimension, extra={**extra, "flag_of": p.flag_of},
        )
    unit = e.unit_of(p.aggregate)
    higher = e.direction_of(p.aggregate)
    transform = p.transform
    if transform is not None:
        extra["by"] = e.by
        if transform == "zscore":
            phrase = f"{phrase}, relative to the {e.by} (z-score)"
        elif transform == "percentile":
            phrase = f"{phrase}, as a percentile within the {e.by}"
        else:
            phrase = f"{phrase}, as a ratio to the {e.by} average"
        unit = ""
    if e.missing != "nan":
        extra["missing"] = e.missing
        if e.missing == "constant":
            extra["fill_value"] = e.fill_value
    return FeatureInfo(
        name=p.name, family=family, kind=kind, aggregate=p.aggregate, window=p.window,
        phrase=phrase, unit=unit, sensitivity=sensitivity, transform=transform,
        dimension=e.dimension, higher_is=higher, extra=extra,
    )


def _plan_static(tables: EventTables, e: StaticFeatures, col: str) -> _StaticPlan:
    st = tables.students
    if col not in st.columns:
        raise SchemaError(
            "a static feature column is missing from the students table",
            table="students",
            column=col,
            rule="required-column",
            arrived=f"columns {list(st.columns)!r}",
            hint="add the column or remove it from StaticFeatures",
        )
    if col in tables.audit_attributes and col not in e.allow_audit:
        raise ConfigError(
            f"{col!r} is an audit attribute and is never a feature unless allowed by name",
            key="StaticFeatures.columns",
            arrived=repr(col),
            hint=f"remove it, or pass StaticFeatures([...], allow_audit=[{col!r}]) if using it "
            "as a feature is justified",
        )
    s = st[col]
    if col in STUDENT_TIME_COLUMNS or s.dtype.kind == "M":
        return _StaticPlan(col, "date")
    if s.dtype.kind in "biuf":
        return _StaticPlan(col, "number")
    values = s.dropna().unique()
    try:
        cats = sorted(values.tolist())
    except TypeError:
        cats = sorted(values.tolist(), key=str)
    return _StaticPlan(col, "category", cats)


def _static_info(e: StaticFeatures, plan: _StaticPlan, tables: EventTables) -> FeatureInfo:
    col = plan.column
    sens = "audit" if col in tables.audit_attributes else "normal"
    extra: dict[str, Any] = {}
    if sens == "audit":
        # StaticFeatures(allow_audit=[col]) let it in by name: RiskModel keeps it as a feature
        # (reasons still need reasons(allow=[col]))
        extra["allowed_as_feature"] = True
    if plan.how == "category":
        unit = e.units.get(col, "category")
        extra["categories"] = [c if isinstance(c, str | int | float | bool) else str(c)
                               for c in plan.categories]
        phrase = e.phrases.get(col, col.replace("_", " "))
    elif plan.how == "date":
        unit = e.units.get(col, "days")
        phrase = e.phrases.get(col, f"days since {col.replace('_', ' ')}")
    else:
        unit = e.units.get(col, "")
        phrase = e.phrases.get(col, col.replace("_", " "))
    return FeatureInfo(
        name=col, family="static", kind=col, aggregate="value", window="static", phrase=phrase,
        unit=unit, sensitivity=sens, higher_is=e.higher_is.get(col, "neutral"), extra=extra,
    )


def _static_values(
    tables: EventTables, plan: _StaticPlan, grid_pos: np.ndarray, grid_t: np.ndarray
) -> np.ndarray:
    s = tables.students[plan.column]
    if plan.how == "number":
        return s.to_numpy(dtype=np.float64, na_value=np.nan)[grid_pos]
    if plan.how == "date":
        if tables.time_kind == "datetime":
            dates = np.asarray(s, dtype="datetime64[ns]")
            d = dates.view(np.int64)[grid_pos]
            out = (grid_t - d) / NS_PER_DAY
            out[np.isnat(dates)[grid_pos]] = np.nan
            return out
        return grid_t - s.to_numpy(dtype=np.float64, na_value=np.nan)[grid_pos]
    codes = pd.Index(plan.categories).get_indexer(s).astype(np.float64)
    codes[codes < 0] = np.nan  # missing, or a category not seen at fit time
    return codes[grid_pos]

