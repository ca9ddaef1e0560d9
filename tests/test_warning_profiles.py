"""Profiles (dimension indices, types, stability) and profile cards (JSON + HTML)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning import (
    AlertLog,
    AlertPolicy,
    Dimension,
    DimensionTerm,
    ProfileSpec,
    ProfileTypes,
    build_profiles,
    profile_card,
    render_card_html,
)


def info(name, family, kind, higher_is="better", **kw):
    return FeatureInfo(name, family, kind, kw.pop("aggregate", "mean"), kw.pop("window", "30d"),
                       kw.pop("phrase", name.replace("_", " ")), higher_is=higher_is, **kw)


@pytest.fixture
def matrix():
    """Four students on two dates. Column names deliberately say nothing true."""
    idx = pd.MultiIndex.from_product([["ana", "ben", "cai", "dan"], [30.0, 60.0]],
                                     names=["student_id", "as_of"])
    X = pd.DataFrame({
        # the academic features
        "f1": [80, 85, 60, 50, 40, 45, np.nan, np.nan],  # mean score
        "f2": [0, 0, 1, 2, 3, 3, 4, 4],  # missed submissions (lower is better)
        # behavioural
        "academic_looking_name": [0.9, 0.95, 0.7, 0.6, 0.5, 0.4, 0.8, 0.9],  # attendance
        # participation, with education dimensions
        "p_sport": [3, 3, 0, 0, 1, 1, 2, 5],
        "p_art": [0, 1, 2, 2, 0, 0, 1, 1],
        # well-being (sensitive) and an audit attribute
        "w": [5, 5, 3, 3, 4, 4, 2, 2],
        "gender": [0, 0, 1, 1, 0, 0, 1, 1],
        # neutral direction: left out by "auto"
        "n": [1, 2, 3, 4, 5, 6, 7, 8],
    }, index=idx, dtype=float)
    infos = {
        "f1": info("f1", "academic", "assessment_score", phrase="mean assessment score"),
        "f2": info("f2", "academic", "missed_submission", "worse", aggregate="count"),
        "academic_looking_name": info("academic_looking_name", "behavioral",
                                      "class_attendance"),
        "p_sport": info("p_sport", "participation", "club_activity", dimension="physical"),
        "p_art": info("p_art", "participation", "club_activity", dimension="aesthetic"),
        "w": info("w", "wellbeing", "survey_scale", sensitivity="sensitive"),
        "gender": info("gender", "static", "gender", sensitivity="audit"),
        "n": info("n", "behavioral", "canteen_swipe", "neutral"),
    }
    return X, infos


def mid_rank_pct(values):
    s = pd.Series(values, dtype=float)
    return ((s.rank(method="average") - 0.5) / s.notna().sum() * 100).to_numpy()


def test_indices_by_hand(matrix):
    X, infos = matrix
    p = build_profiles(X, feature_info=infos)
    assert [d.name for d in p.dimensions] == ["academic", "engagement", "participation",
                                              "participation_physical",
                                              "participation_aesthetic"]
    assert set(p.skipped) == {"participation_moral", "participation_intellectual",
                              "participation_labour"}
    day = X.xs(30.0, level="as_of")
    # academic at day 30: mean of pct(f1) and 100 - pct(f2), then percentile again
    f1 = mid_rank_pct(day["f1"])
    f2 = 100 - mid_rank_pct(day["f2"])
    raw = np.nanmean(np.vstack([f1, f2]), axis=0)
    # dan has no f1: 0.5 of the weight is present (coverage 0.5 >= 0.5) -> his index is f2's
    raw[3] = f2[3]
    want = mid_rank_pct(raw)
    got = p.indices.xs(30.0, level="as_of")["academic"].to_numpy()
    np.testing.assert_allclose(got, want)
    # engagement uses the attendance column only (the neutral canteen column is left out)
    assert p.weights.query("dimension == 'engagement'")["feature"].tolist() == [
        "academic_looking_name"]
    # the audit attribute and the sensitive column are never in the default indices
    assert not p.weights["feature"].isin(["gender", "w"]).any()


def test_direction_and_weights_table(matrix):
    X, infos = matrix
    p = build_profiles(X, feature_info=infos)
    w = p.weights.set_index("feature")
    assert w.loc["f2", "direction"] == -1 and w.loc["f1", "direction"] == 1
    assert p.weights.groupby("dimension")["weight"].sum().round(12).eq(1.0).all()


def test_change_since_previous_date(matrix):
    X, infos = matrix
    p = build_profiles(X, feature_info=infos)
    for s in ["ana", "ben", "cai", "dan"]:
        first = p.indices.loc[(s, 30.0)]
        second = p.indices.loc[(s, 60.0)]
        np.testing.assert_allclose(p.change.loc[(s, 60.0)], second - first)
        assert p.change.loc[(s, 30.0)].isna().all()
    # rows given out of order get the same answer
    shuffled = build_profiles(X.iloc[::-1], feature_info=infos)
    pd.testing.assert_frame_equal(shuffled.change.sort_index(), p.change.sort_index())


def test_min_coverage_leaves_thin_indices_missing(matrix):
    X, infos = matrix
    spec = ProfileSpec((Dimension("academic", "Academic", "academics",
                                  (DimensionTerm({"family": "academic"}),)),),
                       min_coverage=0.75)
    p = build_profiles(X, feature_info=infos, spec=spec)
    assert np.isnan(p.indices.loc[("dan", 30.0), "academic"])
    assert not np.isnan(p.indices.loc[("ana", 30.0), "academic"])


def test_cohort_groups(matrix):
    X, infos = matrix
    cohort = pd.Series({"ana": "law", "ben": "law", "cai": "art", "dan": "art"})
    p = build_profiles(X, feature_info=infos, cohort=cohort)
    eng = p.indices.xs(30.0, level="as_of")["engagement"]
    # two students per group: 25th and 75th percentiles within each
    assert sorted(eng.tolist()) == [25.0, 25.0, 75.0, 75.0]
    assert eng["ana"] == 75.0 and eng["ben"] == 25.0
    with pytest.raises(SchemaError, match="every student needs a cohort group"):
        build_profiles(X, feature_info=infos, cohort=cohort.drop("dan"))


def test_wellbeing_is_opt_in_and_marked(matrix):
    X, infos = matrix
    p = build_profiles(X, feature_info=infos, include_wellbeing=True)
    assert p.dimension("wellbeing").sensitive
    assert "wellbeing" in p.indices.columns
    spec = ProfileSpec.default(include_wellbeing=True)
    with pytest.raises(ConfigError, match="sensitive dimensions are computed only on request"):
        build_profiles(X, feature_info=infos, spec=spec)


def test_explicit_direction_takes_neutral_features(matrix):
    X, infos = matrix
    spec = ProfileSpec((Dimension("canteen", "Canteen", "canteen",
                                  (DimensionTerm({"kind": "canteen_swipe"},
                                                 direction="higher_worse"),)),))
    p = build_profiles(X, feature_info=infos, spec=spec)
    day = p.indices.xs(30.0, level="as_of")["canteen"]
    assert day.idxmax() == "ana"  # lowest n is best


def test_profile_errors(matrix):
    X, infos = matrix
    with pytest.raises(ConfigError, match="no dimension of the profile spec matches"):
        build_profiles(X)  # no FeatureInfo: every column is "static"
    with pytest.raises(ConfigError, match="a term's weight must be a positive number"):
        DimensionTerm({"family": "academic"}, weight=0)
    with pytest.raises(ConfigError, match="unique names"):
        ProfileSpec((Dimension("a", "A", "a", (DimensionTerm({"family": "academic"}),)),) * 2)
    text = X.assign(f1=["x"] * len(X))
    with pytest.raises(SchemaError, match="must be numeric to enter a profile index"):
        build_profiles(text, feature_info=infos)


def test_feature_info_from_attrs(matrix):
    X, infos = matrix
    X = X.copy()
    X.attrs["feature_info"] = infos
    assert "academic" in build_profiles(X).indices.columns


# ---------------------------------------------------------------------------------- types


@pytest.fixture
def segmented():
    rng = np.random.default_rng(11)
    n = 300
    groups = rng.integers(0, 3, n)
    centers = np.array([[80, 30], [25, 75], [20, 20]])
    rows = []
    for day, noise in ((0.0, 4.0), (7.0, 4.0), (14.0, 4.0)):
        vals = centers[groups] + rng.normal(0, noise, (n, 2))
        rows.append(pd.DataFrame(vals, columns=["academic", "engagement"],
                                 index=pd.MultiIndex.from_arrays(
                                     [np.arange(n), np.full(n, day)],
                                     names=["student_id", "as_of"])))
    return pd.concat(rows), groups


def test_types_have_plain_names_and_fixed_ids(segmented):
    indices, _ = segmented
    types = ProfileTypes(n_types=3, random_state=0).fit(indices)
    # ids run from the lowest mean index to the highest: (20, 20), (25, 75), (80, 30)
    assert types.names_ == {0: "Struggling across the board",
                            1: "Strong engagement, low academic",
                            2: "Strong academic, low engagement"}
    again = ProfileTypes(n_types=3, random_state=0).fit(indices.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(types.centers_.round(6), again.centers_.round(6))


def test_stability_is_high_for_stable_students_and_low_for_reshuffled(segmented):
    indices, _ = segmented
    types = ProfileTypes(n_types=3).fit(indices)
    st_ = types.stability(indices)
    assert st_["as_of"].tolist() == [7.0, 14.0]
    assert (st_["adjusted_rand"] > 0.95).all() and (st_["same_type"] > 0.97).all()
    # students shuffled between dates: types no longer persist
    day2 = indices.xs(14.0, level="as_of", drop_level=False).copy()
    day2.iloc[:, :] = day2.to_numpy()[np.random.default_rng(0).permutation(len(day2))]
    mixed = pd.concat([indices.xs(0.0, level="as_of", drop_level=False), day2])
    low = types.stability(mixed)
    assert abs(low["adjusted_rand"].iloc[0]) < 0.1


def test_types_on_profiles_skip_sensitive_and_sub_indices(matrix):
    X, infos = matrix
    p = build_profiles(X, feature_info=infos, include_wellbeing=True)
    types = ProfileTypes(n_types=2).fit(p)
    assert types.dimensions_ == ["academic", "engagement", "participation"]
    assert types.predict(p).notna().all()


# ---------------------------------------------------------------------------------- cards


@pytest.fixture
def card_inputs(matrix, tmp_path):
    X, infos = matrix
    profiles = build_profiles(X, feature_info=infos, include_wellbeing=True)
    types = ProfileTypes(n_types=2).fit(profiles)
    scores = pd.Series([0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.2, 0.1], index=X.index)
    policy = AlertPolicy(tiers={"high": 0.5, "medium": 0.25}).apply(scores)
    reasons = [{"student_id": "ben", "as_of": 60.0, "reasons": [
        {"feature": "w", "family": "wellbeing", "sentence": "survey scale fell",
         "direction": "raised"},
        {"feature": "f2", "family": "academic", "sentence": "missed submissions <b>2</b>",
         "direction": "raised"},
        {"feature": "academic_looking_name", "family": "behavioral",
         "sentence": "attendance was 60%", "direction": "raised"},
    ]}]
    log = AlertLog(tmp_path / "a.sqlite")
    aid = log.record_alerts(policy).alert_ids[0]
    log.acknowledge(aid, time=61.0, staff="kim")
    yield dict(profiles=profiles, types=types, risk=policy, reasons=reasons, alerts=log,
               feature_info=infos)
    log.close()


def test_card_has_every_section_and_is_plain_json(card_inputs):
    card = profile_card("ben", **card_inputs)
    text = json.dumps(card, allow_nan=False)
    assert json.loads(text) == card
    assert card["as_of"] == 60.0
    assert card["risk"]["probability"] == 0.7 and card["risk"]["tier"] == "high"
    assert [h["probability"] for h in card["risk"]["history"]] == [0.3, 0.7]
    # the sensitive feature is kept out of the reasons
    assert [r["text"] for r in card["reasons"]] == ["missed submissions <b>2</b>",
                                                    "attendance was 60%"]
    dims = {d["name"]: d for d in card["dimensions"]}
    assert dims["wellbeing"]["sensitive"] is True
    p = card_inputs["profiles"]
    assert dims["academic"]["percentile"] == pytest.approx(p.indices.loc[("ben", 60.0),
                                                                         "academic"])
    assert dims["academic"]["change"] == pytest.approx(p.change.loc[("ben", 60.0), "academic"])
    assert len(dims["academic"]["history"]) == 2
    assert card["profile_type"]["name"] in card_inputs["types"].names_.values()
    assert card["alerts"][0]["status"] in ("raised", "acknowledged")
    assert any("sensitive" in n for n in card["notes"])


def test_card_allows_named_sensitive_reasons_and_earlier_dates(card_inputs):
    card = profile_card("ben", 60.0, allow_sensitive=["w"], **card_inputs)
    assert card["reasons"][0]["text"] == "survey scale fell"
    early = profile_card("ben", 30.0, **card_inputs)
    assert early["risk"]["probability"] == 0.3
    assert early["reasons"] == []
    assert all(a["as_of"] <= 30.0 for a in early["alerts"])
    with pytest.raises(SchemaError, match="no row at this as-of date"):
        profile_card("ben", 45.0, **card_inputs)
    with pytest.raises(SchemaError, match="in none of the inputs"):
        profile_card("zoe", **card_inputs)


def test_html_is_escaped_and_self_contained(card_inputs):
    card = profile_card("ben", **card_inputs)
    card["student_id"] = "<script>alert(1)</script>"
    page = render_card_html(card, full_page=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "missed submissions &lt;b&gt;2&lt;/b&gt;" in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("</style>")[1]
    assert "(sensitive)" in page
    assert "70%" in page
    with pytest.raises(SchemaError, match="dictionary profile_card returns"):
        render_card_html("not a card")


def test_card_with_datetime_dates():
    when = pd.to_datetime(["2014-02-01", "2014-03-01"])
    risk = pd.Series([0.2, 0.6], index=pd.MultiIndex.from_arrays([[5, 5], when],
                                                                 names=["student_id", "as_of"]))
    card = profile_card(5, "2014-02-01", risk=risk)
    assert card["as_of"] == "2014-02-01"
    assert card["risk"]["history"] == [{"as_of": "2014-02-01", "probability": 0.2}]
    json.dumps(card, allow_nan=False)


def test_no_student_ids_in_any_log_message(matrix, caplog):
    from studentprofile.warning import DriftMonitor, assign_caseloads

    X, infos = matrix
    caplog.set_level("DEBUG", logger="studentprofile")
    build_profiles(X, feature_info=infos)
    scores = pd.Series(np.linspace(0.1, 0.9, len(X)), index=X.index)
    AlertPolicy(tiers={"high": 0.5}).apply(scores)
    assign_caseloads(pd.DataFrame({"student_id": ["ana", "ben"], "score": [0.9, 0.8]}),
                     pd.DataFrame({"advisor_id": ["kim"], "capacity": [1]}))
    DriftMonitor(warn=False).fit(X).check(X)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 4
    for sid in ("ana", "ben", "cai", "dan"):
        assert not any(sid in m for m in messages)
