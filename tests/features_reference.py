"""Slow, obviously correct references for the feature builder (pandas, fractions, plain Python).

Every function here follows the definitions in docs/features.md literally, one grid row at a time.
"""

from __future__ import annotations

import math
from fractions import Fraction
from statistics import stdev

import numpy as np
import pandas as pd
from scipy.stats import entropy as scipy_entropy

from studentprofile.features import AGGREGATES, EventFeatures, FeatureBuilder, FeatureSpec
from studentprofile.tables import EventTables

NS_PER_DAY = 86_400 * 10**9


def ref_lz_entropy(seq: list[int]) -> float:
    """Literal LZ estimator: L_i = length of the shortest substring starting at i not in seq[:i]."""
    n = len(seq)
    if n == 0:
        return math.nan
    if n == 1:
        return 0.0
    total = 0
    for i in range(n):
        past = seq[:i]
        length = 1
        while i + length <= n and _contains(past, seq[i:i + length]):
            length += 1
        total += length
    return n * math.log2(n) / total


def _contains(big: list[int], small: list[int]) -> bool:
    m = len(small)
    return any(big[j:j + m] == small for j in range(len(big) - m + 1))


def ref_entropy(counts: list[int]) -> float:
    counts = [c for c in counts if c > 0]
    if not counts:
        return math.nan
    return float(scipy_entropy(counts, base=2))


def _exact_slope(x: list[float], y: list[float]) -> float:
    fx = [Fraction(v) for v in x]
    fy = [Fraction(v) for v in y]
    n = len(fx)
    mx = sum(fx) / n
    my = sum(fy) / n
    sxx = sum((a - mx) ** 2 for a in fx)
    if sxx == 0:
        return math.nan
    sxy = sum((a - mx) * (b - my) for a, b in zip(fx, fy, strict=True))
    return float(sxy / sxx)


class Reference:
    """Per-row reference computations on one EventTables."""

    def __init__(self, tables: EventTables):
        self.tables = tables
        self.kind = tables.time_kind
        ev = tables.events.copy()
        if self.kind == "datetime":
            ev["_t"] = ev["time"].astype("datetime64[ns]").astype("int64")
            ev["_k"] = ev["known_at"].astype("datetime64[ns]").astype("int64")
            tz = tables.report.timezone
            if tz is not None and tz != "UTC":
                local = (
                    ev["time"].dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
                )
            else:
                local = ev["time"]
            ev["_local"] = local.astype("datetime64[ns]").astype("int64")
            self.day = NS_PER_DAY
        else:
            ev["_t"] = ev["time"].astype(float)
            ev["_k"] = ev["known_at"].astype(float)
            ev["_local"] = ev["_t"]
            self.day = 1.0
        self.ev = ev
        self._cache: dict = {}
        st = tables.students
        self.term = dict(zip(st["student_id"], st["term_start"], strict=True)) \
            if "term_start" in st.columns else None
        if self.kind == "datetime":
            self.dow_shift = 3
        else:
            self.dow_shift = tables.time_origin.weekday() if tables.time_origin is not None else 0

    def _as_units(self, value):
        if self.kind == "datetime":
            return int(pd.Timestamp(value).value)
        return float(value)

    def window_events(self, entry: EventFeatures, student, as_of, window: str):
        """Events of the entry in the window; None when the window is undefined (cached)."""
        key = (entry.family, entry.kinds, student, as_of, window)
        if key not in self._cache:
            self._cache[key] = self._window_events(entry, student, as_of, window)
        return self._cache[key]

    def _window_events(self, entry: EventFeatures, student, as_of, window: str):
        ev = self.ev
        a = self._as_units(as_of)
        sel = ev[ev["student_id"] == student]
        if entry.family is not None:
            sel = sel[sel["family"].astype(str) == entry.family]
        if entry.kinds is not None:
            sel = sel[sel["kind"].astype(str).isin(entry.kinds)]
        sel = sel[(sel["_k"] < a) & (sel["_t"] < a)]
        if window == "all":
            return sel
        if window == "term":
            ts = self.term[student] if self.term is not None else None
            if ts is None or pd.isna(ts):
                return None
            return sel[sel["_t"] >= self._as_units(ts)]
        days = float(window[:-1])
        width = round(days * NS_PER_DAY) if self.kind == "datetime" else days
        return sel[sel["_t"] >= a - width]

    def aggregate(self, entry: EventFeatures, aggregate: str, student, as_of, window: str):
        w = self.window_events(entry, student, as_of, window)
        if w is None:
            return math.nan
        a = self._as_units(as_of)
        day = self.day
        vals = w["value"].dropna()
        if aggregate == "count":
            return float(len(w))
        if aggregate == "sum":
            return exact_sum(vals)
        if aggregate == "mean":
            return exact_mean(vals)
        if aggregate == "min":
            return float(vals.min()) if len(vals) else math.nan
        if aggregate == "max":
            return float(vals.max()) if len(vals) else math.nan
        if aggregate == "std":
            return exact_std(vals.tolist())
        if aggregate in ("first", "last"):
            srt = w.sort_values(["_t", "_k", "value"], na_position="last", kind="stable")
            srt = srt[srt["value"].notna()]
            if not len(srt):
                return math.nan
            return float(srt["value"].iloc[0 if aggregate == "first" else -1])
        if aggregate == "slope":
            valid = w[w["value"].notna()]
            if len(valid) < 2:
                return math.nan
            x = [(t - a) / day for t in valid["_t"].tolist()]
            return _exact_slope(x, valid["value"].tolist())
        if aggregate == "days_since_last":
            return (a - w["_t"].max()) / day if len(w) else math.nan
        if aggregate == "longest_gap":
            if not len(w):
                return math.nan
            pts = sorted(w["_t"].tolist()) + [a]
            return max(b - c for c, b in zip(pts[:-1], pts[1:], strict=True)) / day
        if aggregate == "share":
            both = w[w["value"].notna() & w["max_value"].notna()]
            if not len(both):
                return math.nan
            num = sum(map(Fraction, both["value"].tolist()), Fraction(0))
            den = sum(map(Fraction, both["max_value"].tolist()), Fraction(0))
            return _to_float(num / den)
        local = w["_local"].tolist()
        if self.kind == "datetime":
            days = [c // day for c in local]
            into = [c - d * day for c, d in zip(local, days, strict=True)]
        else:
            days = [math.floor(c) for c in local]
            into = [c - d for c, d in zip(local, days, strict=True)]
        if aggregate == "active_days":
            return float(len(set(days)))
        if aggregate == "tod_entropy":
            bins = entry.tod_bins
            counts = [0] * bins
            for x in into:
                counts[min(int((x * bins) // day), bins - 1)] += 1
            return ref_entropy(counts)
        if aggregate == "dow_entropy":
            counts = [0] * 7
            for d in days:
                counts[(int(d) + self.dow_shift) % 7] += 1
            return ref_entropy(counts)
        if aggregate == "lz_entropy":
            first: dict[int, float] = {}
            for d, x in zip(days, into, strict=True):
                if d not in first or x < first[d]:
                    first[d] = x
            bins = entry.lz_bins
            seq = [min(int((first[d] * bins) // day), bins - 1) for d in sorted(first)]
            return ref_lz_entropy(seq)
        raise AssertionError(aggregate)

    def entry_frame(self, entry: EventFeatures, grid: pd.DataFrame) -> pd.DataFrame:
        """Every base column of the entry for every grid row."""
        data = {}
        for w in entry.windows:
            for agg in entry.aggregates:
                col = f"{entry.prefix}_{agg}_{w}"
                data[col] = [
                    self.aggregate(entry, agg, s, a, w)
                    for s, a in zip(grid["student_id"], grid["as_of"], strict=True)
                ]
        return pd.DataFrame(data)


def exact_sum(vals) -> float:
    """The sum rounded once (exact fractions): inf only when the true sum overflows."""
    vals = [float(v) for v in vals]
    if not all(math.isfinite(v) for v in vals):
        with np.errstate(invalid="ignore", over="ignore"):
            return float(np.sum(vals))  # IEEE rules for inf and NaN
    return _to_float(sum(map(Fraction, vals), Fraction(0)))


def exact_mean(vals) -> float:
    """The mean rounded once (exact fractions); finite whenever the values are."""
    vals = [float(v) for v in vals]
    if not vals:
        return math.nan
    if not all(math.isfinite(v) for v in vals):
        with np.errstate(invalid="ignore", over="ignore"):
            return float(np.mean(vals))
    return _to_float(sum(map(Fraction, vals), Fraction(0)) / len(vals))


def exact_std(vals) -> float:
    """The sample standard deviation (ddof 1) by Python's exact ``statistics.stdev``."""
    vals = [float(v) for v in vals]
    if len(vals) < 2:
        return math.nan
    if not all(math.isfinite(v) for v in vals):
        with np.errstate(invalid="ignore", over="ignore"):
            return float(np.std(vals, ddof=1))
    try:
        return float(stdev(vals))
    except OverflowError:  # the true spread is beyond the largest float
        return math.inf


def _to_float(q: Fraction) -> float:
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def ref_cohort(values: pd.Series, groups: pd.Series, how: str) -> pd.Series:
    """Cohort statistic of ``values`` within ``groups`` (one as-of date), pandas style."""
    # inf - inf in pandas' own arithmetic warns; NaN is the answer we compare against
    with np.errstate(invalid="ignore", over="ignore"):
        return _ref_cohort(values, groups, how)


def _ref_cohort(values: pd.Series, groups: pd.Series, how: str) -> pd.Series:
    df = pd.DataFrame({"x": values.to_numpy(), "g": groups.to_numpy()})
    out = pd.Series(np.nan, index=df.index)
    for _, part in df[df["g"].notna()].groupby("g"):
        x = part["x"]
        valid = x.dropna()
        if len(valid) and np.isfinite(valid.to_numpy()).all():
            out[part.index] = _exact_cohort(x, valid, how)
            continue
        if how == "mean":
            out[part.index] = valid.mean() if len(valid) else np.nan
        elif how == "ratio":
            m = valid.mean() if len(valid) else np.nan
            out[part.index] = x / m if (len(valid) and m != 0) else np.nan
        elif how == "zscore":
            if len(valid) < 2:
                continue
            sd = valid.std(ddof=1)
            if np.isnan(sd):  # an infinite value: no spread to compare with
                continue
            out[part.index] = (x - valid.mean()) / sd if sd > 0 else x * 0.0
        elif how == "percentile":
            r = x.rank(method="average")  # NaN stay NaN
            out[part.index] = (r - 0.5) / len(valid)
    return out


def _exact_cohort(x: pd.Series, valid: pd.Series, how: str) -> np.ndarray:
    """Cohort statistics of finite values in exact arithmetic (huge values included)."""
    mean = sum(map(Fraction, valid.tolist()), Fraction(0)) / len(valid)
    xs = x.tolist()
    if how == "mean":
        return np.full(len(xs), _to_float(mean))
    if how == "ratio":
        if mean == 0:
            return np.full(len(xs), np.nan)
        return np.array([np.nan if math.isnan(v) else _to_float(Fraction(v) / mean)
                         if math.isfinite(v) else v / float(mean) for v in xs])
    if how == "zscore":
        if len(valid) < 2:
            return np.full(len(xs), np.nan)
        sd = exact_std(valid.tolist())
        if sd == 0:
            return np.array([np.nan if math.isnan(v) else 0.0 for v in xs])
        return np.array([np.nan if math.isnan(v) else _to_float((Fraction(v) - mean)
                                                                 / Fraction(sd)) for v in xs])
    r = x.rank(method="average")  # percentile: NaN stay NaN
    return ((r - 0.5) / len(valid)).to_numpy()


# ------------------------------------------------------------------------------ strategies
from hypothesis import strategies as st  # noqa: E402

KIND_POOL = [("behavioral", "a"), ("behavioral", "b"), ("academic", "c")]
ORIGIN = pd.Timestamp("2024-03-25")  # a week before the European change to summer time

# times in days: coarse ties, fine values, huge gaps
day_times = st.one_of(
    st.integers(0, 320).map(lambda x: x / 8),
    st.floats(0, 40, allow_nan=False).map(lambda x: round(x, 6)),
    st.sampled_from([0.0, 400.0, 1000.0, 1000.5]),
)
event_values = st.one_of(
    st.just(math.nan),
    st.integers(-40, 40).map(lambda x: x / 2),
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)


@st.composite
def feature_case(draw, time_kind=None, timezone=None, max_events=30):
    """(tables, grid): a few students, events with ties/NaN/gaps/delays, a random grid."""
    kind = time_kind or draw(st.sampled_from(["float", "datetime"]))
    n_students = draw(st.integers(1, 4))
    ids = [f"s{i}" for i in range(n_students)]
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_students - 1),
                day_times,
                st.one_of(st.just(0.0), st.just(0.0), st.integers(0, 160).map(lambda x: x / 8)),
                st.sampled_from(KIND_POOL),
                event_values,
                st.one_of(st.just(math.nan), st.integers(1, 20).map(float)),
            ),
            max_size=max_events,
        )
    )
    students = pd.DataFrame(
        {
            "student_id": ids,
            "cohort": draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n_students,
                                    max_size=n_students)),
            "term_start": draw(st.lists(st.one_of(st.just(math.nan), day_times),
                                        min_size=n_students, max_size=n_students)),
        }
    )
    events = pd.DataFrame(
        {
            "student_id": pd.Series([ids[r[0]] for r in rows], dtype=object),
            "time": pd.Series([r[1] for r in rows], dtype=float),
            "known_at": pd.Series([r[1] + r[2] for r in rows], dtype=float),
            "family": pd.Series([r[3][0] for r in rows], dtype=object),
            "kind": pd.Series([r[3][1] for r in rows], dtype=object),
            "value": pd.Series([r[4] for r in rows], dtype=float),
            "max_value": pd.Series([r[5] for r in rows], dtype=float),
        }
    )
    n_grid = draw(st.integers(1, 8))
    grid = pd.DataFrame(
        {
            "student_id": draw(st.lists(st.sampled_from(ids), min_size=n_grid, max_size=n_grid)),
            "as_of": draw(st.lists(day_times.map(lambda x: x + 0.5), min_size=n_grid,
                                   max_size=n_grid)),
        }
    )
    if kind == "datetime":
        def to_dt(s):
            out = ORIGIN + pd.to_timedelta(s, unit="D")
            if not timezone:
                return out
            return out.dt.tz_localize(timezone, ambiguous=np.zeros(len(out), dtype=bool),
                                      nonexistent="shift_forward")

        for col in ("time", "known_at"):
            events[col] = to_dt(events[col]).dt.round("s")
        students["term_start"] = to_dt(students["term_start"])
        grid["as_of"] = to_dt(grid["as_of"])
    tables = EventTables(students=students, events=events, check_duplicates=False)
    return tables, grid


# ------------------------------------------- shared by the builder's test files
ALL_AGGS = list(AGGREGATES)
WINDOWS = [3, 10, "all", "term"]


def assert_same(ours: np.ndarray, ref: np.ndarray, what: str = "") -> None:
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=what)


def assert_frames_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index)
    # bit for bit, NaN equal to NaN
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


PROP_SPEC = FeatureSpec(
    [
        EventFeatures(("a", "b"), family="behavioral", aggregates=ALL_AGGS, windows=WINDOWS,
                      relative=["zscore", "percentile", "ratio"], missing="cohort_mean",
                      flag_missing=True),
        EventFeatures("c", aggregates=["mean", "last", "slope", "share"], windows=["all", 5],
                      relative=["zscore"]),
    ]
)


def build(tables, grid, builder=None):
    b = builder or FeatureBuilder(PROP_SPEC, on_absent_kind="keep")
    return b.fit_transform(tables, grid)
