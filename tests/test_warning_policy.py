"""Alert policy: tiers, hysteresis, cool-down, reasons; and the ABC rules wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning import ABCIndicator, ABCRules, AlertPolicy, abc_flags, reasons_lookup


def scores_frame(rows):
    sid, as_of, score = zip(*rows, strict=True)
    return pd.Series(score, index=pd.MultiIndex.from_arrays([list(sid), list(as_of)],
                                                            names=["student_id", "as_of"]),
                     name="score")


def test_probability_tiers_by_hand():
    s = scores_frame([("ana", 0.0, 0.05), ("ben", 0.0, 0.3), ("cai", 0.0, 0.7),
                      ("dan", 0.0, np.nan), ("eve", 0.0, 0.5)])
    out = AlertPolicy(tiers={"high": 0.5, "medium": 0.25}).apply(s)
    assert out["raw_tier"].astype(object).where(out["raw_tier"].notna(), None).tolist() == [
        None, "medium", "high", None, "high"]
    assert list(out["raw_tier"].cat.categories) == ["medium", "high"]
    assert out["raw_tier"].cat.ordered
    # enter/exit after 1: tier = raw tier; everyone entering a tier is alerted
    assert out["alert"].tolist() == [False, True, True, False, True]
    assert out["level"].tolist() == [0, 1, 2, 0, 2]


def test_top_fraction_tiers_rank_within_each_date():
    # 10 students on two dates; top 10% = 1 student, top 30% = 3 students per date
    rows = [(f"s{i}", d, (i + 1) / 10 if d == 0.0 else (10 - i) / 10)
            for d in (0.0, 7.0) for i in range(10)]
    out = AlertPolicy(tiers={"red": 0.1, "amber": 0.3}, mode="top_fraction").apply(
        scores_frame(rows))
    first = out.xs(0.0, level="as_of")["raw_tier"]
    second = out.xs(7.0, level="as_of")["raw_tier"]
    assert first[first == "red"].index.tolist() == ["s9"]
    assert sorted(first[first.notna()].index) == ["s7", "s8", "s9"]
    assert second[second == "red"].index.tolist() == ["s0"]
    assert sorted(second[second.notna()].index) == ["s0", "s1", "s2"]


def test_top_fraction_ties_at_the_cut_share_the_tier_and_nan_never_counts():
    s = scores_frame([("a", 0.0, 0.9), ("b", 0.0, 0.5), ("c", 0.0, 0.5), ("d", 0.0, 0.1),
                      ("e", 0.0, np.nan)])
    out = AlertPolicy(tiers={"top": 0.5}, mode="top_fraction").apply(s)
    # 4 valid scores -> cut at 2; b and c tie for 2nd place: both in
    assert out["raw_tier"].notna().tolist() == [True, True, True, False, False]


def test_hysteresis_and_alerts_over_dates():
    # enter after 2 dates above, leave after 2 below
    days = [0.0, 7.0, 14.0, 21.0, 28.0, 35.0, 42.0]
    risk = [0.6, 0.6, 0.2, 0.6, 0.2, 0.2, 0.2]
    s = scores_frame([("ana", d, r) for d, r in zip(days, risk, strict=True)])
    out = AlertPolicy(tiers={"high": 0.5}, enter_after=2, exit_after=2).apply(s)
    assert out["level"].tolist() == [0, 1, 1, 1, 1, 0, 0]
    assert out["alert"].tolist() == [False, True, False, False, False, False, False]


def test_rows_are_sorted_by_student_then_date_and_datetimes_work():
    when = pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"])
    s = pd.Series([0.9, 0.1, 0.9], index=pd.MultiIndex.from_arrays(
        [["ana", "ana", "ana"], when], names=["student_id", "as_of"]))
    out = AlertPolicy(tiers={"high": 0.5}, enter_after=2, cooldown_days=14).apply(s)
    assert out.index.get_level_values("as_of").is_monotonic_increasing
    assert out["alert"].tolist() == [False, False, True]


def test_cooldown_in_days_with_datetimes():
    when = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])
    s = pd.Series([0.9, 0.1, 0.9, 0.9], index=pd.MultiIndex.from_arrays(
        [["ana"] * 4, when], names=["student_id", "as_of"]))
    out = AlertPolicy(tiers={"high": 0.5}, cooldown_days=20).apply(s)
    # re-entry on the 15th is 14 days after the first alert: held; on the 22nd (21 days): raised
    assert out["alert"].tolist() == [True, False, False, True]


def test_alerts_carry_reasons_from_every_accepted_shape():
    s = scores_frame([("ana", 0.0, 0.9), ("ben", 0.0, 0.1)])
    policy = AlertPolicy(tiers={"high": 0.5})
    texts = ["attendance fell to 40%", "two missed submissions"]
    series = pd.Series([texts, ["x"]], index=s.index)
    assert policy.apply(s, reasons=series)["reasons"].tolist() == [texts, []]
    # the Explanations.reasons() shape: records with a sentence
    records = [{"student_id": "ana", "as_of": 0.0, "raw": 1.0, "probability": 0.9,
                "reasons": [{"feature": "att", "sentence": texts[0], "direction": "raised"},
                            {"feature": "sub", "sentence": texts[1], "direction": "raised"}]}]
    assert policy.apply(s, reasons=records, top_reasons=1)["reasons"].tolist() == [
        texts[:1], []]

    class FakeExplanations:
        def reasons(self, top=3):
            return records

    assert policy.apply(s, reasons=FakeExplanations())["reasons"].iloc[0] == texts
    # the long as_frame=True shape
    long = pd.DataFrame({"student_id": ["ana", "ana"], "as_of": [0.0, 0.0], "rank": [2, 1],
                         "sentence": texts[::-1]})
    assert policy.apply(s, reasons=long)["reasons"].iloc[0] == texts


def test_reasons_keyed_by_iso_text_match_datetime_rows():
    when = pd.Timestamp("2024-02-01")
    lookup = reasons_lookup([{"student_id": 7, "as_of": when.isoformat(),
                              "reasons": [{"sentence": "late"}]}])
    s = pd.Series([0.9], index=pd.MultiIndex.from_arrays([[7], [when]],
                                                         names=["student_id", "as_of"]))
    records = [{"student_id": 7, "as_of": when.isoformat(), "reasons": ["late"]}]
    out = AlertPolicy(tiers={"high": 0.5}).apply(s, reasons=records)
    assert out["reasons"].iloc[0] == ["late"]
    assert list(lookup.values()) == [[{"text": "late"}]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tiers": {}}, "non-empty mapping"),
        ({"tiers": {"high": 1.5}}, r"in \[0, 1\]"),
        ({"tiers": {"high": 0.0}, "mode": "top_fraction"}, r"in \(0, 1\]"),
        ({"tiers": {"a": 0.5, "b": 0.5}}, "share a threshold"),
        ({"tiers": {"a": 0.5}, "mode": "rank"}, "mode must be"),
        ({"tiers": {"a": 0.5}, "enter_after": 0}, "enter_after must be an integer >= 1"),
        ({"tiers": {"a": 0.5}, "cooldown_days": -1}, "cooldown_days"),
        ({"tiers": {"a": 0.5}, "alert_from": "b"}, "alert_from must name one of the tiers"),
    ],
)
def test_policy_refuses_bad_configuration(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AlertPolicy(**kwargs)


def test_policy_refuses_bad_scores():
    policy = AlertPolicy(tiers={"high": 0.5})
    with pytest.raises(SchemaError, match="keyed by `student_id` and `as_of`"):
        policy.apply(pd.Series([0.5]))
    dup = pd.DataFrame({"student_id": ["a", "a"], "as_of": [0.0, 0.0], "score": [0.1, 0.2]})
    with pytest.raises(SchemaError, match="appear once"):
        policy.apply(dup)
    text = pd.DataFrame({"student_id": ["a"], "as_of": [0.0], "score": ["high"]})
    with pytest.raises(SchemaError, match="`score` must be numeric"):
        policy.apply(text)


def test_alert_from_skips_lower_tiers():
    s = scores_frame([("ana", 0.0, 0.3), ("ana", 7.0, 0.7)])
    out = AlertPolicy(tiers={"high": 0.5, "medium": 0.25}, alert_from="high").apply(s)
    assert out["alert"].tolist() == [False, True]


# ------------------------------------------------------------------------------------- ABC


@pytest.fixture
def abc_matrix():
    X = pd.DataFrame(
        {
            "att_30d": [0.95, 0.60, np.nan, 0.85],
            "incidents": [0.0, 3.0, 1.0, 2.0],
            "mean_score": [71.0, 35.0, 55.0, 39.0],
        },
        index=pd.MultiIndex.from_arrays([["ana", "ben", "cai", "dan"], [30.0] * 4],
                                        names=["student_id", "as_of"]),
    )
    infos = {
        "att_30d": FeatureInfo("att_30d", "behavioral", "class_attendance", "mean", "30d",
                               "class attendance over the last 30 days", unit="share",
                               higher_is="better"),
        "incidents": FeatureInfo("incidents", "behavioral", "conduct_incident", "count", "term",
                                 "conduct incidents this term", unit="count", higher_is="worse"),
        "mean_score": FeatureInfo("mean_score", "academic", "assessment_score", "mean", "all",
                                  "mean assessment score", unit="percent", higher_is="better"),
    }
    return X, infos


def test_abc_flags_by_hand_with_selectors(abc_matrix):
    X, infos = abc_matrix
    rules = ABCRules.classic(attendance={"kind": "class_attendance"},
                             behaviour={"kind": "conduct_incident"},
                             course={"kind": "assessment_score", "aggregate": "mean"})
    out = abc_flags(X, rules, feature_info=infos)
    assert out["attendance"].tolist() == [False, True, False, True]
    assert out["behaviour"].tolist() == [False, True, False, True]
    assert out["course"].tolist() == [False, True, False, True]
    assert out["n_flags"].tolist() == [0, 3, 0, 3]
    # ben and dan both have 3 flags; ben is further past the thresholds
    assert out.loc[("ben", 30.0), "abc_score"] > out.loc[("dan", 30.0), "abc_score"] > 3
    assert out.loc[("ben", 30.0), "reasons"] == [
        "class attendance over the last 30 days was 60% (below the threshold 90%)",
        "conduct incidents this term was 3 (at or above the threshold 2)",
        "mean assessment score was 35% (below the threshold 40%)",
    ]


def test_abc_missing_policy_and_min_flags(abc_matrix):
    X, infos = abc_matrix
    rules = ABCRules(
        (ABCIndicator(name="attendance", feature="att_30d", op="<", threshold=0.9, scale=0.3,
                      missing="flag"),
         ABCIndicator(name="course", feature="mean_score", op="<", threshold=40.0,
                      scale=20.0)),
        min_flags=2,
    )
    out = abc_flags(X, rules, feature_info=infos)
    assert out["attendance"].tolist() == [False, True, True, True]
    assert out.loc[("cai", 30.0), "reasons"] == [
        "class attendance over the last 30 days is missing (counted as off track)"]
    assert out["off_track"].tolist() == [False, True, False, True]


def test_abc_errors(abc_matrix):
    X, infos = abc_matrix
    with pytest.raises(ConfigError, match="must select exactly one feature column"):
        abc_flags(X, ABCRules.classic(attendance={"family": "behavioral"}), feature_info=infos)
    with pytest.raises(ConfigError, match="op must be one of"):
        ABCIndicator(name="a", feature="att_30d", op="=<", threshold=0.9)
    with pytest.raises(ConfigError, match="name at least one"):
        ABCRules.classic()
    with pytest.raises(ConfigError, match="min_flags must be an integer between 1 and 1"):
        ABCRules((ABCIndicator(name="a", feature="att_30d", op="<", threshold=0.9),), min_flags=2)
    bad = X.assign(att_30d=["x"] * 4)
    with pytest.raises(SchemaError, match="`att_30d` must be numeric"):
        abc_flags(bad, ABCRules.classic(attendance="att_30d"))


def test_output_does_not_depend_on_input_order():
    rng = np.random.default_rng(5)
    idx = pd.MultiIndex.from_product([[f"s{i}" for i in range(40)], np.arange(12) * 7.0],
                                     names=["student_id", "as_of"])
    s = pd.Series(rng.random(len(idx)), index=idx)
    policy = AlertPolicy(tiers={"high": 0.6, "medium": 0.3}, enter_after=2, exit_after=2,
                         cooldown_days=14)
    a = policy.apply(s)
    b = policy.apply(s.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(a, b)
    assert a.index.is_monotonic_increasing
    dup = pd.concat([s, s.iloc[[3]]])
    with pytest.raises(SchemaError, match="share their"):
        policy.apply(dup)


@pytest.mark.parametrize(("cls", "args", "kwargs"), [
    (AlertPolicy, ({"high": 0.5}, "probability", 2), {"cooldown_days": 7.0}),
    (ABCIndicator, ("attendance", "att_30d", "<", 0.9), {"scale": 0.3}),
])
def test_constructors_are_keyword_only_positional_use_is_deprecated(cls, args, kwargs):
    import dataclasses
    import inspect

    params = inspect.signature(cls).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    names = [f.name for f in dataclasses.fields(cls)][: len(args)]
    by_name = cls(**dict(zip(names, args, strict=True)), **kwargs)
    with pytest.warns(FutureWarning, match=rf"{cls.__name__} takes keyword arguments only; "
                                           rf"positional arguments will stop working"):
        old = cls(*args, **kwargs)
    assert old == by_name
    with pytest.raises(TypeError, match="multiple values"):
        cls(*args, **{names[0]: args[0]})
