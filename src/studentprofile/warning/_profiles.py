"""Student profiles: dimension indices and profile types.

A *dimension index* summarises one side of a student's life on campus -- academic progress,
behavioural regularity and engagement, participation across the five education dimensions,
well-being (opt-in) -- as a cohort-relative percentile at each as-of date:

1. the features a dimension uses are picked through their
   :class:`~studentprofile.features.FeatureInfo` records (family, kind, education dimension, ...;
   never by parsing column names), each term of the spec splitting its weight equally among the
   features it picks;
2. each feature becomes a percentile among the students with a value on the same as-of date (and
   in the same cohort group, if given), turned round when lower is better
   (``higher_is="worse"``) so that a high percentile is always the good side;
3. the index is the weighted mean of those percentiles over the features the student has (``NaN``
   when less than ``min_coverage`` of the weight is present), and is itself expressed as a
   percentile of the cohort on that date, so every index reads the same way: 50 is the middle of
   the cohort, 90 means better than nine students in ten;
4. ``change`` is the index now minus the index at the student's previous as-of date.

*Profile types* cluster the indices (k-means, fixed ``random_state``) into a few segments with
plain-language names derived from their centres ("Strong academics, low engagement"), and
:meth:`ProfileTypes.stability` measures how much students move between types from one as-of date
to the next (adjusted Rand index on the same students).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, NotFittedError, SchemaError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning._inputs import infos_for, keyed_frame, select_features

__all__ = [
    "EDUCATION_DIMENSIONS",
    "Dimension",
    "DimensionTerm",
    "ProfileSpec",
    "ProfileTypes",
    "Profiles",
    "build_profiles",
]

logger = logging.getLogger(__name__)

#: The five education dimensions of participation records (``FeatureInfo.dimension``).
EDUCATION_DIMENSIONS: tuple[str, ...] = ("moral", "intellectual", "physical", "aesthetic",
                                         "labour")

_DIRECTIONS = ("auto", "higher_better", "higher_worse")


@dataclass(frozen=True)
class DimensionTerm:
    """Features a dimension uses, and their weight.

    Parameters
    ----------
    select : mapping
        FeatureInfo fields that pick the features, e.g. ``{"family": "academic"}`` or
        ``{"kind": "class_attendance", "window": "30d"}``; a value may be a list of accepted
        values. Static columns (``family="static"``) are never picked unless asked for.
    weight : float, default 1.0
        The term's weight, split equally among the features it picks.
    direction : {"auto", "higher_better", "higher_worse"}, default "auto"
        ``auto`` reads each feature's ``higher_is``; features with ``higher_is="neutral"``
        are then left out (their direction is unknown).

    Examples
    --------
    >>> DimensionTerm({"family": "academic"}).weight
    1.0
    """

    select: Mapping[str, Any]
    weight: float = 1.0
    direction: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.select, Mapping) or not self.select:
            raise ConfigError("a term selects features by FeatureInfo fields", key="select",
                              arrived=repr(self.select), hint="e.g. {'family': 'academic'}")
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            raise ConfigError("a term's weight must be a positive number", key="weight",
                              arrived=repr(w))
        if self.direction not in _DIRECTIONS:
            raise ConfigError(f"direction must be one of {list(_DIRECTIONS)!r}",
                              key="direction", arrived=repr(self.direction))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"select": {k: list(v) if isinstance(v, tuple | list | set | frozenset) else v
                           for k, v in self.select.items()},
                "weight": float(self.weight), "direction": self.direction}


@dataclass(frozen=True)
class Dimension:
    """One dimension index: a name, how to say it, and its terms.

    Parameters
    ----------
    name : str
        Column name of the index, e.g. ``"academic"``.
    label : str
        Heading for people, e.g. ``"Academic progress"``.
    short : str
        A word for profile-type names, e.g. ``"academics"``.
    terms : sequence of DimensionTerm
        The weighted feature groups.
    sensitive : bool, default False
        Well-being and similar: computed only on request and marked on cards.
    parent : str, optional
        For a sub-index (e.g. ``"physical"`` under ``"participation"``).
    description : str, default ""
        One sentence for the documentation and the card's tooltip.
    """

    name: str
    label: str
    short: str
    terms: tuple[DimensionTerm, ...]
    sensitive: bool = False
    parent: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("a dimension needs a name", key="Dimension.name",
                              arrived=repr(self.name))
        if not self.terms or not all(isinstance(t, DimensionTerm) for t in self.terms):
            raise ConfigError("a dimension needs at least one DimensionTerm",
                              key=f"Dimension({self.name!r}).terms", arrived=repr(self.terms))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"name": self.name, "label": self.label, "short": self.short,
                "terms": [t.to_dict() for t in self.terms], "sensitive": self.sensitive,
                "parent": self.parent, "description": self.description}


@dataclass(frozen=True)
class ProfileSpec:
    """The dimensions of a profile.

    Parameters
    ----------
    dimensions : sequence of Dimension
        In display order.
    min_coverage : float, default 0.5
        Least share of a dimension's weight a student must have values for; below it the index
        is missing rather than resting on one or two features.

    Examples
    --------
    >>> spec = ProfileSpec.default()
    >>> [d.name for d in spec.dimensions][:3]
    ['academic', 'engagement', 'participation']
    >>> any(d.name == "wellbeing" for d in spec.dimensions)
    False
    >>> ProfileSpec.default(include_wellbeing=True).dimensions[-1].sensitive
    True
    """

    dimensions: tuple[Dimension, ...]
    min_coverage: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        names = [d.name for d in self.dimensions]
        if not names or len(set(names)) != len(names):
            raise ConfigError("a profile spec needs dimensions with unique names",
                              key="dimensions", arrived=repr(names))
        for d in self.dimensions:
            if d.parent is not None and d.parent not in names:
                raise ConfigError("a sub-index's parent must be a dimension of the spec",
                                  key=f"Dimension({d.name!r}).parent", arrived=repr(d.parent))
        c = self.min_coverage
        if isinstance(c, bool) or not isinstance(c, int | float) or not 0 < c <= 1:
            raise ConfigError("min_coverage must be in (0, 1]", key="min_coverage",
                              arrived=repr(c))

    @classmethod
    def default(cls, *, include_wellbeing: bool = False) -> ProfileSpec:
        """Build the default dimensions (see ``docs/early-warning.md``).

        Parameters
        ----------
        include_wellbeing : bool, default False
            Add the sensitive well-being index.

        Returns
        -------
        ProfileSpec
        """
        dims = [
            Dimension(
                "academic", "Academic progress", "academics",
                (DimensionTerm({"family": "academic"}),),
                description="Assessment scores, submissions and credits, against the cohort.",
            ),
            Dimension(
                "engagement", "Regularity and engagement", "engagement",
                (DimensionTerm({"family": "behavioral"}),),
                description="Class attendance, LMS activity and the regularity of campus "
                "routines, against the cohort.",
            ),
            Dimension(
                "participation", "Participation", "participation",
                (DimensionTerm({"family": "participation"}),),
                description="Clubs, volunteering, sports, arts and labour activities across "
                "the five education dimensions.",
            ),
        ]
        for dim in EDUCATION_DIMENSIONS:
            dims.append(Dimension(
                f"participation_{dim}", f"{dim.capitalize()} education", dim,
                (DimensionTerm({"family": "participation", "dimension": dim}),),
                parent="participation",
                description=f"Participation in the {dim} education dimension.",
            ))
        if include_wellbeing:
            dims.append(Dimension(
                "wellbeing", "Well-being", "well-being",
                (DimensionTerm({"family": "wellbeing"}),),
                sensitive=True,
                description="Counselling and survey scales. Sensitive: opt-in only; not shown "
                "to advisors unless the institution decided so.",
            ))
        return cls(tuple(dims))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"dimensions": [d.to_dict() for d in self.dimensions],
                "min_coverage": float(self.min_coverage)}


@dataclass
class Profiles:
    """Dimension indices per (student, as-of date), with what they are made of.

    Attributes
    ----------
    indices : DataFrame
        Indexed by (``student_id``, ``as_of``), one column per dimension: cohort percentile
        (0-100), NaN when the student lacks the data.
    change : DataFrame
        Same shape: index minus the index at the student's previous as-of date.
    weights : DataFrame
        The resolved combination: ``dimension``, ``feature``, ``weight`` (normalised to sum to
        1 per dimension), ``direction`` (+1 higher is better, -1 lower is better), ``phrase``.
    dimensions : list of Dimension
        The dimensions computed (those with at least one feature), in spec order.
    spec : ProfileSpec
        The spec asked for.
    skipped : dict
        Dimensions of the spec left out, with the reason.
    """

    indices: pd.DataFrame
    change: pd.DataFrame
    weights: pd.DataFrame
    dimensions: list[Dimension]
    spec: ProfileSpec
    skipped: dict[str, str]

    def dimension(self, name: str) -> Dimension:
        """Return the :class:`Dimension` called ``name``."""
        for d in self.dimensions:
            if d.name == name:
                return d
        raise ConfigError("no such dimension in these profiles", key="dimension",
                          arrived=repr(name),
                          hint=f"use one of {[d.name for d in self.dimensions]!r}")

    def to_frame(self) -> pd.DataFrame:
        """Return indices and changes side by side (``<dim>`` and ``<dim>_change``)."""
        out = self.indices.copy()
        for d in self.indices.columns:
            out[f"{d}_change"] = self.change[d]
        return out


def _cohort_percentile(values: pd.DataFrame, groups: list[np.ndarray]) -> pd.DataFrame:
    """Mid-rank percentile (0-100) of each column within groups; NaN stays NaN."""
    ranks = values.groupby(groups, sort=False, dropna=False).rank(method="average")
    counts = values.notna().groupby(groups, sort=False, dropna=False).transform("sum")
    return (ranks - 0.5) / counts * 100.0


def build_profiles(
    X: pd.DataFrame,
    *,
    feature_info: Any = None,
    spec: ProfileSpec | None = None,
    include_wellbeing: bool = False,
    cohort: pd.Series | None = None,
) -> Profiles:
    """Dimension indices for every (student, as-of date) row of a feature matrix.

    Parameters
    ----------
    X : DataFrame
        Feature matrix indexed by (``student_id``, ``as_of``) (or with those columns).
    feature_info : mapping of FeatureInfo or a fitted FeatureBuilder, optional
        What each column means; the spec selects features through these records. Defaults to
        ``X.attrs["feature_info"]``, then to plain records (family "static": nothing selected).
    spec : ProfileSpec, optional
        The dimensions; :meth:`ProfileSpec.default` when omitted.
    include_wellbeing : bool, default False
        With the default spec, add the sensitive well-being index. A custom spec with a
        sensitive dimension also needs this set to True.
    cohort : Series, optional
        Cohort group of each student (indexed by ``student_id``), e.g. programme and year:
        percentiles are then taken within the group. Default: all students on the same date.

    Returns
    -------
    Profiles

    Raises
    ------
    ConfigError
        A sensitive dimension without ``include_wellbeing=True``, or no dimension with features.
    SchemaError
        Rows not keyed by student and date, or a selected column that is not numeric.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.features._info import FeatureInfo
    >>> X = pd.DataFrame({"student_id": ["ana", "ben", "cai"], "as_of": [30.0] * 3,
    ...                   "score": [72.0, 55.0, 40.0], "absent": [0.0, 2.0, 9.0]})
    >>> infos = {
    ...     "score": FeatureInfo("score", "academic", "assessment_score", "mean", "all",
    ...                          "mean assessment score", higher_is="better"),
    ...     "absent": FeatureInfo("absent", "behavioral", "class_attendance", "count", "30d",
    ...                           "classes missed", higher_is="worse")}
    >>> p = build_profiles(X, feature_info=infos)
    >>> p.indices.round(1)
                      academic  engagement
    student_id as_of
    ana        30.0       83.3        83.3
    ben        30.0       50.0        50.0
    cai        30.0       16.7        16.7
    """
    if spec is None:
        spec = ProfileSpec.default(include_wellbeing=include_wellbeing)
    if not isinstance(spec, ProfileSpec):
        raise ConfigError("spec must be a ProfileSpec", key="spec",
                          arrived=type(spec).__name__)
    sensitive = [d.name for d in spec.dimensions if d.sensitive]
    if sensitive and not include_wellbeing:
        raise ConfigError(
            "sensitive dimensions are computed only on request",
            key="include_wellbeing",
            arrived=f"spec with sensitive dimension(s) {sensitive!r}",
            hint="pass include_wellbeing=True if your institution has decided to use them",
        )
    frame = keyed_frame(X, table="features")
    feats = frame.drop(columns=["student_id", "as_of"])
    infos = infos_for(feats, feature_info)

    weight_rows: list[dict[str, Any]] = []
    used: list[Dimension] = []
    skipped: dict[str, str] = {}
    for dim in spec.dimensions:
        rows = _resolve_dimension(dim, infos)
        if not rows:
            skipped[dim.name] = "no feature matches its terms"
            continue
        used.append(dim)
        weight_rows.extend(rows)
    if not used:
        raise ConfigError(
            "no dimension of the profile spec matches any feature",
            key="spec",
            arrived=f"families in the data: {sorted({i.family for i in infos.values()})!r}",
            hint="pass feature_info (e.g. the builder's feature_info_) or a spec whose terms "
            "select your features",
        )
    weights = pd.DataFrame(weight_rows)
    columns = list(dict.fromkeys(weights["feature"]))
    values = pd.DataFrame(index=frame.index)
    for col in columns:
        v = feats[col]
        if not (pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype)):
            raise SchemaError(f"feature `{col}` must be numeric to enter a profile index",
                              table="features", column=col, rule="numeric",
                              arrived=f"dtype {v.dtype}",
                              hint="leave it out of the spec's terms")
        values[col] = v.to_numpy(dtype="float64", na_value=np.nan)
    groups = [frame["as_of"].to_numpy()]
    if cohort is not None:
        if not isinstance(cohort, pd.Series):
            raise ConfigError("cohort must be a Series indexed by student_id", key="cohort",
                              arrived=type(cohort).__name__)
        g = frame["student_id"].map(cohort)
        if g.isna().any():
            raise SchemaError("every student needs a cohort group", table="cohort",
                              rule="membership",
                              arrived=f"{int(g.isna().sum())} row(s) without a group",
                              hint="fill the cohort Series for every student")
        groups.append(g.astype(str).to_numpy())
    pct = _cohort_percentile(values, groups)

    raw = pd.DataFrame(index=frame.index)
    for dim in used:
        w = weights[weights["dimension"] == dim.name]
        cols = w["feature"].tolist()
        wv = w["weight"].to_numpy()
        sign = w["direction"].to_numpy()
        p = pct[cols].to_numpy()
        oriented = np.where(sign > 0, p, 100.0 - p)
        have = ~np.isnan(oriented)
        wsum = (have * wv).sum(axis=1)
        num = np.nansum(oriented * wv, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            idx = np.where(wsum >= spec.min_coverage - 1e-12, num / wsum, np.nan)
        raw[dim.name] = idx
    indices = _cohort_percentile(raw, groups)
    index = pd.MultiIndex.from_arrays(
        [frame["student_id"].to_numpy(), frame["as_of"].to_numpy()], names=["student_id", "as_of"]
    )
    indices.index = index
    order = np.lexsort((frame["as_of"].to_numpy(), pd.factorize(frame["student_id"])[0]))
    sorted_idx = indices.iloc[order]
    change_sorted = sorted_idx.groupby(level="student_id", sort=False).diff()
    change = change_sorted.reindex(index)
    logger.info("profiles: %d rows, %d dimension(s), %d skipped", len(indices), len(used),
                len(skipped))
    return Profiles(indices=indices, change=change, weights=weights, dimensions=used,
                    spec=spec, skipped=skipped)


def _resolve_dimension(dim: Dimension, infos: Mapping[str, FeatureInfo]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for term in dim.terms:
        picked = select_features(infos, term.select, key=f"Dimension({dim.name!r})")
        if "family" not in term.select:
            picked = [c for c in picked if infos[c].family != "static"]
        chosen = []
        for col in picked:
            info = infos[col]
            if term.direction == "higher_better":
                sign = 1
            elif term.direction == "higher_worse":
                sign = -1
            elif info.higher_is == "better":
                sign = 1
            elif info.higher_is == "worse":
                sign = -1
            else:
                continue
            if info.sensitivity == "audit":
                continue  # protected attributes never enter a profile
            chosen.append((col, sign, info))
        for col, sign, info in chosen:
            share = term.weight / len(chosen)
            if col in rows:
                rows[col]["weight"] += share
            else:
                rows[col] = {"dimension": dim.name, "feature": col, "weight": share,
                             "direction": sign, "phrase": info.phrase}
    total = sum(r["weight"] for r in rows.values())
    for r in rows.values():
        r["weight"] = r["weight"] / total
    return list(rows.values())


# ---------------------------------------------------------------------------------- types
def _type_name(center: Mapping[str, float], shorts: Mapping[str, str]) -> str:
    high = [shorts[d] for d, v in center.items() if v >= 60]
    low = [shorts[d] for d, v in center.items() if v <= 40]
    n = len(center)
    if n > 1 and len(high) == n:
        return "Strong across the board"
    if n > 1 and len(low) == n:
        return "Struggling across the board"
    parts = []
    if high:
        parts.append("Strong " + _join(high))
    if low:
        parts.append(("low " if parts else "Low ") + _join(low))
    return ", ".join(parts) if parts else "Middle of the cohort"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class ProfileTypes:
    """Profile types: k-means segments of the dimension indices, with plain-language names.

    Parameters
    ----------
    n_types : int, default 4
        Number of segments.
    dimensions : sequence of str, optional
        Indices to cluster on; default: every top-level, non-sensitive dimension.
    random_state : int, default 0
        Seed of k-means (results are reproducible).
    n_init : int, default 10
        k-means restarts.

    Attributes
    ----------
    centers_ : DataFrame
        One row per type (ids 0..n_types-1, from the lowest mean index to the highest), one
        column per dimension, in percentiles.
    names_ : dict of int to str
        Plain-language name of each type.
    dimensions_ : list of str
        The dimensions used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> idx = pd.MultiIndex.from_product([range(200), [0.0]], names=["student_id", "as_of"])
    >>> a = np.r_[rng.normal(80, 5, 100), rng.normal(25, 5, 100)]
    >>> e = np.r_[rng.normal(30, 5, 100), rng.normal(75, 5, 100)]
    >>> indices = pd.DataFrame({"academic": a, "engagement": e}, index=idx)
    >>> types = ProfileTypes(n_types=2).fit(indices)
    >>> sorted(types.names_.values())
    ['Strong academic, low engagement', 'Strong engagement, low academic']
    """

    def __init__(self, *, n_types: int = 4, dimensions: Sequence[str] | None = None,
                 random_state: int = 0, n_init: int = 10):
        self.n_types = n_types
        self.dimensions = dimensions
        self.random_state = random_state
        self.n_init = n_init

    def _indices(self, profiles: Profiles | pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
        if isinstance(profiles, Profiles):
            frame = profiles.indices
            shorts = {d.name: d.short for d in profiles.dimensions}
            default = [d.name for d in profiles.dimensions if d.parent is None and not d.sensitive]
        elif isinstance(profiles, pd.DataFrame):
            frame = profiles
            shorts = {str(c): str(c) for c in frame.columns}
            default = [str(c) for c in frame.columns]
        else:
            raise SchemaError("profiles must be Profiles or a DataFrame of indices",
                              table="profiles", rule="dataframe",
                              arrived=type(profiles).__name__)
        dims = list(self.dimensions) if self.dimensions is not None else default
        missing = [d for d in dims if d not in frame.columns]
        if missing or not dims:
            raise ConfigError("the profile types need dimensions present in the indices",
                              key="dimensions", arrived=repr(missing or dims),
                              hint=f"use some of {list(frame.columns)!r}")
        return frame[dims], shorts

    def fit(self, profiles: Profiles | pd.DataFrame) -> ProfileTypes:
        """Cluster the indices of every row (all as-of dates pooled).

        Parameters
        ----------
        profiles : Profiles or DataFrame
            :func:`build_profiles` output, or a frame of indices (percentiles).

        Returns
        -------
        ProfileTypes
        """
        from sklearn.cluster import KMeans

        if isinstance(self.n_types, bool) or not isinstance(self.n_types, int) \
                or self.n_types < 1:
            raise ConfigError("n_types must be a positive integer", key="n_types",
                              arrived=repr(self.n_types))
        frame, shorts = self._indices(profiles)
        data = self._matrix(frame)
        ok = ~np.isnan(frame.to_numpy()).all(axis=1)
        if ok.sum() < self.n_types:
            raise SchemaError("too few students with indices for this many types",
                              table="profiles", rule="non-empty",
                              arrived=f"{int(ok.sum())} row(s) for {self.n_types} types",
                              hint="lower n_types")
        km = KMeans(n_clusters=self.n_types, random_state=self.random_state,
                    n_init=self.n_init).fit(data[ok])
        centers = km.cluster_centers_ * 100.0
        order = np.argsort(centers.mean(axis=1), kind="stable")
        self.kmeans_ = km
        self._relabel = np.empty(self.n_types, dtype="int64")
        self._relabel[order] = np.arange(self.n_types)
        self.dimensions_ = list(frame.columns)
        self.centers_ = pd.DataFrame(centers[order], columns=self.dimensions_)
        self.centers_.index.name = "type"
        names = [_type_name(dict(zip(self.dimensions_, row, strict=True)), shorts)
                 for row in centers[order].tolist()]
        seen: dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        counter: dict[str, int] = {}
        final = []
        for name in names:
            if seen[name] > 1:
                counter[name] = counter.get(name, 0) + 1
                final.append(f"{name} ({counter[name]})")
            else:
                final.append(name)
        self.names_ = dict(enumerate(final))
        return self

    @staticmethod
    def _matrix(frame: pd.DataFrame) -> np.ndarray:
        # a missing index sits at the cohort median (50) for clustering
        return np.nan_to_num(frame.to_numpy(dtype="float64"), nan=50.0) / 100.0

    def predict(self, profiles: Profiles | pd.DataFrame) -> pd.Series:
        """Type id of every row (``<NA>`` for a row with no index at all).

        Parameters
        ----------
        profiles : Profiles or DataFrame
            Indices with the fitted dimensions.

        Returns
        -------
        Series of Int64
            Indexed like the indices.
        """
        if not hasattr(self, "kmeans_"):
            raise NotFittedError("this ProfileTypes is not fitted yet", hint="call fit first")
        frame, _ = self._indices(profiles)
        frame = frame[self.dimensions_]
        labels = self._relabel[self.kmeans_.predict(self._matrix(frame))]
        out = pd.Series(labels, index=frame.index, dtype="Int64", name="profile_type")
        out[np.isnan(frame.to_numpy()).all(axis=1)] = pd.NA
        return out

    def stability(self, profiles: Profiles | pd.DataFrame) -> pd.DataFrame:
        """How much students move between types from one as-of date to the next.

        Parameters
        ----------
        profiles : Profiles or DataFrame
            Indices over several as-of dates.

        Returns
        -------
        DataFrame
            One row per pair of consecutive as-of dates: ``as_of_previous``, ``as_of``,
            ``n_students`` (with a type on both), ``adjusted_rand`` (1 = same partition, about
            0 = as if reshuffled at random) and ``same_type`` (share keeping their type).
        """
        from sklearn.metrics import adjusted_rand_score

        labels = self.predict(profiles)
        frame = labels.reset_index()
        dates = np.sort(np.asarray(pd.unique(frame["as_of"])))
        rows = []
        for prev, cur in zip(dates[:-1], dates[1:], strict=True):
            a = frame[frame["as_of"] == prev].set_index("student_id")["profile_type"]
            b = frame[frame["as_of"] == cur].set_index("student_id")["profile_type"]
            both = a.dropna().index.intersection(b.dropna().index)
            if len(both) == 0:
                rows.append({"as_of_previous": prev, "as_of": cur, "n_students": 0,
                             "adjusted_rand": np.nan, "same_type": np.nan})
                continue
            x = a.loc[both].to_numpy(dtype="int64")
            y = b.loc[both].to_numpy(dtype="int64")
            rows.append({"as_of_previous": prev, "as_of": cur, "n_students": int(len(both)),
                         "adjusted_rand": float(adjusted_rand_score(x, y)),
                         "same_type": float((x == y).mean())})
        return pd.DataFrame(rows, columns=["as_of_previous", "as_of", "n_students",
                                           "adjusted_rand", "same_type"])
