"""The default presets on real data (bundled OULAD) and on the campus simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile.features import (
    FeatureBuilder,
    academic_features,
    behavioral_features,
    make_grid,
    participation_features,
    wellbeing_features,
)


@pytest.fixture(scope="module")
def oulad():
    return sp.datasets.load_oulad()


def test_oulad_weekly_through_each_presentation(oulad):
    grid = make_grid(oulad, every=7, per="enrolment")
    st = oulad.students.set_index("student_id")
    # every enrolment, weekly from its presentation's day 0 up to its end
    assert grid["student_id"].nunique() == len(oulad.students)
    first = grid.groupby("student_id")["as_of"].min()
    last = grid.groupby("student_id")["as_of"].max()
    assert (first == st.loc[first.index, "term_start"]).all()
    assert (last <= st.loc[last.index, "term_end"]).all()
    assert ((st.loc[last.index, "term_end"] - last) < pd.Timedelta(days=7)).all()

    builder = FeatureBuilder(academic_features() + behavioral_features())
    X = builder.fit_transform(oulad, grid)
    assert X.shape == (len(grid), len(builder.feature_names_out_))
    assert X.index.names == ["student_id", "as_of"]
    assert (X.index.get_level_values("student_id") == grid["student_id"].to_numpy()).all()
    # what OULAD has is built; what it lacks (campus cards, attendance) is skipped, not faked
    assert "assessment_score_mean_30d" in X.columns and "lms_click_sum_7d" in X.columns
    assert "assessment_missed_count_all" in X.columns
    assert "class_attendance" in builder.skipped_ and "canteen_swipe" in builder.skipped_
    for name, info in builder.feature_info_.items():
        assert info.phrase and info.family in ("academic", "behavioral"), name
    # on day 0 of a presentation, exactly the marks known before it count (early CMAs)
    ev = oulad.events
    scores = ev[ev["kind"].isin(["tma_score", "cma_score", "exam_score"])]
    start = st["term_start"]
    known = scores[scores["known_at"] < start.loc[scores["student_id"]].to_numpy()]
    expected = known.groupby("student_id").size().reindex(st.index, fill_value=0)
    first_rows = ~grid.duplicated("student_id").to_numpy()
    day0 = X[first_rows]["assessment_score_count_all"].droplevel("as_of")
    assert (day0 == expected.loc[day0.index].astype(float)).all()
    assert day0.sum() > 0  # there are some
    # marks are 0-100; counts never negative
    assert X["assessment_score_mean_all"].dropna().between(0, 100).all()
    assert (X.filter(like="_count_") >= 0).all().all()


def test_oulad_features_use_only_published_marks(oulad):
    """TMA marks are published 14 days after the cut-off: not before."""
    ev = oulad.events
    tma = ev[(ev["kind"] == "tma_score") & ~ev["is_banked"].astype(bool)].iloc[0]
    sid = tma["student_id"]
    before = tma["known_at"] - pd.Timedelta(seconds=1)
    after = tma["known_at"] + pd.Timedelta(seconds=1)
    grid = pd.DataFrame({"student_id": [sid, sid], "as_of": [before, after]})
    builder = FeatureBuilder(academic_features())
    X = builder.fit_transform(oulad, grid)
    assert X["assessment_score_count_all"].iloc[1] == X["assessment_score_count_all"].iloc[0] + 1


def test_oulad_cohort_relative(oulad):
    # a module presentation is the natural cohort: compare with classmates at the same date
    st = oulad.students.assign(
        presentation=lambda d: d["code_module"].astype(str) + "/"
        + d["code_presentation"].astype(str)
    )
    tables = sp.EventTables(students=st, events=oulad.events, outcomes=oulad.outcomes,
                            audit_attributes=oulad.audit_attributes, check_duplicates=False)
    grid = make_grid(tables, every=28, per="enrolment")
    spec = academic_features(relative=["zscore", "percentile"], by="presentation")
    X = FeatureBuilder(spec).fit_transform(tables, grid)
    pct = X["assessment_score_mean_all_percentile_presentation"]
    assert pct.dropna().between(0, 1).all()
    z = X["assessment_score_mean_all_zscore_presentation"].dropna()
    # within a presentation and date the z-scores have mean 0 (every member is in the grid)
    key = [X.loc[z.index].index.get_level_values("as_of"),
           st.set_index("student_id").loc[z.index.get_level_values("student_id"),
                                          "presentation"].to_numpy()]
    assert np.abs(z.groupby(key).mean()).max() < 1e-9


def test_simulated_campus_recovers_known_traits():
    tables, truth = sp.datasets.simulate_campus(n_students=600, days=200, seed=3, wellbeing=True,
                                                return_truth=True)
    start = tables.students["term_start"].min()
    grid = make_grid(tables, every=7, start=start + pd.Timedelta(days=7),
                     end=start + pd.Timedelta(days=190))
    spec = (academic_features(term=True) + behavioral_features(relative="zscore", by="program")
            + participation_features() + wellbeing_features())
    builder = FeatureBuilder(spec)
    X = builder.fit_transform(tables, grid)
    assert X.shape[0] == len(grid) and X.shape[1] > 100
    infos = builder.feature_info_
    assert {i.dimension for i in infos.values() if i.dimension} == {
        "moral", "intellectual", "physical", "aesthetic", "labour"}
    assert {i.sensitivity for i in infos.values() if i.family == "wellbeing"} == {"sensitive"}
    # at week 12, features track the simulator's latent traits in the documented direction
    week = X.xs(start + pd.Timedelta(days=84), level="as_of")
    tr = truth.set_index("student_id").loc[week.index]

    def rho(col: str, trait: str) -> float:
        return float(pd.concat([week[col], tr[trait]], axis=1).corr("spearman").iloc[0, 1])

    assert rho("canteen_swipe_lz_entropy_30d", "regularity") < -0.3  # orderly -> low entropy
    assert rho("canteen_swipe_tod_entropy_30d", "regularity") < -0.3
    assert rho("class_attendance_mean_30d", "engagement") > 0.4
    assert rho("lms_click_sum_30d", "engagement") > 0.6
    assert rho("assessment_score_mean_all", "ability") > 0.6
