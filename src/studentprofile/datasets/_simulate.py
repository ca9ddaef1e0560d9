"""A seeded synthetic campus with a known ground truth, vectorised with numpy.

The generative model (every coefficient below) is documented in ``docs/datasets.md`` under
"Campus simulator"; keep the two in step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, overload

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.tables import EventTables
from studentprofile.tables._time import as_moment

__all__ = ["CALENDAR", "TRUTH", "simulate_campus"]

_DAY = 86_400
_HOUR = 3_600
_MINUTE = 60


# --------------------------------------------------------------------------------- constants
@dataclass(frozen=True)
class _Calendar:
    """The academic year, in weeks counted from ``start`` (week 0 holds day 0)."""

    s1_teaching: tuple[int, int] = (0, 14)
    s1_exams: tuple[int, int] = (14, 16)
    winter_break: tuple[int, int] = (16, 20)
    s2_teaching: tuple[int, int] = (20, 34)
    s2_exams: tuple[int, int] = (34, 36)
    #: days after the last exam day at which exam marks are published
    results_delay_days: int = 14
    #: fraction of students on campus on a break day (card swipes scale with it)
    break_presence: float = 0.08

    @property
    def term_end_day(self) -> int:
        """Day the academic year ends (after the second exam period); failures are dated here."""
        return self.s2_exams[1] * 7


@dataclass(frozen=True)
class _Truth:
    """Coefficients of the generative model (log-odds unless stated)."""

    # withdrawal: logit p = w0 + w_engagement*z_e + w_regularity*z_r + w_ability*z_a + bias*g
    withdraw_intercept: float = -2.6
    withdraw_engagement: float = -0.9
    withdraw_regularity: float = -0.7
    withdraw_ability: float = -0.5
    # failure (students who do not withdraw):
    # logit p = f0 + f_ability*z_a + f_engagement*z_e + f_trend*trend + f_shock*severity + bias*g
    fail_intercept: float = -2.2
    fail_ability: float = -1.2
    fail_engagement: float = -0.4
    fail_trend: float = -0.6
    fail_shock: float = 1.5
    # shocks
    recovering_shock_rate: float = 0.15  # share of non-withdrawers with a passing shock
    recovering_severity: tuple[float, float] = (0.3, 0.8)
    ramp_days: int = 21  # withdrawers: disruption rises linearly from 0 to 1 over these days
    lag_days: tuple[int, int] = (21, 56)  # onset -> withdrawal, uniform inclusive
    recover_rise_days: int = 14
    recover_fall_days: int = 28
    earliest_onset_day: int = 14
    # correlations of the latent traits (all standard normal)
    ability_on_regularity: float = 0.4
    ability_on_engagement: float = 0.3
    participation_on_engagement: float = 0.5


CALENDAR = _Calendar()
TRUTH = _Truth()

_PROGRAMS = (
    ("CS", "Computer Science"),
    ("MA", "Mathematics"),
    ("PH", "Physics"),
    ("CH", "Chemistry"),
    ("BI", "Biology"),
    ("EC", "Economics"),
    ("BU", "Business"),
    ("LA", "Law"),
    ("HI", "History"),
    ("LI", "Literature"),
    ("PS", "Psychology"),
    ("NU", "Nursing"),
    ("ME", "Mechanical Engineering"),
    ("EE", "Electrical Engineering"),
    ("AR", "Architecture"),
    ("FA", "Fine Arts"),
)

# kind -> (family, max_value, education dimension or None)
_KINDS: tuple[tuple[str, str, float, str | None], ...] = (
    ("class_attendance", "behavioral", 1.0, None),
    ("lms_click", "behavioral", math.nan, None),
    ("canteen_swipe", "behavioral", math.nan, None),
    ("shower_swipe", "behavioral", math.nan, None),
    ("library_entry", "behavioral", math.nan, None),
    ("dorm_entry", "behavioral", math.nan, None),
    ("quiz_score", "academic", 100.0, None),
    ("coursework_score", "academic", 100.0, None),
    ("exam_score", "academic", 100.0, None),
    ("assessment_missed", "academic", math.nan, None),
    ("volunteer_service", "participation", math.nan, "moral"),
    ("academic_club", "participation", math.nan, "intellectual"),
    ("sport_session", "participation", math.nan, "physical"),
    ("arts_activity", "participation", math.nan, "aesthetic"),
    ("labour_duty", "participation", math.nan, "labour"),
    ("wellbeing_score", "wellbeing", 70.0, None),
    ("stress_score", "wellbeing", 40.0, None),
    ("counselling_visit", "wellbeing", math.nan, None),
)
_KIND_CODE = {k[0]: i for i, k in enumerate(_KINDS)}
_FAMILIES = ("academic", "behavioral", "participation", "wellbeing")
_DIMENSIONS = ("moral", "intellectual", "physical", "aesthetic", "labour")

#: audit attribute -> (values, probabilities)
_AUDIT: dict[str, tuple[tuple[Any, ...], tuple[float, ...]]] = {
    "gender": (("F", "M", "X"), (0.52, 0.47, 0.01)),
    "first_generation": ((False, True), (0.65, 0.35)),
    "disability": ((False, True), (0.92, 0.08)),
    "region": (("local", "domestic", "international"), (0.45, 0.45, 0.10)),
}
_AUDIT_ATTRIBUTES = ("gender", "first_generation", "disability", "age_band", "region")
_AGE_BANDS = ("<=20", "21-24", "25+")

# participation: base events per week and the education dimension
_PARTICIPATION = (
    ("volunteer_service", 0.25),
    ("academic_club", 0.45),
    ("sport_session", 1.0),
    ("arts_activity", 0.35),
    ("labour_duty", 0.30),
)

_DEFAULT_DUPLICATE_CHECK_LIMIT = 2_000_000
#: about 4.5 events and 90 bytes at peak per student-day: 50M student-days ~ 225M events
_MAX_STUDENT_DAYS = 50_000_000


def _from_codes(codes: np.ndarray, categories: Any) -> pd.Categorical:
    """Build a categorical from integer codes (-1 = missing) and text labels."""
    dtype = pd.CategoricalDtype(pd.Index(list(categories), dtype=object))
    return cast(pd.Categorical, pd.Categorical.from_codes(np.asarray(codes), dtype=dtype))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# -------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class _Params:
    n_students: int
    days: int
    seed: int
    start: pd.Timestamp
    n_programs: int
    courses_per_term: int
    wellbeing: bool
    bias_attribute: str
    bias_value: Any
    outcome_bias: float
    measurement_bias: float


def _int_param(value: Any, key: str, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(
            f"{key} must be a whole number from {low:,} to {high:,}",
            key=key,
            arrived=repr(value),
            hint=hint,
        )
    if not low <= int(value) <= high:
        raise ConfigError(
            f"{key} must be from {low:,} to {high:,}", key=key, arrived=repr(value), hint=hint
        )
    return int(value)


def _validate(
    n_students: Any,
    days: Any,
    seed: Any,
    start: Any,
    n_programs: Any,
    courses_per_term: Any,
    wellbeing: Any,
    bias_group: Any,
    outcome_bias: Any,
    measurement_bias: Any,
    return_truth: Any,
    check_duplicates: Any,
) -> _Params:
    n = _int_param(n_students, "n_students", 1, 5_000_000, "pass e.g. n_students=1000")
    d = _int_param(
        days,
        "days",
        1,
        366,
        "the simulator covers one academic year; pass days from 1 to 366 (e.g. 365)",
    )
    if n * d > _MAX_STUDENT_DAYS:
        raise ConfigError(
            f"n_students x days must be at most {_MAX_STUDENT_DAYS:,} student-days",
            key="n_students",
            arrived=f"n_students={n:,}, days={d} ({n * d:,} student-days, about "
            f"{n * d * 4.5 / 1e6:,.0f} million events)",
            hint="simulate fewer students or days (20,000 students over 365 days is about "
            "33 million events and 1.5 GB)",
        )
    s = _int_param(seed, "seed", 0, 2**63 - 1, "pass a non-negative integer, e.g. seed=0")
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            "start must be a date", key="start", arrived=repr(start), hint="pass e.g. '2024-09-02'"
        ) from exc
    if ts is pd.NaT or ts.tzinfo is not None:
        raise ConfigError(
            "start must be a naive calendar date",
            key="start",
            arrived=repr(start),
            hint="pass e.g. '2024-09-02' (no timezone)",
        )
    ts = as_moment(ts, "datetime", key="start").normalize()  # the tables' range of dates
    p = _int_param(
        n_programs, "n_programs", 1, len(_PROGRAMS), f"pass 1 to {len(_PROGRAMS)} programs"
    )
    c = _int_param(courses_per_term, "courses_per_term", 1, 8, "pass 1 to 8 courses per term")
    for key, flag in (("wellbeing", wellbeing), ("return_truth", return_truth)):
        if not isinstance(flag, bool | np.bool_):
            raise ConfigError(
                f"{key} must be True or False", key=key, arrived=repr(flag), hint=f"pass {key}=True"
            )
    if check_duplicates is not None and not isinstance(check_duplicates, bool | np.bool_):
        raise ConfigError(
            "check_duplicates must be True, False or None",
            key="check_duplicates",
            arrived=repr(check_duplicates),
            hint="None checks only small simulations (up to 2,000,000 events)",
        )
    if (
        not isinstance(bias_group, tuple | list)
        or len(bias_group) != 2
        or bias_group[0] not in _AUDIT
        or bias_group[1] not in _AUDIT[bias_group[0]][0]
    ):
        choices = "; ".join(f"{k}: {list(v[0])!r}" for k, v in _AUDIT.items())
        raise ConfigError(
            "bias_group must be (audit attribute, value) naming a simulated group",
            key="bias_group",
            arrived=repr(bias_group),
            hint=f"use one of {choices}, e.g. ('first_generation', True)",
        )
    ob = _float_param(outcome_bias, "outcome_bias", -5.0, 5.0, closed_high=True)
    mb = _float_param(measurement_bias, "measurement_bias", 0.0, 1.0, closed_high=False)
    return _Params(
        n_students=n,
        days=d,
        seed=s,
        start=ts,
        n_programs=p,
        courses_per_term=c,
        wellbeing=bool(wellbeing),
        bias_attribute=str(bias_group[0]),
        bias_value=bias_group[1],
        outcome_bias=ob,
        measurement_bias=mb,
    )


def _float_param(value: Any, key: str, low: float, high: float, *, closed_high: bool) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    inside = low <= v <= high if closed_high else low <= v < high
    if not ok or not math.isfinite(v) or not inside:
        right = "]" if closed_high else ")"
        raise ConfigError(
            f"{key} must be a number in [{low:g}, {high:g}{right}",
            key=key,
            arrived=repr(value),
            hint=f"pass e.g. {key}=0.0 (no bias)",
        )
    return v


# ---------------------------------------------------------------------------------- calendar
@dataclass
class _Days:
    """Per-day calendar arrays for days 0..days-1."""

    weekday: np.ndarray  # 0 = Monday
    phase: np.ndarray  # 0 s1 teaching, 1 s1 exams, 2 winter, 3 s2 teaching, 4 s2 exams, 5 summer
    presence: np.ndarray  # float32 share of the day a student is on campus

    @property
    def n(self) -> int:
        return len(self.weekday)


def _calendar_days(start: pd.Timestamp, days: int) -> _Days:
    d = np.arange(days)
    week = d // 7
    cal = CALENDAR
    phase = np.full(days, 5, dtype=np.int8)
    for code, (lo, hi) in enumerate(
        (cal.s1_teaching, cal.s1_exams, cal.winter_break, cal.s2_teaching, cal.s2_exams)
    ):
        phase[(week >= lo) & (week < hi)] = code
    presence = np.where(np.isin(phase, (0, 1, 3, 4)), 1.0, cal.break_presence).astype(np.float32)
    weekday = ((start.weekday() + d) % 7).astype(np.int8)
    return _Days(weekday=weekday, phase=phase, presence=presence)


# ------------------------------------------------------------------------------ event parts
class _Parts:
    """Collects event columns family by family and assembles one frame at the end."""

    def __init__(self) -> None:
        self.sidx: list[np.ndarray] = []
        self.sec: list[np.ndarray] = []
        self.known: list[np.ndarray] = []
        self.kind: list[np.ndarray] = []
        self.value: list[np.ndarray] = []
        self.course: list[np.ndarray] = []

    def add(
        self,
        kind: str,
        sidx: np.ndarray,
        sec: np.ndarray,
        value: np.ndarray,
        *,
        known: np.ndarray | None = None,
        course: np.ndarray | None = None,
    ) -> None:
        n = len(sidx)
        if n == 0:
            return
        self.sidx.append(sidx.astype(np.int32, copy=False))
        self.sec.append(sec.astype(np.int64, copy=False))
        self.known.append(sec.astype(np.int64) if known is None else known.astype(np.int64))
        self.kind.append(np.full(n, _KIND_CODE[kind], dtype=np.int8))
        self.value.append(value.astype(np.float64, copy=False))
        self.course.append(
            np.full(n, -1, dtype=np.int16) if course is None else course.astype(np.int16)
        )

    def frame(self, ids: np.ndarray, start: pd.Timestamp, courses: list[str]) -> pd.DataFrame:
        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            out = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
            parts.clear()
            return out

        kind = cat(self.kind, np.int8)
        origin = start.to_datetime64().astype("datetime64[ns]").astype(np.int64)
        sec = cat(self.sec, np.int64)
        time = (sec * 1_000_000_000 + origin).view("datetime64[ns]")
        del sec
        known = cat(self.known, np.int64)
        known_at = (known * 1_000_000_000 + origin).view("datetime64[ns]")
        del known
        sidx = cat(self.sidx, np.int32)
        student = ids[sidx]
        del sidx
        fam_of_kind = np.array([_FAMILIES.index(k[1]) for k in _KINDS], dtype=np.int8)
        max_of_kind = np.array([k[2] for k in _KINDS], dtype=np.float64)
        dim_of_kind = np.array(
            [-1 if k[3] is None else _DIMENSIONS.index(k[3]) for k in _KINDS], dtype=np.int8
        )
        kind_names = [k[0] for k in _KINDS]
        frame = pd.DataFrame(
            {
                "student_id": student,
                "time": time,
                "known_at": known_at,
                "family": _from_codes(fam_of_kind[kind], _FAMILIES),
                "kind": _from_codes(kind, kind_names),
                "value": cat(self.value, np.float64),
                "max_value": max_of_kind[kind],
                "course_id": _from_codes(cat(self.course, np.int16), courses),
                "dimension": _from_codes(dim_of_kind[kind], _DIMENSIONS),
            },
            copy=False,
        )
        return frame


# ------------------------------------------------------------------------------- simulation
@dataclass
class _Latent:
    z_e: np.ndarray  # engagement
    z_r: np.ndarray  # regularity (orderliness), standard normal
    r: np.ndarray  # regularity on (0, 1)
    z_a: np.ndarray  # academic ability
    trend: np.ndarray  # score trend over the year
    z_p: np.ndarray  # participation propensity
    group: np.ndarray  # bool: in the bias group


@dataclass
class _Fate:
    p_withdraw: np.ndarray
    withdraws: np.ndarray
    shock: np.ndarray
    onset: np.ndarray  # float day, NaN without shock
    severity: np.ndarray
    withdraw_day: np.ndarray  # float, NaN if the student does not withdraw
    p_fail: np.ndarray
    fails: np.ndarray
    gone: np.ndarray  # int day from which the student is no longer active (days if never)


def _students(
    rng: np.random.Generator, p: _Params
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, _Latent]:
    n = p.n_students
    ids = np.arange(100_001, 100_001 + n, dtype=np.int64)
    program = rng.integers(0, p.n_programs, n)
    year = rng.choice(4, size=n, p=[0.30, 0.26, 0.23, 0.21]) + 1
    audit = {}
    for name, (values, probs) in _AUDIT.items():
        pick = rng.choice(len(values), size=n, p=probs)
        audit[name] = np.asarray(values, dtype=object)[pick]
    age = 17 + year + rng.poisson(0.6, n) + 8 * (rng.random(n) < 0.07)
    age_band = np.where(age <= 20, 0, np.where(age <= 24, 1, 2))
    entry_year = p.start.year - (year - 1)
    entry_dates = np.array(
        [p.start - pd.DateOffset(years=k) for k in range(4)], dtype="datetime64[ns]"
    )
    students = pd.DataFrame(
        {
            "student_id": ids,
            "cohort": pd.Categorical(entry_year.astype(str)),
            "program": _from_codes(program, [name for _, name in _PROGRAMS[: p.n_programs]]),
            "year_of_study": year.astype(np.int64),
            "entry_date": entry_dates[year - 1],
            "term_start": np.full(n, p.start.to_datetime64(), dtype="datetime64[ns]"),
            "term_end": np.full(
                n,
                (p.start + pd.Timedelta(days=CALENDAR.term_end_day)).to_datetime64(),
                dtype="datetime64[ns]",
            ),
            "gender": pd.Categorical(audit["gender"], categories=list(_AUDIT["gender"][0])),
            "first_generation": audit["first_generation"].astype(bool),
            "disability": audit["disability"].astype(bool),
            "age_band": _from_codes(age_band, _AGE_BANDS),
            "region": pd.Categorical(audit["region"], categories=list(_AUDIT["region"][0])),
        }
    )
    t = TRUTH
    z_e = rng.standard_normal(n)
    z_r = rng.standard_normal(n)
    rest_a = math.sqrt(1 - t.ability_on_regularity**2 - t.ability_on_engagement**2)
    z_a = (
        t.ability_on_regularity * z_r
        + t.ability_on_engagement * z_e
        + rest_a * rng.standard_normal(n)
    )
    trend = rng.standard_normal(n)
    rest_p = math.sqrt(1 - t.participation_on_engagement**2)
    z_p = t.participation_on_engagement * z_e + rest_p * rng.standard_normal(n)
    group = students[p.bias_attribute].to_numpy() == p.bias_value
    latent = _Latent(
        z_e=z_e,
        z_r=z_r,
        r=_sigmoid(1.2 * z_r),
        z_a=z_a,
        trend=trend,
        z_p=z_p,
        group=np.asarray(group, dtype=bool),
    )
    return students, ids, program * 4 + (year - 1), latent


def _fate(rng: np.random.Generator, p: _Params, lat: _Latent, cal: _Days) -> _Fate:
    t = TRUTH
    n = p.n_students
    g = lat.group.astype(np.float64)
    logit_w = (
        t.withdraw_intercept
        + t.withdraw_engagement * lat.z_e
        + t.withdraw_regularity * lat.z_r
        + t.withdraw_ability * lat.z_a
        + p.outcome_bias * g
    )
    p_w = _sigmoid(logit_w)
    u_w = rng.random(n)
    withdraws = u_w < p_w
    # shock onsets: teaching days only; withdrawers early enough to leave before the year ends
    all_days = np.arange(366)
    week = all_days // 7
    c = CALENDAR
    teaching = ((week >= c.s1_teaching[0]) & (week < c.s1_teaching[1])) | (
        (week >= c.s2_teaching[0]) & (week < c.s2_teaching[1])
    )
    w_days = all_days[
        teaching
        & (all_days >= t.earliest_onset_day)
        & (all_days <= c.term_end_day - t.lag_days[1] - 1)
    ]
    r_days = all_days[
        teaching
        & (all_days >= t.earliest_onset_day)
        & (all_days <= c.s2_teaching[1] * 7 - t.recover_rise_days - t.recover_fall_days)
    ]
    u_shock = rng.random(n)
    recovering = ~withdraws & (u_shock < t.recovering_shock_rate)
    shock = withdraws | recovering
    onset_w = w_days[rng.integers(0, len(w_days), n)]
    onset_r = r_days[rng.integers(0, len(r_days), n)]
    onset = np.where(withdraws, onset_w, np.where(recovering, onset_r, -1)).astype(np.float64)
    onset[~shock] = np.nan
    sev_r = rng.uniform(t.recovering_severity[0], t.recovering_severity[1], n)
    severity = np.where(withdraws, 1.0, np.where(recovering, sev_r, 0.0))
    lag = rng.integers(t.lag_days[0], t.lag_days[1] + 1, n)
    withdraw_day = np.where(withdraws, onset + lag, np.nan)
    logit_f = (
        t.fail_intercept
        + t.fail_ability * lat.z_a
        + t.fail_engagement * lat.z_e
        + t.fail_trend * lat.trend
        + t.fail_shock * np.where(recovering, severity, 0.0)
        + p.outcome_bias * g
    )
    p_f = np.where(withdraws, np.nan, _sigmoid(logit_f))
    u_f = rng.random(n)
    fails = ~withdraws & (u_f < np.nan_to_num(p_f))
    gone = np.where(withdraws, np.minimum(withdraw_day, cal.n), cal.n).astype(np.int64)
    return _Fate(
        p_withdraw=p_w,
        withdraws=withdraws,
        shock=shock,
        onset=onset,
        severity=severity,
        withdraw_day=withdraw_day,
        p_fail=p_f,
        fails=fails,
        gone=gone,
    )


def _disruption(fate: _Fate, days: int) -> np.ndarray:
    """Disruption D[s, d] in [0, 1] (float32): how far a shock has pulled behaviour down."""
    t = TRUTH
    n = len(fate.onset)
    out = np.zeros((n, days), dtype=np.float32)
    d = np.arange(days, dtype=np.float32)[None, :]
    rows = np.flatnonzero(fate.shock)
    if not len(rows):
        return out
    step = 4096
    for lo in range(0, len(rows), step):
        r = rows[lo : lo + step]
        since = d - fate.onset[r, None].astype(np.float32)
        w = fate.withdraws[r, None]
        ramp = np.clip(since / t.ramp_days, 0.0, 1.0)
        rise = np.clip(since / t.recover_rise_days, 0.0, 1.0)
        fall = np.clip(1.0 - (since - t.recover_rise_days) / t.recover_fall_days, 0.0, 1.0)
        passing = fate.severity[r, None].astype(np.float32) * np.minimum(rise, fall)
        out[r] = np.where(w, ramp, passing)
    return out


def _active(fate: _Fate, days: int) -> np.ndarray:
    return np.arange(days)[None, :] < fate.gone[:, None]


def _clip_tod(tod: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(tod, lo * _HOUR, hi * _HOUR)


def _measured(rng: np.random.Generator, p: _Params, lat: _Latent, sidx: np.ndarray) -> np.ndarray:
    """Mask of events that reach the records (bias group loses ``measurement_bias`` of them)."""
    u = rng.random(len(sidx), dtype=np.float32)
    return ~(lat.group[sidx] & (u < p.measurement_bias))


def _bernoulli_days(rng: np.random.Generator, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hit = rng.random(prob.shape, dtype=np.float32) < prob
    s, d = np.nonzero(hit)
    return s, d


def _poisson_days(rng: np.random.Generator, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = rng.poisson(lam)
    flat = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    days = lam.shape[1]
    return flat // days, flat % days


def _card_swipes(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    cal: _Days,
    D: np.ndarray,
    active: np.ndarray,
    parts: _Parts,
) -> None:
    n, days = int(D.shape[0]), int(D.shape[1])
    weekend = (cal.weekday >= 5).astype(np.float32)[None, :]
    presence = cal.presence[None, :] * active
    z_r = lat.z_r.astype(np.float32)[:, None]
    irregular = (1.0 - lat.r).astype(np.float32)
    # canteen meals: (window start h, window end h, preferred from, preferred to, logit terms)
    meals = (
        ("breakfast", 6.5, 9.5, 7.0, 8.5, -0.2, 1.6, -2.5, -1.0, 3.0, 1.0),
        ("lunch", 11.0, 13.5, 11.67, 12.67, 1.8, 0.5, -2.0, -0.6, 10.0, 2.0),
        ("dinner", 16.5, 19.5, 17.25, 18.75, 1.2, 0.4, -2.0, 0.0, 9.0, 2.0),
    )
    for _name, w0, w1, p0, p1, b0, b_reg, b_d, b_wkend, price, price_scale in meals:
        pref = rng.uniform(p0 * _HOUR, p1 * _HOUR, n)
        sd = (3.0 + 45.0 * irregular**2) * _MINUTE
        prob = _sigmoid(b0 + b_reg * z_r + b_d * D + b_wkend * weekend).astype(np.float32)
        prob *= presence
        s, d = _bernoulli_days(rng, prob)
        del prob
        noise = rng.standard_normal(len(s)) * sd[s] * (1.0 + 2.0 * D[s, d])
        tod = pref[s] + noise
        wander = rng.random(len(s)) < 0.35 * irregular[s]
        tod = np.where(wander, rng.uniform(w0 * _HOUR, w1 * _HOUR, len(s)), tod)
        tod = _clip_tod(tod, w0, w1)
        amount = np.round((price + rng.gamma(2.0, price_scale, len(s))) * 2.0) / 2.0
        keep = _measured(rng, p, lat, s)
        parts.add(
            "canteen_swipe",
            s[keep],
            d[keep].astype(np.int64) * _DAY + tod[keep].astype(np.int64),
            amount[keep],
        )
    # showers in the dorm bath house, evenings
    pref = rng.uniform(19.0 * _HOUR, 23.0 * _HOUR, n)
    sd = (5.0 + 50.0 * irregular**2) * _MINUTE
    prob = (_sigmoid(0.3 + 0.4 * z_r - 1.5 * D) * presence).astype(np.float32)
    s, d = _bernoulli_days(rng, prob)
    del prob
    tod = pref[s] + rng.standard_normal(len(s)) * sd[s] * (1.0 + 2.0 * D[s, d])
    tod = _clip_tod(tod, 17.0, 24.5)
    keep = _measured(rng, p, lat, s)
    parts.add(
        "shower_swipe",
        s[keep],
        d[keep].astype(np.int64) * _DAY + tod[keep].astype(np.int64),
        np.ones(int(keep.sum())),
    )
    # library entries: more for able and engaged students, more before and during exams
    exam_push = np.isin(cal.phase, (1, 4)).astype(np.float32)
    week = np.arange(days) // 7
    c = CALENDAR
    pre_exam = ((week >= c.s1_exams[0] - 2) & (week < c.s1_exams[0])) | (
        (week >= c.s2_exams[0] - 2) & (week < c.s2_exams[0])
    )
    boost = (1.0 + exam_push + pre_exam.astype(np.float32))[None, :]
    wk = np.where(cal.weekday >= 5, 0.6, 1.0).astype(np.float32)[None, :]
    lam = (
        0.35
        * np.exp((0.5 * lat.z_a + 0.3 * lat.z_e).astype(np.float32)[:, None] - 2.0 * D)
        * boost
        * wk
        * presence
    )
    s, d = _poisson_days(rng, lam)
    del lam
    tod = rng.uniform(8.0 * _HOUR, 21.0 * _HOUR, len(s))
    keep = _measured(rng, p, lat, s)
    parts.add(
        "library_entry",
        s[keep],
        d[keep].astype(np.int64) * _DAY + tod[keep].astype(np.int64),
        np.ones(int(keep.sum())),
    )
    # dorm gate: the evening return; later and more erratic under disruption
    pref = rng.uniform(20.5 * _HOUR, 23.0 * _HOUR, n)
    sd = (10.0 + 60.0 * irregular**2) * _MINUTE
    prob = (np.float32(0.93) * presence).astype(np.float32)
    s, d = _bernoulli_days(rng, prob)
    del prob
    dd = D[s, d]
    tod = pref[s] + 90.0 * _MINUTE * dd + rng.standard_normal(len(s)) * sd[s] * (1.0 + 2.0 * dd)
    tod = _clip_tod(tod, 17.0, 27.0)  # after midnight counts as the same night
    keep = _measured(rng, p, lat, s)
    parts.add(
        "dorm_entry",
        s[keep],
        d[keep].astype(np.int64) * _DAY + tod[keep].astype(np.int64),
        np.ones(int(keep.sum())),
    )


def _lms(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    cal: _Days,
    D: np.ndarray,
    active: np.ndarray,
    parts: _Parts,
) -> None:
    n, days = int(D.shape[0]), int(D.shape[1])
    # weekly rhythm: Monday .. Sunday (Sunday evening catches up before the week)
    rhythm = np.array([1.2, 1.15, 1.1, 1.0, 0.8, 0.55, 0.9], dtype=np.float32)[cal.weekday]
    term = np.where(np.isin(cal.phase, (0, 1, 3, 4)), 1.0, 0.3).astype(np.float32)
    week = np.arange(days) // 7
    c = CALENDAR
    due_week = np.zeros(days, dtype=bool)
    for lo in (c.s1_teaching[0], c.s2_teaching[0]):
        for wk in (5, 11):
            due_week |= week == lo + wk
    busy = np.where(due_week, 1.4, 1.0).astype(np.float32)
    lam = (
        1.3
        * np.exp(0.45 * lat.z_e.astype(np.float32)[:, None] - 2.0 * D)
        * (rhythm * term * busy)[None, :]
        * active
    )
    s, d = _poisson_days(rng, lam)
    del lam
    chrono = np.clip(rng.normal(20.0, 2.5, n), 9.0, 23.5) * _HOUR
    spread = (1.5 + 2.5 * (1.0 - lat.r)) * _HOUR
    tod = np.mod(chrono[s] + rng.standard_normal(len(s)) * spread[s], _DAY)
    mean_clicks = np.exp(2.2 + 0.3 * lat.z_e[s] - 0.5 * D[s, d])
    clicks = 1.0 + rng.poisson(mean_clicks)
    keep = _measured(rng, p, lat, s)
    parts.add(
        "lms_click",
        s[keep],
        d[keep].astype(np.int64) * _DAY + tod[keep].astype(np.int64),
        clicks[keep].astype(np.float64),
    )


def _courses(
    rng: np.random.Generator, p: _Params
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Course codes, difficulty, and the weekly timetable (weekday, start hour) of each course.

    Courses are indexed ((program * 4 + year - 1) * 2 + semester - 1) * courses_per_term + k.
    """
    cpt = p.courses_per_term
    names = []
    for prog in range(p.n_programs):
        for year in range(1, 5):
            for sem in (1, 2):
                for k in range(cpt):
                    names.append(f"{_PROGRAMS[prog][0]}{year}{sem}{k + 1:02d}")
    n_courses = len(names)
    difficulty = rng.normal(0.0, 0.3, n_courses)
    slot_hours = np.array([8, 10, 13, 15, 17])
    weekday = np.zeros((n_courses, 2), dtype=np.int64)
    hour = np.zeros((n_courses, 2), dtype=np.int64)
    for grp in range(n_courses // cpt):
        # 2 sessions per course on distinct (weekday, slot) pairs of the group's 25-slot week
        slots = rng.permutation(25)[: 2 * cpt].reshape(cpt, 2)
        weekday[grp * cpt : (grp + 1) * cpt] = slots // 5
        hour[grp * cpt : (grp + 1) * cpt] = slot_hours[slots % 5]
    return names, difficulty, weekday, hour


def _attendance_and_assessments(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    cal: _Days,
    D: np.ndarray,
    active: np.ndarray,
    group_of: np.ndarray,
    courses: tuple[list[str], np.ndarray, np.ndarray, np.ndarray],
    parts: _Parts,
) -> None:
    _names, difficulty, weekday, hour = courses
    days = cal.n
    cpt = p.courses_per_term
    c = CALENDAR
    order = np.argsort(group_of, kind="stable")
    bounds = np.searchsorted(group_of[order], np.arange(p.n_programs * 4 + 1))
    day_ix = np.arange(days)
    for grp in range(p.n_programs * 4):
        members = order[bounds[grp] : bounds[grp + 1]]
        if not len(members):
            continue
        for sem, (teach, exams) in enumerate(
            ((c.s1_teaching, c.s1_exams), (c.s2_teaching, c.s2_exams)), start=1
        ):
            base = (grp * 2 + sem - 1) * cpt
            # ---- class sessions: every teaching day on the course's two weekdays
            sess_day, sess_course, sess_hour = [], [], []
            in_teach = (day_ix // 7 >= teach[0]) & (day_ix // 7 < teach[1])
            for k in range(cpt):
                for j in range(2):
                    dd = day_ix[in_teach & (cal.weekday == weekday[base + k, j])]
                    sess_day.append(dd)
                    sess_course.append(np.full(len(dd), base + k))
                    sess_hour.append(np.full(len(dd), hour[base + k, j]))
            sd_ = np.concatenate(sess_day)
            if len(sd_):
                sc = np.concatenate(sess_course)
                sh = np.concatenate(sess_hour)
                s = np.repeat(members, len(sd_))
                d = np.tile(sd_, len(members))
                cc = np.tile(sc, len(members))
                hh = np.tile(sh, len(members))
                on = active[s, d]
                s, d, cc, hh = s[on], d[on], cc[on], hh[on]
                logit = 1.6 + 0.9 * lat.z_e[s] + 0.4 * lat.z_r[s] - 3.5 * D[s, d] - 0.5 * (hh == 8)
                present = rng.random(len(s)) < _sigmoid(logit)
                # measurement bias: a present student is recorded absent (e.g. forgot to tap in)
                present &= _measured(rng, p, lat, s)
                sec = d.astype(np.int64) * _DAY + hh * _HOUR
                parts.add(
                    "class_attendance",
                    s,
                    sec,
                    present.astype(np.float64),
                    known=sec + 90 * _MINUTE,
                    course=cc,
                )
            # ---- assessments of the semester's courses
            _assessments(rng, p, lat, D, active, members, base, teach, exams, difficulty, parts)


def _assessments(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    D: np.ndarray,
    active: np.ndarray,
    members: np.ndarray,
    base: int,
    teach: tuple[int, int],
    exams: tuple[int, int],
    difficulty: np.ndarray,
    parts: _Parts,
) -> None:
    days = D.shape[1]
    cpt = p.courses_per_term
    c = CALENDAR
    grace_days = 2
    results_day = exams[1] * 7 + c.results_delay_days
    # (kind, deadline second (relative to day 0), ability weight, noise sd, submit logit)
    plan: list[tuple[str, int, int, float, float, float]] = []
    for k in range(cpt):
        course = base + k
        for wk in (2, 5, 8, 11):  # online quizzes: close at the end of the week
            plan.append(
                ("quiz_score", course, ((teach[0] + wk) * 7 + 6) * _DAY + 86_340, 0.8, 0.7, 2.2)
            )
        for wk in (5, 11):  # coursework: due Friday 17:00 of the week
            plan.append(
                (
                    "coursework_score",
                    course,
                    ((teach[0] + wk) * 7 + 4) * _DAY + 17 * _HOUR,
                    0.9,
                    0.5,
                    2.8,
                )
            )
        exam_day = exams[0] * 7 + round(k * 11 / max(cpt - 1, 1))
        plan.append(
            ("exam_score", course, exam_day * _DAY + 9 * _HOUR + 30 * _MINUTE, 1.1, 0.45, 4.0)
        )
    for kind, course, deadline, w_ability, noise_sd, submit0 in plan:
        dday = deadline // _DAY
        if dday >= days:
            continue
        s = members[active[members, dday]]
        if not len(s):
            continue
        dis = D[s, dday]
        submit = rng.random(len(s)) < _sigmoid(submit0 + 0.8 * lat.z_e[s] - 4.0 * dis)
        frac = dday / c.term_end_day
        logit = (
            0.7
            + w_ability * lat.z_a[s]
            + 0.5 * lat.trend[s] * (frac - 0.5)
            - 2.0 * dis
            - difficulty[course]
            + noise_sd * rng.standard_normal(len(s))
        )
        score = np.round(100.0 * _sigmoid(logit), 1)
        if kind == "quiz_score":
            sub_sec = deadline - (rng.random(len(s)) * 5 * _DAY).astype(np.int64)
            known = sub_sec
        elif kind == "coursework_score":
            # orderly students hand in earlier; the last-minute rush belongs to the erratic
            lead_h = rng.exponential(4.0 + 60.0 * lat.r[s])
            sub_sec = deadline - (lead_h * _HOUR).astype(np.int64)
            lag = int(rng.integers(7, 15))  # the course's marking time, days
            known = np.full(len(s), (dday + lag) * _DAY + 9 * _HOUR, dtype=np.int64)
        else:
            sub_sec = np.full(len(s), deadline, dtype=np.int64)
            known = np.full(len(s), results_day * _DAY + 9 * _HOUR, dtype=np.int64)
        ok = submit
        parts.add(
            kind,
            s[ok],
            sub_sec[ok],
            score[ok],
            known=np.maximum(known[ok], sub_sec[ok]),
            course=np.full(int(ok.sum()), course),
        )
        # not submitted: a missed-assessment record once the grace period is over
        miss_day = dday + grace_days
        if miss_day < days:
            gone = ~submit
            still = active[s, miss_day]
            mm = gone & still
            msec = np.full(int(mm.sum()), miss_day * _DAY + 9 * _HOUR, dtype=np.int64)
            parts.add(
                "assessment_missed",
                s[mm],
                msec,
                np.ones(len(msec)),
                course=np.full(len(msec), course),
            )


def _participation(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    cal: _Days,
    D: np.ndarray,
    active: np.ndarray,
    parts: _Parts,
) -> None:
    n, days = int(D.shape[0]), int(D.shape[1])
    n_weeks = -(-days // 7)
    week_start = np.arange(n_weeks) * 7
    presence = cal.presence[week_start]  # breaks: fewer activities
    d_week = D[:, week_start]
    for kind, rate in _PARTICIPATION:
        taste = rng.standard_normal(n)
        lam = (
            rate
            * np.exp(0.6 * lat.z_p + 0.5 * taste - 0.305)[:, None]  # -0.305: mean 1
            * np.exp(-2.0 * d_week)
            * np.maximum(presence, 0.2)[None, :]
        )
        s, w = _poisson_days(rng, lam)
        day = w * 7 + rng.integers(0, 7, len(s))
        ok = day < days
        s, w, day = s[ok], w[ok], day[ok]
        ok = active[s, day]
        s, w, day = s[ok], w[ok], day[ok]
        tod = rng.uniform(13.0 * _HOUR, 21.0 * _HOUR, len(s)).astype(np.int64)
        hours = np.round((1.0 + rng.gamma(2.0, 0.5, len(s))) * 2.0) / 2.0
        sec = day * _DAY + tod
        # organisers file the week's log the next Monday at 09:00
        known = (w + 1) * 7 * _DAY + 9 * _HOUR
        parts.add(kind, s, sec, hours, known=np.maximum(known, sec))


def _wellbeing(
    rng: np.random.Generator,
    p: _Params,
    lat: _Latent,
    cal: _Days,
    D: np.ndarray,
    active: np.ndarray,
    parts: _Parts,
) -> None:
    n, days = int(D.shape[0]), int(D.shape[1])
    trait_w = rng.standard_normal(n)
    trait_s = rng.standard_normal(n)
    survey_days = [d for d in range(21, days, 28) if cal.phase[d] in (0, 3)]
    for d in survey_days:
        s = np.flatnonzero(active[:, d])
        dis = D[s, d]
        answer = rng.random(len(s)) < _sigmoid(0.5 + 0.5 * lat.z_e[s] - dis)
        s, dis = s[answer], dis[answer]
        sec = d * _DAY + rng.uniform(10 * _HOUR, 22 * _HOUR, len(s)).astype(np.int64)
        wemwbs = np.clip(
            np.round(51.0 + 6.0 * trait_w[s] + 4.0 * rng.standard_normal(len(s)) - 18.0 * dis),
            14,
            70,
        )
        pss = np.clip(
            np.round(14.0 + 5.0 * trait_s[s] + 3.0 * rng.standard_normal(len(s)) + 14.0 * dis),
            0,
            40,
        )
        parts.add("wellbeing_score", s, sec, wemwbs)
        parts.add("stress_score", s, sec, pss)
    n_weeks = -(-days // 7)
    week_start = np.arange(n_weeks) * 7
    lam = 0.02 + 0.5 * D[:, week_start].astype(np.float64)
    s, w = _poisson_days(rng, lam)
    day = w * 7 + rng.integers(0, 5, len(s))
    ok = day < days
    s, day = s[ok], day[ok]
    ok = active[s, day]
    s, day = s[ok], day[ok]
    sec = day * _DAY + rng.integers(9, 17, len(s)) * _HOUR
    parts.add("counselling_visit", s, sec, np.ones(len(s)))


# ------------------------------------------------------------------------------- public API
@overload
def simulate_campus(
    *,
    n_students: int = ...,
    days: int = ...,
    seed: int = ...,
    start: Any = ...,
    n_programs: int = ...,
    courses_per_term: int = ...,
    wellbeing: bool = ...,
    bias_group: tuple[str, Any] = ...,
    outcome_bias: float = ...,
    measurement_bias: float = ...,
    return_truth: Literal[False] = ...,
    check_duplicates: bool | None = ...,
) -> EventTables: ...


@overload
def simulate_campus(
    *,
    n_students: int = ...,
    days: int = ...,
    seed: int = ...,
    start: Any = ...,
    n_programs: int = ...,
    courses_per_term: int = ...,
    wellbeing: bool = ...,
    bias_group: tuple[str, Any] = ...,
    outcome_bias: float = ...,
    measurement_bias: float = ...,
    return_truth: Literal[True],
    check_duplicates: bool | None = ...,
) -> tuple[EventTables, pd.DataFrame]: ...


def simulate_campus(
    *,
    n_students: int = 1000,
    days: int = 365,
    seed: int = 0,
    start: Any = "2024-09-02",
    n_programs: int = 12,
    courses_per_term: int = 5,
    wellbeing: bool = False,
    bias_group: tuple[str, Any] = ("first_generation", True),
    outcome_bias: float = 0.0,
    measurement_bias: float = 0.0,
    return_truth: bool = False,
    check_duplicates: bool | None = None,
) -> EventTables | tuple[EventTables, pd.DataFrame]:
    """Simulate one academic year of a residential university, with a known ground truth.

    Students carry latent traits (engagement, regularity of daily life, academic ability, a
    score trend, a taste for extracurricular activity). Some suffer a shock that starts
    mid-term; a shock that leads to withdrawal pulls attendance, LMS activity, meals, library
    visits, participation and marks down over three weeks and makes daily timing erratic,
    3 to 8 weeks **before** the withdrawal, so early-warning features can see it coming. The
    generative model, every coefficient and the ground truth are documented in
    ``docs/datasets.md`` ("Campus simulator") and in the constants ``TRUTH`` and ``CALENDAR``.

    Parameters
    ----------
    n_students : int, default 1000
        Number of students (1 to 5,000,000; ``n_students * days`` at most 50,000,000, about
        225 million events).
    days : int, default 365
        Days simulated from ``start`` (1 to 366). The year: semester 1 teaching weeks 0-13,
        exams 14-15, winter break 16-19, semester 2 teaching 20-33, exams 34-35 (the year ends
        on day 252), then summer.
    seed : int, default 0
        Seed of ``np.random.default_rng``; the same parameters and seed give identical tables.
    start : date-like, default "2024-09-02"
        Calendar date of day 0 (a Monday by default).
    n_programs : int, default 12
        Degree programs (1 to 16); each has 4 years of study.
    courses_per_term : int, default 5
        Courses each student takes per semester (1 to 8), each with two weekly sessions.
    wellbeing : bool, default False
        Add the opt-in well-being family (surveys every 4 teaching weeks, counselling visits).
    bias_group : (str, value), default ("first_generation", True)
        The audit group the two bias parameters act on.
    outcome_bias : float, default 0.0
        Added to the withdrawal and failure log-odds of ``bias_group`` (a true difference in
        risk, from -5 to 5). With 0 the truth is the same for every group.
    measurement_bias : float, default 0.0
        Share (0 <= x < 1) of ``bias_group``'s behavioural records that never reach the data
        (LMS sessions and card swipes dropped, attended classes recorded absent) while their
        true behaviour and risk are unchanged: a recording bias that a model can mistake for
        risk.
    return_truth : bool, default False
        Also return the per-student ground truth.
    check_duplicates : bool or None, default None
        Passed to :class:`EventTables`. ``None`` checks exact duplicate events only when there
        are at most 2,000,000 events (the check costs time and memory at campus scale; the
        report then says ``duplicate_events=None``).

    Returns
    -------
    EventTables or (EventTables, DataFrame)
        Datetime tables with all four families (well-being only if asked) and outcomes
        ``withdrawn`` (on the withdrawal day) and ``failed`` (at the end of the year, day 252,
        for students who stay and fail). With ``return_truth=True`` also a DataFrame, one row
        per student in ``students`` order: ``student_id``, ``bias_group``, the latent traits
        ``engagement``, ``regularity`` (0-1), ``regularity_z``, ``ability``, ``trend``,
        ``participation``, ``p_withdraw``, ``withdraws``, ``shock``, ``shock_severity``,
        ``shock_onset_day``, ``shock_onset``, ``withdraw_day``, ``withdraw_time``,
        ``withdrawn_observed``, ``p_fail`` (given the student stays), ``fails``,
        ``failed_observed``, ``outcome`` and ``outcome_day``.

    Raises
    ------
    ConfigError
        A parameter is out of range; the message names it.

    Examples
    --------
    >>> from studentprofile.datasets import simulate_campus
    >>> tables, truth = simulate_campus(n_students=50, days=28, seed=1, return_truth=True)
    >>> sorted(tables.events["family"].unique())
    ['academic', 'behavioral', 'participation']
    >>> len(truth) == len(tables.students) == 50
    True
    >>> simulate_campus(n_students=50, days=28, seed=1) == tables
    True
    """
    p = _validate(
        n_students,
        days,
        seed,
        start,
        n_programs,
        courses_per_term,
        wellbeing,
        bias_group,
        outcome_bias,
        measurement_bias,
        return_truth,
        check_duplicates,
    )
    rng = np.random.default_rng(p.seed)
    cal = _calendar_days(p.start, p.days)
    students, ids, group_of, lat = _students(rng, p)
    fate = _fate(rng, p, lat, cal)
    D = _disruption(fate, p.days)
    active = _active(fate, p.days)
    courses = _courses(rng, p)
    parts = _Parts()
    _attendance_and_assessments(rng, p, lat, cal, D, active, group_of, courses, parts)
    _lms(rng, p, lat, cal, D, active, parts)
    _card_swipes(rng, p, lat, cal, D, active, parts)
    _participation(rng, p, lat, cal, D, active, parts)
    if p.wellbeing:
        _wellbeing(rng, p, lat, cal, D, active, parts)
    del D, active
    events = parts.frame(ids, p.start, courses[0])
    outcomes, truth = _outcomes_and_truth(p, ids, lat, fate)
    check = (
        len(events) <= _DEFAULT_DUPLICATE_CHECK_LIMIT
        if check_duplicates is None
        else bool(check_duplicates)
    )
    params = asdict(p)
    params["start"] = str(p.start.date())
    tables = EventTables(
        students=students,
        events=events,
        outcomes=outcomes,
        audit_attributes=_AUDIT_ATTRIBUTES,
        check_duplicates=check,
        metadata={
            "dataset": "simulated_campus",
            "generator": "studentprofile.datasets.simulate_campus",
            "parameters": params,
            "documentation": "docs/datasets.md#campus-simulator",
            "truth": _jsonable(asdict(TRUTH)),
            "calendar": _jsonable(asdict(CALENDAR)),
            "duplicates_checked": check,
        },
    )
    if return_truth:
        return tables, truth
    return tables


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _outcomes_and_truth(
    p: _Params, ids: np.ndarray, lat: _Latent, fate: _Fate
) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = p.start.to_datetime64().astype("datetime64[ns]")
    day_ns = np.timedelta64(_DAY * 1_000_000_000, "ns")
    w_obs = fate.withdraws & (fate.withdraw_day < p.days)
    term_end = CALENDAR.term_end_day
    f_obs = fate.fails & (term_end < p.days)
    w_time = start + (np.nan_to_num(fate.withdraw_day) * day_ns).astype("timedelta64[ns]")
    w_time = w_time + np.timedelta64(10 * _HOUR, "s").astype("timedelta64[ns]")
    f_time = start + term_end * day_ns
    outcomes = pd.DataFrame(
        {
            "student_id": np.concatenate([ids[w_obs], ids[f_obs]]),
            "time": np.concatenate(
                [w_time[w_obs], np.full(int(f_obs.sum()), f_time, dtype="datetime64[ns]")]
            ),
            "outcome": pd.Categorical(
                ["withdrawn"] * int(w_obs.sum()) + ["failed"] * int(f_obs.sum()),
                categories=["withdrawn", "failed"],
            ),
        }
    )
    onset_time = start + (np.nan_to_num(fate.onset) * day_ns).astype("timedelta64[ns]")
    outcome = np.where(fate.withdraws, "withdrawn", np.where(fate.fails, "failed", "passed"))
    outcome_day = np.where(fate.withdraws, fate.withdraw_day, float(term_end))
    truth = pd.DataFrame(
        {
            "student_id": ids,
            "bias_group": lat.group,
            "engagement": lat.z_e,
            "regularity": lat.r,
            "regularity_z": lat.z_r,
            "ability": lat.z_a,
            "trend": lat.trend,
            "participation": lat.z_p,
            "p_withdraw": fate.p_withdraw,
            "withdraws": fate.withdraws,
            "shock": fate.shock,
            "shock_severity": fate.severity,
            "shock_onset_day": fate.onset,
            "shock_onset": np.where(fate.shock, onset_time, np.datetime64("NaT")).astype(
                "datetime64[ns]"
            ),
            "withdraw_day": fate.withdraw_day,
            "withdraw_time": np.where(fate.withdraws, w_time, np.datetime64("NaT")).astype(
                "datetime64[ns]"
            ),
            "withdrawn_observed": w_obs,
            "p_fail": fate.p_fail,
            "fails": fate.fails,
            "failed_observed": f_obs,
            "outcome": pd.Categorical(outcome, categories=["withdrawn", "failed", "passed"]),
            "outcome_day": outcome_day,
        }
    )
    return outcomes, truth
