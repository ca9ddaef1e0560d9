"""Family presets: feature specs with good defaults to start from and edit.

Each preset names the event kinds a campus system commonly records. Kinds that a data set does not
have are skipped when the builder is fitted (see ``FeatureBuilder(on_absent_kind=...)``), so
``academic_features() + behavioral_features()`` works on any tables. Every preset takes
``windows`` and cohort-relative options so it can be edited without rewriting it; to change one
entry, build the spec from ``preset.entries`` or use :meth:`FeatureSpec.select` / ``without``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studentprofile.errors import ConfigError
from studentprofile.features._spec import EventFeatures, FeatureSpec, StaticFeatures

__all__ = [
    "EDUCATION_DIMENSIONS",
    "SCORE_KINDS",
    "academic_features",
    "behavioral_features",
    "oulad_features",
    "participation_features",
    "wellbeing_features",
]

#: The five education dimensions (moral, intellectual, physical, aesthetic, labour) as a
#: mapping of dimension -> participation kinds. Pass your own mapping to
#: :func:`participation_features` when your kinds are named differently.
EDUCATION_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "moral": ("volunteer_service", "volunteering", "community_service", "moral_education"),
    "intellectual": ("academic_club", "club_activity", "competition", "lecture", "research"),
    "physical": ("sport_session", "sport", "gym_entry", "fitness_test"),
    "aesthetic": ("arts_activity", "arts", "music", "cultural_event"),
    "labour": ("labour_duty", "labour", "work_study"),
}

#: Kinds holding assessment marks (0-100 or out of ``max_value``) that the academic preset reads
#: as one stream: generic names, OULAD's TMA/CMA/exam scores and the simulator's quiz,
#: coursework and exam scores.
SCORE_KINDS: tuple[str, ...] = (
    "assessment_score", "quiz_score", "coursework_score", "tma_score", "cma_score", "exam_score",
)


def _relative(relative: Sequence[str] | str | None) -> tuple[str, ...]:
    if relative is None:
        return ()
    return (relative,) if isinstance(relative, str) else tuple(relative)


def academic_features(
    *,
    windows: Sequence[Any] = (30, "all"),
    relative: Sequence[str] | str | None = None,
    by: str = "cohort",
    term: bool = False,
) -> FeatureSpec:
    """Assessment scores, missed assessments, submissions, grades, credits and registration.

    Scores of every kind in :data:`SCORE_KINDS` form one stream (count, mean, min, latest,
    spread, trend, days since the last); ``assessment_missed`` records are counted.

    Parameters
    ----------
    windows : sequence, default (30, "all")
        Windows for the score aggregates.
    relative : str or sequence of str, optional
        Cohort-relative transforms (``"zscore"``, ``"percentile"``, ``"ratio"``) of the score
        mean and the submission count.
    by : str, default "cohort"
        The students column that defines the cohort for ``relative``.
    term : bool, default False
        Add term-to-date windows (needs ``term_start`` in the students table).

    Returns
    -------
    FeatureSpec

    Examples
    --------
    >>> spec = academic_features()
    >>> "assessment_score_mean_all" in spec.column_names()
    True
    """
    wins = tuple(windows) + (("term",) if term else ())
    rel = _relative(relative)
    score = dict(event="assessment", events="assessments", value="assessment score",
                 unit="score", higher_is="better")
    return FeatureSpec(
        [
            EventFeatures(
                SCORE_KINDS,
                family="academic",
                name="assessment_score",
                aggregates=("count", "mean", "min", "last", "std"),
                windows=wins,
                activity_is="better",
                relative=rel,
                by=by,
                **score,  # type: ignore[arg-type]
            ),
            EventFeatures(
                SCORE_KINDS,
                family="academic",
                name="assessment_score_trend",
                aggregates=("slope",),
                windows=("all",) + (("term",) if term else ()),
                **score,  # type: ignore[arg-type]
            ),
            EventFeatures(
                SCORE_KINDS,
                family="academic",
                name="assessment",
                aggregates=("days_since_last",),
                windows=("all",),
                event="assessment",
                events="assessments",
                activity_is="better",
            ),
            EventFeatures(
                "assessment_missed",
                family="academic",
                aggregates=("count",),
                windows=wins,
                event="missed assessment",
                events="missed assessments",
                activity_is="worse",
                relative=rel,
                by=by,
            ),
            EventFeatures(
                "assessment_missed",
                family="academic",
                name="assessment_missed_recency",
                aggregates=("days_since_last",),
                windows=("all",),
                event="missed assessment",
                events="missed assessments",
                activity_is="worse",
            ),
            EventFeatures(
                "submission",
                family="academic",
                aggregates=("count", "mean", "days_since_last"),
                windows=wins,
                event="submission",
                events="submissions",
                value="on-time submission rate",
                mean_phrase="on-time submission rate",
                unit="share",
                higher_is="better",
                activity_is="better",
                relative=rel,
                by=by,
            ),
            EventFeatures(
                "course_grade",
                family="academic",
                aggregates=("count", "mean", "min", "last"),
                windows=("all",),
                event="course grade",
                events="course grades",
                value="course grade",
                unit="score",
                higher_is="better",
            ),
            EventFeatures(
                "credits_earned",
                family="academic",
                aggregates=("sum",),
                windows=("all",),
                event="credit record",
                events="credit records",
                value="credits earned",
                unit="count",
                higher_is="better",
                activity_is="better",
            ),
            EventFeatures(
                "registration",
                family="academic",
                aggregates=("last",),
                windows=("all",),
                event="registration",
                events="registrations",
                value="days registered before the start",
                unit="days",
                higher_is="better",
            ),
        ]
    )


def behavioral_features(
    *,
    short: Any = 7,
    medium: Any = 30,
    long: Any = 90,
    relative: Sequence[str] | str | None = None,
    by: str = "cohort",
) -> FeatureSpec:
    """Class attendance, LMS activity and campus-card records (canteen, library, dorm, showers).

    Timing regularity follows Cao et al. (2018, J. R. Soc. Interface): the Shannon entropy of
    the time of day and the Lempel-Ziv entropy rate of the daily sequence of first-swipe time
    bins of canteen visits and showers (lower entropy = more orderly daily life).

    Parameters
    ----------
    short, medium, long : window, default 7, 30, 90
        The three windows used throughout.
    relative : str or sequence of str, optional
        Cohort-relative transforms of attendance rate and LMS activity.
    by : str, default "cohort"
        The students column that defines the cohort for ``relative``.

    Returns
    -------
    FeatureSpec

    Examples
    --------
    >>> "class_attendance_mean_30d" in behavioral_features().column_names()
    True
    """
    rel = _relative(relative)
    return FeatureSpec(
        [
            EventFeatures(
                "class_attendance",
                family="behavioral",
                aggregates=("mean", "count"),
                windows=(short, medium, "all"),
                event="class session",
                events="class sessions",
                value="class attendance",
                mean_phrase="class attendance rate",
                unit="share",
                higher_is="better",
                relative=rel,
                by=by,
            ),
            EventFeatures(
                "class_attendance",
                family="behavioral",
                name="attendance_trend",
                aggregates=("slope",),
                windows=(long,),
                event="class session",
                events="class sessions",
                value="class attendance",
                unit="share",
                higher_is="better",
            ),
            EventFeatures(
                "lms_click",
                family="behavioral",
                aggregates=("sum", "active_days"),
                windows=(short, medium, long),
                event="LMS visit",
                events="LMS visits",
                value="LMS clicks",
                unit="count",
                activity_is="better",
                relative=rel,
                by=by,
            ),
            EventFeatures(
                "lms_click",
                family="behavioral",
                name="lms",
                aggregates=("days_since_last", "longest_gap"),
                windows=("all",),
                event="LMS visit",
                events="LMS visits",
                activity_is="better",
            ),
            EventFeatures(
                "canteen_swipe",
                family="behavioral",
                aggregates=("count", "active_days", "tod_entropy", "lz_entropy"),
                windows=(medium,),
                event="canteen visit",
                events="canteen visits",
                regularity_is="better",
            ),
            EventFeatures(
                ("shower", "shower_swipe"),
                family="behavioral",
                name="shower",
                aggregates=("count", "lz_entropy"),
                windows=(medium,),
                event="shower",
                events="showers",
                regularity_is="better",
            ),
            EventFeatures(
                "library_entry",
                family="behavioral",
                aggregates=("count", "active_days"),
                windows=(medium, long),
                event="library visit",
                events="library visits",
                activity_is="better",
            ),
            EventFeatures(
                "library_entry",
                family="behavioral",
                name="library",
                aggregates=("days_since_last",),
                windows=("all",),
                event="library visit",
                events="library visits",
                activity_is="better",
            ),
            EventFeatures(
                ("dorm_gate", "dorm_entry"),
                family="behavioral",
                name="dorm",
                aggregates=("count", "tod_entropy"),
                windows=(medium,),
                event="dorm gate entry",
                events="dorm gate entries",
                regularity_is="better",
            ),
        ]
    )


def participation_features(
    dimensions: Mapping[str, Sequence[str]] | None = None,
    *,
    windows: Sequence[Any] = (90, "all"),
) -> FeatureSpec:
    """Participation in clubs, volunteering, sport, arts and labour, by education dimension.

    One entry per dimension (moral, intellectual, physical, aesthetic, labour) counting the
    activities and active days of every kind mapped to it, plus days since the last activity.

    Parameters
    ----------
    dimensions : mapping, optional
        Dimension -> kinds; defaults to :data:`EDUCATION_DIMENSIONS`.
    windows : sequence, default (90, "all")
        Windows for the counts.

    Returns
    -------
    FeatureSpec

    Examples
    --------
    >>> spec = participation_features({"physical": ["sport"]})
    >>> spec.column_names()[:2]
    ['physical_participation_count_90d', 'physical_participation_active_days_90d']
    """
    dims = dict(EDUCATION_DIMENSIONS if dimensions is None else dimensions)
    allowed = tuple(EDUCATION_DIMENSIONS)
    entries = []
    for dim, kinds in dims.items():
        if dim not in allowed:
            raise ConfigError(
                f"dimensions must be among the five education dimensions {list(allowed)!r}",
                key="participation_features.dimensions",
                arrived=repr(dim),
                hint="map your kinds to moral, intellectual, physical, aesthetic or labour",
            )
        entries.append(
            EventFeatures(
                tuple(kinds),
                family="participation",
                name=f"{dim}_participation",
                aggregates=("count", "active_days"),
                windows=tuple(windows),
                event=f"{dim} activity",
                events=f"{dim} activities",
                activity_is="better",
                dimension=dim,
            )
        )
        entries.append(
            EventFeatures(
                tuple(kinds),
                family="participation",
                name=f"{dim}_participation",
                aggregates=("days_since_last",),
                windows=("all",),
                event=f"{dim} activity",
                events=f"{dim} activities",
                activity_is="better",
                dimension=dim,
            )
        )
    return FeatureSpec(entries)


def wellbeing_features(*, windows: Sequence[Any] = (90, "all")) -> FeatureSpec:
    """Counselling visits and well-being and stress survey scales: opt-in, ``sensitive``.

    Well-being features never appear in advisor-facing reasons unless the caller opts in by
    name downstream; adding this preset to a spec is the first opt-in.

    Parameters
    ----------
    windows : sequence, default (90, "all")
        Windows for the aggregates.

    Returns
    -------
    FeatureSpec

    Examples
    --------
    >>> {e.sensitivity for e in wellbeing_features()}
    {'sensitive'}
    """
    return FeatureSpec(
        [
            EventFeatures(
                "counselling_visit",
                family="wellbeing",
                aggregates=("count", "days_since_last"),
                windows=tuple(windows),
                event="counselling visit",
                events="counselling visits",
                sensitivity="sensitive",
            ),
            EventFeatures(
                ("wellbeing_survey", "wellbeing_score"),
                family="wellbeing",
                name="wellbeing",
                aggregates=("last", "mean", "slope"),
                windows=tuple(windows),
                event="well-being survey",
                events="well-being surveys",
                value="well-being score",
                unit="score",
                higher_is="better",
                sensitivity="sensitive",
            ),
            EventFeatures(
                "stress_score",
                family="wellbeing",
                name="stress",
                aggregates=("last", "mean", "slope"),
                windows=tuple(windows),
                event="stress survey",
                events="stress surveys",
                value="stress score",
                unit="score",
                higher_is="worse",
                sensitivity="sensitive",
            ),
        ]
    )


def oulad_features() -> FeatureSpec:
    """Return the feature spec tuned for the bundled OULAD (``studentprofile.datasets.load_oulad``).

    Assessment results (TMA and CMA scores: count, mean, min, last and trend over 30 days and to
    date), days since the last marked submission, missed assessments, the registration lead time,
    and static attributes (module, previous attempts, studied credits, highest education, and
    ``term_start`` read as "days since the module started"). Exam scores (known only after a
    presentation ends) and the 5,000-row VLE slice are left out; audit attributes (gender,
    disability, deprivation band, age band, region) are never features. This is the spec of the
    models study (``benchmarks/study_real_data.py``), the OULAD backtest example and the demo.

    Returns
    -------
    FeatureSpec

    Examples
    --------
    >>> "assessment_score_mean_30d" in oulad_features().column_names()
    True
    """
    scores = ["tma_score", "cma_score"]
    return FeatureSpec([
        EventFeatures(scores, family="academic", name="assessment_score",
                      aggregates=("count", "mean", "min", "last", "slope"), windows=(30, "all"),
                      event="marked assessment", events="marked assessments",
                      value="assessment score", unit="score", higher_is="better",
                      activity_is="better"),
        EventFeatures(scores, family="academic", name="submission",
                      aggregates=("days_since_last",), windows=("all",),
                      event="marked submission", events="marked submissions",
                      activity_is="better"),
        EventFeatures("assessment_missed", family="academic",
                      aggregates=("count", "days_since_last"), windows=(30, "all"),
                      event="missed assessment", events="missed assessments",
                      activity_is="worse"),
        EventFeatures("registration", family="academic", aggregates=("last",),
                      windows=("all",), value="days registered before the module start",
                      unit="days"),
        StaticFeatures(["program", "num_of_prev_attempts", "studied_credits",
                        "highest_education", "term_start"],
                       phrases={"term_start": "days since the module started"},
                       units={"term_start": "days"}),
    ])
