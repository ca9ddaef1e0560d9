"""OULAD (Open University Learning Analytics Dataset) as canonical EventTables.

Every mapping choice is documented in ``docs/datasets.md``; the constants below are the rules.
"""

from __future__ import annotations

import copy
import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.datasets import _files
from studentprofile.errors import ConfigError, DataIntegrityError
from studentprofile.tables import EventTables

__all__ = ["OULAD_AUDIT_ATTRIBUTES", "load_oulad", "presentation_start"]

_DATASET = "oulad"

#: Columns of ``students`` declared as audit attributes (see docs/datasets.md for why).
OULAD_AUDIT_ATTRIBUTES: tuple[str, ...] = ("gender", "disability", "imd_band", "age_band", "region")

#: Assessment type -> event kind.
_SCORE_KINDS = {"TMA": "tma_score", "CMA": "cma_score", "Exam": "exam_score"}

#: Calendar days a tutor takes to return a TMA mark after the later of submission and cut-off
#: (the OU's standard turnaround is 10 working days, i.e. two calendar weeks).
TMA_MARKING_DAYS = 14

#: Default days after a TMA/CMA cut-off before a missing submission becomes an
#: ``assessment_missed`` event (most OU TMA extensions are shorter than 7 calendar days).
DEFAULT_MISSED_GRACE_DAYS = 7

_MONTHS = {"B": 2, "J": 10}

LICENCE = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
CITATION = (
    "Kuzilek, J., Hlosta, M. & Zdrahal, Z. Open University Learning Analytics dataset. "
    "Scientific Data 4, 170171 (2017). https://doi.org/10.1038/sdata.2017.171"
)
DESCRIPTION = (
    "Open University, 22 module presentations 2013-14: enrolments, assessments, "
    "registrations, final results, a 5,000-row VLE slice"
)

_FILES = {
    "courses": "courses.csv.gz",
    "assessments": "assessments.csv.gz",
    "vle": "vle.csv.gz",
    "studentInfo": "studentInfo.csv.gz",
    "studentRegistration": "studentRegistration.csv.gz",
    "studentAssessment": "studentAssessment.csv.gz",
    "studentVle": "sample_studentVLE.csv.gz",
}

_KEY = ["code_module", "code_presentation", "id_student"]
_PRES = ["code_module", "code_presentation"]


def presentation_start(code_presentation: str) -> pd.Timestamp:
    """Return the calendar date we assign to day 0 of an OULAD presentation.

    OULAD gives every date as a day offset from the start of its module presentation; the
    presentation code names the year and the month ("B" = February, "J" = October) but not the
    day. We take the first Saturday of that month (OU presentations and study weeks begin on
    Saturdays). With this anchor 116 of the 195 dated assessments fall on a Thursday, 189 on
    Monday to Thursday and none on a weekend. The exact day is not published; another choice
    shifts every date of a presentation by the same few days.

    Parameters
    ----------
    code_presentation : str
        E.g. ``"2013J"``.

    Returns
    -------
    Timestamp

    Raises
    ------
    ConfigError
        The code is not ``<year><B|J>``.

    Examples
    --------
    >>> presentation_start("2013J")
    Timestamp('2013-10-05 00:00:00')
    >>> presentation_start("2014B")
    Timestamp('2014-02-01 00:00:00')
    """
    code = str(code_presentation)
    if len(code) != 5 or not code[:4].isdigit() or code[4] not in _MONTHS:
        raise ConfigError(
            "an OULAD presentation code is a year followed by B (February) or J (October)",
            key="code_presentation",
            arrived=repr(code_presentation),
            hint="use codes such as '2013B' or '2014J'",
        )
    first = pd.Timestamp(year=int(code[:4]), month=_MONTHS[code[4]], day=1)
    return first + pd.Timedelta(days=(5 - first.weekday()) % 7)


# ----------------------------------------------------------------------------------- reading
def _read_csv(name: str, dtypes: dict[str, Any]) -> pd.DataFrame:
    text = _files.read_text(_DATASET, _FILES[name])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=dtypes)
    except (ValueError, pd.errors.ParserError) as exc:  # pragma: no cover - hash checked
        raise DataIntegrityError(
            f"the bundled file {_DATASET}/{_FILES[name]} does not parse as expected",
            arrived=f"{type(exc).__name__}: {exc}",
            hint="reinstall studentprofile",
        ) from exc
    missing = [c for c in dtypes if c not in frame.columns]
    if missing:  # pragma: no cover - hash checked
        raise DataIntegrityError(
            f"the bundled file {_DATASET}/{_FILES[name]} lacks columns {missing!r}",
            hint="reinstall studentprofile",
        )
    return frame


_TEXT = "object"


@functools.lru_cache(maxsize=1)
def _raw() -> dict[str, pd.DataFrame]:
    """Parse the seven bundled files once per process (hash-verified). Treat as read-only."""
    return {
        "courses": _read_csv(
            "courses",
            {
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "module_presentation_length": "int64",
            },
        ),
        "assessments": _read_csv(
            "assessments",
            {
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "id_assessment": "int64",
                "assessment_type": _TEXT,
                "date": "float64",
                "weight": "float64",
            },
        ),
        "vle": _read_csv(
            "vle",
            {
                "id_site": "int64",
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "activity_type": _TEXT,
                "week_from": "float64",
                "week_to": "float64",
            },
        ),
        "studentInfo": _read_csv(
            "studentInfo",
            {
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "id_student": "int64",
                "gender": _TEXT,
                "region": _TEXT,
                "highest_education": _TEXT,
                "imd_band": _TEXT,
                "age_band": _TEXT,
                "num_of_prev_attempts": "int64",
                "studied_credits": "int64",
                "disability": _TEXT,
                "final_result": _TEXT,
            },
        ),
        "studentRegistration": _read_csv(
            "studentRegistration",
            {
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "id_student": "int64",
                "date_registration": "float64",
                "date_unregistration": "float64",
            },
        ),
        "studentAssessment": _read_csv(
            "studentAssessment",
            {
                "id_assessment": "int64",
                "id_student": "int64",
                "date_submitted": "int64",
                "is_banked": "int64",
                "score": "float64",
            },
        ),
        "studentVle": _read_csv(
            "studentVle",
            {
                "code_module": _TEXT,
                "code_presentation": _TEXT,
                "id_student": "int64",
                "id_site": "int64",
                "date": "int64",
                "sum_click": "int64",
            },
        ),
    }


# ----------------------------------------------------------------------------------- mapping
_NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min


def _at(start: pd.Series, days: pd.Series | np.ndarray) -> pd.Series:
    """Calendar time of a day offset (NaN -> NaT): ``start + days`` at 00:00."""
    # integer nanoseconds by hand: pandas 2.2's to_timedelta warns on NaN input
    d = np.asarray(days, dtype="float64")
    origin = start.to_numpy(dtype="datetime64[ns]").view(np.int64)
    ns = np.full(d.shape, _NAT, dtype=np.int64)
    ok = np.isfinite(d)
    ns[ok] = origin[ok] + np.round(d[ok] * _NS_PER_DAY).astype(np.int64)
    return pd.Series(ns.view("datetime64[ns]"), index=start.index)


def _require_all_matched(merged: pd.DataFrame, what: str) -> None:
    bad = merged["_merge"] != "both"
    if bad.any():  # pragma: no cover - verified data; kept as a guard against edits
        raise DataIntegrityError(
            f"OULAD {what}: {int(bad.sum()):,} row(s) have no matching record",
            arrived=merged.loc[bad].head(5).to_string(),
            hint="the bundled files are inconsistent; reinstall studentprofile",
        )


def _courses(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    c = raw["courses"].copy()
    starts = {code: presentation_start(code) for code in c["code_presentation"].unique()}
    c["start"] = c["code_presentation"].map(starts).astype("datetime64[ns]")
    c["end"] = c["start"] + pd.to_timedelta(c["module_presentation_length"], unit="D")
    return c


def _students(raw: dict[str, pd.DataFrame], courses: pd.DataFrame) -> pd.DataFrame:
    info = raw["studentInfo"]
    st = info.merge(
        raw["studentRegistration"], on=_KEY, how="left", validate="one_to_one", indicator=True
    )
    _require_all_matched(st, "studentInfo rows without a studentRegistration row")
    st = st.drop(columns="_merge").merge(
        courses, on=_PRES, how="left", validate="many_to_one", indicator=True
    )
    _require_all_matched(st, "enrolments in an unknown presentation")
    st = st.drop(columns="_merge")
    st["student_id"] = (
        st["code_module"] + "/" + st["code_presentation"] + "/" + st["id_student"].astype(str)
    )
    # the unregistration date counts only for final_result Withdrawn (9 Fail rows also carry one)
    withdrawn = st["final_result"] == "Withdrawn"
    st["effective_unreg"] = st["date_unregistration"].where(withdrawn)
    return st


def _students_table(st: pd.DataFrame) -> pd.DataFrame:
    imd = st["imd_band"].where(st["imd_band"] != "10-20", "10-20%")
    out = pd.DataFrame(
        {
            "student_id": st["student_id"].astype(object),
            "person_id": st["id_student"].astype("int64"),
            "code_module": st["code_module"].astype("category"),
            "code_presentation": st["code_presentation"].astype("category"),
            "cohort": st["code_presentation"].astype("category"),
            "program": st["code_module"].astype("category"),
            "presentation": (st["code_module"] + "/" + st["code_presentation"]).astype("category"),
            "entry_date": _at(st["start"], st["date_registration"]),
            "term_start": st["start"].astype("datetime64[ns]"),
            "term_end": st["end"].astype("datetime64[ns]"),
            "num_of_prev_attempts": st["num_of_prev_attempts"].astype("int64"),
            "studied_credits": st["studied_credits"].astype("int64"),
            "highest_education": st["highest_education"].astype("category"),
            "gender": st["gender"].astype("category"),
            "disability": st["disability"].astype("category"),
            "imd_band": imd.astype("category"),
            "age_band": st["age_band"].astype("category"),
            "region": st["region"].astype("category"),
        }
    )
    return out


def _event_frame(
    n: int,
    *,
    student_id: pd.Series,
    time: pd.Series,
    known_at: pd.Series,
    family: str,
    kind: pd.Series | str,
    value: pd.Series | np.ndarray,
    course_id: pd.Series,
    max_value: float = np.nan,
    **extra: Any,
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "student_id": np.asarray(student_id, dtype=object),
            "time": np.asarray(time, dtype="datetime64[ns]"),
            "known_at": np.asarray(known_at, dtype="datetime64[ns]"),
            "family": np.full(n, family, dtype=object),
            "kind": np.asarray(kind, dtype=object) if not isinstance(kind, str) else kind,
            "value": np.asarray(value, dtype="float64"),
            "max_value": np.full(n, max_value, dtype="float64"),
            "course_id": np.asarray(course_id, dtype=object),
        }
    )
    for name, col in extra.items():
        frame[name] = np.asarray(col)
    return frame


def _assessment_events(
    raw: dict[str, pd.DataFrame], st: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    assess = raw["assessments"]
    sa = raw["studentAssessment"].merge(
        assess, on="id_assessment", how="left", validate="many_to_one", indicator=True
    )
    _require_all_matched(sa, "studentAssessment rows with an unknown assessment")
    sa = sa.drop(columns="_merge").merge(
        st[[*_KEY, "student_id", "start", "end", "module_presentation_length"]],
        on=_KEY,
        how="left",
        validate="many_to_one",
        indicator=True,
    )
    _require_all_matched(sa, "assessment results for students not enrolled in that presentation")
    sa = sa.drop(columns="_merge")
    typ = sa["assessment_type"]
    banked = sa["is_banked"].to_numpy() == 1
    submitted = sa["date_submitted"].astype("float64")
    # an exam without a date is at the end of the last presentation week (OULAD documentation)
    due = sa["date"].where(
        sa["date"].notna() | (typ != "Exam"), sa["module_presentation_length"].astype("float64")
    )
    # OULAD dates are whole days: a record dated day d is complete at the end of that day
    sub = submitted.to_numpy()
    known_day = sub + 1.0
    tma = (typ == "TMA").to_numpy() & ~banked
    # np.fmax ignores a missing cut-off (every TMA has one; the guard costs nothing)
    known_day = np.where(tma, np.fmax(sub, due.to_numpy()) + 1.0 + TMA_MARKING_DAYS, known_day)
    exam = (typ == "Exam").to_numpy() & ~banked
    length = sa["module_presentation_length"].to_numpy(dtype="float64")
    known_day = np.where(exam, np.fmax(sub + 1.0, length), known_day)
    frame = _event_frame(
        len(sa),
        student_id=sa["student_id"],
        time=_at(sa["start"], submitted),
        known_at=_at(sa["start"], known_day),
        family="academic",
        kind=typ.map(_SCORE_KINDS),
        value=sa["score"],
        max_value=100.0,
        course_id=sa["code_module"],
        assessment_id=sa["id_assessment"].astype(str),
        assessment_weight=sa["weight"].astype("float64"),
        due=_at(sa["start"], due),
        is_banked=banked,
    )
    counts = {
        "assessment_results": len(sa),
        "banked": int(banked.sum()),
        "missing_scores": int(sa["score"].isna().sum()),
    }
    return frame, counts


def _missed_events(raw: dict[str, pd.DataFrame], st: pd.DataFrame, grace: int) -> pd.DataFrame:
    assess = raw["assessments"]
    tasks = assess[assess["assessment_type"].isin(["TMA", "CMA"]) & assess["date"].notna()]
    pairs = st[[*_KEY, "student_id", "start", "date_registration", "effective_unreg"]].merge(
        tasks, on=_PRES, how="inner"
    )
    done = raw["studentAssessment"][["id_assessment", "id_student", "date_submitted"]]
    pairs = pairs.merge(done, on=["id_assessment", "id_student"], how="left", validate="one_to_one")
    deadline = pairs["date"]
    end_of_grace = deadline + grace
    # only what was known when the grace period ended: a later (late) submission does not
    # undo the record that nothing had arrived by then
    arrived = pairs["date_submitted"].notna() & (pairs["date_submitted"] <= end_of_grace)
    registered_by_deadline = pairs["date_registration"].isna() | (
        pairs["date_registration"] <= deadline
    )
    gone = pairs["effective_unreg"].notna() & (pairs["effective_unreg"] <= end_of_grace)
    keep = ~arrived & registered_by_deadline & ~gone
    m = pairs.loc[keep].reset_index(drop=True)
    at = _at(m["start"], m["date"] + grace + 1.0)
    return _event_frame(
        len(m),
        student_id=m["student_id"],
        time=at,
        known_at=at,
        family="academic",
        kind="assessment_missed",
        value=np.ones(len(m)),
        course_id=m["code_module"],
        assessment_id=m["id_assessment"].astype(str),
        assessment_weight=m["weight"].astype("float64"),
        due=_at(m["start"], m["date"]),
        is_banked=np.zeros(len(m), dtype=bool),
    )


def _registration_events(st: pd.DataFrame) -> pd.DataFrame:
    r = st[st["date_registration"].notna()].reset_index(drop=True)
    return _event_frame(
        len(r),
        student_id=r["student_id"],
        time=_at(r["start"], r["date_registration"]),
        known_at=_at(r["start"], r["date_registration"] + 1.0),
        family="academic",
        kind="registration",
        value=-r["date_registration"].to_numpy(),
        course_id=r["code_module"],
        is_banked=np.zeros(len(r), dtype=bool),
    )


def _vle_events(raw: dict[str, pd.DataFrame], st: pd.DataFrame) -> pd.DataFrame:
    sv = raw["studentVle"].merge(
        raw["vle"][["id_site", *_PRES, "activity_type"]],
        on=["id_site", *_PRES],
        how="left",
        validate="many_to_one",
        indicator=True,
    )
    _require_all_matched(sv, "studentVle rows with an unknown site")
    sv = sv.drop(columns="_merge").merge(
        st[[*_KEY, "student_id", "start"]], on=_KEY, how="left", indicator=True
    )
    _require_all_matched(sv, "studentVle rows for students not enrolled in that presentation")
    day = sv["date"].astype("float64")
    return _event_frame(
        len(sv),
        student_id=sv["student_id"],
        time=_at(sv["start"], day),
        known_at=_at(sv["start"], day + 1.0),
        family="behavioral",
        kind="lms_click",
        value=sv["sum_click"].astype("float64"),
        course_id=sv["code_module"],
        is_banked=np.zeros(len(sv), dtype=bool),
        site_id=sv["id_site"].astype(str),
        activity_type=sv["activity_type"],
    )


_RESULTS = {"Pass": "pass", "Distinction": "distinction", "Fail": "fail", "Withdrawn": "withdrawn"}


def _outcomes(st: pd.DataFrame) -> pd.DataFrame:
    withdrawn = (st["final_result"] == "Withdrawn").to_numpy()
    has_date = st["effective_unreg"].notna().to_numpy()
    time = st["end"].astype("datetime64[ns]").copy()
    unreg_time = _at(st["start"], st["effective_unreg"])
    use_unreg = withdrawn & has_date
    time[use_unreg] = unreg_time[use_unreg]
    source = np.where(
        use_unreg, "unregistration", np.where(withdrawn, "presentation_end_imputed", "final_result")
    )
    return pd.DataFrame(
        {
            "student_id": st["student_id"].astype(object).to_numpy(),
            "time": time.to_numpy(),
            "outcome": st["final_result"].map(_RESULTS).astype("category").to_numpy(),
            "time_source": pd.Categorical(source),
        }
    )


@dataclass(frozen=True)
class _Mapped:
    students: pd.DataFrame
    events: pd.DataFrame
    outcomes: pd.DataFrame
    metadata: dict[str, Any]


@functools.lru_cache(maxsize=4)
def _mapped(grace: int | None) -> _Mapped:
    raw = _raw()
    courses = _courses(raw)
    st = _students(raw, courses)
    students = _students_table(st)
    scores, score_counts = _assessment_events(raw, st)
    parts = [_registration_events(st), scores]
    n_missed = 0
    if grace is not None:
        missed = _missed_events(raw, st, grace)
        n_missed = len(missed)
        parts.append(missed)
    parts.append(_vle_events(raw, st))
    events = pd.concat(parts, ignore_index=True)
    # a readable, deterministic order: students as in studentInfo, then time, then kind
    order = pd.Index(students["student_id"]).get_indexer(events["student_id"])
    events = events.iloc[
        np.lexsort((events["kind"].to_numpy(dtype=str), events["time"].to_numpy(), order))
    ].reset_index(drop=True)
    for col in ("family", "kind", "course_id", "assessment_id", "site_id", "activity_type"):
        events[col] = events[col].astype("category")
    outcomes = _outcomes(st)
    withdrawn = st["final_result"] == "Withdrawn"
    metadata: dict[str, Any] = {
        "dataset": "oulad",
        "title": "Open University Learning Analytics Dataset (OULAD)",
        "licence": LICENCE,
        "licence_url": LICENCE_URL,
        "citation": CITATION,
        "doi": "10.1038/sdata.2017.171",
        "source": "https://analyse.kmi.open.ac.uk/open_dataset",
        "documentation": "docs/datasets.md#oulad",
        "student_id": "one row per enrolment: '<code_module>/<code_presentation>/<id_student>'",
        "presentation_starts": {
            code: str(presentation_start(code).date())
            for code in sorted(courses["code_presentation"].unique())
        },
        "mapping": {
            "studentInfo": "students (one row per enrolment); final_result -> outcomes",
            "studentRegistration": "entry_date, academic 'registration' events, 'withdrawn' "
            "outcome at the unregistration date",
            "studentAssessment": "academic tma_score / cma_score / exam_score events "
            "(value = score, max_value = 100)",
            "derived": "academic 'assessment_missed' events for unsubmitted TMAs/CMAs"
            + ("" if grace is None else f" at cut-off + {grace} days"),
            "studentVle": "behavioral 'lms_click' events (value = sum_click) from a 5,000-row "
            "slice: AAA 2013J, days -2..3 only",
        },
        "known_at_rules": {
            "day_resolution": "a record dated day d is known at 00:00 of day d + 1",
            "cma_score": "end of the submission day (computer-marked)",
            "tma_score": f"end of max(submission day, cut-off day) + {TMA_MARKING_DAYS} days",
            "exam_score": "max(end of the exam day, presentation end)",
            "banked": "end of the recorded day (carried over from an earlier presentation)",
            "assessment_missed": "its time (cut-off + grace, end of day)",
        },
        "missed_grace_days": grace,
        "counts": {
            "enrolments": len(students),
            "persons": int(st["id_student"].nunique()),
            **score_counts,
            "assessment_missed": n_missed,
            "registrations": int(st["date_registration"].notna().sum()),
            "registration_date_missing": int(st["date_registration"].isna().sum()),
            "lms_click": int((events["kind"] == "lms_click").sum()),
            "withdrawn_without_unregistration_date": int(
                (withdrawn & st["date_unregistration"].isna()).sum()
            ),
            "unregistration_date_ignored": int(
                (~withdrawn & st["date_unregistration"].notna()).sum()
            ),
            "final_result": {
                k: int(v) for k, v in st["final_result"].value_counts().sort_index().items()
            },
        },
        "caveats": [
            "studentVle is a 5,000-row slice (AAA 2013J, days -2..3); the full 10.6M-row table "
            "is not bundled",
            "calendar dates anchor each presentation at the first Saturday of its month; "
            "only day offsets are published",
            "Withdrawn enrolments without an unregistration date get their 'withdrawn' outcome "
            "at the presentation end (outcomes.time_source = 'presentation_end_imputed')",
        ],
    }
    return _Mapped(students, events, outcomes, metadata)


def load_oulad(*, missed_grace_days: int | None = DEFAULT_MISSED_GRACE_DAYS) -> EventTables:
    """Load the bundled OULAD as canonical :class:`~studentprofile.tables.EventTables`.

    One student row per **enrolment** (module presentation), identified as
    ``"<code_module>/<code_presentation>/<id_student>"`` (e.g. ``"AAA/2013J/11391"``); the OU's
    own ``id_student`` is kept as ``person_id``. Day offsets become calendar dates (see
    :func:`presentation_start`). Every mapping rule, with its reasons, is in
    ``docs/datasets.md``; ``tables.metadata`` repeats the essentials (licence, citation, rules,
    counts).

    The files are parsed once per process (after their SHA-256 is checked); every call returns
    fresh tables that the caller may change freely.

    Parameters
    ----------
    missed_grace_days : int or None, default 7
        Days after a TMA/CMA cut-off at which an unsubmitted assessment becomes an academic
        ``assessment_missed`` event (for students registered by the cut-off and not yet
        withdrawn). ``None`` leaves these derived events out.

    Returns
    -------
    EventTables
        Datetime tables: 32,593 students, 173,912 assessment results plus registrations, derived
        missed assessments and 5,000 LMS click records, and 32,593 final-result outcomes
        (``pass``, ``distinction``, ``fail``, ``withdrawn``). Audit attributes:
        ``gender``, ``disability``, ``imd_band``, ``age_band``, ``region``.

    Raises
    ------
    DataIntegrityError
        A bundled file is missing or does not match its recorded SHA-256.
    ConfigError
        ``missed_grace_days`` is not a non-negative integer or None.

    Examples
    --------
    >>> from studentprofile.datasets import load_oulad
    >>> tables = load_oulad()
    >>> len(tables.students), tables.time_kind
    (32593, 'datetime')
    >>> int((tables.outcomes["outcome"] == "withdrawn").sum())
    10156
    >>> tables.metadata["licence"]
    'CC BY 4.0'
    """
    if missed_grace_days is not None and (
        isinstance(missed_grace_days, bool)
        or not isinstance(missed_grace_days, int | np.integer)
        or missed_grace_days < 0
    ):
        raise ConfigError(
            "missed_grace_days must be a whole number of days >= 0, or None",
            key="missed_grace_days",
            arrived=repr(missed_grace_days),
            hint="pass e.g. 7 (the default) or None to leave assessment_missed events out",
        )
    grace = None if missed_grace_days is None else int(missed_grace_days)
    m = _mapped(grace)
    return EventTables(
        students=m.students.copy(deep=True),
        events=m.events.copy(deep=True),
        outcomes=m.outcomes.copy(deep=True),
        audit_attributes=OULAD_AUDIT_ATTRIBUTES,
        metadata=copy.deepcopy(m.metadata),
    )
