"""The campus simulator: determinism, scale, validity, and the documented ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studentprofile.datasets import simulate_campus
from studentprofile.datasets._simulate import CALENDAR, TRUTH
from studentprofile.errors import ConfigError
from studentprofile.tables import EventTables

START = pd.Timestamp("2024-09-02")


@pytest.fixture(scope="module")
def campus():
    """A moderate campus over a whole year, with its ground truth (about 2.5M events)."""
    return simulate_campus(n_students=1500, days=365, seed=11, return_truth=True)


def day_of(times: pd.Series) -> np.ndarray:
    return ((times - START) / pd.Timedelta(days=1)).to_numpy()


def with_truth(events: pd.DataFrame, truth: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = events.merge(truth[["student_id", *cols]], on="student_id", how="left")
    return out.assign(day=day_of(out["time"]))


# ------------------------------------------------------------------------- determinism, size
def test_same_seed_same_tables_different_seed_different():
    a = simulate_campus(n_students=120, days=60, seed=5, wellbeing=True)
    b = simulate_campus(n_students=120, days=60, seed=5, wellbeing=True)
    c = simulate_campus(n_students=120, days=60, seed=6, wellbeing=True)
    assert a.fingerprint() == b.fingerprint()
    fa, fc = a.fingerprint(), c.fingerprint()
    assert fa["events"] != fc["events"] and fa["students"] != fc["students"]


def test_sizes_scale_with_students_and_days():
    # within semester 1 teaching (weeks 0-13) activity is stationary
    small = len(simulate_campus(n_students=200, days=42, seed=2).events)
    double = len(simulate_campus(n_students=400, days=42, seed=2).events)
    longer = len(simulate_campus(n_students=200, days=84, seed=2).events)
    assert 1.8 < double / small < 2.2
    assert 1.8 < longer / small < 2.2
    tables = simulate_campus(n_students=7, days=1, seed=0)
    assert len(tables.students) == 7 and len(tables.events) > 0


def test_small_simulation_passes_full_validation():
    tables = simulate_campus(n_students=150, days=120, seed=4, wellbeing=True)
    assert tables.metadata["duplicates_checked"] is True
    assert tables.report.duplicate_events == 0
    # rebuilding from the frames runs every check again, duplicates included
    again = EventTables(
        students=tables.students.copy(),
        events=tables.events.copy(),
        outcomes=tables.outcomes.copy(),
        audit_attributes=tables.audit_attributes,
        check_duplicates=True,
    )
    assert again == tables
    big = simulate_campus(n_students=3000, days=365, seed=0, check_duplicates=False)
    assert big.report.duplicate_events is None
    assert big.metadata["duplicates_checked"] is False


# ----------------------------------------------------------------------------- the contract
def test_all_families_kinds_and_dimensions(campus):
    tables, _ = campus
    ev = tables.events
    assert set(ev["family"]) == {"academic", "behavioral", "participation"}
    assert set(ev["kind"]) >= {
        "class_attendance",
        "lms_click",
        "canteen_swipe",
        "shower_swipe",
        "library_entry",
        "dorm_entry",
        "quiz_score",
        "coursework_score",
        "exam_score",
        "assessment_missed",
        "volunteer_service",
        "academic_club",
        "sport_session",
        "arts_activity",
        "labour_duty",
    }
    part = ev["family"] == "participation"
    assert ev.loc[part, "dimension"].notna().all() and ev.loc[~part, "dimension"].isna().all()
    dims = ev[part].groupby("kind", observed=True)["dimension"].unique().map(list).to_dict()
    assert dims == {
        "volunteer_service": ["moral"],
        "academic_club": ["intellectual"],
        "sport_session": ["physical"],
        "arts_activity": ["aesthetic"],
        "labour_duty": ["labour"],
    }
    scores = ev["kind"].isin(["quiz_score", "coursework_score", "exam_score"])
    assert (ev.loc[scores, "max_value"] == 100).all()
    assert ev.loc[scores, "value"].between(0, 100).all()
    assert ev.loc[scores | (ev["kind"] == "class_attendance"), "course_id"].notna().all()
    assert set(ev.loc[ev["kind"] == "class_attendance", "value"]) == {0.0, 1.0}
    with_wb = simulate_campus(n_students=80, days=120, seed=1, wellbeing=True)
    wb = with_wb.events[with_wb.events["family"] == "wellbeing"]
    assert set(wb["kind"]) == {"wellbeing_score", "stress_score", "counselling_visit"}


def test_students_table(campus):
    tables, _ = campus
    st = tables.students
    assert {"cohort", "program", "entry_date", "term_start", "term_end"} <= set(st.columns)
    assert tables.audit_attributes == (
        "gender",
        "first_generation",
        "disability",
        "age_band",
        "region",
    )
    assert (st["term_start"] == START).all()
    assert (st["term_end"] == START + pd.Timedelta(days=CALENDAR.term_end_day)).all()
    assert (st["entry_date"] <= st["term_start"]).all()
    assert set(st["cohort"]) == {"2021", "2022", "2023", "2024"}
    assert tables.time_kind == "datetime"


def test_known_at_delays(campus):
    tables, _ = campus
    ev = tables.events
    assert (ev["known_at"] >= ev["time"]).all()
    lag = ev["known_at"] - ev["time"]
    kind = ev["kind"]
    assert (lag[kind.isin(["quiz_score", "lms_click", "canteen_swipe"])] == pd.Timedelta(0)).all()
    assert (lag[kind == "class_attendance"] == pd.Timedelta(minutes=90)).all()
    cw = ev[kind == "coursework_score"]
    # marks published 7-14 days after the deadline day (submissions come on or before it)
    days_to_mark = cw["known_at"].dt.normalize() - cw["time"].dt.normalize()
    assert days_to_mark.min() >= pd.Timedelta(days=7)
    assert (cw["known_at"].dt.hour == 9).all()
    exam = ev[kind == "exam_score"]
    s1 = exam[exam["time"] < START + pd.Timedelta(weeks=16)]
    results = START + pd.Timedelta(days=16 * 7 + CALENDAR.results_delay_days, hours=9)
    assert (s1["known_at"] == results).all()
    part = ev[ev["family"] == "participation"]
    assert (part["known_at"].dt.day_of_week == 0).all()  # filed on the next Monday
    assert ((part["known_at"] - part["time"]) <= pd.Timedelta(days=8)).all()


# ------------------------------------------------------------------------------ ground truth
def test_truth_formula_and_outcomes_agree(campus):
    tables, truth = campus
    t = TRUTH
    logit = (
        t.withdraw_intercept
        + t.withdraw_engagement * truth["engagement"]
        + t.withdraw_regularity * truth["regularity_z"]
        + t.withdraw_ability * truth["ability"]
    )
    np.testing.assert_allclose(truth["p_withdraw"], 1 / (1 + np.exp(-logit)), rtol=1e-12)
    stay = ~truth["withdraws"]
    logit_f = (
        t.fail_intercept
        + t.fail_ability * truth["ability"]
        + t.fail_engagement * truth["engagement"]
        + t.fail_trend * truth["trend"]
        + t.fail_shock * np.where(truth["shock"] & stay, truth["shock_severity"], 0.0)
    )
    np.testing.assert_allclose(
        truth.loc[stay, "p_fail"], 1 / (1 + np.exp(-logit_f[stay])), rtol=1e-12
    )
    assert truth.loc[~stay, "p_fail"].isna().all()
    # observed outcomes are exactly the truth's observed withdrawals and failures
    out = tables.outcomes
    w = out[out["outcome"] == "withdrawn"].set_index("student_id")["time"]
    tw = truth[truth["withdrawn_observed"]].set_index("student_id")["withdraw_time"]
    pd.testing.assert_series_equal(w.sort_index(), tw.sort_index(), check_names=False)
    f = set(out.loc[out["outcome"] == "failed", "student_id"])
    assert f == set(truth.loc[truth["failed_observed"], "student_id"])
    assert not (truth["withdraws"] & truth["fails"]).any()
    # every withdrawer had a shock 3-8 weeks before leaving, during teaching
    wd = truth[truth["withdraws"]]
    gap = wd["withdraw_day"] - wd["shock_onset_day"]
    assert gap.between(TRUTH.lag_days[0], TRUTH.lag_days[1]).all()
    assert wd["shock"].all() and (wd["shock_severity"] == 1.0).all()
    assert 0.08 < truth["withdraws"].mean() < 0.2


def test_no_records_after_withdrawal(campus):
    tables, truth = campus
    ev = tables.events.merge(truth[["student_id", "withdraw_time"]], on="student_id")
    assert not (ev["time"] >= ev["withdraw_time"]).any()


def test_behaviour_drops_after_shock_onset_before_withdrawal(campus):
    tables, truth = campus
    cols = ["withdraws", "shock_onset_day", "withdraw_day"]
    att = with_truth(tables.events[tables.events["kind"] == "class_attendance"], truth, cols)
    w = att[att["withdraws"]]
    before = w[(w["day"] >= w["shock_onset_day"] - 28) & (w["day"] < w["shock_onset_day"])]
    after = w[(w["day"] >= w["shock_onset_day"] + 21) & (w["day"] < w["withdraw_day"])]
    assert len(before) > 1000 and len(after) > 200
    assert after["value"].mean() < 0.5 * before["value"].mean()
    # LMS sessions per student-day fall too, while the student is still enrolled
    lms = with_truth(tables.events[tables.events["kind"] == "lms_click"], truth, cols)
    lw = lms[lms["withdraws"]]
    n_before = (lw["day"] >= lw["shock_onset_day"] - 14) & (lw["day"] < lw["shock_onset_day"])
    n_after = (
        (lw["day"] >= lw["shock_onset_day"] + 21)
        & (lw["day"] < lw["shock_onset_day"] + 35)
        & (lw["day"] < lw["withdraw_day"])
    )
    wd = truth[truth["withdraws"]]
    days_after = np.clip(
        np.minimum(wd["shock_onset_day"] + 35, wd["withdraw_day"]) - (wd["shock_onset_day"] + 21),
        0,
        None,
    ).sum()
    assert n_after.sum() / days_after < 0.4 * n_before.sum() / (14 * len(wd))


def test_low_regularity_students_withdraw_more_and_eat_erratically(campus):
    tables, truth = campus
    low = truth["regularity"] < truth["regularity"].median()
    assert truth.loc[low, "withdraws"].mean() > 1.8 * truth.loc[~low, "withdraws"].mean()
    observed = truth["withdrawn_observed"]
    assert observed[low].mean() > observed[~low].mean()
    # orderliness is measurable: the spread of lunch times tracks the latent regularity
    ev = tables.events[tables.events["kind"] == "canteen_swipe"]
    hour = (ev["time"] - ev["time"].dt.normalize()) / pd.Timedelta(hours=1)
    lunch = ev.assign(hour=hour)[(hour >= 11) & (hour <= 13.5)]
    spread = lunch.groupby("student_id")["hour"].std()
    reg = truth.set_index("student_id").loc[spread.index, "regularity"]
    assert np.corrcoef(spread, reg)[0, 1] < -0.5


def test_scores_and_failures_follow_ability(campus):
    tables, truth = campus
    sc = tables.events[tables.events["kind"] == "exam_score"].merge(truth, on="student_id")
    assert np.corrcoef(sc["value"], sc["ability"])[0, 1] > 0.5
    stay = truth[~truth["withdraws"]]
    third = pd.qcut(stay["ability"], 3, labels=False)
    rates = stay.groupby(third)["fails"].mean()
    assert rates[0] > 2 * rates[2]


# -------------------------------------------------------------------------------------- bias
def test_outcome_bias_shifts_the_groups_log_odds_by_the_stated_amount():
    kw = {"n_students": 4000, "days": 10, "seed": 9, "return_truth": True}
    _, t0 = simulate_campus(**kw)
    _, t1 = simulate_campus(**kw, outcome_bias=1.0)
    logit0 = np.log(t0["p_withdraw"] / (1 - t0["p_withdraw"]))
    logit1 = np.log(t1["p_withdraw"] / (1 - t1["p_withdraw"]))
    g = t1["bias_group"].to_numpy()
    assert g.mean() == pytest.approx(0.35, abs=0.03)  # first-generation students
    np.testing.assert_allclose((logit1 - logit0)[g], 1.0, atol=1e-9)
    np.testing.assert_allclose((logit1 - logit0)[~g], 0.0, atol=1e-9)
    assert t1["withdraws"][g].mean() > t0["withdraws"][g].mean() + 0.05
    assert (t1["withdraws"][~g] == t0["withdraws"][~g]).all()


def test_measurement_bias_hides_records_but_not_risk():
    kw = {"n_students": 600, "days": 70, "seed": 3, "return_truth": True}
    a, ta = simulate_campus(**kw)
    b, tb = simulate_campus(**kw, measurement_bias=0.3, bias_group=("gender", "F"))
    pd.testing.assert_frame_equal(ta, tb.assign(bias_group=ta["bias_group"]))
    group = set(a.students.loc[a.students["gender"] == "F", "student_id"])
    for kind in ("lms_click", "canteen_swipe", "library_entry"):
        ea = a.events[a.events["kind"] == kind]
        eb = b.events[b.events["kind"] == kind]
        in_a, in_b = ea["student_id"].isin(group), eb["student_id"].isin(group)
        assert in_b.sum() / in_a.sum() == pytest.approx(0.7, abs=0.02)
        assert (~in_b).sum() == (~in_a).sum()  # other students untouched
    att_a = a.events[(a.events["kind"] == "class_attendance") & a.events["student_id"].isin(group)]
    att_b = b.events[(b.events["kind"] == "class_attendance") & b.events["student_id"].isin(group)]
    assert len(att_a) == len(att_b)  # sessions still recorded, some as absences
    assert att_b["value"].mean() == pytest.approx(0.7 * att_a["value"].mean(), rel=0.03)


# ------------------------------------------------------------------------------ bad params
@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"n_students": 0}, "n_students"),
        ({"n_students": 10.5}, "n_students"),
        ({"n_students": True}, "n_students"),
        ({"days": 0}, "days"),
        ({"days": 400}, "days"),
        ({"seed": -1}, "seed"),
        ({"seed": "0"}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"start": "2024-09-02T00:00+02:00"}, "start"),
        ({"n_programs": 17}, "n_programs"),
        ({"courses_per_term": 0}, "courses_per_term"),
        ({"wellbeing": "yes"}, "wellbeing"),
        ({"return_truth": 1}, "return_truth"),
        ({"check_duplicates": "no"}, "check_duplicates"),
        ({"bias_group": ("religion", "x")}, "bias_group"),
        ({"bias_group": ("gender", "Q")}, "bias_group"),
        ({"bias_group": "gender"}, "bias_group"),
        ({"outcome_bias": float("nan")}, "outcome_bias"),
        ({"outcome_bias": 6}, "outcome_bias"),
        ({"measurement_bias": 1.0}, "measurement_bias"),
        ({"measurement_bias": -0.1}, "measurement_bias"),
        ({"n_students": 200_000, "days": 366}, "n_students"),
    ],
)
def test_bad_parameters_raise_config_error_naming_them(kwargs, key):
    with pytest.raises(ConfigError, match=rf"^{key}: {key}") as info:
        simulate_campus(**{"n_students": 10, "days": 7, **kwargs})
    assert info.value.key == key


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_students": 1, "days": 1},
        {"n_students": 30, "days": 300, "n_programs": 1, "courses_per_term": 1},
        {"n_students": 30, "days": 120, "n_programs": 16, "courses_per_term": 8},
        {"n_students": 30, "days": 60, "start": "2025-02-15"},  # a Saturday
    ],
)
def test_edge_sizes_give_valid_tables(kwargs):
    tables, truth = simulate_campus(seed=0, return_truth=True, check_duplicates=True, **kwargs)
    assert len(tables.students) == len(truth) == kwargs["n_students"]
    assert tables.report.duplicate_events == 0
    last = pd.Timestamp(kwargs.get("start", START)) + pd.Timedelta(days=kwargs["days"] + 2)
    assert (tables.events["time"] < last).all()
    assert (tables.events["time"] >= pd.Timestamp(kwargs.get("start", START))).all()
    att = tables.events[tables.events["kind"] == "class_attendance"]
    assert (att["time"].dt.day_of_week < 5).all()  # classes on weekdays only
