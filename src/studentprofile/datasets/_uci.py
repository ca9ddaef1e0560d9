"""UCI "Predict Students' Dropout and Academic Success" as canonical EventTables.

Every mapping choice is documented in ``docs/datasets.md``.
"""

from __future__ import annotations

import copy
import functools
import io
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.datasets import _files
from studentprofile.errors import DataIntegrityError
from studentprofile.tables import EventTables

__all__ = ["UCI_AUDIT_ATTRIBUTES", "load_uci_dropout"]

_DATASET = "uci_dropout"
_FILE = "data.csv.gz"

LICENCE = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
CITATION = (
    "Realinho, V., Machado, J., Baptista, L. & Martins, M. V. Predicting Student Dropout and "
    "Academic Success. Data 7(11), 146 (2022). https://doi.org/10.3390/data7110146"
)
DESCRIPTION = (
    "Polytechnic Institute of Portalegre (UCI 697): enrolment attributes, first-year "
    "semester results, final status"
)

#: Days after the start of the first semester (day 0) at which semester results are recorded.
SEMESTER_END_DAYS = {1: 150.0, 2: 300.0}
#: Day at which ``Target`` (status at the end of the normal course duration) is recorded.
OUTCOME_DAY = 3 * 365.0

#: Columns of ``students`` declared as audit attributes (see docs/datasets.md for why).
UCI_AUDIT_ATTRIBUTES: tuple[str, ...] = (
    "gender",
    "age_band",
    "age_at_enrollment",
    "marital_status",
    "nationality",
    "international",
    "educational_special_needs",
)

# UCI column -> snake_case name, for the 24 columns that stay static attributes
_STATIC = {
    "Marital status": "marital_status",
    "Application mode": "application_mode",
    "Application order": "application_order",
    "Course": "course",
    "Daytime/evening attendance\t": "daytime_evening_attendance",
    "Previous qualification": "previous_qualification",
    "Previous qualification (grade)": "previous_qualification_grade",
    "Nacionality": "nationality",
    "Mother's qualification": "mothers_qualification",
    "Father's qualification": "fathers_qualification",
    "Mother's occupation": "mothers_occupation",
    "Father's occupation": "fathers_occupation",
    "Admission grade": "admission_grade",
    "Displaced": "displaced",
    "Educational special needs": "educational_special_needs",
    "Debtor": "debtor",
    "Tuition fees up to date": "tuition_fees_up_to_date",
    "Gender": "gender",
    "Scholarship holder": "scholarship_holder",
    "Age at enrollment": "age_at_enrollment",
    "International": "international",
    "Unemployment rate": "unemployment_rate",
    "Inflation rate": "inflation_rate",
    "GDP": "gdp",
}

# the six per-semester measures -> event kind
_SEMESTER = {
    "credited": "curricular_units_credited",
    "enrolled": "curricular_units_enrolled",
    "evaluations": "curricular_units_evaluations",
    "approved": "curricular_units_approved",
    "grade": "curricular_units_grade",
    "without evaluations": "curricular_units_without_evaluations",
}

# code tables from the UCI dataset page (variables information)
_COURSES = {
    33: "Biofuel Production Technologies",
    171: "Animation and Multimedia Design",
    8014: "Social Service (evening attendance)",
    9003: "Agronomy",
    9070: "Communication Design",
    9085: "Veterinary Nursing",
    9119: "Informatics Engineering",
    9130: "Equinculture",
    9147: "Management",
    9238: "Social Service",
    9254: "Tourism",
    9500: "Nursing",
    9556: "Oral Hygiene",
    9670: "Advertising and Marketing Management",
    9773: "Journalism and Communication",
    9853: "Basic Education",
    9991: "Management (evening attendance)",
}
_NATIONALITIES = {
    1: "Portuguese",
    2: "German",
    6: "Spanish",
    11: "Italian",
    13: "Dutch",
    14: "English",
    17: "Lithuanian",
    21: "Angolan",
    22: "Cape Verdean",
    24: "Guinean",
    25: "Mozambican",
    26: "Santomean",
    32: "Turkish",
    41: "Brazilian",
    62: "Romanian",
    100: "Moldovan",
    101: "Mexican",
    103: "Ukrainian",
    105: "Russian",
    108: "Cuban",
    109: "Colombian",
}
_MARITAL = {
    1: "single",
    2: "married",
    3: "widower",
    4: "divorced",
    5: "facto union",
    6: "legally separated",
}
_GENDER = {1: "M", 0: "F"}
_AGE_BINS = [0, 20, 24, 34, np.inf]
_AGE_LABELS = ["17-20", "21-24", "25-34", "35+"]


def _decode(series: pd.Series, table: dict[int, str], column: str) -> pd.Series:
    out = series.map(table)
    unknown = series[out.isna()].unique()
    if len(unknown):  # pragma: no cover - verified data; guards against edits of the code tables
        raise DataIntegrityError(
            f"UCI dropout column {column!r} holds codes without a label",
            arrived=f"codes {sorted(unknown.tolist())!r}",
            hint="reinstall studentprofile",
        )
    return out.astype("category")


@functools.lru_cache(maxsize=1)
def _raw() -> pd.DataFrame:
    text = _files.read_text(_DATASET, _FILE)
    frame = pd.read_csv(io.StringIO(text), sep=";")
    expected = set(_STATIC) | {"Target"}
    for sem in ("1st", "2nd"):
        expected |= {f"Curricular units {sem} sem ({m})" for m in _SEMESTER}
    if set(frame.columns) != expected:  # pragma: no cover - hash checked
        raise DataIntegrityError(
            "the bundled UCI dropout file does not have the published 37 columns",
            arrived=f"unexpected {sorted(set(frame.columns) - expected)!r}, "
            f"missing {sorted(expected - set(frame.columns))!r}",
            hint="reinstall studentprofile",
        )
    return frame


@functools.lru_cache(maxsize=1)
def _mapped() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    raw = _raw()
    n = len(raw)
    ids = np.arange(1, n + 1, dtype=np.int64)
    st = raw[list(_STATIC)].rename(columns=_STATIC)
    st.insert(0, "student_id", ids)
    st.insert(1, "program", _decode(raw["Course"], _COURSES, "Course"))
    st["gender"] = _decode(raw["Gender"], _GENDER, "Gender")
    st["nationality"] = _decode(raw["Nacionality"], _NATIONALITIES, "Nacionality")
    st["marital_status"] = _decode(raw["Marital status"], _MARITAL, "Marital status")
    st["age_band"] = pd.cut(
        raw["Age at enrollment"], bins=_AGE_BINS, labels=_AGE_LABELS, right=True
    ).astype("category")
    st["entry_date"] = 0.0
    st["term_start"] = 0.0
    st["term_end"] = SEMESTER_END_DAYS[2]

    parts = []
    for sem, label in ((1, "1st"), (2, "2nd")):
        for measure, kind in _SEMESTER.items():
            values = raw[f"Curricular units {label} sem ({measure})"].astype("float64")
            if measure == "grade":
                # a grade of 0 is written when no unit was approved: there is no average grade
                approved = raw[f"Curricular units {label} sem (approved)"]
                values = values.where(approved > 0)
            parts.append(
                pd.DataFrame(
                    {
                        "student_id": ids,
                        "time": SEMESTER_END_DAYS[sem],
                        "family": "academic",
                        "kind": kind,
                        "value": values.to_numpy(),
                        "max_value": 20.0 if measure == "grade" else np.nan,
                        "course_id": st["program"].astype(str).to_numpy(),
                        "semester": sem,
                    }
                )
            )
    events = pd.concat(parts, ignore_index=True)
    events = events.iloc[
        np.lexsort((events["time"].to_numpy(), events["student_id"].to_numpy()))
    ].reset_index(drop=True)
    events["known_at"] = events["time"]
    for col in ("family", "kind", "course_id"):
        events[col] = events[col].astype("category")
    outcomes = pd.DataFrame(
        {
            "student_id": ids,
            "time": OUTCOME_DAY,
            "outcome": raw["Target"].str.lower().astype("category").to_numpy(),
        }
    )
    metadata: dict[str, Any] = {
        "dataset": "uci_dropout",
        "title": "Predict Students' Dropout and Academic Success (UCI 697)",
        "licence": LICENCE,
        "licence_url": LICENCE_URL,
        "citation": CITATION,
        "doi": "10.3390/data7110146",
        "source": "https://archive.ics.uci.edu/dataset/697",
        "documentation": "docs/datasets.md#uci-dropout",
        "student_id": "row number in data.csv, from 1",
        "time": "float days since the start of the student's first semester (no calendar "
        "dates are published)",
        "semester_end_days": {str(k): v for k, v in SEMESTER_END_DAYS.items()},
        "outcome_day": OUTCOME_DAY,
        "mapping": {
            "static": "24 enrolment attributes -> students (snake_case names); gender, "
            "nationality and marital status decoded to text; program from the course code",
            "curricular units": "12 first-year columns -> academic events per semester "
            "(kinds curricular_units_*, extra column 'semester')",
            "Target": "outcomes dropout / enrolled / graduate at the end of the normal "
            "course duration",
        },
        "counts": {
            "students": n,
            "events": len(events),
            "target": {str(k).lower(): int(v) for k, v in raw["Target"].value_counts().items()},
            "grade_without_approved_units": int(events["value"].isna().sum()),
        },
    }
    return st, events, outcomes, metadata


def uci_dropout_frame() -> pd.DataFrame:
    """Return the bundled UCI dropout file as published: one row per student, 37 columns.

    The flat table a campus would export (attributes, first-year results and ``Target``), for
    the snapshot path (:func:`studentprofile.io.from_snapshot`). It has no student id column.

    Returns
    -------
    pandas.DataFrame
        4,424 rows.

    Raises
    ------
    DataIntegrityError
        The bundled file is missing or does not match its recorded SHA-256.

    Examples
    --------
    >>> frame = uci_dropout_frame()
    >>> frame.shape, frame["Target"].value_counts()["Dropout"]
    ((4424, 37), np.int64(1421))
    """
    return _raw().copy(deep=True)  # the reader's result is cached: hand out a copy


def load_uci_dropout() -> EventTables:
    """Load the bundled UCI dropout dataset as :class:`~studentprofile.tables.EventTables`.

    4,424 students of the Polytechnic Institute of Portalegre. Their 24 enrolment attributes
    form a static ``students`` table; the first-year results (curricular units credited,
    enrolled, evaluated, approved, without evaluations, and the average grade on the 0-20 scale)
    become academic events at the end of semester 1 (day 150) and semester 2 (day 300); the
    final status (``Target``) becomes outcomes ``dropout``, ``enrolled`` or ``graduate`` at the
    end of the normal course duration (day 1095). Times are float days since the start of the
    first semester: the dataset publishes no calendar dates. See ``docs/datasets.md``.

    Returns
    -------
    EventTables
        Float-day tables: 4,424 students, 53,088 events, 4,424 outcomes.

    Raises
    ------
    DataIntegrityError
        The bundled file is missing or does not match its recorded SHA-256.

    Examples
    --------
    >>> from studentprofile.datasets import load_uci_dropout
    >>> tables = load_uci_dropout()
    >>> len(tables.students), tables.time_kind
    (4424, 'float')
    >>> int((tables.outcomes["outcome"] == "dropout").sum())
    1421
    """
    st, events, outcomes, metadata = _mapped()
    return EventTables(
        students=st.copy(deep=True),
        events=events.copy(deep=True),
        outcomes=outcomes.copy(deep=True),
        audit_attributes=UCI_AUDIT_ATTRIBUTES,
        metadata=copy.deepcopy(metadata),
    )
